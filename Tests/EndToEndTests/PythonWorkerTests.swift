import Foundation
import ResultsStore
import Testing

/// A worker written in Python from PROTOCOL.md alone (scripts/protocol_worker.py: pyzmq and
/// NumPy, plain gradient descent) finishes a sweep with the Swift worker's results.
@Suite struct PythonWorkerTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/protocol_worker.py").path

    /// Small enough for NumPy; orthogonal init, a condition number, noise, weight decay, depth 1
    /// and 3, early stopping, a master seed above 2^53.
    static let yaml = """
        name: pyworker
        seed: 18446744073709551557
        problem: {signal_dim: 10, measurements: 6, latent_dim: 2, samples: 7, test_samples: 15, condition: 3}
        grid:
          depth: [1, 3]
          width: [6]
          lambda: [0.0, 0.02]
          noise: [0.0, 0.1]
        trials: 2
        training: {steps: 400, eta_scale: 0.5, init: orthogonal, init_scale: 0.9, stop_on_success: true, check_every: 5}
        success: {tol_off: 0.5}
        test_noise: [0.0, 0.2]
        """

    @Test("item 10: the Python worker's results equal the Swift worker's to 1e-9")
    func pythonWorker() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try Self.yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let swift = try DLSweepProcess(["run", config, "--workers", "1", "--out", "swift", "--progress", "none"],
                                       in: directory, label: "swift")
        #expect(swift.wait(seconds: 120) == 0, "\(swift.stderr.suffix(2000))")

        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "python", "--progress", "none",
             "--heartbeat", "0.25", "--worker-timeout", "5"], in: directory, label: "coordinator")
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("python"))
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", Self.script, endpoint, "--heartbeat", "0.25", "--give-up", "60"]
        let errors = directory.appendingPathComponent("python.err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        python.standardError = try FileHandle(forWritingTo: errors)
        python.standardOutput = FileHandle.nullDevice
        try python.run()
        #expect(coordinator.wait(seconds: 180) == 0, "\(coordinator.stderr.suffix(2000))")
        python.waitUntilExit()
        let pythonErrors = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        try #require(python.terminationStatus == 0,
                     "python3 with numpy and pyzmq is needed (bash scripts/setup.sh installs them): \(pythonErrors)")
        #expect(coordinator.stderr.contains("joined from"))

        let ours = try ResultsStore.openExisting(directory: directory.appendingPathComponent("swift").path).0.rows()
        let theirs = try ResultsStore.openExisting(directory: directory.appendingPathComponent("python").path).0.rows()
        #expect(ours.count == 16 && theirs.count == 16)
        func close(_ a: Double, _ b: Double) -> Bool {
            a == b || abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-12
        }
        var successes = 0
        for (a, b) in zip(ours, theirs) {
            let ra = try #require(a.report, "task \(a.taskID) has no Swift report")
            let rb = try #require(b.report, "task \(b.taskID) has no Python report: \(b.failureReason ?? "")")
            #expect(a.taskID == b.taskID)
            #expect(ra.iterations == rb.iterations && ra.stepBudget == rb.stepBudget, "task \(a.taskID)")
            #expect(ra.convergedAt == rb.convergedAt && ra.recoveredAt == rb.recoveredAt
                    && ra.stationaryAt == rb.stationaryAt, "task \(a.taskID)")
            #expect(ra.converged == rb.converged && ra.recovered == rb.recovered && ra.stationary == rb.stationary
                    && ra.diverged == rb.diverged && ra.effectiveRank == rb.effectiveRank, "task \(a.taskID)")
            let pairs: [(Double?, Double?)] = [(ra.trainResidual, rb.trainResidual), (ra.reconstructionError, rb.reconstructionError),
                         (ra.offSubspaceError, rb.offSubspaceError), (ra.oracleDistance, rb.oracleDistance),
                         (ra.targetDistance, rb.targetDistance), (ra.gradientNorm, rb.gradientNorm),
                         (ra.oracleNorm, rb.oracleNorm), (ra.balancedness, rb.balancedness)]
                + zip(ra.testError ?? [], rb.testError ?? []).map { ($0, $1) }
                + zip(ra.oracleTestError ?? [], rb.oracleTestError ?? []).map { ($0, $1) }
            #expect(ra.testError?.count == 2 && rb.testError?.count == 2, "task \(a.taskID)")
            // The dynamics the Python worker measures (it omits the loss-gap rate, which needs F*).
            #expect(rb.lossGapRate == nil, "task \(a.taskID)")
            let dynamics = [(ra.flowTime, rb.flowTime), (ra.balancednessDrift, rb.balancednessDrift),
                            (ra.bestRankGap, rb.bestRankGap)]
            for (x, y) in dynamics {
                let (x, y) = (try #require(x, "task \(a.taskID)"), try #require(y, "task \(a.taskID)"))
                #expect(close(x, y), "task \(a.taskID): Swift \(x), Python \(y)")
            }
            for (index, (x, y)) in pairs.enumerated() {
                #expect(x.flatMap { x in y.map { close(x, $0) } } == true, "task \(a.taskID), value \(index): Swift \(String(describing: x)), Python \(String(describing: y))")
            }
            if ra.converged { successes += 1 }
        }
        #expect(successes > 0 && successes < 16, "the sweep tells converged runs from the others")

        // The sampled runs' trajectories (trial 0 of each cell, PROTOCOL.md "Trajectories"): the
        // same steps, the same metrics to 1e-9; the Python worker omits the loss gap.
        let ourTrajectories = try ResultsStore.openExisting(directory: directory.appendingPathComponent("swift").path).0
            .trajectories(limit: 100).trajectories
        let theirTrajectories = try ResultsStore.openExisting(directory: directory.appendingPathComponent("python").path).0
            .trajectories(limit: 100).trajectories
        #expect(ourTrajectories.map(\.taskID) == [0, 2, 4, 6, 8, 10, 12, 14])
        #expect(theirTrajectories.map(\.taskID) == ourTrajectories.map(\.taskID))
        for (a, b) in zip(ourTrajectories, theirTrajectories) {
            #expect(a.points.map(\.step) == b.points.map(\.step), "task \(a.taskID)")
            #expect(b.points.allSatisfy { $0.lossGap == nil } && a.points.allSatisfy { $0.lossGap != nil })
            for (p, q) in zip(a.points, b.points) {
                let pairs = [(p.loss, q.loss), (p.trainResidual, q.trainResidual),
                             (p.reconstructionError, q.reconstructionError), (p.offSubspaceError, q.offSubspaceError),
                             (p.targetDistance, q.targetDistance), (p.gradientNorm, q.gradientNorm),
                             (p.balancedness, q.balancedness)]
                for (index, (x, y)) in pairs.enumerated() {
                    #expect(close(x, y), "task \(a.taskID) step \(p.step), value \(index): Swift \(x), Python \(y)")
                }
            }
        }
    }
}
