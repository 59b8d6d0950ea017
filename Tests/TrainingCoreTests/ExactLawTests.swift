import Foundation
import LinearAlgebra
import Numerics
import Testing
import TrainingCore

/// The exact laws of MODEL.md that any correct implementation obeys.
@Suite struct ExactLawTests {
    @Test("W_1 P_perp decays exactly as (1 - eta lambda)^t", arguments: [GradientPath.reduced, .plain])
    func outsideComponentDecays(path: GradientPath) throws {
        let problem = try smallProblem()
        let net = model(depth: 3, width: 16)
        let start = try weights(for: problem, net)
        var training = TrainingSpec()
        training.lambda = 0.05
        training.eta = 0.01
        training.steps = 400
        training.path = path
        training.testNoise = []
        let outcome = try train(problem: problem, model: net, training: training, trainingSeed: 1, initialWeights: start)
        let projector = try outsideProjector(problem)
        let expected = pow(1 - 0.01 * 0.05, 400) * (start[0] * projector)
        let actual = outcome.weights[0] * projector
        #expect(relativeDifference(actual, expected) < 1e-12, "relative difference \(relativeDifference(actual, expected))")
        // And it really decayed (the law is not trivially satisfied by zeros).
        #expect(expected.frobeniusNorm > 0.1 * (start[0] * projector).frobeniusNorm)
    }

    @Test("the reduced and the plain path give the same iterates", arguments: [1, 2, 4])
    func reducedMatchesPlain(depth: Int) throws {
        let problem = try smallProblem()
        let net = model(depth: depth, width: 12)
        let start = try weights(for: problem, net)
        var training = TrainingSpec()
        training.lambda = 0.01
        training.noise = 0.05
        training.steps = 500
        training.testNoise = [0, 0.1]
        training.path = .reduced
        let reduced = try train(problem: problem, model: net, training: training, trainingSeed: 4, initialWeights: start)
        training.path = .plain
        let plain = try train(problem: problem, model: net, training: training, trainingSeed: 4, initialWeights: start)
        for (r, p) in zip(reduced.weights, plain.weights) {
            #expect(relativeDifference(r, p) < 1e-10, "relative difference \(relativeDifference(r, p))")
        }
        #expect((reduced.report.reconstructionError ?? .nan).isApproximatelyEqual(to: plain.report.reconstructionError ?? .nan, relativeTolerance: 1e-8))
        #expect((reduced.report.testError?[1] ?? .nan).isApproximatelyEqual(to: plain.report.testError?[1] ?? .nan, relativeTolerance: 1e-8))
    }

    /// With training noise rank(Y) = min(m, n): here 26 columns, four groups of the blocked
    /// kernels (more than the 16 for which gemm was never used) against the plain path's gemm.
    @Test("with noise and rank(Y) = 26 the reduced path's blocked kernels give the plain path's iterates")
    func reducedMatchesPlainAtFullRank() throws {
        let problem = try smallProblem(seed: 31, signalDim: 30, measurements: 26, latentDim: 3, samples: 40)
        let net = model(depth: 3, width: 37)
        let start = try weights(for: problem, net, seed: 32)
        var training = TrainingSpec()
        training.lambda = 0.01
        training.noise = 0.1
        training.steps = 300
        training.testNoise = [0]
        training.path = .reduced
        let reduced = try train(problem: problem, model: net, training: training, trainingSeed: 4, initialWeights: start)
        training.path = .plain
        let plain = try train(problem: problem, model: net, training: training, trainingSeed: 4, initialWeights: start)
        for (r, p) in zip(reduced.weights, plain.weights) {
            #expect(relativeDifference(r, p) < 1e-10, "relative difference \(relativeDifference(r, p))")
        }
        #expect(relativeDifference(reduced.weights[1], start[1]) > 1e-4, "the weights moved")
    }

