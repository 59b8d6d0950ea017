import Foundation
public import Logging
public import SweepConfig
public import SweepTable
public import ResultsStore
public import SweepProtocol
import TrainingCore
import ZeroMQ

/// Counts of what went wrong on the wire, reported at the end of a sweep.
public struct WireCounters: Sendable, Equatable {
    public var malformedFrames = 0
    public var versionMismatches = 0
    public var unexpectedMessages = 0
    public var unknownTasks = 0
    public var duplicateResults = 0
    public var workersLost = 0
    public var tasksRequeued = 0
    public var tasksFailed = 0

    public init() {}
}

/// What a coordinator's run ended with.
public struct SweepOutcome: Sendable {
    /// True when every task has a result (or a recorded failure).
    public var complete: Bool
    public var summaries: [CellSummary]
    public var counters: WireCounters
    /// Tasks and busy seconds per worker host, from the results store.
    public var hosts: [HostSummary]
    /// Results recorded by this process (a resumed sweep counts only its own).
    public var recordedNow: Int
    public var wallSeconds: Double
}

/// Expands a sweep into tasks, hands them to workers over a ZeroMQ ROUTER socket, records
/// every result in the results store and writes the table at the end.
///
/// One thread owns the socket: `run()` blocks that thread (never call it on the cooperative
/// pool). `stop` may be requested from any thread.
public final class Coordinator {
    /// The endpoint actually bound (a `*` port resolved).
    public let endpoint: String
    public let stop = StopSignal()
    public let plan: SweepPlan

    private let configuration: SweepConfiguration
    private let options: CoordinatorOptions
    private let logger: Logger
    private let store: ResultsStore
    private let context: Context
    private let socket: Socket
    private let authenticator: ZAPAuthenticator?
    private var dispatcher: Dispatcher
    private var counters = WireCounters()
    private var lastHeartbeat = 0.0
    private var lastWorkerSeen: Double
    private var lastIdleNotice = 0.0
    private var recordedNow = 0
    /// Results validated but not yet committed (see `commitStaged`).
    private var staged: [(outcome: TaskOutcome, worker: String?, seconds: Double)] = []
    private var stagedIDs = Set<Int>()

    public init(configuration: SweepConfiguration, options: CoordinatorOptions, logger: Logger) throws {
        self.configuration = configuration
        self.options = options
        self.logger = logger
        let plan = SweepPlan(configuration)
        self.plan = plan
        store = try ResultsStore.open(directory: options.outDirectory, plan: plan, configuration: configuration)
        dispatcher = Dispatcher(
            taskCount: plan.taskCount, done: try store.completedTaskIDs(), maxAttempts: options.maxAttempts)

        context = try Context()
        socket = try Socket(context, type: .router)
        try socket.setLinger(milliseconds: 2000)
        try socket.setMaxMessageSize(Int64(SweepProtocol.maxFrameBytes))
        try socket.setRouterMandatory(true)
        if let curve = options.curve {
            let log = logger
            authenticator = try ZAPAuthenticator(context: context, allowedPublicKeys: curve.authorizedKeys) {
                peer, key, accepted in
                if !accepted { log.warning("refused a worker at \(peer): public key \(key) is not authorized") }
            }
            try socket.setCurveServer(true)
            try socket.setCurveSecretKey(curve.secretKey)
            try socket.setZAPDomain("dlsweep")
        } else {
            authenticator = nil
        }
        try socket.bind(options.bind)
        endpoint = try socket.lastEndpoint()
        // Where launch scripts and `dlsweep worker` users find the port that was bound.
        try? Data((endpoint + "\n").utf8).write(
            to: URL(fileURLWithPath: options.outDirectory).appendingPathComponent("coordinator.address"))
        lastWorkerSeen = Self.now()
        if options.curve == nil && !Self.isLoopback(endpoint) {
            logger.warning("listening on \(endpoint) in plain text: anyone who reaches this port can join; use --curve-key and --authorized-keys across networks")
        }
    }

