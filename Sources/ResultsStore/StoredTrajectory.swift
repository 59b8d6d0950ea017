import Foundation
import GRDB
public import TrainingCore

/// The trajectory of one sampled run (`trajectories:` in the config), as the store keeps it:
/// table `trajectories (task_id INTEGER PRIMARY KEY, points TEXT)`, `points` a JSON object of
/// columns (`{"step": [...], "loss": [...], ...}`; a column a worker did not report is absent),
/// written in the same transaction as the task's row.
public struct StoredTrajectory: Sendable, Hashable {
    public var taskID: Int
    public var points: [TrajectoryPoint]

    public init(taskID: Int, points: [TrajectoryPoint]) {
        self.taskID = taskID
        self.points = points
    }

    static func createTable(_ db: Database) throws {
        try db.execute(sql: "CREATE TABLE trajectories (task_id INTEGER PRIMARY KEY, points TEXT NOT NULL)")
    }

    static let insertSQL = "INSERT OR IGNORE INTO trajectories (task_id, points) VALUES (?, ?)"

    /// The row of the trajectory of task `taskID`'s report; nil without one. Every value must be finite (the
    /// coordinator checked the ranges; the store refuses what JSON could not hold).
    static func insertArguments(taskID: Int, report: RunReport) throws -> StatementArguments? {
        guard !report.trajectory.isEmpty else { return nil }
        guard report.trajectory.allSatisfy(\.isFinite) else {
            throw ResultsStoreError.malformedOutcome(taskID: taskID, reason: "a trajectory point is not finite")
        }
        let data = try JSONEncoder().encode(Columns(report.trajectory))
        return [taskID, String(decoding: data, as: UTF8.self)]
    }

    /// The stored form: one array per metric, so a point costs its numbers, not its key names.
    struct Columns: Codable {
        var step: [Int]
        var loss, trainResidual, reconstructionError, offSubspaceError, targetDistance, gradientNorm,
            balancedness: [Double]
        var lossGap: [Double]?
        var flowTime: [Double]?
        var singularValues: [[Double]]?

        init(_ points: [TrajectoryPoint]) {
            step = points.map(\.step)
            loss = points.map(\.loss)
            trainResidual = points.map(\.trainResidual)
            reconstructionError = points.map(\.reconstructionError)
            offSubspaceError = points.map(\.offSubspaceError)
            targetDistance = points.map(\.targetDistance)
            gradientNorm = points.map(\.gradientNorm)
            balancedness = points.map(\.balancedness)
            let gaps = points.compactMap(\.lossGap)
            lossGap = gaps.count == points.count ? gaps : nil
            let times = points.compactMap(\.flowTime)
            flowTime = times.count == points.count ? times : nil
            singularValues = points.contains { !$0.singularValues.isEmpty } ? points.map(\.singularValues) : nil
        }

        func points() -> [TrajectoryPoint]? {
            let n = step.count
            let columns = [loss, trainResidual, reconstructionError, offSubspaceError, targetDistance, gradientNorm,
                           balancedness] + [lossGap, flowTime].compactMap { $0 }
            guard columns.allSatisfy({ $0.count == n }), (singularValues?.count ?? n) == n else { return nil }
            return (0..<n).map { i in
                TrajectoryPoint(
                    step: step[i], loss: loss[i], trainResidual: trainResidual[i],
                    reconstructionError: reconstructionError[i], offSubspaceError: offSubspaceError[i],
                    targetDistance: targetDistance[i], gradientNorm: gradientNorm[i], balancedness: balancedness[i],
                    flowTime: flowTime?[i], singularValues: singularValues?[i] ?? [], lossGap: lossGap?[i])
            }
        }
    }
}

extension ResultsStore {
    /// The first `limit` trajectories in task order, and how many are stored; a store written
    /// before trajectories existed has none.
    public func trajectories(limit: Int) throws -> (trajectories: [StoredTrajectory], total: Int) {
        let (rows, total) = try wrap {
            try pool.read { db -> ([Row], Int) in
                guard try db.tableExists("trajectories") else { return ([], 0) }
                return (try Row.fetchAll(db, sql: "SELECT task_id, points FROM trajectories ORDER BY task_id LIMIT ?",
                                         arguments: [limit]),
                        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trajectories") ?? 0)
            }
        }
        let decoder = JSONDecoder()
        let found = try rows.map { row -> StoredTrajectory in
            let taskID: Int = row["task_id"]
            let text: String = row["points"] ?? ""
            guard let columns = try? decoder.decode(StoredTrajectory.Columns.self, from: Data(text.utf8)),
                  let points = columns.points()
            else {
                throw ResultsStoreError.corruptRow(path: path, taskID: taskID, reason: "trajectories.points is not a trajectory")
            }
            return StoredTrajectory(taskID: taskID, points: points)
        }
        return (found, total)
    }
}
