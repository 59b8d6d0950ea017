import Foundation
public import ResultsStore
public import SweepConfig
import TrainingCore

/// The aggregate of one cell: its axes, the runs it holds, and one column per aggregate of
/// `RunReport.fields` (the outcome rates with their Wilson intervals, the counts, the medians,
/// the per-noise maps), named and ordered by `CellSummary.columns`.
///
/// Aggregates are over the cell's `ok` runs that report the field (failed tasks have no
/// metrics). A NaN metric counts as +infinity (a diverged run is the worst, not missing), so a
/// median can be infinite. nil: no runs to aggregate. In JSON both nil and non-finite values
/// are written as null (`diverged` tells which).
public struct CellSummary: Codable, Sendable, Hashable {
    /// The cell's value on every axis, in the plan's axis order (the config's other axes, then
    /// depth, width, lambda and noise); the first columns of every table format.
    public var axes: [AxisSetting]
    /// Finished `ok` runs.
    public var trials: Int
    /// Tasks recorded as failed (no report).
    public var failed: Int
    /// The scalar aggregates by column name (`convergence_rate`, `median_iterations`, …).
    public var values: [String: Double]
    /// The per-noise aggregates by column name (`median_test_error`, …), each keyed by
    /// `decimalLabel(test noise)`, e.g. "0.1".
    public var perNoise: [String: [String: Double?]]
    /// Verification by replay: the cell's tasks whose result a replay confirmed, and those a
    /// replay contradicted at least once (`peer_events`); nil where the sweep verified nothing.
    public var replays: Replays?

    public struct Replays: Codable, Sendable, Hashable {
        public var verified: Int
        public var mismatched: Int

        public init(verified: Int, mismatched: Int) {
            self.verified = verified
            self.mismatched = mismatched
        }
    }

    /// The JSON keys of `replays` (present only when the sweep verified).
    public static let replayKeys = ["replays_verified", "replays_mismatched"]

    /// One column of the table.
    public struct Column: Sendable, Hashable {
        public var name: String
        /// Written as an integer (a count or an integer axis).
        public var isInteger: Bool
    }

    /// The scalar columns after the axes, in table order: `trials`, the outcomes and counts of
    /// the fields every model reports, `failed`, the medians, then the outcomes of fields only
    /// some models report.
    public static let columns: [Column] = {
        func outcomes(_ field: ReportField) -> [Column] {
            switch field.aggregate {
            case .outcome(let count, let stem):
                [Column(name: count, isInteger: true), Column(name: stem + "_rate", isInteger: false),
                 Column(name: stem + "_ci_low", isInteger: false), Column(name: stem + "_ci_high", isInteger: false)]
            case .count(let name): [Column(name: name, isInteger: true)]
            default: []
            }
        }
        let fields = RunReport.fields
        let common = fields.filter(\.isReportedByEveryModel).flatMap(outcomes)
        let medians = fields.compactMap { field -> Column? in
            guard case .median = field.aggregate else { return nil }
            return Column(name: "median_" + field.column, isInteger: false)
        }
        let specific = fields.filter { !$0.isReportedByEveryModel }.flatMap(outcomes)
        return [Column(name: "trials", isInteger: true)] + common + [Column(name: "failed", isInteger: true)] + medians + specific
    }()

    /// The per-noise columns in table order: the medians, then the quartiles.
    public static let perNoiseColumns: [String] = {
        let fields = RunReport.fields.compactMap { field -> (String, Bool)? in
            guard case .perNoise(let quartiles) = field.aggregate else { return nil }
            return (field.column, quartiles)
        }
        return fields.map { "median_" + $0.0 }
            + fields.filter(\.1).flatMap { ["lower_quartile_" + $0.0, "upper_quartile_" + $0.0] }
    }()

    /// The names of the scalar columns (the axes and the per-noise maps are the others).
    public static let scalarKeys: [String] = columns.map(\.name)
    public static let integerKeys: Set<String> = Set(columns.filter(\.isInteger).map(\.name))

    /// A scalar column or numeric axis by name, as a Double (counts too), for CSV and plots;
    /// nil: no value.
    public func number(_ key: String) -> Double? {
        switch key {
        case "trials": Double(trials)
        case "failed": Double(failed)
        default: values[key] ?? axisValue(key)?.number
        }
    }

    /// The median of a report field (by its column, e.g. `iterations`) over the cell's runs.
    public func median(_ column: String) -> Double? { values["median_" + column] }

