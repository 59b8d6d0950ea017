import Foundation
import SweepConfig
import Testing
import TrainingCore

/// The repository's configs/ folder, found from this file.
let configsDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("configs")

let minimalYAML = """
    name: t
    seed: 7
    problem: {signal_dim: 60, measurements: 30, latent_dim: 4, samples: 40}
    grid:
      depth: [2, 3]
      width: [40, 80, 160]
      lambda: [0.0, 0.01]
      noise: [0.0]
    trials: 3
    training: {steps: 500, eta_scale: 0.25, stop_on_success: true, init: zero-last, path: plain}
    success: {tol_rec: 0.05, tol_off: 0.02}
    test_noise: [0.0, 0.1]
    """

@Suite struct ParsingTests {
    @Test func optimizerKeysParse() throws {
        let yaml = minimalYAML.replacingOccurrences(of: "path: plain}", with: "path: plain, optimizer: inertial, alpha: 3, beta: 0.5}")
        let config = try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml")
        #expect(config.training.optimizer == .inertial(alpha: 3, beta: 0.5, stepRule: .fixed))
        #expect(SweepPlan(config).task(0).spec.model.record.training.optimizer.alpha == 3)
        // The damping is part of what the results depend on.
        let other = try SweepConfiguration.parse(yaml: yaml.replacingOccurrences(of: "beta: 0.5", with: "beta: 0.25"), fileName: "t.yaml")
        #expect(other.fingerprint != config.fingerprint)
    }

    @Test func flowKeysParse() throws {
        let yaml = minimalYAML.replacingOccurrences(of: "path: plain}", with: "path: plain, optimizer: flow, flow_rtol: 1e-9, flow_atol: 1e-10, flow_time: 40}")
        let config = try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml")
        let training = SweepPlan(config).task(0).spec.model.record.training
        #expect(training.optimizer == .flow(FlowControl(rtol: 1e-9, atol: 1e-10, horizon: 40)))
        let other = try SweepConfiguration.parse(yaml: yaml.replacingOccurrences(of: "flow_time: 40", with: "flow_time: 20"), fileName: "t.yaml")
        #expect(other.fingerprint != config.fingerprint)
        let adaptive = try SweepConfiguration.parse(
            yaml: minimalYAML.replacingOccurrences(of: "path: plain}", with: "path: plain, step_rule: adaptive}"), fileName: "t.yaml")
        #expect(adaptive.training.optimizer == .gd(.adaptive))
    }

    @Test func diagonalConfigParses() throws {
        let config = try SweepConfiguration.load(path: configsDirectory.appendingPathComponent("diagonal.yaml").path)
        let plan = SweepPlan(config)
        #expect(plan.taskCount == 30)
        #expect(config.modelKind == .diagonal)
        #expect(plan.task(0).spec.kind == .diagonal && plan.task(0).spec.model.record.network.initScale == 0.02)
        #expect(Set((0..<plan.taskCount).map { plan.task($0).spec.model.record.network.depth }) == [2, 3])
    }

    @Test func flowConfigParses() throws {
        let config = try SweepConfiguration.load(path: configsDirectory.appendingPathComponent("flow.yaml").path)
        let plan = SweepPlan(config)
        #expect(plan.taskCount == 36)
        #expect(plan.task(0).spec.model.record.training.optimizer.flow?.horizon == 4)
    }

