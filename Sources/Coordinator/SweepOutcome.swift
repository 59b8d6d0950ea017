public import ResultsStore

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
    /// Results or failures from a connection that never said hello (or was dropped).
    public var unregistered = 0
    /// Results carrying another sweep's fingerprint.
    public var otherSweep = 0
    /// Results for a task the sender does not hold under that attempt.
    public var noLease = 0
    /// Results whose values are not a consistent run of their task.
    public var invalidResults = 0
    /// Workers dropped because their running task overran its lease.
    public var leasesExpired = 0
    /// Hellos refused because the worker id was live on another connection.
    public var duplicateWorkers = 0
    /// Messages from a registered connection without its session's token.
    public var wrongSession = 0
    /// Workers refused for the rest of the run (invalid results in a row, a failed replay).
    public var workersQuarantined = 0
    /// Frames dropped unread: their peer's backlog was full (it sends faster than it is read).
    public var framesDropped = 0
    /// Results of an earlier attempt accepted from the session that ran it (`Dispatcher.LeaseCheck.late`).
    public var lateResults = 0
    /// Replays that agreed with the recorded result (verification by replay).
    public var resultsVerified = 0
    /// Replays that disagreed with it (a third run decides).
    public var resultsMismatched = 0
    /// Mismatches no third run could decide (none agreed, or no third worker).
    public var mismatchesUnresolved = 0
    /// Sampled tasks that could not be replayed (no other worker, or every replay failed).
    public var replaysUnavailable = 0
    /// Rows of quarantined liars moved to `replaced_results`, their tasks run again.
    public var rowsReplaced = 0

    /// One counter, named in `CoordinatorCore.Command.count`.
    public enum Counter: Sendable, Hashable, CaseIterable {
        case malformedFrames, versionMismatches, unexpectedMessages, unknownTasks, duplicateResults, workersLost
        case tasksRequeued, tasksFailed, unregistered, otherSweep, noLease, invalidResults, leasesExpired
        case duplicateWorkers, wrongSession, workersQuarantined, framesDropped, lateResults
        case resultsVerified, resultsMismatched, mismatchesUnresolved, replaysUnavailable, rowsReplaced
    }

    public init() {}

    public subscript(counter: Counter) -> Int {
        get {
            switch counter {
            case .malformedFrames: malformedFrames
            case .versionMismatches: versionMismatches
            case .unexpectedMessages: unexpectedMessages
            case .unknownTasks: unknownTasks
            case .duplicateResults: duplicateResults
            case .workersLost: workersLost
            case .tasksRequeued: tasksRequeued
            case .tasksFailed: tasksFailed
            case .unregistered: unregistered
            case .otherSweep: otherSweep
            case .noLease: noLease
            case .invalidResults: invalidResults
            case .leasesExpired: leasesExpired
            case .duplicateWorkers: duplicateWorkers
            case .wrongSession: wrongSession
            case .workersQuarantined: workersQuarantined
            case .framesDropped: framesDropped
            case .lateResults: lateResults
            case .resultsVerified: resultsVerified
            case .resultsMismatched: resultsMismatched
            case .mismatchesUnresolved: mismatchesUnresolved
            case .replaysUnavailable: replaysUnavailable
            case .rowsReplaced: rowsReplaced
            }
        }
        set {
            switch counter {
            case .malformedFrames: malformedFrames = newValue
            case .versionMismatches: versionMismatches = newValue
            case .unexpectedMessages: unexpectedMessages = newValue
            case .unknownTasks: unknownTasks = newValue
            case .duplicateResults: duplicateResults = newValue
            case .workersLost: workersLost = newValue
            case .tasksRequeued: tasksRequeued = newValue
            case .tasksFailed: tasksFailed = newValue
            case .unregistered: unregistered = newValue
            case .otherSweep: otherSweep = newValue
            case .noLease: noLease = newValue
            case .invalidResults: invalidResults = newValue
            case .leasesExpired: leasesExpired = newValue
            case .duplicateWorkers: duplicateWorkers = newValue
            case .wrongSession: wrongSession = newValue
            case .workersQuarantined: workersQuarantined = newValue
            case .framesDropped: framesDropped = newValue
            case .lateResults: lateResults = newValue
            case .resultsVerified: resultsVerified = newValue
            case .resultsMismatched: resultsMismatched = newValue
            case .mismatchesUnresolved: mismatchesUnresolved = newValue
            case .replaysUnavailable: replaysUnavailable = newValue
            case .rowsReplaced: rowsReplaced = newValue
            }
        }
    }
}

/// What a coordinator's run ended with. The table is the command line's to render, from the
/// coordinator's store (`Coordinator.store`): the coordinator does not depend on `SweepTable`.
public struct SweepOutcome: Sendable {
    /// True when every task has a result (or a recorded failure).
    public var complete: Bool
    public var counters: WireCounters
    /// Tasks and busy seconds per worker host, from the results store.
    public var hosts: [HostSummary]
    /// Results recorded by this process (a resumed sweep counts only its own).
    public var recordedNow: Int
    public var wallSeconds: Double
    /// Seconds from the start of `run()` to the last result committed or the stop (before
    /// the farewell to the workers).
    public var dispatchSeconds: Double = 0
    /// Why the coordinator stopped before the end on its own, if it did.
    public var stopReason: String?
}
