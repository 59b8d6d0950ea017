import SweepConfig
import Testing
import TrainingCore

/// `trajectories: N`: the first N trials of each cell log a log-spaced trajectory; the others
/// run exactly as before, and the sweep's identity does not change.
@Suite struct TrajectorySamplingTests {
    static let yaml = """
        name: sampled
        grid: {depth: [2, 3], width: [4]}
        trials: 3
        training: {steps: 100}
        """

    @Test("default 1: trial 0 of every cell logs; the fingerprint is the same for any N")
    func sampling() throws {
        let plain = try SweepConfiguration.parse(yaml: Self.yaml, fileName: "s.yaml")
        #expect(plain.trajectories == 1)
        let plan = SweepPlan(plain)
        for id in 0..<plan.taskCount {
            let task = plan.task(id)
            #expect(task.spec.model.record.training.logDensity == nil, "the plan's spec is the sweep's, not the sampled one")
            let sampled = plain.sampled(task.spec, trial: task.trial)
            #expect(sampled.model.record.training.logDensity == (task.trial == 0 ? SweepConfiguration.trajectoryDensity : nil))
        }
        let three = try SweepConfiguration.parse(yaml: Self.yaml + "\ntrajectories: 3\n", fileName: "s.yaml")
        let none = try SweepConfiguration.parse(yaml: Self.yaml + "\ntrajectories: 0\n", fileName: "s.yaml")
        #expect(three.fingerprint == plain.fingerprint && none.fingerprint == plain.fingerprint)
        #expect((0..<3).allSatisfy { three.sampled(plan.task($0).spec, trial: $0).model.record.training.logDensity != nil })
        #expect((0..<3).allSatisfy { none.sampled(plan.task($0).spec, trial: $0).model.record.training.logDensity == nil })
    }

    @Test("log_every in the config logs every run already: no log-spaced trajectory on top")
    func logEveryWins() throws {
        let configuration = try SweepConfiguration.parse(
            yaml: Self.yaml.replacingOccurrences(of: "steps: 100", with: "steps: 100, log_every: 10"), fileName: "s.yaml")
        let spec = configuration.sampled(SweepPlan(configuration).task(0).spec, trial: 0)
        #expect(spec.model.record.training.logEvery == 10 && spec.model.record.training.logDensity == nil)
        try spec.validate()
    }
}
