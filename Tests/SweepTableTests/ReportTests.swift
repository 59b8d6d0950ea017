import Foundation
import ResultsStore
import SweepConfig
import SweepTable
import Testing
import TrainingCore

/// `report.html` from a store that a writer still holds, as `dlsweep report` reads a running sweep.
@Suite struct ReportTests {
    /// A store with rows on two hosts and one failure whose reason is hostile markup, still open
    /// for writing; and the report read from it by a second, read-only store.
    func partialReport() throws -> (SweepReport, SweepPlan, ResultsStore) {
        let configuration = try SweepConfiguration.parse(yaml: tableYAML, fileName: "table.yaml")
        let plan = SweepPlan(configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-report-\(UUID().uuidString)").path
        let writer = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        var outcomes: [TaskOutcome] = []
        for (trial, host) in ["alpha", "beta", "alpha"].enumerated() {
            outcomes.append(TaskOutcome(
                task: plan.task(plan.taskID(cell: 1, trial: trial)), attempt: 1, workerID: "\(host)-1", host: host,
                startedAt: Date(timeIntervalSince1970: 1_000_000_000 + Double(trial)),
                finishedAt: Date(timeIntervalSince1970: 1_000_000_010 + Double(trial)),
                result: .report(makeReport(iterations: 100, rec: 0.01, off: 0.001, success: trial != 1, recovered: trial == 0))))
        }
        outcomes.append(TaskOutcome(
            task: plan.task(plan.taskID(cell: 5, trial: 2)), attempt: 3, workerID: "beta-2", host: "beta",
            startedAt: Date(timeIntervalSince1970: 1_000_000_020), finishedAt: Date(timeIntervalSince1970: 1_000_000_090),
            result: .failed(reason: "<script>alert(1)</script> & \"boom\"")))
        try writer.record(outcomes)
        let (reader, readConfiguration) = try ResultsStore.openExisting(directory: directory)
        let report = try SweepReport(store: reader, configuration: readConfiguration,
                                     now: Date(timeIntervalSince1970: 1_000_000_100))
        return (report, plan, writer)
    }

    @Test("completed tasks over time: finish times from the first start, the workers, the tail, the efficiency")
    func completionTimes() throws {
        let (report, _, writer) = try partialReport()
        defer { try? FileManager.default.removeItem(atPath: writer.directory) }
        // Started at 0, 1, 2 and 20 s, finished at 10, 11, 12 and 90 s, by three worker ids.
        let times = try #require(report.completion)
        #expect(times.tasks == 4 && times.workers == 3 && times.counts == [1, 2, 3, 4])
        #expect(zip(times.finished, [10.0, 11, 12, 90]).allSatisfy { abs($0 - $1) < 1e-3 })
        #expect(abs(times.span - 90) < 1e-3)
        // The last 5% of 4 tasks is the last one: no time after it.
        #expect(abs(times.tail) < 1e-3)
        // Tasks of 10, 10, 10 and 70 s on their workers (the failure's too: it held its worker),
        // of which three runs trained 0.5 s each (the failure has no training time).
        #expect(abs(times.taskSeconds - 100) < 1e-3 && abs(times.medianTaskSeconds - 10) < 1e-3)
        #expect(abs(times.parallelEfficiency - 100.0 / (90 * 3)) < 1e-6)
        #expect(abs(times.trainSeconds - 1.5) < 1e-12)
        #expect(abs(times.trainingShare - 1.5 / (90 * 3)) < 1e-6)
        let svg = renderCompletionPlotSVG(times)
        #expect(svg.contains("<polyline") && svg.contains("4 tasks on 3 workers"))
    }

    @Test("the page holds every plot inline and no script, link or external resource")
    func selfContained() throws {
        let (report, _, writer) = try partialReport()
        defer { try? FileManager.default.removeItem(atPath: writer.directory) }
        let html = report.renderHTML()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 5)
        #expect(html.components(separatedBy: "</svg>").count - 1 == 5)
        for id in ["provenance", "converged", "recovered", "iterations", "noise", "hosts", "completion", "failures", "table",
                   "config"] {
            #expect(html.contains("<section id=\"\(id)\">"), "\(id)")
        }
        #expect(!html.contains("<?xml"))
        for forbidden in ["<script", "src=", "href=", "url(", "@import", "<link", "<iframe"] {
            #expect(!html.contains(forbidden), "\(forbidden)")
        }
        // The only address in the page is the SVG namespace, which no browser fetches.
        #expect(html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http") == false)
    }

