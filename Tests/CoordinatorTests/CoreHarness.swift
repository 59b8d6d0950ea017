import Coordinator
import Foundation
import ResultsStore
import SweepConfig
import SweepProtocol
import TrainingCore

/// A `CoordinatorCore` driven as `Coordinator` drives it, with an in-memory store and a clock
/// the test moves: every command is recorded, and the store's answers are fed back depth first.
struct CoreHarness {
    var core: CoordinatorCore
    var now = 1_800_000_000.0
    /// Rows committed, in order.
    var rows: [TaskOutcome] = []
    /// Rows replaced (`replaceRows`), in order.
    var replaced: [TaskOutcome] = []
    /// Peer events recorded, in order.
    var events: [PeerEvent] = []
    /// Set: the next commits fail with this reason (retryable or not).
    var commitFailure: (reason: String, retryable: Bool)?
    /// What the store answers a `tally` with; nil leaves the core waiting.
    var tallies: (([TaskOutcome], SweepPlan) -> [CellTally])?
    /// Every command, in the order the driver would execute them.
    var commands: [CoordinatorCore.Command] = []
    var counters = WireCounters()
    /// The session token each peer was last welcomed with.
    var sessions: [UInt8: String] = [:]

    /// A core for `yaml` (model noop by default: its reports are known without training).
    init(yaml: String = CoreHarness.noop(trials: 6), options: (inout CoordinatorOptions) -> Void = { _ in },
         done: Set<Int> = [], toVerify: [TaskOutcome] = []) throws {
        let configuration = try SweepConfiguration.parse(yaml: yaml, fileName: "core.yaml")
        var settings = CoordinatorOptions(bind: "tcp://127.0.0.1:5555", outDirectory: "/nonexistent")
        settings.maxPrefetch = 4
        // Each flush commits what it has, as the tests of single results expect; the tests of
        // group commits set their own delay.
        settings.commitDelay = 0
        options(&settings)
        let plan = SweepPlan(configuration)
        core = CoordinatorCore(configuration: configuration, plan: plan, options: settings,
                               endpoint: "tcp://127.0.0.1:5555", now: now)
        var bitmap = TaskBitmap(count: plan.taskCount)
        for id in done { bitmap[id] = true }
        drive(.started(done: bitmap, toVerify: toVerify))
    }

    static func noop(trials: Int, extra: String = "") -> String {
        """
        name: core
        seed: 1
        model: noop
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
        trials: \(trials)
        training: {steps: 1}
        test_noise: [0.0]
        \(extra)
        """
    }

    var fingerprint: String { core.plan.fingerprint }

    /// Hands `event` to the core at the harness's time; returns this event's commands (those
    /// of the store's answers included) and records them.
    @discardableResult
    mutating func drive(_ event: CoordinatorCore.Event) -> [CoordinatorCore.Command] {
        var out: [CoordinatorCore.Command] = []
        for command in core.handle(event, now: now) {
            out.append(command)
            switch command {
            case .commit(let outcomes):
                if let failure = commitFailure {
                    out += drive(.commitFailed(reason: failure.reason, retryable: failure.retryable))
                } else {
                    rows += outcomes
                    out += drive(.committed(inserted: outcomes.map { _ in true }))
                }
            case .tally:
                if let tallies { out += drive(.tallied(tallies(rows, core.plan))) }
            case .recordEvents(let events):
                self.events += events
            case .replaceRows(let worker, _):
                // As the store does: the worker's rows without a `verified` event go.
                let verified = Set(self.events.filter { $0.kind == .verified }.compactMap(\.taskID))
                let gone = rows.filter { $0.workerID == worker && !verified.contains($0.task.id) }.map(\.task.id)
                replaced += rows.filter { gone.contains($0.task.id) }
                rows.removeAll { gone.contains($0.task.id) }
                out += drive(.rowsReplaced(worker: worker, taskIDs: gone.sorted()))
            case .recordRound(let round):
                out += drive(.roundRecorded(round, plan: core.plan.applying(round)))
            case .count(let counter, let n):
                counters[counter] += n
            case .send(.welcome(let welcome), let peer) where peer.count == 1:
                sessions[peer[0]] = welcome.session
            default:
                break
            }
        }
        commands += out
        return out
    }

