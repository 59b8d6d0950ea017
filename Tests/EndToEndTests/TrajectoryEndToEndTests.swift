import Foundation
import Testing
import TrainingCore

/// `trajectories: 1` over a real sweep: exactly the first trial of each cell keeps its
/// trajectory, at the log-spaced steps, in the store.
@Suite struct TrajectoryEndToEndTests {
    @Test("a sweep with trajectories: 1 stores one log-spaced trajectory per cell, for trial 0, and no other")
    func onePerCell() throws {
        let directory = try makeTemporaryDirectory()
        try (tinySweepYAML + "\ntrajectories: 1\n").write(to: directory.appendingPathComponent("sweep.yaml"),
                                                         atomically: true, encoding: .utf8)
        let run = try DLSweepProcess(["run", "sweep.yaml", "--workers", "2", "--out", "out", "--progress", "none"],
                                     in: directory, label: "run")
        #expect(run.wait(seconds: 180) == 0, "\(run.stderr.suffix(3000))")
        let out = directory.appendingPathComponent("out")
        // 2 cells × 8 trials: tasks 0 and 8 are trial 0 of their cell.
        #expect(sqlite(out, "select group_concat(task_id) from (select task_id from trajectories order by task_id)") == "0,8")
        for taskID in [0, 8] {
            let text = sqlite(out, "select points from trajectories where task_id = \(taskID)")
            let columns = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let steps = try #require(columns["step"] as? [Int])
            // A fixed budget of 300 steps: the schedule, then the last step.
            #expect(steps == LogSchedule.steps(through: 300, density: 4) + [300], "\(steps)")
            for key in ["loss", "trainResidual", "reconstructionError", "offSubspaceError", "targetDistance",
                        "gradientNorm", "balancedness", "lossGap"] {
                let values = try #require(columns[key] as? [Double], "\(key) missing")
                #expect(values.count == steps.count && values.allSatisfy { $0.isFinite && $0 >= 0 }, "\(key)")
            }
            // The last point is the run's final state, as its row says.
            let stored = Double(sqlite(out, "select target_distance from results where task_id = \(taskID)")) ?? .nan
            let last = try #require((columns["targetDistance"] as? [Double])?.last)
            #expect(abs(last - stored) <= 1e-12 * max(1, stored), "\(last) vs \(stored)")
        }
    }
}
