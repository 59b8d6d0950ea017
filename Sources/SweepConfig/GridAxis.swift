public import TrainingCore

/// The value of one grid axis in one cell: typed as its key is (an integer, a number, a name,
/// or true/false).
public enum AxisValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    /// As the tables and the database print it (`decimalLabel` for numbers).
    public var description: String {
        switch self {
        case let .int(v): String(v)
        case let .double(v): decimalLabel(v)
        case let .string(v): v
        case let .bool(v): v ? "true" : "false"
        }
    }

    /// The value as a number, for plots and CSV; nil for names and booleans.
    public var number: Double? {
        switch self {
        case let .int(v): Double(v)
        case let .double(v): v
        case .string, .bool: nil
        }
    }

    /// The word a seed chain folds in: depends on the value, never on its position in a list.
    var seedWord: UInt64 {
        switch self {
        case let .int(v): UInt64(truncatingIfNeeded: v)
        case let .double(v): (v + 0).bitPattern
        case let .string(v): fnv1a64Word(Array(v.utf8))
        case let .bool(v): v ? 1 : 0
        }
    }

    /// JSON: a number, a string or a boolean, as the config wrote it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .int(v): try c.encode(v)
        case let .double(v): try c.encode(v)
        case let .string(v): try c.encode(v)
        case let .bool(v): try c.encode(v)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Bool.self) { self = .bool(v); return }
        if let v = try? c.decode(Int.self) { self = .int(v); return }
        if let v = try? c.decode(Double.self) { self = .double(v); return }
        self = .string(try c.decode(String.self))
    }
}

/// One axis value of a cell: the config key and its value.
public struct AxisSetting: Sendable, Hashable, Codable {
    public var key: String
    public var value: AxisValue

    public init(_ key: String, _ value: AxisValue) {
        self.key = key
        self.value = value
    }
}

/// A grid axis: a run-spec key and its values in the order the config lists them.
public struct GridAxis: Sendable, Hashable {
    public var key: String
    public var values: [AxisValue]

    public init(key: String, values: [AxisValue]) {
        self.key = key
        self.values = values
    }

    /// Whether every value is a number (a heat map or refinement axis).
    public var isNumeric: Bool { values.allSatisfy { $0.number != nil } }
}

/// The run-spec keys a grid may sweep: what each is, which section of the config holds it,
/// how its values are checked and where a value goes in a run's `RunSettings`.
public struct AxisDefinition: Sendable {
    public enum Section: String, Sendable { case problem, model, training }

    /// How a value is read and checked (the same rules as the key outside the grid).
    public enum Kind: Sendable {
        case positiveInt
        /// A finite number `>= minimum` (`> minimum` when `strict`), `< maximum` when given.
        case number(minimum: Double, strict: Bool, maximum: Double?)
        case choice([String])
        case flag
        /// A positive integer or `auto` (`steps`).
        case steps
    }

    /// Where the default heat map draws an axis when no `heatmap:` names it: inside a panel
    /// (down or across) or as one panel per value. The plots' convention since the first
    /// sweeps (depth down, width across, a panel per λ and σ_train), carried by the axis.
    public enum HeatmapPlace: Int, Sendable, Comparable {
        case rows, columns, panels

        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    public var key: String
    public var section: Section
    public var kind: Kind
    /// How plots name the axis (`λ`, `σ_train`); the key for most.
    public var symbol: String
    /// nil: the heat map places it by the rules of `HeatmapLayout`.
    public var heatmapPlace: HeatmapPlace?
    /// For the axes every grid has (depth, width, lambda, noise, those of the first versions):
    /// the value when the config gives the key neither under `grid` nor under `training`. The
    /// parser puts these axes innermost, in this list's order, so their cell order and task ids
    /// are those of the first versions. nil for the others, which a grid has when it lists them.
    public var standing: AxisValue?
    let apply: @Sendable (inout RunSettings, AxisValue) -> Void

