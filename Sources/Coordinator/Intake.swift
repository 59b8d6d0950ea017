import Foundation
import ResultsStore
import SweepConfig
import SweepProtocol

/// Wire intake: decodes each frame, checks who sent it and every value in it, and routes it
/// to registration or recording. Nothing a peer sends reaches the store unchecked.
extension CoordinatorCore {
    /// A frame from the socket: checked, then read up to `--intake-budget` entries at once; the
    /// rest waits in the peer's backlog for the next turns (`intakeRound`). A peer whose backlog
    /// is full loses the frame (counted): it sends faster than it is read.
    mutating func receive(_ frames: [[UInt8]], now: Double) {
        guard frames.count == 2 else {
            count(.malformedFrames)
            if let more = complaining(about: frames.first ?? [], reason: "frames") {
                log(.warning, "dropped a message of \(frames.count) frames from \(describe(frames.first ?? []))" + more)
            }
            return
        }
        let peer = frames[0]
        let worker = dispatcher.workerID(forPeer: peer)
        if let worker {
            dispatcher.touch(worker, now: now)
            // Heard again: its connection is open after all (a peer that set its own routing
            // identity reconnected under it), or this was queued before it closed; the next send
            // that fails marks it again.
            if !closedConnections.isEmpty { closedConnections[worker] = nil }
        }
        if let backlog = intake.backlogs[peer], backlog.bytes + frames[1].count > options.intakeBacklogBytes {
            count(.framesDropped)
            if let more = complaining(about: peer, reason: "flood") {
                log(.warning, "dropped a frame of \(frames[1].count) bytes from \(describe(peer)) unread: \(backlog.bytes) bytes of its frames wait to be read" + more)
            }
            return
        }
        let entries: FrameEntries
        do {
            entries = try FrameEntries(frames[1])
        } catch {
            refuseFrame(error, from: peer, worker: worker, now: now)
            return
        }
        if var backlog = intake.backlogs[peer] {
            backlog.frames.append(entries)
            backlog.bytes += entries.byteCount
            intake.backlogs[peer] = backlog
            return
        }
        var current = entries
        read(&current, from: peer, now: now)
        if current.remaining > 0 {
            intake.backlogs[peer] = FairIntake.Backlog(frames: [current], bytes: current.byteCount)
            intake.order.append(peer)
        }
    }

    /// One turn over the peers with a backlog: up to `--intake-budget` entries of each.
    mutating func intakeRound(now: Double) {
        let peers = intake.order
        intake.order.removeAll(keepingCapacity: true)
        for peer in peers {
            guard var backlog = intake.backlogs.removeValue(forKey: peer) else { continue }
            var budget = options.intakeBudget
            while budget > 0, !backlog.frames.isEmpty {
                let before = backlog.frames[0].remaining
                read(&backlog.frames[0], from: peer, now: now, budget: budget)
                budget -= before - backlog.frames[0].remaining
                if backlog.frames[0].remaining == 0 {
                    backlog.bytes -= backlog.frames[0].byteCount
                    backlog.frames.removeFirst()
                }
            }
            if !backlog.frames.isEmpty {
                intake.backlogs[peer] = backlog
                intake.order.append(peer)
            }
        }
    }

    /// Reads up to `budget` entries of `entries` (default `--intake-budget`).
    private mutating func read(_ entries: inout FrameEntries, from peer: [UInt8], now: Double, budget: Int? = nil) {
        // A batch from a connection that never said hello: refused as a whole, not per entry
        // (a batch holds only answers, and nothing an unregistered peer answers counts).
        if entries.isBatch, dispatcher.workerID(forPeer: peer) == nil {
            refuseUnregistered("a batch", from: peer, messages: entries.remaining)
            entries.skipRest()
            return
        }
        var budget = budget ?? options.intakeBudget
        while budget > 0 {
            budget -= 1
            let message: Message?
            do {
                message = try entries.next()
            } catch {
                entries.skipRest()
                refuseFrame(error, from: peer, worker: dispatcher.workerID(forPeer: peer), now: now)
                return
            }
            guard let message else { return }
            receive(message, peer: peer, now: now)
        }
    }

