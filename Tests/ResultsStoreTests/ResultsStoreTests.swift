import Foundation
import Synchronization
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

let sweepYAML = """
    name: store-test
    seed: 3
    problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 8}
    grid:
      depth: [2, 3]
      width: [8, 16]
    trials: 2
    training: {steps: 100}
    test_noise: [0.0, 0.1]
    """

/// A fresh directory under the temporary folder, removed by the caller.
func temporaryDirectory() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-store-\(UUID().uuidString)").path
}

func makePlan(_ yaml: String = sweepYAML, storedSweep: Bool = false) throws -> (SweepConfiguration, SweepPlan) {
    let configuration = try SweepConfiguration.parse(yaml: yaml, fileName: "store.yaml", storedSweep: storedSweep)
    return (configuration, SweepPlan(configuration))
}

func report(seed: Int, success: Bool = true) -> RunReport {
    let x = Double(seed)
    return RunReport(trainResidual: 0.001 * x, reconstructionError: 0.01 * x, offSubspaceError: 0.002 * x,
                     oracleDistance: 0.1 * x, targetDistance: success ? 1e-4 : 0.5, gradientNorm: 1e-5 * x,
                     oracleNorm: 1.5, testError: [0.05 * x, 0.2 * x], oracleTestError: [0.04 * x, 0.15 * x],
                     balancedness: 1e-3 * x, effectiveRank: 2, iterations: 100 + seed, convergedAt: success ? 90 : nil,
                     recoveredAt: success ? 80 : nil, stationaryAt: nil, diverged: false, converged: success,
                     recovered: success, stationary: false, stepBudget: 1000, budgetCapped: false, trainSeconds: 0.25 * x,
                     trajectory: [TrajectoryPoint(step: 0, loss: 1, trainResidual: 1, reconstructionError: 1,
                                                  offSubspaceError: 1, targetDistance: 1, gradientNorm: 1, balancedness: 0)],
                     // Odd seeds measured the dynamics, even ones did not (a worker may omit them).
                     flowTime: 0.5 * x, lossGapRate: seed % 2 == 1 ? 0.3 * x : nil,
                     balancednessDrift: seed % 2 == 1 ? 1e-9 * x : nil, bestRankGap: seed % 2 == 1 ? -1e-16 * x : nil)
}

func outcome(_ plan: SweepPlan, _ id: Int, host: String = "h1", result: RecordedResult) -> TaskOutcome {
    let start = Date(timeIntervalSince1970: 1_800_000_000 + Double(id))
    return TaskOutcome(task: plan.task(id), attempt: 1, workerID: "\(host)-w0", host: host,
                       startedAt: start, finishedAt: start.addingTimeInterval(0.5), result: result)
}