    /// Whether the key draws the problem (A, R, X, test set): these alone enter the problem seed.
    public var isProblemKey: Bool { section == .problem }

    public static func named(_ key: String) -> AxisDefinition? { byKey[key] }

    /// How plots name axis `key`: its symbol, or the key itself.
    public static func symbol(_ key: String) -> String { byKey[key]?.symbol ?? key }

    /// Every key a grid may list, in the order the config reference gives them.
    public static let all: [AxisDefinition] = [
        // problem
        .init(key: "signal_dim", section: .problem, kind: .positiveInt) { $0.common.problem.signalDim = $1.intValue },
        .init(key: "measurements", section: .problem, kind: .positiveInt) { $0.common.problem.measurements = $1.intValue },
        .init(key: "latent_dim", section: .problem, kind: .positiveInt) { $0.common.problem.latentDim = $1.intValue },
        .init(key: "samples", section: .problem, kind: .positiveInt) { $0.common.problem.samples = $1.intValue },
        .init(key: "test_samples", section: .problem, kind: .positiveInt) { $0.common.problem.testSamples = $1.intValue },
        .init(key: "condition", section: .problem, kind: .number(minimum: 1, strict: false, maximum: nil)) {
            $0.common.problem.condition = $1.doubleValue
        },
        .init(key: "operator", section: .problem, kind: .choice(MeasurementOperator.allCases.map(\.rawValue))) {
            if let v = MeasurementOperator(rawValue: $1.stringValue) { $0.common.problem.measurementOperator = v }
        },
        // model
        .init(key: "model", section: .model, kind: .choice(ModelKind.allCases.map(\.rawValue))) {
            $0.model = ModelKind(rawValue: $1.stringValue)
        },
        .init(key: "depth", section: .model, kind: .positiveInt, heatmapPlace: .rows, standing: .int(NetworkSpec().depth)) {
            $0.common.network.depth = $1.intValue
        },
        .init(key: "width", section: .model, kind: .positiveInt, heatmapPlace: .columns, standing: .int(NetworkSpec().width)) {
            $0.common.network.width = $1.intValue
        },
        .init(key: "init", section: .model, kind: .choice(InitScheme.allCases.map(\.rawValue))) {
            if let v = InitScheme(rawValue: $1.stringValue) { $0.common.network.initScheme = v }
        },
        .init(key: "init_scale", section: .model, kind: .number(minimum: 0, strict: true, maximum: nil)) {
            $0.common.network.initScale = $1.doubleValue
        },
        // training
        .init(key: "lambda", section: .training, kind: .number(minimum: 0, strict: false, maximum: nil),
              symbol: "λ", heatmapPlace: .panels, standing: .double(TrainingSpec().lambda)) {
            $0.common.training.lambda = $1.doubleValue
        },
        .init(key: "noise", section: .training, kind: .number(minimum: 0, strict: false, maximum: nil),
              symbol: "σ_train", heatmapPlace: .panels, standing: .double(TrainingSpec().noise)) {
            $0.common.training.noise = $1.doubleValue
        },
        .init(key: "steps", section: .training, kind: .steps) {
            if case let .int(n) = $1 { $0.common.training.steps = .fixed(n) } else { $0.common.training.steps = .auto }
        },
        .init(key: "max_steps", section: .training, kind: .positiveInt) { $0.common.training.maxSteps = $1.intValue },
        .init(key: "budget_factor", section: .training, kind: .number(minimum: 0, strict: true, maximum: nil)) {
            $0.common.training.budgetFactor = $1.doubleValue
        },
        .init(key: "eta", section: .training, kind: .number(minimum: 0, strict: true, maximum: nil)) {
            $0.common.training.eta = $1.doubleValue
        },
        .init(key: "eta_scale", section: .training, kind: .number(minimum: 0, strict: true, maximum: nil)) {
            $0.common.training.etaScale = $1.doubleValue
        },
        .init(key: "optimizer", section: .training, kind: .choice(OptimizerKind.allCases.map(\.rawValue))) {
            $0.optimizer = OptimizerKind(rawValue: $1.stringValue)
        },
        .init(key: "alpha", section: .training, kind: .number(minimum: 0, strict: false, maximum: nil)) {
            $0.alpha = $1.doubleValue
        },
        .init(key: "beta", section: .training, kind: .number(minimum: 0, strict: false, maximum: nil)) {
            $0.beta = $1.doubleValue
        },
        .init(key: "step_rule", section: .training, kind: .choice(StepRule.allCases.map(\.rawValue))) {
            $0.stepRule = StepRule(rawValue: $1.stringValue)
        },
        .init(key: "flow_rtol", section: .training, kind: .number(minimum: 0, strict: true, maximum: 1)) {
            $0.flowRtol = $1.doubleValue
        },
        .init(key: "flow_atol", section: .training, kind: .number(minimum: 0, strict: true, maximum: 1)) {
            $0.flowAtol = $1.doubleValue
        },
        .init(key: "flow_time", section: .training, kind: .number(minimum: 0, strict: true, maximum: nil)) {
            $0.flowTime = $1.doubleValue
        },
        .init(key: "path", section: .training, kind: .choice(GradientPath.allCases.map(\.rawValue))) {
            if let v = GradientPath(rawValue: $1.stringValue) { $0.common.training.path = v }
        },
        .init(key: "stop_on_success", section: .training, kind: .flag) { $0.common.training.stopOnSuccess = $1.boolValue },
        .init(key: "mean_data_term", section: .training, kind: .flag) { $0.common.training.meanDataTerm = $1.boolValue },
        .init(key: "lambda_per_layer", section: .training, kind: .flag) { $0.common.training.lambdaPerLayer = $1.boolValue },
        .init(key: "rank_tolerance", section: .training, kind: .number(minimum: 0, strict: true, maximum: 1)) {
            $0.common.training.rankTolerance = $1.doubleValue
        },
        .init(key: "check_every", section: .training, kind: .positiveInt) { $0.common.training.checkEvery = $1.intValue },
        .init(key: "sleep_seconds", section: .training, kind: .number(minimum: 0, strict: false, maximum: 86_400)) {
            $0.sleepSeconds = $1.doubleValue
        },
    ]