    /// A frame that does not decode: a reject for another protocol version; otherwise counted,
    /// and its worker, if registered, dropped.
    private mutating func refuseFrame(_ error: ProtocolError, from peer: [UInt8], worker: String?, now: Double) {
        if case .versionMismatch(let peerVersion) = error {
            count(.versionMismatches)
            if let more = complaining(about: peer, reason: "version") {
                log(.warning, "refused \(describe(peer)): it speaks protocol version \(peerVersion), this coordinator speaks \(protocolVersion)" + more)
            }
            send(.reject(Reject(
                reason: "protocol version \(peerVersion) is not supported; this coordinator speaks version \(protocolVersion)",
                coordinatorVersion: Int(protocolVersion), peerVersion: Int(peerVersion))), to: peer)
            return
        }
        count(.malformedFrames)
        if let more = complaining(about: peer, reason: "malformed") {
            log(.warning, "dropped a malformed frame from \(describe(peer)): \(error)" + more)
        }
        // A worker that sends what it cannot mean may hold tasks it will never answer.
        if let worker {
            intake.backlogs[peer] = nil
            lose(worker, reason: "it sent a malformed frame", now: now)
        }
    }

    private mutating func receive(_ message: Message, peer: [UInt8], now: Double) {
        // Looked up per message: a hello or a bye earlier in the frame changes it.
        let worker = dispatcher.workerID(forPeer: peer)
        switch message {
        case .hello(let hello):
            register(hello, peer: peer, now: now)
        case .result(let result):
            guard let worker = inSession(worker, result.session, peer: peer, what: "a result for task \(result.taskID)")
            else { return }
            guard let task = leased(result.taskID, attempt: result.attempt, sweep: result.sweep, from: worker, peer: peer)
            else { return }
            switch ResultValidation.check(result, spec: runSpec(of: task), now: now) {
            case .success(let report):
                dispatcher.noteValid(worker)
                // Only a replay is out for a finished task.
                if dispatcher.isDone(task.id) {
                    replayed(task.id, report: report, worker: worker, peer: peer, now: now)
                    return
                }
                stage(task, attempt: result.attempt, worker: worker, peer: peer, outcome: .report(report),
                      startedAt: result.startedAt, finishedAt: result.finishedAt)
            case .failure(let invalid):
                count(.invalidResults)
                if let more = complaining(about: peer, reason: "invalid") {
                    log(.warning, "refused the result for task \(task.id) from \(describe(peer)): \(invalid.reason)" + more)
                }
                // Fault belongs to the worker: one whose results keep being invalid is refused
                // before its last one can count against the task.
                let inARow = dispatcher.noteInvalid(worker)
                if inARow >= options.quarantineAfter {
                    ack(task.id, to: peer)
                    quarantine(worker, reason: "\(inARow) invalid results in a row (the last for task \(task.id): \(invalid.reason))",
                               now: now)
                    return
                }
                if dispatcher.isDone(task.id) {
                    replayRefused(task.id, worker: worker, peer: peer, reason: "invalid: \(invalid.reason)", now: now)
                    return
                }
                failAttempt(task, attempt: result.attempt, worker: worker, peer: peer,
                            reason: "invalid result from \(describe(peer)): \(invalid.reason)", now: now)
            }
        case .taskFailed(let failure):
            guard let worker = inSession(worker, failure.session, peer: peer, what: "a failure of task \(failure.taskID)")
            else { return }
            guard let task = leased(failure.taskID, attempt: failure.attempt, sweep: failure.sweep, from: worker, peer: peer)
            else { return }
            let reason = String(failure.reason.prefix(2000))
            if let more = complaining(about: peer, reason: "task failed") {
                log(.warning, "task \(task.id) failed on \(describe(peer)): \(reason)" + more)
            }
            if dispatcher.isDone(task.id) {
                replayRefused(task.id, worker: worker, peer: peer, reason: "it failed: \(reason)", now: now)
                return
            }
            failAttempt(task, attempt: failure.attempt, worker: worker, peer: peer, reason: reason, now: now)
        case .heartbeat(let heartbeat):
            if worker == nil {
                send(.register(Register(reason: "unknown connection: say hello")), to: peer)
            } else {
                _ = inSession(worker, heartbeat.session, peer: peer, what: "a heartbeat")
            }
        case .bye(let bye):
            guard let worker, inSession(worker, bye.session, peer: peer, what: "a bye") != nil else { break }
            let requeued = dispatcher.dropWorker(worker)
            log(.info, "worker \(worker) left (\(bye.reason.prefix(200))); \(requeued.count) task(s) back in the queue")
            assignAll(now: now)
        case .welcome, .reject, .task, .shutdown, .ack, .register:
            count(.unexpectedMessages)
            if let more = complaining(about: peer, reason: "unexpected") {
                log(.warning, "dropped a coordinator-only message from \(describe(peer))" + more)
            }
        }
    }

