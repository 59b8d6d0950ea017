import ArgumentParser
import Coordinator
import Foundation
import Synchronization

/// The lightweight workers of `bench coordinator`, wherever they run.
protocol WorkerDrivers: Sendable {
    /// Stops every driver (processes are killed).
    func stopAll()
    /// Why a driver failed, if one did (the coordinator was asked to stop then).
    var failure: String? { get }
    /// How many workers driver process `index` runs; nil when drivers cannot be killed alone.
    func killDriver(_ index: Int) -> Int?
}

/// Driver threads in this process (up to about 1,000 connections: both ends' descriptors
/// are this process's).
final class InProcessDrivers: WorkerDrivers {
    private let drivers: [LightweightWorkers]
    private let state = DriverState()

    init(endpoint: String, workers: Int, threads: Int, hold: Double, onFailure: @escaping @Sendable (String) -> Void) {
        let state = self.state
        drivers = (0..<threads).map { index in
            LightweightWorkers(
                endpoint: endpoint, count: workers / threads + (index < workers % threads ? 1 : 0), label: "t\(index)",
                hold: hold, onFailure: { reason in
                    state.failed.withLock { $0 = $0 ?? reason }
                    onFailure(reason)
                })
        }
        for driver in drivers { driver.start() }
    }

    func stopAll() { for driver in drivers { driver.stopAndJoin() } }
    var failure: String? { state.failed.withLock { $0 } }
    func killDriver(_ index: Int) -> Int? { nil }
}

/// Driver processes (`dlsweep bench worker-driver`), each running its share of the workers.
final class DriverProcesses: WorkerDrivers {
    private let processes: [Process]
    private let counts: [Int]
    private let logs: [URL]
    private let state = DriverState()

    init(endpoint: String, workers: Int, processes count: Int, threads: Int, hold: Double,
         onFailure: @escaping @Sendable (String) -> Void) throws {
        let executable = try WorkerCommand.executablePath()
        counts = (0..<count).map { workers / count + ($0 < workers % count ? 1 : 0) }
        logs = (0..<count).map {
            FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-bench-driver-\(getpid())-\($0).err")
        }
        var started: [Process] = []
        for index in 0..<count {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["bench", "worker-driver", "--connect", endpoint, "--workers", String(counts[index]),
                                 "--label", "p\(index)", "--threads", String(threads), "--hold", String(hold)]
            _ = FileManager.default.createFile(atPath: logs[index].path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: logs[index])
            process.standardOutput = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            started.append(process)
        }
        processes = started
        for (index, process) in processes.enumerated() {
            let log = logs[index]
            process.terminationHandler = { [state] process in
                guard !state.stopping.load(ordering: .relaxed), !state.killed.withLock({ $0.contains(index) }) else { return }
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                let reason = "driver process \(index) exited with status \(process.terminationStatus): \(text.suffix(500))"
                state.failed.withLock { $0 = $0 ?? reason }
                onFailure(reason)
            }
            try process.run()
        }
    }

    func stopAll() {
        state.stopping.store(true, ordering: .relaxed)
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        for log in logs { try? FileManager.default.removeItem(at: log) }
    }

    var failure: String? { state.failed.withLock { $0 } }

    func killDriver(_ index: Int) -> Int? {
        guard processes.indices.contains(index) else { return nil }
        state.killed.withLock { _ = $0.insert(index) }
        kill(processes[index].processIdentifier, SIGKILL)
        return counts[index]
    }
}

/// Shared with the drivers' failure and termination handlers.
final class DriverState: Sendable {
    let stopping = Atomic<Bool>(false)
    /// Driver processes killed on purpose (`--kill-driver-at`).
    let killed = Mutex<Set<Int>>([])
    let failed = Mutex<String?>(nil)
}

/// `dlsweep bench worker-driver` (hidden): one driver process of `bench coordinator`.
struct BenchWorkerDriverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker-driver", abstract: "Lightweight workers for bench coordinator (started by it).",
        shouldDisplay: false)

    @Option var connect: String
    @Option var workers: Int
    @Option var label: String
    @Option var threads = 1
    @Option var hold: Double = 0

    func run() throws {
        // Each connection takes a TCP descriptor and its socket's mailbox another.
        let limit = ConnectionLimit.raise()
        let needed = 2 * workers + 64
        guard needed <= limit.soft else {
            throw ValidationError("\(workers) workers need about \(needed) descriptors; this process's open-file limit is \(limit.soft) (hard \(limit.hard)): use more --driver-processes")
        }
        let done = DispatchSemaphore(value: 0)
        let drivers = (0..<threads).map { index in
            LightweightWorkers(
                endpoint: connect, count: workers / threads + (index < workers % threads ? 1 : 0), label: "\(label)t\(index)",
                hold: hold, onFailure: { _ in _exit(1) })
        }
        for driver in drivers { driver.start() }
        let signals = onTermination { done.signal() }
        done.wait()
        withExtendedLifetime(signals) {}
        _exit(0)
    }
}

/// Watches a `bench coordinator` run from a thread of its own: when every worker has
/// registered, the coordinator's CPU while they only heartbeat (`--hold`), the throughput with
/// every connection, how long a killed driver's workers take to be noticed and their tasks
/// re-queued (`--kill-driver-at`), and a SIGTERM (`--stop-at`).
final class ScaleProbe: @unchecked Sendable {
    // @unchecked Sendable: the fields below are written by the probe thread before `finished`
    // is signalled and read by `report` after it.
    private let coordinator: Coordinator
    private let workers: Int
    private let heartbeat: Double
    private let workerTimeout: Double
    private let hold: Double
    private let killAt: Double?
    private let stopAt: Double?
    private let drivers: any WorkerDrivers
    private let finished = DispatchSemaphore(value: 0)
    private let over = Atomic<Bool>(false)

