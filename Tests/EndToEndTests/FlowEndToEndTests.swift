import Foundation
import ResultsStore
import Testing

/// `optimizer: flow` as a sweep: coordinator and worker processes over ZeroMQ (tcp loopback),
/// the store's dynamics columns, the table and a replay.
@Suite struct FlowEndToEndTests {
    @Test("a flow sweep over ZeroMQ: each worker integrated to its cell's tolerance and horizon, with the dynamics stored")
    func flowSweep() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        let yaml = tinySweepYAML
            .replacingOccurrences(of: "  lambda: [0.0, 0.01]", with: "  lambda: [0.0, 0.01]\n  flow_rtol: [1.0e-5, 1.0e-9]")
            .replacingOccurrences(of: "trials: 8", with: "trials: 2")
            .replacingOccurrences(of: "training: {steps: 300, eta_scale: 0.5, stop_on_success: false}",
                                  with: "training: {optimizer: flow, flow_atol: 1.0e-9, flow_time: 20, log_every: 50}")
        #expect(yaml.contains("optimizer: flow") && yaml.contains("flow_rtol: [1.0e-5, 1.0e-9]"))
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let sweep = try DLSweepProcess(["run", config, "--workers", "2", "--out", "out", "--progress", "none"],
                                       in: directory, label: "sweep")
        #expect(sweep.wait(seconds: 120) == 0, "\(sweep.stderr.suffix(2000))")

        let (store, _) = try ResultsStore.openExisting(directory: directory.appendingPathComponent("out").path)
        let rows = try store.rows()
        #expect(rows.count == 8)
        let reports = try rows.map { try #require($0.report, "task \($0.taskID): \($0.failureReason ?? "")") }
        for (row, report) in zip(rows, reports) {
            #expect(report.flowTime == 20 && report.iterations == report.stepBudget && !report.diverged)
            // Without weight decay the flow conserves balancedness (with it, B_l decays as e^(-2 lambda t)).
            let drift = try #require(report.balancednessDrift)
            if row[axis: "lambda"] == .double(0) { #expect(drift < 1e-4 * (report.balancedness ?? 0), "task \(row.taskID)") }
            #expect(report.bestRankGap != nil)
        }
        // rtol 1e-9 (tasks 4-7) takes more accepted steps than 1e-5 (tasks 0-3) on the same cell.
        for task in 0..<4 { #expect(reports[task + 4].iterations > reports[task].iterations, "task \(task)") }
        for task in [1, 6] {
            let stored = reports[task]
            let object = try expectReplay(task: task, in: directory, matches: [
                ("train_residual", stored.trainResidual), ("balancedness_drift", stored.balancednessDrift ?? .nan),
                ("best_rank_gap", stored.bestRankGap ?? .nan),
            ])
            #expect(object["iterations"] as? Int == stored.iterations)
        }
        let data = try Data(contentsOf: directory.appendingPathComponent("out/table.json"))
        let table = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(table.count == 4)
        for cell in table {
            #expect((cell["median_flow_time"] as? NSNumber)?.doubleValue == 20)
            #expect(cell["median_best_rank_gap"] is NSNumber && cell["median_balancedness_drift"] is NSNumber)
        }
    }
}
