import Foundation
import TrainingCore
import Yams

/// Validates a config file on Yams' node tree (not via `Decodable`) so that every error can
/// name the key path and the line it comes from.
struct ConfigParser {
    let text: String
    let fileName: String
    /// The text of a stored sweep (`SweepConfiguration.parse(yaml:fileName:storedSweep:)`): keys
    /// the diagonal model does not use are ignored, as the versions that wrote it ignored them.
    var storedSweep = false

    /// One key of a mapping with its value.
    private struct Entry {
        var key: String
        var value: Node
        var path: String
        var line: Int?
    }

    private func error(_ path: String, _ node: Node?, _ message: String) -> ConfigError {
        ConfigError(file: fileName, line: node?.mark?.line, keyPath: path, message: message)
    }

    private func error(_ entry: Entry, _ message: String) -> ConfigError {
        ConfigError(file: fileName, line: entry.value.mark?.line ?? entry.line, keyPath: entry.path, message: message)
    }

    // MARK: Top level

    func parse() throws -> SweepConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let yamlError as YamlError {
            throw translate(yamlError)
        } catch {
            throw ConfigError(file: fileName, line: nil, keyPath: "", message: "not valid YAML: \(error)")
        }
        guard let root else {
            throw ConfigError(file: fileName, line: nil, keyPath: "", message: "empty file, expected a mapping of sweep keys")
        }
        let top = try entries(of: root, path: "", allowed: [
            "name", "seed", "model", "problem", "grid", "trials", "training", "success", "test_noise", "heatmap", "trajectories", "adaptive",
            "verify",
        ])

        var name = URL(fileURLWithPath: fileName).deletingPathExtension().lastPathComponent
        var seed: UInt64 = 1
        var trials = 1
        var trajectories = SweepConfiguration.defaultTrajectories
        var verifyFraction = 0.0
        // Every key lands here; `RunSettings` turns it into each cell's spec.
        var settings = RunSettings()
        var successMeasure = SuccessMeasure.converged
        // The grid's axes in file order, and their entries (for errors).
        var listedAxes: [GridAxis] = []
        var gridEntries: [String: Entry] = [:]
        // The one value under `training` of a standing axis the grid does not list.
        var fixedStanding: [String: AxisValue] = [:]
        var heatmap: (rows: Entry?, columns: Entry?) = (nil, nil)
        var adaptiveEntry: Entry?
        // The problem's shape rules are checked per cell when the grid sweeps its keys.
        var sweptKeys: Set<String> = []
        if let entry = top.first(where: { $0.key == "grid" }), case let .mapping(mapping) = entry.value {
            for (keyNode, _) in mapping { if case let .scalar(key) = keyNode { sweptKeys.insert(key.string) } }
        }

