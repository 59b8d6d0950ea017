import Foundation
public import SweepConfig

/// An SVG heat map of one outcome's rate: one panel per (lambda, noise) pair (lambda down,
/// noise across), depth down and width across inside a panel, each cell coloured by its rate
/// and labelled k/n. Cells without finished runs are grey.
public func renderSuccessPlotSVG(_ summaries: [CellSummary], title: String = "",
                                 measure: SuccessMeasure = .converged) -> String {
    renderHeatmapSVG(
        summaries, title: (title.isEmpty ? "" : title + ": ") + "\(measure.rawValue) rate (k/n runs)",
        value: { $0.outcome(measure).rate },
        label: { $0.trials == 0 ? "–" : "\($0.outcome(measure).count)/\($0.trials)" },
        scale: ColourScale(low: 0, high: 1, logarithmic: false),
        legend: ("0", "1"))
}

/// The same layout coloured by the median number of iterations (log scale; lighter is faster).
public func renderIterationsPlotSVG(_ summaries: [CellSummary], title: String = "") -> String {
    let values = summaries.compactMap(\.medianIterations).filter { $0.isFinite && $0 > 0 }
    let low = values.min() ?? 1
    let high = values.max() ?? 1
    return renderHeatmapSVG(
        summaries, title: (title.isEmpty ? "" : title + ": ") + "median iterations",
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

/// Escapes text for SVG character data and attribute values.
func xmlEscaped(_ text: String) -> String {
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

private func ordered<T: Hashable>(_ values: [T]) -> [T] {
    var seen = Set<T>()
    return values.filter { seen.insert($0).inserted }
}

func renderHeatmapSVG(_ summaries: [CellSummary], title: String, value: (CellSummary) -> Double?,
                      label: (CellSummary) -> String, scale: ColourScale, legend: (String, String)) -> String {
    let depths = ordered(summaries.map(\.depth))
    let widths = ordered(summaries.map(\.width))
    let lambdas = ordered(summaries.map(\.lambda))
    let noises = ordered(summaries.map(\.noise))
    var lookup: [String: CellSummary] = [:]
    func key(_ d: Int, _ w: Int, _ l: Double, _ n: Double) -> String { "\(d)|\(w)|\(l)|\(n)" }
    for s in summaries { lookup[key(s.depth, s.width, s.lambda, s.noise)] = s }

    let cellW = 58.0, cellH = 30.0
    let panelLeft = 52.0, panelTop = 44.0, gap = 24.0
    let panelW = panelLeft + Double(widths.count) * cellW
    let panelH = panelTop + Double(depths.count) * cellH + 4
    let top = 40.0, left = 12.0
    let totalW = max(left * 2 + Double(noises.count) * (panelW + gap), 320)
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
            svg.append("<text x=\"\(x0 + panelLeft)\" y=\"\(y0 + 14)\" font-size=\"13\">λ = \(decimalLabel(lambda)), σ_train = \(decimalLabel(noise))</text>")
            svg.append("<text x=\"\(x0 + panelLeft + Double(widths.count) * cellW / 2)\" y=\"\(y0 + 28)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">width</text>")
            for (wi, width) in widths.enumerated() {
                svg.append("<text x=\"\(x0 + panelLeft + (Double(wi) + 0.5) * cellW)\" y=\"\(y0 + panelTop - 4)\" font-size=\"11\" text-anchor=\"middle\">\(width)</text>")
            }
            svg.append("<text x=\"\(x0 + 4)\" y=\"\(y0 + panelTop - 4)\" font-size=\"10\" fill=\"#555\">depth</text>")
            for (di, depth) in depths.enumerated() {
                let y = y0 + panelTop + Double(di) * cellH
                svg.append("<text x=\"\(x0 + panelLeft - 6)\" y=\"\(y + cellH / 2 + 4)\" font-size=\"11\" text-anchor=\"end\">\(depth)</text>")
                for (wi, width) in widths.enumerated() {
                    let x = x0 + panelLeft + Double(wi) * cellW
                    let summary = lookup[key(depth, width, lambda, noise)]
                    var fill = "#eeeeee", dark = false
                    if let summary, let v = value(summary), !v.isNaN {
                        (fill, dark) = scale.colour(v)
                    }
                    let text = summary.map(label) ?? ""
                    svg.append("<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cellW)\" height=\"\(cellH)\" fill=\"\(fill)\" stroke=\"white\" stroke-width=\"1\"/>")
                    svg.append("<text x=\"\(x + cellW / 2)\" y=\"\(y + cellH / 2 + 4)\" font-size=\"11\" text-anchor=\"middle\" fill=\"\(dark ? "white" : "black")\">\(xmlEscaped(text))</text>")
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
    svg.append("<rect x=\"\(left + 90 + Double(steps) * 8)\" y=\"\(ly)\" width=\"12\" height=\"12\" fill=\"#eeeeee\"/>")
    svg.append("<text x=\"\(left + 106 + Double(steps) * 8)\" y=\"\(ly + 10)\" font-size=\"10\">no runs yet</text>")
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}
