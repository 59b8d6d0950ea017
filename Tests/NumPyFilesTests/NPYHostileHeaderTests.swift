import Foundation
import LinearAlgebra
import NumPyFiles
import Testing

/// Headers are hostile input: sizes they claim are checked before any arithmetic can
/// overflow or any allocation happens (issue 11, item 4).
extension NPYFileTests {
    @Test("a shape whose element or byte count overflows is an error, not a crash", arguments: [
        "(4611686018427387904, 4)",  // 2^62 × 4 elements
        "(2305843009213693952, 1)",  // 2^61 elements: 2^64 bytes
        "(9223372036854775807, 9223372036854775807)",
    ])
    func overflowingShape(shape: String) {
        let bytes = file(version: 1, fortran: false, shape: shape, values: [1, 2, 3, 4])
        #expect {
            try NPYFile.decode(bytes, path: "huge.npy")
        } throws: { error in
            "\(error)".hasPrefix("huge.npy: shape [") && "\(error)".contains("is too large")
        }
    }

    @Test("a header length beyond the file is a truncated header")
    func hugeHeaderLength() {
        var bytes = file(version: 2, fortran: false, shape: "(2,)", values: [1, 2])
        bytes[8] = 0xFF; bytes[9] = 0xFF; bytes[10] = 0xFF; bytes[11] = 0xFF
        #expect {
            try NPYFile.decode(bytes, path: "h.npy")
        } throws: { error in
            "\(error)" == "h.npy: truncated header"
        }
    }

    @Test("writing into a missing folder says why in plain words")
    func writeError() {
        let path = temporaryPath("no-such-folder") + "/W1.npy"
        #expect {
            try NPYFile.write(Matrix(rows: 1, columns: 1), to: path)
        } throws: { error in
            "\(error)" == "\(path): cannot write: No such file or directory"
        }
    }
}