    /// The value of grid axis `key` in this cell; nil when the cell has no such axis.
    public func axisValue(_ key: String) -> AxisValue? {
        axes.last { $0.key == key }?.value
    }

    /// The axis keys of this cell in plan order (the table's first columns).
    public var axisKeys: [String] { axes.map(\.key) }

    // MARK: The outcomes by name

    private func count(_ key: String) -> Int { values[key].map { Int($0) } ?? 0 }
    public var converged: Int { count("converged") }
    public var convergenceRate: Double? { values["convergence_rate"] }
    public var convergenceLow: Double { values["convergence_ci_low"] ?? 0 }
    public var convergenceHigh: Double { values["convergence_ci_high"] ?? 1 }
    public var recovered: Int { count("recovered") }
    public var recoveryRate: Double? { values["recovery_rate"] }
    public var recoveryLow: Double { values["recovery_ci_low"] ?? 0 }
    public var recoveryHigh: Double { values["recovery_ci_high"] ?? 1 }
    public var stationary: Int { count("stationary") }
    public var budget: Int { count("budget") }
    public var capped: Int { count("capped") }
    public var diverged: Int { count("diverged") }
    /// Diagonal networks: nil where no run reports support recovery (a deep network).
    public var supportRecovered: Int? { values["support_recovered"].map { Int($0) } }
    public var supportRecoveryRate: Double? { values["support_recovery_rate"] }
    public var supportRecoveryLow: Double? { values["support_recovery_ci_low"] }
    public var supportRecoveryHigh: Double? { values["support_recovery_ci_high"] }
    public var medianIterations: Double? { median("iterations") }
    public var medianTestError: [String: Double?] { perNoise["median_test_error"] ?? [:] }
    public var medianOracleTestError: [String: Double?] { perNoise["median_oracle_test_error"] ?? [:] }
    /// Quartiles of the test error over the cell's runs (the seed band of `noise.svg`).
    public var lowerQuartileTestError: [String: Double?] { perNoise["lower_quartile_test_error"] ?? [:] }
    public var upperQuartileTestError: [String: Double?] { perNoise["upper_quartile_test_error"] ?? [:] }

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

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for setting in axes { try c.encode(setting.value, forKey: Key(stringValue: setting.key)) }
        for column in Self.columns {
            let key = Key(stringValue: column.name)
            // Counts stay integers; non-finite values and nil both become null (JSON has no infinity).
            switch number(column.name) {
            case let value? where value.isFinite:
                if column.isInteger { try c.encode(Int(value), forKey: key) } else { try c.encode(value, forKey: key) }
            default:
                try c.encodeNil(forKey: key)
            }
        }
        for name in Self.perNoiseColumns {
            try c.encode((perNoise[name] ?? [:]).mapValues { $0.flatMap { $0.isFinite ? $0 : nil } }, forKey: Key(stringValue: name))
        }
        if let replays {
            try c.encode(replays.verified, forKey: Key(stringValue: Self.replayKeys[0]))
            try c.encode(replays.mismatched, forKey: Key(stringValue: Self.replayKeys[1]))
        }
    }

    /// Reads what `encode` writes: the axes are the keys that are no column. JSON keeps no
    /// order: they come back in the order of `AxisDefinition.all` (the config reference's),
    /// which for the axes every grid has is the plan's (depth, width, lambda, noise).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let known = Set(Self.scalarKeys + Self.perNoiseColumns + Self.replayKeys)
        let reference = AxisDefinition.all.map(\.key)
        func rank(_ key: any CodingKey) -> (Int, String) {
            (reference.firstIndex(of: key.stringValue) ?? .max, key.stringValue)
        }
        axes = try c.allKeys.filter { !known.contains($0.stringValue) }.sorted { rank($0) < rank($1) }.map {
            let value = try c.decode(AxisValue.self, forKey: $0)
            return AxisSetting($0.stringValue, AxisDefinition.named($0.stringValue)?.typed(value) ?? value)
        }
        func real(_ name: String) throws -> Double? { try c.decodeIfPresent(Double.self, forKey: Key(stringValue: name)) }
        trials = Int(try real("trials") ?? 0)
        failed = Int(try real("failed") ?? 0)
        values = [:]
        for column in Self.columns where !["trials", "failed"].contains(column.name) {
            if let value = try real(column.name) { values[column.name] = value }
        }
        perNoise = [:]
        for name in Self.perNoiseColumns {
            perNoise[name] = try c.decodeIfPresent([String: Double?].self, forKey: Key(stringValue: name)) ?? [:]
        }
        if let verified = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: Self.replayKeys[0])),
           let mismatched = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: Self.replayKeys[1])) {
            replays = Replays(verified: verified, mismatched: mismatched)
        }
    }

    public init(axes: [AxisSetting], trials: Int, failed: Int, values: [String: Double],
                perNoise: [String: [String: Double?]]) {
        self.axes = axes
        self.trials = trials
        self.failed = failed
        self.values = values
        self.perNoise = perNoise
    }
}

