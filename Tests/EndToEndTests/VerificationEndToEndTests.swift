import Foundation
import Testing

/// Verification by replay on one machine, over real sockets (issue 20).
@Suite struct VerificationEndToEndTests {
    @Test("a finished sweep resumed with --verify 1 replays every recorded result on another worker; all agree and the table is unchanged")
    func verifyingResume() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try tinySweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        let first = try DLSweepProcess(["run", config, "--workers", "2", "--out", "out", "--progress", "none"],
                                       in: directory, label: "first")
        #expect(first.wait(seconds: 120) == 0, "\(first.stderr.suffix(2000))")
        let before = try deterministicTable(out)
        #expect(sqlite(out, "select count(*) from peer_events") == "0")

        let again = try DLSweepProcess(["run", config, "--workers", "2", "--out", "out", "--progress", "none", "--verify", "1"],
                                       in: directory, label: "again")
        #expect(again.wait(seconds: 120) == 0, "\(again.stderr.suffix(2000))")
        #expect(again.stderr.contains("16 result(s) recorded before this run are in the sample and not yet verified"))
        #expect(again.stderr.contains("replays: verified 16, mismatched 0"), "\(again.stderr.suffix(2000))")
        // Each replay ran on the other worker than the recorded result's.
        #expect(sqlite(out, """
            select count(*) from peer_events e join results r on r.task_id = e.task_id
            where e.kind = 'verified' and e.worker_id != r.worker_id
            """) == "16")
        #expect(try deterministicTable(out).map { $0.filter { !$0.key.hasPrefix("replays_") } } == before)
        #expect(again.stdout.contains("replays ok/differ"))

        // Verified already: a third run replays nothing.
        let third = try DLSweepProcess(["run", config, "--workers", "1", "--out", "out", "--progress", "none", "--verify", "1"],
                                       in: directory, label: "third")
        #expect(third.wait(seconds: 120) == 0, "\(third.stderr.suffix(2000))")
        #expect(third.stderr.contains("replays: verified 0, mismatched 0, undecided 0, not possible 0"))
    }
}
