import Foundation
public import LinearAlgebra

/// A finished run: its report and the final weights W_1 … W_L.
public struct TrainingOutcome: Sendable {
    public var report: RunReport
    public var weights: [Matrix]
}

/// Trains a deep linear network on `problem` (MODEL.md §2) and measures it (§3, §4).
///
/// - Parameters:
///   - trainingSeed: draws the training noise E, then (unless given) the initial weights.
///   - initialWeights: W_1 … W_L to start from (their count sets the depth).
public func train(problem: Problem, model: NetworkSpec, training: TrainingSpec, trainingSeed: UInt64,
                  initialWeights given: [Matrix]? = nil) throws -> TrainingOutcome {
    var model = model
    if let given { model.depth = given.count }
    var run = DeepLinearSpec(network: model, training: training)
    run.problem.signalDim = problem.signalDim
    run.problem.measurements = problem.measurements
    run.problem.latentDim = problem.latentDim
    run.problem.samples = problem.samples
    try run.validate()

    var rng = NormalGenerator(seed: trainingSeed)
    let noise = rng.normalMatrix(rows: problem.measurements, columns: problem.samples)
    var y = problem.a * problem.x
    if training.noise > 0 { BLAS.axpy(training.noise, noise, &y) }

    let weights: [Matrix]
    if let given {
        let shapes = layerShapes(depth: given.count, width: given.count > 1 ? given[0].rows : model.width,
                                 measurements: problem.measurements, signalDim: problem.signalDim)
        for (l, (w, shape)) in zip(given, shapes).enumerated() {
            guard w.rows == shape.rows, w.columns == shape.columns else {
                throw TrainingError("W\(l + 1) is \(w.shape); expected \(shape.rows)x\(shape.columns)")
            }
            guard w.isFinite else { throw TrainingError("W\(l + 1) has non-finite values") }
        }
        weights = given
        if given.count > 1 { model.width = given[0].rows }
    } else {
        weights = try initialWeights(model, measurements: problem.measurements, signalDim: problem.signalDim, rng: &rng)
    }
    let data = try TrainingData(problem: problem, y: y, depth: weights.count,
                                width: weights.count > 1 ? weights[0].rows : problem.signalDim, training: training)
    var trainer = GradientDescent(data: data, weights: weights)
    return try trainer.run()
}

/// Generates the problem of `spec`, trains the network and measures it. A pure function of
/// `spec` apart from `trainSeconds`.
public func runExperiment(_ spec: RunSpec) throws -> RunReport {
    try spec.validate()
    switch spec.model {
    case .deepLinear(let run):
        let problem = try Problem.generate(run.problem, seed: spec.seeds.problem)
        return try train(problem: problem, model: run.network, training: run.training,
                         trainingSeed: spec.seeds.training).report
    case .diagonal(let run): return try trainDiagonal(run, seeds: spec.seeds).report
    case .noop, .sleep: return try spec.runSynthetic()
    }
}

/// The training loop: steps, divergence and outcome checks every `checkEvery` steps, the
/// trajectory, and the final exact measurement.
extension GradientDescent {
    mutating func run() throws -> TrainingOutcome {
        let started = Date()
        let training = data.training
        let isFlow = training.optimizer.kind == .flow
        let adaptive = training.optimizer.stepRule == .adaptive
        let initialDistance = data.training.steps == .auto ? targetError(endToEnd()) : 0
        var budget = data.stepBudget(outsideNorm: initialOutsideNorm(), initialDistance: initialDistance)
        var horizon = Double.infinity
        if isFlow {
            // The flow's budget is a time; its accepted steps are capped by max_steps.
            horizon = data.flowHorizon(outsideNorm: initialOutsideNorm(), initialDistance: initialDistance)
            budget = (training.maxSteps, false)
            flow = FlowState(layers: [first] + upperLayers(), horizon: horizon, initialStep: eta)
        }
        let initialLoss = loss()
        let initialGradient = gradientNorm()
        var diverged = !initialLoss.isFinite || !initialGradient.isFinite
        var tracker = OutcomeTracker(data: data, initialGradient: initialGradient)
        var gaps = LossGapFit(optimal: data.optimalLoss)
        let initialBalance = balanceGaps(layers())
        var iterations = 0
        var grow = true

        var log = TrajectoryLog(training)
        if log.isOn && !diverged { log.record(try trajectoryPoint(step: 0, initialGradient: initialGradient)) }
        if !diverged { tracker.check(self, step: 0) }

        if !(training.stopOnSuccess && tracker.hasConverged) && !diverged && budget.steps > 0 && horizon > 0 {
            for t in 1...budget.steps {
                let checks = t % training.checkEvery == 0 || t == budget.steps
                var measured: [Double]?  // ‖W_l‖² of the new weights, from the step's own pass
                if isFlow {
                    do { try flowStep() } catch { diverged = true; break }
                } else if adaptive {
                    grow = adaptiveStep(grow: grow)
                } else {
                    measured = step(measuringNorms: checks)
                }
                iterations = t
                let reachedHorizon = isFlow && time >= horizon
                if checks || reachedHorizon {
                    let norms = measured ?? upperSquaredNorms()
                    let current = loss(upperSquaredNorms: norms)
                    if !current.isFinite || current > 1e6 * max(initialLoss, .leastNormalMagnitude) {
                        diverged = true
                        break
                    }
                    gaps.record(time: time, loss: current)
                    tracker.check(self, step: t, upperSquaredNorms: norms)
                    if training.stopOnSuccess && tracker.hasConverged { break }
                }
                if log.wants(t) { log.record(try trajectoryPoint(step: t, initialGradient: initialGradient)) }
                if reachedHorizon { break }
            }
        }
        if isFlow {
            // The horizon reached is the budget used in full; short of it, max_steps cut it.
            let reached = time >= horizon
            budget = (reached ? iterations : training.maxSteps, !reached && iterations >= training.maxSteps)
        }
        if log.wantsLast(iterations), !diverged { log.record(try trajectoryPoint(step: iterations, initialGradient: initialGradient)) }
        let trajectory = log.points
        let seconds = Date().timeIntervalSince(started)
        var outcome = try finish(iterations: iterations, budget: budget, tracker: tracker, diverged: diverged,
                                 initialGradient: initialGradient, initialBalance: initialBalance, seconds: seconds,
                                 trajectory: trajectory)
        if !outcome.report.diverged { outcome.report.lossGapRate = gaps.rate() }
        return outcome
    }

