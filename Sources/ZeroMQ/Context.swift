import CZeroMQ

/// A ZeroMQ context: the I/O threads and the registry of inproc endpoints.
///
/// `@unchecked Sendable`: libzmq contexts are thread-safe (zmq_ctx_new(3)); the handle is
/// never reassigned.
public final class Context: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError(code: zmq_errno(), function: "zmq_ctx_new") }
        self.handle = handle
    }

    /// The most sockets this context may hold (ZMQ_MAX_SOCKETS, 1,023 by default; each needs
    /// a descriptor or two within the open-file limit). Set before the first socket.
    public func setMaxSockets(_ count: Int32) throws(ZMQError) {
        _ = try check("zmq_ctx_set") { zmq_ctx_set(handle, ZMQ_MAX_SOCKETS, count) }
    }

    /// Makes every blocking call on this context's sockets return `ZMQError.terminated`:
    /// the graceful-shutdown hook. Safe from any thread.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    /// Terminating waits until every socket is closed; sockets keep their context alive, so
    /// this runs after the last of them.
    deinit {
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }
}
