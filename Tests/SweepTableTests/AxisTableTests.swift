import Foundation
import ResultsStore
import SweepConfig
import SweepTable
import Testing
import TrainingCore

/// The table follows the grid's axes (issue 9, item 1): a string axis (optimizer) and a number
/// axis (init_scale) get their own columns in every format, the store keeps them, and the heat
/// map puts them on its axes.
@Suite struct AxisTableTests {
    static let yaml = """
        name: axis-table
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 8}
        grid:
          optimizer: [gd, heavy-ball]
          init_scale: [0.5, 2]
          depth: [2, 3]
        trials: 2
        test_noise: [0.0]
        """

    @Test func stringAxisThroughStoreAndEveryFormat() throws {
        let configuration = try SweepConfiguration.parse(yaml: Self.yaml, fileName: "axis.yaml")
        let plan = SweepPlan(configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-axes-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        // heavy-ball converges, gd does not: the optimizer column must tell the rows apart.
        let outcomes = (0..<plan.taskCount).map { id in
            let task = plan.task(id)
            let success = task.cell["optimizer"] == .string("heavy-ball")
            return TaskOutcome(task: task, attempt: 1, workerID: "w", host: "h", startedAt: Date(timeIntervalSince1970: 0),
                               finishedAt: Date(timeIntervalSince1970: 1),
                               result: .report(makeReport(iterations: 10, rec: 0.01, off: 0.001, success: success, test: [0.1])))
        }
        try store.record(outcomes)
        let rows = try store.rows()
        #expect(rows.map(\.axes) == outcomes.map { $0.task.cell.settings })
        #expect(rows[0].axes == [AxisSetting("optimizer", .string("gd")), AxisSetting("init_scale", .double(0.5)),
                                 AxisSetting("depth", .int(2)), AxisSetting("width", .int(400)),
                                 AxisSetting("lambda", .double(0)), AxisSetting("noise", .double(0))])

        let summaries = try summarize(store: store)
        #expect(summaries.count == 8)
        #expect(summaries.map { $0.axisValue("optimizer") } == [.string("gd")] * 4 + [.string("heavy-ball")] * 4)
        #expect(summaries.map(\.converged) == [0, 0, 0, 0, 2, 2, 2, 2])

        let csv = renderCSV(summaries).split(separator: "\n")
        #expect(csv[0].hasPrefix("optimizer,init_scale,depth,width,lambda,noise,trials,converged,"))
        #expect(csv[1].hasPrefix("gd,0.5,2,400,0,0,2,0,"))
        #expect(csv[8].hasPrefix("heavy-ball,2,3,400,0,0,2,2,"))

        let text = renderText(summaries).split(separator: "\n")
        #expect(text[0].split(separator: " ").prefix(3) == ["optimizer", "init_scale", "depth"])
        #expect(text[2].split(separator: " ").prefix(3) == ["gd", "0.5", "2"])
        #expect(renderMarkdown(summaries).hasPrefix("| optimizer | init_scale | depth | width |"))

        let json = try #require(try JSONSerialization.jsonObject(with: Data(try renderJSON(summaries).utf8)) as? [[String: Any]])
        #expect(json[7]["optimizer"] as? String == "heavy-ball")
        #expect((json[7]["init_scale"] as? NSNumber)?.doubleValue == 2)
        #expect((json[7]["depth"] as? NSNumber)?.intValue == 3)
        // JSON reads back, the axes included (in the config reference's order: JSON objects have none).
        let decoded = try JSONDecoder().decode([CellSummary].self, from: Data(try renderJSON(summaries).utf8))
        let reference = AxisDefinition.all.map(\.key)
        #expect(decoded == summaries.map { s in
            var s = s
            s.axes.sort { reference.firstIndex(of: $0.key)! < reference.firstIndex(of: $1.key)! }
            return s
        })

        // Default heat map: depth down, init_scale across (width has one value), one panel per
        // optimizer (then lambda, noise).
        let layout = HeatmapLayout(configuration, summaries)
        #expect(layout == HeatmapLayout(rows: "depth", columns: "init_scale"))
        let svg = renderSuccessPlotSVG(summaries, layout: layout)
        #expect(svg.contains(">optimizer = gd, λ = 0, σ_train = 0<"))
        #expect(svg.contains(">optimizer = heavy-ball, λ = 0, σ_train = 0<"))
        #expect(svg.contains(">init_scale<"))
        #expect(svg.components(separatedBy: ">2/2<").count - 1 == 4)
        #expect(svg.components(separatedBy: ">0/2<").count - 1 == 4)
        // The config may choose: optimizer across.
        let chosen = try SweepConfiguration.parse(yaml: Self.yaml + "\nheatmap: {rows: init_scale, columns: optimizer}", fileName: "axis.yaml")
        #expect(chosen.fingerprint == configuration.fingerprint)
        #expect(HeatmapLayout(chosen, summaries) == HeatmapLayout(rows: "init_scale", columns: "optimizer"))
        #expect(renderSuccessPlotSVG(summaries, layout: HeatmapLayout(chosen, summaries)).contains(">depth = 2, λ = 0, σ_train = 0<"))
    }

    @Test("a refined value is listed between its neighbours and drawn at its true position")
    func refinedValuesInPlace() throws {
        let configuration = try SweepConfiguration.parse(yaml: """
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 8}
            grid: {steps: [100, 500], depth: [2]}
            adaptive: {min_trials: 2, max_trials: 2, refine: {axes: [steps]}}
            """, fileName: "r.yaml")
        let base = SweepPlan(configuration)
        let round = try #require(base.nextAdaptiveRound(
            tallies: [CellTally(runs: 2, successes: 0), CellTally(runs: 2, successes: 2)], intervalWidth: { _ in 0 }))
        let plan = base.applying(round)
        let summaries = summarize(plan: plan, rows: [])
        #expect(summaries.map { $0.axisValue("steps") } == [.int(100), .int(300), .int(500)])
        let layout = HeatmapLayout(configuration, summaries)
        #expect(layout.columns == "steps" && layout.positioned == ["steps": false])
        // Centres at 100, 300, 500 on a linear scale: equal steps. Move the middle to 200.
        var moved = summaries
        moved[1].axes[0] = AxisSetting("steps", .int(200))
        let svg = renderSuccessPlotSVG(moved, layout: layout)
        func labelX(_ text: String) throws -> Double {
            let line = try #require(svg.split(separator: "\n").first { $0.hasSuffix(">\(text)</text>") && $0.contains("text-anchor=\"middle\">") })
            let start = try #require(line.range(of: "x=\""))
            return try #require(Double(line[start.upperBound...].prefix { $0 != "\"" }))
        }
        let (a, b, c) = (try labelX("100"), try labelX("200"), try labelX("500"))
        #expect(abs((b - a) / (c - a) - 0.25) < 1e-9, "200 sits a quarter of the way from 100 to 500")
    }

    @Test func legacyGridKeepsItsLayout() throws {
        let plan = try tablePlan()
        let summaries = summarize(plan: plan, rows: [])
        #expect(HeatmapLayout.choose(summaries) == HeatmapLayout(rows: "depth", columns: "width"))
        #expect(renderSuccessPlotSVG(summaries).contains(">λ = 0.01, σ_train = 0<"))
        #expect(renderCSV(summaries).hasPrefix("depth,width,lambda,noise,trials,"))
    }
}

private func * <T>(lhs: [T], rhs: Int) -> [T] { Array((0..<rhs).map { _ in lhs }.joined()) }
