import SweepConfig
import SweepProtocol

/// Dispatch and liveness: credit-based assignment, heartbeats, silent workers, overrun
/// leases, a coordinator left without workers, farewell.
extension CoordinatorCore {
    /// Hands `worker` the tasks its credit allows, in as few frames as fit (a batch).
    mutating func assign(_ worker: String, now: Double) {
        guard let slot = dispatcher.workers[worker], !resultBufferFull else { return }
        // Nothing for a closed connection: the tasks would only come back at its drop.
        if !closedConnections.isEmpty, closedConnections[worker] == slot.peer { return }
        let assigned = dispatcher.assign(to: worker, now: now)
        guard !assigned.isEmpty else { return }
        var batcher = FrameBatcher()
        for (taskID, attempt) in assigned {
            let (task, specWithoutSeeds) = taskAndEncodedSpec(taskID)
            do {
                try batcher.addTask(sweep: plan.fingerprint, taskID: taskID, attempt: attempt,
                                    specWithoutSeeds: specWithoutSeeds, seeds: task.spec.seeds)
            } catch {
                log(.error, "cannot encode task \(taskID): \(error)")
                dispatcher.returnTask(taskID, from: worker)
            }
        }
        let frames = batcher.frames()
        guard !frames.isEmpty else { return }
        // Undelivered, every task of the grant goes back (one sent in an earlier frame is then
        // refused as unleased).
        emit(.sendTasks(frames: frames, to: slot.peer, worker: worker, taskIDs: assigned.map(\.taskID)))
    }

    mutating func assignAll(now: Double) {
        for worker in dispatcher.workers.keys.sorted() { assign(worker, now: now) }
    }

    mutating func tick(now: Double) {
        // A loop that stood still (a long SQLite lock, a stopped process) heard nobody because
        // it did not listen: that is no reason to drop anyone.
        if now - lastLoop > options.workerTimeout / 2 { dispatcher.touchAll(now: now) }
        lastLoop = now
        if now - lastHeartbeat >= options.heartbeatInterval {
            lastHeartbeat = now
            for slot in dispatcher.workers.values {
                send(.heartbeat(Heartbeat(sentAt: now, session: slot.session)), to: slot.peer)
            }
        }
        let silent = dispatcher.silentWorkers(now: now, timeout: options.workerTimeout)
        if !silent.isEmpty { loseAll(silent, reason: "silent for more than \(options.workerTimeout) s", now: now) }
        if !closedConnections.isEmpty { dropClosed(now: now) }
        let overrun = dispatcher.overrunLeases(now: now) { taskID in
            options.taskTimeout ?? durations.limit(cell: plan.position(ofTask: taskID).cell, task: taskID)
        }
        for (worker, taskID, seconds) in overrun {
            count(.leasesExpired)
            durations.overran(task: taskID)
            lose(worker, reason: "task \(taskID) ran \(Int(seconds)) s, beyond its lease", now: now)
        }
        if dispatcher.workers.isEmpty {
            if hadWorkers && !dispatcher.isComplete {
                hadWorkers = false
                log(.error, "all workers are gone with \(plan.taskCount - dispatcher.doneCount) task(s) left; waiting for workers at \(endpoint)")
            }
            if now - lastWorkerSeen >= options.idleNoticeInterval && now - lastIdleNotice >= options.idleNoticeInterval {
                lastIdleNotice = now
                log(.notice, "waiting for workers: none connected to \(endpoint) (start one with: dlsweep worker --connect \(endpoint))")
            }
            if let limit = options.stopWithoutWorkers, now - lastWorkerSeen >= limit {
                stop("no worker for \(Int(limit)) s")
            }
        } else {
            hadWorkers = true
            lastWorkerSeen = now
        }
    }

    /// How long a worker whose connection closed may stay silent before it is dropped: three
    /// heartbeat intervals (time for a live worker to reconnect and say hello with its token),
    /// at most half the worker timeout.
    public var closedConnectionGrace: Double { min(options.workerTimeout / 2, 3 * options.heartbeatInterval) }

    /// The socket would not route to `peer` (`ZMQ_ROUTER_MANDATORY`'s EHOSTUNREACH): libzmq has
    /// closed that connection, as it does at once when the worker's process dies and the kernel
    /// closes its socket. Every connection has its own routing identity, so this names one
    /// connection of one worker exactly; the worker is dropped once silent for
    /// `closedConnectionGrace` (`dropClosed`), well within the worker timeout.
    mutating func connectionClosed(_ peer: [UInt8]) {
        guard let worker = dispatcher.workerID(forPeer: peer), closedConnections[worker] == nil else { return }
        closedConnections[worker] = peer
    }

    /// Drops the workers whose connection closed and that have been silent since for
    /// `closedConnectionGrace`. Silence counts from the last message *read*: the answers a dead
    /// worker sent before it died, still queued in the socket, are recorded first. A worker that
    /// said hello again on a new connection (with its token, keeping its session) is not dropped.
    mutating func dropClosed(now: Double) {
        let grace = closedConnectionGrace
        var closed: [String] = []
        for (worker, peer) in closedConnections {
            guard let slot = dispatcher.workers[worker], slot.peer == peer else {
                closedConnections[worker] = nil
                continue
            }
            if now - slot.lastSeen > grace { closed.append(worker) }
        }
        guard !closed.isEmpty else { return }
        closed.sort()
        for worker in closed { closedConnections[worker] = nil }
        loseAll(closed, reason: "connection closed, silent for more than \(grace) s", now: now)
    }

    /// Drops workers that fell silent together (a node of workers, a switch, a rack): one
    /// line and one round of assignment for all of them, not one per worker (with thousands of
    /// workers that would make the tick slow enough to look like a stall of its own).
    mutating func loseAll(_ workers: [String], reason: String, now: Double) {
        guard workers.count > 3 else {
            for worker in workers { lose(worker, reason: reason, now: now) }
            return
        }
        var requeued = 0
        var hosts = Set<String>()
        for worker in workers {
            hosts.insert(dispatcher.workers[worker]?.host ?? "?")
            requeued += dispatcher.dropWorker(worker).count
        }
        count(.workersLost, workers.count)
        count(.tasksRequeued, requeued)
        log(.warning, "\(workers.count) workers on \(hosts.count) host(s) dropped (\(workers.prefix(3).joined(separator: ", ")), …): \(reason); \(requeued) task(s) back in the queue")
        assignAll(now: now)
    }

    /// Tells every worker the sweep is over; stragglers are answered by `answerStraggler`.
    mutating func farewell(reason: String) {
        phase = .farewell(reason: reason)
        for slot in dispatcher.workers.values { send(.shutdown(Shutdown(reason: reason)), to: slot.peer) }
    }

    /// During the farewell: a result or failure is still recorded (one that arrives while
    /// stopping is not lost), then the peer is told to stop, as is one that says hello or
    /// heartbeats.
    mutating func answerStraggler(_ frames: [[UInt8]], reason: String, now: Double) {
        guard frames.count == 2, let messages = try? Message.decodeAll(frames[1]), let message = messages.first
        else { return }
        switch message {
        case .result, .taskFailed:
            receive(frames, now: now)
            flush(now: now)
            send(.shutdown(Shutdown(reason: reason)), to: frames[0])
        case .hello, .heartbeat:
            send(.shutdown(Shutdown(reason: reason)), to: frames[0])
        default:
            break
        }
    }
}
