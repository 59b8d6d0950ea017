import Foundation
public import Logging
import LinearAlgebra
public import SweepProtocol
public import TrainingCore
import Synchronization
import ZeroMQ

/// Runs sweep tasks for a coordinator: a socket thread (the caller of `run()`) talks to the
/// coordinator; a compute thread trains. They meet through `TaskInbox` and an inproc pipe,
/// so heartbeats keep flowing while a long run is under way.
public final class Worker {
    public let options: WorkerOptions
    public let workerID: String
    /// Request a clean stop from any thread (e.g. on SIGTERM).
    public let stop = StopSignal()

    private let logger: Logger
    private let context: Context
    /// The last CURVE handshake failure since the last success (set by the monitor thread).
    private let refusal = LastRefusal()
    static let refusedText = "handshake refused (wrong server key or unauthorized client key)"
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
        let pipeEndpoint = "inproc://results-\(workerID)"
        let pipe = try Socket(context, type: .pair)
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
        startComputeThread(inbox: inbox, pipe: pipeEndpoint)
        // The compute thread ends when the inbox closes (after its current run, if any).
        defer { _ = inbox.close() }

        var session = Session(options: options, now: Self.now())
        var results = Unsettled()
        logger.info("worker \(workerID) connecting to \(options.connect)")

