import Foundation
import SweepProtocol

/// How many worker connections this process can hold. Each TCP connection takes one file
/// descriptor of the coordinator's process (libzmq's `ZMQ_MAX_SOCKETS`, 1,023 per context by
/// default, counts sockets, not the connections of one ROUTER socket: the coordinator has a
/// handful), so the limit is the open-file limit, which `raise()` lifts from its soft value
/// (often 1,024 on clusters) to the hard one.
public struct ConnectionLimit: Sendable, Equatable {
    /// The soft RLIMIT_NOFILE found at start.
    public var softBefore: Int
    /// The soft limit now (the hard one, or below it if the kernel refused).
    public var soft: Int
    public var hard: Int
    /// Descriptors open when it was measured (libraries, the log, the store once opened).
    public var inUse: Int

    /// Kept free: the store (SQLite's database, WAL and shared memory), the live view's HTTP
    /// connections, and connections not registered yet or refused (open until their peer
    /// closes them). If libzmq cannot accept a connection for want of a descriptor it retries
    /// the accept over and over, so the limit stops registrations well before that.
    public var reserve: Int { max(64, soft / 20) }

    /// Workers that may register: one connection each.
    public var workers: Int { max(1, soft - inUse - reserve) }

    public init(softBefore: Int, soft: Int, hard: Int, inUse: Int) {
        self.softBefore = softBefore
        self.soft = soft
        self.hard = hard
        self.inUse = inUse
    }

    /// Raises this process's soft open-file limit to its hard limit (capped by the kernel's
    /// `fs.nr_open`) and measures the room that leaves.
    public static func raise() -> ConnectionLimit {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else {
            return ConnectionLimit(softBefore: 1024, soft: 1024, hard: 1024, inUse: openDescriptors())
        }
        let before = limit.rlim_cur
        var target = limit.rlim_max
        if let ceiling = (try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8))
            .flatMap({ rlim_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
            target = min(target, ceiling)
        }
        if target > before {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        func clamp(_ value: rlim_t) -> Int { Int(min(value, rlim_t(Int32.max))) }
        return ConnectionLimit(softBefore: clamp(before), soft: clamp(limit.rlim_cur), hard: clamp(limit.rlim_max),
                               inUse: openDescriptors())
    }

    /// One line for the log.
    public var summary: String {
        let raised = soft > softBefore ? "raised from \(softBefore) to \(soft)" : "\(soft)"
        let hardText = hard > soft ? " (hard limit \(hard), above the kernel's fs.nr_open)" : soft > softBefore ? "" : " (its hard limit)"
        return "open-file limit \(raised)\(hardText): room for \(workers) worker connections (\(inUse) descriptors in use, \(reserve) kept free)"
    }

    private static var resource: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }

    /// Entries of /proc/self/fd (the directory's own descriptor included: one spare).
    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }
}

extension CoordinatorCore {
    /// Refuses a hello that would register one worker beyond `--max-workers` (the connection
    /// limit): the worker is told why and exits; the registered ones are served as before.
    /// - Returns: true when refused.
    mutating func refusedAtConnectionLimit(_ hello: Hello, peer: [UInt8]) -> Bool {
        guard let limit = options.maxWorkers, dispatcher.workers[hello.workerID] == nil,
              dispatcher.workers.count >= limit else { return false }
        let reason = "the coordinator holds its limit of \(limit) worker connections (\(options.maxWorkersReason)); it keeps serving those; use node workers (dlsweep worker --processes auto) for one connection per node, or another coordinator"
        refusedAtLimit += 1
        if refusedAtLimit & (refusedAtLimit - 1) == 0 {
            log(.warning, "refused worker \(hello.workerID) from \(hello.host): at the limit of \(limit) worker connections (\(options.maxWorkersReason)); \(refusedAtLimit) refused so far")
        }
        send(.reject(Reject(reason: reason, coordinatorVersion: Int(protocolVersion), peerVersion: Int(protocolVersion))),
             to: peer)
        return true
    }
}
