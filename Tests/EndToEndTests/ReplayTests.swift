import Foundation
import ResultsStore
import Testing

/// `dlsweep train --from DIR --task N`: one task of a finished sweep, replayed exactly.
@Suite struct ReplayTests {
    @Test("item 11: a replayed task gives the stored metrics to 1e-12, with a trajectory on request")
    func replayTask() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try tinySweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let sweep = try DLSweepProcess(["run", config, "--workers", "1", "--out", "out", "--progress", "none"],
                                       in: directory, label: "sweep")
        #expect(sweep.wait(seconds: 120) == 0, "\(sweep.stderr.suffix(2000))")
        let (store, _) = try ResultsStore.openExisting(directory: directory.appendingPathComponent("out").path)
        let rows = try store.rows()
        for task in [0, 13] {
            let stored = try #require(rows.first { $0.taskID == task }?.report)
            let columns: [(String, Double)] = [
                ("reconstruction_error", try #require(stored.reconstructionError)),
                ("off_subspace_error", try #require(stored.offSubspaceError)),
                ("train_residual", stored.trainResidual), ("oracle_distance", stored.oracleDistance),
                ("balancedness", try #require(stored.balancedness)),
            ]
            let object = try expectReplay(task: task, in: directory, matches: columns, arguments: ["--log-every", "50"])
            #expect(object["iterations"] as? Int == stored.iterations)
            #expect((object["trajectory"] as? [Any])?.count == 300 / 50 + 1)
        }
        let text = try DLSweepProcess(["train", "--from", "out", "--task", "5"], in: directory, label: "text")
        #expect(text.wait(seconds: 60) == 0)
        #expect(text.stdout.contains("task 5 of sweep 'tiny'"), "\(text.stdout)")
        let outside = try DLSweepProcess(["train", "--from", "out", "--task", "16"], in: directory, label: "outside")
        #expect(outside.wait(seconds: 30) != 0)
        #expect(outside.stderr.contains("0..<16"), "\(outside.stderr)")
    }

    @Test("an inertial sweep over ZeroMQ: the workers got alpha and beta (stored = replayed from the plan)")
    func inertialSweepCarriesDamping() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        let yaml = tinySweepYAML.replacingOccurrences(
            of: "training: {steps: 300, eta_scale: 0.5, stop_on_success: false}",
            with: "training: {steps: 300, eta_scale: 0.05, stop_on_success: false, optimizer: inertial, alpha: 2.5, beta: 0.02}")
        #expect(yaml.contains("optimizer: inertial"))
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let sweep = try DLSweepProcess(["run", config, "--workers", "1", "--out", "out", "--progress", "none"],
                                       in: directory, label: "sweep")
        #expect(sweep.wait(seconds: 120) == 0, "\(sweep.stderr.suffix(2000))")
        let (store, _) = try ResultsStore.openExisting(directory: directory.appendingPathComponent("out").path)
        let rows = try store.rows()
        for task in [0, 13] {
            let stored = try #require(rows.first { $0.taskID == task }?.report)
            #expect(!stored.diverged)
            // A worker that ran with the default alpha 1 or beta 0 would differ far above this.
            try expectReplay(task: task, in: directory,
                             matches: [("train_residual", stored.trainResidual), ("balancedness", try #require(stored.balancedness))])
        }
    }
}
