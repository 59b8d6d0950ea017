/// One field of a `RunReport`, described once: its names, its type, which models report it,
/// what makes a value valid, and how the sweep table aggregates it. The wire codec, the
/// results store, the table, the result validation, `dlsweep train --json` and the field
/// tables of PROTOCOL.md and docs/RESULTS-FOLDER.md are all driven by `RunReport.fields`, so a
/// new metric is one entry there (plus its computation).
public final class ReportField: Sendable {
    /// The wire and PROTOCOL.md name (`bestRankGap`).
    public let name: String
    /// The store column and JSON key (`best_rank_gap`); the table's columns derive from it.
    public let column: String
    /// The wire tag: fixed for ever once a field is released (a removed field's tag is never
    /// reused), so a receiver can skip a tag it does not know.
    public let tag: UInt8
    public let value: Value
    /// The models whose reports carry this field; in any other model's report it is absent.
    public let models: Set<ModelKind>
    /// Every model reports it (the table lists such a field's counts first, and counts it in
    /// every cell; a field of some models has no count where no run reports it).
    public let isReportedByEveryModel: Bool
    public let presence: Presence
    public let rule: Rule
    public let aggregate: Aggregate
    /// A relation to other fields or to the spec, beyond the rule.
    public let check: Check?
    /// One line for the documents' field tables.
    public let doc: String
    /// The report's Swift type holds nil for it (a report may leave it out); a non-optional
    /// field must be on the wire in every report.
    public let isOptional: Bool
    /// How a replay's value must agree with the recorded one (verification by replay): a run
    /// is deterministic given its task, so numbers to 1e-12 relative, counts, flags and names
    /// exactly; the wall clock not at all.
    public let agreement: Agreement

    init(_ name: String, _ column: String, tag: UInt8, _ value: Value, optional: Bool, models: Set<ModelKind>,
         presence: Presence, rule: Rule, aggregate: Aggregate, check: Check?, doc: String,
         agreement: Agreement? = nil) {
        self.name = name
        self.column = column
        self.tag = tag
        self.value = value
        self.isOptional = optional
        self.models = models
        isReportedByEveryModel = models == Set(ModelKind.allCases)
        self.presence = presence
        self.rule = rule
        self.aggregate = aggregate
        self.check = check
        self.doc = doc
        self.agreement = agreement ?? Self.defaultAgreement(value, rule)
    }

    /// Numbers to `Agreement.defaultRelative`; counts, flags, names and steps exactly; seconds of
    /// wall clock not compared.
    private static func defaultAgreement(_ value: Value, _ rule: Rule) -> Agreement {
        if case .duration = rule { return .notCompared("wall clock") }
        switch value {
        case .double, .perNoise, .trajectory: return .relative(Agreement.defaultRelative)
        case .int, .bool, .name: return .exact
        case .derived: return .notCompared("derived from the compared fields")
        }
    }

    /// How two runs of the same task must agree on a field.
    public enum Agreement: Sendable, Hashable {
        /// Equal (both absent counts as equal).
        case exact
        /// |a − b| ≤ tolerance · max(|a|, |b|); NaNs agree with NaNs, infinities with the same
        /// infinity. A trajectory: the same steps, each number so.
        case relative(Double)
        /// Never compared, for the reason given.
        case notCompared(String)

        public static let defaultRelative = 1e-12

        /// Whether `a` and `b` agree.
        public func agrees(_ a: Double, _ b: Double) -> Bool {
            switch self {
            case .exact: return a == b || (a.isNaN && b.isNaN)
            case .relative(let tolerance):
                if a == b || (a.isNaN && b.isNaN) { return true }
                guard a.isFinite && b.isFinite else { return false }
                return abs(a - b) <= tolerance * max(abs(a), abs(b))
            case .notCompared: return true
            }
        }
    }

    /// Whether a report of `model` carries the field (its presence rule aside).
    public func applies(to model: ModelKind) -> Bool { models.contains(model) }

