import Foundation
public import Logging
public import ResultsStore
public import SweepConfig
public import SweepProtocol

/// The coordinator's decisions as a value: register, lease, settle, re-queue, expire, refuse,
/// adaptive round, finish. It takes an event and the time and returns the commands that carry
/// the decision out; it holds no socket, no store and no clock, so every decision is tested
/// in-process on events and commands (`CoordinatorCoreTests`). `Coordinator` is the driver at
/// the edges: it turns socket input, timer ticks and the store's answers into events and
/// executes the commands, depth first (a command's answer is handled before the next command).
public struct CoordinatorCore: Sendable {
    /// What happened, as the driver saw it.
    public enum Event: Sendable {
        /// The store's finished tasks are read: dispatching starts. `toVerify`: the recorded
        /// results of sampled tasks that no replay checked yet (a verifying resume).
        case started(done: TaskBitmap, toVerify: [TaskOutcome] = [])
        /// One message from the ROUTER socket: the peer's routing identity, then its frames.
        case received([[UInt8]])
        /// The driver's loop turned: heartbeats, silent workers, overrun leases, idle notices.
        case tick
        /// Read the next entries of every peer's backlog, peers in turn (`hasBacklog`).
        case intake
        /// The socket is drained for now: commit what was staged.
        case flush
        /// The store took the last `commit`; `inserted[i]` is false for a row it already had.
        case committed(inserted: [Bool])
        /// The store refused the last `commit`; `retryable` when the cause may pass (a full disk).
        case commitFailed(reason: String, retryable: Bool)
        /// A `sendTasks` could not go out (the peer is gone or its queue full).
        case tasksUndelivered(worker: String, taskIDs: [Int])
        /// The socket refused to route to `peer` (EHOSTUNREACH): that connection is closed.
        case unreachable(peer: [UInt8])
        /// The store's per-cell tallies, asked for by `tally`.
        case tallied([CellTally])
        /// The store recorded the round of `recordRound`; `plan` includes it.
        case roundRecorded(AdaptiveRound, plan: SweepPlan)
        /// The CURVE authentication handler stopped.
        case authenticationFailed(String)
        /// The run is ending: tell every worker, then answer stragglers (`received`) with a shutdown.
        case farewell(reason: String)
        /// The store moved these rows of `worker` to `replaced_results` (`replaceRows`).
        case rowsReplaced(worker: String, taskIDs: [Int])
    }

    /// What the driver must do.
    public enum Command: Sendable, Equatable {
        case send(Message, to: [UInt8])
        /// Encoded task frames for `worker`; if any cannot be sent, answer `tasksUndelivered`.
        case sendTasks(frames: [[UInt8]], to: [UInt8], worker: String, taskIDs: [Int])
        /// Commit these rows in one transaction; answer `committed` or `commitFailed`.
        case commit([TaskOutcome])
        /// Read the per-cell tallies of the store's results; answer `tallied`.
        case tally
        /// Record the next adaptive round; answer `roundRecorded`.
        case recordRound(AdaptiveRound)
        /// Keep what was learned about workers with the results (a failure is logged, not fatal).
        case recordEvents([PeerEvent])
        /// Move the rows of `worker` that no replay confirmed to `replaced_results` (a liar's);
        /// answer `rowsReplaced` with their task ids (none when the store fails, logged).
        case replaceRows(worker: String, reason: String)
        case log(Logger.Level, String)
        case count(WireCounters.Counter, Int = 1)
        /// End the run early (incomplete) for `reason`.
        case stop(reason: String)
        /// The store cannot take results any more: end the run with this error.
        case fail(StoreFailure)
        /// Every task has a row and no round follows: the sweep is complete.
        case finish
    }

    public enum Phase: Sendable, Equatable {
        /// Before `started`: no task is known to be done yet.
        case loading
        case running
        /// Waiting for the store's tallies or the recorded round.
        case planningRound
        case finished
        /// Saying goodbye: stragglers' results are still recorded, every peer is told to stop.
        case farewell(reason: String)
    }

