import Foundation
import Coordinator
import ResultsStore
import SweepConfig
import SweepProtocol
import Testing
import TrainingCore

/// Verification by replay (issue 20), decided in-process: which tasks are sampled, where their
/// replays go, how two reports are compared, and what a third run decides.
@Suite struct VerificationTests {
    static func hello(_ id: String, host: String) -> Message {
        FaultTests.hello(id, host: host, prefetch: 1)
    }

    /// A core verifying `fraction` of a tiny deep-linear sweep of `trials` tasks (trained
    /// runs: a noop's report is fixed, so it cannot lie well).
    static func harness(trials: Int, fraction: Double = 1, done: Set<Int> = [],
                        toVerify: [TaskOutcome] = []) throws -> CoreHarness {
        try CoreHarness(yaml: Self.yaml(trials: trials, fraction: fraction), done: done, toVerify: toVerify)
    }

    static func yaml(trials: Int, fraction: Double = 1) -> String {
        """
            name: verify
            seed: 3
            problem: {signal_dim: 8, measurements: 4, latent_dim: 2, samples: 6, test_samples: 10}
            grid: {depth: [2], width: [6]}
            trials: \(trials)
            training: {steps: 50, eta_scale: 0.5, stop_on_success: false}
            test_noise: [0.0, 0.1]
            verify: {fraction: \(fraction)}
            """
    }

    /// The result a worker computes for `taskID`: the run itself.
    static func result(_ h: CoreHarness, _ taskID: Int, attempt: Int = 1) -> Message {
        let task = h.core.plan.task(taskID)
        let report = try! runExperiment(h.core.configuration.sampled(task.spec, trial: task.trial))
        return .result(TaskResult(sweep: h.fingerprint, taskID: taskID, attempt: attempt, report: report,
                                  startedAt: h.now - 1, finishedAt: h.now - 0.5))
    }

    /// A finite, consistent, wrong report: what a worker that lies well sends.
    static func lie(_ message: Message) -> Message {
        guard case .result(var result) = message else { return message }
        result.report.gradientNorm += 0.5
        return .result(result)
    }

    /// Answers every task sent to the peers in `workers` until none is left unanswered (the
    /// liars in `liars` with `lie`); a peer that was rejected answers no more.
    static func serve(_ h: inout CoreHarness, _ workers: [UInt8], liars: Set<UInt8> = [], rounds: Int = 100) {
        var answered: [UInt8: Set<[Int]>] = [:]
        serve(&h, workers, liars: liars, rounds: rounds, answered: &answered)
    }

    /// `answered`: what each peer answered already (kept across calls).
    static func serve(_ h: inout CoreHarness, _ workers: [UInt8], liars: Set<UInt8> = [], rounds: Int = 100,
                      answered: inout [UInt8: Set<[Int]>]) {
        for _ in 0..<rounds {
            var progressed = false
            for peer in workers {
                let rejected = h.commands.messages(to: peer).contains { if case .reject = $0 { true } else { false } }
                guard !rejected else { continue }
                for task in h.commands.tasks(to: peer) where !answered[peer, default: []].contains([task.taskID, task.attempt]) {
                    answered[peer, default: []].insert([task.taskID, task.attempt])
                    let honest = result(h, task.taskID, attempt: task.attempt)
                    h.receive(liars.contains(peer) ? lie(honest) : honest, from: peer)
                    progressed = true
                }
            }
            if !progressed { return }
        }
    }

