import Foundation

/// The per-host summary of the rows a writer inserted (`countByHost`), kept as they are
/// inserted. While they are all the rows of the store (it was empty when opened and no row has
/// been moved out since) the summary comes from here: read back from the database it cost a
/// pass over every row, two date parses and a sort each, at the end of every sweep (as much as
/// a tenth of a no-op task's coordinator time).
struct HostTallies: Sendable {
    private var byHost: [String: HostSummary] = [:]

    /// Counts a row as the store keeps it: its host up to a NUL byte (as bound), its train
    /// seconds unless NaN (stored as NULL, which the query's TOTAL skips), its wall time
    /// between the stored dates' milliseconds.
    ///
    /// - Parameter trainSeconds: the report's; nil for a failed task.
    mutating func add(host: String, trainSeconds: Double?, startedAt: Date, finishedAt: Date) {
        let host = host.utf8.contains(0) ? String(decoding: host.utf8.prefix { $0 != 0 }, as: UTF8.self) : host
        let wall = Double(StoreDate.milliseconds(finishedAt) - StoreDate.milliseconds(startedAt)) / 1000
        byHost[host, default: HostSummary(host: host, tasks: 0, failed: 0, seconds: 0, wallSeconds: 0)].count(
            trainSeconds: trainSeconds, wall: wall)
    }

    /// By host, in the byte order of SQLite's `ORDER BY host`.
    var summaries: [HostSummary] {
        byHost.values.sorted { $0.host.utf8.lexicographicallyPrecedes($1.host.utf8) }
    }
}

extension HostSummary {
    fileprivate mutating func count(trainSeconds: Double?, wall: Double) {
        tasks += 1
        if let trainSeconds {
            if !trainSeconds.isNaN { seconds += trainSeconds }
        } else {
            failed += 1
        }
        wallSeconds += wall
    }
}
