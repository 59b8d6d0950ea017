import Foundation
import Testing

/// `dlsweep status DIR` on a running sweep (a coordinator and a worker over tcp loopback), the
/// same sweep stopped, a finished one, and a folder that is not a sweep.
@Suite(.serialized) struct StatusCommandTests {
    /// 40 tasks of one second each: long enough to be seen running.
    static let slowYAML = """
        name: status-slow
        model: sleep
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
        trials: 40
        training: {steps: 1, sleep_seconds: 1}
        test_noise: [0.0]
        """

    static func status(_ directory: URL, label: String = "status") throws -> [String: Any] {
        let command = try DLSweepProcess(["status", "out", "--json"], in: directory, label: label)
        #expect(command.wait(seconds: 60) == 0, "\(command.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(command.stdout.utf8)) as? [String: Any])
    }

    static func number(_ object: [String: Any], _ key: String) -> Double? { (object[key] as? NSNumber)?.doubleValue }

    @Test("a running sweep: its coordinator and address, the connected worker and its host, done, rate and ETA; then stopped")
    func runningThenStopped() throws {
        let directory = try makeTemporaryDirectory()
        try Self.slowYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(["coordinator", "sweep.yaml", "--bind", "tcp://127.0.0.1:*", "--out", "out",
                                              "--progress", "none"], in: directory, label: "coordinator")
        defer { coordinator.signal(SIGKILL); coordinator.wait(seconds: 30) }
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))
        let worker = try DLSweepProcess(["worker", "--connect", endpoint, "--name", "w1"], in: directory, label: "worker")
        defer { worker.signal(SIGKILL); worker.wait(seconds: 30) }

        // The status file is rewritten every 2 s: wait for one that shows the worker and a result.
        var running: [String: Any] = [:]
        let seen = DLSweepProcess.eventually(seconds: 60) {
            guard let found = try? Self.status(directory, label: "poll") else { return false }
            running = found
            return Self.number(found, "workers") == 1 && (Self.number(found, "done") ?? 0) >= 2
                && found["rateSource"] as? String == "coordinator"
        }
        #expect(seen, "\(running)")
        #expect(running["state"] as? String == "running")
        let owner = try #require(running["owner"] as? [String: Any])
        #expect(owner["running"] as? Bool == true && owner["address"] as? String == endpoint, "\(owner)")
        #expect(Self.number(running, "tasks") == 40)
        #expect((Self.number(running, "tasksPerSecond") ?? 0) > 0 && (Self.number(running, "etaSeconds") ?? 0) > 0)
        let hosts = try #require(running["hosts"] as? [[String: Any]])
        #expect(hosts.count == 1 && Self.number(hosts[0], "workers") == 1, "\(hosts)")
        let rounds = try #require(running["rounds"] as? [[String: Any]])
        #expect(rounds.count == 1 && Self.number(rounds[0], "tasks") == 40)

        // The text names the same.
        let text = try DLSweepProcess(["status", "out"], in: directory, label: "text")
        #expect(text.wait(seconds: 60) == 0)
        #expect(text.stdout.contains("running") && text.stdout.contains("workers connect to \(endpoint)") && text.stdout.contains("ETA"),
                "\(text.stdout)")

        coordinator.signal(SIGTERM)
        #expect(coordinator.wait(seconds: 60) != nil)
        let stopped = try Self.status(directory, label: "stopped")
        #expect(stopped["state"] as? String == "stopped", "\(stopped)")
        #expect((stopped["owner"] as? [String: Any])?["running"] as? Bool == false)
        #expect(stopped["workers"] == nil || stopped["workers"] is NSNull)
        let done = Self.number(stopped, "done") ?? 0
        #expect(done >= 2 && done < 40)
        #expect(stopped["counters"] is [String: Any], "the last session's counters: \(stopped)")
    }

    @Test("a finished sweep: complete, every task done, no coordinator; a folder that is not a sweep: one line")
    func finishedAndNotASweep() throws {
        let directory = try makeTemporaryDirectory()
        try smallSweepYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let run = try DLSweepProcess(["run", "sweep.yaml", "--workers", "2", "--out", "out", "--progress", "none"], in: directory, label: "run")
        #expect(run.wait(seconds: 180) == 0, "\(run.stderr.suffix(2000))")
        let finished = try Self.status(directory)
        #expect(finished["state"] as? String == "complete", "\(finished)")
        #expect(Self.number(finished, "done") == 24 && Self.number(finished, "tasks") == 24 && Self.number(finished, "failed") == 0)
        #expect((finished["owner"] as? [String: Any])?["running"] as? Bool == false)
        #expect((Self.number(finished, "tasksPerSecond") ?? 0) > 0 && finished["rateSource"] as? String == "store")
        #expect(finished["etaSeconds"] == nil || finished["etaSeconds"] is NSNull)

        let missing = try DLSweepProcess(["status", "nowhere"], in: directory, label: "missing")
        #expect(missing.wait(seconds: 60) != 0)
        #expect(missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("nowhere: no results database"), "\(missing.stderr)")
    }
}
