import SweepConfig

/// Adaptive sweeps (issue 14): when every task of the plan has a row, the next round is planned
/// from the store's results alone, recorded in the store, then handed out. A round depends only
/// on completed rounds, so it is the same whatever the workers and the order of the results; a
/// coordinator killed at any point replays the recorded rounds and plans the same next one.
extension CoordinatorCore {
    /// Plans the next round from the tallies of every cell; none left: the sweep is complete.
    mutating func planRound(_ tallies: [CellTally]) {
        guard phase == .planningRound else { return }
        guard let round = plan.nextAdaptiveRound(tallies: tallies, intervalWidth: \.wilsonIntervalWidth) else {
            phase = .finished
            emit(.finish)
            return
        }
        emit(.recordRound(round))
    }

    /// Opens a recorded round: its tasks go out.
    mutating func openRound(_ round: AdaptiveRound, plan: SweepPlan, now: Double) {
        guard phase == .planningRound else { return }
        self.plan = plan
        dispatcher.grow(to: plan.taskCount)
        phase = .running
        assignAll(now: now)
        log(.info, "adaptive round \(round.number): \(round.addedTasks) more trials in \(round.extensions.count) cells (\(round.newCells.count) new by refinement); \(plan.cells.count) cells, \(plan.taskCount) tasks so far")
    }
}
