import Foundation
import ResultsStore

/// Result recording: validated results are committed in batches, and only then count.
extension Coordinator {
    /// Commits the results received since the last call in one transaction; only then do
    /// they count (done, credit returned, next tasks sent).
    func commitStaged() {
        guard !staged.isEmpty else { return }
        let batch = staged
        staged.removeAll(keepingCapacity: true)
        stagedIDs.removeAll(keepingCapacity: true)
        let inserted: [Bool]
        do {
            inserted = try store.record(batch.map(\.outcome))
        } catch {
            // Not committed, so not counted: the tasks go back to the queue.
            logger.error("could not record \(batch.count) result(s): \(error)")
            for item in batch {
                if let worker = item.worker { dispatcher.returnTask(item.outcome.task.id, from: worker) }
            }
            return
        }
        var workers = Set<String>()
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
            dispatcher.complete(taskID, seconds: item.seconds)
            if let worker = item.worker { workers.insert(worker) }
        }
        for worker in workers.sorted() { assign(worker) }
    }
}
