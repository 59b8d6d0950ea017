import ArgumentParser
import Coordinator
import Foundation
import LinearAlgebra
import Logging
import Synchronization
import SweepConfig
import SweepProtocol
import TrainingCore
import ZeroMQ

/// `dlsweep bench coordinator`: how many tasks per second one coordinator dispatches and
/// records, and its memory, with many lightweight workers that answer each task at once with a
/// canned result (no training), over real tcp loopback sockets. Up to 1,000 connections they
/// run on threads of this process; beyond, in driver processes of their own (each connection
/// takes descriptors on both ends, and a ZeroMQ context holds 1,023 sockets by default), so
/// the CPU and memory figures are the coordinator's alone (`BenchScale.swift`).
struct BenchCoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Coordinator throughput and memory with many lightweight workers.")

    @Option(help: "Worker connections (DEALER sockets).")
    var workers = 300

    @Option(help: "Tasks in the synthetic grid (rounded to a multiple of 1000 cells).")
    var tasks = 1_000_000

    @Option(help: "Threads that drive the lightweight workers (per driver process).")
    var threads = 2

    @Option(help: "Processes that drive the lightweight workers (default: none up to 1000 workers, else one per 2500).")
    var driverProcesses: Int?

    @Option(help: "Seconds between heartbeats.")
    var heartbeat: Double = 2

    @Option(help: "Seconds of silence after which the coordinator drops a worker.")
    var workerTimeout: Double = 60

    @Option(help: "Seconds the workers hold their first tasks before answering: the coordinator's heartbeat cost is measured meanwhile.")
    var hold: Double = 0

    @Option(help: "SIGKILL one driver process when this fraction of the tasks is done, and time how long the coordinator takes to notice.")
    var killDriverAt: Double?

    @Option(help: "Send the coordinator SIGTERM when this fraction of the tasks is done, and time the stop.")
    var stopAt: Double?

    @Option(help: "Folder for the benchmark's results database (default: a temporary folder, removed after).")
    var out: String?

    @Flag(help: "Start the coordinator on the grid without workers: report its memory and how long a SIGTERM takes to stop it.")
    var dryRun = false

    func run() throws {
        let cells = 1000
        let trials = max(1, tasks / cells)
        let yaml = """
            name: bench-coordinator
            seed: 1
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
            grid:
              depth: [1, 2, 3, 4, 5]
              width: [\((1...10).map { String($0 * 8) }.joined(separator: ", "))]
              lambda: [\((0..<10).map { String(Double($0) * 0.001) }.joined(separator: ", "))]
              noise: [0.0, 0.1]
            trials: \(trials)
            training: {steps: 100}
            test_noise: [0.0]
            """
        let configuration = try SweepConfiguration.parse(yaml: yaml, fileName: "bench-coordinator.yaml")
        let directory = out ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("dlsweep-bench-\(getpid())").path
        defer { if out == nil { try? FileManager.default.removeItem(atPath: directory) } }

        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let rssBefore = MemoryUsage.residentBytes()
        var options = CoordinatorOptions(bind: "tcp://127.0.0.1:*", outDirectory: directory)
        options.progress = .none
        options.heartbeatInterval = heartbeat
        options.workerTimeout = workerTimeout
        BLAS.stopIdleThreads()  // this process coordinates; its workers train
        let coordinator = try Coordinator(configuration: configuration, options: options, logger: logger)
        let rssPlanned = MemoryUsage.residentBytes()
        if dryRun {
            try measureIdle(coordinator, rssBefore: rssBefore)
            return
        }
        let processes = driverProcesses ?? (workers > 1000 ? (workers + 2499) / 2500 : 0)
        print("grid: \(coordinator.plan.cells.count) cells × \(trials) trials = \(coordinator.plan.taskCount) tasks; \(workers) worker connections on \(threads) threads" + (processes > 0 ? " in each of \(processes) driver processes" : ""))

        let endpoint = coordinator.endpoint
        let stop = coordinator.stop
        let signalled = Mutex<Date?>(nil)
        let signals = onTermination {
            signalled.withLock { $0 = $0 ?? Date() }
            stop.request()
        }
        let drivers: any WorkerDrivers = processes > 0
            ? try DriverProcesses(endpoint: endpoint, workers: workers, processes: processes, threads: threads, hold: hold,
                                  onFailure: { _ in stop.request() })
            : InProcessDrivers(endpoint: endpoint, workers: workers, threads: threads, hold: hold,
                               onFailure: { _ in stop.request() })
        let probe = ScaleProbe(coordinator: coordinator, workers: workers, heartbeat: heartbeat, workerTimeout: workerTimeout, hold: hold,
                               killAt: processes > 1 ? killDriverAt : nil, stopAt: stopAt, drivers: drivers)
        let started = Date()
        probe.start(at: started)
        let outcome = try coordinator.run()
        let returned = Date()
        withExtendedLifetime(signals) {}
        // The table as `dlsweep coordinator` writes it, timed as before it moved out of `run()`.
        if outcome.complete { _ = try writeSweepTables(coordinator, configuration: configuration, outDirectory: directory) }
        let seconds = Date().timeIntervalSince(started)
        drivers.stopAll()
        let peak = MemoryUsage.peakResidentBytes()
        if let failure = drivers.failure {
            throw ValidationError("the lightweight workers failed, so the figures would mean nothing: \(failure)")
        }

        let rate = Double(outcome.recordedNow) / seconds
        print(String(format: "recorded %d results in %.1f s: %.0f tasks/s (each committed to SQLite before it counts)", outcome.recordedNow, seconds, rate))
        print("complete: \(outcome.complete ? "yes" : "no"); tasks per host: " + outcome.hosts.map { "\($0.host) \($0.tasks)" }.joined(separator: ", "))
        print("memory (RSS): \(MemoryUsage.megabytes(rssBefore)) before, \(MemoryUsage.megabytes(rssPlanned)) with the plan and store open, peak \(MemoryUsage.megabytes(peak)) " + (processes > 0 ? "(the coordinator's process alone)" : "(the whole process, lightweight workers included)"))
        print(String(format: "per task: %.1f µs of coordinator time, %.0f bytes of peak memory", 1e6 / rate, Double(peak) / Double(coordinator.plan.taskCount)))
        probe.report(returned: returned, signalled: signalled.withLock { $0 }, separateProcesses: processes > 0)
    }
}

