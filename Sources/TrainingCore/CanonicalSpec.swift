/// The canonical form of a run spec: what a sweep's fingerprint hashes (`SweepConfig`'s
/// `Fingerprint`), written by the spec itself so that the config does not need the wire.
///
/// Fixed camelCase keys over the record form (`Model.record`); a key that does not apply to the
/// run's optimizer is absent (never a default standing in), as are `eta`, `logEvery`,
/// `logDensity` and `flowTime` when not set, the step rule at `fixed` and the model at
/// `deep-linear`. Seeds are decimal strings. These are the keys and presence rules of the task
/// spec in PROTOCOL.md, so the fingerprints of sweeps made before the form had its own writer
/// are unchanged (pinned by a test per config). Encode it with sorted keys.
public struct CanonicalSpec: Encodable, Sendable {
    public var kind: ModelKind
    /// The model's settings; a fingerprint zeroes those its axes carry.
    public var record: DeepLinearSpec
    public var sleepSeconds: Double?
    public var seeds: RunSeeds

    public init(_ spec: RunSpec) {
        kind = spec.kind
        record = spec.model.record
        sleepSeconds = spec.model.sleepSeconds
        seeds = spec.seeds
    }

    /// The run of `settings`, in their own record: a diagonal run's keeps the deep network's
    /// settings its spec leaves out, as the fingerprints of its stored sweeps always had them.
    public init(_ settings: RunSettings, seeds: RunSeeds) {
        self.init(RunSpec(model: settings.specIgnoringInapplicable().model, seeds: seeds))
        record = settings.record
    }

    private enum Key: String, CodingKey {
        case problem, model, training, seeds
        // problem
        case signalDim, measurements, latentDim, samples, condition, measurementOperator, testSamples
        // model
        case kind, depth, width, initScheme, initScale
        // training
        case lambda, noise, steps, maxSteps, budgetFactor, eta, etaScale, optimizer, alpha, beta, stepRule
        case flowRtol, flowAtol, flowTime, path, stopOnSuccess, logEvery, logDensity
        case tolConv, tolGrad, tolRec, tolOff, testNoise, meanDataTerm, lambdaPerLayer, rankTolerance, checkEvery
        case sleepSeconds
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        let problem = record.problem, model = record.network
        var p = c.nestedContainer(keyedBy: Key.self, forKey: .problem)
        try p.encode(problem.signalDim, forKey: .signalDim)
        try p.encode(problem.measurements, forKey: .measurements)
        try p.encode(problem.latentDim, forKey: .latentDim)
        try p.encode(problem.samples, forKey: .samples)
        try p.encode(problem.condition, forKey: .condition)
        try p.encode(problem.measurementOperator.rawValue, forKey: .measurementOperator)
        try p.encode(problem.testSamples, forKey: .testSamples)

        var m = c.nestedContainer(keyedBy: Key.self, forKey: .model)
        if kind != .deepLinear { try m.encode(kind.rawValue, forKey: .kind) }
        try m.encode(model.depth, forKey: .depth)
        try m.encode(model.width, forKey: .width)
        try m.encode(model.initScheme.rawValue, forKey: .initScheme)
        try m.encode(model.initScale, forKey: .initScale)

        let t = record.training
        var s = c.nestedContainer(keyedBy: Key.self, forKey: .training)
        try s.encode(t.lambda, forKey: .lambda)
        try s.encode(t.noise, forKey: .noise)
        switch t.steps {
        case .fixed(let n): try s.encode(n, forKey: .steps)
        case .auto: try s.encode("auto", forKey: .steps)
        }
        try s.encode(t.maxSteps, forKey: .maxSteps)
        try s.encode(t.budgetFactor, forKey: .budgetFactor)
        try s.encodeIfPresent(t.eta, forKey: .eta)
        try s.encode(t.etaScale, forKey: .etaScale)
        try s.encode(t.optimizer.kind.rawValue, forKey: .optimizer)
        try s.encodeIfPresent(t.optimizer.alpha, forKey: .alpha)
        try s.encodeIfPresent(t.optimizer.beta, forKey: .beta)
        if let rule = t.optimizer.stepRule, rule != .fixed { try s.encode(rule.rawValue, forKey: .stepRule) }
        if let flow = t.optimizer.flow {
            try s.encode(flow.rtol, forKey: .flowRtol)
            try s.encode(flow.atol, forKey: .flowAtol)
            try s.encodeIfPresent(flow.horizon, forKey: .flowTime)
        }
        try s.encode(t.path.rawValue, forKey: .path)
        try s.encode(t.stopOnSuccess, forKey: .stopOnSuccess)
        try s.encodeIfPresent(t.logEvery, forKey: .logEvery)
        try s.encodeIfPresent(t.logDensity, forKey: .logDensity)
        try s.encode(t.tolConv, forKey: .tolConv)
        try s.encode(t.tolGrad, forKey: .tolGrad)
        try s.encode(t.tolRec, forKey: .tolRec)
        try s.encode(t.tolOff, forKey: .tolOff)
        try s.encode(t.testNoise, forKey: .testNoise)
        try s.encode(t.meanDataTerm, forKey: .meanDataTerm)
        try s.encode(t.lambdaPerLayer, forKey: .lambdaPerLayer)
        try s.encode(t.rankTolerance, forKey: .rankTolerance)
        try s.encode(t.checkEvery, forKey: .checkEvery)
        try s.encodeIfPresent(sleepSeconds, forKey: .sleepSeconds)

        var seedContainer = c.nestedContainer(keyedBy: Key.self, forKey: .seeds)
        try seedContainer.encode(String(seeds.problem), forKey: .problem)
        try seedContainer.encode(String(seeds.training), forKey: .training)
    }
}

/// A spec encodes as its canonical form.
extension RunSpec: Encodable {
    public func encode(to encoder: any Encoder) throws {
        try CanonicalSpec(self).encode(to: encoder)
    }
}
