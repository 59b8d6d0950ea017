import LiveView
import Testing

/// `--http`: a bare port stays on loopback; only an address written out leaves it.
@Suite struct LiveViewAddressTests {
    @Test("PORT, HOST:PORT and [IPv6]:PORT; a bare port binds 127.0.0.1")
    func parses() {
        #expect(LiveViewAddress("8080") == LiveViewAddress(host: "127.0.0.1", port: 8080))
        #expect(LiveViewAddress("0") == LiveViewAddress(host: "127.0.0.1", port: 0))
        #expect(LiveViewAddress("0.0.0.0:8080") == LiveViewAddress(host: "0.0.0.0", port: 8080))
        #expect(LiveViewAddress("127.0.0.2:9") == LiveViewAddress(host: "127.0.0.2", port: 9))
        #expect(LiveViewAddress("[::1]:8080") == LiveViewAddress(host: "::1", port: 8080))
        #expect(LiveViewAddress("[::1]:8080")?.description == "[::1]:8080")
        for bad in ["", "localhost", ":", ":8080", "host:", "1.2.3.4:99999", "[::1]", "[::1]8080", "8080x", "-1"] {
            #expect(LiveViewAddress(bad) == nil, "\(bad)")
        }
    }
}
