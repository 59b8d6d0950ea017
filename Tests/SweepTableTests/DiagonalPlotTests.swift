import Foundation
import ResultsStore
import SweepConfig
import SweepTable
import Testing
import TrainingCore

/// diagonal.svg's lines and slopes from a store whose distances follow exact power laws.
@Suite struct DiagonalPlotTests {
    static let yaml = """
        name: diagonal-plot
        model: diagonal
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2}
        grid:
          depth: [2, 3]
          init_scale: [0.01, 0.02, 0.04, 0.08]
        trials: 3
        """

    /// A diagonal report with this distance to w_l1; converged or not.
    static func report(distance: Double, converged: Bool) -> RunReport {
        RunReport(trainResidual: converged ? 1e-9 : 1e-3, reconstructionError: 0, offSubspaceError: 0, oracleDistance: distance,
                  targetDistance: distance, gradientNorm: 1e-6, oracleNorm: 1, testError: [0], oracleTestError: [0],
                  balancedness: 0, effectiveRank: 2, iterations: 100, convergedAt: converged ? 100 : nil, recoveredAt: nil,
                  stationaryAt: nil, diverged: false, converged: converged, recovered: false, stationary: false,
                  stepBudget: 1000, budgetCapped: false, trainSeconds: 0.1, supportRecovered: true)
    }

    @Test("one line per depth; the slope fits the converged cells only (distance = c alpha^k exactly)")
    func slopes() throws {
        let configuration = try SweepConfiguration.parse(yaml: Self.yaml, fileName: "diagonal.yaml")
        let plan = SweepPlan(configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-diag-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        let outcomes = (0..<plan.taskCount).map { id in
            let task = plan.task(id)
            let alpha = task.spec.model.record.network.initScale, depth = task.spec.model.record.network.depth
            // D = 2: 0.5 alpha^1.2 everywhere; D = 3: 4 alpha^3, except the smallest alpha whose runs
            // did not converge and stopped at a distance off the law.
            let converged = !(depth == 3 && alpha == 0.01)
            let distance = depth == 2 ? 0.5 * pow(alpha, 1.2) : converged ? 4 * pow(alpha, 3) : 1e-3
            return TaskOutcome(task: task, attempt: 1, workerID: "w", host: "h", startedAt: Date(timeIntervalSince1970: 0),
                               finishedAt: Date(timeIntervalSince1970: 1),
                               result: .report(Self.report(distance: distance, converged: converged)))
        }
        try store.record(outcomes)
        let lines = diagonalLines(try summarize(store: store))
        #expect(lines.map(\.depth) == [2, 3])
        #expect(lines.map { $0.points.map(\.alpha) } == [[0.01, 0.02, 0.04, 0.08], [0.01, 0.02, 0.04, 0.08]])
        #expect(abs(try #require(lines[0].slope) - 1.2) < 1e-9)
        #expect(abs(try #require(lines[1].slope) - 3) < 1e-9)
        #expect(lines[1].points.map(\.converged) == [false, true, true, true])

        let svg = renderDiagonalPlotSVG(try summarize(store: store), title: "t")
        #expect(svg.contains("D = 2: slope 1.20") && svg.contains("D = 3: slope 3.00"))
        #expect(svg.contains("fill=\"white\" stroke="), "the non-converged point is hollow")
    }

    @Test("without an init_scale axis there is nothing to plot, and the page says so")
    func noAxis() throws {
        let configuration = try SweepConfiguration.parse(yaml: Self.yaml.replacingOccurrences(of: "  init_scale: [0.01, 0.02, 0.04, 0.08]\n", with: ""),
                                                         fileName: "d.yaml")
        let summaries = summarize(plan: SweepPlan(configuration), rows: [])
        #expect(diagonalLines(summaries).isEmpty)
        #expect(renderDiagonalPlotSVG(summaries).contains("no finished runs with an init_scale axis yet"))
    }
}
