import ResultsStore
import SweepConfig
import SweepTable

/// Adaptive sweeps (issue 14): when every task of the plan has a row, the next round is planned
/// from the store's results alone, recorded in the store, then handed out. A round depends only
/// on completed rounds, so it is the same whatever the workers and the order of the results; a
/// coordinator killed at any point replays the recorded rounds and plans the same next one.
extension Coordinator {
    /// Plans, records and opens the next round; false when there is none (the sweep is done).
    func startNextRound() throws -> Bool {
        guard configuration.adaptive != nil, !stop.isRequested, storeFailure == nil else { return false }
        let measure = configuration.successMeasure
        var tallies = Array(repeating: CellTally(runs: 0, successes: 0), count: plan.cells.count)
        try store.forEachRowByCell { row in
            guard row.cellIndex >= 0, row.cellIndex < tallies.count, let report = row.report else { return }
            tallies[row.cellIndex].runs += 1
            let success = measure == .converged ? report.converged : report.recovered
            if success { tallies[row.cellIndex].successes += 1 }
        }
        guard let round = plan.nextAdaptiveRound(tallies: tallies, intervalWidth: { tally in
            let interval = wilsonInterval(successes: tally.successes, trials: tally.runs)
            return interval.high - interval.low
        }) else { return false }
        plan = try store.record(round: round)
        dispatcher.grow(to: plan.taskCount)
        assignAll()
        logger.info("adaptive round \(round.number): \(round.addedTasks) more trials in \(round.extensions.count) cells (\(round.newCells.count) new by refinement); \(plan.cells.count) cells, \(plan.taskCount) tasks so far")
        return true
    }
}
