public import Foundation
import GRDB

/// Rows set aside because their worker was caught lying (verification by replay): a third run
/// sided against it, so it is quarantined and every result of it that no replay confirmed is
/// moved here, with its trajectory, and run again. Table `replaced_results`: the columns of
/// `results`, then `trajectory_points`, `replaced_at` and `replaced_reason`. Nothing an honest
/// worker computed is touched.
extension ResultsStore {
    /// Moves the `ok` rows of `workerID` whose task has no `verified` event to
    /// `replaced_results` in one transaction (their trajectories with them) and returns their
    /// task ids, in order: those tasks have no row any more and must run again.
    public func replaceUnverifiedRows(of workerID: String, reason: String, now: Date = Date()) throws -> [Int] {
        try checkFile()
        stopTallyingHosts()
        return try wrap {
            try pool.write { db in
                let columns = try db.columns(in: "results").map(\.name)
                if !(try db.tableExists("replaced_results")) {
                    try db.execute(sql: "CREATE TABLE replaced_results AS SELECT * FROM results WHERE 0")
                    for extra in ["trajectory_points", "replaced_at", "replaced_reason"] {
                        try db.execute(sql: "ALTER TABLE replaced_results ADD COLUMN \(extra) TEXT")
                    }
                    try db.execute(sql: "CREATE INDEX replaced_results_task ON replaced_results (task_id)")
                }
                // A column added to results after the table was made (a later migration).
                let present = Set(try db.columns(in: "replaced_results").map(\.name))
                for column in columns where !present.contains(column) {
                    try db.execute(sql: "ALTER TABLE replaced_results ADD COLUMN \(column.quotedDatabaseIdentifier)")
                }
                let selection = """
                    FROM results WHERE worker_id = ? AND status = 'ok' AND task_id NOT IN
                        (SELECT task_id FROM peer_events WHERE kind = 'verified' AND task_id IS NOT NULL)
                    """
                let taskIDs = try Int.fetchAll(db, sql: "SELECT task_id \(selection) ORDER BY task_id", arguments: [workerID])
                guard !taskIDs.isEmpty else { return [] }
                let list = columns.map(\.quotedDatabaseIdentifier).joined(separator: ", ")
                let qualified = columns.map { "results." + $0.quotedDatabaseIdentifier }.joined(separator: ", ")
                try db.execute(sql: """
                    INSERT INTO replaced_results (\(list), trajectory_points, replaced_at, replaced_reason)
                    SELECT \(qualified), trajectories.points, ?, ?
                    FROM results LEFT JOIN trajectories ON trajectories.task_id = results.task_id
                    WHERE results.task_id IN (SELECT task_id \(selection))
                    """, arguments: [Self.dateText(now), String(reason.prefix(2000)), workerID])
                try db.execute(sql: "DELETE FROM trajectories WHERE task_id IN (SELECT task_id \(selection))",
                               arguments: [workerID])
                try db.execute(sql: "DELETE FROM results WHERE task_id IN (SELECT task_id \(selection))", arguments: [workerID])
                return taskIDs
            }
        }
    }

    /// How many rows were replaced, per worker (none in a folder without the table).
    public func replacedRowCounts() throws -> [(workerID: String, host: String, rows: Int)] {
        try wrap {
            try pool.read { db in
                guard try db.tableExists("replaced_results") else { return [] }
                return try Row.fetchAll(db, sql: """
                    SELECT worker_id, host, COUNT(*) AS n FROM replaced_results GROUP BY worker_id, host ORDER BY worker_id
                    """).map { ($0["worker_id"], $0["host"], $0["n"]) }
            }
        }
    }
}
