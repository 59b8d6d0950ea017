import Foundation
import ResultsStore
import SweepConfig
import TrainingCore

/// A results folder written through the store's public API with made-up reports, for tests of
/// what reads a folder (report, runs, status): the figures are known, and no run trains.
/// - Parameter report: the report of a task, or nil to record it as failed.
@discardableResult
func writeSyntheticStore(directory: URL, yaml: String, tasks: Range<Int>? = nil, storedSweep: Bool = false,
                         report: (SweepTask) -> RunReport?) throws -> SweepPlan {
    let configuration = try SweepConfiguration.parse(yaml: yaml, fileName: "synthetic.yaml", storedSweep: storedSweep)
    let plan = SweepPlan(configuration)
    let store = try ResultsStore.open(directory: directory.path, plan: plan, configuration: configuration)
    let outcomes = (tasks ?? 0..<plan.taskCount).map { id in
        let task = plan.task(id)
        let result: RecordedResult = report(task).map { .report($0) } ?? .failed(reason: "synthetic failure of task \(id)")
        return TaskOutcome(task: task, attempt: 1, workerID: "w\(id % 2)", host: id % 2 == 0 ? "node-a" : "node-b",
                           startedAt: Date(timeIntervalSince1970: 1_700_000_000 + Double(id)),
                           finishedAt: Date(timeIntervalSince1970: 1_700_000_001 + Double(id)), result: result)
    }
    try store.record(outcomes)
    return plan
}

/// A deep linear network's report with the given test errors (one per test noise level).
func syntheticReport(converged: Bool, testError: [Double], oracleTestError: [Double],
                     trajectory: [TrajectoryPoint] = [], targetDistance: Double = 1e-3) -> RunReport {
    RunReport(trainResidual: 1e-6, reconstructionError: 0.01, offSubspaceError: 0.001, oracleDistance: 0.1,
              targetDistance: targetDistance, gradientNorm: 1e-7, oracleNorm: 1, testError: testError,
              oracleTestError: oracleTestError, balancedness: 1e-3, effectiveRank: 2, iterations: 1000,
              convergedAt: converged ? 900 : nil, recoveredAt: 800, stationaryAt: nil, diverged: false,
              converged: converged, recovered: true, stationary: false, stepBudget: 1000, budgetCapped: false,
              trainSeconds: 0.5, trajectory: trajectory)
}

/// A log-spaced trajectory falling from 1 to about 1e-6 over `steps` steps.
func syntheticTrajectory(steps: Int) -> [TrajectoryPoint] {
    var points: [TrajectoryPoint] = []
    var step = 0
    while step <= steps {
        let t = Double(step) / Double(steps)
        let value = pow(10, -6 * t)
        points.append(TrajectoryPoint(step: step, loss: value, trainResidual: value, reconstructionError: value * 2,
                                      offSubspaceError: value / 2, targetDistance: value, gradientNorm: value,
                                      balancedness: 1e-3, lossGap: value * value))
        step = LogSchedule.next(after: step, density: 4)
    }
    return points
}
