import SweepProtocol
import Testing
import TrainingCore
import Worker

/// The worker's side of the protocol, in-process on events and commands: no socket, no compute
/// thread, no process, no log text.
@Suite struct WorkerCoreTests {
    static let start = 1_800_000_000.0
    static let hello = Hello(protocolVersion: Int(protocolVersion), workerID: "w-1", host: "h", pid: 1, cores: 2,
                             blasThreads: 1, capabilities: ["gd"], prefetch: 2)

    static func core(heartbeat: Double = 1, reconnectTimeout: Double = 600) -> WorkerCore {
        var options = WorkerOptions(connect: "tcp://127.0.0.1:5555")
        options.heartbeatInterval = heartbeat
        options.reconnectTimeout = reconnectTimeout
        return WorkerCore(options: options, hello: hello, now: start)
    }

    /// The messages as the coordinator sends them: one frame, a batch when more than one
    /// (only tasks travel in batches).
    static func frames(_ messages: Message...) -> [[UInt8]] {
        guard messages.count > 1 else { return messages.map { try! $0.encoded() } }
        var batcher = FrameBatcher()
        for message in messages { try! batcher.add(frame: message.encoded()) }
        return batcher.frames()
    }

    static func welcome(_ fingerprint: String = "f", timeout: Double = 10) -> Message {
        .welcome(Welcome(sweep: "s", fingerprint: fingerprint, heartbeatInterval: 1, workerTimeout: timeout, prefetch: 2,
                         session: "5e55"))
    }

    /// The hello after the welcome: with the session's token.
    static var resuming: Hello {
        var hello = hello
        hello.session = "5e55"
        return hello
    }

    static func task(_ id: Int, sweep: String = "f") -> TaskAssignment {
        TaskAssignment(sweep: sweep, taskID: id, attempt: 1, spec: WireSpec(RunSpec()))
    }

    static func resultFrame(_ id: Int, sweep: String = "f") -> [UInt8] {
        try! Message.taskFailed(TaskFailure(sweep: sweep, taskID: id, attempt: 1, reason: "x")).encoded()
    }

    func sent(_ commands: [WorkerCore.Command]) -> [Message] {
        commands.compactMap { if case .send(let message) = $0 { message } else { nil } }
    }

    func exit(_ commands: [WorkerCore.Command]) -> WorkerExit? {
        commands.lazy.compactMap { if case .exit(let exit) = $0 { exit } else { nil } }.first
    }

    func resultTaskIDs(_ commands: [WorkerCore.Command]) -> [Int] {
        commands.flatMap { command -> [Int] in if case .sendResults(_, let ids) = command { ids } else { [] } }
    }

    @Test("it says hello at once and again every heartbeat until welcomed; then heartbeats")
    func helloThenHeartbeat() {
        var core = Self.core()
        #expect(sent(core.handle(.tick(refused: false), now: Self.start)) == [.hello(Self.hello)])
        #expect(sent(core.handle(.tick(refused: false), now: Self.start + 0.5)).isEmpty)
        #expect(sent(core.handle(.tick(refused: false), now: Self.start + 1)) == [.hello(Self.hello)])
        _ = core.handle(.received(Self.frames(Self.welcome())), now: Self.start + 1.1)
        #expect(core.registered && core.fingerprint == "f")
        #expect(sent(core.handle(.tick(refused: false), now: Self.start + 2)) == [.heartbeat(Heartbeat(sentAt: Self.start + 2, session: "5e55"))])
    }

    @Test("tasks of its sweep go to the compute thread; another sweep's are dropped")
    func tasks() {
        var core = Self.core()
        _ = core.handle(.received(Self.frames(Self.welcome())), now: Self.start)
        let out = core.handle(.received(Self.frames(.task(Self.task(1)), .task(Self.task(2, sweep: "other")))),
                              now: Self.start)
        #expect(out.filter { if case .run = $0 { true } else { false } } == [.run(Self.task(1))])
        #expect(core.held == [1])
    }

