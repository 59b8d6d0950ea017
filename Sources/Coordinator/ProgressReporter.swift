import Foundation

/// Progress of a sweep on stderr: a redrawn bar on a terminal, a plain line every few seconds
/// otherwise (logs and CI output stay readable).
struct ProgressReporter {
    private let style: ProgressStyle
    private let total: Int
    private let startDone: Int
    private let start: Double
    private var lastDraw = 0.0
    private let interval: Double
    private var drewBar = false

    init(style: ProgressStyle, total: Int, alreadyDone: Int, now: Double) {
        let isTerminal = isatty(STDERR_FILENO) == 1
        switch style {
        case .automatic: self.style = isTerminal ? .bar : .lines
        default: self.style = style
        }
        self.total = total
        self.startDone = alreadyDone
        self.start = now
        self.interval = self.style == .bar ? 0.2 : 5
    }

    /// - Parameter perHost: tasks finished this session per host, for the line output.
    /// - Parameter alert: a fault the operator must see (the store refusing commits).
    mutating func update(done: Int, workers: Int, hosts: Int, perHost: [(host: String, tasks: Int)] = [],
                         alert: String? = nil, now: Double, force: Bool = false) {
        guard style != .none, force || now - lastDraw >= interval else { return }
        lastDraw = now
        let elapsed = max(now - start, 1e-9)
        let rate = Double(done - startDone) / elapsed
        let remaining = total - done
        let eta = rate > 0 ? Self.duration(Double(remaining) / rate) : "--"
        let percent = total == 0 ? 100 : Double(done) * 100 / Double(total)
        let alertText = alert.map { "  [\($0)]" } ?? ""
        let stats = "\(done)/\(total) (\(String(format: "%.1f", percent))%)  \(String(format: "%.1f", rate)) tasks/s  ETA \(eta)  workers \(workers) on \(hosts) host\(hosts == 1 ? "" : "s")\(alertText)"
        if style == .bar {
            let width = 30
            let filled = total == 0 ? width : min(width, done * width / max(total, 1))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K[\(bar)] \(stats)".utf8))
            drewBar = true
        } else {
            let hostText = perHost.isEmpty ? "" : "  [" + perHost.map { host in
                "\(host.host): \(host.tasks) (\(String(format: "%.1f", Double(host.tasks) / elapsed))/s)"
            }.joined(separator: ", ") + "]"
            FileHandle.standardError.write(Data("progress: \(stats)\(hostText)\n".utf8))
        }
    }

    /// Ends a redrawn bar with a newline so later output starts on a clean line.
    mutating func finish() {
        if drewBar { FileHandle.standardError.write(Data("\n".utf8)) }
        drewBar = false
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}
