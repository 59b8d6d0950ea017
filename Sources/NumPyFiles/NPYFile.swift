import Foundation
public import LinearAlgebra

/// Why an `.npy` file could not be read or written; the description names the file.
public struct NPYError: Error, CustomStringConvertible, Sendable, Hashable {
    public var path: String
    public var reason: String

    public var description: String { "\(path): \(reason)" }
}

/// NumPy's `.npy` format (versions 1.0, 2.0, 3.0) for float64 arrays of one or two
/// dimensions, so a run's data and weights can be replayed in NumPy or PyTorch.
///
/// A 1-D array of length n reads as an n × 1 matrix; C and Fortran order are both read;
/// files are written as version 1.0, little-endian, Fortran order (our storage as is).
public enum NPYFile {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    public static func read(_ path: String) throws(NPYError) -> Matrix {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NPYError(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        return try decode([UInt8](data), path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String) throws(NPYError) -> Matrix {
        func fail(_ reason: String) -> NPYError { NPYError(path: path, reason: reason) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy file (bad magic)") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail("unsupported .npy format version \(major).\(bytes[7])")
        }
        guard headerLength <= bytes.count - headerStart else { throw fail("truncated header") }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        guard let header = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw fail("header is not text")
        }
        let fields = try parseHeader(header, fail: fail)

        let bigEndian: Bool
        switch fields.descr {
        case "<f8", "=f8": bigEndian = false
        case ">f8": bigEndian = true
        default: throw fail("dtype '\(fields.descr)' is not float64 ('<f8')")
        }
        let (rows, columns): (Int, Int)
        switch fields.shape.count {
        case 0: (rows, columns) = (1, 1)
        case 1: (rows, columns) = (fields.shape[0], 1)
        case 2: (rows, columns) = (fields.shape[0], fields.shape[1])
        default: throw fail("\(fields.shape.count)-dimensional array; expected 1 or 2 dimensions")
        }
        // The shape comes from the file: checked arithmetic, and compared with the bytes there
        // before anything is allocated.
        let dataStart = headerStart + headerLength
        let (count, countOverflow) = rows.multipliedReportingOverflow(by: columns)
        let (byteCount, bytesOverflow) = count.multipliedReportingOverflow(by: 8)
        guard !countOverflow, !bytesOverflow else {
            throw fail("shape \(fields.shape) is too large (more than \(Int.max) bytes of data); corrupt header")
        }
        guard bytes.count - dataStart == byteCount else {
            throw fail("expected \(byteCount) bytes of data for shape \(fields.shape), found \(bytes.count - dataStart) (truncated or corrupt)")
        }
        var values = [Double](repeating: 0, count: count)
        for i in 0..<count {
            var bits: UInt64 = 0
            for b in 0..<8 { bits |= UInt64(bytes[dataStart + 8 * i + b]) << (8 * b) }
            if bigEndian { bits = bits.byteSwapped }
            values[i] = Double(bitPattern: bits)
        }
        var matrix = Matrix(rows: rows, columns: columns)
        if fields.fortranOrder || columns == 1 || rows == 1 {
            matrix.storage = MatrixStorage(values)
        } else {
            for i in 0..<rows { for j in 0..<columns { matrix.storage[i + j * rows] = values[i * columns + j] } }
        }
        return matrix
    }

    struct Header {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]
    }

    /// Reads the Python dict literal of the header: `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`.
    static func parseHeader(_ text: String, fail: (String) -> NPYError) throws(NPYError) -> Header {
        func value(of key: String) -> Substring? {
            guard let keyRange = text.range(of: "'\(key)'") ?? text.range(of: "\"\(key)\"") else { return nil }
            let rest = text[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
            return rest
        }
        guard let descrRest = value(of: "descr"), let quote = descrRest.first, quote == "'" || quote == "\"" else {
            throw fail("header has no 'descr'")
        }
        let descr = descrRest.dropFirst().prefix { $0 != quote }
        guard let orderRest = value(of: "fortran_order") else { throw fail("header has no 'fortran_order'") }
        let fortran: Bool
        if orderRest.hasPrefix("True") { fortran = true } else if orderRest.hasPrefix("False") { fortran = false } else {
            throw fail("header has a bad 'fortran_order'")
        }
        guard let shapeRest = value(of: "shape"), shapeRest.first == "(", let close = shapeRest.firstIndex(of: ")") else {
            throw fail("header has no 'shape'")
        }
        let inner = shapeRest[shapeRest.index(after: shapeRest.startIndex)..<close]
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let n = Int(trimmed.hasSuffix("L") ? String(trimmed.dropLast()) : trimmed), n >= 0 else {
                throw fail("header has a bad 'shape' (\(inner))")
            }
            shape.append(n)
        }
        return Header(descr: String(descr), fortranOrder: fortran, shape: shape)
    }

    /// Writes a matrix as a 2-D float64 array (version 1.0, Fortran order).
    public static func write(_ matrix: Matrix, to path: String) throws(NPYError) {
        var header = "{'descr': '<f8', 'fortran_order': True, 'shape': (\(matrix.rows), \(matrix.columns)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes = magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        bytes.reserveCapacity(bytes.count + 8 * matrix.count)
        for value in matrix.storage {
            let bits = value.bitPattern
            for b in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * b))) }
        }
        // POSIX calls, so a failure reads "No such file or directory", not "NSCocoaErrorDomain error 4".
        guard let file = fopen(path, "wb") else {
            throw NPYError(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let writeError = written == bytes.count ? 0 : errno
        let closeFailed = fclose(file) != 0
        guard writeError == 0, !closeFailed else {
            throw NPYError(path: path, reason: "cannot write: \(String(cString: strerror(writeError != 0 ? writeError : errno)))")
        }
    }
}
