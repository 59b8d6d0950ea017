import Coordinator
import ResultsStore
import SweepProtocol
import Testing

/// Fault belongs to the worker (issue 20): a task fails for good only on two workers (two
/// hosts when several joined); a worker whose results keep being invalid is quarantined.
@Suite struct FaultTests {
    static func hello(_ id: String, host: String, prefetch: Int = 1) -> Message {
        guard case .hello(var hello) = CoreHarness.hello(id, prefetch: prefetch) else { fatalError() }
        hello.host = host
        return .hello(hello)
    }

    func failure(_ h: CoreHarness, _ task: TaskAssignment) -> Message {
        .taskFailed(TaskFailure(sweep: h.fingerprint, taskID: task.taskID, attempt: task.attempt, reason: "boom"))
    }

    @Test("a task that fails goes to another worker, and is failed only once it failed on two")
    func twoWorkers() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 2), options: { $0.maxAttempts = 2 })
        h.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        h.receive(CoreHarness.hello("b", prefetch: 1), from: 2)
        let a0 = try #require(h.commands.tasks(to: 1).first)
        let b0 = try #require(h.commands.tasks(to: 2).first)
        #expect(a0.taskID == 0 && b0.taskID == 1)
        // a fails task 0 twice over (--max-attempts 2): never given back to a while b has not tried it.
        let first = h.receive(failure(h, a0), from: 1)
        #expect(first.tasks(to: 1).isEmpty && first.committed.isEmpty)
        // b finishes its task and gets task 0.
        let next = h.receive(h.result(1), from: 2)
        let retry = try #require(next.tasks(to: 2).first)
        #expect(retry.taskID == 0 && retry.attempt == 2)
        let second = h.receive(failure(h, retry), from: 2)
        let row = try #require(second.committed.first)
        #expect(row.result == .failed(reason: "failed 2 time(s) on 2 worker(s); last: boom"))
        #expect(h.core.dispatcher.isComplete)
    }

    @Test("with workers on two hosts, two failures on one host fail nothing: the task goes to the other host")
    func twoHosts() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 3), options: { $0.maxAttempts = 2 })
        h.receive(Self.hello("a1", host: "alpha"), from: 1)
        h.receive(Self.hello("a2", host: "alpha"), from: 2)
        h.receive(Self.hello("b1", host: "beta"), from: 3)
        let t0 = try #require(h.commands.tasks(to: 1).first)
        let t1 = try #require(h.commands.tasks(to: 2).first)
        let t2 = try #require(h.commands.tasks(to: 3).first)
        _ = h.receive(failure(h, t0), from: 1)
        // a2 (same host) finishes and is not handed task 0; b1 (other host) is.
        let sameHost = h.receive(h.result(t1.taskID), from: 2)
        #expect(sameHost.tasks(to: 2).isEmpty)
        let otherHost = h.receive(h.result(t2.taskID), from: 3)
        #expect(otherHost.tasks(to: 3).map(\.taskID) == [t0.taskID])
        #expect(h.rows.allSatisfy { if case .report = $0.result { true } else { false } })
    }

    @Test("a poisoning worker: quarantined after --quarantine-after invalid results in a row, its failures no longer count, its tasks go to others, no task failed; its hello is refused")
    func poisoner() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 6), options: { $0.maxAttempts = 3 })
        h.receive(CoreHarness.hello("bad", prefetch: 1), from: 1)
        h.receive(CoreHarness.hello("good", prefetch: 1), from: 2)
        var last: [CoordinatorCore.Command] = []
        for _ in 0..<3 {
            let task = try #require(h.commands.tasks(to: 1).last)
            last = h.receive(h.invalidResult(task.taskID, attempt: task.attempt), from: 1)
        }
        #expect(last.counts(.workersQuarantined) == 1 && last.counts(.tasksFailed) == 0)
        guard case .reject(let reject)? = last.messages(to: 1).first(where: { if case .reject = $0 { true } else { false } })
        else {
            Issue.record("not told: \(last.messages(to: 1))")
            return
        }
        #expect(reject.reason.hasPrefix("quarantined: 3 invalid results in a row"))
        let events = last.compactMap { if case .recordEvents(let e) = $0 { e } else { nil } }.flatMap { $0 }
        #expect(events.map(\.kind) == [.quarantined] && events.first?.workerID == "bad")
        #expect(h.core.dispatcher.quarantined["bad"] != nil && h.core.dispatcher.workers["bad"] == nil)
        #expect((0..<6).allSatisfy { h.core.dispatcher.failures(of: $0) == 0 })
        // The honest worker runs everything.
        var guardCount = 0
        while !h.core.dispatcher.isComplete && guardCount < 20 {
            guardCount += 1
            guard let task = h.core.dispatcher.workers["good"]?.inFlight.keys.first else { break }
            _ = h.receive(h.result(task, attempt: h.core.dispatcher.workers["good"]!.inFlight[task]!.attempt), from: 2)
        }
        #expect(h.core.dispatcher.isComplete && h.rows.count == 6)
        #expect(h.rows.allSatisfy { $0.workerID == "good" })
        let again = h.receive(CoreHarness.hello("bad"), from: 3)
        guard case .reject? = again.messages(to: 3).first else {
            Issue.record("a quarantined id got in: \(again)")
            return
        }
    }

    @Test("a valid result ends a run of invalid ones: an occasional bad result quarantines nobody")
    func streakResets() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 8), options: { $0.maxAttempts = 5 })
        h.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        h.receive(CoreHarness.hello("b", prefetch: 1), from: 2)
        for round in 0..<4 {
            let task = try #require(h.core.dispatcher.workers["a"]?.inFlight.first)
            if round % 2 == 0 {
                _ = h.receive(h.invalidResult(task.key, attempt: task.value.attempt), from: 1)
            } else {
                _ = h.receive(h.result(task.key, attempt: task.value.attempt), from: 1)
            }
        }
        #expect(h.core.dispatcher.quarantined.isEmpty && h.counters.workersQuarantined == 0)
    }
}

