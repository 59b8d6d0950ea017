import Foundation
import LinearAlgebra
import Numerics
import Testing
import TrainingCore

/// `optimizer: flow` (Dormand–Prince on θ' = −∇F), the adaptive step rule and the best rank-k gap.
@Suite struct FlowTests {
    func spec(_ optimizer: OptimizerKind, lambda: Double, eta: Double, steps: Int, path: GradientPath = .reduced) -> TrainingSpec {
        var training = TrainingSpec()
        training.optimizer = TrainingCoreTests.optimizer(optimizer)
        training.lambda = lambda
        training.eta = eta
        training.steps = .fixed(steps)
        training.path = path
        training.testNoise = []
        return training
    }

    func flowSpec(lambda: Double, time: Double, tolerance: Double = 1e-11, path: GradientPath = .reduced) -> TrainingSpec {
        var training = spec(.flow, lambda: lambda, eta: 0.01, steps: 1, path: path)
        training.optimizer = .flow(FlowControl(rtol: tolerance, atol: tolerance, horizon: time))
        return training
    }

    func distance(_ a: [Matrix], _ b: [Matrix]) -> Double {
        zip(a, b).reduce(0) { $0 + BLAS.squaredNorm($1.0 - $1.1) }.squareRoot()
    }

    @Test("gradient descent at eta tends to the flow at the same time, the error falling linearly in eta",
          arguments: [GradientPath.reduced, .plain])
    func gdTendsToFlow(path: GradientPath) throws {
        let problem = try smallProblem()
        let net = model(depth: 3, width: 12)
        let start = try weights(for: problem, net)
        let time = 1.0, lambda = 0.1
        let flow = try train(problem: problem, model: net, training: flowSpec(lambda: lambda, time: time, path: path),
                             trainingSeed: 1, initialWeights: start)
        let reached = try #require(flow.report.flowTime)
        #expect(reached.isApproximatelyEqual(to: time, relativeTolerance: 1e-14))
        var errors: [Double] = []
        for steps in [1000, 2000, 4000] {
            let gd = try train(problem: problem, model: net, training: spec(.gd, lambda: lambda, eta: time / Double(steps), steps: steps, path: path),
                               trainingSeed: 1, initialWeights: start)
            errors.append(distance(gd.weights, flow.weights))
        }
        // The flow moved the weights far more than the error of the coarsest GD (the check is not vacuous).
        #expect(distance(flow.weights, start) > 20 * errors[0])
        for i in 0..<2 {
            let ratio = errors[i] / errors[i + 1]
            #expect(ratio > 1.9 && ratio < 2.1, "error(eta) / error(eta/2) = \(ratio); errors \(errors)")
        }
    }

    @Test("the flow conserves balancedness without weight decay, and B_l(t) = e^(-2 lambda t) B_l(0) with it",
          arguments: [0.0, 0.3])
    func balancednessLaw(lambda: Double) throws {
        let problem = try smallProblem()
        let net = model(depth: 4, width: 10)
        let start = try weights(for: problem, net)
        let time = 3.0
        let flow = try train(problem: problem, model: net, training: flowSpec(lambda: lambda, time: time, tolerance: 1e-10),
                             trainingSeed: 1, initialWeights: start)
        func gaps(_ w: [Matrix]) -> [Matrix] {
            (0..<(w.count - 1)).map { w[$0 + 1].transposed * w[$0 + 1] - w[$0] * w[$0].transposed }
        }
        let factor = exp(-2 * lambda * time)
        let initial = gaps(start), final = gaps(flow.weights)
        let scale = initial.map(\.frobeniusNorm).max() ?? 0
        let law = zip(final, initial).map { ($0 - factor * $1).frobeniusNorm }.max() ?? .infinity
        #expect(law < 1e-7 * scale, "deviation from the law \(law), scale \(scale)")
        // The layers did move: each W_l W_lᵀ changed by far more than the deviation.
        #expect(relativeDifference(flow.weights[1], start[1]) > 0.05)
        if lambda == 0 {
            let drift = try #require(flow.report.balancednessDrift)
            #expect(drift < 1e-7 * scale)
            // Gradient descent at a visible step does not conserve it.
            let gd = try train(problem: problem, model: net, training: spec(.gd, lambda: 0, eta: 0.02, steps: 150),
                               trainingSeed: 1, initialWeights: start)
            #expect(try #require(gd.report.balancednessDrift) > 1e3 * drift)
        }
    }

