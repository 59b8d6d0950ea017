public import Foundation
import Synchronization
import FlyingFox
import FlyingSocks
import ResultsStore
import SweepConfig
import SweepTable

/// Where the live view listens: `PORT` (on 127.0.0.1), `HOST:PORT` or `[IPv6]:PORT`. Only an
/// address given explicitly leaves loopback.
public struct LiveViewAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String = "127.0.0.1", port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `--http`; nil (with nothing bound) for anything else.
    public init?(_ text: String) {
        var hostPart = "127.0.0.1", portPart = Substring(text)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            hostPart = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            hostPart = String(text[..<colon])
            portPart = text[text.index(after: colon)...]
        }
        guard !hostPart.isEmpty, let port = UInt16(portPart) else { return nil }
        self.init(host: hostPart, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Serves a sweep read-only over HTTP while it runs: `report.html` at `/` and `/report.html`
/// (rebuilt from the store when older than `reportMaxAge`, with a refresh every
/// `refreshSeconds`), and `/status.json` from `status`. GET only: any other method gets 405,
/// any other path 404. Nothing is ever written.
public final class LiveView: Sendable {
    /// The address actually bound (port 0 resolved).
    public let bound: LiveViewAddress
    private let server: HTTPServer
    private let task: Task<Void, any Error>

    public var url: String { "http://\(bound)/" }

    /// Binds `address` and serves until `stop()`; returns once listening.
    /// - Parameter status: `/status.json`'s body; nil: 503 (the coordinator has not started).
    /// - Parameter metrics: `/metrics`' body (Prometheus text format); nil: 503.
    public static func start(address: LiveViewAddress, directory: String,
                             status: @escaping @Sendable () -> Data?,
                             metrics: @escaping @Sendable () -> String? = { nil }) throws -> LiveView {
        let handler = LiveViewHandler(pages: ReportPages(directory: directory), status: status, metrics: metrics)
        let server: HTTPServer
        do {
            server = address.host.contains(":")
                ? HTTPServer(address: try sockaddr_in6.inet6(ip6: address.host, port: address.port), timeout: 15,
                             logger: .disabled, handler: handler)
                : HTTPServer(address: try sockaddr_in.inet(ip4: address.host, port: address.port), timeout: 15,
                             logger: .disabled, handler: handler)
        } catch {
            throw LiveViewError("--http \(address): not an IP address and port (\(error))")
        }
        let task = Task { try await server.run() }
        let box = Mutex<Result<LiveViewAddress, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.waitUntilListening(timeout: 10)
                switch await server.listeningAddress {
                case .ip4(let host, let port)?, .ip6(let host, let port)?:
                    box.withLock { $0 = .success(LiveViewAddress(host: host, port: port)) }
                default:
                    box.withLock { $0 = .failure(LiveViewError("--http \(address): no address after listening")) }
                }
            } catch {
                box.withLock { $0 = .failure(LiveViewError("--http \(address): cannot listen (\(error))")) }
            }
            done.signal()
        }
        done.wait()
        switch box.withLock({ $0 }) {
        case .success(let bound)?: return LiveView(bound: bound, server: server, task: task)
        case .failure(let error)?:
            task.cancel()
            throw error
        case nil: throw LiveViewError("--http \(address): the server did not start")
        }
    }

    private init(bound: LiveViewAddress, server: HTTPServer, task: Task<Void, any Error>) {
        self.bound = bound
        self.server = server
        self.task = task
    }

    /// Closes the socket; waits (briefly) for open connections to finish.
    public func stop() {
        let done = DispatchSemaphore(value: 0)
        let server = self.server
        Task {
            await server.stop(timeout: 1)
            done.signal()
        }
        done.wait()
        task.cancel()
    }
}

public struct LiveViewError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The routes. Anything but GET is refused before a path is looked at.
struct LiveViewHandler: HTTPHandler {
    let pages: ReportPages
    let status: @Sendable () -> Data?
    let metrics: @Sendable () -> String?

