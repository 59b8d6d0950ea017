import Foundation

/// Why a frame could not be decoded. Never fatal: the receiver logs, counts and goes on.
public enum ProtocolError: Error, CustomStringConvertible, Sendable, Hashable {
    case tooShort(bytes: Int)
    case badMagic
    case tooLarge(bytes: Int)
    /// A well-formed header of another protocol version.
    case versionMismatch(peerVersion: UInt8)
    case unknownKind(UInt8)
    case badBody(kind: String, detail: String)
    case unencodable(String)

    public var description: String {
        switch self {
        case .tooShort(let bytes): "frame of \(bytes) bytes is shorter than the 6-byte header"
        case .badMagic: "frame does not start with the DLSW magic"
        case .tooLarge(let bytes): "frame of \(bytes) bytes exceeds the \(maxFrameBytes)-byte limit"
        case .versionMismatch(let peer): "peer speaks protocol version \(peer), this side speaks \(protocolVersion)"
        case .unknownKind(let kind): "unknown message kind \(kind)"
        case .badBody(let kind, let detail): "malformed \(kind) body: \(detail)"
        case .unencodable(let detail): "cannot encode message: \(detail)"
        }
    }
}

/// One frame per message, or a batch of task, result and failure messages in one frame:
/// `DLSW` magic, version byte, kind byte, binary body (PROTOCOL.md). The reject body alone is
/// JSON and never changes, so a peer of any version can read why it was refused.
extension Message {
    static let magic: [UInt8] = Array("DLSW".utf8)
    static let headerBytes = 6

    enum Kind: UInt8, CaseIterable {
        case hello = 1, welcome, reject, task, result, taskFailed, heartbeat, shutdown, bye, ack, register
        /// Several task, result or taskFailed messages (PROTOCOL.md, "Batches").
        case batch

        /// The kinds a batch may hold.
        var batchable: Bool { self == .task || self == .result || self == .taskFailed }

        /// The kind's name in error messages: a literal, so that decoding a frame builds no
        /// string (`"\(kind)"` goes through reflection, once per message).
        var name: String {
            switch self {
            case .hello: "hello"
            case .welcome: "welcome"
            case .reject: "reject"
            case .task: "task"
            case .result: "result"
            case .taskFailed: "taskFailed"
            case .heartbeat: "heartbeat"
            case .shutdown: "shutdown"
            case .bye: "bye"
            case .ack: "ack"
            case .register: "register"
            case .batch: "batch"
            }
        }
    }

    var kind: Kind {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .reject: .reject
        case .task: .task
        case .result: .result
        case .taskFailed: .taskFailed
        case .heartbeat: .heartbeat
        case .shutdown: .shutdown
        case .bye: .bye
        case .ack: .ack
        case .register: .register
        }
    }

    static func header(_ kind: Kind) -> [UInt8] { magic + [protocolVersion, kind.rawValue] }

    /// The body of every kind but reject.
    func writeBody(to w: inout WireWriter) throws(ProtocolError) {
        switch self {
        case .hello(let m): m.write(to: &w)
        case .welcome(let m): m.write(to: &w)
        case .reject(let m): w.append(try Self.rejectBody(m))
        case .task(let m): m.write(to: &w)
        case .result(let m): m.write(to: &w)
        case .taskFailed(let m): m.write(to: &w)
        case .heartbeat(let m): m.write(to: &w)
        case .shutdown(let m): m.write(to: &w)
        case .bye(let m): m.write(to: &w)
        case .ack(let m): m.write(to: &w)
        case .register(let m): m.write(to: &w)
        }
    }

    /// JSON with sorted keys: the one body every version reads.
    private static func rejectBody(_ reject: Reject) throws(ProtocolError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        do {
            return Array(try encoder.encode(reject))
        } catch {
            throw .unencodable("\(error)")
        }
    }

    public func encoded() throws(ProtocolError) -> [UInt8] {
        var w = WireWriter(prefix: Self.header(kind))
        try writeBody(to: &w)
        guard w.bytes.count <= maxFrameBytes else { throw .tooLarge(bytes: w.bytes.count) }
        return w.bytes
    }

    /// Decodes a frame of one message (a batch frame is refused: see `decodeAll`). A reject
    /// is read whatever its version, so a worker learns why.
    public static func decode(_ frame: [UInt8]) throws(ProtocolError) -> Message {
        let kind = try header(of: frame)
        guard kind != .batch else { throw .badBody(kind: "batch", detail: "a batch frame holds several messages") }
        var r = WireReader(frame, from: headerBytes, kind: kind.name)
        return try decodeBody(kind, &r)
    }

    /// Decodes a frame of one message or a batch of them.
    public static func decodeAll(_ frame: [UInt8]) throws(ProtocolError) -> [Message] {
        var entries = try FrameEntries(frame)
        var messages: [Message] = []
        messages.reserveCapacity(entries.remaining)
        while let message = try entries.next() { messages.append(message) }
        return messages
    }

    /// Checks magic, size and version; the kind the header names.
    static func header(of frame: [UInt8]) throws(ProtocolError) -> Kind {
        guard frame.count >= headerBytes else { throw .tooShort(bytes: frame.count) }
        guard frame.count <= maxFrameBytes else { throw .tooLarge(bytes: frame.count) }
        guard frame[0] == magic[0], frame[1] == magic[1], frame[2] == magic[2], frame[3] == magic[3] else {
            throw .badMagic
        }
        let version = frame[4]
        let kindByte = frame[5]
        guard version == protocolVersion || kindByte == Kind.reject.rawValue else {
            throw .versionMismatch(peerVersion: version)
        }
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        return kind
    }

    static func decodeBody(_ kind: Kind, _ r: inout WireReader) throws(ProtocolError) -> Message {
        let message: Message
        switch kind {
        case .hello: message = .hello(try Hello(from: &r))
        case .welcome: message = .welcome(try Welcome(from: &r))
        case .reject:
            let body = Data(r.bytes[r.offset..<r.end])
            do {
                let decoder = JSONDecoder()
                message = .reject(try decoder.decode(Reject.self, from: body))
            } catch {
                throw .badBody(kind: "reject", detail: Self.summary(of: error))
            }
            r.skip(r.remaining)
        case .task: message = .task(try TaskAssignment(from: &r))
        case .result: message = .result(try TaskResult(from: &r))
        case .taskFailed: message = .taskFailed(try TaskFailure(from: &r))
        case .heartbeat: message = .heartbeat(try Heartbeat(from: &r))
        case .shutdown: message = .shutdown(try Shutdown(from: &r))
        case .bye: message = .bye(try Bye(from: &r))
        case .ack: message = .ack(try Ack(from: &r))
        case .register: message = .register(try Register(from: &r))
        case .batch: throw .badBody(kind: "batch", detail: "a batch inside a batch")
        }
        try r.finish()
        return message
    }

    /// `frame`, a `result`, `task_failed`, `heartbeat` or `bye` (whose body starts with the
    /// session), carrying `session` instead of its own: a worker keeps its answers encoded and
    /// sends them again under each new session without re-encoding them.
    public static func stamping(_ frame: [UInt8], session: String) throws(ProtocolError) -> [UInt8] {
        let kind = try header(of: frame)
        guard [.result, .taskFailed, .heartbeat, .bye].contains(kind) else {
            throw .badBody(kind: kind.name, detail: "carries no session")
        }
        var r = WireReader(frame, from: headerBytes, kind: kind.name)
        _ = try r.string("session")
        var w = WireWriter(prefix: Array(frame[..<headerBytes]))
        w.string(session)
        w.append(frame[r.offset...])
        guard w.bytes.count <= maxFrameBytes else { throw .tooLarge(bytes: w.bytes.count) }
        return w.bytes
    }

    /// The kind a frame's header names, if the header is valid: says what could not be decoded.
    public static func headerKind(_ frame: [UInt8]) -> String? {
        guard frame.count >= headerBytes, Array(frame[0..<4]) == magic, let kind = Kind(rawValue: frame[5]) else {
            return nil
        }
        return "\(kind)"
    }

    private static func summary(of error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: "missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted(let context)?:
            context.codingPath.isEmpty ? "not JSON" : "bad value at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: "\(error)"
        }
    }
}

