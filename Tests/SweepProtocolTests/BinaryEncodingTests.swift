import SweepProtocol
import Testing
import TrainingCore

/// Every field of every wire struct survives the binary encoding, and no byte sequence makes
/// the decoder trap.
@Suite struct BinaryEncodingTests {
    /// Hands out distinct values, so that two fields swapped by the codec cannot go unnoticed.
    struct Distinct {
        var next = 0
        mutating func int() -> Int { next += 1; return 1000 + next }
        mutating func double() -> Double { next += 1; return Double(next) + 0.25 }
        mutating func string() -> String { next += 1; return "s\(next)" }
    }

    static func point(_ v: inout Distinct) -> TrajectoryPoint {
        TrajectoryPoint(
            step: v.int(), loss: v.double(), trainResidual: v.double(), reconstructionError: v.double(),
            offSubspaceError: v.double(), targetDistance: v.double(), gradientNorm: v.double(),
            balancedness: v.double(), flowTime: v.double(), singularValues: [v.double(), v.double()],
            lossGap: v.double())
    }

    /// A spec and a report with every field set to a distinct value other than its default
    /// (and every optional present). A field added to a wire struct without a value here fails
    /// `everyFieldIsSet`; set it here, and `roundTrip` fails until the codec carries it.
    static func full() -> (spec: WireSpec, report: RunReport) {
        var v = Distinct()
        let spec = WireSpec(
            problem: WireProblem(signalDim: v.int(), measurements: v.int(), latentDim: v.int(), samples: v.int(),
                                 condition: v.double(), measurementOperator: v.string(), testSamples: v.int()),
            model: WireModel(kind: v.string(), depth: v.int(), width: v.int(), initScheme: v.string(), initScale: v.double()),
            training: WireTraining(
                lambda: v.double(), noise: v.double(), steps: .fixed(v.int()), maxSteps: v.int(),
                budgetFactor: v.double(), eta: v.double(), etaScale: v.double(), optimizer: v.string(),
                alpha: v.double(), beta: v.double(), stepRule: v.string(), flowRtol: v.double(), flowAtol: v.double(),
                flowTime: v.double(), path: v.string(), stopOnSuccess: true, logEvery: v.int(), tolConv: v.double(),
                tolGrad: v.double(), tolRec: v.double(), tolOff: v.double(), testNoise: [v.double(), v.double()],
                meanDataTerm: true, lambdaPerLayer: true, rankTolerance: v.double(), checkEvery: v.int(),
                sleepSeconds: v.double(), logDensity: v.int()),
            seeds: WireSeeds(problem: v.string(), training: v.string()))
        // Every field of every model at once: the codec does not look at the model.
        let report = RunReport(
            trainResidual: v.double(), reconstructionError: v.double(), offSubspaceError: v.double(),
            oracleDistance: v.double(), targetDistance: v.double(), gradientNorm: v.double(), oracleNorm: v.double(),
            testError: [v.double()], oracleTestError: [v.double()], balancedness: v.double(), effectiveRank: v.int(),
            iterations: v.int(), convergedAt: v.int(), recoveredAt: v.int(), stationaryAt: v.int(), diverged: true,
            converged: true, recovered: true, stationary: true, stepBudget: v.int(), budgetCapped: true,
            trainSeconds: v.double(), trajectory: [point(&v), point(&v)], flowTime: v.double(),
            lossGapRate: v.double(), balancednessDrift: v.double(), bestRankGap: v.double(), lossRatio: v.double(),
            supportSize: v.int(), l1Norm: v.double(), supportRecovered: true, targetMethod: .exhaustive,
            targetResidual: v.double(), flowLimitDistance: v.double(), flowLimitL1Distance: v.double())
        return (spec, report)
    }

    static var messages: [Message] {
        let (spec, report) = full()
        return [
            .hello(Hello(protocolVersion: 7001, workerID: "w", host: "h", pid: 7002, cores: 7003, blasThreads: 7004,
                         capabilities: ["a", "b"], prefetch: 7005, session: "h7005")),
            .welcome(Welcome(sweep: "s", fingerprint: "f", heartbeatInterval: 7.5, workerTimeout: 8.5, prefetch: 7006,
                             session: "s7007")),
            .reject(Reject(reason: "r", coordinatorVersion: 7007, peerVersion: 7008)),
            .task(TaskAssignment(sweep: "s", taskID: 7009, attempt: 7010, spec: spec)),
            .result(TaskResult(sweep: "s", taskID: 7011, attempt: 7012, report: report, startedAt: 9.5, finishedAt: 10.5,
                               session: "r7012")),
            .taskFailed(TaskFailure(sweep: "s", taskID: 7013, attempt: 7014, reason: "r", session: "f7014")),
            .heartbeat(Heartbeat(sentAt: 11.5, session: "b11")),
            .shutdown(Shutdown(reason: "r")),
            .bye(Bye(reason: "r", taskIDs: [7015, 7016], session: "y7016")),
            .ack(Ack(taskIDs: [7017])),
            .register(Register(reason: "r")),
        ]
    }

