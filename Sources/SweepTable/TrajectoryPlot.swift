import Foundation
import ResultsStore
import SweepConfig
public import TrainingCore

/// One sampled run's trajectory, with the cell it belongs to.
public struct TrajectoryPanel: Sendable {
    /// The cell's axis values, e.g. "depth 3, width 16, λ 0.01, σ_train 0".
    public var cell: String
    public var trial: Int
    public var converged: Bool?
    public var points: [TrajectoryPoint]

    public init(cell: String, trial: Int, converged: Bool?, points: [TrajectoryPoint]) {
        self.cell = cell
        self.trial = trial
        self.converged = converged
        self.points = points
    }
}

extension TrajectoryPanel {
    /// The panels of `stored`, labelled with their cells' axis values (the plan maps a task
    /// id to its cell and trial, adaptive rounds included).
    /// `converged`: the last point (the run's final state) within `tolConv` of the target.
    static func panels(_ stored: [StoredTrajectory], plan: SweepPlan, tolConv: Double) -> [TrajectoryPanel] {
        stored.map { t in
            guard plan.contains(taskID: t.taskID) else {
                return TrajectoryPanel(cell: "task \(t.taskID)", trial: 0,
                                       converged: t.points.last.map { $0.targetDistance <= tolConv }, points: t.points)
            }
            let (cell, trial) = plan.position(ofTask: t.taskID)
            return TrajectoryPanel(cell: cellLabel(plan.cells[cell]), trial: trial,
                                   converged: t.points.last.map { $0.targetDistance <= tolConv }, points: t.points)
        }
    }

    static func cellLabel(_ cell: SweepCell) -> String { label(cell.settings) }

    static func cellLabel(_ s: CellSummary) -> String { label(s.axes) }

    /// "depth 3, width 16, λ 0.01, σ_train 0": each axis by its symbol, in plan order.
    static func label(_ axes: [AxisSetting]) -> String {
        axes.map { "\(AxisDefinition.symbol($0.key)) \($0.value)" }.joined(separator: ", ")
    }
}

/// The curves of a trajectory plot: what each shows and its colour.
let trajectorySeries: [(name: String, colour: String, value: @Sendable (TrajectoryPoint) -> Double?)] = [
    ("distance to W*_λ", "#d95f02", { $0.targetDistance }),
    ("loss gap F − F*", "#1b9e77", { $0.lossGap }),
    ("on-subspace error ‖WAR − R‖", "#7570b3", { $0.reconstructionError }),
    ("off-subspace error ‖WP⊥‖", "#e7298a", { $0.offSubspaceError }),
]

/// One small multiple: the errors, the distance to the target and the loss gap against the
/// step, both axes logarithmic (step 0 is left out: the first point is step 1). Values that are
/// zero or below 1e-300 are left out of a curve (a log axis has no place for them).
public func renderTrajectorySVG(_ panel: TrajectoryPanel, width: Double = 300, height: Double = 210) -> String {
    // The cell's label on as many lines as it needs to fit the width (breaking after commas).
    var titleLines: [String] = []
    for part in panel.cell.components(separatedBy: ", ") {
        if let last = titleLines.last, PlotAxes.textWidth(last + ", " + part, fontSize: 10) <= width - 8 {
            titleLines[titleLines.count - 1] = last + ", " + part
        } else {
            titleLines.append(part)
        }
    }
    let height = height + Double(max(0, titleLines.count - 1)) * 12
    let left = 44.0, right = 14.0, top = 30.0 + Double(max(0, titleLines.count - 1)) * 12, bottom = 30.0
    let plotW = width - left - right, plotH = height - top - bottom
    let points = panel.points.filter { $0.step >= 1 }
    var svg: [String] = [
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">",
        "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"white\"/>",
    ] + titleLines.enumerated().map { "<text x=\"4\" y=\"\(12 + 12 * $0.offset)\" font-size=\"10\">\(xmlEscaped($0.element))</text>" } + [
        "<text x=\"4\" y=\"\(Int(top) - 6)\" font-size=\"9\" fill=\"#555\">trial \(panel.trial)\(panel.converged.map { $0 ? ", converged" : ", not converged" } ?? "")</text>",
        "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#999\"/>",
    ]
    let curves = trajectorySeries.map { series in
        points.compactMap { p -> (Double, Double)? in
            guard let v = series.value(p), v.isFinite, v > 1e-300 else { return nil }
            return (log10(Double(p.step)), log10(v))
        }
    }
    let xs = curves.flatMap { $0.map(\.0) }, ys = curves.flatMap { $0.map(\.1) }
    guard let xMaxRaw = xs.max(), let yMinRaw = ys.min(), let yMaxRaw = ys.max() else {
        svg.append("<text x=\"\(left + 8)\" y=\"\(top + plotH / 2)\" font-size=\"10\">no point after step 0</text>")
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
    // Whole decades on both axes.
    let xMax = max(1, ceil(xMaxRaw)), yMin = floor(yMinRaw), yMax = max(yMin + 1, ceil(yMaxRaw))
    func px(_ x: Double) -> Double { left + x / xMax * plotW }
    func py(_ y: Double) -> Double { top + plotH - (y - yMin) / (yMax - yMin) * plotH }
    for tick in PlotAxes.logTicks(lowDecade: Int(yMin), highDecade: Int(yMax)) {
        let y = py(tick.value)
        svg.append(String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", left, y, left + plotW, y))
        svg.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"8\" text-anchor=\"end\">", left - 3, y + 3) + tick.label + "</text>")
    }
    for tick in PlotAxes.logTicks(lowDecade: 0, highDecade: Int(xMax), maxLabels: 5) {
        let x = px(tick.value)
        svg.append(String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", x, top, x, top + plotH))
        svg.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"8\" text-anchor=\"middle\">", x, top + plotH + 10) + tick.label + "</text>")
    }
    svg.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\" fill=\"#555\">step</text>", left + plotW / 2, top + plotH + 22))
    for (series, curve) in zip(trajectorySeries, curves) {
        let drawn = curve.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }
        if drawn.count >= 2, Set(drawn).count >= 2 {
            svg.append("<polyline points=\"\(drawn.joined(separator: " "))\" fill=\"none\" stroke=\"\(series.colour)\" stroke-width=\"1.5\"/>")
        } else if let only = curve.first {
            svg.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"\(series.colour)\"/>", px(only.0), py(only.1)))
        }
    }
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}

/// The legend of the trajectory plots, once for all of them (HTML, so the panels stay small).
func trajectoryLegendHTML() -> String {
    "<p class=\"legend\">" + trajectorySeries.map { series in
        "<span style=\"color:\(series.colour)\">■</span> \(xmlEscaped(series.name))"
    }.joined(separator: " &nbsp; ") + "</p>"
}
