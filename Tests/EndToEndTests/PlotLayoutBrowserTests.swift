import Foundation
import SweepConfig
import Testing
import TrainingCore

/// Every plot kind of report.html, drawn from folders of known figures and opened in headless
/// Chromium (`scripts/check_report_browser.py`): every text of every plot (tick labels, legend
/// entries, titles) must lie inside its drawing, every legend entry must be there, and the
/// ticks must fall on round 1-2-5 steps.
@Suite(.serialized) struct PlotLayoutBrowserTests {
    /// The paper's Figure 1 as a sweep makes it: one panel (fixed depth and width), four λ, six
    /// test noise levels, test errors up to 3.66 (ticks at quarters of the maximum would be
    /// 0.916, 1.83, 2.75, 3.66).
    static let figure1 = """
        name: figure1-layout
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
        grid:
          lambda: [0.0, 0.001, 0.01, 0.1]
        trials: 3
        training: {depth: 5, width: 400, steps: 100}
        test_noise: [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]
        """

    /// Heat maps with three panel axes and long values.
    static let heatmaps = """
        name: heat-maps-with-a-rather-long-sweep-name
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
        grid:
          optimizer: [gd, heavy-ball]
          depth: [2, 3, 5]
          width: [20, 40]
          lambda: [0.0, 0.0001]
          noise: [0.0, 0.05]
        trials: 1
        training: {steps: 100}
        test_noise: [0.0, 0.1]
        """

    static let diagonal = """
        name: diagonal-layout
        model: diagonal
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2}
        grid:
          depth: [2, 3, 4]
          init_scale: [0.01, 0.02, 0.04, 0.08]
        trials: 2
        training: {steps: 100}
        """

    /// The texts of each plot of `dir`'s report.html, after checking that each lies inside its drawing.
    static func plots(_ yaml: String, in directory: URL, report: (SweepTask) -> RunReport?) throws -> [(section: String, texts: [String])] {
        let out = directory.appendingPathComponent("out")
        try writeSyntheticStore(directory: out, yaml: yaml, report: report)
        let command = try DLSweepProcess(["report", "out"], in: directory, label: "report")
        #expect(command.wait(seconds: 60) == 0, "\(command.stderr)")
        let (found, missing) = try ReportBrowserTests.inspect(out.appendingPathComponent("report.html"), in: directory, label: "browser")
        let figures = try #require(found, "the browser check could not start: \(missing)")
        let svgs = try #require(figures["svgs"] as? [[String: Any]])
        for svg in svgs {
            let outside = svg["outside"] as? [[String: Any]] ?? []
            #expect(outside.isEmpty, "\(svg["section"] ?? "?") (\(svg["width"] ?? 0) x \(svg["height"] ?? 0)): texts outside the drawing: \(outside)")
        }
        return svgs.map { ($0["section"] as? String ?? "", $0["texts"] as? [String] ?? []) }
    }

    @Test("Figure 1 on one panel: all four λ named in the legend, ticks at 0 1 2 3 4 and 0 0.1 … 0.5, nothing outside",
          .enabled(if: ReportBrowserTests.browserInstalled, "needs Debian's chromium and chromium-driver: run bash scripts/setup.sh (CI does)"))
    func figure1Layout() throws {
        let directory = try makeTemporaryDirectory()
        let sigmas = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]
        let plots = try Self.plots(Self.figure1, in: directory) { task in
            let trial = Double(task.trial)
            return syntheticReport(converged: true, testError: sigmas.map { 0.916 * (1 + 6 * $0) * (1 + 0.0005 * trial) },
                                   oracleTestError: sigmas.map { 0.5 * (1 + 6 * $0) },
                                   trajectory: task.trial == 0 ? syntheticTrajectory(steps: 100_000) : [])
        }
        #expect(plots.map(\.section) == ["converged", "recovered", "iterations", "noise"] + Array(repeating: "trajectories", count: 4)
                + ["completion"])
        let noise = try #require(plots.first { $0.section == "noise" }?.texts)
        for label in ["oracle R (A R)⁺"] + ["0", "0.001", "0.01", "0.1"].map({ "λ = \($0) (median, quartile band)" }) {
            #expect(noise.contains(label), "legend entry \(label) missing: \(noise)")
        }
        let numbers = Set(noise.filter { Double($0) != nil })
        #expect(numbers == ["0", "1", "2", "3", "4", "0.1", "0.2", "0.3", "0.4", "0.5"], "tick labels: \(numbers.sorted())")
        // The trajectories: log axes over whole decades, labelled at powers of ten.
        let trajectory = try #require(plots.first { $0.section == "trajectories" }?.texts)
        for label in ["1", "100", "1e4", "1e-6", "0.001"] { #expect(trajectory.contains(label), "\(trajectory)") }
    }

    @Test("heat maps with three panel axes and a long title, and the diagonal plot with three depths: nothing outside",
          .enabled(if: ReportBrowserTests.browserInstalled, "needs Debian's chromium and chromium-driver: run bash scripts/setup.sh (CI does)"))
    func heatmapAndDiagonalLayout() throws {
        let maps = try Self.plots(Self.heatmaps, in: try makeTemporaryDirectory()) { task in
            syntheticReport(converged: task.id % 3 != 0, testError: [0.1, 0.2], oracleTestError: [0.05, 0.1])
        }
        #expect(maps.map(\.section).prefix(4) == ["converged", "recovered", "iterations", "noise"])
        let converged = try #require(maps.first?.texts)
        #expect(converged.contains("optimizer = heavy-ball, λ = 0.0001, σ_train = 0.05"), "\(converged)")

        let lines = try Self.plots(Self.diagonal, in: try makeTemporaryDirectory()) { task in
            let alpha = task.spec.model.record.network.initScale, depth = Double(task.spec.model.record.network.depth)
            var report = syntheticReport(converged: true, testError: [0], oracleTestError: [0], targetDistance: 0.5 * pow(alpha, depth))
            report.supportRecovered = true
            return report
        }
        let diagonal = try #require(lines.first { $0.section == "diagonal" }?.texts)
        for depth in [2, 3, 4] {
            #expect(diagonal.contains { $0.hasPrefix("D = \(depth): slope ") }, "\(diagonal)")
        }
        // α from 0.01 to 0.08: one decade and a bit, labelled at 1, 2 and 5 times its powers.
        for label in ["0.01", "0.02", "0.05", "0.1"] { #expect(diagonal.contains(label), "\(diagonal)") }
    }
}
