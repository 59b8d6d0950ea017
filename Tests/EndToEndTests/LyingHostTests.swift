import Foundation
import Testing

/// Verification by replay over real sockets (issue 20): two hosts built from network
/// namespaces (cluster/netns/testbed.sh, each with its own host name), one worker on one of
/// them lying well. Needs root for `ip netns`; CI runs as root.
@Suite(.serialized)
struct LyingHostTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let testbed = repository.appendingPathComponent("cluster/netns/testbed.sh")
    static let liar = repository.appendingPathComponent("Tests/EndToEndTests/Support/lying_worker.py")

    /// Runs testbed.sh with `arguments` to the end.
    static func testbed(_ arguments: [String], id: String) throws -> Int32 {
        let process = Process()
        process.executableURL = testbed
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["DLSW_TESTBED_ID": id]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// `command` in host `index` under its own host name (a UTS namespace: `host-<index>`).
    static func onHost(_ index: Int, _ command: [String], in directory: URL, label: String, id: String) throws -> DLSweepProcess {
        try DLSweepProcess(
            ["exec", "\(index)", "unshare", "--uts", "sh", "-c", "hostname host-\(index) && exec \"$0\" \"$@\""] + command,
            in: directory, label: label, environment: ["DLSW_TESTBED_ID": id], executable: testbed)
    }

    @Test("a worker on one of two hosts sends finite, consistent, wrong results with verify on: it is quarantined, its rows replaced, and the table equals an undisturbed run's",
          .enabled(if: MultiHostTests.isRoot, "needs root to build network namespaces (ip netns); run the suite as root"))
    func lyingWorkerOnOneOfTwoHosts() async throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try tinySweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        let id = "v\(getpid() % 100_000)"
        #expect(try Self.testbed(["up", "3"], id: id) == 0, "could not build the test bed")
        defer { _ = try? Self.testbed(["down"], id: id) }
        let endpoint = "tcp://10.231.0.1:5555"
        let binary = DLSweepProcess.binary.path

        let coordinator = try Self.onHost(0, [binary, "coordinator", config, "--bind", endpoint, "--out", out.path,
                                              "--verify", "1", "--heartbeat", "0.5", "--worker-timeout", "5",
                                              "--progress", "lines"],
                                          in: directory, label: "coordinator", id: id)
        _ = try coordinator.coordinatorEndpoint(out: out)
        // The liar first, alone, so that it records results before anyone can check them.
        let liar = try Self.onHost(2, ["python3", Self.liar.path, endpoint, "--name", "liar", "--heartbeat", "0.5"],
                                   in: directory, label: "liar", id: id)
        #expect(DLSweepProcess.eventually(seconds: 60) { recordedCount(out) >= 1 },
                "the liar recorded nothing: \(liar.stderr.suffix(2000))\n\(coordinator.stderr.suffix(2000))")
        var honest: [DLSweepProcess] = []
        for (host, label) in [(1, "h1-w0"), (1, "h1-w1"), (2, "h2-w0")] {
            honest.append(try Self.onHost(host, [binary, "worker", "--connect", endpoint, "--heartbeat", "0.5",
                                                 "--reconnect-timeout", "30"],
                                          in: directory, label: label, id: id))
        }
        #expect(coordinator.wait(seconds: 240) == 0, "\(coordinator.stderr.suffix(4000))")
        for worker in honest { #expect(worker.wait(seconds: 30) == 0, "\(worker.stderr.suffix(2000))") }
        #expect(liar.wait(seconds: 30) == 4, "the liar was not refused: \(liar.stderr.suffix(2000))")
        #expect(liar.stderr.contains("refused: quarantined: its result for task"), "\(liar.stderr.suffix(2000))")

        // Every task has one row, none of them the liar's; its rows are kept aside.
        #expect(recordedCount(out) == 16)
        #expect(sqlite(out, "select count(*) from results where worker_id like 'liar-%'") == "0")
        let replaced = Int(sqlite(out, "select count(*) from replaced_results")) ?? 0
        #expect(replaced >= 1, "no row replaced")
        #expect(sqlite(out, "select count(*) from replaced_results where worker_id not like 'liar-%'") == "0")
        // Both honest hosts took part, by rows or by replays that agreed (which of them records
        // the rows depends on who asks first: a loaded machine may give host 1 all of them).
        #expect(sqlite(out, "select count(distinct host) from (select host from results union select host from peer_events where kind = 'verified')") == "2")
        #expect(sqlite(out, "select count(*) from peer_events where kind = 'quarantined' and worker_id like 'liar-%' and host = 'host-2'") == "1")
        #expect(Int(sqlite(out, "select count(*) from peer_events where kind = 'mismatch'")) ?? 0 >= 1)
        // With verify 1 every final row was replayed and agreed.
        #expect(sqlite(out, "select count(distinct task_id) from peer_events where kind = 'verified' and task_id in (select task_id from results)") == "16")
        let status = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: out.appendingPathComponent("status.json"))) as? [String: Any])
        let counters = try #require((status["status"] as? [String: Any])?["counters"] as? [String: Any])
        #expect((status["status"] as? [String: Any])?["replaysPending"] as? Int == 0)
        #expect(counters["quarantined"] as? Int == 1 && counters["replaced"] as? Int == replaced)
        #expect((counters["mismatched"] as? Int ?? 0) >= 1)
        #expect(coordinator.stderr.contains("quarantined worker liar-"))
        // Nothing waited for a lease to run out.
        #expect(counters["leasesExpired"] as? Int == 0 && counters["workersLost"] as? Int == 0)

        // The report's section on workers names the liar, its mismatches and its replaced rows.
        let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        for table in ["quarantine-table", "mismatch-table", "replaced-table"] {
            #expect(report.contains("id=\"\(table)\""), "report.html has no \(table)")
        }
        #expect(report.contains("Replays: ") && report.contains("<td>liar-"))
        // dlsweep status says it from the folder.
        let statusCommand = try DLSweepProcess(["status", out.path], in: directory, label: "status")
        #expect(statusCommand.wait(seconds: 60) == 0)
        #expect(statusCommand.stdout.contains("replays (the last session): 16 agreed"), "\(statusCommand.stdout)")
        // The table: a column of replays per cell, and otherwise an undisturbed run's.
        let cells = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: out.appendingPathComponent("table.json"))) as? [[String: Any]])
        #expect(cells.reduce(0) { $0 + ($1["replays_verified"] as? Int ?? -100) } == 16)
        #expect(cells.reduce(0) { $0 + ($1["replays_mismatched"] as? Int ?? -100) } >= 1)
        #expect(coordinator.stdout.contains("replays ok/differ"))
        let reference = try await ReferenceTables.shared.table(for: tinySweepYAML)
        let table = try deterministicTable(out).map { $0.filter { !$0.key.hasPrefix("replays_") } }
        #expect(table == reference, "table differs from an undisturbed run")
    }
}
