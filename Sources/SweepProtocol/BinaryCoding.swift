/// The primitives of the binary bodies (PROTOCOL.md, "Encoding"): little-endian integers and
/// IEEE 754 doubles, length-prefixed UTF-8 strings and lists, a presence byte before optional
/// values. Written by hand, field by field, in the order PROTOCOL.md lists: no reflection, no
/// intermediate representation, every read bounds-checked.

import TrainingCore  // UInt64.withDecimalDigits

/// Appends values to a byte buffer.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    init(prefix: [UInt8]) { bytes = prefix }

    @inline(__always) mutating func u8(_ value: UInt8) { bytes.append(value) }

    @inline(__always) mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always) mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always) mutating func int(_ value: Int) { u64(UInt64(bitPattern: Int64(value))) }

    @inline(__always) mutating func double(_ value: Double) { u64(value.bitPattern) }

    @inline(__always) mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// u32 byte count, then the UTF-8 bytes.
    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            u32(UInt32(truncatingIfNeeded: utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// `string(String(value))`, the digits written in place (a seed's text is a heap string,
    /// made and freed per task).
    mutating func decimal(_ value: UInt64) {
        value.withDecimalDigits { digits in
            u32(UInt32(digits.count))
            bytes.append(contentsOf: digits)
        }
    }

    /// u32 count, then the elements.
    mutating func doubles(_ values: [Double]) {
        u32(UInt32(truncatingIfNeeded: values.count))
        for value in values { double(value) }
    }

    mutating func ints(_ values: [Int]) {
        u32(UInt32(truncatingIfNeeded: values.count))
        for value in values { int(value) }
    }

    mutating func strings(_ values: [String]) {
        u32(UInt32(truncatingIfNeeded: values.count))
        for value in values { string(value) }
    }

    /// A presence byte (0 absent, 1 present), then the value when present.
    @inline(__always) mutating func optional<T>(_ value: T?, _ write: (inout WireWriter, T) -> Void) {
        if let value {
            bytes.append(1)
            write(&self, value)
        } else {
            bytes.append(0)
        }
    }

    mutating func optionalInt(_ value: Int?) { optional(value) { $0.int($1) } }
    mutating func optionalDouble(_ value: Double?) { optional(value) { $0.double($1) } }
    mutating func optionalString(_ value: String?) { optional(value) { $0.string($1) } }

    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }
    mutating func append(_ other: ArraySlice<UInt8>) { bytes.append(contentsOf: other) }

    var count: Int { bytes.count }

    mutating func patchU32(at index: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[index + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }

    mutating func patch(at index: Int, _ value: UInt8) { bytes[index] = value }

    mutating func truncate(to count: Int) { bytes.removeSubrange(count...) }
}

/// Reads values from a byte buffer; every read checks what is left first, so a short or
/// lying body is a `ProtocolError.badBody` naming the field, never a trap.
public struct WireReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int
    /// The message kind and its place in a batch, for error messages (put together only
    /// when one is thrown).
    let kindName: String
    let entry: Int?

    init(_ bytes: [UInt8], from offset: Int, to end: Int? = nil, kind: String, entry: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
        self.kindName = kind
        self.entry = entry
    }

    var kind: String { entry.map { "\(kindName) (batch entry \($0))" } ?? kindName }

    var remaining: Int { end - offset }

    func fail(_ field: String, _ detail: String) -> ProtocolError {
        .badBody(kind: kind, detail: "\(field): \(detail)")
    }

    @inline(__always) private mutating func take(_ count: Int, _ field: @autoclosure () -> String) throws(ProtocolError) -> Int {
        guard count <= remaining else { throw fail(field(), "needs \(count) byte(s), \(remaining) left") }
        let start = offset
        offset += count
        return start
    }

    mutating func u8(_ field: @autoclosure () -> String) throws(ProtocolError) -> UInt8 {
        bytes[try take(1, field())]
    }

    mutating func u32(_ field: @autoclosure () -> String) throws(ProtocolError) -> UInt32 {
        let start = try take(4, field())
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[start + i]) << (8 * i) }
        return value
    }

    mutating func u64(_ field: @autoclosure () -> String) throws(ProtocolError) -> UInt64 {
        let start = try take(8, field())
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[start + i]) << (8 * i) }
        return value
    }

    mutating func int(_ field: @autoclosure () -> String) throws(ProtocolError) -> Int { Int(Int64(bitPattern: try u64(field()))) }

    mutating func double(_ field: @autoclosure () -> String) throws(ProtocolError) -> Double { Double(bitPattern: try u64(field())) }

    mutating func bool(_ field: @autoclosure () -> String) throws(ProtocolError) -> Bool {
        switch try u8(field()) {
        case 0: return false
        case 1: return true
        case let other: throw fail(field(), "a bool must be 0 or 1, got \(other)")
        }
    }

    mutating func string(_ field: @autoclosure () -> String) throws(ProtocolError) -> String {
        let count = Int(try u32(field()))
        let start = try take(count, field())
        let text: String? = bytes.withUnsafeBufferPointer { all in
            let utf8 = UnsafeBufferPointer(rebasing: all[start..<start + count])
            // ASCII (ids, tokens, fingerprints) is valid UTF-8 as it is: checking so is a
            // tenth of the generic validation, which the rest still goes through.
            if utf8.allSatisfy({ $0 < 0x80 }) { return String(decoding: utf8, as: UTF8.self) }
            return String(validating: utf8, as: UTF8.self)
        }
        guard let text else { throw fail(field(), "not UTF-8") }
        return text
    }

    /// A list's count, checked against the bytes left (each element takes at least `minimum`).
    mutating func count(_ field: @autoclosure () -> String, minimum: Int) throws(ProtocolError) -> Int {
        let count = Int(try u32(field()))
        guard count * minimum <= remaining else {
            throw fail(field(), "\(count) element(s) cannot fit in the \(remaining) byte(s) left")
        }
        return count
    }

    mutating func doubles(_ field: @autoclosure () -> String) throws(ProtocolError) -> [Double] {
        let count = try count(field(), minimum: 8)
        var values: [Double] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try double(field())) }
        return values
    }

    mutating func ints(_ field: @autoclosure () -> String) throws(ProtocolError) -> [Int] {
        let count = try count(field(), minimum: 8)
        var values: [Int] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try int(field())) }
        return values
    }

    mutating func strings(_ field: @autoclosure () -> String) throws(ProtocolError) -> [String] {
        let count = try count(field(), minimum: 4)
        var values: [String] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try string(field())) }
        return values
    }

    /// Whether an optional value follows (its presence byte).
    mutating func present(_ field: @autoclosure () -> String) throws(ProtocolError) -> Bool {
        switch try u8(field()) {
        case 0: return false
        case 1: return true
        case let other: throw fail(field(), "a presence byte must be 0 or 1, got \(other)")
        }
    }

    mutating func optionalInt(_ field: @autoclosure () -> String) throws(ProtocolError) -> Int? {
        try present(field()) ? try int(field()) : nil
    }

    mutating func optionalDouble(_ field: @autoclosure () -> String) throws(ProtocolError) -> Double? {
        try present(field()) ? try double(field()) : nil
    }

    mutating func optionalString(_ field: @autoclosure () -> String) throws(ProtocolError) -> String? {
        try present(field()) ? try string(field()) : nil
    }

    mutating func skip(_ count: Int) { offset += min(count, remaining) }

    func finish() throws(ProtocolError) {
        guard remaining == 0 else { throw ProtocolError.badBody(kind: kind, detail: "\(remaining) byte(s) after the last field") }
    }
}