/// Late results (issue 20): a valid result counts from the session that ran it, whatever
/// attempt is current; the other attempt is cancelled.
@Suite struct LateResultTests {
    @Test("a worker dropped for overrunning its lease comes back with its token: its late result counts, the new attempt's lease is cancelled")
    func lateAfterOverrun() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 2), options: {
            $0.taskTimeout = 5
            $0.workerTimeout = 100
        })
        h.receive(CoreHarness.hello("slow", prefetch: 1), from: 1)
        let token = try #require(h.sessions[1])
        h.now += 3
        h.receive(CoreHarness.hello("other", prefetch: 1), from: 2)
        #expect(h.commands.tasks(to: 1).map(\.taskID) == [0] && h.commands.tasks(to: 2).map(\.taskID) == [1])
        h.now += 3
        let expired = h.drive(.tick)
        #expect(expired.counts(.leasesExpired) == 1 && h.core.dispatcher.workers["slow"] == nil)
        // "other" finishes its task and gets task 0 as attempt 2.
        let next = h.receive(h.result(1), from: 2)
        #expect(next.tasks(to: 2).map(\.attempt) == [2])
        // The slow worker, still running attempt 1, is asked to say hello and resumes its session.
        _ = h.receive(h.result(0), from: 1)
        guard case .hello(var hello) = CoreHarness.hello("slow", prefetch: 1) else { return }
        hello.session = token
        let back = h.receive(.hello(hello), from: 1)
        guard case .welcome(let welcome)? = back.messages(to: 1).first else {
            Issue.record("not welcomed: \(back)")
            return
        }
        #expect(welcome.session == token)
        let late = h.receive(h.result(0, attempt: 1), from: 1)
        #expect(late.committed.map(\.task.id) == [0] && late.counts(.lateResults) == 1)
        #expect(h.core.dispatcher.isComplete && h.core.dispatcher.workers["other"]?.inFlight.isEmpty == true)
        // The cancelled attempt's result is a duplicate, acknowledged.
        let cancelled = h.receive(h.result(0, attempt: 2), from: 2)
        #expect(cancelled.committed.isEmpty && cancelled.acks(to: 2) == [0])
    }

    @Test("a new session with the same id (no token) cannot deliver the old session's attempts")
    func lateNeedsTheSession() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 2), options: { $0.workerTimeout = 10 })
        h.receive(CoreHarness.hello("w", prefetch: 1), from: 1)
        for _ in 0..<3 {  // ticks 4 s apart: a loop that stood still would drop nobody
            h.now += 4
            h.drive(.tick)
        }
        #expect(h.core.dispatcher.workers["w"] == nil)  // dropped as silent
        h.receive(CoreHarness.hello("w", prefetch: 1), from: 3)  // no token: a new session
        let forged = h.receive(h.result(0, attempt: 1), from: 3)
        #expect(forged.committed.isEmpty && forged.counts(.noLease) == 1 && forged.counts(.lateResults) == 0)
    }
}
