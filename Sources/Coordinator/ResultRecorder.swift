import Foundation
import ResultsStore
import SweepProtocol

/// A store that refuses commits: since when, how often, and when to try again.
struct StoreFault: Sendable {
    var since: Double
    var attempts: Int
    var nextRetry: Double
    var message: String

    /// 1, 2, 4 … 30 s between attempts.
    static func delay(afterAttempts attempts: Int) -> Double { min(30, pow(2, Double(max(0, attempts - 1)))) }
}

/// Why the coordinator must stop: the store cannot take results any more.
public struct StoreFailure: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// What the coordinator needs of a staged result once it is committed.
struct StagedResult: Sendable {
    var worker: String?
    /// Where to send the acknowledgement once committed.
    var peer: [UInt8]?
    var seconds: Double
}

/// The checked results waiting for the next commit. Their outcomes are kept in an array of
/// their own, which a commit hands to the store as it is: copying each outcome out of its
/// staged result (its task with the whole spec, its report and strings) cost about as much as
/// binding its row.
struct StagedResults: Sendable {
    /// `outcomes[i]` is the outcome of `items[i]`.
    private(set) var outcomes: [TaskOutcome] = []
    private(set) var items: [StagedResult] = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    var indices: Range<Int> { items.indices }

    subscript(index: Int) -> StagedResult { items[index] }

    mutating func append(_ outcome: consuming TaskOutcome, _ item: StagedResult) {
        outcomes.append(outcome)
        items.append(item)
    }

    mutating func remove(at index: Int) {
        outcomes.remove(at: index)
        items.remove(at: index)
    }

    mutating func removeAll() {
        outcomes.removeAll(keepingCapacity: true)
        items.removeAll(keepingCapacity: true)
    }
}

/// Result recording: validated results are committed in batches, and only then count.
///
/// A commit that fails for a reason that may pass (a full disk) keeps the results in memory
/// and retries with back-off, saying so; the workers' credit is freed meanwhile so tasks keep
/// flowing until `resultBufferLimit` results are held. A file deleted or replaced under us, or
/// a fault that outlasts `storeRetryLimit`, fails the run: the coordinator exits non-zero.
extension CoordinatorCore {
    /// Asks for the results received since the last commit to be committed in one transaction
    /// once their group is full or `commitDelay` has passed since the last commit
    /// (`commitGroup`, `commitDelay`); only once `committed` do they count (done, acknowledged).
    /// A result is committed at once unless results are arriving faster than single commits
    /// (`groupDue`): only a busy store groups.
    mutating func flush(now: Double) {
        guard !staged.isEmpty, storeFailure == nil else { return }
        if let fault = storeFault, now < fault.nextRetry {
            parkStaged(now: now)
            return
        }
        if storeFault == nil, staged.count < options.commitGroup, now < groupDue {
            parkStaged(now: now)
            return
        }
        emit(.commit(staged.outcomes))
    }

    /// When the staged group may be committed without filling up. Once the last commit carried
    /// more than one result, results are arriving faster than they are committed: `commitDelay`
    /// after that commit, so that a busy store takes at most one group per `commitDelay`.
    /// Otherwise (one worker's result at a time, as PostgreSQL's `commit_siblings` waits only
    /// when others are committing) at once.
    private var groupDue: Double {
        guard let lastCommit, lastGroupSize > 1 else { return -.infinity }
        return lastCommit + options.commitDelay
    }

    /// When the staged group is due for its commit (the driver wakes up for it); nil with
    /// nothing staged or a failing store (whose retries `tick` paces).
    public var nextCommit: Double? {
        guard !staged.isEmpty, storeFault == nil, storeFailure == nil else { return nil }
        return groupDue
    }

