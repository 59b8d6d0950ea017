public import ResultsStore

/// The coordinator's bookkeeping, free of I/O: which tasks are waiting, which worker holds
/// which task, how many workers each task has outlived, and who has credit for more.
///
/// Memory stays small for million-task grids: fresh tasks are handed out by a cursor over
/// the `done` bitmap instead of a materialized queue; only re-queued tasks are listed.
public struct Dispatcher: Sendable {
    /// A registered worker as the dispatcher sees it.
    public struct WorkerSlot: Sendable {
        public var id: String
        /// ZeroMQ routing identity of the current connection.
        public var peer: [UInt8]
        public var host: String
        public var prefetch: Int
        /// Task id → attempt number it was sent with.
        public var inFlight: [Int: Int] = [:]
        public var lastSeen: Double
        public var tasksDone = 0
        public var busySeconds = 0.0

        public var freeCredit: Int { max(0, prefetch - inFlight.count) }
    }

    /// What became of a task whose holder was lost.
    public enum Reclaimed: Sendable, Equatable {
        case requeued(taskID: Int)
        /// The task has now outlived `maxAttempts` workers: record it as failed.
        case exhausted(taskID: Int, attempts: Int)
    }

    public let taskCount: Int
    public let maxAttempts: Int
    public private(set) var doneCount: Int
    public private(set) var workers: [String: WorkerSlot] = [:]

    private var done: TaskBitmap
    private var freshCursor = 0
    private var retry: [Int] = []
    private var holder: [Int: String] = [:]
    private var kills: [Int: Int] = [:]
    private var peerToWorker: [[UInt8]: String] = [:]

    /// - Parameter done: tasks already finished (recorded in the results store).
    public init(taskCount: Int, done: TaskBitmap, maxAttempts: Int) {
        precondition(done.count == taskCount, "done bitmap must cover every task")
        self.taskCount = taskCount
        self.maxAttempts = max(1, maxAttempts)
        self.done = done
        self.doneCount = done.setCount
    }

    /// `done[id]` true for the tasks already finished (small grids and tests).
    public init(taskCount: Int, done: [Bool], maxAttempts: Int) {
        var bitmap = TaskBitmap(count: done.count)
        for (id, isDone) in done.enumerated() where isDone { bitmap[id] = true }
        self.init(taskCount: taskCount, done: bitmap, maxAttempts: maxAttempts)
    }

    public var isComplete: Bool { doneCount == taskCount }
    public var inFlightCount: Int { holder.count }
    public var pendingCount: Int { taskCount - doneCount - holder.count }

    public func isDone(_ taskID: Int) -> Bool { done[taskID] }
    public func workerID(forPeer peer: [UInt8]) -> String? { peerToWorker[peer] }
    public func holder(of taskID: Int) -> String? { holder[taskID] }

    /// Registers a worker or, for a known id, its new connection. A reconnecting worker
    /// keeps the tasks it holds: it may still deliver them.
    /// - Returns: true for a worker not seen before.
    @discardableResult
    public mutating func register(id: String, peer: [UInt8], host: String, prefetch: Int, now: Double) -> Bool {
        if var slot = workers[id] {
            peerToWorker[slot.peer] = nil
            slot.peer = peer
            slot.host = host
            slot.prefetch = max(1, prefetch)
            slot.lastSeen = now
            workers[id] = slot
            peerToWorker[peer] = id
            return false
        }
        workers[id] = WorkerSlot(id: id, peer: peer, host: host, prefetch: max(1, prefetch), lastSeen: now)
        peerToWorker[peer] = id
        return true
    }

    public mutating func touch(_ workerID: String, now: Double) {
        workers[workerID]?.lastSeen = now
    }

    /// Hands `workerID` as many tasks as its credit allows.
    /// - Returns: (task id, attempt number) pairs to send.
    public mutating func assign(to workerID: String) -> [(taskID: Int, attempt: Int)] {
        guard var slot = workers[workerID] else { return [] }
        var out: [(taskID: Int, attempt: Int)] = []
        while slot.freeCredit > 0, let task = nextPending() {
            let attempt = (kills[task] ?? 0) + 1
            slot.inFlight[task] = attempt
            holder[task] = workerID
            out.append((task, attempt))
        }
        workers[workerID] = slot
        return out
    }

    private mutating func nextPending() -> Int? {
        while let task = retry.popLast() {
            if !done[task] && holder[task] == nil { return task }
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

    /// Marks a task finished once its result is committed.
    /// - Returns: false when it was already done (a late or duplicate result).
    @discardableResult
    public mutating func complete(_ taskID: Int, seconds: Double = 0) -> Bool {
        guard done.contains(taskID), !done[taskID] else { return false }
        done[taskID] = true
        doneCount += 1
        if let owner = holder.removeValue(forKey: taskID) {
            workers[owner]?.inFlight[taskID] = nil
            workers[owner]?.tasksDone += 1
            workers[owner]?.busySeconds += seconds
        }
        kills[taskID] = nil
        return true
    }

    /// Frees a worker's credit for a task whose result is held, validated, until the store
    /// takes it: the task is neither handed out again nor done until `complete`.
    public mutating func park(_ taskID: Int, from workerID: String, seconds: Double = 0) {
        guard holder[taskID] == workerID else { return }
        holder[taskID] = nil
        workers[workerID]?.inFlight[taskID] = nil
        workers[workerID]?.tasksDone += 1
        workers[workerID]?.busySeconds += seconds
    }

    /// Frees a worker's credit for a task it will not deliver (it handed it back).
    public mutating func returnTask(_ taskID: Int, from workerID: String) {
        guard holder[taskID] == workerID else { return }
        holder[taskID] = nil
        workers[workerID]?.inFlight[taskID] = nil
        if !done[taskID] { retry.append(taskID) }
    }

    /// Drops a worker that left or went silent; each task it held counts one attempt.
    public mutating func dropWorker(_ workerID: String, countAttempts: Bool) -> [Reclaimed] {
        guard let slot = workers.removeValue(forKey: workerID) else { return [] }
        peerToWorker[slot.peer] = nil
        var out: [Reclaimed] = []
        for task in slot.inFlight.keys.sorted() where holder[task] == workerID {
            holder[task] = nil
            guard !done[task] else { continue }
            if countAttempts {
                let k = (kills[task] ?? 0) + 1
                kills[task] = k
                if k >= maxAttempts {
                    out.append(.exhausted(taskID: task, attempts: k))
                    continue
                }
            }
            retry.append(task)
            out.append(.requeued(taskID: task))
        }
        return out
    }

    /// Workers silent for longer than `timeout` seconds.
    public func silentWorkers(now: Double, timeout: Double) -> [String] {
        workers.values.filter { now - $0.lastSeen > timeout }.map(\.id).sorted()
    }
}
