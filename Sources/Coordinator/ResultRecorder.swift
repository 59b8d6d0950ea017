import Foundation
import ResultsStore
import SweepProtocol

/// A store that refuses commits: since when, how often, and when to try again.
struct StoreFault {
    var since: Double
    var attempts: Int
    var nextRetry: Double
    var message: String

    /// 1, 2, 4 … 30 s between attempts.
    static func delay(afterAttempts attempts: Int) -> Double { min(30, pow(2, Double(max(0, attempts - 1)))) }
}

/// Why the coordinator must stop: the store cannot take results any more.
public struct StoreFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// Result recording: validated results are committed in batches, and only then count.
extension Coordinator {
    /// Commits the results received since the last call in one transaction; only then do
    /// they count (done, next tasks sent).
    ///
    /// A commit that fails for a reason that may pass (a full disk) keeps the results in
    /// memory and retries with back-off, saying so; the workers' credit is freed meanwhile so
    /// tasks keep flowing until `resultBufferLimit` results are held. A file deleted or
    /// replaced under us, or a fault that outlasts `storeRetryLimit`, sets `storeFailure`:
    /// the run loop then stops and the coordinator exits non-zero.
    func commitStaged(now: Double = Coordinator.now()) {
        guard !staged.isEmpty, storeFailure == nil else { return }
        if let fault = storeFault, now < fault.nextRetry {
            parkStaged()
            return
        }
        let inserted: [Bool]
        do {
            inserted = try store.record(staged.map(\.outcome))
        } catch {
            storeFailed(error, now: now)
            return
        }
        let recovered = storeFault != nil
        if let fault = storeFault {
            logger.notice("results store recovered after \(fault.attempts) failed commit(s) over \(Int(now - fault.since)) s: \(staged.count) held result(s) committed")
            storeFault = nil
        }
        let batch = staged
        staged.removeAll(keepingCapacity: true)
        stagedIDs.removeAll(keepingCapacity: true)
        parkedCount = 0
        var workers = Set<String>()
        var acks: [[UInt8]: [Int]] = [:]
        for (item, isNew) in zip(batch, inserted) {
            let taskID = item.outcome.task.id
            if isNew {
                recordedNow += 1
                if case .failed(let reason) = item.outcome.result {
                    counters.tasksFailed += 1
                    logger.warning("task \(taskID) failed on \(item.outcome.host): \(reason)")
                }
            } else {
                counters.duplicateResults += 1
            }
            if dispatcher.complete(taskID, seconds: item.seconds, now: now), case .report = item.outcome.result {
                durations.record(cell: item.outcome.task.cell.index, seconds: item.seconds)
            }
            if let worker = item.worker { workers.insert(worker) }
            if let peer = item.peer { acks[peer, default: []].append(taskID) }
        }
        for (peer, taskIDs) in acks { send(.ack(Ack(taskIDs: taskIDs)), to: peer) }
        if recovered {
            assignAll()  // the buffer may have been full: every worker may be waiting
        } else {
            for worker in workers.sorted() { assign(worker) }
        }
    }

    /// Whether results are held back and the buffer is full (no new tasks go out).
    var resultBufferFull: Bool { staged.count >= options.resultBufferLimit }

    /// The line the progress output adds while the store refuses commits.
    var storeAlert: String? {
        guard let fault = storeFault else { return nil }
        let wait = max(0, Int((fault.nextRetry - Coordinator.now()).rounded(.up)))
        return "STORE FAILING since \(Int(Coordinator.now() - fault.since)) s (\(fault.message)); \(staged.count) result(s) held in memory\(resultBufferFull ? " (full: no new tasks)" : ""), retry in \(wait) s"
    }

    private func storeFailed(_ error: any Error, now: Double) {
        let retryable = (error as? ResultsStoreError)?.isRetryable ?? false
        guard retryable else {
            storeFailure = StoreFailure(description: "\(error)")
            logger.critical("results store failed for good: \(error)")
            return
        }
        var fault = storeFault ?? StoreFault(since: now, attempts: 0, nextRetry: now, message: "")
        fault.attempts += 1
        fault.message = "\(error)"
        if now - fault.since >= options.storeRetryLimit {
            storeFailure = StoreFailure(description: "the results store kept failing for \(Int(now - fault.since)) s (\(fault.attempts) attempts): \(error). \(staged.count) result(s) were not committed; free the space (or fix the file system) and run the same command again to resume")
            logger.critical("giving up on the results store: \(error)")
            return
        }
        let delay = StoreFault.delay(afterAttempts: fault.attempts)
        fault.nextRetry = now + delay
        storeFault = fault
        logger.error("cannot commit \(staged.count) result(s): \(error); they are kept in memory, next try in \(Int(delay)) s (gives up after \(Int(options.storeRetryLimit)) s)")
        parkStaged()
    }

    /// Frees the credit of the workers whose results are held (they were validated and wait
    /// only for the store), so they can take more tasks.
    private func parkStaged() {
        guard parkedCount < staged.count else { return }
        var workers = Set<String>()
        for item in staged[parkedCount...] {
            guard let worker = item.worker else { continue }
            dispatcher.park(item.outcome.task.id, from: worker, seconds: item.seconds)
            workers.insert(worker)
        }
        parkedCount = staged.count
        for worker in workers.sorted() { assign(worker) }
    }
}
