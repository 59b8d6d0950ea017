import Foundation
import ResultsStore
import SweepConfig
import SweepTable
import Testing
import TrainingCore

/// `configs/quick.yaml` before and after the report registry (issue 19): the folder the last
/// protocol-6 release wrote (Fixtures/quick-v6, its quick.yaml says how it was made) gives
/// that release's table, and runs of its tasks made by this build agree with its rows.
@Suite struct QuickFolderTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/quick-v6")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: fixture.appendingPathComponent(name), encoding: .utf8)
    }

    /// A scratch copy of the fixture's results.sqlite (the fixture stays as made).
    static func scratchFolder() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-quick-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixture.appendingPathComponent("results.sqlite"),
                                         to: directory.appendingPathComponent("results.sqlite"))
        return directory.path
    }

    @Test("the protocol-6 folder of quick.yaml gives that release's table, every old column the same text")
    func sameTable() throws {
        let directory = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, configuration) = try ResultsStore.openExisting(directory: directory)
        #expect(configuration.name == "quick" && store.plan.taskCount == 216)
        // The same sweep for this build: the stored fingerprint is the one the file's plan has now.
        let current = SweepPlan(try SweepConfiguration.parse(yaml: try Self.text("quick.yaml"), fileName: "quick.yaml"))
        #expect(store.meta.fingerprint == current.fingerprint)
        let summaries = try summarize(store: store)
        expectSameValues(old: try Self.text("table.csv"), new: renderCSV(summaries))
        try expectSameJSON(old: try Self.text("table.json"), new: try renderJSON(summaries))
        // Fields the old rows do not have are empty in every cell, not zero.
        #expect(summaries.allSatisfy { $0.median("loss_ratio") == nil && $0.median("target_residual") == nil })
    }

    /// One task of each depth with λ > 0 (the L ≥ 3 target changed in this release), one at λ = 0,
    /// noisy and noiseless, converged and out of budget: small ones, so that a debug build runs them.
    static let replayed = [0, 16, 80, 88, 92, 152, 160, 164]

    @Test("tasks of the old folder run by this build report what the old release stored, field by field", arguments: replayed)
    func sameRuns(task id: Int) throws {
        let directory = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (store, configuration) = try ResultsStore.openExisting(directory: directory)
        let stored = try #require(try store.rows().first { $0.taskID == id }?.report)
        let task = store.plan.task(id)
        let run = try runExperiment(configuration.sampled(task.spec, trial: task.trial))
        // Relative 1e-9, and 1e-14 absolute for values at the rounding floor (an oracle's test
        // error without noise is ~1e-16).
        func close(_ a: Double, _ b: Double) -> Bool { a == b || abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-14 }
        var compared = 0
        for field in RunReport.fields where field.value.isCarried && field.name != "trainSeconds" && stored.isPresent(field) {
            switch field.value {
            case .double(let get, _):
                let (old, new) = (try #require(get(stored)), try #require(get(run), "\(field.name)"))
                #expect(close(old, new), "task \(id) \(field.name): \(new) vs \(old)")
            case .int(let get, _): #expect(get(run) == get(stored), "task \(id) \(field.name)")
            case .bool(let get, _): #expect(get(run) == get(stored), "task \(id) \(field.name)")
            case .perNoise(let get, _):
                let (old, new) = (try #require(get(stored)), try #require(get(run)))
                #expect(old.count == new.count && zip(old, new).allSatisfy(close),
                        "task \(id) \(field.name): \(new) vs \(old)")
            case .name, .trajectory, .derived: continue
            }
            compared += 1
        }
        #expect(compared >= 20, "task \(id): \(compared) fields compared")
    }
}
