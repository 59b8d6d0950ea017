import Foundation
public import ResultsStore
public import SweepConfig
public import TrainingCore

/// The expected cost of each grid cell's tasks: which task goes out next (the longest first, so
/// that a sweep does not end on its biggest cells) and how much work is left (the ETA).
///
/// A cell's cost starts as a prior from its spec, the work of one step (the products of the
/// network's layers with the rank of Y: depth, width, rank, path, optimizer) times its step
/// budget (a fixed T, or `steps: auto`'s budget from λ, η and a typical σ_max(Y)², capped at
/// `max_steps`); every task pays a fixed overhead on top. Once a cell has results, its measured
/// mean replaces the prior; cells not measured yet are the prior times the ratio of measured
/// seconds to the priors of the measured tasks. Results do not depend on the order: a task's
/// seeds come from its cell and trial, and an adaptive round from completed rounds only.
///
/// Only the grid's first round is ordered (an adaptive round's tasks go out in id order after
/// it), and only grids of at most `maxCells` cells and `maxTasks` tasks.
public struct TaskCostModel: Sendable {
    /// Above this many cells (or `maxTasks` tasks in the grid) the tasks go out in id order and
    /// the ETA is the rate's: the model keeps a few numbers per cell and reads the done tasks once.
    public static let maxCells = 200_000
    public static let maxTasks = 50_000_000

    /// Trials per grid cell; ids `cell * trials + trial` (`SweepPlan`).
    let trials: Int
    /// The ids this model orders: `0..<orderedTaskCount`.
    public let orderedTaskCount: Int
    private var prior: [Double]
    /// Cells by prior, the largest first; `cursor` is the first not started.
    private var order: [Int32]
    private var cursor = 0
    /// Fresh trials handed out per cell.
    private var handedOut: [Int32]
    /// Started cells with trials left to hand out (a few: cells go out trial after trial).
    private var open: [Int] = []
    /// Tasks of each cell without a row yet.
    private var remaining: [Int32]
    /// Per cell, the seconds and the count of its measured tasks (count 0: not measured yet).
    /// Arrays, not a dictionary keyed by cell: the dispatcher asks a cell's cost for every task
    /// it hands out, and each lookup hashed the cell.
    private var measuredSecondsOf: [Double]
    private var measuredCountOf: [Int]
    private var measuredSeconds = 0.0, measuredPrior = 0.0, measuredCount = 0
    /// Σ remaining × prior over the cells not measured, Σ remaining × mean over the others.
    private var unmeasuredRemainingPrior = 0.0
    private var measuredRemainingSeconds = 0.0
    /// Tasks beyond the ordered ids (adaptive rounds) with a row.
    private var doneBeyond = 0

    /// nil for a grid of more than `maxCells` cells.
    public init?(plan: SweepPlan, done: TaskBitmap) {
        let cells = plan.cells.gridCount
        guard cells <= Self.maxCells, plan.gridTaskCount <= Self.maxTasks, plan.trials >= 1 else { return nil }
        trials = plan.trials
        orderedTaskCount = plan.gridTaskCount
        let priors = (0..<cells).map { Self.prior(of: plan.configuration.spec(of: plan.cells[$0])) }
        prior = priors
        order = (0..<cells).sorted { (priors[$0], $1) > (priors[$1], $0) }.map { Int32($0) }
        handedOut = [Int32](repeating: 0, count: cells)
        remaining = [Int32](repeating: Int32(clamping: plan.trials), count: cells)
        measuredSecondsOf = [Double](repeating: 0, count: cells)
        measuredCountOf = [Int](repeating: 0, count: cells)
        if done.setCount > 0 {  // a resumed sweep
            for task in 0..<done.count where done[task] {
                if task < orderedTaskCount { remaining[task / trials] -= 1 } else { doneBeyond += 1 }
            }
        }
        for cell in 0..<cells { unmeasuredRemainingPrior += Double(remaining[cell]) * prior[cell] }
    }

    // MARK: The prior

    /// A task's cost in multiply-adds (any unit would do: the measured seconds calibrate it).
    public static func prior(of spec: RunSpec) -> Double {
        let overhead = 1e6  // problem, SVD, target and report: a few milliseconds
        switch spec.model {
        case .noop: return 1
        case .sleep(let seconds, _): return overhead + seconds * 1e10
        case .diagonal(let run):
            let p = run.problem, steps = switch run.training.steps {
            case .fixed(let n): n
            case .auto: run.training.maxSteps
            }
            return overhead + Double(steps) * (Double(p.measurements * p.dimension) + 2_000)
        case .deepLinear(let run):
            let p = run.problem, t = run.training
            let rank = t.path == .plain ? p.measurements
                : t.noise > 0 ? min(p.measurements, p.samples) : min(p.latentDim, p.measurements, p.samples)
            let dims = [p.measurements] + Array(repeating: run.network.width, count: max(0, run.network.depth - 1))
                + [p.signalDim]
            // Backward, update and forward product of each layer above the first; the first (V = W_1 U).
            var work = Double(dims[1] * rank)
            for l in stride(from: 1, to: dims.count - 1, by: 1) { work += 3 * Double(dims[l] * dims[l + 1] * rank) }
            let passes: Double = switch t.optimizer {
            case .gd: 1
            case .heavyBall, .inertial: 1.5
            case .flow: 6
            }
            return overhead + Double(steps(run)) * (passes * work + 2_000)  // + a step's fixed cost
        }
    }

