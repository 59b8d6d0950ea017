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

    @Option(help: """
        Tasks in all, instead of the config's trials (its cells × trials): e.g. `--tasks 10000 \
        --workers 16` is the shape of Ray Tune's overhead test (10,000 trials of 1 s on 16 CPUs).
        """)
    var tasks: Int?

    @Option(help: "Folder for the results database (default: a temporary folder, removed after).")
    var out: String?

    func run() throws {
        var configuration = try SweepConfiguration.load(path: config)
        if let tasks {
            let cells = configuration.cellCount ?? 1
            guard tasks >= 1, tasks % cells == 0, configuration.adaptive == nil else {
                throw ValidationError("--tasks \(tasks): \(config) has \(cells) cells\(configuration.adaptive == nil ? "" : " and adaptive trials"); --tasks must be a positive multiple of the cells of a config without adaptive:")
            }
            configuration.trials = tasks / cells
        }
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
        if let seconds = configuration.baseSpec.model.sleepSeconds {
            // Ray Tune's way to put it: the wall time against the least it could be.
            let tasks = Double(outcome.recordedNow)
            let minimum = (tasks / Double(workers)).rounded(.up) * seconds
            print(String(format: "wall time against the minimum (%.0f tasks x %g s / %d workers = %.2f s): %.2f s, %+.1f%%",
                         tasks, seconds, workers, minimum, wall, 100 * (wall / minimum - 1)))
        }
    }
}
