import Foundation
import Synchronization

/// How long the store takes to commit a batch of results, as a Prometheus histogram: the
/// coordinator's only blocking call on its hot path, so the figure an operator watches when a
/// shared file system slows down.
public final class CommitLatency: Sendable {
    /// Upper bounds of the buckets, in seconds.
    public static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    public struct Snapshot: Sendable, Equatable {
        /// Commits at or below each bound (cumulative, as Prometheus counts them).
        public var cumulative: [Int]
        public var count: Int
        public var sum: Double
        /// Results committed (a commit holds a batch).
        public var rows: Int
    }

    private let state = Mutex(Snapshot(cumulative: Array(repeating: 0, count: CommitLatency.bounds.count), count: 0, sum: 0, rows: 0))

    public init() {}

    public func observe(seconds: Double, rows: Int) {
        state.withLock { s in
            for (i, bound) in Self.bounds.enumerated() where seconds <= bound { s.cumulative[i] += 1 }
            s.count += 1
            s.sum += seconds
            s.rows += rows
        }
    }

    public var snapshot: Snapshot { state.withLock { $0 } }
}

/// `/metrics`: a sweep's figures in the Prometheus text exposition format (version 0.0.4), for
/// the monitoring users already run. The same `SweepStatus` as `/status.json` and the progress
/// line, plus the store's commit latency. docs/RESULTS-FOLDER.md lists the metrics.
public enum PrometheusMetrics {
    /// The HTTP content type of the format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ status: SweepStatus, commits: CommitLatency.Snapshot) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                let labels = sample.labels.isEmpty ? ""
                    : "{" + sample.labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",") + "}"
                out += "\(name)\(labels) \(number(sample.value))\n"
            }
        }
        func one(_ name: String, _ type: String, _ help: String, _ value: Double) { family(name, type, help, [([], value)]) }

        family("dlsweep_sweep_info", "gauge", "The sweep this coordinator serves (always 1).",
               [([("sweep", status.sweep), ("fingerprint", status.fingerprint), ("state", status.state)], 1)])
        one("dlsweep_tasks", "gauge", "Tasks planned (an adaptive sweep's grows with its rounds).", Double(status.tasks))
        one("dlsweep_tasks_done", "gauge", "Tasks with a row in the store (results and recorded failures), earlier sessions included.", Double(status.done))
        one("dlsweep_progress_ratio", "gauge", "tasks_done / tasks.", status.tasks == 0 ? 1 : Double(status.done) / Double(status.tasks))
        one("dlsweep_session_tasks_done_total", "counter", "Tasks recorded by this coordinator since it started.", Double(status.doneThisSession))
        one("dlsweep_tasks_per_second", "gauge", "Tasks recorded per second this session.", status.tasksPerSecond)
        if let eta = status.etaSeconds {
            one("dlsweep_eta_seconds", "gauge", "Seconds left at the current rate.", eta)
        }
        one("dlsweep_elapsed_seconds", "gauge", "Seconds since this coordinator started.", status.elapsedSeconds)
        if let round = status.adaptiveRound {
            one("dlsweep_adaptive_round", "gauge", "An adaptive sweep's rounds after the first so far.", Double(round))
        }
        one("dlsweep_workers", "gauge", "Workers connected now.", Double(status.workers))
        family("dlsweep_host_workers", "gauge", "Workers connected now, per host.",
               status.hosts.map { ([("host", $0.host)], Double($0.workers)) })
        family("dlsweep_host_tasks_done_total", "counter", "Tasks finished this session by the connected workers of a host.",
               status.hosts.map { ([("host", $0.host)], Double($0.tasks)) })
        family("dlsweep_host_tasks_per_second", "gauge", "Tasks per second this session, per host.",
               status.hosts.map { ([("host", $0.host)], $0.tasksPerSecond) })

        let c = status.counters
        for (name, help, value) in [
            ("dlsweep_tasks_failed_total", "Tasks recorded as failed (--max-attempts failures of their own).", c.failed),
            ("dlsweep_answers_rejected_total", "Answers refused: invalid, unregistered, another sweep, no lease, unknown task.", c.rejected),
            ("dlsweep_invalid_results_total", "Results refused as not a consistent run of their task.", c.invalidResults),
            ("dlsweep_malformed_frames_total", "Frames that did not decode.", c.malformedFrames),
            ("dlsweep_version_mismatches_total", "Peers speaking another protocol version.", c.versionMismatches),
            ("dlsweep_duplicate_results_total", "Results for tasks already recorded (ignored).", c.duplicateResults),
            ("dlsweep_workers_lost_total", "Workers dropped after --worker-timeout of silence.", c.workersLost),
            ("dlsweep_tasks_requeued_total", "Tasks put back in the queue (a worker lost, a lease expired).", c.tasksRequeued),
            ("dlsweep_leases_expired_total", "Tasks that overran --task-timeout.", c.leasesExpired),
            ("dlsweep_duplicate_workers_total", "Connections refused for claiming a live worker's id.", c.duplicateWorkers),
            ("dlsweep_workers_quarantined_total", "Workers refused for the rest of the run (invalid results, a replay contradicted).", c.quarantined),
            ("dlsweep_replays_verified_total", "Replays that agreed with the recorded result (verify).", c.verified ?? 0),
            ("dlsweep_replays_mismatched_total", "Replays that disagreed with the recorded result (a third run decides).", c.mismatched ?? 0),
            ("dlsweep_replays_unresolved_total", "Mismatches no third run decided.", c.unresolved ?? 0),
            ("dlsweep_replays_unavailable_total", "Sampled tasks no other worker could replay.", c.unverifiable ?? 0),
            ("dlsweep_rows_replaced_total", "Rows of quarantined workers moved to replaced_results and run again.", c.replaced ?? 0),
        ] {
            one(name, "counter", help, Double(value))
        }
        one("dlsweep_store_alert", "gauge", "1 while the store refuses commits (e.g. a full disk), else 0.", status.alert == nil ? 0 : 1)

        out += "# HELP dlsweep_store_commit_seconds Seconds the results store took to commit one batch of results.\n"
        out += "# TYPE dlsweep_store_commit_seconds histogram\n"
        for (bound, count) in zip(CommitLatency.bounds, commits.cumulative) {
            out += "dlsweep_store_commit_seconds_bucket{le=\"\(number(bound))\"} \(count)\n"
        }
        out += "dlsweep_store_commit_seconds_bucket{le=\"+Inf\"} \(commits.count)\n"
        out += "dlsweep_store_commit_seconds_sum \(number(commits.sum))\n"
        out += "dlsweep_store_commit_seconds_count \(commits.count)\n"
        one("dlsweep_store_committed_results_total", "counter", "Results committed to the store this session.", Double(commits.rows))
        return out
    }

    /// A label value with `\`, `"` and newlines escaped, as the format requires.
    static func escaped(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// A sample value: Go's float syntax (`+Inf`, `NaN`), integers without a fraction.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
