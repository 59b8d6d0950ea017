public import Foundation
public import SweepConfig
import GRDB
import Synchronization
import TrainingCore

/// The results of one sweep in `DIR/results.sqlite` (SQLite in WAL mode, via GRDB).
///
/// Every task has at most one row: `record` inserts once and ignores repeats, so a result
/// that arrives twice (a worker presumed lost that was only slow) cannot be counted twice,
/// and a restarted coordinator resumes from `completedTaskIDs()`.
///
/// Storage conventions (for anyone reading the file with `sqlite3`):
/// - `problem_seed`, `training_seed`: the UInt64 as decimal TEXT (exact; SQLite has no UInt64).
/// - `started_at`, `finished_at`, `sweep_meta.created_at`: UTC TEXT `YYYY-MM-DD HH:MM:SS.SSS`.
/// - metric columns are REAL; a NaN metric is stored as NULL (SQLite turns NaN into NULL anyway),
///   infinities as REAL infinities. Failed rows have NULL metrics and a `failure_reason`.
/// - `test_error`, `oracle_test_error`: JSON objects from the decimal label of each test noise
///   level (`decimalLabel`, e.g. "0", "0.1") to the error; non-finite values as "inf"/"-inf"/"nan".
public final class ResultsStore: Sendable {
    /// The file name inside a results directory.
    public static let fileName = "results.sqlite"
    /// Written to `sweep_meta.tool_version`.
    public static let toolVersion = "dlsweep 0.1.0"

    public let directory: String
    /// `directory/results.sqlite`.
    public let path: String
    /// The sweep's plan with the adaptive rounds recorded so far (see `record(round:)`).
    public var plan: SweepPlan { planBox.withLock { $0 } }
    private let planBox: Mutex<SweepPlan>
    public let meta: SweepMeta
    let pool: DatabasePool
    /// Held by a writer for its life: one coordinator per folder. nil for readers.
    public let lock: FolderLock?
    /// Device and inode of the file when opened: a file deleted or replaced under a running
    /// sweep would otherwise swallow every later result without a word.
    private let identity: FileIdentity?
    /// Writes the test-noise keyed JSON of a row (the labels sorted once).
    private let byNoise: NoiseKeyedWriter
    /// The per-host summary of every row, while this writer inserted them all; nil when the
    /// store held rows when opened or some were moved out since (`countByHost` reads them).
    private let hostTallies: Mutex<HostTallies?>

    private init(directory: String, path: String, plan: SweepPlan, meta: SweepMeta, pool: DatabasePool,
                 lock: FolderLock?, tallying: Bool = false) {
        self.directory = directory
        self.path = path
        self.planBox = Mutex(plan)
        self.meta = meta
        self.pool = pool
        self.lock = lock
        identity = FileIdentity(path: path)
        byNoise = NoiseKeyedWriter(testNoise: plan.configuration.testNoise)
        hostTallies = Mutex(tallying ? HostTallies() : nil)
    }

    /// The rows changed other than by `record`: the per-host summary is read from them again.
    func stopTallyingHosts() {
        hostTallies.withLock { $0 = nil }
    }

    // MARK: Opening

