import Foundation
import SweepConfig
import SweepTable
import Testing

/// The per-cell replay counts of a sweep that verified by replay (issue 20): a column of the
/// human tables and two keys of table.json and table.csv, absent from every other sweep's tables.
@Suite struct ReplayColumnTests {
    static func cell(depth: Int, replays: CellSummary.Replays?) -> CellSummary {
        var summary = CellSummary(axes: [AxisSetting("depth", .int(depth)), AxisSetting("width", .int(8))], trials: 4,
                                  failed: 0, values: ["converged": 3, "median_iterations": 120], perNoise: [:])
        summary.replays = replays
        return summary
    }

    @Test("shown (ok/differ) and kept in table.json and table.csv only when the sweep verified; read back, never as an axis")
    func column() throws {
        let verified = [Self.cell(depth: 2, replays: .init(verified: 3, mismatched: 1)),
                        Self.cell(depth: 3, replays: .init(verified: 0, mismatched: 0))]
        let text = renderText(verified)
        #expect(text.contains("replays ok/differ") && text.contains("3/1") && text.contains("0/0"))
        #expect(renderMarkdown(verified).contains("| 3/1 |"))
        let json = try renderJSON(verified)
        #expect(json.contains("\"replays_verified\" : 3") && json.contains("\"replays_mismatched\" : 1"))
        let back = try JSONDecoder().decode([CellSummary].self, from: Data(json.utf8))
        #expect(back.map(\.replays) == verified.map(\.replays) && back.map(\.values) == verified.map(\.values))
        #expect(back[0].axisKeys == ["depth", "width"])

        let csv = renderCSV(verified).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(csv[0].suffix(2) == ["replays_verified", "replays_mismatched"])
        #expect(csv[1].suffix(2) == ["3", "1"] && csv[2].suffix(2) == ["0", "0"])
        #expect(csv.allSatisfy { $0.count == csv[0].count })

        let plain = verified.map { Self.cell(depth: $0.axisValue("depth")!.intValue, replays: nil) }
        let plainJSON = try renderJSON(plain)
        #expect(!renderText(plain).contains("replays") && !plainJSON.contains("replays") && !renderCSV(plain).contains("replays"))
    }
}
