import ArgumentParser
import Coordinator
import Foundation
import LinearAlgebra
import Logging
import SweepConfig

/// `dlsweep bench dispatch`: the cost of the sweep machinery itself. A coordinator in this
/// process serves `model: noop` tasks (no training) to real `dlsweep worker` processes over
/// tcp loopback, and commits every result to a results store as a sweep does.
struct BenchDispatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch",
        abstract: "No-op tasks per second through a coordinator and real worker processes over tcp; optionally against Dask.")

    @Option(help: "No-op tasks (one cell, this many trials).")
    var tasks = 100_000

    @Option(help: "Worker processes (dlsweep worker, one BLAS thread each).")
    var workers = 2

    @Option(help: "Tasks each worker holds at once (its --prefetch).")
    var prefetch = 16

    @Flag(help: "Print one JSON object: tasks, workers, tasks_per_second, coordinator_us_per_task, peak_rss_bytes.")
    var json = false

    @Flag(help: "Also run scripts/bench_dask_noop.py (Dask LocalCluster, as many single-threaded worker processes) and print the ratio.")
    var compareDask = false

    @Option(help: "No-op tasks of the Dask run (its rate does not depend on the count; Dask is slow).")
    var daskTasks = 5000

    @Option(help: "Folder for the results database (default: a temporary folder, removed after).")
    var out: String?

    func validate() throws {
        guard tasks >= 1 else { throw ValidationError("--tasks must be at least 1") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard prefetch >= 1 else { throw ValidationError("--prefetch must be at least 1") }
    }

    func run() throws {
        let yaml = """
            name: bench-dispatch
            seed: 1
            model: noop
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
            trials: \(tasks)
            training: {steps: 1}
            test_noise: [0.0]
            """
        let configuration = try SweepConfiguration.parse(yaml: yaml, fileName: "bench-dispatch.yaml")
        let directory = out ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("dlsweep-bench-dispatch-\(getpid())").path
        defer { if out == nil { try? FileManager.default.removeItem(atPath: directory) } }

        let (outcome, cpu) = try LocalBenchSweep(workers: workers, prefetch: prefetch).run(configuration, directory: directory)

        let rate = Double(outcome.recordedNow) / outcome.dispatchSeconds
        let microseconds = cpu / Double(outcome.recordedNow) * 1e6
        let peak = MemoryUsage.peakResidentBytes()
        if json {
            print(#"{"tasks":\#(outcome.recordedNow),"workers":\#(workers),"tasks_per_second":\#(String(format: "%.1f", rate)),"coordinator_us_per_task":\#(String(format: "%.2f", microseconds)),"peak_rss_bytes":\#(peak)}"#)
        } else {
            print(String(format: "dlsweep: %d no-op tasks on %d worker processes (tcp loopback, prefetch %d) in %.2f s: %.0f tasks/s, each result committed to SQLite",
                         outcome.recordedNow, workers, prefetch, outcome.dispatchSeconds, rate))
            print(String(format: "coordinator: %.1f µs of CPU per task (user + system, this process), peak RSS %@",
                         microseconds, MemoryUsage.megabytes(peak)))
        }
        if compareDask {
            let dask = try daskRate()
            if json {
                FileHandle.standardError.write(Data(String(format: "dask: %.0f tasks/s; dlsweep / dask: %.1fx\n", dask, rate / dask).utf8))
            } else {
                print(String(format: "dask (LocalCluster, %d single-threaded worker processes, %d no-op tasks): %.0f tasks/s", workers, daskTasks, dask))
                print(String(format: "dlsweep / dask: %.1fx", rate / dask))
            }
        }
    }

    /// Tasks per second of `scripts/bench_dask_noop.py`.
    private func daskRate() throws -> Double {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/bench_dask_noop.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--tasks", String(daskTasks), "--workers", String(workers)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = output.split(separator: "\n").last(where: { $0.hasPrefix("tasks_per_second ") }),
              let value = Double(line.dropFirst("tasks_per_second ".count))
        else { throw ValidationError("\(script) failed (is Dask installed? bash scripts/setup.sh)") }
        return value
    }
}

/// A sweep run by a coordinator in this process and `workers` real `dlsweep worker`
/// processes over tcp loopback, every result committed to the store; no table at the end.
struct LocalBenchSweep {
    var workers: Int
    var prefetch: Int

    /// The outcome and the CPU seconds this process spent (the coordinator and its I/O threads).
    func run(_ configuration: SweepConfiguration, directory: String) throws -> (SweepOutcome, Double) {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var options = CoordinatorOptions(bind: "tcp://127.0.0.1:*", outDirectory: directory)
        options.progress = .none
        options.workerTimeout = 60
        options.maxPrefetch = max(options.maxPrefetch, prefetch)
        BLAS.stopIdleThreads()  // this process coordinates; its workers train
        let coordinator = try Coordinator(configuration: configuration, options: options, logger: logger)
        let pool = try (0..<workers).map { try spawnWorker(index: $0, endpoint: coordinator.endpoint) }
        let before = CPUTime.process()
        let outcome = try coordinator.run()
        let cpu = CPUTime.process() - before
        for process in pool { process.waitUntilExit() }
        guard outcome.complete else {
            throw ValidationError("the benchmark sweep did not complete: \(outcome.stopReason ?? "stopped")")
        }
        return (outcome, cpu)
    }

    /// A worker process of this same binary.
    private func spawnWorker(index: Int, endpoint: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["worker", "--connect", endpoint, "--threads", "1", "--name", "bench\(index)",
                             "--prefetch", String(prefetch), "--log-level", "warning"]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        try process.run()
        return process
    }
}

/// CPU time of this process, from getrusage.
enum CPUTime {
    /// User plus system seconds of every thread of this process so far.
    static func process() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
    }
}
