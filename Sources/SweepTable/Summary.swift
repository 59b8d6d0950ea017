import Foundation
public import ResultsStore
public import SweepConfig
import TrainingCore

/// The aggregate of one cell: the two outcome rates with their Wilson intervals, the other
/// outcome counts, and medians of the metrics.
///
/// Medians are over the cell's `ok` runs (failed tasks have no metrics). A NaN metric counts
/// as +infinity (a diverged run is the worst, not missing), so a median can be infinite. nil:
/// no runs to take a median of. In JSON both nil and non-finite values are written as null
/// (`diverged` tells which).
public struct CellSummary: Codable, Sendable, Hashable {
    /// The cell's values on axes other than the four below (`init_scale`, `optimizer`, …), in
    /// the plan's axis order; written first in every table format.
    public var extraAxes: [AxisSetting] = []
    public var depth: Int
    public var width: Int
    public var lambda: Double
    public var noise: Double
    /// Finished `ok` runs.
    public var trials: Int
    /// Runs that reached W*_λ (MODEL.md §4); rate and 95% Wilson interval.
    public var converged: Int
    public var convergenceRate: Double?
    public var convergenceLow: Double
    public var convergenceHigh: Double
    /// Runs whose network is a good inverse on the subspace; rate and 95% Wilson interval.
    public var recovered: Int
    public var recoveryRate: Double?
    public var recoveryLow: Double
    public var recoveryHigh: Double
    /// Runs that stalled (gradient below tol_grad) without converging.
    public var stationary: Int
    /// Runs that ran out of steps without converging or diverging.
    public var budget: Int
    /// Runs whose `auto` budget was cut by `max_steps`.
    public var capped: Int
    /// `ok` runs that diverged.
    public var diverged: Int
    /// Tasks recorded as failed (no report).
    public var failed: Int
    public var medianIterations: Double?
    /// Over converged runs.
    public var medianConvergedAt: Double?
    /// Over runs that recovered at some check.
    public var medianRecoveredAt: Double?
    public var medianTargetDistance: Double?
    public var medianGradientNorm: Double?
    public var medianReconstructionError: Double?
    public var medianOffSubspaceError: Double?
    public var medianOracleDistance: Double?
    public var medianTrainResidual: Double?
    public var medianBalancedness: Double?
    public var medianEffectiveRank: Double?
    public var medianTrainSeconds: Double?
    /// The dynamics (docs/MODEL.md §3), over the runs that measured them.
    public var medianFlowTime: Double?
    public var medianLossGapRate: Double?
    public var medianBalancednessDrift: Double?
    public var medianBestRankGap: Double?
    /// Diagonal networks (docs/MODEL.md §5): runs whose s largest entries are the support of
    /// w*, over the runs that report it (nil: no run does, e.g. a deep network); 95% Wilson interval.
    public var supportRecovered: Int? = nil
    public var supportRecoveryRate: Double? = nil
    public var supportRecoveryLow: Double? = nil
    public var supportRecoveryHigh: Double? = nil
    /// Keyed by `decimalLabel(test noise)`, e.g. "0.1".
    public var medianTestError: [String: Double?]
    public var medianOracleTestError: [String: Double?]
    /// Quartiles of the test error over the cell's runs (the seed band of `noise.svg`).
    public var lowerQuartileTestError: [String: Double?]
    public var upperQuartileTestError: [String: Double?]

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case depth = "depth"
        case width = "width"
        case lambda = "lambda"
        case noise = "noise"
        case trials = "trials"
        case converged = "converged"
        case convergenceRate = "convergence_rate"
        case convergenceLow = "convergence_ci_low"
        case convergenceHigh = "convergence_ci_high"
        case recovered = "recovered"
        case recoveryRate = "recovery_rate"
        case recoveryLow = "recovery_ci_low"
        case recoveryHigh = "recovery_ci_high"
        case stationary = "stationary"
        case budget = "budget"
        case capped = "capped"
        case diverged = "diverged"
        case failed = "failed"
        case medianIterations = "median_iterations"
        case medianConvergedAt = "median_converged_at"
        case medianRecoveredAt = "median_recovered_at"
        case medianTargetDistance = "median_target_distance"
        case medianGradientNorm = "median_gradient_norm"
        case medianReconstructionError = "median_reconstruction_error"
        case medianOffSubspaceError = "median_off_subspace_error"
        case medianOracleDistance = "median_oracle_distance"
        case medianTrainResidual = "median_train_residual"
        case medianBalancedness = "median_balancedness"
        case medianEffectiveRank = "median_effective_rank"
        case medianTrainSeconds = "median_train_seconds"
        case medianFlowTime = "median_flow_time"
        case medianLossGapRate = "median_loss_gap_rate"
        case medianBalancednessDrift = "median_balancedness_drift"
        case medianBestRankGap = "median_best_rank_gap"
        case supportRecovered = "support_recovered"
        case supportRecoveryRate = "support_recovery_rate"
        case supportRecoveryLow = "support_recovery_ci_low"
        case supportRecoveryHigh = "support_recovery_ci_high"
        case medianTestError = "median_test_error"
        case medianOracleTestError = "median_oracle_test_error"
        case lowerQuartileTestError = "lower_quartile_test_error"
        case upperQuartileTestError = "upper_quartile_test_error"
    }

    /// The keys with one number each (the per-noise maps are the others).
    public static let scalarKeys: [CodingKeys] = CodingKeys.allCases.filter {
        ![.medianTestError, .medianOracleTestError, .lowerQuartileTestError, .upperQuartileTestError].contains($0)
    }

    /// A scalar field by key, as a Double (counts too), for CSV and plots.
    public func number(_ key: CodingKeys) -> Double? {
        switch key {
        case .depth: Double(depth)
        case .width: Double(width)
        case .lambda: lambda
        case .noise: noise
        case .trials: Double(trials)
        case .converged: Double(converged)
        case .convergenceRate: convergenceRate
        case .convergenceLow: convergenceLow
        case .convergenceHigh: convergenceHigh
        case .recovered: Double(recovered)
        case .recoveryRate: recoveryRate
        case .recoveryLow: recoveryLow
        case .recoveryHigh: recoveryHigh
        case .stationary: Double(stationary)
        case .budget: Double(budget)
        case .capped: Double(capped)
        case .diverged: Double(diverged)
        case .failed: Double(failed)
        case .medianIterations: medianIterations
        case .medianConvergedAt: medianConvergedAt
        case .medianRecoveredAt: medianRecoveredAt
        case .medianTargetDistance: medianTargetDistance
        case .medianGradientNorm: medianGradientNorm
        case .medianReconstructionError: medianReconstructionError
        case .medianOffSubspaceError: medianOffSubspaceError
        case .medianOracleDistance: medianOracleDistance
        case .medianTrainResidual: medianTrainResidual
        case .medianBalancedness: medianBalancedness
        case .medianEffectiveRank: medianEffectiveRank
        case .medianTrainSeconds: medianTrainSeconds
        case .medianFlowTime: medianFlowTime
        case .medianLossGapRate: medianLossGapRate
        case .medianBalancednessDrift: medianBalancednessDrift
        case .medianBestRankGap: medianBestRankGap
        case .supportRecovered: supportRecovered.map(Double.init)
        case .supportRecoveryRate: supportRecoveryRate
        case .supportRecoveryLow: supportRecoveryLow
        case .supportRecoveryHigh: supportRecoveryHigh
        default: nil
        }
    }

    /// The value of grid axis `key` in this cell (the legacy four or an extra axis).
    public func axisValue(_ key: String) -> AxisValue? {
        switch key {
        case "depth": .int(depth)
        case "width": .int(width)
        case "lambda": .double(lambda)
        case "noise": .double(noise)
        default: extraAxes.first { $0.key == key }?.value
        }
    }

    /// The axis keys of this cell, extra axes first (the table's first columns).
    public var axisKeys: [String] { extraAxes.map(\.key) + AxisDefinition.legacyKeys }

    struct AxisKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var axes = encoder.container(keyedBy: AxisKey.self)
        for setting in extraAxes { try axes.encode(setting.value, forKey: AxisKey(stringValue: setting.key)) }
        var c = encoder.container(keyedBy: CodingKeys.self)
        for key in Self.scalarKeys {
            // Counts stay integers; non-finite values and nil both become null (JSON has no infinity).
            switch number(key) {
            case let value? where value.isFinite:
                if Self.integerKeys.contains(key) { try c.encode(Int(value), forKey: key) } else { try c.encode(value, forKey: key) }
            default:
                try c.encodeNil(forKey: key)
            }
        }
        func putMap(_ map: [String: Double?], _ key: CodingKeys) throws {
            try c.encode(map.mapValues { $0.flatMap { $0.isFinite ? $0 : nil } }, forKey: key)
        }
        try putMap(medianTestError, .medianTestError)
        try putMap(medianOracleTestError, .medianOracleTestError)
        try putMap(lowerQuartileTestError, .lowerQuartileTestError)
        try putMap(upperQuartileTestError, .upperQuartileTestError)
    }

    static let integerKeys: Set<CodingKeys> = [
        .depth, .width, .trials, .converged, .recovered, .stationary, .budget, .capped, .diverged, .failed,
        .supportRecovered,
    ]

    /// The count, rate and interval of one outcome.
    public func outcome(_ measure: SuccessMeasure) -> (count: Int, rate: Double?, low: Double, high: Double) {
        switch measure {
        case .converged: (converged, convergenceRate, convergenceLow, convergenceHigh)
        case .recovered: (recovered, recoveryRate, recoveryLow, recoveryHigh)
        }
    }

    /// The test noise labels of the per-noise medians, in increasing noise.
    public var testNoiseLabels: [String] {
        Set(medianTestError.keys).union(medianOracleTestError.keys)
            .sorted { (Double($0) ?? .infinity, $0) < (Double($1) ?? .infinity, $1) }
    }
}

