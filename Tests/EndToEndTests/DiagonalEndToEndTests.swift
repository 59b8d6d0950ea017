import Foundation
import ResultsStore
import SweepConfig
import Testing

/// A diagonal-network sweep over depth and init_scale, end to end: `dlsweep run` (coordinator
/// and worker processes over tcp loopback), the store with its support column, diagonal.svg,
/// report.html and a replay of a stored task.
@Suite struct DiagonalEndToEndTests {
    static let yaml = """
        name: diagonal-test
        seed: 1
        model: diagonal
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2}
        grid:
          depth: [2, 3]
          init_scale: [0.4, 0.2]
        trials: 1
        training: {steps: 400000, eta_scale: 1, check_every: 50, stop_on_success: true}
        success: {measure: converged, tol_conv: 1.0e-5, tol_rec: 0.05}
        """

    @Test("a depth x init_scale diagonal sweep: every run converged, nearer the l1 solution at the smaller scale; diagonal.svg with slopes")
    func diagonalSweep() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("diagonal.yaml").path
        try Self.yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let sweep = try DLSweepProcess(["run", config, "--workers", "2", "--out", "out", "--progress", "none"],
                                       in: directory, label: "sweep")
        #expect(sweep.wait(seconds: 180) == 0, "\(sweep.stderr.suffix(2000))")

        let (store, _) = try ResultsStore.openExisting(directory: directory.appendingPathComponent("out").path)
        let rows = try store.rows()
        #expect(rows.count == 4)
        #expect(rows.allSatisfy { $0.status == .ok && $0.report?.converged == true && $0.report?.supportRecovered != nil })
        for depth in [2, 3] {
            func distance(_ alpha: Double) -> Double? {
                rows.first { $0[axis: "depth"] == .int(depth) && $0[axis: "init_scale"] == .double(alpha) }?.report?.targetDistance
            }
            let large = try #require(distance(0.4)), small = try #require(distance(0.2))
            #expect(small < large, "depth \(depth): distance \(small) at 0.2, \(large) at 0.4")
        }
        let svg = try String(contentsOf: directory.appendingPathComponent("out/diagonal.svg"), encoding: .utf8)
        #expect(svg.contains("D = 2: slope ") && svg.contains("D = 3: slope "), "\(svg.suffix(800))")
        let html = try String(contentsOf: directory.appendingPathComponent("out/report.html"), encoding: .utf8)
        #expect(html.contains("Distance to the minimum-ℓ1 solution"))

        // The worker's run is the spec's: a replay from the plan gives the stored distance.
        let stored = try #require(rows.first { $0.taskID == 3 }?.report)
        let replay = try DLSweepProcess(["train", "--from", "out", "--task", "3", "--json"], in: directory, label: "replay")
        #expect(replay.wait(seconds: 60) == 0, "\(replay.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any])
        let replayed = try #require((object["target_distance"] as? NSNumber)?.doubleValue)
        #expect(abs(replayed - stored.targetDistance) <= 1e-12 * stored.targetDistance)
        #expect(object["support_recovered"] as? Bool == stored.supportRecovered)
    }

    /// A folder that an older version started from a diagonal config setting `samples` (which
    /// it ignored, and which is an error now), half done: stored as that version stored it.
    static let older = """
        name: diagonal-older
        seed: 1
        model: diagonal
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
        grid:
          init_scale: [0.4, 0.2]
        trials: 1
        training: {steps: 2000, eta_scale: 1, check_every: 50}
        """

    @Test("an older version's diagonal folder whose config sets samples: the same command resumes it and table opens it, naming the ignored key; a new folder is refused")
    func olderFolderWithIgnoredKey() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("older.yaml").path
        try Self.older.write(toFile: config, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        _ = try writeSyntheticStore(directory: out, yaml: Self.older, tasks: 0..<1, storedSweep: true) { _ in
            syntheticReport(converged: true, testError: [0], oracleTestError: [0])
        }
        let note = "problem.samples: ignored: applies to the deep-linear model, not diagonal (docs/MODEL.md §5)"

        let resume = try DLSweepProcess(["run", config, "--workers", "1", "--out", "out", "--progress", "none"], in: directory, label: "resume")
        #expect(resume.wait(seconds: 120) == 0, "\(resume.stderr.suffix(2000))")
        #expect(resume.stderr.contains("older.yaml:4: \(note)"), "\(resume.stderr.suffix(2000))")
        let (store, stored) = try ResultsStore.openExisting(directory: out.path)
        #expect(stored.ignoredSettings == ["\(out.path)/results.sqlite (sweep_meta.config_yaml):4: \(note)"])
        let rows = try store.rows()
        #expect(rows.count == 2 && rows.allSatisfy { $0.status == .ok })
        // The resumed task ran the diagonal network (its support size is the diagonal's field).
        #expect(rows.first { $0.taskID == 1 }?.report?.supportSize != nil)

        let table = try DLSweepProcess(["table", "out"], in: directory, label: "table")
        #expect(table.wait(seconds: 60) == 0, "\(table.stderr)")
        #expect(table.stdout.contains("2 of 2 tasks recorded"), "\(table.stdout)")
        #expect(table.stderr.contains("note: ") && table.stderr.contains(note), "\(table.stderr)")

        let fresh = try DLSweepProcess(["run", config, "--workers", "1", "--out", "fresh", "--progress", "none"], in: directory, label: "fresh")
        #expect(fresh.wait(seconds: 60) != 0)
        #expect(fresh.stderr.contains("older.yaml:4: problem.samples: applies to the deep-linear model, not diagonal (docs/MODEL.md §5): remove it"),
                "\(fresh.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("fresh").path))
    }
}