    /// The worker behind `peer`, or nil after asking the peer to register (its result is not
    /// lost: a worker keeps unsettled results and sends them again after `welcome`).
    private mutating func registered(_ worker: String?, peer: [UInt8], what: @autoclosure () -> String) -> String? {
        if let worker { return worker }
        refuseUnregistered(what(), from: peer)
        return nil
    }

    /// Counts `messages` from a peer that never said hello, says so (once per peer and
    /// interval) and asks it to say hello.
    private mutating func refuseUnregistered(_ what: @autoclosure () -> String, from peer: [UInt8], messages: Int = 1) {
        count(.unregistered, messages)
        if let more = complaining(about: peer, reason: "unregistered") {
            log(.warning, "refused \(what()) from \(describe(peer)), which has not registered; asked it to say hello" + more)
        }
        send(.register(Register(reason: "unknown connection: say hello, then send your results again")), to: peer)
    }

    /// The worker behind `peer` if `session` is its session's token; otherwise nil after
    /// counting the message and asking the peer to say hello (a worker that lost track of its
    /// session is welcomed again with its token and sends its answers again; nothing a message
    /// without the token says is believed).
    private mutating func inSession(_ worker: String?, _ session: String, peer: [UInt8], what: @autoclosure () -> String) -> String? {
        guard let worker = registered(worker, peer: peer, what: what()) else { return nil }
        guard let slot = dispatcher.workers[worker], slot.session != session else { return worker }
        count(.wrongSession)
        if let more = complaining(about: peer, reason: "session") {
            log(.warning, "refused \(what()) from \(describe(peer)): it does not carry the session's token; asked it to say hello" + more)
        }
        send(.register(Register(reason: "wrong session token: say hello, then send your results again")), to: peer)
        return nil
    }