    mutating func committed(_ inserted: [Bool], now: Double) {
        let recovered = storeFault != nil
        if let fault = storeFault {
            log(.notice, "results store recovered after \(fault.attempts) failed commit(s) over \(Int(now - fault.since)) s: \(staged.count) held result(s) committed")
            storeFault = nil
        }
        lastCommit = now
        lastGroupSize = staged.count
        let batch = staged
        staged.removeAll()
        stagedIDs.removeAll(keepingCapacity: true)
        parkedCount = 0
        var workers = Set<String>()
        var lastWorker: String?
        var acks: [[UInt8]: [Int]] = [:]
        var ackPeer: [UInt8]?
        var ackIDs: [Int] = []
        // By index: each item read in place, not copied whole (its report, task and strings).
        for index in 0..<min(batch.count, inserted.count) {
            let taskID = batch.outcomes[index].task.id
            let seconds = batch[index].seconds
            if inserted[index] {
                recordedNow += 1
                if case .failed(let reason) = batch.outcomes[index].result {
                    count(.tasksFailed)
                    log(.warning, "task \(taskID) failed on \(batch.outcomes[index].host): \(reason)")
                }
            } else {
                count(.duplicateResults)
            }
            if dispatcher.complete(taskID, seconds: seconds, now: now), case .report = batch.outcomes[index].result {
                let cell = batch.outcomes[index].task.cell.index
                durations.record(cell: cell, seconds: seconds)
                dispatcher.recordCost(cell: cell, seconds: seconds)
            }
            // A worker's results come in runs: its id and peer are hashed once per run.
            if let worker = batch[index].worker, worker != lastWorker {
                workers.insert(worker)
                lastWorker = worker
            }
            if let peer = batch[index].peer {
                if peer != ackPeer {
                    if let ackPeer, !ackIDs.isEmpty { acks[ackPeer, default: []].append(contentsOf: ackIDs) }
                    ackPeer = peer
                    ackIDs.removeAll(keepingCapacity: true)
                }
                ackIDs.append(taskID)
            }
        }
        if let ackPeer, !ackIDs.isEmpty { acks[ackPeer, default: []].append(contentsOf: ackIDs) }
        for (peer, taskIDs) in acks { send(.ack(Ack(taskIDs: taskIDs)), to: peer) }
        if let verification {
            queueReplays(zip(batch.outcomes, inserted).compactMap { $1 ? $0 : nil }, sample: verification, now: now)
        }
        if recovered {
            assignAll(now: now)  // the buffer may have been full: every worker may be waiting
        } else {
            for worker in workers.sorted() { assign(worker, now: now) }
        }
    }

    /// Whether results are held back and the buffer is full (no new tasks go out).
    var resultBufferFull: Bool { staged.count >= options.resultBufferLimit }

    /// The line the progress output adds while the store refuses commits.
    public func storeAlert(now: Double) -> String? {
        guard let fault = storeFault else { return nil }
        let wait = max(0, Int((fault.nextRetry - now).rounded(.up)))
        return "STORE FAILING since \(Int(now - fault.since)) s (\(fault.message)); \(staged.count) result(s) held in memory\(resultBufferFull ? " (full: no new tasks)" : ""), retry in \(wait) s"
    }

    mutating func commitFailed(_ error: String, retryable: Bool, now: Double) {
        guard retryable else {
            fail(StoreFailure(description: error))
            log(.critical, "results store failed for good: \(error)")
            return
        }
        var fault = storeFault ?? StoreFault(since: now, attempts: 0, nextRetry: now, message: "")
        fault.attempts += 1
        fault.message = error
        if now - fault.since >= options.storeRetryLimit {
            fail(StoreFailure(description: "the results store kept failing for \(Int(now - fault.since)) s (\(fault.attempts) attempts): \(error). \(staged.count) result(s) were not committed; free the space (or fix the file system) and run the same command again to resume"))
            log(.critical, "giving up on the results store: \(error)")
            return
        }
        let delay = StoreFault.delay(afterAttempts: fault.attempts)
        fault.nextRetry = now + delay
        storeFault = fault
        log(.error, "cannot commit \(staged.count) result(s): \(error); they are kept in memory, next try in \(Int(delay)) s (gives up after \(Int(options.storeRetryLimit)) s)")
        parkStaged(now: now)
    }

    /// The store cannot take results any more: the run ends with this error.
    mutating func fail(_ failure: StoreFailure) {
        storeFailure = failure
        emit(.fail(failure))
    }

    /// Frees the credit of the workers whose results are held (they were validated and wait
    /// only for their group's commit or the store's recovery), so they can take more tasks.
    private mutating func parkStaged(now: Double) {
        guard parkedCount < staged.count else { return }
        var workers = Set<String>()
        var last: String?
        for index in parkedCount..<staged.count {
            guard let worker = staged[index].worker else { continue }
            dispatcher.park(staged.outcomes[index].task.id, from: worker, seconds: staged[index].seconds, now: now)
            // A worker's results come in runs: its id is hashed into the set once per run.
            if worker != last {
                workers.insert(worker)
                last = worker
            }
        }
        parkedCount = staged.count
        for worker in workers.sorted() { assign(worker, now: now) }
    }
}