    /// Runs until every task is done or a stop is requested.
    public func run() throws -> SweepOutcome {
        let started = Self.now()
        var progress = ProgressReporter(
            style: options.progress, total: plan.taskCount, alreadyDone: dispatcher.doneCount, now: started)
        if dispatcher.doneCount > 0 {
            logger.info("resuming sweep '\(configuration.name)': \(dispatcher.doneCount) of \(plan.taskCount) tasks already recorded in \(options.outDirectory)")
        }
        logger.info("coordinator for sweep '\(configuration.name)' (\(plan.cells.count) cells × \(plan.trials) trials = \(plan.taskCount) tasks) listening on \(endpoint)")

        let tick = Int32(max(10, min(250, options.heartbeatInterval * 500)))
        loop: while !dispatcher.isComplete {
            if stop.isRequested { break loop }
            do {
                if let frames = try socket.receive(timeout: tick) {
                    handle(frames)
                    // Drain what else is queued before the periodic work.
                    var drained = 0
                    while drained < 1000, let more = try socket.receive(timeout: 0) {
                        handle(more)
                        drained += 1
                    }
                    commitStaged()
                }
            } catch {
                // The context was shut down under us: stop as if asked to.
                if error.code == ZMQError.terminated.code { break loop }
                throw error
            }
            let now = Self.now()
            periodic(now: now)
            commitStaged()
            progress.update(
                done: dispatcher.doneCount, workers: dispatcher.workers.count,
                hosts: Set(dispatcher.workers.values.map(\.host)).count, perHost: tasksPerHost(), now: now)
        }
        progress.update(
            done: dispatcher.doneCount, workers: dispatcher.workers.count,
            hosts: Set(dispatcher.workers.values.map(\.host)).count, now: Self.now(), force: true)
        progress.finish()

        let complete = dispatcher.isComplete
        farewell(reason: complete ? "sweep complete" : "coordinator stopping")

        let summaries = try summarize(store: store)
        if complete {
            _ = try writeTableFiles(directory: options.outDirectory, summaries: summaries, title: configuration.name)
        }
        let hosts = try store.countByHost()
        return SweepOutcome(
            complete: complete, summaries: summaries, counters: counters, hosts: hosts,
            recordedNow: recordedNow, wallSeconds: Self.now() - started)
    }