    /// The task if `worker` holds its current lease with `attempt` in this sweep; otherwise the
    /// result is counted, logged and settled (acknowledged, so the worker forgets it).
    private mutating func leased(_ taskID: Int, attempt: Int, sweep: String, from worker: String,
                                 peer: [UInt8]) -> SweepTask? {
        guard sweep == plan.fingerprint else {
            count(.otherSweep)
            if let more = complaining(about: peer, reason: "other sweep") {
                log(.warning, "refused a result of another sweep (fingerprint \(sweep.prefix(32))) for task \(taskID) from \(describe(peer)); this sweep is \(plan.fingerprint)" + more)
            }
            ack(taskID, to: peer)
            return nil
        }
        switch dispatcher.check(taskID, attempt: attempt, from: worker) {
        case .held:
            guard !stagedIDs.contains(taskID) else {
                count(.duplicateResults)
                return nil
            }
            return task(taskID)
        case .replay:
            return task(taskID)
        case .late:
            guard !stagedIDs.contains(taskID) else {
                count(.duplicateResults)
                ack(taskID, to: peer)
                return nil
            }
            // A result depends only on its task: the first valid one counts, whichever attempt
            // is current (a short --task-timeout cannot refuse every run for good).
            count(.lateResults)
            let cancelled = dispatcher.adoptLate(taskID, attempt: attempt, from: worker, now: intake.now)
            if let more = complaining(about: peer, reason: "late") {
                log(.info, "accepted a late result for task \(taskID) attempt \(attempt) from \(describe(peer))"
                    + (cancelled.map { "; the lease of \($0) is cancelled" } ?? "") + more)
            }
            return task(taskID)
        case .unknownTask:
            count(.unknownTasks)
            if let more = complaining(about: peer, reason: "unknown task") {
                log(.warning, "refused a result for unknown task \(taskID) from \(describe(peer))" + more)
            }
        case .alreadyDone:
            count(.duplicateResults)
            log(.debug, "ignored a duplicate result for task \(taskID) from \(describe(peer))")
        case .notHolder:
            count(.noLease)
            let holder = dispatcher.lease(of: taskID).map { "held by \($0.worker) at attempt \($0.lease.attempt)" } ?? "not leased"
            if let more = complaining(about: peer, reason: "no lease") {
                log(.warning, "refused a result for task \(taskID) attempt \(attempt) from \(describe(peer)): the task is \(holder)" + more)
            }
        }
        ack(taskID, to: peer)
        return nil
    }

    private mutating func register(_ hello: Hello, peer: [UInt8], now: Double) {
        if let problem = Self.helloProblem(hello) {
            count(.malformedFrames)
            log(.warning, "refused a hello from \(describe(peer)): \(problem)")
            send(.reject(Reject(reason: problem, coordinatorVersion: Int(protocolVersion),
                                peerVersion: Int(protocolVersion))), to: peer)
            return
        }
        if refusedAtConnectionLimit(hello, peer: peer) { return }
        switch dispatcher.register(id: hello.workerID, peer: peer, host: hello.host, prefetch: hello.prefetch,
                                   now: now, liveWithin: options.workerTimeout, session: hello.session,
                                   newSession: Self.newSessionToken()) {
        case .quarantined:
            let reason = dispatcher.quarantined[hello.workerID] ?? "quarantined"
            send(.reject(Reject(reason: "worker \(hello.workerID) is quarantined: \(reason)",
                                coordinatorVersion: Int(protocolVersion), peerVersion: Int(protocolVersion))), to: peer)
            return
        case .refused:
            // Not answered: the worker itself, reconnected on a new connection, says hello again
            // every heartbeat and gets in once its old connection has fallen silent; an impostor
            // never does while the worker lives.
            count(.duplicateWorkers)
            duplicateHellos += 1
            if duplicateHellos & (duplicateHellos - 1) == 0 {
                log(.warning, "ignored a hello from \(describe(peer)) as worker \(hello.workerID): that id is live on another connection (\(duplicateHellos) such hello(s) so far)")
            }
            return
        case .new:
            log(.info, "worker \(hello.workerID) joined from \(hello.host) (pid \(hello.pid), \(hello.cores) cores, \(hello.blasThreads) BLAS thread(s))")
        case .again:
            log(.info, "worker \(hello.workerID) on \(hello.host) registered again")
        case .replaced(let requeued):
            // The id's session fell silent and this hello did not carry its token: a new
            // session, which inherits none of the old one's leases.
            count(.workersLost)
            count(.tasksRequeued, requeued.count)
            log(.warning, "worker id \(hello.workerID) said hello from \(hello.host) without the token of its silent session: a new session; the old one's \(requeued.count) task(s) back in the queue")
        }
        lastWorkerSeen = now
        // Set here, not only by the liveness tick: a worker that joins and leaves between two
        // ticks still counts, so its departure is reported as "all workers are gone".
        hadWorkers = true
        guard let slot = dispatcher.workers[hello.workerID] else { return }
        send(.welcome(Welcome(
            sweep: configuration.name, fingerprint: plan.fingerprint, heartbeatInterval: options.heartbeatInterval,
            workerTimeout: options.workerTimeout, prefetch: slot.prefetch, session: slot.session)), to: peer)
        if dispatcher.isComplete {
            send(.shutdown(Shutdown(reason: "sweep complete")), to: peer)
        } else {
            assign(hello.workerID, now: now)
        }
    }

