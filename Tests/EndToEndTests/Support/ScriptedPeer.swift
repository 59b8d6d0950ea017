import Foundation
import SweepProtocol
import Testing
import ZeroMQ

/// A peer that speaks the wire protocol by hand over a real DEALER socket: a misbehaving
/// worker, an impostor, a stranger. Used from one test task only (sockets are not thread-safe).
final class ScriptedPeer {
    let context: Context
    let socket: Socket
    /// Tasks received and not yet taken with `nextTask`.
    private(set) var tasks: [TaskAssignment] = []
    private(set) var received: [Message] = []
    /// The token of the last welcome: `send` stamps it on answers that carry none.
    var session: String?

    init(_ endpoint: String) throws {
        context = try Context()
        socket = try Socket(context, type: .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.connect(endpoint)
    }

    func send(_ message: Message) throws {
        var message = message
        if message.session == "", let session { message = message.carrying(session: session) }
        try socket.send([try message.encoded()])
    }
    func sendRaw(_ frame: [UInt8]) throws { try socket.send([frame]) }

    static func hello(_ id: String, prefetch: Int = 2, host: String = "scripted") -> Hello {
        Hello(protocolVersion: Int(protocolVersion), workerID: id, host: host, pid: 1, cores: 1, blasThreads: 1,
              capabilities: ["gd"], prefetch: prefetch)
    }

    /// Receives for up to `seconds` until `stop` holds for a message (which is returned).
    @discardableResult
    func receive(seconds: Double, until stop: (Message) -> Bool) throws -> Message? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard let frames = try socket.receive(timeout: 50), let frame = frames.first,
                  let messages = try? Message.decodeAll(frame) else { continue }
            // Every message of a batch is kept, even past the one awaited.
            var found: Message?
            for message in messages {
                received.append(message)
                if case .task(let task) = message { tasks.append(task) }
                if case .welcome(let welcome) = message { session = welcome.session }
                if found == nil, stop(message) { found = message }
            }
            if let found { return found }
        }
        return nil
    }

    /// Says hello and waits for the welcome (or a reject, returned as nil).
    func register(_ id: String, prefetch: Int = 2) throws -> Welcome? {
        try send(.hello(Self.hello(id, prefetch: prefetch)))
        let answer = try receive(seconds: 20) {
            if case .welcome = $0 { return true }
            if case .reject = $0 { return true }
            return false
        }
        if case .welcome(let welcome)? = answer { return welcome }
        return nil
    }

    func nextTask(seconds: Double = 20) throws -> TaskAssignment? {
        if tasks.isEmpty {
            try receive(seconds: seconds) { if case .task = $0 { return true } else { return false } }
        }
        return tasks.isEmpty ? nil : tasks.removeFirst()
    }
}

/// A sweep of 16 short tasks, for tests of what peers send rather than of long runs.
let tinySweepYAML = """
    name: tiny
    seed: 5
    problem: {signal_dim: 12, measurements: 6, latent_dim: 2, samples: 8, test_samples: 20}
    grid:
      depth: [2]
      width: [8]
      lambda: [0.0, 0.01]
      noise: [0.0]
    trials: 8
    training: {steps: 300, eta_scale: 0.5, stop_on_success: false}
    test_noise: [0.0, 0.1]
    """
