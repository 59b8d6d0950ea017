import Foundation
public import Logging
public import SweepConfig
import SweepTable
import ResultsStore
public import SweepProtocol
import TrainingCore
import ZeroMQ

/// Expands a sweep into tasks, hands them to workers over a ZeroMQ ROUTER socket, records
/// every result in the results store and writes the table at the end.
///
/// One thread owns the socket: `run()` blocks that thread (never call it on the cooperative
/// pool). `stop` may be requested from any thread.
public final class Coordinator {
    /// The endpoint actually bound (a `*` port resolved).
    public let endpoint: String
    public let stop = StopSignal()
    /// The sweep's figures, for the live view (`/status.json`); updated a few times a second.
    public let status = StatusBoard()
    /// Grows with an adaptive sweep's rounds (`AdaptiveRounds.swift`).
    public internal(set) var plan: SweepPlan

    let configuration: SweepConfiguration
    let options: CoordinatorOptions
    let logger: Logger
    let store: ResultsStore
    let context: Context
    let socket: Socket
    let authenticator: ZAPAuthenticator?
    /// Logs every refused CURVE handshake with its reason (a wrong server key is otherwise silent).
    let handshakeMonitor: HandshakeMonitor?
    var dispatcher: Dispatcher
    var counters = WireCounters()
    var lastHeartbeat = 0.0
    var lastWorkerSeen: Double
    var lastIdleNotice = 0.0
    var recordedNow = 0
    /// Results validated but not yet committed (see `commitStaged`).
    var staged: [StagedResult] = []
    var stagedIDs = Set<Int>()
    /// `staged[..<parkedCount]` no longer hold their worker's credit (the store is failing).
    var parkedCount = 0
    /// Set while the store refuses commits that may yet succeed.
    var storeFault: StoreFault?
    /// Set when the store cannot take results any more: the run stops with this error.
    var storeFailure: StoreFailure?
    var durations = TaskDurations()
    /// Recent cells' tasks and encoded specs (see `taskAndEncodedSpec`).
    var cellCache: [Int: CellCacheEntry] = [:]
    var lastLoop: Double
    var hadWorkers = false
    /// Why the coordinator stopped on its own (no workers, a dead authentication handler).
    var stopReason: String?

