import Foundation
public import ResultsStore
public import SweepConfig
import TrainingCore

/// The aggregate of one cell: success counts with a Wilson interval and medians of the metrics.
///
/// Medians are over the cell's `ok` runs (failed tasks have no metrics); `median_converged_at`
/// over its successful runs. A NaN metric counts as +infinity (a diverged run is the worst, not
/// missing), so a median can be infinite. nil: no runs to take a median of. In JSON both nil and
/// non-finite values are written as null (`diverged` tells which).
public struct CellSummary: Codable, Sendable, Hashable {
    public var depth: Int
    public var width: Int
    public var lambda: Double
    public var noise: Double
    /// Finished `ok` runs.
    public var trials: Int
    public var successes: Int
    /// `successes / trials`; nil with no trials.
    public var successRate: Double?
    /// 95% Wilson score interval; 0...1 with no trials.
    public var ciLow: Double
    public var ciHigh: Double
    /// `ok` runs that diverged.
    public var diverged: Int
    /// Tasks recorded as failed (no report).
    public var failed: Int
    public var medianIterations: Double?
    public var medianConvergedAt: Double?
    public var medianReconstructionError: Double?
    public var medianOffSubspaceError: Double?
    public var medianOracleDistance: Double?
    public var medianTrainResidual: Double?
    public var medianBalancedness: Double?
    public var medianEffectiveRank: Double?
    public var medianTrainSeconds: Double?
    /// Keyed by `decimalLabel(test noise)`, e.g. "0.1".
    public var medianTestError: [String: Double?]
    public var medianOracleTestError: [String: Double?]

    public init(depth: Int, width: Int, lambda: Double, noise: Double, trials: Int, successes: Int,
                successRate: Double?, ciLow: Double, ciHigh: Double, diverged: Int, failed: Int,
                medianIterations: Double?, medianConvergedAt: Double?, medianReconstructionError: Double?,
                medianOffSubspaceError: Double?, medianOracleDistance: Double?, medianTrainResidual: Double?,
                medianBalancedness: Double?, medianEffectiveRank: Double?, medianTrainSeconds: Double?,
                medianTestError: [String: Double?], medianOracleTestError: [String: Double?]) {
        self.depth = depth
        self.width = width
        self.lambda = lambda
        self.noise = noise
        self.trials = trials
        self.successes = successes
        self.successRate = successRate
        self.ciLow = ciLow
        self.ciHigh = ciHigh
        self.diverged = diverged
        self.failed = failed
        self.medianIterations = medianIterations
        self.medianConvergedAt = medianConvergedAt
        self.medianReconstructionError = medianReconstructionError
        self.medianOffSubspaceError = medianOffSubspaceError
        self.medianOracleDistance = medianOracleDistance
        self.medianTrainResidual = medianTrainResidual
        self.medianBalancedness = medianBalancedness
        self.medianEffectiveRank = medianEffectiveRank
        self.medianTrainSeconds = medianTrainSeconds
        self.medianTestError = medianTestError
        self.medianOracleTestError = medianOracleTestError
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case depth, width, lambda, noise, trials, successes
        case successRate = "success_rate"
        case ciLow = "ci_low"
        case ciHigh = "ci_high"
        case diverged, failed
        case medianIterations = "median_iterations"
        case medianConvergedAt = "median_converged_at"
        case medianReconstructionError = "median_reconstruction_error"
        case medianOffSubspaceError = "median_off_subspace_error"
        case medianOracleDistance = "median_oracle_distance"
        case medianTrainResidual = "median_train_residual"
        case medianBalancedness = "median_balancedness"
        case medianEffectiveRank = "median_effective_rank"
        case medianTrainSeconds = "median_train_seconds"
        case medianTestError = "median_test_error"
        case medianOracleTestError = "median_oracle_test_error"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        /// Non-finite values and nil both become null: JSON has no infinity.
        func put(_ value: Double?, _ key: CodingKeys) throws {
            if let value, value.isFinite { try c.encode(value, forKey: key) } else { try c.encodeNil(forKey: key) }
        }
        func putMap(_ map: [String: Double?], _ key: CodingKeys) throws {
            try c.encode(map.mapValues { $0.flatMap { $0.isFinite ? $0 : nil } }, forKey: key)
        }
        try c.encode(depth, forKey: .depth)
        try c.encode(width, forKey: .width)
        try c.encode(lambda, forKey: .lambda)
        try c.encode(noise, forKey: .noise)
        try c.encode(trials, forKey: .trials)
        try c.encode(successes, forKey: .successes)
        try put(successRate, .successRate)
        try c.encode(ciLow, forKey: .ciLow)
        try c.encode(ciHigh, forKey: .ciHigh)
        try c.encode(diverged, forKey: .diverged)
        try c.encode(failed, forKey: .failed)
        try put(medianIterations, .medianIterations)
        try put(medianConvergedAt, .medianConvergedAt)
        try put(medianReconstructionError, .medianReconstructionError)
        try put(medianOffSubspaceError, .medianOffSubspaceError)
        try put(medianOracleDistance, .medianOracleDistance)
        try put(medianTrainResidual, .medianTrainResidual)
        try put(medianBalancedness, .medianBalancedness)
        try put(medianEffectiveRank, .medianEffectiveRank)
        try put(medianTrainSeconds, .medianTrainSeconds)
        try putMap(medianTestError, .medianTestError)
        try putMap(medianOracleTestError, .medianOracleTestError)
    }

