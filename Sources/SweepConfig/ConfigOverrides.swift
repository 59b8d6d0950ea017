import Foundation
import Yams

/// A change to a config from the command line, in Hydra's syntax: `KEY.PATH=VALUE` sets a key
/// (any key the file may hold, `grid.lambda=[0,0.01,0.1]`, `trials=16`,
/// `training.max_steps=100000`; the value is YAML, so lists and mappings are written as in the
/// file's flow style), `~KEY.PATH` removes one. Hydra's `+`/`++` prefixes are accepted and mean
/// the same as none. The overridden config is validated as a file is, and an error the
/// override caused names it.
public struct ConfigOverride: Sendable, Hashable, CustomStringConvertible {
    /// The key path, e.g. `["grid", "lambda"]`.
    public var path: [String]
    /// The YAML text of the value; nil removes the key.
    public var value: String?
    /// As given on the command line.
    public var text: String

    public var key: String { path.joined(separator: ".") }
    public var description: String { text }

    /// Parses one command-line word.
    public init(_ text: String) throws {
        self.text = text
        var rest = Substring(text)
        if rest.hasPrefix("~") {
            rest = rest.dropFirst()
            value = nil
        } else {
            while rest.hasPrefix("+") { rest = rest.dropFirst() }
            guard let equals = rest.firstIndex(of: "=") else {
                throw ConfigOverride.error(text, "expected KEY=VALUE (e.g. trials=16, grid.lambda=[0,0.1]) or ~KEY")
            }
            value = String(rest[rest.index(after: equals)...])
            rest = rest[..<equals]
            guard !(value ?? "").trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ConfigOverride.error(text, "no value after '='")
            }
        }
        path = rest.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }) else {
            throw ConfigOverride.error(text, "'\(rest)' is not a key path (keys joined by dots, e.g. training.max_steps)")
        }
    }

    static func error(_ text: String, _ message: String) -> ConfigError {
        ConfigError(file: "override '\(text)'", line: nil, keyPath: "", message: message)
    }

    /// The first line of the text a config with overrides is stored as: the overrides, as JSON.
    static let header = "# dlsweep overrides: "

    /// The overrides a stored config text was made with (its first line), none for a plain file.
    public static func recorded(in yamlText: String) -> [String] {
        guard yamlText.hasPrefix(header) else { return [] }
        let line = yamlText.dropFirst(header.count).prefix { $0 != "\n" }
        return (try? JSONDecoder().decode([String].self, from: Data(line.utf8))) ?? []
    }
}

extension SweepConfiguration {
    /// Reads a config file and applies `overrides` (in order; a later one wins).
    public static func load(path: String, overrides: [ConfigOverride], storedSweep: Bool = false) throws -> SweepConfiguration {
        try parse(yaml: try readText(path: path), fileName: path, overrides: overrides, storedSweep: storedSweep)
    }

    /// Parses config text with `overrides` applied to it. The configuration's `yamlText` is the
    /// overridden config (what the results store keeps), its first line the overrides; an error
    /// an override caused names the override.
    public static func parse(yaml: String, fileName: String, overrides: [ConfigOverride], storedSweep: Bool = false) throws -> SweepConfiguration {
        guard !overrides.isEmpty else { return try parse(yaml: yaml, fileName: fileName, storedSweep: storedSweep) }
        var root: Node
        do {
            root = try Yams.compose(yaml: yaml) ?? Node.mapping(Node.Mapping([]))
        } catch {
            // The file alone says what is wrong with it, with its line.
            _ = try parse(yaml: yaml, fileName: fileName)
            throw ConfigError(file: fileName, line: nil, keyPath: "", message: "not valid YAML: \(error)")
        }
        for override in overrides { try apply(override, to: &root) }
        let merged: String
        do {
            merged = try Yams.serialize(node: root, width: -1, allowUnicode: true)
        } catch {
            throw ConfigError(file: fileName, line: nil, keyPath: "", message: "cannot write the overridden config: \(error)")
        }
        let texts = String(decoding: (try? JSONEncoder().encode(overrides.map(\.text))) ?? Data("[]".utf8), as: UTF8.self)
        let text = ConfigOverride.header + texts + "\n# " + fileName + " with the overrides above\n" + merged
        do {
            var configuration = try parse(yaml: text, fileName: fileName, storedSweep: storedSweep)
            configuration.overrides = overrides.map(\.text)
            return configuration
        } catch let error as ConfigError {
            // Which override the error is about: one whose key path and the error's are on one line of descent.
            func related(_ a: String, _ b: String) -> Bool {
                a == b || a.hasPrefix(b + ".") || a.hasPrefix(b + "[") || b.hasPrefix(a + ".")
            }
            if !error.keyPath.isEmpty, let culprit = overrides.last(where: { related(error.keyPath, $0.key) }) {
                throw ConfigError(file: "\(fileName): override '\(culprit.text)'", line: nil, keyPath: error.keyPath,
                                  message: error.message)
            }
            // Not an override's key: the file's own error (with its line) if the file alone has it.
            _ = try parse(yaml: yaml, fileName: fileName, storedSweep: storedSweep)
            throw ConfigError(file: "\(fileName) with the overrides \(overrides.map(\.text).joined(separator: " "))",
                              line: nil, keyPath: error.keyPath, message: error.message)
        }
    }

    /// Sets or removes the key of `override` in `root`, creating the sections on its way.
    private static func apply(_ override: ConfigOverride, to root: inout Node) throws {
        var value: Node?
        if let text = override.value {
            do {
                value = try Yams.compose(yaml: text)
            } catch {
                throw ConfigOverride.error(override.text, "the value is not YAML: \(error)")
            }
            guard value != nil else { throw ConfigOverride.error(override.text, "no value after '='") }
        }
        func set(_ node: inout Node, _ path: ArraySlice<String>) throws {
            guard case .mapping(var mapping) = node else {
                let where_ = override.path.prefix(override.path.count - path.count).joined(separator: ".")
                throw ConfigOverride.error(override.text, "\(where_.isEmpty ? "the config" : where_) is not a section of keys")
            }
            let key = path.first!
            let index = mapping.indices.first { if case .scalar(let s) = mapping[$0].key { s.string == key } else { false } }
            if path.count == 1 {
                if let index {
                    if let value { mapping[index] = (key: mapping[index].key, value: value) } else { mapping[mapping[index].key] = nil }
                } else if let value {
                    mapping[key] = value
                }
            } else {
                var child = index.map { mapping[$0].value } ?? Node.mapping(Node.Mapping([]))
                if index == nil, value == nil { return }
                try set(&child, path.dropFirst())
                if let index { mapping[index] = (key: mapping[index].key, value: child) } else { mapping[key] = child }
            }
            node = .mapping(mapping)
        }
        try set(&root, override.path[...])
    }
}