    public init(configuration: SweepConfiguration, options: CoordinatorOptions, logger: Logger) throws {
        self.configuration = configuration
        self.options = options
        self.logger = logger
        let plan = SweepPlan(configuration)
        self.plan = plan
        // The finished tasks are read in `run()`, where a stop request can interrupt the load.
        dispatcher = Dispatcher(taskCount: 0, done: TaskBitmap(count: 0), maxAttempts: options.maxAttempts,
                                maxPrefetch: options.maxPrefetch)

        // The socket first: a bad address or a port in use fails before --out is touched.
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
            // Without it libzmq lets every client in when no handler answers (fails open).
            try socket.setZAPEnforceDomain(true)
            handshakeMonitor = try HandshakeMonitor(socket) { event, _ in
                switch event {
                case .succeeded, .refusedByAuthentication: break  // the ZAP handler logs refusals with the key
                default: log.warning("refused a worker's handshake: \(event.reason)")
                }
            }
        } else {
            authenticator = nil
            handshakeMonitor = nil
        }
        try socket.bind(options.bind)
        endpoint = try socket.lastEndpoint()
        store = try ResultsStore.open(directory: options.outDirectory, plan: plan, configuration: configuration)
        self.plan = store.plan  // with the adaptive rounds recorded so far
        store.lock?.note(address: endpoint)
        // Where launch scripts and `dlsweep worker` users find the port that was bound; atomic,
        // so a reader never sees the file empty.
        try? Data((endpoint + "\n").utf8).write(
            to: URL(fileURLWithPath: options.outDirectory).appendingPathComponent("coordinator.address"),
            options: .atomic)
        if case .network(let type) = FileSystemKind.of(options.outDirectory) {
            logger.warning("results folder \(options.outDirectory) is on \(type): the folder lock excludes coordinators on other hosts only if the mount has locking (not nolock); read it with `dlsweep table` from this host while the sweep runs (SQLite's WAL needs one host)")
        }
        lastWorkerSeen = Self.now()
        lastLoop = lastWorkerSeen
        if options.curve == nil && !Self.isLoopback(endpoint) {
            logger.warning("listening on \(endpoint) in plain text: anyone who reaches this port can join; use --curve-key and --authorized-keys across networks")
        }
    }

    /// Runs until every task is done or a stop is requested.
    public func run() throws -> SweepOutcome {
        let started = Self.now()
        let done: TaskBitmap
        do {
            done = try store.completedTasks(isCancelled: { stop.isRequested })
        } catch is CancellationError {
            return SweepOutcome(complete: false, summaries: [], counters: counters, hosts: [],
                                recordedNow: 0, wallSeconds: Self.now() - started)
        } catch {
            try store.checkFile()  // a file deleted since `init` says so, not "unable to open"
            throw error
        }
        dispatcher = Dispatcher(taskCount: plan.taskCount, done: done, maxAttempts: options.maxAttempts,
                                maxPrefetch: options.maxPrefetch)
        var progress = ProgressReporter(style: options.progress)
        let startDone = dispatcher.doneCount
        func snapshot(_ state: String) -> SweepStatus {
            SweepStatus(state: state, sweep: configuration.name, fingerprint: plan.fingerprint, tasks: plan.taskCount,
                        done: dispatcher.doneCount, startDone: startDone, started: started, now: Self.now(),
                        perWorker: dispatcher.workers.values.map { ($0.host, $0.tasksDone) }, counters: counters,
                        alert: storeAlert,
                        adaptiveRound: configuration.adaptive == nil ? nil : plan.rounds.count)
        }
        var lastPublished = 0.0
        if dispatcher.doneCount > 0 {
            logger.info("resuming sweep '\(configuration.name)': \(dispatcher.doneCount) of \(plan.taskCount) tasks already recorded in \(options.outDirectory)")
        }
        logger.info("coordinator for sweep '\(configuration.name)' (\(plan.cells.count) cells × \(plan.trials) trials = \(plan.taskCount) tasks) listening on \(endpoint)")

        let tick = Int32(max(10, min(250, options.heartbeatInterval * 500)))
        // An adaptive sweep's round complete, the next one is planned from the recorded results.
        loop: while try !dispatcher.isComplete || startNextRound() {
            if stop.isRequested || storeFailure != nil { break loop }
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
            // A few times a second at most: the status walks the worker table.
            if now - lastPublished >= 0.2 {
                lastPublished = now
                let current = snapshot("running")
                status.publish(current)
                progress.update(current)
            }
        }
        let dispatchSeconds = Self.now() - started
        let last = snapshot(dispatcher.isComplete ? "complete" : "stopped")
        status.publish(last)
        progress.update(last, force: true)
        progress.finish()

        var complete = dispatcher.isComplete
        farewell(reason: complete ? "sweep complete" : "coordinator stopping")
        if storeFailure == nil, complete {
            // Finished, but into the file we opened? (A deleted one would take the table with it.)
            do { try store.checkFile() } catch { storeFailure = StoreFailure(description: "\(error)") }
        }
        if let storeFailure { throw storeFailure }
        complete = dispatcher.isComplete

        // A stopped sweep leaves its table to `dlsweep table`: summarizing a huge store here
        // would hold up a SIGTERM for as long as the scan takes.
        let summaries = complete && options.writeTable ? try summarize(store: store) : []
        if complete && options.writeTable {
            _ = try writeTableFiles(directory: options.outDirectory, summaries: summaries, title: configuration.name,
                                    measure: configuration.successMeasure,
                                    layout: HeatmapLayout(configuration, summaries), model: configuration.model.kind)
            _ = try writeReport(try SweepReport(store: store, configuration: configuration, summaries: summaries),
                                directory: options.outDirectory)
        }
        let hosts = complete ? try store.countByHost() : []
        return SweepOutcome(
            complete: complete, summaries: summaries, counters: counters, hosts: hosts,
            recordedNow: recordedNow, wallSeconds: Self.now() - started, dispatchSeconds: dispatchSeconds,
            stopReason: stopReason)
    }


    @discardableResult
    func send(_ message: Message, to peer: [UInt8]) -> Bool {
        do {
            try socket.send([peer, try message.encoded()], dontWait: true)
            return true
        } catch {
            logger.debug("could not send to \(describe(peer)): \(error)")
            return false
        }
    }

    func describe(_ peer: [UInt8]) -> String {
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
