import Foundation
import Testing

/// One HTTP/1.1 request over a plain TCP socket (`Connection: close`, read to the end): the
/// live view's answers exactly as sent, with no client library retrying or rewriting them.
/// `url` is `http://IPv4:PORT/path`.
func plainHTTP(_ url: String, method: String = "GET") throws -> (status: Int, headers: String, body: Data) {
    let parsed = try #require(URL(string: url))
    let host = try #require(parsed.host), port = try #require(parsed.port)
    let path = parsed.path.isEmpty ? "/" : parsed.path
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr(host)
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(connected == 0, "cannot connect to \(host):\(port)")
    let request = Array("\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".utf8)
    try #require(request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == request.count)
    var response = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        response.append(contentsOf: buffer[0..<n])
    }
    let separator = try #require(response.range(of: Data("\r\n\r\n".utf8)), "no header end in \(response.count) bytes")
    let head = String(decoding: response[..<separator.lowerBound], as: UTF8.self)
    let statusLine = head.split(separator: "\r\n").first ?? ""
    let status = try #require(Int(statusLine.split(separator: " ").dropFirst().first ?? ""), "\(statusLine)")
    return (status, head, Data(response[separator.upperBound...]))
}
