import Coordinator
import Foundation
import SweepProtocol
import Testing

/// A coordinator that knows how many workers it can hold: the open-file limit and the refusal
/// beyond it, in-process.
@Suite struct ConnectionLimitTests {
    @Test("beyond --max-workers a new worker is refused with the reason; the registered one keeps its tasks")
    func refusedBeyondLimit() throws {
        var h = try CoreHarness(options: { $0.maxWorkers = 1 })
        let first = h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        #expect(first.tasks(to: 1).count == 2)
        let second = h.receive(CoreHarness.hello("b", prefetch: 2), from: 2)
        guard case .reject(let reject)? = second.messages(to: 2).first else {
            Issue.record("no reject: \(second)")
            return
        }
        #expect(reject.reason.contains("its limit of 1 worker connections (--max-workers)"), "\(reject.reason)")
        #expect(second.tasks(to: 2).isEmpty)
        #expect(Array(h.core.dispatcher.workers.keys) == ["a"])
        #expect(h.core.dispatcher.workers["a"]?.inFlight.count == 2)
        // The registered worker saying hello again (after a reconnection) is not refused.
        let again = h.receive(CoreHarness.hello("a", prefetch: 2), from: 1)
        #expect(!again.messages(to: 1).contains { if case .reject = $0 { true } else { false } })
    }

    @Test("the room: the soft limit less the descriptors in use and a reserve of 1/20 (at least 64)")
    func room() {
        #expect(ConnectionLimit(softBefore: 1024, soft: 1024, hard: 1024, inUse: 20).workers == 1024 - 20 - 64)
        #expect(ConnectionLimit(softBefore: 1024, soft: 20_000, hard: 20_000, inUse: 30).workers == 20_000 - 30 - 1000)
        #expect(ConnectionLimit(softBefore: 1024, soft: 20_000, hard: 20_000, inUse: 30).summary
            == "open-file limit raised from 1024 to 20000: room for 18970 worker connections (30 descriptors in use, 1000 kept free)")
        #expect(ConnectionLimit(softBefore: 50, soft: 50, hard: 50, inUse: 40).workers == 1)
    }

    @Test("raise() lifts this process's soft open-file limit to its hard limit")
    func raise() {
        let limit = ConnectionLimit.raise()
        var now = rlimit()
        #expect(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &now) == 0)
        #expect(limit.soft == Int(now.rlim_cur) && limit.soft >= limit.softBefore)
        #expect(limit.soft == min(limit.hard, limit.soft) && limit.inUse > 0)
    }
}

@Suite struct SilentTogetherTests {
    @Test("workers that fall silent together are dropped in one pass: one line, every task back in the queue")
    func droppedTogether() throws {
        var h = try CoreHarness(yaml: CoreHarness.noop(trials: 40))
        for (index, id) in ["a", "b", "c", "d", "e"].enumerated() {
            h.receive(CoreHarness.hello(id, prefetch: 2), from: UInt8(index + 1))
        }
        // The loop turns every second (a longer pause would be taken for the coordinator's own).
        var out: [CoordinatorCore.Command] = []
        for _ in 0..<11 {
            h.now += 1
            let turn = h.drive(.tick)
            if turn.counts(.workersLost) > 0 { out = turn }
        }
        #expect(out.counts(.workersLost) == 5 && out.counts(.tasksRequeued) == 10)
        #expect(h.core.dispatcher.workers.isEmpty)
        let lines = out.compactMap { command -> String? in
            if case .log(.warning, let text) = command { text } else { nil }
        }
        #expect(lines == ["5 workers on 5 host(s) dropped (a, b, c, …): silent for more than 10.0 s; 10 task(s) back in the queue"],
                "\(lines)")
    }
}