    func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard request.method == .GET else {
            return Self.text(.methodNotAllowed, "read-only: GET only\n", extra: [HTTPHeader("Allow"): "GET"])
        }
        switch request.path {
        case "/", "/report.html":
            switch await pages.page() {
            case .success(var html):
                // The figures of this moment above the (up to 2 s old) report.
                if let figures = status().flatMap(Self.statusSection), let end = html.range(of: "</h1>") {
                    html.insert(contentsOf: "\n" + figures, at: end.upperBound)
                }
                return HTTPResponse(statusCode: .ok, headers: Self.headers("text/html; charset=utf-8"), body: Data(html.utf8))
            case .failure(let error):
                return Self.text(.serviceUnavailable, "the report cannot be made yet: \(error)\n")
            }
        case "/favicon.ico":
            // No icon, and no error in the browser's console for the one it asks for.
            return HTTPResponse(statusCode: .noContent, headers: Self.headers("image/x-icon"))
        case "/status.json":
            guard let body = status() else { return Self.text(.serviceUnavailable, "the sweep has not started yet\n") }
            return HTTPResponse(statusCode: .ok, headers: Self.headers("application/json"), body: body)
        case "/metrics":
            guard let body = metrics() else { return Self.text(.serviceUnavailable, "the sweep has not started yet\n") }
            return HTTPResponse(statusCode: .ok, headers: Self.headers("text/plain; version=0.0.4; charset=utf-8"), body: Data(body.utf8))
        default:
            return Self.text(.notFound, "not found: / , /report.html, /status.json and /metrics are served\n")
        }
    }

    /// `/status.json` as a small table: progress, rate, ETA, workers and hosts, failures.
    static func statusSection(_ json: Data) -> String? {
        guard let status = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return nil }
        func number(_ key: String, in object: [String: Any] = status) -> Double? { (object[key] as? NSNumber)?.doubleValue }
        let done = Int(number("done") ?? 0), tasks = Int(number("tasks") ?? 0)
        let rate = number("tasksPerSecond") ?? 0
        let eta = number("etaSeconds").map { seconds -> String in
            let s = Int(seconds.rounded())
            return s >= 3600 ? "\(s / 3600) h \(s / 60 % 60) min" : s >= 60 ? "\(s / 60) min \(s % 60) s" : "\(s) s"
        } ?? "-"
        let hosts = (status["hosts"] as? [[String: Any]] ?? []).map { host in
            "\(host["host"] as? String ?? "?"): \(Int(number("workers", in: host) ?? 0)) worker(s), \(Int(number("tasks", in: host) ?? 0)) tasks, \(String(format: "%.2f", number("tasksPerSecond", in: host) ?? 0))/s"
        }
        let counters = status["counters"] as? [String: Any] ?? [:]
        var rows: [(String, String)] = [
            ("state", status["state"] as? String ?? "?"),
            ("progress", "\(done) of \(tasks) tasks (\(String(format: "%.1f", number("percent") ?? 0))%)"),
            ("rate", String(format: "%.2f tasks/s, ETA ", rate) + eta),
            ("workers", "\(Int(number("workers") ?? 0))" + (hosts.isEmpty ? "" : " (" + hosts.joined(separator: "; ") + ")")),
            ("failed, rejected", "\(Int(number("failed", in: counters) ?? 0)) tasks failed, \(Int(number("rejected", in: counters) ?? 0)) answers rejected"),
        ]
        if let alert = status["alert"] as? String { rows.append(("alert", alert)) }
        return "<section id=\"live\">\n<h2>Live</h2>\n<p class=\"note\">Refreshed every \(ReportPages.refreshSeconds) s; the same figures as /status.json.</p>\n<table class=\"facts\">\n"
            + rows.map { "<tr><th>\(xmlEscaped($0.0))</th><td>\(xmlEscaped($0.1))</td></tr>" }.joined(separator: "\n")
            + "\n</table>\n</section>"
    }

    static func headers(_ type: String) -> HTTPHeaders {
        [.contentType: type, .cacheControl: "no-store"]
    }

    static func text(_ code: HTTPStatusCode, _ body: String, extra: [HTTPHeader: String] = [:]) -> HTTPResponse {
        var headers = Self.headers("text/plain; charset=utf-8")
        for (key, value) in extra { headers[key] = value }
        return HTTPResponse(statusCode: code, headers: headers, body: Data(body.utf8))
    }
}

/// `report.html` for the live view: made from the store (opened read-only once) at most every
/// `maxAge` seconds, so a page reloading every few seconds costs one summary pass per period
/// whatever the number of viewers.
actor ReportPages {
    static let maxAge = 2.0
    static let refreshSeconds = 5
    let directory: String
    private var store: (ResultsStore, SweepConfiguration)?
    private var cached: (page: String, madeAt: Date)?

    init(directory: String) { self.directory = directory }

    func page() -> Result<String, any Error> {
        if let cached, Date().timeIntervalSince(cached.madeAt) < Self.maxAge { return .success(cached.page) }
        do {
            let (store, configuration) = try self.store ?? ResultsStore.openExisting(directory: directory)
            self.store = (store, configuration)
            let html = try SweepReport(store: store, configuration: configuration)
                .renderHTML(refreshSeconds: Self.refreshSeconds)
            cached = (html, Date())
            return .success(html)
        } catch {
            return .failure(error)
        }
    }
}
