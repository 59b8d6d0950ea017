import Foundation
public import SweepConfig

/// Which two axes a heat map's panels show (rows down, columns across); one panel per
/// combination of the other axes.
///
/// The config's `heatmap: {rows, columns}` names them; by default they are the first two
/// numeric axes with more than one value, the axes ordered by `AxisDefinition.heatmapPlace`
/// (depth, width, the other axes in axis order, lambda, noise), so depth is down and width
/// across when both vary; an axis of names (optimizer, init) splits the panels unless the
/// config puts it inside them. A grid with one varying axis puts it across. Panels: one per
/// combination of the remaining varying axes and of the `.panels` axes (always: lambda down,
/// noise across).
public struct HeatmapLayout: Sendable, Hashable {
    public var rows: String
    public var columns: String
    /// Axes drawn at the true positions of their values (key → logarithmic): an adaptive
    /// sweep's refined axes, whose midpoints would otherwise look like grid steps. A row or
    /// column is centred at its value, on a log scale for log-spaced axes, and reaches halfway
    /// to its neighbours.
    public var positioned: [String: Bool] = [:]

    public init(rows: String, columns: String) {
        self.rows = rows
        self.columns = columns
    }

    /// The layout for `summaries`, with the config's choices when given.
    public static func choose(_ summaries: [CellSummary], rows: String? = nil, columns: String? = nil) -> HeatmapLayout {
        let keys = candidateKeys(summaries).filter { key in summaries.allSatisfy { $0.axisValue(key)?.number != nil } }
        let varying = keys.filter { key in Set(summaries.compactMap { $0.axisValue(key) }).count > 1 }
        var picked = [rows, columns]
        var pool = (varying + keys).filter { $0 != rows && $0 != columns }
        // One varying axis and no choice: across, with the first axis (depth) down.
        if rows == nil, columns == nil, varying.count == 1 {
            picked = [keys.first { $0 != varying[0] } ?? "", varying[0]]
        }
        for i in 0..<2 where picked[i] == nil {
            pool.removeAll { picked.contains($0) }
            picked[i] = pool.first ?? ""
        }
        return HeatmapLayout(rows: picked[0]!, columns: picked[1]!)
    }

    /// The layout a config asks for (`heatmap:`), or the default.
    public init(_ configuration: SweepConfiguration, _ summaries: [CellSummary]) {
        self = .choose(summaries, rows: configuration.heatmapRows, columns: configuration.heatmapColumns)
        if let refine = configuration.adaptive?.refine {
            for axis in refine.axes {
                let values = configuration.grid.first { $0.key == axis }?.values.compactMap(\.number) ?? []
                positioned[axis] = refine.isLogarithmic(axis, values: values)
            }
        }
    }

    /// Where each of `values` (one axis, in drawing order) starts, how long it is and where its
    /// label goes, in a band of `unit` per value: equal steps, or, on an axis in `positioned`,
    /// labelled at the true position of the value and reaching halfway to its neighbours.
    func spans(_ values: [[String]], key: String, unit: Double) -> [(start: Double, size: Double, centre: Double)] {
        let equal = values.indices.map { (Double($0) * unit, unit, (Double($0) + 0.5) * unit) }
        guard let logarithmic = positioned[key], values.count >= 3 else { return equal }
        let numbers = values.compactMap { $0.count == 1 ? Double($0[0]) : nil }
        guard numbers.count == values.count, !logarithmic || numbers.allSatisfy({ $0 > 0 }) else { return equal }
        let t = numbers.map { logarithmic ? Foundation.log($0) : $0 }
        guard let first = t.first, let last = t.last, last != first else { return equal }
        let total = unit * Double(values.count)
        let centres = t.map { ($0 - first) / (last - first) * (total - unit) + unit / 2 }
        var bounds = [0.0]
        for i in 1..<centres.count { bounds.append((centres[i - 1] + centres[i]) / 2) }
        bounds.append(total)
        return values.indices.map { (bounds[$0], bounds[$0 + 1] - bounds[$0], centres[$0]) }
    }

