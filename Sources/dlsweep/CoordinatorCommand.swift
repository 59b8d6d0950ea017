public import ArgumentParser
public import Coordinator
import Foundation
import LinearAlgebra
import LiveView
import Logging
import ResultsStore
import SweepConfig
import SweepTable

/// Options shared by `coordinator` and `run`.
struct SweepServiceOptions: ParsableArguments {
    @Option(help: "Seconds between heartbeats to each worker.")
    var heartbeat: Double = 1

    @Option(help: "Seconds of silence after which a worker is dropped and its tasks re-queued.")
    var workerTimeout: Double = 10

    @Option(help: "A task that fails this many times by its own doing (it threw, its result was invalid), on at least two workers (two hosts when workers of several joined), is recorded as failed; lost workers never count.")
    var maxAttempts: Int = 3

    @Option(help: "A worker whose results are invalid this many times in a row is quarantined: refused for the rest of the run, its tasks given to others, its failures no longer counted.")
    var quarantineAfter: Int = 3

    @Option(help: "Re-run this fraction (0 to 1) of the finished tasks on another worker (another host when there is one) and compare every field; a worker that disagrees with a third run is quarantined and its unverified results run again (default: the config's verify: {fraction: F}, else 0).")
    var verify: Double?

    @Option(help: "Seconds one task may run before its worker is dropped and the task re-queued (default: 10 times the cell's measured mean, at least 60 s).")
    var taskTimeout: Double?

    @Option(help: "The most tasks one worker may hold at once, whatever it asks for (a node worker asks for 2 per compute process).")
    var maxPrefetch: Int = 512

    @Option(help: "The most workers registered at once, one connection each (default: what the open-file limit allows, printed at start).")
    var maxWorkers: Int?

    @Option(help: "Progress on stderr: auto (a bar on a terminal, lines otherwise), bar, lines or none.")
    var progress: ProgressStyle = .automatic

    @Option(help: "Seconds without any worker before the coordinator says it is waiting (and again after as long).")
    var idleNotice: Double = 10

    @Option(help: "Refuse sweeps of more tasks (cells × trials) than this.")
    var maxTasks = SweepLimits.defaultMaxTasks

    @Option(help: "Refuse sweeps whose largest run needs more memory than this many GiB (an estimate).")
    var maxCellMemory = SweepLimits.defaultMaxCellGiB

    @Option(help: "Seconds the results store may refuse commits (a full disk) before the coordinator gives up and exits; results are held in memory meanwhile.")
    var storeRetryLimit: Double = 600

    @Option(help: "Results held in memory while the store refuses commits; past this, no new tasks go out.")
    var resultBuffer = 100_000

    @Flag(help: "On a resume, run again the tasks recorded as failed (the report keeps their earlier rows as history).")
    var retryFailed = false

    @Option(help: "Serve the live view (report.html at /, /status.json; read-only) on PORT (loopback) or HOST:PORT, e.g. 8080 or 127.0.0.1:8080; port 0 picks a free one.")
    var http: String?

