/// An invalid run: a one-line message naming the culprit (key, file or shape).
public struct TrainingError: Error, CustomStringConvertible, Sendable, Hashable {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

extension RunSpec {
    /// Checks every field before anything is allocated or drawn.
    public func validate() throws(TrainingError) {
        switch model {
        case .deepLinear(let run): try run.validate()
        case .diagonal(let run): try run.validate()
        case .noop(let shape): try shape.validate()
        case .sleep(let seconds, let shape):
            guard seconds.isFinite, seconds >= 0, seconds <= 86_400 else {
                throw TrainingError("sleep_seconds must be in 0...86400, got \(seconds)")
            }
            try shape.validate()
        }
    }
}

extension DeepLinearSpec {
    /// Checks every field before anything is allocated or drawn.
    public func validate() throws(TrainingError) {
        let p = problem, m = network, t = training
        guard m.depth >= 1 else { throw TrainingError("depth must be at least 1, got \(m.depth)") }
        guard m.width >= 1 else { throw TrainingError("width must be at least 1, got \(m.width)") }
        guard m.initScale.isFinite else { throw TrainingError("init_scale must be finite, got \(m.initScale)") }
        guard t.lambda.isFinite, t.lambda >= 0 else { throw TrainingError("lambda must be a finite number >= 0, got \(t.lambda)") }
        guard t.noise.isFinite, t.noise >= 0 else { throw TrainingError("noise must be a finite number >= 0, got \(t.noise)") }
        if case .fixed(let n) = t.steps { guard n >= 0 else { throw TrainingError("steps must be >= 0 or \"auto\", got \(n)") } }
        guard t.maxSteps >= 1 else { throw TrainingError("max_steps must be at least 1, got \(t.maxSteps)") }
        guard t.budgetFactor.isFinite, t.budgetFactor > 0 else {
            throw TrainingError("budget_factor must be a positive number, got \(t.budgetFactor)")
        }
        if let eta = t.eta { guard eta.isFinite, eta > 0 else { throw TrainingError("eta must be a positive number, got \(eta)") } }
        guard t.etaScale.isFinite, t.etaScale > 0 else { throw TrainingError("eta_scale must be a positive number, got \(t.etaScale)") }
        // Ranges only: which optimizer or model a value belongs to, its type says.
        if let alpha = t.optimizer.alpha {
            guard alpha.isFinite, alpha >= 0 else { throw TrainingError("alpha must be a finite number >= 0, got \(alpha)") }
        }
        if let beta = t.optimizer.beta {
            guard beta.isFinite, beta >= 0 else { throw TrainingError("beta must be a finite number >= 0, got \(beta)") }
        }
        if let flow = t.optimizer.flow {
            for (name, tol) in [("flow_rtol", flow.rtol), ("flow_atol", flow.atol)] {
                guard tol.isFinite, tol > 0, tol < 1 else { throw TrainingError("\(name) must be a number in (0, 1), got \(tol)") }
            }
            if let time = flow.horizon {
                guard time.isFinite, time > 0 else { throw TrainingError("flow_time must be a positive number, got \(time)") }
            }
        }
        guard t.checkEvery >= 1 else { throw TrainingError("check_every must be at least 1, got \(t.checkEvery)") }
        if let k = t.logEvery { guard k >= 1 else { throw TrainingError("log_every must be at least 1, got \(k)") } }
        if let g = t.logDensity {
            guard g >= 1 else { throw TrainingError("log_density must be at least 1, got \(g)") }
            guard t.logEvery == nil else { throw TrainingError("log_every and log_density exclude each other") }
        }
        guard t.rankTolerance.isFinite, t.rankTolerance > 0, t.rankTolerance < 1 else {
            throw TrainingError("rank_tolerance must be in (0, 1), got \(t.rankTolerance)")
        }
        for s in t.testNoise { guard s.isFinite, s >= 0 else { throw TrainingError("test_noise values must be finite and >= 0, got \(s)") } }
        for (name, tol) in [("tol_conv", t.tolConv), ("tol_grad", t.tolGrad), ("tol_rec", t.tolRec), ("tol_off", t.tolOff)] {
            guard tol.isFinite, tol > 0 else { throw TrainingError("\(name) must be a positive number, got \(tol)") }
        }
        try p.validate()
    }
}

extension ProblemSpec {
    public func validate() throws(TrainingError) {
        guard signalDim >= 1 else { throw TrainingError("signal_dim must be at least 1, got \(signalDim)") }
        guard measurements >= 1 else { throw TrainingError("measurements must be at least 1, got \(measurements)") }
        guard measurements < signalDim else {
            throw TrainingError("measurements (\(measurements)) must be smaller than signal_dim (\(signalDim)): the problem is underdetermined")
        }
        guard latentDim >= 1, latentDim <= measurements else {
            throw TrainingError("latent_dim must be between 1 and measurements (\(measurements)), got \(latentDim)")
        }
        guard samples >= 1 else { throw TrainingError("samples must be at least 1, got \(samples)") }
        guard testSamples >= 1 else { throw TrainingError("test_samples must be at least 1, got \(testSamples)") }
        guard condition.isFinite, condition >= 1 else { throw TrainingError("condition must be >= 1, got \(condition)") }
    }
}

extension DiagonalSpec {
    /// Checks every field before anything is allocated or drawn: the range rules of the keys
    /// it shares with the deep network (on its record form), and a positive scale.
    public func validate() throws(TrainingError) {
        guard !network.initScale.isFinite || network.initScale > 0 else {  // a non-finite one: `record.validate()`
            throw TrainingError("init_scale must be positive for model diagonal (u(0) = v(0) = init_scale), got \(network.initScale)")
        }
        try record.validate()
    }
}