    /// The test noise labels of the per-noise medians, in increasing noise.
    public var testNoiseLabels: [String] {
        Set(medianTestError.keys).union(medianOracleTestError.keys)
            .sorted { (Double($0) ?? .infinity, $0) < (Double($1) ?? .infinity, $1) }
    }
}

/// The 95% Wilson score interval of `successes` out of `trials` (0...1 when `trials` is 0).
public func wilsonInterval(successes: Int, trials: Int, z: Double = 1.959_963_984_540_054) -> (low: Double, high: Double) {
    guard trials > 0 else { return (0, 1) }
    let n = Double(trials)
    let p = Double(successes) / n
    let z2 = z * z
    let denominator = 1 + z2 / n
    let center = (p + z2 / (2 * n)) / denominator
    let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
    // The bounds are exactly 0 and 1 at the edges; say so rather than leave rounding residue.
    let low = successes <= 0 ? 0 : max(0, center - half)
    let high = successes >= trials ? 1 : min(1, center + half)
    return (low, high)
}

/// The median (mean of the two middle values for an even count); NaN sorts as +infinity.
/// nil for no values.
public func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.map { $0.isNaN ? Double.infinity : $0 }.sorted()
    let mid = sorted.count / 2
    if sorted.count % 2 == 1 { return sorted[mid] }
    return (sorted[mid - 1] + sorted[mid]) / 2
}

/// One summary per cell of `plan`, in plan order; cells without rows have `trials == 0`.
/// Rows whose cell index is outside the plan are ignored.
public func summarize(plan: SweepPlan, rows: [ResultRow]) -> [CellSummary] {
    var byCell = Array(repeating: [ResultRow](), count: plan.cells.count)
    for row in rows where row.cellIndex >= 0 && row.cellIndex < byCell.count {
        byCell[row.cellIndex].append(row)
    }
    let labels = plan.configuration.testNoise.map(decimalLabel)
    return plan.cells.map { cell in summarize(cell: cell, rows: byCell[cell.index], labels: labels) }
}

/// The summary of one cell from its rows.
func summarize(cell: SweepCell, rows cellRows: [ResultRow], labels: [String]) -> CellSummary {
        let reports = cellRows.compactMap(\.report)
        let successes = reports.filter(\.success).count
        let (low, high) = wilsonInterval(successes: successes, trials: reports.count)
        func perNoise(_ values: (RunReport) -> [Double]) -> [String: Double?] {
            var map: [String: Double?] = [:]
            for (i, label) in labels.enumerated() {
                map[label] = median(reports.compactMap { report in
                    let v = values(report)
                    return i < v.count ? v[i] : nil
                })
            }
            return map
        }
        return CellSummary(
            depth: cell.depth, width: cell.width, lambda: cell.lambda, noise: cell.noise,
            trials: reports.count, successes: successes,
            successRate: reports.isEmpty ? nil : Double(successes) / Double(reports.count),
            ciLow: low, ciHigh: high,
            diverged: reports.filter(\.diverged).count,
            failed: cellRows.filter { $0.status == .failed }.count,
            medianIterations: median(reports.map { Double($0.iterations) }),
            medianConvergedAt: median(reports.filter(\.success).compactMap { $0.convergedAt.map(Double.init) }),
            medianReconstructionError: median(reports.map(\.reconstructionError)),
            medianOffSubspaceError: median(reports.map(\.offSubspaceError)),
            medianOracleDistance: median(reports.map(\.oracleDistance)),
            medianTrainResidual: median(reports.map(\.trainResidual)),
            medianBalancedness: median(reports.map(\.balancedness)),
            medianEffectiveRank: median(reports.map { Double($0.effectiveRank) }),
            medianTrainSeconds: median(reports.map(\.trainSeconds)),
            medianTestError: perNoise(\.testError),
            medianOracleTestError: perNoise(\.oracleTestError))
}

/// The summaries of everything `store` holds so far, in one streaming pass over the rows in
/// cell order: memory holds one cell's rows, and the time is one index scan whatever the
/// number of cells (a query per cell took 17 s for 105k cells).
public func summarize(store: ResultsStore) throws -> [CellSummary] {
    let plan = store.plan
    let labels = plan.configuration.testNoise.map(decimalLabel)
    var summaries: [CellSummary] = []
    summaries.reserveCapacity(plan.cells.count)
    var current: [ResultRow] = []
    var currentCell = 0
    /// Summarizes every cell before `cell` (the current one with its rows, the rest empty).
    func flush(upTo cell: Int) {
        while currentCell < min(cell, plan.cells.count) {
            summaries.append(summarize(cell: plan.cells[currentCell], rows: current, labels: labels))
            current.removeAll(keepingCapacity: true)
            currentCell += 1
        }
    }
    try store.forEachRowByCell { row in
        guard row.cellIndex >= 0 && row.cellIndex < plan.cells.count else { return }
        if row.cellIndex != currentCell { flush(upTo: row.cellIndex) }
        current.append(row)
    }
    flush(upTo: plan.cells.count)
    return summaries
}
