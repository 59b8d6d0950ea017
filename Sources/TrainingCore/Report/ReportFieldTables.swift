/// The field tables of PROTOCOL.md and docs/RESULTS-FOLDER.md, written from `RunReport.fields`
/// (`dlsweep fields` prints them; a test fails when a document's copy differs).
extension RunReport {
    public enum FieldTable: String, CaseIterable, Sendable {
        /// The report on the wire: tags, types, which models, when present, the valid range.
        case wire
        /// The store's columns of `results` that hold a report.
        case store
    }

    /// The lines that open and close a generated table in a document.
    public static func tableMarkers(_ table: FieldTable) -> (begin: String, end: String) {
        ("<!-- generated: `dlsweep fields \(table.rawValue)` (RunReport.fields); do not edit by hand -->",
         "<!-- end of generated table -->")
    }

    public static func markdownTable(_ table: FieldTable) -> String {
        let carried = fields.filter(\.value.isCarried)
        switch table {
        case .wire:
            let rows = carried.sorted { $0.tag < $1.tag }.map { field in
                "| \(field.tag) | `\(field.name)` | \(field.wireTypeName) | \(field.modelNames) | \(field.presenceText) | \(field.ruleText) | \(field.doc) |"
            }
            return (["| tag | field | type | models | present | valid values | meaning |", "| --- | --- | --- | --- | --- | --- | --- |"]
                + rows).joined(separator: "\n")
        case .store:
            let rows = carried.compactMap { field -> String? in
                if case .trajectory = field.value { return nil }
                return "| `\(field.column)` | \(field.storeTypeName) | \(field.modelNames) | \(field.agreementText) | \(field.doc) |"
            }
            return (["| column | type | models | a replay agrees when | meaning |", "| --- | --- | --- | --- | --- |"] + rows)
                .joined(separator: "\n")
        }
    }
}

extension ReportField {
    var wireTypeName: String {
        switch value {
        case .double: "1 (`f64`)"
        case .int: "2 (`i64`)"
        case .bool: "3 (`bool`)"
        case .perNoise: "4 (`[f64]`)"
        case .name(_, _, let allowed): "6 (`str`: " + allowed.map { "`\($0)`" }.joined(separator: ", ") + ")"
        case .trajectory: "5 (bytes: `[point]`)"
        case .derived: "-"
        }
    }

    var storeTypeName: String {
        switch value {
        case .double: "REAL (NULL: absent, or NaN)"
        case .int: "INTEGER"
        case .bool: "INTEGER 0/1"
        case .perNoise: "TEXT: JSON object by test noise"
        case .name: "TEXT"
        case .trajectory, .derived: "-"
        }
    }

    var agreementText: String {
        switch agreement {
        case .exact: "equal"
        case .relative(let tolerance): "within \(tolerance) relative"
        case .notCompared(let why): "not compared (\(why))"
        }
    }

    var modelNames: String {
        isReportedByEveryModel
            ? "all" : ModelKind.allCases.filter(models.contains).map(\.rawValue).joined(separator: ", ")
    }

    var presenceText: String {
        switch presence {
        case .always: isOptional ? "always" : "always (required)"
        case .unlessDiverged: "exactly when not diverged"
        case .measured: "optional"
        case .measuredUnlessDiverged: "optional; never when diverged"
        }
    }

    var ruleText: String {
        switch rule {
        case .norm: "≥ 0; non-finite only when diverged"
        case .positive: "finite, > 0"
        case .finite: "finite"
        case .nonNegative: "finite, ≥ 0"
        case .duration: "finite, in [0, 1e8)"
        case .step: "0 … iterations"
        case .count(_, let bound): "0 … \(bound)"
        case .any: "any"
        case .perNoiseNorms: "one per test-noise level, each ≥ 0 (non-finite only when diverged)"
        }
    }
}
