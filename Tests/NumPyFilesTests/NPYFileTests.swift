import Foundation
import LinearAlgebra
import NumPyFiles
import Testing

@Suite struct NPYFileTests {
    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("npy-\(UUID().uuidString)-\(name)").path
    }

    /// A hand-built file: header dict padded to 64 bytes, then the raw little-endian data.
    func file(version: UInt8, descr: String = "<f8", fortran: Bool, shape: String, values: [Double],
              bigEndian: Bool = false) -> [UInt8] {
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        let prefix = version == 1 ? 10 : 12
        header += String(repeating: " ", count: (64 - (prefix + header.utf8.count + 1) % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let length = header.utf8.count
        bytes += version == 1 ? [UInt8(length & 0xFF), UInt8(length >> 8)]
            : [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), 0, 0]
        bytes += Array(header.utf8)
        for v in values {
            let bits = bigEndian ? v.bitPattern.byteSwapped : v.bitPattern
            for b in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * b))) }
        }
        return bytes
    }

    @Test("C and Fortran order, format versions 1, 2 and 3", arguments: [UInt8(1), 2, 3])
    func orders(version: UInt8) throws {
        // [[1, 2, 3], [4, 5, 6]]
        let c = try NPYFile.decode(file(version: version, fortran: false, shape: "(2, 3)", values: [1, 2, 3, 4, 5, 6]), path: "c.npy")
        let f = try NPYFile.decode(file(version: version, fortran: true, shape: "(2, 3)", values: [1, 4, 2, 5, 3, 6]), path: "f.npy")
        let expected = Matrix([[1, 2, 3], [4, 5, 6]])
        #expect(c == expected)
        #expect(f == expected)
    }

    @Test("1-D arrays read as columns; big-endian float64 is read too")
    func vectors() throws {
        let v = try NPYFile.decode(file(version: 1, fortran: false, shape: "(3,)", values: [1.5, -2, 3]), path: "v.npy")
        #expect(v.rows == 3 && v.columns == 1 && v[1, 0] == -2)
        let big = try NPYFile.decode(file(version: 1, descr: ">f8", fortran: false, shape: "(2,)", values: [0.25, 7], bigEndian: true), path: "b.npy")
        #expect(big.storage == [0.25, 7])
    }

    @Test("write then read gives the same matrix, bit for bit")
    func roundTrip() throws {
        var rng = NormalGenerator(seed: 5)
        let m = rng.normalMatrix(rows: 7, columns: 4)
        let path = temporaryPath("m.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NPYFile.write(m, to: path)
        #expect(try NPYFile.read(path) == m)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect((10 + Int(bytes[8]) + Int(bytes[9]) << 8) % 64 == 0, "data starts on a 64-byte boundary")
    }

    @Test("errors name the file and the problem")
    func errors() throws {
        let cases: [([UInt8], String)] = [
            (file(version: 1, descr: "<f4", fortran: false, shape: "(2,)", values: []) + [0, 0, 0, 0, 0, 0, 0, 0], "float64"),
            (Array("not numpy at all".utf8), "magic"),
            (Array(file(version: 1, fortran: false, shape: "(2, 3)", values: [1, 2, 3, 4, 5, 6]).dropLast(5)), "truncated"),
            (file(version: 1, fortran: false, shape: "(2, 2, 2)", values: Array(repeating: 0, count: 8)), "dimensions"),
            (file(version: 9, fortran: false, shape: "(1,)", values: [1]), "version"),
            (Array(file(version: 1, fortran: false, shape: "(1,)", values: [1]).prefix(20)), "truncated"),
        ]
        for (bytes, phrase) in cases {
            do {
                _ = try NPYFile.decode(bytes, path: "data/W1.npy")
                Issue.record("expected an error mentioning \(phrase)")
            } catch {
                #expect(error.description.hasPrefix("data/W1.npy: "), "\(error)")
                #expect(error.description.contains(phrase), "\(error)")
            }
        }
        do {
            _ = try NPYFile.read("/nonexistent/A.npy")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/A.npy: no such file")
        }
    }
}
