import ArgumentParser
import Foundation
import Worker

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run sweep tasks for a coordinator.",
        discussion: "One worker per core with --threads 1 is the fast layout for sweeps.")

    @Option(help: "The coordinator's endpoint, e.g. tcp://10.0.0.1:5555.")
    var connect: String

    @Option(help: "OpenBLAS threads per run.")
    var threads = 1

    @Option(help: "Tasks held at once (one running, the rest ready).")
    var prefetch = 2

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
        guard prefetch >= 1 else { throw ValidationError("--prefetch must be at least 1") }
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
        options.prefetch = prefetch
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
