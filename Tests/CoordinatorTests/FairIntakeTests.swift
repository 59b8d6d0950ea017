import Coordinator
import SweepProtocol
import Testing

/// Fair, bounded intake (issue 20): a peer's large batch is read a budget of entries per turn,
/// peers in turn; complaints are logged once per peer, reason and interval; one ack per peer.
@Suite struct FairIntakeTests {
    /// A batch of `count` task_failed entries for a task outside the plan, carrying `session`.
    static func bomb(_ h: CoreHarness, count: Int, session: String) throws -> [[UInt8]] {
        var batcher = FrameBatcher()
        for _ in 0..<count {
            try batcher.add(.taskFailed(TaskFailure(sweep: h.fingerprint, taskID: 1_000_000, attempt: 1,
                                                    reason: "bomb", session: session)))
        }
        return batcher.frames()
    }

    func logs(_ commands: [CoordinatorCore.Command]) -> [String] {
        commands.compactMap { if case .log(_, let line) = $0 { line } else { nil } }
    }

    @Test("a registered peer's bomb is read a budget per turn; one ack and at most one log line per turn; others are served between its turns")
    func bombIsReadInTurns() throws {
        var h = try CoreHarness(options: { $0.intakeBudget = 100 })
        h.receive(CoreHarness.hello("bomber", prefetch: 1), from: 1)
        h.receive(CoreHarness.hello("honest", prefetch: 1), from: 2)
        let frames = try Self.bomb(h, count: 1_000, session: try #require(h.sessions[1]))
        #expect(frames.count == 1)
        let first = h.receive(frame: frames[0], from: 1)
        #expect(first.counts(.unknownTasks) == 100 && h.core.hasBacklog)
        #expect(first.messages(to: 1).count == 1 && first.acks(to: 1).count == 100)
        #expect(logs(first).filter { $0.contains("unknown task") }.count == 1)
        // The honest worker's result, arriving now, is recorded at once.
        let task = try #require(h.core.dispatcher.workers["honest"]?.inFlight.first)
        let honest = h.receive(h.result(task.key), from: 2)
        #expect(honest.committed.map(\.task.id) == [task.key] && honest.acks(to: 2) == [task.key])
        // The rest of the bomb, a budget per turn, silently.
        var turns = 0
        var unknown = 100
        var lines = 0
        while h.core.hasBacklog && turns < 100 {
            turns += 1
            let out = h.drive(.intake)
            unknown += out.counts(.unknownTasks)
            lines += logs(out).count
            #expect(out.messages(to: 1).count == 1)
        }
        #expect(turns == 9 && unknown == 1_000 && lines == 0)
    }

    @Test("an unregistered peer's batch costs one register and one count, not one per entry")
    func unregisteredBatch() throws {
        var h = try CoreHarness()
        let frames = try Self.bomb(h, count: 5_000, session: "")
        let out = h.receive(frame: frames[0], from: 9)
        #expect(out.counts(.unregistered) == 5_000 && !h.core.hasBacklog)
        #expect(out.messages(to: 9).count == 1 && logs(out).count == 1)
    }

    @Test("a peer whose unread frames pass --intake-backlog-bytes loses its next frames, counted")
    func backlogBound() throws {
        var h = try CoreHarness(options: {
            $0.intakeBudget = 10
            $0.intakeBacklogBytes = 1
        })
        h.receive(CoreHarness.hello("bomber", prefetch: 1), from: 1)
        let frames = try Self.bomb(h, count: 100, session: try #require(h.sessions[1]))
        h.receive(frame: frames[0], from: 1)
        let dropped = h.receive(frame: frames[0], from: 1)
        #expect(dropped.counts(.framesDropped) == 1 && dropped.counts(.unknownTasks) == 0)
    }

    @Test("the same complaint about the same peer is logged once per --error-log-interval, then says how many were not")
    func complaintsAreGated() throws {
        var h = try CoreHarness(options: { $0.errorLogInterval = 10 })
        var lines: [String] = []
        for _ in 0..<5 {
            lines += logs(h.receive(.heartbeat(Heartbeat(sentAt: h.now)), from: 7))
            lines += logs(h.receive(h.result(0), from: 7))
        }
        h.now += 11
        lines += logs(h.receive(h.result(0), from: 7))
        let refusals = lines.filter { $0.contains("which has not registered") }
        #expect(refusals.count == 2 && refusals[1].hasSuffix("(and 4 more like it since the last such line)"))
        #expect(h.counters.unregistered == 6)
    }
}
