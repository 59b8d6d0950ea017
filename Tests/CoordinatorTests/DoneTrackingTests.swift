import Coordinator
import ResultsStore
import Testing

/// Done-tracking by bitmap and results held while the store fails (issue 11, items 2 and 5),
/// without any process or socket.
@Suite struct DoneTrackingTests {
    @Test("finished tasks in the bitmap are skipped; the fresh cursor finds the gaps")
    func resumeSkipsFinished() {
        var done = TaskBitmap(count: 200)
        for id in 0..<200 where id != 3 && id != 130 && id != 199 { done[id] = true }
        var d = Dispatcher(taskCount: 200, done: done, maxAttempts: 3, maxPrefetch: 8)
        #expect(d.doneCount == 197)
        _ = d.register(id: "w", peer: [1], host: "h", prefetch: 8, now: 0, liveWithin: 10)
        let first = d.assign(to: "w"), second = d.assign(to: "w")
        #expect(first.map(\.taskID) == [3, 130, 199])
        #expect(second.isEmpty)
    }

    @Test("a parked task frees its worker's credit, is not handed out again, and counts once committed")
    func parkedResults() {
        var d = Dispatcher(taskCount: 6, done: TaskBitmap(count: 6), maxAttempts: 3, maxPrefetch: 2)
        _ = d.register(id: "w", peer: [1], host: "h", prefetch: 2, now: 0, liveWithin: 10)
        let held = d.assign(to: "w"), none = d.assign(to: "w")
        #expect(held.map(\.taskID) == [0, 1])
        #expect(none.isEmpty)  // no credit left
        d.park(0, from: "w")
        d.park(1, from: "w")
        #expect(d.workers["w"]?.tasksDone == 2)
        // Credit is back and the parked tasks are not sent again.
        let next = d.assign(to: "w")
        #expect(next.map(\.taskID) == [2, 3])
        #expect(!d.isDone(0) && d.holder(of: 0) == nil)
        // The store takes them: now they are done, and counted once.
        let committed = [d.complete(0), d.complete(1)]
        #expect(committed == [true, true])
        #expect(d.isDone(0) && d.doneCount == 2)
        #expect(d.workers["w"]?.tasksDone == 2)
        let again = d.complete(0)
        #expect(!again)
    }
}
