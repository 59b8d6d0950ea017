import Foundation
import ResultsStore
import Testing

/// The real binary: a coordinator and workers over tcp loopback.
@Suite(.serialized)
struct SweepEndToEndTests {
    private func writeConfig(_ text: String = smallSweepYAML, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("sweep.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs a coordinator on a free loopback port with `workers` worker processes.
    private func runDistributed(workers: Int, in directory: URL, out: String) throws -> (Int32?, String) {
        let config = try writeConfig(in: directory)
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", out, "--progress", "lines"],
            in: directory, label: "coordinator-\(out)")
        let addressFile = directory.appendingPathComponent(out).appendingPathComponent("coordinator.address")
        #expect(DLSweepProcess.eventually(seconds: 20) { FileManager.default.fileExists(atPath: addressFile.path) })
        let endpoint = try String(contentsOf: addressFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let pool = try (0..<workers).map {
            try DLSweepProcess(["worker", "--connect", endpoint], in: directory, label: "worker\($0)-\(out)")
        }
        let status = coordinator.wait(seconds: 120)
        for worker in pool {
            #expect(worker.wait(seconds: 20) == 0, "worker did not exit cleanly: \(worker.stderr.suffix(2000))")
        }
        return (status, coordinator.stdout + coordinator.stderr)
    }

    @Test("two workers over tcp finish the sweep with the same table as one worker, one row per task")
    func twoWorkersMatchOneWorker() throws {
        let directory = try makeTemporaryDirectory()
        let (twoStatus, twoOutput) = try runDistributed(workers: 2, in: directory, out: "two")
        #expect(twoStatus == 0, "coordinator failed:\n\(twoOutput.suffix(3000))")
        let (oneStatus, oneOutput) = try runDistributed(workers: 1, in: directory, out: "one")
        #expect(oneStatus == 0, "coordinator failed:\n\(oneOutput.suffix(3000))")

        let two = try deterministicTable(directory.appendingPathComponent("two"))
        let one = try deterministicTable(directory.appendingPathComponent("one"))
        #expect(two.count == 8)
        #expect(two == one)
        #expect(twoOutput.contains("depth"), "the table is printed")

        let (store, _) = try ResultsStore.openExisting(directory: directory.appendingPathComponent("two").path)
        let rows = try store.rows()
        #expect(rows.count == 24)
        #expect(Set(rows.map(\.taskID)).count == 24)
        for file in ["table.csv", "table.json", "table.md", "success.svg"] {
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("two/\(file)").path), "\(file)")
        }
    }

    @Test("dlsweep run: the embedded coordinator with local worker processes")
    func embeddedRun() throws {
        let directory = try makeTemporaryDirectory()
        let config = try writeConfig(in: directory)
        let run = try DLSweepProcess(["run", config, "--workers", "2", "--out", "embedded", "--progress", "none"],
                                     in: directory, label: "run")
        #expect(run.wait(seconds: 120) == 0, "\(run.stderr.suffix(3000))")
        #expect(run.stdout.contains("depth"))
        let (store, _) = try ResultsStore.openExisting(directory: directory.appendingPathComponent("embedded").path)
        #expect(try store.rows().count == 24)

        // `dlsweep table DIR` rebuilds the same table from the database alone.
        let table = try DLSweepProcess(["table", "embedded", "--format", "csv"], in: directory, label: "table")
        #expect(table.wait(seconds: 30) == 0, "\(table.stderr)")
        let written = try String(contentsOf: directory.appendingPathComponent("embedded/table.csv"), encoding: .utf8)
        #expect(table.stdout == written)
        let missing = try DLSweepProcess(["table", "nowhere"], in: directory, label: "table-missing")
        #expect(missing.wait(seconds: 30) != 0)
        #expect(missing.stderr.contains("nowhere"), "\(missing.stderr)")
    }

