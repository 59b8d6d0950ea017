/// How a coordinator listens, paces liveness and treats failures.
public struct CoordinatorOptions: Sendable {
    /// ZeroMQ endpoint to bind, e.g. `tcp://0.0.0.0:5555` or `tcp://127.0.0.1:*` (any free port).
    public var bind: String
    /// Folder of the results database and the table files.
    public var outDirectory: String
    /// Seconds between heartbeats to each worker.
    public var heartbeatInterval: Double = 1
    /// A worker silent for longer is dropped and its tasks go back to the queue.
    public var workerTimeout: Double = 10
    /// A task that failed this many times by its own doing (it threw, its result was invalid)
    /// is recorded as failed. Lost workers and overrun leases never count.
    public var maxAttempts: Int = 3
    /// On a resume, run again the tasks recorded as failed (their rows move to the store's
    /// `retried_failures`, where the report shows them).
    public var retryFailed = false
    /// A worker whose results are invalid this many times in a row is quarantined: refused for
    /// the rest of the run, its tasks given to others, its failures no longer counted.
    public var quarantineAfter: Int = 3
    /// The share of finished tasks re-run on another worker to check them (`--verify`); nil:
    /// the config's `verify: {fraction: F}`.
    public var verifyFraction: Double?
    /// Entries of one peer's frames read per turn of the loop, peers in turn: a peer's large
    /// batch cannot hold up the others.
    public var intakeBudget: Int = 256
    /// Bytes of one peer's frames held unread; past this its frames are dropped (counted).
    public var intakeBacklogBytes: Int = 16 << 20
    /// A complaint about a peer (a refused answer, a malformed frame) is logged at most once
    /// per this many seconds per peer and reason; every one is counted.
    public var errorLogInterval: Double = 10
    /// Seconds a worker may run one task before it is dropped and the task re-queued; nil: ten
    /// times the cell's measured mean (at least 60 s), doubled for each overrun of the task.
    public var taskTimeout: Double?
    /// The most tasks one worker may hold, whatever its hello asks for (a node worker asks for
    /// two per compute process).
    public var maxPrefetch: Int = 512
    /// The most workers registered at once (one connection each); nil: no limit. The
    /// coordinator sets it from its open-file limit (`ConnectionLimit`), or lower when asked.
    public var maxWorkers: Int?
    /// Where `maxWorkers` comes from, for the refusal's words.
    public var maxWorkersReason = "--max-workers"
    /// Stop (incomplete, with the reason) after this many seconds without any worker; nil: wait.
    public var stopWithoutWorkers: Double?
    /// CURVE server key and the public keys allowed in; nil means plain text.
    public var curve: CurveServerSettings?
    /// How progress is shown on stderr.
    public var progress: ProgressStyle = .automatic
    /// Seconds without any worker before saying so (and again every such period).
    public var idleNoticeInterval: Double = 10
    /// Results are committed in groups, one SQLite transaction each: when this many are staged,
    /// or once `commitDelay` seconds have passed since the last commit, whichever comes first;
    /// results that arrive one at a time (the last commit held one) go in at once.
    /// A transaction costs about as much as twenty rows, so at thousands of results a second a
    /// commit should carry hundreds. Staged results free their worker's credit at once (they
    /// wait only for the store), so workers keep computing; they count, and are acknowledged,
    /// once committed.
    public var commitGroup: Int = 256
    /// The longest a result waits for its group, and the shortest time between two commits of
    /// groups that are not full (0: commit at every turn of the loop).
    public var commitDelay: Double = 0.02
    /// Results held in memory while the store refuses commits (a full disk); past this, no
    /// new tasks go out until it recovers.
    public var resultBufferLimit: Int = 100_000
    /// Seconds the store may keep failing before the coordinator gives up and exits non-zero
    /// (a resume then redoes only what was not committed).
    public var storeRetryLimit: Double = 600

    public init(bind: String, outDirectory: String) {
        self.bind = bind
        self.outDirectory = outDirectory
    }
}

/// CURVE server settings: only workers whose public key is listed get in.
public struct CurveServerSettings: Sendable {
    /// Z85 secret key of the coordinator.
    public var secretKey: String
    /// Z85 public keys of the authorized workers.
    public var authorizedKeys: Set<String>

    public init(secretKey: String, authorizedKeys: Set<String>) {
        self.secretKey = secretKey
        self.authorizedKeys = authorizedKeys
    }
}

public enum ProgressStyle: String, Sendable, CaseIterable {
    /// A redrawn bar on a terminal, plain lines otherwise.
    case automatic = "auto"
    case bar
    case lines
    case none
}
