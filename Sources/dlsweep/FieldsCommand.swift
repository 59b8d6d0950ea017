import ArgumentParser
import TrainingCore

/// Prints the report's field tables from `RunReport.fields`: what PROTOCOL.md and
/// docs/RESULTS-FOLDER.md hold between their generated-table markers.
struct FieldsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fields",
        abstract: "Print the table of every field a run reports: on the wire (wire) or in results.sqlite (store).")

    @Argument(help: "wire or store.")
    var table: String = "wire"

    func run() throws {
        guard let which = RunReport.FieldTable(rawValue: table) else {
            throw ValidationError("unknown table '\(table)': wire or store")
        }
        print(RunReport.markdownTable(which))
    }
}
