/// Everything that determines one training run: the model with its own problem, network and
/// training, and the two seeds. A run is a pure function of its `RunSpec`, which is what lets a
/// sweep give the same table whatever worker runs which task.
///
/// Each model's case carries what that model has and nothing else, so a spec cannot hold a
/// setting its model does not use (a width or a momentum for the diagonal network, a weight
/// decay for runs that train nothing). User input reaches it through `RunSettings`, the wire
/// through the same record form (`Model.record`, `Model(kind:record:sleepSeconds:)`).
public struct RunSpec: Sendable, Hashable {
    public var model: Model
    public var seeds: RunSeeds

    public init(model: Model = .deepLinear(DeepLinearSpec()), seeds: RunSeeds = .init()) {
        self.model = model
        self.seeds = seeds
    }

    /// The model's name.
    public var kind: ModelKind { model.kind }
}

/// The two independent random streams of a run (MODEL.md §1, sweep common random numbers).
public struct RunSeeds: Codable, Sendable, Hashable {
    /// Draws the latent basis R, the operator A, the signals X and the test set.
    /// A sweep gives all cells of one trial the same problem seed.
    public var problem: UInt64
    /// Draws the training noise E and the initial weights.
    public var training: UInt64

    public init(problem: UInt64 = 1, training: UInt64 = 2) {
        self.problem = problem
        self.training = training
    }
}

/// The synthetic inverse problem of MODEL.md §1.
public struct ProblemSpec: Codable, Sendable, Hashable {
    /// `d`, the signal dimension.
    public var signalDim: Int = 200
    /// `m < d`, the number of linear measurements.
    public var measurements: Int = 100
    /// `r`, the dimension of the unknown subspace.
    public var latentDim: Int = 5
    /// `n`, the number of training signals.
    public var samples: Int = 50
    /// `kappa`, the condition number of X (1 = rows of Z unscaled).
    public var condition: Double = 1
    /// The measurement operator A.
    public var measurementOperator: MeasurementOperator = .gaussian
    /// Fresh test signals used for `test_error`.
    public var testSamples: Int = 200

    public init() {}
}

public enum MeasurementOperator: String, Codable, Sendable, Hashable, CaseIterable {
    case gaussian
}

/// The names of the models (config `model:`, `dlsweep train --model`, the wire's `model.kind`).
public enum ModelKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// The deep linear network of MODEL.md §2.
    case deepLinear = "deep-linear"
    /// `w = u^D − v^D` on sparse regression, measured against the minimum-ℓ1 solution (§5).
    case diagonal
    /// Returns the fixed minimal report at once (see `syntheticReport`): dispatch benchmarks.
    case noop
    /// Waits, then returns the minimal report: sweep overhead.
    case sleep
}

/// What a run trains, each case with its own settings: the deep linear network of MODEL.md §2,
/// the diagonal linear network of §5, or runs of known cost that measure the sweep machinery
/// itself (dispatch cost, overhead).
public enum Model: Sendable, Hashable {
    case deepLinear(DeepLinearSpec)
    case diagonal(DiagonalSpec)
    /// Trains nothing; `shape` is only what its task frames carry (a deep linear run's), so that
    /// a dispatch benchmark sends frames of a real task's size.
    case noop(shape: DeepLinearSpec)
    /// As `noop`, after waiting `seconds` (0...86400).
    case sleep(seconds: Double, shape: DeepLinearSpec)

    /// `sleep`'s duration when a config or `dlsweep train` does not give one.
    public static let defaultSleepSeconds = 1.0

    public var kind: ModelKind {
        switch self {
        case .deepLinear: .deepLinear
        case .diagonal: .diagonal
        case .noop: .noop
        case .sleep: .sleep
        }
    }
}

/// A deep linear network run (MODEL.md §2): the inverse problem, the network and its training.
/// Its fields are also the record form every model is written in (`Model.record`).
public struct DeepLinearSpec: Sendable, Hashable {
    public var problem: ProblemSpec
    public var network: NetworkSpec
    public var training: TrainingSpec

    public init(problem: ProblemSpec = .init(), network: NetworkSpec = .init(), training: TrainingSpec = .init()) {
        self.problem = problem
        self.network = network
        self.training = training
    }
}