    func validate() throws {
        guard storeRetryLimit.isFinite, storeRetryLimit >= 0 else {
            throw ValidationError("--store-retry-limit must be a number of seconds >= 0")
        }
        guard resultBuffer >= 1 else { throw ValidationError("--result-buffer must be at least 1") }
        guard heartbeat.isFinite, heartbeat > 0 else { throw ValidationError("--heartbeat must be a positive number of seconds") }
        guard workerTimeout.isFinite, workerTimeout > heartbeat else {
            throw ValidationError("--worker-timeout must be a number of seconds longer than --heartbeat")
        }
        guard idleNotice.isFinite, idleNotice > 0 else { throw ValidationError("--idle-notice must be a positive number of seconds") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
        guard quarantineAfter >= 1 else { throw ValidationError("--quarantine-after must be at least 1") }
        guard maxTasks >= 1 else { throw ValidationError("--max-tasks must be at least 1") }
        guard maxCellMemory.isFinite, maxCellMemory > 0 else { throw ValidationError("--max-cell-memory must be a positive number of GiB") }
        if let taskTimeout, !(taskTimeout.isFinite && taskTimeout > 0) {
            throw ValidationError("--task-timeout must be a positive number of seconds")
        }
        if let verify, !(verify >= 0 && verify <= 1) {
            throw ValidationError("--verify must be a fraction in [0, 1], got \(verify)")
        }
        guard maxPrefetch >= 1 else { throw ValidationError("--max-prefetch must be at least 1") }
        if let maxWorkers, maxWorkers < 1 { throw ValidationError("--max-workers must be at least 1") }
        if let http, LiveViewAddress(http) == nil {
            throw ValidationError("--http must be PORT, HOST:PORT or [IPv6]:PORT, got '\(http)'")
        }
    }

    /// Starts the live view of `coordinator` when `--http` asks for it.
    func startLiveView(_ coordinator: Coordinator, outDirectory: String, logger: Logger) throws -> LiveView? {
        guard let http, let address = LiveViewAddress(http) else { return nil }
        let board = coordinator.status
        let latency = coordinator.commitLatency
        let view = try LiveView.start(address: address, directory: outDirectory, status: { board.status?.json() },
                                      metrics: { board.status.map { PrometheusMetrics.render($0, commits: latency.snapshot) } })
        logger.notice("live view at \(view.url) (report.html, status.json, metrics; read-only)")
        if !["127.0.0.1", "::1", "localhost"].contains(view.bound.host) && !view.bound.host.hasPrefix("127.") {
            logger.warning("the live view listens on \(view.bound): anyone who reaches that address can read the sweep")
        }
        return view
    }

    var limits: SweepLimits { SweepLimits(maxTasks: maxTasks, maxCellGiB: maxCellMemory) }

    /// Everything that can be checked before the results folder is touched: the limits, and
    /// that no other coordinator owns the folder.
    func preflight(_ configuration: SweepConfiguration, outDirectory: String) throws {
        try limits.check(configuration)
        try FolderLock.checkFree(directory: outDirectory)
    }

    func apply(to options: inout CoordinatorOptions) {
        options.heartbeatInterval = heartbeat
        options.workerTimeout = workerTimeout
        options.maxAttempts = maxAttempts
        options.retryFailed = retryFailed
        options.quarantineAfter = quarantineAfter
        options.taskTimeout = taskTimeout
        options.verifyFraction = verify
        options.maxPrefetch = maxPrefetch
        options.maxWorkers = maxWorkers
        options.progress = progress
        options.idleNoticeInterval = idleNotice
        options.storeRetryLimit = storeRetryLimit
        options.resultBufferLimit = resultBuffer
    }
}

extension ProgressStyle: ExpressibleByArgument {}

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Serve a sweep's tasks to workers over ZeroMQ and write its table.",
        discussion: """
            Starting again with the same config and --out resumes: finished tasks are not run again.
            """)

    @OptionGroup var sweep: SweepConfigArguments

    @Option(help: "ZeroMQ endpoint to bind, e.g. tcp://*:5555 or tcp://10.0.0.1:5555.")
    var bind = "tcp://*:5555"

    @Option(help: "Folder for results.sqlite and the table files (default: runs/<sweep name>).")
    var out: String?

    @OptionGroup var service: SweepServiceOptions

    @Option(help: "The coordinator's CURVE secret key file (NAME.key from `dlsweep keys generate`).")
    var curveKey: String?

    @Option(help: "Folder of the *.pub keys of the workers allowed to join (with --curve-key).")
    var authorizedKeys: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if (curveKey == nil) != (authorizedKeys == nil) {
            throw ValidationError("--curve-key and --authorized-keys go together")
        }
    }

    func run() throws {
        let logger = logging.makeLogger("dlsweep.coordinator")
        let configuration = try sweep.load(out: out)
        var options = CoordinatorOptions(bind: bind, outDirectory: out ?? "runs/\(configuration.name)")
        service.apply(to: &options)
        try service.preflight(configuration, outDirectory: options.outDirectory)
        if let curveKey, let authorizedKeys {
            options.curve = CurveServerSettings(
                secretKey: try KeyFiles.readPair(curveKey).secretKey,
                authorizedKeys: try KeyFiles.readAuthorizedKeys(authorizedKeys))
        }
        BLAS.stopIdleThreads()  // this process coordinates; its workers train
        let coordinator = try explainingOverrides(configuration, outDirectory: options.outDirectory) {
            try Coordinator(configuration: configuration, options: options, logger: logger)
        }
        let live = try service.startLiveView(coordinator, outDirectory: options.outDirectory, logger: logger)
        defer { live?.stop() }
        // DIR/status.json for `dlsweep status DIR`.
        let statusFile = StatusFileWriter(board: coordinator.status, directory: options.outDirectory,
                                          endpoint: coordinator.endpoint, http: live?.url)
        defer { statusFile.stop() }
        let stop = coordinator.stop
        let signals = onTermination { stop.request() }
        let outcome = try coordinator.run()
        statusFile.stop()
        withExtendedLifetime(signals) {}
        try finish(outcome, of: coordinator, configuration: configuration, outDirectory: options.outDirectory)
    }
}

