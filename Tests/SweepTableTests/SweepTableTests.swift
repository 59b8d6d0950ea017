import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ResultsStore
import SweepConfig
import SweepTable
import Testing
import TrainingCore

let tableYAML = """
    name: table-test
    problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 8}
    grid:
      depth: [2, 3]
      width: [8, 16]
      lambda: [0.0, 0.01]
    trials: 4
    test_noise: [0.0, 0.1]
    """

func tablePlan() throws -> SweepPlan {
    SweepPlan(try SweepConfiguration.parse(yaml: tableYAML, fileName: "table.yaml"))
}

/// A report whose metrics are chosen by the test.
func makeReport(iterations: Int, rec: Double, off: Double, success: Bool, recovered: Bool = false, diverged: Bool = false,
                test: [Double] = [0.1, 0.2], seconds: Double = 0.5) -> RunReport {
    RunReport(trainResidual: rec / 10, reconstructionError: rec, offSubspaceError: off, oracleDistance: rec * 2,
              targetDistance: success ? 1e-4 : 0.3, gradientNorm: 1e-3, oracleNorm: 1,
              testError: test, oracleTestError: test.map { $0 / 2 }, balancedness: 1e-6, effectiveRank: 2,
              iterations: iterations, convergedAt: success ? iterations : nil, recoveredAt: recovered ? iterations : nil,
              stationaryAt: nil, diverged: diverged, converged: success, recovered: recovered, stationary: false,
              stepBudget: max(iterations, 1000), budgetCapped: false, trainSeconds: seconds)
}

func row(_ plan: SweepPlan, cell: Int, trial: Int, _ result: RecordedResult) -> ResultRow {
    let id = plan.taskID(cell: cell, trial: trial)
    return ResultRow(TaskOutcome(task: plan.task(id), attempt: 1, workerID: "w", host: "h",
                                 startedAt: Date(timeIntervalSince1970: 0), finishedAt: Date(timeIntervalSince1970: 1),
                                 result: result))
}

func close(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance
}

@Suite struct StatisticsTests {
    static let wilsonCases: [(k: Int, n: Int, low: Double, high: Double)] = [
        (8, 10, 0.4902, 0.9433),
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0, 0.2775),
        (10, 10, 0.7225, 1),
        (1, 1, 0.2065, 1),
    ]

    @Test(arguments: wilsonCases)
    func wilsonKnownValues(_ c: (k: Int, n: Int, low: Double, high: Double)) {
        let interval = wilsonInterval(successes: c.k, trials: c.n)
        #expect(close(interval.low, c.low, 1e-4))
        #expect(close(interval.high, c.high, 1e-4))
    }

    @Test func wilsonEdges() {
        #expect(wilsonInterval(successes: 0, trials: 0) == (0, 1))
        #expect(wilsonInterval(successes: 0, trials: 7).low == 0)
        #expect(wilsonInterval(successes: 7, trials: 7).high == 1)
        // Symmetry: k of n and n-k of n mirror each other.
        let a = wilsonInterval(successes: 3, trials: 11), b = wilsonInterval(successes: 8, trials: 11)
        #expect(close(a.low, 1 - b.high) && close(a.high, 1 - b.low))
    }

    @Test func medians() {
        #expect(median([]) == nil)
        #expect(median([3]) == 3)
        #expect(median([5, 1, 3]) == 3)
        #expect(median([4, 1, 3, 2]) == 2.5)
        #expect(median([1, .nan, 2]) == 2)
        #expect(median([1, .nan]) == .infinity)
    }
}