/// The messages of one frame, decoded one at a time: a receiver acts on a batch's entries a
/// few at a time, so that one peer's large batch does not hold up the others. The header and
/// the batch's count are checked up front, each entry (kind, length, body) as it is read: a
/// malformed entry makes `next()` throw, after the entries before it were read. Nothing is
/// decoded before it is asked for, so a frame dropped unread costs nothing but its bytes.
public struct FrameEntries: Sendable {
    private let frame: [UInt8]
    /// Set for a frame of one message.
    private var single: Message.Kind?
    private var offset: Int
    private var index = 0
    /// Entries not yet read.
    public private(set) var remaining: Int
    /// Whether the frame is a batch.
    public let isBatch: Bool
    /// The frame's size, for a receiver's accounting.
    public var byteCount: Int { frame.count }

    public init(_ frame: [UInt8]) throws(ProtocolError) {
        self.frame = frame
        let kind = try Message.header(of: frame)
        offset = Message.headerBytes
        guard kind == .batch else {
            single = kind
            remaining = 1
            isBatch = false
            return
        }
        isBatch = true
        var r = WireReader(frame, from: Message.headerBytes, kind: "batch")
        // An entry takes at least its kind byte and its length.
        let count = try r.count("count", minimum: 5)
        guard count >= 1 else { throw .badBody(kind: "batch", detail: "count: an empty batch") }
        offset = r.offset
        remaining = count
    }

    /// The next message, or nil when every one was read.
    public mutating func next() throws(ProtocolError) -> Message? {
        guard remaining > 0 else { return nil }
        remaining -= 1
        if let kind = single {
            var r = WireReader(frame, from: offset, kind: kind.name)
            return try Message.decodeBody(kind, &r)
        }
        defer { index += 1 }
        var r = WireReader(frame, from: offset, kind: "batch")
        let byte = try r.u8("entry kind")
        guard let kind = Message.Kind(rawValue: byte), kind.batchable else {
            throw .badBody(kind: "batch", detail: "entry \(index): kind \(byte) cannot be batched (task, result and taskFailed can)")
        }
        let length = Int(try r.u32("entry length"))
        guard length <= r.remaining else {
            throw .badBody(kind: "batch", detail: "entry \(index): length \(length) exceeds the \(r.remaining) byte(s) left")
        }
        let start = r.offset
        offset = start + length
        if remaining == 0 && offset != frame.count {
            throw .badBody(kind: "batch", detail: "\(frame.count - offset) byte(s) left after the last entry")
        }
        var entry = WireReader(frame, from: start, to: offset, kind: kind.name, entry: index)
        return try Message.decodeBody(kind, &entry)
    }

    /// Skips the entries not yet read.
    public mutating func skipRest() { remaining = 0 }
}
