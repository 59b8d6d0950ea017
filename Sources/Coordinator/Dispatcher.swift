public import ResultsStore

/// The coordinator's bookkeeping, free of I/O: which tasks are waiting, which worker holds
/// which task under which lease, how often each task failed by its own doing, and who has
/// credit for more.
///
/// Memory stays small for million-task grids: fresh tasks are handed out by a cursor over
/// the `done` bitmap instead of a materialized queue; only re-queued tasks are listed, and
/// per-task counters exist only for tasks that were dispatched and are not done.
public struct Dispatcher: Sendable {
    /// A task sent to a worker: only that worker, answering with that attempt, may settle it.
    public struct Lease: Sendable, Equatable {
        /// The coordinator's count of dispatches of the task (1 on the first).
        public var attempt: Int
        /// When the task was sent.
        public var since: Double
        /// Dispatch order (the worker runs its tasks in this order).
        var order: Int
    }

    /// A registered worker as the dispatcher sees it.
    public struct WorkerSlot: Sendable {
        public var id: String
        /// The session's token (the welcome's): every later message must carry it, and the
        /// leases below belong to it.
        public var session: String
        /// ZeroMQ routing identity of the current connection.
        public var peer: [UInt8]
        public var host: String
        /// Granted credit (the worker's wish, capped).
        public var prefetch: Int
        public var inFlight: [Int: Lease] = [:]
        public var lastSeen: Double
        /// When the worker last settled a task (its next task started then, at the latest).
        public var lastDelivery: Double
        public var tasksDone = 0
        public var busySeconds = 0.0
        /// Invalid results since its last valid one (quarantined at `--quarantine-after`).
        public var invalidInARow = 0

        public var freeCredit: Int { max(0, prefetch - inFlight.count) }

        /// The task the worker is running now: its oldest, running since the later of its
        /// dispatch and the worker's last delivery.
        public var running: (taskID: Int, since: Double)? {
            guard let (task, lease) = inFlight.min(by: { $0.value.order < $1.value.order }) else { return nil }
            return (task, max(lease.since, lastDelivery))
        }
    }

    public enum Registration: Sendable, Equatable {
        case new
        /// A known session: its token on a new connection, or a hello again on its own
        /// connection. It keeps its tasks.
        case again
        /// A new session for an id whose session fell silent (the hello had not its token):
        /// the old session's tasks went back to the queue (`requeued`); nothing is inherited.
        case replaced(requeued: [Int])
        /// Another live connection already uses this worker id (and the hello had not its token).
        case refused
        /// The id is quarantined (`quarantined[id]` says why).
        case quarantined
    }

    /// Whether a result for a task may be recorded.
    public enum LeaseCheck: Sendable, Equatable {
        case held
        case unknownTask
        case alreadyDone
        /// Not leased to this worker with this attempt (another worker's task, a lapsed lease).
        case notHolder
        /// Not the current lease, but an earlier dispatch of the task to this session with this
        /// attempt: a late result of the run it was sent, which counts (`adoptLate`).
        case late
        /// A replay of a finished task leased to this worker with this attempt (`Replay`).
        case replay
    }

    /// A re-run of a finished task on another worker, to check its recorded result
    /// (verification by replay). To the worker it is a task like any other.
    public struct Replay: Sendable, Equatable {
        public var taskID: Int
        public var attempt: Int
        /// Workers that ran the task already: never given the replay.
        public var excludedWorkers: [String]
        /// Their hosts: avoided while a worker of another host is connected.
        public var excludedHosts: [String]

        public init(taskID: Int, attempt: Int, excludedWorkers: [String], excludedHosts: [String]) {
            self.taskID = taskID
            self.attempt = attempt
            self.excludedWorkers = excludedWorkers
            self.excludedHosts = excludedHosts
        }
    }

    /// What became of a task that failed by its own doing.
    public enum Failure: Sendable, Equatable {
        case requeued(failures: Int)
        /// `maxAttempts` failures: record it as failed (the lease stays until then).
        case exhausted(failures: Int)
    }

    public private(set) var taskCount: Int
    public let maxAttempts: Int
    public let maxPrefetch: Int
    public private(set) var doneCount: Int
    public private(set) var workers: [String: WorkerSlot] = [:]