/// Prints the table and the sweep's summary; a sweep stopped early exits non-zero.
func report(_ outcome: SweepOutcome, summaries: [CellSummary], outDirectory: String) throws {
    if outcome.complete {
        print(renderText(summaries), terminator: "")
        fflush(nil)  // the table before the summary lines on stderr
        printError(renderHosts(outcome.hosts), terminator: "")
    }
    let c = outcome.counters
    printError("recorded \(outcome.recordedNow) results in \(String(format: "%.1f", outcome.wallSeconds)) s; workers lost \(c.workersLost), tasks re-queued \(c.tasksRequeued), failed \(c.tasksFailed), duplicate results \(c.duplicateResults), malformed frames \(c.malformedFrames), unknown tasks \(c.unknownTasks), unexpected messages \(c.unexpectedMessages), version mismatches \(c.versionMismatches); refused: unregistered \(c.unregistered), other sweep \(c.otherSweep), no lease \(c.noLease), invalid \(c.invalidResults), duplicate worker ids \(c.duplicateWorkers), wrong session \(c.wrongSession); workers quarantined \(c.workersQuarantined); frames dropped unread \(c.framesDropped); leases expired \(c.leasesExpired), late results accepted \(c.lateResults); replays: verified \(c.resultsVerified), mismatched \(c.resultsMismatched), undecided \(c.mismatchesUnresolved), not possible \(c.replaysUnavailable), rows replaced \(c.rowsReplaced)")
    guard outcome.complete else {
        if let reason = outcome.stopReason { printError("stopped: \(reason)") }
        printError("stopped before the end; run the same command again to resume (results so far are in \(outDirectory); `dlsweep table \(outDirectory)` shows them)")
        throw ExitCode(2)
    }
    printError("table written to \(outDirectory)/table.{csv,json,md}, success.svg, iterations.svg, noise.svg and report.html")
}

/// Runs `body` (which opens the results folder); a refusal of another sweep's folder says so
/// when the overrides it was started with differ from this command's.
func explainingOverrides<T>(_ configuration: SweepConfiguration, outDirectory: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ResultsStoreError {
        guard case let .differentSweep(directory, name, fingerprint, _) = error,
              let (_, stored) = try? ResultsStore.openExisting(directory: outDirectory),
              stored.overrides != configuration.overrides else { throw error }
        let was = stored.overrides.isEmpty ? "no overrides" : "the overrides " + stored.overrides.joined(separator: " ")
        let now = configuration.overrides.isEmpty ? "none" : configuration.overrides.joined(separator: " ")
        throw CommandError("\(directory) holds sweep '\(name)' (fingerprint \(fingerprint)) started with \(was); this command gives \(now): give the same overrides to resume it, or use another --out")
    }
}