    /// How the field reads and writes a report, by its type.
    public enum Value: Sendable {
        case double(get: @Sendable (RunReport) -> Double?, set: @Sendable (inout RunReport, Double?) -> Void)
        case int(get: @Sendable (RunReport) -> Int?, set: @Sendable (inout RunReport, Int?) -> Void)
        case bool(get: @Sendable (RunReport) -> Bool?, set: @Sendable (inout RunReport, Bool?) -> Void)
        /// One value per test-noise level of the spec.
        case perNoise(get: @Sendable (RunReport) -> [Double]?, set: @Sendable (inout RunReport, [Double]?) -> Void)
        /// One of a fixed set of names (an enum's raw values).
        case name(get: @Sendable (RunReport) -> String?, set: @Sendable (inout RunReport, String?) -> Void, allowed: [String])
        /// The logged points (their own codec and table); empty is absent.
        case trajectory
        /// Computed from the other fields: aggregated, never sent or stored.
        /// nil: the run does not have it (a model without the fields it is derived from).
        case derived(@Sendable (RunReport) -> Bool?)

        /// Whether the field travels on the wire and has a store column.
        public var isCarried: Bool {
            switch self {
            case .derived: false
            default: true
            }
        }
    }

    /// The field's getter alone: what a reader of many reports keeps per field (the store's
    /// columns, validation), since reading `value` copies the setter's closure too.
    public enum Reader: Sendable {
        case double(@Sendable (RunReport) -> Double?)
        case int(@Sendable (RunReport) -> Int?)
        case bool(@Sendable (RunReport) -> Bool?)
        case perNoise(@Sendable (RunReport) -> [Double]?)
        case name(@Sendable (RunReport) -> String?)
        /// Read from `trajectory`.
        case trajectory
        /// Not carried (see `Value.derived`).
        case derived
    }

    public var reader: Reader {
        switch value {
        case .double(let get, _): .double(get)
        case .int(let get, _): .int(get)
        case .bool(let get, _): .bool(get)
        case .perNoise(let get, _): .perNoise(get)
        case .name(let get, _, _): .name(get)
        case .trajectory: .trajectory
        case .derived: .derived
        }
    }

    /// When a model that reports the field must include it.
    public enum Presence: Sendable, Hashable {
        /// In every report.
        case always
        /// Exactly when the run did not diverge.
        case unlessDiverged
        /// A worker may leave it out (not measured).
        case measured
        /// A worker may leave it out; never with a diverged run.
        case measuredUnlessDiverged
    }

    /// The range a value must lie in (the checks every field shares: types, finiteness).
    public enum Rule: Sendable {
        /// A norm or error: ≥ 0; non-finite only when the run diverged.
        case norm
        /// A finite number > 0.
        case positive
        /// Finite (any sign).
        case finite
        /// A finite, non-negative number.
        case nonNegative
        /// Seconds of wall clock: finite, in 0 ..< 1e8.
        case duration
        /// A step of the run: 0 ... iterations.
        case step
        /// A count in 0 ... the spec's bound (named for the documents).
        case count(upTo: @Sendable (RunSpec) -> Int, bound: String)
        /// Any value of its type (booleans; what a `check` covers).
        case any
        /// One norm per test-noise level.
        case perNoiseNorms
    }

    /// How the sweep table aggregates the field per cell (over the cell's `ok` runs that
    /// report it).
    public enum Aggregate: Sendable {
        case none
        /// `median_<column>` (NaN counts as +∞); `only`: over the runs for which it holds.
        case median(only: (@Sendable (RunReport) -> Bool)? = nil)
        /// The runs where it is true, `count`, their rate `<stem>_rate` and 95% Wilson interval
        /// `<stem>_ci_low`, `<stem>_ci_high`.
        case outcome(count: String, stem: String)
        /// The runs where it is true, column `count`.
        case count(String)
        /// Per test-noise level (`{"0.1": …}`): `median_<column>`, and with `quartiles` also
        /// `lower_quartile_<column>` and `upper_quartile_<column>`.
        case perNoise(quartiles: Bool)
    }

    /// A relation to other fields or to the spec, checked after the rule: the reason the
    /// value is impossible, or nil.
    public typealias Check = @Sendable (RunReport, RunSpec) -> String?
}


// MARK: Building entries

// Entries read and write the report through plain closures, not key paths: a key path applied
// at run time costs a generic-metadata lookup per access, and a coordinator reads every field
// of tens of thousands of reports a second. A required field's getter is written as returning
// an optional (`{ $0.converged }` as `Getter<Bool?>`), so that the entry holds the literal
// itself, with no captured context to retain at each read: converting a `Getter<Bool>` would
// wrap it in a closure that captures it.
extension ReportField {
    typealias Getter<T> = @Sendable (RunReport) -> T
    typealias Setter<T> = @Sendable (inout RunReport, T) -> Void

