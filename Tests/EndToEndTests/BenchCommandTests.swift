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

    @Test("bench core --numpy: each kernel variant's step against its FMA peak, and the NumPy anchor in alternating rounds with their median")
    func core() throws {
        let directory = try makeTemporaryDirectory()
        let bench = try DLSweepProcess(["bench", "core", "--steps", "3000", "--depth", "3", "--width", "40", "--noise", "0",
                                        "--numpy", "--numpy-rounds", "2"], in: directory, label: "bench-core")
        #expect(bench.wait(seconds: 300) == 0, "\(bench.stderr.suffix(2000)) (numpy and scipy: bash scripts/setup.sh)")
        let lines = bench.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("reduced ") && $0.contains("of the") && $0.contains("peak)") })
        let rounds = try #require(lines.first { $0.hasPrefix("numpy reduced step (SciPy dgemm in place") })
        #expect(rounds.contains("2 rounds alternating with the reduced step"))
        // Two ratios and their median, each numpy's time over the reduced step's in its round.
        let speedUps = try #require(lines.first { $0.hasPrefix("reduced path speed-up over the numpy reduced step: ") })
        let figures = speedUps.split(whereSeparator: { " ,()x".contains($0) }).compactMap { Double($0) }
        #expect(figures.count == 3 && figures.allSatisfy { $0 > 0 }, "\(speedUps)")
        if figures.count == 3 { #expect(figures[2] == figures.prefix(2).max()) }  // the upper median of two

        let none = try DLSweepProcess(["bench", "core", "--numpy-rounds", "0"], in: directory, label: "bench-core-0")
        #expect(none.wait(seconds: 60) != 0)
        #expect(none.stderr.contains("--numpy-rounds must be at least 1, got 0"))
    }
}
