import Coordinator
import Foundation
import Testing

/// `/metrics` as Prometheus' own Python client parses it (`scripts/parse_metrics.py`, which
/// uses `prometheus_client.parser`): every family typed, label values escaped, the commit
/// histogram cumulative.
@Suite struct PrometheusMetricsTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/parse_metrics.py").path

    static var parserInstalled: Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import prometheus_client.parser"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// The families the parser found in `text`: name → (type, samples).
    static func parse(_ text: String) throws -> [String: [String: Any]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        let input = Pipe(), output = Pipe(), error = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "parse_metrics.py: \(message)")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    static func samples(_ families: [String: [String: Any]], _ name: String) -> [[String: Any]] {
        families[name]?["samples"] as? [[String: Any]] ?? []
    }

    /// The value of the sample `name` with exactly `labels` (the parser names a counter's
    /// family without `_total`, so samples are looked up by their own name).
    static func value(_ families: [String: [String: Any]], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for family in families.values {
            for sample in family["samples"] as? [[String: Any]] ?? []
            where sample["name"] as? String == name && (sample["labels"] as? [String: String] ?? [:]) == labels {
                return (sample["value"] as? NSNumber)?.doubleValue
            }
        }
        return nil
    }

    @Test("every figure of a status, hostile host names included, parses back to the same values",
          .enabled(if: parserInstalled, "needs Python's prometheus_client: run bash scripts/setup.sh (CI does)"))
    func parsesBack() throws {
        var counters = WireCounters()
        counters.tasksFailed = 3
        counters.invalidResults = 2
        counters.malformedFrames = 7
        counters.workersLost = 1
        counters.resultsVerified = 9
        counters.resultsMismatched = 2
        counters.rowsReplaced = 4
        let hostile = "node \"7\"\\rack\nB"
        let status = SweepStatus(state: "running", sweep: "quick \"sweep\"", fingerprint: "00ff", tasks: 200, done: 50, startDone: 10,
                                 started: 1000, now: 1020, perWorker: [(hostile, 12), (hostile, 8), ("node-2", 20)],
                                 counters: counters, alert: nil)
        let latency = CommitLatency()
        let text = PrometheusMetrics.render(status, commits: latency.snapshot)
        let families = try Self.parse(text)
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? { Self.value(families, name, labels) }
        #expect(families["dlsweep_tasks"]?["type"] as? String == "gauge" && value("dlsweep_tasks") == 200)
        #expect(value("dlsweep_tasks_done") == 50 && value("dlsweep_progress_ratio") == 0.25)
        #expect(families["dlsweep_session_tasks_done"]?["type"] as? String == "counter" && value("dlsweep_session_tasks_done_total") == 40)
        #expect(value("dlsweep_tasks_per_second") == 2 && value("dlsweep_eta_seconds") == 75)
        #expect(value("dlsweep_workers") == 3)
        #expect(value("dlsweep_host_workers", ["host": hostile]) == 2 && value("dlsweep_host_workers", ["host": "node-2"]) == 1)
        #expect(value("dlsweep_host_tasks_done_total", ["host": hostile]) == 20)
        #expect(value("dlsweep_sweep_info", ["sweep": "quick \"sweep\"", "fingerprint": "00ff", "state": "running"]) == 1)
        #expect(value("dlsweep_tasks_failed_total") == 3 && value("dlsweep_answers_rejected_total") == 2
                && value("dlsweep_malformed_frames_total") == 7 && value("dlsweep_workers_lost_total") == 1)
        #expect(value("dlsweep_replays_verified_total") == 9 && value("dlsweep_replays_mismatched_total") == 2
                && value("dlsweep_rows_replaced_total") == 4 && value("dlsweep_replays_unresolved_total") == 0)
        #expect(families["dlsweep_store_commit_seconds"]?["type"] as? String == "histogram")
        // Every family has a type and help; no sample is left untyped.
        for (name, family) in families {
            #expect(family["type"] as? String != "unknown", "\(name) has no TYPE")
        }
    }

    @Test("the commit histogram: cumulative buckets, +Inf equal to the count, the sum of the observations",
          .enabled(if: parserInstalled, "needs Python's prometheus_client: run bash scripts/setup.sh (CI does)"))
    func histogram() throws {
        let latency = CommitLatency()
        for seconds in [0.0001, 0.003, 0.003, 0.2, 7.0] { latency.observe(seconds: seconds, rows: 10) }
        let status = SweepStatus(state: "running", sweep: "s", fingerprint: "f", tasks: 50, done: 0, startDone: 0,
                                 started: 0, now: 10, perWorker: [], counters: WireCounters(), alert: "disk full")
        let families = try Self.parse(PrometheusMetrics.render(status, commits: latency.snapshot))
        let buckets = Self.samples(families, "dlsweep_store_commit_seconds").filter { ($0["name"] as? String)?.hasSuffix("_bucket") == true }
        let counts = Dictionary(uniqueKeysWithValues: buckets.map { (($0["labels"] as? [String: String])?["le"] ?? "", ($0["value"] as? NSNumber)?.intValue ?? -1) })
        #expect(counts["0.0005"] == 1 && counts["0.005"] == 3 && counts["0.25"] == 4 && counts["5"] == 4 && counts["+Inf"] == 5, "\(counts)")
        let sum = Self.samples(families, "dlsweep_store_commit_seconds").first { $0["name"] as? String == "dlsweep_store_commit_seconds_sum" }
        #expect(abs(((sum?["value"] as? NSNumber)?.doubleValue ?? 0) - 7.2061) < 1e-9)
        #expect(Self.value(families, "dlsweep_store_committed_results_total") == 50)
        #expect(Self.value(families, "dlsweep_store_alert") == 1)
        // Not started: no ETA rather than a made-up one.
        #expect(families["dlsweep_eta_seconds"] == nil)
    }
}