    /// A required field's setter as the optional one a decoder calls (nil: left as it is).
    private static func required<T>(_ set: @escaping Setter<T>) -> Setter<T?> {
        { report, value in if let value { set(&report, value) } }
    }

    @_disfavoredOverload  // an optional field's entry fits both: it is the other one's
    static func double(_ name: String, _ column: String, tag: UInt8, get: @escaping Getter<Double?>, set: @escaping Setter<Double>,
                       models: Set<ModelKind>, rule: Rule, aggregate: Aggregate = .none, check: Check? = nil,
                       doc: String) -> ReportField {
        ReportField(name, column, tag: tag, .double(get: get, set: required(set)),
                    optional: false, models: models, presence: .always, rule: rule, aggregate: aggregate, check: check, doc: doc)
    }

    static func double(_ name: String, _ column: String, tag: UInt8, get: @escaping Getter<Double?>, set: @escaping Setter<Double?>,
                       models: Set<ModelKind>, presence: Presence = .always, rule: Rule, aggregate: Aggregate = .none,
                       check: Check? = nil, doc: String) -> ReportField {
        ReportField(name, column, tag: tag, .double(get: get, set: set),
                    optional: true, models: models, presence: presence, rule: rule, aggregate: aggregate, check: check, doc: doc)
    }

    @_disfavoredOverload  // an optional field's entry fits both: it is the other one's
    static func int(_ name: String, _ column: String, tag: UInt8, get: @escaping Getter<Int?>, set: @escaping Setter<Int>,
                    models: Set<ModelKind>, rule: Rule, aggregate: Aggregate = .none, check: Check? = nil,
                    doc: String) -> ReportField {
        ReportField(name, column, tag: tag, .int(get: get, set: required(set)),
                    optional: false, models: models, presence: .always, rule: rule, aggregate: aggregate, check: check, doc: doc)
    }

    static func int(_ name: String, _ column: String, tag: UInt8, get: @escaping Getter<Int?>, set: @escaping Setter<Int?>,
                    models: Set<ModelKind>, presence: Presence = .always, rule: Rule, aggregate: Aggregate = .none,
                    check: Check? = nil, doc: String) -> ReportField {
        ReportField(name, column, tag: tag, .int(get: get, set: set),
                    optional: true, models: models, presence: presence, rule: rule, aggregate: aggregate, check: check, doc: doc)
    }

    @_disfavoredOverload  // an optional field's entry fits both: it is the other one's
    static func bool(_ name: String, _ column: String, tag: UInt8, get: @escaping Getter<Bool?>, set: @escaping Setter<Bool>,
                     models: Set<ModelKind>, aggregate: Aggregate = .none, check: Check? = nil, doc: String) -> ReportField {
        ReportField(name, column, tag: tag, .bool(get: get, set: required(set)),
                    optional: false, models: models, presence: .always, rule: .any, aggregate: aggregate, check: check, doc: doc)
    }

    static func bool(_ name: String, _ column: String, tag: UInt8, get: @escaping Getter<Bool?>, set: @escaping Setter<Bool?>,
                     models: Set<ModelKind>, presence: Presence, aggregate: Aggregate = .none, check: Check? = nil,
                     doc: String) -> ReportField {
        ReportField(name, column, tag: tag, .bool(get: get, set: set),
                    optional: true, models: models, presence: presence, rule: .any, aggregate: aggregate, check: check, doc: doc)
    }

    static func name<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ column: String, tag: UInt8, get: @escaping Getter<E?>, set: @escaping Setter<E?>,
        models: Set<ModelKind>, presence: Presence, doc: String
    ) -> ReportField where E.RawValue == String {
        ReportField(name, column, tag: tag,
                    .name(get: { get($0)?.rawValue }, set: { set(&$0, $1.flatMap(E.init(rawValue:))) },
                          allowed: E.allCases.map(\.rawValue)),
                    optional: true, models: models, presence: presence, rule: .any, aggregate: .none, check: nil, doc: doc)
    }

    static func perNoise(_ name: String, _ column: String, tag: UInt8, get: @escaping Getter<[Double]?>,
                         set: @escaping Setter<[Double]?>, models: Set<ModelKind>, aggregate: Aggregate,
                         doc: String) -> ReportField {
        ReportField(name, column, tag: tag, .perNoise(get: get, set: set),
                    optional: true, models: models, presence: .always, rule: .perNoiseNorms, aggregate: aggregate,
                    check: nil, doc: doc)
    }
}
