import Foundation
import ResultsStore
import SweepConfig
import Testing

/// A grid over a key other than depth, width, lambda and noise, end to end: `dlsweep run`
/// (coordinator and worker processes over tcp loopback), the store, the table and a replay.
@Suite struct AnyAxisEndToEndTests {
    @Test("a 1-D grid over init_scale: every worker run used its cell's scale (stored = replayed from the plan)")
    func initScaleGrid() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        let yaml = tinySweepYAML
            .replacingOccurrences(of: "  lambda: [0.0, 0.01]", with: "  lambda: [0.01]\n  init_scale: [0.01, 0.1, 1.0]")
            .replacingOccurrences(of: "trials: 8", with: "trials: 2")
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let sweep = try DLSweepProcess(["run", config, "--workers", "2", "--out", "out", "--progress", "none"],
                                       in: directory, label: "sweep")
        #expect(sweep.wait(seconds: 120) == 0, "\(sweep.stderr.suffix(2000))")
        #expect(sweep.stdout.contains("init_scale"), "the printed table has the axis: \(sweep.stdout.prefix(500))")

        let (store, _) = try ResultsStore.openExisting(directory: directory.appendingPathComponent("out").path)
        let rows = try store.rows()
        #expect(rows.count == 6)
        #expect(rows.map { $0[axis: "init_scale"] } == [0.01, 0.01, 0.1, 0.1, 1.0, 1.0].map { AxisValue.double($0) })
        // The scale changes the run: balancedness at the end differs between the scales.
        #expect(Set(rows.compactMap { $0.report?.balancedness }).count == 6)
        for task in [0, 3] {
            let stored = try #require(rows.first { $0.taskID == task }?.report)
            // A worker that ran with the default init_scale 1 would differ far above this.
            try expectReplay(task: task, in: directory,
                             matches: [("train_residual", stored.trainResidual), ("balancedness", try #require(stored.balancedness))])
        }
        let data = try Data(contentsOf: directory.appendingPathComponent("out/table.json"))
        let table = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(table.compactMap { ($0["init_scale"] as? NSNumber)?.doubleValue } == [0.01, 0.1, 1])
        #expect(table.map { $0["trials"] as? Int } == [2, 2, 2])
        let csv = try String(contentsOf: directory.appendingPathComponent("out/table.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("init_scale,depth,width,lambda,noise,trials,"))
        let svg = try String(contentsOf: directory.appendingPathComponent("out/success.svg"), encoding: .utf8)
        #expect(svg.contains(">init_scale<") && svg.contains(">0.01<"))
    }
}
