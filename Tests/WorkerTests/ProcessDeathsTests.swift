import Testing
import Worker

/// What a node worker does when its compute processes die, in-process on the decisions.
@Suite struct ProcessDeathsTests {
    @Test("a death costs only its task: run again, counting nothing")
    func firstDeathRetries() {
        var deaths = ProcessDeaths(processes: 4)
        #expect(deaths.died(running: 7, how: "killed by signal 9") == .retry)
        deaths.finished(8)
        #expect(deaths.inARow == 0)
        #expect(deaths.died(running: 9, how: "killed by signal 9") == .retry)
    }

    @Test("a task that kills two processes while others finish is its own failure")
    func poisonousTask() {
        var deaths = ProcessDeaths(processes: 4)
        #expect(deaths.died(running: 7, how: "killed by signal 9") == .retry)
        deaths.finished(8)
        guard case .failTask(let reason) = deaths.died(running: 7, how: "killed by signal 9 (SIGKILL)") else {
            Issue.record("expected the task to fail")
            return
        }
        #expect(reason.contains("killed 2 compute processes") && reason.contains("SIGKILL"), "\(reason)")
        // Its count starts again: a later death of the same task is a first one.
        #expect(deaths.died(running: 7, how: "killed by signal 9") == .retry)
    }

    @Test("deaths with nothing finishing between them: retried until the crash limit stops the node")
    func crashLoop() {
        var deaths = ProcessDeaths(processes: 2)
        #expect(deaths.crashLimit == 3)
        #expect(deaths.died(running: 1, how: "killed by signal 9") == .retry)
        // Nothing finished since task 1's first death: the node, not the task, is suspect.
        #expect(deaths.died(running: 1, how: "killed by signal 9") == .retry)
        guard case .crashLoop(let reason) = deaths.died(running: nil, how: "exited with status 127") else {
            Issue.record("expected a crash loop")
            return
        }
        #expect(reason.contains("3 compute processes died in a row") && reason.contains("status 127"), "\(reason)")
        #expect(reason.contains("process killed by signal 9 running task 1"), "\(reason)")
        #expect(ProcessDeaths(processes: 64).crashLimit == 64)
    }

    @Test("the backoff grows with deaths in a row and is capped")
    func backoff() {
        var deaths = ProcessDeaths(processes: 100)
        #expect(deaths.backoffSeconds == 0)
        for task in 0..<50 { _ = deaths.died(running: task, how: "x") }
        #expect(deaths.backoffSeconds == 2)
        deaths.finished(0)
        #expect(deaths.backoffSeconds == 0)
    }

    @Test("waitpid statuses in words")
    func statuses() {
        #expect(ProcessDeaths.describe(status: 9) == "killed by signal 9 (SIGKILL, as the out-of-memory killer sends)")
        #expect(ProcessDeaths.describe(status: 11 | 0x80) == "killed by signal 11 (SIGSEGV)")  // core dumped
        #expect(ProcessDeaths.describe(status: 3 << 8) == "exited with status 3")
    }
}
