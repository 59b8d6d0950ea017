import ResultsStore
import SweepConfig

extension ResultsStore {
    /// Runs and successes per cell of `plan` (the sweep's success outcome), what the adaptive
    /// planner decides on. Rows outside the plan and recorded failures do not count.
    func tallies(plan: SweepPlan, measure: SuccessMeasure) throws -> [CellTally] {
        var tallies = Array(repeating: CellTally(runs: 0, successes: 0), count: plan.cells.count)
        try forEachRowByCell { row in
            guard row.cellIndex >= 0, row.cellIndex < tallies.count, let report = row.report else { return }
            tallies[row.cellIndex].runs += 1
            let success = measure == .converged ? report.converged : report.recovered
            if success { tallies[row.cellIndex].successes += 1 }
        }
        return tallies
    }
}
