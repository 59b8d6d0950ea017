import Foundation
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

/// The `trajectories` table: written with the task's row, read back exactly.
@Suite struct TrajectoryStoreTests {
    static func points(_ count: Int, singular: Bool) -> [TrajectoryPoint] {
        LogSchedule.steps(through: 10_000, density: 4).prefix(count).map { step in
            let x = Double(step + 1)
            return TrajectoryPoint(step: step, loss: 1 / x, trainResidual: 0.5 / x, reconstructionError: 0.1 / x.squareRoot(),
                                   offSubspaceError: 1e-17 * x, targetDistance: 1 / (x * x), gradientNorm: 0.3 / x,
                                   balancedness: 0.01, flowTime: nil, singularValues: singular ? [2 / x, 1 / x] : [],
                                   lossGap: 0.9 / x)
        }
    }

    @Test("every value of every point comes back bit for bit, in task order; a repeated task keeps the first")
    func roundTrip() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        var a = report(seed: 1), b = report(seed: 2), plain = report(seed: 3)
        a.trajectory = Self.points(40, singular: true)
        b.trajectory = Self.points(7, singular: false)
        plain.trajectory = []
        try store.record([outcome(plan, 6, result: .report(b)), outcome(plan, 2, result: .report(a)),
                          outcome(plan, 3, result: .report(plain))])
        var again = b
        again.trajectory = Self.points(3, singular: false)
        #expect(try store.record(outcome(plan, 6, result: .report(again))) == false)

        let reader = try ResultsStore.openExisting(directory: directory).0
        let (found, total) = try reader.trajectories(limit: 10)
        #expect(total == 2)
        #expect(found == [StoredTrajectory(taskID: 2, points: a.trajectory), StoredTrajectory(taskID: 6, points: b.trajectory)])
        #expect(try reader.trajectories(limit: 1).trajectories.map(\.taskID) == [2])
    }

    @Test("a point that is not finite is refused with the task, and nothing of the batch is written")
    func nonFiniteRefused() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        var bad = report(seed: 1)
        bad.trajectory = Self.points(5, singular: false)
        bad.trajectory[3].lossGap = .nan
        #expect(throws: ResultsStoreError.malformedOutcome(taskID: 4, reason: "a trajectory point is not finite")) {
            try store.record([outcome(plan, 1, result: .report(report(seed: 2))), outcome(plan, 4, result: .report(bad))])
        }
        #expect(try store.count() == 0)
        #expect(try store.trajectories(limit: 10).total == 0)
    }
}
