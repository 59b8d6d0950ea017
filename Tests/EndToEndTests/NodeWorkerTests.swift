import Foundation
import Testing

/// Node workers (`dlsweep worker --processes N`) over real processes: one connection feeding
/// compute processes, which may die without costing more than their own task.
@Suite(.serialized)
struct NodeWorkerTests {
    private func start(_ directory: URL) throws -> (DLSweepProcess, String) {
        let config = directory.appendingPathComponent("sweep.yaml").path
        try slowSweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "out", "--progress", "lines",
             "--heartbeat", "0.25", "--worker-timeout", "2"],
            in: directory, label: "coordinator")
        return (coordinator, try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out")))
    }

    private func worker(_ endpoint: String, in directory: URL, label: String, extra: [String] = []) throws -> DLSweepProcess {
        try DLSweepProcess(["worker", "--connect", endpoint, "--heartbeat", "0.25", "--reconnect-timeout", "60"] + extra,
                           in: directory, label: label)
    }

    @Test("a node worker beside a per-core worker; a compute process SIGKILLed mid-task costs only a re-run")
    func computeProcessKilled() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let node = try worker(endpoint, in: directory, label: "node", extra: ["--processes", "2", "--name", "node"])
        let single = try worker(endpoint, in: directory, label: "single", extra: ["--name", "single"])
        let out = directory.appendingPathComponent("out")
        #expect(DLSweepProcess.eventually(seconds: 120) { recordedCount(out) >= 4 })
        #expect(node.stderr.contains("node worker: 2 compute processes"), "\(node.stderr)")
        #expect(DLSweepProcess.eventually(seconds: 20) { childProcesses(of: node.pid).count == 2 },
                "compute processes: \(childProcesses(of: node.pid))")

        // Its processes are busy all the time (the node holds 4 tasks for 2); a kill that lands
        // between two tasks is said as such, and then the next one is tried.
        var killedMidTask = false
        for _ in 0..<5 where !killedMidTask {
            let before = node.stderr.components(separatedBy: "compute process ").count
            guard let victim = childProcesses(of: node.pid).first else { break }
            kill(victim, SIGKILL)
            #expect(DLSweepProcess.eventually(seconds: 20) {
                node.stderr.components(separatedBy: "compute process ").count > before
            }, "\(node.stderr.suffix(2000))")
            killedMidTask = node.stderr.contains("compute process \(victim) killed by signal 9 (SIGKILL, as the out-of-memory killer sends) while running task")
        }
        #expect(killedMidTask, "\(node.stderr.suffix(3000))")
        #expect(node.stderr.contains("the task runs again on a new process (not counted as a failure)"))

        #expect(coordinator.wait(seconds: 300) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(node.wait(seconds: 20) == 0, "\(node.stderr.suffix(2000))")
        #expect(single.wait(seconds: 20) == 0, "\(single.stderr.suffix(2000))")
        // Nothing counted: no failure, no lost worker, nothing re-queued by the coordinator.
        #expect(coordinator.stderr.contains("workers lost 0, tasks re-queued 0, failed 0"), "\(coordinator.stderr.suffix(2000))")
        // Both kinds of worker ran tasks of the sweep, each as one registered worker.
        let workers = sqlite(out, "select group_concat(w, ',') from (select distinct substr(worker_id, 1, instr(worker_id, '-') - 1) as w from results order by w)")
        #expect(workers == "node,single", "\(workers)")
        #expect(coordinator.stderr.components(separatedBy: " joined from ").count == 3, "\(coordinator.stderr.suffix(3000))")
        #expect(childProcesses(of: node.pid).isEmpty)
        let reference = try await ReferenceTables.shared.table(for: slowSweepYAML)
        #expect(try deterministicTable(out) == reference, "final table differs from an undisturbed run")
    }

    @Test("a node whose compute processes keep dying says why, hands its tasks back and stops; nothing is lost")
    func crashLoop() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let node = try worker(endpoint, in: directory, label: "node", extra: ["--processes", "2", "--name", "node"])
        let out = directory.appendingPathComponent("out")
        #expect(DLSweepProcess.eventually(seconds: 120) { recordedCount(out) >= 2 })

        // Every compute process is killed as soon as it appears, until the node gives up.
        let killer = Thread {
            while kill(node.pid, 0) == 0 {
                for child in childProcesses(of: node.pid) { kill(child, SIGKILL) }
                usleep(5_000)
            }
        }
        killer.start()
        #expect(node.wait(seconds: 60) == 5, "\(node.stderr.suffix(3000))")
        #expect(node.stderr.contains("compute processes keep dying: 3 compute processes died in a row without a task finishing"),
                "\(node.stderr.suffix(3000))")
        #expect(node.stderr.contains("stopped taking tasks and handed back"), "\(node.stderr.suffix(3000))")
        #expect(DLSweepProcess.eventually(seconds: 10) { coordinator.stderr.contains("left (compute processes keep dying") },
                "\(coordinator.stderr.suffix(3000))")

        let replacement = try worker(endpoint, in: directory, label: "replacement")
        #expect(coordinator.wait(seconds: 300) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(replacement.wait(seconds: 20) == 0)
        #expect(coordinator.stderr.contains("failed 0"), "\(coordinator.stderr.suffix(2000))")
        let reference = try await ReferenceTables.shared.table(for: slowSweepYAML)
        #expect(try deterministicTable(out) == reference, "final table differs from an undisturbed run")
    }

    @Test("--processes is checked")
    func badProcessCount() throws {
        let directory = try makeTemporaryDirectory()
        for bad in ["0", "-2", "many", "1.5"] {
            let worker = try DLSweepProcess(["worker", "--connect", "tcp://127.0.0.1:1", "--processes", bad],
                                            in: directory, label: "bad")
            #expect(worker.wait(seconds: 20) != 0)
            #expect(worker.stderr.contains("--processes"), "\(worker.stderr)")
        }
    }
}
