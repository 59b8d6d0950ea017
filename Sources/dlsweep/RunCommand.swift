import ArgumentParser
import Coordinator
import Foundation
import SweepConfig

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep on this machine: a coordinator plus local worker processes over a real socket.")

    @Argument(help: "The sweep config (YAML), e.g. configs/quick.yaml.")
    var config: String

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
        let configuration = try SweepConfiguration.load(path: config)
        var options = CoordinatorOptions(bind: bind, outDirectory: out ?? "runs/\(configuration.name)")
        service.apply(to: &options)
        try service.preflight(configuration, outDirectory: options.outDirectory)
        let coordinator = try Coordinator(configuration: configuration, options: options, logger: logger)

        let count = workers ?? ProcessInfo.processInfo.activeProcessorCount
        let children = try (0..<count).map { index in
            try spawnWorker(index: index, endpoint: coordinator.endpoint)
        }
        logger.info("started \(count) local worker process(es)")
        let stop = coordinator.stop
        let signals = onTermination {
            stop.request()
            for child in children where child.isRunning { child.terminate() }
        }
        let outcome = try coordinator.run()
        withExtendedLifetime(signals) {}
        reap(children)
        try report(outcome, outDirectory: options.outDirectory)
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

    /// Workers leave when told the sweep is over; any that linger are stopped.
    private func reap(_ children: [Process]) {
        let deadline = Date().addingTimeInterval(5)
        while children.contains(where: \.isRunning) && Date() < deadline { usleep(50_000) }
        for child in children where child.isRunning { child.terminate() }
        for child in children { child.waitUntilExit() }
    }
}
