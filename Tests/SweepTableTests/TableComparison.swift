import Foundation
import Testing

// Comparing a table written by an older binary with this build's: the folders of earlier
// versions must give the same values (issue 19).

/// The CSV as one dictionary per row, by column name.
func csvRows(_ text: String) -> [[String: String]] {
    let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    guard let header = lines.first else { return [] }
    return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
}

/// Whether two table values agree: equal, or numbers within `tolerance` relative to the larger.
func agree(_ a: String?, _ b: String?, tolerance: Double) -> Bool {
    if a == b { return true }
    guard let a, let b, let x = Double(a), let y = Double(b), x.isFinite, y.isFinite else { return false }
    return abs(x - y) <= tolerance * max(abs(x), abs(y))
}

/// Every column of the old table has the same value in the new one, row by row (the new
/// table may have more columns: fields added since); `skipping` columns that measure time.
/// `tolerance`: relative, for runs made again by this build (0: the very same text).
func expectSameValues(old: String, new: String, skipping: Set<String> = [], tolerance: Double = 0) {
    let (oldRows, newRows) = (csvRows(old), csvRows(new))
    #expect(oldRows.count == newRows.count)
    let oldHeader = old.prefix { $0 != "\n" }.split(separator: ",").map(String.init)
    let newHeader = new.prefix { $0 != "\n" }.split(separator: ",").map(String.init)
    #expect(newHeader.filter(Set(oldHeader).contains) == oldHeader, "the old columns, in their order")
    for (i, (o, n)) in zip(oldRows, newRows).enumerated() {
        for column in oldHeader where !skipping.contains(column) {
            #expect(agree(n[column], o[column], tolerance: tolerance), "row \(i + 1), \(column): \(n[column] ?? "none") vs \(o[column] ?? "none")")
        }
    }
}

/// The same check on table.json: each old key's value, as JSON reads it, in every cell.
func expectSameJSON(old: String, new: String, skipping: Set<String> = [], tolerance: Double = 0) throws {
    let oldCells = try #require(try JSONSerialization.jsonObject(with: Data(old.utf8)) as? [[String: Any]])
    let newCells = try #require(try JSONSerialization.jsonObject(with: Data(new.utf8)) as? [[String: Any]])
    #expect(oldCells.count == newCells.count)
    for (i, (o, n)) in zip(oldCells, newCells).enumerated() {
        for (key, value) in o where !skipping.contains(key) {
            func text(_ v: Any?) -> String? { v.map { "\($0)" } }
            #expect(agreeJSON(n[key], value, tolerance: tolerance),
                    "cell \(i), \(key): \(text(n[key]) ?? "none") vs \(text(value) ?? "none")")
        }
    }
}

/// Two JSON values agree: equal, numbers within `tolerance`, or objects with the same keys whose
/// values agree (the per-noise-level objects of the table hold numbers too).
func agreeJSON(_ a: Any?, _ b: Any?, tolerance: Double) -> Bool {
    if (a as? NSObject) == (b as? NSObject) { return true }
    if let x = a as? [String: Any], let y = b as? [String: Any] {
        return Set(x.keys) == Set(y.keys) && x.keys.allSatisfy { agreeJSON(x[$0], y[$0], tolerance: tolerance) }
    }
    guard b is NSNumber else { return false }
    return agree(a.map { "\($0)" }, b.map { "\($0)" }, tolerance: tolerance)
}
