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

    /// The CSV as one dictionary per row, by column name.
    func csvRows(_ text: String) -> [[String: String]] {
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [] }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    /// Whether two table values agree: equal, or numbers within `tolerance` relative to the larger.
    func agree(_ a: String?, _ b: String?, tolerance: Double) -> Bool {
        if a == b { return true }
        guard let a, let b, let x = Double(a), let y = Double(b), x.isFinite, y.isFinite else { return false }
        return abs(x - y) <= tolerance * max(abs(x), abs(y))
    }

    /// Every column of the old table has the same value in the new one, row by row (the new
    /// table may have more columns: fields added since); `skipping` columns that measure time.
    /// `tolerance`: relative, for runs made again by this build (0: the very same text).
    func expectSameValues(old: String, new: String, skipping: Set<String> = [], tolerance: Double = 0) {
        let (oldRows, newRows) = (csvRows(old), csvRows(new))
        #expect(oldRows.count == newRows.count)
        let oldHeader = old.prefix { $0 != "\n" }.split(separator: ",").map(String.init)
        let newHeader = new.prefix { $0 != "\n" }.split(separator: ",").map(String.init)
        #expect(newHeader.filter(Set(oldHeader).contains) == oldHeader, "the old columns, in their order")
        for (i, (o, n)) in zip(oldRows, newRows).enumerated() {
            for column in oldHeader where !skipping.contains(column) {
                #expect(agree(n[column], o[column], tolerance: tolerance), "row \(i + 1), \(column): \(n[column] ?? "none") vs \(o[column] ?? "none")")
            }
        }
    }

    /// The same check on table.json: each old key's value, as JSON reads it, in every cell.
    func expectSameJSON(old: String, new: String, skipping: Set<String> = [], tolerance: Double = 0) throws {
        let oldCells = try #require(try JSONSerialization.jsonObject(with: Data(old.utf8)) as? [[String: Any]])
        let newCells = try #require(try JSONSerialization.jsonObject(with: Data(new.utf8)) as? [[String: Any]])
        #expect(oldCells.count == newCells.count)
        for (i, (o, n)) in zip(oldCells, newCells).enumerated() {
            for (key, value) in o where !skipping.contains(key) {
                func text(_ v: Any?) -> String? { v.map { "\($0)" } }
                let same = (n[key] as? NSObject) == (value as? NSObject)
                    || (value is NSNumber && agree(text(n[key]), text(value), tolerance: tolerance))
                #expect(same, "cell \(i), \(key): \(text(n[key]) ?? "none") vs \(text(value) ?? "none")")
            }
        }
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