    /// Creates `directory` and its database for `plan`, or reopens them and checks that they
    /// hold the same sweep (same fingerprint). Takes the folder's lock first (see `FolderLock`):
    /// a folder another coordinator owns is refused, naming it.
    public static func open(directory: String, plan: SweepPlan, configuration: SweepConfiguration,
                            toolVersion: String = ResultsStore.toolVersion) throws -> ResultsStore {
        try FolderLock.checkFree(directory: directory)
        try createDirectory(directory)
        let lock = try FolderLock.acquire(directory: directory)
        let path = (directory as NSString).appendingPathComponent(fileName)
        return try wrap(path) {
            let pool = try DatabasePool(path: path, configuration: databaseConfiguration(readonly: false))
            try migrator.migrate(pool)
            // A field added to the report since the folder was written gets its column here.
            try pool.write { try ReportColumns.addMissing($0) }
            let meta = try pool.write { db -> SweepMeta in
                if let stored = try fetchMeta(db) { return stored }
                let meta = SweepMeta(name: configuration.name, fingerprint: plan.fingerprint,
                                     configYAML: configuration.yamlText, taskCount: plan.taskCount,
                                     createdAt: Date(), toolVersion: toolVersion)
                try db.execute(
                    sql: """
                        INSERT INTO sweep_meta (id, name, fingerprint, config_yaml, task_count, created_at, tool_version)
                        VALUES (1, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [meta.name, meta.fingerprint, meta.configYAML, meta.taskCount, meta.createdAt,
                                meta.toolVersion])
                return meta
            }
            guard meta.fingerprint == plan.fingerprint, meta.taskCount == plan.gridTaskCount else {
                throw ResultsStoreError.differentSweep(directory: directory, storedName: meta.name,
                                                       storedFingerprint: meta.fingerprint, expected: plan.fingerprint)
            }
            let replayed = try replayRounds(pool, path: path, plan: plan)
            let empty = try pool.read { db in try Bool.fetchOne(db, sql: "SELECT NOT EXISTS (SELECT 1 FROM results)") ?? false }
            return ResultsStore(directory: directory, path: path, plan: replayed, meta: meta, pool: pool, lock: lock,
                                tallying: empty)
        }
    }

    /// Opens the results of a finished or running sweep read-only, with the configuration
    /// stored in it (for `dlsweep table DIR`).
    public static func openExisting(directory: String) throws -> (ResultsStore, SweepConfiguration) {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ResultsStoreError.noDatabase(directory: directory)
        }
        return try wrap(path) {
            let pool = try DatabasePool(path: path, configuration: databaseConfiguration(readonly: true))
            let meta = try pool.read { db -> SweepMeta? in
                guard try db.tableExists("sweep_meta") else { return nil }
                return try fetchMeta(db)
            }
            guard let meta else { throw ResultsStoreError.missingMeta(path: path) }
            let configuration: SweepConfiguration
            do {
                // Read as the version that wrote it read it (keys its model ignores stay ignored).
                configuration = try SweepConfiguration.parse(yaml: meta.configYAML, fileName: "\(path) (sweep_meta.config_yaml)",
                                                             storedSweep: true)
            } catch {
                throw ResultsStoreError.storedConfigInvalid(path: path, reason: "\(error)")
            }
            let plan = try replayRounds(pool, path: path, plan: SweepPlan(configuration))
            return (ResultsStore(directory: directory, path: path, plan: plan, meta: meta, pool: pool, lock: nil),
                    configuration)
        }
    }

    /// Creates `directory` and its missing parents, saying in plain words which part is in
    /// the way (Foundation would say "NSCocoaErrorDomain error 512").
    public static func createDirectory(_ directory: String) throws {
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for part in directory.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            var info = stat()
            if stat(prefix, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    let reason = prefix == directory || prefix + "/" == directory
                        ? "a file of that name exists"
                        : "\(prefix) is a file, not a folder"
                    throw ResultsStoreError.cannotCreateDirectory(directory: directory, reason: reason)
                }
                continue
            }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw ResultsStoreError.cannotCreateDirectory(
                    directory: directory, reason: "cannot create \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func databaseConfiguration(readonly: Bool) -> Configuration {
        var configuration = Configuration()
        configuration.readonly = readonly
        // A reader (`dlsweep table`) and the coordinator may meet; wait rather than fail.
        configuration.busyMode = .timeout(10)
        configuration.label = "ResultsStore"
        return configuration
    }

    /// Turns GRDB errors into `ResultsStoreError.database` naming the file.
    private static func wrap<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ResultsStoreError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch let error as DatabaseError {
            throw ResultsStoreError.database(path: path, message: error.message ?? error.description)
        } catch {
            throw ResultsStoreError.database(path: path, message: "\(error)")
        }
    }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        try Self.wrap(path, body)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE sweep_meta (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    name TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    config_yaml TEXT NOT NULL,
                    task_count INTEGER NOT NULL,
                    created_at TEXT NOT NULL,
                    tool_version TEXT NOT NULL
                );
                CREATE TABLE results (
                    task_id INTEGER PRIMARY KEY,
                    cell_index INTEGER NOT NULL,
                    depth INTEGER NOT NULL,
                    width INTEGER NOT NULL,
                    lambda REAL NOT NULL,
                    noise REAL NOT NULL,
                    trial INTEGER NOT NULL,
                    problem_seed TEXT NOT NULL,
                    training_seed TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
                    attempt INTEGER NOT NULL,
                    worker_id TEXT NOT NULL,
                    host TEXT NOT NULL,
                    started_at TEXT NOT NULL,
                    finished_at TEXT NOT NULL,
                    train_seconds REAL,
                    train_residual REAL,
                    reconstruction_error REAL,
                    off_subspace_error REAL,
                    oracle_distance REAL,
                    balancedness REAL,
                    effective_rank INTEGER,
                    iterations INTEGER,
                    converged_at INTEGER,
                    diverged INTEGER,
                    success INTEGER,
                    test_error TEXT,
                    oracle_test_error TEXT,
                    failure_reason TEXT
                );
                CREATE INDEX results_cell ON results (cell_index);
                CREATE INDEX results_host ON results (host);
                """)
        }
        // The outcomes of MODEL.md §4: convergence to W*_λ and recovery, judged apart.
        migrator.registerMigration("v2-outcomes") { db in
            for (column, type) in ReportColumns.addedInV2 {
                try db.execute(sql: "ALTER TABLE results ADD COLUMN \(column) \(type)")
            }
        }
        // Grids over any run-spec key: the cell's values on the axes without a column
        // (`AxisColumns`) as a JSON object (`{"init_scale":0.5}`), NULL when it has none.
        migrator.registerMigration("v3-axes") { db in
            try db.execute(sql: "ALTER TABLE results ADD COLUMN axes TEXT")
        }
        // The dynamics: flow time, loss-gap rate, balancedness drift, best rank-k gap.
        migrator.registerMigration("v4-dynamics") { db in
            for (column, type) in ReportColumns.addedInV4 {
                try db.execute(sql: "ALTER TABLE results ADD COLUMN \(column) \(type)")
            }
        }
        // The log-spaced trajectories of the sampled runs (`trajectories:`), one row per task.
        migrator.registerMigration("trajectories") { db in try StoredTrajectory.createTable(db) }
        // Adaptive sweeps: each round after the first (its new cells and extra trials, JSON),
        // written before its tasks are handed out, replayed on open.
        migrator.registerMigration("v5-adaptive-rounds") { db in
            try db.execute(sql: """
                CREATE TABLE adaptive_rounds (
                    round INTEGER PRIMARY KEY,
                    plan TEXT NOT NULL,
                    created_at TEXT NOT NULL
                )
                """)
        }
        // The diagonal model's support recovery (NULL: another model, or not measured).
        migrator.registerMigration("v6-diagonal") { db in
            try db.execute(sql: "ALTER TABLE results ADD COLUMN support_recovered INTEGER")
        }
        // What the coordinator learned about its workers: quarantines, replays (`PeerEvent`).
        migrator.registerMigration("v7-peer-events") { db in try PeerEvent.createTable(db) }
        // No index on `host`: no query looks rows up by host (the per-host summary reads them
        // all, and does so faster from the table than through the index), and keeping it
        // cost every insert a search among equal keys (about a twentieth of a coordinator's
        // time per result on no-op tasks).
        migrator.registerMigration("v8-no-host-index") { db in
            try db.execute(sql: "DROP INDEX IF EXISTS results_host")
        }
        return migrator
    }

    /// `plan` with the rounds recorded in the database (none in a folder from before them).
    private static func replayRounds(_ pool: DatabasePool, path: String, plan: SweepPlan) throws -> SweepPlan {
        let texts = try pool.read { db -> [String] in
            guard try db.tableExists("adaptive_rounds") else { return [] }
            return try String.fetchAll(db, sql: "SELECT plan FROM adaptive_rounds ORDER BY round")
        }
        var plan = plan
        for (i, text) in texts.enumerated() {
            guard let round = try? JSONDecoder().decode(AdaptiveRound.self, from: Data(text.utf8)), round.number == i + 1,
                  round.extensions.allSatisfy({ $0.trials > 0 && $0.cell >= 0 && $0.cell < plan.cells.count + round.newCells.count })
            else {
                throw ResultsStoreError.corruptRow(path: path, taskID: -1, reason: "adaptive round \(i + 1) is not a readable round of this sweep")
            }
            plan = plan.applying(round)
        }
        return plan
    }

    /// The adaptive rounds recorded in the file now (a reader sees rounds added since it opened).
    public func recordedRounds() throws -> [AdaptiveRound] {
        try wrap {
            try pool.read { db in
                guard try db.tableExists("adaptive_rounds") else { return [] }
                return try String.fetchAll(db, sql: "SELECT plan FROM adaptive_rounds ORDER BY round").map {
                    try JSONDecoder().decode(AdaptiveRound.self, from: Data($0.utf8))
                }
            }
        }
    }

    /// Records an adaptive round (before its tasks go out) and adds it to `plan`.
    /// - Returns: the plan with the round.
    @discardableResult
    public func record(round: AdaptiveRound) throws -> SweepPlan {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(round), as: UTF8.self)
        try checkFile()
        try wrap {
            try pool.write { db in
                try db.execute(sql: "INSERT INTO adaptive_rounds (round, plan, created_at) VALUES (?, ?, ?)",
                               arguments: [round.number, text, Date()])
            }
        }
        return planBox.withLock { plan in
            plan = plan.applying(round)
            return plan
        }
    }

