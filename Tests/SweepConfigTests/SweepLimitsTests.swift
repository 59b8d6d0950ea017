import Foundation
import SweepConfig
import Testing
import TrainingCore

/// Limits checked before anything is written or allocated (issue 11, items 4 and 5).
@Suite struct SweepLimitsTests {
    let base = """
        name: limits
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
        grid:
          depth: [1, 3]
          width: [8, 16]
        trials: 3
        """

    func config(_ yaml: String) throws -> SweepConfiguration {
        try SweepConfiguration.parse(yaml: yaml, fileName: "limits.yaml")
    }

    @Test("a trillion trials is refused by the task cap, naming trials and the override")
    func tooManyTasks() throws {
        let configuration = try config(base.replacingOccurrences(of: "trials: 3", with: "trials: 1000000000000"))
        #expect {
            try SweepLimits().check(configuration)
        } throws: { error in
            let error = error as? ConfigError
            return error?.keyPath == "trials"
                && error?.message == "4000000000000 tasks (4 cells × 1000000000000 trials) exceed the limit of 1000000000; use fewer trials or grid values, or raise the limit with --max-tasks"
        }
    }

    @Test("an adaptive sweep is checked at max_trials per cell, the most its rounds can give the grid")
    func adaptiveWorstCase() throws {
        let configuration = try config(base.replacingOccurrences(
            of: "trials: 3", with: "adaptive: {min_trials: 2, max_trials: 300000000}"))
        #expect(configuration.trials == 2)
        #expect {
            try SweepLimits().check(configuration)
        } throws: { error in
            let error = error as? ConfigError
            return error?.keyPath == "adaptive.max_trials"
                && error?.message.hasPrefix("1200000000 tasks (4 cells × 300000000 adaptive.max_trials) exceed the limit of 1000000000") == true
        }
        try SweepLimits(maxTasks: 1_200_000_000).check(configuration)
    }

    @Test("the task cap can be raised")
    func capOverride() throws {
        let configuration = try config(base.replacingOccurrences(of: "trials: 3", with: "trials: 500000000"))
        #expect(throws: ConfigError.self) { try SweepLimits().check(configuration) }
        try SweepLimits(maxTasks: 2_000_000_000).check(configuration)
    }

    @Test("signal_dim 100000000 is refused: one run would need hundreds of GiB")
    func hugeProblem() throws {
        let configuration = try config(base.replacingOccurrences(of: "signal_dim: 20", with: "signal_dim: 100000000"))
        #expect {
            try SweepLimits().check(configuration)
        } throws: { error in
            let error = error as? ConfigError
            return error?.keyPath == "problem" && error?.message.contains("needs about 319 GiB") == true
                && error?.message.contains("--max-cell-memory") == true
        }
    }

    @Test("a grid whose widest, deepest cell is too big is refused under grid")
    func hugeCell() throws {
        let configuration = try config(base.replacingOccurrences(of: "width: [8, 16]", with: "width: [8, 100000]"))
        #expect {
            try SweepLimits().check(configuration)
        } throws: { error in
            (error as? ConfigError)?.keyPath == "grid" && "\(error)".contains("depth 3, width 100000")
        }
        try SweepLimits().check(try config(base))
    }

    @Test("a grid of 10⁹ cells is a plan of four axis lists: cells are computed from their index")
    func billionCells() throws {
        let values = (1...1000).map(String.init).joined(separator: ", ")
        let lambdas = (0..<1000).map { "\($0)e-4" }.joined(separator: ", ")
        let configuration = try config("""
            name: cells
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
            grid: {depth: [\(values)], width: [\(values)], lambda: [\(lambdas)]}
            trials: 1
            """)
        let plan = SweepPlan(configuration)
        #expect(plan.cells.count == 1_000_000_000 && plan.taskCount == 1_000_000_000)
        let last = plan.cells[999_999_999]
        #expect(last["depth"] == .int(1000) && last["width"] == .int(1000) && last["lambda"] == .double(0.0999)
            && last.index == 999_999_999)
        let middle = plan.cells[1_002_003]  // depth index 1, width index 2, lambda index 3
        #expect(middle["depth"] == .int(2) && middle["width"] == .int(3) && middle["lambda"] == .double(3e-4))
        #expect(plan.task(999_999_999).cell == last)
        try SweepLimits(maxCellGiB: 1e6).check(configuration)
    }

    /// CPU seconds of this thread for `body`: unlike the wall time, it hardly grows when the
    /// rest of the suite runs beside it.
    static func threadSeconds(_ body: () throws -> Void) rethrows -> Double {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
        try body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
        return Double(end.tv_sec - start.tv_sec) + 1e-9 * Double(end.tv_nsec - start.tv_nsec)
    }

    @Test("validation is linear in the list length: 600k test noise levels parse in about 10x the time of 60k")
    func longListsParse() throws {
        // A quadratic duplicate check took 40 s for 250k values: 2.3 s for 60k and 230 s for
        // 600k, about 80 times as long with the linear parsing around it. With a hash lookup per
        // value the parse is linear: 0.5 s and 5 s on an idle 2-core machine. The ratio of the
        // two parses' CPU times tells them apart however loaded the machine is (a wall-clock
        // limit did not: with the whole suite running, the linear parse took 190 s of wall time).
        func list(_ count: Int) -> String { (0..<count).map { "\($0)e-6" }.joined(separator: ", ") }
        let small = list(60_000), large = list(600_000)
        var configuration: SweepConfiguration?
        let smallSeconds = try Self.threadSeconds { _ = try config(base + "\ntest_noise: [\(small)]\n") }
        let largeSeconds = try Self.threadSeconds { configuration = try config(base + "\ntest_noise: [\(large)]\n") }
        #expect(configuration?.testNoise.count == 600_000)
        #expect(largeSeconds < 30 * smallSeconds, "60k values: \(smallSeconds) s, 600k: \(largeSeconds) s")
        #expect {
            try config(base + "\ntest_noise: [0, 1e-6, 2e-6, 3e-6, 4e-6, 5e-6, 5e-6]\n")
        } throws: { error in
            "\(error)".contains("duplicate value 5e-06 (also at [5])")
        }
    }
}
