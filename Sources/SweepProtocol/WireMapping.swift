public import TrainingCore

/// The one place where the training core's types meet the wire's. When a core type gains a
/// field, this file, `WireTypes.swift`, PROTOCOL.md and `protocolVersion` change together.

/// A wire value that does not fit the core type (an unknown enum name, a seed that is not a
/// decimal UInt64).
public struct WireValueError: Error, CustomStringConvertible, Sendable, Hashable {
    public var field: String
    public var detail: String

    public var description: String { "\(field): \(detail)" }
}

extension WireSpec {
    public init(_ spec: RunSpec) {
        let record = spec.model.record
        let p = record.problem, m = record.network, t = record.training, kind = spec.kind
        self.init(
            problem: WireProblem(
                signalDim: p.signalDim, measurements: p.measurements, latentDim: p.latentDim, samples: p.samples,
                condition: p.condition, measurementOperator: p.measurementOperator.rawValue,
                testSamples: p.testSamples),
            model: WireModel(kind: kind == .deepLinear ? nil : kind.rawValue, depth: m.depth, width: m.width, initScheme: m.initScheme.rawValue, initScale: m.initScale),
            training: WireTraining(
                lambda: t.lambda, noise: t.noise, steps: WireSteps(t.steps), maxSteps: t.maxSteps,
                budgetFactor: t.budgetFactor, eta: t.eta, etaScale: t.etaScale,
                optimizer: t.optimizer.kind.rawValue,
                alpha: t.optimizer.alpha, beta: t.optimizer.beta,
                // Absent at its default, so the specs of earlier sweeps are unchanged.
                stepRule: t.optimizer.stepRule.flatMap { $0 == .fixed ? nil : $0.rawValue },
                flowRtol: t.optimizer.flow?.rtol, flowAtol: t.optimizer.flow?.atol, flowTime: t.optimizer.flow?.horizon,
                path: t.path.rawValue, stopOnSuccess: t.stopOnSuccess,
                logEvery: t.logEvery, tolConv: t.tolConv, tolGrad: t.tolGrad, tolRec: t.tolRec, tolOff: t.tolOff,
                testNoise: t.testNoise,
                meanDataTerm: t.meanDataTerm, lambdaPerLayer: t.lambdaPerLayer, rankTolerance: t.rankTolerance,
                checkEvery: t.checkEvery, sleepSeconds: spec.model.sleepSeconds,
                logDensity: t.logDensity),
            seeds: WireSeeds(problem: String(spec.seeds.problem), training: String(spec.seeds.training)))
    }

