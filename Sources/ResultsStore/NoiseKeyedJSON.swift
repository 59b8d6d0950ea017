/// The flat JSON objects of the `test_error` columns (`{"0":0.01,"0.1":"inf"}`), read without
/// JSONDecoder: on a 100k-task store a third of the time of `dlsweep table` and `dlsweep report`
/// went into decoding them with it.
public enum NoiseKeyedJSON {
    /// The object as `ResultsStore` writes it: string keys without escapes, values that are
    /// finite JSON numbers or the strings "inf", "-inf", "nan". nil for anything else
    /// (escapes, duplicate keys, other values, malformed text): the caller then asks JSONDecoder,
    /// so this never decides differently from it on what the store writes.
    public static func parse(_ text: String) -> [String: Double]? {
        let bytes = Array(text.utf8)
        let n = bytes.count
        var i = 0
        var result: [String: Double] = [:]
        func skipSpaces() {
            while i < n, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
        }
        func expect(_ ascii: Unicode.Scalar) -> Bool {
            guard i < n, bytes[i] == UInt8(ascii: ascii) else { return false }
            i += 1
            return true
        }
        func string() -> String? {
            guard expect("\"") else { return nil }
            let start = i
            while i < n, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") || bytes[i] < 0x20 { return nil }
                i += 1
            }
            guard i < n else { return nil }
            defer { i += 1 }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }
        func number() -> Double? {
            let start = i
            while i < n, (bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9")) || bytes[i] == UInt8(ascii: "-")
                || bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")
                || bytes[i] == UInt8(ascii: "+") {
                i += 1
            }
            guard i > start, bytes[start] != UInt8(ascii: "+"),
                  let value = Double(String(decoding: bytes[start..<i], as: UTF8.self)), value.isFinite
            else { return nil }
            return value
        }
        skipSpaces()
        guard expect("{") else { return nil }
        skipSpaces()
        if !expect("}") {
            while true {
                skipSpaces()
                guard let key = string(), result[key] == nil else { return nil }
                skipSpaces()
                guard expect(":") else { return nil }
                skipSpaces()
                let value: Double
                if i < n, bytes[i] == UInt8(ascii: "\"") {
                    switch string() {
                    case "inf": value = .infinity
                    case "-inf": value = -.infinity
                    case "nan": value = .nan
                    default: return nil
                    }
                } else {
                    guard let parsed = number() else { return nil }
                    value = parsed
                }
                result[key] = value
                skipSpaces()
                if expect(",") { continue }
                guard expect("}") else { return nil }
                break
            }
        }
        skipSpaces()
        return i == n ? result : nil
    }
}