    @Test("the table's headline: noisy cells with weight decay converge, λ = 0 converges without recovering")
    func outcomeRates() throws {
        let directory = try makeTemporaryDirectory()
        let config = try writeConfig("""
            name: outcomes
            seed: 3
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
            grid:
              depth: [2, 3]
              lambda: [0.0, 0.1]
              noise: [0.0, 0.05]
            trials: 2
            training: {width: 8, steps: auto, max_steps: 8000, eta_scale: 0.5, stop_on_success: true}
            success: recovered
            test_noise: [0.0, 0.1]
            """, in: directory)
        let run = try DLSweepProcess(["run", config, "--workers", "2", "--out", "outcomes", "--progress", "none"],
                                     in: directory, label: "outcomes")
        #expect(run.wait(seconds: 300) == 0, "\(run.stderr.suffix(3000))")
        #expect(run.stdout.contains("conv [95% CI]") && run.stdout.contains("rec [95% CI]"))
        let data = try Data(contentsOf: directory.appendingPathComponent("outcomes/table.json"))
        let cells = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(cells.count == 8)
        for cell in cells {
            let lambda = try #require(cell["lambda"] as? Double), noise = try #require(cell["noise"] as? Double)
            let converged = try #require(cell["converged"] as? Int), recovered = try #require(cell["recovered"] as? Int)
            #expect(cell["convergence_ci_low"] is Double && cell["recovery_ci_high"] is Double)
            if lambda > 0 {
                #expect(converged > 0, "cell λ=\(lambda) σ=\(noise): \(cell)")
            } else if noise == 0 {
                // Gradient descent reaches the interpolant, which keeps its off-subspace part.
                #expect(converged == 2 && recovered == 0, "\(cell)")
            }
            if lambda > 0 && noise == 0 { #expect(recovered == 2, "\(cell)") }
            // With training noise the minimizer fits the noise: converged, never recovered.
            if noise > 0 { #expect(recovered == 0, "\(cell)") }
            if lambda == 0 && noise > 0 { #expect(try #require(cell["budget"] as? Int) == 2, "\(cell)") }
        }
        let svg = try String(contentsOf: directory.appendingPathComponent("outcomes/success.svg"), encoding: .utf8)
        #expect(svg.contains("recovered rate"))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("outcomes/noise.svg").path))
        // The end of a sweep also writes its report, showing both outcomes.
        let report = try String(contentsOf: directory.appendingPathComponent("outcomes/report.html"), encoding: .utf8)
        #expect(report.contains("16 of 16 tasks recorded"), "\(report.prefix(2000))")
    }

    @Test("a config error names the file, the key and the line, and exits non-zero")
    func configError() throws {
        let directory = try makeTemporaryDirectory()
        let bad = smallSweepYAML.replacingOccurrences(of: "  width: [8, 16]", with: "  widht: [8, 16]")
        let config = try writeConfig(bad, in: directory)
        let run = try DLSweepProcess(["run", config, "--workers", "1", "--out", "bad"], in: directory, label: "bad")
        let status = run.wait(seconds: 30)
        #expect(status != 0)
        #expect(run.stderr.contains("sweep.yaml"), "\(run.stderr)")
        #expect(run.stderr.contains("widht"), "\(run.stderr)")
        #expect(run.stderr.contains(":6"), "line number: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("bad/results.sqlite").path))
    }

    @Test("a worker started against nothing keeps retrying, says so, and gives up after --reconnect-timeout")
    func workerAgainstNothing() throws {
        let directory = try makeTemporaryDirectory()
        let worker = try DLSweepProcess(
            ["worker", "--connect", "tcp://127.0.0.1:1", "--reconnect-timeout", "12"], in: directory, label: "lonely")
        let status = worker.wait(seconds: 40)
        #expect(status != nil && status != 0)
        #expect(worker.stderr.contains("still retrying"), "\(worker.stderr)")
        #expect(worker.stderr.contains("giving up"), "\(worker.stderr)")
    }

    @Test("a coordinator with no workers waits and says so; SIGTERM stops it cleanly")
    func coordinatorWithoutWorkers() throws {
        let directory = try makeTemporaryDirectory()
        let config = try writeConfig(in: directory)
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "idle", "--idle-notice", "1"],
            in: directory, label: "idle")
        #expect(DLSweepProcess.eventually(seconds: 20) { coordinator.stderr.contains("waiting for workers") },
                "\(coordinator.stderr)")
        coordinator.signal(SIGTERM)
        let status = coordinator.wait(seconds: 20)
        #expect(status != nil && status != 0, "an unfinished sweep exits non-zero")
        #expect(coordinator.stderr.contains("resume"), "\(coordinator.stderr)")
    }
}

/// Sweeps of the synthetic model kinds go through real workers and the store like any other.
@Suite(.serialized)
struct SyntheticSweepTests {
    @Test("dlsweep run with model noop and model sleep: every task recorded, sleeps at least their length")
    func noopAndSleepSweeps() throws {
        let directory = try makeTemporaryDirectory()
        for (kind, extra) in [("noop", ""), ("sleep", ", sleep_seconds: 0.02")] {
            let yaml = "model: \(kind)\n" + smallSweepYAML.replacingOccurrences(
                of: "stop_on_success: true}", with: "stop_on_success: true\(extra)}")
            let config = directory.appendingPathComponent("\(kind).yaml").path
            try yaml.write(toFile: config, atomically: true, encoding: .utf8)
            let run = try DLSweepProcess(["run", config, "--workers", "2", "--out", kind, "--progress", "none"],
                                         in: directory, label: "run-\(kind)")
            #expect(run.wait(seconds: 120) == 0, "\(run.stderr.suffix(3000))")
            let (store, _) = try ResultsStore.openExisting(directory: directory.appendingPathComponent(kind).path)
            let rows = try store.rows()
            #expect(rows.count == 24)
            #expect(rows.allSatisfy { $0.status == .ok && $0.report?.iterations == 0 })
            if kind == "sleep" {
                #expect(rows.allSatisfy { ($0.report?.trainSeconds ?? 0) >= 0.02 - 1e-6 })
            }
        }
    }
}
