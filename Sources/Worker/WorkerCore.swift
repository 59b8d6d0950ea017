public import Logging
public import SweepProtocol

/// The worker's decisions as a value: when to say hello, heartbeat or give up, what to run, which
/// results to send and when to forget them, when to leave. It takes an event and the time and
/// returns commands; `Worker` is the driver that owns the sockets, the compute thread and the
/// clock, so the protocol's worker side is tested in-process (`WorkerCoreTests`).
public struct WorkerCore: Sendable {
    public enum Event: Sendable {
        /// A message from the coordinator (the DEALER's frames).
        case received([[UInt8]])
        /// The compute thread finished `taskID`: its encoded `result` or `task_failed` frame.
        case computed(taskID: Int, sweep: String, frame: [UInt8])
        /// Every frame of the last `sendResults` went out.
        case resultsSent(taskIDs: [Int])
        /// Send what results are due (after the compute thread's output was read).
        case flush
        /// The loop turned: liveness. `refused`: the last CURVE handshake was refused.
        case tick(refused: Bool)
        /// A stop was requested (SIGTERM).
        case stopRequested
        /// The compute thread stopped on an error.
        case computeFailed(String)
    }

    public enum Command: Sendable, Equatable {
        case send(Message)
        /// Results (batched); if all frames go out, answer `resultsSent` (else they go again later).
        case sendResults(frames: [[UInt8]], taskIDs: [Int])
        /// Hand the task to the compute thread.
        case run(TaskAssignment)
        /// The compute thread takes no further task (it finishes the one it runs).
        case closeInbox
        case log(Logger.Level, String)
        /// Leave the loop with this exit.
        case exit(WorkerExit)
    }

    public let options: WorkerOptions
    /// What this worker says in every hello.
    public let hello: Hello
    public private(set) var registered = false
    /// The sweep of the coordinator that welcomed this worker.
    public private(set) var fingerprint: String?
    /// The token of the last `welcome`: carried by every later message, and by the hello that
    /// resumes the session on a new connection.
    public private(set) var session: String?
    /// Tasks handed to the compute thread and not finished, in the order they were given.
    public private(set) var held: [Int] = []
    var lastHeard: Double
    var lastSent = 0.0
    var lastNotice: Double
    var coordinatorTimeout: Double
    var results = Unsettled()
    private var out: [Command] = []

    public init(options: WorkerOptions, hello: Hello, now: Double) {
        self.options = options
        self.hello = hello
        lastHeard = now
        lastNotice = now
        coordinatorTimeout = max(5 * options.heartbeatInterval, 3)
    }

    /// Results finished and not yet acknowledged.
    public var unsettled: [Int] { results.taskIDs }

    public mutating func handle(_ event: Event, now: Double) -> [Command] {
        switch event {
        case .received(let frames): receive(frames, now: now)
        case .computed(let taskID, let sweep, let frame):
            held.removeAll { $0 == taskID }
            results.add(taskID: taskID, sweep: sweep, frame: frame)
        case .resultsSent(let taskIDs):
            results.sent(taskIDs)
            sendResults()
        case .flush:
            // Results go only to a coordinator that welcomed this worker, so they are recorded
            // with their provenance; until it acknowledges them they are kept for a resend.
            if registered { sendResults() }
        case .tick(let refused): keepAlive(now: now, refused: refused)
        case .stopRequested:
            leave(bye: "stopped by signal")
            log(.info, "stopping: handed back \(handedBack) task(s)")
            out.append(.exit(.stopped))
        case .computeFailed(let failure):
            // A node's pool says in its own words why it stops (its processes keep dying).
            let reason = options.processes == nil ? "compute thread failed: \(failure)" : failure
            leave(bye: reason)
            log(.error, "\(reason); stopped taking tasks and handed back \(handedBack) task(s)")
            out.append(.exit(.computeFailed(reason: failure)))
        }
        let commands = out
        out = []
        return commands
    }

    /// The count of the last bye's tasks.
    private var handedBack = 0

    /// Closes the inbox, sends the unsettled results (when registered) and a bye with every held task.
    private mutating func leave(bye reason: String) {
        out.append(.closeInbox)
        if registered { sendResults() }
        handedBack = held.count
        out.append(.send(.bye(Bye(reason: reason, taskIDs: held, session: session ?? ""))))
    }