    private static func fetchMeta(_ db: Database) throws -> SweepMeta? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sweep_meta WHERE id = 1") else { return nil }
        guard let name: String = row.checked("name"), let fingerprint: String = row.checked("fingerprint"),
              let yaml: String = row.checked("config_yaml"), let taskCount: Int = row.checked("task_count"),
              let createdAt: Date = row.checked("created_at"), let toolVersion: String = row.checked("tool_version")
        else { return nil }
        return SweepMeta(name: name, fingerprint: fingerprint, configYAML: yaml, taskCount: taskCount,
                         createdAt: createdAt, toolVersion: toolVersion)
    }

    // MARK: Writing

    /// Stores a finished task unless it already has a row; returns whether it inserted.
    /// The row is committed when this returns.
    @discardableResult
    public func record(_ outcome: TaskOutcome) throws -> Bool {
        try record([outcome])[0]
    }

    /// Stores several finished tasks in one transaction (cheaper per row when results arrive in
    /// bursts); `result[i]` tells whether `outcomes[i]` inserted. Validates all before writing any.
    @discardableResult
    public func record(_ outcomes: [TaskOutcome]) throws -> [Bool] {
        // Each outcome read in place, where the caller keeps it: a copy of one (its task with
        // the whole spec, its report and strings) cost as much as binding a tenth of its row.
        try outcomes.withUnsafeBufferPointer { try record(in: $0) }
    }

    private func record(in outcomes: UnsafeBufferPointer<TaskOutcome>) throws -> [Bool] {
        let rows = try checkedRows(outcomes)
        try checkFile()
        do {
            let inserted = try pool.write { db in
                let statement = try db.cachedStatement(sql: Self.insertSQL)
                var scratch: [UInt8] = []
                scratch.reserveCapacity(256)
                // Each row's text bound in place, a NULL bound once (`RowBinder`).
                let bindings = RowBindings(of: statement)
                defer { bindings.finish() }
                return try outcomes.indices.map { index in
                    try statement.executeRow(in: db, bindings) {
                        bind(outcomes.baseAddress! + index, rows[index], into: &$0, scratch: &scratch)
                    }
                    let inserted = db.changesCount == 1
                    if inserted, let trajectory = rows[index].trajectory {
                        try db.cachedStatement(sql: StoredTrajectory.insertSQL).execute(arguments: trajectory)
                    }
                    return inserted
                }
            }
            hostTallies.withLock { tallies in
                guard tallies != nil else { return }
                for index in outcomes.indices where inserted[index] {
                    let outcome = outcomes.baseAddress! + index
                    let trainSeconds: Double? = if case .report(let report) = outcome.pointee.result { report.trainSeconds } else { nil }
                    tallies?.add(host: outcome.pointee.host, trainSeconds: trainSeconds,
                                 startedAt: outcome.pointee.startedAt, finishedAt: outcome.pointee.finishedAt)
                }
            }
            return inserted
        } catch let error as DatabaseError {
            // Nothing of the transaction was kept; the caller still holds every outcome.
            throw ResultsStoreError.writeFailed(
                path: path, message: error.message ?? error.description,
                retryable: Self.retryableCodes.contains(error.resultCode.primaryResultCode.rawValue))
        }
    }

    /// Failures that may pass: a full disk, an I/O error, a lock held by another process.
    private static let retryableCodes: Set<CInt> = Set([
        ResultCode.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_CANTOPEN, .SQLITE_NOMEM,
        .SQLITE_READONLY, .SQLITE_PROTOCOL,
    ].map(\.rawValue))

    private static let insertColumns = [
        "task_id", "cell_index",
    ] + AxisColumns.all.map(\.key) + [
        "trial", "problem_seed", "training_seed", "status", "attempt", "worker_id", "host", "started_at", "finished_at",
    ] + ReportColumns.all + ["failure_reason", "axes"]

    private static let insertSQL = """
        INSERT OR IGNORE INTO results (\(insertColumns.joined(separator: ", ")))
        VALUES (\(Array(repeating: "?", count: insertColumns.count).joined(separator: ", ")))
        """

    /// What an outcome checked against the plan adds to it for its row: what the row shares
    /// with the other rows of its cell (computed once per cell and batch), its trajectory's row.
    private struct CheckedRow {
        var cell: CellColumns
        var trajectory: StatementArguments?
    }

    /// The values of a row that depend only on its cell: the axis columns and the `axes` object.
    private final class CellColumns {
        let axisValues: [AxisValue?]
        let axes: String?

        init(_ cell: SweepCell) throws {
            axisValues = AxisColumns.all.map { cell[$0.key] }
            axes = try ResultsStore.encodeAxes(cell.settings.filter { AxisColumns.named($0.key) == nil })
        }
    }

    /// Every outcome checked (in the plan, of the right cell, as many per-noise values as test
    /// noise levels, a finite trajectory) before any is written.
    private func checkedRows(_ outcomes: UnsafeBufferPointer<TaskOutcome>) throws -> [CheckedRow] {
        let plan = self.plan
        let testNoise = plan.configuration.testNoise.count
        var cells: [Int: (SweepCell, CellColumns)] = [:]
        return try outcomes.indices.map { index in
            let outcome = outcomes.baseAddress! + index
            let taskID = outcome.pointee.task.id
            guard plan.contains(taskID: taskID) else {
                throw ResultsStoreError.taskOutOfRange(taskID: taskID, taskCount: plan.taskCount)
            }
            let position = plan.position(ofTask: taskID)
            let columns: CellColumns
            if let (cell, known) = cells[position.cell], cell == outcome.pointee.task.cell {
                columns = known
            } else {
                let cell = plan.cells[position.cell]
                guard outcome.pointee.task.cell == cell else {
                    throw ResultsStoreError.malformedOutcome(
                        taskID: taskID, reason: "its cell (index \(outcome.pointee.task.cell.index)) is not the plan's cell \(cell.index) of that task")
                }
                columns = try CellColumns(cell)
                cells[position.cell] = (cell, columns)
            }
            guard outcome.pointee.task.trial == position.trial else {
                throw ResultsStoreError.malformedOutcome(
                    taskID: taskID, reason: "its trial \(outcome.pointee.task.trial) is not the plan's trial \(position.trial) of that task")
            }
            if case .report(let report) = outcome.pointee.result {
                for (name, get) in ReportColumns.perNoise {
                    guard let values = get(report), values.count != testNoise else { continue }
                    throw ResultsStoreError.malformedOutcome(
                        taskID: taskID, reason: "\(values.count) values of \(name) for \(testNoise) test noise levels")
                }
                return CheckedRow(cell: columns, trajectory: try StoredTrajectory.insertArguments(taskID: taskID, report: report))
            }
            return CheckedRow(cell: columns, trajectory: nil)
        }
    }

    /// Binds the columns of `insertColumns`, in their order.
    private func bind(_ outcome: UnsafePointer<TaskOutcome>, _ row: CheckedRow, into binder: inout RowBinder, scratch: inout [UInt8]) {
        binder.int(outcome.pointee.task.id)
        binder.int(outcome.pointee.task.cell.index)
        for (column, value) in zip(AxisColumns.all, row.cell.axisValues) {
            // 0 when the cell has no such axis (the columns are NOT NULL).
            if column.isInteger { binder.int(value?.intValue ?? 0) } else { binder.real(value?.doubleValue ?? 0) }
        }
        binder.int(outcome.pointee.task.trial)
        binder.decimal(outcome.pointee.task.spec.seeds.problem)
        binder.decimal(outcome.pointee.task.spec.seeds.training)
        switch outcome.pointee.result {
        case .report(let report):
            binder.text(TaskStatus.ok.rawValue)
            bindProvenance(outcome, into: &binder)
            ReportColumns.bind(report, into: &binder, byNoise: byNoise, scratch: &scratch)
            binder.null()
        case .failed(let reason):
            binder.text(TaskStatus.failed.rawValue)
            bindProvenance(outcome, into: &binder)
            ReportColumns.bindNull(into: &binder)
            binder.text(reason)
        }
        binder.text(row.cell.axes)
    }

    private func bindProvenance(_ outcome: UnsafePointer<TaskOutcome>, into binder: inout RowBinder) {
        binder.int(outcome.pointee.attempt)
        binder.text(outcome.pointee.workerID)
        binder.text(outcome.pointee.host)
        binder.date(outcome.pointee.startedAt)
        binder.date(outcome.pointee.finishedAt)
    }

    /// Throws `fileDeleted` or `fileReplaced` when `results.sqlite` is no longer the file this
    /// store opened (SQLite would go on writing to the unlinked inode and lose every row).
    public func checkFile() throws {
        guard let identity else { return }
        guard let now = FileIdentity(path: path) else { throw ResultsStoreError.fileDeleted(path: path) }
        guard now == identity else { throw ResultsStoreError.fileReplaced(path: path) }
    }

    // MARK: Reading

    /// `result[id]` is true when task `id` has a row (ok or failed: both are final).
    public func completedTaskIDs() throws -> [Bool] {
        let done = try completedTasks()
        return (0..<plan.taskCount).map { done[$0] }
    }

    /// The tasks that have a row, read with a cursor (memory: one bit per task).
    /// - Parameter isCancelled: polled every 64k rows; when it returns true, reading stops
    ///   and `CancellationError` is thrown (a SIGTERM during the load of a huge store).
    public func completedTasks(isCancelled: () -> Bool = { false }) throws -> TaskBitmap {
        var done = TaskBitmap(count: plan.taskCount)
        try wrap {
            try pool.read { db in
                let ids = try Int.fetchCursor(db, sql: "SELECT task_id FROM results")
                var seen = 0
                while let id = try ids.next() {
                    done[id] = true
                    seen += 1
                    if seen & 0xFFFF == 0, isCancelled() { throw CancellationError() }
                }
            }
        }
        return done
    }

    /// Calls `body` with every row in cell order (then task order), one at a time: a single
    /// pass over the `results_cell` index that holds one row in memory.
    public func forEachRowByCell(_ body: (ResultRow) throws -> Void) throws {
        let context = RowContext(plan)
        try wrap {
            try pool.read { db in
                let rows = try Row.fetchCursor(db, sql: "SELECT * FROM results ORDER BY cell_index, task_id")
                while let row = try rows.next() { try body(try decode(row, context)) }
            }
        }
    }

    /// The number of rows.
    public func count() throws -> Int {
        try wrap { try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM results") ?? 0 } }
    }

    /// Every row in task order.
    public func rows() throws -> [ResultRow] {
        let context = RowContext(plan)
        let rows = try wrap { try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM results ORDER BY task_id") } }
        return try rows.map { try decode($0, context) }
    }

    /// The rows of one cell in task order (uses the cell index, so a large store is read a
    /// cell at a time).
    public func rows(cellIndex: Int) throws -> [ResultRow] {
        let context = RowContext(plan)
        let rows = try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM results WHERE cell_index = ? ORDER BY task_id", arguments: [cellIndex])
            }
        }
        return try rows.map { try decode($0, context) }
    }

    /// Up to `limit` failed rows in task order, and how many failed in all.
    public func failures(limit: Int) throws -> (rows: [ResultRow], total: Int) {
        let context = RowContext(plan)
        let (found, total) = try wrap {
            try pool.read { db in
                (try Row.fetchAll(db, sql: "SELECT * FROM results WHERE status = 'failed' ORDER BY task_id LIMIT ?",
                                  arguments: [limit]),
                 try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM results WHERE status = 'failed'") ?? 0)
            }
        }
        return (try found.map { try decode($0, context) }, total)
    }

    /// Rows, failures and seconds per host, sorted by host. A writer that started from an empty
    /// store answers from what it inserted (`HostTallies`); the wall seconds then are the exact
    /// differences of the stored milliseconds, where the query's `julianday` rounds each to
    /// about 1e-5 s.
    public func countByHost() throws -> [HostSummary] {
        if let summaries = hostTallies.withLock({ $0?.summaries }) { return summaries }
        return try wrap {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT host, COUNT(*) AS tasks, SUM(status = 'failed') AS failed,
                           TOTAL(train_seconds) AS seconds,
                           TOTAL((julianday(finished_at) - julianday(started_at)) * 86400.0) AS wall
                    FROM results GROUP BY host ORDER BY host
                    """)
                .map { row in
                    HostSummary(host: row.checked("host") ?? "", tasks: row.checked("tasks") ?? 0,
                                failed: row.checked("failed") ?? 0, seconds: row.checked("seconds") ?? 0,
                                wallSeconds: row.checked("wall") ?? 0)
                }
            }
        }
    }

    /// The start of the first task and the end of the last one recorded; nil for no rows.
    public func timeSpan() throws -> (firstStarted: Date, lastFinished: Date)? {
        try wrap {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT MIN(started_at) AS first, MAX(finished_at) AS last FROM results"),
                      let first: Date = row.checked("first"), let last: Date = row.checked("last")
                else { return nil }
                return (first, last)
            }
        }
    }

    /// SQLite's journal mode of the store's connections ("wal").
    public func journalMode() throws -> String {
        try wrap { try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" } }
    }

    // MARK: Encoding

    /// The values of the axes without a column of their own (`AxisColumns`) as a JSON object in
    /// axis order; nil (NULL) when there are none.
    static func encodeAxes(_ settings: [AxisSetting]) throws -> String? {
        guard !settings.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let parts = try settings.map { setting in
            let key = String(decoding: try encoder.encode(setting.key), as: UTF8.self)
            return key + ":" + String(decoding: try encoder.encode(setting.value), as: UTF8.self)
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// A row's axis values, from their columns and `encodeAxes`' object, in the plan's axis order.
    private func decodeAxes(_ row: Row, taskID: Int, order: [String]) throws -> [AxisSetting] {
        var object: [String: AxisValue] = [:]
        if let text: String = row.checked("axes") {
            do {
                object = try JSONDecoder().decode([String: AxisValue].self, from: Data(text.utf8))
            } catch {
                throw ResultsStoreError.corruptRow(path: path, taskID: taskID, reason: "axes is not a JSON object of axis values")
            }
        }
        for column in AxisColumns.all {
            guard let value = column.read(row) else {
                throw ResultsStoreError.corruptRow(path: path, taskID: taskID, reason: "\(column.key) is missing or of the wrong type")
            }
            object[column.key] = value
        }
        return object.sorted { (order.firstIndex(of: $0.key) ?? .max, $0.key) < (order.firstIndex(of: $1.key) ?? .max, $1.key) }
            .map { AxisSetting($0.key, AxisDefinition.named($0.key)?.typed($0.value) ?? $0.value) }
    }

    private func decodeByNoise(_ text: String, _ noise: [Double], taskID: Int, column: String) throws -> [Double] {
        if let object = NoiseKeyedJSON.parse(text) { return noise.map { object[decimalLabel($0)] ?? .nan } }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let object: [String: Double]
        do {
            object = try decoder.decode([String: Double].self, from: Data(text.utf8))
        } catch {
            throw ResultsStoreError.corruptRow(path: path, taskID: taskID, reason: "\(column) is not a JSON object of numbers")
        }
        return noise.map { object[decimalLabel($0)] ?? .nan }
    }

    /// What decoding a row needs of the plan, read once per pass (the plan sits behind a lock).
    struct RowContext {
        let testNoise: [Double]
        /// The grid's axis keys in plan order.
        let axisOrder: [String]
        let settings: RunSettings
        let hasModelAxis: Bool

        init(_ plan: SweepPlan) {
            testNoise = plan.configuration.testNoise
            axisOrder = plan.configuration.grid.map(\.key)
            settings = plan.configuration.settings
            hasModelAxis = axisOrder.contains("model")
        }

        /// The model of a row's cell: the config's, unless the grid has a `model` axis.
        func modelKind(_ axes: [AxisSetting]) -> ModelKind {
            guard hasModelAxis, let setting = axes.first(where: { $0.key == "model" }) else { return settings.modelKind }
            var settings = settings
            AxisDefinition.named("model")?.apply(setting.value, to: &settings)
            return settings.modelKind
        }
    }

    /// The stored fields a report of `model` carries, by `RunReport.fields` (a NULL is an
    /// absent field, or a NaN for one that every report of the model carries).
    private func decodeReport(_ row: Row, model: ModelKind, testNoise: [Double], taskID: Int) throws -> RunReport {
        var report = RunReport.blank
        for field in ReportColumns.fields where field.applies(to: model) {
            var column = field.column
            if model == .diagonal, let before = ReportColumns.diagonalBefore[column], !row.hasValue(column) {
                column = before
            }
            if !field.isOptional, !row.hasValue(column), let fallback = ReportColumns.v1Defaults[column] {
                column = fallback
            }
            // A value of the wrong type is a damaged row, not an absent field.
            func typed<T: DatabaseValueConvertible>(_: T.Type) throws -> T? {
                guard row.hasValue(column) else { return nil }
                guard let value: T = row.checked(column) else {
                    throw ResultsStoreError.corruptRow(path: path, taskID: taskID, reason: "\(column) is not of type \(T.self)")
                }
                return value
            }
            switch field.value {
            case .double(_, let set):
                // SQLite holds a NaN as NULL: a field every report of this model carries was NaN.
                set(&report, try typed(Double.self) ?? (field.presence == .always ? .nan : nil))
            case .int(_, let set):
                set(&report, try typed(Int.self))
            case .bool(_, let set):
                set(&report, try typed(Bool.self))
            case .name(_, let set, let allowed):
                let name = try typed(String.self)
                if let name, !allowed.contains(name) {
                    throw ResultsStoreError.corruptRow(path: path, taskID: taskID, reason: "\(column) '\(name.prefix(40))' is not one of \(allowed)")
                }
                set(&report, name)
            case .perNoise(_, let set):
                let text: String? = row.checked(column)
                set(&report, try text.map { try decodeByNoise($0, testNoise, taskID: taskID, column: column) })
            case .trajectory, .derived:
                break
            }
        }
        return report
    }

    func decode(_ row: Row, _ context: RowContext) throws -> ResultRow {
        guard let taskID: Int = row.checked("task_id") else {
            throw ResultsStoreError.corruptRow(path: path, taskID: -1, reason: "task_id is not an integer")
        }
        func corrupt(_ reason: String) -> ResultsStoreError {
            .corruptRow(path: path, taskID: taskID, reason: reason)
        }
        guard let problemSeed = UInt64(row.checked("problem_seed") as String? ?? ""),
              let trainingSeed = UInt64(row.checked("training_seed") as String? ?? "")
        else { throw corrupt("seeds are not decimal UInt64 text") }
        guard let status = TaskStatus(rawValue: row.checked("status") as String? ?? "") else { throw corrupt("unknown status") }
        guard let startedAt: Date = row.checked("started_at"), let finishedAt: Date = row.checked("finished_at") else {
            throw corrupt("unreadable timestamps")
        }
        guard let cellIndex: Int = row.checked("cell_index"), let trial: Int = row.checked("trial"),
              let attempt: Int = row.checked("attempt"), let workerID: String = row.checked("worker_id"),
              let host: String = row.checked("host")
        else { throw corrupt("a cell, trial, attempt or worker column is missing or of the wrong type") }
        let trainSeconds: Double? = row.checked("train_seconds")
        let axes = try decodeAxes(row, taskID: taskID, order: context.axisOrder)
        var report: RunReport?
        if status == .ok {
            guard let _: Int = row.checked("iterations"), let _: Bool = row.checked("diverged") else {
                throw corrupt("an ok row without integer metrics")
            }
            report = try decodeReport(row, model: context.modelKind(axes), testNoise: context.testNoise, taskID: taskID)
        }
        return ResultRow(
            taskID: taskID, cellIndex: cellIndex, axes: axes,
            trial: trial, problemSeed: problemSeed, trainingSeed: trainingSeed, status: status, attempt: attempt,
            workerID: workerID, host: host, startedAt: startedAt, finishedAt: finishedAt, trainSeconds: trainSeconds,
            report: report, failureReason: row.checked("failure_reason"))
    }
}

extension Row {
    /// `column` as `T`, or nil when it is NULL, absent or not convertible: GRDB's typed
    /// subscripts trap on a value they cannot convert, and a file may hold anything.
    fileprivate func hasValue(_ column: String) -> Bool {
        hasColumn(column) && !(self[column] as DatabaseValue).isNull
    }

    fileprivate func checked<T: DatabaseValueConvertible>(_ column: String) -> T? {
        guard hasColumn(column) else { return nil }
        return T.fromDatabaseValue(self[column] as DatabaseValue)
    }
}

/// Which file a path names (device and inode).
struct FileIdentity: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64

    /// nil when the path names nothing.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// The axes that keep a column of their own in `results` (`depth`, `width`, `lambda`,
/// `noise`, NOT NULL since schema v1); every other axis goes into the `axes` JSON object.
///
/// Why columns and not a migration into `axes`: a folder written before any version stays
/// byte-for-byte readable and resumable with no rewrite of its rows, the SQL queries of
/// docs/RESULTS-FOLDER.md keep working, and an older binary can still read a newer folder's
/// rows. Only the store knows this split: a `ResultRow` has one list of axes, in plan order.
enum AxisColumns {
    struct Column: Sendable {
        var key: String
        var isInteger: Bool

        /// The column's value for an axis value; 0 when the cell has no such axis (NOT NULL).
        func read(_ row: Row) -> AxisValue? {
            if isInteger { return (row.checked(key) as Int?).map(AxisValue.int) }
            return (row.checked(key) as Double?).map(AxisValue.double)
        }
    }

    static let all = [
        Column(key: "depth", isInteger: true), Column(key: "width", isInteger: true),
        Column(key: "lambda", isInteger: false), Column(key: "noise", isInteger: false),
    ]

    static func named(_ key: String) -> Column? { all.first { $0.key == key } }
}
