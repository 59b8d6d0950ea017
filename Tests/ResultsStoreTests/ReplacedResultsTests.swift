import Foundation
import GRDB
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

/// A liar's unconfirmed rows set aside (verification by replay): moved whole, with their
/// trajectories, to `replaced_results`; rows a replay confirmed and every other worker's stay.
@Suite struct ReplacedResultsTests {
    @Test("the quarantined worker's rows without a verified event move to replaced_results with their trajectories; nothing else changes")
    func replaceUnverified() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        // Tasks 0-3 by the liar (host h1), 4-5 by an honest worker (h2); task 2 of the liar
        // was confirmed by a replay; task 3 failed (a failure is no claim a replay can check).
        for id in 0..<3 { try store.record(outcome(plan, id, host: "h1", result: .report(report(seed: id + 1)))) }
        try store.record(outcome(plan, 3, host: "h1", result: .failed(reason: "boom")))
        for id in 4..<6 { try store.record(outcome(plan, id, host: "h2", result: .report(report(seed: id + 1)))) }
        try store.record(events: [PeerEvent(kind: .verified, taskID: 2, workerID: "h2-w0", host: "h2", detail: "agrees",
                                            at: Date())])
        #expect(try store.replaceUnverifiedRows(of: "nobody", reason: "x").isEmpty)
        let moved = try store.replaceUnverifiedRows(of: "h1-w0", reason: "its result for task 0 disagreed")
        #expect(moved == [0, 1])
        let done = try store.completedTaskIDs()
        #expect(done.indices.filter { done[$0] } == [2, 3, 4, 5])
        let database = try DatabaseQueue(path: directory + "/results.sqlite")
        try database.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM replaced_results ORDER BY task_id")
            #expect(rows.map { $0["task_id"] as Int } == [0, 1])
            #expect(rows.allSatisfy { ($0["worker_id"] as String) == "h1-w0" && ($0["replaced_reason"] as String).contains("task 0") })
            // The whole row, the trajectory with it.
            #expect(rows.map { $0["train_residual"] as Double } == [0.001, 0.002])
            #expect(rows.allSatisfy { ($0["trajectory_points"] as String?) != nil })
            let left = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trajectories WHERE task_id IN (0, 1)")
            #expect(left == 0)
        }
        // The tasks run again and their new rows (with trajectories) go in.
        try store.record(outcome(plan, 0, host: "h2", result: .report(report(seed: 1))))
        let trajectories = try database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trajectories WHERE task_id = 0")
        }
        #expect(trajectories == 1)
        #expect(try store.replacedRowCounts().map(\.rows) == [2])
        // Again: nothing more to move.
        #expect(try store.replaceUnverifiedRows(of: "h1-w0", reason: "again").isEmpty)
    }
}
