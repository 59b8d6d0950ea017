import Foundation

/// Measured seconds per cell: the default lease of a task is a multiple of its cell's
/// expected time, doubled each time that task overran (so a slow but honest task finishes).
/// Beyond `maxCells` measured cells the rest share one mean (memory stays bounded on huge grids).
public struct TaskDurations: Sendable {
    public var factor: Double
    /// No lease is shorter.
    public var floor: Double
    public var maxCells = 100_000
    private var sums: [Int: (seconds: Double, count: Int)] = [:]
    private var overruns: [Int: Int] = [:]
    private var longestMean = 0.0

    public init(factor: Double = 10, floor: Double = 60) {
        self.factor = factor
        self.floor = floor
    }

    public mutating func record(cell: Int, seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        let cell = sums[cell] != nil || sums.count < maxCells ? cell : -1
        var entry = sums[cell] ?? (0, 0)
        entry.seconds += seconds
        entry.count += 1
        sums[cell] = entry
        longestMean = max(longestMean, entry.seconds / Double(entry.count))
    }

    public mutating func overran(task: Int) {
        overruns[task, default: 0] += 1
    }

    /// nil until something was measured: the first tasks of a sweep have no expected time.
    public func limit(cell: Int, task: Int) -> Double? {
        let expected: Double
        if let entry = sums[cell] ?? sums[-1] {
            expected = entry.seconds / Double(entry.count)
        } else if longestMean > 0 {
            // A cell not yet measured may be larger than any measured one.
            expected = 4 * longestMean
        } else {
            return nil
        }
        let doublings = Double(min(overruns[task] ?? 0, 20))
        return max(floor, factor * expected) * pow(2, doublings)
    }
}
