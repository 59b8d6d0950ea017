import CZeroMQ

public enum SocketType: Sendable {
    case pair, pub, sub, req, rep, dealer, router, pull, push, stream

    var rawValue: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        case .stream: ZMQ_STREAM
        }
    }
}

/// A ZeroMQ socket that owns its handle and closes it when released.
///
/// Not thread-safe (zmq(7)): use a socket on the thread that made it. It keeps its context
/// alive, so the context is terminated only after its last socket is closed.
public final class Socket {
    let handle: UnsafeMutableRawPointer
    public let context: Context
    public let type: SocketType

    public init(_ context: Context, type: SocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError(code: zmq_errno(), function: "zmq_socket")
        }
        self.handle = handle
        self.context = context
        self.type = type
    }

    deinit {
        _ = zmq_close(handle)
    }

    public func bind(_ endpoint: String) throws(ZMQError) {
        try check("zmq_bind(\(endpoint))") { zmq_bind(handle, endpoint) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        try check("zmq_connect(\(endpoint))") { zmq_connect(handle, endpoint) }
    }

    public func unbind(_ endpoint: String) throws(ZMQError) {
        try check("zmq_unbind(\(endpoint))") { zmq_unbind(handle, endpoint) }
    }

    public func disconnect(_ endpoint: String) throws(ZMQError) {
        try check("zmq_disconnect(\(endpoint))") { zmq_disconnect(handle, endpoint) }
    }

    /// Sends one message of one or more frames. With `dontWait`, throws `ZMQError.again`
    /// instead of blocking (no peer ready, or its queue is full).
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) {
        precondition(!frames.isEmpty, "a message has at least one frame")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            let rc = frame.withUnsafeBytes { buffer -> Int32 in
                var placeholder: UInt8 = 0
                let base = buffer.baseAddress ?? UnsafeRawPointer(withUnsafeMutablePointer(to: &placeholder) { UnsafeRawPointer($0) })
                while true {
                    let rc = zmq_send(handle, base, buffer.count, flags)
                    if rc == -1 && zmq_errno() == EINTR { continue }
                    return rc
                }
            }
            if rc == -1 { throw ZMQError(code: zmq_errno(), function: "zmq_send") }
        }
    }

    /// Receives one whole message (all its frames).
    /// - Parameter timeout: milliseconds to wait; nil blocks, 0 returns at once.
    /// - Returns: nil when nothing arrived in time.
    public func receive(timeout: Int32?) throws(ZMQError) -> [[UInt8]]? {
        if let timeout, timeout > 0 {
            guard try poll([self], timeout: timeout)[0] else { return nil }
        }
        let flags: Int32 = timeout == nil ? 0 : ZMQ_DONTWAIT
        let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        defer { message.deallocate() }
        var frames: [[UInt8]] = []
        repeat {
            _ = zmq_msg_init(message)
            defer { zmq_msg_close(message) }
            var rc: Int32
            repeat {
                rc = zmq_msg_recv(message, handle, frames.isEmpty ? flags : 0)
            } while rc == -1 && zmq_errno() == EINTR
            if rc == -1 {
                let code = zmq_errno()
                if code == EAGAIN && frames.isEmpty { return nil }
                throw ZMQError(code: code, function: "zmq_msg_recv")
            }
            let size = zmq_msg_size(message)
            if size == 0 {
                frames.append([])
            } else {
                let data = zmq_msg_data(message)!
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            }
        } while zmq_msg_more(message) == 1
        return frames
    }

    // MARK: Options

    public func setOption(_ option: Int32, _ value: Int32, name: String = #function) throws(ZMQError) {
        var value = value
        try check(name) { zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) }
    }

    public func setOption(_ option: Int32, _ value: Int64, name: String = #function) throws(ZMQError) {
        var value = value
        try check(name) { zmq_setsockopt(handle, option, &value, MemoryLayout<Int64>.size) }
    }

    public func setOption(_ option: Int32, _ value: [UInt8], name: String = #function) throws(ZMQError) {
        let rc = value.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        if rc == -1 { throw ZMQError(code: zmq_errno(), function: name) }
    }

    public func setLinger(milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_LINGER, milliseconds) }
    public func setSendTimeout(milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_SNDTIMEO, milliseconds) }
    public func setReceiveTimeout(milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_RCVTIMEO, milliseconds) }
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) { try setOption(ZMQ_SNDHWM, messages) }
    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) { try setOption(ZMQ_RCVHWM, messages) }
    /// Peers sending a larger frame are disconnected (ZMQ_MAXMSGSIZE).
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) { try setOption(ZMQ_MAXMSGSIZE, bytes) }
    /// A ROUTER reports unroutable messages (EHOSTUNREACH) instead of dropping them.
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_ROUTER_MANDATORY, on ? Int32(1) : Int32(0)) }
    /// A new connection with the same routing id takes over the old one.
    public func setRouterHandover(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_ROUTER_HANDOVER, on ? Int32(1) : Int32(0)) }
    public func setRoutingID(_ id: [UInt8]) throws(ZMQError) { try setOption(ZMQ_ROUTING_ID, id) }
    /// Queue messages only on completed connections: a send with no peer fails at once.
    /// Pending connections the kernel queues for a listening socket (ZMQ_BACKLOG, 100 by
    /// default; the kernel caps it at net.core.somaxconn).
    public func setBacklog(_ connections: Int32) throws(ZMQError) { try setOption(ZMQ_BACKLOG, connections) }
    public func setImmediate(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_IMMEDIATE, on ? Int32(1) : Int32(0)) }
    public func setReconnectInterval(milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_RECONNECT_IVL, milliseconds) }
    public func setReconnectIntervalMax(milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_RECONNECT_IVL_MAX, milliseconds) }
    public func setHandshakeInterval(milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_HANDSHAKE_IVL, milliseconds) }
    /// ZMTP heartbeats: a connection whose peer stops answering is closed (and a connecting
    /// socket reconnects), which notices cut links that TCP alone would not.
    public func setHeartbeat(interval: Int32, timeout: Int32, ttl: Int32) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, interval)
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, timeout)
        try setOption(ZMQ_HEARTBEAT_TTL, ttl)
    }
    public func setTCPKeepalive(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_TCP_KEEPALIVE, on ? Int32(1) : Int32(0)) }
    public func setCurveServer(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_CURVE_SERVER, on ? Int32(1) : Int32(0)) }
    /// Keys as 40-character Z85 text.
    public func setCurveSecretKey(_ z85: String) throws(ZMQError) { try setOption(ZMQ_CURVE_SECRETKEY, Array(z85.utf8)) }
    public func setCurvePublicKey(_ z85: String) throws(ZMQError) { try setOption(ZMQ_CURVE_PUBLICKEY, Array(z85.utf8)) }
    public func setCurveServerKey(_ z85: String) throws(ZMQError) { try setOption(ZMQ_CURVE_SERVERKEY, Array(z85.utf8)) }
    /// Makes a NULL-mechanism socket consult the ZAP handler too.
    public func setZAPDomain(_ domain: String) throws(ZMQError) { try setOption(ZMQ_ZAP_DOMAIN, Array(domain.utf8)) }
    /// ZMQ_ZAP_ENFORCE_DOMAIN (93, a draft option zmq.h hides): refuse a handshake when no ZAP
    /// handler answers, instead of letting it through.
    public func setZAPEnforceDomain(_ on: Bool) throws(ZMQError) { try setOption(93, on ? Int32(1) : Int32(0)) }

    /// The endpoint last bound or connected, with a `*` port resolved to the real one.
    public func lastEndpoint() throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        try check("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") { zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

@available(*, unavailable, message: "ZeroMQ sockets are not thread-safe; use each on one thread")
extension Socket: Sendable {}

/// Waits until one of `sockets` has a message to read.
/// - Returns: one readable flag per socket; all false on timeout or interruption.
public func poll(_ sockets: [Socket], timeout milliseconds: Int32) throws(ZMQError) -> [Bool] {
    var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
    let rc = zmq_poll(&items, Int32(items.count), Int(milliseconds))
    if rc == -1 {
        let code = zmq_errno()
        if code == EINTR { return Array(repeating: false, count: sockets.count) }
        throw ZMQError(code: code, function: "zmq_poll")
    }
    return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
}
