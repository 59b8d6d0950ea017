import Coordinator
import Foundation
import SweepConfig
import SweepTable

/// The table of a completed sweep, rendered here and not by the coordinator (which does not
/// depend on `SweepTable`): read from the coordinator's store once `run()` returned, written
/// to the results folder (table files, plots, report.html) and returned for the terminal.
/// - Returns: the summaries, and the seconds it took (they count in the sweep's wall time).
func writeSweepTables(_ coordinator: Coordinator, configuration: SweepConfiguration,
                      outDirectory: String) throws -> (summaries: [CellSummary], seconds: Double) {
    let started = Date()
    let summaries = try summarize(store: coordinator.store)
    _ = try writeTableFiles(directory: outDirectory, summaries: summaries, title: configuration.name,
                            measure: configuration.successMeasure,
                            layout: HeatmapLayout(configuration, summaries), model: configuration.modelKind)
    _ = try writeReport(try SweepReport(store: coordinator.store, configuration: configuration, summaries: summaries),
                        directory: outDirectory)
    return (summaries, Date().timeIntervalSince(started))
}

/// Writes the tables of a completed sweep, then prints the table and the sweep's summary; a
/// sweep stopped early exits non-zero.
func finish(_ outcome: SweepOutcome, of coordinator: Coordinator, configuration: SweepConfiguration,
            outDirectory: String) throws {
    var outcome = outcome
    var summaries: [CellSummary] = []
    if outcome.complete {
        let tables = try writeSweepTables(coordinator, configuration: configuration, outDirectory: outDirectory)
        summaries = tables.summaries
        outcome.wallSeconds += tables.seconds
    }
    try report(outcome, summaries: summaries, outDirectory: outDirectory)
}
