import CZeroMQ
import Foundation
import Synchronization

/// A ZAP handler (ZeroMQ RFC 27) that lets in CURVE clients whose public key is listed and
/// refuses everyone else. It answers on `inproc://zeromq.zap.01` of its context from a
/// thread of its own, since libzmq asks it synchronously during each handshake.
public final class ZAPAuthenticator: Sendable {
    /// Called for every decision: peer address, client key (Z85, empty for non-CURVE), accepted.
    public typealias Observer = @Sendable (_ peerAddress: String, _ publicKey: String, _ accepted: Bool) -> Void

    /// Shared with the handler thread.
    private final class State: Sendable {
        let stop = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)
        /// Why the handler thread ended before `stop()`, if it did.
        let failure = Mutex<String?>(nil)
    }

    private let state = State()

    /// Binds the handler before returning, so no handshake can slip past it.
    public init(context: Context, allowedPublicKeys: Set<String>, onDecision: @escaping Observer) throws {
        let ready = DispatchSemaphore(value: 0)
        let bindError = Mutex<ZMQError?>(nil)
        let state = self.state
        let thread = Thread {
            defer { state.finished.signal() }
            let socket: Socket
            do {
                socket = try Socket(context, type: .rep)
                try socket.setLinger(milliseconds: 0)
                try socket.bind("inproc://zeromq.zap.01")
            } catch {
                bindError.withLock { $0 = error as? ZMQError ?? ZMQError(code: EINVAL, function: "ZAPAuthenticator") }
                ready.signal()
                return
            }
            ready.signal()
            while !state.stop.load(ordering: .relaxed) {
                do {
                    guard let request = try socket.receive(timeout: 100) else { continue }
                    try socket.send(Self.reply(to: request, allowed: allowedPublicKeys, onDecision: onDecision))
                } catch {
                    // With ZMQ_ZAP_ENFORCE_DOMAIN no client gets in any more; the owner must know.
                    if !state.stop.load(ordering: .relaxed) {
                        state.failure.withLock { $0 = "\(error)" }
                    }
                    return
                }
            }
        }
        thread.name = "dlsweep-zap"
        thread.start()
        ready.wait()
        if let error = bindError.withLock({ $0 }) {
            state.finished.wait()
            throw error
        }
    }

    /// The reply frames for one ZAP request: 200 for a listed CURVE key, 400 otherwise.
    static func reply(to request: [[UInt8]], allowed: Set<String>, onDecision: Observer) -> [[UInt8]] {
        // version, request id, domain, address, routing id, mechanism, credentials...
        guard request.count >= 6 else {
            return [Array("1.0".utf8), request.count > 1 ? request[1] : [], Array("400".utf8),
                    Array("malformed ZAP request".utf8), [], []]
        }
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        var key = ""
        if mechanism == "CURVE", request.count >= 7, let z85 = Z85.encodeKey(request[6]) { key = z85 }
        let accepted = mechanism == "CURVE" && allowed.contains(key)
        onDecision(address, key, accepted)
        return [Array("1.0".utf8), request[1], Array((accepted ? "200" : "400").utf8),
                Array((accepted ? "OK" : "key not authorized").utf8), Array(key.utf8), []]
    }

    /// Why the handler stopped answering on its own (nil while it runs): the server it guards
    /// lets nobody in from then on, so it should stop too.
    public var failure: String? { state.failure.withLock { $0 } }

    /// Stops the handler thread and waits for it.
    public func stop() {
        guard !state.stop.exchange(true, ordering: .relaxed) else { return }
        state.finished.wait()
    }

    deinit {
        stop()
    }
}