@Suite struct SummaryTests {
    @Test func aggregatesHandBuiltRows() throws {
        let plan = try tablePlan()
        let rows = [
            row(plan, cell: 0, trial: 0, .report(makeReport(iterations: 100, rec: 0.01, off: 0.001, success: true,
                                                            recovered: true, test: [0.1, 0.3], seconds: 1))),
            row(plan, cell: 0, trial: 1, .report(makeReport(iterations: 300, rec: 0.5, off: 0.2, success: false,
                                                            test: [0.4, 0.6], seconds: 2))),
            row(plan, cell: 0, trial: 2, .report(makeReport(iterations: 200, rec: 0.03, off: 0.004, success: true,
                                                            test: [0.2, 0.5], seconds: 4))),
            row(plan, cell: 0, trial: 3, .failed(reason: "boom")),
            row(plan, cell: 5, trial: 1, .report(makeReport(iterations: 50, rec: .nan, off: .infinity, success: false,
                                                            diverged: true))),
        ]
        let summaries = summarize(plan: plan, rows: rows)
        #expect(summaries.count == plan.cells.count)
        #expect(summaries.map(\.axes) == plan.cells.map(\.settings))

        let first = summaries[0]
        #expect(first.trials == 3)
        #expect(first.converged == 2 && first.recovered == 1)
        #expect(first.failed == 1)
        #expect(first.diverged == 0)
        #expect(close(first.convergenceRate, 2.0 / 3.0))
        #expect(close(first.recoveryRate, 1.0 / 3.0))
        let interval = wilsonInterval(successes: 2, trials: 3)
        #expect(first.convergenceLow == interval.low && first.convergenceHigh == interval.high)
        let recovery = wilsonInterval(successes: 1, trials: 3)
        #expect(first.recoveryLow == recovery.low && first.recoveryHigh == recovery.high)
        #expect(first.median("recovered_at") == 100)
        // No run used up its step budget or stalled.
        #expect(first.budget == 0 && first.stationary == 0)
        #expect(first.medianIterations == 200)
        #expect(first.median("converged_at") == 150)
        #expect(first.median("reconstruction_error") == 0.03)
        #expect(first.median("off_subspace_error") == 0.004)
        #expect(first.median("oracle_distance") == 0.06)
        #expect(first.median("train_seconds") == 2)
        #expect(first.medianTestError == ["0": 0.2, "0.1": 0.5])
        #expect(first.medianOracleTestError == ["0": 0.1, "0.1": 0.25])

        let diverged = summaries[5]
        #expect(diverged.trials == 1 && diverged.diverged == 1 && diverged.converged == 0)
        #expect(diverged.median("reconstruction_error") == .infinity)
        #expect(diverged.median("converged_at") == nil)

        let empty = summaries[1]
        #expect(empty.trials == 0 && empty.convergenceRate == nil && empty.recoveryRate == nil)
        #expect(empty.convergenceLow == 0 && empty.convergenceHigh == 1)
        #expect(empty.medianIterations == nil)
        let noValue: [String: Double?] = ["0": nil, "0.1": nil]
        #expect(empty.medianTestError == noValue)
    }

    func sampleSummaries() throws -> [CellSummary] {
        let plan = try tablePlan()
        var rows: [ResultRow] = []
        for cell in plan.cells where cell.index % 3 != 2 {
            for trial in 0..<plan.trials where (trial + cell.index) % 4 != 0 {
                let ok = (trial + (cell["depth"]?.intValue ?? 0)) % 2 == 0
                rows.append(row(plan, cell: cell.index, trial: trial, .report(makeReport(
                    iterations: 100 * (trial + 1), rec: 0.01 * Double(trial + 1), off: 0.002, success: ok,
                    diverged: trial == 3 && cell.index == 4))))
            }
        }
        rows.append(row(plan, cell: 3, trial: 0, .failed(reason: "x")))
        return summarize(plan: plan, rows: rows)
    }

    @Test func jsonHasExactlyTheKeys() throws {
        let json = try renderJSON(try sampleSummaries())
        let list = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(list.count == 8)
        let expected: Set<String> = [
            "depth", "width", "lambda", "noise", "trials",
            "converged", "convergence_rate", "convergence_ci_low", "convergence_ci_high",
            "recovered", "recovery_rate", "recovery_ci_low", "recovery_ci_high", "stationary", "budget", "capped",
            "diverged", "failed", "median_iterations", "median_converged_at", "median_recovered_at",
            "median_target_distance", "median_gradient_norm", "median_reconstruction_error",
            "median_off_subspace_error", "median_oracle_distance", "median_train_residual", "median_balancedness",
            "median_effective_rank", "median_train_seconds", "median_flow_time", "median_loss_gap_rate",
            "median_balancedness_drift", "median_best_rank_gap", "median_loss_ratio", "median_target_residual", "median_support_size",
            "median_flow_limit_distance", "median_flow_limit_l1_distance", "target_searched",
            "support_recovered", "support_recovery_rate",
            "support_recovery_ci_low", "support_recovery_ci_high", "median_test_error", "median_oracle_test_error",
            "lower_quartile_test_error", "upper_quartile_test_error",
        ]
        for object in list {
            #expect(Set(object.keys) == expected)
            let perNoise = try #require(object["median_test_error"] as? [String: Any])
            #expect(Set(perNoise.keys) == ["0", "0.1"])
        }
        // Decodes back to the same summaries where every value is finite.
        let decoded = try JSONDecoder().decode([CellSummary].self, from: Data(json.utf8))
        #expect(decoded == (try sampleSummaries()))
    }

