import Foundation
import ResultsStore
import SweepConfig
import SweepProtocol
import TrainingCore

/// What a replay is compared with: the recorded result of a sampled task and, after a
/// replay disagreed with it, that replay (a third run decides between them).
struct ReplayCheck: Sendable {
    struct Run: Sendable {
        var report: RunReport
        var worker: String
        var host: String
        /// Read back from the store (a resume): no trajectory, and NaN and absent read alike.
        var stored = false

        /// The fields on which this run and `other` (a run received now) disagree.
        func disagreements(with other: RunReport) -> [String] {
            report.disagreements(with: other, asStored: stored)
        }
    }

    var recorded: Run
    var disagreeing: Run?
    /// The last attempt number sent for the task (a replay's is one more).
    var attempt: Int
}

/// Verification by replay (`verify: {fraction: F}`, `--verify`): a deterministic sample of the
/// finished tasks (`VerificationSample`) runs again on another worker, of another host when
/// one is connected, and the two reports are compared field by field within each field's
/// `ReportField.agreement`. A run is deterministic given its task, so a disagreement means a
/// worker lied or computes wrongly (a broken FPU, another BLAS build): a third worker, of a
/// third host where there is one, runs the task too. The worker the third run sides against
/// is quarantined, and its results that no replay confirmed move to `replaced_results` and run
/// again. To a worker a replay is a task like any other.
extension CoordinatorCore {
    /// Queues the replays of the sampled tasks among `outcomes`, just committed.
    mutating func queueReplays(_ outcomes: [TaskOutcome], sample: VerificationSample, now: Double, stored: Bool = false) {
        var queued = false
        for outcome in outcomes where sample.contains(outcome.task.id) {
            guard case .report(let report) = outcome.result, checks[outcome.task.id] == nil else { continue }
            checks[outcome.task.id] = ReplayCheck(
                recorded: .init(report: report, worker: outcome.workerID, host: outcome.host, stored: stored),
                attempt: outcome.attempt + 1)
            dispatcher.queueReplay(Dispatcher.Replay(taskID: outcome.task.id, attempt: outcome.attempt + 1,
                                                     excludedWorkers: [outcome.workerID], excludedHosts: [outcome.host]))
            queued = true
        }
        if queued { assignAll(now: now) }
    }

    /// A valid result of a replay: compared with the recorded one (and, for a third run, with
    /// the replay that disagreed).
    mutating func replayed(_ taskID: Int, report: RunReport, worker: String, peer: [UInt8], now: Double) {
        let host = dispatcher.workers[worker]?.host ?? "unknown"
        guard dispatcher.settleReplay(taskID, from: worker, now: now) != nil else { return }
        ack(taskID, to: peer)
        assign(worker, now: now)
        guard var check = checks[taskID] else { return }
        let at = Date(timeIntervalSince1970: now)
        let recorded = check.recorded
        let differences = recorded.disagreements(with: report)
        guard let disagreeing = check.disagreeing else {
            if differences.isEmpty {
                checks[taskID] = nil
                count(.resultsVerified)
                emit(.recordEvents([PeerEvent(kind: .verified, taskID: taskID, workerID: worker, host: host,
                                              detail: "agrees with \(recorded.worker) on \(recorded.host)", at: at)]))
                return
            }
            count(.resultsMismatched)
            let shown = Self.describe(differences)
            log(.warning, "task \(taskID): the replay on worker \(worker) (\(host)) disagrees with the result of \(recorded.worker) (\(recorded.host)): \(shown); a third run decides")
            emit(.recordEvents([PeerEvent(kind: .mismatch, taskID: taskID, workerID: recorded.worker, host: recorded.host,
                                          detail: "replay on \(worker) (\(host)): \(shown)", at: at)]))
            check.disagreeing = .init(report: report, worker: worker, host: host)
            check.attempt += 1
            checks[taskID] = check
            dispatcher.queueReplay(Dispatcher.Replay(taskID: taskID, attempt: check.attempt,
                                                     excludedWorkers: [recorded.worker, worker],
                                                     excludedHosts: [recorded.host, host]))
            assignAll(now: now)
            return
        }
        checks[taskID] = nil
        let third = ReplayCheck.Run(report: report, worker: worker, host: host)
        if differences.isEmpty {
            count(.resultsVerified)
            emit(.recordEvents([PeerEvent(kind: .verified, taskID: taskID, workerID: worker, host: host,
                                          detail: "third run: agrees with \(recorded.worker) on \(recorded.host), not with \(disagreeing.worker)",
                                          at: at)]))
            convict(disagreeing, task: taskID, against: [recorded, third],
                    differences: disagreeing.disagreements(with: report), now: now)
        } else if disagreeing.disagreements(with: report).isEmpty {
            convict(recorded, task: taskID, against: [disagreeing, third], differences: differences, now: now)
        } else {
            count(.mismatchesUnresolved)
            log(.error, "task \(taskID): three runs disagree (\(recorded.worker), \(disagreeing.worker), \(worker)); the recorded row is kept, nobody is quarantined")
            emit(.recordEvents([PeerEvent(kind: .mismatch, taskID: taskID, workerID: worker, host: host,
                                          detail: "third run agrees with neither \(recorded.worker) nor \(disagreeing.worker): \(Self.describe(differences))",
                                          at: at)]))
        }
    }

