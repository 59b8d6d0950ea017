import ArgumentParser
import Foundation
import SweepConfig

/// `dlsweep bench overhead`: the share of the workers' time a sweep of fixed-length runs
/// loses to the machinery (dispatch, results, worker start-up), with real worker processes.
struct BenchOverheadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overhead",
        abstract: "Sweep overhead for fixed-length tasks: 1 - (sum of task seconds) / (wall seconds x workers).")

    @Argument(help: "A config of fixed-length runs (model: sleep).")
    var config = "configs/overhead.yaml"

    @Option(help: "Worker processes.")
    var workers = 2

    @Option(help: "Tasks each worker holds at once (its --prefetch).")
    var prefetch = 2

    @Option(help: "Folder for the results database (default: a temporary folder, removed after).")
    var out: String?

    func run() throws {
        let configuration = try SweepConfiguration.load(path: config)
        let directory = out ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("dlsweep-bench-overhead-\(getpid())").path
        defer { if out == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let (outcome, _) = try LocalBenchSweep(workers: workers, prefetch: prefetch).run(configuration, directory: directory)
        let busy = outcome.hosts.reduce(0) { $0 + $1.seconds }
        let wall = outcome.dispatchSeconds
        let overhead = 1 - busy / (wall * Double(workers))
        print(String(format: "%d tasks on %d worker processes: %.2f s of task time in %.2f s of wall time", outcome.recordedNow, workers, busy, wall))
        print(String(format: "overhead: %.2f%% = 1 - %.2f / (%.2f x %d) (from the coordinator's start, worker start-up included)",
                     100 * overhead, busy, wall, workers))
    }
}