    private mutating func receive(_ frames: [[UInt8]], now: Double) {
        lastHeard = now
        guard frames.count == 1 else {
            log(.warning, "dropped a message of \(frames.count) frames from the coordinator")
            return
        }
        let messages: [Message]
        do {
            messages = try Message.decodeAll(frames[0])
        } catch {
            if ["task", "batch"].contains(Message.headerKind(frames[0])) {
                // A task this worker cannot read would sit here while it heartbeats.
                out.append(.closeInbox)
                out.append(.send(.bye(Bye(reason: "cannot decode a task: \(error)", taskIDs: held, session: session ?? ""))))
                log(.error, "cannot decode a task from the coordinator: \(error)")
                out.append(.exit(.protocolError(reason: "\(error)")))
                return
            }
            log(.warning, "dropped a malformed frame from the coordinator: \(error)")
            return
        }
        for message in messages {
            switch message {
            case .welcome(let welcome):
                if !registered {
                    log(.info, "registered with coordinator of sweep '\(welcome.sweep)' (\(welcome.fingerprint)) at \(options.connect)")
                }
                if let processes = options.processes, welcome.prefetch < processes, !registered {
                    log(.warning, "the coordinator grants \(welcome.prefetch) tasks of credit (its --max-prefetch), fewer than this node's \(processes) compute processes: \(processes - welcome.prefetch) will idle")
                }
                registered = true
                fingerprint = welcome.fingerprint
                session = welcome.session
                coordinatorTimeout = welcome.workerTimeout
                let dropped = results.welcomed(by: welcome.fingerprint)
                if dropped > 0 {
                    log(.warning, "dropped \(dropped) result(s) of another sweep: this coordinator runs \(welcome.fingerprint)")
                }
                sendResults()
            case .task(let task):
                guard task.sweep == fingerprint else {
                    log(.warning, "dropped task \(task.taskID) of sweep \(task.sweep.prefix(32)): registered with \(fingerprint ?? "none")")
                    continue
                }
                if !held.contains(task.taskID) { held.append(task.taskID) }
                out.append(.run(task))
            case .ack(let ack):
                results.settle(ack.taskIDs)
            case .register(let register):
                log(.info, "coordinator asks this worker to register: \(register.reason)")
                registered = false
                lastSent = 0  // say hello at once
            case .heartbeat:
                break
            case .shutdown(let shutdown):
                out.append(.closeInbox)
                if !held.isEmpty {
                    out.append(.send(.bye(Bye(reason: shutdown.reason, taskIDs: held, session: session ?? ""))))
                }
                log(.info, "coordinator says: \(shutdown.reason)")
                out.append(.exit(.finished(reason: shutdown.reason)))
                return
            case .reject(let reject):
                log(.error, "coordinator refused this worker: \(reject.reason)")
                out.append(.exit(.rejected(reason: reject.reason)))
                return
            case .hello, .result, .taskFailed, .bye:
                log(.warning, "dropped a worker-only message from the coordinator")
            }
        }
    }

    // MARK: Liveness

    private mutating func keepAlive(now: Double, refused: Bool) {
        if registered && now - lastHeard > coordinatorTimeout {
            registered = false
            log(.warning, "coordinator at \(options.connect) silent for \(Int(now - lastHeard)) s; trying to register again")
        }
        if !registered {
            let silent = now - lastHeard
            if silent > options.reconnectTimeout {
                if refused {
                    log(.error, "\(Self.refusedText) by the coordinator at \(options.connect) for \(Int(silent)) s; giving up")
                    out.append(.exit(.rejected(reason: Self.refusedText)))
                    return
                }
                log(.error, "no coordinator at \(options.connect) for \(Int(silent)) s; giving up")
                out.append(.exit(.coordinatorLost(seconds: silent)))
                return
            }
            if now - lastNotice >= 10 {
                lastNotice = now
                let what = refused ? Self.refusedText : "no answer from a coordinator"
                log(.notice, "\(what) at \(options.connect) for \(Int(silent)) s; still retrying (giving up after \(Int(options.reconnectTimeout)) s)")
            }
        }
        if now - lastSent >= options.heartbeatInterval || (!registered && lastSent == 0) {
            lastSent = now
            var hello = hello
            hello.session = session
            out.append(.send(registered ? .heartbeat(Heartbeat(sentAt: now, session: session ?? "")) : .hello(hello)))
        }
    }

    static let refusedText = "handshake refused (wrong server key or unauthorized client key)"

    // MARK: Emitting

    private mutating func log(_ level: Logger.Level, _ message: String) { out.append(.log(level, message)) }

    /// The next results not sent since the last registration, up to 256 a frame batch.
    private mutating func sendResults() {
        guard let (frames, taskIDs) = results.nextChunk(session: session ?? "") else { return }
        out.append(.sendResults(frames: frames, taskIDs: taskIDs))
    }
}

/// Finished results not yet acknowledged by the coordinator, in the order they finished.
/// Sent once per registration; sent again after the next `welcome` until acknowledged.
struct Unsettled: Sendable {
    private var entries: [(taskID: Int, sweep: String, frame: [UInt8], sent: Bool)] = []

    var taskIDs: [Int] { entries.map(\.taskID) }

    mutating func add(taskID: Int, sweep: String, frame: [UInt8]) {
        entries.append((taskID, sweep, frame, false))
    }

    /// A (new) coordinator welcomed us: everything goes again, except another sweep's results.
    /// - Returns: how many were dropped as another sweep's.
    mutating func welcomed(by fingerprint: String) -> Int {
        let before = entries.count
        entries.removeAll { $0.sweep != fingerprint }
        for i in entries.indices { entries[i].sent = false }
        return before - entries.count
    }

    mutating func settle(_ taskIDs: [Int]) {
        let settled = Set(taskIDs)
        entries.removeAll { settled.contains($0.taskID) }
    }

    mutating func sent(_ taskIDs: [Int]) {
        let sent = Set(taskIDs)
        for i in entries.indices where sent.contains(entries[i].taskID) { entries[i].sent = true }
    }

    /// Up to 256 unsent results under `session`, batched into as few frames as fit (a result
    /// within a few bytes of the frame limit travels alone); nil when everything went out.
    func nextChunk(session: String) -> (frames: [[UInt8]], taskIDs: [Int])? {
        let chunk = entries.lazy.filter { !$0.sent }.prefix(256)
        guard !chunk.isEmpty else { return nil }
        var frames: [[UInt8]] = []
        var batcher = FrameBatcher()
        for entry in chunk {
            // A token no longer than the one the frame was sized with keeps it within the limit.
            let frame = (try? Message.stamping(entry.frame, session: session)) ?? entry.frame
            do {
                try batcher.add(frame: frame)
            } catch {
                frames += batcher.frames()
                frames.append(frame)
            }
        }
        frames += batcher.frames()
        return (frames, chunk.map(\.taskID))
    }
}
