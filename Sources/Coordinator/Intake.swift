import Foundation
import ResultsStore
import SweepConfig
import SweepProtocol
import TrainingCore

/// Wire intake: decodes each frame, checks who sent it and every value in it, and routes it
/// to registration or recording. Nothing a peer sends reaches the store unchecked.
extension Coordinator {
    func handle(_ frames: [[UInt8]]) {
        guard frames.count == 2 else {
            counters.malformedFrames += 1
            logger.warning("dropped a message of \(frames.count) frames from \(describe(frames.first ?? []))")
            return
        }
        let peer = frames[0]
        let now = Self.now()
        let worker = dispatcher.workerID(forPeer: peer)
        let messages: [Message]
        do {
            messages = try Message.decodeAll(frames[1])
        } catch {
            if case .versionMismatch(let peerVersion) = error {
                counters.versionMismatches += 1
                logger.warning("refused \(describe(peer)): it speaks protocol version \(peerVersion), this coordinator speaks \(protocolVersion)")
                send(.reject(Reject(
                    reason: "protocol version \(peerVersion) is not supported; this coordinator speaks version \(protocolVersion)",
                    coordinatorVersion: Int(protocolVersion), peerVersion: Int(peerVersion))), to: peer)
            } else {
                counters.malformedFrames += 1
                logger.warning("dropped a malformed frame from \(describe(peer)): \(error)")
                // A worker that sends what it cannot mean may hold tasks it will never answer.
                if let worker { lose(worker, reason: "it sent a malformed frame") }
            }
            return
        }
        if let worker { dispatcher.touch(worker, now: now) }
        for message in messages { handle(message, peer: peer, now: now) }
    }

    private func handle(_ message: Message, peer: [UInt8], now: Double) {
        // Looked up per message: a hello or a bye earlier in the frame changes it.
        let worker = dispatcher.workerID(forPeer: peer)
        switch message {
        case .hello(let hello):
            register(hello, peer: peer, now: now)
        case .result(let result):
            guard let worker = registered(worker, peer: peer, what: "a result for task \(result.taskID)") else { return }
            guard let task = leased(result.taskID, attempt: result.attempt, sweep: result.sweep, from: worker, peer: peer)
            else { return }
            switch ResultValidation.check(result, spec: runSpec(of: task), now: now) {
            case .success(let report):
                stage(task, attempt: result.attempt, worker: worker, peer: peer, outcome: .report(report),
                      startedAt: result.startedAt, finishedAt: result.finishedAt)
            case .failure(let invalid):
                counters.invalidResults += 1
                logger.warning("refused the result for task \(task.id) from \(describe(peer)): \(invalid.reason)")
                failAttempt(task, attempt: result.attempt, worker: worker, peer: peer,
                            reason: "invalid result from \(describe(peer)): \(invalid.reason)", now: now)
            }
        case .taskFailed(let failure):
            guard let worker = registered(worker, peer: peer, what: "a failure of task \(failure.taskID)") else { return }
            guard let task = leased(failure.taskID, attempt: failure.attempt, sweep: failure.sweep, from: worker, peer: peer)
            else { return }
            let reason = String(failure.reason.prefix(2000))
            logger.warning("task \(task.id) failed on \(describe(peer)): \(reason)")
            failAttempt(task, attempt: failure.attempt, worker: worker, peer: peer, reason: reason, now: now)
        case .heartbeat:
            if worker == nil { send(.register(Register(reason: "unknown connection: say hello")), to: peer) }
        case .bye(let bye):
            guard let worker else { break }
            let requeued = dispatcher.dropWorker(worker)
            logger.info("worker \(worker) left (\(bye.reason.prefix(200))); \(requeued.count) task(s) back in the queue")
            assignAll()
        case .welcome, .reject, .task, .shutdown, .ack, .register:
            counters.unexpectedMessages += 1
            logger.warning("dropped a coordinator-only message from \(describe(peer))")
        }
    }

    /// The worker behind `peer`, or nil after asking the peer to register (its result is not
    /// lost: a worker keeps unsettled results and sends them again after `welcome`).
    private func registered(_ worker: String?, peer: [UInt8], what: String) -> String? {
        if let worker { return worker }
        counters.unregistered += 1
        logger.warning("refused \(what) from \(describe(peer)), which has not registered; asked it to say hello")
        send(.register(Register(reason: "unknown connection: say hello, then send your results again")), to: peer)
        return nil
    }

