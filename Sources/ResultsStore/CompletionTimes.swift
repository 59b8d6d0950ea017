import Foundation
import GRDB

/// When the tasks of a sweep finished: what `report.html` plots as completed tasks over time,
/// and the figures of a sweep's tail.
public struct CompletionTimes: Sendable, Equatable {
    /// Seconds from the first task's start to each task's finish, in order (at most `limit`
    /// evenly spaced of them, the last included).
    public var finished: [Double]
    /// Their positions among all finished tasks (1-based counts: `finished[i]` is when
    /// `counts[i]` tasks were done).
    public var counts: [Int]
    public var tasks: Int
    /// Worker ids that recorded tasks.
    public var workers: Int
    /// The sum and median of the tasks' durations on their workers (from the start of a task to
    /// its result: the problem's set-up, the training and the final measurements).
    public var taskSeconds: Double
    public var medianTaskSeconds: Double
    /// The sum of the tasks' training seconds (the training loops alone).
    public var trainSeconds: Double
    /// Seconds from the first start to the last finish.
    public var span: Double
    /// Seconds from the finish of the task that made 95% of them done to the last finish.
    public var tail: Double

    /// `taskSeconds / (span × workers)`: the share of the workers' time spent in tasks, what the
    /// dispatch order and the coordinator decide.
    public var parallelEfficiency: Double { share(taskSeconds) }
    /// `trainSeconds / (span × workers)`: the share spent in training loops; below the parallel
    /// efficiency by each task's set-up and measurements, which weigh most in small runs.
    public var trainingShare: Double { share(trainSeconds) }

    func share(_ seconds: Double) -> Double { span > 0 && workers > 0 ? seconds / (span * Double(workers)) : 0 }
}

extension ResultsStore {
    /// The finish times of every recorded task relative to the first start (nil: no task yet).
    public func completionTimes(limit: Int = 400) throws -> CompletionTimes? {
        try wrap {
            try pool.read { db in
                guard let origin = try Double.fetchOne(db, sql: "SELECT julianday(MIN(started_at)) FROM results") else {
                    return nil
                }
                let finished = try Double.fetchAll(db, sql: """
                    SELECT (julianday(finished_at) - ?) * 86400 FROM results ORDER BY finished_at
                    """, arguments: [origin])
                let seconds = try Double.fetchAll(db, sql: """
                    SELECT MAX(0, (julianday(finished_at) - julianday(started_at)) * 86400) AS d FROM results ORDER BY d
                    """)
                let trainSeconds = try Double.fetchOne(db, sql: "SELECT TOTAL(train_seconds) FROM results") ?? 0
                let workers = try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT worker_id) FROM results") ?? 0
                guard let last = finished.last else { return nil }
                let tasks = finished.count
                let stride = max(1, (tasks + limit - 1) / max(1, limit))
                var indices = Array(Swift.stride(from: stride - 1, to: tasks, by: stride))
                if indices.last != tasks - 1 { indices.append(tasks - 1) }
                let ninetyFifth = finished[max(0, Int((0.95 * Double(tasks)).rounded(.up)) - 1)]
                let median = seconds.isEmpty ? 0
                    : seconds.count % 2 == 1 ? seconds[seconds.count / 2]
                    : (seconds[seconds.count / 2 - 1] + seconds[seconds.count / 2]) / 2
                return CompletionTimes(finished: indices.map { finished[$0] }, counts: indices.map { $0 + 1 }, tasks: tasks,
                                       workers: workers, taskSeconds: seconds.reduce(0, +), medianTaskSeconds: median,
                                       trainSeconds: trainSeconds, span: last, tail: last - ninetyFifth)
            }
        }
    }
}
