import ArgumentParser
import Foundation
import ResultsStore
import SweepTable

/// `dlsweep report DIR`: one self-contained HTML page of a sweep, during or after it.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write DIR/report.html: config, provenance, heat maps, Figure 1, hosts and failures of a sweep.",
        discussion: """
            One file with inline SVG plots and no script or network resource. Reads DIR/results.sqlite \
            read-only, so it also works while the sweep runs (run it again for a fresh page).
            """)

    @Argument(help: "The results directory of a sweep (the --out of `dlsweep run` or `dlsweep coordinator`).")
    var directory: String

    @Option(help: "Where to write the page (default: DIR/report.html).")
    var output: String?

    @Option(help: "Failed tasks listed at most (all are counted).")
    var maxFailures = 500

    func validate() throws {
        if maxFailures < 0 { throw ValidationError("--max-failures must be at least 0") }
    }

    func run() throws {
        let (store, configuration) = try openStoredSweep(directory)
        let report = try SweepReport(store: store, configuration: configuration, failureLimit: maxFailures)
        let target = output ?? (directory as NSString).appendingPathComponent("report.html")
        let path = try writeReport(report, directory: (target as NSString).deletingLastPathComponent,
                                   fileName: (target as NSString).lastPathComponent)
        print("wrote \(path) (\(report.recorded) of \(report.adaptive?.taskCount ?? report.meta.taskCount) tasks recorded)")
    }
}
