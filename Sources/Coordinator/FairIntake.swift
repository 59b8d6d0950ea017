import SweepProtocol

/// What the coordinator holds of its peers' input between turns of its loop: the frames not yet
/// read (a peer's large batch is read a few entries per turn, peers in turn), the
/// acknowledgements and counts of the event being handled (one `ack` and one count per peer
/// and kind, however many entries), and which complaints were logged lately (once per peer,
/// reason and interval). One flooding peer then costs the others a few milliseconds, not
/// the time to read what it sent.
struct FairIntake: Sendable {
    /// A peer's frames not yet read, oldest first.
    struct Backlog: Sendable {
        var frames: [FrameEntries] = []
        var bytes = 0
    }

    var backlogs: [[UInt8]: Backlog] = [:]
    /// Peers with a backlog, in the order they are served.
    var order: [[UInt8]] = []
    var acks: [[UInt8]: [Int]] = [:]
    var ackOrder: [[UInt8]] = []
    var counts: [WireCounters.Counter: Int] = [:]
    /// A peer's complaint: its routing identity and a literal reason (cheap to hash per entry).
    struct Complaint: Hashable, Sendable {
        var peer: [UInt8]
        var reason: String
    }

    /// Per peer and reason: when it was last logged and how many were not logged since.
    var logged: [Complaint: (at: Double, silenced: Int)] = [:]
    /// The time of the event being handled.
    var now = 0.0

    var isEmpty: Bool { order.isEmpty }

    mutating func ack(_ taskID: Int, to peer: [UInt8]) {
        if acks[peer] == nil { ackOrder.append(peer) }
        acks[peer, default: []].append(taskID)
    }

    /// The acknowledgements gathered, one message per peer, in the order the peers came.
    mutating func takeAcks() -> [(peer: [UInt8], taskIDs: [Int])] {
        defer {
            acks.removeAll(keepingCapacity: true)
            ackOrder.removeAll(keepingCapacity: true)
        }
        return ackOrder.map { ($0, acks[$0] ?? []) }
    }

    /// Whether a complaint keyed `key` is logged at `now`, and how many like it were not since
    /// the last one; at most one per `interval`.
    mutating func shouldLog(_ key: Complaint, now: Double, interval: Double) -> (log: Bool, silenced: Int) {
        if let last = logged[key], now - last.at < interval {
            logged[key]?.silenced += 1
            return (false, 0)
        }
        // Bounded: a peer inventing reasons cannot grow this without end.
        if logged.count > 10_000 { logged.removeAll(keepingCapacity: true) }
        let silenced = logged[key]?.silenced ?? 0
        logged[key] = (now, 0)
        return (true, silenced)
    }
}
