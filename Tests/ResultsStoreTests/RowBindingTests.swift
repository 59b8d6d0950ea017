import Foundation
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

/// Rows bound in one transaction from the row arena, with NULLs bound only when a column was
/// not NULL already (`RowBinder`): every row reads back as it was recorded, whatever the rows
/// before it held, and a text too long for the arena is stored whole.
@Suite struct RowBindingTests {
    @Test("one batch alternating fields present and absent, failed rows, a text longer than the arena and a NUL in a host reads back row by row")
    func batchReadsBack() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        let long = String(repeating: "why ", count: 6000)  // 24 kB, more than the 16 kB arena
        var outcomes: [TaskOutcome] = []
        for id in 0..<plan.taskCount {
            let result: RecordedResult
            switch id % 4 {
            case 1: result = .failed(reason: id == 5 ? long : "boom \(id)")
            default:
                // Odd and even seeds differ in which optional fields they carry.
                var r = report(seed: id)
                if id % 4 == 2 { r.testError = nil; r.oracleTestError = nil; r.effectiveRank = nil }
                result = .report(r)
            }
            outcomes.append(outcome(plan, id, host: id == 6 ? "node\u{0}tail" : "h\(id % 3)", result: result))
        }
        #expect(try store.record(outcomes) == Array(repeating: true, count: outcomes.count))
        let rows = try store.rows()
        #expect(rows.count == outcomes.count)
        for (row, recorded) in zip(rows, outcomes) {
            var expected = ResultRow(recorded)
            expected.startedAt = row.startedAt
            expected.finishedAt = row.finishedAt
            if recorded.task.id == 6 { expected.host = "node"; expected.workerID = "node" }
            #expect(row == expected, "task \(recorded.task.id)")
        }
        #expect(rows[5].failureReason == long)
    }
}
