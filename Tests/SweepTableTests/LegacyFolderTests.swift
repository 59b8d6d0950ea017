import Foundation
import ResultsStore
import SweepConfig
import SweepTable
import Testing
import TrainingCore

/// A folder written by dlsweep before depth, width, lambda and noise became ordinary axes
/// (issue 19, item 3) still opens, resumes and gives the old binary's table. The fixture
/// (Fixtures/legacy-axes, its config.yaml says how it was made) has an extra axis
/// (`init_scale`) beside the four, and four tasks missing.
@Suite struct LegacyFolderTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/legacy-axes")

    /// A scratch copy of the fixture's results.sqlite (opening migrates it; the fixture stays as made).
    func scratchFolder() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-legacy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent("results.sqlite"),
                                         to: directory.appendingPathComponent("results.sqlite"))
        return directory.path
    }

    func fixtureText(_ name: String) throws -> String {
        try String(contentsOf: Self.fixture.appendingPathComponent(name), encoding: .utf8)
    }

    @Test("the old folder opens with its axes in plan order and gives the old binary's table")
    func opensWithTheSameTable() throws {
        let directory = try scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, configuration) = try ResultsStore.openExisting(directory: directory)
        #expect(configuration.grid.map(\.key) == ["init_scale", "depth", "width", "lambda", "noise"])
        let rows = try store.rows()
        #expect(rows.count == 28)
        // Each row's axes: the legacy columns and the old `axes` JSON as one list, as the plan has it.
        for row in rows {
            #expect(row.axes == store.plan.cells[row.cellIndex].settings, "task \(row.taskID)")
        }
        let summaries = try summarize(store: store)
        expectSameValues(old: try fixtureText("partial-table.csv"), new: renderCSV(summaries))
        try expectSameJSON(old: try fixtureText("partial-table.json"), new: try renderJSON(summaries))
    }

    @Test("resuming the old folder runs exactly its missing tasks and gives the old complete table")
    func resumesToTheSameTable() throws {
        let directory = try scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // As `dlsweep run config.yaml --out DIR` resumes: the file's plan, whose fingerprint must
        // be the one the old binary stored.
        let configuration = try SweepConfiguration.parse(yaml: try fixtureText("config.yaml"), fileName: "config.yaml")
        let plan = SweepPlan(configuration)
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        #expect(store.meta.fingerprint == plan.fingerprint)
        let done = try store.completedTaskIDs()
        let missing = done.indices.filter { !done[$0] }
        #expect(missing == [3, 6, 17, 22])
        // What a worker does with each task the coordinator sends: run its spec.
        for id in missing {
            let task = plan.task(id)
            let report = try runExperiment(configuration.sampled(task.spec, trial: task.trial))
            let now = Date()
            try store.record(TaskOutcome(task: task, attempt: 1, workerID: "resume", host: "test",
                                         startedAt: now, finishedAt: now, result: .report(report)))
        }
        #expect(try store.completedTaskIDs().allSatisfy { $0 })
        // The resumed runs ran in this (debug) build, not the old release binary: their time
        // differs, and their metrics by rounding alone (the same seeds and specs; 1e-12 seen).
        let summaries = try summarize(store: store)
        expectSameValues(old: try fixtureText("table.csv"), new: renderCSV(summaries),
                         skipping: ["median_train_seconds"], tolerance: 1e-9)
        try expectSameJSON(old: try fixtureText("table.json"), new: try renderJSON(summaries),
                           skipping: ["median_train_seconds"], tolerance: 1e-9)
    }
}
