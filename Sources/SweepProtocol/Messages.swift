public import TrainingCore

/// The protocol version this build speaks. Bump it on any change to a message's fields.
public let protocolVersion: UInt8 = 1

/// The largest frame either side accepts (the coordinator also sets it as ZMQ_MAXMSGSIZE,
/// so a larger frame closes that peer's connection before it is buffered).
public let maxFrameBytes = 4 << 20

/// Worker → coordinator, first message of every (re)connection.
public struct Hello: Codable, Sendable, Hashable {
    public var protocolVersion: Int
    /// Stable for the life of the worker process, across reconnections.
    public var workerID: String
    public var host: String
    public var pid: Int
    public var cores: Int
    public var blasThreads: Int
    public var capabilities: [String]
    /// Credit: how many tasks the worker wants in flight.
    public var prefetch: Int

    public init(protocolVersion: Int, workerID: String, host: String, pid: Int, cores: Int,
                blasThreads: Int, capabilities: [String], prefetch: Int) {
        self.protocolVersion = protocolVersion
        self.workerID = workerID
        self.host = host
        self.pid = pid
        self.cores = cores
        self.blasThreads = blasThreads
        self.capabilities = capabilities
        self.prefetch = prefetch
    }
}

/// Coordinator → worker: registered; the liveness settings to follow.
public struct Welcome: Codable, Sendable, Hashable {
    public var sweep: String
    public var heartbeatInterval: Double
    public var workerTimeout: Double

    public init(sweep: String, heartbeatInterval: Double, workerTimeout: Double) {
        self.sweep = sweep
        self.heartbeatInterval = heartbeatInterval
        self.workerTimeout = workerTimeout
    }
}

/// Coordinator → peer: refused. Its frame layout never changes across versions.
public struct Reject: Codable, Sendable, Hashable {
    public var reason: String
    public var coordinatorVersion: Int
    public var peerVersion: Int

    public init(reason: String, coordinatorVersion: Int, peerVersion: Int) {
        self.reason = reason
        self.coordinatorVersion = coordinatorVersion
        self.peerVersion = peerVersion
    }
}

/// Coordinator → worker: run this.
public struct TaskAssignment: Codable, Sendable, Hashable {
    public var taskID: Int
    /// 1 on first dispatch; higher after the task outlived a worker.
    public var attempt: Int
    public var spec: RunSpec

    public init(taskID: Int, attempt: Int, spec: RunSpec) {
        self.taskID = taskID
        self.attempt = attempt
        self.spec = spec
    }
}

/// Worker → coordinator: a finished run.
public struct TaskResult: Codable, Sendable, Hashable {
    public var taskID: Int
    public var attempt: Int
    public var report: RunReport
    /// Unix seconds.
    public var startedAt: Double
    public var finishedAt: Double

    public init(taskID: Int, attempt: Int, report: RunReport, startedAt: Double, finishedAt: Double) {
        self.taskID = taskID
        self.attempt = attempt
        self.report = report
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// Worker → coordinator: the run threw (a deterministic failure; not retried).
public struct TaskFailure: Codable, Sendable, Hashable {
    public var taskID: Int
    public var attempt: Int
    public var reason: String

    public init(taskID: Int, attempt: Int, reason: String) {
        self.taskID = taskID
        self.attempt = attempt
        self.reason = reason
    }
}

/// Both ways, every heartbeat interval.
public struct Heartbeat: Codable, Sendable, Hashable {
    public var sentAt: Double

    public init(sentAt: Double) { self.sentAt = sentAt }
}

/// Coordinator → worker: stop (the sweep is complete, or the coordinator is stopping).
public struct Shutdown: Codable, Sendable, Hashable {
    public var reason: String

    public init(reason: String) { self.reason = reason }
}

/// Worker → coordinator: leaving; these tasks will not be delivered.
public struct Bye: Codable, Sendable, Hashable {
    public var reason: String
    public var taskIDs: [Int]

    public init(reason: String, taskIDs: [Int]) {
        self.reason = reason
        self.taskIDs = taskIDs
    }
}

/// Every message of the protocol.
public enum Message: Sendable, Hashable {
    case hello(Hello)
    case welcome(Welcome)
    case reject(Reject)
    case task(TaskAssignment)
    case result(TaskResult)
    case taskFailed(TaskFailure)
    case heartbeat(Heartbeat)
    case shutdown(Shutdown)
    case bye(Bye)
}
