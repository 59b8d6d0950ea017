import TrainingCore

/// Sizes a sweep may have, checked before anything is written or allocated: a grid too large
/// to track, or a cell too large for any worker, is refused with the reason and the key.
public struct SweepLimits: Sendable, Hashable {
    /// The default cap on tasks (cells × trials); overridable with `--max-tasks`.
    public static let defaultMaxTasks = 1_000_000_000
    /// The default cap on one run's estimated memory; overridable with `--max-cell-memory`.
    public static let defaultMaxCellGiB = 64.0

    public var maxTasks: Int
    /// Bytes one run may need (`RunSpec.estimatedBytes` of the grid's largest cell).
    public var maxCellBytes: Double

    public init(maxTasks: Int = SweepLimits.defaultMaxTasks, maxCellGiB: Double = SweepLimits.defaultMaxCellGiB) {
        self.maxTasks = maxTasks
        self.maxCellBytes = maxCellGiB * 1_073_741_824
    }

    /// Throws a `ConfigError` naming the key when `configuration` exceeds a limit.
    public func check(_ configuration: SweepConfiguration) throws(ConfigError) {
        let file = configuration.fileName
        let cells = configuration.cellCount ?? Int.max
        // An adaptive sweep may give every grid cell max_trials (refined cells come on top).
        let trials = configuration.adaptive?.maxTrials ?? configuration.trials
        let (tasks, overflow) = cells.multipliedReportingOverflow(by: trials)
        if overflow || tasks > maxTasks {
            let count = overflow ? "more than \(Int.max)" : "\(tasks)"
            let what = configuration.adaptive == nil ? "trials" : "adaptive.max_trials"
            throw ConfigError(
                file: file, line: nil, keyPath: configuration.adaptive == nil ? "trials" : "adaptive.max_trials",
                message: "\(count) tasks (\(cells) cells × \(trials) \(what)) exceed the limit of \(maxTasks); use fewer trials or grid values, or raise the limit with --max-tasks")
        }
        // The estimate grows with every size (depth, width, measurements, samples, …), so the
        // largest cell has the largest value of each integer axis.
        var settings = configuration.settings
        for axis in configuration.grid {
            guard let definition = AxisDefinition.named(axis.key), case .positiveInt = definition.kind,
                  let largest = axis.values.max(by: { $0.intValue < $1.intValue })
            else { continue }
            definition.apply(largest, to: &settings)
        }
        // The record form: the deep network's estimate, whatever the model (its shape bounds the others').
        let spec = settings.record
        let bytes = spec.estimatedBytes
        guard bytes <= maxCellBytes else {
            var problemOnly = spec
            problemOnly.network.depth = 1
            problemOnly.network.width = 1
            let blame = problemOnly.estimatedBytes > maxCellBytes
                ? (key: "problem", what: "the problem (signal_dim \(spec.problem.signalDim), measurements \(spec.problem.measurements), samples \(spec.problem.samples), test_samples \(spec.problem.testSamples))")
                : (key: "grid", what: "the largest cell (depth \(spec.network.depth), width \(spec.network.width))")
            throw ConfigError(
                file: file, line: nil, keyPath: blame.key,
                message: "one run of \(blame.what) needs about \(gibibytes(bytes)), more than the limit of \(gibibytes(maxCellBytes)) per run; make it smaller, or raise the limit with --max-cell-memory (GiB)")
        }
    }
}
