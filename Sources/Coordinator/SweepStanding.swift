public import Foundation
import ResultsStore
import SweepConfig

/// Where a sweep stands, from its folder alone (`dlsweep status DIR`): the store's counts per
/// round and host, whether a coordinator holds the folder's lock and where it listens, and the
/// figures only the coordinator knows (workers, rate, refused answers) from its `status.json`.
/// Works on a running sweep, a stopped one and a finished one.
public struct SweepStanding: Codable, Sendable {
    public struct Round: Codable, Sendable, Equatable {
        /// 0: the grid's first trials; 1, 2, …: an adaptive sweep's later rounds.
        public var round: Int
        public var tasks: Int
        public var done: Int
        public var failed: Int
    }

    public struct Owner: Codable, Sendable, Equatable {
        /// Whether a coordinator holds the folder's lock now.
        public var running: Bool
        public var host: String?
        public var pid: Int?
        /// The endpoint workers connect to.
        public var address: String?
        /// The live view (`--http`), when it serves one.
        public var http: String?
    }

    public struct Host: Codable, Sendable, Equatable {
        public var host: String
        /// Tasks recorded from this host (ok and failed), and failed ones.
        public var tasks: Int
        public var failed: Int
        /// Workers connected now (nil: no coordinator running to say).
        public var workers: Int?
    }

    public var directory: String
    public var sweep: String
    public var fingerprint: String
    /// The command-line overrides the sweep was started with (`ConfigOverride`).
    public var overrides: [String]
    /// "running", "complete" or "stopped" (no coordinator, tasks left).
    public var state: String
    public var owner: Owner
    public var tasks: Int
    public var done: Int
    public var failed: Int
    /// Earlier failures set aside by `--retry-failed` (their tasks ran again).
    public var retried: Int
    public var percent: Double
    public var rounds: [Round]
    /// Tasks per second: the coordinator's (this session) while it runs, else the store's over
    /// the sweep's recorded span.
    public var tasksPerSecond: Double?
    /// Where `tasksPerSecond` comes from: "coordinator" or "store".
    public var rateSource: String?
    /// Seconds left at that rate, while the sweep runs.
    public var etaSeconds: Double?
    /// Workers connected now (nil: no coordinator running).
    public var workers: Int?
    public var hosts: [Host]
    /// The coordinator's counters (refused answers, malformed frames, workers lost, …) of its
    /// last session, and when it wrote them; nil without a status file.
    public var counters: SweepStatus.StatusCounters?
    public var statusWrittenAt: Double?
    public var alert: String?

    /// Reads `directory` (read-only; the folder's lock is only probed).
    public init(directory: String, now: Date = Date()) throws {
        let (store, configuration) = try ResultsStore.openExisting(directory: directory)
        self.directory = directory
        sweep = store.meta.name
        fingerprint = store.meta.fingerprint
        overrides = configuration.overrides
        let plan = store.plan
        tasks = plan.taskCount
        // One block of ids per round: the grid's, then each adaptive round's.
        var ranges = [0..<plan.gridTaskCount]
        var replay = SweepPlan(configuration)
        for round in plan.rounds {
            let before = replay.taskCount
            replay = replay.applying(round)
            ranges.append(before..<replay.taskCount)
        }
        rounds = try ranges.enumerated().map { index, ids in
            let counts = try store.counts(taskIDs: ids)
            return Round(round: index, tasks: ids.count, done: counts.recorded, failed: counts.failed)
        }
        done = rounds.reduce(0) { $0 + $1.done }
        failed = rounds.reduce(0) { $0 + $1.failed }
        retried = try store.retriedFailures(limit: 0).total
        percent = tasks == 0 ? 100 : Double(done) * 100 / Double(tasks)

        let holder = FolderLock.holder(directory: directory)
        let file = FolderStatus.read(directory: directory)
        // The status file speaks for the coordinator holding the lock only if it wrote it.
        let live = holder != nil && file.map { $0.pid == holder!.pid && $0.host == holder!.host } == true ? file : nil
        // Without an owner, the lock file still names the last one.
        let last = holder ?? FolderLock.readHolder((directory as NSString).appendingPathComponent(FolderLock.fileName))
        owner = Owner(running: holder != nil, host: last?.host ?? file?.host, pid: last?.pid ?? file?.pid,
                      address: last?.address ?? file?.endpoint, http: live?.http)
        counters = file?.status.counters
        statusWrittenAt = file?.status.updatedAt
        alert = live?.status.alert
        workers = holder == nil ? nil : live?.status.workers ?? 0

        let connected = Dictionary(uniqueKeysWithValues: (live?.status.hosts ?? []).map { ($0.host, $0.workers) })
        var hosts = try store.countByHost().map {
            Host(host: $0.host, tasks: $0.tasks, failed: $0.failed, workers: holder == nil ? nil : connected[$0.host] ?? 0)
        }
        for (host, count) in connected where !hosts.contains(where: { $0.host == host }) {
            hosts.append(Host(host: host, tasks: 0, failed: 0, workers: count))
        }
        self.hosts = hosts.sorted { $0.host < $1.host }

        if holder != nil {
            state = "running"
            if let live, live.status.doneThisSession > 0 {
                tasksPerSecond = live.status.tasksPerSecond
                rateSource = "coordinator"
            } else if let span = try store.timeSpan(), now.timeIntervalSince(span.lastFinished) < 600 {
                // A coordinator without a status file yet: the last ten minutes of the store.
                let recent = try store.finishedCount(since: now.addingTimeInterval(-600))
                tasksPerSecond = Double(recent) / 600
                rateSource = "store"
            }
            if let rate = tasksPerSecond, rate > 0 { etaSeconds = Double(tasks - done) / rate }
        } else {
            let complete = done >= tasks && (configuration.adaptive == nil || file?.status.state == "complete")
            state = complete ? "complete" : "stopped"
            if let span = try store.timeSpan(), span.lastFinished > span.firstStarted {
                tasksPerSecond = Double(done) / span.lastFinished.timeIntervalSince(span.firstStarted)
                rateSource = "store"
            }
        }
    }

