import Coordinator
import SweepProtocol
import Testing

/// A worker whose connection closed (the socket refuses to route to it: EHOSTUNREACH) is
/// dropped once silent for three heartbeat intervals, not after the whole worker timeout; what
/// it sent before is recorded, and a worker that comes back on a new connection keeps its
/// session. The decisions, with the time moved by the test (issue 21).
@Suite struct ClosedConnectionTests {
    /// Heartbeats every 2 s and a worker timeout of 10 s: the grace is 5 s (half the timeout,
    /// less than three heartbeats).
    static func harness(heartbeat: Double = 2) throws -> CoreHarness {
        try CoreHarness(options: { $0.heartbeatInterval = heartbeat; $0.workerTimeout = 10 })
    }

    /// Moves the clock by `seconds` in ticks of a quarter second, as the driver's loop turns (a
    /// longer pause would be the coordinator's own stall, which drops nobody); returns the
    /// workers lost.
    static func advance(_ h: inout CoreHarness, _ seconds: Double) -> Int {
        var lost = 0
        var left = seconds
        while left > 1e-9 {
            let step = min(0.25, left)
            h.now += step
            left -= step
            lost += h.drive(.tick).counts(.workersLost)
        }
        return lost
    }

    @Test("a closed connection drops its worker after the grace, long before the timeout; its tasks go to another, no failure counted")
    func dropped() throws {
        var h = try Self.harness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        h.receive(CoreHarness.hello("b", prefetch: 2), from: 2)
        #expect(h.core.closedConnectionGrace == 5)
        h.drive(.unreachable(peer: [1]))
        for _ in 0..<5 {
            h.now += 1
            h.receive(.heartbeat(Heartbeat(sentAt: h.now)), from: 2)
            #expect(h.drive(.tick).counts(.workersLost) == 0)
        }
        h.now += 0.5
        let out = h.drive(.tick)
        #expect(out.counts(.workersLost) == 1 && out.counts(.tasksRequeued) == 2)
        #expect(out.contains(.log(.warning, "worker a on host-a dropped: connection closed, silent for more than 5.0 s; 2 task(s) back in the queue")))
        #expect(h.core.dispatcher.workers.keys.sorted() == ["b"])
        #expect(h.core.dispatcher.failures(of: 0) == 0 && h.core.dispatcher.failures(of: 1) == 0)
        // b's next freed credit takes a's tasks first.
        #expect(h.receive(h.result(2), from: 2).tasks(to: 2).map(\.taskID) == [1])
    }

    @Test("the grace is three heartbeat intervals, at most half the worker timeout")
    func grace() throws {
        #expect(try Self.harness(heartbeat: 0.25).core.closedConnectionGrace == 0.75)
        #expect(try Self.harness(heartbeat: 1).core.closedConnectionGrace == 3)
        #expect(try Self.harness(heartbeat: 4).core.closedConnectionGrace == 5)
    }

    @Test("what a dead worker sent before its connection closed is recorded, and its silence counts from the last message read")
    func queuedAnswersFirst() throws {
        var h = try Self.harness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        h.drive(.unreachable(peer: [1]))
        #expect(Self.advance(&h, 4) == 0)
        // Read late (it waited in the socket behind others): recorded, acknowledged.
        let late = h.receive(h.result(0), from: 1)
        #expect(late.committed.map(\.task.id) == [0])
        // The freed credit goes out, and the send fails as the connection is closed.
        let sent = late.tasks(to: 1).map(\.taskID)
        #expect(sent.count == 1)
        h.drive(.tasksUndelivered(worker: "a", taskIDs: sent))
        h.drive(.unreachable(peer: [1]))
        #expect(Self.advance(&h, 4.75) == 0)
        h.now += 0.5
        let out = h.drive(.tick)
        #expect(out.counts(.workersLost) == 1 && out.counts(.tasksRequeued) == 1)
        #expect(h.rows.map(\.task.id) == [0])
    }

    @Test("no task goes to a worker whose connection closed")
    func noTasksForClosed() throws {
        var h = try Self.harness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        // Its tasks could not be sent: the connection had closed.
        h.drive(.tasksUndelivered(worker: "a", taskIDs: [0, 1]))
        h.drive(.unreachable(peer: [1]))
        h.receive(CoreHarness.hello("b", prefetch: 2), from: 2)
        #expect(h.commands.tasks(to: 2).map(\.taskID).sorted() == [0, 1])
        // b leaves: its tasks go back, and not to a.
        let out = h.receive(.bye(Bye(reason: "stopping", taskIDs: [0, 1])), from: 2)
        #expect(out.tasks(to: 1).isEmpty)
        #expect(h.core.dispatcher.workers["a"]?.inFlight.isEmpty == true && h.core.dispatcher.pendingCount == 6)
    }

    @Test("a worker that says hello with its token on a new connection keeps its session and leases, and is not dropped")
    func reconnected() throws {
        var h = try Self.harness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        let token = try #require(h.sessions[1])
        h.drive(.unreachable(peer: [1]))
        h.now += 1
        guard case .hello(var hello) = CoreHarness.hello("a", prefetch: 2) else { fatalError() }
        hello.session = token
        let again = h.receive(.hello(hello), from: 3)
        #expect(again.messages(to: 3).first.map { if case .welcome(let w) = $0 { w.session == token } else { false } } == true)
        // Silent past the grace but within the timeout: kept, as any connected worker.
        #expect(Self.advance(&h, 8) == 0)
        // A late failure of the old connection's peer changes nothing.
        h.drive(.unreachable(peer: [1]))
        #expect(Self.advance(&h, 1) == 0)
        #expect(h.receive(h.result(0), from: 3).committed.map(\.task.id) == [0])
        #expect(h.core.dispatcher.failures(of: 0) == 0)
    }

    @Test("an unreachable peer that never registered changes nothing")
    func unknownPeer() throws {
        var h = try Self.harness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        #expect(h.drive(.unreachable(peer: [9])).isEmpty)
        // a says nothing past the grace, within the timeout.
        #expect(Self.advance(&h, 8) == 0)
        #expect(h.core.dispatcher.workers["a"] != nil)
    }
}