    private var done: TaskBitmap
    private var freshCursor = 0
    /// The order fresh tasks of the grid go out in, the costliest first (nil: id order); after
    /// them, the cursor hands out the ids above them (adaptive rounds).
    public private(set) var costs: TaskCostModel?
    private var retry: [Int] = []
    private var holder: [Int: String] = [:]
    private var dispatches: [Int: Int] = [:]
    private var failures: [Int: Int] = [:]
    /// Per not-done task that failed: the workers it failed on (with their host and count).
    private var failedOn: [Int: [String: (host: String, count: Int)]] = [:]
    /// Every worker id and host that joined this run (the fault rule's "several").
    private var joinedWorkers = Set<String>()
    private var joinedHosts = Set<String>()
    /// Per dispatched, not-done task: the sessions it was sent to, with the attempt.
    private var dispatchedTo: [Int: [(session: String, attempt: Int)]] = [:]
    /// Tokens of sessions dropped (silent, overrun, gone), with their worker id: a hello with
    /// one resumes the session (to deliver late results), with none of its old leases.
    private var retiredSessions: [String: String] = [:]
    /// Workers refused for the rest of the run, with the reason.
    public private(set) var quarantined: [String: String] = [:]
    private var peerToWorker: [[UInt8]: String] = [:]
    private var order = 0
    /// Replays waiting for a worker, and those out (by task: one replay of a task at a time).
    /// Both empty unless the sweep verifies: then nothing on the dispatch path looks further.
    private var replayQueue: [Replay] = []
    private var replaysOut: [Int: (worker: String, replay: Replay)] = [:]
    /// The highest attempt number a replay was sent with: a reopened task's attempts start
    /// above it, so no worker is ever sent the same task and attempt twice.
    private var highestReplayAttempt = 0
    /// Connected workers per host: whether a replay can wait for another host's worker is
    /// known without walking every worker.
    private var connectedPerHost: [String: Int] = [:]

    /// - Parameter done: tasks already finished (recorded in the results store).
    public init(taskCount: Int, done: TaskBitmap, maxAttempts: Int, maxPrefetch: Int = 16) {
        precondition(done.count == taskCount, "done bitmap must cover every task")
        self.taskCount = taskCount
        self.maxAttempts = max(1, maxAttempts)
        self.maxPrefetch = max(1, maxPrefetch)
        self.done = done
        self.doneCount = done.setCount
    }

    /// `done[id]` true for the tasks already finished (small grids and tests).
    public init(taskCount: Int, done: [Bool], maxAttempts: Int, maxPrefetch: Int = 16) {
        var bitmap = TaskBitmap(count: done.count)
        for (id, isDone) in done.enumerated() where isDone { bitmap[id] = true }
        self.init(taskCount: taskCount, done: bitmap, maxAttempts: maxAttempts, maxPrefetch: maxPrefetch)
    }

    /// Adds tasks `taskCount..<newCount`, none done (an adaptive sweep's next round).
    public mutating func grow(to newCount: Int) {
        guard newCount > taskCount else { return }
        done.grow(to: newCount)
        taskCount = newCount
    }

    /// Every task has its row and no replay is waiting or out.
    public var isComplete: Bool { doneCount == taskCount && replayQueue.isEmpty && replaysOut.isEmpty }
    public var inFlightCount: Int { holder.count }
    public var pendingCount: Int { taskCount - doneCount - holder.count }

    public func isDone(_ taskID: Int) -> Bool { done.contains(taskID) && done[taskID] }
    public func workerID(forPeer peer: [UInt8]) -> String? { peerToWorker[peer] }
    public func holder(of taskID: Int) -> String? { holder[taskID] }
    public func failures(of taskID: Int) -> Int { failures[taskID] ?? 0 }

    /// The lease under which `taskID` is out, if any.
    public func lease(of taskID: Int) -> (worker: String, lease: Lease)? {
        guard let worker = holder[taskID], let lease = workers[worker]?.inFlight[taskID] else { return nil }
        return (worker, lease)
    }