    private static let byKey: [String: AxisDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })

    init(key: String, section: Section, kind: Kind, symbol: String? = nil, heatmapPlace: HeatmapPlace? = nil,
         standing: AxisValue? = nil, apply: @escaping @Sendable (inout RunSettings, AxisValue) -> Void) {
        self.key = key
        self.section = section
        self.kind = kind
        self.symbol = symbol ?? key
        self.heatmapPlace = heatmapPlace
        self.standing = standing
        self.apply = apply
    }

    /// `value` as this key types it: JSON reads `2.0` back as the integer 2.
    public func typed(_ value: AxisValue) -> AxisValue {
        switch (kind, value) {
        case (.number, .int(let v)): .double(Double(v))
        default: value
        }
    }

    /// Puts `value` into `settings` where this key lives.
    public func apply(_ value: AxisValue, to settings: inout RunSettings) {
        apply(&settings, value)
    }
}

extension AxisValue {
    /// The value as an integer axis reads it (a number truncated; 0 for names and booleans).
    public var intValue: Int {
        switch self {
        case let .int(v): v
        case let .double(v): Int(v)
        default: 0
        }
    }

    /// The value as a number axis reads it (NaN for names and booleans).
    public var doubleValue: Double {
        switch self {
        case let .int(v): Double(v)
        case let .double(v): v
        default: .nan
        }
    }

    var stringValue: String {
        if case let .string(v) = self { return v }
        return description
    }

    var boolValue: Bool {
        if case let .bool(v) = self { return v }
        return false
    }
}

/// FNV-1a (64-bit) of bytes: how a name enters a seed chain.
func fnv1a64Word(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}
