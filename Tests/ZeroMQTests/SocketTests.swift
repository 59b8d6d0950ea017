import Foundation
import Testing
import ZeroMQ

/// The wrapper over real libzmq sockets on tcp loopback (port chosen by the kernel) and inproc.
@Suite(.serialized) struct SocketTests {
    @Test("ROUTER and DEALER exchange multipart messages; the router sees the dealer's identity")
    func routerDealer() throws {
        let context = try Context()
        let router = try Socket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":*"))
        let dealer = try Socket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 0)
        try dealer.setRoutingID(Array("w1".utf8))
        try dealer.connect(endpoint)
        try dealer.send([[1, 2, 3], [], Array(repeating: 9, count: 100_000)])
        let received = try #require(try router.receive(timeout: 5000))
        #expect(received.count == 4)
        #expect(received[0] == Array("w1".utf8))
        #expect(received[1] == [1, 2, 3] && received[2].isEmpty && received[3].count == 100_000)
        try router.send([received[0], Array("back".utf8)])
        #expect(try dealer.receive(timeout: 5000) == [Array("back".utf8)])
    }

    @Test("a receive with a timeout returns nil when nothing arrives; dontWait with no peer throws again")
    func timeouts() throws {
        let context = try Context()
        let pair = try Socket(context, type: .pair)
        try pair.setLinger(milliseconds: 0)
        try pair.bind("inproc://lonely")
        let start = Date()
        #expect(try pair.receive(timeout: 100) == nil)
        #expect(Date().timeIntervalSince(start) >= 0.09)
        #expect(try pair.receive(timeout: 0) == nil)
        let dealer = try Socket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 0)
        try dealer.setImmediate(true)
        try dealer.connect("tcp://127.0.0.1:1")
        #expect(throws: ZMQError.again) { try dealer.send([[1]], dontWait: true) }
    }

    @Test("an oversized frame closes that peer's connection; the router keeps serving others")
    func maxMessageSize() throws {
        let context = try Context()
        let router = try Socket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setMaxMessageSize(1000)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let big = try Socket(context, type: .dealer)
        try big.setLinger(milliseconds: 0)
        try big.connect(endpoint)
        try big.send([Array(repeating: 1, count: 5000)])
        let small = try Socket(context, type: .dealer)
        try small.setLinger(milliseconds: 0)
        try small.connect(endpoint)
        try small.send([[7]])
        let received = try #require(try router.receive(timeout: 5000))
        #expect(received.last == [7])
        #expect(try router.receive(timeout: 300) == nil, "the oversized frame was never delivered")
    }

    @Test("shutting the context down unblocks a receive on another thread with ETERM")
    func shutdownUnblocks() throws {
        let context = try Context()
        let done = DispatchSemaphore(value: 0)
        let outcome = OutcomeBox()
        let thread = Thread {
            do {
                let socket = try Socket(context, type: .pull)
                try socket.setLinger(milliseconds: 0)
                try socket.bind("inproc://blocked")
                _ = try socket.receive(timeout: nil)
                outcome.set("returned")
            } catch {
                outcome.set((error as? ZMQError)?.code == ZMQError.terminated.code ? "terminated" : "\(error)")
            }
            done.signal()
        }
        thread.start()
        usleep(200_000)
        context.shutdown()
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(outcome.value == "terminated")
    }

    @Test("CURVE: a listed key gets through; an unlisted key and a plain client never deliver anything")
    func curve() throws {
        #expect(CurveKeyPair.isCurveAvailable)
        let server = try CurveKeyPair.generate(), good = try CurveKeyPair.generate(), bad = try CurveKeyPair.generate()
        #expect(Z85.isValidKey(server.publicKey) && Z85.isValidKey(server.secretKey))
        #expect(try CurveKeyPair(secretKey: good.secretKey) == good)
        let context = try Context()
        let decisions = OutcomeBox()
        let zap = try ZAPAuthenticator(context: context, allowedPublicKeys: [good.publicKey]) { _, key, accepted in
            decisions.append("\(key == good.publicKey ? "good" : key == bad.publicKey ? "bad" : "other"):\(accepted)")
        }
        let router = try Socket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setCurveServer(true)
        try router.setCurveSecretKey(server.secretKey)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()

        func client(_ keys: CurveKeyPair?) throws -> Socket {
            let s = try Socket(context, type: .dealer)
            try s.setLinger(milliseconds: 0)
            if let keys {
                try s.setCurveServerKey(server.publicKey)
                try s.setCurvePublicKey(keys.publicKey)
                try s.setCurveSecretKey(keys.secretKey)
            }
            try s.connect(endpoint)
            return s
        }
        let intruder = try client(bad), plain = try client(nil)
        try intruder.send([Array("intruder".utf8)])
        try plain.send([Array("plain".utf8)])
        #expect(try router.receive(timeout: 1000) == nil)
        let member = try client(good)
        try member.send([Array("member".utf8)])
        let received = try #require(try router.receive(timeout: 5000))
        #expect(received.last == Array("member".utf8))
        #expect(try router.receive(timeout: 300) == nil)
        #expect(decisions.values.contains("good:true"))
        #expect(decisions.values.contains("bad:false"))
        zap.stop()
    }

    @Test("CURVE fails closed: with ZMQ_ZAP_ENFORCE_DOMAIN and no ZAP handler, a client with the server key gets nothing through")
    func curveFailsClosed() throws {
        let server = try CurveKeyPair.generate(), client = try CurveKeyPair.generate()
        let context = try Context()
        let router = try Socket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setCurveServer(true)
        try router.setCurveSecretKey(server.secretKey)
        try router.setZAPDomain("dlsweep")
        try router.setZAPEnforceDomain(true)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try Socket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 0)
        try dealer.setCurveServerKey(server.publicKey)
        try dealer.setCurvePublicKey(client.publicKey)
        try dealer.setCurveSecretKey(client.secretKey)
        try dealer.connect(try router.lastEndpoint())
        try dealer.send([Array("anyone".utf8)], dontWait: true)
        #expect(try router.receive(timeout: 1500) == nil)
    }

    @Test("a ZAP handler that dies says why (the coordinator stops on it)")
    func zapHandlerFailureIsVisible() throws {
        let context = try Context()
        let zap = try ZAPAuthenticator(context: context, allowedPublicKeys: []) { _, _, _ in }
        #expect(zap.failure == nil)
        context.shutdown()
        let deadline = Date().addingTimeInterval(10)
        while zap.failure == nil && Date() < deadline { usleep(20_000) }
        #expect(zap.failure != nil)
    }
}

/// A small lock-protected box for values written on other threads.
/// `@unchecked Sendable`: every access takes `lock`.
final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []

    func set(_ value: String) { lock.withLock { items = [value] } }
    func append(_ value: String) { lock.withLock { items.append(value) } }
    var value: String? { lock.withLock { items.first } }
    var values: [String] { lock.withLock { items } }
}