        for entry in top {
            switch entry.key {
            case "name":
                name = try string(entry)
            case "seed":
                seed = try unsigned(entry)
            case "trials":
                trials = try positiveInt(entry)
            case "model":
                settings.model = try enumeration(entry) as ModelKind
            case "trajectories":
                guard let scalar = scalar(entry.value, tags: [.int]), let n = Int.construct(from: scalar), n >= 0 else {
                    throw error(entry, "expected a number of trials >= 0 (0: no trajectories), got \(describe(entry.value))")
                }
                trajectories = n
            case "verify":
                for item in try entries(of: entry.value, path: entry.path, allowed: ["fraction"]) {
                    let fraction = try double(item, what: "a fraction in [0, 1]")
                    guard fraction >= 0 && fraction <= 1 else {
                        throw error(item, "expected a fraction in [0, 1] of the finished tasks to re-run on another worker, got \(describe(item.value))")
                    }
                    verifyFraction = fraction
                }
            case "test_noise":
                settings.common.training.testNoise = try doubleList(entry, what: "non-negative numbers", minimum: 0)
            case "problem":
                settings.common.problem = try parseProblem(entry, swept: sweptKeys)
            case "success":
                // `success: converged`, or a mapping with the measure and the tolerances.
                if case .scalar = entry.value {
                    successMeasure = try enumeration(entry)
                    break
                }
                for item in try entries(of: entry.value, path: entry.path,
                                        allowed: ["measure", "tol_conv", "tol_grad", "tol_rec", "tol_off"]) {
                    switch item.key {
                    case "measure": successMeasure = try enumeration(item)
                    case "tol_conv": settings.common.training.tolConv = try positiveDouble(item)
                    case "tol_grad": settings.common.training.tolGrad = try positiveDouble(item)
                    case "tol_rec": settings.common.training.tolRec = try positiveDouble(item)
                    case "tol_off": settings.common.training.tolOff = try positiveDouble(item)
                    default: break
                    }
                }
            case "adaptive":
                adaptiveEntry = entry
            case "heatmap":
                for item in try entries(of: entry.value, path: entry.path, allowed: ["rows", "columns"]) {
                    if item.key == "rows" { heatmap.rows = item } else { heatmap.columns = item }
                }
            case "grid":
                for item in try entries(of: entry.value, path: entry.path, allowed: AxisDefinition.all.map(\.key)) {
                    guard let definition = AxisDefinition.named(item.key) else { continue }
                    listedAxes.append(GridAxis(key: item.key, values: try axisValues(item, definition)))
                    gridEntries[item.key] = item
                }
            case "training":
                // Parsed after the loop: it must know which axes the grid lists.
                break
            default:
                break
            }
        }
        // A key swept by the grid and also fixed in its section is ambiguous.
        for section in ["problem", "training"] {
            guard let entry = top.first(where: { $0.key == section }), case let .mapping(mapping) = entry.value else { continue }
            for (keyNode, _) in mapping {
                guard case let .scalar(key) = keyNode, let listed = gridEntries[key.string] else { continue }
                let where_ = listed.line.map { " (line \($0))" } ?? ""
                throw error("\(section).\(key.string)", keyNode, "also listed under grid\(where_); give an axis in one place")
            }
        }
        if let entry = top.first(where: { $0.key == "model" }), let listed = gridEntries["model"] {
            let where_ = listed.line.map { " (line \($0))" } ?? ""
            throw error(entry, "also listed under grid\(where_); give an axis in one place")
        }
        // The grid's models and optimizers (those of the sections when the grid does not sweep them).
        let optimizerAxis = listedAxes.first { $0.key == "optimizer" }?.values.compactMap { OptimizerKind(rawValue: $0.stringValue) }
        let modelAxis = listedAxes.first { $0.key == "model" }?.values.compactMap { ModelKind(rawValue: $0.stringValue) }
        // A deep network's setting in a config whose every model is diagonal has no run to apply
        // to (`DiagonalSpec.refusal(ofKey:models:)`); with a `model:` axis, a setting some cells use
        // is theirs, as a damping swept over an optimizer axis is.
        var ignored: [String] = []
        for item in deepLinearEntries(top) {
            guard let refusal = DiagonalSpec.refusal(ofKey: item.key, models: modelAxis ?? [settings.modelKind]) else { continue }
            guard storedSweep else { throw error(item, refusal.message + ": remove it") }
            ignored.append("\(error(item, "ignored: " + refusal.message))")
        }
        if let entry = top.first(where: { $0.key == "training" }) {
            try parseTraining(entry, settings: &settings, fixedStanding: &fixedStanding,
                              models: modelAxis, optimizers: optimizerAxis)
        }
        let optimizers = optimizerAxis ?? [settings.optimizerKind]
        // A setting swept where no model or optimizer of the grid uses it is a mistake in the config.
        for key in RunSettings.Key.allCases where key != .stepRule {
            if let item = gridEntries[key.rawValue],
               let refusal = RunSettings.refusal(key, models: modelAxis ?? [settings.modelKind], optimizers: optimizers) {
                throw error(item, refusal.message)
            }
        }
        if let item = gridEntries["step_rule"], optimizers.contains(.flow) {
            throw error(item, "applies to gd, heavy-ball and inertial; flow's steps are always adaptive (flow_rtol, flow_atol): sweep flow in a config of its own")
        }

