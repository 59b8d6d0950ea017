public import TrainingCore
import Foundation

/// The outcome a sweep's heat map shows (MODEL.md §4); the table has both.
public enum SuccessMeasure: String, Codable, Sendable, Hashable, CaseIterable {
    /// Training reached the global minimum W*_λ.
    case converged
    /// The network is a good inverse on the subspace and ignores what lies off it.
    case recovered
}

/// A parsed and validated sweep config file (see configs/README.md for every key).
///
/// The base specs hold everything a run shares (with the first value of every axis); a cell
/// overrides the keys of `grid`, and a trial sets the seeds (see `SweepSeeds`).
public struct SweepConfiguration: Sendable, Hashable {
    /// A label for humans; not part of the fingerprint.
    public var name: String
    /// The master seed of the sweep.
    public var seed: UInt64
    /// Runs per cell.
    public var trials: Int
    /// The settings every run shares, with the first value of every axis; a cell overrides the
    /// keys of `grid` and builds its spec from them (`RunSettings.specIgnoringInapplicable`).
    public var settings: RunSettings
    /// The model of the grid's first cell.
    public var modelKind: ModelKind { settings.modelKind }
    /// The problem every run shares (a trial's problem seed fixes its draws), in the record form.
    public var problem: ProblemSpec { settings.record.problem }
    /// The network with `depth` and `width` as their first axis values, in the record form.
    public var network: NetworkSpec { settings.record.network }
    /// The training spec in the record form, including `testNoise` and the outcome tolerances;
    /// `lambda` and `noise` hold their first axis values.
    public var training: TrainingSpec { settings.record.training }
    /// Every axis in cell order, outermost first: the file's other axes (`init_scale`,
    /// `optimizer`, `measurements`, …) in the order it lists them, then depth, width, lambda and
    /// noise, always there (one value each when the grid does not list them). Grids of the four
    /// alone keep the cell order and task ids of the first versions.
    public var grid: [GridAxis]
    /// The heat map's row and column axes (`heatmap: {rows, columns}`); nil: the default
    /// (see `HeatmapLayout`). Not part of the fingerprint.
    public var heatmapRows: String?
    public var heatmapColumns: String?
    /// Trials by rounds until each cell's interval is tight (`adaptive:`); nil: `trials` each.
    /// With it, `trials` is the first round's `min_trials`.
    public var adaptive: AdaptiveSettings?
    /// Which outcome the heat map shows (`success:`); not part of the fingerprint.
    public var successMeasure: SuccessMeasure
    /// The first this many trials of every cell log their trajectory at log-spaced steps
    /// (`trajectories:`; 0: none). Not part of the fingerprint: it changes what is kept, not the results.
    public var trajectories: Int = SweepConfiguration.defaultTrajectories
    public static let defaultTrajectories = 1
    /// The share of finished tasks re-run on another worker to check their results
    /// (`verify: {fraction: F}`, `VerificationSample`; 0: none). Not part of the fingerprint: it
    /// changes which runs happen, not their results.
    public var verifyFraction: Double = 0
    /// `TrainingSpec.logDensity` of the sampled runs: about 10 points per decade of steps.
    public static let trajectoryDensity = 4
    /// The text the configuration was parsed from (the results database keeps it).
    public var yamlText: String
    /// Where the text came from, for error messages.
    public var fileName: String
    /// The command-line overrides applied to the file (`ConfigOverride`), as given; `yamlText`
    /// is the overridden config. Not part of the fingerprint: what they change is.
    public var overrides: [String] = []
    /// A stored sweep's keys that its model does not use, ignored as the version that wrote it
    /// ignored them (`parse(yaml:fileName:storedSweep:)`), each as "FILE:LINE: KEY: ignored: why";
    /// empty for a config read as a new one (there they are errors). Not part of the fingerprint.
    public var ignoredSettings: [String] = []

    /// The grid's axis `key`; nil when it has none.
    public func axis(_ key: String) -> GridAxis? { grid.first { $0.key == key } }

    /// Cells of the grid, or nil when the product overflows `Int`.
    public var cellCount: Int? {
        var total = 1
        for axis in grid {
            let (product, overflow) = total.multipliedReportingOverflow(by: axis.values.count)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// `spec` of `trial` as a worker runs it: with a log-spaced trajectory for the sampled trials
    /// of a deep linear network (unless the config logs every run with `log_every`).
    public func sampled(_ spec: RunSpec, trial: Int) -> RunSpec {
        guard trial < trajectories, case .deepLinear(var run) = spec.model, run.training.logEvery == nil else { return spec }
        run.training.logDensity = Self.trajectoryDensity
        var spec = spec
        spec.model = .deepLinear(run)
        return spec
    }

    /// The spec of the grid's first cell before a trial sets its seeds.
    public var baseSpec: RunSpec {
        var spec = settings.specIgnoringInapplicable()
        spec.seeds = RunSeeds()
        return spec
    }

    /// The spec of `cell` before a trial sets its seeds.
    public func spec(of cell: SweepCell) -> RunSpec {
        var settings = settings
        for setting in cell.settings {
            AxisDefinition.named(setting.key)?.apply(setting.value, to: &settings)
        }
        var spec = settings.specIgnoringInapplicable()
        spec.seeds = RunSeeds()
        return spec
    }

    /// Test noise levels of every run (`test_noise`).
    public var testNoise: [Double] { training.testNoise }

    /// Reads and parses a config file.
    public static func load(path: String) throws -> SweepConfiguration {
        try parse(yaml: try readText(path: path), fileName: path)
    }

    /// The text of a config file.
    static func readText(path: String) throws -> String {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "is a directory, expected a YAML file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "cannot read: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "not UTF-8 text")
        }
        return text
    }

    /// Parses config text; `fileName` only labels errors. A text stored with overrides
    /// (`parse(yaml:fileName:overrides:)`) names them in `overrides`.
    ///
    /// `storedSweep`: the text is a sweep's own, stored in its folder (or the config an older
    /// version started a folder with). Older versions accepted the deep network's settings in a
    /// config whose every model is diagonal and ignored them; such a text is read as they read it,
    /// those keys listed in `ignoredSettings` (and still in the fingerprint, which they were
    /// always part of), so its folder keeps its fingerprint and its table. A new config with
    /// them is an error naming the file, key and line.
    public static func parse(yaml: String, fileName: String, storedSweep: Bool = false) throws -> SweepConfiguration {
        var configuration = try ConfigParser(text: yaml, fileName: fileName, storedSweep: storedSweep).parse()
        configuration.overrides = ConfigOverride.recorded(in: yaml)
        return configuration
    }

    /// The hex fingerprint of everything that affects results (see `SweepPlan.fingerprint`).
    public var fingerprint: String {
        Fingerprint.of(self)
    }

    /// The canonical JSON whose FNV-1a hash `fingerprint` is (PROTOCOL.md, *The sweep fingerprint*).
    public var canonicalFingerprintJSON: String {
        String(decoding: Fingerprint.canonicalBytes(self), as: UTF8.self)
    }
}

/// A config file problem, located by file, line and key path.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Hashable {
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// e.g. `grid.width[2]`; empty for the whole file.
    public var keyPath: String
    public var message: String

    public init(file: String, line: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if !keyPath.isEmpty { text += "\(keyPath): " }
        return text + message
    }
}
