import Coordinator
import Foundation
import Testing

/// The figures the progress line prints and `/status.json` serves, from known counts.
@Suite struct SweepStatusTests {
    @Test("rate and ETA count this session only; hosts add their workers; counters sum the refusals")
    func figures() throws {
        var counters = WireCounters()
        counters.tasksFailed = 2
        counters.invalidResults = 3
        counters.noLease = 1
        counters.otherSweep = 1
        counters.wrongSession = 4
        counters.workersQuarantined = 2
        let status = SweepStatus(
            state: "running", sweep: "s", fingerprint: "f", tasks: 100, done: 30, startDone: 10, started: 1000,
            now: 1010, perWorker: [("b", 4), ("a", 6), ("b", 10)], counters: counters, alert: nil)
        #expect(status.doneThisSession == 20 && status.percent == 30)
        #expect(status.elapsedSeconds == 10 && status.tasksPerSecond == 2)
        #expect(status.etaSeconds == 35)  // 70 left at 2 per second
        #expect(status.workers == 3)
        #expect(status.hosts == [.init(host: "a", workers: 1, tasks: 6, tasksPerSecond: 0.6),
                                 .init(host: "b", workers: 2, tasks: 14, tasksPerSecond: 1.4)])
        #expect(status.counters.failed == 2 && status.counters.rejected == 9 && status.counters.invalidResults == 3)

        let json = try #require(try JSONSerialization.jsonObject(with: status.json()) as? [String: Any])
        // Quarantined workers and answers without their session's token are in /status.json (issue 20).
        let jsonCounters = try #require(json["counters"] as? [String: Any])
        #expect(jsonCounters["quarantined"] as? Int == 2 && jsonCounters["wrongSession"] as? Int == 4)
        #expect(Set(json.keys) == ["state", "sweep", "fingerprint", "tasks", "done", "doneThisSession", "percent",
                                   "elapsedSeconds", "tasksPerSecond", "etaSeconds", "workers", "hosts", "counters",
                                   "updatedAt"])
    }

    @Test("no result yet: no ETA (absent from the JSON), rate 0")
    func beforeTheFirstResult() throws {
        let status = SweepStatus(state: "running", sweep: "s", fingerprint: "f", tasks: 10, done: 4, startDone: 4,
                                 started: 0, now: 5, perWorker: [], counters: WireCounters(), alert: "STORE FAILING")
        #expect(status.etaSeconds == nil && status.tasksPerSecond == 0 && status.hosts.isEmpty)
        let json = try #require(try JSONSerialization.jsonObject(with: status.json()) as? [String: Any])
        #expect(json["etaSeconds"] == nil && json["alert"] as? String == "STORE FAILING")
    }

    @Test("the progress line: figures, replays still to check only while a verifying sweep has some, failures")
    func progressLine() {
        var counters = WireCounters()
        counters.tasksFailed = 1
        counters.invalidResults = 2
        func line(replays: Int?, counters: WireCounters = WireCounters(), alert: String? = nil) -> String {
            SweepStatus(state: "running", sweep: "s", fingerprint: "f", tasks: 40, done: 30, startDone: 10, started: 100,
                        now: 110, perWorker: [("a", 12), ("b", 8)], counters: counters, alert: alert,
                        replaysPending: replays).progressSummary
        }
        #expect(line(replays: nil) == "30/40 (75.0%)  2.0 tasks/s  ETA 5s  workers 2 on 2 hosts")
        #expect(line(replays: 0) == line(replays: nil))
        #expect(line(replays: 3) == "30/40 (75.0%)  2.0 tasks/s  ETA 5s  workers 2 on 2 hosts  replays to check 3")
        #expect(line(replays: 3, counters: counters, alert: "STORE FAILING")
                == "30/40 (75.0%)  2.0 tasks/s  ETA 5s  workers 2 on 2 hosts  replays to check 3  failed 1, rejected 2  [STORE FAILING]")
    }
}
