import SweepConfig
import Testing
import TrainingCore

/// The deep network's settings in a config whose every model is diagonal (docs/MODEL.md §5):
/// an error naming the file, key and line, as every setting that does not apply is; read as an
/// older version read them (ignored, kept in the fingerprint) only from a stored sweep.
@Suite struct DiagonalSettingTests {
    static let refused = "applies to the deep-linear model, not diagonal (docs/MODEL.md §5): remove it"

    /// One config per key of `DiagonalSpec.deepLinearKeys`, in each place it can be given, and the error.
    static let cases: [(yaml: String, located: String)] = [
        ("model: diagonal\nproblem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}\n", "2: problem.samples"),
        ("model: diagonal\nproblem:\n  condition: 2\n", "3: problem.condition"),
        ("model: diagonal\nproblem:\n  test_samples: 10\n", "3: problem.test_samples"),
        // The default spelled out is a setting given all the same.
        ("model: diagonal\nproblem:\n  operator: gaussian\n", "3: problem.operator"),
        ("model: diagonal\ntraining:\n  steps: 10\n  width: 10\n", "4: training.width"),
        ("model: diagonal\ntraining:\n  init: orthogonal\n", "3: training.init"),
        ("model: diagonal\ntraining: {budget_factor: 2}\n", "2: training.budget_factor"),
        ("model: diagonal\ntraining: {path: plain}\n", "2: training.path"),
        ("model: diagonal\ntraining: {mean_data_term: true}\n", "2: training.mean_data_term"),
        ("model: diagonal\ntraining: {lambda_per_layer: true}\n", "2: training.lambda_per_layer"),
        ("model: diagonal\nsuccess: {measure: converged, tol_off: 0.01}\n", "2: success.tol_off"),
        ("model: diagonal\ntest_noise: [0, 0.1]\n", "2: test_noise"),
        ("model: diagonal\ngrid:\n  width: [10, 20]\n", "3: grid.width"),
        ("model: diagonal\ngrid:\n  samples: [10, 20]\n", "3: grid.samples"),
        ("grid:\n  model: [diagonal]\n  init: [kaiming, orthogonal]\n", "3: grid.init"),
        // The first in the file is named.
        ("model: diagonal\ntest_noise: [0]\ntraining: {width: 10}\n", "2: test_noise"),
    ]

    @Test("each deep-network key with model diagonal: an error naming file, line and key", arguments: cases)
    func refused(_ example: (yaml: String, located: String)) {
        #expect(throws: ConfigError.self) { try SweepConfiguration.parse(yaml: example.yaml, fileName: "configs/x.yaml") }
        do {
            _ = try SweepConfiguration.parse(yaml: example.yaml, fileName: "configs/x.yaml")
        } catch {
            #expect("\(error)" == "configs/x.yaml:\(example.located): \(Self.refused)")
        }
    }

    @Test("a model axis with deep-linear and diagonal: width and samples belong to the deep-linear cells")
    func mixedModelAxis() throws {
        let yaml = """
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
            grid:
              model: [deep-linear, diagonal]
              width: [10, 20]
            test_noise: [0, 0.1]
            """
        let config = try SweepConfiguration.parse(yaml: yaml, fileName: "mixed.yaml")
        #expect(config.ignoredSettings.isEmpty)
        let plan = SweepPlan(config)
        #expect(plan.taskCount == 4)
        var widths: [ModelKind: [Int]] = [:]
        for id in 0..<plan.taskCount {
            let task = plan.task(id)
            guard case let .int(width) = task.cell.settings.first(where: { $0.key == "width" })?.value else {
                Issue.record("task \(id) has no width"); continue
            }
            switch task.spec.model {
            case .deepLinear(let run):
                #expect(run.network.width == width && run.problem.samples == 12)
                widths[.deepLinear, default: []].append(width)
            case .diagonal(let run):
                // No width to hold: its record keeps the default.
                #expect(run.record.network.width == NetworkSpec().width && run.record.problem.samples == ProblemSpec().samples)
                widths[.diagonal, default: []].append(width)
            default:
                Issue.record("task \(id): \(task.spec.kind)")
            }
        }
        #expect(widths == [.deepLinear: [10, 20], .diagonal: [10, 20]])
    }

    @Test("a stored diagonal sweep that sets samples: read with the key ignored and named, its fingerprint and tasks unchanged")
    func storedSweep() throws {
        let yaml = "seed: 3\nmodel: diagonal\nproblem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}\ngrid:\n  init_scale: [0.1, 0.2]\n"
        #expect(throws: ConfigError.self) { try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml") }
        let stored = try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml", storedSweep: true)
        #expect(stored.ignoredSettings == ["t.yaml:3: problem.samples: ignored: applies to the deep-linear model, not diagonal (docs/MODEL.md §5)"])
        // The key stays in the record (and so in the fingerprint, as it always was) ...
        #expect(stored.problem.samples == 12)
        let without = try SweepConfiguration.parse(yaml: yaml.replacingOccurrences(of: ", samples: 12", with: ""), fileName: "t.yaml")
        #expect(stored.fingerprint != without.fingerprint)
        // ... and reaches no run: the tasks are those of the config without it.
        let plan = SweepPlan(stored), plain = SweepPlan(without)
        #expect(plan.taskCount == plain.taskCount)
        for id in 0..<plan.taskCount { #expect(plan.task(id).spec == plain.task(id).spec) }
        // With overrides too (a folder started with them stores the overridden text).
        let overridden = try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml", overrides: [try ConfigOverride("trials=2")], storedSweep: true)
        #expect(overridden.ignoredSettings.count == 1 && overridden.trials == 2)
        #expect(throws: ConfigError.self) { try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml", overrides: [try ConfigOverride("trials=2")]) }
    }
}
