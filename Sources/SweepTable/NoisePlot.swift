import Foundation
import SweepConfig
import TrainingCore

/// The paper's Figure 1: test error against test noise σ, one curve per λ (the median over
/// the cell's runs, with the band between the quartiles of its seeds), and the oracle
/// `R (A R)⁺` as a dashed line. One panel per combination of the other axes (depth, width,
/// σ_train, and any the config adds); linear axes.
public func renderNoisePlotSVG(_ summaries: [CellSummary], title: String = "") -> String {
    /// The curves' axis; the plot is about λ, so it names it.
    let curveKey = "lambda"
    func lambda(_ s: CellSummary) -> Double { s.axisValue(curveKey)?.number ?? 0 }
    typealias PanelKey = [AxisSetting]
    var panels: [PanelKey] = []
    var byPanel: [PanelKey: [CellSummary]] = [:]
    for s in summaries where s.trials > 0 {
        let key = s.axes.filter { $0.key != curveKey }
        if byPanel[key] == nil { panels.append(key) }
        byPanel[key, default: []].append(s)
    }
    let labels = noiseLabels(summaries)
    let sigmas = labels.compactMap(Double.init)
    let panelW = 340.0, panelH = 240.0, margin = 48.0, gap = 30.0, top = 44.0, legendH = 22.0
    let columns = max(1, min(3, panels.count))
    let rows = max(1, (panels.count + columns - 1) / columns)
    let lambdas = Array(Set(summaries.map(lambda))).sorted()
    let fullTitle = (title.isEmpty ? "" : title + ": ") + "test error against test noise"
    let panelTitleWidth = panels.map { PlotAxes.textWidth(TrajectoryPanel.label($0), fontSize: 12) }.max() ?? 0
    let totalW = max(Double(columns) * (panelW + gap) + 20, 360, PlotAxes.textWidth(fullTitle, fontSize: 16, bold: true) + 24,
                     10 + margin + panelTitleWidth + 12)
    // The legend: the oracle, then one entry per λ, wrapped to the drawing's width.
    let legendLabels = ["oracle R (A R)⁺"] + lambdas.map { "λ = \(decimalLabel($0)) (median, quartile band)" }
    let legend = LegendFlow(widths: legendLabels.map { 30 + PlotAxes.textWidth($0, fontSize: 11) }, left: 16, width: totalW)
    let totalH = top + Double(rows) * (panelH + gap + legendH) + Double(legend.rows) * 18 + 30
    let palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
    func colour(_ lambda: Double) -> String { palette[(lambdas.firstIndex(of: lambda) ?? 0) % palette.count] }

    var svg: [String] = [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(totalW))\" height=\"\(Int(totalH))\" viewBox=\"0 0 \(Int(totalW)) \(Int(totalH))\" font-family=\"Helvetica, Arial, sans-serif\">",
        "<rect x=\"0\" y=\"0\" width=\"\(Int(totalW))\" height=\"\(Int(totalH))\" fill=\"white\"/>",
        "<text x=\"12\" y=\"24\" font-size=\"16\" font-weight=\"bold\">\(xmlEscaped(fullTitle))</text>",
    ]
    guard !panels.isEmpty, sigmas.count >= 1 else {
        svg.append("<text x=\"12\" y=\"60\" font-size=\"12\">no finished runs with test noise levels yet</text>")
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
    for (pi, key) in panels.enumerated() {
        let cells = byPanel[key] ?? []
        let x0 = 10 + Double(pi % columns) * (panelW + gap) + margin
        let y0 = top + Double(pi / columns) * (panelH + gap + legendH) + 20
        let plotW = panelW - margin, plotH = panelH - 50
        var yMax = 0.0
        for c in cells {
            for label in labels {
                for v in [c.upperQuartileTestError[label] ?? nil, c.medianTestError[label] ?? nil,
                          c.medianOracleTestError[label] ?? nil] {
                    if let v, v.isFinite { yMax = max(yMax, v) }
                }
            }
        }
        // Both axes from 0 to a round tick at or above the data (1-2-5 steps).
        let yTicks = PlotAxes.linearTicks(low: 0, high: yMax > 0 ? yMax : 1)
        yMax = yTicks.values.last ?? 1
        let xTicks = PlotAxes.linearTicks(low: 0, high: (sigmas.max() ?? 0) > 0 ? sigmas.max()! : 1)
        let sigmaMax = xTicks.values.last ?? 1
        func px(_ sigma: Double) -> Double { x0 + sigma / sigmaMax * plotW }
        func py(_ value: Double) -> Double { y0 + plotH - min(value, yMax) / yMax * plotH }
        svg.append("<g>")
        svg.append("<text x=\"\(x0)\" y=\"\(y0 - 6)\" font-size=\"12\">\(xmlEscaped(TrajectoryPanel.label(key)))</text>")
        svg.append("<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#999\"/>")
        for v in yTicks.values {
            svg.append(String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", x0, py(v), x0 + plotW, py(v)))
            svg.append("<text x=\"\(x0 - 4)\" y=\"\(py(v) + 3)\" font-size=\"9\" text-anchor=\"end\">\(PlotAxes.linearLabel(v, step: yTicks.step))</text>")
        }
        for v in xTicks.values {
            svg.append("<text x=\"\(px(v))\" y=\"\(y0 + plotH + 12)\" font-size=\"9\" text-anchor=\"middle\">\(PlotAxes.linearLabel(v, step: xTicks.step))</text>")
        }
        svg.append("<text x=\"\(x0 + plotW / 2)\" y=\"\(y0 + plotH + 26)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">test noise σ</text>")
        var oracleDrawn = false
        for c in cells.sorted(by: { lambda($0) < lambda($1) }) {
            let colour = colour(lambda(c))
            // The seed band: lower quartile out, upper quartile back.
            let lower = zip(sigmas, labels).compactMap { s, l in (c.lowerQuartileTestError[l] ?? nil).flatMap { $0.isFinite ? (px(s), py($0)) : nil } }
            let upper = zip(sigmas, labels).compactMap { s, l in (c.upperQuartileTestError[l] ?? nil).flatMap { $0.isFinite ? (px(s), py($0)) : nil } }
            if lower.count == sigmas.count, upper.count == sigmas.count, sigmas.count > 1 {
                let points = (lower + upper.reversed()).map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
                svg.append("<polygon points=\"\(points)\" fill=\"\(colour)\" fill-opacity=\"0.18\" stroke=\"none\"/>")
            }
            let line = zip(sigmas, labels).compactMap { s, l in (c.medianTestError[l] ?? nil).flatMap { $0.isFinite ? (px(s), py($0)) : nil } }
            if !line.isEmpty {
                let points = line.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
                svg.append("<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
                for p in line { svg.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"\(colour)\"/>", p.0, p.1)) }
            }
            if !oracleDrawn {
                let oracle = zip(sigmas, labels).compactMap { s, l in (c.medianOracleTestError[l] ?? nil).flatMap { $0.isFinite ? (px(s), py($0)) : nil } }
                if !oracle.isEmpty {
                    let points = oracle.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
                    svg.append("<polyline points=\"\(points)\" fill=\"none\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/>")
                    oracleDrawn = true
                }
            }
        }
        svg.append("</g>")
    }
    // Legend, wrapped to the width (`legend`).
    let legendTop = totalH - Double(legend.rows) * 18 - 8
    for (i, label) in legendLabels.enumerated() {
        let (lx, row) = legend.positions[i]
        let ly = legendTop + Double(row) * 18
        let stroke = i == 0 ? "stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"" : "stroke=\"\(colour(lambdas[i - 1]))\" stroke-width=\"2\""
        svg.append("<line x1=\"\(lx)\" y1=\"\(ly - 4)\" x2=\"\(lx + 24)\" y2=\"\(ly - 4)\" \(stroke)/>")
        svg.append("<text x=\"\(lx + 30)\" y=\"\(ly)\" font-size=\"11\">\(xmlEscaped(label))</text>")
    }
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}
