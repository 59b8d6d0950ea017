import Foundation
import SweepConfig

/// One depth's line of `diagonal.svg`: (α, median distance, most runs converged) per cell and
/// the least-squares slope of log distance on log α over the converged points.
public struct DiagonalLine: Sendable, Hashable {
    public struct Point: Sendable, Hashable {
        public var alpha: Double
        public var distance: Double
        public var converged: Bool
    }

    public var depth: Int
    public var points: [Point]
    /// nil below two converged points with distinct α.
    public var slope: Double?
}

/// The lines of the diagonal sweep's plot, by depth: each cell's median `target_distance`
/// (`‖w − w_ℓ1‖/‖w_ℓ1‖` for model diagonal) against its `init_scale` α. A point counts in the
/// fit when more than half of its cell's runs converged (else its distance may be the training's
/// unfinished part, not the limit's); points with no positive finite median are left out.
public func diagonalLines(_ summaries: [CellSummary]) -> [DiagonalLine] {
    var byDepth: [Int: [DiagonalLine.Point]] = [:]
    for s in summaries where s.trials > 0 {
        guard let alpha = s.axisValue("init_scale")?.number, alpha > 0,
              let distance = s.median("target_distance"), distance.isFinite, distance > 0 else { continue }
        byDepth[s.axisValue("depth")?.intValue ?? 0, default: []].append(.init(alpha: alpha, distance: distance, converged: 2 * s.converged > s.trials))
    }
    return byDepth.keys.sorted().map { depth in
        let points = byDepth[depth, default: []].sorted { $0.alpha < $1.alpha }
        let fitted = points.filter(\.converged).map { (log($0.alpha), log($0.distance)) }
        return DiagonalLine(depth: depth, points: points, slope: leastSquaresSlope(fitted))
    }
}

/// The slope of the least-squares line through `points`; nil without two distinct x.
func leastSquaresSlope(_ points: [(Double, Double)]) -> Double? {
    guard points.count >= 2 else { return nil }
    let n = Double(points.count)
    let mx = points.reduce(0) { $0 + $1.0 } / n, my = points.reduce(0) { $0 + $1.1 } / n
    let sxx = points.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
    guard sxx > 0 else { return nil }
    return points.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / sxx
}

/// `diagonal.svg`: distance to the minimum-ℓ1 solution against the initialization scale α on
/// log-log axes, one line per depth D (medians over trials), the fitted slopes in the legend.
/// Filled points entered the fit; hollow ones are cells where most runs did not converge.
public func renderDiagonalPlotSVG(_ summaries: [CellSummary], title: String = "") -> String {
    let lines = diagonalLines(summaries)
    let fullTitle = (title.isEmpty ? "" : title + ": ") + "distance to the minimum-ℓ1 solution against α"
    let legendWidth = lines.map { PlotAxes.textWidth("D = \($0.depth): slope -0.00", fontSize: 11) + 30 }.max() ?? 0
    let left = 70.0, top = 44.0, plotW = 330.0, plotH = 290.0
    let width = max(560, left + plotW + 16 + max(legendWidth, PlotAxes.textWidth("hollow: most runs of the", fontSize: 9)) + 8,
                    12 + PlotAxes.textWidth(fullTitle, fontSize: 15, bold: true) + 12)
    let height = max(400.0, top + 14 + Double(lines.count) * 18 + 8 + 36 + 12)
    var svg: [String] = [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">",
        "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"white\"/>",
        "<text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">\(xmlEscaped(fullTitle))</text>",
    ]
    let all = lines.flatMap(\.points)
    guard all.count >= 1 else {
        svg.append("<text x=\"12\" y=\"60\" font-size=\"12\">no finished runs with an init_scale axis yet</text>")
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
    // Whole decades around the data.
    let xLow = floor(log10(all.map(\.alpha).min()!)), xHigh = max(ceil(log10(all.map(\.alpha).max()!)), xLow + 1)
    let yLow = floor(log10(all.map(\.distance).min()!)), yHigh = max(ceil(log10(all.map(\.distance).max()!)), yLow + 1)
    func px(_ alpha: Double) -> Double { left + (log10(alpha) - xLow) / (xHigh - xLow) * plotW }
    func py(_ distance: Double) -> Double { top + plotH - (log10(distance) - yLow) / (yHigh - yLow) * plotH }
    svg.append("<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#999\"/>")
    for tick in PlotAxes.logTicks(lowDecade: Int(xLow), highDecade: Int(xHigh)) {
        let x = px(pow(10, tick.value))
        svg.append(String(format: "<line x1=\"%.1f\" y1=\"\(top)\" x2=\"%.1f\" y2=\"\(top + plotH)\" stroke=\"#eee\"/>", x, x))
        svg.append(String(format: "<text x=\"%.1f\" y=\"\(top + plotH + 14)\" font-size=\"10\" text-anchor=\"middle\">", x) + tick.label + "</text>")
    }
    for tick in PlotAxes.logTicks(lowDecade: Int(yLow), highDecade: Int(yHigh), maxLabels: 8) {
        let y = py(pow(10, tick.value))
        svg.append(String(format: "<line x1=\"\(left)\" y1=\"%.1f\" x2=\"\(left + plotW)\" y2=\"%.1f\" stroke=\"#eee\"/>", y, y))
        svg.append(String(format: "<text x=\"\(left - 4)\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">", y + 3) + tick.label + "</text>")
    }
    svg.append("<text x=\"\(left + plotW / 2)\" y=\"\(top + plotH + 30)\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">initialization scale α (init_scale)</text>")
    svg.append("<text x=\"16\" y=\"\(top + plotH / 2)\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\" transform=\"rotate(-90 16 \(top + plotH / 2))\">‖w − w_ℓ1‖ / ‖w_ℓ1‖ (median)</text>")
    let palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
    for (i, line) in lines.enumerated() {
        let colour = palette[i % palette.count]
        let points = line.points.map { String(format: "%.1f,%.1f", px($0.alpha), py($0.distance)) }.joined(separator: " ")
        svg.append("<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
        for p in line.points {
            let fill = p.converged ? colour : "white"
            svg.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"\(fill)\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>",
                              px(p.alpha), py(p.distance)))
        }
        let ly = top + 14 + Double(i) * 18
        let slope = line.slope.map { String(format: "slope %.2f", $0) } ?? "slope –"
        svg.append("<line x1=\"\(left + plotW + 16)\" y1=\"\(ly - 4)\" x2=\"\(left + plotW + 40)\" y2=\"\(ly - 4)\" stroke=\"\(colour)\" stroke-width=\"2\"/>")
        svg.append("<text x=\"\(left + plotW + 46)\" y=\"\(ly)\" font-size=\"11\">D = \(line.depth): \(slope)</text>")
    }
    let ny = top + 14 + Double(lines.count) * 18 + 8
    svg.append("<text x=\"\(left + plotW + 16)\" y=\"\(ny)\" font-size=\"9\" fill=\"#555\">least squares on log-log</text>")
    svg.append("<text x=\"\(left + plotW + 16)\" y=\"\(ny + 12)\" font-size=\"9\" fill=\"#555\">over the filled points;</text>")
    svg.append("<text x=\"\(left + plotW + 16)\" y=\"\(ny + 24)\" font-size=\"9\" fill=\"#555\">hollow: most runs of the</text>")
    svg.append("<text x=\"\(left + plotW + 16)\" y=\"\(ny + 36)\" font-size=\"9\" fill=\"#555\">cell did not converge</text>")
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}