    /// `--json`: sorted keys.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }

    /// The text `dlsweep status` prints.
    public func text() -> String {
        func duration(_ seconds: Double) -> String {
            let s = Int(seconds.rounded())
            return s >= 3600 ? "\(s / 3600) h \(s / 60 % 60) min" : s >= 60 ? "\(s / 60) min \(s % 60) s" : "\(s) s"
        }
        var lines = ["sweep '\(sweep)' (fingerprint \(fingerprint)) in \(directory): \(state)"]
        if !overrides.isEmpty { lines.append("overrides: \(overrides.joined(separator: " "))") }
        if owner.running {
            lines.append("coordinator: \(owner.host ?? "?") pid \(owner.pid ?? 0), workers connect to \(owner.address ?? "(not bound yet)")"
                         + (owner.http.map { ", live view \($0)" } ?? ""))
        } else {
            lines.append("coordinator: none owns the folder" + (owner.address.map { " (the last listened on \($0))" } ?? ""))
        }
        lines.append("progress: \(done) of \(tasks) tasks (\(String(format: "%.1f", percent))%), \(failed) failed"
                     + (retried > 0 ? " (\(retried) earlier failure(s) retried with --retry-failed)" : ""))
        if rounds.count > 1 {
            for round in rounds {
                lines.append("  round \(round.round): \(round.done) of \(round.tasks) tasks, \(round.failed) failed")
            }
        }
        if let rate = tasksPerSecond {
            let source = rateSource == "coordinator" ? "this session" : "from the store"
            lines.append(String(format: "rate: %.2f tasks/s (%@)", rate, source) + (etaSeconds.map { ", ETA \(duration($0))" } ?? ""))
        }
        if let workers { lines.append("workers: \(workers) connected") }
        for host in hosts {
            lines.append("  \(host.host): \(host.tasks) tasks, \(host.failed) failed" + (host.workers.map { ", \($0) worker(s) connected" } ?? ""))
        }
        if let c = counters {
            let session = owner.running ? "this session" : "the last session"
            lines.append("refused (\(session)): \(c.rejected) answers (\(c.invalidResults) invalid), \(c.malformedFrames) malformed frames, "
                         + "\(c.versionMismatches) version mismatches, \(c.duplicateWorkers) duplicate worker ids; "
                         + "\(c.workersLost) workers lost, \(c.tasksRequeued) tasks re-queued")
            if let verified = c.verified, let mismatched = c.mismatched, verified + mismatched + (c.unverifiable ?? 0) > 0 {
                lines.append("replays (\(session)): \(verified) agreed, \(mismatched) disagreed, \(c.unresolved ?? 0) undecided, "
                             + "\(c.unverifiable ?? 0) not possible; \(c.quarantined) worker(s) quarantined, \(c.replaced ?? 0) row(s) replaced")
            }
        }
        if let alert { lines.append("alert: \(alert)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
