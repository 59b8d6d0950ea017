import Foundation

/// Progress of a sweep on stderr: a redrawn bar on a terminal, a plain line every few seconds
/// otherwise (logs and CI output stay readable). It prints the figures of `SweepStatus`, the
/// same the live view serves.
struct ProgressReporter {
    private let style: ProgressStyle
    private var lastDraw = 0.0
    private let interval: Double
    private var drewBar = false

    init(style: ProgressStyle) {
        let isTerminal = isatty(STDERR_FILENO) == 1
        switch style {
        case .automatic: self.style = isTerminal ? .bar : .lines
        default: self.style = style
        }
        self.interval = self.style == .bar ? 0.2 : 5
    }

    mutating func update(_ status: SweepStatus, force: Bool = false) {
        guard style != .none, force || status.updatedAt - lastDraw >= interval else { return }
        lastDraw = status.updatedAt
        let stats = status.progressSummary
        if style == .bar {
            let width = 30
            let filled = status.tasks == 0 ? width : min(width, status.done * width / max(status.tasks, 1))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K[\(bar)] \(stats)".utf8))
            drewBar = true
        } else {
            let hostText = status.hosts.isEmpty ? "" : "  [" + status.hosts.map { host in
                "\(host.host): \(host.tasks) (\(String(format: "%.1f", host.tasksPerSecond))/s)"
            }.joined(separator: ", ") + "]"
            FileHandle.standardError.write(Data("progress: \(stats)\(hostText)\n".utf8))
        }
    }

    /// Ends a redrawn bar with a newline so later output starts on a clean line.
    mutating func finish() {
        if drewBar { FileHandle.standardError.write(Data("\n".utf8)) }
        drewBar = false
    }

    /// "1m05s", "2h03m", "--" for an unknown time.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}

extension SweepStatus {
    /// The progress line's figures (after the bar or the `progress:` prefix): done of all, the
    /// rate, the ETA, the workers and hosts, replays still to check, failures and refusals, and
    /// an alert.
    public var progressSummary: String {
        let eta = etaSeconds.map(ProgressReporter.duration) ?? "--"
        let hostCount = hosts.count
        let alertText = alert.map { "  [\($0)]" } ?? ""
        let trouble = counters.failed + counters.rejected > 0
            ? "  failed \(counters.failed), rejected \(counters.rejected)" : ""
        let growing = adaptiveRound.map { " so far, adaptive round \($0): rounds add tasks" } ?? ""
        let replays = replaysPending.map { $0 > 0 ? "  replays to check \($0)" : "" } ?? ""
        return "\(done)/\(tasks) (\(String(format: "%.1f", percent))%\(growing))  "
            + "\(String(format: "%.1f", tasksPerSecond)) tasks/s  ETA \(eta)  "
            + "workers \(workers) on \(hostCount) host\(hostCount == 1 ? "" : "s")\(replays)\(trouble)\(alertText)"
    }
}