    @Test("results go only once welcomed, once per registration, until acknowledged")
    func results() {
        var core = Self.core()
        _ = core.handle(.computed(taskID: 1, sweep: "f", frame: Self.resultFrame(1)), now: Self.start)
        #expect(resultTaskIDs(core.handle(.flush, now: Self.start)).isEmpty)  // not registered
        let welcomed = core.handle(.received(Self.frames(Self.welcome())), now: Self.start)
        #expect(resultTaskIDs(welcomed) == [1])
        _ = core.handle(.resultsSent(taskIDs: [1]), now: Self.start)
        #expect(resultTaskIDs(core.handle(.flush, now: Self.start)).isEmpty)  // sent, not yet settled
        // Welcomed again (a coordinator restarted): unsettled results go again.
        #expect(resultTaskIDs(core.handle(.received(Self.frames(Self.welcome())), now: Self.start)) == [1])
        _ = core.handle(.received(Self.frames(.ack(Ack(taskIDs: [1])))), now: Self.start)
        #expect(core.unsettled.isEmpty)
        #expect(resultTaskIDs(core.handle(.received(Self.frames(Self.welcome())), now: Self.start)).isEmpty)
    }

    @Test("every answer carries the session of the last welcome: a kept result is stamped again for a new session")
    func answersCarryTheSession() throws {
        func sessions(_ commands: [WorkerCore.Command]) throws -> [String?] {
            try commands.flatMap { command -> [String?] in
                guard case .sendResults(let frames, _) = command else { return [] }
                return try frames.flatMap { try Message.decodeAll($0).map(\.session) }
            }
        }
        var core = Self.core()
        _ = core.handle(.computed(taskID: 1, sweep: "f", frame: Self.resultFrame(1)), now: Self.start)
        #expect(try sessions(core.handle(.received(Self.frames(Self.welcome())), now: Self.start)) == ["5e55"])
        // A restarted coordinator's welcome, with its own token.
        let next = Message.welcome(Welcome(sweep: "s", fingerprint: "f", heartbeatInterval: 1, workerTimeout: 10,
                                           prefetch: 2, session: "0ther"))
        #expect(try sessions(core.handle(.received(Self.frames(next)), now: Self.start)) == ["0ther"])
        #expect(sent(core.handle(.tick(refused: false), now: Self.start + 1)) == [.heartbeat(Heartbeat(sentAt: Self.start + 1, session: "0ther"))])
    }

    @Test("a result whose frames did not go out is sent again on the next flush")
    func unsentGoesAgain() {
        var core = Self.core()
        _ = core.handle(.received(Self.frames(Self.welcome())), now: Self.start)
        _ = core.handle(.computed(taskID: 3, sweep: "f", frame: Self.resultFrame(3)), now: Self.start)
        #expect(resultTaskIDs(core.handle(.flush, now: Self.start)) == [3])
        #expect(resultTaskIDs(core.handle(.flush, now: Self.start)) == [3])  // no resultsSent came back
    }

    @Test("a coordinator of another sweep gets none of the last one's results")
    func otherSweepResultsDropped() {
        var core = Self.core()
        _ = core.handle(.computed(taskID: 1, sweep: "old", frame: Self.resultFrame(1, sweep: "old")), now: Self.start)
        let out = core.handle(.received(Self.frames(Self.welcome("new"))), now: Self.start)
        #expect(resultTaskIDs(out).isEmpty && core.unsettled.isEmpty)
    }

    @Test("shutdown: the inbox closes, held tasks are handed back, the worker finishes")
    func shutdown() {
        var core = Self.core()
        _ = core.handle(.received(Self.frames(Self.welcome())), now: Self.start)
        _ = core.handle(.received(Self.frames(.task(Self.task(4)), .task(Self.task(5)))), now: Self.start)
        let out = core.handle(.received(Self.frames(.shutdown(Shutdown(reason: "sweep complete")))), now: Self.start)
        #expect(out.first == .closeInbox)
        #expect(sent(out) == [.bye(Bye(reason: "sweep complete", taskIDs: [4, 5], session: "5e55"))])
        #expect(exit(out) == .finished(reason: "sweep complete"))
        // Nothing held: no bye.
        var idle = Self.core()
        let quiet = idle.handle(.received(Self.frames(.shutdown(Shutdown(reason: "done")))), now: Self.start)
        #expect(sent(quiet).isEmpty && exit(quiet) == .finished(reason: "done"))
    }

