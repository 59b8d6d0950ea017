import SweepProtocol
import Testing
import TrainingCore

@Suite struct MessageTests {
    static let report = RunReport(
        trainResidual: 1e-3, reconstructionError: 0.02, offSubspaceError: .nan, oracleDistance: .infinity,
        targetDistance: 0.5, gradientNorm: 1e-3, oracleNorm: 2, testError: [0.1, 0.2], oracleTestError: [0, 0.05],
        balancedness: 0.5, effectiveRank: 4, iterations: 120, convergedAt: nil, recoveredAt: 100, stationaryAt: nil,
        diverged: true, converged: false, recovered: false, stationary: false, stepBudget: 200, budgetCapped: false,
        trainSeconds: 0.25,
        trajectory: [TrajectoryPoint(step: 10, loss: 2, trainResidual: 0.5, reconstructionError: 0.4,
                                     offSubspaceError: 0.3, targetDistance: 0.2, gradientNorm: 0.1, balancedness: 0.1)])

    static let messages: [Message] = [
        .hello(Hello(protocolVersion: 2, workerID: "node1-42-ab", host: "node1", pid: 42, cores: 8, blasThreads: 1,
                     capabilities: ["gd", "reduced"], prefetch: 2)),
        .welcome(Welcome(sweep: "quick", fingerprint: "0123456789abcdef", heartbeatInterval: 1, workerTimeout: 10,
                         prefetch: 2, session: "00112233445566778899aabbccddeeff")),
        .reject(Reject(reason: "no", coordinatorVersion: 1, peerVersion: 7)),
        .task(TaskAssignment(sweep: "0123456789abcdef", taskID: 17, attempt: 2, spec: WireSpec(RunSpec()))),
        .result(TaskResult(sweep: "0123456789abcdef", taskID: 17, attempt: 2, report: report,
                           startedAt: 1.5, finishedAt: 2.5)),
        .taskFailed(TaskFailure(sweep: "0123456789abcdef", taskID: 3, attempt: 1, reason: "depth must be at least 1")),
        .heartbeat(Heartbeat(sentAt: 123.25)),
        .shutdown(Shutdown(reason: "sweep complete")),
        .bye(Bye(reason: "SIGTERM", taskIDs: [4, 5])),
        .ack(Ack(taskIDs: [17, 3])),
        .register(Register(reason: "unknown connection")),
    ]

