public import Foundation
import GRDB
import SweepConfig
public import TrainingCore

/// `KEY=VALUE`: the rows whose axis or column `KEY` equals `VALUE` (`dlsweep runs --where`).
public struct RowFilter: Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// Parses `KEY=VALUE`; nil without a key or an `=`.
    public init?(_ text: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return nil }
        self.init(key: String(text[..<equals]), value: String(text[text.index(after: equals)...]))
    }

    public var description: String { "\(key)=\(value)" }
}

/// A filter that names no column, or a value its column cannot hold.
public struct RowFilterError: Error, CustomStringConvertible, Sendable {
    public var filter: RowFilter
    public var reason: String
    public var description: String { "--where \(filter): \(reason)" }
}

extension ResultsStore {
    /// The stored fields of a report, in column order: `RunReport.fields` less the derived ones
    /// and the trajectory (kept in its own table). What `dlsweep runs` exports, and the columns of `results`.
    public static var reportFields: [ReportField] { ReportColumns.fields }

    /// The columns of a row besides its axes and its report.
    static let rowColumns: [(key: String, isText: Bool)] = [
        ("task_id", false), ("cell_index", false), ("trial", false), ("status", true), ("attempt", false),
        ("worker_id", true), ("host", true),
    ]

    /// What a filter may name: the plan's axes, the row's own columns and the report's scalar columns.
    public var filterKeys: [String] {
        plan.configuration.grid.map(\.key) + Self.rowColumns.map(\.key)
            + ReportColumns.fields.filter { if case .perNoise = $0.value { false } else { true } }.map(\.column)
    }

    /// The SQL condition and argument of `filter`, or the reason it names nothing.
    private func condition(_ filter: RowFilter) throws -> (sql: String, argument: DatabaseValue) {
        func fail(_ reason: String) -> RowFilterError { RowFilterError(filter: filter, reason: reason) }
        func number() throws -> DatabaseValue {
            guard let value = Double(filter.value), value.isFinite else { throw fail("'\(filter.value)' is not a number") }
            return value.databaseValue
        }
        let key = filter.key
        if plan.configuration.grid.contains(where: { $0.key == key }) {
            if AxisColumns.named(key) != nil { return ("\"\(key)\" = ?", try number()) }
            // The other axes live in the `axes` JSON object; json_extract gives numbers as
            // numbers, true/false as 1/0 and names as text.
            let value: DatabaseValue = switch filter.value {
            case "true": 1.databaseValue
            case "false": 0.databaseValue
            default: Double(filter.value).map(\.databaseValue) ?? filter.value.databaseValue
            }
            return ("json_extract(axes, '$.\(key)') = ?", value)
        }
        if let column = Self.rowColumns.first(where: { $0.key == key }) {
            return ("\"\(key)\" = ?", column.isText ? filter.value.databaseValue : try number())
        }
        if let field = ReportColumns.fields.first(where: { $0.column == key }) {
            switch field.value {
            case .bool:
                guard let flag = ["true": 1, "false": 0, "1": 1, "0": 0][filter.value] else { throw fail("expected true or false") }
                return ("\"\(key)\" = ?", flag.databaseValue)
            case .name(_, _, let allowed):
                guard allowed.contains(filter.value) else { throw fail("expected one of \(allowed.joined(separator: ", "))") }
                return ("\"\(key)\" = ?", filter.value.databaseValue)
            case .double, .int:
                return ("\"\(key)\" = ?", try number())
            case .perNoise, .trajectory, .derived:
                break
            }
        }
        throw fail("no axis or column '\(key)' in \(path); one of: \(filterKeys.joined(separator: ", "))")
    }

    /// Checks `filters` against this store's columns without reading a row.
    public func validate(_ filters: [RowFilter]) throws {
        for filter in filters { _ = try condition(filter) }
    }

    /// Calls `body` with every row matching all of `filters`, in task order, one row at a time
    /// (a cursor: memory does not grow with the store), with the row's stored trajectory (its
    /// JSON text, see `StoredTrajectory`) when `trajectories` is set and it has one.
    public func forEachRow(matching filters: [RowFilter], trajectories: Bool = false,
                           _ body: (ResultRow, String?) throws -> Void) throws {
        let conditions = try filters.map(condition)
        let context = RowContext(plan)
        try wrap {
            try pool.read { db in
                let join = try trajectories && db.tableExists("trajectories")
                var sql = join
                    ? "SELECT results.*, trajectories.points AS trajectory_points FROM results LEFT JOIN trajectories USING (task_id)"
                    : "SELECT * FROM results"
                if !conditions.isEmpty { sql += " WHERE " + conditions.map(\.sql).joined(separator: " AND ") }
                sql += " ORDER BY task_id"
                let rows = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(conditions.map(\.argument)))
                while let row = try rows.next() {
                    let points: String? = join ? row["trajectory_points"] : nil
                    try body(try decode(row, context), points)
                }
            }
        }
    }

    /// A date as the store writes it: UTC `YYYY-MM-DD HH:MM:SS.SSS`.
    public static func dateText(_ date: Date) -> String { StoreDate.text(date) }
}

extension ResultsStore {
    /// Rows (ok and failed) and failed rows among task ids `ids` (one adaptive round's block).
    public func counts(taskIDs ids: Range<Int>) throws -> (recorded: Int, failed: Int) {
        try wrap {
            try pool.read { db in
                let row = try Row.fetchOne(db, sql: """
                    SELECT COUNT(*) AS recorded, TOTAL(status = 'failed') AS failed FROM results
                    WHERE task_id >= ? AND task_id < ?
                    """, arguments: [ids.lowerBound, ids.upperBound])
                return (row?["recorded"] ?? 0, Int(row?["failed"] as Double? ?? 0))
            }
        }
    }

    /// Rows whose task finished at or after `date`.
    public func finishedCount(since date: Date) throws -> Int {
        try wrap {
            try pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM results WHERE finished_at >= ?",
                                 arguments: [Self.dateText(date)]) ?? 0
            }
        }
    }
}
