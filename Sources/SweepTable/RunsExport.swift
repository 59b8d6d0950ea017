import Foundation
public import ResultsStore
public import SweepConfig
import TrainingCore

/// `dlsweep runs`: one line per run with every axis value, the seeds, the bookkeeping and every
/// stored metric, as CSV or JSON Lines, written as the rows are read (a store of any size
/// exports in constant memory). The metric columns are the store's (`ResultsStore.reportFields`,
/// i.e. `RunReport.fields`): a new metric is exported without a change here.
public struct RunsExport: Sendable {
    public enum Format: String, CaseIterable, Sendable {
        case csv, jsonl
    }

    /// The columns, in order: `task_id`, `cell_index`, the axes in plan order, `trial`, the seeds,
    /// `status`, `attempt`, `worker_id`, `host`, `started_at`, `finished_at`, one per stored metric
    /// (`test_error@0.1`: one per test noise level), `failure_reason`, and `trajectory` when asked.
    public let columns: [String]
    let axes: [String]
    let testNoise: [String]
    let trajectories: Bool

    public init(plan: SweepPlan, trajectories: Bool) {
        axes = plan.configuration.grid.map(\.key)
        testNoise = plan.configuration.testNoise.map(decimalLabel)
        self.trajectories = trajectories
        var metrics: [String] = []
        for field in ResultsStore.reportFields {
            if case .perNoise = field.value {
                metrics += testNoise.map { "\(field.column)@\($0)" }
            } else {
                metrics.append(field.column)
            }
        }
        columns = ["task_id", "cell_index"] + axes
            + ["trial", "problem_seed", "training_seed", "status", "attempt", "worker_id", "host", "started_at", "finished_at"]
            + metrics + ["failure_reason"] + (trajectories ? ["trajectory"] : [])
    }

    /// One value of a line, before the format spells it.
    enum Value {
        case number(Double)
        case integer(Int)
        case flag(Bool)
        case text(String)
        /// Already JSON (a stored trajectory).
        case json(String)
        case none
    }

    /// The values of `row` in `columns` order.
    func values(_ row: ResultRow, trajectory: String?) -> [Value] {
        var out: [Value] = [.integer(row.taskID), .integer(row.cellIndex)]
        out.reserveCapacity(columns.count)
        for key in axes {
            switch row[axis: key] {
            case .int(let v)?: out.append(.integer(v))
            case .double(let v)?: out.append(.number(v))
            case .bool(let v)?: out.append(.flag(v))
            case .string(let v)?: out.append(.text(v))
            case nil: out.append(.none)
            }
        }
        out += [.integer(row.trial), .text(String(row.problemSeed)), .text(String(row.trainingSeed)),
                .text(row.status.rawValue), .integer(row.attempt), .text(row.workerID), .text(row.host),
                .text(ResultsStore.dateText(row.startedAt)), .text(ResultsStore.dateText(row.finishedAt))]
        for field in ResultsStore.reportFields {
            let report = row.report
            switch field.value {
            case .double(let get, _): out.append(report.flatMap(get).map(Value.number) ?? .none)
            case .int(let get, _): out.append(report.flatMap(get).map(Value.integer) ?? .none)
            case .bool(let get, _): out.append(report.flatMap(get).map(Value.flag) ?? .none)
            case .name(let get, _, _): out.append(report.flatMap(get).map(Value.text) ?? .none)
            case .perNoise(let get, _):
                let values = report.flatMap(get)
                out += testNoise.indices.map { i in values.flatMap { i < $0.count ? Value.number($0[i]) : nil } ?? .none }
            case .trajectory, .derived:
                break
            }
        }
        out.append(row.failureReason.map(Value.text) ?? .none)
        if trajectories { out.append(trajectory.map(Value.json) ?? .none) }
        return out
    }

    /// The header line (CSV only; a JSON line names its keys).
    public func header(_ format: Format) -> String? {
        format == .csv ? columns.map(Self.csvField).joined(separator: ",") + "\n" : nil
    }

    /// One run as a line of `format`. CSV: numbers in full precision, `inf`/`-inf`/`nan` spelled
    /// out, booleans `true`/`false`, empty for no value. JSON: numbers, booleans, strings, and
    /// null for no value and for non-finite numbers (JSON has none).
    public func line(_ row: ResultRow, trajectory: String?, format: Format) -> String {
        let values = values(row, trajectory: trajectory)
        switch format {
        case .csv:
            return values.map { value -> String in
                switch value {
                case .number(let v): v.isNaN ? "nan" : v.isInfinite ? (v > 0 ? "inf" : "-inf") : decimalLabel(v)
                case .integer(let v): String(v)
                case .flag(let v): v ? "true" : "false"
                case .text(let v), .json(let v): Self.csvField(v)
                case .none: ""
                }
            }.joined(separator: ",") + "\n"
        case .jsonl:
            var line = "{"
            for (i, (key, value)) in zip(columns, values).enumerated() {
                if i > 0 { line += "," }
                line += Self.jsonString(key) + ":"
                switch value {
                case .number(let v): line += v.isFinite ? decimalLabel(v) : "null"
                case .integer(let v): line += String(v)
                case .flag(let v): line += v ? "true" : "false"
                case .text(let v): line += Self.jsonString(v)
                case .json(let v): line += v
                case .none: line += "null"
                }
            }
            return line + "}\n"
        }
    }

    /// Writes the header and every run of `store` matching `filters` to `write`, as read;
    /// returns how many runs.
    @discardableResult
    public static func export(_ store: ResultsStore, filters: [RowFilter], format: Format, trajectories: Bool,
                              to write: (String) throws -> Void) throws -> Int {
        try store.validate(filters)
        let export = RunsExport(plan: store.plan, trajectories: trajectories)
        if let header = export.header(format) { try write(header) }
        var count = 0
        try store.forEachRow(matching: filters, trajectories: trajectories) { row, points in
            try write(export.line(row, trajectory: points, format: format))
            count += 1
        }
        return count
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