    /// One task recorded by `recorder` (peer 1, host alpha), then `replayer` (peer 2, host
    /// beta) joins: the core, and the replay it was sent.
    static func recordedThenReplaying(_ recorder: String, _ replayer: String) throws -> (CoreHarness, TaskAssignment) {
        var h = try harness(trials: 1)
        h.receive(hello(recorder, host: "alpha"), from: 1)
        h.receive(result(h, 0), from: 1)
        h.receive(hello(replayer, host: "beta"), from: 2)
        return (h, try #require(h.commands.tasks(to: 2).first))
    }

    static func truth(_ h: CoreHarness, _ taskID: Int) -> RunReport {
        guard case .result(let result) = result(h, taskID) else { fatalError() }
        return result.report
    }

    // MARK: Replays

    @Test("verify 0 (the default): no replay, nothing waits, and the sweep finishes with its last result")
    func off() throws {
        var h = try CoreHarness(yaml: Self.harness(trials: 4).core.configuration.yamlText.replacingOccurrences(of: "verify: {fraction: 1.0}", with: ""))
        #expect(h.core.configuration.verifyFraction == 0)
        h.receive(Self.hello("a", host: "alpha"), from: 1)
        h.receive(Self.hello("b", host: "beta"), from: 2)
        Self.serve(&h, [1, 2])
        #expect(h.commands.finishes && h.rows.count == 4)
        #expect(Set((h.commands.tasks(to: 1) + h.commands.tasks(to: 2)).map { [$0.taskID, $0.attempt] }).count == 4)
        #expect(h.events.isEmpty && h.core.dispatcher.replaysWaiting == 0)
    }

    @Test("a sampled task is replayed on a worker of another host (not another worker of its own); a match is recorded and the sweep ends after it")
    func replayOnAnotherHost() throws {
        var h = try Self.harness(trials: 2)
        h.receive(Self.hello("a1", host: "alpha"), from: 1)
        h.receive(Self.hello("a2", host: "alpha"), from: 2)
        h.receive(Self.hello("b1", host: "beta"), from: 3)
        let first = try #require(h.commands.tasks(to: 1).first)
        #expect(first.taskID == 0 && h.commands.tasks(to: 3).isEmpty)
        let after = h.receive(Self.result(h, 0), from: 1)
        // The replay goes to beta, under the next attempt; a2 (alpha, busy anyway) and a1 get nothing of it.
        #expect(after.tasks(to: 3).map(\.taskID) == [0] && after.tasks(to: 3).first?.attempt == 2)
        #expect(after.tasks(to: 1).isEmpty && after.tasks(to: 2).isEmpty)
        // Task 1 done on alpha: not finished while its replay is to come.
        let second = h.receive(Self.result(h, 1), from: 2)
        #expect(!second.finishes)
        let replay1 = h.commands.tasks(to: 3).filter { $0.taskID == 1 }
        let replayed0 = h.receive(Self.result(h, 0, attempt: 2), from: 3)
        #expect(replayed0.acks(to: 3) == [0])
        #expect(replay1.isEmpty || !replayed0.finishes)
        Self.serve(&h, [1, 2, 3])
        #expect(h.commands.finishes)
        #expect(h.counters.resultsVerified == 2 && h.counters.resultsMismatched == 0)
        #expect(h.events.map(\.kind) == [.verified, .verified])
        #expect(Set(h.events.map(\.host)) == ["beta"])
        #expect(h.rows.count == 2)
    }

    @Test("a liar's result: the replay disagrees, a third worker decides against it; it is quarantined, its unverified rows replaced and run again by honest workers")
    func liarRecorded() throws {
        var h = try Self.harness(trials: 6)
        h.receive(Self.hello("liar", host: "alpha"), from: 1)
        Self.serve(&h, [1], liars: [1], rounds: 1)  // the liar records task 0 before anyone else joins
        #expect(h.rows.map(\.workerID) == ["liar"])
        h.receive(Self.hello("b", host: "beta"), from: 2)
        h.receive(Self.hello("c", host: "gamma"), from: 3)
        Self.serve(&h, [1, 2, 3], liars: [1])
        let finished = h.commands.finishes
        #expect(finished, "done \(h.core.dispatcher.doneCount), replays waiting \(h.core.dispatcher.replaysWaiting), out \(h.core.dispatcher.replaysInFlight), in flight \(h.core.dispatcher.inFlightCount), pending \(h.core.dispatcher.pendingCount), workers \(h.core.dispatcher.workers.mapValues { $0.inFlight })")
        #expect(h.core.dispatcher.quarantined["liar"] != nil)
        #expect(h.counters.workersQuarantined == 1 && h.counters.resultsMismatched >= 1)
        #expect(h.counters.rowsReplaced == h.replaced.count && !h.replaced.isEmpty)
        #expect(h.replaced.allSatisfy { $0.workerID == "liar" })
        // Every row is an honest worker's, with the true report; every task has one row.
        #expect(h.rows.count == 6 && Set(h.rows.map(\.task.id)) == Set(0..<6))
        for row in h.rows {
            #expect(row.workerID != "liar")
            guard case .report(let report) = row.result else { Issue.record("failed row"); continue }
            #expect(report.disagreements(with: Self.truth(h, row.task.id)).isEmpty)
        }
        let kinds = h.events.map(\.kind)
        #expect(kinds.contains(.mismatch) && kinds.contains(.quarantined))
        let mismatch = try #require(h.events.first { $0.kind == .mismatch })
        #expect(mismatch.workerID == "liar" && mismatch.detail.contains("gradientNorm"))
    }

    @Test("a liar replaying an honest result: the third run sides with the recorded row, which stays; the liar is quarantined")
    func liarReplaying() throws {
        var (h, replay) = try Self.recordedThenReplaying("a", "liar")
        #expect(h.rows.map(\.workerID) == ["a"] && replay.taskID == 0)
        h.receive(Self.hello("c", host: "gamma"), from: 3)
        Self.serve(&h, [1, 2, 3], liars: [2])
        #expect(h.commands.tasks(to: 3).map(\.taskID) == [0])  // the third run
        #expect(h.core.dispatcher.quarantined["liar"]?.contains("task 0") == true)
        #expect(h.rows.map(\.workerID) == ["a"] && h.replaced.isEmpty)
        #expect(h.counters.resultsVerified == 1 && h.counters.resultsMismatched == 1)
        #expect(h.commands.finishes)
    }

    @Test("a mismatch with no third worker is undecided: said, counted, both workers named, the row kept, and the sweep ends")
    func noThirdWorker() throws {
        var h = try Self.harness(trials: 1)
        h.receive(Self.hello("a", host: "alpha"), from: 1)
        h.receive(Self.result(h, 0), from: 1)
        h.receive(Self.hello("b", host: "beta"), from: 2)
        Self.serve(&h, [1, 2], liars: [2])
        #expect(!h.commands.finishes)
        h.now += 3
        let later = h.drive(.tick)
        #expect(later.finishes)
        #expect(h.counters.mismatchesUnresolved == 1 && h.counters.workersQuarantined == 0)
        let undecided = try #require(h.events.last)
        #expect(undecided.kind == .mismatch && undecided.workerID == "b" && undecided.detail.hasPrefix("undecided"))
        #expect(later.contains { if case .log(_, let line) = $0 { line.contains("no third worker") } else { false } })
        #expect(h.rows.map(\.workerID) == ["a"])
    }

    @Test("with one worker no replay is possible: said, counted, and the sweep ends")
    func oneWorker() throws {
        var h = try Self.harness(trials: 3)
        h.receive(Self.hello("a", host: "alpha"), from: 1)
        Self.serve(&h, [1])
        #expect(h.rows.count == 3 && !h.commands.finishes)
        h.now += 3
        let later = h.drive(.tick)
        #expect(later.finishes && h.counters.replaysUnavailable == 3)
        #expect(later.contains { if case .log(_, let line) = $0 { line.contains("3 sampled task(s) cannot be verified") } else { false } })
    }

    @Test("a replay that fails goes to yet another worker; one whose worker leaves goes back to the queue")
    func replayFailsOrLeaves() throws {
        var (h, replay) = try Self.recordedThenReplaying("a", "b")
        h.receive(.taskFailed(TaskFailure(sweep: h.fingerprint, taskID: 0, attempt: replay.attempt, reason: "oom")), from: 2)
        #expect(h.counters.tasksFailed == 0 && h.rows.count == 1)
        h.receive(Self.hello("c", host: "gamma"), from: 3)
        let again = try #require(h.commands.tasks(to: 3).first)
        #expect(again.taskID == 0 && again.attempt == replay.attempt + 1)
        h.receive(.bye(Bye(reason: "done", taskIDs: [])), from: 3)
        h.receive(Self.hello("d", host: "delta"), from: 4)
        #expect(h.commands.tasks(to: 4).map(\.taskID) == [0])
        Self.serve(&h, [4])
        #expect(h.counters.resultsVerified == 1 && h.commands.finishes)
    }

    @Test("a replay running when the liar's rows are replaced becomes its task's run: its result is the new row, under the replay's attempt")
    func replayBecomesTheRun() throws {
        var h = try Self.harness(trials: 2)
        var answered: [UInt8: Set<[Int]>] = [:]
        h.receive(Self.hello("liar", host: "lima"), from: 1)
        Self.serve(&h, [1], liars: [1], answered: &answered)
        #expect(h.rows.map(\.workerID) == ["liar", "liar"])
        h.receive(Self.hello("b", host: "bravo"), from: 2)
        h.receive(Self.hello("d", host: "delta"), from: 4)
        let replay1 = try #require(h.commands.tasks(to: 4).first)
        #expect(h.commands.tasks(to: 2).map(\.taskID) == [0] && replay1.taskID == 1)
        Self.serve(&h, [2], answered: &answered)  // b disagrees on task 0: a third run is queued
        h.receive(Self.hello("c", host: "charlie"), from: 3)
        #expect(h.commands.tasks(to: 3).map(\.taskID) == [0])
        Self.serve(&h, [3], answered: &answered)  // c sides with b: the liar is convicted while d still runs its replay of task 1
        #expect(h.core.dispatcher.quarantined["liar"] != nil && h.replaced.map(\.task.id) == [0, 1])
        #expect(h.core.dispatcher.holder(of: 1) == "d")
        h.receive(Self.result(h, 1, attempt: replay1.attempt), from: 4)
        let row1 = try #require(h.rows.first { $0.task.id == 1 })
        #expect(row1.workerID == "d" && row1.attempt == replay1.attempt)
        answered[4, default: []].insert([1, replay1.attempt])
        Self.serve(&h, [2, 3, 4], answered: &answered)
        #expect(h.commands.finishes && h.counters.noLease == 0 && h.rows.count == 2)
        #expect(h.rows.allSatisfy { $0.workerID != "liar" })
    }

    @Test("a replay waits for a worker of another host only while one is connected; then another worker of the same host runs it")
    func hostPreference() throws {
        var (h, beta) = try Self.recordedThenReplaying("a1", "b1")
        #expect(beta.taskID == 0)
        // b1 leaves with the replay: a2 (alpha, not the worker that ran it) gets it, as no other host is left.
        h.receive(Self.hello("a2", host: "alpha"), from: 3)
        #expect(h.commands.tasks(to: 3).isEmpty)
        h.receive(.bye(Bye(reason: "done", taskIDs: [0])), from: 2)
        #expect(h.commands.tasks(to: 3).map(\.taskID) == [0] && Set(h.commands.tasks(to: 1).map(\.attempt)) == [1])
        Self.serve(&h, [3])
        #expect(h.counters.resultsVerified == 1 && h.commands.finishes)
        #expect(h.events.first?.workerID == "a2")
    }

    @Test("a verifying resume replays the sampled results recorded before it, compared as stored (no trajectory), and convicts a liar that has left")
    func resume() throws {
        // Recorded by an earlier run: task 0 truthfully, task 1 by a liar; as the store reads
        // them back (no trajectory).
        let plan = SweepPlan(try SweepConfiguration.parse(yaml: Self.yaml(trials: 2), fileName: "core.yaml"))
        let probe = try Self.harness(trials: 2)
        func stored(_ taskID: Int, worker: String, lie: Bool) -> TaskOutcome {
            var report = Self.truth(probe, taskID)
            report.trajectory = []
            if lie { report.gradientNorm += 0.5 }
            return TaskOutcome(task: plan.task(taskID), attempt: 1, workerID: worker, host: "host-\(worker)",
                               startedAt: Date(timeIntervalSince1970: 0), finishedAt: Date(timeIntervalSince1970: 1),
                               result: .report(report))
        }
        let recorded = [stored(0, worker: "old", lie: false), stored(1, worker: "gone", lie: true)]
        var h = try Self.harness(trials: 2, done: [0, 1], toVerify: recorded)
        h.rows = recorded
        #expect(!h.commands.finishes)
        h.receive(Self.hello("b", host: "beta"), from: 2)
        #expect(Set(h.commands.tasks(to: 2).map(\.taskID)).isSubset(of: [0, 1]) && !h.commands.tasks(to: 2).isEmpty)
        h.receive(Self.hello("c", host: "gamma"), from: 3)
        Self.serve(&h, [2, 3])
        #expect(h.events.contains { $0.kind == .verified && $0.taskID == 0 })
        #expect(h.core.dispatcher.quarantined["gone"] != nil && h.replaced.map(\.task.id) == [1])
        #expect(h.commands.finishes && h.rows.count == 2 && h.rows.allSatisfy { $0.workerID != "gone" })
    }
}
