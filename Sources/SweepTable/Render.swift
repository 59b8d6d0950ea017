import Foundation
public import ResultsStore
public import SweepConfig
public import TrainingCore

// MARK: Number formats

/// Three significant digits, "inf"/"nan" spelled out, "-" for no value.
func short(_ value: Double?) -> String {
    guard let value else { return "-" }
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if value == 0 { return "0" }
    if value == value.rounded(), abs(value) < 1e6 { return String(Int(value)) }
    return String(format: "%.3g", value)
}

/// Full precision for machine-readable output; empty for no value.
func exact(_ value: Double?) -> String {
    guard let value else { return "" }
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return decimalLabel(value)
}

/// `k/n [low,high]`: the count and its 95% Wilson interval.
func rateWithInterval(_ s: CellSummary, _ measure: SuccessMeasure) -> String {
    let o = s.outcome(measure)
    guard o.rate != nil else { return "-" }
    return "\(o.count)/\(s.trials) " + String(format: "[%.2f,%.2f]", o.low, o.high)
}

/// The test noise labels appearing in any summary, by increasing noise.
func noiseLabels(_ summaries: [CellSummary]) -> [String] {
    Set(summaries.flatMap(\.testNoiseLabels))
        .sorted { (Double($0) ?? .infinity, $0) < (Double($1) ?? .infinity, $1) }
}

// MARK: Human tables

/// The columns shared by the text and Markdown tables.
func humanColumns(_ summaries: [CellSummary]) -> (header: [String], rows: [[String]]) {
    let labels = noiseLabels(summaries)
    let keys = axisKeys(summaries)
    // Only for a sweep that verified by replay: the others' tables are unchanged.
    let showReplays = summaries.contains { $0.replays != nil }
    let header = keys + ["conv [95% CI]", "rec [95% CI]",
                  "stat", "budget", "div", "fail", "iter", "dist", "rec err", "off err"]
        + labels.map { "test@\($0)" }
        + (showReplays ? ["replays ok/differ"] : [])
    let rows = summaries.map { s in
        keys.map { s.axisValue($0)?.description ?? "-" }
        + [rateWithInterval(s, .converged), rateWithInterval(s, .recovered),
         String(s.stationary), s.capped > 0 ? "\(s.budget) (\(s.capped) capped)" : String(s.budget),
         String(s.diverged), String(s.failed),
         short(s.medianIterations), short(s.median("target_distance")), short(s.median("reconstruction_error")),
         short(s.median("off_subspace_error"))]
            + labels.map { short(s.medianTestError[$0] ?? nil) }
            + (showReplays ? [s.replays.map { "\($0.verified)/\($0.mismatched)" } ?? "-"] : [])
    }
    return (header, rows)
}

/// An aligned terminal table (about 140 columns with three test noise levels); numbers
/// right-aligned, medians (iterations, target distance, errors) to three significant digits.
public func renderText(_ summaries: [CellSummary]) -> String {
    let (header, rows) = humanColumns(summaries)
    let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.indices.map { i in
            String(repeating: " ", count: widths[i] - cells[i].count) + cells[i]
        }.joined(separator: "  ")
    }
    var lines = [line(header), String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))]
    lines += rows.map(line)
    return lines.joined(separator: "\n") + "\n"
}

/// A GitHub-flavoured Markdown table with the columns of `renderText`.
public func renderMarkdown(_ summaries: [CellSummary]) -> String {
    let (header, rows) = humanColumns(summaries)
    var lines = ["| " + header.joined(separator: " | ") + " |",
                 "|" + header.map { _ in " ---: |" }.joined()]
    lines += rows.map { "| " + $0.joined(separator: " | ") + " |" }
    return lines.joined(separator: "\n") + "\n"
}

