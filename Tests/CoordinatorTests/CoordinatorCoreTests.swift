import Coordinator
import ResultsStore
import SweepConfig
import SweepProtocol
import Testing

/// The coordinator's decisions, in-process on events and commands: no socket, no store, no
/// process, no log text. `CoreHarness` plays the driver.
@Suite struct RegistrationTests {
    @Test("a hello is welcomed with the granted credit (capped by --max-prefetch) and as many tasks")
    func welcomeAndCredit() throws {
        var h = try CoreHarness()
        let out = h.receive(CoreHarness.hello("a", prefetch: 1_000_000), from: 1)
        guard case .welcome(let welcome) = out.messages(to: 1).first else {
            Issue.record("no welcome: \(out)")
            return
        }
        #expect(welcome.prefetch == 4 && welcome.fingerprint == h.fingerprint)
        #expect(welcome.heartbeatInterval == 1 && welcome.workerTimeout == 10)
        let tasks = out.tasks(to: 1)
        #expect(tasks.map(\.taskID) == [0, 1, 2, 3] && tasks.allSatisfy { $0.attempt == 1 && $0.sweep == h.fingerprint })
        // A second worker gets the next tasks, no more than it asked for.
        let second = h.receive(CoreHarness.hello("b", prefetch: 1), from: 2)
        #expect(second.tasks(to: 2).map(\.taskID) == [4])
    }

    @Test("a peer of another protocol version is rejected naming both versions, and counted")
    func wrongVersion() throws {
        var h = try CoreHarness()
        var frame = try CoreHarness.hello("old").encoded()
        frame[4] = protocolVersion - 1
        let out = h.receive(frame: frame, from: 9)
        #expect(out.counts(.versionMismatches) == 1)
        #expect(out.messages(to: 9) == [.reject(Reject(
            reason: "protocol version \(protocolVersion - 1) is not supported; this coordinator speaks version \(protocolVersion)",
            coordinatorVersion: Int(protocolVersion), peerVersion: Int(protocolVersion - 1)))])
        #expect(h.core.dispatcher.workers.isEmpty)
    }

    @Test("a hello with an unprintable id or no credit is rejected as malformed", arguments: ["", "a\u{7}b"])
    func badHello(id: String) throws {
        var h = try CoreHarness()
        let out = h.receive(CoreHarness.hello(id), from: 1)
        #expect(out.counts(.malformedFrames) == 1)
        guard case .reject = out.messages(to: 1).first else {
            Issue.record("not rejected: \(out)")
            return
        }
        #expect(h.core.dispatcher.workers.isEmpty && out.tasks(to: 1).isEmpty)
        let greedy = h.receive(CoreHarness.hello("ok", prefetch: 0), from: 2)
        #expect(greedy.counts(.malformedFrames) == 1 && greedy.tasks(to: 2).isEmpty)
    }

    @Test("an unknown peer's result or heartbeat is answered with register, never recorded")
    func unknownPeer() throws {
        var h = try CoreHarness()
        let out = h.receive(h.result(0), from: 7)
        #expect(out.counts(.unregistered) == 1 && out.committed.isEmpty)
        #expect(out.messages(to: 7) == [.register(Register(reason: "unknown connection: say hello, then send your results again"))])
        let beat = h.receive(.heartbeat(Heartbeat(sentAt: h.now)), from: 7)
        #expect(beat.messages(to: 7) == [.register(Register(reason: "unknown connection: say hello"))])
        #expect(beat.counts(.unregistered) == 0)
    }

    @Test("a second hello with a live worker's id gets nothing; once that id falls silent it gets in")
    func duplicateID() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a"), from: 1)
        let impostor = h.receive(CoreHarness.hello("a"), from: 2)
        #expect(impostor.counts(.duplicateWorkers) == 1 && impostor.messages(to: 2).isEmpty)
        #expect(h.core.dispatcher.workerID(forPeer: [1]) == "a")
        h.now += 11
        let again = h.receive(CoreHarness.hello("a"), from: 2)
        guard case .welcome = again.messages(to: 2).first else {
            Issue.record("not welcomed on its new connection: \(again)")
            return
        }
        #expect(h.core.dispatcher.workerID(forPeer: [2]) == "a")
    }

    @Test("coordinator-only messages from a worker are counted as unexpected")
    func unexpected() throws {
        var h = try CoreHarness()
        let out = h.receive(.shutdown(Shutdown(reason: "x")), from: 1)
        #expect(out.counts(.unexpectedMessages) == 1 && out.messages(to: 1).isEmpty)
        let frames = h.drive(.received([[1], [0], [0]]))
        #expect(frames.counts(.malformedFrames) == 1)
    }
}

