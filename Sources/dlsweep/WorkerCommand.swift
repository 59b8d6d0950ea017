import ArgumentParser
import Foundation
import LinearAlgebra
import Worker

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run sweep tasks for a coordinator.",
        discussion: """
            One worker per core with --threads 1 is the fast layout for sweeps. On a node with many \
            cores, --processes auto runs one node worker instead: one connection, heartbeat and \
            registration for the node, feeding one single-threaded compute process per core; a \
            compute process that dies costs only its task, which runs again.
            """)

    @Option(help: "The coordinator's endpoint, e.g. tcp://10.0.0.1:5555.")
    var connect: String

    @Option(help: "OpenBLAS threads per run.")
    var threads = 1

    @Option(help: ArgumentHelp(
        "Run as a node worker feeding this many compute processes ('auto': one per core this process may use).",
        valueName: "n|auto"))
    var processes: ProcessCount?

    @Option(help: "Tasks held at once (one running, the rest ready; default 2, or 2 per compute process).")
    var prefetch: Int?

    @Option(help: "Seconds between heartbeats to the coordinator.")
    var heartbeat: Double = 1

    @Option(help: "Give up after this many seconds without a coordinator.")
    var reconnectTimeout: Double = 600

    @Option(help: "This worker's CURVE secret key file (NAME.key).")
    var curveKey: String?

    @Option(help: "The coordinator's CURVE public key file (NAME.pub).")
    var serverKey: String?

    @Option(help: "A readable prefix of the worker id (default: the host name).")
    var name: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let prefetch, prefetch < 1 { throw ValidationError("--prefetch must be at least 1") }
        guard heartbeat.isFinite, heartbeat > 0 else { throw ValidationError("--heartbeat must be a positive number of seconds") }
        guard reconnectTimeout.isFinite, reconnectTimeout > 0 else {
            throw ValidationError("--reconnect-timeout must be a positive number of seconds")
        }
        if (curveKey == nil) != (serverKey == nil) {
            throw ValidationError("--curve-key and --server-key go together")
        }
    }

    func run() throws {
        let logger = logging.makeLogger("dlsweep.worker")
        var options = WorkerOptions(connect: connect)
        options.blasThreads = threads
        if let processes {
            let count = processes.resolved
            options.processes = count
            options.computeCommand = [try Self.executablePath(), "compute-process", "--threads", String(threads)]
            options.prefetch = prefetch ?? 2 * count
        } else {
            options.prefetch = prefetch ?? 2
        }
        options.heartbeatInterval = heartbeat
        options.reconnectTimeout = reconnectTimeout
        options.name = name
        if let curveKey, let serverKey {
            let pair = try KeyFiles.readPair(curveKey)
            options.curve = CurveClientSettings(
                publicKey: pair.publicKey, secretKey: pair.secretKey, serverPublicKey: try KeyFiles.readPublicKey(serverKey))
        }
        let worker = try Worker(options: options, logger: logger)
        let stop = worker.stop
        let signals = onTermination { stop.request() }
        let exit = try worker.run()
        withExtendedLifetime(signals) {}
        // The compute thread may still be inside a run it no longer owns, so leave with _exit:
        // exit() would run library destructors (OpenBLAS frees its buffers) under that thread
        // and can crash. A short pause first lets ZeroMQ's I/O thread deliver the last
        // message (a `bye` handing tasks back); if it is lost, the coordinator's worker
        // timeout re-queues those tasks anyway.
        fflush(nil)
        usleep(250_000)
        _exit(exit.exitCode)
    }
}

extension WorkerCommand {
    /// This executable, for starting compute processes of the same build.
    static func executablePath() throws -> String {
        do {
            return try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        } catch {
            throw ValidationError("--processes: cannot find this executable's path (/proc/self/exe): \(error)")
        }
    }
}

/// `--processes N|auto`.
enum ProcessCount: ExpressibleByArgument, Equatable {
    case fixed(Int)
    /// One per CPU this process may run on (its affinity mask: what Slurm or taskset gave it).
    case auto

    init?(argument: String) {
        if argument == "auto" {
            self = .auto
        } else if let count = Int(argument), count >= 1, count <= 4096 {
            self = .fixed(count)
        } else {
            return nil
        }
    }

    var resolved: Int {
        switch self {
        case .fixed(let count): count
        case .auto: max(1, ProcessInfo.processInfo.activeProcessorCount)
        }
    }
}

/// `dlsweep compute-process` (hidden): a node worker's compute process. Reads tasks on stdin
/// and writes answers on stdout, in `PipeFrames`; started by `dlsweep worker --processes`.
struct ComputeProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute-process", abstract: "A node worker's compute process (started by the node worker).",
        shouldDisplay: false)

    @Option(help: "OpenBLAS threads per run.")
    var threads = 1

    func run() throws {
        // The answers get a descriptor of their own; anything a library prints goes to stderr.
        let answers = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        BLAS.setThreads(threads)
        let status = ComputeProcess.serve(input: STDIN_FILENO, output: answers)
        _exit(status)
    }
}
