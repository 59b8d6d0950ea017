import Foundation
import LinearAlgebra

/// A finished diagonal run: its report and what it was measured against.
public struct DiagonalOutcome: Sendable {
    public var report: RunReport
    public var network: DiagonalNetwork
    public var problem: DiagonalProblem
    /// The measurements the network was trained on (`A w*`, plus training noise if any).
    public var y: [Double]
    public var reference: MinimumL1Solution
    /// Where the gradient flow from this run's (D, α) ends.
    public var limit: DiagonalFlowLimit
    /// The step size used.
    public var eta: Double
    /// `½‖A w − y‖²` at the reported iterate.
    public var finalLoss: Double
}

/// Support recovery (docs/MODEL.md §5): the s = |supp w*| largest entries of |w| are exactly
/// supp w*, i.e. every entry on the support is larger in magnitude than every entry off it.
public func recoversSupport(_ w: [Double], support: [Int]) -> Bool {
    guard !support.isEmpty else { return true }
    let on = Set(support)
    let smallestOn = support.map { abs(w[$0]) }.min() ?? 0
    let largestOff = w.indices.lazy.filter { !on.contains($0) }.map { abs(w[$0]) }.max() ?? 0
    return smallestOn > largestOff
}

/// Generates the sparse-recovery problem of `spec`, trains the diagonal network from
/// `u = v = init_scale · 1` by gradient descent and measures it against the minimum-ℓ1 solution.
public func trainDiagonal(_ spec: DiagonalSpec, seeds: RunSeeds) throws -> DiagonalOutcome {
    try spec.validate()
    let problem = try DiagonalProblem.generate(spec.problem, seed: seeds.problem)
    return try trainDiagonal(problem: problem, model: spec.network, training: spec.training, trainingSeed: seeds.training)
}