@Suite struct SettlingTests {
    @Test("a valid result is committed with its provenance, then acknowledged, then the credit refilled")
    func settle() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        let out = h.receive(h.result(0), from: 1)
        let row = try #require(out.committed.first)
        #expect(out.committed.count == 1 && row.task.id == 0 && row.attempt == 1)
        #expect(row.workerID == "a" && row.host == "host-a")
        guard case .report = row.result else {
            Issue.record("not recorded as a report: \(row.result)")
            return
        }
        // The ack only after the commit; then the next task.
        let commit = try #require(out.firstIndex { if case .commit = $0 { true } else { false } })
        let ack = try #require(out.firstIndex(of: .send(.ack(Ack(taskIDs: [0])), to: [1])))
        #expect(commit < ack)
        #expect(out.tasks(to: 1).map(\.taskID) == [2])
        #expect(h.core.dispatcher.isDone(0) && h.core.recordedNow == 1)
    }

    @Test("a result is refused without a lease at that attempt, for an unknown task, or twice")
    func refused() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        h.receive(CoreHarness.hello("b", prefetch: 1), from: 2)
        let notHolder = h.receive(h.result(0), from: 2)
        #expect(notHolder.counts(.noLease) == 1 && notHolder.committed.isEmpty && notHolder.acks(to: 2) == [0])
        let wrongAttempt = h.receive(h.result(0, attempt: 2), from: 1)
        #expect(wrongAttempt.counts(.noLease) == 1 && wrongAttempt.committed.isEmpty)
        let holder = h.receive(h.result(0), from: 1)
        #expect(holder.committed.count == 1)
        let twice = h.receive(h.result(0), from: 1)
        #expect(twice.counts(.duplicateResults) == 1 && twice.committed.isEmpty && twice.acks(to: 1) == [0])
        guard case .result(var outside) = h.result(0) else { return }
        outside.taskID = 1_000
        let unknownTask = h.receive(.result(outside), from: 1)
        #expect(unknownTask.counts(.unknownTasks) == 1 && unknownTask.acks(to: 1) == [1_000])
    }

    @Test("a result of another sweep is refused, counted and acknowledged (so the worker forgets it)")
    func otherSweep() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a"), from: 1)
        let out = h.receive(h.result(0, sweep: "ffffffffffffffff"), from: 1)
        #expect(out.counts(.otherSweep) == 1 && out.committed.isEmpty && out.acks(to: 1) == [0])
        #expect(h.core.dispatcher.holder(of: 0) == "a")
    }

    @Test("an invalid result fails its attempt: re-queued below --max-attempts, recorded as failed at it")
    func invalidUntilExhausted() throws {
        var h = try CoreHarness(options: { $0.maxAttempts = 2 })
        h.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        let first = h.receive(h.invalidResult(0), from: 1)
        #expect(first.counts(.invalidResults) == 1 && first.counts(.tasksRequeued) == 1 && first.committed.isEmpty)
        #expect(first.acks(to: 1) == [0])
        // Task 0 is back at the head of the queue, under a new attempt.
        let retry = first.tasks(to: 1)
        #expect(retry.map(\.taskID) == [0] && retry.map(\.attempt) == [2])
        let second = h.receive(h.invalidResult(0, attempt: 2), from: 1)
        let row = try #require(second.committed.first)
        guard case .failed(let reason) = row.result else {
            Issue.record("not recorded as failed: \(row.result)")
            return
        }
        // The only worker that ever joined: two workers cannot be asked for.
        #expect(reason.hasPrefix("failed 2 time(s) on 1 worker(s); last: invalid result from worker a on host-a"))
        #expect(second.counts(.tasksFailed) == 1 && second.acks(to: 1) == [0] && h.core.dispatcher.isDone(0))
    }

    @Test("a task_failed counts against --max-attempts the same way")
    func taskFailed() throws {
        var h = try CoreHarness(options: { $0.maxAttempts = 1 })
        h.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        let out = h.receive(.taskFailed(TaskFailure(sweep: h.fingerprint, taskID: 0, attempt: 1, reason: "boom")), from: 1)
        let row = try #require(out.committed.first)
        #expect(row.result == .failed(reason: "failed 1 time(s) on 1 worker(s); last: boom"))
        #expect(out.counts(.tasksFailed) == 1 && out.counts(.tasksRequeued) == 0)
    }
}