        // Cell order: the other axes in file order, then the standing axes (depth, width, lambda,
        // noise), always there, innermost: the order and task ids of the first versions.
        let standing = AxisDefinition.all.compactMap { definition in
            definition.standing.map { fallback in
                listedAxes.first { $0.key == definition.key }
                    ?? GridAxis(key: definition.key, values: [fixedStanding[definition.key] ?? fallback])
            }
        }
        let fullGrid = listedAxes.filter { AxisDefinition.named($0.key)?.standing == nil } + standing
        guard let cellCount = fullGrid.reduce(Optional(1), { total, axis in
                  total.flatMap { t in
                      let (p, o) = t.multipliedReportingOverflow(by: axis.values.count)
                      return o ? nil : p
                  }
              }),
              !cellCount.multipliedReportingOverflow(by: trials).overflow
        else {
            throw ConfigError(file: fileName, line: nil, keyPath: "grid", message: "too many tasks: cells x trials overflows")
        }
        var base = settings
        for axis in fullGrid {
            AxisDefinition.named(axis.key)?.apply(axis.values[0], to: &base)
        }
        try checkProblemAxes(base.common.problem, listedAxes, gridEntries)
        // A diagonal run has no place for a deep network's settings (`DiagonalSpec.refusal`): no
        // width, no momentum, no weight decay (docs/MODEL.md §5). A `model:` grid axis that lists
        // diagonal is held to the same rules, on the first cell and on every value of every axis
        // (each rule reads one key, so values need not be combined).
        let diagonalInGrid = listedAxes.contains { $0.key == "model" && $0.values.contains { $0.stringValue == ModelKind.diagonal.rawValue } }
        if base.modelKind == .diagonal || diagonalInGrid,
           let entry = top.first(where: { $0.key == "model" }) ?? gridEntries["model"] {
            var refusal = DiagonalSpec.refusal(in: base.record)
            for axis in fullGrid where refusal == nil {
                guard let definition = AxisDefinition.named(axis.key) else { continue }
                for value in axis.values.dropFirst() {
                    var cell = base
                    definition.apply(value, to: &cell)
                    if let found = DiagonalSpec.refusal(in: cell.record) { refusal = found; break }
                }
            }
            if let refusal { throw error(entry, refusal.message) }
        }
        let gridKeys = Set(fullGrid.map(\.key))
        for item in [heatmap.rows, heatmap.columns].compactMap({ $0 }) {
            let key = try string(item)
            guard gridKeys.contains(key) else {
                throw error(item, "expected an axis of the grid (\(gridKeys.sorted().joined(separator: ", "))), got \"\(key)\"")
            }
        }

        var adaptive: AdaptiveSettings?
        if let entry = adaptiveEntry {
            if let given = top.first(where: { $0.key == "trials" }) {
                throw error(given, "not with adaptive: its min_trials, round and max_trials set the trials per cell")
            }
            adaptive = try parseAdaptive(entry, grid: fullGrid)
            trials = adaptive!.minTrials
        }

