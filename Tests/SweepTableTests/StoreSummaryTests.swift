import Foundation
import ResultsStore
import SweepConfig
import SweepTable
import Testing
import TrainingCore

/// The table of a store is computed in one streaming pass (issue 11, item 5): it must equal
/// the in-memory summary of the same rows, cells without rows included.
@Suite struct StoreSummaryTests {
    @Test("one pass over the store gives the same table as the rows in memory, empty cells in place")
    func streamingEqualsInMemory() throws {
        let configuration = try SweepConfiguration.parse(yaml: tableYAML, fileName: "table.yaml")
        let plan = SweepPlan(configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-table-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        var outcomes: [TaskOutcome] = []
        // Cells 0, 2 and 7 have rows (the first and last among them), the others none.
        for cell in [7, 0, 2] {
            for trial in 0..<plan.trials where (trial + cell) % 3 != 1 {
                let id = plan.taskID(cell: cell, trial: trial)
                let result: RecordedResult = trial == 3
                    ? .failed(reason: "x")
                    : .report(makeReport(iterations: 10 * (trial + 1), rec: 0.01 * Double(trial + 1),
                                         off: 0.001, success: trial % 2 == 0))
                outcomes.append(TaskOutcome(task: plan.task(id), attempt: 1, workerID: "w", host: "h",
                                            startedAt: Date(timeIntervalSince1970: 0),
                                            finishedAt: Date(timeIntervalSince1970: 1), result: result))
            }
        }
        try store.record(outcomes)
        let streamed = try summarize(store: store)
        let inMemory = summarize(plan: plan, rows: outcomes.map(ResultRow.init))
        #expect(streamed.count == plan.cells.count)
        #expect(streamed == inMemory)
        #expect(streamed[1].trials == 0 && streamed[7].trials > 0)
    }
}
