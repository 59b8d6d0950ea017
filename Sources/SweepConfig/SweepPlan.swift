import Foundation
public import TrainingCore

/// One combination of the grid axes: an ordered list of (axis key, value), one per axis of
/// the plan in its order. Depth, width, lambda and noise are axes like any other; every cell
/// has them because the parser always lists them (one value when the config fixes them).
public struct SweepCell: Codable, Sendable, Hashable {
    /// Position in `SweepPlan.cells` (the first axis outermost, the last innermost).
    public var index: Int
    /// Every axis value of the cell, in the plan's axis order.
    public var settings: [AxisSetting]

    public init(index: Int, settings: [AxisSetting]) {
        self.index = index
        self.settings = settings
    }

    /// The value of axis `key`, nil when the cell has no such axis.
    public subscript(key: String) -> AxisValue? {
        settings.last { $0.key == key }?.value
    }
}

/// One run of a sweep: a cell, a trial and the complete spec a worker needs.
public struct SweepTask: Sendable, Hashable {
    /// `cell.index * trials + trial`.
    public var id: Int
    public var cell: SweepCell
    public var trial: Int
    public var spec: RunSpec

    public init(id: Int, cell: SweepCell, trial: Int, spec: RunSpec) {
        self.id = id
        self.cell = cell
        self.trial = trial
        self.spec = spec
    }
}

/// Every combination of the grid axes, computed from its index on demand: a grid of 10⁹
/// cells costs its axis lists, not 10⁹ cells in memory.
public struct SweepCells: RandomAccessCollection, Sendable, Hashable {
    /// Outermost first (`SweepConfiguration.grid`).
    public let grid: [GridAxis]
    /// Cells of the grid (the product of its axes).
    public let gridCount: Int
    /// Cells added by adaptive refinement, after the grid's (indices `gridCount...`).
    public private(set) var added: [SweepCell] = []
    /// Their refinement levels (`added[i]` has `levels[i]`).
    public private(set) var addedLevels: [Int] = []
    public var count: Int { gridCount + added.count }

    init(_ grid: [GridAxis]) {
        self.grid = grid
        // The parser refuses grids whose cell count overflows.
        var total = 1
        for axis in grid {
            let (product, overflow) = total.multipliedReportingOverflow(by: axis.values.count)
            total = overflow ? 0 : product
        }
        gridCount = total
    }

    mutating func append(_ settings: [AxisSetting], level: Int) {
        added.append(SweepCell(index: count, settings: settings))
        addedLevels.append(level)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// The first axis outermost, the last innermost.
    public subscript(index: Int) -> SweepCell {
        precondition(index >= 0 && index < count, "cell index \(index) outside 0..<\(count)")
        if index >= gridCount { return added[index - gridCount] }
        var rest = index
        var settings = [AxisSetting](repeating: AxisSetting("", .int(0)), count: grid.count)
        for i in grid.indices.reversed() {
            let values = grid[i].values
            settings[i] = AxisSetting(grid[i].key, values[rest % values.count])
            rest /= values.count
        }
        return SweepCell(index: index, settings: settings)
    }
}

/// The cells and tasks of a configuration. Cells and tasks are computed on demand from their
/// index, so a plan costs the same whatever the size of its grid.
///
/// Task ids of the grid's first `trials` trials per cell are `cell * trials + trial`; an
/// adaptive sweep's later rounds (`applying(_:)`) append blocks of ids, one per cell and round,
/// in the order the round lists them, so every id keeps its task as trials and cells are added.
public struct SweepPlan: Sendable {
    public typealias Cell = SweepCell

    public let configuration: SweepConfiguration
    /// Every combination of the axes (`SweepConfiguration.grid`, the first outermost), then the
    /// cells added by refinement.
    public private(set) var cells: SweepCells
    /// Runs per cell of the grid (an adaptive sweep: in its first round, `min_trials`).
    public var trials: Int { configuration.trials }
    /// Task ids are `0..<taskCount`.
    public private(set) var taskCount: Int
    /// `cells.gridCount * trials`: the tasks of the first round.
    public let gridTaskCount: Int
    /// Stable hex hash of everything that affects results (see `SweepConfiguration.fingerprint`).
    public let fingerprint: String
    /// The adaptive rounds after the first, in order.
    public private(set) var rounds: [AdaptiveRound] = []

    /// Ids `firstID..<firstID + count` are trials `firstTrial...` of `cell`.
    struct Block: Sendable, Hashable {
        var firstID: Int
        var cell: Int
        var firstTrial: Int
        var count: Int
    }

    private var blocks: [Block] = []
    /// Block indices per cell, in trial order.
    private var cellBlocks: [Int: [Int]] = [:]

    public init(_ configuration: SweepConfiguration) {
        self.configuration = configuration
        let cells = SweepCells(configuration.grid)
        self.cells = cells
        // The parser refuses grids whose task count overflows.
        self.gridTaskCount = cells.count * configuration.trials
        self.taskCount = gridTaskCount
        self.fingerprint = configuration.fingerprint
    }

