public import Foundation
import Synchronization

/// A running sweep's figures at one moment: what the progress line prints and what the live
/// view serves as `/status.json` (docs/RESULTS-FOLDER.md lists the fields). One computation,
/// so the terminal and the page always agree.
public struct SweepStatus: Codable, Sendable, Equatable {
    /// "running", "complete" or "stopped".
    public var state: String
    public var sweep: String
    public var fingerprint: String
    public var tasks: Int
    /// Tasks with a row in the store (results and recorded failures), this session's included.
    public var done: Int
    /// Of `done`, recorded by this coordinator since it started (a resumed sweep counts only these).
    public var doneThisSession: Int
    public var percent: Double
    /// Seconds since this coordinator started.
    public var elapsedSeconds: Double
    /// Tasks per second this session.
    public var tasksPerSecond: Double
    /// Seconds left: the cost model's (`TaskCostModel`: the task time left over the workers),
    /// else at `tasksPerSecond`; nil until the first result.
    public var etaSeconds: Double?
    public var workers: Int
    public var hosts: [HostRate]
    public var counters: StatusCounters
    /// A fault the operator must see (the store refusing commits), if any.
    public var alert: String?
    /// Unix seconds of this snapshot.
    public var updatedAt: Double
    /// An adaptive sweep's rounds after the first so far: `tasks` is the total so far and
    /// grows with each round. nil (absent) for a plain sweep.
    public var adaptiveRound: Int?
    /// Replays waiting or out (verification by replay): the sweep ends only after them. nil
    /// (absent) for a sweep that does not verify.
    public var replaysPending: Int?

    /// The connected workers of one host and the tasks they finished this session.
    public struct HostRate: Codable, Sendable, Equatable {
        public var host: String
        public var workers: Int
        public var tasks: Int
        public var tasksPerSecond: Double

        public init(host: String, workers: Int, tasks: Int, tasksPerSecond: Double) {
            self.host = host
            self.workers = workers
            self.tasks = tasks
            self.tasksPerSecond = tasksPerSecond
        }
    }

    public struct StatusCounters: Codable, Sendable, Equatable {
        /// Tasks recorded as failed (`--max-attempts` failures of their own).
        public var failed: Int
        /// Answers refused: invalid, unregistered, another sweep, no lease, unknown task, wrong session.
        public var rejected: Int
        public var invalidResults: Int
        public var malformedFrames: Int
        public var versionMismatches: Int
        public var duplicateResults: Int
        public var workersLost: Int
        public var tasksRequeued: Int
        public var leasesExpired: Int
        public var duplicateWorkers: Int
        /// Messages from a registered connection without its session's token.
        public var wrongSession: Int
        /// Workers refused for the rest of the run (invalid results in a row, a failed replay).
        public var quarantined: Int
        /// Verification by replay: replays that agreed, that disagreed, mismatches no third
        /// run decided, sampled tasks that could not be replayed, rows of liars replaced (always
        /// written; absent only in the status.json of a coordinator from before them).
        public var verified: Int?
        public var mismatched: Int?
        public var unresolved: Int?
        public var unverifiable: Int?
        public var replaced: Int?

        init(_ c: WireCounters) {
            failed = c.tasksFailed
            rejected = c.invalidResults + c.unregistered + c.otherSweep + c.noLease + c.unknownTasks + c.wrongSession
            invalidResults = c.invalidResults
            malformedFrames = c.malformedFrames
            versionMismatches = c.versionMismatches
            duplicateResults = c.duplicateResults
            workersLost = c.workersLost
            tasksRequeued = c.tasksRequeued
            leasesExpired = c.leasesExpired
            duplicateWorkers = c.duplicateWorkers
            wrongSession = c.wrongSession
            quarantined = c.workersQuarantined
            verified = c.resultsVerified
            mismatched = c.resultsMismatched
            unresolved = c.mismatchesUnresolved
            unverifiable = c.replaysUnavailable
            replaced = c.rowsReplaced
        }
    }

    /// The progress figures from the counts; `perHost` lists each connected worker's host and
    /// the tasks it finished this session.
    public init(state: String, sweep: String, fingerprint: String, tasks: Int, done: Int, startDone: Int,
         started: Double, now: Double, perWorker: [(host: String, tasks: Int)], counters: WireCounters,
         alert: String?, adaptiveRound: Int? = nil, secondsLeft: Double? = nil, replaysPending: Int? = nil) {
        self.replaysPending = replaysPending
        self.adaptiveRound = adaptiveRound
        self.state = state
        self.sweep = sweep
        self.fingerprint = fingerprint
        self.tasks = tasks
        self.done = done
        doneThisSession = max(0, done - startDone)
        percent = tasks == 0 ? 100 : Double(done) * 100 / Double(tasks)
        elapsedSeconds = max(0, now - started)
        let elapsed = max(elapsedSeconds, 1e-9)
        tasksPerSecond = Double(doneThisSession) / elapsed
        etaSeconds = secondsLeft ?? (tasksPerSecond > 0 ? Double(tasks - done) / tasksPerSecond : nil)
        workers = perWorker.count
        var byHost: [String: (workers: Int, tasks: Int)] = [:]
        for w in perWorker {
            byHost[w.host, default: (0, 0)].workers += 1
            byHost[w.host, default: (0, 0)].tasks += w.tasks
        }
        hosts = byHost.keys.sorted().map { host in
            let h = byHost[host]!
            return HostRate(host: host, workers: h.workers, tasks: h.tasks, tasksPerSecond: Double(h.tasks) / elapsed)
        }
        self.counters = StatusCounters(counters)
        self.alert = alert
        updatedAt = now
    }

    /// `/status.json`: sorted keys, so two snapshots of the same figures read the same.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}

/// The latest `SweepStatus`, written by the coordinator's thread and read by the live view's.
public final class StatusBoard: Sendable {
    private let current = Mutex<SweepStatus?>(nil)

    public init() {}

    /// nil before the coordinator has read its store.
    public var status: SweepStatus? { current.withLock { $0 } }

    func publish(_ status: SweepStatus) { current.withLock { $0 = status } }
}