    /// The axes in the order the default layout considers them: `.rows`, `.columns`, the
    /// unplaced in axis order, then `.panels` (a stable sort).
    static func candidateKeys(_ summaries: [CellSummary]) -> [String] {
        let keys = axisKeys(summaries)
        func place(_ key: String) -> Int {
            AxisDefinition.named(key)?.heatmapPlace.map { $0 == .panels ? 3 : $0.rawValue } ?? 2
        }
        return keys.indices.sorted { (place(keys[$0]), $0) < (place(keys[$1]), $1) }.map { keys[$0] }
    }

    /// The axes that split the map into panels: the varying ones not shown inside a panel,
    /// then the `.panels` axes (lambda and noise).
    func panelKeys(_ summaries: [CellSummary]) -> [String] {
        let shown = [rows, columns]
        let keys = Self.candidateKeys(summaries)
        let always = keys.filter { AxisDefinition.named($0)?.heatmapPlace == .panels }
        let varying = keys.filter { key in
            !always.contains(key) && Set(summaries.compactMap { $0.axisValue(key) }).count > 1
        }
        return (varying + always).filter { !shown.contains($0) }
    }
}

/// How a panel title names an axis.
private func axisLabel(_ key: String) -> String { AxisDefinition.symbol(key) }

/// An SVG heat map of one outcome's rate: one panel per combination of the panel axes (by
/// default one per (lambda, noise) pair, lambda down, noise across), the layout's rows down and
/// columns across inside a panel (by default depth and width), each cell coloured by its rate
/// and labelled k/n. Cells without finished runs are grey.
public func renderSuccessPlotSVG(_ summaries: [CellSummary], title: String = "",
                                 measure: SuccessMeasure = .converged, layout: HeatmapLayout? = nil) -> String {
    renderHeatmapSVG(
        summaries, layout: layout ?? .choose(summaries), title: (title.isEmpty ? "" : title + ": ") + "\(measure.rawValue) rate (k/n runs)",
        value: { $0.outcome(measure).rate },
        label: { $0.trials == 0 ? "–" : "\($0.outcome(measure).count)/\($0.trials)" },
        scale: ColourScale(low: 0, high: 1, logarithmic: false),
        legend: ("0", "1"))
}

/// The same layout coloured by the median number of iterations (log scale; lighter is faster).
public func renderIterationsPlotSVG(_ summaries: [CellSummary], title: String = "", layout: HeatmapLayout? = nil) -> String {
    let values = summaries.compactMap(\.medianIterations).filter { $0.isFinite && $0 > 0 }
    let low = values.min() ?? 1
    let high = values.max() ?? 1
    return renderHeatmapSVG(
        summaries, layout: layout ?? .choose(summaries), title: (title.isEmpty ? "" : title + ": ") + "median iterations",
        value: { $0.medianIterations },
        label: { short($0.medianIterations) },
        scale: ColourScale(low: low, high: high, logarithmic: true, reversed: true),
        legend: (short(low), short(high)))
}

struct ColourScale {
    var low: Double
    var high: Double
    var logarithmic: Bool
    /// When set, high values get the "bad" end of the ramp.
    var reversed = false

    /// Red (bad) through yellow to green (good), ColorBrewer RdYlGn end points.
    static let stops: [(Double, Double, Double)] = [(215, 48, 39), (254, 224, 139), (26, 152, 80)]

    func position(_ value: Double) -> Double {
        var t: Double
        if logarithmic, low > 0, high > low, value > 0 {
            t = (log(value) - log(low)) / (log(high) - log(low))
        } else if high > low {
            t = (value - low) / (high - low)
        } else {
            t = 1
        }
        t = min(1, max(0, t))
        return reversed ? 1 - t : t
    }

    static func colour(at t: Double) -> (fill: String, dark: Bool) {
        let scaled = t * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(scaled))
        let f = scaled - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        let r = a.0 + (b.0 - a.0) * f, g = a.1 + (b.1 - a.1) * f, bl = a.2 + (b.2 - a.2) * f
        let luminance = 0.299 * r + 0.587 * g + 0.114 * bl
        return (String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(bl.rounded())), luminance < 110)
    }

    func colour(_ value: Double) -> (fill: String, dark: Bool) {
        Self.colour(at: position(value))
    }
}