    /// The task if `worker` holds its current lease with `attempt` in this sweep; otherwise the
    /// result is counted, logged and settled (acknowledged, so the worker forgets it).
    private func leased(_ taskID: Int, attempt: Int, sweep: String, from worker: String, peer: [UInt8]) -> SweepTask? {
        guard sweep == plan.fingerprint else {
            counters.otherSweep += 1
            logger.warning("refused a result of another sweep (fingerprint \(sweep.prefix(32))) for task \(taskID) from \(describe(peer)); this sweep is \(plan.fingerprint)")
            send(.ack(Ack(taskIDs: [taskID])), to: peer)
            return nil
        }
        switch dispatcher.check(taskID, attempt: attempt, from: worker) {
        case .held:
            guard !stagedIDs.contains(taskID) else {
                counters.duplicateResults += 1
                return nil
            }
            return task(taskID)
        case .unknownTask:
            counters.unknownTasks += 1
            logger.warning("refused a result for unknown task \(taskID) from \(describe(peer))")
        case .alreadyDone:
            counters.duplicateResults += 1
            logger.debug("ignored a duplicate result for task \(taskID) from \(describe(peer))")
        case .notHolder:
            counters.noLease += 1
            let holder = dispatcher.lease(of: taskID).map { "held by \($0.worker) at attempt \($0.lease.attempt)" } ?? "not leased"
            logger.warning("refused a result for task \(taskID) attempt \(attempt) from \(describe(peer)): the task is \(holder)")
        }
        send(.ack(Ack(taskIDs: [taskID])), to: peer)
        return nil
    }

    private func register(_ hello: Hello, peer: [UInt8], now: Double) {
        if let problem = Self.helloProblem(hello) {
            counters.malformedFrames += 1
            logger.warning("refused a hello from \(describe(peer)): \(problem)")
            send(.reject(Reject(reason: problem, coordinatorVersion: Int(protocolVersion),
                                peerVersion: Int(protocolVersion))), to: peer)
            return
        }
        switch dispatcher.register(id: hello.workerID, peer: peer, host: hello.host, prefetch: hello.prefetch,
                                   now: now, liveWithin: options.workerTimeout) {
        case .refused:
            // Not answered: the worker itself, reconnected on a new connection, says hello again
            // every heartbeat and gets in once its old connection has fallen silent; an impostor
            // never does while the worker lives.
            counters.duplicateWorkers += 1
            if counters.duplicateWorkers & (counters.duplicateWorkers - 1) == 0 {
                logger.warning("ignored a hello from \(describe(peer)) as worker \(hello.workerID): that id is live on another connection (\(counters.duplicateWorkers) such hello(s) so far)")
            }
            return
        case .new:
            logger.info("worker \(hello.workerID) joined from \(hello.host) (pid \(hello.pid), \(hello.cores) cores, \(hello.blasThreads) BLAS thread(s))")
        case .again:
            logger.info("worker \(hello.workerID) on \(hello.host) registered again")
        }
        lastWorkerSeen = now
        // Set here, not only by the liveness tick: a worker that joins and leaves between two
        // ticks still counts, so its departure is reported as "all workers are gone".
        hadWorkers = true
        let granted = dispatcher.workers[hello.workerID]?.prefetch ?? 1
        send(.welcome(Welcome(
            sweep: configuration.name, fingerprint: plan.fingerprint, heartbeatInterval: options.heartbeatInterval,
            workerTimeout: options.workerTimeout, prefetch: granted)), to: peer)
        if dispatcher.isComplete {
            send(.shutdown(Shutdown(reason: "sweep complete")), to: peer)
        } else {
            assign(hello.workerID)
        }
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
    private func failAttempt(_ task: SweepTask, attempt: Int, worker: String, peer: [UInt8], reason: String,
                             now: Double) {
        switch dispatcher.fail(task.id, from: worker, now: now) {
        case .requeued(let failures):
            counters.tasksRequeued += 1
            logger.info("task \(task.id) back in the queue after \(failures) failure(s) (of --max-attempts \(dispatcher.maxAttempts))")
            send(.ack(Ack(taskIDs: [task.id])), to: peer)
            assign(worker)
        case .exhausted(let failures):
            stage(task, attempt: attempt, worker: worker, peer: peer,
                  outcome: .failed(reason: "failed \(failures) time(s); last: \(reason)"), startedAt: now, finishedAt: now)
        }
    }

    private func stage(_ task: SweepTask, attempt: Int, worker: String, peer: [UInt8], outcome: RecordedResult,
                       startedAt: Double, finishedAt: Double) {
        let host = dispatcher.workers[worker]?.host ?? "unknown"
        let record = TaskOutcome(
            task: task, attempt: attempt, workerID: worker, host: host,
            startedAt: Date(timeIntervalSince1970: startedAt), finishedAt: Date(timeIntervalSince1970: finishedAt),
            result: outcome)
        staged.append(StagedResult(outcome: record, worker: worker, peer: peer, seconds: max(0, finishedAt - startedAt)))
        stagedIDs.insert(task.id)
    }

    /// Drops a worker the coordinator can no longer trust to deliver; its tasks are re-queued
    /// without counting a failure.
    func lose(_ worker: String, reason: String) {
        let host = dispatcher.workers[worker]?.host ?? "?"
        counters.workersLost += 1
        let requeued = dispatcher.dropWorker(worker)
        counters.tasksRequeued += requeued.count
        logger.warning("worker \(worker) on \(host) dropped: \(reason); \(requeued.count) task(s) back in the queue")
        assignAll()
    }
}