extension CellSummary {
    /// Reads what `encode` writes: the extra axes are the keys that are no column (their
    /// order is not kept by JSON: sorted by key).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func int(_ key: CodingKeys) throws -> Int { try c.decodeIfPresent(Int.self, forKey: key) ?? 0 }
        func real(_ key: CodingKeys) throws -> Double? { try c.decodeIfPresent(Double.self, forKey: key) }
        func map(_ key: CodingKeys) throws -> [String: Double?] { try c.decodeIfPresent([String: Double?].self, forKey: key) ?? [:] }
        let columns = Set(CodingKeys.allCases.map(\.rawValue))
        let axes = try decoder.container(keyedBy: AxisKey.self)
        extraAxes = try axes.allKeys.filter { !columns.contains($0.stringValue) }.sorted { $0.stringValue < $1.stringValue }.map {
            let value = try axes.decode(AxisValue.self, forKey: $0)
            return AxisSetting($0.stringValue, AxisDefinition.named($0.stringValue)?.typed(value) ?? value)
        }
        depth = try int(.depth)
        width = try int(.width)
        lambda = try real(.lambda) ?? 0
        noise = try real(.noise) ?? 0
        trials = try int(.trials)
        converged = try int(.converged)
        convergenceRate = try real(.convergenceRate)
        convergenceLow = try real(.convergenceLow) ?? 0
        convergenceHigh = try real(.convergenceHigh) ?? 1
        recovered = try int(.recovered)
        recoveryRate = try real(.recoveryRate)
        recoveryLow = try real(.recoveryLow) ?? 0
        recoveryHigh = try real(.recoveryHigh) ?? 1
        stationary = try int(.stationary)
        budget = try int(.budget)
        capped = try int(.capped)
        diverged = try int(.diverged)
        failed = try int(.failed)
        medianIterations = try real(.medianIterations)
        medianConvergedAt = try real(.medianConvergedAt)
        medianRecoveredAt = try real(.medianRecoveredAt)
        medianTargetDistance = try real(.medianTargetDistance)
        medianGradientNorm = try real(.medianGradientNorm)
        medianReconstructionError = try real(.medianReconstructionError)
        medianOffSubspaceError = try real(.medianOffSubspaceError)
        medianOracleDistance = try real(.medianOracleDistance)
        medianTrainResidual = try real(.medianTrainResidual)
        medianBalancedness = try real(.medianBalancedness)
        medianEffectiveRank = try real(.medianEffectiveRank)
        medianTrainSeconds = try real(.medianTrainSeconds)
        medianFlowTime = try real(.medianFlowTime)
        medianLossGapRate = try real(.medianLossGapRate)
        medianBalancednessDrift = try real(.medianBalancednessDrift)
        medianBestRankGap = try real(.medianBestRankGap)
        supportRecovered = try c.decodeIfPresent(Int.self, forKey: .supportRecovered)
        supportRecoveryRate = try real(.supportRecoveryRate)
        supportRecoveryLow = try real(.supportRecoveryLow)
        supportRecoveryHigh = try real(.supportRecoveryHigh)
        medianTestError = try map(.medianTestError)
        medianOracleTestError = try map(.medianOracleTestError)
        lowerQuartileTestError = try map(.lowerQuartileTestError)
        upperQuartileTestError = try map(.upperQuartileTestError)
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

/// The q-quantile by linear interpolation between order statistics (NaN as +infinity).
public func quantile(_ values: [Double], _ q: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.map { $0.isNaN ? Double.infinity : $0 }.sorted()
    let position = q * Double(sorted.count - 1)
    let i = Int(position.rounded(.down)), f = position - Double(i)
    guard i + 1 < sorted.count, f > 0 else { return sorted[i] }
    return sorted[i] + (sorted[i + 1] - sorted[i]) * f
}

/// One summary per cell of `plan`, in plan order; cells without rows have `trials == 0`.
/// Rows whose cell index is outside the plan are ignored.
public func summarize(plan: SweepPlan, rows: [ResultRow]) -> [CellSummary] {
    var byCell = Array(repeating: [ResultRow](), count: plan.cells.count)
    for row in rows where row.cellIndex >= 0 && row.cellIndex < byCell.count {
        byCell[row.cellIndex].append(row)
    }
    let labels = plan.configuration.testNoise.map(decimalLabel)
    return displayOrder(plan, plan.cells.map { cell in summarize(cell: cell, rows: byCell[cell.index], labels: labels) })
}

/// The summaries in plan order, except that cells added by refinement go between their
/// neighbours: every axis by value (numbers ascending, names in grid order), outermost first.
func displayOrder(_ plan: SweepPlan, _ summaries: [CellSummary]) -> [CellSummary] {
    guard !plan.cells.added.isEmpty, summaries.count == plan.cells.count else { return summaries }
    let grid = plan.cells.grid
    func key(_ cell: SweepCell) -> [Double] {
        cell.settings.enumerated().map { i, setting in
            setting.value.number ?? Double(grid[i].values.firstIndex(of: setting.value) ?? 0)
        }
    }
    let keys = plan.cells.map(key)
    let order = keys.indices.sorted { a, b in keys[a].lexicographicallyPrecedes(keys[b]) }
    return order.map { summaries[$0] }
}

/// The summary of one cell from its rows.
func summarize(cell: SweepCell, rows cellRows: [ResultRow], labels: [String]) -> CellSummary {
    let reports = cellRows.compactMap(\.report)
    let converged = reports.filter(\.converged).count
    let recovered = reports.filter(\.recovered).count
    let convergence = wilsonInterval(successes: converged, trials: reports.count)
    let recovery = wilsonInterval(successes: recovered, trials: reports.count)
    let rate = { (k: Int) in reports.isEmpty ? nil : Double(k) / Double(reports.count) }
    func perNoise(_ values: (RunReport) -> [Double], _ statistic: ([Double]) -> Double?) -> [String: Double?] {
        var map: [String: Double?] = [:]
        for (i, label) in labels.enumerated() {
            map[label] = statistic(reports.compactMap { report in
                let v = values(report)
                return i < v.count ? v[i] : nil
            })
        }
        return map
    }
    let supportFlags = reports.compactMap(\.supportRecovered)
    let support = supportFlags.filter { $0 }.count
    let supportInterval = supportFlags.isEmpty ? nil : wilsonInterval(successes: support, trials: supportFlags.count)
    return CellSummary(
        extraAxes: cell.extraSettings,
        depth: cell.depth, width: cell.width, lambda: cell.lambda, noise: cell.noise,
        trials: reports.count,
        converged: converged, convergenceRate: rate(converged), convergenceLow: convergence.low, convergenceHigh: convergence.high,
        recovered: recovered, recoveryRate: rate(recovered), recoveryLow: recovery.low, recoveryHigh: recovery.high,
        stationary: reports.filter(\.stationary).count,
        budget: reports.filter(\.exhaustedBudget).count,
        capped: reports.filter(\.budgetCapped).count,
        diverged: reports.filter(\.diverged).count,
        failed: cellRows.filter { $0.status == .failed }.count,
        medianIterations: median(reports.map { Double($0.iterations) }),
        medianConvergedAt: median(reports.filter(\.converged).compactMap { $0.convergedAt.map(Double.init) }),
        medianRecoveredAt: median(reports.compactMap { $0.recoveredAt.map(Double.init) }),
        medianTargetDistance: median(reports.map(\.targetDistance)),
        medianGradientNorm: median(reports.map(\.gradientNorm)),
        medianReconstructionError: median(reports.map(\.reconstructionError)),
        medianOffSubspaceError: median(reports.map(\.offSubspaceError)),
        medianOracleDistance: median(reports.map(\.oracleDistance)),
        medianTrainResidual: median(reports.map(\.trainResidual)),
        medianBalancedness: median(reports.map(\.balancedness)),
        medianEffectiveRank: median(reports.map { Double($0.effectiveRank) }),
        medianTrainSeconds: median(reports.map(\.trainSeconds)),
        medianFlowTime: median(reports.compactMap(\.flowTime)),
        medianLossGapRate: median(reports.compactMap(\.lossGapRate)),
        medianBalancednessDrift: median(reports.compactMap(\.balancednessDrift)),
        medianBestRankGap: median(reports.compactMap(\.bestRankGap)),
        supportRecovered: supportFlags.isEmpty ? nil : support,
        supportRecoveryRate: supportFlags.isEmpty ? nil : Double(support) / Double(supportFlags.count),
        supportRecoveryLow: supportInterval?.low,
        supportRecoveryHigh: supportInterval?.high,
        medianTestError: perNoise(\.testError, median),
        medianOracleTestError: perNoise(\.oracleTestError, median),
        lowerQuartileTestError: perNoise(\.testError) { quantile($0, 0.25) },
        upperQuartileTestError: perNoise(\.testError) { quantile($0, 0.75) })
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
    return displayOrder(plan, summaries)
}
