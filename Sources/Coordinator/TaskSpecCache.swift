import SweepConfig
import SweepProtocol
import TrainingCore

/// A cell's task (any trial; its id, trial and seeds are replaced) and its encoded specs
/// without seeds, plain and with the sampled trials' trajectory.
struct CellCacheEntry: Sendable {
    var template: SweepTask
    var seeds: SweepSeeds.CellSeeds
    var spec: [UInt8]?
    var sampledSpec: [UInt8]?
}

/// The tasks of the plan and the specs workers get for them.
extension CoordinatorCore {
    /// The spec a worker gets for `task`: the sampled trials log a trajectory.
    func runSpec(of task: SweepTask) -> RunSpec { configuration.sampled(task.spec, trial: task.trial) }

    /// Task `id` of the plan, from a cache of recent cells: a cell's tasks differ only in their
    /// trial and seeds, so the cell's settings are applied once, not once per task and again
    /// per result.
    mutating func task(_ id: Int) -> SweepTask {
        taskAndEncodedSpec(id).task
    }

    /// The task and its spec's body without the seeds (`WireSpec.encodedWithoutSeeds`).
    mutating func taskAndEncodedSpec(_ id: Int) -> (task: SweepTask, specWithoutSeeds: [UInt8]) {
        let (cellIndex, trial) = plan.position(ofTask: id)  // adaptive rounds append blocks of ids
        let sampled = trial < configuration.trajectories
        if let entry = cellCache[cellIndex], let encoded = sampled ? entry.sampledSpec : entry.spec {
            var task = entry.template
            task.id = id
            task.trial = trial
            task.spec.seeds = entry.seeds.seeds(trial: trial)
            return (task, encoded)
        }
        let task = plan.task(id)
        let encoded = WireSpec(runSpec(of: task)).encodedWithoutSeeds
        if cellCache.count >= 256 { cellCache.removeAll(keepingCapacity: true) }
        var entry = cellCache[cellIndex] ?? CellCacheEntry(
            template: task, seeds: SweepSeeds.CellSeeds(master: configuration.seed, cell: task.cell))
        if sampled { entry.sampledSpec = encoded } else { entry.spec = encoded }
        cellCache[cellIndex] = entry
        return (task, encoded)
    }
}
