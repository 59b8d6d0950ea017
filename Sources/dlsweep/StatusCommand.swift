import ArgumentParser
import Coordinator
import Foundation

/// `dlsweep status DIR`: where a sweep stands, from its folder alone.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Where a sweep stands, from its folder: progress per round, rate, ETA, workers and hosts, failures and refusals, its coordinator.",
        discussion: """
            Reads DIR/results.sqlite (read-only), probes DIR/coordinator.lock and reads the
            DIR/status.json a running coordinator rewrites every 2 s; works on a running,
            stopped or finished sweep, on this host or another that shares the folder.
            """)

    @Argument(help: "The results directory of a sweep (the --out of `dlsweep run` or `dlsweep coordinator`).")
    var directory: String

    @Flag(help: "Print JSON (sorted keys) instead of text.")
    var json = false

    func run() throws {
        let standing = try SweepStanding(directory: directory)
        if json {
            FileHandle.standardOutput.write(standing.json())
            print("")
        } else {
            print(standing.text(), terminator: "")
        }
    }
}