    public init(configuration: SweepConfiguration) {
        self.init(configuration)
    }

    /// Whether `id` names a task of this plan (check ids that come from the network).
    public func contains(taskID id: Int) -> Bool {
        id >= 0 && id < taskCount
    }

    /// The cell and trial of task `id` (in `0..<taskCount`).
    public func position(ofTask id: Int) -> (cell: Int, trial: Int) {
        if id < gridTaskCount { return (id / trials, id % trials) }
        // The last block starting at or before id.
        var low = 0, high = blocks.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if blocks[mid].firstID <= id { low = mid } else { high = mid - 1 }
        }
        let block = blocks[low]
        return (block.cell, block.firstTrial + id - block.firstID)
    }

    /// The task with the given id; `id` must be in `0..<taskCount` (see `contains(taskID:)`).
    public func task(_ id: Int) -> SweepTask {
        precondition(contains(taskID: id), "task id \(id) outside 0..<\(taskCount)")
        let (index, trial) = position(ofTask: id)
        let cell = cells[index]
        var spec = configuration.spec(of: cell)
        spec.seeds = SweepSeeds.seeds(master: configuration.seed, cell: cell, trial: trial)
        return SweepTask(id: id, cell: cell, trial: trial, spec: spec)
    }

    /// The id of a cell's trial; the trial must be scheduled (`trial < trials(ofCell:)`).
    public func taskID(cell: Int, trial: Int) -> Int {
        if cell < cells.gridCount, trial < trials { return cell * trials + trial }
        for index in cellBlocks[cell] ?? [] {
            let block = blocks[index]
            if trial < block.firstTrial + block.count { return block.firstID + trial - block.firstTrial }
        }
        preconditionFailure("trial \(trial) of cell \(cell) is not scheduled (\(trials(ofCell: cell)) are)")
    }

    /// Trials scheduled for `cell` so far.
    public func trials(ofCell cell: Int) -> Int {
        let grid = cell < cells.gridCount ? trials : 0
        return grid + (cellBlocks[cell] ?? []).reduce(0) { $0 + blocks[$1].count }
    }

    /// The refinement level of a cell (0 for the grid's).
    public func level(ofCell cell: Int) -> Int {
        cell < cells.gridCount ? 0 : cells.addedLevels[cell - cells.gridCount]
    }

    /// This plan with an adaptive round's cells and trials added.
    public func applying(_ round: AdaptiveRound) -> SweepPlan {
        var plan = self
        for cell in round.newCells { plan.cells.append(cell.settings, level: cell.level) }
        for extension_ in round.extensions where extension_.cell >= 0 && extension_.cell < plan.cells.count && extension_.trials > 0 {
            let block = Block(firstID: plan.taskCount, cell: extension_.cell,
                              firstTrial: plan.trials(ofCell: extension_.cell), count: extension_.trials)
            plan.cellBlocks[extension_.cell, default: []].append(plan.blocks.count)
            plan.blocks.append(block)
            plan.taskCount += extension_.trials
        }
        plan.rounds.append(round)
        return plan
    }
}

/// How a sweep derives the two seeds of each run from its master seed.
///
/// Both are chains of SplitMix64 finalizers: `h = mix(h ^ mix(v))` over a list of words.
/// - problem seed = chain(master, "PROBLEM", t): it depends on the trial alone, so every cell
///   of trial t sees the same A, R, X and test set (common random numbers: differences between
///   cells are not noise in the problem draw). When the grid sweeps problem keys
///   (`measurements`, `samples`, `condition`, …), their values follow:
///   chain(master, "PROBLEM", t, fnv(key), value, …) in key order, and nothing else.
/// - training seed = chain(master, "TRAINING", depth, width, lambda, noise, [fnv(key), value]…,
///   t) with the values of `leadingKeys` first and every other axis (`init_scale`,
///   `optimizer`, …) in key order: it depends on the cell's parameter *values*, never on its
///   index, so adding a value to an axis leaves every existing cell's runs unchanged.
/// A value enters as its integer, the bit pattern of its double, FNV-1a of its name, or 0/1.
/// A grid over the leading axes alone folds in no key words, so the first sweeps keep their seeds.
public enum SweepSeeds {
    /// The SplitMix64 output function (Steele, Lea & Flood 2014).
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Folds `words` into `master` with `mix`; order matters.
    public static func chain(_ master: UInt64, _ words: [UInt64]) -> UInt64 {
        var h = mix(master)
        for word in words { h = mix(h ^ mix(word)) }
        return h
    }

    /// "PROBLEM" and "TRAINING" as ASCII, so the two streams never share a chain.
    static let problemTag: UInt64 = 0x50_524F_424C_454D
    static let trainingTag: UInt64 = 0x5452_4149_4E49_4E47

    public static func problemSeed(master: UInt64, trial: Int) -> UInt64 {
        chain(master, [problemTag, UInt64(truncatingIfNeeded: trial)])
    }

