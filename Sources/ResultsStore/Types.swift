public import Foundation
public import SweepConfig
public import TrainingCore

/// How a task ended.
public enum TaskStatus: String, Codable, Sendable, Hashable {
    /// `runExperiment` returned a report (the run may still have diverged or failed the success test).
    case ok
    /// The task could not produce a report (e.g. `runExperiment` threw); final, not retried.
    case failed
}

/// What a worker produced for a task.
public enum RecordedResult: Sendable, Hashable {
    case report(RunReport)
    case failed(reason: String)
}

/// One finished task as the coordinator records it.
public struct TaskOutcome: Sendable, Hashable {
    public var task: SweepTask
    /// 1 for the first dispatch; higher after a worker was lost mid-task.
    public var attempt: Int
    public var workerID: String
    public var host: String
    public var startedAt: Date
    public var finishedAt: Date
    public var result: RecordedResult

    public init(task: SweepTask, attempt: Int, workerID: String, host: String,
                startedAt: Date, finishedAt: Date, result: RecordedResult) {
        self.task = task
        self.attempt = attempt
        self.workerID = workerID
        self.host = host
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.result = result
    }
}

/// One row of the `results` table, decoded.
public struct ResultRow: Sendable, Hashable {
    public var taskID: Int
    public var cellIndex: Int
    /// The cell's value on every axis of the plan, in the plan's axis order.
    public var axes: [AxisSetting]
    public var trial: Int
    public var problemSeed: UInt64
    public var trainingSeed: UInt64
    public var status: TaskStatus
    public var attempt: Int
    public var workerID: String
    public var host: String
    public var startedAt: Date
    public var finishedAt: Date
    /// The report's `trainSeconds`; nil for failed tasks.
    public var trainSeconds: Double?
    /// The stored metrics (no trajectory) for `ok` rows; nil for failed ones. A metric the
    /// database holds as NULL (a NaN, which SQLite cannot store) comes back as `.nan`;
    /// `testError` and `oracleTestError` are aligned with the sweep's `testNoise`.
    public var report: RunReport?
    public var failureReason: String?

    public init(taskID: Int, cellIndex: Int, axes: [AxisSetting], trial: Int,
                problemSeed: UInt64, trainingSeed: UInt64, status: TaskStatus, attempt: Int, workerID: String,
                host: String, startedAt: Date, finishedAt: Date, trainSeconds: Double?, report: RunReport?,
                failureReason: String?) {
        self.taskID = taskID
        self.cellIndex = cellIndex
        self.axes = axes
        self.trial = trial
        self.problemSeed = problemSeed
        self.trainingSeed = trainingSeed
        self.status = status
        self.attempt = attempt
        self.workerID = workerID
        self.host = host
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.trainSeconds = trainSeconds
        self.report = report
        self.failureReason = failureReason
    }

    /// A row as `record` would store `outcome` (for tests and in-memory tables).
    public init(_ outcome: TaskOutcome) {
        let task = outcome.task
        var report: RunReport?
        var reason: String?
        switch outcome.result {
        case let .report(r):
            report = r
            report?.trajectory = []
        case let .failed(why):
            reason = why
        }
        self.init(taskID: task.id, cellIndex: task.cell.index, axes: task.cell.settings, trial: task.trial,
                  problemSeed: task.spec.seeds.problem, trainingSeed: task.spec.seeds.training,
                  status: report == nil ? .failed : .ok, attempt: outcome.attempt, workerID: outcome.workerID,
                  host: outcome.host, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt,
                  trainSeconds: report?.trainSeconds, report: report, failureReason: reason)
    }

    /// The value of axis `key`, nil when the plan has no such axis.
    public subscript(axis key: String) -> AxisValue? {
        axes.last { $0.key == key }?.value
    }
}

/// Work done by one host, for per-host summaries.
public struct HostSummary: Sendable, Hashable {
    public var host: String
    /// Rows recorded (ok and failed).
    public var tasks: Int
    public var failed: Int
    /// Sum of `train_seconds` (time inside the training loops).
    public var seconds: Double
    /// Sum of `finished_at - started_at` (includes problem generation and metrics).
    public var wallSeconds: Double

