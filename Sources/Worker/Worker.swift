import Foundation
public import Logging
import LinearAlgebra
public import SweepProtocol
public import TrainingCore
import Synchronization
import ZeroMQ

/// Runs sweep tasks for a coordinator: a socket thread (the caller of `run()`) talks to the
/// coordinator; a compute thread trains, or, for a node worker (`options.processes`), a pool of
/// compute processes does. They meet through `TaskInbox` and an inproc pipe, so heartbeats
/// keep flowing while long runs are under way. A node worker is one registered worker to the
/// coordinator: one connection, one heartbeat, one credit for the whole node.
public final class Worker {
    public let options: WorkerOptions
    public let workerID: String
    /// Request a clean stop from any thread (e.g. on SIGTERM).
    public let stop = StopSignal()

    private let logger: Logger
    private let context: Context
    /// The last CURVE handshake failure since the last success (set by the monitor thread).
    private let refusal = LastRefusal()
    static var refusedText: String { WorkerCore.refusedText }
    private let compute: @Sendable (RunSpec) throws -> RunReport

    public init(options: WorkerOptions, logger: Logger,
                compute: @escaping @Sendable (RunSpec) throws -> RunReport = runExperiment) throws {
        self.options = options
        self.logger = logger
        self.compute = compute
        let host = ProcessInfo.processInfo.hostName
        workerID = "\(options.name ?? host)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        context = try Context()
    }

    /// Blocks until the coordinator ends the sweep, refuses us, stays away too long, or a
    /// stop is requested.
    public func run() throws -> WorkerExit {
        BLAS.setThreads(options.blasThreads)
        if let suggested = BLAS.suggestedCoreType() {
            logger.info("""
                OpenBLAS runs its \(BLAS.coreName) kernels, without AVX, on this CPU: each run's set-up and the plain \
                path are faster with OPENBLAS_CORETYPE=\(suggested) in the worker's environment
                """)
        }
        let pipeEndpoint = "inproc://results-\(workerID)"
        let pipe = try Socket(context, type: .pull)
        try pipe.bind(pipeEndpoint)

        let dealer = try Socket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 2000)
        try dealer.setImmediate(true)
        try dealer.setMaxMessageSize(Int64(maxFrameBytes))
        try dealer.setReconnectInterval(milliseconds: 200)
        try dealer.setReconnectIntervalMax(milliseconds: 2000)
        if let curve = options.curve {
            try dealer.setCurveServerKey(curve.serverPublicKey)
            try dealer.setCurvePublicKey(curve.publicKey)
            try dealer.setCurveSecretKey(curve.secretKey)
        }
        // CURVE failures are silent on the wire: watch the handshakes to say what went wrong.
        let monitor = try options.curve.map { _ in
            try HandshakeMonitor(dealer) { [refusal, logger, connect = options.connect] event, _ in
                let first = refusal.event.withLock { last -> Bool in
                    defer { last = event == .succeeded ? nil : event }
                    return last == nil && event != .succeeded
                }
                if first { logger.error("\(Self.refusedText) by the coordinator at \(connect): \(event.reason)") }
            }
        }
        defer { monitor?.stop() }
        try dealer.connect(options.connect)

        let inbox = TaskInbox()
        let pool = options.processes.map {
            ComputePool(processes: $0, command: options.computeCommand, inbox: inbox, context: context,
                        pipe: pipeEndpoint, logger: logger)
        }
        if let pool {
            pool.start()
            logger.info("node worker: \(options.processes ?? 0) compute processes, credit for \(options.prefetch) tasks")
        } else {
            startComputeThread(inbox: inbox, pipe: pipeEndpoint)
        }
        // The compute thread ends when the inbox closes (after its current run, if any); the
        // compute processes are ended at once (their tasks were handed back).
        defer {
            _ = inbox.close()
            pool?.stop()
        }

        var core = WorkerCore(options: options, hello: hello(), now: Self.now())
        logger.info("worker \(workerID) connecting to \(options.connect)")
        /// Hands `event` to the core and carries out its commands, each one's answer first.
        func execute(_ event: WorkerCore.Event) -> WorkerExit? {
            var exit: WorkerExit?
            for command in core.handle(event, now: Self.now()) {
                switch command {
                case .send(let message):
                    send(message, on: dealer)
                case .sendResults(let frames, let taskIDs):
                    // Stops at the first refusal (no connection yet: ZMQ_IMMEDIATE); they go again later.
                    do {
                        for frame in frames { try dealer.send([frame], dontWait: true) }
                    } catch {
                        continue
                    }
                    exit = execute(.resultsSent(taskIDs: taskIDs)) ?? exit
                case .run(let task):
                    inbox.push(task)
                case .closeInbox:
                    _ = inbox.close()
                case .log(let level, let message):
                    logger.log(level: level, "\(message)")
                case .exit(let reason):
                    exit = reason
                }
            }
            return exit
        }

        while true {
            if stop.isRequested, let exit = execute(.stopRequested) { return exit }
            if let failure = inbox.failure, let exit = execute(.computeFailed(failure)) { return exit }
            let readable = try poll([dealer, pipe], timeout: 100)
            if readable[1] {
                while let frames = try pipe.receive(timeout: 0) {
                    guard frames.count == 3, let taskID = Int(String(decoding: frames[0], as: UTF8.self)) else { continue }
                    _ = execute(.computed(taskID: taskID, sweep: String(decoding: frames[1], as: UTF8.self),
                                          frame: frames[2]))
                }
            }
            _ = execute(.flush)
            if readable[0] {
                while let frames = try dealer.receive(timeout: 0) {
                    if let exit = execute(.received(frames)) { return exit }
                }
            }
            if let exit = execute(.tick(refused: refusal.event.withLock({ $0 }) != nil)) { return exit }
        }
    }

    private func hello() -> Hello {
        Hello(
            protocolVersion: Int(protocolVersion), workerID: workerID, host: ProcessInfo.processInfo.hostName,
            pid: Int(getpid()), cores: ProcessInfo.processInfo.activeProcessorCount,
            blasThreads: options.blasThreads, capabilities: ["gd", "heavy-ball", "inertial", "flow", "adaptive-step", "reduced", "plain", "diagonal"], prefetch: options.prefetch)
    }

    // MARK: Sending

    private func send(_ message: Message, on dealer: Socket) {
        do {
            try dealer.send([try message.encoded()], dontWait: true)
        } catch {
            logger.debug("could not send to the coordinator: \(error)")
        }
    }

    // MARK: Compute

    private func startComputeThread(inbox: TaskInbox, pipe: String) {
        let context = self.context
        let compute = self.compute
        let thread = Thread {
            do {
                // Sockets are not thread-safe: this one is made and used on this thread only.
                let out = try Socket(context, type: .push)
                try out.connect(pipe)
                while let task = inbox.take() {
                    let frame = try TaskAnswer.frame(for: task, compute: compute)
                    inbox.finished(task.taskID)
                    try out.send([Array(String(task.taskID).utf8), Array(task.sweep.utf8), frame])
                }
            } catch ZMQError.terminated {
                return
            } catch {
                inbox.fail("\(error)")
            }
        }
        thread.name = "dlsweep-compute"
        thread.stackSize = 16 << 20
        thread.start()
    }

    static func now() -> Double { Date().timeIntervalSince1970 }
}

/// Shared between the socket thread and the handshake monitor's thread.
private final class LastRefusal: Sendable {
    let event = Mutex<HandshakeEvent?>(nil)
}