extension BenchCoordinatorCommand {
    /// Runs the coordinator with no workers for a moment, then sends this process SIGTERM
    /// (through the same handler `dlsweep coordinator` installs) and times the stop.
    private func measureIdle(_ coordinator: Coordinator, rssBefore: Int) throws {
        print("grid: \(coordinator.plan.cells.count) cells × \(coordinator.plan.trials) trials = \(coordinator.plan.taskCount) tasks; no workers (dry run)")
        let stop = coordinator.stop
        let signalled = Mutex<Date?>(nil)
        let signals = onTermination {
            signalled.withLock { $0 = $0 ?? Date() }
            stop.request()
        }
        let idle = Mutex<Int>(0)
        let sampler = Thread {
            // Long enough for the done bitmap to be loaded and the loop to idle.
            Thread.sleep(forTimeInterval: 2)
            idle.withLock { $0 = MemoryUsage.residentBytes() }
            kill(getpid(), SIGTERM)
        }
        sampler.start()
        let outcome = try coordinator.run()
        let returned = Date()
        withExtendedLifetime(signals) {}
        let latency = signalled.withLock { $0 }.map { returned.timeIntervalSince($0) } ?? .nan
        print("memory (RSS): \(MemoryUsage.megabytes(rssBefore)) before, \(MemoryUsage.megabytes(idle.withLock { $0 })) while serving the grid, peak \(MemoryUsage.megabytes(MemoryUsage.peakResidentBytes())) (the whole process)")
        print(String(format: "SIGTERM to run() returning: %.0f ms (complete: %@)", latency * 1000, outcome.complete ? "yes" : "no"))
    }
}

/// Many DEALER sockets driven by one thread, each answering a task at once with a canned result.
final class LightweightWorkers: @unchecked Sendable {
    // @unchecked Sendable: `thread` is set before start and only joined after; the sockets
    // live on the driver thread alone.
    private let endpoint: String
    private let count: Int
    private let label: String
    /// Seconds from the start during which tasks are held, not answered.
    private let hold: Double
    private let onFailure: @Sendable (String) -> Void
    private let stop = StopSignal()
    private let done = DispatchSemaphore(value: 0)

