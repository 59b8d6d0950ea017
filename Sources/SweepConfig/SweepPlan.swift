import Foundation
import SweepProtocol
public import TrainingCore

/// One combination of the grid axes.
public struct SweepCell: Codable, Sendable, Hashable {
    /// Position in `SweepPlan.cells` (depth outermost, then width, lambda, noise).
    public var index: Int
    public var depth: Int
    public var width: Int
    public var lambda: Double
    /// Training measurement noise `sigma_train`.
    public var noise: Double

    public init(index: Int, depth: Int, width: Int, lambda: Double, noise: Double) {
        self.index = index
        self.depth = depth
        self.width = width
        self.lambda = lambda
        self.noise = noise
    }
}

/// One run of a sweep: a cell, a trial and the complete spec a worker needs.
public struct SweepTask: Codable, Sendable, Hashable {
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
/// cells costs its four axis lists, not 10⁹ cells in memory.
public struct SweepCells: RandomAccessCollection, Sendable, Hashable {
    public let axes: SweepAxes
    public let count: Int

    init(_ axes: SweepAxes) {
        self.axes = axes
        // The parser refuses grids whose cell count overflows.
        count = axes.cellCount ?? 0
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    /// Depth outermost, then width, lambda, noise (innermost).
    public subscript(index: Int) -> SweepCell {
        precondition(index >= 0 && index < count, "cell index \(index) outside 0..<\(count)")
        var rest = index
        let noise = axes.noise[rest % axes.noise.count]
        rest /= axes.noise.count
        let lambda = axes.lambda[rest % axes.lambda.count]
        rest /= axes.lambda.count
        let width = axes.width[rest % axes.width.count]
        rest /= axes.width.count
        return SweepCell(index: index, depth: axes.depth[rest], width: width, lambda: lambda, noise: noise)
    }
}

/// The cells and tasks of a configuration. Cells and tasks are computed on demand from their
/// index, so a plan costs the same whatever the size of its grid.
public struct SweepPlan: Sendable {
    public typealias Cell = SweepCell

    public let configuration: SweepConfiguration
    /// Every combination of the axes: depth outermost, then width, lambda, noise.
    public let cells: SweepCells
    /// Runs per cell.
    public var trials: Int { configuration.trials }
    /// `cells.count * trials`; task ids are `0..<taskCount`.
    public let taskCount: Int
    /// Stable hex hash of everything that affects results (see `SweepConfiguration.fingerprint`).
    public let fingerprint: String

    public init(_ configuration: SweepConfiguration) {
        self.configuration = configuration
        let cells = SweepCells(configuration.axes)
        self.cells = cells
        // The parser refuses grids whose task count overflows.
        self.taskCount = cells.count * configuration.trials
        self.fingerprint = configuration.fingerprint
    }

    public init(configuration: SweepConfiguration) {
        self.init(configuration)
    }

    /// Whether `id` names a task of this plan (check ids that come from the network).
    public func contains(taskID id: Int) -> Bool {
        id >= 0 && id < taskCount
    }

    /// The task with the given id; `id` must be in `0..<taskCount` (see `contains(taskID:)`).
    public func task(_ id: Int) -> SweepTask {
        precondition(contains(taskID: id), "task id \(id) outside 0..<\(taskCount)")
        let cell = cells[id / trials]
        let trial = id % trials
        var spec = configuration.baseSpec
        spec.model.depth = cell.depth
        spec.model.width = cell.width
        spec.training.lambda = cell.lambda
        spec.training.noise = cell.noise
        spec.seeds = SweepSeeds.seeds(master: configuration.seed, cell: cell, trial: trial)
        return SweepTask(id: id, cell: cell, trial: trial, spec: spec)
    }

    /// The id of a cell's trial.
    public func taskID(cell: Int, trial: Int) -> Int {
        cell * trials + trial
    }
}

/// How a sweep derives the two seeds of each run from its master seed.
///
/// Both are chains of SplitMix64 finalizers: `h = mix(h ^ mix(v))` over a list of words.
/// - problem seed = chain(master, "PROBLEM", t): it depends on the trial alone, so every cell
///   of trial t sees the same A, R, X and test set (common random numbers: differences between
///   cells are not noise in the problem draw).
/// - training seed = chain(master, "TRAINING", depth, width, lambda.bitPattern,
///   noise.bitPattern, t): it depends on the cell's parameter *values*, never on its index,
///   so adding a value to an axis leaves every existing cell's runs unchanged.
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

    public static func trainingSeed(master: UInt64, depth: Int, width: Int, lambda: Double, noise: Double,
                                    trial: Int) -> UInt64 {
        chain(master, [
            trainingTag, UInt64(truncatingIfNeeded: depth), UInt64(truncatingIfNeeded: width),
            (lambda + 0).bitPattern, (noise + 0).bitPattern, UInt64(truncatingIfNeeded: trial),
        ])
    }

    public static func seeds(master: UInt64, cell: SweepCell, trial: Int) -> RunSeeds {
        RunSeeds(
            problem: problemSeed(master: master, trial: trial),
            training: trainingSeed(master: master, depth: cell.depth, width: cell.width,
                                   lambda: cell.lambda, noise: cell.noise, trial: trial))
    }
}

/// FNV-1a (64-bit) of the canonical JSON of everything that affects results.
///
/// The canonical form is built from the wire's own structs (fixed keys), not from the core's
/// `Codable` output, so a field added to a core spec changes the fingerprint only when the
/// wire format (and its version) changes too. Pinned by a golden test.
enum Fingerprint {
    /// What the fingerprint covers: the base spec with the axis fields zeroed (the axes carry
    /// them), the axes, trials, the master seed and (inside `training`) the test noise levels.
    private struct Canonical: Encodable {
        var version = 3
        var seed: String
        var trials: Int
        var axes: Axes
        var spec: WireSpec
    }

    private struct Axes: Encodable {
        var depth: [Int]
        var width: [Int]
        var lambda: [Double]
        var noise: [Double]
    }

    static func of(_ configuration: SweepConfiguration) -> String {
        var spec = configuration.baseSpec
        spec.model.depth = 0
        spec.model.width = 0
        spec.training.lambda = 0
        spec.training.noise = 0
        spec.seeds = RunSeeds(problem: 0, training: 0)
        let axes = configuration.axes
        let canonical = Canonical(
            seed: String(configuration.seed), trials: configuration.trials,
            axes: Axes(depth: axes.depth, width: axes.width, lambda: axes.lambda, noise: axes.noise),
            spec: WireSpec(spec))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value is finite (the parser refuses the rest), so encoding cannot fail; fall back
        // to the Swift description rather than trap.
        let bytes = (try? encoder.encode(canonical)) ?? Data(String(describing: canonical).utf8)
        return fnv1a64(bytes)
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
