import Synchronization

/// Shared by both ends of the protocol: a thread-safe request to stop, set from a signal handler or another thread and polled by
/// the loops that own the (non-thread-safe) sockets.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func request() { flag.store(true, ordering: .sequentiallyConsistent) }

    public var isRequested: Bool { flag.load(ordering: .sequentiallyConsistent) }
}