    /// The leaves of `value` by path; nil optionals, false, zero and empty values are reported.
    static func unset(_ value: Any, path: String = "", numbers: inout [String: Double]) -> [String] {
        let mirror = Mirror(reflecting: value)
        switch value {
        case let b as Bool: return b ? [] : [path]
        case let i as Int:
            numbers[path] = Double(i)
            return i != 0 ? [] : [path]
        case let d as Double:
            numbers[path] = d
            return d != 0 ? [] : [path]
        case let s as String: return s.isEmpty ? [path] : []
        default: break
        }
        if mirror.displayStyle == .optional {
            guard let child = mirror.children.first else { return [path] }
            return unset(child.value, path: path, numbers: &numbers)
        }
        if mirror.displayStyle == .collection, mirror.children.isEmpty { return [path] }
        return mirror.children.enumerated().flatMap { index, child in
            unset(child.value, path: path + "." + (child.label ?? "\(index)"), numbers: &numbers)
        }
    }

    @Test("the full spec and report set every field, each number distinct")
    func everyFieldIsSet() {
        let (spec, report) = Self.full()
        var numbers: [String: Double] = [:]
        #expect(Self.unset(spec, path: "spec", numbers: &numbers).isEmpty, "\(Self.unset(spec, path: "spec", numbers: &numbers))")
        #expect(Self.unset(report, path: "report", numbers: &numbers).isEmpty, "\(Self.unset(report, path: "report", numbers: &numbers))")
        var seen: [Double: String] = [:]
        for (path, value) in numbers.sorted(by: { $0.key < $1.key }) {
            #expect(seen[value] == nil, "\(path) and \(seen[value] ?? "") share the value \(value)")
            seen[value] = path
        }
    }

    @Test("every message, with every field set, comes back equal, alone and in a batch")
    func roundTrip() throws {
        for message in Self.messages {
            #expect(try Message.decode(try message.encoded()) == message)
        }
        let batchable = Self.messages.filter {
            switch $0 {
            case .task, .result, .taskFailed: true
            default: false
            }
        }
        var batcher = FrameBatcher()
        for message in batchable + batchable { try batcher.add(message) }
        let frames = batcher.frames()
        #expect(frames.count == 1)
        #expect(try frames.flatMap { try Message.decodeAll($0) } == batchable + batchable)
        // A task sent with its cell's encoded spec is the same task.
        let (spec, _) = Self.full()
        var cell = FrameBatcher()
        try cell.addTask(sweep: "s", taskID: 7009, attempt: 7010, specWithoutSeeds: spec.encodedWithoutSeeds,
                         seeds: .init(problem: 12, training: 34))
        var seeded = spec
        seeded.seeds = WireSeeds(problem: "12", training: "34")
        #expect(try Message.decodeAll(cell.frames()[0]) == [.task(TaskAssignment(sweep: "s", taskID: 7009, attempt: 7010, spec: seeded))])
    }

    @Test("strings come back as sent: ASCII, non-ASCII UTF-8 and a NUL byte alike")
    func stringsRoundTrip() throws {
        for reason in ["plain ascii", "λ = 0.1 — ümlaut, 数値", "before\u{0}after", ""] {
            let message = Message.taskFailed(TaskFailure(sweep: "s", taskID: 3, attempt: 1, reason: reason))
            #expect(try Message.decode(message.encoded()) == message)
        }
    }

    @Test("batches past the frame limit split into several frames, in order")
    func batchesSplit() throws {
        let reason = String(repeating: "x", count: 1 << 20)
        let failures = (0..<9).map { Message.taskFailed(TaskFailure(sweep: "s", taskID: $0, attempt: 1, reason: reason)) }
        var batcher = FrameBatcher()
        for failure in failures { try batcher.add(failure) }
        let frames = batcher.frames()
        #expect(frames.count == 3)
        #expect(frames.allSatisfy { $0.count <= maxFrameBytes })
        #expect(try frames.flatMap { try Message.decodeAll($0) } == failures)
        var alone = FrameBatcher()
        let tooLarge = Message.taskFailed(TaskFailure(sweep: "s", taskID: 1, attempt: 1, reason: String(repeating: "x", count: maxFrameBytes)))
        #expect(throws: ProtocolError.self) { try alone.add(tooLarge) }
    }