    @Test("flow keys swept in a grid, and where no optimizer of the grid uses them")
    func flowKeysInAGrid() throws {
        let swept = try SweepConfiguration.parse(
            yaml: "training: {optimizer: flow}\ngrid:\n  flow_time: [1, 2]\n  flow_rtol: [1.0e-6, 1.0e-9]\n", fileName: "t.yaml")
        #expect(SweepPlan(swept).taskCount == 4)
        #expect(Set((0..<4).map { SweepPlan(swept).task($0).spec.model.record.training.optimizer.flow?.rtol }) == [1e-6, 1e-9])
        #expect(throws: ConfigError.self) {
            try SweepConfiguration.parse(yaml: "grid:\n  flow_time: [1, 2]\n", fileName: "t.yaml")
        }
        #expect(throws: ConfigError.self) {
            try SweepConfiguration.parse(yaml: "training: {optimizer: flow}\ngrid:\n  step_rule: [fixed, adaptive]\n", fileName: "t.yaml")
        }
    }

    @Test("model: noop and sleep reach every task's spec; deep-linear is the default and keeps the fingerprint")
    func modelKindParses() throws {
        let plain = try SweepConfiguration.parse(yaml: minimalYAML, fileName: "t.yaml")
        #expect(plain.modelKind == .deepLinear)
        let explicit = try SweepConfiguration.parse(yaml: "model: deep-linear\n" + minimalYAML, fileName: "t.yaml")
        #expect(explicit.fingerprint == plain.fingerprint)
        let noop = try SweepConfiguration.parse(yaml: "model: noop\n" + minimalYAML, fileName: "t.yaml")
        #expect(SweepPlan(noop).task(5).spec.kind == .noop)
        #expect(noop.fingerprint != plain.fingerprint)
        let sleepYAML = "model: sleep\n" + minimalYAML.replacingOccurrences(of: "path: plain}", with: "path: plain, sleep_seconds: 0.25}")
        let sleep = try SweepConfiguration.parse(yaml: sleepYAML, fileName: "t.yaml")
        #expect(SweepPlan(sleep).task(0).spec.kind == .sleep)
        #expect(SweepPlan(sleep).task(0).spec.model.sleepSeconds == 0.25)
        let longer = try SweepConfiguration.parse(yaml: sleepYAML.replacingOccurrences(of: "0.25", with: "0.5"), fileName: "t.yaml")
        #expect(longer.fingerprint != sleep.fingerprint)
    }

    @Test func inertialConfigParses() throws {
        let config = try SweepConfiguration.load(path: configsDirectory.appendingPathComponent("inertial.yaml").path)
        #expect(config.name == "inertial")
        #expect(config.training.optimizer.kind != .gd)
    }

    @Test func quickConfigParses() throws {
        let path = configsDirectory.appendingPathComponent("quick.yaml").path
        let config = try SweepConfiguration.load(path: path)
        #expect(config.name == "quick")
        #expect(config.seed == 1)
        #expect(config.problem.signalDim == 60)
        #expect(config.problem.measurements == 30)
        #expect(config.axis("depth")?.values == [.int(2), .int(3), .int(5)])
        #expect(config.training.stopOnSuccess)
        let plan = SweepPlan(config)
        #expect(plan.taskCount >= 100 && plan.taskCount <= 300)
        #expect(config.yamlText.contains("name: quick"))
    }

    @Test func figure1ConfigParses() throws {
        let config = try SweepConfiguration.load(path: configsDirectory.appendingPathComponent("figure1.yaml").path)
        #expect(config.problem.signalDim == 200)
        #expect(config.problem.measurements == 100)
        #expect(config.problem.latentDim == 5)
        #expect(config.problem.samples == 50)
    }

    @Test func keysReachTheSpecs() throws {
        let config = try SweepConfiguration.parse(yaml: minimalYAML, fileName: "t.yaml")
        #expect(config.seed == 7)
        #expect(config.trials == 3)
        #expect(config.grid == [
            GridAxis(key: "depth", values: [.int(2), .int(3)]), GridAxis(key: "width", values: [.int(40), .int(80), .int(160)]),
            GridAxis(key: "lambda", values: [.double(0), .double(0.01)]), GridAxis(key: "noise", values: [.double(0)]),
        ])
        #expect(config.training.steps == 500)
        #expect(config.training.etaScale == 0.25)
        #expect(config.training.tolRec == 0.05)
        #expect(config.training.tolOff == 0.02)
        #expect(config.training.testNoise == [0, 0.1])
        #expect(config.training.path == .plain)
        #expect(config.network.initScheme == .zeroLast)
        #expect(config.successMeasure == .converged)
        #expect(config.training.tolConv == 1e-3)
    }

    @Test func outcomesAndAutoBudget() throws {
        let short = try SweepConfiguration.parse(yaml: "success: recovered\ntraining: {steps: auto, max_steps: 5000}\n",
                                                 fileName: "s.yaml")
        #expect(short.successMeasure == .recovered)
        #expect(short.training.steps == .auto && short.training.maxSteps == 5000)
        let long = try SweepConfiguration.parse(
            yaml: "success: {measure: converged, tol_conv: 1e-4, tol_grad: 1e-8}\ntraining: {budget_factor: 3}\n",
            fileName: "l.yaml")
        #expect(long.successMeasure == .converged && long.training.tolConv == 1e-4 && long.training.tolGrad == 1e-8)
        #expect(long.training.budgetFactor == 3)
        // The measure picks the heat map only: it is not part of what a result depends on.
        var other = long
        other.successMeasure = .recovered
        #expect(other.fingerprint == long.fingerprint)
    }

    @Test func fixedAxesUnderTraining() throws {
        let yaml = """
            grid: {depth: [2, 4]}
            training: {width: 33, lambda: 0.5, noise: 0.25}
            """
        let config = try SweepConfiguration.parse(yaml: yaml, fileName: "f.yaml")
        #expect(config.name == "f")
        #expect(config.grid == [
            GridAxis(key: "depth", values: [.int(2), .int(4)]), GridAxis(key: "width", values: [.int(33)]),
            GridAxis(key: "lambda", values: [.double(0.5)]), GridAxis(key: "noise", values: [.double(0.25)]),
        ])
        let plan = SweepPlan(config)
        #expect(plan.cells.count == 2)
        #expect(plan.task(1).spec.model.record.network.width == 33)
        #expect(plan.task(1).spec.model.record.training.lambda == 0.5)
        #expect(plan.task(1).spec.model.record.training.noise == 0.25)
    }

    @Test func absentAxesTakeTheDefaults() throws {
        let config = try SweepConfiguration.parse(yaml: "trials: 2\n", fileName: "d.yaml")
        let defaults = DeepLinearSpec()
        #expect(config.grid == [
            GridAxis(key: "depth", values: [.int(defaults.network.depth)]), GridAxis(key: "width", values: [.int(defaults.network.width)]),
            GridAxis(key: "lambda", values: [.double(defaults.training.lambda)]),
            GridAxis(key: "noise", values: [.double(defaults.training.noise)]),
        ])
        #expect(SweepPlan(config).taskCount == 2)
    }

    @Test func missingFile() {
        #expect {
            try SweepConfiguration.load(path: "/nonexistent/sweep.yaml")
        } throws: { error in
            "\(error)" == "/nonexistent/sweep.yaml: no such file"
        }
    }
}

