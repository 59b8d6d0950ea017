import Foundation
import SweepProtocol

/// Frames between a node worker and its compute processes over a pipe: a 4-byte little-endian
/// length, then that many bytes (a `task` frame one way, a `result` or `task_failed` frame the
/// other).
enum PipeFrames {
    /// A result frame is at most `maxFrameBytes`; a task is far smaller.
    static let limit = maxFrameBytes

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func write(_ frame: [UInt8], to fd: Int32) throws(Failure) {
        let count = UInt32(frame.count)
        let header = (0..<4).map { UInt8(truncatingIfNeeded: count >> (8 * $0)) }
        try writeAll(header, to: fd)
        try writeAll(frame, to: fd)
    }

    /// The next frame; nil at the end of the stream before a frame began (the peer closed it).
    static func read(from fd: Int32) throws(Failure) -> [UInt8]? {
        guard let header = try readExactly(4, from: fd, endAllowed: true) else { return nil }
        let count = header.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard count <= limit else { throw Failure(description: "a frame of \(count) bytes, above the limit of \(limit)") }
        return try readExactly(count, from: fd, endAllowed: false) ?? []
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "write: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    private static func readExactly(_ count: Int, from fd: Int32, endAllowed: Bool) throws(Failure) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, count - offset) }
            if got < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "read: \(String(cString: strerror(errno)))")
            }
            if got == 0 {
                if offset == 0 && endAllowed { return nil }
                throw Failure(description: "the stream ended inside a frame")
            }
            offset += got
        }
        return bytes
    }
}
