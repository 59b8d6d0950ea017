import Foundation
import ResultsStore
import Testing

/// The store's date text, computed without `gmtime_r`, is the text `gmtime_r` gives, for every
/// date a row can hold: leap days, century rules, negative times, years past 9999.
@Suite struct StoreDateTests {
    /// What the store wrote before: `gmtime_r`'s fields, each clamped at 0 and cut to its width.
    static func viaGmtime(_ date: Date) -> String {
        var milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        if !milliseconds.isFinite { milliseconds = 0 }
        let total = Int64(milliseconds)
        var seconds = time_t(total >= 0 ? total / 1000 : (total - 999) / 1000)
        let millis = Int(total - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int, _ width: Int) -> String {
            var rest = max(0, value)
            var out = ""
            for _ in 0..<width {
                out = String(rest % 10) + out
                rest /= 10
            }
            return out
        }
        return "\(digits(Int(parts.tm_year) + 1900, 4))-\(digits(Int(parts.tm_mon) + 1, 2))-\(digits(Int(parts.tm_mday), 2)) "
            + "\(digits(Int(parts.tm_hour), 2)):\(digits(Int(parts.tm_min), 2)):\(digits(Int(parts.tm_sec), 2)).\(digits(millis, 3))"
    }

    @Test("the same text as gmtime_r at the calendar's edges")
    func edges() {
        let seconds: [Double] = [
            0, -0.001, -1, 86_399.999, 86_400, 951_782_400, 951_868_800 - 0.0005, 4_107_542_400, // 2000-02-29, 2100-03-01
            -2_208_988_800, -62_135_596_800, -62_135_596_801, -62_167_219_200, -62_198_755_200, // 1900, year 1, year 0, year -1
            253_402_300_799.999, 253_402_300_800, 1_800_000_000.123, 1_765_000_000.5, -1e12, 1e14, 9e15,
        ]
        for t in seconds {
            let date = Date(timeIntervalSince1970: t)
            #expect(ResultsStore.dateText(date) == Self.viaGmtime(date), "\(t)")
        }
        #expect(ResultsStore.dateText(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29 00:00:00.000")
        #expect(ResultsStore.dateText(Date(timeIntervalSince1970: .nan)) == "1970-01-01 00:00:00.000")
    }

    @Test("the same text as gmtime_r for 200,000 random times from year -30000 to 30000")
    func random() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200_000 {
            let t = Double.random(in: -1e12...1e12, using: &generator)
            let date = Date(timeIntervalSince1970: t)
            let text = ResultsStore.dateText(date)
            let expected = Self.viaGmtime(date)
            guard text == expected else {
                Issue.record("\(t): \(text), gmtime_r says \(expected)")
                return
            }
        }
    }
}