    static func le(_ value: UInt64, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    @Test("lying lengths, counts, flags and tags are malformed frames, never a trap or a huge allocation")
    func hostileBodies() throws {
        let header = Array("DLSW".utf8) + [protocolVersion]
        let cases: [[UInt8]] = [
            header + [12] + Self.le(0xFFFF_FFFF, 4),                                   // a batch of 2^32 entries
            header + [12] + Self.le(0, 4),                                             // an empty batch
            header + [12] + Self.le(1, 4) + [6] + Self.le(0xFFFF_FFFF, 4),             // an entry longer than the frame
            header + [12] + Self.le(1, 4) + [7] + Self.le(8, 4) + Self.le(0, 8),       // a heartbeat in a batch
            header + [12] + Self.le(1, 4) + [12] + Self.le(4, 4) + Self.le(0, 4),      // a batch in a batch
            header + [8] + Self.le(0xFFFF_FFF0, 4) + Array("ab".utf8),                // a string longer than the frame
            header + [8] + Self.le(2, 4) + [0xC3, 0x28],                               // invalid UTF-8
            header + [10] + Self.le(0x2000_0000, 4),                                   // 2^29 task ids in no bytes
            header + [7] + Self.le(0, 8) + [0],                                        // a byte after the last field
            header + [7] + Self.le(0, 4),                                              // a short double
        ]
        for frame in cases {
            #expect(throws: ProtocolError.self) { try Message.decodeAll(frame) }
        }
        // A bool, a presence byte and a steps tag other than those allowed.
        let (spec, report) = Self.full()
        let result = try Message.result(TaskResult(sweep: "s", taskID: 1, attempt: 1, report: report, startedAt: 1, finishedAt: 2)).encoded()
        // The report starts after the header, the empty session, the sweep "s" and two ints: its
        // count, then converged, recovered, stationary, budgetCapped (tag, type, value each), then diverged.
        let reportAt = 6 + 4 + 4 + 1 + 8 + 8
        let divergedAt = reportAt + 1 + 4 * 3
        #expect(Array(result[divergedAt...divergedAt + 2]) == [5, 3, 1])
        var badBool = result
        badBool[divergedAt + 2] = 2
        #expect(throws: ProtocolError.self) { try Message.decode(badBool) }
        var badType = result
        badType[divergedAt + 1] = 1  // diverged said to be a double
        #expect(throws: ProtocolError.self) { try Message.decode(badType) }
        var unknownType = result
        unknownType[divergedAt + 1] = 9
        #expect(throws: ProtocolError.self) { try Message.decode(unknownType) }
        var outOfOrder = result
        outOfOrder[divergedAt] = 2  // a second tag 2 after tag 4
        #expect(throws: ProtocolError.self) { try Message.decode(outOfOrder) }
        var unknownTag = result
        unknownTag[divergedAt - 3] = 200  // budgetCapped's tag as one this build does not know: skipped, then 5 < 200
        #expect(throws: ProtocolError.self) { try Message.decode(unknownTag) }
        var tooMany = result
        tooMany[reportAt] = 250  // more fields than the body holds
        #expect(throws: ProtocolError.self) { try Message.decode(tooMany) }
        let task = try Message.task(TaskAssignment(sweep: "s", taskID: 1, attempt: 1, spec: spec)).encoded()
        var auto = spec
        auto.training.steps = .auto
        let autoTask = try Message.task(TaskAssignment(sweep: "s", taskID: 1, attempt: 1, spec: auto)).encoded()
        // The steps tag is the first byte where a fixed budget and "auto" differ.
        let stepsAt = try #require(task.indices.first { task[$0] != autoTask[$0] })
        #expect(task[stepsAt] == 0 && autoTask[stepsAt] == 1)
        var badSteps = task
        badSteps[stepsAt] = 2
        #expect(throws: ProtocolError.self) { try Message.decode(badSteps) }
    }

    @Test("random damage to task batches and results with trajectories is a ProtocolError or a valid message, never a crash")
    func fuzz() throws {
        let (spec, report) = Self.full()
        var batcher = FrameBatcher()
        for id in 0..<3 { try batcher.add(.task(TaskAssignment(sweep: "s", taskID: id, attempt: 1, spec: spec))) }
        try batcher.add(.result(TaskResult(sweep: "s", taskID: 9, attempt: 1, report: report, startedAt: 1, finishedAt: 2)))
        let valid = batcher.frames()[0]
        var generator = SystemRandomNumberGenerator()
        var decoded = 0
        for round in 0..<4000 {
            var frame = valid
            switch round % 4 {
            case 0:
                for _ in 0..<Int.random(in: 1...6, using: &generator) {
                    frame[Int.random(in: 6..<frame.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            case 1:
                frame.removeLast(Int.random(in: 1..<frame.count - 6, using: &generator))
            case 2:
                frame.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 6..<frame.count, using: &generator))
            default:
                // A length or count field (any 4 aligned bytes) set to a large value.
                let at = Int.random(in: 6..<frame.count - 4, using: &generator)
                for i in 0..<4 { frame[at + i] = 0xFF }
            }
            if (try? Message.decodeAll(frame)) != nil { decoded += 1 }
        }
        // Most damage is caught (a flipped byte inside a double decodes as another double).
        #expect(decoded < 4000)
    }
}