    /// Registers a worker's session. A hello carrying a known session's token (`session`)
    /// resumes that session on `peer`, as does a hello again on the session's own connection;
    /// otherwise a new session starts under the token `newSession`. A worker id whose session
    /// is live on another connection (heard within `liveWithin` seconds) is refused; a silent
    /// one is replaced, its tasks re-queued: a hello without the token inherits nothing.
    public mutating func register(id: String, peer: [UInt8], host: String, prefetch: Int, now: Double,
                                  liveWithin: Double, session: String? = nil, newSession: String = "")
        -> Registration {
        let granted = min(max(1, prefetch), maxPrefetch)
        if quarantined[id] != nil { return .quarantined }
        if let other = peerToWorker[peer], other != id { return .refused }  // one connection, one worker
        if workers[id] == nil, let session, retiredSessions[session] == id {
            // A dropped session comes back with its token: the same session, its leases gone
            // back to the queue, its late results still its own.
            retiredSessions[session] = nil
            workers[id] = WorkerSlot(id: id, session: session, peer: peer, host: host, prefetch: granted, lastSeen: now,
                                     lastDelivery: now)
            connectedPerHost[host, default: 0] += 1
            peerToWorker[peer] = id
            return .again
        }
        if var slot = workers[id] {
            if slot.peer == peer || (session != nil && session == slot.session) {
                peerToWorker[slot.peer] = nil
                slot.peer = peer
                if slot.host != host {
                    left(host: slot.host)
                    connectedPerHost[host, default: 0] += 1
                }
                slot.host = host
                slot.prefetch = granted
                slot.lastSeen = now
                workers[id] = slot
                peerToWorker[peer] = id
                return .again
            }
            if now - slot.lastSeen <= liveWithin { return .refused }
            let requeued = dropWorker(id)
            workers[id] = WorkerSlot(id: id, session: newSession, peer: peer, host: host, prefetch: granted,
                                     lastSeen: now, lastDelivery: now)
            connectedPerHost[host, default: 0] += 1
            peerToWorker[peer] = id
            joinedHosts.insert(host)
            return .replaced(requeued: requeued)
        }
        joinedWorkers.insert(id)
        joinedHosts.insert(host)
        workers[id] = WorkerSlot(id: id, session: newSession, peer: peer, host: host, prefetch: granted, lastSeen: now,
                                 lastDelivery: now)
        connectedPerHost[host, default: 0] += 1
        peerToWorker[peer] = id
        return .new
    }

    public mutating func touch(_ workerID: String, now: Double) {
        workers[workerID]?.lastSeen = now
    }

    /// After the coordinator itself was blocked: nobody was heard because nobody listened.
    public mutating func touchAll(now: Double) {
        for id in workers.keys { workers[id]?.lastSeen = now }
    }

    /// Hands `workerID` as many tasks as its credit allows.
    /// - Returns: (task id, attempt number) pairs to send.
    public mutating func assign(to workerID: String, now: Double = 0) -> [(taskID: Int, attempt: Int)] {
        guard var slot = workers[workerID] else { return [] }
        var out: [(taskID: Int, attempt: Int)] = []
        // Replays first: a lie is found while the liar has run little.
        while !replayQueue.isEmpty, slot.freeCredit > 0,
              let index = replayQueue.firstIndex(where: { mayReplay($0, slot) }) {
            let replay = replayQueue.remove(at: index)
            order += 1
            slot.inFlight[replay.taskID] = Lease(attempt: replay.attempt, since: now, order: order)
            replaysOut[replay.taskID] = (workerID, replay)
            highestReplayAttempt = max(highestReplayAttempt, replay.attempt)
            out.append((replay.taskID, replay.attempt))
        }
        while slot.freeCredit > 0, let task = nextPending(for: slot) {
            let attempt = (dispatches[task] ?? 0) + 1
            dispatches[task] = attempt
            order += 1
            slot.inFlight[task] = Lease(attempt: attempt, since: now, order: order)
            holder[task] = workerID
            dispatchedTo[task, default: []].append((slot.session, attempt))
            out.append((task, attempt))
        }
        workers[workerID] = slot
        return out
    }

    /// Hands out fresh tasks longest first by `costs` (set before the first `assign`).
    public mutating func order(by costs: TaskCostModel) {
        self.costs = costs
        freshCursor = max(freshCursor, costs.orderedTaskCount)
    }

    /// Tells the cost model a task's measured seconds (after `complete`).
    public mutating func recordCost(cell: Int, seconds: Double) {
        costs?.record(cell: cell, seconds: seconds)
    }

    private mutating func nextPending(for slot: WorkerSlot) -> Int? {
        var index = retry.count - 1
        while index >= 0 {
            let task = retry[index]
            if done[task] || holder[task] != nil {
                retry.remove(at: index)
            } else if mayRun(task, slot) {
                retry.remove(at: index)
                return task
            }
            index -= 1
        }
        if var model = costs {
            costs = nil  // the model is uniquely referenced while it is walked: no copy
            let task = model.next { !done[$0] && holder[$0] == nil }
            costs = model
            if let task { return task }
        }
        // Skips finished tasks a word at a time: a resumed, nearly done 10⁹-task grid is not
        // walked bit by bit.
        while let task = done.firstClear(from: freshCursor) {
            freshCursor = task + 1
            if holder[task] == nil { return task }
        }
        freshCursor = taskCount
        return nil
    }

