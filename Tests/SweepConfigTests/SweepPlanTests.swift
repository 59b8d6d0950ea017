import SweepConfig
import Testing
import TrainingCore

@Suite struct SweepPlanTests {
    let config: SweepConfiguration
    let plan: SweepPlan

    init() throws {
        config = try SweepConfiguration.parse(yaml: minimalYAML, fileName: "t.yaml")
        plan = SweepPlan(config)
    }

    @Test func cellOrderIsDepthWidthLambdaNoise() {
        #expect(plan.cells.count == 2 * 3 * 2 * 1)
        #expect(plan.taskCount == plan.cells.count * 3)
        #expect(plan.cells.allSatisfy { $0.settings.map(\.key) == ["depth", "width", "lambda", "noise"] })
        let tuples = plan.cells.map { $0.settings.compactMap(\.value.number) }
        var expected: [[Double]] = []
        for d in [2.0, 3] { for w in [40.0, 80, 160] { for l in [0.0, 0.01] { expected.append([d, w, l, 0]) } } }
        #expect(tuples == expected)
        #expect(plan.cells.map(\.index) == Array(0..<plan.cells.count))
    }

    @Test func taskIDMapsToCellAndTrial() {
        for id in 0..<plan.taskCount {
            let task = plan.task(id)
            #expect(task.id == id)
            #expect(task.cell == plan.cells[id / 3])
            #expect(task.trial == id % 3)
            #expect(plan.taskID(cell: task.cell.index, trial: task.trial) == id)
            #expect(task.cell["depth"] == .int(task.spec.model.record.network.depth))
            #expect(task.cell["width"] == .int(task.spec.model.record.network.width))
            #expect(task.cell["lambda"] == .double(task.spec.model.record.training.lambda))
            #expect(task.cell["noise"] == .double(task.spec.model.record.training.noise))
            #expect(task.spec.model.record.training.steps == 500)
            #expect(task.spec.model.record.training.testNoise == [0, 0.1])
        }
        #expect(plan.contains(taskID: plan.taskCount - 1))
        #expect(!plan.contains(taskID: plan.taskCount))
        #expect(!plan.contains(taskID: -1))
    }

    @Test func problemSeedsAreSharedWithinATrial() {
        for trial in 0..<3 {
            let seeds = plan.cells.map { plan.task(plan.taskID(cell: $0.index, trial: trial)).spec.seeds }
            #expect(Set(seeds.map(\.problem)).count == 1)
            #expect(Set(seeds.map(\.training)).count == plan.cells.count)
        }
        let perTrial = (0..<3).map { plan.task($0).spec.seeds.problem }
        #expect(Set(perTrial).count == 3)
    }

    @Test func trainingSeedsDependOnValuesNotIndex() throws {
        // Adding a width in front shifts every cell index; the runs of old cells stay the same.
        let widened = minimalYAML.replacingOccurrences(of: "width: [40, 80, 160]", with: "width: [20, 40, 80, 160]")
        let other = SweepPlan(try SweepConfiguration.parse(yaml: widened, fileName: "t.yaml"))
        for cell in plan.cells {
            let match = try #require(other.cells.first { $0.settings == cell.settings })
            #expect(match.index != cell.index || cell.index == 0)
            for trial in 0..<3 {
                #expect(other.task(other.taskID(cell: match.index, trial: trial)).spec
                    == plan.task(plan.taskID(cell: cell.index, trial: trial)).spec)
            }
        }
    }

    @Test func seedsFollowTheDocumentedChain() {
        // Cell 5: depth 2, width 160, lambda 0.01, noise 0.
        #expect(plan.cells[5].settings == [AxisSetting("depth", .int(2)), AxisSetting("width", .int(160)),
                                           AxisSetting("lambda", .double(0.01)), AxisSetting("noise", .double(0))])
        let expected = SweepSeeds.chain(7, [
            0x50_524F_424C_454D, 2,
        ])
        #expect(plan.task(plan.taskID(cell: 5, trial: 2)).spec.seeds.problem == expected)
        let training = SweepSeeds.chain(7, [
            0x5452_4149_4E49_4E47, 2, 160, (0.01).bitPattern, (0.0).bitPattern, 2,
        ])
        #expect(plan.task(plan.taskID(cell: 5, trial: 2)).spec.seeds.training == training)
        // SplitMix64 reference value: the first output of the generator seeded with 0.
        #expect(SweepSeeds.mix(0) == 0xE220_A839_7B1D_CDAF)
    }

    @Test func fingerprintIsStableAndHex() throws {
        let again = try SweepConfiguration.parse(yaml: minimalYAML, fileName: "elsewhere.yaml")
        #expect(SweepPlan(again).fingerprint == plan.fingerprint)
        #expect(plan.fingerprint.count == 16)
        #expect(plan.fingerprint.allSatisfy { $0.isHexDigit })
        // Name, comments and layout do not matter.
        let cosmetic = minimalYAML.replacingOccurrences(of: "name: t", with: "name: other  # renamed")
            .replacingOccurrences(of: "trials: 3", with: "trials:   3\n# a comment")
        #expect(try SweepConfiguration.parse(yaml: cosmetic, fileName: "t.yaml").fingerprint == plan.fingerprint)
    }

    /// Pinned: another value makes every stored sweep "another sweep" to a new coordinator and
    /// its workers. It changes only with the canonical form of the spec (`RunSpec`'s `Encodable`).
    @Test func fingerprintGolden() {
        #expect(plan.fingerprint == "826ac771b9a2c9af")
    }

    static let resultChanges: [(String, String)] = [
        ("seed: 7", "seed: 8"),
        ("trials: 3", "trials: 4"),
        ("steps: 500", "steps: 501"),
        ("lambda: [0.0, 0.01]", "lambda: [0.0, 0.02]"),
        ("test_noise: [0.0, 0.1]", "test_noise: [0.0, 0.2]"),
        ("tol_off: 0.02", "tol_off: 0.03"),
        ("samples: 40", "samples: 41"),
        ("init: zero-last", "init: kaiming"),
    ]

    @Test(arguments: resultChanges)
    func fingerprintChangesWithResultAffectingKeys(_ change: (String, String)) throws {
        #expect(minimalYAML.contains(change.0))
        let changed = minimalYAML.replacingOccurrences(of: change.0, with: change.1)
        #expect(try SweepConfiguration.parse(yaml: changed, fileName: "t.yaml").fingerprint != plan.fingerprint)
    }

    @Test func millionTaskPlanIsComputedOnDemand() throws {
        let values = (1...100).map(String.init).joined(separator: ", ")
        let yaml = "grid: {depth: [\(values)], width: [\(values)]}\ntrials: 100\n"
        let big = SweepPlan(try SweepConfiguration.parse(yaml: yaml, fileName: "big.yaml"))
        #expect(big.cells.count == 10_000)
        #expect(big.taskCount == 1_000_000)
        let last = big.task(999_999)
        #expect(last.cell["depth"] == .int(100) && last.cell["width"] == .int(100) && last.trial == 99)
        let middle = big.task(123_456)
        #expect(middle.cell.index == 1234 && middle.trial == 56)
        #expect(middle.cell["depth"] == .int(13) && middle.cell["width"] == .int(35))
    }
}
