import Foundation
import Testing

/// A coordinator at its connection limit says so, refuses the next worker (which says why and
/// exits), and keeps serving the ones it has.
@Suite struct ConnectionLimitEndToEndTests {
    @Test("started with a soft open-file limit of 256 it raises it; with --max-workers 1 the second worker is refused")
    func refusedAtLimit() async throws {
        let directory = try makeTemporaryDirectory()
        try smallSweepYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        // As on a cluster node whose default soft limit is low: the coordinator lifts its own.
        let coordinator = try underOpenFileLimit(
            "-Sn 256",
            ["coordinator", "sweep.yaml", "--bind", "tcp://127.0.0.1:*", "--out", "out", "--progress", "none",
             "--heartbeat", "0.25", "--worker-timeout", "2", "--max-workers", "1"],
            in: directory, label: "coordinator")
        var stderr: String { coordinator.stderr }
        let out = directory.appendingPathComponent("out")
        let endpoint = try coordinator.coordinatorEndpoint(out: out)
        var hard = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &hard)
        if hard.rlim_max > 256 {
            #expect(stderr.contains("open-file limit raised from 256 to "), "\(stderr)")
        }
        #expect(stderr.contains("worker connections") && stderr.contains("--max-workers 1"), "\(stderr)")

        let first = try DLSweepProcess(["worker", "--connect", endpoint, "--heartbeat", "0.25"], in: directory, label: "first")
        #expect(DLSweepProcess.eventually(seconds: 30) { stderr.contains(" joined from ") }, "\(stderr)")
        let second = try DLSweepProcess(["worker", "--connect", endpoint, "--heartbeat", "0.25"], in: directory, label: "second")
        #expect(second.wait(seconds: 30) == 4, "\(second.stderr)")
        #expect(second.stderr.contains("coordinator refused this worker: the coordinator holds its limit of 1 worker connections"),
                "\(second.stderr)")
        #expect(stderr.contains("at the limit of 1 worker connections (--max-workers); 1 refused so far"), "\(stderr)")

        #expect(first.wait(seconds: 120) == 0, "\(first.stderr.suffix(2000))")
        #expect(coordinator.wait(seconds: 30) == 0, "\(stderr.suffix(2000))")
        let reference = try await ReferenceTables.shared.table(for: smallSweepYAML)
        #expect(try deterministicTable(out) == reference, "final table differs from an undisturbed run")
    }
}

/// `dlsweep arguments…` started by a shell that first sets `ulimit options` (e.g. "-Sn 256"):
/// the open-file limits a cluster node may give.
func underOpenFileLimit(_ options: String, _ arguments: [String], in directory: URL, label: String) throws -> DLSweepProcess {
    try DLSweepProcess(["-c", "ulimit \(options) && exec \"$0\" \"$@\"", DLSweepProcess.binary.path] + arguments,
                       in: directory, label: label, executable: URL(fileURLWithPath: "/bin/sh"))
}
