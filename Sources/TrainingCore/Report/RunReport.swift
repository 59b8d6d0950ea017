/// What one run reports: the metrics of MODEL.md §3 and the outcomes of §4.
///
/// Every field is described once in `RunReport.fields` (ReportFields.swift): the wire, the
/// store, the table, the validation and `dlsweep train --json` are driven from there. A field
/// that every model reports is non-optional; a field of one model (or one that a worker may
/// leave unmeasured) is optional, nil where it does not apply.
public struct RunReport: Codable, Sendable, Hashable {
    // MARK: Every model

    /// Deep linear: `‖W Y − X‖_F / ‖X‖_F`; diagonal: `‖A w − y‖ / ‖y‖`.
    public var trainResidual: Double
    /// Deep linear: `‖W − W_or‖_F / ‖W_or‖_F`, W_or = R (A R)⁺; diagonal: `‖w − w*‖ / ‖w*‖`.
    public var oracleDistance: Double
    /// Deep linear: `‖W − W*_λ‖_F / ‖W_or‖_F` (λ = 0: measured on W U Uᵀ); diagonal:
    /// `‖w − w_ℓ1‖ / ‖w_ℓ1‖`.
    public var targetDistance: Double
    /// `‖∇F(θ)‖_F / ‖∇F(θ_0)‖_F` over all parameters.
    public var gradientNorm: Double
    /// Steps run.
    public var iterations: Int
    /// First checked step at which each outcome held, if it did.
    public var convergedAt: Int?
    public var recoveredAt: Int?
    public var stationaryAt: Int?
    public var diverged: Bool
    /// The outcomes at the reported (final) iterate.
    public var converged: Bool
    public var recovered: Bool
    /// Gradient below `tolGrad` at some check without convergence (a saddle or a spurious minimum).
    public var stationary: Bool
    /// The T this run was given (the `auto` budget resolved).
    public var stepBudget: Int
    /// The `auto` budget was cut by `maxSteps`.
    public var budgetCapped: Bool
    /// Wall-clock seconds of the training loop (not part of a run's identity).
    public var trainSeconds: Double
    /// Metrics every `logEvery` steps; empty when off.
    public var trajectory: [TrajectoryPoint]
    /// The gradient-flow time reached, `Σ_k η_k` (η · iterations for a fixed step; `flow`: the
    /// integrated time). nil: not reported (a worker that predates it).
    public var flowTime: Double?

    // MARK: The deep linear network

    /// `‖W A R − R‖_F`.
    public var reconstructionError: Double?
    /// `‖W P⊥‖_F`, P the projector onto range(A R).
    public var offSubspaceError: Double?
    /// `‖W_or‖_F`: the scale of `offSubspaceError` in the `recovered` test.
    public var oracleNorm: Double?
    /// Aligned with `TrainingSpec.testNoise`.
    public var testError: [Double]?
    /// Aligned with `TrainingSpec.testNoise`.
    public var oracleTestError: [Double]?
    public var balancedness: Double?
    public var effectiveRank: Int?
    /// The fitted linear rate of the loss gap `F − F*`, F* = F(W*_λ), per unit of `flowTime`:
    /// minus the least-squares slope of `ln(F − F*)` over the checks of its last two decades.
    /// nil below three checks above the rounding floor, or diverged.
    public var lossGapRate: Double?
    /// `max_l ‖B_l(T) − B_l(0)‖_F`, `B_l = W_{l+1}ᵀ W_{l+1} − W_l W_lᵀ` (conserved by the
    /// gradient flow without weight decay); nil when diverged.
    public var balancednessDrift: Double?
    /// `(‖W Y − X‖² − min_{rank M ≤ k} ‖M Y − X‖²) / ‖X‖²` at k = `effectiveRank`
    /// (MODEL.md §5's best rank-k loss); nil when diverged.
    public var bestRankGap: Double?
    /// `F(θ_T) / F(θ*_λ)`: the final loss over the optimal loss (≥ 1 up to rounding; 1 at the
    /// target). nil when diverged or when F* is 0.
    public var lossRatio: Double?

    // MARK: The diagonal network (docs/MODEL.md §5)

    /// Entries of w above `rankTolerance · max|w_i|`.
    public var supportSize: Int?
    /// `‖w_ℓ1‖_1`: the minimum-ℓ1 solution's norm (the scale of `targetDistance`).
    public var l1Norm: Double?
    /// The s largest entries of |w| are exactly the support of w*; nil when diverged.
    public var supportRecovered: Bool?
    /// How W*_λ was found (MODEL.md §4): whether the `converged` outcome rests on a certified
    /// global minimizer (every method but `search`). nil for models without it.
    public var targetMethod: TargetMethod?
    /// W*_λ's first-order residual on its rank manifold, relative to `‖γ B S‖` (at most 1e-12,
    /// or the run fails). nil for models without it.
    public var targetResidual: Double?
    /// The diagonal model only (docs/MODEL.md §5): `‖w − w∞‖ / ‖w∞‖`, w∞ the exact limit of the
    /// gradient flow from this run's (D, α) (`DiagonalFlowLimit`): how far the optimizer is from
    /// finishing. nil for the other models and when diverged.
    public var flowLimitDistance: Double?
    /// The diagonal model only: `‖w∞ − w_ℓ1‖ / ‖w_ℓ1‖`, how far the implicit bias at this α is
    /// from ℓ1 (the part of `targetDistance` no optimizer can remove). nil for the other models.
    public var flowLimitL1Distance: Double?

