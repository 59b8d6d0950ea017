import Coordinator
import Testing

/// The dispatcher's rules (leases, credit, attempts) without any process or socket.
@Suite struct DispatcherTests {
    func dispatcher(tasks: Int = 10, maxAttempts: Int = 3, maxPrefetch: Int = 4) -> Dispatcher {
        Dispatcher(taskCount: tasks, done: Array(repeating: false, count: tasks), maxAttempts: maxAttempts,
                   maxPrefetch: maxPrefetch)
    }

    func register(_ d: inout Dispatcher, _ id: String, peer: UInt8, prefetch: Int = 2, now: Double = 0)
        -> Dispatcher.Registration {
        d.register(id: id, peer: [peer], host: "h", prefetch: prefetch, now: now, liveWithin: 10, newSession: "token-\(id)")
    }

    @Test("an adaptive round grows a complete dispatcher: only the new ids go out, then it is complete again")
    func growByARound() {
        var d = dispatcher(tasks: 3, maxPrefetch: 4)
        _ = register(&d, "w", peer: 1, prefetch: 4)
        for task in d.assign(to: "w") { d.complete(task.taskID) }
        #expect(d.isComplete)
        d.grow(to: 70)
        #expect(!d.isComplete && d.pendingCount == 67)
        #expect(d.assign(to: "w").map(\.taskID) == [3, 4, 5, 6])
        #expect(d.check(69, attempt: 1, from: "w") == .notHolder)
        #expect(d.check(70, attempt: 1, from: "w") == .unknownTask)
        d.grow(to: 10)  // never shrinks
        #expect(d.taskCount == 70)
    }

    @Test("credit: a worker holds at most its prefetch, capped by maxPrefetch (item 6)")
    func prefetchCapped() {
        var d = dispatcher(tasks: 100, maxPrefetch: 4)
        let v1 = register(&d, "greedy", peer: 1, prefetch: 1_000_000_000)
        #expect(v1 == .new)
        #expect(d.workers["greedy"]?.prefetch == 4)
        let v2 = d.assign(to: "greedy")
        #expect(v2.count == 4)
        let v3 = d.assign(to: "greedy")
        #expect(v3.isEmpty)
        let v4 = register(&d, "honest", peer: 2, prefetch: 2)
        #expect(v4 == .new)
        let v5 = d.assign(to: "honest")
        #expect(v5.map(\.taskID) == [4, 5])
    }

    @Test("a result counts only from the worker holding the task's current lease, at its attempt (item 5)")
    func leases() {
        var d = dispatcher()
        _ = register(&d, "a", peer: 1)
        _ = register(&d, "b", peer: 2)
        let held = d.assign(to: "a")
        #expect(held.map(\.taskID) == [0, 1] && held.allSatisfy { $0.attempt == 1 })
        #expect(d.check(0, attempt: 1, from: "a") == .held)
        #expect(d.check(0, attempt: 1, from: "b") == .notHolder)
        #expect(d.check(0, attempt: 0, from: "a") == .notHolder)
        #expect(d.check(0, attempt: -7, from: "a") == .notHolder)
        #expect(d.check(0, attempt: 1 << 62, from: "a") == .notHolder)
        #expect(d.check(10, attempt: 1, from: "a") == .unknownTask)
        #expect(d.check(-1, attempt: 1, from: "a") == .unknownTask)
        let v6 = d.complete(0)
        #expect(v6)
        #expect(d.check(0, attempt: 1, from: "a") == .alreadyDone)
        let v7 = d.complete(0)
        #expect(!v7)
    }

    @Test("a lost worker's tasks go back without counting; its late result has no lease (items 5, 6)")
    func lostWorkersNeverCount() {
        var d = dispatcher(maxAttempts: 1)
        for round in 0..<5 {
            let id = "flaky\(round)"
            _ = register(&d, id, peer: UInt8(round + 1))
            let held = d.assign(to: id)
            #expect(!held.isEmpty)
            let v8 = d.dropWorker(id)
            #expect(v8.sorted() == held.map(\.taskID).sorted())
            #expect(held.allSatisfy { d.failures(of: $0.taskID) == 0 })
            #expect(d.check(held[0].taskID, attempt: held[0].attempt, from: id) == .notHolder)
        }
        #expect(d.doneCount == 0 && d.pendingCount == 10)
        // Re-dispatched tasks carry the coordinator's next attempt number.
        _ = register(&d, "steady", peer: 99)
        let again = d.assign(to: "steady")
        #expect(again.allSatisfy { $0.attempt > 1 })
    }

    @Test("failures the task causes count; at maxAttempts it is to be recorded as failed (item 3)")
    func failuresCount() {
        var d = dispatcher(tasks: 1, maxAttempts: 3)
        _ = register(&d, "a", peer: 1)
        for expected in 1...2 {
            let (task, attempt) = d.assign(to: "a")[0]
            #expect(task == 0 && attempt == expected)
            let v9 = d.fail(0, from: "a")
            #expect(v9 == .requeued(failures: expected))
            #expect(d.holder(of: 0) == nil)
        }
        let (_, attempt) = d.assign(to: "a")[0]
        #expect(attempt == 3)
        let v10 = d.fail(0, from: "a")
        #expect(v10 == .exhausted(failures: 3))
        // The lease stays until the failure is committed; nobody else gets the task meanwhile.
        #expect(d.holder(of: 0) == "a")
        let v11 = d.complete(0)
        #expect(v11)
        #expect(d.isComplete)
    }