    func finish(iterations: Int, budget: (steps: Int, capped: Bool), tracker: OutcomeTracker, diverged: Bool,
                initialGradient: Double, initialBalance: [Matrix], seconds: Double,
                trajectory: [TrajectoryPoint]) throws -> TrainingOutcome {
        var tracker = tracker
        let all = layers()
        let w = throughUpper(all[0])
        let levels = data.training.testNoise
        guard !diverged, w.isFinite else {
            let nan = Double.nan
            let report = RunReport(
                trainResidual: nan, reconstructionError: nan, offSubspaceError: nan, oracleDistance: nan,
                targetDistance: nan, gradientNorm: nan, oracleNorm: data.oracleNorm,
                testError: levels.map { _ in nan }, oracleTestError: levels.map { data.testError(data.oracle, sigma: $0) },
                balancedness: nan, effectiveRank: 0, iterations: iterations,
                convergedAt: nil, recoveredAt: nil, stationaryAt: nil,
                diverged: true, converged: false, recovered: false, stationary: false,
                stepBudget: budget.steps, budgetCapped: budget.capped, trainSeconds: seconds, trajectory: trajectory,
                flowTime: time, targetMethod: data.target.method, targetResidual: data.target.residual)
            return TrainingOutcome(report: report, weights: all)
        }
        let training = data.training
        let xNorm = max(data.problem.x.frobeniusNorm, .leastNormalMagnitude)
        let rec = reconstructionError()
        let off = data.offSubspace(w).frobeniusNorm
        let targetDistance = targetError(w) / data.oracleNorm
        let converged = targetDistance <= training.tolConv
        let recovered = rec <= tracker.reconstructionThreshold && off <= tracker.offSubspaceThreshold
        tracker.settle(converged: converged, recovered: recovered, at: iterations)
        let balance = balanceGaps(all)
        let values = try LAPACK.singularValues(w)
        let rank = values.first.map { s1 in s1 > 0 ? values.filter { $0 > training.rankTolerance * s1 }.count : 0 } ?? 0
        let residual = (w * data.y - data.problem.x).frobeniusNorm
        let report = RunReport(
            trainResidual: residual / xNorm,
            reconstructionError: rec,
            offSubspaceError: off,
            oracleDistance: (w - data.oracle).frobeniusNorm / data.oracleNorm,
            targetDistance: targetDistance,
            gradientNorm: gradientNorm() / max(initialGradient, .leastNormalMagnitude),
            oracleNorm: data.oracleNorm,
            testError: levels.map { data.testError(w, sigma: $0) },
            oracleTestError: levels.map { data.testError(data.oracle, sigma: $0) },
            balancedness: balance.reduce(0) { max($0, $1.frobeniusNorm) },
            effectiveRank: rank,
            iterations: iterations,
            convergedAt: tracker.convergedAt,
            recoveredAt: tracker.recoveredAt,
            stationaryAt: tracker.stationaryAt,
            diverged: false,
            converged: converged,
            recovered: recovered,
            stationary: tracker.stationaryAt != nil && !converged,
            stepBudget: budget.steps,
            budgetCapped: budget.capped,
            trainSeconds: seconds,
            trajectory: trajectory,
            flowTime: time,
            balancednessDrift: zip(balance, initialBalance).reduce(0) { max($0, ($1.0 - $1.1).frobeniusNorm) },
            bestRankGap: data.bestRankGap(squaredResidual: residual * residual, rank: rank),
            lossRatio: data.optimalLoss > 0 ? loss() / data.optimalLoss : nil,
            targetMethod: data.target.method,
            targetResidual: data.target.residual)
        return TrainingOutcome(report: report, weights: all)
    }
}

/// Which steps a run logs: every `logEvery` steps, or the log-spaced `LogSchedule` plus the
/// last step. Logging stops at the first point with a non-finite value (the run is diverging:
/// its report says so), so every logged point is finite.
struct TrajectoryLog {
    private let every: Int?
    private let density: Int?
    private var nextLogged = 0
    private var stopped = false
    private(set) var points: [TrajectoryPoint] = []

    init(_ training: TrainingSpec) {
        every = training.logEvery
        density = training.logDensity
    }

    var isOn: Bool { every != nil || density != nil }

    func wants(_ step: Int) -> Bool {
        guard !stopped else { return false }
        if let every { return step % every == 0 }
        return density != nil && step == nextLogged
    }

    /// The log-spaced schedule ends on the run's last step, wherever the run stopped.
    func wantsLast(_ step: Int) -> Bool {
        density != nil && !stopped && (points.last.map { $0.step < step } ?? true)
    }

    mutating func record(_ point: TrajectoryPoint) {
        guard point.isFinite else {
            stopped = true
            return
        }
        points.append(point)
        if let density { nextLogged = LogSchedule.next(after: point.step, density: density) }
    }
}