@Suite struct LivenessTests {
    @Test("a silent worker is dropped and its tasks go to another without counting a failure; its late result has no lease")
    func silentWorker() throws {
        var h = try CoreHarness(options: { $0.maxAttempts = 1 })
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        h.receive(CoreHarness.hello("b", prefetch: 2), from: 2)
        // b heartbeats every second, a says nothing: a is dropped once silent for more than 10 s.
        var lost: [CoordinatorCore.Command] = []
        for _ in 0..<11 {
            h.now += 1
            h.receive(.heartbeat(Heartbeat(sentAt: h.now)), from: 2)
            lost = h.drive(.tick)
            #expect(h.core.dispatcher.workers["a"] != nil || lost.counts(.workersLost) == 1)
        }
        let out = lost
        #expect(out.counts(.workersLost) == 1 && out.counts(.tasksRequeued) == 2)
        #expect(h.core.dispatcher.workers.keys.sorted() == ["b"])
        #expect(h.core.dispatcher.failures(of: 0) == 0)
        // b settles a task; the freed credit takes a's tasks first.
        let settled = h.receive(h.result(2), from: 2)
        #expect(settled.tasks(to: 2).map(\.taskID) == [1])
        let late = h.receive(h.result(0), from: 1)
        #expect(late.counts(.unregistered) == 1 && late.committed.isEmpty)
    }

    @Test("a bye hands the worker's tasks back at once")
    func bye() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        h.receive(CoreHarness.hello("b", prefetch: 1), from: 2)
        let out = h.receive(.bye(Bye(reason: "stopped by signal", taskIDs: [0, 1])), from: 1)
        #expect(out.tasks(to: 2).isEmpty)  // b's credit is full
        #expect(h.core.dispatcher.pendingCount == 5 && h.core.dispatcher.workers["a"] == nil)
        let settled = h.receive(h.result(2), from: 2)
        #expect(settled.tasks(to: 2).map(\.taskID) == [1])
        #expect(out.counts(.workersLost) == 0)
    }

    @Test("an undecodable frame from a registered worker costs it its tasks")
    func malformedFrame() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        let frame = Array(try h.result(0).encoded().dropLast(3))
        let out = h.receive(frame: frame, from: 1)
        #expect(out.counts(.malformedFrames) == 1 && out.counts(.workersLost) == 1 && out.counts(.tasksRequeued) == 2)
    }

    @Test("a running task past --task-timeout expires its lease and its worker")
    func overrun() throws {
        var h = try CoreHarness(options: { $0.taskTimeout = 30; $0.workerTimeout = 1_000 })
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        h.now += 20
        #expect(h.drive(.tick).counts(.leasesExpired) == 0)
        h.now += 11
        let out = h.drive(.tick)
        #expect(out.counts(.leasesExpired) == 1 && out.counts(.workersLost) == 1 && out.counts(.tasksRequeued) == 2)
    }

    @Test("a prefetched task's clock starts when the result before it arrives, also when that result waits for its group")
    func overrunClockOfParkedResult() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 12)) {
            $0.taskTimeout = 1
            $0.workerTimeout = 1_000
            $0.commitDelay = 5
            $0.commitGroup = 100
        }
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        // Two results in one message: committed together, so the next result waits for its group.
        h.now += 0.9
        let pair = h.receive(batch: [h.result(0), h.result(1)], from: 1)
        #expect(pair.committed.map(\.task.id) == [0, 1] && pair.tasks(to: 1).map(\.taskID) == [2, 3])
        // Task 2's result arrives at 1.8 and is parked; task 3, sent at 0.9 behind it, runs from 1.8.
        h.now += 0.9
        let parked = h.receive(h.result(2), from: 1)
        #expect(parked.committed.isEmpty)
        h.now += 0.2
        #expect(h.drive(.tick).counts(.leasesExpired) == 0, "task 3 has run 0.2 s, not 1.1 s")
        h.now += 0.9
        #expect(h.drive(.tick).counts(.leasesExpired) == 1, "task 3 has run 1.1 s")
    }

    @Test("heartbeats go to every worker once per interval")
    func heartbeats() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a"), from: 1)
        h.receive(CoreHarness.hello("b"), from: 2)
        let first = h.drive(.tick)
        #expect(first.messages(to: 1) == [.heartbeat(Heartbeat(sentAt: h.now, session: h.sessions[1] ?? "?"))]
                    && first.messages(to: 2).count == 1)
        h.now += 0.5
        #expect(h.drive(.tick).isEmpty)
    }

    @Test("without workers for --stop-without-workers seconds the coordinator stops, saying why")
    func stopWithoutWorkers() throws {
        var h = try CoreHarness(options: { $0.stopWithoutWorkers = 60 })
        h.now += 59
        #expect(!h.drive(.tick).contains(.stop(reason: "no worker for 60 s")))
        h.now += 1
        #expect(h.drive(.tick).contains(.stop(reason: "no worker for 60 s")))
        #expect(h.core.stopReason == "no worker for 60 s")
    }

    @Test("a dead authentication handler stops the coordinator")
    func authenticationFailed() throws {
        var h = try CoreHarness()
        let out = h.drive(.authenticationFailed("EPIPE"))
        #expect(out.contains(.stop(reason: "the CURVE authentication handler stopped: EPIPE")))
    }
}

