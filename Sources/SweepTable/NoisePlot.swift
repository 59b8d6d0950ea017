import Foundation
import SweepConfig

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
    let totalW = max(Double(columns) * (panelW + gap) + 20, 360)
    let totalH = top + Double(rows) * (panelH + gap + legendH) + Double(lambdas.count / 4 + 1) * 18 + 30
    let palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
    func colour(_ lambda: Double) -> String { palette[(lambdas.firstIndex(of: lambda) ?? 0) % palette.count] }

    var svg: [String] = [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(totalW))\" height=\"\(Int(totalH))\" viewBox=\"0 0 \(Int(totalW)) \(Int(totalH))\" font-family=\"Helvetica, Arial, sans-serif\">",
        "<rect x=\"0\" y=\"0\" width=\"\(Int(totalW))\" height=\"\(Int(totalH))\" fill=\"white\"/>",
        "<text x=\"12\" y=\"24\" font-size=\"16\" font-weight=\"bold\">\(xmlEscaped((title.isEmpty ? "" : title + ": ") + "test error against test noise"))</text>",
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
        yMax = yMax > 0 ? yMax * 1.05 : 1
        let sigmaMax = max(sigmas.max() ?? 1, .leastNormalMagnitude)
        func px(_ sigma: Double) -> Double { x0 + sigma / sigmaMax * plotW }
        func py(_ value: Double) -> Double { y0 + plotH - min(value, yMax) / yMax * plotH }
        svg.append("<g>")
        svg.append("<text x=\"\(x0)\" y=\"\(y0 - 6)\" font-size=\"12\">\(xmlEscaped(TrajectoryPanel.label(key)))</text>")
        svg.append("<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#999\"/>")
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            svg.append("<text x=\"\(x0 - 4)\" y=\"\(py(v) + 3)\" font-size=\"9\" text-anchor=\"end\">\(short(v))</text>")
        }
        for (sigma, label) in zip(sigmas, labels) {
            svg.append("<text x=\"\(px(sigma))\" y=\"\(y0 + plotH + 12)\" font-size=\"9\" text-anchor=\"middle\">\(xmlEscaped(label))</text>")
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
    // Legend.
    var ly = totalH - Double(lambdas.count / 4 + 1) * 18 - 8
    var lx = 16.0
    svg.append("<line x1=\"\(lx)\" y1=\"\(ly - 4)\" x2=\"\(lx + 24)\" y2=\"\(ly - 4)\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/>")
    svg.append("<text x=\"\(lx + 30)\" y=\"\(ly)\" font-size=\"11\">oracle R (A R)⁺</text>")
    lx += 140
    for (i, lambda) in lambdas.enumerated() {
        if i > 0 && i % 4 == 0 { ly += 18; lx = 16 }
        svg.append("<line x1=\"\(lx)\" y1=\"\(ly - 4)\" x2=\"\(lx + 24)\" y2=\"\(ly - 4)\" stroke=\"\(colour(lambda))\" stroke-width=\"2\"/>")
        svg.append("<text x=\"\(lx + 30)\" y=\"\(ly)\" font-size=\"11\">λ = \(decimalLabel(lambda)) (median, quartile band)</text>")
        lx += 230
    }
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}
