import Foundation

/// Tick marks and text sizes shared by the plots: ticks at round 1-2-5 steps (as plotting
/// libraries place them), and an estimate of how wide a label is, so that legends and titles
/// can be laid out to fit the drawing instead of running past its edge.
enum PlotAxes {
    /// Round ticks covering `low...high` on a linear axis: about `count` steps of 1, 2 or 5
    /// times a power of ten, the first at or below `low` and the last at or above `high`
    /// (the axis then runs from the first tick to the last).
    static func linearTicks(low: Double, high: Double, count: Int = 5) -> (values: [Double], step: Double) {
        var low = low, high = high
        if !(low.isFinite && high.isFinite) || high < low { (low, high) = (0, 1) }
        if high - low <= 1e-12 * max(abs(low), abs(high)) || high - low < 1e-300 { high = low == 0 ? 1 : low + abs(low) }
        let step = niceStep((high - low) / Double(max(1, count)))
        let first = (low / step).rounded(.down), last = (high / step - 1e-9).rounded(.up)
        let values = stride(from: first, through: max(first + 1, last), by: 1).map { clean($0 * step, step: step) }
        return (values, step)
    }

    /// The smallest of 1, 2, 5 times a power of ten at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        for factor in [1.0, 2, 5, 10] where factor * magnitude >= raw * (1 - 1e-12) { return factor * magnitude }
        return 10 * magnitude
    }

    /// `value` rounded to the decimals of `step` (no 0.30000000000000004 in a label).
    private static func clean(_ value: Double, step: Double) -> Double {
        let decimals = max(0, -Int((log10(step)).rounded(.down)))
        let scale = pow(10, Double(min(decimals, 15)))
        return (value * scale).rounded() / scale
    }

    /// A linear tick's label: as many decimals as the step needs, no more.
    static func linearLabel(_ value: Double, step: Double) -> String {
        if value == 0 { return "0" }
        let magnitude = max(abs(value), step)
        if magnitude >= 1e5 || step < 1e-4 { return String(format: "%g", value) }
        let decimals = max(0, -Int((log10(step) + 1e-9).rounded(.down)))
        return String(format: "%.\(decimals)f", value)
    }

    /// Ticks of a log axis over whole decades `lowDecade...highDecade` (powers of ten): every
    /// decade, or every k-th one when there are more than `maxLabels`; with two decades or
    /// fewer also 2 and 5 times each power. `value` is the tick's log10.
    static func logTicks(lowDecade: Int, highDecade: Int, maxLabels: Int = 6) -> [(value: Double, label: String)] {
        let low = min(lowDecade, highDecade), high = max(lowDecade, highDecade)
        let span = high - low
        if span <= 2 {
            var ticks: [(Double, String)] = []
            for e in low...high {
                for factor in [1.0, 2, 5] where e < high || factor == 1 {
                    ticks.append((Double(e) + log10(factor), logLabel(factor, e)))
                }
            }
            return ticks
        }
        let every = max(1, Int((Double(span) / Double(max(1, maxLabels - 1))).rounded(.up)))
        let first = Int((Double(low) / Double(every)).rounded(.up)) * every
        return stride(from: first, through: high, by: every).map { (Double($0), logLabel(1, $0)) }
    }

    /// `factor × 10^exponent` as a tick label: plain decimals from 0.001 to 5000, else `2e-5`, `1e4`.
    static func logLabel(_ factor: Double, _ exponent: Int) -> String {
        let f = Int(factor)
        if exponent >= 0 && exponent <= 3 { return String(f) + String(repeating: "0", count: exponent) }
        if exponent < 0 && exponent >= -3 { return "0." + String(repeating: "0", count: -exponent - 1) + String(f) }
        return "\(f)e\(exponent)"
    }

    /// About how wide `text` is in pixels at `fontSize` in Helvetica/Arial (Liberation Sans has
    /// the same metrics), rounded up a little: glyphs outside ASCII count as wide ones; bold
    /// text is about a tenth wider.
    static func textWidth(_ text: String, fontSize: Double, bold: Bool = false) -> Double {
        var units = 0.0
        for scalar in text.unicodeScalars {
            units += scalar.value < 128 ? Self.arialWidths[Int(scalar.value)] : 640
        }
        return units / 1000 * fontSize * (bold ? 1.17 : 1.06)
    }

    /// Advance widths of ASCII in Arial, per 1000 units of the em (control characters 0).
    private static let arialWidths: [Double] = {
        var widths = [Double](repeating: 0, count: 128)
        let table: [(String, Double)] = [
            (" !,./:;I[\\]fijlt", 278), ("'", 191), ("\"", 355), ("#$0123456789?L_abdeghnopqu", 556),
            ("%", 889), ("&ABEKPSVXY", 667), ("()-`r{}", 333), ("*", 389), ("+<=>~", 584), ("@", 1015),
            ("CDHNRUw", 722), ("FTZ", 611), ("GOQ", 778), ("J^ckssvxyz", 500), ("M", 833), ("W", 944),
            ("m", 833), ("|", 260),
        ]
        for (characters, width) in table {
            for scalar in characters.unicodeScalars { widths[Int(scalar.value)] = width }
        }
        return widths
    }()
}

/// Entries of a legend laid out left to right, wrapping to a new row before one would cross
/// `width`: where each entry goes, and how many rows it took.
struct LegendFlow {
    var positions: [(x: Double, row: Int)] = []
    var rows = 0

    /// `widths`: each entry's width (its swatch and label); `left`: the first column.
    init(widths: [Double], left: Double, width: Double, gap: Double = 18) {
        var x = left, row = 0
        for (i, w) in widths.enumerated() {
            if i > 0, x + w > width - left { x = left; row += 1 }
            positions.append((x, row))
            x += w + gap
        }
        rows = widths.isEmpty ? 0 : row + 1
    }
}
