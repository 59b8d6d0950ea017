import Foundation
import LinearAlgebra
import Numerics
import Testing
import TrainingCore

/// The log-spaced trajectory of a sampled run (`logDensity`).
@Suite struct TrajectoryTests {
    @Test("the schedule: every step up to the density, then growing by a factor of about 1 + 1/density")
    func schedule() {
        #expect(LogSchedule.steps(through: 30, density: 4) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 22, 27])
        #expect(LogSchedule.steps(through: 0, density: 4) == [0])
        #expect(LogSchedule.steps(through: 5, density: 1) == [0, 1, 2, 4])
        // About 2.3 density + 1 points per decade: a million steps in a few dozen points.
        let million = LogSchedule.steps(through: 1_000_000, density: 4)
        #expect(million.count > 50 && million.count < 70, "\(million.count)")
        for (a, b) in zip(million.dropFirst(8), million.dropFirst(9)) {
            #expect(Double(b) / Double(a) <= 1.25 + 1e-12 && Double(b) / Double(a) >= 1.2 - 1e-12)
        }
    }

    @Test("a run logs the scheduled steps and its last step; the last point is the report's final state")
    func runLogsTheSchedule() throws {
        let problem = try smallProblem()
        var training = TrainingSpec()
        training.lambda = 0.1
        training.steps = 700
        training.testNoise = []
        training.logDensity = 4
        let report = try train(problem: problem, model: model(depth: 3, width: 12), training: training,
                               trainingSeed: 3).report
        let steps = report.trajectory.map(\.step)
        #expect(report.iterations == 700)
        #expect(steps == LogSchedule.steps(through: 700, density: 4) + [700])
        let last = try #require(report.trajectory.last)
        #expect(last.targetDistance.isApproximatelyEqual(to: report.targetDistance, relativeTolerance: 1e-12))
        #expect(last.reconstructionError.isApproximatelyEqual(to: report.reconstructionError ?? .nan, relativeTolerance: 1e-12))
        #expect(report.trajectory.allSatisfy { $0.isFinite && ($0.lossGap ?? -1) >= 0 })
        // The gap is F − F* with one F* for the whole run, and it shrinks.
        let optimum = report.trajectory.map { $0.loss - ($0.lossGap ?? .nan) }
        for value in optimum { #expect(value.isApproximatelyEqual(to: optimum[0], relativeTolerance: 1e-12)) }
        #expect(report.trajectory.last!.lossGap! < 0.1 * report.trajectory.first!.lossGap!)
        // Logging reads the state without disturbing it: the same run unlogged ends identically.
        training.logDensity = nil
        let plain = try train(problem: problem, model: model(depth: 3, width: 12), training: training, trainingSeed: 3).report
        #expect(plain.trajectory.isEmpty)
        #expect(plain.targetDistance == report.targetDistance && plain.trainResidual == report.trainResidual)
    }

    @Test("a run stopped on success ends its trajectory where it stopped")
    func stopOnSuccessEndsThere() throws {
        let problem = try smallProblem()
        var training = TrainingSpec()
        training.lambda = 0.5
        training.steps = .auto
        training.stopOnSuccess = true
        training.testNoise = []
        training.logDensity = 2
        let report = try train(problem: problem, model: model(depth: 2, width: 10), training: training,
                               trainingSeed: 1).report
        #expect(report.converged)
        #expect(report.trajectory.last?.step == report.iterations)
        #expect(report.trajectory.dropLast().map(\.step) == LogSchedule.steps(through: report.iterations - 1, density: 2))
    }

    @Test("log_every and log_density exclude each other")
    func exclusive() {
        var spec = RunSpec()
        spec.run.training.logEvery = 10
        spec.run.training.logDensity = 4
        #expect(throws: TrainingError("log_every and log_density exclude each other")) { try spec.validate() }
        spec.run.training.logEvery = nil
        spec.run.training.logDensity = 0
        #expect(throws: TrainingError("log_density must be at least 1, got 0")) { try spec.validate() }
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
