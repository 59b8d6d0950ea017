/// What a node worker does when one of its compute processes dies: the decision as a value,
/// tested in-process (`ProcessDeathsTests`); `ComputePool` carries it out.
///
/// A death costs only its own task, run again on a fresh process, counting against nothing.
/// A task that has killed `taskLimit` processes while other tasks finished on the node (so the
/// node works) is the likely cause, e.g. it runs out of memory: it is answered with
/// `task_failed`, its own failure. `crashLimit` deaths in a row with no task finishing between
/// them mean the node itself is broken (no memory, a missing or broken binary, something
/// killing processes): the node worker says why, hands every task back and stops.
public struct ProcessDeaths: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Run the task again on a fresh process.
        case retry
        /// Answer the task with `task_failed` for this reason.
        case failTask(reason: String)
        /// Stop taking tasks: hand them all back, for this reason.
        case crashLoop(reason: String)
    }

    public static let taskLimit = 2
    /// Deaths in a row that stop the node: at least 3, and one per compute process.
    public let crashLimit: Int
    /// Deaths since a task last finished.
    public private(set) var inARow = 0
    private var finishedCount = 0
    /// Per task that killed a process: its deaths, and `finishedCount` at the first.
    private var taskDeaths: [Int: (count: Int, finishedBefore: Int)] = [:]
    /// The last deaths in a row, for the crash-loop message.
    private var recent: [String] = []

    public init(processes: Int) {
        crashLimit = max(3, processes)
    }

    /// A compute process ended (`how`, e.g. "killed by signal 9 (SIGKILL)") while it ran
    /// `taskID`, or before it got one (nil: it could not start, or died idle).
    public mutating func died(running taskID: Int?, how: String) -> Decision {
        inARow += 1
        recent.append("process " + how + (taskID.map { " running task \($0)" } ?? ""))
        if recent.count > 3 { recent.removeFirst() }
        if inARow >= crashLimit {
            return .crashLoop(reason: "\(inARow) compute processes died in a row without a task finishing (the last: \(recent.joined(separator: "; ")))")
        }
        guard let taskID else { return .retry }
        var deaths = taskDeaths[taskID] ?? (0, finishedCount)
        deaths.count += 1
        taskDeaths[taskID] = deaths
        if deaths.count >= Self.taskLimit && finishedCount > deaths.finishedBefore {
            taskDeaths[taskID] = nil
            return .failTask(reason: "it killed \(deaths.count) compute processes while other tasks finished on this node (the last \(how))")
        }
        return .retry
    }

    /// A task finished on this node: the node works.
    public mutating func finished(_ taskID: Int) {
        inARow = 0
        finishedCount += 1
        recent.removeAll()
        taskDeaths[taskID] = nil
    }

    /// How long to wait before starting the next process: longer while they keep dying.
    public var backoffSeconds: Double { min(2, 0.1 * Double(inARow)) }

    /// A `waitpid` status in words, with the usual cause of SIGKILL.
    public static func describe(status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        let hint = signal == 9 ? ", as the out-of-memory killer sends" : ""
        let name = signalNames[signal].map { " (\($0)\(hint))" } ?? ""
        return "killed by signal \(signal)\(name)"
    }

    private static let signalNames: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL",
        11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ",
    ]
}