    private var lines: [String] = []
    private var runStart: (time: Date, cpu: Double, done: Int)?
    private var runEnd: (time: Date, cpu: Double, done: Int)?

    init(coordinator: Coordinator, workers: Int, heartbeat: Double, workerTimeout: Double, hold: Double, killAt: Double?, stopAt: Double?,
         drivers: any WorkerDrivers) {
        self.coordinator = coordinator
        self.workers = workers
        self.heartbeat = heartbeat
        self.workerTimeout = workerTimeout
        self.hold = hold
        self.killAt = killAt
        self.stopAt = stopAt
        self.drivers = drivers
    }

    func start(at started: Date) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            watch(started: started)
        }
        thread.name = "dlsweep-bench-probe"
        thread.start()
    }

    /// Polls the coordinator's status until `condition` holds; nil when the run ended first.
    private func wait(until condition: (SweepStatus) -> Bool) -> SweepStatus? {
        while !over.load(ordering: .relaxed) {
            if let status = coordinator.status.status, status.state == "running", condition(status) { return status }
            if let status = coordinator.status.status, status.state != "running" { return nil }
            usleep(20_000)
        }
        return nil
    }

    private func watch(started: Date) {
        guard let registered = wait(until: { $0.workers >= workers }) else { return }
        let registeredAt = Date()
        let cpuRegistered = Self.cpuSeconds()
        lines.append(String(format: "all %d workers registered %.1f s after the start", registered.workers,
                            registeredAt.timeIntervalSince(started)))
        var startDone = registered.done
        if hold > 0 {
            let end = started.addingTimeInterval(hold - 0.5)
            let window = end.timeIntervalSince(registeredAt)
            if window >= 2 * heartbeat {
                Thread.sleep(until: end)
                let cpu = Self.cpuSeconds() - cpuRegistered
                let beats = Double(workers) * window / heartbeat
                lines.append(String(format: "heartbeats only (every worker holding its tasks), %.1f s: %.1f%% of a core for %d connections at one heartbeat each way per %.1f s: %.1f µs of coordinator CPU per heartbeat (one received, one sent)",
                                    window, 100 * cpu / window, workers, heartbeat, 1e6 * cpu / beats))
                Thread.sleep(until: started.addingTimeInterval(hold + 0.5))
                startDone = coordinator.status.status?.done ?? startDone
            } else {
                lines.append(String(format: "heartbeats not measured: fewer than two heartbeat intervals between the last registration and the end of --hold (%.1f s): use a longer --hold", window))
            }
        }
        runStart = (Date(), Self.cpuSeconds(), startDone)
        let total = coordinator.plan.taskCount
        if let killAt, let status = wait(until: { Double($0.done) >= killAt * Double(total) }) {
            let lostBefore = status.counters.workersLost
            let requeuedBefore = status.counters.tasksRequeued
            runEnd = (Date(), Self.cpuSeconds(), status.done)
            let killedAt = Date()
            if let count = drivers.killDriver(0) {
                var first: Double?
                let all = wait(until: { now in
                    if first == nil && now.counters.workersLost > lostBefore { first = Date().timeIntervalSince(killedAt) }
                    return now.counters.workersLost >= lostBefore + count
                })
                if let all {
                    lines.append(String(format: "a driver process of %d workers SIGKILLed at %.0f%% done: the first noticed after %.1f s, all %d after %.1f s (worker timeout %.0f s); %d of their tasks re-queued",
                                        count, 100 * Double(status.done) / Double(total), first ?? .nan, count,
                                        Date().timeIntervalSince(killedAt), workerTimeout,
                                        all.counters.tasksRequeued - requeuedBefore))
                } else {
                    lines.append("a driver process of \(count) workers SIGKILLed; the run ended before all were noticed")
                }
            }
        }
        if let stopAt, let status = wait(until: { Double($0.done) >= stopAt * Double(total) }) {
            if runEnd == nil { runEnd = (Date(), Self.cpuSeconds(), status.done) }
            kill(getpid(), SIGTERM)
        }
    }

    /// Prints what was measured (after `run()` returned).
    func report(returned: Date, signalled: Date?, separateProcesses: Bool) {
        over.store(true, ordering: .relaxed)
        finished.wait()
        for line in lines { print(line) }
        if let runStart {
            let end = runEnd ?? (returned, Self.cpuSeconds(), coordinator.status.status?.done ?? runStart.done)
            let tasks = end.done - runStart.done
            let seconds = end.time.timeIntervalSince(runStart.time)
            if tasks <= 0 || seconds <= 0 {
                print("with all \(workers) connections: no tasks recorded between the end of --hold and the kill or stop (raise --kill-driver-at or --stop-at)")
            } else {
                let cpu = end.cpu - runStart.cpu
                print(String(format: "with all %d connections: %d tasks in %.1f s, %.0f tasks/s; %.1f µs of CPU per task%@", workers,
                             tasks, seconds, Double(tasks) / seconds, 1e6 * cpu / Double(tasks),
                             separateProcesses ? " (the coordinator's process alone)" : " (this process: coordinator and workers)"))
            }
        }
        if let signalled {
            print(String(format: "SIGTERM to run() returning, with %d connections: %.0f ms", workers,
                         returned.timeIntervalSince(signalled) * 1000))
        }
    }

    /// User and system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
