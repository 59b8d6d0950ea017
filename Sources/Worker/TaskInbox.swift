import Foundation
import SweepProtocol

/// Tasks handed from the socket thread to the compute thread.
///
/// `@unchecked Sendable`: every stored property is guarded by `condition`.
final class TaskInbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [TaskAssignment] = []
    private var running: Int?
    private var closed = false
    private var failed: String?

    func push(_ task: TaskAssignment) {
        condition.lock()
        defer { condition.unlock() }
        guard !queue.contains(where: { $0.taskID == task.taskID }), running != task.taskID else { return }
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
        running = task.taskID
        return task
    }

    func finished() {
        condition.lock()
        running = nil
        condition.unlock()
    }

    /// The compute thread stopped on an error: the socket thread must say so and leave.
    func fail(_ reason: String) {
        condition.lock()
        failed = reason
        condition.unlock()
    }

    var failure: String? {
        condition.lock()
        defer { condition.unlock() }
        return failed
    }

    /// Closes the inbox and returns the ids of every task held, queued or running.
    func close() -> [Int] {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        condition.broadcast()
        let held = queue.map(\.taskID) + (running.map { [$0] } ?? [])
        queue.removeAll()
        return held
    }
}