    @Test("depth 1 with lambda > 0 converges to the ridge solution X Y^T (Y Y^T + lambda I)^-1")
    func depthOneIsRidge() throws {
        let problem = try smallProblem()
        let lambda = 0.5
        var training = TrainingSpec()
        training.lambda = lambda
        training.steps = 20_000
        training.etaScale = 0.9
        training.testNoise = []
        let outcome = try train(problem: problem, model: model(depth: 1, width: 1), training: training,
                                trainingSeed: 5)
        let y = problem.a * problem.x
        let gram = y * y.transposed + lambda * Matrix.identity(problem.measurements)
        // W (Y Yᵀ + λI) = X Yᵀ  ⇔  (Y Yᵀ + λI) Wᵀ = Y Xᵀ.
        let ridge = try LAPACK.solveSPD(gram, y * problem.x.transposed).transposed
        #expect(relativeDifference(outcome.weights[0], ridge) < 1e-9,
                "relative difference \(relativeDifference(outcome.weights[0], ridge))")
    }

    @Test("lambda = 0: test error at noise 0 goes to 0, the off-subspace error keeps its initial value")
    func noDecayKeepsOffSubspaceError() throws {
        let problem = try smallProblem()
        let net = model(depth: 1, width: 1)
        let start = try weights(for: problem, net)
        var training = TrainingSpec()
        training.lambda = 0
        training.steps = 20_000
        training.etaScale = 0.9
        training.testNoise = [0]
        let outcome = try train(problem: problem, model: net, training: training, trainingSeed: 6, initialWeights: start)
        let projector = try outsideProjector(problem)
        let initialOff = (start[0] * projector).frobeniusNorm
        #expect((outcome.report.testError?[0] ?? .nan) < 1e-8)
        #expect((outcome.report.offSubspaceError ?? .nan).isApproximatelyEqual(to: initialOff, relativeTolerance: 1e-10))
        #expect(initialOff > 0.5)
        #expect(!outcome.report.recovered, "the off-subspace error never falls below tol_off")
        #expect(outcome.report.converged, "gradient descent reaches the interpolant on range(U)")
    }

    @Test("the oracle reaches zero test error without noise and the network approaches it with weight decay")
    func oracleAndSuccess() throws {
        var spec = RunSpec()
        spec.run.problem.signalDim = 30
        spec.run.problem.measurements = 15
        spec.run.problem.latentDim = 3
        spec.run.problem.samples = 20
        spec.run.network.depth = 2
        spec.run.network.width = 20
        spec.run.training.lambda = 1
        spec.run.training.steps = 5000
        spec.run.training.stopOnSuccess = true
        spec.run.training.testNoise = [0, 0.1]
        let report = try runExperiment(spec)
        #expect((report.oracleTestError?[0] ?? .nan) < 1e-10)
        #expect(report.converged)
        let convergedAt = try #require(report.convergedAt)
        #expect(report.iterations == convergedAt)
        #expect(report.targetDistance <= 1e-3)
        #expect((report.testError?[1] ?? .nan) > (report.testError?[0] ?? .nan))
    }

    @Test("a run is a pure function of its spec")
    func deterministic() throws {
        var spec = RunSpec()
        spec.run.problem.signalDim = 20
        spec.run.problem.measurements = 10
        spec.run.problem.latentDim = 2
        spec.run.problem.samples = 10
        spec.run.network.depth = 3
        spec.run.network.width = 8
        spec.run.training.steps = 300
        spec.run.training.noise = 0.1
        var first = try runExperiment(spec)
        var second = try runExperiment(spec)
        first.trainSeconds = 0
        second.trainSeconds = 0
        #expect(first == second)
        spec.seeds.training += 1
        var third = try runExperiment(spec)
        third.trainSeconds = 0
        #expect(third != first)
    }

    @Test("balanced initialization is balanced; the balancedness metric sees it")
    func balancedInit() throws {
        let problem = try smallProblem()
        let net = model(depth: 4, width: 12, scheme: .balanced)
        let start = try weights(for: problem, net)
        for l in 0..<(start.count - 1) {
            let gap = start[l + 1].transposed * start[l + 1] - start[l] * start[l].transposed
            #expect(gap.frobeniusNorm < 1e-12)
        }
        var training = TrainingSpec()
        training.steps = 0
        let report = try train(problem: problem, model: net, training: training, trainingSeed: 1, initialWeights: start).report
        #expect((report.balancedness ?? .nan) < 1e-12)
        let kaiming = try train(problem: problem, model: model(depth: 4, width: 12), training: training, trainingSeed: 1).report
        #expect((kaiming.balancedness ?? .nan) > 0.1)
    }

    @Test("a huge step size diverges and is reported as such")
    func divergence() throws {
        let problem = try smallProblem()
        var training = TrainingSpec()
        training.eta = 10
        training.steps = 500
        let report = try train(problem: problem, model: model(depth: 3, width: 8), training: training, trainingSeed: 1).report
        #expect(report.diverged)
        #expect(!report.converged && !report.recovered)
        #expect(report.iterations < 500)
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
