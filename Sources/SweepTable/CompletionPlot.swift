import Foundation
public import ResultsStore

/// Completed tasks against the time since the first task started, with the ideal line of a
/// sweep without a tail (the same task seconds spread evenly over the workers): a sweep that
/// ends on its biggest tasks shows a flat stretch at the end.
public func renderCompletionPlotSVG(_ times: CompletionTimes, title: String = "") -> String {
    let fullTitle = (title.isEmpty ? "" : title + ": ") + "completed tasks over time"
    let note = String(format: "%d tasks on %d workers; parallel efficiency %.3f (the workers' time in tasks; %.3f in training loops); the last 5%% finished in %.2f s (median task %.2f s); dashed: no tail",
                      times.tasks, times.workers, times.parallelEfficiency, times.trainingShare, times.tail,
                      times.medianTaskSeconds)
    let left = 70.0, top = 44.0, plotW = 420.0, plotH = 260.0
    let width = max(560, 12 + PlotAxes.textWidth(fullTitle, fontSize: 15, bold: true) + 12,
                    left + PlotAxes.textWidth(note, fontSize: 10) + 12)
    let height = top + plotH + 76
    var svg: [String] = [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">",
        "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"white\"/>",
        "<text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">\(xmlEscaped(fullTitle))</text>",
    ]
    let xTicks = PlotAxes.linearTicks(low: 0, high: max(times.span, 1e-3))
    let yTicks = PlotAxes.linearTicks(low: 0, high: Double(max(times.tasks, 1)))
    let xHigh = xTicks.values.last!, yHigh = yTicks.values.last!
    func px(_ t: Double) -> Double { left + t / xHigh * plotW }
    func py(_ n: Double) -> Double { top + plotH - n / yHigh * plotH }
    svg.append("<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#999\"/>")
    for value in xTicks.values {
        let x = px(value)
        svg.append(String(format: "<line x1=\"%.1f\" y1=\"\(top)\" x2=\"%.1f\" y2=\"\(top + plotH)\" stroke=\"#eee\"/>", x, x))
        svg.append(String(format: "<text x=\"%.1f\" y=\"\(top + plotH + 14)\" font-size=\"10\" text-anchor=\"middle\">", x)
                   + PlotAxes.linearLabel(value, step: xTicks.step) + "</text>")
    }
    for value in yTicks.values {
        let y = py(value)
        svg.append(String(format: "<line x1=\"\(left)\" y1=\"%.1f\" x2=\"\(left + plotW)\" y2=\"%.1f\" stroke=\"#eee\"/>", y, y))
        svg.append(String(format: "<text x=\"\(left - 4)\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">", y + 3)
                   + PlotAxes.linearLabel(value, step: yTicks.step) + "</text>")
    }
    svg.append("<text x=\"\(left + plotW / 2)\" y=\"\(top + plotH + 30)\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">seconds since the first task started</text>")
    svg.append("<text x=\"16\" y=\"\(top + plotH / 2)\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\" transform=\"rotate(-90 16 \(top + plotH / 2))\">tasks completed</text>")
    // Without a tail: the task seconds shared evenly by the workers.
    let ideal = times.workers > 0 ? times.taskSeconds / Double(times.workers) : 0
    if ideal > 0 {
        svg.append(String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
                          px(0), py(0), px(min(ideal, xHigh)), py(Double(times.tasks) * min(1, xHigh / ideal))))
    }
    let points = ["\(String(format: "%.1f", px(0))),\(String(format: "%.1f", py(0)))"]
        + zip(times.finished, times.counts).map { String(format: "%.1f,%.1f", px($0), py(Double($1))) }
    svg.append("<polyline points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"#1b9e77\" stroke-width=\"2\"/>")
    svg.append("<text x=\"\(left)\" y=\"\(top + plotH + 52)\" font-size=\"10\" fill=\"#555\">\(xmlEscaped(note))</text>")
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
}
