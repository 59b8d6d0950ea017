import SweepProtocol
import Testing
import TrainingCore

/// A sampled run's trajectory on the wire: the request (`training.logDensity`), the points
/// with their loss gap, and the thinning that makes a long one fit a frame.
@Suite struct TrajectoryWireTests {
    static func result(points: Int) -> TaskResult {
        let steps = 0..<points
        var report = RunReport(
            trainResidual: 0.1, reconstructionError: 0.1, offSubspaceError: 0.1, oracleDistance: 0.1, targetDistance: 0.1,
            gradientNorm: 0.1, oracleNorm: 1, testError: [], oracleTestError: [], balancedness: 0, effectiveRank: 1,
            iterations: points, convergedAt: nil, recoveredAt: nil, stationaryAt: nil, diverged: false,
            converged: false, recovered: false, stationary: false, stepBudget: points, budgetCapped: false,
            trainSeconds: 1)
        report.trajectory = steps.map {
            TrajectoryPoint(step: $0, loss: 0.1234567890123, trainResidual: 0.1234567890123,
                                reconstructionError: 0.1234567890123, offSubspaceError: 0.1234567890123,
                                targetDistance: 0.1234567890123, gradientNorm: 0.1234567890123,
                                balancedness: 0.1234567890123, lossGap: 0.1234567890123)
        }
        return TaskResult(sweep: "0123456789abcdef", taskID: 3, attempt: 1, report: report, startedAt: 1, finishedAt: 2)
    }

    @Test("logDensity and lossGap survive a round trip; absent, they stay absent")
    func roundTrip() throws {
        var run = DeepLinearSpec()
        run.training.logDensity = 4
        var spec = RunSpec(model: .deepLinear(run))
        let task = Message.task(TaskAssignment(sweep: "f", taskID: 1, attempt: 1, spec: WireSpec(spec)))
        guard case .task(let decoded) = try Message.decode(try task.encoded()) else { Issue.record("not a task"); return }
        #expect(try decoded.spec.runSpec().model.record.training.logDensity == 4)
        run.training.logDensity = nil
        spec = RunSpec(model: .deepLinear(run))
        let plain = try Message.task(TaskAssignment(sweep: "f", taskID: 1, attempt: 1, spec: WireSpec(spec))).encoded()
        #expect(!String(decoding: plain, as: UTF8.self).contains("logDensity"))

        let original = Self.result(points: 30)
        guard case .result(let back) = try Message.decode(try original.encodedFrame()) else { Issue.record("not a result"); return }
        #expect(back == original)
        #expect(back.report.trajectory.allSatisfy { $0.lossGap == 0.1234567890123 })
    }

    @Test("a trajectory too long for a frame is halved (first and last kept) until it fits; the rest is untouched")
    func thinnedToFit() throws {
        let original = Self.result(points: 80_000)  // over 4 MiB in the binary encoding
        #expect(throws: ProtocolError.self) { try Message.result(original).encoded() }
        let frame = try original.encodedFrame()
        #expect(frame.count <= maxFrameBytes)
        guard case .result(let sent) = try Message.decode(frame) else { Issue.record("not a result"); return }
        let kept = sent.report.trajectory
        let all = original.report.trajectory
        #expect(kept.count < all.count && kept.count > all.count / 8)
        #expect(kept.first == all.first && kept.last == all.last)
        // Every kept point is one of the original's, in order, a power-of-two stride apart.
        let stride = all.count / (kept.count - 1)
        #expect(kept.dropLast().enumerated().allSatisfy { $0.element == all[$0.offset * stride] }, "stride \(stride)")
        var rest = sent
        rest.report.trajectory = original.report.trajectory
        #expect(rest == original)
    }
}
