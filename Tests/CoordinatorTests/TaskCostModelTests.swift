import Coordinator
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

/// The cost model that orders dispatch longest first and gives the ETA (issue 22).
@Suite struct TaskCostModelTests {
    /// Four cells of deep linear networks: depth × width, fixed budgets.
    static func plan(trials: Int = 3, steps: String = "1000") throws -> SweepPlan {
        let yaml = """
            name: costs
            seed: 1
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
            grid:
              depth: [2, 5]
              width: [20, 80]
            trials: \(trials)
            training: {steps: \(steps)}
            test_noise: [0.0]
            """
        return SweepPlan(try SweepConfiguration.parse(yaml: yaml, fileName: "costs.yaml"))
    }

    static func none(_ plan: SweepPlan) -> TaskBitmap { TaskBitmap(count: plan.taskCount) }

    @Test("the prior grows with depth, width, rank (training noise) and the step budget")
    func priorGrows() {
        var spec = RunSpec()
        spec.run.training.steps = .fixed(1000)
        let base = TaskCostModel.prior(of: spec)
        var deeper = spec
        deeper.run.network.depth += 2
        var wider = spec
        wider.run.network.width *= 2
        var noisy = spec
        noisy.run.training.noise = 0.1
        var longer = spec
        longer.run.training.steps = .fixed(2000)
        for bigger in [deeper, wider, noisy, longer] { #expect(TaskCostModel.prior(of: bigger) > base) }
        // Twice the steps: nearly twice the cost (the per-task overhead is small here).
        #expect(abs(TaskCostModel.prior(of: longer) / base - 2) < 0.01)
        // steps: auto costs less with more weight decay, and λ = 0 runs to max_steps.
        var auto = spec
        auto.run.training.steps = .auto
        auto.run.training.lambda = 0.1
        var decayed = auto
        decayed.run.training.lambda = 1
        var capped = auto
        capped.run.training.lambda = 0
        #expect(TaskCostModel.prior(of: decayed) < TaskCostModel.prior(of: auto))
        #expect(TaskCostModel.prior(of: capped) >= TaskCostModel.prior(of: auto))
    }

    @Test("every task goes out once, cell after cell, the costliest cell first")
    func longestFirst() throws {
        let plan = try Self.plan()
        var model = try #require(TaskCostModel(plan: plan, done: Self.none(plan)))
        var ids: [Int] = []
        while let id = model.next(available: { _ in true }) { ids.append(id) }
        #expect(ids.sorted() == Array(0..<plan.taskCount))
        let cells = ids.map { plan.position(ofTask: $0).cell }
        // Trials of a cell go out together, the cells by decreasing prior.
        let cellOrder = stride(from: 0, to: cells.count, by: plan.trials).map { cells[$0] }
        #expect(cells == cellOrder.flatMap { Array(repeating: $0, count: plan.trials) })
        let priors = cellOrder.map { TaskCostModel.prior(of: plan.task(plan.taskID(cell: $0, trial: 0)).spec) }
        #expect(priors == priors.sorted(by: >))
        let first = plan.cells[cellOrder[0]]
        #expect(first["depth"] == .int(5) && first["width"] == .int(80))
    }

    @Test("measured means reorder the trials still to go: a cell measured dearer goes first")
    func refinedByMeasurements() throws {
        let plan = try Self.plan(trials: 4)
        var order: [Int] = []
        var probe = try #require(TaskCostModel(plan: plan, done: Self.none(plan)))
        while let id = probe.next(available: { _ in true }) { order.append(plan.position(ofTask: id).cell) }
        let (dearest, second) = (order[0], order[4])
        // Resumed: trial 0 of the second cell is done.
        var done = Self.none(plan)
        done[plan.taskID(cell: second, trial: 0)] = true
        var model = try #require(TaskCostModel(plan: plan, done: done))
        #expect(model.next(available: { !done[$0] }) == plan.taskID(cell: dearest, trial: 0))
        // The dearest cell turns out cheaper than the second (and dearer than the cells not
        // measured, whose priors the two measurements calibrate).
        model.record(cell: dearest, seconds: 20)
        model.record(cell: second, seconds: 50)
        var next: [Int] = []
        for _ in 0..<6 {
            let id = model.next(available: { !done[$0] })
            next.append(try #require(id))
        }
        #expect(next == [1, 2, 3].map { plan.taskID(cell: second, trial: $0) } + [1, 2, 3].map { plan.taskID(cell: dearest, trial: $0) })
        #expect(model.expectedSeconds(cell: second) == 50)
        #expect(model.expectedSeconds(cell: dearest) == 20)
    }

    @Test("seconds left: every task at its cell's mean, less what running tasks have done")
    func secondsLeft() throws {
        let plan = try Self.plan(trials: 2)
        var model = try #require(TaskCostModel(plan: plan, done: Self.none(plan)))
        #expect(model.secondsLeft(taskCount: plan.taskCount, running: []) == nil)
        let means = [3.0, 5.0, 7.0, 11.0]
        for cell in 0..<4 {
            model.completed(task: plan.taskID(cell: cell, trial: 0))
            model.record(cell: cell, seconds: means[cell])
        }
        // One task of each cell left.
        let left = try #require(model.secondsLeft(taskCount: plan.taskCount, running: []))
        #expect(abs(left - means.reduce(0, +)) < 1e-9)
        model.completed(task: plan.taskID(cell: 2, trial: 1))
        #expect(abs(try #require(model.secondsLeft(taskCount: plan.taskCount, running: [])) - (left - 7)) < 1e-9)
        // A task of cell 3 has run 4 s of its 11; one of cell 0 has overrun its 3.
        let running = try #require(model.secondsLeft(taskCount: plan.taskCount, running: [(cell: 3, seconds: 4), (cell: 0, seconds: 9)]))
        #expect(abs(running - (left - 7 - 4 - 3)) < 1e-9)
        // Tasks of a later adaptive round count at the mean task.
        let grown = try #require(model.secondsLeft(taskCount: plan.taskCount + 2, running: []))
        #expect(abs(grown - (left - 7 + 2 * means.reduce(0, +) / 4)) < 1e-9)
    }

    @Test("the dispatcher hands out the grid longest first, retried tasks before fresh ones, each once")
    func dispatcherOrder() throws {
        let plan = try Self.plan()
        var d = Dispatcher(taskCount: plan.taskCount, done: Self.none(plan), maxAttempts: 3, maxPrefetch: 4)
        var model = try #require(TaskCostModel(plan: plan, done: Self.none(plan)))
        var expected: [Int] = []
        while let id = model.next(available: { _ in true }) { expected.append(id) }
        d.order(by: try #require(TaskCostModel(plan: plan, done: Self.none(plan))))
        _ = d.register(id: "w", peer: [1], host: "h", prefetch: 4, now: 0, liveWithin: 10)
        var sent = d.assign(to: "w").map(\.taskID)
        #expect(sent == Array(expected.prefix(4)))
        d.returnTask(sent[1], from: "w")
        #expect(d.assign(to: "w").map(\.taskID) == [sent[1]])
        for id in sent { d.complete(id) }
        while !d.isComplete {
            let batch = d.assign(to: "w").map(\.taskID)
            sent += batch
            for id in batch { d.complete(id) }
        }
        #expect(sent == expected)
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
