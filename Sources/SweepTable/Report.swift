public import Foundation
public import ResultsStore
public import SweepConfig
public import TrainingCore

/// What `report.html` shows, read from a store in a few queries and one streaming pass over
/// the rows; works as well on a sweep still running (a read-only snapshot of what is committed).
public struct SweepReport: Sendable {
    public var meta: SweepMeta
    public var successMeasure: SuccessMeasure
    public var summaries: [CellSummary]
    public var hosts: [HostSummary]
    /// The first `failureLimit` failed tasks in task order, and how many failed in all.
    public var failures: [ResultRow]
    public var failedCount: Int
    /// The start of the first task and the end of the last one recorded (nil: none yet).
    public var firstStarted: Date?
    public var lastFinished: Date?
    public var generatedAt: Date
    /// The heat maps' axes (nil: `HeatmapLayout.choose`).
    public var layout: HeatmapLayout?
    /// The first `trajectoryLimit` stored trajectories in task order, and how many are stored.
    public var trajectories: [TrajectoryPanel] = []
    public var trajectoryCount = 0
    /// Small multiples shown at most: a page stays quick to write and to open at any grid size.
    public static let trajectoryLimit = 60
    /// Tasks planned so far and the adaptive rounds after the first (nil: a plain sweep of
    /// `meta.taskCount` tasks).
    public var adaptive: (taskCount: Int, rounds: Int)?
    /// Failed rows set aside by `--retry-failed` (their tasks ran again), the first
    /// `failureLimit`, and how many there are.
    public var retried: [RetriedFailure] = []
    public var retriedCount = 0
    /// When the tasks finished (nil: none yet): the plot of completed tasks over time.
    public var completion: CompletionTimes?
    /// What the sweep trains: a diagonal sweep's report leads with `diagonal.svg`.
    public var model: ModelKind = .deepLinear
    /// What the coordinator learned about its workers: quarantines and replays (the first
    /// `peerEventLimit`), and how many of each kind in all.
    public var peerEvents: [PeerEvent] = []
    public var peerEventCounts: [PeerEvent.Kind: Int] = [:]
    public static let peerEventLimit = 500
    /// Rows of workers a replay showed to lie, set aside in `replaced_results` (their tasks ran
    /// again), per worker.
    public var replacedRows: [(workerID: String, host: String, rows: Int)] = []

    public init(meta: SweepMeta, successMeasure: SuccessMeasure, summaries: [CellSummary], hosts: [HostSummary],
                failures: [ResultRow], failedCount: Int, firstStarted: Date?, lastFinished: Date?, generatedAt: Date) {
        self.meta = meta
        self.successMeasure = successMeasure
        self.summaries = summaries
        self.hosts = hosts
        self.failures = failures
        self.failedCount = failedCount
        self.firstStarted = firstStarted
        self.lastFinished = lastFinished
        self.generatedAt = generatedAt
    }

    /// Reads everything the report shows from `store`.
    /// - Parameter summaries: the store's summaries when already computed (the end of a sweep).
    public init(store: ResultsStore, configuration: SweepConfiguration, summaries: [CellSummary]? = nil,
                failureLimit: Int = 500, now: Date = Date()) throws {
        let summaries = try summaries ?? summarize(store: store)
        let (failures, failedCount) = try store.failures(limit: failureLimit)
        let span = try store.timeSpan()
        self.init(meta: store.meta, successMeasure: configuration.successMeasure, summaries: summaries,
                  hosts: try store.countByHost(), failures: failures, failedCount: failedCount,
                  firstStarted: span?.firstStarted, lastFinished: span?.lastFinished, generatedAt: now)
        layout = HeatmapLayout(configuration, summaries)
        let (stored, total) = try store.trajectories(limit: Self.trajectoryLimit)
        trajectories = TrajectoryPanel.panels(stored, plan: store.plan, tolConv: configuration.training.tolConv)
        trajectoryCount = total
        (retried, retriedCount) = try store.retriedFailures(limit: failureLimit)
        if configuration.adaptive != nil { adaptive = (store.plan.taskCount, store.plan.rounds.count) }
        model = configuration.modelKind
        completion = try store.completionTimes()
        (peerEvents, peerEventCounts) = try store.peerEvents(kinds: [.quarantined, .mismatch], limit: Self.peerEventLimit)
        replacedRows = try store.replacedRowCounts()
    }

    /// Tasks with a row (ok or failed), as the summaries count them.
    public var recorded: Int { summaries.reduce(0) { $0 + $1.trials + $1.failed } }

