import Foundation
import LinearAlgebra
import Numerics
import Testing
import TrainingCore

/// `heavy-ball` and `inertial` (MODEL.md §2): the update as written, on both paths.
@Suite struct InertialTests {
    /// beta h λ_max(∇²F) stays well inside the stability region of the update (GD is stable at this eta).
    static let eta = 0.01, lambda = 0.05, alpha = 2.0, beta = 0.02

    func spec(_ optimizer: OptimizerKind, path: GradientPath, steps: Int, beta: Double = beta) -> TrainingSpec {
        var training = TrainingSpec()
        training.optimizer = TrainingCoreTests.optimizer(optimizer, alpha: Self.alpha, beta: beta)
        training.lambda = Self.lambda
        training.eta = Self.eta
        training.steps = .fixed(steps)
        training.path = path
        training.testNoise = []
        return training
    }

    @Test("heavy-ball equals inertial with beta = 0, exactly", arguments: [GradientPath.reduced, .plain])
    func heavyBallIsInertialWithoutHessianDamping(path: GradientPath) throws {
        let problem = try smallProblem()
        let net = model(depth: 3, width: 16)
        let start = try weights(for: problem, net)
        let heavy = try train(problem: problem, model: net, training: spec(.heavyBall, path: path, steps: 300),
                              trainingSeed: 1, initialWeights: start)
        let inertialZero = try train(problem: problem, model: net, training: spec(.inertial, path: path, steps: 300, beta: 0),
                                     trainingSeed: 1, initialWeights: start)
        let inertial = try train(problem: problem, model: net, training: spec(.inertial, path: path, steps: 300),
                                 trainingSeed: 1, initialWeights: start)
        for (h, i) in zip(heavy.weights, inertialZero.weights) { #expect(h == i) }
        // β > 0 does change the iterates (the equality above is not vacuous).
        #expect(relativeDifference(inertial.weights[1], heavy.weights[1]) > 1e-6)
    }

    /// gd's checks take ‖W_l‖² from the step's own pass over W (the kernels sum the squares of
    /// the new weights); heavy-ball's read the weights again. At α = 1/h heavy-ball's update is
    /// gd's, so the losses the checks see, and the rate fitted to them, must agree (norms off by
    /// one part in a thousand move the rate by 1.4%; `ThinKernelTests` checks the sums exactly).
    /// At width 128, gd keeps the weight decay of W_2 and W_3 (128 × 128) in a scale per layer
    /// (GradientStep.swift, `upperScale`); heavy-ball keeps it in the weights. Every metric a check
    /// or the report reads must see the same network.
    @Test("gd's checks, with the norms its step measures, see the losses heavy-ball's see at alpha = 1/h",
          arguments: [(16, eta), (128, 0.002)])  // the wider network needs a smaller step
    func checksReadTheStepsNorms(width: Int, eta: Double) throws {
        let problem = try smallProblem()
        let net = model(depth: 4, width: width)
        let start = try weights(for: problem, net)
        var gd = spec(.gd, path: .reduced, steps: 3000)
        gd.optimizer = TrainingCoreTests.optimizer(.gd)
        gd.lambda = 0.5  // converges within the steps: the gap falls over decades
        gd.eta = eta
        gd.logEvery = 500
        var heavy = gd
        heavy.optimizer = TrainingCoreTests.optimizer(.heavyBall, alpha: 1 / eta.squareRoot())
        let a = try train(problem: problem, model: net, training: gd, trainingSeed: 1, initialWeights: start)
        let b = try train(problem: problem, model: net, training: heavy, trainingSeed: 1, initialWeights: start)
        for (x, y) in zip(a.weights, b.weights) { #expect(relativeDifference(x, y) < 1e-10) }
        let rateA = try #require(a.report.lossGapRate), rateB = try #require(b.report.lossGapRate)
        #expect(rateA > 0)
        #expect(rateA.isApproximatelyEqual(to: rateB, relativeTolerance: 1e-6), "\(rateA) against \(rateB)")
        #expect(a.report.trajectory.count == 7)
        for (p, q) in zip(a.report.trajectory, b.report.trajectory) {
            #expect(p.loss.isApproximatelyEqual(to: q.loss, relativeTolerance: 1e-10), "step \(p.step)")
            #expect(p.gradientNorm.isApproximatelyEqual(to: q.gradientNorm, relativeTolerance: 1e-6), "step \(p.step)")
            #expect(p.reconstructionError.isApproximatelyEqual(to: q.reconstructionError, relativeTolerance: 1e-8))
            #expect(p.balancedness.isApproximatelyEqual(to: q.balancedness, absoluteTolerance: 1e-10,
                                                        relativeTolerance: 1e-6))
        }
        #expect(a.report.gradientNorm.isApproximatelyEqual(to: b.report.gradientNorm, relativeTolerance: 1e-6))
        let balanced = try #require(a.report.balancedness), heavyBalanced = try #require(b.report.balancedness)
        #expect(balanced.isApproximatelyEqual(to: heavyBalanced, absoluteTolerance: 1e-10, relativeTolerance: 1e-6))
    }

