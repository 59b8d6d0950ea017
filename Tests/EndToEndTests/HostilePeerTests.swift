import Foundation
import SweepProtocol
import Testing
import TrainingCore
import ZeroMQ

/// Peers that lie, stall, impersonate or babble, against a real coordinator process (one
/// test per item of issue 10). Each sweep ends with every task recorded exactly once and, where
/// nothing legitimately failed, the table of an undisturbed run.
@Suite(.serialized)
struct HostilePeerTests {
    let liveness = ["--heartbeat", "0.25", "--worker-timeout", "2"]

    private func start(_ directory: URL, extra: [String] = []) throws -> (DLSweepProcess, String) {
        let config = directory.appendingPathComponent("sweep.yaml").path
        try tinySweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "out", "--progress", "lines"] + liveness + extra,
            in: directory, label: "coordinator")
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))
        return (coordinator, endpoint)
    }

    private func honestWorker(_ endpoint: String, in directory: URL, label: String = "honest") throws -> DLSweepProcess {
        try DLSweepProcess(["worker", "--connect", endpoint, "--heartbeat", "0.25", "--reconnect-timeout", "60"],
                           in: directory, label: label)
    }

    /// Lets the honest worker finish and checks the end state.
    private func finish(_ coordinator: DLSweepProcess, _ worker: DLSweepProcess, _ directory: URL,
                        compareTable: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(coordinator.wait(seconds: 120) == 0, "\(coordinator.stderr.suffix(3000))", sourceLocation: sourceLocation)
        #expect(worker.wait(seconds: 20) == 0, "\(worker.stderr.suffix(2000))", sourceLocation: sourceLocation)
        let out = directory.appendingPathComponent("out")
        #expect(recordedCount(out) == 16, sourceLocation: sourceLocation)
        #expect(sqlite(out, "select count(*) from results where worker_id = 'unregistered' or host = 'unknown'") == "0",
                sourceLocation: sourceLocation)
        if compareTable {
            let reference = try await ReferenceTables.shared.table(for: tinySweepYAML)
            #expect(try deterministicTable(out) == reference, "table differs from an undisturbed run",
                    sourceLocation: sourceLocation)
        }
    }

    /// A plausible report of a tiny-sweep task (fixed budget of 300 steps); `converged` claims
    /// convergence with the metrics to match.
    static func report(testLevels: Int = 2, converged: Bool = false) -> RunReport {
        RunReport(
            trainResidual: 0.5, reconstructionError: 0.5, offSubspaceError: 0.5, oracleDistance: 0.5,
            targetDistance: converged ? 1e-4 : 0.5, gradientNorm: 0.01, oracleNorm: 1,
            testError: Array(repeating: 0.5, count: testLevels), oracleTestError: Array(repeating: 0.5, count: testLevels),
            balancedness: 0.5, effectiveRank: 2, iterations: 300, convergedAt: converged ? 300 : nil, recoveredAt: nil,
            stationaryAt: nil, diverged: false, converged: converged, recovered: false, stationary: false,
            stepBudget: 300, budgetCapped: false, trainSeconds: 0.01)
    }

    static var now: Double { Date().timeIntervalSince1970 }

    /// Keeps `peer` live (heartbeats, anything it is sent ignored) while the coordinator runs,
    /// for at most a minute: a peer that holds tasks without ever answering them.
    private func heartbeat(_ peer: ScriptedPeer, while coordinator: DLSweepProcess) throws {
        let deadline = Date().addingTimeInterval(60)
        while coordinator.isRunning && Date() < deadline {
            try peer.send(.heartbeat(Heartbeat(sentAt: Self.now)))
            try peer.receive(seconds: 0.2) { _ in false }
        }
    }

    @Test("item 0: a result carrying another sweep's fingerprint is refused, counted and acknowledged")
    func anotherSweep() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let peer = try ScriptedPeer(endpoint)
        let welcome = try #require(try peer.register("stranger-1"))
        #expect(welcome.fingerprint.count == 16)
        let task = try #require(try peer.nextTask())
        #expect(task.sweep == welcome.fingerprint)
        try peer.send(.result(TaskResult(sweep: "feedfacefeedface", taskID: task.taskID, attempt: task.attempt,
                                         report: Self.report(), startedAt: Self.now, finishedAt: Self.now)))
        let ack = try peer.receive(seconds: 10) { if case .ack(let a) = $0 { a.taskIDs == [task.taskID] } else { false } }
        #expect(ack != nil, "the refused result was not acknowledged")
        try peer.send(.bye(Bye(reason: "done", taskIDs: [])))
        // Its only worker gone, the coordinator says so.
        #expect(DLSweepProcess.eventually(seconds: 20) { coordinator.stderr.contains("all workers are gone") },
                "\(coordinator.stderr.suffix(2000))")
        let worker = try honestWorker(endpoint, in: directory)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("another sweep"))
        #expect(coordinator.stderr.contains("other sweep 1"), "\(coordinator.stderr.suffix(2000))")
    }

    @Test("issue 13: a trajectory with a non-finite or unscheduled point, or one the task did not ask for, is refused")
    func hostileTrajectories() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory, extra: ["--max-attempts", "10", "--quarantine-after", "100"])
        let peer = try ScriptedPeer(endpoint)
        _ = try #require(try peer.register("trajectory-1", prefetch: 1))
        func point(_ step: Int, loss: Double = 1) -> TrajectoryPoint {
            TrajectoryPoint(step: step, loss: loss, trainResidual: 0.5, reconstructionError: 0.5, offSubspaceError: 0.5,
                                targetDistance: 0.5, gradientNorm: 0.01, balancedness: 0.5, lossGap: 0.1)
        }
        // Task 0 is trial 0 of its cell: it asks for a log-spaced trajectory (and gets the same task
        // back after each refusal); task 1 onward do not.
        let hostile: [[TrajectoryPoint]] = [
            [point(0), point(1, loss: .nan)],                     // not finite
            [point(0), point(1, loss: -1)],                       // out of range
            [point(0), point(9)],                                 // 9 is not a scheduled step
            [point(0), point(1), point(1)],                       // repeated
            [point(0), point(301)],                               // beyond the run
            Array(repeating: point(0), count: 10_000),          // far more points than the schedule has
        ]
        for trajectory in hostile {
            let task = try #require(try peer.nextTask())
            #expect(task.taskID == 0 && task.spec.training.logDensity == 4, "\(task.taskID)")
            var report = Self.report()
            report.trajectory = trajectory
            try peer.send(.result(TaskResult(sweep: task.sweep, taskID: task.taskID, attempt: task.attempt,
                                             report: report, startedAt: Self.now, finishedAt: Self.now)))
        }
        // Not asked for: a task of trial 1.
        let task = try #require(try peer.nextTask())
        #expect(task.taskID == 0 && task.spec.training.logDensity == 4)
        try peer.send(.bye(Bye(reason: "switching", taskIDs: [task.taskID])))
        let second = try ScriptedPeer(endpoint)
        _ = try #require(try second.register("trajectory-2", prefetch: 2))
        let first = try #require(try second.nextTask()), other = try #require(try second.nextTask())
        let unsampled = first.spec.training.logDensity == nil ? first : other
        #expect(unsampled.spec.training.logDensity == nil && unsampled.taskID % 8 != 0)
        var report = Self.report()
        report.trajectory = [point(0), point(300)]
        try second.send(.result(TaskResult(sweep: unsampled.sweep, taskID: unsampled.taskID, attempt: unsampled.attempt,
                                           report: report, startedAt: Self.now, finishedAt: Self.now)))
        try second.receive(seconds: 5) { if case .ack(let a) = $0 { a.taskIDs == [unsampled.taskID] } else { false } }
        try second.send(.bye(Bye(reason: "done", taskIDs: [first.taskID, other.taskID].filter { $0 != unsampled.taskID })))
        let worker = try honestWorker(endpoint, in: directory)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("invalid 7"), "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("a trajectory the task did not ask for"))
        let out = directory.appendingPathComponent("out")
        // Only the honest worker's trajectories are kept: trial 0 of each cell.
        #expect(sqlite(out, "select group_concat(task_id) from (select task_id from trajectories order by task_id)") == "0,8")
    }

    @Test("item 1: start/finish times that are NaN, infinite, 1e300 or negative are refused; the store stays readable")
    func badTimes() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory, extra: ["--max-attempts", "10", "--quarantine-after", "100"])
        let peer = try ScriptedPeer(endpoint)
        _ = try #require(try peer.register("clock-1", prefetch: 1))
        for bad in [Double.nan, .infinity, -.infinity, 1e300, -1e12] {
            let task = try #require(try peer.nextTask())
            try peer.send(.result(TaskResult(sweep: task.sweep, taskID: task.taskID, attempt: task.attempt,
                                             report: Self.report(), startedAt: bad, finishedAt: Self.now)))
        }
        try peer.receive(seconds: 5) { _ in false }
        try peer.send(.bye(Bye(reason: "done", taskIDs: [])))
        let worker = try honestWorker(endpoint, in: directory)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("invalid 5"), "\(coordinator.stderr.suffix(2000))")
        let table = try DLSweepProcess(["table", "out"], in: directory, label: "table")
        #expect(table.wait(seconds: 60) == 0, "\(table.stderr)")
    }

    @Test("item 2: an undecodable result frame from a registered worker costs it its tasks, and the sweep ends")
    func undecodableResult() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let peer = try ScriptedPeer(endpoint)
        _ = try #require(try peer.register("garbled-1", prefetch: 4))
        _ = try #require(try peer.nextTask())
        // Heartbeats keep it live; only the bad frame can free its tasks.
        try peer.sendRaw(Array("DLSW".utf8) + [protocolVersion, 5] + Array("{\"taskID\": 0, \"report\": ".utf8))
        let worker = try honestWorker(endpoint, in: directory)
        try heartbeat(peer, while: coordinator)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("it sent a malformed frame"), "\(coordinator.stderr.suffix(2000))")
    }

    @Test("issue 20 item 1: a peer answering every task with a wrong-shape result is quarantined; no task fails and the table is an undisturbed run's")
    func poisoningPeer() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory, extra: ["--max-attempts", "3"])
        let peer = try ScriptedPeer(endpoint)
        _ = try #require(try peer.register("poison-1", prefetch: 1))
        var sent: [Int: Int] = [:]
        var reject: Reject?
        while reject == nil, sent.values.reduce(0, +) < 10, let task = try peer.nextTask(seconds: 5) {
            sent[task.taskID, default: 0] += 1
            try peer.send(.result(TaskResult(sweep: task.sweep, taskID: task.taskID, attempt: task.attempt,
                                             report: Self.report(testLevels: 1), startedAt: Self.now, finishedAt: Self.now)))
            if case .reject(let r)? = try peer.receive(seconds: 0.3, until: { if case .reject = $0 { true } else { false } }) {
                reject = r
            }
        }
        if reject == nil, case .reject(let r)? = peer.received.last(where: { if case .reject = $0 { true } else { false } }) {
            reject = r
        }
        #expect(reject?.reason.hasPrefix("quarantined: 3 invalid results in a row") == true, "\(peer.received.suffix(3))")
        // Alone, it got attempts 1, 2 and 3 of the same task (the report), and the third
        // quarantined it before failing the task.
        #expect(sent.count == 1 && sent.values.first == 3, "\(sent)")
        let worker = try honestWorker(endpoint, in: directory)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("quarantined worker poison-1"), "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("failed 0,") && coordinator.stderr.contains("workers quarantined 1"),
                "\(coordinator.stderr.suffix(2000))")
        let out = directory.appendingPathComponent("out")
        #expect(sqlite(out, "select count(*) from results where worker_id = 'poison-1'") == "0")
        #expect(sqlite(out, "select kind || ' ' || worker_id from peer_events") == "quarantined poison-1")
        let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("1 worker(s) quarantined") && report.contains("<td>poison-1</td>"))
    }

    @Test("issue 20 item 4: with a --task-timeout shorter than every task, late results count: the sweep finishes with an undisturbed run's table")
    func shortTaskTimeout() async throws {
        let directory = try makeTemporaryDirectory()
        // Tasks of about half a second (debug build), several turns of the coordinator's loop
        // (heartbeat 0.25 s: it wakes every 125 ms at least), so each lease is seen overrunning
        // before its result comes; with 50 ms tasks a result could settle its lease first.
        let yaml = tinySweepYAML.replacingOccurrences(of: "steps: 300", with: "steps: 30000")
        let config = directory.appendingPathComponent("sweep.yaml").path
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "out", "--progress", "lines",
             "--task-timeout", "0.05"] + liveness, in: directory, label: "coordinator")
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))
        let worker = try honestWorker(endpoint, in: directory)
        #expect(coordinator.wait(seconds: 240) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(worker.wait(seconds: 20) == 0, "\(worker.stderr.suffix(2000))")
        let out = directory.appendingPathComponent("out")
        #expect(recordedCount(out) == 16)
        let summary = coordinator.stderr.split(separator: "\n").last { $0.contains("recorded 16 results") } ?? ""
        // Every task overran its lease; their late results were accepted all the same.
        #expect(coordinator.stderr.contains("beyond its lease") && !summary.contains("late results accepted 0"),
                "\(summary)")
        let reference = try await ReferenceTables.shared.table(for: yaml)
        #expect(try deterministicTable(out) == reference, "table differs from an undisturbed run")
    }

    @Test("item 4: a peer that heartbeats but never computes loses its tasks after --task-timeout")
    func stalledPeer() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory, extra: ["--task-timeout", "2"])
        let peer = try ScriptedPeer(endpoint)
        _ = try #require(try peer.register("stalled-1", prefetch: 4))
        let worker = try honestWorker(endpoint, in: directory)
        try heartbeat(peer, while: coordinator)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("beyond its lease"), "\(coordinator.stderr.suffix(2000))")
    }

    @Test("item 5: no task_failed from a stranger, no answer to another worker's task, no attempt but the coordinator's")
    func forgery() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let stranger = try ScriptedPeer(endpoint)
        try stranger.send(.taskFailed(TaskFailure(sweep: "", taskID: 0, attempt: 1, reason: "forged")))
        let asked = try stranger.receive(seconds: 10) { if case .register = $0 { true } else { false } }
        #expect(asked != nil, "an unregistered peer is asked to say hello")

        let holder = try ScriptedPeer(endpoint)
        _ = try #require(try holder.register("holder-1", prefetch: 2))
        let held = try #require(try holder.nextTask())
        let forger = try ScriptedPeer(endpoint)
        _ = try #require(try forger.register("forger-1", prefetch: 1))
        var forged = Self.report(converged: true)
        forged.reconstructionError = 0
        forged.offSubspaceError = 0
        forged.recovered = true
        forged.recoveredAt = 300
        try forger.send(.result(TaskResult(sweep: held.sweep, taskID: held.taskID, attempt: held.attempt,
                                           report: forged, startedAt: Self.now, finishedAt: Self.now)))
        for attempt in [0, -7, 1 << 62] {
            try holder.send(.result(TaskResult(sweep: held.sweep, taskID: held.taskID, attempt: attempt,
                                               report: forged, startedAt: Self.now, finishedAt: Self.now)))
        }
        let nan = Double.nan
        let allNaN = RunReport(
            trainResidual: nan, reconstructionError: nan, offSubspaceError: nan, oracleDistance: nan,
            targetDistance: nan, gradientNorm: nan, oracleNorm: nan,
            testError: [nan, nan], oracleTestError: [nan, nan], balancedness: nan, effectiveRank: 0,
            iterations: 300, convergedAt: 300, recoveredAt: 300, stationaryAt: nil, diverged: false, converged: true,
            recovered: true, stationary: false, stepBudget: 300, budgetCapped: false, trainSeconds: 0)
        try holder.send(.result(TaskResult(sweep: held.sweep, taskID: held.taskID, attempt: held.attempt,
                                           report: allNaN, startedAt: Self.now, finishedAt: Self.now)))
        try holder.receive(seconds: 2) { _ in false }
        try holder.send(.bye(Bye(reason: "done", taskIDs: [])))
        try forger.send(.bye(Bye(reason: "done", taskIDs: [])))
        let worker = try honestWorker(endpoint, in: directory)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("unregistered 1"), "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("no lease 4"), "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("invalid 1"), "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("failed 0,"))
        let out = directory.appendingPathComponent("out")
        #expect(sqlite(out, "select count(*) from results where attempt < 1 or attempt > 3") == "0",
                "attempts are the coordinator's dispatch counts")
    }

    @Test("item 6: prefetch is capped, and peers that say hello and vanish fail no task")
    func greedyAndVanishing() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory, extra: ["--max-prefetch", "3", "--max-attempts", "1"])
        let greedy = try ScriptedPeer(endpoint)
        let welcome = try #require(try greedy.register("greedy-1", prefetch: 1_000_000_000))
        #expect(welcome.prefetch == 3)
        try greedy.receive(seconds: 1) { _ in false }
        #expect(greedy.tasks.count == 3)
        // Twenty peers take tasks and vanish (never heard from again).
        var vanished: [ScriptedPeer] = []
        for index in 0..<20 {
            let peer = try ScriptedPeer(endpoint)
            _ = try peer.register("vanishing-\(index)", prefetch: 3)
            vanished.append(peer)
        }
        let worker = try honestWorker(endpoint, in: directory)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("failed 0,"), "\(coordinator.stderr.suffix(2000))")
        withExtendedLifetime(vanished) {}
    }

    @Test("item 7: a second hello with a live worker's id gets nothing; the original keeps its slot")
    func duplicateWorkerID() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let original = try ScriptedPeer(endpoint)
        _ = try #require(try original.register("same-id", prefetch: 1))
        let impostor = try ScriptedPeer(endpoint)
        // The impostor keeps saying hello while the original heartbeats: never welcomed.
        for _ in 0..<8 {
            try impostor.send(.hello(ScriptedPeer.hello("same-id")))
            try original.send(.heartbeat(Heartbeat(sentAt: Self.now)))
            try impostor.receive(seconds: 0.25) { _ in false }
        }
        #expect(impostor.received.isEmpty, "\(impostor.received)")
        // The original still holds its lease and may deliver under its own name.
        let task = try #require(try original.nextTask())
        #expect(task.attempt == 1)
        try original.send(.bye(Bye(reason: "done", taskIDs: [task.taskID])))
        let worker = try honestWorker(endpoint, in: directory)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("duplicate worker ids 8"), "\(coordinator.stderr.suffix(2000))")
    }

    @Test("issue 20 item 2: a hello with a victim's id at its worker timeout inherits nothing; forged answers store no row")
    func takeoverAtTimeout() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        let victim = try ScriptedPeer(endpoint)
        _ = try #require(try victim.register("victim-1", prefetch: 2))
        let leased = [try #require(try victim.nextTask()), try #require(try victim.nextTask())]
        // The victim falls silent; the impostor says hello with its id until it gets in.
        let impostor = try ScriptedPeer(endpoint)
        var welcome: Welcome?
        let deadline = Date().addingTimeInterval(20)
        while welcome == nil && Date() < deadline {
            try impostor.send(.hello(ScriptedPeer.hello("victim-1", prefetch: 1)))
            if case .welcome(let w)? = try impostor.receive(seconds: 0.1, until: { if case .welcome = $0 { true } else { false } }) {
                welcome = w
            }
        }
        let impostorWelcome = try #require(welcome)
        #expect(impostorWelcome.session != victim.session)
        var forged = Self.report(converged: true)
        forged.reconstructionError = 0
        forged.recovered = true
        forged.recoveredAt = 300
        for task in leased {
            // Under its own session, and under a guessed one: neither holds the victim's leases.
            try impostor.send(.result(TaskResult(sweep: task.sweep, taskID: task.taskID, attempt: task.attempt,
                                                 report: forged, startedAt: Self.now, finishedAt: Self.now)))
            try impostor.send(.result(TaskResult(sweep: task.sweep, taskID: task.taskID, attempt: task.attempt,
                                                 report: forged, startedAt: Self.now, finishedAt: Self.now,
                                                 session: String(repeating: "a", count: 32))))
        }
        try impostor.receive(seconds: 1) { _ in false }
        try impostor.send(.bye(Bye(reason: "done", taskIDs: impostor.tasks.map(\.taskID))))
        let worker = try honestWorker(endpoint, in: directory)
        try await finish(coordinator, worker, directory)
        #expect(coordinator.stderr.contains("without the token of its silent session"), "\(coordinator.stderr.suffix(3000))")
        #expect(coordinator.stderr.contains("no lease 2") && coordinator.stderr.contains("wrong session 2"),
                "\(coordinator.stderr.suffix(2000))")
    }

    @Test("fuzz: thousands of random and mutated frames from registered and unregistered peers change nothing")
    func fuzz() async throws {
        let directory = try makeTemporaryDirectory()
        let (coordinator, endpoint) = try start(directory)
        var worker: DLSweepProcess?
        let registered = try ScriptedPeer(endpoint)
        let stranger = try ScriptedPeer(endpoint)
        let welcome = try #require(try registered.register("fuzzer-1", prefetch: 1))
        var rng = SystemRandomNumberGenerator()
        // Templates whose answers can never be valid runs: random edits of them are refused.
        let templates: [Message] = [
            .result(TaskResult(sweep: welcome.fingerprint, taskID: 3, attempt: 7_777_777, report: Self.report(testLevels: 3),
                               startedAt: Self.now, finishedAt: Self.now)),
            .taskFailed(TaskFailure(sweep: "0000000000000000", taskID: 2, attempt: 1, reason: "fuzz")),
            .hello(ScriptedPeer.hello("fuzzer-1")), .heartbeat(Heartbeat(sentAt: 1)), .bye(Bye(reason: "x", taskIDs: [1, 2])),
            .welcome(welcome), .ack(Ack(taskIDs: [1])), .register(Register(reason: "x")),
        ]
        let encoded = try templates.map { try $0.encoded() }
        let jsonBodies = ["{}", "[]", "null", "{\"taskID\":1e300}", "{\"attempt\":\"1\"}", "{\"sweep\":5}",
                          "{\"workerID\":\"\",\"prefetch\":-1}", "{\"taskIDs\":[-1,99999999999]}", "\"\u{0}\""]
        var sent = 0
        while sent < 4000 {
            let peer = Bool.random(using: &rng) ? registered : stranger
            var frame: [UInt8]
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                frame = encoded.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    frame[Int.random(in: 6..<frame.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 1:
                frame = Array("DLSW".utf8) + [protocolVersion, UInt8.random(in: 0...12, using: &rng)]
                    + Array(jsonBodies.randomElement(using: &rng)!.utf8)
            case 2:
                frame = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default:
                frame = encoded[Int.random(in: 0..<2, using: &rng)]
            }
            try peer.sendRaw(frame)
            sent += 1
            if sent == 3000 { worker = try honestWorker(endpoint, in: directory) }
            if sent % 200 == 0 {
                // Register again after being dropped for a malformed frame; drain replies.
                try registered.send(.hello(ScriptedPeer.hello("fuzzer-1", prefetch: 1)))
                try registered.receive(seconds: 0.05) { _ in false }
                try stranger.receive(seconds: 0.01) { _ in false }
            }
        }
        try registered.send(.bye(Bye(reason: "done", taskIDs: [])))
        try await finish(coordinator, try #require(worker), directory)
        let malformed = coordinator.stderr.firstMatch(of: /malformed frames (\d+)/).flatMap { Int($0.1) } ?? 0
        #expect(malformed >= 500, "\(coordinator.stderr.suffix(2000))")
    }
}

/// One value from the results database, read with the sqlite3 tool.
func sqlite(_ outDirectory: URL, _ query: String) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sqlite3", "-readonly", outDirectory.appendingPathComponent("results.sqlite").path, query]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return "" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