        var configuration = SweepConfiguration(
            name: name, seed: seed, trials: trials, settings: base,
            grid: fullGrid,
            heatmapRows: try heatmap.rows.map(string), heatmapColumns: try heatmap.columns.map(string),
            adaptive: adaptive,
            successMeasure: successMeasure, trajectories: trajectories, verifyFraction: verifyFraction, yamlText: text, fileName: fileName)
        configuration.ignoredSettings = ignored
        return configuration
    }

    /// The entries, in file order, of the keys a diagonal run has no place for
    /// (`DiagonalSpec.deepLinearKeys`): `test_noise`, and those under problem, training, success
    /// and grid (already validated).
    private func deepLinearEntries(_ top: [Entry]) -> [Entry] {
        var found = top.filter { DiagonalSpec.deepLinearKeys.contains($0.key) }
        for section in top where ["problem", "training", "success", "grid"].contains(section.key) {
            guard case let .mapping(mapping) = section.value else { continue }
            for (keyNode, value) in mapping {
                guard case let .scalar(key) = keyNode, DiagonalSpec.deepLinearKeys.contains(key.string) else { continue }
                found.append(Entry(key: key.string, value: value, path: "\(section.key).\(key.string)", line: keyNode.mark?.line))
            }
        }
        return found.sorted { ($0.line ?? 0) < ($1.line ?? 0) }
    }

    private func parseAdaptive(_ entry: Entry, grid: [GridAxis]) throws -> AdaptiveSettings {
        var settings = AdaptiveSettings()
        let items = try entries(of: entry.value, path: entry.path,
                                allowed: ["target_ci_width", "min_trials", "max_trials", "round", "refine"])
        for item in items {
            switch item.key {
            case "target_ci_width":
                let width = try double(item, what: "a number in (0, 1]")
                guard width > 0, width <= 1 else { throw error(item, "expected a number in (0, 1], got \(decimalLabel(width))") }
                settings.targetCIWidth = width
            case "min_trials": settings.minTrials = try positiveInt(item)
            case "max_trials": settings.maxTrials = try positiveInt(item)
            case "round": settings.round = try positiveInt(item)
            case "refine": settings.refine = try parseRefine(item, grid: grid)
            default: break
            }
        }
        if settings.maxTrials < settings.minTrials, let item = items.first(where: { $0.key == "max_trials" }) ?? items.first(where: { $0.key == "min_trials" }) {
            throw error(item, "max_trials (\(settings.maxTrials)) must be at least min_trials (\(settings.minTrials))")
        }
        return settings
    }

    private func parseRefine(_ entry: Entry, grid: [GridAxis]) throws -> RefineSettings {
        var refine = RefineSettings(axes: [])
        let items = try entries(of: entry.value, path: entry.path, allowed: ["axes", "levels", "threshold", "scale"])
        guard items.contains(where: { $0.key == "axes" }) else {
            throw error(entry, "expected axes: [KEY, ...], the numeric grid axes to refine")
        }
        for item in items {
            switch item.key {
            case "axes":
                for (i, node) in try elements(item, what: "grid axes").enumerated() {
                    let path = "\(item.path)[\(i)]"
                    guard let scalar = scalar(node, tags: [.str]) else {
                        throw error(path, node, "expected the name of a grid axis, got \(describe(node))")
                    }
                    guard let axis = grid.first(where: { $0.key == scalar.string }) else {
                        throw error(path, node, "\(scalar.string) is not an axis of the grid (\(grid.map(\.key).joined(separator: ", ")))")
                    }
                    guard axis.isNumeric, axis.values.count >= 2 else {
                        throw error(path, node, "\(scalar.string) must be a numeric axis with at least two values to refine")
                    }
                    guard !refine.axes.contains(scalar.string) else { throw error(path, node, "duplicate axis \(scalar.string)") }
                    refine.axes.append(scalar.string)
                }
            case "levels": refine.levels = try positiveInt(item)
            case "threshold":
                let threshold = try double(item, what: "a number in [0, 1)")
                guard threshold >= 0, threshold < 1 else { throw error(item, "expected a number in [0, 1), got \(decimalLabel(threshold))") }
                refine.threshold = threshold
            case "scale":
                for scale in try entries(of: item.value, path: item.path, allowed: grid.map(\.key)) {
                    refine.scales[scale.key] = try enumeration(scale) as RefineSettings.Scale
                }
            default: break
            }
        }
        if let stray = refine.scales.keys.sorted().first(where: { !refine.axes.contains($0) }),
           let item = items.first(where: { $0.key == "scale" }) {
            throw error(item, "\(stray) is not among the refined axes (\(refine.axes.joined(separator: ", ")))")
        }
        return refine
    }

    /// The problem's shape rules (m < d, r <= m) for every combination of swept problem keys.
    private func checkProblemAxes(_ problem: ProblemSpec, _ axes: [GridAxis], _ entries: [String: Entry]) throws {
        func range(_ key: String, _ fixed: Int) -> (low: Int, high: Int) {
            guard let axis = axes.first(where: { $0.key == key }) else { return (fixed, fixed) }
            let values = axis.values.map(\.intValue)
            return (values.min() ?? fixed, values.max() ?? fixed)
        }
        let d = range("signal_dim", problem.signalDim)
        let m = range("measurements", problem.measurements)
        let r = range("latent_dim", problem.latentDim)
        func blame(_ keys: [String]) -> (path: String, line: Int?) {
            for key in keys { if let entry = entries[key] { return (entry.path, entry.value.mark?.line ?? entry.line) } }
            return ("grid", nil)
        }
        if m.high >= d.low {
            let at = blame(["measurements", "signal_dim"])
            throw ConfigError(file: fileName, line: at.line, keyPath: at.path,
                              message: "measurements (up to \(m.high)) must be less than signal_dim (from \(d.low)) in every cell for an underdetermined problem")
        }
        if r.high > m.low {
            let at = blame(["latent_dim", "measurements"])
            throw ConfigError(file: fileName, line: at.line, keyPath: at.path,
                              message: "latent_dim (up to \(r.high)) must not exceed measurements (from \(m.low)) in any cell")
        }
    }

    /// The values of a grid axis, checked as the key is outside the grid.
    private func axisValues(_ entry: Entry, _ definition: AxisDefinition) throws -> [AxisValue] {
        let what = switch definition.kind {
        case .positiveInt: "positive integers"
        case let .number(minimum, strict, maximum):
            maximum.map { "numbers in (\(decimalLabel(minimum)), \(decimalLabel($0)))" }
                ?? (strict ? (minimum == 0 ? "positive numbers" : "numbers > \(decimalLabel(minimum))")
                           : (minimum == 0 ? "non-negative numbers" : "numbers >= \(decimalLabel(minimum))"))
        case .choice, .flag, .steps: "values"
        }
        let nodes = try elements(entry, what: what)
        var values: [AxisValue] = []
        var positions: [AxisValue: Int] = [:]  // a hash lookup per value: linear in the list's length
        for (i, node) in nodes.enumerated() {
            let path = "\(entry.path)[\(i)]"
            let value: AxisValue
            switch definition.kind {
            case .positiveInt:
                value = .int(try positiveInt(node, path: path, what: "a list of \(what)"))
            case let .number(minimum, strict, maximum):
                let v = try double(node, path: path, what: "a list of \(what)")
                guard strict ? v > minimum : v >= minimum, maximum.map({ v < $0 }) ?? true else {
                    throw error(path, node, "expected a list of \(what), got \(decimalLabel(v))")
                }
                value = .double(v)
            case let .choice(choices):
                guard let scalar = scalar(node, tags: [.str]), choices.contains(scalar.string) else {
                    throw error(path, node, "expected one of \(choices.joined(separator: "|")), got \(describe(node))")
                }
                value = .string(scalar.string)
            case .flag:
                guard let scalar = scalar(node, tags: [.bool]), let v = Bool.construct(from: scalar) else {
                    throw error(path, node, "expected true or false, got \(describe(node))")
                }
                value = .bool(v)
            case .steps:
                if case let .scalar(scalar) = node, scalar.string == "auto" {
                    value = .string("auto")
                } else {
                    value = .int(try positiveInt(node, path: path, what: "a positive integer or auto"))
                }
            }
            if let j = positions[value] {
                throw error(path, node, "duplicate value \(value) (also at [\(j)])")
            }
            positions[value] = i
            values.append(value)
        }
        return values
    }

    private func parseProblem(_ entry: Entry, swept: Set<String>) throws -> ProblemSpec {
        var problem = ProblemSpec()
        let items = try entries(of: entry.value, path: entry.path, allowed: [
            "signal_dim", "measurements", "latent_dim", "samples", "condition", "test_samples", "operator",
        ])
        for item in items {
            switch item.key {
            case "signal_dim": problem.signalDim = try positiveInt(item)
            case "measurements": problem.measurements = try positiveInt(item)
            case "latent_dim": problem.latentDim = try positiveInt(item)
            case "samples": problem.samples = try positiveInt(item)
            case "test_samples": problem.testSamples = try positiveInt(item)
            case "condition":
                let kappa = try double(item, what: "a number >= 1")
                guard kappa >= 1 else { throw error(item, "expected a number >= 1, got \(kappa)") }
                problem.condition = kappa
            case "operator": problem.measurementOperator = try enumeration(item)
            default: break
            }
        }
        let line = { (key: String) in items.first { $0.key == key }.map { $0.value.mark?.line ?? $0.line } ?? entry.line }
        if swept.isDisjoint(with: ["signal_dim", "measurements", "latent_dim"]), problem.measurements >= problem.signalDim {
            throw ConfigError(file: fileName, line: line("measurements"), keyPath: "\(entry.path).measurements",
                              message: "must be less than signal_dim (\(problem.signalDim)) for an underdetermined problem, got \(problem.measurements)")
        }
        if swept.isDisjoint(with: ["signal_dim", "measurements", "latent_dim"]), problem.latentDim > problem.measurements {
            throw ConfigError(file: fileName, line: line("latent_dim"), keyPath: "\(entry.path).latent_dim",
                              message: "must not exceed measurements (\(problem.measurements)), got \(problem.latentDim)")
        }
        return problem
    }

    private func parseTraining(_ entry: Entry, settings: inout RunSettings, fixedStanding: inout [String: AxisValue],
                               models sweptModels: [ModelKind]?, optimizers sweptOptimizers: [OptimizerKind]?) throws {
        let items = try entries(of: entry.value, path: entry.path, allowed: [
            "steps", "max_steps", "budget_factor", "eta", "eta_scale", "stop_on_success", "log_every", "init", "init_scale", "optimizer",
            "alpha", "beta", "step_rule", "flow_rtol", "flow_atol", "flow_time", "path", "mean_data_term",
            "lambda_per_layer", "rank_tolerance", "check_every", "depth", "width", "lambda", "noise", "sleep_seconds",
        ])
        for item in items {
            switch item.key {
            case "steps":
                if case let .scalar(scalar) = item.value, scalar.string == "auto" {
                    settings.common.training.steps = .auto
                } else {
                    settings.common.training.steps = .fixed(try positiveInt(item.value, path: item.path, what: "a positive integer or auto"))
                }
            case "max_steps": settings.common.training.maxSteps = try positiveInt(item)
            case "budget_factor": settings.common.training.budgetFactor = try positiveDouble(item)
            case "eta": settings.common.training.eta = try positiveDouble(item)
            case "eta_scale": settings.common.training.etaScale = try positiveDouble(item)
            case "stop_on_success": settings.common.training.stopOnSuccess = try bool(item)
            case "log_every": settings.common.training.logEvery = try positiveInt(item)
            case "init": settings.common.network.initScheme = try enumeration(item)
            case "init_scale": settings.common.network.initScale = try positiveDouble(item)
            case "optimizer": settings.optimizer = try enumeration(item) as OptimizerKind
            case "alpha": settings.alpha = try nonNegativeDouble(item)
            case "beta": settings.beta = try nonNegativeDouble(item)
            case "step_rule": settings.stepRule = try enumeration(item) as StepRule
            case "flow_rtol", "flow_atol":
                let tolerance = try double(item, what: "a number in (0, 1)")
                guard tolerance > 0, tolerance < 1 else { throw error(item, "expected a number in (0, 1), got \(tolerance)") }
                if item.key == "flow_rtol" { settings.flowRtol = tolerance } else { settings.flowAtol = tolerance }
            case "flow_time": settings.flowTime = try positiveDouble(item)
            case "path": settings.common.training.path = try enumeration(item)
            case "mean_data_term": settings.common.training.meanDataTerm = try bool(item)
            case "lambda_per_layer": settings.common.training.lambdaPerLayer = try bool(item)
            case "rank_tolerance":
                let tolerance = try double(item, what: "a number in (0, 1)")
                guard tolerance > 0, tolerance < 1 else { throw error(item, "expected a number in (0, 1), got \(tolerance)") }
                settings.common.training.rankTolerance = tolerance
            case "check_every": settings.common.training.checkEvery = try positiveInt(item)
            case "sleep_seconds":
                let seconds = try nonNegativeDouble(item)
                guard seconds <= 86_400 else { throw error(item, "expected at most 86400 seconds, got \(decimalLabel(seconds))") }
                settings.sleepSeconds = seconds
            // Standing axes (`AxisDefinition.standing`): one value when the grid does not list them.
            case "depth", "width": fixedStanding[item.key] = .int(try positiveInt(item))
            case "lambda", "noise": fixedStanding[item.key] = .double(try nonNegativeDouble(item))
            default: break
            }
        }
        // A setting its model or optimizer ignores is a mistake in the config, not a no-op (with a
        // model or optimizer axis: when no run of the grid uses it).
        let models = sweptModels ?? [settings.modelKind], optimizers = sweptOptimizers ?? [settings.optimizerKind]
        for item in items {
            guard let key = RunSettings.Key(rawValue: item.key), settings.isGiven(key) else { continue }
            if let refusal = RunSettings.refusal(key, models: models, optimizers: optimizers) { throw error(item, refusal.message) }
        }
    }

    // MARK: Node helpers

    private func translate(_ yamlError: YamlError) -> ConfigError {
        let line: Int?
        let message: String
        switch yamlError {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            line = mark.line
            message = "not valid YAML: \(problem)" + (context.map { " (\($0.text))" } ?? "")
        case let .duplicatedKeysInMapping(duplicates, context):
            line = context.mark.line > 0 ? context.mark.line : nil
            message = "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))"
        default:
            line = nil
            message = "not valid YAML: \(yamlError)"
        }
        return ConfigError(file: fileName, line: line, keyPath: "", message: message)
    }

    /// The entries of a mapping node, refusing non-string keys, unknown keys and duplicates.
    private func entries(of node: Node, path: String, allowed: [String]) throws -> [Entry] {
        guard case let .mapping(mapping) = node else {
            throw error(path.isEmpty ? "" : path, node, "expected a mapping, got \(describe(node))")
        }
        var seen: [String: Int?] = [:]
        var result: [Entry] = []
        for (keyNode, value) in mapping {
            guard case let .scalar(scalar) = keyNode else {
                throw error(path, keyNode, "keys must be plain names, got \(describe(keyNode))")
            }
            let key = scalar.string
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                let expected = allowed.joined(separator: ", ")
                throw error(keyPath, keyNode, "unknown key; expected one of \(expected)")
            }
            if let first = seen[key] {
                let previous = first.map { " (first on line \($0))" } ?? ""
                throw error(keyPath, keyNode, "duplicate key\(previous)")
            }
            seen[key] = keyNode.mark?.line
            result.append(Entry(key: key, value: value, path: keyPath, line: keyNode.mark?.line))
        }
        return result
    }

    /// The resolved tag (`Tag.name` is not public).
    private func tagName(_ node: Node) -> Tag.Name {
        Tag.Name(rawValue: node.tag.rawValue)
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar):
            if scalar.style == .plain, tagName(node) == .null { return "null" }
            // A quoted "4" is a string to YAML; say so, or the message would read as nonsense.
            return scalar.style == .plain ? "\"\(scalar.string)\"" : "the string \"\(scalar.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    private func scalar(_ node: Node, tags: Set<Tag.Name>) -> Node.Scalar? {
        guard case let .scalar(scalar) = node, tags.contains(tagName(node)) else { return nil }
        return scalar
    }

    private func string(_ entry: Entry) throws -> String {
        guard case let .scalar(scalar) = entry.value, tagName(entry.value) != .null, !scalar.string.isEmpty else {
            throw error(entry, "expected a string, got \(describe(entry.value))")
        }
        return scalar.string
    }

    private func bool(_ entry: Entry) throws -> Bool {
        guard let scalar = scalar(entry.value, tags: [.bool]), let value = Bool.construct(from: scalar) else {
            throw error(entry, "expected true or false, got \(describe(entry.value))")
        }
        return value
    }

    private func unsigned(_ entry: Entry) throws -> UInt64 {
        guard let scalar = scalar(entry.value, tags: [.int]),
              let value = UInt64(scalar.string.replacingOccurrences(of: "_", with: "")) ?? UInt64.construct(from: scalar)
        else {
            throw error(entry, "expected an integer in 0...\(UInt64.max), got \(describe(entry.value))")
        }
        return value
    }

    private func positiveInt(_ node: Node, path: String, what: String) throws -> Int {
        guard let scalar = scalar(node, tags: [.int]), let value = Int.construct(from: scalar), value > 0 else {
            throw error(path, node, "expected \(what), got \(describe(node))")
        }
        return value
    }

    private func positiveInt(_ entry: Entry) throws -> Int {
        try positiveInt(entry.value, path: entry.path, what: "a positive integer")
    }

    private func double(_ node: Node, path: String, what: String) throws -> Double {
        guard let scalar = scalar(node, tags: [.int, .float]), let value = Double.construct(from: scalar),
              value.isFinite
        else {
            throw error(path, node, "expected \(what), got \(describe(node))")
        }
        return value + 0 // -0.0 becomes 0.0, so equal values have equal seeds and fingerprints
    }

    private func double(_ entry: Entry, what: String) throws -> Double {
        try double(entry.value, path: entry.path, what: what)
    }

    private func positiveDouble(_ entry: Entry) throws -> Double {
        let value = try double(entry, what: "a positive number")
        guard value > 0 else { throw error(entry, "expected a positive number, got \(decimalLabel(value))") }
        return value
    }

    private func nonNegativeDouble(_ entry: Entry) throws -> Double {
        let value = try double(entry, what: "a non-negative number")
        guard value >= 0 else { throw error(entry, "expected a non-negative number, got \(decimalLabel(value))") }
        return value
    }

    private func elements(_ entry: Entry, what: String) throws -> [Node] {
        guard case let .sequence(sequence) = entry.value else {
            throw error(entry, "expected a list of \(what), got \(describe(entry.value))")
        }
        let nodes = Array(sequence)
        guard !nodes.isEmpty else { throw error(entry, "expected a non-empty list of \(what)") }
        return nodes
    }

    private func doubleList(_ entry: Entry, what: String, minimum: Double) throws -> [Double] {
        var values: [Double] = []
        var positions: [Double: Int] = [:]
        for (i, node) in try elements(entry, what: what).enumerated() {
            let path = "\(entry.path)[\(i)]"
            let value = try double(node, path: path, what: "a list of \(what)")
            guard value >= minimum else {
                throw error(path, node, "expected a list of \(what), got \(decimalLabel(value))")
            }
            if let j = positions[value] {
                throw error(path, node, "duplicate value \(decimalLabel(value)) (also at [\(j)])")
            }
            positions[value] = i
            values.append(value)
        }
        return values
    }

    private func enumeration<E: RawRepresentable & CaseIterable>(_ entry: Entry) throws -> E where E.RawValue == String {
        let choices = E.allCases.map(\.rawValue).joined(separator: "|")
        guard let scalar = scalar(entry.value, tags: [.str]), let value = E(rawValue: scalar.string) else {
            throw error(entry, "expected one of \(choices), got \(describe(entry.value))")
        }
        return value
    }
}
