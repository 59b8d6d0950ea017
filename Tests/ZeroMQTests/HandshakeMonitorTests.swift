import Foundation
import Synchronization
import Testing
import ZeroMQ

/// A refused CURVE handshake is reported on both sides with its reason (issue 11, item 6):
/// without the monitor, the server logs nothing for a wrong server key and the client only
/// sees silence.
@Suite struct HandshakeMonitorTests {
    final class Events: Sendable {
        private let list = Mutex<[HandshakeEvent]>([])
        func append(_ event: HandshakeEvent) { list.withLock { $0.append(event) } }
        var values: [HandshakeEvent] { list.withLock { $0 } }

        /// Waits until `condition` holds for the events seen so far (or 10 s pass).
        func wait(until condition: ([HandshakeEvent]) -> Bool) -> Bool {
            for _ in 0..<200 {
                if condition(values) { return true }
                usleep(50_000)
            }
            return condition(values)
        }
    }

    struct Setup {
        let context: Context
        let router: Socket
        let endpoint: String
        let serverEvents: Events
        let monitor: HandshakeMonitor
        let zap: ZAPAuthenticator
        let server: CurveKeyPair
        let allowed: CurveKeyPair
    }

    func setUp() throws -> Setup {
        let context = try Context()
        let server = try CurveKeyPair.generate(), allowed = try CurveKeyPair.generate()
        let zap = try ZAPAuthenticator(context: context, allowedPublicKeys: [allowed.publicKey]) { _, _, _ in }
        let router = try Socket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setCurveServer(true)
        try router.setCurveSecretKey(server.secretKey)
        let events = Events()
        let monitor = try HandshakeMonitor(router) { event, _ in events.append(event) }
        try router.bind("tcp://127.0.0.1:*")
        return Setup(context: context, router: router, endpoint: try router.lastEndpoint(), serverEvents: events,
                     monitor: monitor, zap: zap, server: server, allowed: allowed)
    }

    func client(_ setup: Setup, keys: CurveKeyPair, serverKey: String, events: Events) throws -> (Socket, HandshakeMonitor) {
        let socket = try Socket(setup.context, type: .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.setCurveServerKey(serverKey)
        try socket.setCurvePublicKey(keys.publicKey)
        try socket.setCurveSecretKey(keys.secretKey)
        let monitor = try HandshakeMonitor(socket) { event, _ in events.append(event) }
        try socket.connect(setup.endpoint)
        return (socket, monitor)
    }

    @Test("an unauthorized client key: the client hears 'refused by authentication'")
    func unauthorizedKey() throws {
        let setup = try setUp()
        let events = Events()
        let (socket, monitor) = try client(setup, keys: try CurveKeyPair.generate(), serverKey: setup.server.publicKey,
                                           events: events)
        #expect(events.wait { $0.contains(.refusedByAuthentication(status: 400)) }, "\(events.values)")
        #expect(setup.serverEvents.wait { $0.contains(.refusedByAuthentication(status: 400)) }, "\(setup.serverEvents.values)")
        monitor.stop()
        withExtendedLifetime(socket) {}
        setup.monitor.stop()
        setup.zap.stop()
    }

    @Test("a wrong server key: the server sees a cryptographic error, the client a failed handshake")
    func wrongServerKey() throws {
        let setup = try setUp()
        let events = Events()
        let (socket, monitor) = try client(setup, keys: setup.allowed, serverKey: try CurveKeyPair.generate().publicKey,
                                           events: events)
        #expect(setup.serverEvents.wait { $0.contains { if case .failedProtocol = $0 { true } else { false } } },
                "\(setup.serverEvents.values)")
        #expect(events.wait { $0.contains(.failedWithoutDetail) }, "\(events.values)")
        #expect(!events.values.contains(.succeeded))
        monitor.stop()
        withExtendedLifetime(socket) {}
        setup.monitor.stop()
        setup.zap.stop()
    }

    @Test("the authorized key: succeeded on both sides")
    func authorized() throws {
        let setup = try setUp()
        let events = Events()
        let (socket, monitor) = try client(setup, keys: setup.allowed, serverKey: setup.server.publicKey, events: events)
        #expect(events.wait { $0.contains(.succeeded) }, "\(events.values)")
        #expect(setup.serverEvents.wait { $0.contains(.succeeded) })
        monitor.stop()
        withExtendedLifetime(socket) {}
        setup.monitor.stop()
        setup.zap.stop()
    }
}