    /// Tasks finished by the connected workers of each host, this session.
    private func tasksPerHost() -> [(host: String, tasks: Int)] {
        var counts: [String: Int] = [:]
        for slot in dispatcher.workers.values { counts[slot.host, default: 0] += slot.tasksDone }
        return counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    // MARK: Messages

    private func handle(_ frames: [[UInt8]]) {
        guard frames.count == 2 else {
            counters.malformedFrames += 1
            logger.warning("dropped a message of \(frames.count) frames from \(describe(frames.first ?? []))")
            return
        }
        let peer = frames[0]
        let message: Message
        do {
            message = try Message.decode(frames[1])
        } catch {
            if case .versionMismatch(let peerVersion) = error {
                counters.versionMismatches += 1
                logger.warning("refused \(describe(peer)): it speaks protocol version \(peerVersion), this coordinator speaks \(protocolVersion)")
                send(.reject(Reject(
                    reason: "protocol version \(peerVersion) is not supported; this coordinator speaks version \(protocolVersion)",
                    coordinatorVersion: Int(protocolVersion), peerVersion: Int(peerVersion))), to: peer)
            } else {
                counters.malformedFrames += 1
                logger.warning("dropped a malformed frame from \(describe(peer)): \(error)")
            }
            return
        }

        let now = Self.now()
        let worker = dispatcher.workerID(forPeer: peer)
        if let worker { dispatcher.touch(worker, now: now) }

        switch message {
        case .hello(let hello):
            register(hello, peer: peer, now: now)
        case .result(let result):
            accept(taskID: result.taskID, attempt: result.attempt, from: worker, peer: peer,
                   outcome: .report(result.report), startedAt: result.startedAt, finishedAt: result.finishedAt)
        case .taskFailed(let failure):
            accept(taskID: failure.taskID, attempt: failure.attempt, from: worker, peer: peer,
                   outcome: .failed(reason: failure.reason), startedAt: now, finishedAt: now)
        case .heartbeat:
            break
        case .bye(let bye):
            guard let worker else { break }
            for task in bye.taskIDs { dispatcher.returnTask(task, from: worker) }
            let requeued = dispatcher.dropWorker(worker, countAttempts: false)
            logger.info("worker \(worker) left (\(bye.reason)); \(requeued.count + bye.taskIDs.count) task(s) back in the queue")
            assignAll()
        case .welcome, .reject, .task, .shutdown:
            counters.unexpectedMessages += 1
            logger.warning("dropped a coordinator-only message from \(describe(peer))")
        }
    }

    private func register(_ hello: Hello, peer: [UInt8], now: Double) {
        let isNew = dispatcher.register(
            id: hello.workerID, peer: peer, host: hello.host, prefetch: hello.prefetch, now: now)
        lastWorkerSeen = now
        if isNew {
            logger.info("worker \(hello.workerID) joined from \(hello.host) (pid \(hello.pid), \(hello.cores) cores, \(hello.blasThreads) BLAS thread(s))")
        } else {
            logger.info("worker \(hello.workerID) on \(hello.host) registered again")
        }
        send(.welcome(Welcome(
            sweep: configuration.name, heartbeatInterval: options.heartbeatInterval, workerTimeout: options.workerTimeout)),
             to: peer)
        if dispatcher.isComplete {
            send(.shutdown(Shutdown(reason: "sweep complete")), to: peer)
        } else {
            assign(hello.workerID)
        }
    }

    private func accept(taskID: Int, attempt: Int, from worker: String?, peer: [UInt8],
                        outcome: RecordedResult, startedAt: Double, finishedAt: Double) {
        guard taskID >= 0 && taskID < plan.taskCount else {
            counters.unknownTasks += 1
            logger.warning("ignored a result for unknown task \(taskID) from \(describe(peer))")
            return
        }
        if dispatcher.isDone(taskID) {
            counters.duplicateResults += 1
            logger.debug("ignored a duplicate result for task \(taskID) from \(describe(peer))")
            if let worker { dispatcher.returnTask(taskID, from: worker); assign(worker) }
            return
        }
        let task = plan.task(taskID)
        if case .report(let report) = outcome, let problem = Self.inconsistency(report, task: task) {
            counters.malformedFrames += 1
            logger.warning("ignored a result for task \(taskID) from \(describe(peer)): \(problem)")
            if let worker { dispatcher.returnTask(taskID, from: worker); assign(worker) }
            return
        }
        guard !stagedIDs.contains(taskID) else {
            counters.duplicateResults += 1
            return
        }
        let host = worker.flatMap { dispatcher.workers[$0]?.host } ?? "unknown"
        let record = TaskOutcome(
            task: task, attempt: attempt, workerID: worker ?? "unregistered", host: host,
            startedAt: Date(timeIntervalSince1970: startedAt), finishedAt: Date(timeIntervalSince1970: finishedAt),
            result: outcome)
        staged.append((record, worker, max(0, finishedAt - startedAt)))
        stagedIDs.insert(taskID)
    }

    /// Commits the results received since the last call in one transaction; only then do
    /// they count (done, credit returned, next tasks sent).
    private func commitStaged() {
        guard !staged.isEmpty else { return }
        let batch = staged
        staged.removeAll(keepingCapacity: true)
        stagedIDs.removeAll(keepingCapacity: true)
        let inserted: [Bool]
        do {
            inserted = try store.record(batch.map(\.outcome))
        } catch {
            // Not committed, so not counted: the tasks go back to the queue.
            logger.error("could not record \(batch.count) result(s): \(error)")
            for item in batch {
                if let worker = item.worker { dispatcher.returnTask(item.outcome.task.id, from: worker) }
            }
            return
        }
        var workers = Set<String>()
        for (item, isNew) in zip(batch, inserted) {
            let taskID = item.outcome.task.id
            if isNew {
                recordedNow += 1
                if case .failed(let reason) = item.outcome.result {
                    counters.tasksFailed += 1
                    logger.warning("task \(taskID) failed on \(item.outcome.host): \(reason)")
                }
            } else {
                counters.duplicateResults += 1
            }
            dispatcher.complete(taskID, seconds: item.seconds)
            if let worker = item.worker { workers.insert(worker) }
        }
        for worker in workers.sorted() { assign(worker) }
    }

    /// A result whose shape does not match its task cannot be a run of it.
    private static func inconsistency(_ report: RunReport, task: SweepTask) -> String? {
        let levels = task.spec.training.testNoise.count
        if report.testError.count != levels || report.oracleTestError.count != levels {
            return "expected \(levels) test-noise levels, got \(report.testError.count)"
        }
        if report.iterations < 0 || report.iterations > task.spec.training.steps {
            return "iterations \(report.iterations) outside 0...\(task.spec.training.steps)"
        }
        return nil
    }

    // MARK: Dispatch and liveness

    private func assign(_ worker: String) {
        guard let slot = dispatcher.workers[worker] else { return }
        for (taskID, attempt) in dispatcher.assign(to: worker) {
            let spec = plan.task(taskID).spec
            if !send(.task(TaskAssignment(taskID: taskID, attempt: attempt, spec: spec)), to: slot.peer) {
                dispatcher.returnTask(taskID, from: worker)
                break
            }
        }
    }

    private func assignAll() {
        for worker in dispatcher.workers.keys.sorted() { assign(worker) }
    }

    private func periodic(now: Double) {
        if now - lastHeartbeat >= options.heartbeatInterval {
            lastHeartbeat = now
            for slot in dispatcher.workers.values {
                send(.heartbeat(Heartbeat(sentAt: now)), to: slot.peer)
            }
        }
        for worker in dispatcher.silentWorkers(now: now, timeout: options.workerTimeout) {
            let host = dispatcher.workers[worker]?.host ?? "?"
            counters.workersLost += 1
            let reclaimed = dispatcher.dropWorker(worker, countAttempts: true)
            logger.warning("worker \(worker) on \(host) silent for more than \(options.workerTimeout) s: dropped, \(reclaimed.count) task(s) reclaimed")
            for item in reclaimed {
                switch item {
                case .requeued:
                    counters.tasksRequeued += 1
                case .exhausted(let taskID, let attempts):
                    accept(taskID: taskID, attempt: attempts, from: nil, peer: [],
                           outcome: .failed(reason: "lost \(attempts) workers while running it (last on \(host))"),
                           startedAt: now, finishedAt: now)
                }
            }
            assignAll()
        }
        if dispatcher.workers.isEmpty {
            if now - lastWorkerSeen >= options.idleNoticeInterval && now - lastIdleNotice >= options.idleNoticeInterval {
                lastIdleNotice = now
                logger.notice("waiting for workers: none connected to \(endpoint) (start one with: dlsweep worker --connect \(endpoint))")
            }
        } else {
            lastWorkerSeen = now
        }
    }

    /// Tells every worker the sweep is over, and answers stragglers for a moment.
    private func farewell(reason: String) {
        for slot in dispatcher.workers.values { send(.shutdown(Shutdown(reason: reason)), to: slot.peer) }
        let deadline = Self.now() + min(1.0, options.heartbeatInterval)
        while Self.now() < deadline {
            guard let frames = try? socket.receive(timeout: 50) else { continue }
            guard frames.count == 2 else { continue }
            guard let message = try? Message.decode(frames[1]) else { continue }
            switch message {
            case .result, .taskFailed:
                // Still recorded: a result that arrives while stopping is not lost.
                handle(frames)
                commitStaged()
                send(.shutdown(Shutdown(reason: reason)), to: frames[0])
            case .hello, .heartbeat:
                send(.shutdown(Shutdown(reason: reason)), to: frames[0])
            default:
                break
            }
        }
    }

    @discardableResult
    private func send(_ message: Message, to peer: [UInt8]) -> Bool {
        do {
            try socket.send([peer, try message.encoded()], dontWait: true)
            return true
        } catch {
            logger.debug("could not send to \(describe(peer)): \(error)")
            return false
        }
    }

    private func describe(_ peer: [UInt8]) -> String {
        if let id = dispatcher.workerID(forPeer: peer), let slot = dispatcher.workers[id] {
            return "worker \(id) on \(slot.host)"
        }
        return "peer 0x" + peer.map { String(format: "%02x", $0) }.joined()
    }

    static func isLoopback(_ endpoint: String) -> Bool {
        endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://")
            || endpoint.contains("//127.") || endpoint.contains("//localhost") || endpoint.contains("//[::1]")
    }

    static func now() -> Double { Date().timeIntervalSince1970 }
}
