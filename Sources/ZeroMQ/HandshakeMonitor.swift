import CZeroMQ
import Foundation
import Synchronization

/// How a security handshake on a monitored socket ended (zmq_socket_monitor(3)).
public enum HandshakeEvent: Sendable, Equatable {
    case succeeded
    /// The ZAP handler refused the peer (status code, e.g. 400 for an unlisted key).
    case refusedByAuthentication(status: Int)
    /// The peers could not agree: another mechanism (plain text against CURVE), or a box that
    /// does not decrypt (a wrong server key).
    case failedProtocol(code: UInt32)
    case failedWithoutDetail

    /// The reason in words, for logs.
    public var reason: String {
        switch self {
        case .succeeded: "handshake succeeded"
        case .refusedByAuthentication(let status): "the key is not authorized (ZAP status \(status))"
        case .failedProtocol(let code) where code == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC):
            "cryptographic error: the peer used another server key, or its key pair does not match"
        case .failedProtocol(let code) where code == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH):
            "security mechanism mismatch: one side uses CURVE, the other plain text"
        case .failedProtocol(let code): "protocol error 0x\(String(code, radix: 16))"
        case .failedWithoutDetail: "handshake failed (connection closed during it)"
        }
    }
}

/// Watches a socket's handshakes from a thread of its own and reports each outcome: a
/// refused CURVE handshake is otherwise invisible to both sides (the connection just closes
/// and the client retries forever).
public final class HandshakeMonitor: Sendable {
    public typealias Observer = @Sendable (_ event: HandshakeEvent, _ endpoint: String) -> Void

    private final class State: Sendable {
        let stop = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)
    }

    private let state = State()

    /// Starts monitoring `socket` (call on the thread that owns it, before it connects or binds).
    public init(_ socket: Socket, onEvent: @escaping Observer) throws(ZMQError) {
        let endpoint = "inproc://dlsweep-monitor-\(UUID().uuidString)"
        let events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        try check("zmq_socket_monitor") { zmq_socket_monitor(socket.handle, endpoint, events) }
        let context = socket.context
        let state = self.state
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<ZMQError?>(nil)
        let thread = Thread {
            defer { state.finished.signal() }
            let pair: Socket
            do {
                pair = try Socket(context, type: .pair)
                try pair.setLinger(milliseconds: 0)
                try pair.connect(endpoint)
            } catch {
                failure.withLock { $0 = error as? ZMQError ?? ZMQError(code: EINVAL, function: "HandshakeMonitor") }
                ready.signal()
                return
            }
            ready.signal()
            while !state.stop.load(ordering: .relaxed) {
                do {
                    guard let frames = try pair.receive(timeout: 100) else { continue }
                    if let (event, peer) = Self.decode(frames) { onEvent(event, peer) }
                } catch {
                    return  // context terminated
                }
            }
        }
        thread.name = "dlsweep-monitor"
        thread.start()
        ready.wait()
        if let error = failure.withLock({ $0 }) {
            state.finished.wait()
            throw error
        }
    }

    /// Frame 1: a 16-bit event and a 32-bit value (native byte order); frame 2: the endpoint.
    static func decode(_ frames: [[UInt8]]) -> (HandshakeEvent, String)? {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let event = Int32(UInt16(frames[0][0]) | UInt16(frames[0][1]) << 8)
        let value = (0..<4).reduce(UInt32(0)) { $0 | UInt32(frames[0][2 + $1]) << (8 * $1) }
        let endpoint = String(decoding: frames[1], as: UTF8.self)
        switch event {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return (.succeeded, endpoint)
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return (.refusedByAuthentication(status: Int(value)), endpoint)
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: return (.failedProtocol(code: value), endpoint)
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: return (.failedWithoutDetail, endpoint)
        default: return nil
        }
    }

    /// Stops the monitor thread and waits for it.
    public func stop() {
        guard !state.stop.exchange(true, ordering: .relaxed) else { return }
        state.finished.wait()
    }

    deinit {
        stop()
    }
}