    /// A task that failed goes to a worker it has not failed on (a host, when several joined)
    /// while one is connected; to one it failed on only below `maxAttempts`, and never once the
    /// fault rule waits for another worker (`failedWidely`).
    private func mayRun(_ task: Int, _ slot: WorkerSlot) -> Bool {
        guard let on = failedOn[task] else { return true }
        let byHost = joinedHosts.count > 1
        func failedHere(_ worker: WorkerSlot) -> Bool {
            on[worker.id] != nil || (byHost && on.values.contains { $0.host == worker.host })
        }
        guard failedHere(slot) else { return true }
        if (failures[task] ?? 0) >= maxAttempts { return false }
        return workers.values.allSatisfy { $0.id == slot.id || failedHere($0) }
    }

    /// The fault rule: a task is failed for good only after failing on two workers (two hosts
    /// when workers of several hosts joined), unless only one worker ever joined.
    private func failedWidely(_ task: Int) -> Bool {
        guard let on = failedOn[task] else { return false }
        if joinedWorkers.count <= 1 { return true }
        guard on.count >= 2 else { return false }
        return joinedHosts.count <= 1 || Set(on.values.map(\.host)).count >= 2
    }

    /// Whether `workerID` may settle `taskID` with `attempt`.
    public func check(_ taskID: Int, attempt: Int, from workerID: String) -> LeaseCheck {
        guard taskID >= 0 && taskID < taskCount else { return .unknownTask }
        if !replaysOut.isEmpty, let out = replaysOut[taskID], out.worker == workerID,
           workers[workerID]?.inFlight[taskID]?.attempt == attempt {
            return .replay
        }
        if done[taskID] { return .alreadyDone }
        guard holder[taskID] == workerID, workers[workerID]?.inFlight[taskID]?.attempt == attempt else {
            if let session = workers[workerID]?.session,
               dispatchedTo[taskID]?.contains(where: { $0.session == session && $0.attempt == attempt }) == true {
                return .late
            }
            return .notHolder
        }
        return .held
    }

    /// Accepts a late result (`check` said `.late`): the task's current lease, if any, is
    /// cancelled (its holder's credit freed; what it sends for the task later is a duplicate)
    /// and the task is leased to `workerID` under `attempt` until its result is committed.
    /// - Returns: the worker whose lease was cancelled, if another.
    @discardableResult
    public mutating func adoptLate(_ taskID: Int, attempt: Int, from workerID: String, now: Double = 0) -> String? {
        let cancelled = holder[taskID]
        if let cancelled { workers[cancelled]?.inFlight[taskID] = nil }
        holder[taskID] = workerID
        // Ordered first: it is not waiting to run, and nothing it holds waits for it.
        workers[workerID]?.inFlight[taskID] = Lease(attempt: attempt, since: now, order: Int.min)
        return cancelled == workerID ? nil : cancelled
    }

    /// Marks a task finished once its result is committed.
    /// - Returns: false when it was already done (a late or duplicate result).
    @discardableResult
    public mutating func complete(_ taskID: Int, seconds: Double = 0, now: Double = 0) -> Bool {
        guard done.contains(taskID), !done[taskID] else { return false }
        done[taskID] = true
        doneCount += 1
        costs?.completed(task: taskID)
        if let owner = holder.removeValue(forKey: taskID) { delivered(taskID, by: owner, seconds: seconds, now: now) }
        dispatches[taskID] = nil
        // Mostly empty: a removal from an empty dictionary still hashes its key.
        if !failures.isEmpty { failures[taskID] = nil }
        if !failedOn.isEmpty { failedOn[taskID] = nil }
        if !dispatchedTo.isEmpty { dispatchedTo[taskID] = nil }
        return true
    }

    /// Frees a worker's credit for a task whose result is held, validated, until the store
    /// takes it: the task is neither handed out again nor done until `complete`.
    public mutating func park(_ taskID: Int, from workerID: String, seconds: Double = 0, now: Double = 0) {
        // One lookup of the task (a read, then a removal, hashed its id twice).
        guard let owner = holder.removeValue(forKey: taskID) else { return }
        guard owner == workerID else {
            holder[taskID] = owner
            return
        }
        delivered(taskID, by: workerID, seconds: seconds, now: now)
    }

