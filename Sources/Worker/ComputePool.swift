import Foundation
import Logging
import SweepProtocol
import Synchronization
import ZeroMQ

/// A node worker's compute processes: `processes` children (`dlsweep compute-process`), each
/// fed one task at a time over a pair of pipes by a thread of its own, which hands the answer
/// to the socket thread exactly as the single worker's compute thread does. A child that dies
/// costs only the task it ran (`ProcessDeaths` decides what happens to it).
final class ComputePool: Sendable {
    private let command: [String]
    private let inbox: TaskInbox
    private let context: Context
    /// The socket thread's inproc PULL endpoint, where answers go.
    private let answers: String
    private let logger: Logger
    private let processes: Int
    private let deaths: Mutex<ProcessDeaths>
    /// The live children's pids, to end them when the worker stops.
    private let children = Mutex<Set<pid_t>>([])

    init(processes: Int, command: [String], inbox: TaskInbox, context: Context, pipe: String, logger: Logger) {
        self.processes = processes
        self.command = command
        self.inbox = inbox
        self.context = context
        answers = pipe
        self.logger = logger
        deaths = Mutex(ProcessDeaths(processes: processes))
        // A child gone mid-write must be an error of that write, not the end of this process.
        signal(SIGPIPE, SIG_IGN)
    }

    func start() {
        for slot in 0..<processes {
            let thread = Thread { [self] in feed(slot: slot) }
            thread.name = "dlsweep-feed-\(slot)"
            thread.start()
        }
    }

    /// Ends every child (their tasks were handed back or will be re-run by the coordinator).
    func stop() {
        _ = inbox.close()
        for pid in children.withLock({ $0 }) { kill(pid, SIGKILL) }
    }

    // MARK: One slot

    private func feed(slot: Int) {
        let out: Socket
        do {
            out = try Socket(context, type: .push)
            try out.connect(answers)
        } catch {
            inbox.fail("cannot reach the socket thread: \(error)")
            return
        }
        var child: Child?
        defer { if let child { end(child) } }
        while !inbox.isClosed {
            if child == nil {
                do {
                    child = try spawn()
                } catch {
                    if !handleDeath(of: nil, how: "could not start `\(command.joined(separator: " "))`: \(error)", out: out) {
                        return
                    }
                    continue
                }
            }
            guard let running = child, let task = inbox.take() else { return }
            let answer: [UInt8]?
            do {
                try PipeFrames.write(try Message.task(task).encoded(), to: running.input)
                answer = try PipeFrames.read(from: running.output)
            } catch {
                logger.debug("compute process \(running.pid): \(error)")
                answer = nil
            }
            if let answer {
                deaths.withLock { $0.finished(task.taskID) }
                inbox.finished(task.taskID)
                do {
                    try out.send([Array(String(task.taskID).utf8), Array(task.sweep.utf8), answer])
                } catch {
                    return  // the context is gone: the worker is stopping
                }
                continue
            }
            let how = end(running)
            child = nil
            if inbox.isClosed { return }  // stopping: the coordinator has the task back
            if !handleDeath(of: task, how: how, out: out) { return }
        }
    }

    /// Carries out the decision on a death; false when this slot must stop.
    private func handleDeath(of task: TaskAssignment?, how: String, out: Socket) -> Bool {
        let (decision, backoff) = deaths.withLock { ($0.died(running: task?.taskID, how: how), $0.backoffSeconds) }
        switch decision {
        case .retry:
            if let task {
                logger.warning("compute process \(how) while running task \(task.taskID); the task runs again on a new process (not counted as a failure)")
                inbox.retry(task)
            } else {
                logger.warning("compute process \(how); starting another")
            }
        case .failTask(let reason):
            guard let task else { return true }
            logger.error("task \(task.taskID) failed: \(reason)")
            inbox.finished(task.taskID)
            do {
                try out.send([Array(String(task.taskID).utf8), Array(task.sweep.utf8),
                              try TaskAnswer.failure(of: task, reason: reason)])
            } catch {
                return false
            }
        case .crashLoop(let reason):
            if let task { inbox.retry(task) }
            inbox.fail("compute processes keep dying: \(reason)")
            return false
        }
        Thread.sleep(forTimeInterval: backoff)
        return true
    }

    // MARK: Children

    private struct Child {
        let pid: pid_t
        /// Tasks go in here (the child's stdin).
        let input: Int32
        /// Answers come out of here (the child's stdout).
        let output: Int32
    }

    private struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    /// Held from making a child's pipes until it is started: a child started meanwhile by
    /// another slot would inherit them before they are close-on-exec, and hold a pipe open
    /// after its real owner died (so the death would go unseen).
    private static let spawning = NSLock()

    private func spawn() throws(SpawnError) -> Child {
        Self.spawning.lock()
        defer { Self.spawning.unlock() }
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        guard pipe(&toChild) == 0 else { throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&fromChild) == 0 else {
            close(toChild[0]); close(toChild[1])
            throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))")
        }
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Signals this process ignores (SIGTERM, SIGINT: it handles them itself; SIGPIPE) would
        // stay ignored across exec: the child gets the defaults and an empty mask.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let arguments: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, command[0], &actions, &attributes, arguments, environ)
        close(toChild[0])
        close(fromChild[1])
        guard status == 0 else {
            close(toChild[1]); close(fromChild[0])
            throw SpawnError(description: String(cString: strerror(status)))
        }
        children.withLock { _ = $0.insert(pid) }
        logger.debug("compute process \(pid) started")
        return Child(pid: pid, input: toChild[1], output: fromChild[0])
    }

    /// Closes the child's pipes (a live child then exits), reaps it and says how it ended.
    @discardableResult
    private func end(_ child: Child) -> String {
        close(child.input)
        close(child.output)
        if inbox.isClosed { kill(child.pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        children.withLock { _ = $0.remove(child.pid) }
        return "\(child.pid) " + ProcessDeaths.describe(status: status)
    }
}
