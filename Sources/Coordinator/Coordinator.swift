import Foundation
public import Logging
public import SweepConfig
public import ResultsStore
public import SweepProtocol
import ZeroMQ

/// Expands a sweep into tasks, hands them to workers over a ZeroMQ ROUTER socket and records
/// every result in the results store.
///
/// The driver of `CoordinatorCore`: it owns the socket, the store and the clock, turns what
/// they say into events and executes the core's commands. One thread owns the socket: `run()`
/// blocks that thread (never call it on the cooperative pool). `stop` may be requested from
/// any thread.
public final class Coordinator {
    /// The endpoint actually bound (a `*` port resolved).
    public let endpoint: String
    public let stop = StopSignal()
    /// The sweep's figures, for the live view (`/status.json`); updated a few times a second.
    public let status = StatusBoard()
    /// How long the store's commits take (`/metrics`).
    public let commitLatency = CommitLatency()
    /// The results: the command line renders the table from it once `run()` returns.
    public let store: ResultsStore
    /// Grows with an adaptive sweep's rounds.
    public var plan: SweepPlan { core.plan }

    let configuration: SweepConfiguration
    let options: CoordinatorOptions
    let logger: Logger
    let context: Context
    let socket: Socket
    let authenticator: ZAPAuthenticator?
    /// Logs every refused CURVE handshake with its reason (a wrong server key is otherwise silent).
    let handshakeMonitor: HandshakeMonitor?
    var core: CoordinatorCore
    var counters = WireCounters()
    /// Set by the core's `finish`: every task has a row and no round follows.
    var finished = false
    /// Set by the core's `fail` (or a store file gone at the end): the run throws it.
    var storeFailure: StoreFailure?

    public init(configuration: SweepConfiguration, options: CoordinatorOptions, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let plan = SweepPlan(configuration)
        // Before anything opens a descriptor of its own: every worker connection takes one.
        let limit = ConnectionLimit.raise()
        var options = options
        // Said once the sweep opened (below): a bad --out or --bind stays a one-line error.
        let limitLine: String
        if let asked = options.maxWorkers, asked < limit.workers {
            limitLine = "\(limit.summary); --max-workers \(asked)"
        } else {
            options.maxWorkers = limit.workers
            options.maxWorkersReason = "open-file limit \(limit.soft); raise it with ulimit -n or LimitNOFILE"
            limitLine = limit.summary
        }
        self.options = options

        // The socket first: a bad address or a port in use fails before --out is touched.
        context = try Context()
        socket = try Socket(context, type: .router)
        try socket.setLinger(milliseconds: 2000)
        try socket.setMaxMessageSize(Int64(SweepProtocol.maxFrameBytes))
        // At most 32 frames (128 MiB) of one peer wait in the socket: a flooding peer is held
        // back by TCP rather than buffered.
        try socket.setReceiveHighWaterMark(32)
        try socket.setRouterMandatory(true)
        // Thousands of workers started at once (a whole allocation) overflow libzmq's default
        // backlog of 100: the kernel drops their SYNs and they retry after 1, 3, 7, 15 s …
        try socket.setBacklog(4096)
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
        logger.info("\(limitLine)")
        if options.retryFailed {
            // Before the finished tasks are read: the failed ones lose their rows and run again.
            let retried = try store.retryFailed()
            logger.notice("--retry-failed: \(retried) failed task(s) will run again (their earlier rows are kept in retried_failures)")
        }
        // With the adaptive rounds recorded so far; the finished tasks are read in `run()`,
        // where a stop request can interrupt the load.
        core = CoordinatorCore(configuration: configuration, plan: store.plan, options: options, endpoint: endpoint,
                               now: Self.now())
        store.lock?.note(address: endpoint)
        // Where launch scripts and `dlsweep worker` users find the port that was bound; atomic,
        // so a reader never sees the file empty.
        try? Data((endpoint + "\n").utf8).write(
            to: URL(fileURLWithPath: options.outDirectory).appendingPathComponent("coordinator.address"),
            options: .atomic)
        if case .network(let type) = FileSystemKind.of(options.outDirectory) {
            logger.warning("results folder \(options.outDirectory) is on \(type): the folder lock excludes coordinators on other hosts only if the mount has locking (not nolock); read it with `dlsweep table` from this host while the sweep runs (SQLite's WAL needs one host)")
        }
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
            return SweepOutcome(complete: false, counters: counters, hosts: [], recordedNow: 0,
                                wallSeconds: Self.now() - started)
        } catch {
            try store.checkFile()  // a file deleted since `init` says so, not "unable to open"
            throw error
        }
        // A verifying resume replays the sampled results recorded before it, too.
        var toVerify: [TaskOutcome] = []
        if let sample = core.verification, done.setCount > 0 {
            toVerify = try store.unverifiedOutcomes(chosen: sample.contains)
        }
        try execute(.started(done: done, toVerify: toVerify))
        var progress = ProgressReporter(style: options.progress)
        let startDone = core.dispatcher.doneCount
        func snapshot(_ state: String) -> SweepStatus {
            let now = Self.now()
            return SweepStatus(
                state: state, sweep: configuration.name, fingerprint: core.plan.fingerprint,
                tasks: core.plan.taskCount, done: core.dispatcher.doneCount, startDone: startDone, started: started,
                now: now, perWorker: core.dispatcher.workers.values.map { ($0.host, $0.tasksDone) },
                counters: counters, alert: core.storeAlert(now: now),
                adaptiveRound: configuration.adaptive == nil ? nil : core.plan.rounds.count,
                secondsLeft: core.estimatedSecondsLeft(now: now),
                replaysPending: core.verification == nil
                    ? nil : core.dispatcher.replaysWaiting + core.dispatcher.replaysInFlight)
        }
        var lastPublished = 0.0