@Suite struct ErrorTests {
    /// Parses `yaml` as `x.yaml` and returns the error's description.
    func failure(_ yaml: String) -> String? {
        do {
            _ = try SweepConfiguration.parse(yaml: yaml, fileName: "configs/x.yaml")
            return nil
        } catch let error as ConfigError {
            return error.description
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    static let cases: [(yaml: String, expected: String)] = [
        ("name: a\ngrid:\n  width: [40, 80, abc]\n",
         "configs/x.yaml:3: grid.width[2]: expected a list of positive integers, got \"abc\""),
        ("name: a\nbogus: 1\n",
         "configs/x.yaml:2: bogus: unknown key; expected one of name, seed, model, problem, grid, trials, training, success, test_noise, heatmap, trajectories, adaptive, verify"),
        ("trajectories: -1\n", "configs/x.yaml:1: trajectories: expected a number of trials >= 0 (0: no trajectories), got \"-1\""),
        ("training:\n  steps: 10\n  stepz: 3\n",
         "configs/x.yaml:3: training.stepz: unknown key; expected one of steps, max_steps, budget_factor, eta, eta_scale, stop_on_success, log_every, init, init_scale, optimizer, alpha, beta, step_rule, flow_rtol, flow_atol, flow_time, path, mean_data_term, lambda_per_layer, rank_tolerance, check_every, depth, width, lambda, noise, sleep_seconds"),
        ("grid:\n  depth: []\n", "configs/x.yaml:2: grid.depth: expected a non-empty list of positive integers"),
        ("grid:\n  depth: 3\n", "configs/x.yaml:2: grid.depth: expected a list of positive integers, got \"3\""),
        ("trials: 0\n", "configs/x.yaml:1: trials: expected a positive integer, got \"0\""),
        ("trials: \"4\"\n", "configs/x.yaml:1: trials: expected a positive integer, got the string \"4\""),
        ("training: {steps: -5}\n", "configs/x.yaml:1: training.steps: expected a positive integer or auto, got \"-5\""),
        ("problem:\n  signal_dim: 0\n", "configs/x.yaml:2: problem.signal_dim: expected a positive integer, got \"0\""),
        ("grid:\n  lambda: [0.1,\n    -0.01]\n",
         "configs/x.yaml:3: grid.lambda[1]: expected a list of non-negative numbers, got -0.01"),
        ("training:\n  noise: -1\n", "configs/x.yaml:2: training.noise: expected a non-negative number, got -1"),
        ("problem:\n  signal_dim: 50\n  measurements: 50\n",
         "configs/x.yaml:3: problem.measurements: must be less than signal_dim (50) for an underdetermined problem, got 50"),
        ("problem:\n  signal_dim: 50\n  measurements: 10\n  latent_dim: 11\n",
         "configs/x.yaml:4: problem.latent_dim: must not exceed measurements (10), got 11"),
        ("grid:\n  width: [40, 80, 40]\n", "configs/x.yaml:2: grid.width[2]: duplicate value 40 (also at [0])"),
        ("grid:\n  depth: [2]\ntraining:\n  depth: 3\n",
         "configs/x.yaml:4: training.depth: also listed under grid (line 2); give an axis in one place"),
        ("training: {init: xavier}\n",
         "configs/x.yaml:1: training.init: expected one of kaiming|orthogonal|balanced|zero-last, got \"xavier\""),
        ("training: {stop_on_success: maybe}\n",
         "configs/x.yaml:1: training.stop_on_success: expected true or false, got \"maybe\""),
        ("seed: -1\n", "configs/x.yaml:1: seed: expected an integer in 0...18446744073709551615, got \"-1\""),
        ("test_noise: [0.1, .nan]\n", "configs/x.yaml:1: test_noise[1]: expected a list of non-negative numbers, got \".nan\""),
        ("problem: [1, 2]\n", "configs/x.yaml:1: problem: expected a mapping, got a list"),
        ("grid: {depth: [1, 2}\n", "configs/x.yaml:1: not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence)"),
        ("trials: 2\ntrials: 3\n", "configs/x.yaml:1: duplicate key 'trials'"),
        ("training: {optimizer: adam}\n",
         "configs/x.yaml:1: training.optimizer: expected one of gd|heavy-ball|inertial|flow, got \"adam\""),
        ("training:\n  steps: 10\n  flow_rtol: 1e-6\n", "configs/x.yaml:3: training.flow_rtol: applies to optimizer flow only, not gd"),
        ("training:\n  optimizer: flow\n  flow_atol: 0\n", "configs/x.yaml:3: training.flow_atol: expected a number in (0, 1), got 0.0"),
        ("training:\n  optimizer: flow\n  step_rule: adaptive\n",
         "configs/x.yaml:3: training.step_rule: adaptive applies to gd, heavy-ball and inertial; flow's steps are always adaptive (flow_rtol, flow_atol)"),
        ("training: {step_rule: armijo}\n", "configs/x.yaml:1: training.step_rule: expected one of fixed|adaptive, got \"armijo\""),
        ("training:\n  optimizer: inertial\n  alpha: -1\n", "configs/x.yaml:3: training.alpha: expected a non-negative number, got -1"),
        ("training:\n  optimizer: inertial\n  beta: .inf\n", "configs/x.yaml:3: training.beta: expected a non-negative number, got \".inf\""),
        ("training:\n  steps: 10\n  alpha: 2\n", "configs/x.yaml:3: training.alpha: applies to optimizer heavy-ball or inertial, not gd"),
        ("training:\n  optimizer: flow\n  alpha: 2\n", "configs/x.yaml:3: training.alpha: applies to optimizer heavy-ball or inertial, not flow"),
        ("grid:\n  optimizer: [gd, heavy-ball]\n  flow_time: [1, 2]\n", "configs/x.yaml:3: grid.flow_time: applies to optimizer flow only, not gd, heavy-ball"),
        ("training:\n  optimizer: heavy-ball\n  beta: 1\n",
         "configs/x.yaml:3: training.beta: applies to optimizer inertial only, not heavy-ball"),
        ("success: {tol_off: 0}\n", "configs/x.yaml:1: success.tol_off: expected a positive number, got 0"),
        ("success: fast\n", "configs/x.yaml:1: success: expected one of converged|recovered, got \"fast\""),
        ("model: resnet\n", "configs/x.yaml:1: model: expected one of deep-linear|diagonal|noop|sleep, got \"resnet\""),
        ("model: diagonal\ntraining: {optimizer: heavy-ball}\n", "configs/x.yaml:1: model: diagonal trains with optimizer gd or flow only, not heavy-ball"),
        ("grid:\n  model: [deep-linear, diagonal]\ntraining: {optimizer: heavy-ball}\n",
         "configs/x.yaml:2: grid.model: diagonal trains with optimizer gd or flow only, not heavy-ball"),
        ("grid:\n  model: [deep-linear, diagonal]\n  lambda: [0, 0.1]\n",
         "configs/x.yaml:2: grid.model: diagonal has no weight decay: lambda must be 0, not 0.1"),
        ("model: diagonal\ngrid:\n  lambda: [0, 0.1]\n", "configs/x.yaml:1: model: diagonal has no weight decay: lambda must be 0, not 0.1"),
        ("training:\n  sleep_seconds: 1\n", "configs/x.yaml:2: training.sleep_seconds: applies to model sleep only, not deep-linear"),
        ("model: sleep\ntraining:\n  sleep_seconds: -1\n",
         "configs/x.yaml:3: training.sleep_seconds: expected a non-negative number, got -1"),
        ("training: {steps: soon}\n", "configs/x.yaml:1: training.steps: expected a positive integer or auto, got \"soon\""),
    ]

    @Test(arguments: cases)
    func errorNamesFileKeyAndLine(_ example: (yaml: String, expected: String)) {
        #expect(failure(example.yaml) == example.expected)
    }

    @Test func emptyFile() {
        #expect(failure("") == "configs/x.yaml: empty file, expected a mapping of sweep keys")
    }

    @Test func hugeSeedParses() throws {
        let config = try SweepConfiguration.parse(yaml: "seed: 18446744073709551615\n", fileName: "s.yaml")
        #expect(config.seed == UInt64.max)
    }
}
