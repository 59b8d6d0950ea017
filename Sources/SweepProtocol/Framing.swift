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

/// One frame per message: `DLSW` magic, version byte, kind byte, JSON body.
extension Message {
    static let magic: [UInt8] = Array("DLSW".utf8)
    static let headerBytes = 6

    enum Kind: UInt8, CaseIterable {
        case hello = 1, welcome, reject, task, result, taskFailed, heartbeat, shutdown, bye, ack, register
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

    /// Non-finite numbers (a diverged run's metrics) travel as strings.
    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    private static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    public func encoded() throws(ProtocolError) -> [UInt8] {
        let body: Data
        do {
            let encoder = Self.encoder()
            switch self {
            case .hello(let m): body = try encoder.encode(m)
            case .welcome(let m): body = try encoder.encode(m)
            case .reject(let m): body = try encoder.encode(m)
            case .task(let m): body = try encoder.encode(m)
            case .result(let m): body = try encoder.encode(m)
            case .taskFailed(let m): body = try encoder.encode(m)
            case .heartbeat(let m): body = try encoder.encode(m)
            case .shutdown(let m): body = try encoder.encode(m)
            case .bye(let m): body = try encoder.encode(m)
            case .ack(let m): body = try encoder.encode(m)
            case .register(let m): body = try encoder.encode(m)
            }
        } catch {
            throw .unencodable("\(error)")
        }
        let frame = Self.magic + [protocolVersion, kind.rawValue] + Array(body)
        guard frame.count <= maxFrameBytes else { throw .tooLarge(bytes: frame.count) }
        return frame
    }

    /// Decodes one frame. A reject is read whatever its version, so a worker learns why.
    public static func decode(_ frame: [UInt8]) throws(ProtocolError) -> Message {
        guard frame.count >= headerBytes else { throw .tooShort(bytes: frame.count) }
        guard frame.count <= maxFrameBytes else { throw .tooLarge(bytes: frame.count) }
        guard Array(frame[0..<4]) == magic else { throw .badMagic }
        let version = frame[4]
        let kindByte = frame[5]
        guard version == protocolVersion || kindByte == Kind.reject.rawValue else {
            throw .versionMismatch(peerVersion: version)
        }
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let body = Data(frame[headerBytes...])
        let decoder = Self.decoder()
        do {
            switch kind {
            case .hello: return .hello(try decoder.decode(Hello.self, from: body))
            case .welcome: return .welcome(try decoder.decode(Welcome.self, from: body))
            case .reject: return .reject(try decoder.decode(Reject.self, from: body))
            case .task: return .task(try decoder.decode(TaskAssignment.self, from: body))
            case .result: return .result(try decoder.decode(TaskResult.self, from: body))
            case .taskFailed: return .taskFailed(try decoder.decode(TaskFailure.self, from: body))
            case .heartbeat: return .heartbeat(try decoder.decode(Heartbeat.self, from: body))
            case .shutdown: return .shutdown(try decoder.decode(Shutdown.self, from: body))
            case .bye: return .bye(try decoder.decode(Bye.self, from: body))
            case .ack: return .ack(try decoder.decode(Ack.self, from: body))
            case .register: return .register(try decoder.decode(Register.self, from: body))
            }
        } catch {
            throw .badBody(kind: "\(kind)", detail: Self.summary(of: error))
        }
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