        let tick = Int32(max(10, min(250, options.heartbeatInterval * 500)))
        loop: while !finished {
            if stop.isRequested || storeFailure != nil { break loop }
            do {
                // Awake for the staged group's commit, not only for the liveness tick; with frames
                // not yet read, come straight back.
                var wait = tick
                if let due = core.nextCommit {
                    wait = Int32(max(1, min(Double(tick), ((due - Self.now()) * 1000).rounded(.up))))
                }
                if core.hasBacklog { wait = 0 }
                if let frames = try socket.receive(timeout: wait) {
                    try execute(.received(frames))
                    // Drain what else is queued before committing, up to a bound of frames and
                    // bytes: a peer flooding large frames delays the others' acks a little.
                    var drained = 0
                    var bytes = frames[1...].reduce(0) { $0 + $1.count }
                    while drained < 1000, bytes < 4 << 20, let more = try socket.receive(timeout: 0) {
                        try execute(.received(more))
                        drained += 1
                        bytes += more[1...].reduce(0) { $0 + $1.count }
                    }
                }
                if core.hasBacklog { try execute(.intake) }
                try execute(.flush)
            } catch let error as ZMQError {
                // The context was shut down under us: stop as if asked to.
                if error.code == ZMQError.terminated.code { break loop }
                throw error
            }
            try execute(.tick)
            if let failure = authenticator?.failure { try execute(.authenticationFailed(failure)) }
            try execute(.flush)
            // A few times a second at most: the status walks the worker table.
            let now = Self.now()
            if now - lastPublished >= 0.2 {
                lastPublished = now
                let current = snapshot("running")
                status.publish(current)
                progress.update(current)
            }
        }
        let dispatchSeconds = Self.now() - started
        let last = snapshot(core.dispatcher.isComplete ? "complete" : "stopped")
        status.publish(last)
        progress.update(last, force: true)
        progress.finish()

