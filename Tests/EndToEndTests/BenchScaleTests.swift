import Foundation
import Testing

/// `bench coordinator` with its workers in driver processes: it measures what it promises,
/// and a driver that cannot run stops it with the reason instead of leaving it waiting.
@Suite(.serialized)
struct BenchScaleTests {
    @Test("bench coordinator with driver processes: registration, heartbeat cost, a killed driver noticed, a SIGTERM timed")
    func driverProcesses() throws {
        let directory = try makeTemporaryDirectory()
        let bench = try DLSweepProcess(
            ["bench", "coordinator", "--workers", "40", "--driver-processes", "2", "--threads", "1", "--tasks", "100000",
             "--heartbeat", "0.5", "--worker-timeout", "2", "--hold", "3", "--kill-driver-at", "0.2", "--stop-at", "0.6"],
            in: directory, label: "bench-scale")
        #expect(bench.wait(seconds: 300) == 0, "\(bench.stderr.suffix(2000))")
        let out = bench.stdout
        #expect(out.contains("40 worker connections on 1 threads in each of 2 driver processes"), "\(out)")
        #expect(out.contains("(the coordinator's process alone)"), "\(out)")
        #expect(out.contains("all 40 workers registered"), "\(out)")
        #expect(out.contains("µs of coordinator CPU per heartbeat"), "\(out)")
        // Half the workers die with their driver; the coordinator drops all 20 and re-queues their tasks.
        let killed = try #require(out.split(separator: "\n").first { $0.hasPrefix("a driver process of 20 workers SIGKILLed") },
                                  "\(out)")
        #expect(killed.contains("all 20 after") && killed.contains("(worker timeout 2 s)"), "\(killed)")
        #expect(out.contains("with all 40 connections: "), "\(out)")
        #expect(out.contains("SIGTERM to run() returning, with 40 connections: "), "\(out)")
        #expect(out.contains("complete: no"), "stopped at 60%: \(out)")
    }

    @Test("a driver process that cannot open its connections stops the bench with the reason")
    func driverFails() throws {
        let directory = try makeTemporaryDirectory()
        // 2,000 workers need about 4,000 descriptors in one driver: more than a limit of 1,024.
        let bench = try underOpenFileLimit(
            "-n 1024", ["bench", "coordinator", "--workers", "2000", "--driver-processes", "1", "--tasks", "2000"],
            in: directory, label: "bench")
        let status = bench.wait(seconds: 120)
        #expect(status != nil && status != 0, "\(bench.stderr)")
        let stderr = bench.stderr
        #expect(stderr.contains("the lightweight workers failed") && stderr.contains("use more --driver-processes"), "\(stderr)")
    }
}