    public let configuration: SweepConfiguration
    public let options: CoordinatorOptions
    /// The bound endpoint, named in the lines that tell an operator where workers should connect.
    public let endpoint: String
    /// Grows with an adaptive sweep's rounds.
    public internal(set) var plan: SweepPlan
    public internal(set) var dispatcher: Dispatcher
    public internal(set) var phase = Phase.loading
    /// Results recorded by this process (a resumed sweep counts only its own).
    public internal(set) var recordedNow = 0
    /// Why the coordinator stopped on its own (no workers, a dead authentication handler).
    public internal(set) var stopReason: String?
    /// Set when the store cannot take results any more.
    public internal(set) var storeFailure: StoreFailure?

    var durations = TaskDurations()
    var lastHeartbeat = 0.0
    var lastWorkerSeen: Double
    var lastIdleNotice = 0.0
    var lastLoop: Double
    var hadWorkers = false
    /// Workers whose connection closed, with the routing identity of that connection
    /// (`Liveness.swift`).
    var closedConnections: [String: [UInt8]] = [:]
    /// Hellos refused for a live id, so that only the 1st, 2nd, 4th … are logged.
    var duplicateHellos = 0
    /// Hellos refused at the connection limit (logged likewise).
    var refusedAtLimit = 0
    /// Results validated but not yet committed (`ResultRecorder.swift`).
    var staged = StagedResults()
    var stagedIDs = Set<Int>()
    /// `staged[..<parkedCount]` no longer hold their worker's credit (they wait for their
    /// group, or the store is failing).
    var parkedCount = 0
    /// When the store took the last group, and how many results it held (`ResultRecorder.swift`).
    var lastCommit: Double?
    var lastGroupSize = 0
    /// Set while the store refuses commits that may yet succeed.
    var storeFault: StoreFault?
    /// Recent cells' tasks and encoded specs (`TaskSpecCache.swift`).
    var cellCache: [Int: CellCacheEntry] = [:]
    /// Frames not yet read, and the acks and counts being gathered (`FairIntake.swift`).
    var intake = FairIntake()
    /// Which finished tasks are replayed (nil: none, and verification costs nothing).
    let verification: VerificationSample?
    /// The recorded results that replays out or waiting are compared with (`Verification.swift`).
    var checks: [Int: ReplayCheck] = [:]
    /// Since when waiting replays have had no worker that may run them.
    var replaysStuckSince: Double?
    /// `replaceRows` commands not yet answered: the sweep is not complete while one is out.
    var replacementsPending = 0
    /// The commands of the event being handled.
    private var out: [Command] = []

    public init(configuration: SweepConfiguration, plan: SweepPlan, options: CoordinatorOptions, endpoint: String,
                now: Double) {
        self.configuration = configuration
        self.plan = plan
        self.options = options
        self.endpoint = endpoint
        verification = VerificationSample(fraction: options.verifyFraction ?? configuration.verifyFraction,
                                          seed: configuration.seed)
        dispatcher = Dispatcher(taskCount: 0, done: TaskBitmap(count: 0), maxAttempts: options.maxAttempts,
                                maxPrefetch: options.maxPrefetch)
        lastWorkerSeen = now
        lastLoop = now
    }

    /// Decides what `event` at `now` calls for.
    public mutating func handle(_ event: Event, now: Double) -> [Command] {
        intake.now = now
        switch event {
        case .started(let done, let toVerify): start(done: done, toVerify: toVerify, now: now)
        case .received(let frames):
            if case .farewell(let reason) = phase {
                answerStraggler(frames, reason: reason, now: now)
            } else {
                receive(frames, now: now)
            }
        case .tick: tick(now: now)
        case .intake: intakeRound(now: now)
        case .flush: flush(now: now)
        case .committed(let inserted): committed(inserted, now: now)
        case .commitFailed(let reason, let retryable): commitFailed(reason, retryable: retryable, now: now)
        case .tasksUndelivered(let worker, let taskIDs):
            for taskID in taskIDs { dispatcher.returnTask(taskID, from: worker) }
        case .unreachable(let peer): connectionClosed(peer)
        case .tallied(let tallies): planRound(tallies)
        case .roundRecorded(let round, let plan): openRound(round, plan: plan, now: now)
        case .authenticationFailed(let failure):
            let reason = "the CURVE authentication handler stopped: \(failure)"
            log(.critical, reason)
            stop(reason)
        case .farewell(let reason): farewell(reason: reason)
        case .rowsReplaced(let worker, let taskIDs): rowsReplaced(taskIDs, of: worker, now: now)
        }
        if verification != nil && phase == .running { settleStuckReplays(now: now) }
        if phase == .running && dispatcher.isComplete && replacementsPending == 0 {
            // An adaptive sweep's round complete, the next one is planned from the recorded results.
            if configuration.adaptive != nil && storeFailure == nil {
                phase = .planningRound
                out.append(.tally)
            } else {
                phase = .finished
                out.append(.finish)
            }
        }
        for (peer, taskIDs) in intake.takeAcks() { out.append(.send(.ack(Ack(taskIDs: taskIDs)), to: peer)) }
        if !intake.counts.isEmpty {
            for (counter, n) in intake.counts.sorted(by: { "\($0.key)" < "\($1.key)" }) { out.append(.count(counter, n)) }
            intake.counts.removeAll(keepingCapacity: true)
        }
        let commands = out
        out = []
        return commands
    }