/// The network of MODEL.md §2.
public struct NetworkSpec: Sendable, Hashable {
    /// `L >= 1`; 1 is plain linear regression.
    public var depth: Int = 5
    /// `d_w`, the hidden width.
    public var width: Int = 400
    public var initScheme: InitScheme = .kaiming
    /// `alpha`, multiplies every initial weight (small-initialization regime when < 1).
    public var initScale: Double = 1

    public init() {}
}

public enum InitScheme: String, Codable, Sendable, Hashable, CaseIterable {
    /// i.i.d. N(0, 1/fan_in).
    case kaiming
    /// Scaled (semi-)orthogonal matrices.
    case orthogonal
    /// `W_{l+1}^T W_{l+1} = W_l W_l^T` at t = 0.
    case balanced
    /// Kaiming, with the last layer zero.
    case zeroLast = "zero-last"
}

/// The names of the optimizers (config `optimizer:`, `dlsweep train --optimizer`, the wire).
public enum OptimizerKind: String, Codable, Sendable, Hashable, CaseIterable {
    case gd
    case heavyBall = "heavy-ball"
    case inertial
    case flow
}

/// Optimizers of MODEL.md §2 (docs/MODEL.md, "Optimizers"), each with the settings it uses and
/// no others: a damping, a step rule or a tolerance cannot be given to an optimizer that ignores it.
public enum Optimizer: Sendable, Hashable {
    /// Gradient descent with step η.
    case gd(StepRule)
    /// The inertial update with viscous damping α only: the momentum is `1 − α h`, h = √η.
    case heavyBall(alpha: Double, stepRule: StepRule)
    /// `θ+ = θ + (1 − αh)(θ − θ−) − βh (g(θ) − g(θ−)) − h² g(θ)`, h = √η.
    case inertial(alpha: Double, beta: Double, stepRule: StepRule)
    /// The gradient flow `θ' = −∇F(θ)`, integrated by Dormand–Prince 5(4) with error control
    /// (FlowStep.swift); its steps are always adaptive, so it has no step rule.
    case flow(FlowControl)

    /// The dampings when a config or `dlsweep train` does not give them.
    public static let defaultAlpha = 1.0
    public static let defaultBeta = 0.0

    public var kind: OptimizerKind {
        switch self {
        case .gd: .gd
        case .heavyBall: .heavyBall
        case .inertial: .inertial
        case .flow: .flow
        }
    }

    /// How η is chosen; nil for `flow`.
    public var stepRule: StepRule? {
        switch self {
        case .gd(let rule), .heavyBall(_, let rule), .inertial(_, _, let rule): rule
        case .flow: nil
        }
    }

    /// The viscous damping α of `heavy-ball` and `inertial`; nil for the others.
    public var alpha: Double? {
        switch self {
        case .heavyBall(let alpha, _), .inertial(let alpha, _, _): alpha
        case .gd, .flow: nil
        }
    }

    /// The Hessian-driven damping β of `inertial`; nil for the others.
    public var beta: Double? {
        if case .inertial(_, let beta, _) = self { return beta }
        return nil
    }

    /// `flow`'s error control and horizon; nil for the others.
    public var flow: FlowControl? {
        if case .flow(let control) = self { return control }
        return nil
    }
}

/// The error control and the horizon of `flow` (docs/MODEL.md, "Gradient flow").
public struct FlowControl: Sendable, Hashable {
    /// A Runge–Kutta step is accepted when the RMS over all weights of
    /// `err_i / (atol + rtol · |θ_i|)` is at most 1.
    public var rtol: Double
    public var atol: Double
    /// The time horizon; nil: the time `steps` steps of size η cover (`auto`: the time the
    /// off-range part of W_1, `e^(−λt)`, needs; see `TrainingData.flowHorizon`).
    public var horizon: Double?

    public init(rtol: Double = 1e-8, atol: Double = 1e-8, horizon: Double? = nil) {
        self.rtol = rtol
        self.atol = atol
        self.horizon = horizon
    }
}

/// How the step size of `gd`, `heavy-ball` and `inertial` is chosen (docs/MODEL.md, "Adaptive step").
public enum StepRule: String, Codable, Sendable, Hashable, CaseIterable {
    /// η from `eta` or `eta_scale` at every step.
    case fixed
    /// Backtracking from a growing trial step: Armijo's sufficient decrease of F for `gd`, plain
    /// decrease with a momentum restart for `heavy-ball` and `inertial`.
    case adaptive
}