    /// The step budget: `steps: T`, or `auto`'s `c ln(1/tol_conv) / (η λ)` with η from a typical
    /// σ_max(Y)² of the generated problem, capped at `max_steps`.
    static func steps(_ run: DeepLinearSpec) -> Int {
        let t = run.training
        switch t.steps {
        case .fixed(let n): return n
        case .auto:
            let p = run.problem
            let (m, r, n) = (Double(p.measurements), Double(p.latentDim), Double(p.samples))
            // Y = (A R) Z: ‖A R‖ ≈ 1 + √(r/m), ‖Z‖ ≈ √n + √r; noise adds σ (√m + √n).
            let sigma = (1 + (r / m).squareRoot()) * (n.squareRoot() + r.squareRoot()) + t.noise * (m.squareRoot() + n.squareRoot())
            let depth = Double(max(1, run.network.depth))
            let eta = t.eta ?? t.etaScale / (depth * sigma * sigma)
            let lambda = t.lambdaPerLayer ? t.lambda / depth : t.lambda
            guard lambda > 0, eta > 0 else { return t.maxSteps }
            let budget = t.budgetFactor * log(max(M_E, 1 / t.tolConv)) / (eta * lambda)
            return budget < Double(t.maxSteps) ? max(1, Int(budget)) : t.maxSteps
        }
    }

    // MARK: Dispatch

    /// The next fresh task of the cell with the largest expected cost that has trials left, skipping
    /// those `available` refuses (done or out); nil when every ordered task was handed out.
    public mutating func next(available: (Int) -> Bool) -> Int? {
        while true {
            var best = -1, bestCost = -Double.infinity
            for (i, cell) in open.enumerated() {
                let c = cost(cell)
                if c > bestCost { (best, bestCost) = (i, c) }
            }
            if cursor < order.count, cost(Int(order[cursor])) > bestCost {
                open.append(Int(order[cursor]))
                cursor += 1
                best = open.count - 1
            }
            guard best >= 0 else { return nil }
            let cell = open[best]
            let trial = Int(handedOut[cell])
            handedOut[cell] += 1
            if Int(handedOut[cell]) >= trials { open.swapAt(best, open.count - 1); open.removeLast() }
            let id = cell * trials + trial
            if available(id) { return id }
        }
    }

    // MARK: Measurements

    /// The expected seconds of a task of `cell` (a grid cell); nil before any measurement.
    public func expectedSeconds(cell: Int) -> Double? {
        guard cell >= 0, cell < prior.count, measuredCount > 0 else { return nil }
        return cost(cell)
    }

    /// The current estimate in seconds once anything is measured (before, the prior orders alone).
    private func cost(_ cell: Int) -> Double {
        measuredMean(cell) ?? prior[cell] * calibration
    }

    /// The mean seconds of a cell's measured tasks; nil before the first.
    private func measuredMean(_ cell: Int) -> Double? {
        let count = measuredCountOf[cell]
        return count > 0 ? measuredSecondsOf[cell] / Double(count) : nil
    }

    private var calibration: Double { measuredPrior > 0 ? measuredSeconds / measuredPrior : 1 }

    /// A task got its row (a result or a recorded failure).
    public mutating func completed(task: Int) {
        guard task < orderedTaskCount else { doneBeyond += 1; return }
        let cell = task / trials
        guard remaining[cell] > 0 else { return }
        remaining[cell] -= 1
        if let mean = measuredMean(cell) {
            measuredRemainingSeconds -= mean
        } else {
            unmeasuredRemainingPrior -= prior[cell]
        }
    }

    /// A task of `cell` trained for `seconds` (call after `completed`).
    public mutating func record(cell: Int, seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        measuredSeconds += seconds
        measuredCount += 1
        guard cell >= 0, cell < prior.count else { return }
        measuredPrior += prior[cell]
        let left = Double(remaining[cell])
        if let mean = measuredMean(cell) {
            measuredRemainingSeconds -= left * mean
        } else {
            unmeasuredRemainingPrior -= left * prior[cell]
        }
        measuredSecondsOf[cell] += seconds
        measuredCountOf[cell] += 1
        measuredRemainingSeconds += left * measuredMean(cell)!  // counted just above
    }

    /// Seconds of task time left in the `taskCount` tasks of the plan (adaptive rounds at the
    /// measured mean), less what the `running` tasks (cell, seconds run so far) have done;
    /// nil before any measurement.
    public func secondsLeft(taskCount: Int, running: [(cell: Int, seconds: Double)]) -> Double? {
        guard measuredCount > 0 else { return nil }
        let mean = measuredSeconds / Double(measuredCount)
        var left = max(0, unmeasuredRemainingPrior) * calibration + max(0, measuredRemainingSeconds)
            + Double(max(0, taskCount - orderedTaskCount - doneBeyond)) * mean
        for task in running {
            let expected = task.cell >= 0 && task.cell < prior.count ? cost(task.cell) : mean
            left -= min(task.seconds, expected)
        }
        return max(0, left)
    }
}

extension CoordinatorCore {
    /// Seconds until every task has a row, by the cost model: the task time left shared by the
    /// registered workers. nil without a model, a worker or a measurement (the rate's ETA then).
    public func estimatedSecondsLeft(now: Double) -> Double? {
        guard let costs = dispatcher.costs, !dispatcher.workers.isEmpty else { return nil }
        let running = dispatcher.workers.values.compactMap { slot in
            slot.running.map { (cell: plan.position(ofTask: $0.taskID).cell, seconds: max(0, now - $0.since)) }
        }
        return costs.secondsLeft(taskCount: plan.taskCount, running: running).map { $0 / Double(dispatcher.workers.count) }
    }
}
