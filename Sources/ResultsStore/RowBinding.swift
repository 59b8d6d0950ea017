import Foundation
import GRDB
import GRDBSQLite
import SweepConfig
import TrainingCore

/// One value of a results row, bound straight to the prepared insert: no existential boxes,
/// no DateFormatter, no JSONEncoder per row (the coordinator inserts tens of thousands of rows
/// a second).
enum SQLValue {
    case int(Int64)
    case double(Double)
    case text(String)
    case null

    static func int(_ value: Int) -> SQLValue { .int(Int64(value)) }
    static func bool(_ value: Bool) -> SQLValue { .int(value ? 1 : 0) }
    static func bool(_ value: Bool?) -> SQLValue { value.map { .int($0 ? 1 : 0) } ?? .null }
    static func int(_ value: Int?) -> SQLValue { value.map { .int(Int64($0)) } ?? .null }
    /// NaN as NULL (what SQLite would do anyway), said explicitly.
    static func real(_ value: Double) -> SQLValue { value.isNaN ? .null : .double(value) }
    static func real(_ value: Double?) -> SQLValue { value.map { real($0) } ?? .null }
    static func text(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }

    /// `Date` as the store keeps it: UTC `YYYY-MM-DD HH:MM:SS.SSS`, as GRDB writes it.
    static func date(_ date: Date) -> SQLValue { .text(StoreDate.text(date)) }
}

/// The store's date text, formatted with `gmtime_r` (a DateFormatter costs microseconds).
enum StoreDate {
    static func text(_ date: Date) -> String {
        var milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        if !milliseconds.isFinite { milliseconds = 0 }
        let total = Int64(milliseconds)
        var seconds = time_t(total >= 0 ? total / 1000 : (total - 999) / 1000)
        let millis = Int(total - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Written digit by digit into 23 bytes: string interpolation would allocate per field.
        var bytes = [UInt8](repeating: 0, count: 23)
        func put(_ value: Int, at start: Int, width: Int) {
            var rest = max(0, value)
            for i in stride(from: start + width - 1, through: start, by: -1) {
                bytes[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
        }
        put(Int(parts.tm_year) + 1900, at: 0, width: 4)
        bytes[4] = UInt8(ascii: "-")
        put(Int(parts.tm_mon) + 1, at: 5, width: 2)
        bytes[7] = UInt8(ascii: "-")
        put(Int(parts.tm_mday), at: 8, width: 2)
        bytes[10] = UInt8(ascii: " ")
        put(Int(parts.tm_hour), at: 11, width: 2)
        bytes[13] = UInt8(ascii: ":")
        put(Int(parts.tm_min), at: 14, width: 2)
        bytes[16] = UInt8(ascii: ":")
        put(Int(parts.tm_sec), at: 17, width: 2)
        bytes[19] = UInt8(ascii: ".")
        put(millis, at: 20, width: 3)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The `test_error`/`oracle_test_error` object of a store: the test-noise labels sorted as
/// JSONEncoder's `.sortedKeys` sorts them, written once; each row only appends its numbers.
struct NoiseKeyedWriter: Sendable {
    /// (label, position in the test-noise list), in key order.
    private let keys: [(label: String, index: Int)]

    init(testNoise: [Double]) {
        var seen = Set<String>()
        keys = testNoise.enumerated().map { (decimalLabel($0.element), $0.offset) }
            .filter { seen.insert($0.0).inserted }
            .sorted { $0.0 < $1.0 }
    }

    func text(_ values: [Double]) -> String {
        var text = "{"
        for (n, key) in keys.enumerated() {
            if n > 0 { text += "," }
            text += "\"" + key.label + "\":"
            let value = values[key.index]
            if value.isNaN { text += "\"nan\"" }
            else if value == .infinity { text += "\"inf\"" }
            else if value == -.infinity { text += "\"-inf\"" }
            else { text += decimalLabel(value) }
        }
        return text + "}"
    }
}

extension Statement {
    /// Binds `values` to this prepared statement and runs it (inside the caller's transaction).
    func executeBound(_ values: [SQLValue], in db: Database) throws {
        let handle = sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .int(let v): code = sqlite3_bind_int64(handle, index, v)
            case .double(let v): code = sqlite3_bind_double(handle, index, v)
            case .text(let v): code = sqlite3_bind_text(handle, index, v, -1, transient)
            case .null: code = sqlite3_bind_null(handle, index)
            }
            guard code == SQLITE_OK else { throw failure(code, db) }
        }
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else { throw failure(code, db) }
    }

    private func failure(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code),
                      message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }, sql: sql)
    }
}