@Suite struct GroupCommitTests {
    @Test("results one at a time are committed at once; once a commit held several, results wait for their group (credit freed meanwhile) until --commit-delay after it, or until it is full")
    func groups() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 12)) {
            $0.commitDelay = 0.02
            $0.commitGroup = 3
        }
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        // One result at a time: each commit holds one, nothing waits.
        for id in 0..<2 {
            h.now += 0.001
            let single = h.receive(h.result(id), from: 1)
            #expect(single.committed.map(\.task.id) == [id] && single.acks(to: 1) == [id] && h.core.dispatcher.isDone(id))
            #expect(h.core.nextCommit == nil)
        }

        // Two results in one message (a worker's batch) are committed together...
        h.now += 0.001
        let pair = h.receive(batch: [h.result(2), h.result(3)], from: 1)
        #expect(pair.committed.map(\.task.id) == [2, 3] && pair.acks(to: 1) == [2, 3])
        let pairCommit = h.now

        // ...so the next result waits for its group until 20 ms after that commit.
        h.now += 0.01
        let waiting = h.receive(h.result(4), from: 1)
        #expect(waiting.committed.isEmpty && waiting.acks(to: 1).isEmpty && !h.core.dispatcher.isDone(4))
        #expect(waiting.tasks(to: 1).map(\.taskID) == [6])  // the credit is free while the result waits
        let deadline = try #require(h.core.nextCommit)
        #expect(deadline == pairCommit + 0.02)
        h.now += 0.005
        #expect(h.drive(.flush).committed.isEmpty)  // not yet due
        h.now = deadline
        let due = h.drive(.flush)
        #expect(due.committed.map(\.task.id) == [4] && due.acks(to: 1) == [4] && h.core.dispatcher.isDone(4))
        #expect(h.core.nextCommit == nil)

        // That commit held one: the next result goes in at once again.
        h.now += 0.001
        let alone = h.receive(h.result(5), from: 1)
        #expect(alone.committed.map(\.task.id) == [5] && alone.acks(to: 1) == [5])

        // A full group does not wait.
        h.receive(batch: [h.result(6), h.result(7)], from: 1)
        h.now += 0.001
        h.receive(h.result(8), from: 1)
        h.receive(h.result(9), from: 1)
        let full = h.receive(h.result(10), from: 1)
        #expect(full.committed.map(\.task.id) == [8, 9, 10] && full.acks(to: 1) == [8, 9, 10])
        #expect(h.core.recordedNow == 11 && h.core.dispatcher.doneCount == 11)
    }
}

@Suite struct StoreFaultTests {
    @Test("a store that refuses commits: results held, credit freed, retried after the back-off, then committed")
    func heldThenCommitted() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        h.commitFailure = ("disk full", true)
        let refused = h.receive(h.result(0), from: 1)
        #expect(refused.acks(to: 1).isEmpty && !h.core.dispatcher.isDone(0))
        #expect(refused.tasks(to: 1).map(\.taskID) == [1])  // parked: the credit is free
        #expect(h.core.storeAlert(now: h.now)?.hasPrefix("STORE FAILING since 0 s (disk full); 1 result(s) held") == true)
        h.commitFailure = nil
        #expect(h.drive(.flush).committed.isEmpty)  // before the retry time
        h.now += 1
        let retried = h.drive(.flush)
        #expect(retried.committed.map(\.task.id) == [0] && retried.acks(to: 1) == [0] && h.core.dispatcher.isDone(0))
        #expect(h.core.storeAlert(now: h.now) == nil)
    }

    @Test("a store that fails for good, or past --store-retry-limit, fails the run")
    func failsForGood() throws {
        var h = try CoreHarness(options: { $0.storeRetryLimit = 5 })
        h.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        h.commitFailure = ("disk full", true)
        h.receive(h.result(0), from: 1)
        h.now += 8
        let out = h.drive(.flush)
        #expect(out.contains { if case .fail = $0 { true } else { false } } && h.core.storeFailure != nil)

        var gone = try CoreHarness()
        gone.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        gone.commitFailure = ("file deleted", false)
        let failed = gone.receive(gone.result(0), from: 1)
        #expect(failed.contains(.fail(StoreFailure(description: "file deleted"))))
        #expect(gone.drive(.flush).isEmpty)  // nothing more is committed
    }
}

