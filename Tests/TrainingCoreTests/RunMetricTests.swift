import Foundation
import LinearAlgebra
import Numerics
import Testing
import TrainingCore

/// The loss-gap rate and the balancedness drift of a report.
@Suite struct RunMetricTests {
    @Test("depth 1: the loss gap falls at -2 ln(1 - eta lambda) / eta per unit time, the rate of the off-range part")
    func ridgeGapRate() throws {
        let problem = try smallProblem()
        let lambda = 0.5
        var training = TrainingSpec()
        training.lambda = lambda
        training.steps = 3000
        training.etaScale = 0.9
        training.testNoise = []
        let outcome = try train(problem: problem, model: model(depth: 1, width: 1), training: training, trainingSeed: 5)
        let y = problem.a * problem.x
        let sMax = try LAPACK.singularValues(y)[0]
        let eta = 0.9 / (sMax * sMax)
        let expected = -2 * log(1 - eta * lambda) / eta
        let rate = try #require(outcome.report.lossGapRate)
        #expect(rate.isApproximatelyEqual(to: expected, relativeTolerance: 1e-3), "rate \(rate), expected \(expected)")
    }

    @Test("heavy-ball's loss gap falls faster than gradient descent's at the same eta")
    func heavyBallRateIsFaster() throws {
        let problem = try smallProblem()
        var training = TrainingSpec()
        training.lambda = 0.5
        training.steps = 4000
        training.eta = 0.002
        training.testNoise = []
        let net = model(depth: 2, width: 12)
        let start = try weights(for: problem, net)
        let gd = try train(problem: problem, model: net, training: training, trainingSeed: 1, initialWeights: start)
        training.optimizer = .heavyBall(alpha: 2 * training.lambda.squareRoot(), stepRule: .fixed)  // critical damping of the weight-decay mode
        let heavy = try train(problem: problem, model: net, training: training, trainingSeed: 1, initialWeights: start)
        #expect(!gd.report.diverged && !heavy.report.diverged)
        let gdRate = try #require(gd.report.lossGapRate), heavyRate = try #require(heavy.report.lossGapRate)
        #expect(heavyRate > 3 * gdRate, "heavy-ball \(heavyRate), gd \(gdRate)")
    }

    @Test("balancedness drift is max_l ||B_l(T) - B_l(0)||, and zero-free only when the layers move")
    func balancednessDrift() throws {
        let problem = try smallProblem()
        let net = model(depth: 3, width: 10)
        let start = try weights(for: problem, net)
        var training = TrainingSpec()
        training.lambda = 0.05
        training.steps = 300
        training.eta = 0.01
        training.testNoise = []
        let outcome = try train(problem: problem, model: net, training: training, trainingSeed: 1, initialWeights: start)
        func gaps(_ w: [Matrix]) -> [Matrix] {
            (0..<(w.count - 1)).map { w[$0 + 1].transposed * w[$0 + 1] - w[$0] * w[$0].transposed }
        }
        let expected = zip(gaps(outcome.weights), gaps(start)).map { ($0 - $1).frobeniusNorm }.max() ?? 0
        #expect(expected > 1e-3)
        #expect(try #require(outcome.report.balancednessDrift).isApproximatelyEqual(to: expected, relativeTolerance: 1e-10))
        training.steps = 0
        let still = try train(problem: problem, model: net, training: training, trainingSeed: 1, initialWeights: start)
        #expect(still.report.balancednessDrift == 0)
    }
}
