/// The checks every field shares, driven by `RunReport.fields`: which fields a model's report
/// carries (and which it must not), each value's range and finiteness, and each field's
/// relation to the others. The model-level rules (an outcome against its tolerance, a
/// trajectory against its schedule) are the coordinator's `ResultValidation`.
extension RunReport {
    /// Why this report cannot be a run of `spec` field by field, or nil.
    public func fieldProblem(for spec: RunSpec) -> String? {
        let model = spec.kind
        let levels = spec.model.record.training.testNoise.count
        let plan = ValidationPlan.of(model)
        for index in plan.probes.indices {
            let probe = plan.probes[index]
            // One read of the field's value gives its presence and, when present, whether its
            // range needs a closer look (the field itself is fetched only then).
            let (present, suspect) = probe.read(plan.readers[index], limit: plan.limits[index], of: self, spec: spec,
                                                levels: levels)
            guard probe.applies else {
                if present { return "\(plan.fields[index].name) in a \(model.rawValue) report (the model does not report it)" }
                continue
            }
            switch (probe.presence, present) {
            case (.always, false):
                return "\(plan.fields[index].name) missing from a \(model.rawValue) report"
            case (.unlessDiverged, _) where present == diverged:
                let name = plan.fields[index].name
                return diverged ? "\(name) with a diverged run" : "\(name) missing from a \(model.rawValue) report"
            case (.measuredUnlessDiverged, true) where diverged:
                return "\(plan.fields[index].name) with a diverged run"
            default:
                break
            }
            if suspect, let problem = inspect(plan.fields[index], spec: spec, levels: levels).problem { return problem }
        }
        for relation in plan.relations {
            if let problem = relation.check(self, spec) { return problem }
        }
        return nil
    }

    /// Per model, worked out once (a coordinator checks tens of thousands of reports a second):
    /// for every carried field a probe and its getter, and the relation checks that apply. The
    /// probes hold plain values (copying a probe that held a closure or a `ReportField` cost
    /// more than reading the field), and the checks are not an array of closures (whose
    /// elements Swift calls through a thunk that copies the whole report).
    private final class ValidationPlan: Sendable {
        /// The carried fields; `probes[i]` and `readers[i]` are those of `fields[i]`.
        let fields: [ReportField]
        let probes: [Probe]
        let readers: [ReportField.Reader]
        /// The spec's bound of a `.count` field (`Rule.count`).
        let limits: [Limit]
        let relations: [Relation]

        init(_ model: ModelKind) {
            let fields = RunReport.fields.filter(\.value.isCarried)
            self.fields = fields
            probes = fields.map { Probe($0, applies: $0.applies(to: model)) }
            readers = fields.map(\.reader)
            limits = fields.map { field in
                if case .count(let limit, _) = field.rule { Limit(of: limit) } else { Limit { _ in .max } }
            }
            relations = RunReport.fields.filter { $0.applies(to: model) }.compactMap { $0.check.map(Relation.init) }
        }

        private static let deepLinear = ValidationPlan(.deepLinear)
        private static let diagonal = ValidationPlan(.diagonal)
        private static let noop = ValidationPlan(.noop)
        private static let sleep = ValidationPlan(.sleep)

        static func of(_ model: ModelKind) -> ValidationPlan {
            switch model {
            case .deepLinear: deepLinear
            case .diagonal: diagonal
            case .noop: noop
            case .sleep: sleep
            }
        }
    }

    /// A relation check of a field, as a stored property (called at its own abstraction).
    private struct Relation: Sendable {
        let check: ReportField.Check
    }

    /// A count's bound from the spec (`Rule.count`), likewise.
    private struct Limit: Sendable {
        let of: @Sendable (RunSpec) -> Int
    }

    /// What validation needs of one carried field besides its getter and limit, as plain values: whether
    /// the model reports it, when it must be there, and its rule.
    private struct Probe: Sendable {
        let applies: Bool
        let presence: ReportField.Presence
        let real: RealRule
        let bound: IntRule

        init(_ field: ReportField, applies: Bool) {
            self.applies = applies
            presence = field.presence
            real = RealRule(field.rule)
            bound = IntRule(field.rule)
        }

        /// Whether the field is present, and whether its value breaks its rule (then `inspect`
        /// says how).
        func read(_ reader: ReportField.Reader, limit: Limit, of report: RunReport, spec: RunSpec,
                  levels: Int) -> (present: Bool, suspect: Bool) {
            switch reader {
            case .double(let get):
                guard let value = get(report) else { return (false, false) }
                return (true, !real.admits(value, diverged: report.diverged))
            case .perNoise(let get):
                guard let values = get(report) else { return (false, false) }
                return (true, values.count != levels || !values.allSatisfy { real.admits($0, diverged: report.diverged) })
            case .int(let get):
                guard let value = get(report) else { return (false, false) }
                return (true, !bound.admits(value, iterations: report.iterations) { limit.of(spec) })
            case .bool(let get): return (get(report) != nil, false)
            case .name(let get): return (get(report) != nil, false)
            case .trajectory: return (!report.trajectory.isEmpty, false)
            case .derived: return (true, false)
            }
        }
    }

