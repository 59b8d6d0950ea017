/// What a node worker does when one of its compute processes dies: the decision as a value,
/// tested in-process (`ProcessDeathsTests`); `ComputePool` carries it out.
///
/// A death costs only its own task, run again on a fresh process, counting against nothing.
/// A task that has killed `taskLimit` processes while the node is otherwise healthy is the
/// likely cause (it runs out of memory): it is answered with `task_failed`, its own failure.
/// `crashLimit` deaths in a row with no task finishing between them mean the node itself is
/// broken (no memory, a missing or broken binary): the node worker says why, hands every task
/// back and stops.
struct ProcessDeaths: Sendable {
    enum Decision: Sendable, Equatable {
        /// Run the task again on a fresh process.
        case retry
        /// Answer the task with `task_failed` for this reason.
        case failTask(reason: String)
        /// Stop taking tasks: hand them all back, for this reason.
        case crashLoop(reason: String)
    }

    static let taskLimit = 2
    let crashLimit: Int
    private(set) var inARow = 0
    private var taskDeaths: [Int: Int] = [:]
    /// The last deaths in a row, for the crash-loop message.
    private var recent: [String] = []

    init(processes: Int) {
        crashLimit = max(3, processes)
    }

    /// A compute process ended with `how` (e.g. "killed by signal 9 (SIGKILL)") while it ran
    /// `taskID`, or before it got one (nil: it could not start, or died idle).
    mutating func died(running taskID: Int?, how: String) -> Decision {
        inARow += 1
        recent.append(taskID.map { "task \($0): \(how)" } ?? how)
        if recent.count > 3 { recent.removeFirst() }
        if inARow >= crashLimit {
            return .crashLoop(reason: "\(inARow) compute processes died in a row without finishing a task (the last: \(recent.joined(separator: "; ")))")
        }
        guard let taskID else { return .retry }
        taskDeaths[taskID, default: 0] += 1
        if taskDeaths[taskID]! >= Self.taskLimit {
            taskDeaths[taskID] = nil
            return .failTask(reason: "it killed \(Self.taskLimit) compute processes (the last \(how))")
        }
        return .retry
    }

    /// A task finished on this node: the node works.
    mutating func finished(_ taskID: Int) {
        inARow = 0
        recent.removeAll()
        taskDeaths[taskID] = nil
    }

    /// How long to wait before starting the next process: longer while they keep dying.
    var backoffSeconds: Double { min(2, 0.1 * Double(inARow)) }

    /// A `waitpid` status in words, with the usual cause of SIGKILL.
    static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        let name = signalNames[signal].map { " (\($0))" } ?? ""
        let hint = signal == 9 ? ": killed, often by the out-of-memory killer" : ""
        return "killed by signal \(signal)\(name)\(hint)"
    }

    private static let signalNames: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL",
        11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ",
    ]
}