/// Escapes text for SVG and HTML character data and attribute values (the report and the live view).
public func xmlEscaped(_ text: String) -> String {
    var out = ""
    for ch in text {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(ch)
        }
    }
    return out
}

private func distinctInOrder<T: Hashable>(_ values: [T]) -> [T] {
    var seen = Set<T>()
    return values.filter { seen.insert($0).inserted }
}

/// Distinct axis values in order of appearance, unless a refinement added values out of order:
/// then numbers ascending, so a refined value sits between its neighbours.
private func ordered(_ values: [[String]]) -> [[String]] {
    let distinct = distinctInOrder(values)
    let numbers = distinct.map { $0.count == 1 ? Double($0[0]) : nil }
    guard numbers.allSatisfy({ $0 != nil }) else { return distinct }
    let n = numbers.map { $0! }
    let ascending = zip(n, n.dropFirst()).allSatisfy { $0 < $1 }
    let descending = zip(n, n.dropFirst()).allSatisfy { $0 > $1 }
    if ascending || descending { return distinct }
    return n.indices.sorted { n[$0] < n[$1] }.map { distinct[$0] }
}

func renderHeatmapSVG(_ summaries: [CellSummary], layout: HeatmapLayout, title: String, value: (CellSummary) -> Double?,
                      label: (CellSummary) -> String, scale: ColourScale, legend: (String, String)) -> String {
    let panelKeys = layout.panelKeys(summaries)
    let outerKeys = Array(panelKeys.dropLast())
    let lastKey = panelKeys.last.map { [$0] } ?? []
    func values(_ s: CellSummary, _ keys: [String]) -> [String] { keys.map { s.axisValue($0)?.description ?? "" } }
    let depths = ordered(summaries.map { values($0, [layout.rows]) })
    let widths = ordered(summaries.map { values($0, [layout.columns]) })
    let lambdas = ordered(summaries.map { values($0, outerKeys) })
    let noises = ordered(summaries.map { values($0, lastKey) })
    var lookup: [[String]: CellSummary] = [:]
    func key(_ d: [String], _ w: [String], _ l: [String], _ n: [String]) -> [String] { d + w + l + n }
    for s in summaries { lookup[key(values(s, [layout.rows]), values(s, [layout.columns]), values(s, outerKeys), values(s, lastKey))] = s }

    let cellW = 58.0, cellH = 30.0
    let columnSpans = layout.spans(widths, key: layout.columns, unit: cellW)
    let rowSpans = layout.spans(depths, key: layout.rows, unit: cellH)
    let panelTitles = lambdas.map { lambda in
        noises.map { noise in zip(outerKeys + lastKey, lambda + noise).map { "\(axisLabel($0)) = \($1)" }.joined(separator: ", ") }
    }
    let widestTitle = panelTitles.joined().map { PlotAxes.textWidth($0, fontSize: 13) }.max() ?? 0
    let rowLabelWidth = depths.map { PlotAxes.textWidth($0.joined(), fontSize: 11) }.max() ?? 0
    let panelLeft = max(52.0, rowLabelWidth + 14, PlotAxes.textWidth(layout.rows, fontSize: 10) + 8), panelTop = 44.0, gap = 24.0
    let panelW = max(panelLeft + Double(widths.count) * cellW, panelLeft + widestTitle)
    let panelH = panelTop + Double(depths.count) * cellH + 4
    let top = 40.0, left = 12.0
    // Wide enough for the title and the colour legend (ramp, end values, "no runs yet").
    let legendWidth = 106 + 160 + PlotAxes.textWidth("no runs yet", fontSize: 10) + 12 + PlotAxes.textWidth(legend.1, fontSize: 10)
    let totalW = max(left * 2 + Double(noises.count) * (panelW + gap), 320, left + PlotAxes.textWidth(title, fontSize: 16, bold: true) + 12,
                     left + legendWidth)
    let totalH = top + Double(lambdas.count) * (panelH + gap) + 50

    var svg: [String] = [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(totalW))\" height=\"\(Int(totalH))\" viewBox=\"0 0 \(Int(totalW)) \(Int(totalH))\" font-family=\"Helvetica, Arial, sans-serif\">",
        "<rect x=\"0\" y=\"0\" width=\"\(Int(totalW))\" height=\"\(Int(totalH))\" fill=\"white\"/>",
        "<text x=\"\(left)\" y=\"24\" font-size=\"16\" font-weight=\"bold\">\(xmlEscaped(title))</text>",
    ]
    for (li, lambda) in lambdas.enumerated() {
        for (ni, noise) in noises.enumerated() {
            let x0 = left + Double(ni) * (panelW + gap)
            let y0 = top + Double(li) * (panelH + gap)
            svg.append("<g>")
            let panelTitle = panelTitles[li][ni]
            svg.append("<text x=\"\(x0 + panelLeft)\" y=\"\(y0 + 14)\" font-size=\"13\">\(xmlEscaped(panelTitle))</text>")
            svg.append("<text x=\"\(x0 + panelLeft + Double(widths.count) * cellW / 2)\" y=\"\(y0 + 28)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">\(xmlEscaped(layout.columns))</text>")
            for (wi, width) in widths.enumerated() {
                svg.append("<text x=\"\(x0 + panelLeft + columnSpans[wi].centre)\" y=\"\(y0 + panelTop - 4)\" font-size=\"11\" text-anchor=\"middle\">\(xmlEscaped(width.joined()))</text>")
            }
            svg.append("<text x=\"\(x0 + 4)\" y=\"\(y0 + panelTop - 4)\" font-size=\"10\" fill=\"#555\">\(xmlEscaped(layout.rows))</text>")
            for (di, depth) in depths.enumerated() {
                let y = y0 + panelTop + rowSpans[di].start
                let cellH = rowSpans[di].size
                svg.append("<text x=\"\(x0 + panelLeft - 6)\" y=\"\(y0 + panelTop + rowSpans[di].centre + 4)\" font-size=\"11\" text-anchor=\"end\">\(xmlEscaped(depth.joined()))</text>")
                for (wi, width) in widths.enumerated() {
                    let x = x0 + panelLeft + columnSpans[wi].start
                    let cellW = columnSpans[wi].size
                    let summary = lookup[key(depth, width, lambda, noise)]
                    var fill = "#eeeeee", dark = false
                    if let summary, let v = value(summary), !v.isNaN {
                        (fill, dark) = scale.colour(v)
                    }
                    let text = summary.map(label) ?? ""
                    svg.append("<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cellW)\" height=\"\(cellH)\" fill=\"\(fill)\" stroke=\"white\" stroke-width=\"1\"/>")
                    svg.append("<text x=\"\(x0 + panelLeft + columnSpans[wi].centre)\" y=\"\(y0 + panelTop + rowSpans[di].centre + 4)\" font-size=\"11\" text-anchor=\"middle\" fill=\"\(dark ? "white" : "black")\">\(xmlEscaped(text))</text>")
                }
            }
            svg.append("</g>")
        }
    }
    // Legend: the colour ramp with its end values.
    let ly = totalH - 30
    let steps = 20
    for i in 0..<steps {
        let t = Double(i) / Double(steps - 1)
        let position = scale.reversed ? 1 - t : t
        svg.append("<rect x=\"\(left + 40 + Double(i) * 8)\" y=\"\(ly)\" width=\"8\" height=\"12\" fill=\"\(ColourScale.colour(at: position).fill)\"/>")
    }
    svg.append("<text x=\"\(left + 36)\" y=\"\(ly + 10)\" font-size=\"10\" text-anchor=\"end\">\(xmlEscaped(legend.0))</text>")
    svg.append("<text x=\"\(left + 44 + Double(steps) * 8)\" y=\"\(ly + 10)\" font-size=\"10\">\(xmlEscaped(legend.1))</text>")
    let grey = left + max(90, 56 + PlotAxes.textWidth(legend.1, fontSize: 10)) + Double(steps) * 8
    svg.append("<rect x=\"\(grey)\" y=\"\(ly)\" width=\"12\" height=\"12\" fill=\"#eeeeee\"/>")
    svg.append("<text x=\"\(grey + 16)\" y=\"\(ly + 10)\" font-size=\"10\">no runs yet</text>")
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}
