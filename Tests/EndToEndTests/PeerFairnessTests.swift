import Foundation
import SweepProtocol
import Testing
import TrainingCore
import ZeroMQ

/// Issue 20 item 3: a peer sending 4 MiB batch bombs back to back, registered or not, does not
/// deafen the coordinator: an honest worker's results are acknowledged at once meanwhile.
@Suite(.serialized)
struct PeerFairnessTests {
    static let yaml = """
        name: fair
        seed: 3
        model: noop
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
        grid:
          depth: [1, 2]
        trials: 60
        training: {steps: 1}
        test_noise: [0.0]
        """

    /// A peer in its own process (the measurement shares no CPU time with it beyond the
    /// machine's): says hello unless told `--stranger`, then sends 4 MiB batches of task_failed
    /// for a task outside the plan back to back until killed.
    static let bomber = #"""
        import os, struct, sys, time
        sys.path.insert(0, os.path.join(sys.argv[1], "scripts"))
        import zmq
        from protocol_worker import KINDS, VERSION, decode, frame
        endpoint, stranger = sys.argv[2], "--stranger" in sys.argv
        sock = zmq.Context().socket(zmq.DEALER)
        sock.setsockopt(zmq.SNDHWM, 2)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        session, fingerprint = "", "0" * 16
        if not stranger:
            sock.send(frame("hello", {"protocolVersion": VERSION, "workerID": "bomber-%d" % os.getpid(), "host": "bombs",
                                      "pid": os.getpid(), "cores": 1, "blasThreads": 1, "capabilities": [], "prefetch": 1,
                                      "session": None}))
            while not session:
                for kind, body in decode(sock.recv()):
                    if kind == "welcome":
                        session, fingerprint = body["session"], body["fingerprint"]
        body = frame("task_failed", {"session": session, "sweep": fingerprint, "taskID": 1000000, "attempt": 1,
                                     "reason": ""})[6:]
        entry = bytes([KINDS["task_failed"]]) + struct.pack("<I", len(body)) + body
        count = (4 * 1024 * 1024 - 10) // len(entry)
        bomb = b"DLSW" + bytes([VERSION, KINDS["batch"]]) + struct.pack("<I", count) + entry * count
        print("ready", flush=True)
        while True:
            try:
                sock.send(bomb, zmq.NOBLOCK)
            except zmq.Again:
                time.sleep(0.001)
        """#

    @Test("issue 20 item 3: while two peers (one registered) send 4 MiB bombs back to back, an honest worker's results are acknowledged at once")
    func bombs() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try Self.yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "out", "--progress", "none",
             "--heartbeat", "0.25", "--worker-timeout", "5"], in: directory, label: "coordinator")
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))
        let honest = try ScriptedPeer(endpoint)
        _ = try #require(try honest.register("honest-1", prefetch: 1))
        /// Answers the next task and measures how long its ack takes; nil when the sweep is over.
        func answer() throws -> Double? {
            guard !honest.received.contains(where: { if case .shutdown = $0 { true } else { false } }),
                  let task = try honest.nextTask(seconds: 20) else { return nil }
            let spec = try task.spec.runSpec()
            let sent = Date()
            try honest.send(.result(TaskResult(
                sweep: task.sweep, taskID: task.taskID, attempt: task.attempt, report: spec.syntheticReport(seconds: 0.001),
                startedAt: sent.timeIntervalSince1970 - 0.01, finishedAt: sent.timeIntervalSince1970)))
            let ack = try honest.receive(seconds: 30) { if case .ack(let a) = $0 { a.taskIDs.contains(task.taskID) } else { false } }
            #expect(ack != nil, "task \(task.taskID) never acknowledged")
            return Date().timeIntervalSince(sent)
        }
        func figures(_ latencies: [Double]) -> String {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return "none" }
            return String(format: "median %.1f ms, p95 %.1f ms, max %.1f ms over %d results", sorted[sorted.count / 2] * 1000,
                          sorted[sorted.count * 95 / 100] * 1000, sorted[sorted.count - 1] * 1000, sorted.count)
        }
        // Undisturbed first, for comparison.
        var quiet: [Double] = []
        for _ in 0..<30 { if let latency = try answer() { quiet.append(latency) } }
        let script = directory.appendingPathComponent("bomber.py")
        try Self.bomber.write(to: script, atomically: true, encoding: .utf8)
        let root = FileManager.default.currentDirectoryPath
        let bombers = try [[], ["--stranger"]].enumerated().map { index, extra in
            try DLSweepProcess(["python3", script.path, root, endpoint] + extra, in: directory, label: "bomber-\(index)",
                               executable: URL(fileURLWithPath: "/usr/bin/env"))
        }
        // Let the bombs start flowing before measuring.
        #expect(DLSweepProcess.eventually(seconds: 20) {
            coordinator.stderr.contains("unknown task") && coordinator.stderr.contains("not registered")
        }, "\(coordinator.stderr.suffix(2000)) \(bombers.map(\.stderr))")
        var bombed: [Double] = []
        for _ in 0..<60 { if let latency = try answer() { bombed.append(latency) } }
        for bomber in bombers {
            bomber.signal(SIGKILL)
            bomber.wait(seconds: 20)
        }
        // The rest, including the task the registered bomber held (re-queued once it fell silent).
        while try answer() != nil {}
        #expect(coordinator.wait(seconds: 60) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(quiet.count == 30 && bombed.count == 60)
        let summary = coordinator.stderr.split(separator: "\n").last { $0.contains("recorded 120 results") } ?? ""
        print("honest worker's ack latency, undisturbed: \(figures(quiet)); during the bombs: \(figures(bombed)); coordinator: \(summary)")
        #expect(summary.contains("frames dropped unread") && !summary.contains("unknown tasks 0,") && !summary.contains("unregistered 0,"),
                "\(summary)")
        // Generous against a loaded machine, far below the 23 s the issue measured.
        let p95 = bombed.sorted()[bombed.count * 95 / 100]
        #expect(p95 < 1, "p95 \(p95) s")
        // Refusals are counted per entry and logged once per peer and reason per interval.
        let refusalLines = coordinator.stderr.split(separator: "\n").filter { $0.contains("unknown task") || $0.contains("not registered") }
        #expect(refusalLines.count <= 10, "\(refusalLines.prefix(12))")
        #expect(coordinator.stderr.contains("failed 0,"))
    }
}
