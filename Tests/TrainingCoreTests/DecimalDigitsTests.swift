import Testing
import TrainingCore

/// The digits the wire and the store write for a seed are `String(seed)`'s.
@Suite struct DecimalDigitsTests {
    @Test("zero, one and two digits, a power of ten, 2^53 and its neighbour, and the largest UInt64s", arguments:
            [0, 7, 10, 99, 1234567890, 1 << 53, (1 << 53) + 1, UInt64.max / 10, UInt64.max] as [UInt64])
    func digits(value: UInt64) {
        let written = value.withDecimalDigits { Array($0) }
        #expect(written == Array(String(value).utf8))
    }
}
