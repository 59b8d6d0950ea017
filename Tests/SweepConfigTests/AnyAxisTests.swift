import SweepConfig
import Testing
import TrainingCore

/// Grids over any run-spec key (issue 9, item 1): parsing, cells, seeds and fingerprints.
@Suite struct AnyAxisTests {
    static let yaml = """
        name: axes
        seed: 3
        problem: {signal_dim: 30, measurements: 15, latent_dim: 2, samples: 20}
        grid:
          init_scale: [0.1, 1.0]
          optimizer: [gd, heavy-ball]
          depth: [2, 3]
        trials: 2
        training: {steps: 50, eta_scale: 0.5, alpha: 2}
        """

    func parse(_ text: String) throws -> SweepConfiguration {
        try SweepConfiguration.parse(yaml: text, fileName: "axes.yaml")
    }

    func parseError(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func extraAxesAreOutermostAndReachTheSpec() throws {
        let config = try parse(Self.yaml)
        // The file's other axes outermost, in its order, then the four every grid has.
        #expect(config.grid.map(\.key) == ["init_scale", "optimizer", "depth", "width", "lambda", "noise"])
        #expect(config.grid[0].values == [.double(0.1), .double(1)])
        #expect(config.grid[1].values == [.string("gd"), .string("heavy-ball")])
        let plan = SweepPlan(config)
        #expect(plan.cells.count == 8)
        #expect(plan.taskCount == 16)
        let keys = plan.cells[0].settings.map(\.key)
        #expect(keys == ["init_scale", "optimizer", "depth", "width", "lambda", "noise"])
        var seen: [[AxisValue]] = []
        for cell in plan.cells { seen.append(cell.settings.prefix(3).map(\.value)) }
        var expected: [[AxisValue]] = []
        for s in [0.1, 1.0] { for o in ["gd", "heavy-ball"] { for d in [2, 3] { expected.append([.double(s), .string(o), .int(d)]) } } }
        #expect(seen == expected)
        for id in 0..<plan.taskCount {
            let task = plan.task(id)
            #expect(task.spec.model.record.network.initScale == task.cell["init_scale"]?.number)
            #expect(task.spec.model.record.training.optimizer.kind.rawValue == task.cell["optimizer"]?.description)
            #expect(task.cell["depth"] == .int(task.spec.model.record.network.depth))
            // The fixed alpha reaches the heavy-ball cells; gd's spec has no place for it.
            #expect(task.spec.model.record.training.optimizer.alpha == (task.spec.model.record.training.optimizer.kind == .gd ? nil : 2))
        }
        // The base spec holds every axis's first value.
        #expect(config.network.initScale == 0.1)
        #expect(config.training.optimizer == .gd(.fixed))
    }

    @Test func modelKindIsAnAxis() throws {
        let config = try parse(Self.yaml.replacingOccurrences(of: "  depth: [2, 3]", with: "  depth: [2, 3]\n  model: [deep-linear, noop]"))
        let plan = SweepPlan(config)
        #expect(Set((0..<plan.taskCount).map { plan.task($0).spec.kind }) == [.deepLinear, .noop])
        let twice = parseError(Self.yaml.replacingOccurrences(of: "  depth: [2, 3]", with: "  depth: [2, 3]\n  model: [noop]") + "\nmodel: noop")
        #expect(twice.hasPrefix("axes.yaml:11: model: also listed under grid (line 8)"), "\(twice)")
    }

    @Test func aBillionCellGridIsNotMaterialized() throws {
        let values = (1...1000).map { String(Double($0) / 1000) }.joined(separator: ", ")
        let ints = (1...1000).map(String.init).joined(separator: ", ")
        let text = "grid: {init_scale: [\(values)], samples: [\(ints)], check_every: [\(ints)]}\nproblem: {signal_dim: 3000, measurements: 1, latent_dim: 1}\n"
        let plan = SweepPlan(try parse(text))
        #expect(plan.cells.count == 1_000_000_000)
        let last = plan.task(plan.taskCount - 1)
        #expect(last.cell["init_scale"] == .double(1) && last.cell["samples"] == .int(1000) && last.cell["check_every"] == .int(1000))
        #expect(last.spec.model.record.problem.samples == 1000 && last.spec.model.record.training.checkEvery == 1000)
        let middle = plan.cells[123_456_789]
        #expect(middle["init_scale"] == .double(0.124) && middle["samples"] == .int(457) && middle["check_every"] == .int(790))
    }

    @Test("errors name the file, the key and the line", arguments: [
        ("  init_scale: [0.1, 1.0]", "  inti_scale: [0.1, 1.0]", "axes.yaml:5: grid.inti_scale: unknown key; expected one of"),
        ("  init_scale: [0.1, 1.0]", "  init_scale: [0.1, fast]", "axes.yaml:5: grid.init_scale[1]: expected a list of positive numbers, got \"fast\""),
        ("  init_scale: [0.1, 1.0]", "  init_scale: [0.1, -1]", "axes.yaml:5: grid.init_scale[1]: expected a list of positive numbers, got -1"),
        ("  init_scale: [0.1, 1.0]", "  init_scale: [0.1, .inf]", "axes.yaml:5: grid.init_scale[1]: expected a list of positive numbers, got \".inf\""),
        ("  init_scale: [0.1, 1.0]", "  init_scale: [0.1, 0.10]", "axes.yaml:5: grid.init_scale[1]: duplicate value 0.1 (also at [0])"),
        ("  init_scale: [0.1, 1.0]", "  init_scale: 0.5", "axes.yaml:5: grid.init_scale: expected a list of positive numbers, got \"0.5\""),
        ("  optimizer: [gd, heavy-ball]", "  optimizer: [gd, adam]", "axes.yaml:6: grid.optimizer[1]: expected one of gd|heavy-ball|inertial"),
        ("  depth: [2, 3]", "  depth: [2, 3]\n  optimizer: [gd]", "axes.yaml:6: duplicate key 'optimizer'"),
        ("eta_scale: 0.5,", "eta_scale: 0.5, init_scale: 2,", "axes.yaml:9: training.init_scale: also listed under grid (line 5); give an axis in one place"),
        ("measurements: 15, latent_dim: 2, samples: 20}\ngrid:", "latent_dim: 2, samples: 20}\ngrid:\n  measurements: [10, 30]",
         "axes.yaml:5: grid.measurements: measurements (up to 30) must be less than signal_dim (from 30) in every cell"),
        ("  depth: [2, 3]", "  depth: [2, 3]\n  measurements: [10, 15]", "axes.yaml:3: problem.measurements: also listed under grid (line 8)"),
        ("  depth: [2, 3]", "  depth: [2, 3]\n  samples: [10, 2.5]", "axes.yaml:8: grid.samples[1]: expected a list of positive integers, got \"2.5\""),
        ("  depth: [2, 3]", "  depth: [2, 3]\n  rank_tolerance: [0.5, 1]", "axes.yaml:8: grid.rank_tolerance[1]: expected a list of numbers in (0, 1), got 1"),
        ("  depth: [2, 3]", "  depth: [2, 3]\nheatmap: {rows: beta}", "axes.yaml:8: heatmap.rows: expected an axis of the grid"),
        ("  optimizer: [gd, heavy-ball]", "  optimizer: [gd]", "axes.yaml:9: training.alpha: applies to optimizer heavy-ball or inertial, not gd"),
    ])
    func badAxes(_ change: (String, String, String)) {
        #expect(Self.yaml.contains(change.0))
        let message = parseError(Self.yaml.replacingOccurrences(of: change.0, with: change.1))
        #expect(message.hasPrefix(change.2), "\(message)")
    }

    @Test func addingAnAxisValueLeavesExistingCellsUnchanged() throws {
        let plan = SweepPlan(try parse(Self.yaml))
        let more = SweepPlan(try parse(Self.yaml.replacingOccurrences(of: "init_scale: [0.1, 1.0]", with: "init_scale: [0.03, 0.1, 0.3, 1.0]")))
        #expect(more.cells.count == 16)
        for cell in plan.cells {
            let match = try #require(more.cells.first { $0.settings == cell.settings })
            for trial in 0..<2 {
                #expect(more.task(more.taskID(cell: match.index, trial: trial)).spec
                    == plan.task(plan.taskID(cell: cell.index, trial: trial)).spec)
            }
        }
        // Listing the axes in another order changes the cell order, not a run.
        let swapped = SweepPlan(try parse(Self.yaml.replacingOccurrences(
            of: "  init_scale: [0.1, 1.0]\n  optimizer: [gd, heavy-ball]", with: "  optimizer: [gd, heavy-ball]\n  init_scale: [0.1, 1.0]")))
        for cell in plan.cells {
            let match = try #require(swapped.cells.first { Set($0.settings) == Set(cell.settings) })
            #expect(swapped.task(swapped.taskID(cell: match.index, trial: 1)).spec.seeds
                == plan.task(plan.taskID(cell: cell.index, trial: 1)).spec.seeds)
        }
    }

    @Test func problemSeedFollowsProblemKeysOnly() throws {
        let plan = SweepPlan(try parse(Self.yaml))
        for trial in 0..<2 {
            let seeds = plan.cells.map { plan.task(plan.taskID(cell: $0.index, trial: trial)).spec.seeds }
            // Training axes (init_scale, optimizer, depth) never move the problem: it is the
            // legacy chain of (seed, trial).
            #expect(Set(seeds.map(\.problem)) == [SweepSeeds.problemSeed(master: 3, trial: trial)])
            #expect(Set(seeds.map(\.training)).count == plan.cells.count)
        }
        // A problem axis: cells with the same measurements share the problem, the others do not.
        let text = Self.yaml.replacingOccurrences(of: "  depth: [2, 3]", with: "  depth: [2, 3]\n  measurements: [10, 12]")
            .replacingOccurrences(of: "measurements: 15, ", with: "")
        let withProblem = SweepPlan(try parse(text))
        var byMeasurements: [Int: Set<UInt64>] = [:]
        for cell in withProblem.cells {
            let spec = withProblem.task(withProblem.taskID(cell: cell.index, trial: 0)).spec
            #expect(spec.model.record.problem.measurements == cell["measurements"]?.number.map { Int($0) })
            byMeasurements[spec.model.record.problem.measurements, default: []].insert(spec.seeds.problem)
        }
        #expect(byMeasurements.values.map(\.count) == [1, 1])
        #expect(Set(byMeasurements.values.flatMap { $0 }).count == 2)
        // The documented chain: (seed, "PROBLEM", trial, FNV-1a("measurements"), 10).
        var fnv: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in "measurements".utf8 { fnv = (fnv ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        #expect(byMeasurements[10] == [SweepSeeds.chain(3, [0x50_524F_424C_454D, 0, fnv, 10])])
    }

    @Test func legacyGridsKeepSeedsAndFingerprints() throws {
        // The four legacy axes enter the seeds exactly as before, with no extra words.
        let legacy = SweepPlan(try parse(minimalYAML))
        #expect(legacy.configuration.grid.map(\.key) == ["depth", "width", "lambda", "noise"])
        #expect(legacy.cells[0].settings.map(\.key) == ["depth", "width", "lambda", "noise"])
        #expect(legacy.fingerprint == "826ac771b9a2c9af")
        // Moving an axis into the grid with one value is a different sweep (the grid lists it).
        let extra = try parse(minimalYAML.replacingOccurrences(of: "noise: [0.0]", with: "noise: [0.0]\n  init_scale: [1.0]"))
        #expect(extra.fingerprint != legacy.fingerprint)
    }

    /// Pinned: the fingerprints of the repository's configs. A change makes every stored result
    /// folder of that config "another sweep" to a new coordinator.
    @Test(arguments: [
        ("quick.yaml", "15fd58bc384fa681"),
        ("phase.yaml", "8acf31b160e41cd9"),
        ("figure1.yaml", "54ee50991e92506f"),
        ("inertial.yaml", "5175bab6b8d83166"),
    ])
    func repositoryConfigFingerprints(_ golden: (String, String)) throws {
        let config = try SweepConfiguration.load(path: configsDirectory.appendingPathComponent(golden.0).path)
        #expect(config.fingerprint == golden.1)
    }
}
