/// A run as a user gives it: a config file's sections with a grid cell's values, or
/// `dlsweep train`'s options. The one path from user input to a `RunSpec`, so that each default
/// and each rule of which setting belongs to which model or optimizer is written once.
///
/// Problem, network, schedule and tolerances are set in `common`, the record form every model
/// is written in (`Model.record`), whose defaults are the spec types'. What belongs to one
/// optimizer or to `sleep` is optional here ("not given") until `spec()` puts it into the case
/// that uses it; what a model has no place for is refused by `Model(kind:record:sleepSeconds:)`.
public struct RunSettings: Sendable, Hashable {
    /// Problem, network, schedule and tolerances. Its optimizer is not read: `optimizer` and
    /// the keys below choose it.
    public var common = DeepLinearSpec()
    public var model: ModelKind?
    public var optimizer: OptimizerKind?
    public var alpha: Double?
    public var beta: Double?
    public var stepRule: StepRule?
    public var flowRtol: Double?
    public var flowAtol: Double?
    public var flowTime: Double?
    public var sleepSeconds: Double?

    public init() {}

    /// The settings that belong to some models or optimizers only, spelled as in a config.
    public enum Key: String, CaseIterable, Sendable {
        case alpha, beta
        case stepRule = "step_rule"
        case flowRtol = "flow_rtol", flowAtol = "flow_atol", flowTime = "flow_time"
        case sleepSeconds = "sleep_seconds"
    }

    /// The model and optimizer when none is given.
    public var modelKind: ModelKind { model ?? RunSpec().kind }
    public var optimizerKind: OptimizerKind { optimizer ?? TrainingSpec().optimizer.kind }

    /// Whether `key` is given. `step_rule: fixed` is the default spelled out, so it counts only
    /// when adaptive (flow accepts it, as it accepts no step rule).
    public func isGiven(_ key: Key) -> Bool {
        switch key {
        case .alpha: alpha != nil
        case .beta: beta != nil
        case .stepRule: stepRule == .adaptive
        case .flowRtol: flowRtol != nil
        case .flowAtol: flowAtol != nil
        case .flowTime: flowTime != nil
        case .sleepSeconds: sleepSeconds != nil
        }
    }

    /// Whether `key` means something to a run of `model` with `optimizer`: the one statement of
    /// which setting belongs where (`spec()` and the config parser's grid check read it).
    public static func applies(_ key: Key, model: ModelKind, optimizer: OptimizerKind) -> Bool {
        switch key {
        case .alpha: optimizer == .heavyBall || optimizer == .inertial
        case .beta: optimizer == .inertial
        case .stepRule: optimizer != .flow
        case .flowRtol, .flowAtol, .flowTime: optimizer == .flow
        case .sleepSeconds: model == .sleep
        }
    }

    /// Why `key` is refused when no run of `models` × `optimizers` uses it; nil when one does.
    /// An adaptive step rule is refused as soon as one optimizer is `flow`.
    public static func refusal(_ key: Key, models: [ModelKind], optimizers: [OptimizerKind]) -> SettingError? {
        let names = { (kinds: [String]) in kinds.joined(separator: ", ") }
        switch key {
        case .stepRule:
            guard optimizers.contains(.flow) else { return nil }
            return SettingError(key: key.rawValue, message: "adaptive applies to gd, heavy-ball and inertial; flow's steps are always adaptive (flow_rtol, flow_atol)")
        case .sleepSeconds:
            guard !models.contains(where: { applies(key, model: $0, optimizer: .gd) }) else { return nil }
            return SettingError(key: key.rawValue, message: "applies to model sleep only, not \(names(models.map(\.rawValue)))")
        case .alpha, .beta, .flowRtol, .flowAtol, .flowTime:
            guard !optimizers.contains(where: { applies(key, model: .deepLinear, optimizer: $0) }) else { return nil }
            let owner = switch key {
            case .alpha: "optimizer heavy-ball or inertial"
            case .beta: "optimizer inertial only"
            default: "optimizer flow only"
            }
            return SettingError(key: key.rawValue, message: "applies to \(owner), not \(names(optimizers.map(\.rawValue)))")
        }
    }

    /// The spec; a given setting that its model or optimizer does not use is an error naming it.
    public func spec() throws(SettingError) -> RunSpec {
        for key in Key.allCases where isGiven(key) {
            if let refusal = Self.refusal(key, models: [modelKind], optimizers: [optimizerKind]) { throw refusal }
        }
        return RunSpec(model: try Model(kind: modelKind, record: record, sleepSeconds: sleepSeconds ?? Model.defaultSleepSeconds))
    }

    /// The spec, leaving out what its model or optimizer does not use: a grid cell's, where a
    /// key swept or fixed for some optimizers or models reaches every cell (the config parser has
    /// checked that each applies to one, and that each cell's model can hold it).
    public func specIgnoringInapplicable() -> RunSpec {
        RunSpec(model: Model(kind: modelKind, projecting: record, sleepSeconds: sleepSeconds ?? Model.defaultSleepSeconds))
    }

    /// `common` with the optimizer these settings choose: the run in the record form.
    public var record: DeepLinearSpec {
        var record = common
        let rule = stepRule ?? .fixed
        record.training.optimizer = switch optimizerKind {
        case .gd: .gd(rule)
        case .heavyBall: .heavyBall(alpha: alpha ?? Optimizer.defaultAlpha, stepRule: rule)
        case .inertial: .inertial(alpha: alpha ?? Optimizer.defaultAlpha, beta: beta ?? Optimizer.defaultBeta, stepRule: rule)
        case .flow:
            .flow(FlowControl(rtol: flowRtol ?? FlowControl().rtol, atol: flowAtol ?? FlowControl().atol, horizon: flowTime))
        }
        return record
    }
}

/// A setting given to a model or optimizer that does not use it.
public struct SettingError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The config key (`alpha`, `width`).
    public var key: String
    /// "applies to optimizer inertial only, not heavy-ball".
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}
