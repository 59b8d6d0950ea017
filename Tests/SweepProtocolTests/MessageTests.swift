import SweepProtocol
import Testing
import TrainingCore

@Suite struct MessageTests {
    static let report = RunReport(
        trainResidual: 1e-3, reconstructionError: 0.02, offSubspaceError: .nan, oracleDistance: .infinity,
        testError: [0.1, 0.2], oracleTestError: [0, 0.05], balancedness: 0.5, effectiveRank: 4, iterations: 120,
        convergedAt: nil, diverged: true, success: false, trainSeconds: 0.25,
        trajectory: [TrajectoryPoint(step: 10, loss: 2, trainResidual: 0.5, reconstructionError: 0.4,
                                     offSubspaceError: 0.3, balancedness: 0.1)])

    static let messages: [Message] = [
        .hello(Hello(protocolVersion: 1, workerID: "node1-42-ab", host: "node1", pid: 42, cores: 8, blasThreads: 1,
                     capabilities: ["gd", "reduced"], prefetch: 2)),
        .welcome(Welcome(sweep: "quick", heartbeatInterval: 1, workerTimeout: 10)),
        .reject(Reject(reason: "no", coordinatorVersion: 1, peerVersion: 7)),
        .task(TaskAssignment(taskID: 17, attempt: 2, spec: RunSpec())),
        .result(TaskResult(taskID: 17, attempt: 2, report: report, startedAt: 1.5, finishedAt: 2.5)),
        .taskFailed(TaskFailure(taskID: 3, attempt: 1, reason: "depth must be at least 1")),
        .heartbeat(Heartbeat(sentAt: 123.25)),
        .shutdown(Shutdown(reason: "sweep complete")),
        .bye(Bye(reason: "SIGTERM", taskIDs: [4, 5])),
    ]

    @Test("every message survives encoding and decoding", arguments: 0..<messages.count)
    func roundTrip(index: Int) throws {
        let message = Self.messages[index]
        let decoded = try Message.decode(try message.encoded())
        if case .result(let r) = decoded, case .result(let original) = message {
            // NaN != NaN: compare the rest field by field.
            #expect(r.report.offSubspaceError.isNaN && r.report.oracleDistance == .infinity)
            #expect(r.report.testError == original.report.testError && r.report.trajectory == original.report.trajectory)
            #expect(r.taskID == original.taskID && r.startedAt == original.startedAt)
        } else {
            #expect(decoded == message)
        }
    }

    @Test("garbage of every kind is a ProtocolError, never a crash")
    func garbage() throws {
        let valid = try Self.messages[4].encoded()
        let header = Array("DLSW".utf8)
        let cases: [[UInt8]] = [
            [], [1, 2], Array("HTTP/1.1 200".utf8), header + [protocolVersion], header + [protocolVersion, 99] + Array("{}".utf8),
            header + [protocolVersion, 1] + Array("{not json".utf8), header + [protocolVersion, 4] + Array("{}".utf8),
            Array(valid.prefix(valid.count / 2)), [UInt8](repeating: 0, count: maxFrameBytes + 1),
        ]
        for frame in cases {
            #expect(throws: ProtocolError.self) { try Message.decode(frame) }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var frame = valid
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                frame[Int.random(in: 0..<frame.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try? Message.decode(frame)
            let random = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? Message.decode(random)
        }
    }

    @Test("another protocol version is recognized and names the peer's version; a reject is read in any version")
    func versions() throws {
        var frame = try Message.heartbeat(Heartbeat(sentAt: 1)).encoded()
        frame[4] = protocolVersion &+ 5
        #expect(throws: ProtocolError.versionMismatch(peerVersion: protocolVersion &+ 5)) { try Message.decode(frame) }
        var reject = try Message.reject(Reject(reason: "old", coordinatorVersion: 9, peerVersion: 1)).encoded()
        reject[4] = 9
        #expect(try Message.decode(reject) == .reject(Reject(reason: "old", coordinatorVersion: 9, peerVersion: 1)))
    }
}
