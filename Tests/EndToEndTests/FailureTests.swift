import Foundation
import SweepProtocol
import TrainingCore
import Testing
import ZeroMQ

/// Sweeps that finish with every result, exactly once, whatever happens to their processes.
/// Each test compares its final table cell by cell with an undisturbed run.
@Suite(.serialized)
struct FailureTests {
    let liveness = ["--heartbeat", "0.25", "--worker-timeout", "2"]

    private func start(_ directory: URL, bind: String = "tcp://127.0.0.1:*", extra: [String] = [],
                       label: String = "coordinator", workerTimeout: Int = 2) throws -> (DLSweepProcess, String) {
        let liveness = ["--heartbeat", "0.25", "--worker-timeout", String(workerTimeout)]
        let config = directory.appendingPathComponent("sweep.yaml").path
        if !FileManager.default.fileExists(atPath: config) {
            try slowSweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        }
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", bind, "--out", "out", "--progress", "lines"] + liveness + extra,
            in: directory, label: label)
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))
        return (coordinator, endpoint)
    }

    private func worker(_ endpoint: String, in directory: URL, label: String, extra: [String] = []) throws -> DLSweepProcess {
        try DLSweepProcess(["worker", "--connect", endpoint, "--heartbeat", "0.25", "--reconnect-timeout", "60"] + extra,
                           in: directory, label: label)
    }

    private func expectReferenceTable(_ directory: URL, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let reference = try await ReferenceTables.shared.table(for: slowSweepYAML)
        let table = try deterministicTable(directory.appendingPathComponent("out"))
        #expect(table == reference, "final table differs from an undisturbed run", sourceLocation: sourceLocation)
    }

    @Test("a worker killed with SIGKILL mid-task: its closed connection is noticed long before the worker timeout (600 s), and its tasks go to the other worker")
    func workerKilled() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory, workerTimeout: 600)
        let victim = try worker(endpoint, in: directory, label: "victim")
        let survivor = try worker(endpoint, in: directory, label: "survivor")
        let out = directory.appendingPathComponent("out")
        #expect(DLSweepProcess.eventually(seconds: 60) { recordedCount(out) >= 6 })
        victim.signal(SIGKILL)
        #expect(coordinator.wait(seconds: 180) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(survivor.wait(seconds: 20) == 0)
        #expect(coordinator.stderr.contains("dropped: connection closed, silent for more than 0.75 s"),
                "loss detected: \(coordinator.stderr.suffix(2000))")
        try await expectReferenceTable(directory)
    }

    @Test("a worker stopped with SIGSTOP times out; its late results are ignored")
    func workerHung() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let hung = try worker(endpoint, in: directory, label: "hung")
        let healthy = try worker(endpoint, in: directory, label: "healthy")
        let out = directory.appendingPathComponent("out")
        #expect(DLSweepProcess.eventually(seconds: 60) { recordedCount(out) >= 4 })
        hung.signal(SIGSTOP)
        #expect(DLSweepProcess.eventually(seconds: 30) { coordinator.stderr.contains("silent for more than") })
        hung.signal(SIGCONT)
        #expect(coordinator.wait(seconds: 180) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(healthy.wait(seconds: 20) == 0)
        hung.wait(seconds: 30)
        try await expectReferenceTable(directory)
    }

    @Test("the coordinator killed with SIGKILL mid-sweep and restarted carries on; workers re-register")
    func coordinatorKilledAndRestarted() async throws {
        let directory = try makeTemporaryDirectory()
        let port = try freeLoopbackPort()
        let bind = "tcp://127.0.0.1:\(port)"
        let (first, endpoint) = try start(directory, bind: bind, label: "first")
        let workers = try (0..<2).map { try worker(endpoint, in: directory, label: "w\($0)") }
        let out = directory.appendingPathComponent("out")
        #expect(DLSweepProcess.eventually(seconds: 60) { recordedCount(out) >= 8 })
        first.signal(SIGKILL)
        first.wait(seconds: 10)
        let before = recordedCount(out)
        let (second, _) = try start(directory, bind: bind, label: "second")
        #expect(second.wait(seconds: 180) == 0, "\(second.stderr.suffix(3000))")
        #expect(second.stderr.contains("resuming"), "\(second.stderr.suffix(2000))")
        // Both workers registered with the new coordinator: each has results recorded after the restart.
        #expect(sqlite(out, "select count(distinct worker_id) from results where rowid > \(before)") == "2",
                "\(second.stderr.suffix(2000))")
        for w in workers { #expect(w.wait(seconds: 30) == 0, "\(w.stderr.suffix(2000))") }
        #expect(before >= 8 && before < 48)
        // Results finished during the outage are delivered after the worker registered again,
        // with their provenance.
        #expect(sqlite(out, "select count(*) from results where worker_id = 'unregistered' or host = 'unknown'") == "0")
        try await expectReferenceTable(directory)
    }

    @Test("garbage bytes, malformed and oversized frames and a wrong-version peer do not disturb the sweep")
    func garbageAtThePort() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let honest = try worker(endpoint, in: directory, label: "honest")
        let out = directory.appendingPathComponent("out")
        #expect(DLSweepProcess.eventually(seconds: 60) { recordedCount(out) >= 2 })

        // Raw TCP garbage, not even a ZeroMQ greeting.
        let port = Int(endpoint.split(separator: ":").last ?? "") ?? 0
        try sendRawGarbage(port: port)

        let context = try Context()
        let intruder = try Socket(context, type: .dealer)
        try intruder.setLinger(milliseconds: 0)
        try intruder.connect(endpoint)
        var generator = SystemRandomNumberGenerator()
        for size in [0, 1, 5, 6, 64, 4096] {
            try intruder.send([(0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }])
        }
        try intruder.send([Array("DLSW".utf8) + [protocolVersion, 200] + Array("{}".utf8)])  // unknown kind
        try intruder.send([Array("DLSW".utf8) + [protocolVersion, 1] + Array("{not json".utf8)])
        try intruder.send([[1, 2, 3], [4, 5, 6]])  // two frames
        // Results from a peer that never said hello: refused, counted, and the peer asked to register.
        let report = RunReport(
            trainResidual: 0, reconstructionError: 0, offSubspaceError: 0, oracleDistance: 0, targetDistance: 1,
            gradientNorm: 1, oracleNorm: 1, testError: [0], oracleTestError: [0], balancedness: 0, effectiveRank: 1,
            iterations: 1, convergedAt: nil, recoveredAt: nil, stationaryAt: nil, diverged: false, converged: false,
            recovered: false, stationary: false, stepBudget: 1, budgetCapped: false, trainSeconds: 0)
        for taskID in [999_999, 47] {
            try intruder.send([try Message.result(TaskResult(
                sweep: "x", taskID: taskID, attempt: 1, report: report, startedAt: 0, finishedAt: 0)).encoded()])
        }
        // A wrong-version peer is told both version numbers.
        try intruder.send([Array("DLSW".utf8) + [protocolVersion &+ 41, 1] + Array("{}".utf8)])
        // (The results above were answered with `register`: the reject is the answer to look for.)
        var reply: [UInt8]?
        for _ in 0..<100 where reply == nil {
            if let frame = try intruder.receive(timeout: 100)?.first, case .reject? = try? Message.decode(frame) {
                reply = frame
            }
        }
        let frame = try #require(reply, "no answer to a wrong-version hello")
        let text = String(decoding: frame, as: UTF8.self)
        #expect(text.contains("\(protocolVersion &+ 41)") && text.contains("\(protocolVersion)"), "\(text)")

        // An oversized frame: the coordinator drops that connection, not itself.
        let big = try Socket(context, type: .dealer)
        try big.setLinger(milliseconds: 0)
        try big.connect(endpoint)
        try big.send([[UInt8](repeating: 7, count: maxFrameBytes + 1024)])

        #expect(coordinator.wait(seconds: 180) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(honest.wait(seconds: 20) == 0)
        #expect(coordinator.stderr.contains("malformed"), "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("version mismatches 1"), "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("unregistered 2"), "\(coordinator.stderr.suffix(2000))")
        try await expectReferenceTable(directory)
    }

    @Test("a worker stopped with SIGTERM hands its tasks back and exits 0; another worker finishes")
    func workerTerminated() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let leaving = try worker(endpoint, in: directory, label: "leaving")
        let out = directory.appendingPathComponent("out")
        #expect(DLSweepProcess.eventually(seconds: 60) { recordedCount(out) >= 3 })
        leaving.signal(SIGTERM)
        #expect(leaving.wait(seconds: 10) == 0, "\(leaving.stderr.suffix(2000))")
        #expect(leaving.stderr.contains("handed back"), "\(leaving.stderr.suffix(2000))")
        #expect(DLSweepProcess.eventually(seconds: 10) { coordinator.stderr.contains("left (stopped by signal)") },
                "\(coordinator.stderr.suffix(2000))")
        let replacement = try worker(endpoint, in: directory, label: "replacement")
        #expect(coordinator.wait(seconds: 180) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(replacement.wait(seconds: 20) == 0)
        #expect(coordinator.stderr.contains("workers lost 0"), "a clean leave is not a loss")
        try await expectReferenceTable(directory)
    }

    @Test("an --out folder holding another sweep is refused and left untouched")
    func differentSweepRefused() throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, _) = try start(directory, extra: ["--idle-notice", "100"])
        coordinator.signal(SIGTERM)
        coordinator.wait(seconds: 20)
        let other = slowSweepYAML.replacingOccurrences(of: "trials: 6", with: "trials: 5")
        try other.write(to: directory.appendingPathComponent("other.yaml"), atomically: true, encoding: .utf8)
        let refused = try DLSweepProcess(["coordinator", "other.yaml", "--bind", "tcp://127.0.0.1:*", "--out", "out"],
                                         in: directory, label: "refused")
        #expect(refused.wait(seconds: 20) != 0)
        #expect(refused.stderr.contains("holds sweep 'slow'") && refused.stderr.contains("use another --out"),
                "\(refused.stderr)")
        #expect(recordedCount(directory.appendingPathComponent("out")) == 0)
    }

    @Test("CURVE: an unauthorized key and a plain-text worker get no task; an authorized worker finishes")
    func curveAuthentication() async throws {
        let directory = try makeTemporaryDirectory()
        let keys = directory.appendingPathComponent("keys")
        let allowed = directory.appendingPathComponent("allowed")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: allowed, withIntermediateDirectories: true)
        for name in ["coordinator", "good", "bad"] {
            let generate = try DLSweepProcess(["keys", "generate", "keys/\(name)"], in: directory, label: "keys-\(name)")
            #expect(generate.wait(seconds: 20) == 0, "\(generate.stderr)")
        }
        try FileManager.default.copyItem(at: keys.appendingPathComponent("good.pub"),
                                         to: allowed.appendingPathComponent("good.pub"))
        let secret = try FileManager.default.attributesOfItem(atPath: keys.appendingPathComponent("good.key").path)
        #expect((secret[.posixPermissions] as? Int) == 0o600)

        let (coordinator, endpoint) = try start(
            directory, extra: ["--curve-key", "keys/coordinator.key", "--authorized-keys", "allowed"])
        let intruder = try worker(endpoint, in: directory, label: "intruder",
                                  extra: ["--curve-key", "keys/bad.key", "--server-key", "keys/coordinator.pub",
                                          "--name", "intruder", "--reconnect-timeout", "6"])
        let plain = try worker(endpoint, in: directory, label: "plain",
                               extra: ["--name", "plaintext", "--reconnect-timeout", "6"])
        let intruderStatus = intruder.wait(seconds: 40)
        let plainStatus = plain.wait(seconds: 40)
        #expect(intruderStatus != nil && intruderStatus != 0)
        #expect(plainStatus != nil && plainStatus != 0)
        #expect(recordedCount(directory.appendingPathComponent("out")) == 0)

        let good = try worker(endpoint, in: directory, label: "good",
                              extra: ["--curve-key", "keys/good.key", "--server-key", "keys/coordinator.pub", "--name", "good"])
        #expect(coordinator.wait(seconds: 180) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(good.wait(seconds: 20) == 0)
        #expect(!coordinator.stderr.contains("intruder") || coordinator.stderr.contains("not authorized"))
        #expect(!coordinator.stderr.contains("joined from") || !coordinator.stderr.contains("plaintext-"))
        try await expectReferenceTable(directory)
    }

    private func sendRawGarbage(port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        let garbage = [UInt8]("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + (0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        usleep(100_000)
    }

    @Test("item 8: a coordinator that stood still (SIGSTOP, like a long SQLite lock) drops nobody for its own silence")
    func coordinatorStoodStill() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let workers = try (0..<2).map { try worker(endpoint, in: directory, label: "w\($0)") }
        let out = directory.appendingPathComponent("out")
        #expect(DLSweepProcess.eventually(seconds: 60) { recordedCount(out) >= 4 })
        coordinator.signal(SIGSTOP)
        usleep(5_000_000)  // longer than --worker-timeout 2
        coordinator.signal(SIGCONT)
        #expect(coordinator.wait(seconds: 180) == 0, "\(coordinator.stderr.suffix(3000))")
        for w in workers { #expect(w.wait(seconds: 30) == 0) }
        #expect(coordinator.stderr.contains("workers lost 0"), "\(coordinator.stderr.suffix(2000))")
        #expect(sqlite(out, "select count(*) from results where worker_id = 'unregistered' or host = 'unknown'") == "0")
        try await expectReferenceTable(directory)
    }

    @Test("item 4: dlsweep run restarts local workers that die, then exits non-zero with the reason")
    func localWorkersKeepDying() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try slowSweepYAML.replacingOccurrences(of: "steps: 20000", with: "steps: 2000000")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let run = try DLSweepProcess(["run", config, "--workers", "1", "--out", "out", "--progress", "none"] + liveness,
                                     in: directory, label: "run")
        // Every local worker dies soon after it starts, as one would on a task it cannot survive.
        let deadline = Date().addingTimeInterval(90)
        while run.isRunning && Date() < deadline {
            for child in childProcesses(of: run.pid) { kill(child, SIGKILL) }
            usleep(300_000)
        }
        #expect(run.wait(seconds: 30) != 0)
        #expect(run.stderr.contains("restarted"), "\(run.stderr.suffix(2000))")
        #expect(run.stderr.contains("restart budget is spent"), "\(run.stderr.suffix(2000))")
    }

    @Test("item 4: a result whose trajectory is too large for a frame arrives with the trajectory thinned to fit")
    func resultTooLarge() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try """
            name: huge-trajectory
            problem: {signal_dim: 8, measurements: 4, latent_dim: 2, samples: 5, test_samples: 5}
            grid: {depth: [2], width: [4]}
            training: {steps: 50000, log_every: 1}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let (coordinator, endpoint) = try start(directory, extra: ["--max-attempts", "1"])
        let w = try worker(endpoint, in: directory, label: "w")
        #expect(coordinator.wait(seconds: 120) == 0, "\(coordinator.stderr.suffix(2000))")
        #expect(w.wait(seconds: 20) == 0)
        let out = directory.appendingPathComponent("out")
        #expect(sqlite(out, "select status from results") == "ok")
        // 50,001 points every step do not fit 4 MiB; halved until they do, first and last kept.
        let text = sqlite(out, "select points from trajectories")
        let columns = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let steps = try #require(columns["step"] as? [Int])
        #expect(steps.count < 50_001 && steps.count > 50_001 / 16, "\(steps.count)")
        #expect(steps.first == 0 && steps.last == 50_000 && zip(steps, steps.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test("item 0: workers of a killed coordinator deliver nothing of its sweep to the next one on the same port")
    func anotherSweepOnTheSamePort() async throws {
        let directory = try makeTemporaryDirectory()
        let port = try freeLoopbackPort()
        let bind = "tcp://127.0.0.1:\(port)"
        let (first, endpoint) = try start(directory, bind: bind, label: "first")
        let workers = try (0..<2).map { try worker(endpoint, in: directory, label: "w\($0)") }
        #expect(DLSweepProcess.eventually(seconds: 60) { recordedCount(directory.appendingPathComponent("out")) >= 6 })
        first.signal(SIGKILL)
        first.wait(seconds: 10)
        // Same grid, another seed: another sweep, in its own folder, on the same address.
        let other = slowSweepYAML.replacingOccurrences(of: "seed: 11", with: "seed: 12")
        try other.write(to: directory.appendingPathComponent("other.yaml"), atomically: true, encoding: .utf8)
        let second = try DLSweepProcess(
            ["coordinator", "other.yaml", "--bind", bind, "--out", "other", "--progress", "lines"] + liveness,
            in: directory, label: "second")
        #expect(second.wait(seconds: 180) == 0, "\(second.stderr.suffix(3000))")
        for w in workers { #expect(w.wait(seconds: 30) == 0, "\(w.stderr.suffix(2000))") }
        let reference = try await ReferenceTables.shared.table(for: other)
        #expect(try deterministicTable(directory.appendingPathComponent("other")) == reference,
                "the second sweep's table holds results of the first")
    }
}

/// The pids of a process's children (the PPid field of /proc/*/status; a children file lists
/// only those of one thread).
func childProcesses(of pid: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { candidate in
        guard let status = try? String(contentsOfFile: "/proc/\(candidate)/status", encoding: .utf8) else { return false }
        return status.split(separator: "\n").contains { $0.hasPrefix("PPid:") && $0.dropFirst(5).trimmingCharacters(in: .whitespaces) == "\(pid)" }
    }
}
