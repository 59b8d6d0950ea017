import Foundation

extension CellTally {
    /// The 95% Wilson score interval of the success rate (0...1 when there are no runs). Here,
    /// not in the table, because the adaptive planner decides on it too; the table's
    /// `wilsonInterval(successes:trials:)` calls this one.
    public var wilsonInterval: (low: Double, high: Double) {
        guard runs > 0 else { return (0, 1) }
        let z = 1.959_963_984_540_054
        let n = Double(runs)
        let p = Double(successes) / n
        let z2 = z * z
        let denominator = 1 + z2 / n
        let center = (p + z2 / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
        // The bounds are exactly 0 and 1 at the edges; say so rather than leave rounding residue.
        let low = successes <= 0 ? 0 : max(0, center - half)
        let high = successes >= runs ? 1 : min(1, center + half)
        return (low, high)
    }

    /// How uncertain the rate still is: an adaptive round adds trials while it is above the target.
    public var wilsonIntervalWidth: Double {
        let interval = wilsonInterval
        return interval.high - interval.low
    }
}