    @Test("a reject ends the worker with the coordinator's reason")
    func rejected() {
        var core = Self.core()
        let out = core.handle(.received(Self.frames(.reject(Reject(reason: "old", coordinatorVersion: 6, peerVersion: 5)))),
                              now: Self.start)
        #expect(exit(out) == .rejected(reason: "old"))
    }

    @Test("register: the worker says hello again at once and sends no results until welcomed")
    func registerAgain() {
        var core = Self.core()
        _ = core.handle(.received(Self.frames(Self.welcome())), now: Self.start)
        _ = core.handle(.tick(refused: false), now: Self.start)
        _ = core.handle(.received(Self.frames(.register(Register(reason: "unknown connection")))), now: Self.start + 0.1)
        #expect(!core.registered)
        // The hello carries the session's token: the worker resumes its session, leases and all.
        #expect(sent(core.handle(.tick(refused: false), now: Self.start + 0.2)) == [.hello(Self.resuming)])
    }

    @Test("a silent coordinator: register again after its timeout, give up after --reconnect-timeout")
    func silentCoordinator() {
        var core = Self.core(reconnectTimeout: 30)
        _ = core.handle(.received(Self.frames(Self.welcome(timeout: 10))), now: Self.start)
        _ = core.handle(.tick(refused: false), now: Self.start + 10)
        #expect(core.registered)
        _ = core.handle(.tick(refused: false), now: Self.start + 10.5)
        #expect(!core.registered)
        #expect(sent(core.handle(.tick(refused: false), now: Self.start + 11)) == [.hello(Self.resuming)])
        #expect(exit(core.handle(.tick(refused: false), now: Self.start + 30)) == nil)
        #expect(exit(core.handle(.tick(refused: false), now: Self.start + 30.5)) == .coordinatorLost(seconds: 30.5))
    }

    @Test("never answered and the handshake refused: it gives up as rejected, naming the refusal")
    func refusedHandshake() {
        var core = Self.core(reconnectTimeout: 5)
        let out = core.handle(.tick(refused: true), now: Self.start + 6)
        #expect(exit(out) == .rejected(reason: "handshake refused (wrong server key or unauthorized client key)"))
    }

    @Test("a stop or a failed compute thread: results sent, held tasks handed back, then the exit")
    func stopping() {
        var core = Self.core()
        _ = core.handle(.received(Self.frames(Self.welcome())), now: Self.start)
        _ = core.handle(.received(Self.frames(.task(Self.task(7)), .task(Self.task(8)))), now: Self.start)
        _ = core.handle(.computed(taskID: 7, sweep: "f", frame: Self.resultFrame(7)), now: Self.start)
        let out = core.handle(.stopRequested, now: Self.start)
        #expect(out.first == .closeInbox && resultTaskIDs(out) == [7])
        #expect(sent(out) == [.bye(Bye(reason: "stopped by signal", taskIDs: [8], session: "5e55"))])
        #expect(exit(out) == .stopped)
        var failing = Self.core()
        let failed = failing.handle(.computeFailed("out of memory"), now: Self.start)
        #expect(sent(failed) == [.bye(Bye(reason: "compute thread failed: out of memory", taskIDs: []))])
        #expect(exit(failed) == .computeFailed(reason: "out of memory"))
    }

    @Test("an undecodable task frame: tasks handed back and a protocol error; other garbage is dropped")
    func undecodableTask() {
        var core = Self.core()
        _ = core.handle(.received(Self.frames(Self.welcome())), now: Self.start)
        _ = core.handle(.received(Self.frames(.task(Self.task(9)))), now: Self.start)
        var garbage = try! Message.task(Self.task(10)).encoded()
        garbage.removeLast(4)
        let out = core.handle(.received([garbage]), now: Self.start)
        #expect(out.first == .closeInbox)
        guard case .protocolError = exit(out) else {
            Issue.record("no protocol error: \(out)")
            return
        }
        guard case .bye(let bye) = sent(out).first else {
            Issue.record("no bye: \(out)")
            return
        }
        #expect(bye.taskIDs == [9] && bye.reason.hasPrefix("cannot decode a task: "))
        var other = Self.core()
        var heartbeat = try! Message.heartbeat(Heartbeat(sentAt: 1)).encoded()
        heartbeat.removeLast(2)
        #expect(exit(other.handle(.received([heartbeat]), now: Self.start)) == nil)
    }
}
