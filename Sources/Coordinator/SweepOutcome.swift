public import SweepTable
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
