import GRDB
import SweepConfig
import TrainingCore

/// The columns of `results` that hold a `RunReport`: one per carried field of
/// `RunReport.fields`, named by its `column`. The insert statement, the migration that adds a
/// new field's column to an existing folder, and the decoding all derive from that list.
enum ReportColumns {
    /// The stored fields, in insert order.
    static let fields: [ReportField] = RunReport.fields.filter {
        if case .trajectory = $0.value { return false }
        return $0.value.isCarried
    }

    static let all: [String] = fields.map(\.column)

    /// A column's getter alone, in the order of `fields`: binding a row copies one closure per
    /// column, not the field and its setter too (the coordinator binds tens of thousands of
    /// rows a second).
    static let getters: [ReportField.Reader] = fields.map(\.reader)

    /// The per-noise columns, with their field's name (a row's count of values is checked).
    static let perNoise: [(name: String, get: @Sendable (RunReport) -> [Double]?)] = fields.compactMap { field in
        guard case .perNoise(let get, _) = field.value else { return nil }
        return (field.name, get)
    }

    /// The SQL type of a field's column (per-noise values are a JSON object keyed by noise).
    static func sqlType(_ field: ReportField) -> String {
        switch field.value {
        case .double: "REAL"
        case .int, .bool: "INTEGER"
        case .perNoise, .name, .trajectory, .derived: "TEXT"
        }
    }

    /// The columns the v2 migration adds to a v1 table.
    static let addedInV2: [(String, String)] = [
        ("target_distance", "REAL"), ("gradient_norm", "REAL"), ("oracle_norm", "REAL"),
        ("recovered_at", "INTEGER"), ("stationary_at", "INTEGER"), ("converged", "INTEGER"),
        ("recovered", "INTEGER"), ("stationary", "INTEGER"), ("step_budget", "INTEGER"), ("budget_capped", "INTEGER"),
    ]

    /// The columns the v4-dynamics migration adds: the dynamics of docs/MODEL.md §3 (NULL: not measured).
    static let addedInV4: [(String, String)] = [
        ("flow_time", "REAL"), ("loss_gap_rate", "REAL"), ("balancedness_drift", "REAL"), ("best_rank_gap", "REAL"),
    ]

    /// Adds the column of every field the table lacks (a folder written before the field
    /// existed): its rows read back without the field, as a worker that did not measure it.
    static func addMissing(_ db: Database) throws {
        let existing = Set(try db.columns(in: "results").map(\.name))
        for field in fields where !existing.contains(field.column) {
            try db.execute(sql: "ALTER TABLE results ADD COLUMN \(field.column) \(sqlType(field))")
        }
    }

    /// Binds the values of `all` for one report, in order (absent fields and NaN as NULL);
    /// `scratch` holds the text of a per-noise object while it is bound.
    static func bind(_ r: RunReport, into row: inout RowBinder, byNoise: NoiseKeyedWriter, scratch: inout [UInt8]) {
        for getter in getters {
            switch getter {
            case .double(let get): row.real(get(r))
            case .int(let get): row.int(get(r))
            case .bool(let get): row.bool(get(r))
            case .perNoise(let get):
                guard let values = get(r) else { row.null(); continue }
                byNoise.write(values, into: &scratch)
                row.text(scratch)
            case .name(let get): row.text(get(r))
            case .trajectory, .derived: row.null()
            }
        }
    }

    /// Binds NULL to every column of `all` (a failed run).
    static func bindNull(into row: inout RowBinder) {
        for _ in fields { row.null() }
    }

    /// The columns an older version wrote a diagonal run's own fields to, before each model's
    /// report had its own named fields (read when the new column is NULL).
    static let diagonalBefore: [String: String] = ["support_size": "effective_rank", "l1_norm": "oracle_norm"]

    /// What a v1 row (before the outcome columns) reads as, where a column is NULL.
    static let v1Defaults: [String: String] = ["step_budget": "iterations"]
}
