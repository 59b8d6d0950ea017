/// A diagonal linear network run (docs/MODEL.md §5): sparse regression, the network
/// `w = u^D − v^D` from `u(0) = v(0) = α`, and what its trainer reads. It has no width, no
/// initialization scheme, no weight decay and no momentum: those have no place here.
public struct DiagonalSpec: Sendable, Hashable {
    public var problem: SparseProblemSpec
    public var network: DiagonalNetworkSpec
    public var training: DiagonalTraining

    public init(problem: SparseProblemSpec = .init(), network: DiagonalNetworkSpec = .init(),
                training: DiagonalTraining = .init()) {
        self.problem = problem
        self.network = network
        self.training = training
    }
}

/// `y = A w*`: A is m × n, w* is s-sparse (`DiagonalProblem.generate`).
public struct SparseProblemSpec: Sendable, Hashable {
    /// n, the entries of w (config `signal_dim`).
    public var dimension: Int
    /// m < n, the rows of A (config `measurements`).
    public var measurements: Int
    /// s, the non-zero entries of w* (config `latent_dim`).
    public var sparsity: Int

    /// The deep linear problem's sizes, whose keys the diagonal reads.
    public init(dimension: Int = ProblemSpec().signalDim, measurements: Int = ProblemSpec().measurements,
                sparsity: Int = ProblemSpec().latentDim) {
        self.dimension = dimension
        self.measurements = measurements
        self.sparsity = sparsity
    }
}

/// The network `w = u^D − v^D`.
public struct DiagonalNetworkSpec: Sendable, Hashable {
    /// D >= 1 (config `depth`).
    public var depth: Int
    /// α = u(0) = v(0) > 0 (config `init_scale`).
    public var initScale: Double

    public init(depth: Int = NetworkSpec().depth, initScale: Double = NetworkSpec().initScale) {
        self.depth = depth
        self.initScale = initScale
    }
}

/// What the diagonal network trains with: gradient descent with a fixed step, or the gradient flow.
public enum DiagonalOptimizer: Sendable, Hashable {
    case gd
    case flow(FlowControl)

    /// As the deep network's optimizer (its record form).
    public var optimizer: Optimizer {
        switch self {
        case .gd: .gd(.fixed)
        case .flow(let control): .flow(control)
        }
    }
}

/// The schedule, stopping rule and tolerances the diagonal trainer reads; each means what the
/// `TrainingSpec` field of the same name means, and defaults to it.
public struct DiagonalTraining: Sendable, Hashable {
    /// `sigma_train`, the noise added to y.
    public var noise: Double
    public var steps: StepBudget
    /// The budget of `steps: auto` (the diagonal has no weight decay to size one), and `flow`'s cap.
    public var maxSteps: Int
    public var eta: Double?
    public var etaScale: Double
    public var optimizer: DiagonalOptimizer
    public var stopOnSuccess: Bool
    public var logEvery: Int?
    /// `converged`: `‖A w − y‖ / ‖y‖ <= tolConv`.
    public var tolConv: Double
    public var tolGrad: Double
    /// `recovered`: `‖w − w_ℓ1‖ / ‖w_ℓ1‖ <= tolRec`.
    public var tolRec: Double
    /// Entries above `rankTolerance · max|w|` count towards `support_size`.
    public var rankTolerance: Double
    public var checkEvery: Int

    /// `training`'s values of the fields both have.
    public init(_ training: TrainingSpec, optimizer: DiagonalOptimizer) {
        noise = training.noise
        steps = training.steps
        maxSteps = training.maxSteps
        eta = training.eta
        etaScale = training.etaScale
        self.optimizer = optimizer
        stopOnSuccess = training.stopOnSuccess
        logEvery = training.logEvery
        tolConv = training.tolConv
        tolGrad = training.tolGrad
        tolRec = training.tolRec
        rankTolerance = training.rankTolerance
        checkEvery = training.checkEvery
    }

    public init() { self.init(TrainingSpec(), optimizer: .gd) }

