import Foundation
import SweepConfig
import Testing

/// The fingerprint's canonical form as PROTOCOL.md describes it, for someone who recomputes it.
@Suite struct FingerprintFormTests {
    static let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("configs")

    @Test("the fingerprint is FNV-1a of the documented canonical JSON: sorted keys, no null, integral doubles as integers, the seed a string")
    func canonicalForm() throws {
        let configuration = try SweepConfiguration.load(path: Self.configs.appendingPathComponent("quick.yaml").path)
        let json = configuration.canonicalFingerprintJSON
        print("canonical form of configs/quick.yaml: \(json)")
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in json.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        #expect(String(repeating: "0", count: 16 - hex.count) + hex == configuration.fingerprint)
        #expect(!json.contains("null") && !json.contains(" ") && !json.contains(".0,") && !json.contains(".0}"))
        #expect(json.contains("\"seed\":\"\(configuration.seed)\""))
        #expect(json.hasPrefix("{\"axes\":{\"depth\":"))
    }
}
