import Foundation
import Testing

/// The benchmark commands run end to end and print what they promise (their figures are
/// measurements, never checked against a speed).
@Suite(.serialized)
struct BenchCommandTests {
    @Test("bench dispatch --json: exactly the documented keys, every no-op task recorded by real worker processes")
    func dispatchJSON() throws {
        let directory = try makeTemporaryDirectory()
        let bench = try DLSweepProcess(["bench", "dispatch", "--tasks", "300", "--workers", "2", "--json"],
                                       in: directory, label: "bench-dispatch")
        #expect(bench.wait(seconds: 120) == 0, "\(bench.stderr.suffix(2000))")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["tasks", "workers", "tasks_per_second", "coordinator_us_per_task", "peak_rss_bytes"])
        #expect(object["tasks"] as? Int == 300)
        #expect(object["workers"] as? Int == 2)
        #expect((object["tasks_per_second"] as? Double ?? 0) > 0)
        #expect((object["peak_rss_bytes"] as? Int ?? 0) > 0)
    }

    @Test("bench overhead --tasks: sleep runs on worker processes, the task time summed against the wall time")
    func overhead() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sleep.yaml").path
        try """
            model: sleep
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
            trials: 6
            training: {steps: 1, sleep_seconds: 0.05}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        // --tasks replaces the config's six trials.
        let bench = try DLSweepProcess(["bench", "overhead", config, "--workers", "2", "--tasks", "8"], in: directory,
                                       label: "bench-overhead")
        #expect(bench.wait(seconds: 120) == 0, "\(bench.stderr.suffix(2000))")
        // Eight runs of at least 0.05 s: at least 0.40 s of task time.
        let line = try #require(bench.stdout.split(separator: "\n").first { $0.hasPrefix("8 tasks on 2 worker processes: ") })
        let seconds = try #require(Double(line.split(separator: " ")[6]))
        #expect(seconds >= 0.4 - 1e-5)
        #expect(bench.stdout.contains("overhead: "))
        // Ray Tune's figure: against 8 x 0.05 s / 2 workers.
        #expect(bench.stdout.contains("wall time against the minimum (8 tasks x 0.05 s / 2 workers = 0.20 s): "))

        let uneven = try DLSweepProcess(["bench", "overhead", config, "--tasks", "0"], in: directory, label: "bench-overhead-0")
        #expect(uneven.wait(seconds: 60) != 0)
        #expect(uneven.stderr.contains("--tasks 0"))
    }
}