/// The 95% Wilson score interval of `successes` out of `trials` (0...1 when `trials` is 0): the
/// adaptive planner's (`CellTally.wilsonInterval`), so that the table and the planner never disagree.
public func wilsonInterval(successes: Int, trials: Int) -> (low: Double, high: Double) {
    CellTally(runs: trials, successes: successes).wilsonInterval
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

/// The summary of one cell from its rows: each field's aggregate of `RunReport.fields`.
func summarize(cell: SweepCell, rows cellRows: [ResultRow], labels: [String]) -> CellSummary {
    let reports = cellRows.compactMap(\.report)
    var values: [String: Double] = [:]
    var perNoise: [String: [String: Double?]] = [:]
    for field in RunReport.fields {
        switch field.aggregate {
        case .none:
            break
        case .median(let only):
            let runs = only.map { reports.filter($0) } ?? reports
            if let value = median(runs.compactMap { field.number(of: $0) }) { values["median_" + field.column] = value }
        case .count(let name):
            let flags = reports.compactMap { field.flag(of: $0) }
            // A field of some models only: no count at all where no run reports it.
            if flags.isEmpty && !field.isReportedByEveryModel { break }
            values[name] = Double(flags.filter { $0 }.count)
        case .outcome(let name, let stem):
            let flags = reports.compactMap { field.flag(of: $0) }
            // A field of some models only: no count at all where no run reports it.
            if flags.isEmpty && !field.isReportedByEveryModel { break }
            let successes = flags.filter { $0 }.count
            let interval = wilsonInterval(successes: successes, trials: flags.count)
            values[name] = Double(successes)
            if !flags.isEmpty { values[stem + "_rate"] = Double(successes) / Double(flags.count) }
            values[stem + "_ci_low"] = interval.low
            values[stem + "_ci_high"] = interval.high
        case .perNoise(let quartiles):
            guard case .perNoise(let get, _) = field.value else { break }
            func map(_ statistic: ([Double]) -> Double?) -> [String: Double?] {
                var map: [String: Double?] = [:]
                for (i, label) in labels.enumerated() {
                    map[label] = statistic(reports.compactMap { report in get(report).flatMap { i < $0.count ? $0[i] : nil } })
                }
                return map
            }
            perNoise["median_" + field.column] = map(median)
            if quartiles {
                perNoise["lower_quartile_" + field.column] = map { quantile($0, 0.25) }
                perNoise["upper_quartile_" + field.column] = map { quantile($0, 0.75) }
            }
        }
    }
    return CellSummary(
        axes: cell.settings, trials: reports.count, failed: cellRows.filter { $0.status == .failed }.count, values: values, perNoise: perNoise)
}

extension ReportField {
    /// The field of `report` as a number (a median's input); nil where the run does not report it.
    func number(of report: RunReport) -> Double? {
        switch value {
        case .double(let get, _): get(report)
        case .int(let get, _): get(report).map(Double.init)
        case .bool(let get, _): get(report).map { $0 ? 1 : 0 }
        case .derived(let get): get(report).map { $0 ? 1 : 0 }
        case .perNoise, .name, .trajectory: nil
        }
    }

    /// The field of `report` as a flag (a count's input); nil where the run does not report it.
    func flag(of report: RunReport) -> Bool? {
        switch value {
        case .bool(let get, _): get(report)
        case .derived(let get): get(report)
        default: nil
        }
    }
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
    let replays = try store.replayedTasks()
    if !replays.verified.isEmpty || !replays.mismatched.isEmpty {
        for index in summaries.indices { summaries[index].replays = .init(verified: 0, mismatched: 0) }
        for task in replays.verified where plan.contains(taskID: task) {
            summaries[plan.position(ofTask: task).cell].replays?.verified += 1
        }
        for task in replays.mismatched where plan.contains(taskID: task) {
            summaries[plan.position(ofTask: task).cell].replays?.mismatched += 1
        }
    }
    return displayOrder(plan, summaries)
}
