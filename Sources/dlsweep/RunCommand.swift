import ArgumentParser
import Coordinator
import Foundation
import LinearAlgebra
import Logging
import SweepConfig

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep on this machine: a coordinator plus local worker processes over a real socket.")

    @OptionGroup var sweep: SweepConfigArguments

    @Option(help: "Worker processes (default: one per core).")
    var workers: Int?

    @Option(help: "Folder for results.sqlite and the table files (default: runs/<sweep name>).")
    var out: String?

    @Option(help: "Endpoint to bind; the default picks a free loopback port.")
    var bind = "tcp://127.0.0.1:*"

    @OptionGroup var service: SweepServiceOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
    }

    func run() throws {
        let logger = logging.makeLogger("dlsweep.run")
        let configuration = try sweep.load(out: out)
        var options = CoordinatorOptions(bind: bind, outDirectory: out ?? "runs/\(configuration.name)")
        service.apply(to: &options)
        try service.preflight(configuration, outDirectory: options.outDirectory)
        // A safety net behind the restarts below: never wait forever for workers that are gone.
        options.stopWithoutWorkers = max(60, 6 * options.workerTimeout)
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

        let count = workers ?? ProcessInfo.processInfo.activeProcessorCount
        let endpoint = coordinator.endpoint
        let command = self
        let local = try LocalWorkers(count: count, restarts: max(3, 2 * count), logger: logger) { index in
            try command.spawnWorker(index: index, endpoint: endpoint)
        }
        logger.info("started \(count) local worker process(es)")
        let stop = coordinator.stop
        let signals = onTermination {
            stop.request()
            local.terminateAll()
        }
        local.watch { reason in
            logger.error("\(reason); stopping the sweep")
            stop.request()
        }
        let outcome = try coordinator.run()
        statusFile.stop()
        withExtendedLifetime(signals) {}
        local.reap()
        if let reason = local.gaveUp { printError("dlsweep run: \(reason)") }
        try finish(outcome, of: coordinator, configuration: configuration, outDirectory: options.outDirectory)
    }

    /// A worker process of this same binary, one BLAS thread each.
    private func spawnWorker(index: Int, endpoint: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [
            "worker", "--connect", endpoint, "--threads", "1", "--name", "local\(index)",
            "--heartbeat", String(service.heartbeat),
            "--reconnect-timeout", String(max(30, service.workerTimeout * 3)),
            "--log-level", logging.logLevel <= .debug ? logging.logLevel.rawValue : "warning",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        environment["OMP_NUM_THREADS"] = "1"
        process.environment = environment
        try process.run()
        return process
    }

}

/// The local worker processes of `dlsweep run`: one that dies (a crash, the OOM killer) is
/// started again, up to a budget; when the budget is spent and none is left, the sweep stops
/// with the reason instead of waiting forever.
///
/// `@unchecked Sendable`: every stored property is guarded by `lock`.
final class LocalWorkers: @unchecked Sendable {
    private let lock = NSLock()
    private var children: [Process]
    private var restartsLeft: Int
    private var stopped = false
    private var reason: String?
    private let spawn: (Int) throws -> Process
    private let logger: Logger

    init(count: Int, restarts: Int, logger: Logger, spawn: @escaping (Int) throws -> Process) throws {
        self.spawn = spawn
        self.logger = logger
        restartsLeft = restarts
        children = try (0..<count).map(spawn)
    }

    /// Why the workers were given up on, if they were.
    var gaveUp: String? { lock.withLock { reason } }

    /// Checks the children from a thread of its own until `reap`.
    func watch(onGiveUp: @escaping @Sendable (String) -> Void) {
        let thread = Thread { [self] in
            while true {
                usleep(200_000)
                if let reason = check() {
                    onGiveUp(reason)
                    return
                }
                if lock.withLock({ stopped }) { return }
            }
        }
        thread.name = "dlsweep-local-workers"
        thread.start()
    }

    private func check() -> String? {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped, reason == nil else { return nil }
        for index in children.indices where !children[index].isRunning {
            let child = children[index]
            // Exit 0: told the sweep is over. Anything else is a crash worth a restart.
            guard child.terminationReason == .uncaughtSignal || child.terminationStatus != 0 else { continue }
            let how = child.terminationReason == .uncaughtSignal
                ? "signal \(child.terminationStatus)" : "status \(child.terminationStatus)"
            if restartsLeft > 0, let fresh = try? spawn(index) {
                restartsLeft -= 1
                children[index] = fresh
                logger.warning("local worker \(index) exited with \(how); restarted (\(restartsLeft) restart(s) left)")
            } else if children.allSatisfy({ !$0.isRunning }) {
                reason = "all \(children.count) local worker(s) exited (the last with \(how)) and the restart budget is spent"
                return reason
            }
        }
        return nil
    }

    func terminateAll() {
        lock.withLock {
            stopped = true
            for child in children where child.isRunning { child.terminate() }
        }
    }

    /// Workers leave when told the sweep is over; any that linger are stopped.
    func reap() {
        let children = lock.withLock {
            stopped = true
            return self.children
        }
        let deadline = Date().addingTimeInterval(5)
        while children.contains(where: \.isRunning) && Date() < deadline { usleep(50_000) }
        for child in children where child.isRunning { child.terminate() }
        for child in children { child.waitUntilExit() }
    }
}
