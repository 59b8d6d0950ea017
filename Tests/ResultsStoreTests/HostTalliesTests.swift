import Foundation
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

/// The per-host summary a writer keeps as it inserts (`HostTallies`) is the one the database
/// gives: the same hosts in the same order, counts, failures and train seconds, the wall seconds
/// within the query's rounding; and once rows are moved out, the writer reads them again.
@Suite struct HostTalliesTests {
    /// The query's answer (a reader always reads the rows).
    private func queried(_ directory: String) throws -> [HostSummary] {
        try ResultsStore.openExisting(directory: directory).0.countByHost()
    }

    private func expectSame(_ kept: [HostSummary], _ read: [HostSummary]) {
        #expect(kept.map(\.host) == read.map(\.host))
        #expect(kept.map(\.tasks) == read.map(\.tasks))
        #expect(kept.map(\.failed) == read.map(\.failed))
        for (k, r) in zip(kept, read) {
            #expect(abs(k.seconds - r.seconds) <= 1e-12 * max(1, abs(r.seconds)), "\(k) \(r)")
            // julianday rounds each stored date to about 1e-5 s.
            #expect(abs(k.wallSeconds - r.wallSeconds) <= 1e-4 * Double(r.tasks), "\(k) \(r)")
        }
    }

    @Test("hosts in byte order, failures, a NaN train time, a repeated result and a NUL in a host name agree with the query")
    func keptAgreesWithTheQuery() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        let hosts = ["b", "a", "Z", "é", "node\u{0}cut"]
        var nan = report(seed: 3)
        nan.trainSeconds = .nan
        var outcomes: [TaskOutcome] = []
        for id in 0..<plan.taskCount {
            var result = RecordedResult.report(report(seed: id))
            if id % 5 == 4 { result = .failed(reason: "boom") }
            if id == 3 { result = .report(nan) }
            var row = outcome(plan, id, host: hosts[id % hosts.count], result: result)
            // Milliseconds the stored text rounds down, and a task that took no time.
            row.finishedAt = row.startedAt.addingTimeInterval(id == 0 ? 0 : 0.123_456 * Double(id))
            outcomes.append(row)
        }
        try store.record(Array(outcomes[..<5]))
        try store.record(Array(outcomes[5...]))
        // A repeat inserts nothing and counts nothing.
        #expect(try store.record(outcomes[2]) == false)
        let kept = try store.countByHost()
        #expect(kept.map(\.host) == ["Z", "a", "b", "node", "é"])
        expectSame(kept, try queried(directory))
    }

    @Test("after rows are moved out (a quarantined worker's), the writer's summary is the query's")
    func movedRowsAreReadAgain() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        for id in 0..<6 {
            try store.record(outcome(plan, id, host: id < 4 ? "h1" : "h2", result: .report(report(seed: id + 1))))
        }
        #expect(try store.countByHost().map(\.tasks) == [4, 2])
        #expect(try store.replaceUnverifiedRows(of: "h1-w0", reason: "disagreed") == [0, 1, 2, 3])
        #expect(try store.countByHost().map(\.host) == ["h2"])
        expectSame(try store.countByHost(), try queried(directory))
    }

    @Test("a writer that opens a store with rows reads the summary of all of them")
    func resumedStoreCountsEarlierRows() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        do {
            let first = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
            for id in 0..<3 { try first.record(outcome(plan, id, host: "a", result: .report(report(seed: id)))) }
        }
        let second = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        for id in 3..<5 { try second.record(outcome(plan, id, host: "b", result: .report(report(seed: id)))) }
        #expect(try second.countByHost().map(\.tasks) == [3, 2])
        expectSame(try second.countByHost(), try queried(directory))
    }
}