    @Test("the flow's outcomes: a converged run stops at its first hit; a short horizon ends as budget")
    func flowOutcomes() throws {
        let problem = try smallProblem()
        let net = model(depth: 2, width: 12)
        var training = flowSpec(lambda: 0.2, time: 400, tolerance: 1e-9)
        training.stopOnSuccess = true
        let long = try train(problem: problem, model: net, training: training, trainingSeed: 4)
        #expect(long.report.converged)
        #expect(long.report.convergedAt == long.report.iterations)
        #expect(try #require(long.report.flowTime) < 400)
        training.optimizer = .flow(FlowControl(rtol: 1e-9, atol: 1e-9, horizon: 0.05))
        let short = try train(problem: problem, model: net, training: training, trainingSeed: 4)
        #expect(!short.report.converged && !short.report.diverged)
        #expect(short.report.exhaustedBudget)
        #expect(short.report.stepBudget == short.report.iterations)
        #expect(try #require(short.report.flowTime).isApproximatelyEqual(to: 0.05, relativeTolerance: 1e-14))
    }

    @Test("the best rank-k gap is zero at the global minimum and positive away from it")
    func bestRankGap() throws {
        let problem = try smallProblem(samples: 30)
        // Depth 1 without weight decay converges to X Y⁺, a global minimum of the data term.
        var training = spec(.gd, lambda: 0, eta: 0, steps: 20_000)
        training.eta = nil
        training.etaScale = 0.9
        let end = try train(problem: problem, model: model(depth: 1, width: 1), training: training, trainingSeed: 2)
        #expect(end.report.targetDistance < 1e-8)
        let gap = try #require(end.report.bestRankGap)
        #expect(abs(gap) < 1e-10, "gap \(gap) at rank \(end.report.effectiveRank)")
        training.steps = 0
        let start = try train(problem: problem, model: model(depth: 1, width: 1), training: training, trainingSeed: 2)
        #expect(try #require(start.report.bestRankGap) > 1e-2)
        // A deep network started small and stopped early: rank 2 by then, above the best rank-2 loss.
        var early = spec(.gd, lambda: 0, eta: 0.01, steps: 30)
        early.rankTolerance = 1e-2
        let deep = try train(problem: problem, model: model(depth: 3, width: 10, scale: 0.3), training: early, trainingSeed: 2)
        #expect(try #require(deep.report.bestRankGap) > 1e-3)
    }

    @Test("step_rule adaptive never raises F, and takes larger steps than the fixed rule",
          arguments: [OptimizerKind.gd, .heavyBall, .inertial])
    func adaptiveIsMonotone(optimizer: OptimizerKind) throws {
        let problem = try smallProblem()
        let net = model(depth: 3, width: 12)
        let start = try weights(for: problem, net)
        var training = spec(optimizer, lambda: 0.05, eta: 0.005, steps: 300)
        training.optimizer = TrainingCoreTests.optimizer(optimizer, alpha: 3, beta: 0.02, stepRule: .adaptive)
        training.logEvery = 1
        let run = try train(problem: problem, model: net, training: training, trainingSeed: 1, initialWeights: start)
        let losses = run.report.trajectory.map(\.loss)
        #expect(losses.count == 301)
        for (a, b) in zip(losses, losses.dropFirst()) {
            #expect(b <= a + 8 * .ulpOfOne * abs(a), "F rose from \(a) to \(b)")
        }
        #expect(try #require(run.report.flowTime) > 2 * 0.005 * 300)
    }

    @Test("flow refuses an adaptive step rule (at the settings: the spec has no place for one) and bad tolerances, naming the key")
    func validation() throws {
        var settings = RunSettings()
        settings.optimizer = .flow
        settings.stepRule = .adaptive
        #expect(throws: SettingError.self) { try settings.spec() }
        settings.stepRule = .fixed  // the default spelled out: accepted
        #expect(try settings.spec().model.record.training.optimizer == .flow(FlowControl()))
        var spec = RunSpec()
        spec.run.training.optimizer = .flow(FlowControl(rtol: 0))
        do { try spec.validate(); Issue.record("flow_rtol 0 accepted") } catch { #expect(error.message.hasPrefix("flow_rtol")) }
        spec.run.training.optimizer = .flow(FlowControl(horizon: -1))
        do { try spec.validate(); Issue.record("flow_time -1 accepted") } catch { #expect(error.message.hasPrefix("flow_time")) }
    }
}

extension RunSpec {
    /// The deep linear run these tests build and change (`model.record`; setting it makes the
    /// spec a deep linear one).
    fileprivate var run: DeepLinearSpec {
        get { model.record }
        set { model = .deepLinear(newValue) }
    }
}
