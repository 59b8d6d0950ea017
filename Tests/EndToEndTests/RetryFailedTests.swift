import Foundation
import ResultsStore
import Testing

/// `--retry-failed` on a resume: the tasks recorded as failed run again on real workers, their
/// old rows stay on record and show in the report; without it a resume leaves them alone.
@Suite struct RetryFailedTests {
    @Test("a resume keeps failed tasks; --retry-failed runs them again, keeps the old rows as history, the report shows both")
    func retryFailed() throws {
        let directory = try makeTemporaryDirectory()
        try smallSweepYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        // A finished sweep whose tasks 3 and 10 failed (on "a bad node").
        try writeSyntheticStore(directory: out, yaml: smallSweepYAML) { task in
            [3, 10].contains(task.id) ? nil : syntheticReport(converged: true, testError: [0.1, 0.2], oracleTestError: [0.05, 0.1])
        }
        let plain = try DLSweepProcess(["run", "sweep.yaml", "--workers", "1", "--out", "out", "--progress", "none"], in: directory, label: "plain")
        #expect(plain.wait(seconds: 120) == 0, "\(plain.stderr.suffix(2000))")
        #expect(plain.stderr.contains("recorded 0 results"), "\(plain.stderr.suffix(1000))")

        let retry = try DLSweepProcess(["run", "sweep.yaml", "--workers", "2", "--out", "out", "--retry-failed", "--progress", "none"],
                                       in: directory, label: "retry")
        #expect(retry.wait(seconds: 180) == 0, "\(retry.stderr.suffix(2000))")
        #expect(retry.stderr.contains("--retry-failed: 2 failed task(s) will run again"), "\(retry.stderr.suffix(2000))")
        #expect(retry.stderr.contains("recorded 2 results"), "\(retry.stderr.suffix(1000))")

        let (store, _) = try ResultsStore.openExisting(directory: out.path)
        let rows = try store.rows()
        #expect(rows.count == 24 && rows.allSatisfy { $0.status == .ok })
        // The re-run tasks were run by the workers this time, not the synthetic "node-a"/"node-b".
        #expect(rows.filter { [3, 10].contains($0.taskID) }.allSatisfy { !$0.host.hasPrefix("node-") })
        let (history, total) = try store.retriedFailures(limit: 10)
        #expect(total == 2 && history.map(\.taskID) == [3, 10])
        #expect(history.allSatisfy { $0.failureReason?.hasPrefix("synthetic failure of task") == true && $0.host.hasPrefix("node-") })

        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("2 earlier failure(s) of tasks run again by --retry-failed") && html.contains("synthetic failure of task 10"))

        let status = try DLSweepProcess(["status", "out"], in: directory, label: "status")
        #expect(status.wait(seconds: 60) == 0)
        #expect(status.stdout.contains("24 of 24 tasks (100.0%), 0 failed (2 earlier failure(s) retried with --retry-failed)"), "\(status.stdout)")

        // Nothing failed now: a second --retry-failed retries nothing and keeps the history.
        let again = try DLSweepProcess(["run", "sweep.yaml", "--workers", "1", "--out", "out", "--retry-failed", "--progress", "none"],
                                       in: directory, label: "again")
        #expect(again.wait(seconds: 120) == 0, "\(again.stderr.suffix(2000))")
        #expect(again.stderr.contains("--retry-failed: 0 failed task(s)"))
        #expect(try store.retriedFailures(limit: 10).total == 2)
    }
}
