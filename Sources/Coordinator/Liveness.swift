import Foundation
import ResultsStore
import SweepProtocol

/// Dispatch and liveness: credit-based assignment, heartbeats, silent workers, farewell.
extension Coordinator {
    func assign(_ worker: String) {
        guard let slot = dispatcher.workers[worker], !resultBufferFull else { return }
        for (taskID, attempt) in dispatcher.assign(to: worker) {
            let spec = plan.task(taskID).spec
            if !send(.task(TaskAssignment(taskID: taskID, attempt: attempt, spec: spec)), to: slot.peer) {
                dispatcher.returnTask(taskID, from: worker)
                break
            }
        }
    }

    func assignAll() {
        for worker in dispatcher.workers.keys.sorted() { assign(worker) }
    }

    func periodic(now: Double) {
        if now - lastHeartbeat >= options.heartbeatInterval {
            lastHeartbeat = now
            for slot in dispatcher.workers.values {
                send(.heartbeat(Heartbeat(sentAt: now)), to: slot.peer)
            }
        }
        for worker in dispatcher.silentWorkers(now: now, timeout: options.workerTimeout) {
            let host = dispatcher.workers[worker]?.host ?? "?"
            counters.workersLost += 1
            let reclaimed = dispatcher.dropWorker(worker, countAttempts: true)
            logger.warning("worker \(worker) on \(host) silent for more than \(options.workerTimeout) s: dropped, \(reclaimed.count) task(s) reclaimed")
            for item in reclaimed {
                switch item {
                case .requeued:
                    counters.tasksRequeued += 1
                case .exhausted(let taskID, let attempts):
                    accept(taskID: taskID, attempt: attempts, from: nil, peer: [],
                           outcome: .failed(reason: "lost \(attempts) workers while running it (last on \(host))"),
                           startedAt: now, finishedAt: now)
                }
            }
            assignAll()
        }
        if dispatcher.workers.isEmpty {
            if now - lastWorkerSeen >= options.idleNoticeInterval && now - lastIdleNotice >= options.idleNoticeInterval {
                lastIdleNotice = now
                logger.notice("waiting for workers: none connected to \(endpoint) (start one with: dlsweep worker --connect \(endpoint))")
            }
        } else {
            lastWorkerSeen = now
        }
    }

    /// Tells every worker the sweep is over, and answers stragglers for a moment.
    func farewell(reason: String) {
        for slot in dispatcher.workers.values { send(.shutdown(Shutdown(reason: reason)), to: slot.peer) }
        // Stopping on a signal answers for less time: Slurm's warning signal leaves little.
        let deadline = Self.now() + min(dispatcher.isComplete ? 1.0 : 0.3, options.heartbeatInterval)
        while Self.now() < deadline {
            guard let frames = try? socket.receive(timeout: 50) else { continue }
            guard frames.count == 2 else { continue }
            guard let message = try? Message.decode(frames[1]) else { continue }
            switch message {
            case .result, .taskFailed:
                // Still recorded: a result that arrives while stopping is not lost.
                handle(frames)
                commitStaged()
                send(.shutdown(Shutdown(reason: reason)), to: frames[0])
            case .hello, .heartbeat:
                send(.shutdown(Shutdown(reason: reason)), to: frames[0])
            default:
                break
            }
        }
    }
}
