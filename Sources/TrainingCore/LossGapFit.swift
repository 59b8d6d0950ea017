import Foundation

/// The loss gap `F − F*` at every check, and its fitted linear rate (RunReport.lossGapRate).
struct LossGapFit {
    let optimal: Double
    private var times: [Double] = []
    private var logGaps: [Double] = []

    init(optimal: Double) { self.optimal = optimal }

    /// Gaps below the rounding of F (1e-12 relative) carry no rate and are dropped.
    mutating func record(time: Double, loss: Double) {
        let gap = loss - optimal
        guard gap.isFinite, gap > 1e-12 * max(abs(optimal), abs(loss)) else { return }
        times.append(time)
        logGaps.append(Foundation.log(gap))
    }

    /// Minus the least-squares slope of ln(gap) against the gradient-flow time over the two
    /// decades that end where the gap first came within a decade of its least value: a final
    /// plateau (a flow held at its error tolerance, a floor of rounding) carries no rate and is
    /// left out. nil below three points.
    func rate() -> Double? {
        guard let least = logGaps.min() else { return nil }
        let decade = Foundation.log(10.0)
        guard let end = logGaps.firstIndex(where: { $0 <= least + decade }) else { return nil }
        let ceiling = logGaps[end] + 2 * decade
        var start = end
        while start > 0, logGaps[start - 1] <= ceiling { start -= 1 }
        let count = end - start + 1
        guard count >= 3 else { return nil }
        let xs = times[start...end], ys = logGaps[start...end]
        let mx = xs.reduce(0, +) / Double(count), my = ys.reduce(0, +) / Double(count)
        var sxy = 0.0, sxx = 0.0
        for (x, y) in zip(xs, ys) {
            sxy += (x - mx) * (y - my)
            sxx += (x - mx) * (x - mx)
        }
        return sxx > 0 ? -sxy / sxx : nil
    }
}
