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
    /// the model reports it, when it must be there, and the cheap part of its rule.
    private struct Probe: Sendable {
        let applies: Bool
        let presence: ReportField.Presence
        /// A number at or above it, or zero where it must be positive, may break the rule.
        let ceiling: Double
        let positive: Bool
        /// An integer's bound: a step of the run, or a count the spec bounds (`Rule.count`).
        let bound: Bound

        enum Bound {
            case none, step
            /// Up to the field's `Rule.count` limit of the spec (`ValidationPlan.limits`).
            case count
        }

        init(_ field: ReportField, applies: Bool) {
            self.applies = applies
            presence = field.presence
            switch field.rule {
            case .duration: (ceiling, positive) = (1e8, false)
            case .positive: (ceiling, positive) = (.infinity, true)
            default: (ceiling, positive) = (.infinity, false)
            }
            switch field.rule {
            case .step: bound = .step
            case .count: bound = .count
            default: bound = .none
            }
        }

        /// Whether the field is present, and whether its value may break its rule (then
        /// `inspect` says how): a test every valid value passes but a few (a negative number
        /// where any sign is allowed), and every value `inspect` refuses fails.
        func read(_ reader: ReportField.Reader, limit: Limit, of report: RunReport, spec: RunSpec,
                  levels: Int) -> (present: Bool, suspect: Bool) {
            switch reader {
            case .double(let get):
                guard let value = get(report) else { return (false, false) }
                return (true, !(value.isFinite && value >= 0 && value < ceiling) || positive && value == 0)
            case .perNoise(let get):
                guard let values = get(report) else { return (false, false) }
                return (true, values.count != levels || !values.allSatisfy { $0.isFinite && $0 >= 0 })
            case .int(let get):
                guard let value = get(report) else { return (false, false) }
                switch bound {
                case .step: return (true, value < 0 || value > report.iterations)
                case .count: return (true, value < 0 || value > limit.of(spec))
                case .none: return (true, false)
                }
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
        let name = field.name
        switch field.rule {
        case .norm, .perNoiseNorms:
            if value < 0 { return "\(name) \(value) is negative" }
            if !value.isFinite && !diverged { return "\(name) is \(value) but the run did not diverge" }
        case .positive:
            if !(value.isFinite && value > 0) { return "\(name) \(value) is not a positive number" }
        case .finite:
            if !value.isFinite { return "\(name) \(value) is not finite" }
        case .nonNegative:
            if !(value.isFinite && value >= 0) { return "\(name) \(value) is not a finite number >= 0" }
        case .duration:
            if !(value.isFinite && value >= 0 && value < 1e8) { return "\(name) \(value) not a duration" }
        case .step, .count, .any:
            break
        }
        return nil
    }

    private func rangeProblem(_ field: ReportField, int value: Int, spec: RunSpec) -> String? {
        switch field.rule {
        case .step:
            if value < 0 || value > iterations { return "\(field.name) \(value) outside 0...\(iterations)" }
        case .count(let bound, _):
            let limit = bound(spec)
            if value < 0 || value > limit { return "\(field.name) \(value) outside 0...\(limit)" }
        default:
            break
        }
        return nil
    }
}