    /// 128 random bits as 32 hex digits: a session's token cannot be guessed.
    static func newSessionToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Identity strings end up in the store and the logs: short and printable.
    static func helloProblem(_ hello: Hello) -> String? {
        func printable(_ s: String) -> Bool {
            !s.isEmpty && s.utf8.count <= 200 && s.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
        }
        guard printable(hello.workerID) else { return "workerID must be 1-200 printable characters" }
        guard printable(hello.host) else { return "host must be 1-200 printable characters" }
        guard hello.prefetch >= 1 else { return "prefetch must be at least 1" }
        return nil
    }

    /// A failure the task caused: counted; recorded as the task's result at `--max-attempts`.
    private mutating func failAttempt(_ task: SweepTask, attempt: Int, worker: String, peer: [UInt8], reason: String,
                                      now: Double) {
        switch dispatcher.fail(task.id, from: worker, now: now) {
        case .requeued(let failures):
            count(.tasksRequeued)
            log(.info, "task \(task.id) back in the queue after \(failures) failure(s) (of --max-attempts \(dispatcher.maxAttempts))")
            ack(task.id, to: peer)
            assign(worker, now: now)
        case .exhausted(let failures):
            let on = dispatcher.failedWorkers(of: task.id)
            stage(task, attempt: attempt, worker: worker, peer: peer,
                  outcome: .failed(reason: "failed \(failures) time(s) on \(on.count) worker(s); last: \(reason)"),
                  startedAt: now, finishedAt: now)
        }
    }

    private mutating func stage(_ task: SweepTask, attempt: Int, worker: String, peer: [UInt8], outcome: RecordedResult,
                                startedAt: Double, finishedAt: Double) {
        let host = dispatcher.workers[worker]?.host ?? "unknown"
        let record = TaskOutcome(
            task: task, attempt: attempt, workerID: worker, host: host,
            startedAt: Date(timeIntervalSince1970: startedAt), finishedAt: Date(timeIntervalSince1970: finishedAt),
            result: outcome)
        staged.append(consume record, StagedResult(worker: worker, peer: peer, seconds: max(0, finishedAt - startedAt)))
        stagedIDs.insert(task.id)
    }

    /// Refuses `worker` for the rest of the run, saying why (to it, the log and the results
    /// folder): its tasks go to others and the failures it sent no longer count against them.
    /// `host` names a worker that may have left (a liar found out by replay after it went).
    mutating func quarantine(_ worker: String, reason: String, now: Double, host: String? = nil) {
        let slot = dispatcher.workers[worker]
        guard let host = slot?.host ?? host else { return }
        let requeued = dispatcher.quarantine(worker, reason: reason)
        count(.workersQuarantined)
        count(.tasksRequeued, requeued.count)
        log(.error, "quarantined worker \(worker) on \(host): \(reason); \(requeued.count) task(s) go to other workers")
        if let slot {
            send(.reject(Reject(reason: "quarantined: \(reason)", coordinatorVersion: Int(protocolVersion),
                                peerVersion: Int(protocolVersion))), to: slot.peer)
        }
        emit(.recordEvents([PeerEvent(kind: .quarantined, workerID: worker, host: host, detail: reason,
                                      at: Date(timeIntervalSince1970: now))]))
        assignAll(now: now)
    }

    /// Drops a worker the coordinator can no longer trust to deliver; its tasks are re-queued
    /// without counting a failure.
    mutating func lose(_ worker: String, reason: String, now: Double) {
        let host = dispatcher.workers[worker]?.host ?? "?"
        count(.workersLost)
        let requeued = dispatcher.dropWorker(worker)
        count(.tasksRequeued, requeued.count)
        log(.warning, "worker \(worker) on \(host) dropped: \(reason); \(requeued.count) task(s) back in the queue")
        assignAll(now: now)
    }
}