    /// The dynamics medians and the diagonal model's support recovery rate survive table.json.
    @Test func dynamicsAndSupportRecoveryReadBack() throws {
        let plan = try tablePlan()
        var rows: [ResultRow] = []
        for trial in 0..<4 {
            var report = makeReport(iterations: 100, rec: 0.01, off: 0.002, success: true)
            report.flowTime = 2.5 + Double(trial)
            report.lossGapRate = 0.2
            report.balancednessDrift = 1e-9
            report.bestRankGap = 1e-12
            report.supportRecovered = trial != 0 // 3 of 4
            rows.append(row(plan, cell: 0, trial: trial, .report(report)))
        }
        var searched = makeReport(iterations: 100, rec: 0.01, off: 0.002, success: true)
        searched.targetMethod = .search
        rows.append(row(plan, cell: 1, trial: 0, .report(searched)))
        let summaries = summarize(plan: plan, rows: rows)
        let diagonal = try #require(summaries.first { $0.axes == plan.cells[0].settings })
        #expect(diagonal.supportRecovered == 3)
        #expect(close(diagonal.supportRecoveryRate, 0.75))
        let interval = wilsonInterval(successes: 3, trials: 4)
        #expect(close(diagonal.supportRecoveryLow, interval.low) && close(diagonal.supportRecoveryHigh, interval.high))
        #expect(close(diagonal.median("flow_time"), 4))
        // A cell whose runs do not report support recovery has no rate (not 0 of n).
        let deep = try #require(summaries.first { $0.trials == 1 })
        #expect(deep.supportRecovered == nil && deep.supportRecoveryRate == nil)
        // Runs whose target was not certified are counted where runs report how it was found, and
        // only there (no count where no run has a target method).
        #expect(deep.number("target_searched") == 1 && diagonal.number("target_searched") == nil)
        let decoded = try JSONDecoder().decode([CellSummary].self, from: Data(try renderJSON(summaries).utf8))
        #expect(decoded == summaries)
    }

    @Test func csvHasConstantColumns() throws {
        let summaries = try sampleSummaries()
        let csv = renderCSV(summaries)
        let lines = csv.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == summaries.count + 1)
        let header = lines[lines.startIndex].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(header == csvHeader(axes: ["depth", "width", "lambda", "noise"], testNoiseLabels: ["0", "0.1"]))
        #expect(header.contains("median_test_error@0.1"))
        #expect(header.contains("median_oracle_test_error@0"))
        for line in lines {
            #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == header.count)
        }
        // First data row: depth, width, lambda, noise of cell 0.
        #expect(lines[lines.startIndex + 1].hasPrefix("2,8,0,0,"))
    }

    @Test func textAndMarkdownTables() throws {
        let summaries = try sampleSummaries()
        let text = renderText(summaries)
        let lines = text.split(separator: "\n")
        #expect(lines.count == summaries.count + 2)
        #expect(Set(lines.map(\.count)).count == 1)  // aligned
        #expect(lines[0].count <= 140)
        #expect(lines[0].contains("test@0.1"))
        let markdown = renderMarkdown(summaries)
        let mdLines = markdown.split(separator: "\n")
        #expect(mdLines.count == summaries.count + 2)
        let pipes = Set(mdLines.map { $0.filter { $0 == "|" }.count })
        #expect(pipes.count == 1)
    }

    @Test func svgIsWellFormed() throws {
        let summaries = try sampleSummaries()
        for svg in [renderSuccessPlotSVG(summaries, title: "a <b> & c"), renderIterationsPlotSVG(summaries),
                    renderSuccessPlotSVG(summaries, measure: .recovered)] {
            let parser = XMLParser(data: Data(svg.utf8))
            let counter = ElementCounter()
            parser.delegate = counter
            #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
            #expect(counter.names.first == "svg")
            // One rectangle per cell, plus background and legend.
            #expect(counter.names.filter { $0 == "rect" }.count >= summaries.count + 1)
        }
        let success = renderSuccessPlotSVG(summaries)
        #expect(success.contains(">\(summaries[0].converged)/\(summaries[0].trials)<"))
        #expect(success.contains("converged rate"))
        // The noise plot: one median line per cell with runs, the oracle dashed, well-formed.
        let noise = renderNoisePlotSVG(summaries, title: "n")
        let parser = XMLParser(data: Data(noise.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        #expect(parser.parse())
        let withRuns = summaries.filter { $0.trials > 0 }.count
        #expect(counter.names.filter { $0 == "polyline" }.count == withRuns + Set(summaries.filter { $0.trials > 0 }.map { $0.axes.filter { $0.key != "lambda" } }).count)
        #expect(noise.contains("stroke-dasharray"))
    }

    @Test func writesTheFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-table-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let written = try writeTableFiles(directory: directory, summaries: try sampleSummaries(), title: "t")
        #expect(written.map { ($0 as NSString).lastPathComponent }
            == ["table.csv", "table.json", "table.md", "success.svg", "iterations.svg", "noise.svg"])
        for path in written {
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            #expect(size > 100)
        }
        #expect(throws: TableWriteError.self) {
            try writeTableFiles(directory: directory + "/missing/dir", summaries: [])
        }
    }
}

final class ElementCounter: NSObject, XMLParserDelegate {
    var names: [String] = []
    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        names.append(elementName)
    }
}