@Suite struct FinishTests {
    @Test("the last result finishes the sweep; a late hello is welcomed and told to stop")
    func finish() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 2))
        h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        #expect(!h.receive(h.result(0), from: 1).finishes)
        #expect(h.receive(h.result(1), from: 1).finishes && h.core.phase == .finished)
        let late = h.receive(CoreHarness.hello("b"), from: 2)
        #expect(late.messages(to: 2).last == .shutdown(Shutdown(reason: "sweep complete")))
    }

    @Test("a resumed sweep already complete finishes at once")
    func resumedComplete() throws {
        let h = try CoreHarness(yaml: CoreHarness.noop(trials: 2), done: [0, 1])
        #expect(h.commands.finishes)
    }

    @Test("the farewell tells every worker; a straggler's result is still recorded, then it is told to stop")
    func farewell() throws {
        var h = try CoreHarness()
        h.receive(CoreHarness.hello("a", prefetch: 1), from: 1)
        h.receive(CoreHarness.hello("b", prefetch: 1), from: 2)
        let out = h.drive(.farewell(reason: "coordinator stopping"))
        let bye = Message.shutdown(Shutdown(reason: "coordinator stopping"))
        #expect(out.messages(to: 1) == [bye] && out.messages(to: 2) == [bye])
        let straggler = h.drive(.received([[1], try h.result(0).carrying(session: h.sessions[1] ?? "").encoded()]))
        #expect(straggler.committed.map(\.task.id) == [0])
        #expect(straggler.messages(to: 1).last == bye && straggler.acks(to: 1) == [0])
        let beat = h.drive(.received([[2], try Message.heartbeat(Heartbeat(sentAt: h.now)).encoded()]))
        #expect(beat.messages(to: 2) == [bye])
    }
}

@Suite struct AdaptiveRoundTests {
    static let yaml = """
        name: adaptive
        seed: 1
        model: noop
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
        grid:
          depth: [1, 2]
        training: {steps: 1}
        test_noise: [0.0]
        adaptive: {target_ci_width: 0.35, min_trials: 4, max_trials: 12, round: 4}
        """

    @Test("each round adds trials only where the interval is still wide, until max_trials; then the sweep finishes")
    func rounds() throws {
        var h = try CoreHarness(yaml: Self.yaml)
        // Cell 0 always succeeds (sure after 8 runs), cell 1 half the time (never sure).
        h.tallies = { rows, plan in
            plan.cells.map { cell in
                let runs = rows.filter { $0.task.cell.index == cell.index }.count
                return CellTally(runs: runs, successes: cell.index == 0 ? runs : runs / 2)
            }
        }
        #expect(h.core.plan.taskCount == 8)
        h.receive(CoreHarness.hello("a", prefetch: 4), from: 1)
        var rounds: [AdaptiveRound] = []
        var finished = false
        for _ in 0..<40 where !finished {
            guard let next = h.commands.tasks(to: 1).first(where: { !h.core.dispatcher.isDone($0.taskID) }) else { break }
            let out = h.receive(h.result(next.taskID, attempt: next.attempt), from: 1)
            rounds += out.compactMap { if case .recordRound(let round) = $0 { round } else { nil } }
            finished = out.finishes
        }
        #expect(finished && h.core.phase == .finished)
        // Round 1: both cells are wide at 4 runs; round 2: cell 0 is sure at 8; cell 1 stops at 12.
        #expect(rounds.map(\.number) == [1, 2])
        #expect(rounds.map { $0.extensions.map(\.cell) } == [[0, 1], [1]])
        #expect(h.core.plan.taskCount == 20 && h.rows.count == 20)
    }
}