    /// Whether some peer's frames are not all read: the driver should come back at once.
    public var hasBacklog: Bool { !intake.isEmpty }

    private mutating func start(done: TaskBitmap, toVerify: [TaskOutcome], now: Double) {
        dispatcher = Dispatcher(taskCount: plan.taskCount, done: done, maxAttempts: options.maxAttempts,
                                maxPrefetch: options.maxPrefetch)
        // The costliest cells first (TaskCostModel.swift); id order on grids too large to model.
        if let costs = TaskCostModel(plan: plan, done: done) { dispatcher.order(by: costs) }
        if dispatcher.doneCount > 0 {
            log(.info, "resuming sweep '\(configuration.name)': \(dispatcher.doneCount) of \(plan.taskCount) tasks already recorded in \(options.outDirectory)")
        }
        if let verification {
            log(.info, "verifying by replay: \(verification.fraction) of the tasks (the same ones on every run) are run again on another worker and compared field by field")
        }
        log(.info, "coordinator for sweep '\(configuration.name)' (\(plan.cells.count) cells × \(plan.trials) trials = \(plan.taskCount) tasks) listening on \(endpoint)")
        phase = .running
        if let verification, !toVerify.isEmpty {
            log(.info, "\(toVerify.count) result(s) recorded before this run are in the sample and not yet verified: they are replayed too")
            queueReplays(toVerify, sample: verification, now: now, stored: true)
        }
    }

    /// How long the farewell answers stragglers: less when stopping on a signal (Slurm's
    /// warning signal leaves little time).
    public var farewellSeconds: Double { min(dispatcher.isComplete ? 1.0 : 0.3, options.heartbeatInterval) }

    // MARK: Emitting

    mutating func send(_ message: Message, to peer: [UInt8]) { out.append(.send(message, to: peer)) }
    mutating func log(_ level: Logger.Level, _ message: String) { out.append(.log(level, message)) }
    mutating func count(_ counter: WireCounters.Counter, _ n: Int = 1) {
        if n != 0 { intake.counts[counter, default: 0] += n }
    }

    /// Acknowledges `taskID` to `peer` (one `ack` per peer and event).
    mutating func ack(_ taskID: Int, to peer: [UInt8]) { intake.ack(taskID, to: peer) }

    /// Whether to log a complaint about `peer` for `reason` now: at most once per
    /// `--error-log-interval` per peer and reason. nil: stay silent; otherwise a suffix saying
    /// how many like it were not logged since.
    mutating func complaining(about peer: [UInt8], reason: String) -> String? {
        let gate = intake.shouldLog(FairIntake.Complaint(peer: peer, reason: reason), now: intake.now,
                                    interval: options.errorLogInterval)
        guard gate.log else { return nil }
        return gate.silenced > 0 ? " (and \(gate.silenced) more like it since the last such line)" : ""
    }

    mutating func emit(_ command: Command) { out.append(command) }

    mutating func stop(_ reason: String) {
        stopReason = reason
        out.append(.stop(reason: reason))
    }

    /// A peer as the logs name it: its worker id and host once registered.
    public func describe(_ peer: [UInt8]) -> String {
        if let id = dispatcher.workerID(forPeer: peer), let slot = dispatcher.workers[id] {
            return "worker \(id) on \(slot.host)"
        }
        return "peer 0x" + peer.map { String(format: "%02x", $0) }.joined()
    }
}
