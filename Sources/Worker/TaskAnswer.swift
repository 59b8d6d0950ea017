import Foundation
public import SweepProtocol
public import TrainingCore

/// Runs one task and encodes the answer the coordinator gets: a `result`, or a `task_failed`
/// when the run threw or its result cannot be sent. The same for the worker's compute thread
/// and a node's compute processes.
public enum TaskAnswer {
    public static func frame(for task: TaskAssignment,
                             compute: (RunSpec) throws -> RunReport) throws(ProtocolError) -> [UInt8] {
        let started = Date().timeIntervalSince1970
        let message: Message
        do {
            let spec = try task.spec.runSpec()
            try spec.checkFitsInMemory()
            let report = try compute(spec)
            // Sized with a token's length: the worker stamps the frame with its session when it sends it.
            message = .result(TaskResult(
                sweep: task.sweep, taskID: task.taskID, attempt: task.attempt, report: report,
                startedAt: started, finishedAt: Date().timeIntervalSince1970, session: sessionPlaceholder))
        } catch {
            message = .taskFailed(TaskFailure(
                sweep: task.sweep, taskID: task.taskID, attempt: task.attempt, reason: "\(error)"))
        }
        do {
            if case .result(let result) = message {
                return try result.encodedFrame()  // a long trajectory thinned to fit
            }
            return try message.encoded()
        } catch {
            // Too large even without a trajectory: the task's own failure, said as such.
            return try failure(of: task, reason: "its result cannot be sent: \(error)")
        }
    }

    /// As long as a coordinator's session token (32 hex digits).
    static let sessionPlaceholder = String(repeating: "0", count: 32)

    /// A `task_failed` frame for `task`.
    public static func failure(of task: TaskAssignment, reason: String) throws(ProtocolError) -> [UInt8] {
        try Message.taskFailed(TaskFailure(
            sweep: task.sweep, taskID: task.taskID, attempt: task.attempt, reason: reason)).encoded()
    }
}