    /// Whether a carried field has a value (an empty trajectory is absent).
    public func isPresent(_ field: ReportField) -> Bool {
        switch field.value {
        case .double(let get, _): get(self) != nil
        case .int(let get, _): get(self) != nil
        case .bool(let get, _): get(self) != nil
        case .perNoise(let get, _): get(self) != nil
        case .name(let get, _, _): get(self) != nil
        case .trajectory: !trajectory.isEmpty
        case .derived: true
        }
    }

    /// Whether a carried field has a value and, if it has, what is wrong with it (`isPresent`
    /// and the range check from one read of the value).
    private func inspect(_ field: ReportField, spec: RunSpec, levels: Int) -> (present: Bool, problem: String?) {
        switch field.value {
        case .double(let get, _):
            guard let value = get(self) else { return (false, nil) }
            return (true, rangeProblem(field, real: value))
        case .perNoise(let get, _):
            guard let values = get(self) else { return (false, nil) }
            guard values.count == levels else {
                return (true, "\(values.count) values of \(field.name) for \(levels) test-noise levels")
            }
            return (true, values.lazy.compactMap { rangeProblem(field, real: $0) }.first)
        case .int(let get, _):
            guard let value = get(self) else { return (false, nil) }
            return (true, rangeProblem(field, int: value, spec: spec))
        case .bool(let get, _): return (get(self) != nil, nil)
        case .name(let get, _, _): return (get(self) != nil, nil)
        case .trajectory: return (!trajectory.isEmpty, nil)
        case .derived: return (true, nil)
        }
    }

    private func rangeProblem(_ field: ReportField, real value: Double) -> String? {
        let rule = RealRule(field.rule)
        guard !rule.admits(value, diverged: diverged) else { return nil }
        let name = field.name
        return switch rule {
        case .norm where value < 0: "\(name) \(value) is negative"
        case .norm: "\(name) is \(value) but the run did not diverge"
        case .positive: "\(name) \(value) is not a positive number"
        case .finite: "\(name) \(value) is not finite"
        case .nonNegative: "\(name) \(value) is not a finite number >= 0"
        case .duration: "\(name) \(value) not a duration"
        case .any: nil
        }
    }

    private func rangeProblem(_ field: ReportField, int value: Int, spec: RunSpec) -> String? {
        var limit = 0
        if case .count(let bound, _) = field.rule { limit = bound(spec) }
        switch IntRule(field.rule) {
        case .step where value < 0 || value > iterations: return "\(field.name) \(value) outside 0...\(iterations)"
        case .count where value < 0 || value > limit: return "\(field.name) \(value) outside 0...\(limit)"
        default: return nil
        }
    }
}

/// A real field's rule (`ReportField.Rule`) as a plain value, with the one test of what it
/// admits: validation's quick pass and its message both use it.
private enum RealRule {
    case norm, positive, finite, nonNegative, duration, any

    init(_ rule: ReportField.Rule) {
        switch rule {
        case .norm, .perNoiseNorms: self = .norm
        case .positive: self = .positive
        case .finite: self = .finite
        case .nonNegative: self = .nonNegative
        case .duration: self = .duration
        case .step, .count, .any: self = .any
        }
    }

    /// A norm is not negative, and non-finite (NaN included) only when the run diverged.
    func admits(_ value: Double, diverged: Bool) -> Bool {
        switch self {
        case .norm: !(value < 0) && (value.isFinite || diverged)
        case .positive: value.isFinite && value > 0
        case .finite: value.isFinite
        case .nonNegative: value.isFinite && value >= 0
        case .duration: value.isFinite && value >= 0 && value < 1e8
        case .any: true
        }
    }
}

/// An integer field's rule as a plain value: a step of the run, a count up to the spec's bound
/// (`Rule.count`, whose closure the caller evaluates only when asked), or any value.
private enum IntRule {
    case step, count, any

    init(_ rule: ReportField.Rule) {
        switch rule {
        case .step: self = .step
        case .count: self = .count
        case .norm, .positive, .finite, .nonNegative, .duration, .any, .perNoiseNorms: self = .any
        }
    }

    func admits(_ value: Int, iterations: Int, limit: () -> Int) -> Bool {
        switch self {
        case .step: value >= 0 && value <= iterations
        case .count: value >= 0 && value <= limit()
        case .any: true
        }
    }
}
