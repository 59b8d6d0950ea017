import Foundation
import GRDB
import GRDBSQLite
import SweepConfig
import TrainingCore

/// Binds one results row to the prepared insert, column after column, straight from the
/// outcome: no array of boxed values, no DateFormatter, no JSONEncoder per row (the
/// coordinator inserts tens of thousands of rows a second). Numbers are written into a stack
/// buffer and bound as text where the store keeps text (seeds, dates).
///
/// Text is copied into `arena`, which outlives the row's insert, and bound in place
/// (`SQLITE_STATIC`): bound as transient, SQLite would allocate and copy each of a row's ten
/// or so texts before the insert copies them again into the record. A text that does not fit
/// in what is left of the arena is bound as transient.
///
/// A parameter that holds NULL from the row before is not bound again (bindings outlive
/// `sqlite3_reset`): the fields a model does not report are NULL row after row, and binding a
/// NULL costs as much as binding a number.
struct RowBinder {
    private let handle: OpaquePointer
    private var index: Int32 = 0
    /// The first binding that failed (SQLite only refuses a binding it cannot hold: too big).
    private(set) var failure: Int32 = SQLITE_OK
    private let arena: UnsafeMutableBufferPointer<UInt8>
    private var used = 0
    private let isNull: UnsafeMutableBufferPointer<Bool>
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// - Parameters:
    ///   - arena: memory for the row's text, alive and untouched until the row's
    ///     `sqlite3_step` has returned (`RowBindings`).
    ///   - isNull: per parameter (from 0), whether it holds NULL now; kept up to date.
    init(_ handle: OpaquePointer, arena: UnsafeMutableBufferPointer<UInt8>, isNull: UnsafeMutableBufferPointer<Bool>) {
        self.handle = handle
        self.arena = arena
        self.isNull = isNull
    }

    /// Notes that parameter `index` (from 1) is about to hold a value.
    private mutating func bound() {
        if Int(index) <= isNull.count { isNull[Int(index) - 1] = false }
    }

    /// How many columns were bound so far.
    var count: Int { Int(index) }

    private mutating func check(_ code: Int32) {
        if failure == SQLITE_OK, code != SQLITE_OK { failure = code }
    }

    mutating func int(_ value: Int) {
        index += 1
        bound()
        check(sqlite3_bind_int64(handle, index, Int64(value)))
    }

    mutating func int(_ value: Int?) {
        guard let value else { return null() }
        int(value)
    }

    mutating func bool(_ value: Bool?) {
        guard let value else { return null() }
        int(value ? 1 : 0)
    }

    /// NaN as NULL (what SQLite would do anyway), said explicitly.
    mutating func real(_ value: Double?) {
        guard let value, !value.isNaN else { return null() }
        index += 1
        bound()
        check(sqlite3_bind_double(handle, index, value))
    }

    /// A string up to its first NUL byte, as SQLite reads a C string (what the store kept
    /// before text was bound with its length).
    mutating func text(_ value: String?) {
        guard var value else { return null() }
        let bound: Void? = value.utf8.withContiguousStorageIfAvailable { bytes in
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            text(UnsafeBufferPointer(rebasing: bytes[..<end]))
        }
        if bound == nil {
            value.makeContiguousUTF8()
            text(value)
        }
    }

    /// UTF-8 bytes as TEXT (copied before this returns, into the arena or by SQLite).
    mutating func text(_ bytes: UnsafeBufferPointer<UInt8>) {
        index += 1
        bound()
        let count = bytes.count
        if count <= arena.count - used, let base = arena.baseAddress {
            let start = base + used
            if let source = bytes.baseAddress, count > 0 { start.update(from: source, count: count) }
            used += count
            check(start.withMemoryRebound(to: CChar.self, capacity: max(count, 1)) {
                // No destructor (SQLITE_STATIC): SQLite reads the bytes in place until rebound.
                sqlite3_bind_text(handle, index, $0, Int32(count), nil)
            })
            return
        }
        check(bytes.withMemoryRebound(to: CChar.self) {
            sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), Self.transient)
        })
    }

    mutating func null() {
        index += 1
        if Int(index) <= isNull.count {
            if isNull[Int(index) - 1] { return }
            isNull[Int(index) - 1] = true
        }
        check(sqlite3_bind_null(handle, index))
    }

    /// An unsigned integer as decimal TEXT (the seeds: SQLite has no UInt64).
    mutating func decimal(_ value: UInt64) {
        value.withDecimalDigits { text($0) }
    }

    /// `Date` as the store keeps it: UTC `YYYY-MM-DD HH:MM:SS.SSS`, as GRDB writes it.
    mutating func date(_ date: Date) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: StoreDate.length) { buffer in
            StoreDate.write(date, into: buffer)
            text(UnsafeBufferPointer(buffer))
        }
    }

    /// UTF-8 text assembled in `scratch` (reused from row to row).
    mutating func text(_ scratch: [UInt8]) {
        scratch.withUnsafeBufferPointer { text($0) }
    }
}

