import CZeroMQ

/// A CURVE key pair as 40-character Z85 text (zmq_curve(7)).
public struct CurveKeyPair: Sendable, Hashable {
    public var publicKey: String
    public var secretKey: String

    /// Whether this libzmq was built with CURVE (libsodium).
    public static var isCurveAvailable: Bool { zmq_has("curve") == 1 }

    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        try check("zmq_curve_keypair") { zmq_curve_keypair(&publicKey, &secretKey) }
        return CurveKeyPair(publicKey: Z85.string(publicKey), secretKey: Z85.string(secretKey))
    }

    /// The pair of a secret key, its public half derived.
    public init(secretKey: String) throws(ZMQError) {
        guard Z85.isValidKey(secretKey) else { throw ZMQError(code: EINVAL, function: "CurveKeyPair(secretKey:)") }
        var publicKey = [CChar](repeating: 0, count: 41)
        try check("zmq_curve_public") { zmq_curve_public(&publicKey, secretKey) }
        self.init(publicKey: Z85.string(publicKey), secretKey: secretKey)
    }

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// Z85 (ZeroMQ RFC 32), the text form of CURVE keys.
public enum Z85 {
    static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")

    /// A 32-byte key is 40 characters of the Z85 alphabet.
    public static func isValidKey(_ text: String) -> Bool {
        text.count == 40 && text.allSatisfy { alphabet.contains($0) }
    }

    /// Encodes 32 bytes (a binary key) as 40 characters.
    public static func encodeKey(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, bytes, bytes.count) != nil else { return nil }
        return string(out)
    }

    static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