    /// Writes the fields into `training` (the record form).
    func write(into training: inout TrainingSpec) {
        training.noise = noise
        training.steps = steps
        training.maxSteps = maxSteps
        training.eta = eta
        training.etaScale = etaScale
        training.optimizer = optimizer.optimizer
        training.stopOnSuccess = stopOnSuccess
        training.logEvery = logEvery
        training.tolConv = tolConv
        training.tolGrad = tolGrad
        training.tolRec = tolRec
        training.rankTolerance = rankTolerance
        training.checkEvery = checkEvery
    }

    /// The most steps a run may take: `steps`, or `maxSteps` for `auto` and `flow`.
    public var stepLimit: Int {
        let flow = if case .flow = optimizer { true } else { false }
        return steps.limit(maxSteps: maxSteps, flow: flow)
    }
}

extension DiagonalSpec {
    /// The run in the record form (`Model.record`): n, m and s in the problem's `signalDim`,
    /// `measurements` and `latentDim`, D and α in the network's `depth` and `initScale`, the
    /// fields it does not have at their defaults (lambda 0).
    public var record: DeepLinearSpec {
        var record = DeepLinearSpec()
        record.problem.signalDim = problem.dimension
        record.problem.measurements = problem.measurements
        record.problem.latentDim = problem.sparsity
        record.network.depth = network.depth
        record.network.initScale = network.initScale
        training.write(into: &record.training)
        return record
    }

    /// The diagonal run of `record`. The deep network's settings it has no place for are left
    /// out: those of `deepLinearKeys` and log_density (a sweep's trajectories), which configs of
    /// older versions could set for it to no effect (their stored sweeps must still open), and a
    /// heavy-ball or inertial optimizer, lambda and an adaptive step rule, which
    /// `refusal(in:)` names.
    public init(projecting record: DeepLinearSpec) {
        let optimizer: DiagonalOptimizer = switch record.training.optimizer {
        case .flow(let control): .flow(control)
        case .gd, .heavyBall, .inertial: .gd
        }
        self.init(
            problem: SparseProblemSpec(dimension: record.problem.signalDim, measurements: record.problem.measurements,
                                       sparsity: record.problem.latentDim),
            network: DiagonalNetworkSpec(depth: record.network.depth, initScale: record.network.initScale),
            training: DiagonalTraining(record.training, optimizer: optimizer))
    }

    /// The config keys (and, spelled `--key`, `dlsweep train` options) of the deep network's
    /// settings that a diagonal run has no place for: its record keeps them at their defaults.
    public static let deepLinearKeys: Set<String> = [
        "width", "init", "samples", "condition", "test_samples", "operator", "budget_factor", "path",
        "mean_data_term", "lambda_per_layer", "tol_off", "test_noise",
    ]

    /// Why `key` is refused when every model of `models` is diagonal; nil when the key is not
    /// one of `deepLinearKeys` or some model uses it (a grid's deep-linear cells, or the frames
    /// of noop and sleep, which carry a deep network's shape).
    public static func refusal(ofKey key: String, models: [ModelKind]) -> SettingError? {
        guard deepLinearKeys.contains(key), !models.isEmpty, models.allSatisfy({ $0 == .diagonal }) else { return nil }
        return SettingError(key: key, message: "applies to the deep-linear model, not diagonal (docs/MODEL.md §5)")
    }

    /// What of `record` a diagonal run cannot train with (docs/MODEL.md §5: gradient descent
    /// with a fixed step or the gradient flow, no weight decay); nil when it can. The one
    /// statement of these rules: the config parser, `dlsweep train` and the wire read it.
    public static func refusal(in record: DeepLinearSpec) -> SettingError? {
        let t = record.training
        switch t.optimizer {
        case .gd, .flow: break
        case .heavyBall, .inertial:
            return SettingError(key: "optimizer", message: "diagonal trains with optimizer gd or flow only, not \(t.optimizer.kind.rawValue)")
        }
        if t.lambda != 0 {
            return SettingError(key: "lambda", message: "diagonal has no weight decay: lambda must be 0, not \(decimalLabel(t.lambda))")
        }
        if t.optimizer.stepRule == .adaptive {
            return SettingError(key: "step_rule", message: "diagonal trains with a fixed step: no step_rule")
        }
        return nil
    }
}