        try farewell(reason: core.dispatcher.isComplete ? "sweep complete" : "coordinator stopping")
        if storeFailure == nil, core.dispatcher.isComplete {
            // Finished, but into the file we opened? (A deleted one would take the table with it.)
            do { try store.checkFile() } catch { storeFailure = StoreFailure(description: "\(error)") }
        }
        if let storeFailure { throw storeFailure }
        let complete = core.dispatcher.isComplete
        let hosts = complete ? try store.countByHost() : []
        return SweepOutcome(
            complete: complete, counters: counters, hosts: hosts, recordedNow: core.recordedNow,
            wallSeconds: Self.now() - started, dispatchSeconds: dispatchSeconds, stopReason: core.stopReason)
    }

    /// Tells every worker the sweep is over, and answers stragglers for a moment.
    private func farewell(reason: String) throws {
        try execute(.farewell(reason: reason))
        let deadline = Self.now() + core.farewellSeconds
        while Self.now() < deadline {
            guard let frames = try? socket.receive(timeout: 50) else { continue }
            try execute(.received(frames))
        }
    }

    // MARK: Executing the core's commands

    /// Hands `event` to the core and carries out its commands, each one's answer first.
    private func execute(_ event: CoordinatorCore.Event) throws {
        for command in core.handle(event, now: Self.now()) { try perform(command) }
    }

    private func perform(_ command: CoordinatorCore.Command) throws {
        switch command {
        case .send(let message, let peer):
            do {
                try socket.send([peer, try message.encoded()], dontWait: true)
            } catch {
                logger.debug("could not send to \(core.describe(peer)): \(error)")
                if case ZMQError.hostUnreachable = error { try execute(.unreachable(peer: peer)) }
            }
        case .sendTasks(let frames, let peer, let worker, let taskIDs):
            for frame in frames {
                do {
                    try socket.send([peer, frame], dontWait: true)
                } catch {
                    // Nothing queued for this peer (gone, or its queue full).
                    logger.debug("could not send tasks to \(core.describe(peer)): \(error)")
                    try execute(.tasksUndelivered(worker: worker, taskIDs: taskIDs))
                    if case ZMQError.hostUnreachable = error { try execute(.unreachable(peer: peer)) }
                    return
                }
            }
        case .commit(let outcomes):
            let inserted: [Bool]
            do {
                let started = DispatchTime.now().uptimeNanoseconds
                inserted = try store.record(outcomes)
                commitLatency.observe(seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, rows: outcomes.count)
            } catch {
                let retryable = (error as? ResultsStoreError)?.isRetryable ?? false
                try execute(.commitFailed(reason: "\(error)", retryable: retryable))
                return
            }
            try execute(.committed(inserted: inserted))
        case .tally:
            // Stopping between rounds ends the sweep where it is (a resume plans the round).
            guard !stop.isRequested else { return }
            try execute(.tallied(try store.tallies(plan: core.plan, measure: configuration.successMeasure)))
        case .recordRound(let round):
            let plan = try store.record(round: round)
            try execute(.roundRecorded(round, plan: plan))
        case .recordEvents(let events):
            do {
                try store.record(events: events)
            } catch {
                logger.error("could not record \(events.count) worker event(s) in the results store: \(error)")
            }
        case .replaceRows(let worker, let reason):
            var taskIDs: [Int] = []
            do {
                taskIDs = try store.replaceUnverifiedRows(of: worker, reason: reason)
            } catch {
                logger.error("could not move the unverified results of quarantined worker \(worker) aside: \(error); they stay in the table")
            }
            try execute(.rowsReplaced(worker: worker, taskIDs: taskIDs))
        case .log(let level, let message):
            logger.log(level: level, "\(message)")
        case .count(let counter, let n):
            counters[counter] += n
        case .stop:
            stop.request()
        case .fail(let failure):
            storeFailure = failure
        case .finish:
            finished = true
        }
    }

    static func isLoopback(_ endpoint: String) -> Bool {
        endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://")
            || endpoint.contains("//127.") || endpoint.contains("//localhost") || endpoint.contains("//[::1]")
    }

    static func now() -> Double { Date().timeIntervalSince1970 }
}
