import Foundation
import SweepConfig
import Testing
import TrainingCore

/// Adaptive sweeps (issue 14) as plans: the config section, stable task ids as rounds add
/// trials and cells, and the planner's decisions.
@Suite struct AdaptivePlanTests {
    static let yaml = """
        name: adaptive
        seed: 5
        problem: {signal_dim: 12, measurements: 6, latent_dim: 2, samples: 8}
        grid:
          width: [8, 32]
          lambda: [0.01, 0.1, 1.0]
        training: {steps: 100, depth: 2}
        adaptive: {target_ci_width: 0.3, min_trials: 4, max_trials: 10, round: 4, refine: {axes: [lambda, width], levels: 2}}
        """

    func plan(_ text: String = yaml) throws -> SweepPlan {
        SweepPlan(try SweepConfiguration.parse(yaml: text, fileName: "a.yaml"))
    }

    static func width(_ t: CellTally) -> Double {
        // A stand-in for the Wilson width: wide until 8 runs, or when the rate is mixed.
        guard let rate = t.rate else { return 1 }
        return t.runs >= 8 && (rate == 0 || rate == 1) ? 0.1 : 0.5
    }

    @Test func sectionParsesAndEntersTheFingerprint() throws {
        let p = try plan()
        let a = try #require(p.configuration.adaptive)
        #expect(a == AdaptiveSettings(targetCIWidth: 0.3, minTrials: 4, maxTrials: 10, round: 4,
                                      refine: RefineSettings(axes: ["lambda", "width"], levels: 2, threshold: 0.5)))
        #expect(p.trials == 4 && p.taskCount == 24)
        let other = try plan(Self.yaml.replacingOccurrences(of: "max_trials: 10", with: "max_trials: 12"))
        #expect(other.fingerprint != p.fingerprint)
        #expect(a.refine!.isLogarithmic("lambda", values: [0.01, 0.1, 1]))
        #expect(!a.refine!.isLogarithmic("width", values: [8, 32]))
    }

    @Test("errors name the file and the key", arguments: [
        ("training: {steps: 100, depth: 2}", "training: {steps: 100, depth: 2}\ntrials: 3", "a.yaml:8: trials: not with adaptive"),
        ("target_ci_width: 0.3", "target_ci_width: 0", "a.yaml:8: adaptive.target_ci_width: expected a number in (0, 1], got 0"),
        ("max_trials: 10", "max_trials: 2", "a.yaml:8: adaptive.max_trials: max_trials (2) must be at least min_trials (4)"),
        ("axes: [lambda, width]", "axes: [lambda, init_scale]", "a.yaml:8: adaptive.refine.axes[1]: init_scale is not an axis of the grid"),
        ("axes: [lambda, width]", "axes: [lambda, depth]", "a.yaml:8: adaptive.refine.axes[1]: depth must be a numeric axis with at least two values"),
        ("axes: [lambda, width]", "axes: [lambda, lambda]", "a.yaml:8: adaptive.refine.axes[1]: duplicate axis lambda"),
        ("levels: 2}", "levels: 2, scale: {width: cubic}}", "a.yaml:8: adaptive.refine.scale.width: expected one of linear|log"),
        ("round: 4", "rounds: 4", "a.yaml:8: adaptive.rounds: unknown key"),
    ])
    func badSections(_ change: (String, String, String)) {
        #expect(Self.yaml.contains(change.0))
        do {
            _ = try plan(Self.yaml.replacingOccurrences(of: change.0, with: change.1))
            Issue.record("no error for \(change.1)")
        } catch {
            #expect("\(error)".hasPrefix(change.2), "\(error)")
        }
    }

    @Test func roundsKeepEveryTaskIdAndAddTrialsBySeedRule() throws {
        let base = try plan()
        // lambda 0.01 fails, 0.1 and 1 succeed, at both widths: the pairs (0.01, 0.1) differ.
        let tallies = base.cells.map { CellTally(runs: 4, successes: lambda($0) < 0.05 ? 0 : 4) }
        let round = try #require(base.nextAdaptiveRound(tallies: tallies, intervalWidth: Self.width))
        #expect(round.number == 1)
        // Geometric midpoints of 0.01 and 0.1 (log-spaced lambda), one per width.
        #expect(round.newCells.map { $0.settings } == [8, 32].map { w in
            [AxisSetting("depth", .int(2)), AxisSetting("width", .int(w)), AxisSetting("lambda", .double((0.01 * 0.1).squareRoot())),
             AxisSetting("noise", .double(0))]
        })
        #expect(round.newCells.map(\.level) == [1, 1])
        // Every grid cell (4 runs, width 0.5) gets 4 more; the new cells get min_trials.
        #expect(round.extensions.map(\.cell) == Array(0..<8))
        #expect(round.extensions.map(\.trials) == Array(repeating: 4, count: 8))
        let next = base.applying(round)
        #expect(next.cells.count == 8 && next.taskCount == 24 + 32)
        // Old ids keep their tasks; new ids are unique and map back.
        for id in 0..<base.taskCount { #expect(next.task(id) == base.task(id)) }
        var seen = Set<[AxisSetting]>()
        for id in 0..<next.taskCount {
            let task = next.task(id)
            #expect(next.taskID(cell: task.cell.index, trial: task.trial) == id)
            #expect(seen.insert(task.cell.settings + [AxisSetting("trial", .int(task.trial))]).inserted)
            // The seed rule is by value: the same as a plain plan over the cell's values.
            #expect(task.spec.seeds == SweepSeeds.seeds(master: 5, cell: task.cell, trial: task.trial))
        }
        #expect(next.trials(ofCell: 0) == 8 && next.trials(ofCell: 6) == 4 && next.level(ofCell: 7) == 1)
        // Round 2: the new cell at width 32 (0/4) pairs with 0.1 (8/8): a level-2 midpoint; at
        // width 8, 0.1 is at 4/8 now, a difference of 0.5, not more: no midpoint there. Cells at
        // 8 runs and a settled rate stop; max_trials caps the mixed one at 10.
        var tallies2 = next.cells.map { CellTally(runs: next.trials(ofCell: $0.index), successes: lambda($0) < 0.05 ? 0 : next.trials(ofCell: $0.index)) }
        tallies2[1] = CellTally(runs: 8, successes: 4)
        let round2 = try #require(next.nextAdaptiveRound(tallies: tallies2, intervalWidth: Self.width))
        #expect(round2.newCells.map(\.level) == [2])
        #expect(round2.newCells.map { $0.settings[1].value } == [.int(32)])
        let quarter = AxisValue.double(((0.01 * 0.1).squareRoot() * 0.1).squareRoot())
        #expect(round2.newCells.map { $0.settings[2].value } == [quarter])
        #expect(round2.extensions.filter { $0.cell < 8 }.map(\.cell) == [1, 6, 7])
        #expect(round2.extensions.first { $0.cell == 1 }?.trials == 2)
        // Settled at width 8 too: its level-2 midpoint comes; then levels stop refinement (a
        // third would be level 3) and settled cells stop trials: nothing left.
        let third = next.applying(round2)
        let settled = { (plan: SweepPlan) in plan.cells.map { CellTally(runs: 10, successes: lambda($0) < 0.05 ? 0 : 10) } }
        let round3 = try #require(third.nextAdaptiveRound(tallies: settled(third), intervalWidth: Self.width))
        #expect(round3.newCells.map { $0.settings[1].value } == [.int(8)])
        #expect(round3.newCells.map { $0.settings[2].value } == [quarter])
        #expect(round3.extensions.map(\.cell) == [third.cells.count])
        let last = third.applying(round3)
        #expect(last.nextAdaptiveRound(tallies: settled(last), intervalWidth: Self.width) == nil)
    }

    @Test("configs/phase-adaptive.yaml: phase.yaml's cells, whose first 8 trials are phase.yaml's runs")
    func phaseAdaptiveContainsPhase() throws {
        let adaptive = SweepPlan(try SweepConfiguration.load(path: configsDirectory.appendingPathComponent("phase-adaptive.yaml").path))
        let phase = SweepPlan(try SweepConfiguration.load(path: configsDirectory.appendingPathComponent("phase.yaml").path))
        #expect(adaptive.configuration.adaptive == AdaptiveSettings(targetCIWidth: 0.35, minTrials: 4, maxTrials: 24, round: 4))
        #expect(adaptive.cells.map(\.settings) == phase.cells.map(\.settings))
        // Round 1 gives every cell 4 more trials: trials 4..7 are phase.yaml's too.
        let next = adaptive.applying(AdaptiveRound(number: 1, newCells: [],
                                                   extensions: (0..<64).map { .init(cell: $0, trials: 4) }))
        for cell in [0, 17, 63] {
            for trial in 0..<8 {
                #expect(next.task(next.taskID(cell: cell, trial: trial)).spec == phase.task(phase.taskID(cell: cell, trial: trial)).spec)
            }
        }
    }

    @Test("a round read back from its JSON (as the store keeps it) gives the same plan: 1.0 stays a number")
    func roundTripsThroughJSON() throws {
        let base = try plan(Self.yaml.replacingOccurrences(of: "lambda: [0.01, 0.1, 1.0]", with: "lambda: [1.0, 4.0]"))
        let tallies = base.cells.map { CellTally(runs: 4, successes: lambda($0) < 2 ? 0 : 4) }
        let round = try #require(base.nextAdaptiveRound(tallies: tallies, intervalWidth: Self.width))
        #expect(round.newCells.first?.settings.contains(AxisSetting("noise", .double(0))) == true)
        let decoded = try JSONDecoder().decode(AdaptiveRound.self, from: try JSONEncoder().encode(round))
        #expect(decoded == round)
        let next = base.applying(decoded)
        for id in 0..<next.taskCount { #expect(next.task(id) == base.applying(round).task(id)) }
        // Replayed, the plan knows its refined cells: the same tallies add no duplicate.
        let again = next.nextAdaptiveRound(tallies: next.cells.map { CellTally(runs: 8, successes: lambda($0) < 2 ? 0 : 8) },
                                           intervalWidth: Self.width)
        #expect(again?.newCells.contains { $0.settings == round.newCells[0].settings } != true)
    }

    @Test func integerAxesGetIntegerMidpointsAndNoDuplicates() throws {
        let p = try plan(Self.yaml.replacingOccurrences(of: "width: [8, 32]", with: "width: [8, 9, 32]"))
        // Width 8 fails, 9 and 32 succeed: no integer between 8 and 9; (9, 32) agree.
        let tallies = p.cells.map { CellTally(runs: 8, successes: $0["width"] == .int(8) ? 0 : 8) }
        #expect(p.nextAdaptiveRound(tallies: tallies, intervalWidth: { _ in 0 }) == nil)
        let split = p.cells.map { CellTally(runs: 8, successes: $0["width"] == .int(32) ? 8 : 0) }
        let round = try #require(p.nextAdaptiveRound(tallies: split, intervalWidth: { _ in 0 }))
        #expect(Set(round.newCells.map { $0.settings[1].value }) == [.int(21)])
        #expect(round.newCells.count == 3)
    }
}

/// A cell's lambda (every cell of these grids has one).
private func lambda(_ cell: SweepCell) -> Double { cell["lambda"]?.number ?? .nan }