    /// A lease its worker delivered (committed, parked or a replay's): its credit freed, the
    /// work counted, and the clock of its next task started (`WorkerSlot.running`). One lookup
    /// of the worker (its id hashed once), its slot changed in place.
    private mutating func delivered(_ taskID: Int, by workerID: String, seconds: Double, now: Double) {
        guard let slot = workers.index(forKey: workerID) else { return }
        workers.values[slot].inFlight[taskID] = nil
        workers.values[slot].tasksDone += 1
        workers.values[slot].busySeconds += seconds
        workers.values[slot].lastDelivery = max(workers.values[slot].lastDelivery, now)
    }

    /// Counts a failure (the run threw; its result was invalid) against the task and the worker
    /// that sent it. At `maxAttempts` failures on two workers (`failedWidely`) the lease stays
    /// until the failure is recorded (`complete`); otherwise the task goes back to the queue,
    /// for another worker.
    public mutating func fail(_ taskID: Int, from workerID: String, now: Double = 0) -> Failure {
        let count = (failures[taskID] ?? 0) + 1
        failures[taskID] = count
        let host = workers[workerID]?.host ?? "?"
        failedOn[taskID, default: [:]][workerID, default: (host, 0)].count += 1
        if let last = workers[workerID]?.lastDelivery { workers[workerID]?.lastDelivery = max(last, now) }
        if count >= maxAttempts && failedWidely(taskID) { return .exhausted(failures: count) }
        returnTask(taskID, from: workerID)
        return .requeued(failures: count)
    }

    /// A valid result from `workerID`: its run of invalid ones is over.
    public mutating func noteValid(_ workerID: String) {
        workers[workerID]?.invalidInARow = 0
    }

    /// An invalid result from `workerID`.
    /// - Returns: its invalid results in a row, this one included.
    public mutating func noteInvalid(_ workerID: String) -> Int {
        guard workers[workerID] != nil else { return 0 }
        workers[workerID]!.invalidInARow += 1
        return workers[workerID]!.invalidInARow
    }

    /// The workers `taskID` failed on, in order.
    public func failedWorkers(of taskID: Int) -> [String] { failedOn[taskID].map { $0.keys.sorted() } ?? [] }

    /// Refuses `workerID` for the rest of the run: it is dropped (its tasks re-queued) and the
    /// failures it sent no longer count against any task.
    /// - Returns: the re-queued task ids.
    @discardableResult
    public mutating func quarantine(_ workerID: String, reason: String) -> [Int] {
        quarantined[workerID] = reason
        joinedWorkers.remove(workerID)
        for (task, on) in failedOn {
            guard let mine = on[workerID] else { continue }
            failures[task] = max(0, (failures[task] ?? 0) - mine.count)
            failedOn[task]?[workerID] = nil
            if failedOn[task]?.isEmpty == true { failedOn[task] = nil }
        }
        return dropWorker(workerID)
    }

    /// Frees a worker's credit for a task it will not deliver; the task goes back to the queue
    /// without counting a failure.
    public mutating func returnTask(_ taskID: Int, from workerID: String) {
        if replaysOut[taskID]?.worker == workerID {
            workers[workerID]?.inFlight[taskID] = nil
            if let out = replaysOut.removeValue(forKey: taskID) { replayQueue.append(out.replay) }
            return
        }
        guard holder[taskID] == workerID else { return }
        holder[taskID] = nil
        workers[workerID]?.inFlight[taskID] = nil
        if !done[taskID] { retry.append(taskID) }
    }

    /// Drops a worker that left, went silent or overran a lease; its tasks go back to the
    /// queue. Never counts a failure: losing a worker says nothing certain about a task.
    /// - Returns: the re-queued task ids.
    @discardableResult
    public mutating func dropWorker(_ workerID: String) -> [Int] {
        guard let slot = workers.removeValue(forKey: workerID) else { return [] }
        left(host: slot.host)
        peerToWorker[slot.peer] = nil
        if quarantined[workerID] == nil {
            if retiredSessions.count >= 100_000 { retiredSessions.removeAll() }  // bounded
            retiredSessions[slot.session] = workerID
        }
        var out: [Int] = []
        for task in slot.inFlight.keys.sorted() where replaysOut[task]?.worker == workerID {
            if let replay = replaysOut.removeValue(forKey: task) { replayQueue.append(replay.replay) }
        }
        for task in slot.inFlight.keys.sorted() where holder[task] == workerID {
            holder[task] = nil
            guard !done[task] else { continue }
            retry.append(task)
            out.append(task)
        }
        return out
    }