    @Test("provenance, outcome maps, hosts and failures of a sweep still being written")
    func contents() throws {
        let (report, plan, writer) = try partialReport()
        defer { try? FileManager.default.removeItem(atPath: writer.directory) }
        #expect(report.recorded == 4)
        #expect(report.failedCount == 1)
        let html = report.renderHTML()
        #expect(html.contains("4 of \(plan.taskCount) tasks recorded (incomplete"))
        #expect(html.contains("2 converged, 1 recovered, 0 diverged, 1 failed"))
        #expect(html.contains(ResultsStore.toolVersion))
        #expect(html.contains("fingerprint \(plan.fingerprint)"))
        #expect(html.contains("<tr><th>hosts</th><td>alpha, beta</td></tr>"))
        #expect(html.contains("<tr><th>first task started</th><td>2001-09-09 01:46:40 UTC</td></tr>"))
        #expect(html.contains("2001-09-09 01:48:10 UTC (1 min 30 s after the first start)"))
        #expect(html.contains("2001-09-09 01:48:20 UTC"))
        // Both outcome maps: cell 1 shows 2/3 converged and 1/3 recovered.
        #expect(html.contains("table-test: converged rate (k/n runs)"))
        #expect(html.contains("table-test: recovered rate (k/n runs)"))
        #expect(html.contains(">2/3</text>") && html.contains(">1/3</text>"))
        // Per host: alpha ran 2 tasks, beta 2 with 1 failure.
        #expect(html.contains("<tr><td>alpha</td><td>2</td><td>0</td>"))
        #expect(html.contains("<tr><td>beta</td><td>2</td><td>1</td>"))
        // The failure with its reason, escaped.
        #expect(html.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;boom&quot;</td>"))
        #expect(html.contains("1 failed task(s)."))
        // The stored config, verbatim (escaped).
        #expect(html.contains("name: table-test"))
    }

    @Test("writeReport replaces report.html whole")
    func write() throws {
        let (report, _, writer) = try partialReport()
        defer { try? FileManager.default.removeItem(atPath: writer.directory) }
        let path = try writeReport(report, directory: writer.directory)
        #expect(path.hasSuffix("/report.html"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == report.renderHTML())
        #expect(throws: ReportWriteError.self) { try writeReport(report, directory: writer.directory + "/missing/folder") }
    }

    @Test("trajectories: one log-log small multiple per stored trajectory, labelled with its cell, in task order")
    func trajectories() throws {
        let configuration = try SweepConfiguration.parse(yaml: tableYAML, fileName: "table.yaml")
        let plan = SweepPlan(configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-report-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        func point(_ step: Int, _ value: Double) -> TrajectoryPoint {
            TrajectoryPoint(step: step, loss: value, trainResidual: value, reconstructionError: value, offSubspaceError: 0,
                            targetDistance: value / 2, gradientNorm: value, balancedness: 0, lossGap: value * value)
        }
        var outcomes: [TaskOutcome] = []
        for cell in [4, 1] {
            var report = makeReport(iterations: 100, rec: 0.01, off: 0.001, success: true, recovered: true)
            report.trajectory = [0, 1, 2, 10, 100].map { point($0, 1 / Double($0 + 1)) }
            outcomes.append(TaskOutcome(
                task: plan.task(plan.taskID(cell: cell, trial: 0)), attempt: 1, workerID: "w", host: "h",
                startedAt: Date(timeIntervalSince1970: 1_000_000_000), finishedAt: Date(timeIntervalSince1970: 1_000_000_001),
                result: .report(report)))
        }
        try writer.record(outcomes)
        let (reader, readConfiguration) = try ResultsStore.openExisting(directory: directory)
        let report = try SweepReport(store: reader, configuration: readConfiguration)
        #expect(report.trajectoryCount == 2)
        #expect(report.trajectories.map(\.cell) == [1, 4].map { i in
            let value = { (key: String) in plan.cells[i][key]?.description ?? "?" }
            return "depth \(value("depth")), width \(value("width")), λ \(value("lambda")), σ_train \(value("noise"))"
        })
        let html = report.renderHTML()
        let section = try #require(html.components(separatedBy: "<section id=\"trajectories\">").last?
            .components(separatedBy: "</section>").first)
        #expect(section.components(separatedBy: "<svg ").count - 1 == 2)
        // Four curves each (off-subspace error 0 has no place on a log axis: left out).
        #expect(section.components(separatedBy: "<polyline").count - 1 == 2 * 3)
        #expect(section.contains(">100</text>") && section.contains("step"))
        // Step 0 is left out of the log axis: a trajectory of step 0 alone says so.
        let lonely = renderTrajectorySVG(TrajectoryPanel(cell: "c", trial: 0, converged: nil, points: [point(0, 1)]))
        #expect(lonely.contains("no point after step 0") && !lonely.contains("<polyline"))
    }
}