    @Test("every message survives encoding and decoding", arguments: 0..<messages.count)
    func roundTrip(index: Int) throws {
        let message = Self.messages[index]
        let decoded = try Message.decode(try message.encoded())
        if case .result(let r) = decoded, case .result(let original) = message {
            // NaN != NaN: compare the rest field by field.
            #expect(r.report.offSubspaceError?.isNaN == true && r.report.oracleDistance == .infinity)
            #expect(r.report.testError == original.report.testError)
            #expect(r.report.trajectory == original.report.trajectory)
            #expect(r.taskID == original.taskID && r.startedAt == original.startedAt && r.sweep == original.sweep)
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

    /// The little-endian pieces of PROTOCOL.md's encoding, written independently of the codec.
    static func le(_ value: UInt64, _ bytes: Int = 8) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    static func str(_ text: String) -> [UInt8] { le(UInt64(text.utf8.count), 4) + Array(text.utf8) }
    static func f64(_ value: Double) -> [UInt8] { le(value.bitPattern) }

    /// The bytes of messages, pinned: a change here is a change of the wire format and needs
    /// a new `protocolVersion` and PROTOCOL.md.
    static let golden: [(Message, [UInt8])] = [
        (.hello(Hello(protocolVersion: 6, workerID: "n1-42-ab", host: "n1", pid: 42, cores: 8, blasThreads: 1,
                      capabilities: ["gd"], prefetch: 2)),
         le(6) + str("n1-42-ab") + str("n1") + le(42) + le(8) + le(1) + le(1, 4) + str("gd") + le(2) + [0]),
        (.hello(Hello(protocolVersion: 6, workerID: "n1", host: "n1", pid: 42, cores: 8, blasThreads: 1,
                      capabilities: [], prefetch: 2, session: "ab")),
         le(6) + str("n1") + str("n1") + le(42) + le(8) + le(1) + le(0, 4) + le(2) + [1] + str("ab")),
        (.welcome(Welcome(sweep: "quick", fingerprint: "0123456789abcdef", heartbeatInterval: 1, workerTimeout: 10,
                          prefetch: 2, session: "5e")),
         str("quick") + str("0123456789abcdef") + f64(1) + f64(10) + le(2) + str("5e")),
        (.reject(Reject(reason: "no", coordinatorVersion: 2, peerVersion: 7)),
         Array(#"{"coordinatorVersion":2,"peerVersion":7,"reason":"no"}"#.utf8)),
        (.taskFailed(TaskFailure(sweep: "0123456789abcdef", taskID: 3, attempt: 2, reason: "boom", session: "5e")),
         str("5e") + str("0123456789abcdef") + le(3) + le(2) + str("boom")),
        (.heartbeat(Heartbeat(sentAt: 123.25)), str("") + f64(123.25)),
        (.shutdown(Shutdown(reason: "sweep complete")), str("sweep complete")),
        (.bye(Bye(reason: "SIGTERM", taskIDs: [4, 5], session: "5e")),
         str("5e") + str("SIGTERM") + le(2, 4) + le(4) + le(5)),
        (.ack(Ack(taskIDs: [17])), le(1, 4) + le(17)),
        (.register(Register(reason: "say hello")), str("say hello")),
        // The report: a count, then (tag, type, value) in increasing tag order; only present fields.
        (.result(TaskResult(sweep: "f", taskID: 3, attempt: 1, report: RunReport(
            trainResidual: 0.5, oracleDistance: 0.25, targetDistance: 2, gradientNorm: 4, iterations: 7,
            convergedAt: nil, recoveredAt: 5, stationaryAt: nil, diverged: false, converged: false, recovered: true,
            stationary: false, stepBudget: 9, budgetCapped: false, trainSeconds: 1.5, supportSize: 3),
            startedAt: 1, finishedAt: 2, session: "5e")),
         str("5e") + str("f") + le(3) + le(1) + [14]
            + [1, 3, 0] + [2, 3, 1] + [3, 3, 0] + [4, 3, 0] + [5, 3, 0]     // converged … diverged
            + [6, 2] + le(7) + [8, 2] + le(5)                              // iterations, recoveredAt
            + [9, 1] + f64(2) + [10, 1] + f64(4) + [13, 1] + f64(0.25)     // targetDistance, gradientNorm, oracleDistance
            + [14, 1] + f64(0.5) + [17, 1] + f64(1.5)                      // trainResidual, trainSeconds
            + [23, 2] + le(3) + [26, 2] + le(9)                            // supportSize, stepBudget
            + f64(1) + f64(2)),
    ]

    /// A spec through a task frame and back.
    static func roundTrip(_ spec: WireSpec) throws -> WireSpec {
        let frame = try Message.task(TaskAssignment(sweep: "f", taskID: 1, attempt: 1, spec: spec)).encoded()
        guard case .task(let back) = try Message.decode(frame) else { throw ProtocolError.badBody(kind: "task", detail: "not a task") }
        return back.spec
    }

    static var goldenSpec: WireSpec {
        var spec = RunSpec()
        spec.run.problem.signalDim = 6
        spec.run.problem.measurements = 5
        spec.run.problem.latentDim = 2
        spec.run.problem.samples = 7
        spec.run.problem.condition = 2
        spec.run.problem.testSamples = 9
        spec.run.network.depth = 3
        spec.run.network.width = 8
        spec.run.network.initScheme = .orthogonal
        spec.run.network.initScale = 0.5
        spec.run.training.lambda = 0.001
        spec.run.training.noise = 0.1
        spec.run.training.steps = 100
        spec.run.training.eta = 0.01
        spec.run.training.path = .plain
        spec.run.training.stopOnSuccess = true
        spec.run.training.logEvery = 5
        spec.run.training.testNoise = [0, 0.1]
        spec.seeds = RunSeeds(problem: .max, training: (1 << 53) + 1)
        return WireSpec(spec)
    }

    static let goldenReport = RunReport(
        trainResidual: 1e-4, reconstructionError: 0.002, offSubspaceError: 0.001, oracleDistance: .infinity,
        targetDistance: 0.0005, gradientNorm: 1e-7, oracleNorm: 1.5,
        testError: [0.125, .nan], oracleTestError: [0, 0.05], balancedness: 0.5, effectiveRank: 2, iterations: 40,
        convergedAt: 40, recoveredAt: 30, stationaryAt: nil, diverged: false, converged: true, recovered: true,
        stationary: false, stepBudget: 100, budgetCapped: false, trainSeconds: 0.25)

    @Test("golden frames: header bytes and exact binary body (JSON for reject)", arguments: 0..<golden.count)
    func goldenFrame(index: Int) throws {
        let (message, body) = Self.golden[index]
        let frame = try message.encoded()
        #expect(Array(frame.prefix(5)) == Array("DLSW".utf8) + [8])
        #expect(Array(frame.dropFirst(6)) == body)
        // And the same bytes decode (a peer in another language writes exactly these).
        #expect(try Message.decode(Array(frame.prefix(6)) + body) == message)
    }

    @Test("a batch frame: count, then kind, length and body of each entry; a lone message is a plain frame")
    func batchLayout() throws {
        let failures = [TaskFailure(sweep: "s", taskID: 1, attempt: 1, reason: "a"),
                        TaskFailure(sweep: "s", taskID: 2, attempt: 3, reason: "bc")]
        var batcher = FrameBatcher()
        for failure in failures { try batcher.add(.taskFailed(failure)) }
        let frames = batcher.frames()
        #expect(frames.count == 1)
        let bodies = failures.map { Self.str($0.session) + Self.str($0.sweep) + Self.le(UInt64($0.taskID)) + Self.le(UInt64($0.attempt)) + Self.str($0.reason) }
        let expected = Array("DLSW".utf8) + [8, 12] + Self.le(2, 4)
            + bodies.flatMap { [6] + Self.le(UInt64($0.count), 4) + $0 }
        #expect(frames[0] == expected)
        #expect(try Message.decodeAll(frames[0]) == failures.map { .taskFailed($0) })
        #expect(throws: ProtocolError.self) { try Message.decode(frames[0]) }
        var single = FrameBatcher()
        try single.add(.taskFailed(failures[0]))
        #expect(single.frames() == [try Message.taskFailed(failures[0]).encoded()])
        // Only tasks, results and failures are batched.
        var other = FrameBatcher()
        #expect(throws: ProtocolError.self) { try other.add(.heartbeat(Heartbeat(sentAt: 1))) }
    }

    @Test("a kept answer is stamped with a new session's token, its other bytes unchanged; other kinds carry none")
    func stamping() throws {
        let result = TaskResult(sweep: "f", taskID: 3, attempt: 2, report: Self.report, startedAt: 1, finishedAt: 2,
                                session: String(repeating: "0", count: 32))
        let stamped = try Message.stamping(try Message.result(result).encoded(), session: "5e55")
        var expected = result
        expected.session = "5e55"
        #expect(stamped == (try Message.result(expected).encoded()))
        #expect(try Message.decode(stamped).session == "5e55")
        for message: Message in [.heartbeat(Heartbeat(sentAt: 1)), .bye(Bye(reason: "r", taskIDs: [1])),
                                 .taskFailed(TaskFailure(sweep: "f", taskID: 1, attempt: 1, reason: "x"))] {
            #expect(try Message.decode(Message.stamping(message.encoded(), session: "ab")) == message.carrying(session: "ab"))
        }
        #expect(throws: ProtocolError.self) { try Message.stamping(Message.ack(Ack(taskIDs: [1])).encoded(), session: "ab") }
        #expect(throws: ProtocolError.self) { try Message.stamping(Array("DLSW".utf8) + [8, 5, 9, 0], session: "ab") }
    }

    @Test("seeds travel as decimal strings and come back exact above 2^53")
    func seedsExact() throws {
        let spec = try Self.goldenSpec.runSpec()
        #expect(spec.seeds.problem == .max)
        #expect(spec.seeds.training == (1 << 53) + 1)
        var bad = Self.goldenSpec
        bad.seeds.problem = "1.8e19"
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        bad = Self.goldenSpec
        bad.model.initScheme = "glorot"
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        #expect(WireSpec(try Self.goldenSpec.runSpec()) == Self.goldenSpec)
        // steps: a number, or the string "auto"; nothing else.
        var auto = Self.goldenSpec
        auto.training.steps = .auto
        let encoded = try Message.task(TaskAssignment(sweep: "f", taskID: 1, attempt: 1, spec: auto)).encoded()
        guard case .task(let back) = try Message.decode(encoded) else { Issue.record("not a task"); return }
        #expect(try back.spec.runSpec().model.record.training.steps == .auto)
    }

    @Test("alpha and beta travel exactly for the optimizers that use them, and gd's spec has neither")
    func dampingOnTheWire() throws {
        #expect(Self.goldenSpec.training.alpha == nil)
        var core = try Self.goldenSpec.runSpec()
        core.run.training.optimizer = .inertial(alpha: 2.5, beta: 0.125, stepRule: .fixed)
        let inertial = WireSpec(core)
        #expect(try Self.roundTrip(inertial) == inertial && inertial.training.alpha == 2.5 && inertial.training.beta == 0.125)
        #expect(try inertial.runSpec() == core)
        core.run.training.optimizer = .heavyBall(alpha: 2.5, stepRule: .fixed)
        let heavy = WireSpec(core)
        #expect(heavy.training.alpha == 2.5 && heavy.training.beta == nil)
        // A damping the optimizer does not use, or a missing one, is refused.
        var bad = Self.goldenSpec
        bad.training.alpha = 1
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        bad = inertial
        bad.training.beta = nil
        #expect(throws: WireValueError.self) { try bad.runSpec() }
    }

    @Test("flow's tolerances and horizon and the step rule travel exactly when used; gd's spec has none of them")
    func flowOnTheWire() throws {
        let gd = Self.goldenSpec.training
        #expect(gd.flowRtol == nil && gd.flowAtol == nil && gd.flowTime == nil && gd.stepRule == nil)
        var core = try Self.goldenSpec.runSpec()
        core.run.training.optimizer = .flow(FlowControl(rtol: 1e-9, atol: 1e-10, horizon: 12.5))
        let flow = WireSpec(core)
        #expect(try Self.roundTrip(flow) == flow && flow.training.flowAtol == 1e-10 && flow.training.flowTime == 12.5)
        #expect(try flow.runSpec() == core)
        core.run.training.optimizer = .flow(FlowControl(rtol: 1e-9, atol: 1e-10))
        #expect(try WireSpec(core).runSpec() == core)
        core.run.training = try Self.goldenSpec.runSpec().model.record.training
        core.run.training.optimizer = .gd(.adaptive)
        let adaptive = WireSpec(core)
        #expect(try Self.roundTrip(adaptive) == adaptive && adaptive.training.stepRule == "adaptive")
        #expect(try adaptive.runSpec() == core)
        // Tolerances without flow, flow without tolerances, an unknown rule: refused.
        var bad = adaptive
        bad.training.flowRtol = 1e-8
        bad.training.flowAtol = 1e-8
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        bad = flow
        bad.training.flowAtol = nil
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        bad = adaptive
        bad.training.stepRule = "armijo"
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        bad = flow  // flow has no step rule: its steps are always adaptive
        bad.training.stepRule = "adaptive"
        #expect(throws: WireValueError.self) { try bad.runSpec() }
    }

    @Test("the dynamics of a report and the trajectory's singular values travel with fixed keys and come back")
    func dynamicsOnTheWire() throws {
        var report = Self.goldenReport
        report.flowTime = 2.5
        report.lossGapRate = 0.75
        report.balancednessDrift = 1e-9
        report.bestRankGap = -1e-17
        report.trajectory = [TrajectoryPoint(step: 5, loss: 1, trainResidual: 0.5, reconstructionError: 0.25,
                                             offSubspaceError: 0.125, targetDistance: 0.5, gradientNorm: 0.25,
                                             balancedness: 0.5, flowTime: 0.25, singularValues: [2, 0.5])]
        let message = Message.result(TaskResult(sweep: "f", taskID: 1, attempt: 1, report: report,
                                                startedAt: 1, finishedAt: 2))
        guard case .result(let back) = try Message.decode(try message.encoded()) else { Issue.record("not a result"); return }
        let core = back.report
        #expect(core.flowTime == 2.5 && core.lossGapRate == 0.75 && core.balancednessDrift == 1e-9 && core.bestRankGap == -1e-17)
        #expect(core.trajectory == report.trajectory)
        // A report without them (an older or simpler worker) reads as not measured.
        guard case .result(let plain) = try Message.decode(try Message.result(TaskResult(
            sweep: "f", taskID: 1, attempt: 1, report: Self.goldenReport, startedAt: 1, finishedAt: 2)).encoded())
        else { Issue.record("not a result"); return }
        #expect(plain.report.bestRankGap == nil && plain.report.lossGapRate == nil && plain.report.iterations == 40)
    }

    @Test("the model kind travels only when it is not deep-linear, sleepSeconds exactly with sleep")
    func modelKindOnTheWire() throws {
        #expect(Self.goldenSpec.model.kind == nil && Self.goldenSpec.training.sleepSeconds == nil)
        var core = try Self.goldenSpec.runSpec()
        core.model = .sleep(seconds: 0.75, shape: core.model.record)
        let sleep = WireSpec(core)
        #expect(try Self.roundTrip(sleep) == sleep && sleep.model.kind == "sleep" && sleep.training.sleepSeconds == 0.75)
        #expect(try sleep.runSpec() == core)
        core.model = .noop(shape: core.model.record)
        let noop = WireSpec(core)
        #expect(noop.model.kind == "noop" && noop.training.sleepSeconds == nil)
        #expect(try noop.runSpec().kind == .noop)
        var bad = noop
        bad.model.kind = "deep-linear"  // said by the key's absence only
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        bad.model.kind = "resnet"
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        bad = noop
        bad.training.sleepSeconds = 1
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        bad = sleep
        bad.training.sleepSeconds = nil
        #expect(throws: WireValueError.self) { try bad.runSpec() }
    }

    @Test("model diagonal's kind and supportRecovered travel and come back; other reports carry no supportRecovered")
    func diagonalOnTheWire() throws {
        var core = try Self.goldenSpec.runSpec()
        core.model = .diagonal(DiagonalSpec(projecting: core.model.record))
        let wire = WireSpec(core)
        #expect(wire.model.kind == "diagonal")
        #expect(try wire.runSpec() == core)
        // A diagonal task with a weight decay (the golden spec's lambda) has no typed spec: refused.
        var bad = Self.goldenSpec
        bad.model.kind = "diagonal"
        #expect(throws: WireValueError.self) { try bad.runSpec() }
        var report = Self.goldenReport
        report.supportRecovered = false
        let message = Message.result(TaskResult(sweep: "f", taskID: 1, attempt: 1, report: report,
                                                startedAt: 1, finishedAt: 2))
        guard case .result(let back) = try Message.decode(try message.encoded()) else { Issue.record("not a result"); return }
        #expect(back.report.supportRecovered == false)
        let plain = Message.result(TaskResult(sweep: "f", taskID: 1, attempt: 1, report: Self.goldenReport,
                                              startedAt: 1, finishedAt: 2))
        guard case .result(let plainBack) = try Message.decode(try plain.encoded()) else { Issue.record("not a result"); return }
        #expect(plainBack.report.supportRecovered == nil)
    }
}

extension RunSpec {
    /// The deep linear run these tests build and change (`model.record`; setting it makes the
    /// spec a deep linear one).
    fileprivate var run: DeepLinearSpec {
        get { model.record }
        set { model = .deepLinear(newValue) }
    }
}