    /// The report as one self-contained HTML page: inline SVG plots, inline CSS, no script and
    /// no external resource, so it opens anywhere, offline.
    /// - Parameter refreshSeconds: the live view's page reloads itself this often (a meta refresh).
    public func renderHTML(refreshSeconds: Int? = nil) -> String {
        let title = "dlsweep report: \(meta.name)"
        var html: [String] = [
            "<!DOCTYPE html>",
            "<html lang=\"en\">",
            "<head>",
            "<meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        ] + (refreshSeconds.map { ["<meta http-equiv=\"refresh\" content=\"\($0)\">"] } ?? []) + [
            "<title>\(xmlEscaped(title))</title>",
            "<style>\(Self.css)</style>",
            "</head>",
            "<body>",
            "<h1>\(xmlEscaped(title))</h1>",
        ]
        html.append(provenanceSection())
        if model == .diagonal {
            html.append(section(id: "diagonal", heading: "Distance to the minimum-ℓ1 solution",
                                note: "Median ‖w − w_ℓ1‖/‖w_ℓ1‖ per cell against init_scale α, one line per depth D, with the least-squares slope on log-log axes (docs/MODEL.md §5).",
                                body: plot(renderDiagonalPlotSVG(summaries, title: meta.name))))
        }
        html.append(section(id: "converged", heading: "Convergence to W*_λ",
                            note: "Runs that reached the target W*_λ (target_distance ≤ tol_conv), k of n per cell.",
                            body: plot(renderSuccessPlotSVG(summaries, title: meta.name, measure: .converged, layout: layout))))
        html.append(section(id: "recovered", heading: "Recovery",
                            note: "Runs whose network is a good inverse on the subspace (on- and off-subspace errors within their tolerances).",
                            body: plot(renderSuccessPlotSVG(summaries, title: meta.name, measure: .recovered, layout: layout))))
        html.append(section(id: "iterations", heading: "Iterations",
                            note: "Median steps run per cell (with stop_on_success, the steps to converge).",
                            body: plot(renderIterationsPlotSVG(summaries, title: meta.name, layout: layout))))
        html.append(section(id: "noise", heading: "Test error against test noise (Figure 1)",
                            note: "Median test error per λ with the band between the quartiles over trials; the oracle R (A R)⁺ dashed.",
                            body: plot(renderNoisePlotSVG(summaries, title: meta.name))))
        html.append(section(id: "trajectories", heading: "Trajectories of sampled runs",
                            note: "The first trials of each cell (config key trajectories) logged at log-spaced steps: distance to W*_λ (relative to ‖W_or‖), loss gap F − F*, on- and off-subspace errors, against the step; both axes logarithmic.",
                            body: trajectoriesBody()))
        html.append(section(id: "hosts", heading: "Hosts", note: nil, body: hostsTable()))
        html.append(section(id: "completion", heading: "Completed tasks over time",
                            note: "Tasks go out longest first by a cost model (docs/PERFORMANCE.md), so that a sweep does not end on its biggest cells: the curve should meet the dashed line of a sweep without a tail.",
                            body: completion.map { plot(renderCompletionPlotSVG($0, title: meta.name)) } ?? "<p>No task recorded yet.</p>"))
        html.append(section(id: "failures", heading: "Failures", note: nil, body: failuresTable()))
        html.append(section(id: "workers", heading: "Workers: quarantines and replays", note: nil, body: peersBody()))
        html.append(section(id: "table", heading: "Table", note: "One row per cell, as `dlsweep table` prints it.",
                            body: cellTable()))
        html.append(section(id: "config", heading: "Config", note: nil,
                            body: "<pre>\(xmlEscaped(meta.configYAML))</pre>"))
        html += ["</body>", "</html>"]
        return html.joined(separator: "\n") + "\n"
    }

    // MARK: Sections

    private func provenanceSection() -> String {
        let complete = recorded >= (adaptive?.taskCount ?? meta.taskCount)
        let progress = adaptive.map { a in
            "\(recorded) of \(a.taskCount) tasks recorded in \(a.rounds + 1) adaptive round\(a.rounds == 0 ? "" : "s") so far (a round adds trials to uncertain cells: the total grows)"
        } ?? "\(recorded) of \(meta.taskCount) tasks recorded"
            + (complete ? " (complete)" : " (incomplete: running, stopped or not resumed yet)")
        var rows: [(String, String)] = [
            ("sweep", "\(meta.name) (fingerprint \(meta.fingerprint))"),
            ("progress", progress),
            ("outcomes", "\(summaries.reduce(0) { $0 + $1.converged }) converged, "
                + "\(summaries.reduce(0) { $0 + $1.recovered }) recovered, "
                + "\(summaries.reduce(0) { $0 + $1.diverged }) diverged, \(failedCount) failed"),
            ("overrides", ConfigOverride.recorded(in: meta.configYAML).joined(separator: " ").isEmpty
                ? "none" : ConfigOverride.recorded(in: meta.configYAML).joined(separator: " ")),
            ("tool", meta.toolVersion),
            ("hosts", hosts.isEmpty ? "none yet" : hosts.map(\.host).joined(separator: ", ")),
            ("created", Self.date(meta.createdAt)),
        ]
        if let firstStarted, let lastFinished {
            rows.append(("first task started", Self.date(firstStarted)))
            rows.append(("last task finished", Self.date(lastFinished)
                         + " (" + Self.duration(lastFinished.timeIntervalSince(firstStarted)) + " after the first start)"))
        }
        rows.append(("report written", Self.date(generatedAt)))
        let body = "<table class=\"facts\">\n"
            + rows.map { "<tr><th>\(xmlEscaped($0.0))</th><td>\(xmlEscaped($0.1))</td></tr>" }.joined(separator: "\n")
            + "\n</table>"
        return section(id: "provenance", heading: "Sweep", note: nil, body: body)
    }

    private func trajectoriesBody() -> String {
        guard !trajectories.isEmpty else {
            return "<p>No trajectory stored yet (none of the sampled runs has finished, or the config has trajectories: 0).</p>"
        }
        let shown = trajectories.count < trajectoryCount
            ? "<p>The first \(trajectories.count) of \(trajectoryCount) stored trajectories, in task order.</p>\n" : ""
        return shown + trajectoryLegendHTML() + "\n<div class=\"multiples\">\n"
            + trajectories.map { renderTrajectorySVG($0) }.joined() + "</div>"
    }

    private func hostsTable() -> String {
        guard !hosts.isEmpty else { return "<p>No task recorded yet.</p>" }
        let header = ["host", "tasks", "failed", "train s", "wall s", "s/task"]
        let rows = hosts.map { h in
            [h.host, String(h.tasks), String(h.failed), String(format: "%.1f", h.seconds),
             String(format: "%.1f", h.wallSeconds),
             h.tasks > 0 ? String(format: "%.3f", h.wallSeconds / Double(h.tasks)) : "-"]
        }
        return Self.table(header: header, rows: rows, id: "hosts-table")
    }

    private func failuresTable() -> String {
        guard failedCount > 0 else { return "<p>No failed task.</p>" + retriedTable() }
        // Every row of a plan has the same axes, in plan order.
        let keys = failures.first?.axes.map(\.key) ?? []
        let header = ["task"] + keys + ["trial", "attempt", "host", "worker", "reason"]
        let rows = failures.map { r in
            [String(r.taskID)] + keys.map { r[axis: $0]?.description ?? "-" } + [
             String(r.trial), String(r.attempt), r.host, r.workerID, r.failureReason ?? "no reason given"]
        }
        let shown = failures.count < failedCount ? "; the first \(failures.count) in task order" : ""
        return "<p>\(failedCount) failed task(s)\(shown). A failed task failed by itself (the run threw or its result was invalid) on every attempt.</p>\n"
            + Self.table(header: header, rows: rows, id: "failures-table") + retriedTable()
    }

    /// The failures `--retry-failed` set aside: what the earlier attempts of re-run tasks said.
    private func retriedTable() -> String {
        guard retriedCount > 0 else { return "" }
        let header = ["task", "trial", "attempt", "host", "worker", "finished", "retried", "reason"]
        let rows = retried.map { r in
            [String(r.taskID), String(r.trial), String(r.attempt), r.host, r.workerID, Self.date(r.finishedAt), Self.date(r.retriedAt),
             r.failureReason ?? "no reason given"]
        }
        let shown = retried.count < retriedCount ? "; the first \(retried.count)" : ""
        return "\n<p>\(retriedCount) earlier failure(s) of tasks run again by --retry-failed\(shown) (their tasks' current rows are in the table above when they failed again, and in the plots otherwise):</p>\n"
            + Self.table(header: header, rows: rows, id: "retried-table")
    }

    private func peersBody() -> String {
        let quarantined = peerEvents.filter { $0.kind == .quarantined }
        let mismatches = peerEvents.filter { $0.kind == .mismatch }
        let verified = peerEventCounts[.verified] ?? 0
        let mismatched = peerEventCounts[.mismatch] ?? 0
        var parts = ["<p>\(peerEventCounts[.quarantined] ?? 0) worker(s) quarantined (refused for the rest of the run: invalid results in a row, or a result a replay on other workers contradicted). Replays: \(verified + mismatched) result(s) re-run on another worker, \(verified) agreed, \(mismatched) did not.</p>"]
        if !quarantined.isEmpty {
            parts.append(Self.table(header: ["worker", "host", "when", "why"],
                                    rows: quarantined.map { [$0.workerID, $0.host, Self.date($0.at), $0.detail] },
                                    id: "quarantine-table"))
        }
        if !replacedRows.isEmpty {
            let total = replacedRows.reduce(0) { $0 + $1.rows }
            parts.append("<p>\(total) result(s) of quarantined workers that no replay confirmed were set aside (table <code>replaced_results</code> of results.sqlite) and their tasks run again by other workers:</p>")
            parts.append(Self.table(header: ["worker", "host", "rows replaced"],
                                    rows: replacedRows.map { [$0.workerID, $0.host, String($0.rows)] }, id: "replaced-table"))
        }
        if !mismatches.isEmpty {
            parts.append(Self.table(header: ["task", "worker", "host", "when", "fields that differ"],
                                    rows: mismatches.map { [$0.taskID.map(String.init) ?? "-", $0.workerID, $0.host,
                                                            Self.date($0.at), $0.detail] },
                                    id: "mismatch-table"))
        }
        return parts.joined(separator: "\n")
    }

    private func cellTable() -> String {
        let (header, rows) = humanColumns(summaries)
        return "<details><summary>\(summaries.count) cells</summary>\n"
            + Self.table(header: header, rows: rows, id: "cells-table") + "\n</details>"
    }

    // MARK: Pieces

    private func section(id: String, heading: String, note: String?, body: String) -> String {
        var parts = ["<section id=\"\(id)\">", "<h2>\(xmlEscaped(heading))</h2>"]
        if let note { parts.append("<p class=\"note\">\(xmlEscaped(note))</p>") }
        parts += [body, "</section>"]
        return parts.joined(separator: "\n")
    }

    /// An SVG document made inline: without its XML declaration, in a scrolling box.
    private func plot(_ svg: String) -> String {
        var text = Substring(svg)
        if text.hasPrefix("<?xml"), let end = text.firstIndex(of: "\n") { text = text[text.index(after: end)...] }
        return "<div class=\"plot\">\n\(text)</div>"
    }

    private static func table(header: [String], rows: [[String]], id: String) -> String {
        var lines = ["<table id=\"\(id)\">", "<thead><tr>" + header.map { "<th>\(xmlEscaped($0))</th>" }.joined() + "</tr></thead>",
                     "<tbody>"]
        lines.reserveCapacity(rows.count + 5)
        for row in rows { lines.append("<tr>" + row.map { "<td>\(xmlEscaped($0))</td>" }.joined() + "</tr>") }
        lines += ["</tbody>", "</table>"]
        return lines.joined(separator: "\n")
    }

    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return formatter.string(from: date)
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60)
        return h > 0 ? "\(h) h \(m) min" : "\(m) min \(s) s"
    }

    static let css = """
        body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#222;max-width:100%}\
        h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
        .note{color:#555;font-size:.9em}.plot{overflow-x:auto}.multiples{display:flex;flex-wrap:wrap;gap:6px}\
        table{border-collapse:collapse;font-size:.85em}th,td{padding:.2em .6em;border-bottom:1px solid #eee;text-align:right}\
        table.facts th,table.facts td{text-align:left}td:first-child,th:first-child{text-align:left}\
        #failures-table td:last-child{text-align:left}pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
        """
}

/// A problem writing `report.html`.
public struct ReportWriteError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): cannot write the report: \(reason)" }
}

/// Writes `report.html` into `directory` atomically (a browser reloading it mid-write sees the
/// old or the new page, never half of one); returns its path.
@discardableResult
public func writeReport(_ report: SweepReport, directory: String, fileName: String = "report.html") throws -> String {
    let path = (directory as NSString).appendingPathComponent(fileName)
    do {
        try Data(report.renderHTML().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw ReportWriteError(path: path, reason: error.localizedDescription)
    }
    return path
}
