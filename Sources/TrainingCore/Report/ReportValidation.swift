/// The checks every field shares, driven by `RunReport.fields`: which fields a model's report
/// carries (and which it must not), each value's range and finiteness, and each field's
/// relation to the others. The model-level rules (an outcome against its tolerance, a
/// trajectory against its schedule) are the coordinator's `ResultValidation`.
extension RunReport {
    /// Why this report cannot be a run of `spec` field by field, or nil.
    public func fieldProblem(for spec: RunSpec) -> String? {
        let model = spec.kind
        let levels = spec.model.record.training.testNoise.count
        guard let plan = Self.validationPlans[model] else { return nil }
        for (field, applies) in plan.carried {
            // One read of the field's value gives its presence and, when present, its range
            // problem (each read copies the field's closures: tens of thousands a second).
            let (present, range) = inspect(field, spec: spec, levels: levels)
            guard applies else {
                if present { return "\(field.name) in a \(model.rawValue) report (the model does not report it)" }
                continue
            }
            switch (field.presence, present) {
            case (.always, false):
                return "\(field.name) missing from a \(model.rawValue) report"
            case (.unlessDiverged, _) where present == diverged:
                return diverged ? "\(field.name) with a diverged run" : "\(field.name) missing from a \(model.rawValue) report"
            case (.measuredUnlessDiverged, true) where diverged:
                return "\(field.name) with a diverged run"
            default:
                break
            }
            if let range { return range }
        }
        for check in plan.checks {
            if let problem = check(self, spec) { return problem }
        }
        return nil
    }

    /// Per model, worked out once (a coordinator checks tens of thousands of reports a second):
    /// every carried field with whether the model reports it, and the relation checks that apply.
    private static let validationPlans: [ModelKind: (carried: [(ReportField, Bool)], checks: [ReportField.Check])] =
        Dictionary(uniqueKeysWithValues: ModelKind.allCases.map { model in
            (model, (fields.filter(\.value.isCarried).map { ($0, $0.applies(to: model)) },
                     fields.filter { $0.applies(to: model) }.compactMap(\.check)))
        })

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