    /// A replay that failed or was invalid: the task goes to yet another worker (it ran fine
    /// once, so the failure says more about this worker than about the task).
    mutating func replayRefused(_ taskID: Int, worker: String, peer: [UInt8], reason: String, now: Double) {
        guard var replay = dispatcher.settleReplay(taskID, from: worker, now: now) else { return }
        ack(taskID, to: peer)
        log(.warning, "the replay of task \(taskID) on worker \(worker) gave no comparable result: \(reason); another worker runs it")
        replay.excludedWorkers.append(worker)
        replay.attempt += 1
        checks[taskID]?.attempt = replay.attempt
        dispatcher.queueReplay(replay)
        assignAll(now: now)
    }

    /// The worker a third run sided against: quarantined, and its results that no replay
    /// confirmed are replaced (`replaceRows`), also when it has left.
    private mutating func convict(_ liar: ReplayCheck.Run, task taskID: Int, against honest: [ReplayCheck.Run],
                                  differences: [String], now: Double) {
        guard dispatcher.quarantined[liar.worker] == nil else { return }
        let reason = "its result for task \(taskID) disagreed with the runs of \(honest.map(\.worker).joined(separator: " and ")), which agree: \(Self.describe(differences))"
        // Its results not yet committed go back to the queue with its leases.
        let mine = staged.indices.filter { staged[$0].worker == liar.worker }
        if !mine.isEmpty {
            let taskIDs = mine.map { staged.outcomes[$0].task.id }
            parkedCount -= mine.filter { $0 < parkedCount }.count
            for index in mine.reversed() { staged.remove(at: index) }
            for id in taskIDs { stagedIDs.remove(id) }
            dispatcher.reopen(taskIDs)
        }
        quarantine(liar.worker, reason: reason, now: now, host: liar.host)
        replacementsPending += 1
        emit(.replaceRows(worker: liar.worker, reason: reason))
    }

    /// The store set the liar's unconfirmed rows aside: their tasks run again (and are sampled
    /// again, so their new results are checked too).
    mutating func rowsReplaced(_ taskIDs: [Int], of worker: String, now: Double) {
        replacementsPending = max(0, replacementsPending - 1)
        for (taskID, check) in checks where check.recorded.worker == worker { checks[taskID] = nil }
        guard !taskIDs.isEmpty else { return }
        for taskID in taskIDs { checks[taskID] = nil }
        dispatcher.reopen(taskIDs)
        count(.rowsReplaced, taskIDs.count)
        log(.warning, "\(taskIDs.count) result(s) of quarantined worker \(worker) that no replay confirmed moved to replaced_results; their tasks run again")
        assignAll(now: now)
    }

    /// Waiting replays that no connected worker may run (every one ran the task already) for
    /// two heartbeats, with every task done: the sweep ends without them, saying so.
    mutating func settleStuckReplays(now: Double) {
        guard dispatcher.replaysStuck else {
            replaysStuckSince = nil
            return
        }
        let since = replaysStuckSince ?? now
        replaysStuckSince = since
        guard now - since >= 2 * options.heartbeatInterval else { return }
        replaysStuckSince = nil
        let abandoned = dispatcher.abandonReplays()
        var unverified: [Int] = []
        var undecided: [Int] = []
        var events: [PeerEvent] = []
        for replay in abandoned {
            guard let check = checks.removeValue(forKey: replay.taskID) else { continue }
            if let disagreeing = check.disagreeing {
                undecided.append(replay.taskID)
                events.append(PeerEvent(kind: .mismatch, taskID: replay.taskID, workerID: disagreeing.worker, host: disagreeing.host,
                                        detail: "undecided: no third worker to run the task; the recorded row of \(check.recorded.worker) is kept",
                                        at: Date(timeIntervalSince1970: now)))
            } else {
                unverified.append(replay.taskID)
            }
        }
        count(.replaysUnavailable, unverified.count)
        count(.mismatchesUnresolved, undecided.count)
        if !events.isEmpty { emit(.recordEvents(events)) }
        let workers = dispatcher.workers.count
        if !unverified.isEmpty {
            log(.warning, "\(unverified.count) sampled task(s) cannot be verified: no connected worker other than the one that ran them (\(workers) worker(s) connected)")
        }
        if !undecided.isEmpty {
            log(.error, "\(undecided.count) mismatch(es) undecided: no third worker to run task(s) \(undecided.prefix(10).map(String.init).joined(separator: ", ")); both rows' workers are named in peer_events")
        }
    }

    /// The first differences, for a line or an event.
    static func describe(_ differences: [String]) -> String {
        differences.prefix(6).joined(separator: "; ") + (differences.count > 6 ? "; and \(differences.count - 6) more" : "")
    }
}
