import Coordinator
import SweepProtocol
import Testing

/// Sessions (issue 20): the welcome's token, carried by every later message, owns the leases.
@Suite struct SessionTests {
    static func hello(_ id: String, session: String?, prefetch: Int = 2) -> Message {
        guard case .hello(var hello) = CoreHarness.hello(id, prefetch: prefetch) else { fatalError() }
        hello.session = session
        return .hello(hello)
    }

    @Test("each welcome carries its own unguessable token: 32 hex digits, never the same twice")
    func tokens() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a"), from: 1)
        h.receive(CoreHarness.hello("b"), from: 2)
        let a = try #require(h.sessions[1])
        let b = try #require(h.sessions[2])
        #expect(a.count == 32 && a.allSatisfy(\.isHexDigit) && a != b)
        #expect(h.core.dispatcher.workers["a"]?.session == a)
    }

    @Test("a result, failure, heartbeat or bye without the session's token is refused, counted and answered with register")
    func wrongToken() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a"), from: 1)
        let missing = h.receive(h.result(0), from: 1, stamped: false)
        #expect(missing.counts(.wrongSession) == 1 && missing.committed.isEmpty && missing.acks(to: 1).isEmpty)
        #expect(missing.messages(to: 1) == [.register(Register(reason: "wrong session token: say hello, then send your results again"))])
        let guessed = h.receive(h.result(0).carrying(session: "00000000000000000000000000000000"), from: 1, stamped: false)
        #expect(guessed.counts(.wrongSession) == 1 && guessed.committed.isEmpty)
        let failed = h.receive(.taskFailed(TaskFailure(sweep: h.fingerprint, taskID: 0, attempt: 1, reason: "x")),
                               from: 1, stamped: false)
        #expect(failed.counts(.wrongSession) == 1 && h.core.dispatcher.failures(of: 0) == 0)
        let bye = h.receive(.bye(Bye(reason: "x", taskIDs: [0, 1])), from: 1, stamped: false)
        #expect(bye.counts(.wrongSession) == 1 && h.core.dispatcher.holder(of: 0) == "a")
        // With the token, the same result counts.
        #expect(h.receive(h.result(0), from: 1).committed.map(\.task.id) == [0])
    }

    @Test("an id taken over at the worker timeout: the impostor's hello starts a new session that inherits nothing; the victim's leases are re-queued and forged answers refused")
    func takeover() throws {
        var h = try CoreHarness(options: { $0.workerTimeout = 10 })
        h.receive(CoreHarness.hello("victim", prefetch: 2), from: 1)
        let victimTasks = h.commands.tasks(to: 1)
        #expect(victimTasks.map(\.taskID) == [0, 1])
        // Just before the timeout: refused outright.
        h.now += 9.9
        let early = h.receive(Self.hello("victim", session: nil), from: 9)
        #expect(early.counts(.duplicateWorkers) == 1 && early.messages(to: 9).isEmpty)
        // Just past it, before the liveness tick dropped the victim: a new session.
        h.now += 0.2
        let late = h.receive(Self.hello("victim", session: "not-the-token"), from: 9)
        guard case .welcome(let welcome)? = late.messages(to: 9).first else {
            Issue.record("not welcomed: \(late)")
            return
        }
        let victimToken = try #require(h.sessions[1])
        #expect(welcome.session != victimToken)
        #expect(late.counts(.tasksRequeued) == 2)
        // Whatever it was handed now is a new attempt; the victim's attempt-1 leases are gone.
        #expect(late.tasks(to: 9).allSatisfy { $0.attempt == 2 })
        for task in victimTasks {
            let forged = h.receive(h.result(task.taskID, attempt: task.attempt), from: 9)
            #expect(forged.committed.isEmpty && forged.counts(.noLease) == 1)
        }
        // The impostor holds no lease of the victim's session, even with the victim's id.
        #expect(h.rows.isEmpty)
    }

    @Test("a worker on a new connection resumes its session with its token, leases and all")
    func resume() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        let token = try #require(h.sessions[1])
        let resumed = h.receive(Self.hello("a", session: token), from: 2)
        guard case .welcome(let welcome)? = resumed.messages(to: 2).first else {
            Issue.record("not welcomed: \(resumed)")
            return
        }
        #expect(welcome.session == token && resumed.counts(.duplicateWorkers) == 0)
        #expect(h.core.dispatcher.workers["a"]?.inFlight.count == 2)
        #expect(h.receive(h.result(0), from: 2).committed.map(\.task.id) == [0])
    }
}
