/// How a worker reaches its coordinator and paces itself.
public struct WorkerOptions: Sendable {
    /// Coordinator endpoint, e.g. `tcp://10.0.0.1:5555`.
    public var connect: String
    /// OpenBLAS threads for each run; 1 with one worker per core is the fast layout for sweeps.
    public var blasThreads: Int = 1
    /// Seconds between heartbeats to the coordinator.
    public var heartbeatInterval: Double = 1
    /// Give up after this long without hearing from any coordinator.
    public var reconnectTimeout: Double = 600
    /// Tasks held at once (credit): one running, the rest ready, so the worker never waits.
    public var prefetch: Int = 2
    /// CURVE client settings; nil means plain text.
    public var curve: CurveClientSettings?
    /// A readable prefix of the worker id (defaults to the host name).
    public var name: String?
    /// A node worker: this many compute processes run the tasks (nil: one compute thread).
    public var processes: Int?
    /// How to start a compute process (`dlsweep compute-process ...`): the executable's path first.
    public var computeCommand: [String] = []

    public init(connect: String) {
        self.connect = connect
    }
}

/// CURVE client keys: the worker's own pair and the coordinator's public key.
public struct CurveClientSettings: Sendable {
    public var publicKey: String
    public var secretKey: String
    public var serverPublicKey: String

    public init(publicKey: String, secretKey: String, serverPublicKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.serverPublicKey = serverPublicKey
    }
}

/// Why a worker stopped.
public enum WorkerExit: Sendable, Equatable {
    /// The coordinator said the sweep is over (or it is stopping).
    case finished(reason: String)
    /// No coordinator answered for `reconnectTimeout` seconds.
    case coordinatorLost(seconds: Double)
    /// The coordinator refused this worker (e.g. another protocol version).
    case rejected(reason: String)
    /// A stop was requested (SIGTERM); held tasks were handed back.
    case stopped
    /// The compute thread stopped on an error, or a node's compute processes kept dying; held
    /// tasks were handed back.
    case computeFailed(reason: String)
    /// A task from the coordinator could not be decoded; held tasks were handed back.
    case protocolError(reason: String)

    /// The process exit status that goes with it.
    public var exitCode: Int32 {
        switch self {
        case .finished, .stopped: 0
        case .coordinatorLost: 3
        case .rejected: 4
        case .computeFailed: 5
        case .protocolError: 6
        }
    }
}
