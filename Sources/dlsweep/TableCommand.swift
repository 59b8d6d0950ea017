import ArgumentParser
import Foundation
import ResultsStore
import SweepConfig
import SweepTable

/// `dlsweep table DIR`: rebuilds the aggregated table from a results directory, during or after a sweep.
struct TableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table",
        abstract: "Print the success-rate table of a sweep from DIR/results.sqlite.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, csv, json, markdown
    }

    @Argument(help: "The results directory of a sweep (the --out of `dlsweep run` or `dlsweep coordinator`).")
    var directory: String

    @Option(help: "Output format: \(Format.allCases.map(\.rawValue).joined(separator: "|")).")
    var format: Format = .text

    @Flag(help: "Also rewrite DIR/table.csv, table.json, table.md, success.svg, iterations.svg and noise.svg.")
    var write = false

    func run() throws {
        let (store, configuration) = try openStoredSweep(directory)
        // A cell at a time: a million-task store is not loaded whole.
        let summaries = try summarize(store: store)
        switch format {
        case .text:
            print("sweep '\(configuration.name)' (fingerprint \(store.meta.fingerprint)): \(try store.count()) of \(store.plan.taskCount) tasks recorded")
            print(renderText(summaries), terminator: "")
            let (failures, failedCount) = try store.failures(limit: 1000)
            if failedCount > 0 {
                print("\n\(failedCount) failed task(s); first reasons:")
                var seen = Set<String>()
                for row in failures where seen.insert(row.failureReason ?? "").inserted && seen.count <= 5 {
                    print("  task \(row.taskID) (\(row.axes.map { "\($0.key) \($0.value)" }.joined(separator: ", "))): \(row.failureReason ?? "no reason given")")
                }
            }
            let hosts = try store.countByHost()
            if !hosts.isEmpty {
                print("")
                print(renderHosts(hosts), terminator: "")
            }
        case .csv:
            print(renderCSV(summaries), terminator: "")
        case .json:
            print(try renderJSON(summaries), terminator: "")
        case .markdown:
            print(renderMarkdown(summaries), terminator: "")
        }
        if write {
            let paths = try writeTableFiles(directory: directory, summaries: summaries, title: configuration.name,
                                             measure: configuration.successMeasure,
                                             layout: HeatmapLayout(configuration, summaries), model: configuration.modelKind)
            FileHandle.standardError.write(Data("wrote \(paths.joined(separator: ", "))\n".utf8))
        }
    }
}