/// Trains on a given problem (tests, `dlsweep train`); the training seed draws the noise only.
public func trainDiagonal(problem: DiagonalProblem, model: DiagonalNetworkSpec, training: DiagonalTraining,
                          trainingSeed: UInt64) throws -> DiagonalOutcome {
    let started = Date()
    var y = problem.apply(problem.signal)
    if training.noise > 0 {
        var rng = NormalGenerator(seed: trainingSeed)
        for i in y.indices { y[i] += training.noise * rng.nextNormal() }
    }
    let reference = try MinimumL1Solution(a: problem.a, y: y)
    let l1Norm = max(BLAS.norm2(reference.w), .leastNormalMagnitude)
    let limit = try DiagonalFlowLimit(a: problem.a, y: y, depth: model.depth, scale: model.initScale)
    let limitNorm = max(BLAS.norm2(limit.w), .leastNormalMagnitude)
    let signalNorm = max(BLAS.norm2(problem.signal), .leastNormalMagnitude)
    let yNorm = max(BLAS.norm2(y), .leastNormalMagnitude)
    let depth = model.depth
    let eta = try training.eta ?? diagonalStep(problem: problem, reference: reference, depth: depth, etaScale: training.etaScale)
    let budget = training.stepLimit


    var network = DiagonalNetwork(dimension: problem.dimension, depth: depth, scale: model.initScale)
    let initialLoss = problem.loss(network, y: y)
    let initialGradient = gradientNorm(problem.gradient(network, y: y))
    var convergedAt: Int?, recoveredAt: Int?, stationaryAt: Int?
    var trajectory: [TrajectoryPoint] = []
    var diverged = !initialLoss.isFinite
    var iterations = 0
    /// The gradient-flow time reached: η per gd step, the integrator's time for flow.
    var time = 0.0

    /// Judges the outcomes at `step`; true when the run should stop.
    func check(step: Int, loss: Double) -> Bool {
        let w = network.w
        let residual = (2 * loss).squareRoot() / yNorm
        if convergedAt == nil, residual <= training.tolConv { convergedAt = step }
        if recoveredAt == nil, distance(w, reference.w) / l1Norm <= training.tolRec { recoveredAt = step }
        if stationaryAt == nil, convergedAt == nil,
           gradientNorm(problem.gradient(network, y: y)) <= training.tolGrad * max(initialGradient, .leastNormalMagnitude) {
            stationaryAt = step
        }
        return training.stopOnSuccess && convergedAt != nil
    }
    func point(step: Int, loss: Double) -> TrajectoryPoint {
        let w = network.w
        return TrajectoryPoint(
            step: step, loss: loss, trainResidual: (2 * loss).squareRoot() / yNorm, reconstructionError: 0,
            offSubspaceError: 0, targetDistance: distance(w, reference.w) / l1Norm,
            gradientNorm: gradientNorm(problem.gradient(network, y: y)) / max(initialGradient, .leastNormalMagnitude),
            balancedness: 0, flowTime: time)
    }

    if !diverged {
        if training.logEvery != nil { trajectory.append(point(step: 0, loss: initialLoss)) }
        var stop = check(step: 0, loss: initialLoss)
        var stepper = DiagonalStepper(problem: problem, y: y, eta: eta)
        var flow = training.optimizer.optimizer.flow.map {
            DiagonalFlow(problem: problem, y: y, horizon: diagonalHorizon(training, eta: eta), initialStep: eta,
                         rtol: $0.rtol, atol: $0.atol)
        }
        var t = 0
        while !stop && t < budget && !(flow?.finished ?? false) {
            if flow != nil {
                do { try flow!.step(&network) } catch { diverged = true; break }
                time = flow!.time
            } else {
                stepper.step(&network)
                time = eta * Double(t + 1)
            }
            t += 1
            iterations = t
            if t % training.checkEvery == 0 || t == budget || (flow?.finished ?? false) {
                let current = problem.loss(network, y: y)
                if !current.isFinite || current > 1e6 * max(initialLoss, .leastNormalMagnitude) {
                    diverged = true
                    break
                }
                stop = check(step: t, loss: current)
            }
            if let every = training.logEvery, t % every == 0 { trajectory.append(point(step: t, loss: problem.loss(network, y: y))) }
        }
    }
    let seconds = Date().timeIntervalSince(started)
    let w = network.w
    let finalLoss = problem.loss(network, y: y)
    guard !diverged, finalLoss.isFinite, w.allSatisfy(\.isFinite) else {
        let nan = Double.nan
        let report = RunReport(
            trainResidual: nan, oracleDistance: nan, targetDistance: nan, gradientNorm: nan, iterations: iterations,
            convergedAt: nil, recoveredAt: nil, stationaryAt: nil,
            diverged: true, converged: false, recovered: false, stationary: false, stepBudget: budget,
            budgetCapped: false, trainSeconds: seconds, trajectory: trajectory, flowTime: time,
            supportSize: 0, l1Norm: l1Norm, flowLimitL1Distance: distance(limit.w, reference.w) / l1Norm)
        return DiagonalOutcome(report: report, network: network, problem: problem, y: y, reference: reference,
                               limit: limit, eta: eta, finalLoss: finalLoss)
    }
    let residual = (2 * finalLoss).squareRoot() / yNorm
    let l1Distance = distance(w, reference.w) / l1Norm
    let converged = residual <= training.tolConv
    let recovered = l1Distance <= training.tolRec
    // The final iterate may be a first hit (a budget that is not a multiple of checkEvery).
    if converged && convergedAt == nil { convergedAt = iterations }
    if recovered && recoveredAt == nil { recoveredAt = iterations }
    let largest = w.map(abs).max() ?? 0
    let report = RunReport(
        trainResidual: residual,
        oracleDistance: distance(w, problem.signal) / signalNorm,
        targetDistance: l1Distance,
        gradientNorm: gradientNorm(problem.gradient(network, y: y)) / max(initialGradient, .leastNormalMagnitude),
        iterations: iterations, convergedAt: convergedAt, recoveredAt: recoveredAt, stationaryAt: stationaryAt,
        diverged: false, converged: converged, recovered: recovered, stationary: stationaryAt != nil && !converged,
        stepBudget: budget, budgetCapped: false, trainSeconds: seconds, trajectory: trajectory,
        flowTime: time,
        supportSize: largest > 0 ? w.filter { abs($0) > training.rankTolerance * largest }.count : 0,
        l1Norm: l1Norm, supportRecovered: recoversSupport(w, support: problem.support),
        flowLimitDistance: distance(w, limit.w) / limitNorm,
        flowLimitL1Distance: distance(limit.w, reference.w) / l1Norm)
    return DiagonalOutcome(report: report, network: network, problem: problem, y: y, reference: reference,
                           limit: limit, eta: eta, finalLoss: finalLoss)
}

/// `η = eta_scale / (D² σ_max(A)² ‖w_ℓ1‖_∞^{2(D−1)/D})`: the curvature of the loss in (u, v)
/// near an interpolator of the scale of w_ℓ1, where `∇²_u ≈ D² u^{2(D−1)} AᵀA` and
/// `u ≈ |w|^{1/D}` (D = 1: plain least squares, `η = eta_scale / σ_max(A)²`).
func diagonalStep(problem: DiagonalProblem, reference: MinimumL1Solution, depth: Int, etaScale: Double) throws -> Double {
    let sigma = try LAPACK.singularValues(problem.a).first ?? 1
    let scale = max(reference.w.map(abs).max() ?? 1, .leastNormalMagnitude)
    let d = Double(depth)
    return etaScale / (d * d * sigma * sigma * Foundation.pow(scale, 2 * (d - 1) / d))
}

/// The horizon of `flow`: `flow_time`, else the time `steps` steps of η cover (`auto`: `max_steps`).
private func diagonalHorizon(_ training: DiagonalTraining, eta: Double) -> Double {
    if case .flow(let control) = training.optimizer, let time = control.horizon { return time }
    if case .fixed(let n) = training.steps { return Double(n) * eta }
    return Double(training.maxSteps) * eta
}

/// `‖a − b‖`.
private func distance(_ a: [Double], _ b: [Double]) -> Double {
    BLAS.norm2(zip(a, b).map { $0 - $1 })
}

private func gradientNorm(_ g: (u: [Double], v: [Double])) -> Double {
    (g.u.reduce(0) { $0 + $1 * $1 } + g.v.reduce(0) { $0 + $1 * $1 }).squareRoot()
}
