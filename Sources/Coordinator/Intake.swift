import Foundation
import ResultsStore
import SweepConfig
import SweepProtocol
import TrainingCore

/// Wire intake: decodes each frame, checks it and routes it to registration or recording.
extension Coordinator {
    func handle(_ frames: [[UInt8]]) {
        guard frames.count == 2 else {
            counters.malformedFrames += 1
            logger.warning("dropped a message of \(frames.count) frames from \(describe(frames.first ?? []))")
            return
        }
        let peer = frames[0]
        let message: Message
        do {
            message = try Message.decode(frames[1])
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
            }
            return
        }

        let now = Self.now()
        let worker = dispatcher.workerID(forPeer: peer)
        if let worker { dispatcher.touch(worker, now: now) }

        switch message {
        case .hello(let hello):
            register(hello, peer: peer, now: now)
        case .result(let result):
            accept(taskID: result.taskID, attempt: result.attempt, from: worker, peer: peer,
                   outcome: .report(result.report), startedAt: result.startedAt, finishedAt: result.finishedAt)
        case .taskFailed(let failure):
            accept(taskID: failure.taskID, attempt: failure.attempt, from: worker, peer: peer,
                   outcome: .failed(reason: failure.reason), startedAt: now, finishedAt: now)
        case .heartbeat:
            break
        case .bye(let bye):
            guard let worker else { break }
            for task in bye.taskIDs { dispatcher.returnTask(task, from: worker) }
            let requeued = dispatcher.dropWorker(worker, countAttempts: false)
            logger.info("worker \(worker) left (\(bye.reason)); \(requeued.count + bye.taskIDs.count) task(s) back in the queue")
            assignAll()
        case .welcome, .reject, .task, .shutdown:
            counters.unexpectedMessages += 1
            logger.warning("dropped a coordinator-only message from \(describe(peer))")
        }
    }

    func register(_ hello: Hello, peer: [UInt8], now: Double) {
        let isNew = dispatcher.register(
            id: hello.workerID, peer: peer, host: hello.host, prefetch: hello.prefetch, now: now)
        lastWorkerSeen = now
        if isNew {
            logger.info("worker \(hello.workerID) joined from \(hello.host) (pid \(hello.pid), \(hello.cores) cores, \(hello.blasThreads) BLAS thread(s))")
        } else {
            logger.info("worker \(hello.workerID) on \(hello.host) registered again")
        }
        send(.welcome(Welcome(
            sweep: configuration.name, heartbeatInterval: options.heartbeatInterval, workerTimeout: options.workerTimeout)),
             to: peer)
        if dispatcher.isComplete {
            send(.shutdown(Shutdown(reason: "sweep complete")), to: peer)
        } else {
            assign(hello.workerID)
        }
    }

    func accept(taskID: Int, attempt: Int, from worker: String?, peer: [UInt8],
                        outcome: RecordedResult, startedAt: Double, finishedAt: Double) {
        guard taskID >= 0 && taskID < plan.taskCount else {
            counters.unknownTasks += 1
            logger.warning("ignored a result for unknown task \(taskID) from \(describe(peer))")
            return
        }
        if dispatcher.isDone(taskID) {
            counters.duplicateResults += 1
            logger.debug("ignored a duplicate result for task \(taskID) from \(describe(peer))")
            if let worker { dispatcher.returnTask(taskID, from: worker); assign(worker) }
            return
        }
        let task = plan.task(taskID)
        if case .report(let report) = outcome, let problem = Self.inconsistency(report, task: task) {
            counters.malformedFrames += 1
            logger.warning("ignored a result for task \(taskID) from \(describe(peer)): \(problem)")
            if let worker { dispatcher.returnTask(taskID, from: worker); assign(worker) }
            return
        }
        guard !stagedIDs.contains(taskID) else {
            counters.duplicateResults += 1
            return
        }
        let host = worker.flatMap { dispatcher.workers[$0]?.host } ?? "unknown"
        let record = TaskOutcome(
            task: task, attempt: attempt, workerID: worker ?? "unregistered", host: host,
            startedAt: Date(timeIntervalSince1970: startedAt), finishedAt: Date(timeIntervalSince1970: finishedAt),
            result: outcome)
        staged.append((record, worker, max(0, finishedAt - startedAt)))
        stagedIDs.insert(taskID)
    }

    /// A result whose shape does not match its task cannot be a run of it.
    static func inconsistency(_ report: RunReport, task: SweepTask) -> String? {
        let levels = task.spec.training.testNoise.count
        if report.testError.count != levels || report.oracleTestError.count != levels {
            return "expected \(levels) test-noise levels, got \(report.testError.count)"
        }
        if report.iterations < 0 || report.iterations > task.spec.training.steps {
            return "iterations \(report.iterations) outside 0...\(task.spec.training.steps)"
        }
        return nil
    }
}