    /// The core spec; ranges are checked by the trainer, names and seeds here.
    public func runSpec() throws(WireValueError) -> RunSpec {
        var spec = DeepLinearSpec()  // the record form, then the model's own case
        spec.problem.signalDim = problem.signalDim
        spec.problem.measurements = problem.measurements
        spec.problem.latentDim = problem.latentDim
        spec.problem.samples = problem.samples
        spec.problem.condition = problem.condition
        spec.problem.measurementOperator = try Self.named(problem.measurementOperator, "problem.measurementOperator")
        spec.problem.testSamples = problem.testSamples
        // Each model's and optimizer's own keys must be present exactly where they apply: the
        // typed spec has no place for the others.
        let kind: ModelKind = try model.kind.map { name throws(WireValueError) in
            let named: ModelKind = try Self.named(name, "model.kind")
            // "deep-linear" is said by the absence of the key: one spelling per spec.
            guard named != .deepLinear else {
                throw WireValueError(field: "model.kind", detail: "deep-linear is said by leaving the key out")
            }
            return named
        } ?? .deepLinear
        switch (kind, training.sleepSeconds) {
        case (.sleep, _?), (.deepLinear, nil), (.diagonal, nil), (.noop, nil): break
        case (.sleep, nil), (_, _?):
            throw WireValueError(field: "training.sleepSeconds", detail: "must be given exactly for model kind sleep")
        }
        spec.network.depth = model.depth
        spec.network.width = model.width
        spec.network.initScheme = try Self.named(model.initScheme, "model.initScheme")
        spec.network.initScale = model.initScale
        spec.training.lambda = training.lambda
        spec.training.noise = training.noise
        switch training.steps {
        case .fixed(let n): spec.training.steps = .fixed(n)
        case .auto: spec.training.steps = .auto
        }
        spec.training.maxSteps = training.maxSteps
        spec.training.budgetFactor = training.budgetFactor
        spec.training.eta = training.eta
        spec.training.etaScale = training.etaScale
        let optimizer: OptimizerKind = try Self.named(training.optimizer, "training.optimizer")
        let rule: StepRule = try training.stepRule.map { name throws(WireValueError) in try Self.named(name, "training.stepRule") } ?? .fixed
        // Absent for gd, so gd's specs (and the fingerprints made of them) are those of version 3.
        switch (optimizer, training.alpha, training.beta) {
        case (.gd, nil, nil), (.flow, nil, nil): break
        case (.heavyBall, _?, nil), (.inertial, _?, _?): break
        default:
            throw WireValueError(field: "training.alpha", detail: "alpha must be given exactly for heavy-ball and inertial, beta exactly for inertial (optimizer \(training.optimizer))")
        }
        switch (optimizer, training.flowRtol, training.flowAtol) {
        case (.flow, _?, _?), (.gd, nil, nil), (.heavyBall, nil, nil), (.inertial, nil, nil): break
        default:
            throw WireValueError(field: "training.flowRtol", detail: "flowRtol and flowAtol must be given exactly for flow (optimizer \(training.optimizer))")
        }
        if training.flowTime != nil, optimizer != .flow {
            throw WireValueError(field: "training.flowTime", detail: "flowTime applies to flow only (optimizer \(training.optimizer))")
        }
        if training.stepRule != nil, optimizer == .flow {
            throw WireValueError(field: "training.stepRule", detail: "flow's steps are always adaptive: no stepRule")
        }
        spec.training.optimizer = switch optimizer {
        case .gd: .gd(rule)
        case .heavyBall: .heavyBall(alpha: training.alpha ?? 0, stepRule: rule)
        case .inertial: .inertial(alpha: training.alpha ?? 0, beta: training.beta ?? 0, stepRule: rule)
        case .flow: .flow(FlowControl(rtol: training.flowRtol ?? 0, atol: training.flowAtol ?? 0, horizon: training.flowTime))
        }
        spec.training.path = try Self.named(training.path, "training.path")
        spec.training.stopOnSuccess = training.stopOnSuccess
        spec.training.logEvery = training.logEvery
        spec.training.logDensity = training.logDensity
        spec.training.tolConv = training.tolConv
        spec.training.tolGrad = training.tolGrad
        spec.training.tolRec = training.tolRec
        spec.training.tolOff = training.tolOff
        spec.training.testNoise = training.testNoise
        spec.training.meanDataTerm = training.meanDataTerm
        spec.training.lambdaPerLayer = training.lambdaPerLayer
        spec.training.rankTolerance = training.rankTolerance
        spec.training.checkEvery = training.checkEvery
        guard let problemSeed = UInt64(seeds.problem) else {
            throw WireValueError(field: "seeds.problem", detail: "'\(seeds.problem.prefix(40))' is not a decimal UInt64")
        }
        guard let trainingSeed = UInt64(seeds.training) else {
            throw WireValueError(field: "seeds.training", detail: "'\(seeds.training.prefix(40))' is not a decimal UInt64")
        }
        // A setting the model has no place for (a diagonal task with a width or a momentum).
        let choice: Model
        do {
            choice = try Model(kind: kind, record: spec, sleepSeconds: training.sleepSeconds ?? 0)
        } catch {
            throw WireValueError(field: "model.kind", detail: "\(kind.rawValue): \(error)")
        }
        return RunSpec(model: choice, seeds: RunSeeds(problem: problemSeed, training: trainingSeed))
    }

    private static func named<T: RawRepresentable>(_ name: String, _ field: String) throws(WireValueError) -> T
    where T.RawValue == String {
        guard let value = T(rawValue: name) else {
            throw WireValueError(field: field, detail: "unknown value '\(name.prefix(40))'")
        }
        return value
    }
}

extension WireSteps {
    public init(_ budget: StepBudget) {
        switch budget {
        case .fixed(let n): self = .fixed(n)
        case .auto: self = .auto
        }
    }
}
