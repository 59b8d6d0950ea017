public import Foundation
import GRDB

/// What the coordinator learned about its workers, kept with the results so that the report
/// shows it: a worker quarantined, a task's result checked by a replay on another worker
/// (agreed, or not). Table `peer_events` (docs/RESULTS-FOLDER.md).
public struct PeerEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A worker refused for the rest of the run (`detail`: why).
        case quarantined
        /// A replay agreed with the recorded result of `taskID` (`workerID`: the replaying worker).
        case verified
        /// A replay disagreed (`detail`: the fields that differ; `workerID`: the recorded result's worker).
        case mismatch
    }

    public var kind: Kind
    public var taskID: Int?
    public var workerID: String
    public var host: String
    public var detail: String
    public var at: Date

    public init(kind: Kind, taskID: Int? = nil, workerID: String, host: String, detail: String, at: Date) {
        self.kind = kind
        self.taskID = taskID
        self.workerID = workerID
        self.host = host
        self.detail = detail
        self.at = at
    }

    static func createTable(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE peer_events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                task_id INTEGER,
                worker_id TEXT NOT NULL,
                host TEXT NOT NULL,
                detail TEXT NOT NULL,
                at TEXT NOT NULL
            )
            """)
    }
}

extension ResultsStore {
    /// Appends `events` in one transaction.
    public func record(events: [PeerEvent]) throws {
        guard !events.isEmpty else { return }
        try checkFile()
        try wrap {
            try pool.write { db in
                for event in events {
                    try db.execute(
                        sql: "INSERT INTO peer_events (kind, task_id, worker_id, host, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [event.kind.rawValue, event.taskID, event.workerID, event.host,
                                    String(event.detail.prefix(2000)), event.at])
                }
            }
        }
    }

    /// Up to `limit` events of `kinds` in the order they happened, and how many of each kind
    /// there are in all (a folder from before them has none).
    public func peerEvents(kinds: Set<PeerEvent.Kind> = Set(PeerEvent.Kind.allCases), limit: Int = 500) throws
        -> (events: [PeerEvent], counts: [PeerEvent.Kind: Int]) {
        try wrap {
            try pool.read { db in
                guard try db.tableExists("peer_events") else { return ([], [:]) }
                var counts: [PeerEvent.Kind: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT kind, COUNT(*) AS n FROM peer_events GROUP BY kind") {
                    if let kind = PeerEvent.Kind(rawValue: row["kind"]) { counts[kind] = row["n"] }
                }
                let list = kinds.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
                let events = try Row.fetchAll(
                    db, sql: "SELECT * FROM peer_events WHERE kind IN (\(list)) ORDER BY id LIMIT ?", arguments: [limit]
                ).compactMap { row -> PeerEvent? in
                    guard let kind = PeerEvent.Kind(rawValue: row["kind"]) else { return nil }
                    return PeerEvent(kind: kind, taskID: row["task_id"], workerID: row["worker_id"], host: row["host"],
                                     detail: row["detail"], at: row["at"])
                }
                return (events, counts)
            }
        }
    }
}

extension ResultsStore {
    /// The tasks a replay confirmed (`verified`) and those a replay contradicted at least once
    /// (`mismatch`), for the table's per-cell counts; both empty without verification.
    public func replayedTasks() throws -> (verified: Set<Int>, mismatched: Set<Int>) {
        try wrap {
            try pool.read { db in
                guard try db.tableExists("peer_events") else { return ([], []) }
                var verified = Set<Int>()
                var mismatched = Set<Int>()
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT DISTINCT kind, task_id FROM peer_events WHERE kind IN ('verified', 'mismatch') AND task_id IS NOT NULL
                    """)
                while let row = try rows.next() {
                    guard let task = Int.fromDatabaseValue(row["task_id"] as DatabaseValue) else { continue }
                    if (row["kind"] as String?) == PeerEvent.Kind.verified.rawValue { verified.insert(task) } else { mismatched.insert(task) }
                }
                return (verified, mismatched)
            }
        }
    }
}

extension ResultsStore {
    /// The `ok` rows of the tasks `chosen` picks that no replay has checked (no `verified` or
    /// `mismatch` event), as outcomes to replay: a verifying resume checks what was recorded
    /// before it too. Memory: the chosen rows only.
    public func unverifiedOutcomes(chosen: (Int) -> Bool) throws -> [TaskOutcome] {
        let replayed = try replayedTasks()
        let plan = self.plan
        let ids = try wrap {
            try pool.read { db in
                var ids: [Int] = []
                let cursor = try Int.fetchCursor(db, sql: "SELECT task_id FROM results WHERE status = 'ok' ORDER BY task_id")
                while let id = try cursor.next() {
                    if chosen(id) && !replayed.verified.contains(id) && !replayed.mismatched.contains(id) && plan.contains(taskID: id) {
                        ids.append(id)
                    }
                }
                return ids
            }
        }
        let context = RowContext(plan)
        var outcomes: [TaskOutcome] = []
        outcomes.reserveCapacity(ids.count)
        for start in stride(from: 0, to: ids.count, by: 500) {
            let list = ids[start..<min(ids.count, start + 500)].map(String.init).joined(separator: ", ")
            let rows = try wrap {
                try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM results WHERE task_id IN (\(list)) ORDER BY task_id") }
            }
            for row in rows {
                let result = try decode(row, context)
                guard let report = result.report else { continue }
                outcomes.append(TaskOutcome(task: plan.task(result.taskID), attempt: result.attempt, workerID: result.workerID,
                                            host: result.host, startedAt: result.startedAt, finishedAt: result.finishedAt,
                                            result: .report(report)))
            }
        }
        return outcomes
    }
}