        while true {
            if stop.isRequested {
                let held = inbox.close()
                if session.registered { results.send(on: dealer) }
                send(.bye(Bye(reason: "stopped by signal", taskIDs: held)), on: dealer)
                logger.info("stopping: handed back \(held.count) task(s)")
                return .stopped
            }
            if let failure = inbox.failure {
                let held = inbox.close()
                if session.registered { results.send(on: dealer) }
                send(.bye(Bye(reason: "compute thread failed: \(failure)", taskIDs: held)), on: dealer)
                logger.error("compute thread failed: \(failure); handed back \(held.count) task(s)")
                return .computeFailed(reason: failure)
            }
            let readable = try poll([dealer, pipe], timeout: 100)
            let now = Self.now()
            if readable[1] {
                while let frames = try pipe.receive(timeout: 0) {
                    guard frames.count == 3, let taskID = Int(String(decoding: frames[0], as: UTF8.self)) else { continue }
                    results.add(taskID: taskID, sweep: String(decoding: frames[1], as: UTF8.self), frame: frames[2])
                }
            }
            // Results go only to a coordinator that welcomed this worker, so they are recorded
            // with their provenance; until it acknowledges them they are kept for a resend.
            if session.registered { results.send(on: dealer) }
            if readable[0] {
                while let frames = try dealer.receive(timeout: 0) {
                    session.lastHeard = now
                    guard frames.count == 1 else {
                        logger.warning("dropped a message of \(frames.count) frames from the coordinator")
                        continue
                    }
                    let messages: [Message]
                    do {
                        messages = try Message.decodeAll(frames[0])
                    } catch {
                        if ["task", "batch"].contains(Message.headerKind(frames[0])) {
                            // A task this worker cannot read would sit here while it heartbeats.
                            let held = inbox.close()
                            send(.bye(Bye(reason: "cannot decode a task: \(error)", taskIDs: held)), on: dealer)
                            logger.error("cannot decode a task from the coordinator: \(error)")
                            return .protocolError(reason: "\(error)")
                        }
                        logger.warning("dropped a malformed frame from the coordinator: \(error)")
                        continue
                    }
                    for message in messages {
                        switch message {
                        case .welcome(let welcome):
                            if !session.registered {
                                logger.info("registered with coordinator of sweep '\(welcome.sweep)' (\(welcome.fingerprint)) at \(options.connect)")
                            }
                            session.registered = true
                            session.fingerprint = welcome.fingerprint
                            session.coordinatorTimeout = welcome.workerTimeout
                            let dropped = results.welcomed(by: welcome.fingerprint)
                            if dropped > 0 {
                                logger.warning("dropped \(dropped) result(s) of another sweep: this coordinator runs \(welcome.fingerprint)")
                            }
                            results.send(on: dealer)
                        case .task(let task):
                            guard task.sweep == session.fingerprint else {
                                logger.warning("dropped task \(task.taskID) of sweep \(task.sweep.prefix(32)): registered with \(session.fingerprint ?? "none")")
                                continue
                            }
                            inbox.push(task)
                        case .ack(let ack):
                            results.settle(ack.taskIDs)
                        case .register(let register):
                            logger.info("coordinator asks this worker to register: \(register.reason)")
                            session.registered = false
                            session.lastSent = 0  // say hello at once
                        case .heartbeat:
                            break
                        case .shutdown(let shutdown):
                            let held = inbox.close()
                            if !held.isEmpty { send(.bye(Bye(reason: shutdown.reason, taskIDs: held)), on: dealer) }
                            logger.info("coordinator says: \(shutdown.reason)")
                            return .finished(reason: shutdown.reason)
                        case .reject(let reject):
                            logger.error("coordinator refused this worker: \(reject.reason)")
                            return .rejected(reason: reject.reason)
                        case .hello, .result, .taskFailed, .bye:
                            logger.warning("dropped a worker-only message from the coordinator")
                        }
                    }
                }
            }
            if let exit = keepAlive(&session, dealer: dealer, now: now) { return exit }
        }
    }

    // MARK: Liveness

    private struct Session {
        var registered = false
        /// The sweep of the coordinator that welcomed this worker.
        var fingerprint: String?
        var lastHeard: Double
        var lastSent = 0.0
        var lastNotice: Double
        var coordinatorTimeout: Double

        init(options: WorkerOptions, now: Double) {
            lastHeard = now
            lastNotice = now
            coordinatorTimeout = max(5 * options.heartbeatInterval, 3)
        }
    }

    private func keepAlive(_ session: inout Session, dealer: Socket, now: Double) -> WorkerExit? {
        if session.registered && now - session.lastHeard > session.coordinatorTimeout {
            session.registered = false
            logger.warning("coordinator at \(options.connect) silent for \(Int(now - session.lastHeard)) s; trying to register again")
        }
        if !session.registered {
            let silent = now - session.lastHeard
            if silent > options.reconnectTimeout {
                if refusal.event.withLock({ $0 }) != nil {
                    logger.error("\(Self.refusedText) by the coordinator at \(options.connect) for \(Int(silent)) s; giving up")
                    return .rejected(reason: Self.refusedText)
                }
                logger.error("no coordinator at \(options.connect) for \(Int(silent)) s; giving up")
                return .coordinatorLost(seconds: silent)
            }
            if now - session.lastNotice >= 10 {
                session.lastNotice = now
                let what = refusal.event.withLock({ $0 }) != nil ? Self.refusedText : "no answer from a coordinator"
                logger.notice("\(what) at \(options.connect) for \(Int(silent)) s; still retrying (giving up after \(Int(options.reconnectTimeout)) s)")
            }
        }
        if now - session.lastSent >= options.heartbeatInterval || (!session.registered && session.lastSent == 0) {
            session.lastSent = now
            if session.registered {
                send(.heartbeat(Heartbeat(sentAt: now)), on: dealer)
            } else {
                send(.hello(hello()), on: dealer)
            }
        }
        return nil
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
                let out = try Socket(context, type: .pair)
                try out.connect(pipe)
                while let task = inbox.take() {
                    let started = Self.now()
                    let message: Message
                    do {
                        let spec = try task.spec.runSpec()
                        try spec.checkFitsInMemory()
                        let report = try compute(spec)
                        message = .result(TaskResult(
                            sweep: task.sweep, taskID: task.taskID, attempt: task.attempt, report: WireReport(report),
                            startedAt: started, finishedAt: Self.now()))
                    } catch {
                        message = .taskFailed(TaskFailure(
                            sweep: task.sweep, taskID: task.taskID, attempt: task.attempt, reason: "\(error)"))
                    }
                    let frame: [UInt8]
                    do {
                        if case .result(let result) = message {
                            frame = try result.encodedFrame()  // a long trajectory thinned to fit
                        } else {
                            frame = try message.encoded()
                        }
                    } catch {
                        // Too large even without a trajectory: the task's own failure, said as such.
                        frame = try Message.taskFailed(TaskFailure(
                            sweep: task.sweep, taskID: task.taskID, attempt: task.attempt,
                            reason: "its result cannot be sent: \(error)")).encoded()
                    }
                    inbox.finished()
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

/// Finished results not yet acknowledged by the coordinator, in the order they finished.
/// Sent once per registration; sent again after the next `welcome` until acknowledged.
private struct Unsettled {
    private var entries: [(taskID: Int, sweep: String, frame: [UInt8])] = []
    private var sentCount = 0

    mutating func add(taskID: Int, sweep: String, frame: [UInt8]) {
        entries.append((taskID, sweep, frame))
    }

    /// A (new) coordinator welcomed us: everything goes again, except another sweep's results.
    /// - Returns: how many were dropped as another sweep's.
    mutating func welcomed(by fingerprint: String) -> Int {
        let before = entries.count
        entries.removeAll { $0.sweep != fingerprint }
        sentCount = 0
        return before - entries.count
    }

    mutating func settle(_ taskIDs: [Int]) {
        let settled = Set(taskIDs)
        var kept: [(taskID: Int, sweep: String, frame: [UInt8])] = []
        var sent = 0
        for (index, entry) in entries.enumerated() where !settled.contains(entry.taskID) {
            kept.append(entry)
            if index < sentCount { sent += 1 }
        }
        entries = kept
        sentCount = sent
    }

    /// Sends what has not gone out since the last registration, up to 256 results a frame
    /// (a batch); stops at the first refusal (no connection yet: ZMQ_IMMEDIATE).
    mutating func send(on dealer: Socket) {
        while sentCount < entries.count {
            let chunk = entries[sentCount..<min(entries.count, sentCount + 256)]
            var frames: [[UInt8]] = []
            var batcher = FrameBatcher()
            for entry in chunk {
                do {
                    try batcher.add(frame: entry.frame)
                } catch {
                    // A result within a few bytes of the frame limit travels alone.
                    frames += batcher.frames()
                    frames.append(entry.frame)
                }
            }
            frames += batcher.frames()
            do {
                for frame in frames { try dealer.send([frame], dontWait: true) }
                sentCount += chunk.count
            } catch {
                return
            }
        }
    }
}
