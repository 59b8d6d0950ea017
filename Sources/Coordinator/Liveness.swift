import Foundation
import ResultsStore
import SweepConfig
import SweepProtocol
import TrainingCore

/// Dispatch and liveness: credit-based assignment, heartbeats, silent workers, overrun
/// leases, a coordinator left without workers, farewell.
extension Coordinator {
    /// Hands `worker` the tasks its credit allows, in as few frames as fit (a batch).
    func assign(_ worker: String) {
        guard let slot = dispatcher.workers[worker], !resultBufferFull else { return }
        let assigned = dispatcher.assign(to: worker, now: Self.now())
        guard !assigned.isEmpty else { return }
        var batcher = FrameBatcher()
        for (taskID, attempt) in assigned {
            let (task, specWithoutSeeds) = taskAndEncodedSpec(taskID)
            do {
                try batcher.addTask(sweep: plan.fingerprint, taskID: taskID, attempt: attempt,
                                    specWithoutSeeds: specWithoutSeeds, seeds: task.spec.seeds)
            } catch {
                logger.error("cannot encode task \(taskID): \(error)")
                dispatcher.returnTask(taskID, from: worker)
            }
        }
        for frame in batcher.frames() {
            do {
                try socket.send([slot.peer, frame], dontWait: true)
            } catch {
                // Nothing queued for this peer (gone, or its queue full): every task of the
                // grant goes back (one sent in an earlier frame is then refused as unleased).
                logger.debug("could not send tasks to \(describe(slot.peer)): \(error)")
                for (taskID, _) in assigned { dispatcher.returnTask(taskID, from: worker) }
                return
            }
        }
    }

    /// The spec a worker gets for `task`: the sampled trials log a trajectory.
    func runSpec(of task: SweepTask) -> RunSpec { configuration.sampled(task.spec, trial: task.trial) }

    /// Task `id` of the plan, from a cache of recent cells: a cell's tasks differ only in their
    /// trial and seeds, so the cell's settings are applied once, not once per task and again
    /// per result.
    func task(_ id: Int) -> SweepTask {
        taskAndEncodedSpec(id).task
    }

    /// The task and its spec's body without the seeds (`WireSpec.encodedWithoutSeeds`).
    func taskAndEncodedSpec(_ id: Int) -> (task: SweepTask, specWithoutSeeds: [UInt8]) {
        let (cellIndex, trial) = plan.position(ofTask: id)  // adaptive rounds append blocks of ids
        let sampled = trial < configuration.trajectories
        if let entry = cellCache[cellIndex], let encoded = sampled ? entry.sampledSpec : entry.spec {
            var task = entry.template
            task.id = id
            task.trial = trial
            task.spec.seeds = SweepSeeds.seeds(master: configuration.seed, cell: task.cell, trial: trial)
            return (task, encoded)
        }
        let task = plan.task(id)
        let encoded = WireSpec(runSpec(of: task)).encodedWithoutSeeds
        if cellCache.count >= 256 { cellCache.removeAll(keepingCapacity: true) }
        var entry = cellCache[cellIndex] ?? CellCacheEntry(template: task)
        if sampled { entry.sampledSpec = encoded } else { entry.spec = encoded }
        cellCache[cellIndex] = entry
        return (task, encoded)
    }

    func assignAll() {
        for worker in dispatcher.workers.keys.sorted() { assign(worker) }
    }

    func periodic(now: Double) {
        // A loop that stood still (a long SQLite lock, a stopped process) heard nobody because
        // it did not listen: that is no reason to drop anyone.
        if now - lastLoop > options.workerTimeout / 2 { dispatcher.touchAll(now: now) }
        lastLoop = now
        if now - lastHeartbeat >= options.heartbeatInterval {
            lastHeartbeat = now
            for slot in dispatcher.workers.values {
                send(.heartbeat(Heartbeat(sentAt: now)), to: slot.peer)
            }
        }
        for worker in dispatcher.silentWorkers(now: now, timeout: options.workerTimeout) {
            lose(worker, reason: "silent for more than \(options.workerTimeout) s")
        }
        let overrun = dispatcher.overrunLeases(now: now) { taskID in
            options.taskTimeout ?? durations.limit(cell: plan.position(ofTask: taskID).cell, task: taskID)
        }
        for (worker, taskID, seconds) in overrun {
            counters.leasesExpired += 1
            durations.overran(task: taskID)
            lose(worker, reason: "task \(taskID) ran \(Int(seconds)) s, beyond its lease")
        }
        if dispatcher.workers.isEmpty {
            if hadWorkers && !dispatcher.isComplete {
                hadWorkers = false
                logger.error("all workers are gone with \(plan.taskCount - dispatcher.doneCount) task(s) left; waiting for workers at \(endpoint)")
            }
            if now - lastWorkerSeen >= options.idleNoticeInterval && now - lastIdleNotice >= options.idleNoticeInterval {
                lastIdleNotice = now
                logger.notice("waiting for workers: none connected to \(endpoint) (start one with: dlsweep worker --connect \(endpoint))")
            }
            if let limit = options.stopWithoutWorkers, now - lastWorkerSeen >= limit {
                stopReason = "no worker for \(Int(limit)) s"
                stop.request()
            }
        } else {
            hadWorkers = true
            lastWorkerSeen = now
        }
        if let failure = authenticator?.failure {
            stopReason = "the CURVE authentication handler stopped: \(failure)"
            logger.critical("\(stopReason ?? "")")
            stop.request()
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
            guard let messages = try? Message.decodeAll(frames[1]), let message = messages.first else { continue }
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

/// A cell's task (any trial; its id, trial and seeds are replaced) and its encoded specs
/// without seeds, plain and with the sampled trials' trajectory.
struct CellCacheEntry {
    var template: SweepTask
    var spec: [UInt8]?
    var sampledSpec: [UInt8]?
}

/// Measured seconds per cell: the default lease of a task is a multiple of its cell's
/// expected time, doubled each time that task overran (so a slow but honest task finishes).
/// Beyond `maxCells` measured cells the rest share one mean (memory stays bounded on huge grids).
public struct TaskDurations: Sendable {
    public var factor: Double
    /// No lease is shorter.
    public var floor: Double
    public var maxCells = 100_000
    private var sums: [Int: (seconds: Double, count: Int)] = [:]
    private var overruns: [Int: Int] = [:]
    private var longestMean = 0.0

    public init(factor: Double = 10, floor: Double = 60) {
        self.factor = factor
        self.floor = floor
    }

    public mutating func record(cell: Int, seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        let cell = sums[cell] != nil || sums.count < maxCells ? cell : -1
        var entry = sums[cell] ?? (0, 0)
        entry.seconds += seconds
        entry.count += 1
        sums[cell] = entry
        longestMean = max(longestMean, entry.seconds / Double(entry.count))
    }

    public mutating func overran(task: Int) {
        overruns[task, default: 0] += 1
    }

    /// nil until something was measured: the first tasks of a sweep have no expected time.
    public func limit(cell: Int, task: Int) -> Double? {
        let expected: Double
        if let entry = sums[cell] ?? sums[-1] {
            expected = entry.seconds / Double(entry.count)
        } else if longestMean > 0 {
            // A cell not yet measured may be larger than any measured one.
            expected = 4 * longestMean
        } else {
            return nil
        }
        let doublings = Double(min(overruns[task] ?? 0, 20))
        return max(floor, factor * expected) * pow(2, doublings)
    }
}