@Suite struct ResultsStoreTests {
    @Test func createRecordAndReopen() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        do {
            let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
            #expect(FileManager.default.fileExists(atPath: directory + "/results.sqlite"))
            #expect(try store.journalMode() == "wal")
            #expect(try store.count() == 0)
            #expect(try store.completedTaskIDs() == Array(repeating: false, count: plan.taskCount))
            #expect(try store.record(outcome(plan, 0, result: .report(report(seed: 1)))))
            #expect(try store.record(outcome(plan, 5, host: "h2", result: .report(report(seed: 2)))))
            #expect(try store.count() == 2)
        }
        // Same sweep: reopens and sees the rows.
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        #expect(try store.count() == 2)
        let done = try store.completedTaskIDs()
        #expect(done.indices.filter { done[$0] } == [0, 5])
        #expect(store.meta.name == "store-test")
        #expect(store.meta.fingerprint == plan.fingerprint)
        #expect(store.meta.taskCount == plan.taskCount)
        #expect(store.meta.configYAML == sweepYAML)
    }

    @Test func rowsRoundTrip() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        let outcomes = [
            outcome(plan, 3, result: .report(report(seed: 3, success: false))),
            outcome(plan, 1, result: .report(report(seed: 1))),
        ]
        for o in outcomes { #expect(try store.record(o)) }
        let rows = try store.rows()
        #expect(rows.map(\.taskID) == [1, 3])
        // Dates go through millisecond text; compare them apart.
        for (row, o) in zip(rows, [outcomes[1], outcomes[0]]) {
            var expected = ResultRow(o)
            #expect(abs(row.startedAt.timeIntervalSince(expected.startedAt)) < 1e-3)
            #expect(abs(row.finishedAt.timeIntervalSince(expected.finishedAt)) < 1e-3)
            expected.startedAt = row.startedAt
            expected.finishedAt = row.finishedAt
            #expect(row == expected)
            #expect(row.report?.trajectory.isEmpty == true)
        }
        #expect(rows[1].report?.convergedAt == nil)
        #expect(rows[1].problemSeed == plan.task(3).spec.seeds.problem)
        #expect(rows[1].trainingSeed == plan.task(3).spec.seeds.training)
    }

    @Test func duplicateInsertIsIgnored() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        #expect(try store.record(outcome(plan, 2, host: "first", result: .report(report(seed: 1)))))
        #expect(try !store.record(outcome(plan, 2, host: "second", result: .report(report(seed: 9)))))
        #expect(try !store.record(outcome(plan, 2, host: "third", result: .failed(reason: "late"))))
        let rows = try store.rows()
        #expect(rows.count == 1)
        #expect(rows[0].host == "first")
        #expect(rows[0].report?.iterations == 101)
    }

    @Test func batchRecordInsertsOnce() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        #expect(try store.record(outcome(plan, 4, result: .report(report(seed: 4)))))
        let inserted = try store.record([
            outcome(plan, 1, result: .report(report(seed: 1))),
            outcome(plan, 4, result: .report(report(seed: 5))),
            outcome(plan, 1, result: .failed(reason: "again")),
            outcome(plan, 2, result: .failed(reason: "no")),
        ])
        #expect(inserted == [true, false, false, true])
        #expect(try store.count() == 3)
        #expect(try store.rows().map(\.status) == [.ok, .failed, .ok])
        // A bad outcome anywhere in a batch writes nothing.
        var bad = outcome(plan, 6, result: .report(report(seed: 6)))
        bad.task.trial += 1
        #expect(throws: ResultsStoreError.self) {
            try store.record([outcome(plan, 7, result: .report(report(seed: 7))), bad])
        }
        #expect(try store.count() == 3)
    }

    @Test func concurrentRecordsInsertExactlyOnce() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        // Four threads each record every task; each task must be inserted by exactly one of them.
        let outcomes = (0..<plan.taskCount).map { outcome(plan, $0, result: .report(report(seed: $0))) }
        let results = Mutex(Array(repeating: 0, count: plan.taskCount))
        let errors = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for o in (thread % 2 == 0 ? outcomes : outcomes.reversed()) {
                do {
                    if try store.record(o) { results.withLock { $0[o.task.id] += 1 } }
                } catch {
                    errors.withLock { $0 += 1 }
                }
            }
        }
        #expect(errors.withLock { $0 } == 0)
        #expect(results.withLock { $0 } == Array(repeating: 1, count: plan.taskCount))
        #expect(try store.count() == plan.taskCount)
    }

    @Test("failures(limit:) and rows(cellIndex:) read only what they are asked for")
    func partialReads() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        for id in 0..<plan.taskCount {
            let result: RecordedResult = id % 3 == 0 ? .failed(reason: "reason \(id)") : .report(report(seed: id + 1))
            try store.record(outcome(plan, id, result: result))
        }
        let (failed, total) = try store.failures(limit: 2)
        #expect(total == (0..<plan.taskCount).filter { $0 % 3 == 0 }.count)
        #expect(failed.map(\.taskID) == [0, 3])
        #expect(failed.first?.failureReason == "reason 0")
        let cell1 = try store.rows(cellIndex: 1)
        #expect(cell1.map(\.taskID) == (0..<plan.trials).map { plan.taskID(cell: 1, trial: $0) })
    }

    @Test func failureRow() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        #expect(try store.record(outcome(plan, 7, result: .failed(reason: "width must be positive"))))
        let row = try #require(try store.rows().first)
        #expect(row.status == .failed)
        #expect(row.report == nil)
        #expect(row.trainSeconds == nil)
        #expect(row.failureReason == "width must be positive")
        #expect(try store.completedTaskIDs()[7])
    }

    @Test func nonFiniteMetricsSurvive() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        var diverged = report(seed: 1, success: false)
        diverged.diverged = true
        diverged.trainResidual = .nan
        diverged.reconstructionError = .infinity
        diverged.testError = [.nan, .infinity]
        try store.record(outcome(plan, 0, result: .report(diverged)))
        let stored = try #require(try store.rows().first?.report)
        #expect(stored.trainResidual.isNaN)
        #expect(stored.reconstructionError == .infinity)
        #expect(stored.testError?[0].isNaN == true)
        #expect(stored.testError?[1] == .infinity)
        #expect(stored.diverged)
    }

    @Test func differentSweepIsRefused() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        _ = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        let (other, otherPlan) = try makePlan(sweepYAML.replacingOccurrences(of: "steps: 100", with: "steps: 200"))
        #expect(otherPlan.fingerprint != plan.fingerprint)
        #expect {
            try ResultsStore.open(directory: directory, plan: otherPlan, configuration: other)
        } throws: { error in
            guard case let ResultsStoreError.differentSweep(dir, name, stored, expected) = error else { return false }
            return dir == directory && name == "store-test" && stored == plan.fingerprint
                && expected == otherPlan.fingerprint && "\(error)".contains("use another --out")
        }
    }

    @Test func openExistingReadsTheStoredConfig() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let writer = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        for id in 0..<plan.taskCount {
            try writer.record(outcome(plan, id, host: id % 3 == 0 ? "a" : "b", result: .report(report(seed: id))))
        }
        let (reader, stored) = try ResultsStore.openExisting(directory: directory)
        #expect(stored.yamlText == sweepYAML)
        #expect(reader.plan.fingerprint == plan.fingerprint)
        #expect(try reader.count() == plan.taskCount)
        #expect(try reader.rows().count == plan.taskCount)
        let hosts = try reader.countByHost()
        let aIDs = (0..<plan.taskCount).filter { $0 % 3 == 0 }
        #expect(hosts.map(\.host) == ["a", "b"])
        #expect(hosts.map(\.tasks) == [aIDs.count, plan.taskCount - aIDs.count])
        let aSeconds = aIDs.map { 0.25 * Double($0) }.reduce(0, +)
        #expect(abs(hosts[0].seconds - aSeconds) < 1e-9)
        #expect(abs(hosts[0].wallSeconds - 0.5 * Double(aIDs.count)) < 1e-2)
    }

    @Test func missingDatabase() {
        let directory = temporaryDirectory()
        #expect {
            try ResultsStore.openExisting(directory: directory)
        } throws: { error in
            "\(error)" == "\(directory): no results database (results.sqlite); run a sweep with --out \(directory) first"
        }
    }

    @Test func badOutcomesAreRefused() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        var short = report(seed: 1)
        short.testError = [0.1]
        #expect(throws: ResultsStoreError.self) { try store.record(outcome(plan, 0, result: .report(short))) }
        var stray = outcome(plan, 0, result: .report(report(seed: 1)))
        stray.task.id = plan.taskCount
        #expect(throws: ResultsStoreError.taskOutOfRange(taskID: plan.taskCount, taskCount: plan.taskCount)) {
            try store.record(stray)
        }
        // A task whose cell or trial is not the plan's for its id: each names what differs.
        var otherTrial = outcome(plan, 0, result: .report(report(seed: 1)))
        otherTrial.task.trial = 1
        #expect(throws: ResultsStoreError.malformedOutcome(taskID: 0, reason: "its trial 1 is not the plan's trial 0 of that task")) {
            try store.record(otherTrial)
        }
        var otherCell = outcome(plan, 0, result: .report(report(seed: 1)))
        otherCell.task.cell = plan.cells[1]
        #expect(throws: ResultsStoreError.malformedOutcome(taskID: 0, reason: "its cell (index 1) is not the plan's cell 0 of that task")) {
            try store.record(otherCell)
        }
        #expect(try store.count() == 0)
    }

    @Test("a row poisoned behind the store's back is a corruptRow error, never a trap (issue 10, item 1)",
          arguments: ["started_at = 'nan'", "started_at = 1e300", "depth = 'deep'", "attempt = 'two'",
                      "effective_rank = 'x'", "finished_at = 'yesterday'"])
    func poisonedRowsAreErrors(_ poison: String) throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        try store.record(outcome(plan, 0, result: .report(report(seed: 1))))
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["sqlite3", (directory as NSString).appendingPathComponent(ResultsStore.fileName),
                            "PRAGMA ignore_check_constraints = 1; UPDATE results SET \(poison)"]
        try sqlite.run()
        sqlite.waitUntilExit()
        try #require(sqlite.terminationStatus == 0)
        #expect(throws: ResultsStoreError.self) { try store.rows() }
    }

    @Test("a results file from before the dynamics gains their columns, NULL (not measured) in its old rows")
    func dynamicsMigration() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        do {
            let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
            try store.record(outcome(plan, 0, result: .report(report(seed: 1))))
        }
        // Make it a file of the v2 schema: without the four columns and their migration.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["sqlite3", (directory as NSString).appendingPathComponent(ResultsStore.fileName),
                            "ALTER TABLE results DROP COLUMN flow_time; ALTER TABLE results DROP COLUMN loss_gap_rate; "
                            + "ALTER TABLE results DROP COLUMN balancedness_drift; ALTER TABLE results DROP COLUMN best_rank_gap; "
                            + "DELETE FROM grdb_migrations WHERE identifier = 'v4-dynamics'"]
        try sqlite.run()
        sqlite.waitUntilExit()
        try #require(sqlite.terminationStatus == 0)
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        try store.record(outcome(plan, 1, result: .report(report(seed: 3))))
        let rows = try store.rows()
        #expect(rows.count == 2)
        #expect(rows[0].report?.lossGapRate == nil && rows[0].report?.flowTime == nil && rows[0].report?.bestRankGap == nil)
        let sent = report(seed: 3)
        #expect(rows[1].report?.lossGapRate == sent.lossGapRate && rows[1].report?.flowTime == sent.flowTime)
        #expect(rows[1].report?.bestRankGap == sent.bestRankGap && rows[1].report?.balancednessDrift == sent.balancednessDrift)
        #expect(sent.lossGapRate != nil)
    }

    @Test func fileInTheWay() throws {
        let path = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
        let (configuration, plan) = try makePlan()
        #expect(throws: ResultsStoreError.self) {
            try ResultsStore.open(directory: path, plan: plan, configuration: configuration)
        }
    }
}