    /// Sends `message` from `peer` and flushes, as the driver does after draining the socket.
    /// A result, failure, heartbeat or bye without a token carries the peer's session's, as
    /// a worker's would, unless `stamped` is false.
    @discardableResult
    mutating func receive(_ message: Message, from peer: UInt8, stamped: Bool = true) -> [CoordinatorCore.Command] {
        var message = message
        if stamped, message.session == "", let session = sessions[peer] { message = message.carrying(session: session) }
        return receive(frame: try! message.encoded(), from: peer)
    }

    @discardableResult
    mutating func receive(frame: [UInt8], from peer: UInt8) -> [CoordinatorCore.Command] {
        drive(.received([[peer], frame])) + drive(.flush)
    }

    /// Several messages in one batch frame, as a worker sends its queued answers.
    @discardableResult
    mutating func receive(batch messages: [Message], from peer: UInt8) -> [CoordinatorCore.Command] {
        var batcher = FrameBatcher()
        for var message in messages {
            if message.session == "", let session = sessions[peer] { message = message.carrying(session: session) }
            try! batcher.add(message)
        }
        let frames = batcher.frames()
        precondition(frames.count == 1, "the batch did not fit one frame")
        return receive(frame: frames[0], from: peer)
    }

    static func hello(_ id: String, prefetch: Int = 2) -> Message {
        .hello(Hello(protocolVersion: Int(protocolVersion), workerID: id, host: "host-\(id)", pid: 1, cores: 2,
                     blasThreads: 1, capabilities: [], prefetch: prefetch))
    }

    /// The result a worker computes for `taskID` (model noop), sent with `attempt`.
    func result(_ taskID: Int, attempt: Int = 1, sweep: String? = nil) -> Message {
        let spec = core.configuration.sampled(core.plan.task(taskID).spec, trial: core.plan.task(taskID).trial)
        return .result(TaskResult(sweep: sweep ?? fingerprint, taskID: taskID, attempt: attempt,
                                  report: spec.syntheticReport(seconds: 0.5),
                                  startedAt: now - 1, finishedAt: now - 0.5))
    }

    /// A result that cannot be a run of its task: a non-finite metric without divergence.
    func invalidResult(_ taskID: Int, attempt: Int = 1) -> Message {
        guard case .result(var result) = self.result(taskID, attempt: attempt) else { fatalError() }
        result.report.trainResidual = .nan
        return .result(result)
    }
}

extension [CoordinatorCore.Command] {
    /// The tasks sent to `peer`, decoded from the frames, in order.
    func tasks(to peer: UInt8) -> [TaskAssignment] {
        flatMap { command -> [TaskAssignment] in
            guard case .sendTasks(let frames, let to, _, _) = command, to == [peer] else { return [] }
            return frames.flatMap { frame in
                (try? Message.decodeAll(frame))?.compactMap { if case .task(let t) = $0 { t } else { nil } } ?? []
            }
        }
    }

    /// The messages sent to `peer`, in order.
    func messages(to peer: UInt8) -> [Message] {
        compactMap { if case .send(let message, let to) = $0, to == [peer] { message } else { nil } }
    }

    func acks(to peer: UInt8) -> [Int] {
        messages(to: peer).flatMap { message -> [Int] in if case .ack(let ack) = message { ack.taskIDs } else { [] } }
    }

    func counts(_ counter: WireCounters.Counter) -> Int {
        reduce(0) { if case .count(counter, let n) = $1 { $0 + n } else { $0 } }
    }

    var committed: [TaskOutcome] {
        flatMap { command -> [TaskOutcome] in if case .commit(let rows) = command { rows } else { [] } }
    }
    var finishes: Bool { contains(.finish) }
}
