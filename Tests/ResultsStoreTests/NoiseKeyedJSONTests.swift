import Foundation
import ResultsStore
import Testing

/// The fast reader of the test-error columns agrees with JSONDecoder (configured as the store's)
/// on everything it accepts, and hands everything unusual back to it.
@Suite struct NoiseKeyedJSONTests {
    static func viaDecoder(_ text: String) -> [String: Double]? {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try? decoder.decode([String: Double].self, from: Data(text.utf8))
    }

    static func same(_ a: [String: Double], _ b: [String: Double]) -> Bool {
        a.keys.sorted() == b.keys.sorted()
            && a.allSatisfy { key, value in value.isNaN ? b[key]!.isNaN : value.bitPattern == b[key]!.bitPattern }
    }

    @Test("what the store writes reads back bit for bit, as JSONDecoder reads it", arguments: [
        #"{}"#, #"{"0":0.000603813803491538,"0.1":0.41656986356510733,"0.5":2.0828460888204954}"#,
        #"{"0":4.610938481817931e-16,"1e-05":-3.5E+2}"#, #"{"0":"inf","0.1":"-inf","0.5":"nan"}"#,
        #" { "0" : 1 , "2" : -0.0 } "#, #"{"0":0,"0.25":1e-300}"#,
    ])
    func agrees(_ text: String) throws {
        let fast = try #require(NoiseKeyedJSON.parse(text))
        let slow = try #require(Self.viaDecoder(text))
        #expect(Self.same(fast, slow), "\(fast) vs \(slow)")
    }

    @Test("anything unusual is left to JSONDecoder", arguments: [
        "", "[]", "{", #"{"0":1"#, #"{"0":1,}"#, #"{"0":1 "1":2}"#, #"{"0":1,"0":2}"#, #"{"\u0030":1}"#,
        #"{"0":"infinity"}"#, #"{"0":true}"#, #"{"0":null}"#, #"{"0":+1}"#, #"{"0":1e999}"#, #"{"0":1}x"#,
        #"{"0":{"a":1}}"#, #"{"0":-}"#,
    ])
    func declines(_ text: String) {
        #expect(NoiseKeyedJSON.parse(text) == nil)
    }
}