/// How a step is computed; both give the same iterates in exact arithmetic.
public enum GradientPath: String, Codable, Sendable, Hashable, CaseIterable {
    /// The column-space reduction of MODEL.md §2: O(L d_w^2 rank(Y)) per step.
    case reduced
    /// The full gradient on W_1 (the reference path of the tests).
    case plain
}

/// How many steps a run may take (MODEL.md §4, "Step budget").
public enum StepBudget: Sendable, Hashable {
    /// Exactly this many steps at most.
    case fixed(Int)
    /// `T = ceil(c · ln(‖W_1(0)(I − U Uᵀ)‖_F / (tol_conv ‖W_or‖_F)) / −ln(1 − ηλ))`, capped by
    /// `maxSteps`: the steps the exactly decaying off-range part of W_1 needs to fall below the
    /// convergence tolerance, times `budgetFactor`. `maxSteps` for λ = 0.
    case auto
}

extension StepBudget: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .fixed(value) }
}

extension StepBudget {
    /// The most steps a run with this budget may take: the fixed count, or `maxSteps` for
    /// `auto` and for gradient flow (whose accepted steps `maxSteps` caps).
    func limit(maxSteps: Int, flow: Bool) -> Int {
        if flow { return maxSteps }
        return switch self {
        case .fixed(let n): n
        case .auto: maxSteps
        }
    }
}

extension StepBudget: Codable {
    /// A number, or the string "auto": the spelling of the config files.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) { self = .fixed(n); return }
        let s = try c.decode(String.self)
        guard s == "auto" else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "steps must be a number or \"auto\", got \"\(s)\"")
        }
        self = .auto
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .fixed(let n): try c.encode(n)
        case .auto: try c.encode("auto")
        }
    }
}

/// The training schedule, the stopping rule and what to measure.
public struct TrainingSpec: Sendable, Hashable {
    /// Weight decay `lambda >= 0`.
    public var lambda: Double = 0
    /// `sigma_train`, the training measurement noise.
    public var noise: Double = 0
    /// `T`: a fixed number of steps, or `auto` (MODEL.md §4).
    public var steps: StepBudget = .fixed(10_000)
    /// The cap of an `auto` budget, and the budget for λ = 0.
    public var maxSteps: Int = 1_000_000
    /// `c` of the `auto` budget.
    public var budgetFactor: Double = 2
    /// A fixed step size; when nil, `eta = etaScale / (L * sigma_max(Y)^2)`.
    public var eta: Double? = nil
    public var etaScale: Double = 0.5
    /// The update, with the settings only it uses.
    public var optimizer: Optimizer = .gd(.fixed)
    public var path: GradientPath = .reduced
    /// Stop at the first check where the run has converged (sweeps: yes).
    public var stopOnSuccess: Bool = false
    /// Record the metrics every `logEvery` steps (nil: no trajectory).
    public var logEvery: Int? = nil
    /// Record the metrics at log-spaced steps (`LogSchedule`) and at the last step; nil: not.
    /// A sweep sets it on its sampled runs only (`trajectories:`), so the others pay nothing.
    public var logDensity: Int? = nil
    /// `converged`: `target_distance <= tolConv` (MODEL.md §4).
    public var tolConv: Double = 1e-3
    /// `stationary`: `gradient_norm <= tolGrad` without convergence.
    public var tolGrad: Double = 1e-6
    /// `recovered`: `reconstruction_error <= tolRec ‖R‖_F` and `off_subspace_error <= tolOff ‖W_or‖_F`.
    public var tolRec: Double = 0.05
    public var tolOff: Double = 0.05
    /// Test noise levels for `test_error[sigma]` and `oracle_test_error[sigma]`.
    public var testNoise: [Double] = [0]
    /// Divide the data term by n (MODEL.md §2 option).
    public var meanDataTerm: Bool = false
    /// Scale the per-layer weight decay by 1/L (MODEL.md §2 option).
    public var lambdaPerLayer: Bool = false
    /// Singular values above `rankTolerance * sigma_1` count towards `effective_rank`.
    public var rankTolerance: Double = 1e-3
    /// How often (in steps) the outcomes are judged: first-hit times are exact to this.
    public var checkEvery: Int = 10
    public init() {}

    /// The step budget's upper bound, whatever the problem: what a report's `iterations` may reach
    /// (`flow`: its accepted steps, capped by `maxSteps`).
    public var stepLimit: Int { steps.limit(maxSteps: maxSteps, flow: optimizer.kind == .flow) }
}
