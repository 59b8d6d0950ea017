import Foundation
import TrainingCore
import Yams

/// Validates a config file on Yams' node tree (not via `Decodable`) so that every error can
/// name the key path and the line it comes from.
struct ConfigParser {
    let text: String
    let fileName: String

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
            "name", "seed", "problem", "grid", "trials", "training", "success", "test_noise",
        ])

        var name = URL(fileURLWithPath: fileName).deletingPathExtension().lastPathComponent
        var seed: UInt64 = 1
        var trials = 1
        var problem = ProblemSpec()
        var model = ModelSpec()
        var training = TrainingSpec()
        var successMeasure = SuccessMeasure.converged
        var grid: [SweepAxis: (values: Entry, line: Int?)] = [:]
        var gridOrder: [SweepAxis] = []
        var axes = SweepAxes(depth: [model.depth], width: [model.width],
                             lambda: [training.lambda], noise: [training.noise])

        for entry in top {
            switch entry.key {
            case "name":
                name = try string(entry)
            case "seed":
                seed = try unsigned(entry)
            case "trials":
                trials = try positiveInt(entry)
            case "test_noise":
                training.testNoise = try doubleList(entry, what: "non-negative numbers", minimum: 0)
            case "problem":
                problem = try parseProblem(entry)
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
                    case "tol_conv": training.tolConv = try positiveDouble(item)
                    case "tol_grad": training.tolGrad = try positiveDouble(item)
                    case "tol_rec": training.tolRec = try positiveDouble(item)
                    case "tol_off": training.tolOff = try positiveDouble(item)
                    default: break
                    }
                }
            case "grid":
                for item in try entries(of: entry.value, path: entry.path, allowed: SweepAxis.allCases.map(\.rawValue)) {
                    guard let axis = SweepAxis(rawValue: item.key) else { continue }
                    grid[axis] = (item, item.line)
                    gridOrder.append(axis)
                    switch axis {
                    case .depth: axes.depth = try intList(item)
                    case .width: axes.width = try intList(item)
                    case .lambda: axes.lambda = try doubleList(item, what: "non-negative numbers", minimum: 0)
                    case .noise: axes.noise = try doubleList(item, what: "non-negative numbers", minimum: 0)
                    }
                }
            case "training":
                // Parsed after the loop: it must know which axes the grid lists.
                break
            default:
                break
            }
        }
        if let entry = top.first(where: { $0.key == "training" }) {
            try parseTraining(entry, training: &training, model: &model, axes: &axes, grid: grid)
        }

        guard let cellCount = axes.cellCount, !cellCount.multipliedReportingOverflow(by: trials).overflow else {
            throw ConfigError(file: fileName, line: nil, keyPath: "grid", message: "too many tasks: cells x trials overflows")
        }
        model.depth = axes.depth[0]
        model.width = axes.width[0]
        training.lambda = axes.lambda[0]
        training.noise = axes.noise[0]

        return SweepConfiguration(
            name: name, seed: seed, trials: trials, problem: problem, model: model, training: training,
            axes: axes, gridAxes: gridOrder, successMeasure: successMeasure, yamlText: text, fileName: fileName)
    }

    private func parseProblem(_ entry: Entry) throws -> ProblemSpec {
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
        if problem.measurements >= problem.signalDim {
            throw ConfigError(file: fileName, line: line("measurements"), keyPath: "\(entry.path).measurements",
                              message: "must be less than signal_dim (\(problem.signalDim)) for an underdetermined problem, got \(problem.measurements)")
        }
        if problem.latentDim > problem.measurements {
            throw ConfigError(file: fileName, line: line("latent_dim"), keyPath: "\(entry.path).latent_dim",
                              message: "must not exceed measurements (\(problem.measurements)), got \(problem.latentDim)")
        }
        return problem
    }

    private func parseTraining(_ entry: Entry, training: inout TrainingSpec, model: inout ModelSpec,
                               axes: inout SweepAxes, grid: [SweepAxis: (values: Entry, line: Int?)]) throws {
        let items = try entries(of: entry.value, path: entry.path, allowed: [
            "steps", "max_steps", "budget_factor", "eta", "eta_scale", "stop_on_success", "log_every", "init", "init_scale", "optimizer",
            "alpha", "beta", "path", "mean_data_term", "lambda_per_layer", "rank_tolerance", "check_every",
            "depth", "width", "lambda", "noise",
        ])
        for item in items {
            if let axis = SweepAxis(rawValue: item.key), let listed = grid[axis] {
                let where_ = listed.line.map { " (line \($0))" } ?? ""
                throw error(item, "also listed under grid\(where_); give an axis in one place")
            }
            switch item.key {
            case "steps":
                if case let .scalar(scalar) = item.value, scalar.string == "auto" {
                    training.steps = .auto
                } else {
                    training.steps = .fixed(try positiveInt(item.value, path: item.path, what: "a positive integer or auto"))
                }
            case "max_steps": training.maxSteps = try positiveInt(item)
            case "budget_factor": training.budgetFactor = try positiveDouble(item)
            case "eta": training.eta = try positiveDouble(item)
            case "eta_scale": training.etaScale = try positiveDouble(item)
            case "stop_on_success": training.stopOnSuccess = try bool(item)
            case "log_every": training.logEvery = try positiveInt(item)
            case "init": model.initScheme = try enumeration(item)
            case "init_scale": model.initScale = try positiveDouble(item)
            case "optimizer": training.optimizer = try enumeration(item)
            case "alpha": training.alpha = try nonNegativeDouble(item)
            case "beta": training.beta = try nonNegativeDouble(item)
            case "path": training.path = try enumeration(item)
            case "mean_data_term": training.meanDataTerm = try bool(item)
            case "lambda_per_layer": training.lambdaPerLayer = try bool(item)
            case "rank_tolerance":
                let tolerance = try double(item, what: "a number in (0, 1)")
                guard tolerance > 0, tolerance < 1 else { throw error(item, "expected a number in (0, 1), got \(tolerance)") }
                training.rankTolerance = tolerance
            case "check_every": training.checkEvery = try positiveInt(item)
            case "depth": axes.depth = [try positiveInt(item)]
            case "width": axes.width = [try positiveInt(item)]
            case "lambda": axes.lambda = [try nonNegativeDouble(item)]
            case "noise": axes.noise = [try nonNegativeDouble(item)]
            default: break
            }
        }
        // A damping the optimizer ignores is a mistake in the config, not a no-op.
        if let item = items.first(where: { $0.key == "alpha" }), training.optimizer == .gd {
            throw error(item, "applies to optimizer heavy-ball or inertial, not gd")
        }
        if let item = items.first(where: { $0.key == "beta" }), training.optimizer != .inertial {
            throw error(item, "applies to optimizer inertial only, not \(training.optimizer.rawValue)")
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

    private func intList(_ entry: Entry) throws -> [Int] {
        let what = "positive integers"
        var values: [Int] = []
        var positions: [Int: Int] = [:]  // a hash lookup per value: linear in the list's length
        for (i, node) in try elements(entry, what: what).enumerated() {
            let path = "\(entry.path)[\(i)]"
            let value = try positiveInt(node, path: path, what: "a list of \(what)")
            if let j = positions[value] {
                throw error(path, node, "duplicate value \(value) (also at [\(j)])")
            }
            positions[value] = i
            values.append(value)
        }
        return values
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
