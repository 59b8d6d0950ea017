import LinearAlgebra
import TrainingCore

/// A small problem (d = 20, m = 10, r = 2, n = 12) so the laws can be checked over many steps.
func smallProblem(seed: UInt64 = 3, signalDim: Int = 20, measurements: Int = 10, latentDim: Int = 2,
                  samples: Int = 12) throws -> Problem {
    var spec = ProblemSpec()
    spec.signalDim = signalDim
    spec.measurements = measurements
    spec.latentDim = latentDim
    spec.samples = samples
    spec.testSamples = 50
    return try Problem.generate(spec, seed: seed)
}

func model(depth: Int, width: Int, scheme: InitScheme = .kaiming, scale: Double = 1) -> NetworkSpec {
    var model = NetworkSpec()
    model.depth = depth
    model.width = width
    model.initScheme = scheme
    model.initScale = scale
    return model
}

func weights(for problem: Problem, _ model: NetworkSpec, seed: UInt64 = 9) throws -> [Matrix] {
    var rng = NormalGenerator(seed: seed)
    return try initialWeights(model, measurements: problem.measurements, signalDim: problem.signalDim, rng: &rng)
}

/// Orthogonal projector onto the complement of range(A R) in R^m.
func outsideProjector(_ problem: Problem) throws -> Matrix {
    let q = try LAPACK.orthonormalColumns(problem.a * problem.basis)
    return Matrix.identity(problem.measurements) - q * q.transposed
}

func relativeDifference(_ a: Matrix, _ b: Matrix) -> Double {
    (a - b).frobeniusNorm / max(b.frobeniusNorm, .leastNormalMagnitude)
}

/// `kind` with the given settings where it uses them (dropped where it does not), as a config's
/// grid cell builds it.
func optimizer(_ kind: OptimizerKind, alpha: Double? = nil, beta: Double? = nil, stepRule: StepRule? = nil,
               flow: FlowControl? = nil) -> Optimizer {
    var settings = RunSettings()
    settings.optimizer = kind
    settings.alpha = alpha
    settings.beta = beta
    settings.stepRule = stepRule
    settings.flowRtol = flow?.rtol
    settings.flowAtol = flow?.atol
    settings.flowTime = flow?.horizon
    return settings.record.training.optimizer
}
