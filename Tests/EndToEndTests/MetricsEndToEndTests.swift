import Foundation
import Testing

/// `/metrics` of a running sweep (a coordinator and a worker over tcp loopback, the live view
/// over HTTP), parsed by Prometheus' Python client (`scripts/parse_metrics.py`).
@Suite struct MetricsEndToEndTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/parse_metrics.py").path

    /// sample name → value, for samples without labels; nil when the parser is not installed.
    static func parse(_ text: Data, in directory: URL) throws -> (values: [String: Double], families: [String: [String: Any]])? {
        let input = directory.appendingPathComponent("metrics.txt"), output = directory.appendingPathComponent("metrics.json")
        try text.write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "python3 \"$0\" < \"$1\" > \"$2\"", script, input.path, output.path]
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus == 3 { return nil }
        try #require(process.terminationStatus == 0, "parse_metrics.py refused /metrics")
        let families = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: [String: Any]])
        var values: [String: Double] = [:]
        for family in families.values {
            for sample in family["samples"] as? [[String: Any]] ?? [] where (sample["labels"] as? [String: String])?.isEmpty ?? true {
                if let name = sample["name"] as? String, let value = (sample["value"] as? NSNumber)?.doubleValue { values[name] = value }
            }
        }
        return (values, families)
    }

    @Test("a running sweep's /metrics parses with prometheus_client and agrees with /status.json")
    func metricsDuringSweep() throws {
        let directory = try makeTemporaryDirectory()
        try StatusCommandTests.slowYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(["coordinator", "sweep.yaml", "--bind", "tcp://127.0.0.1:*", "--out", "out", "--http", "0",
                                              "--progress", "none"], in: directory, label: "coordinator")
        defer { coordinator.signal(SIGKILL); coordinator.wait(seconds: 30) }
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))
        let base = try LiveViewTests.liveURL(coordinator)
        let worker = try DLSweepProcess(["worker", "--connect", endpoint, "--name", "w1"], in: directory, label: "worker")
        defer { worker.signal(SIGKILL); worker.wait(seconds: 30) }

        var parsed: (values: [String: Double], families: [String: [String: Any]])?
        var headers = ""
        let progressed = DLSweepProcess.eventually(seconds: 60) {
            guard let (status, head, body) = try? plainHTTP(base + "metrics"), status == 200 else { return false }
            headers = head
            parsed = try? Self.parse(body, in: directory)
            return parsed == nil || (parsed?.values["dlsweep_tasks_done"] ?? 0) >= 2
        }
        try #require(parsed != nil, "needs Python's prometheus_client: run bash scripts/setup.sh (CI does)")
        #expect(progressed, "\(parsed?.values ?? [:])")
        let values = try #require(parsed?.values), families = try #require(parsed?.families)
        #expect(headers.lowercased().contains("content-type: text/plain; version=0.0.4"), "\(headers)")
        #expect(values["dlsweep_tasks"] == 40 && values["dlsweep_workers"] == 1)
        #expect((values["dlsweep_tasks_per_second"] ?? 0) > 0 && (values["dlsweep_eta_seconds"] ?? 0) > 0)
        #expect(values["dlsweep_tasks_failed_total"] == 0 && values["dlsweep_malformed_frames_total"] == 0)
        // Every result went through a timed commit.
        #expect((values["dlsweep_store_commit_seconds_count"] ?? 0) >= 1 && (values["dlsweep_store_committed_results_total"] ?? 0) >= 2)
        #expect(families["dlsweep_store_commit_seconds"]?["type"] as? String == "histogram")
        // The host label is the one /status.json names.
        let status = try LiveViewTests.status(base)
        let host = try #require((status["hosts"] as? [[String: Any]])?.first?["host"] as? String)
        let hostWorkers = (families["dlsweep_host_workers"]?["samples"] as? [[String: Any]] ?? []).first
        #expect((hostWorkers?["labels"] as? [String: String])?["host"] == host && (hostWorkers?["value"] as? NSNumber)?.intValue == 1)
        #expect(((status["done"] as? NSNumber)?.doubleValue ?? 0) >= values["dlsweep_tasks_done"] ?? .infinity)
    }
}