    init(endpoint: String, count: Int, label: String, hold: Double = 0,
         onFailure: @escaping @Sendable (String) -> Void) {
        self.endpoint = endpoint
        self.count = count
        self.label = label
        self.hold = hold
        self.onFailure = onFailure
    }

    func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            do {
                try drive()
            } catch {
                FileHandle.standardError.write(Data("bench driver \(label): \(error)\n".utf8))
                onFailure("driver \(label) (\(count) workers): \(error)")
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func stopAndJoin() {
        stop.request()
        done.wait()
    }

    private func drive() throws {
        let context = try Context()
        // Past the default 1,023 sockets per context; the open-file limit still applies.
        try context.setMaxSockets(Int32(count + 16))
        let holdUntil = Date().timeIntervalSince1970 + hold
        func hello(_ index: Int) throws -> [UInt8] {
            try Message.hello(Hello(
                protocolVersion: Int(protocolVersion), workerID: "bench-\(label)-\(index)", host: "bench-host-\(index % 8)",
                pid: Int(getpid()), cores: 1, blasThreads: 1, capabilities: ["gd"], prefetch: 2)).encoded()
        }
        let sockets = try (0..<count).map { index -> Socket in
            let socket = try Socket(context, type: .dealer)
            try socket.setLinger(milliseconds: 0)
            try socket.connect(endpoint)
            try socket.send([try hello(index)])
            return socket
        }
        // A consistent report of the bench config's tasks (fixed budget of 100 steps).
        let report = RunReport(
            trainResidual: 0, reconstructionError: 0, offSubspaceError: 0, oracleDistance: 0, targetDistance: 0,
            gradientNorm: 0, oracleNorm: 1, testError: [0], oracleTestError: [0], balancedness: 0, effectiveRank: 2,
            iterations: 1, convergedAt: 1, recoveredAt: 1, stationaryAt: nil, diverged: false, converged: true,
            recovered: true, stationary: false, stepBudget: 100, budgetCapped: false, trainSeconds: 0)
        // Each peer's session token, from its welcome.
        var sessions = Array(repeating: "", count: sockets.count)
        var held: [(index: Int, task: TaskAssignment)] = []
        func answer(_ task: TaskAssignment, on index: Int) throws {
            let now = Date().timeIntervalSince1970
            try sockets[index].send([try Message.result(TaskResult(
                sweep: task.sweep, taskID: task.taskID, attempt: task.attempt, report: report,
                startedAt: now, finishedAt: now, session: sessions[index])).encoded()])
        }
        while !stop.isRequested {
            if !held.isEmpty && Date().timeIntervalSince1970 >= holdUntil {
                for (index, task) in held { try answer(task, on: index) }
                held = []
            }
            let readable = try poll(sockets, timeout: 100)
            for (index, (socket, ready)) in zip(sockets, readable).enumerated() where ready {
                while let frames = try socket.receive(timeout: 0) {
                    guard let frame = frames.first, let messages = try? Message.decodeAll(frame) else { continue }
                    for message in messages {
                        switch message {
                        case .welcome(let welcome):
                            sessions[index] = welcome.session
                        case .task(let task):
                            if Date().timeIntervalSince1970 < holdUntil {
                                held.append((index, task))
                            } else {
                                try answer(task, on: index)
                            }
                        case .heartbeat:
                            try socket.send([try Message.heartbeat(Heartbeat(
                                sentAt: Date().timeIntervalSince1970, session: sessions[index])).encoded()])
                        case .register:
                            // Dropped (a driver starved of CPU fell silent): back in, as a worker does.
                            try socket.send([try hello(index)])
                        default:
                            break
                        }
                    }
                }
            }
        }
    }
}

/// Resident memory of this process, from /proc/self/status.
enum MemoryUsage {
    static func residentBytes() -> Int { field("VmRSS:") }
    static func peakResidentBytes() -> Int { field("VmHWM:") }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    private static func field(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let kilobytes = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            return kilobytes * 1024
        }
        return 0
    }
}
