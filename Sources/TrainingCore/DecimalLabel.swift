/// The text of a decimal value as the tables and the database key it, and as error messages
/// quote a setting: the shortest text that round-trips, without a trailing `.0` (`0`, `0.1`,
/// `1e-05`).
public func decimalLabel(_ value: Double) -> String {
    var text = value.description  // as "\(value)", without the interpolation machinery
    if text.hasSuffix(".0") { text.removeLast(2) }
    return text
}

extension UInt64 {
    /// `body` gets the ASCII digits of `String(self)`, written on the stack: the wire and the
    /// store write a task's seeds this way, tens of thousands a second, without a heap string.
    @inlinable
    public func withDecimalDigits<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in  // at most 20 digits
            var rest = self
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            return try body(UnsafeBufferPointer(rebasing: buffer[start...]))
        }
    }
}