/// The store's date text, computed digit by digit (a DateFormatter costs microseconds, and
/// `gmtime_r` takes glibc's time-zone lock twice a row).
enum StoreDate {
    static let length = 23

    static func text(_ date: Date) -> String {
        String(unsafeUninitializedCapacity: length) { buffer in
            write(date, into: buffer)
            return length
        }
    }

    /// The proleptic Gregorian date of `days` since 1970-01-01 (H. Hinnant's `civil_from_days`,
    /// the calendar `gmtime_r` uses: year 0 exists, years before it are negative).
    static func civil(days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153  // March is 0
        let day = Int(dayOfYear - (153 * shifted + 2) / 5 + 1)
        let month = Int(shifted < 10 ? shifted + 3 : shifted - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The milliseconds since 1970 the text of `date` shows (rounded down; non-finite as 0).
    static func milliseconds(_ date: Date) -> Int64 {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        return milliseconds.isFinite ? Int64(milliseconds) : 0
    }

    /// Writes the 23 bytes of `date`'s text digit by digit (interpolation would allocate per field).
    static func write(_ date: Date, into bytes: UnsafeMutableBufferPointer<UInt8>) {
        let total = milliseconds(date)
        let seconds = total >= 0 ? total / 1000 : (total - 999) / 1000
        let millis = Int(total - seconds * 1000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civil(days: days)
        func put(_ value: Int, at start: Int, width: Int) {
            var rest = max(0, value)
            for i in stride(from: start + width - 1, through: start, by: -1) {
                bytes[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
        }
        // Years past 9999 keep their last four digits, years before 1 are 0000, as before.
        put(Int(clamping: year), at: 0, width: 4)
        bytes[4] = UInt8(ascii: "-")
        put(month, at: 5, width: 2)
        bytes[7] = UInt8(ascii: "-")
        put(day, at: 8, width: 2)
        bytes[10] = UInt8(ascii: " ")
        put(secondOfDay / 3600, at: 11, width: 2)
        bytes[13] = UInt8(ascii: ":")
        put(secondOfDay / 60 % 60, at: 14, width: 2)
        bytes[16] = UInt8(ascii: ":")
        put(secondOfDay % 60, at: 17, width: 2)
        bytes[19] = UInt8(ascii: ".")
        put(millis, at: 20, width: 3)
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

    /// Replaces `bytes` with the object's text.
    func write(_ values: [Double], into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(UInt8(ascii: "{"))
        for (n, key) in keys.enumerated() {
            if n > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: key.label.utf8)
            bytes.append(contentsOf: "\":".utf8)
            let value = values[key.index]
            if value.isNaN { bytes.append(contentsOf: "\"nan\"".utf8) }
            else if value == .infinity { bytes.append(contentsOf: "\"inf\"".utf8) }
            else if value == -.infinity { bytes.append(contentsOf: "\"-inf\"".utf8) }
            else { bytes.append(contentsOf: decimalLabel(value).utf8) }
        }
        bytes.append(UInt8(ascii: "}"))
    }
}

/// The memory the rows of one transaction are bound from (`RowBinder`): an arena for their
/// text and which parameters hold NULL. `bindings(of:)` starts with every parameter NULL, and
/// `finish` leaves none pointing into the arena before it is freed.
struct RowBindings {
    let arena: UnsafeMutableBufferPointer<UInt8>
    let isNull: UnsafeMutableBufferPointer<Bool>
    private let statement: Statement

    init(of statement: Statement, arenaBytes: Int = 16 << 10) {
        self.statement = statement
        sqlite3_clear_bindings(statement.sqliteStatement)
        arena = .allocate(capacity: arenaBytes)
        isNull = .allocate(capacity: Int(sqlite3_bind_parameter_count(statement.sqliteStatement)))
        isNull.initialize(repeating: true)
    }

    func finish() {
        sqlite3_clear_bindings(statement.sqliteStatement)
        arena.deallocate()
        isNull.deallocate()
    }
}

extension Statement {
    /// Binds a row with `bind` and runs this prepared statement (inside the caller's
    /// transaction), from `bindings` (see `RowBinder`).
    func executeRow(in db: Database, _ bindings: RowBindings, _ bind: (inout RowBinder) -> Void) throws {
        let handle = sqliteStatement
        sqlite3_reset(handle)
        var binder = RowBinder(handle, arena: bindings.arena, isNull: bindings.isNull)
        bind(&binder)
        guard binder.failure == SQLITE_OK else { throw failure(binder.failure, db) }
        guard binder.count == Int(sqlite3_bind_parameter_count(handle)) else { throw failure(SQLITE_RANGE, db) }
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else { throw failure(code, db) }
    }

    private func failure(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code),
                      message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }, sql: sql)
    }
}