    public init(host: String, tasks: Int, failed: Int, seconds: Double, wallSeconds: Double) {
        self.host = host
        self.tasks = tasks
        self.failed = failed
        self.seconds = seconds
        self.wallSeconds = wallSeconds
    }
}

/// The `sweep_meta` row.
public struct SweepMeta: Sendable, Hashable {
    public var name: String
    public var fingerprint: String
    public var configYAML: String
    public var taskCount: Int
    public var createdAt: Date
    public var toolVersion: String
}

public enum ResultsStoreError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The directory holds the results of another sweep.
    case differentSweep(directory: String, storedName: String, storedFingerprint: String, expected: String)
    /// `openExisting` found no results.sqlite.
    case noDatabase(directory: String)
    /// The path to create the directory at is taken by a file, or creating it failed.
    case cannotCreateDirectory(directory: String, reason: String)
    /// The database has no (or a damaged) `sweep_meta` row.
    case missingMeta(path: String)
    /// The stored config text no longer parses.
    case storedConfigInvalid(path: String, reason: String)
    /// A value in the database cannot be decoded.
    case corruptRow(path: String, taskID: Int, reason: String)
    case taskOutOfRange(taskID: Int, taskCount: Int)
    /// The outcome does not fit the plan (e.g. test errors not aligned with `test_noise`).
    case malformedOutcome(taskID: Int, reason: String)
    /// SQLite failed.
    case database(path: String, message: String)
    /// A commit failed; nothing of it was stored. `retryable`: the cause may pass (disk full,
    /// I/O error, lock held elsewhere), so the caller keeps the results and tries again.
    case writeFailed(path: String, message: String, retryable: Bool)
    /// Another process holds the folder's lock (`FolderLock`).
    case folderInUse(directory: String, holder: FolderLock.Holder)
    /// The lock file cannot be opened or locked.
    case cannotLock(path: String, reason: String)
    /// `results.sqlite` was deleted while the store had it open.
    case fileDeleted(path: String)
    /// `results.sqlite` is now another file than the one the store opened.
    case fileReplaced(path: String)

    /// Whether trying the same write again later may succeed.
    public var isRetryable: Bool {
        if case let .writeFailed(_, _, retryable) = self { return retryable }
        return false
    }

    public var description: String {
        switch self {
        case let .differentSweep(directory, storedName, storedFingerprint, expected):
            "\(directory) holds sweep '\(storedName)' (fingerprint \(storedFingerprint)), not this one (fingerprint \(expected)); use another --out"
        case let .noDatabase(directory):
            "\(directory): no results database (results.sqlite); run a sweep with --out \(directory) first"
        case let .cannotCreateDirectory(directory, reason):
            "\(directory): cannot create the results directory: \(reason)"
        case let .missingMeta(path):
            "\(path): not a dlsweep results database (no sweep_meta row)"
        case let .storedConfigInvalid(path, reason):
            "\(path): the stored sweep config no longer parses: \(reason)"
        case let .corruptRow(path, taskID, reason):
            "\(path): task \(taskID): \(reason)"
        case let .taskOutOfRange(taskID, taskCount):
            "task id \(taskID) outside 0..<\(taskCount)"
        case let .malformedOutcome(taskID, reason):
            "task \(taskID): \(reason)"
        case let .database(path, message):
            "\(path): \(message)"
        case let .writeFailed(path, message, _):
            "\(path): cannot commit results: \(message)"
        case let .folderInUse(directory, holder):
            "\(directory) is in use by another coordinator (\(holder)); stop it first, or use another --out"
        case let .cannotLock(path, reason):
            "\(path): cannot lock the results folder: \(reason)"
        case let .fileDeleted(path):
            "\(path) was deleted while the sweep was writing to it; the results committed so far are lost with it. Stop here; restarting with the same --out begins again"
        case let .fileReplaced(path):
            "\(path) was replaced by another file while the sweep was writing to it; stopping so that no result goes to the wrong file. Restart with the same --out to resume from the file now there"
        }
    }
}
