public import ArgumentParser
import Foundation
import LinearAlgebra
import NumPyFiles
import ResultsStore
import SweepConfig
public import TrainingCore

extension InitScheme: ExpressibleByArgument {}
extension GradientPath: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension StepRule: ExpressibleByArgument {}
extension ModelKind: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train one deep linear network on one inverse problem (or, with --model diagonal, one diagonal linear network on sparse recovery) and report its metrics (docs/MODEL.md §3, §5).")

    @Option(help: "deep-linear, or diagonal: w = u^D - v^D on y = A w*, w* s-sparse, with n = --signal-dim, m = --measurements, s = --latent-dim, D = --depth, u(0) = v(0) = --init-scale (docs/MODEL.md §5).")
    var model: ModelKind = RunSpec().kind

    @Option(help: "d, the signal dimension.") var signalDim = ProblemSpec().signalDim
    @Option(help: "m < d, the number of measurements.") var measurements = ProblemSpec().measurements
    @Option(help: "r, the dimension of the signal subspace.") var latentDim = ProblemSpec().latentDim
    @Option(help: "n, the number of training signals (default \(ProblemSpec().samples)).") var samples: Int?
    @Option(help: "L >= 1, the number of layers (default \(NetworkSpec().depth), or as many as --init-weights holds).") var depth: Int?
    @Option(help: "d_w, the hidden width (default \(NetworkSpec().width)).") var width: Int?
    @Option(help: "Weight decay lambda >= 0.") var lambda = TrainingSpec().lambda
    @Option(help: "Training measurement noise sigma_train.") var noise = TrainingSpec().noise
    @Option(help: "Seed of the problem; the training seed derives from it.") var seed: UInt64 = 1
    @Option(help: "T, the number of steps at most, or auto (MODEL.md §4: ln(scale/tol_conv)/(eta lambda), capped by --max-steps).")
    var steps = "\(TrainingSpec().stepLimit)"
    @Option(help: "The cap of --steps auto, and its budget for lambda = 0.") var maxSteps = TrainingSpec().maxSteps
    @Option(help: "c of --steps auto (default \(decimalLabel(TrainingSpec().budgetFactor))).") var budgetFactor: Double?
    @Option(help: "A fixed step size (overrides --eta-scale).") var eta: Double?
    @Option(help: "c in eta = c / (L sigma_max(Y)^2).") var etaScale = TrainingSpec().etaScale
    @Option(help: "gd, heavy-ball, inertial or flow (docs/MODEL.md, Optimizers).") var optimizer: OptimizerKind = TrainingSpec().optimizer.kind
    @Option(help: "fixed (default) or adaptive (backtracking; gd, heavy-ball and inertial; docs/MODEL.md, Adaptive step).") var stepRule: StepRule?
    @Option(help: "flow: relative error tolerance of each Runge-Kutta step (default \(FlowControl().rtol)).") var flowRtol: Double?
    @Option(help: "flow: absolute error tolerance of each Runge-Kutta step (default \(FlowControl().atol)).") var flowAtol: Double?
    @Option(help: "flow: the time horizon (default: the time --steps steps of size eta cover); --max-steps caps the accepted steps.") var flowTime: Double?
    @Option(help: "Viscous damping alpha of heavy-ball and inertial: momentum 1 - alpha h, h = sqrt(eta) (default \(decimalLabel(Optimizer.defaultAlpha))).") var alpha: Double?
    @Option(help: "Hessian-driven damping beta of inertial (default \(decimalLabel(Optimizer.defaultBeta))).") var beta: Double?
    @Option(help: "Initialization: kaiming (default), orthogonal, balanced or zero-last.") var `init`: InitScheme?
    @Option(help: "alpha, multiplies every initial weight.") var initScale = NetworkSpec().initScale
    @Flag(help: "Stop at the first check where the run has converged to W*_lambda.") var stopOnSuccess = false
    @Option(help: "Record the metrics every K steps (the trajectory).") var logEvery: Int?
    @Option(help: "Test noise levels, comma-separated (default \(TrainingSpec().testNoise.map(decimalLabel).joined(separator: ","))).") var testNoise: String?
    @Option(help: "converged: target_distance <= tol-conv.") var tolConv = TrainingSpec().tolConv
    @Option(help: "stationary: gradient_norm <= tol-grad without convergence.") var tolGrad = TrainingSpec().tolGrad
    @Option(help: "recovered: reconstruction_error <= tol-rec ||R||_F ...") var tolRec = TrainingSpec().tolRec
    @Option(help: "... and off_subspace_error <= tol-off ||W_or||_F (default \(decimalLabel(TrainingSpec().tolOff))).") var tolOff: Double?
    @Option(help: "Judge the outcomes every K steps (first-hit times are exact to K).") var checkEvery = TrainingSpec().checkEvery
    @Option(help: "Folder with A.npy, X.npy and optionally R.npy (replaces the generated problem).") var problem: String?
    @Option(help: "Folder with W1.npy ... WL.npy, the initial weights.") var initWeights: String?
    @Option(help: "Folder to write the final W1.npy ... WL.npy to.") var saveWeights: String?
    @Option(help: "reduced (column-space reduction, fast; default) or plain (full gradient, the reference).") var path: GradientPath?
    @Option(help: "OpenBLAS threads.") var threads = 1
    @Flag(help: "Print one JSON object with the metrics.") var json = false
    @Option(help: "Replay a task of the sweep whose results are in this folder (with --task); only --log-every, --save-weights, --threads and --json apply.") var from: String?
    @Option(help: "The task id to replay (with --from): the `task_id` of results.sqlite.") var task: Int?

    func run() throws {
        BLAS.setThreads(threads)
        if from != nil || task != nil {
            try replay()
            return
        }
        // A deep network's setting given to the diagonal model: the rule a config follows.
        let deepLinearOptions: [(key: String, given: Bool)] = [
            ("samples", samples != nil), ("width", width != nil), ("init", `init` != nil), ("budget_factor", budgetFactor != nil),
            ("test_noise", testNoise != nil), ("tol_off", tolOff != nil), ("path", path != nil),
        ]
        for option in deepLinearOptions where option.given {
            if let refusal = DiagonalSpec.refusal(ofKey: option.key, models: [model]) {
                throw TrainingError("--\(option.key.replacingOccurrences(of: "_", with: "-")) \(refusal.message)")
            }
        }
        let levels = try (testNoise ?? TrainingSpec().testNoise.map(decimalLabel).joined(separator: ",")).split(separator: ",").map { text -> Double in
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw TrainingError("--test-noise: '\(text)' is not a number")
            }
            return value
        }
        guard model == .deepLinear || model == .diagonal else {
            throw TrainingError("--model: train runs deep-linear or diagonal, not \(model.rawValue)")
        }
        // The path a config takes too (RunSettings): the same defaults, the same refusals.
        var settings = RunSettings()
        settings.model = model
        settings.common.problem.signalDim = signalDim
        settings.common.problem.measurements = measurements
        settings.common.problem.latentDim = latentDim
        if let samples { settings.common.problem.samples = samples }
        if let depth { settings.common.network.depth = depth }
        if let width { settings.common.network.width = width }
        if let scheme = `init` { settings.common.network.initScheme = scheme }
        settings.common.network.initScale = initScale
        settings.common.training.lambda = lambda
        settings.common.training.noise = noise
        if steps == "auto" {
            settings.common.training.steps = .auto
        } else if let fixed = Int(steps) {
            settings.common.training.steps = .fixed(fixed)
        } else {
            throw TrainingError("--steps: expected a number of steps or auto, got '\(steps)'")
        }
        settings.common.training.maxSteps = maxSteps
        if let budgetFactor { settings.common.training.budgetFactor = budgetFactor }
        settings.common.training.checkEvery = checkEvery
        settings.common.training.tolConv = tolConv
        settings.common.training.tolGrad = tolGrad
        settings.common.training.eta = eta
        settings.common.training.etaScale = etaScale
        settings.common.training.stopOnSuccess = stopOnSuccess
        settings.common.training.logEvery = logEvery
        settings.common.training.testNoise = levels
        settings.common.training.tolRec = tolRec
        if let tolOff { settings.common.training.tolOff = tolOff }
        if let path { settings.common.training.path = path }
        settings.optimizer = optimizer
        settings.stepRule = stepRule
        settings.alpha = alpha
        settings.beta = beta
        settings.flowRtol = flowRtol
        settings.flowAtol = flowAtol
        settings.flowTime = flowTime
        var spec: RunSpec
        do {
            spec = try settings.spec()
        } catch {
            // In the command line's spelling: "--beta applies to --optimizer inertial only, not gd".
            let option = "--" + error.key.replacingOccurrences(of: "_", with: "-")
            // The diagonal model's own rules read as sentences: "--lambda: diagonal has no weight decay: …".
            if error.message.hasPrefix("diagonal") { throw TrainingError("\(option): \(error.message)") }
            throw TrainingError(option + " " + error.message.replacingOccurrences(of: "applies to optimizer", with: "applies to --optimizer")
                .replacingOccurrences(of: "applies to model", with: "applies to --model"))
        }
        spec.seeds = RunSeeds(problem: seed, training: SweepSeeds.chain(seed, [0x7472_6169_6E69_6E67]))
        let run: DeepLinearSpec
        switch spec.model {
        case .deepLinear(let deep): run = deep
        case .diagonal(let diagonal):
            if let name = [("--problem", problem), ("--init-weights", initWeights), ("--save-weights", saveWeights)]
                .first(where: { $0.1 != nil })?.0 {
                throw TrainingError("\(name) applies to the deep-linear model, not diagonal")
            }
            try spec.checkFitsInMemory()
            try printDiagonal(trainDiagonal(diagonal, seeds: spec.seeds), testNoise: levels)
            return
        case .noop, .sleep:
            throw TrainingError("--model: train runs deep-linear or diagonal, not \(model.rawValue)")
        }

        let outcome: TrainingOutcome
        do {
            let theProblem: Problem
            if let problem {
                let dir = URL(fileURLWithPath: problem)
                let a = try NPYFile.read(dir.appendingPathComponent("A.npy").path)
                let x = try NPYFile.read(dir.appendingPathComponent("X.npy").path)
                let rPath = dir.appendingPathComponent("R.npy").path
                let r = FileManager.default.fileExists(atPath: rPath) ? try NPYFile.read(rPath) : nil
                theProblem = try Problem(a: a, x: x, basis: r, testSamples: run.problem.testSamples, seed: seed)
            } else {
                try spec.validate()
                try spec.checkFitsInMemory()
                theProblem = try Problem.generate(run.problem, seed: spec.seeds.problem)
            }
            var weights: [Matrix]?
            if let initWeights {
                let read = try Self.readWeights(initWeights)
                if let depth, depth != read.count {
                    throw TrainingError("--depth \(depth) but --init-weights \(initWeights) holds W1.npy ... W\(read.count).npy (\(read.count) layers)")
                }
                weights = read
            }
            outcome = try train(problem: theProblem, model: run.network, training: run.training,
                                trainingSeed: spec.seeds.training, initialWeights: weights)
        }
        if let saveWeights {
            do {
                try ResultsStore.createDirectory(saveWeights)
            } catch ResultsStoreError.cannotCreateDirectory(_, let reason) {
                throw TrainingError("--save-weights \(saveWeights): cannot create the folder: \(reason)")
            }
            for (l, w) in outcome.weights.enumerated() {
                try NPYFile.write(w, to: URL(fileURLWithPath: saveWeights).appendingPathComponent("W\(l + 1).npy").path)
            }
        }
        let report = outcome.report
        if json {
            print(try Self.json(report, model: .deepLinear, testNoise: levels))
        } else {
            print(Self.summary(report, testNoise: levels))
        }
    }

    /// `--from DIR --task N`: the task's spec exactly as the sweep's workers got it.
    private func replay() throws {
        guard let from, let task else { throw TrainingError("--from and --task go together") }
        guard problem == nil, initWeights == nil else {
            throw TrainingError("--from replays a sweep's task: it takes neither --problem nor --init-weights")
        }
        let (store, configuration) = try openStoredSweep(from)
        let plan = store.plan
        guard plan.contains(taskID: task) else {
            throw TrainingError("--task \(task): the sweep '\(configuration.name)' in \(from) has tasks 0..<\(plan.taskCount)")
        }
        let sweepTask = plan.task(task)
        let spec = sweepTask.spec
        try spec.validate()
        try spec.checkFitsInMemory()
        // Logging measures without changing the iterates, so the replay stays exact.
        var run: DeepLinearSpec
        switch spec.model {
        case .deepLinear(let deep): run = deep
        case .diagonal(var diagonal):
            guard saveWeights == nil else { throw TrainingError("--save-weights applies to the deep-linear model, not diagonal") }
            if let logEvery { diagonal.training.logEvery = logEvery }
            try printDiagonal(trainDiagonal(diagonal, seeds: spec.seeds), testNoise: spec.model.record.training.testNoise)
            return
        case .noop(let shape), .sleep(_, let shape): run = shape  // the network its frames carry
        }
        if let logEvery { run.training.logEvery = logEvery }
        let problem = try Problem.generate(run.problem, seed: spec.seeds.problem)
        let outcome = try train(problem: problem, model: run.network, training: run.training,
                                trainingSeed: spec.seeds.training)
        if let saveWeights {
            try ResultsStore.createDirectory(saveWeights)
            for (l, w) in outcome.weights.enumerated() {
                try NPYFile.write(w, to: URL(fileURLWithPath: saveWeights).appendingPathComponent("W\(l + 1).npy").path)
            }
        }
        let levels = run.training.testNoise
        if json {
            print(try Self.json(outcome.report, model: .deepLinear, testNoise: levels))
        } else {
            let cell = sweepTask.cell
            print("task \(task) of sweep '\(configuration.name)': \(cell.settings.map { "\($0.key) \($0.value), " }.joined())trial \(sweepTask.trial)")
            print(Self.summary(outcome.report, testNoise: levels))
        }
    }

    /// W1.npy ... WL.npy: every `W<k>.npy` of the folder, which must be numbered 1...L with
    /// none missing (a gap would otherwise silently give a shallower network).
    static func readWeights(_ directory: String) throws -> [Matrix] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw TrainingError("--init-weights \(directory): no such folder (expected W1.npy ... WL.npy in it)")
        }
        let indices = names.compactMap { name -> Int? in
            guard name.hasPrefix("W"), name.hasSuffix(".npy") else { return nil }
            return Int(name.dropFirst().dropLast(4)).flatMap { $0 >= 1 ? $0 : nil }
        }.sorted()
        guard let depth = indices.last else {
            throw TrainingError("\(directory): no W1.npy (initial weights W1.npy ... WL.npy)")
        }
        let present = Set(indices)
        if let missing = (1...depth).first(where: { !present.contains($0) }) {
            throw TrainingError("\(directory): W\(missing).npy is missing; W\(depth).npy is there, so the network has \(depth) layers and needs W1.npy ... W\(depth).npy")
        }
        let dir = URL(fileURLWithPath: directory)
        return try (1...depth).map { try NPYFile.read(dir.appendingPathComponent("W\($0).npy").path) }
    }

    /// The report as JSON, one key per field of `RunReport.fields` that the run's model
    /// reports (null where it was not measured or is not finite), the trajectory last.
    static func json(_ r: RunReport, model: ModelKind, testNoise: [Double]) throws -> String {
        func number(_ x: Double?) -> Any { x.flatMap { $0.isFinite ? $0 : nil } ?? NSNull() }
        var object: [String: Any] = [:]
        for field in RunReport.fields where field.value.isCarried && field.applies(to: model) {
            switch field.value {
            case .double(let get, _): object[field.column] = number(get(r))
            case .int(let get, _): object[field.column] = get(r) ?? NSNull()
            case .bool(let get, _): object[field.column] = get(r) ?? NSNull()
            case .name(let get, _, _): object[field.column] = get(r) ?? NSNull()
            case .perNoise(let get, _):
                object[field.column] = get(r).map { values in
                    Dictionary(uniqueKeysWithValues: zip(testNoise.map(decimalLabel), values.map(number)))
                } ?? NSNull()
            case .trajectory, .derived: break
            }
        }
        if !r.trajectory.isEmpty {
            object["trajectory"] = r.trajectory.map { p -> [String: Any] in
                ["step": p.step, "loss": number(p.loss), "train_residual": number(p.trainResidual),
                 "reconstruction_error": number(p.reconstructionError),
                 "off_subspace_error": number(p.offSubspaceError), "target_distance": number(p.targetDistance),
                 "gradient_norm": number(p.gradientNorm), "balancedness": number(p.balancedness),
                 "flow_time": number(p.flowTime), "singular_values": p.singularValues.map(number)]
            }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// A diagonal run: the report's JSON with the reference's figures, or a summary.
    private func printDiagonal(_ outcome: DiagonalOutcome, testNoise: [Double]) throws {
        let r = outcome.report, rho = try outcome.reference.strictestCertificate(a: outcome.problem.a)
        if json {
            var object = try JSONSerialization.jsonObject(with: Data(Self.json(r, model: .diagonal, testNoise: testNoise).utf8)) as? [String: Any] ?? [:]
            object["final_loss"] = outcome.finalLoss.isFinite ? outcome.finalLoss : NSNull()
            object["eta"] = outcome.eta
            object["certificate_off_support"] = rho
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        func f(_ x: Double) -> String { String(format: "%.3e", x) }
        let outcomeText = r.diverged ? "diverged" : r.converged ? "converged" : r.stationary ? "stationary (not converged)" : "not converged (budget)"
        print([
            "\(outcomeText) after \(r.iterations) of \(r.stepBudget) steps (eta \(f(outcome.eta)))" + String(format: " in %.2f s", r.trainSeconds),
            "final loss \(f(outcome.finalLoss))   train residual ||Aw - y||/||y|| \(f(r.trainResidual))   converged at step \(r.convergedAt.map(String.init) ?? "-")",
            "distance to the minimum-l1 solution \(f(r.targetDistance))   (recovered: \(r.recovered ? "yes" : "no"), ||w_l1||_1 = \(f(outcome.reference.norm)))",
            "distance to w* \(f(r.oracleDistance))   support recovered: \(r.supportRecovered == true ? "yes" : "no")   support size \(r.supportSize ?? 0)",
            "gradient norm \(f(r.gradientNorm))   rho (strictest dual certificate's largest off-support |A^T lambda|) \(f(rho))",
            "distance to the gradient flow's limit at this depth and init scale \(r.flowLimitDistance.map(f) ?? "-")"
                + "   the limit's distance to w_l1 \(r.flowLimitL1Distance.map(f) ?? "-")",
        ].joined(separator: "\n"))
    }

    static func summary(_ r: RunReport, testNoise: [Double]) -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.3e", $0) } ?? "-" }
        func o(_ x: Double?) -> String { f(x) }
        let rank = r.effectiveRank.map(String.init) ?? "-"
        let outcome = r.diverged ? "diverged"
            : r.converged ? "converged" : r.stationary ? "stationary (not converged)" : "not converged (budget)"
        var lines = [
            "\(outcome) after \(r.iterations) of \(r.stepBudget) steps"
                + (r.budgetCapped ? " (auto budget capped by --max-steps)" : "")
                + String(format: " in %.2f s", r.trainSeconds),
            "converged at step \(r.convergedAt.map(String.init) ?? "-")   recovered: \(r.recovered ? "yes" : "no")"
                + " (first at step \(r.recoveredAt.map(String.init) ?? "-"))",
            "target distance \(f(r.targetDistance))   gradient norm \(f(r.gradientNorm))",
            "reconstruction error \(f(r.reconstructionError))   off-subspace error \(f(r.offSubspaceError))",
            "train residual \(f(r.trainResidual))   oracle distance \(f(r.oracleDistance))",
            "balancedness \(f(r.balancedness))   effective rank \(rank)",
            "balancedness drift from t = 0 \(o(r.balancednessDrift))   best rank-\(rank) gap \(o(r.bestRankGap))",
            "loss gap rate \(o(r.lossGapRate)) per unit time   flow time reached \(o(r.flowTime))   F(θ_T)/F* \(o(r.lossRatio))",
        ]
        if let method = r.targetMethod {
            lines.append("target W*_lambda found by \(method.rawValue)\(method.isCertified ? "" : " (not certified global)")"
                + "   first-order residual \(o(r.targetResidual))")
        }
        for (i, sigma) in testNoise.enumerated() {
            lines.append("test error at noise \(decimalLabel(sigma)): \(f(r.testError?[i]))   (oracle \(f(r.oracleTestError?[i])))")
        }
        return lines.joined(separator: "\n")
    }
}