/// Per-host work, for the end of a sweep.
public func renderHosts(_ hosts: [HostSummary]) -> String {
    let header = ["host", "tasks", "failed", "train s", "wall s", "s/task"]
    let rows = hosts.map { h in
        [h.host, String(h.tasks), String(h.failed), String(format: "%.1f", h.seconds),
         String(format: "%.1f", h.wallSeconds), h.tasks > 0 ? String(format: "%.3f", h.wallSeconds / Double(h.tasks)) : "-"]
    }
    let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.indices.map { i in
            let pad = String(repeating: " ", count: widths[i] - cells[i].count)
            return i == 0 ? cells[i] + pad : pad + cells[i]
        }.joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
}

// MARK: Machine-readable tables

/// The axes of the summaries, in axis order.
func axisKeys(_ summaries: [CellSummary]) -> [String] {
    var seen = Set<String>()
    return summaries.flatMap(\.axisKeys).filter { seen.insert($0).inserted }
}

/// The CSV header of `renderCSV` for the given axes and test noise labels; `replays` adds the
/// replay counts of a sweep that verified (`CellSummary.replayKeys`, last).
public func csvHeader(axes: [String], testNoiseLabels labels: [String], replays: Bool = false) -> [String] {
    axes + CellSummary.scalarKeys
        + labels.map { "median_test_error@\($0)" }
        + labels.map { "median_oracle_test_error@\($0)" }
        + (replays ? CellSummary.replayKeys : [])
}

/// A header and one row per cell; full-precision numbers, empty for no value, `inf`/`nan` spelled out.
public func renderCSV(_ summaries: [CellSummary]) -> String {
    let labels = noiseLabels(summaries)
    let keys = axisKeys(summaries)
    let showReplays = summaries.contains { $0.replays != nil }
    var lines = [csvHeader(axes: keys, testNoiseLabels: labels, replays: showReplays).joined(separator: ",")]
    for s in summaries {
        // Axis values are config keys' values: numbers, names of the listed choices, true/false.
        let fields: [String] = keys.map { s.axisValue($0).map { $0.number.map(exact) ?? $0.description } ?? "" }
            + CellSummary.scalarKeys.map { key in
            CellSummary.integerKeys.contains(key) ? String(Int(s.number(key) ?? 0)) : exact(s.number(key))
        } + labels.map { exact(s.medianTestError[$0] ?? nil) } + labels.map { exact(s.medianOracleTestError[$0] ?? nil) }
            + (showReplays ? [s.replays.map { String($0.verified) } ?? "", s.replays.map { String($0.mismatched) } ?? ""] : [])
        lines.append(fields.joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
}

/// A JSON list of cell objects with the snake_case keys of `CellSummary.CodingKeys`.
public func renderJSON(_ summaries: [CellSummary]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: try encoder.encode(summaries), as: UTF8.self) + "\n"
}

// MARK: Files

/// A problem writing the table files.
public struct TableWriteError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): cannot write: \(reason)" }
}

/// Writes table.csv, table.json, table.md, success.svg, iterations.svg and noise.svg into
/// `directory`, and diagonal.svg for a sweep of model diagonal; the heat map shows `measure`.
/// Returns the paths written.
@discardableResult
public func writeTableFiles(directory: String, summaries: [CellSummary], title: String = "",
                            measure: SuccessMeasure = .converged, layout: HeatmapLayout? = nil,
                            model: ModelKind = .deepLinear) throws -> [String] {
    let heading = title.isEmpty ? "" : "# \(title)\n\n"
    var files: [(String, String)] = [
        ("table.csv", renderCSV(summaries)),
        ("table.json", try renderJSON(summaries)),
        ("table.md", heading + renderMarkdown(summaries)),
        ("success.svg", renderSuccessPlotSVG(summaries, title: title, measure: measure, layout: layout)),
        ("iterations.svg", renderIterationsPlotSVG(summaries, title: title, layout: layout)),
        ("noise.svg", renderNoisePlotSVG(summaries, title: title)),
    ]
    if model == .diagonal { files.append(("diagonal.svg", renderDiagonalPlotSVG(summaries, title: title))) }
    var written: [String] = []
    for (name, text) in files {
        let path = (directory as NSString).appendingPathComponent(name)
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TableWriteError(path: path, reason: error.localizedDescription)
        }
        written.append(path)
    }
    return written
}