    @Test("the reduced and the plain path give the same iterates",
          arguments: [OptimizerKind.heavyBall, .inertial], [1, 3])
    func reducedMatchesPlain(optimizer: OptimizerKind, depth: Int) throws {
        let problem = try smallProblem()
        let net = model(depth: depth, width: 12)
        let start = try weights(for: problem, net)
        var training = spec(optimizer, path: .reduced, steps: 400)
        training.noise = 0.05
        let reduced = try train(problem: problem, model: net, training: training, trainingSeed: 4, initialWeights: start)
        training.path = .plain
        let plain = try train(problem: problem, model: net, training: training, trainingSeed: 4, initialWeights: start)
        for (r, p) in zip(reduced.weights, plain.weights) {
            #expect(relativeDifference(r, p) < 1e-10, "relative difference \(relativeDifference(r, p))")
        }
        #expect(reduced.report.gradientNorm.isApproximatelyEqual(to: plain.report.gradientNorm, relativeTolerance: 1e-8))
    }

    /// `c_{k+1} = (1 + μ) c_k − μ c_{k−1} − (βh + h²) λ c_k + βh λ c_{k−1}`, c_{−1} = c_0 = 1.
    static func outsideFactor(steps: Int, beta: Double) -> Double {
        let h = eta.squareRoot(), mu = 1 - alpha * h, b = beta * h
        var previous = 1.0, c = 1.0
        for _ in 0..<steps {
            (previous, c) = (c, (1 + mu) * c - mu * previous - (b + eta) * lambda * c + b * lambda * previous)
        }
        return c
    }

    @Test("W_1 P_perp follows the momentum's scalar recurrence exactly",
          arguments: [OptimizerKind.heavyBall, .inertial], [GradientPath.reduced, .plain])
    func outsideComponentFollowsRecurrence(optimizer: OptimizerKind, path: GradientPath) throws {
        let problem = try smallProblem()
        let net = model(depth: 3, width: 16)
        let start = try weights(for: problem, net)
        let steps = 400
        let outcome = try train(problem: problem, model: net, training: spec(optimizer, path: path, steps: steps),
                                trainingSeed: 1, initialWeights: start)
        let factor = Self.outsideFactor(steps: steps, beta: optimizer == .inertial ? Self.beta : 0)
        let projector = try outsideProjector(problem)
        let initial = start[0] * projector
        let actual = outcome.weights[0] * projector
        #expect(relativeDifference(actual, factor * initial) < 1e-12,
                "relative difference \(relativeDifference(actual, factor * initial))")
        // Not the gradient-descent law, and not decayed to nothing.
        let gd = pow(1 - Self.eta * Self.lambda, Double(steps))
        #expect(abs(factor - gd) > 0.05 * gd)
        #expect(factor > 0.05)
    }

    @Test("plain inertial matches the update written out with matrices (depth 2)")
    func matchesWrittenOutUpdate() throws {
        let problem = try smallProblem()
        let net = model(depth: 2, width: 8)
        let start = try weights(for: problem, net)
        let steps = 60
        let outcome = try train(problem: problem, model: net, training: spec(.inertial, path: .plain, steps: steps),
                                trainingSeed: 1, initialWeights: start)
        let y = problem.a * problem.x
        let h = Self.eta.squareRoot(), mu = 1 - Self.alpha * h, b = Self.beta * h
        func gradients(_ w: [Matrix]) -> [Matrix] {
            let residual: Matrix = w[1] * w[0] * y - problem.x
            let g: Matrix = residual * y.transposed
            let g1: Matrix = w[1].transposed * g + Self.lambda * w[0]
            let g2: Matrix = g * w[0].transposed + Self.lambda * w[1]
            return [g1, g2]
        }
        var previous = start, current = start
        var previousGradient = gradients(start)
        for _ in 0..<steps {
            let g = gradients(current)
            let next = (0..<2).map { (l: Int) -> Matrix in
                let velocity: Matrix = mu * (current[l] - previous[l])
                let damping: Matrix = b * (g[l] - previousGradient[l])
                let step: Matrix = Self.eta * g[l]
                return current[l] + velocity - damping - step
            }
            (previous, current, previousGradient) = (current, next, g)
        }
        for (actual, expected) in zip(outcome.weights, current) {
            #expect(relativeDifference(actual, expected) < 1e-10, "relative difference \(relativeDifference(actual, expected))")
        }
    }

    @Test("heavy-ball converges to W*_lambda, first hit on the reduced path (predicted checks) as on the plain one")
    func heavyBallConverges() throws {
        let problem = try smallProblem()
        var training = TrainingSpec()
        training.optimizer = .heavyBall(alpha: 1, stepRule: .fixed)
        training.lambda = 0.01
        training.steps = .auto
        training.stopOnSuccess = true
        training.testNoise = []
        let net = model(depth: 2, width: 12)
        let start = try weights(for: problem, net)
        var reports: [RunReport] = []
        for path in [GradientPath.reduced, .plain] {
            training.path = path
            let report = try train(problem: problem, model: net, training: training, trainingSeed: 3, initialWeights: start).report
            #expect(report.converged)
            #expect(report.targetDistance <= training.tolConv)
            #expect(report.convergedAt == report.iterations)
            #expect(!report.budgetCapped)
            reports.append(report)
        }
        #expect(reports[0].convergedAt == reports[1].convergedAt)
        #expect(reports[0].recoveredAt == reports[1].recoveredAt)
    }

    @Test("alpha h above 1 is refused with the reason")
    func negativeMomentumRefused() throws {
        let problem = try smallProblem()
        var training = spec(.heavyBall, path: .reduced, steps: 10)
        training.optimizer = .heavyBall(alpha: 20, stepRule: .fixed)  // h = 0.1
        #expect {
            _ = try train(problem: problem, model: model(depth: 2, width: 8), training: training, trainingSeed: 1)
        } throws: { error in
            "\(error)".hasPrefix("alpha * h = 2")
        }
    }
}
