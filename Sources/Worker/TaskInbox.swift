import Foundation
import SweepProtocol

/// Tasks handed from the socket thread to the compute side: one compute thread, or the
/// threads that feed a node's compute processes (`ComputePool`).
///
/// `@unchecked Sendable`: every stored property is guarded by `condition`.
final class TaskInbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [TaskAssignment] = []
    private var running: Set<Int> = []
    private var closed = false
    private var failed: String?

    func push(_ task: TaskAssignment) {
        condition.lock()
        defer { condition.unlock() }
        guard !closed, !queue.contains(where: { $0.taskID == task.taskID }), !running.contains(task.taskID) else { return }
        queue.append(task)
        condition.signal()
    }

    /// Blocks until a task is queued; nil once closed.
    func take() -> TaskAssignment? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closed { condition.wait() }
        if closed { return nil }
        let task = queue.removeFirst()
        running.insert(task.taskID)
        return task
    }

    func finished(_ taskID: Int) {
        condition.lock()
        running.remove(taskID)
        condition.unlock()
    }

    /// Puts a task whose run was lost (its compute process died) first in line again.
    func retry(_ task: TaskAssignment) {
        condition.lock()
        defer { condition.unlock() }
        running.remove(task.taskID)
        guard !closed else { return }
        queue.insert(task, at: 0)
        condition.signal()
    }

    /// The compute side stopped on an error: the socket thread must say so and leave.
    func fail(_ reason: String) {
        condition.lock()
        if failed == nil { failed = reason }
        condition.unlock()
    }

    var failure: String? {
        condition.lock()
        defer { condition.unlock() }
        return failed
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    /// Closes the inbox and returns the ids of every task held, queued or running.
    func close() -> [Int] {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        condition.broadcast()
        let held = queue.map(\.taskID) + running.sorted()
        queue.removeAll()
        return held
    }
}