    @Test("a live worker id cannot be taken over from another connection; a stale one starts a new session that inherits nothing (item 7, issue 20)")
    func duplicateWorkerID() {
        var d = dispatcher()
        let v12 = d.register(id: "w", peer: [1], host: "h", prefetch: 2, now: 100, liveWithin: 10, newSession: "s1")
        #expect(v12 == .new)
        _ = d.assign(to: "w", now: 100)
        let v13 = d.register(id: "w", peer: [2], host: "evil", prefetch: 2, now: 105, liveWithin: 10)
        #expect(v13 == .refused)
        #expect(d.workers["w"]?.host == "h" && d.workerID(forPeer: [2]) == nil)
        // The same connection saying hello again keeps its slot and tasks.
        let v14 = d.register(id: "w", peer: [1], host: "h", prefetch: 2, now: 106, liveWithin: 10)
        #expect(v14 == .again)
        #expect(d.workers["w"]?.inFlight.count == 2)
        // A peer already registered cannot register a second id.
        let v15 = d.register(id: "w2", peer: [1], host: "h", prefetch: 2, now: 106, liveWithin: 10)
        #expect(v15 == .refused)
        // After silence, a hello without the token starts a new session: the old one's tasks
        // go back to the queue, none is inherited.
        let v16 = d.register(id: "w", peer: [3], host: "h", prefetch: 2, now: 200, liveWithin: 10, session: "guess",
                             newSession: "s2")
        #expect(v16 == .replaced(requeued: [0, 1]))
        #expect(d.workerID(forPeer: [3]) == "w" && d.workerID(forPeer: [1]) == nil)
        #expect(d.workers["w"]?.session == "s2" && d.workers["w"]?.inFlight.isEmpty == true)
        // The session's own token resumes it on any connection, live or not, leases and all.
        let held = d.assign(to: "w", now: 200)
        let v17 = d.register(id: "w", peer: [4], host: "h", prefetch: 2, now: 201, liveWithin: 10, session: "s2",
                             newSession: "s3")
        #expect(v17 == .again)
        #expect(d.workers["w"]?.session == "s2" && d.workers["w"]?.inFlight.count == held.count)
        #expect(d.workerID(forPeer: [4]) == "w" && d.workerID(forPeer: [3]) == nil)
    }

    @Test("leases: the running task overruns from the later of its dispatch and the last delivery (item 4)")
    func overrun() {
        var d = dispatcher()
        _ = register(&d, "slow", peer: 1, now: 0)
        let held = d.assign(to: "slow", now: 0)
        #expect(d.overrunLeases(now: 50, limit: { _ in 60 }).isEmpty)
        let late = d.overrunLeases(now: 61, limit: { _ in 60 })
        #expect(late.map(\.worker) == ["slow"] && late.map(\.taskID) == [held[0].taskID])
        #expect(d.overrunLeases(now: 1000, limit: { _ in nil }).isEmpty)
        // After delivering the first at t = 55, the second runs from 55.
        let v17 = d.complete(held[0].taskID, now: 55)
        #expect(v17)
        #expect(d.overrunLeases(now: 100, limit: { _ in 60 }).isEmpty)
        #expect(d.overrunLeases(now: 116, limit: { _ in 60 }).map(\.taskID) == [held[1].taskID])
    }

    @Test("silence is measured from the last message; a coordinator that stood still forgives it")
    func silence() {
        var d = dispatcher()
        _ = register(&d, "a", peer: 1, now: 0)
        _ = register(&d, "b", peer: 2, now: 0)
        d.touch("b", now: 8)
        #expect(d.silentWorkers(now: 11, timeout: 10) == ["a"])
        d.touchAll(now: 40)
        #expect(d.silentWorkers(now: 45, timeout: 10).isEmpty)
    }

    @Test("a task handed back goes to the next worker; nothing is handed out twice at once")
    func noDoubleLease() {
        var d = dispatcher(tasks: 8)
        _ = register(&d, "a", peer: 1, prefetch: 4)
        _ = register(&d, "b", peer: 2, prefetch: 4)
        let a = d.assign(to: "a").map(\.taskID)
        let b = d.assign(to: "b").map(\.taskID)
        #expect(Set(a).isDisjoint(with: b) && a.count + b.count == 8)
        d.returnTask(a[0], from: "b")  // not b's: ignored
        #expect(d.holder(of: a[0]) == "a")
        d.returnTask(a[0], from: "a")
        let v18 = d.assign(to: "b")
        #expect(v18.isEmpty)  // b has no credit left
        let v19 = d.complete(b[0])
        #expect(v19)
        let v20 = d.assign(to: "b")
        #expect(v20.map(\.taskID) == [a[0]])
    }

    @Test("task durations: no lease until measured, a multiple of the cell's mean, doubled per overrun")
    func durations() {
        var t = TaskDurations(factor: 10, floor: 5)
        #expect(t.limit(cell: 0, task: 0) == nil)
        t.record(cell: 0, seconds: 1)
        t.record(cell: 0, seconds: 3)
        #expect(t.limit(cell: 0, task: 0) == 20)
        #expect(t.limit(cell: 1, task: 9) == 80)  // unmeasured: 4 × the longest mean
        t.overran(task: 0)
        #expect(t.limit(cell: 0, task: 0) == 40)
        t.record(cell: 2, seconds: .nan)
        #expect(t.limit(cell: 2, task: 5) == 80)
        // Past maxCells, further cells share one mean.
        var small = TaskDurations(factor: 10, floor: 5)
        small.maxCells = 1
        small.record(cell: 0, seconds: 1)
        small.record(cell: 1, seconds: 3)
        small.record(cell: 2, seconds: 5)
        #expect(small.limit(cell: 0, task: 0) == 10)
        #expect(small.limit(cell: 7, task: 70) == 40)
    }
}