    /// The axes whose values open every training chain, in this order, whether or not the grid
    /// lists them: the seed scheme of every folder written so far, kept so that their runs keep
    /// their seeds. Not a special kind of axis; a cell without one of them folds in 0.
    static let leadingKeys = ["depth", "width", "lambda", "noise"]

    public static func seeds(master: UInt64, cell: SweepCell, trial: Int) -> RunSeeds {
        CellSeeds(master: master, cell: cell).seeds(trial: trial)
    }

    /// What the seeds of a cell's trials share, folded once: the training chain up to its
    /// last word (the trial) and the problem chain up to the trial, with the problem axes'
    /// words after it. A task's seeds are then two or three `mix`es, not a walk of the cell.
    public struct CellSeeds: Sendable, Hashable {
        private let trainingPrefix: UInt64
        private let problemPrefix: UInt64
        private let problemWords: [UInt64]

        public init(master: UInt64, cell: SweepCell) {
            func words(_ settings: [AxisSetting]) -> [UInt64] {
                settings.flatMap { [fnv1a64Word(Array($0.key.utf8)), $0.value.seedWord] }
            }
            // Typed as the key is (a number axis read back from JSON as `1` is the double 1).
            let leading = leadingKeys.map { key in cell[key].map { AxisDefinition.named(key)?.typed($0) ?? $0 }?.seedWord ?? 0 }
            let others = cell.settings.filter { !leadingKeys.contains($0.key) }.sorted { $0.key < $1.key }
            problemWords = words(others.filter { AxisDefinition.named($0.key)?.isProblemKey ?? false })
            problemPrefix = chain(master, [problemTag])
            trainingPrefix = chain(master, [trainingTag] + leading + words(others))
        }

        /// `chain(master, [problemTag, trial] + problem axes)` and
        /// `chain(master, [trainingTag] + leading + other axes + [trial])`.
        public func seeds(trial: Int) -> RunSeeds {
            let trialWord = mix(UInt64(truncatingIfNeeded: trial))
            var problem = mix(problemPrefix ^ trialWord)
            for word in problemWords { problem = mix(problem ^ mix(word)) }
            return RunSeeds(problem: problem, training: mix(trainingPrefix ^ trialWord))
        }
    }
}

/// FNV-1a (64-bit) of the canonical JSON of everything that affects results.
///
/// The spec enters in its canonical form (`CanonicalSpec` of the config's settings: fixed keys,
/// a key present only where it applies), so the config needs no wire types and a field added to the core
/// changes the fingerprint only when that form changes. Pinned by golden tests, one per config
/// in configs/.
enum Fingerprint {
    /// What the fingerprint covers: the base spec with depth, width, lambda and noise zeroed
    /// (`axes` carries them), trials, the master seed and (inside `training`) the test noise
    /// levels. `grid` (the other axes, in file order) is present only when the grid has such
    /// axes, so the fingerprints of grids over the four alone are those of the first versions;
    /// `adaptive` likewise, only for adaptive sweeps.
    private struct Canonical: Encodable {
        var version = 3
        var seed: String
        var trials: Int
        var axes: Axes
        var grid: [Extra]?
        var adaptive: AdaptiveSettings?
        var spec: CanonicalSpec
    }

    private struct Extra: Encodable {
        var key: String
        var values: [AxisValue]
    }

    /// The four axes of the first versions, each under its own key (the form every
    /// fingerprint so far was taken of).
    private struct Axes: Encodable {
        static let keys = ["depth", "width", "lambda", "noise"]
        var depth: [Int]
        var width: [Int]
        var lambda: [Double]
        var noise: [Double]
    }

    static func of(_ configuration: SweepConfiguration) -> String { fnv1a64(canonicalBytes(configuration)) }

    /// The canonical JSON the fingerprint hashes (PROTOCOL.md, *The sweep fingerprint*).
    static func canonicalBytes(_ configuration: SweepConfiguration) -> Data {
        var spec = CanonicalSpec(configuration.settings, seeds: RunSeeds(problem: 0, training: 0))
        spec.record.network.depth = 0
        spec.record.network.width = 0
        spec.record.training.lambda = 0
        spec.record.training.noise = 0
        func values(_ key: String) -> [AxisValue] { configuration.axis(key)?.values ?? [] }
        let others = configuration.grid.filter { !Axes.keys.contains($0.key) }
        let canonical = Canonical(
            seed: String(configuration.seed), trials: configuration.trials,
            axes: Axes(depth: values("depth").map(\.intValue), width: values("width").map(\.intValue),
                       lambda: values("lambda").map(\.doubleValue), noise: values("noise").map(\.doubleValue)),
            grid: others.isEmpty ? nil : others.map { Extra(key: $0.key, values: $0.values) },
            adaptive: configuration.adaptive,
            spec: spec)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value is finite (the parser refuses the rest), so encoding cannot fail; fall back
        // to the Swift description rather than trap.
        return (try? encoder.encode(canonical)) ?? Data(String(describing: canonical).utf8)
    }

    static func fnv1a64(_ bytes: Data) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
