public import Foundation
import GRDB

/// A failed row set aside by `--retry-failed`: the task runs again, and what its earlier
/// attempts said stays on record (table `retried_failures`, one row per retry of a task).
public struct RetriedFailure: Sendable, Hashable {
    public var taskID: Int
    public var cellIndex: Int
    public var trial: Int
    public var attempt: Int
    public var workerID: String
    public var host: String
    public var startedAt: Date
    public var finishedAt: Date
    public var failureReason: String?
    /// When `--retry-failed` set it aside.
    public var retriedAt: Date
}

extension ResultsStore {
    static func createRetriedFailures(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE retried_failures (
                task_id INTEGER NOT NULL,
                cell_index INTEGER NOT NULL,
                trial INTEGER NOT NULL,
                attempt INTEGER NOT NULL,
                worker_id TEXT NOT NULL,
                host TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT NOT NULL,
                failure_reason TEXT,
                retried_at TEXT NOT NULL
            );
            CREATE INDEX retried_failures_task ON retried_failures (task_id);
            """)
    }

    /// Moves every failed row to `retried_failures` in one transaction, so that its task runs
    /// again (it no longer has a row); returns how many. Call before the tasks are loaded.
    @discardableResult
    public func retryFailed(now: Date = Date()) throws -> Int {
        try checkFile()
        stopTallyingHosts()
        return try wrap {
            try pool.write { db in
                if !(try db.tableExists("retried_failures")) { try Self.createRetriedFailures(db) }
                try db.execute(sql: """
                    INSERT INTO retried_failures (task_id, cell_index, trial, attempt, worker_id, host, started_at, finished_at,
                                                  failure_reason, retried_at)
                    SELECT task_id, cell_index, trial, attempt, worker_id, host, started_at, finished_at, failure_reason, ?
                    FROM results WHERE status = 'failed'
                    """, arguments: [Self.dateText(now)])
                try db.execute(sql: "DELETE FROM results WHERE status = 'failed'")
                return db.changesCount
            }
        }
    }

    /// Up to `limit` retried failures (task order, then oldest first), and how many there are.
    public func retriedFailures(limit: Int) throws -> (rows: [RetriedFailure], total: Int) {
        try wrap {
            try pool.read { db in
                guard try db.tableExists("retried_failures") else { return ([], 0) }
                let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM retried_failures") ?? 0
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM retried_failures ORDER BY task_id, retried_at, rowid LIMIT ?",
                                            arguments: [limit]).compactMap { row -> RetriedFailure? in
                    // Typed subscripts trap on a value they cannot convert; a file may hold anything.
                    func value<T: DatabaseValueConvertible>(_ column: String) -> T? { T.fromDatabaseValue(row[column] as DatabaseValue) }
                    guard let taskID: Int = value("task_id"), let cell: Int = value("cell_index"), let trial: Int = value("trial"),
                          let attempt: Int = value("attempt"), let worker: String = value("worker_id"), let host: String = value("host"),
                          let started: Date = value("started_at"), let finished: Date = value("finished_at"),
                          let retried: Date = value("retried_at") else { return nil }
                    return RetriedFailure(taskID: taskID, cellIndex: cell, trial: trial, attempt: attempt, workerID: worker, host: host,
                                          startedAt: started, finishedAt: finished, failureReason: value("failure_reason"), retriedAt: retried)
                }
                return (rows, total)
            }
        }
    }
}
