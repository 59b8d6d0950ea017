public import TrainingCore

/// The protocol version this build speaks. Bump it on any change to a message's fields.
public let protocolVersion: UInt8 = 8

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
    /// The token of the session this worker resumes on a new connection (its last `welcome`'s);
    /// nil on its first hello. A wrong or missing token never inherits a session's leases.
    public var session: String?

    public init(protocolVersion: Int, workerID: String, host: String, pid: Int, cores: Int,
                blasThreads: Int, capabilities: [String], prefetch: Int, session: String? = nil) {
        self.session = session
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
    /// The sweep's name (for logs).
    public var sweep: String
    /// The sweep's identity: every task carries it, and every result must.
    public var fingerprint: String
    public var heartbeatInterval: Double
    public var workerTimeout: Double
    /// The credit granted: the hello's `prefetch`, capped by the coordinator.
    public var prefetch: Int
    /// The session's unguessable token (32 hex digits): every later message of the worker
    /// carries it, and only it settles the session's leases.
    public var session: String

    public init(sweep: String, fingerprint: String, heartbeatInterval: Double, workerTimeout: Double, prefetch: Int,
                session: String) {
        self.session = session
        self.sweep = sweep
        self.fingerprint = fingerprint
        self.heartbeatInterval = heartbeatInterval
        self.workerTimeout = workerTimeout
        self.prefetch = prefetch
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
    /// The sweep's fingerprint.
    public var sweep: String
    public var taskID: Int
    /// The coordinator's count of dispatches of this task (1 on the first); echoed in the answer.
    public var attempt: Int
    public var spec: WireSpec

    public init(sweep: String, taskID: Int, attempt: Int, spec: WireSpec) {
        self.sweep = sweep
        self.taskID = taskID
        self.attempt = attempt
        self.spec = spec
    }
}

/// Worker → coordinator: a finished run.
public struct TaskResult: Codable, Sendable, Hashable {
    /// The worker's session token (its `welcome`'s); the first field, so a kept frame is
    /// re-stamped for a new session without re-encoding (`Message.stamping`).
    public var session: String
    /// The fingerprint of the task's sweep.
    public var sweep: String
    public var taskID: Int
    public var attempt: Int
    public var report: RunReport
    /// Unix seconds.
    public var startedAt: Double
    public var finishedAt: Double

    public init(sweep: String, taskID: Int, attempt: Int, report: RunReport, startedAt: Double, finishedAt: Double,
                session: String = "") {
        self.session = session
        self.sweep = sweep
        self.taskID = taskID
        self.attempt = attempt
        self.report = report
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// Worker → coordinator: the run threw; counts one attempt against `--max-attempts`.
public struct TaskFailure: Codable, Sendable, Hashable {
    /// The worker's session token.
    public var session: String
    /// The fingerprint of the task's sweep.
    public var sweep: String
    public var taskID: Int
    public var attempt: Int
    public var reason: String

    public init(sweep: String, taskID: Int, attempt: Int, reason: String, session: String = "") {
        self.session = session
        self.sweep = sweep
        self.taskID = taskID
        self.attempt = attempt
        self.reason = reason
    }
}

/// Both ways, every heartbeat interval.
public struct Heartbeat: Codable, Sendable, Hashable {
    /// The worker's session token (the coordinator sends the worker's own).
    public var session: String
    public var sentAt: Double

    public init(sentAt: Double, session: String = "") {
        self.session = session
        self.sentAt = sentAt
    }
}

/// Coordinator → worker: stop (the sweep is complete, or the coordinator is stopping).
public struct Shutdown: Codable, Sendable, Hashable {
    public var reason: String

    public init(reason: String) { self.reason = reason }
}

/// Worker → coordinator: leaving; these tasks will not be delivered.
public struct Bye: Codable, Sendable, Hashable {
    /// The worker's session token.
    public var session: String
    public var reason: String
    public var taskIDs: [Int]

    public init(reason: String, taskIDs: [Int], session: String = "") {
        self.session = session
        self.reason = reason
        self.taskIDs = taskIDs
    }
}

/// Coordinator → worker: these results are settled (recorded, or refused for good); the
/// worker stops keeping them for a resend.
public struct Ack: Codable, Sendable, Hashable {
    public var taskIDs: [Int]

    public init(taskIDs: [Int]) { self.taskIDs = taskIDs }
}

/// Coordinator → peer: a message came from a connection it does not know (a restarted
/// coordinator, a dropped worker); say `hello` now, then send the unsettled results again.
public struct Register: Codable, Sendable, Hashable {
    public var reason: String

    public init(reason: String) { self.reason = reason }
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
    case ack(Ack)
    case register(Register)
}

extension Message {
    /// The session token a worker's message carries: the hello's resumed one, or the token of
    /// a result, failure, heartbeat or bye. nil for the others.
    public var session: String? {
        switch self {
        case .hello(let m): m.session
        case .result(let m): m.session
        case .taskFailed(let m): m.session
        case .heartbeat(let m): m.session
        case .bye(let m): m.session
        case .welcome, .reject, .task, .shutdown, .ack, .register: nil
        }
    }

    /// This result, failure, heartbeat or bye carrying `session` (other kinds unchanged).
    public func carrying(session: String) -> Message {
        switch self {
        case .result(var m): m.session = session; return .result(m)
        case .taskFailed(var m): m.session = session; return .taskFailed(m)
        case .heartbeat(var m): m.session = session; return .heartbeat(m)
        case .bye(var m): m.session = session; return .bye(m)
        default: return self
        }
    }
}
