import Foundation

/// The loss gap `F − F*` at every check, and its fitted linear rate (RunReport.lossGapRate).
struct LossGapFit {
    let optimal: Double
    private var steps: [Double] = []
    private var logGaps: [Double] = []

    init(optimal: Double) { self.optimal = optimal }

    /// Gaps below the rounding of F (1e-12 relative) carry no rate and are dropped.
    mutating func record(step: Int, loss: Double) {
        let gap = loss - optimal
        guard gap.isFinite, gap > 1e-12 * max(abs(optimal), abs(loss)) else { return }
        steps.append(Double(step))
        logGaps.append(Foundation.log(gap))
    }

    /// Minus the least-squares slope of ln(gap) against the step over the final stretch in which
    /// the gap stays within two decades of its last value; nil below three points.
    func rate() -> Double? {
        guard let last = logGaps.last else { return nil }
        let ceiling = last + 2 * Foundation.log(10.0)
        var start = logGaps.count - 1
        while start > 0, logGaps[start - 1] <= ceiling { start -= 1 }
        let count = logGaps.count - start
        guard count >= 3 else { return nil }
        let xs = steps[start...], ys = logGaps[start...]
        let mx = xs.reduce(0, +) / Double(count), my = ys.reduce(0, +) / Double(count)
        var sxy = 0.0, sxx = 0.0
        for (x, y) in zip(xs, ys) {
            sxy += (x - mx) * (y - my)
            sxx += (x - mx) * (x - mx)
        }
        return sxx > 0 ? -sxy / sxx : nil
    }
}