    public init(trainResidual: Double, reconstructionError: Double? = nil, offSubspaceError: Double? = nil,
                oracleDistance: Double, targetDistance: Double, gradientNorm: Double, oracleNorm: Double? = nil,
                testError: [Double]? = nil, oracleTestError: [Double]? = nil,
                balancedness: Double? = nil, effectiveRank: Int? = nil, iterations: Int,
                convergedAt: Int?, recoveredAt: Int?, stationaryAt: Int?,
                diverged: Bool, converged: Bool, recovered: Bool, stationary: Bool,
                stepBudget: Int, budgetCapped: Bool, trainSeconds: Double,
                trajectory: [TrajectoryPoint] = [], flowTime: Double? = nil, lossGapRate: Double? = nil,
                balancednessDrift: Double? = nil, bestRankGap: Double? = nil, lossRatio: Double? = nil,
                supportSize: Int? = nil, l1Norm: Double? = nil, supportRecovered: Bool? = nil,
                targetMethod: TargetMethod? = nil, targetResidual: Double? = nil,
                flowLimitDistance: Double? = nil, flowLimitL1Distance: Double? = nil) {
        self.trainResidual = trainResidual
        self.reconstructionError = reconstructionError
        self.offSubspaceError = offSubspaceError
        self.oracleDistance = oracleDistance
        self.targetDistance = targetDistance
        self.gradientNorm = gradientNorm
        self.oracleNorm = oracleNorm
        self.testError = testError
        self.oracleTestError = oracleTestError
        self.balancedness = balancedness
        self.effectiveRank = effectiveRank
        self.iterations = iterations
        self.convergedAt = convergedAt
        self.recoveredAt = recoveredAt
        self.stationaryAt = stationaryAt
        self.diverged = diverged
        self.converged = converged
        self.recovered = recovered
        self.stationary = stationary
        self.stepBudget = stepBudget
        self.budgetCapped = budgetCapped
        self.trainSeconds = trainSeconds
        self.trajectory = trajectory
        self.flowTime = flowTime
        self.lossGapRate = lossGapRate
        self.balancednessDrift = balancednessDrift
        self.bestRankGap = bestRankGap
        self.lossRatio = lossRatio
        self.supportSize = supportSize
        self.l1Norm = l1Norm
        self.supportRecovered = supportRecovered
        self.targetMethod = targetMethod
        self.targetResidual = targetResidual
        self.flowLimitDistance = flowLimitDistance
        self.flowLimitL1Distance = flowLimitL1Distance
    }

    /// A report with every field zero, false or absent: what a decoder fills in.
    public static let blank = RunReport(
        trainResidual: 0, oracleDistance: 0, targetDistance: 0, gradientNorm: 0, iterations: 0,
        convergedAt: nil, recoveredAt: nil, stationaryAt: nil, diverged: false, converged: false, recovered: false,
        stationary: false, stepBudget: 0, budgetCapped: false, trainSeconds: 0)

    /// Ran out of steps without converging or diverging (the table's `budget` column).
    public var exhaustedBudget: Bool { !converged && !diverged && iterations >= stepBudget }
}

/// The metrics at one logged step.
public struct TrajectoryPoint: Codable, Sendable, Hashable {
    public var step: Int
    public var loss: Double
    public var trainResidual: Double
    public var reconstructionError: Double
    public var offSubspaceError: Double
    public var targetDistance: Double
    public var gradientNorm: Double
    public var balancedness: Double
    /// The gradient-flow time at this step (see `RunReport.flowTime`); nil: not reported.
    public var flowTime: Double?
    /// The singular values of the end-to-end map W, largest first; empty: not reported.
    public var singularValues: [Double]
    /// `max(0, F − F*)`, F* = F(W*_λ) the optimal loss; nil: not reported.
    public var lossGap: Double?

    public init(step: Int, loss: Double, trainResidual: Double, reconstructionError: Double,
                offSubspaceError: Double, targetDistance: Double, gradientNorm: Double, balancedness: Double,
                flowTime: Double? = nil, singularValues: [Double] = [], lossGap: Double? = nil) {
        self.step = step
        self.loss = loss
        self.trainResidual = trainResidual
        self.reconstructionError = reconstructionError
        self.offSubspaceError = offSubspaceError
        self.targetDistance = targetDistance
        self.gradientNorm = gradientNorm
        self.balancedness = balancedness
        self.flowTime = flowTime
        self.singularValues = singularValues
        self.lossGap = lossGap
    }

    /// Every value is a finite number (a point logged before a divergence was noticed may not be).
    public var isFinite: Bool {
        [loss, trainResidual, reconstructionError, offSubspaceError, targetDistance, gradientNorm, balancedness,
         flowTime ?? 0, lossGap ?? 0].allSatisfy(\.isFinite) && singularValues.allSatisfy(\.isFinite)
    }
}

/// The log-spaced steps of a sampled run's trajectory (`TrainingSpec.logDensity`): step 0, then
/// after a logged step t the step `t + max(1, t / density)` (integer division), about
/// about `2.3 density + 1` points per decade; and the run's last step. Integer arithmetic
/// only, so a worker in any language logs exactly these steps and a receiver can check them.
public enum LogSchedule {
    /// The logged step after `step`.
    public static func next(after step: Int, density: Int) -> Int {
        step + max(1, step / max(1, density))
    }

    /// The scheduled steps in `0...last` (the run's last step not included unless scheduled).
    public static func steps(through last: Int, density: Int) -> [Int] {
        var steps: [Int] = []
        var t = 0
        while t <= last {
            steps.append(t)
            t = next(after: t, density: density)
        }
        return steps
    }
}