    /// Workers silent for longer than `timeout` seconds.
    public func silentWorkers(now: Double, timeout: Double) -> [String] {
        workers.values.filter { now - $0.lastSeen > timeout }.map(\.id).sorted()
    }

    /// Workers whose running task has run longer than its limit (nil: no limit yet).
    public func overrunLeases(now: Double, limit: (Int) -> Double?) -> [(worker: String, taskID: Int, seconds: Double)] {
        var out: [(worker: String, taskID: Int, seconds: Double)] = []
        for slot in workers.values {
            guard let (task, since) = slot.running, let limit = limit(task), now - since > limit else { continue }
            out.append((slot.id, task, now - since))
        }
        return out.sorted { $0.worker < $1.worker }
    }

    // MARK: Replays (verification by replay)

    public var replaysWaiting: Int { replayQueue.count }
    public var replaysInFlight: Int { replaysOut.count }

    /// Queues a replay of a finished task (replaces one of the same task not yet sent).
    public mutating func queueReplay(_ replay: Replay) {
        replayQueue.removeAll { $0.taskID == replay.taskID }
        replayQueue.append(replay)
    }

    /// Ends the replay `workerID` ran of `taskID` (its result arrived, or it failed).
    /// - Returns: the replay; nil when it was not out with that worker.
    public mutating func settleReplay(_ taskID: Int, from workerID: String, now: Double = 0) -> Replay? {
        guard let out = replaysOut[taskID], out.worker == workerID else { return nil }
        replaysOut[taskID] = nil
        delivered(taskID, by: workerID, seconds: 0, now: now)
        return out.replay
    }

    /// Whether replays wait that no connected worker may run (every one already ran the task),
    /// with every task done and no replay out: the sweep can end only without them.
    public var replaysStuck: Bool {
        guard !replayQueue.isEmpty, replaysOut.isEmpty, doneCount == taskCount, !workers.isEmpty else { return false }
        return replayQueue.allSatisfy { replay in !workers.values.contains { mayReplay(replay, $0) } }
    }

    /// Removes and returns the waiting replays (they cannot be run).
    public mutating func abandonReplays() -> [Replay] {
        defer { replayQueue.removeAll() }
        return replayQueue
    }

    /// Tasks whose rows were removed from the store (a quarantined worker's unverified results):
    /// not done any more, back in the queue; a replay of one waiting is dropped, one running
    /// becomes the task's run.
    public mutating func reopen(_ taskIDs: [Int]) {
        let reopened = Set(taskIDs)
        replayQueue.removeAll { reopened.contains($0.taskID) }
        for task in taskIDs {
            guard done.contains(task) else { continue }
            if let out = replaysOut.removeValue(forKey: task), let session = workers[out.worker]?.session {
                // The replay running there becomes the task's run, under its lease: its result is
                // the new row (a worker ignores a task it is still running, so sending the task
                // again would hang until the lease expired).
                holder[task] = out.worker
                dispatches[task] = max(dispatches[task] ?? 0, out.replay.attempt)
                dispatchedTo[task, default: []].append((session, out.replay.attempt))
            }
            if done[task] {
                done[task] = false
                doneCount -= 1
                dispatches[task] = max(dispatches[task] ?? 0, highestReplayAttempt)
            }
            if holder[task] == nil { retry.append(task) }
        }
    }

    /// A replay goes to a worker that has not run the task, of another host while one is connected.
    private func mayReplay(_ replay: Replay, _ slot: WorkerSlot) -> Bool {
        guard !replay.excludedWorkers.contains(slot.id), slot.inFlight[replay.taskID] == nil else { return false }
        guard replay.excludedHosts.contains(slot.host) else { return true }
        // A few hosts at most are excluded: the first other host with a worker ends the walk.
        for (host, count) in connectedPerHost where !replay.excludedHosts.contains(host) {
            let excludedThere = replay.excludedWorkers.filter { workers[$0]?.host == host }.count
            if count > excludedThere { return false }
        }
        return true
    }

    private mutating func left(host: String) {
        guard let count = connectedPerHost[host] else { return }
        connectedPerHost[host] = count > 1 ? count - 1 : nil
    }
}
