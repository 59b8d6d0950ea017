import Foundation
import SweepProtocol
import Testing
import TrainingCore
import ZeroMQ

/// A worker whose connection closes is noticed by the socket, long before the worker timeout
/// (issue 21): with `--worker-timeout 600`, only that can re-queue its tasks in time. A worker
/// that comes back on a new connection with its token loses none of its results.
@Suite(.serialized)
struct ClosedConnectionEndToEndTests {
    static let noopYAML = """
        name: reconnect
        seed: 3
        model: noop
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
        trials: 8
        training: {steps: 1}
        test_noise: [0.0]
        """

    @Test("a connection closed and reopened: the dropped worker says hello with its token, and the results of its old tasks count")
    func reconnectAfterDrop() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try Self.noopYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "out", "--progress", "lines",
             "--heartbeat", "0.25", "--worker-timeout", "600"],
            in: directory, label: "coordinator")
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))

        var first: ScriptedPeer? = try ScriptedPeer(endpoint)
        _ = try #require(try first?.register("flaky", prefetch: 2))
        let held = [try #require(try first?.nextTask()), try #require(try first?.nextTask())]
        let token = try #require(first?.session)
        first = nil  // closes the socket: the connection goes
        #expect(DLSweepProcess.eventually(seconds: 60) { coordinator.stderr.contains("dropped: connection closed") },
                "\(coordinator.stderr.suffix(2000))")

        let second = try ScriptedPeer(endpoint)
        var hello = ScriptedPeer.hello("flaky", prefetch: 2)
        hello.session = token
        try second.send(.hello(hello))
        let welcome = try second.receive(seconds: 20) { if case .welcome = $0 { true } else { false } }
        guard case .welcome(let resumed)? = welcome else {
            Issue.record("not welcomed again: \(coordinator.stderr.suffix(2000))")
            return
        }
        #expect(resumed.session == token)
        // The results of the old connection's tasks, then every task this connection gets.
        var answered = Set<Int>()
        func answer(_ task: TaskAssignment) throws {
            guard answered.insert(task.taskID).inserted else { return }
            let now = Date().timeIntervalSince1970
            try second.send(.result(TaskResult(sweep: task.sweep, taskID: task.taskID, attempt: task.attempt,
                                               report: try task.spec.runSpec().syntheticReport(seconds: 0),
                                               startedAt: now, finishedAt: now)))
        }
        for task in held { try answer(task) }
        while coordinator.isRunning, recordedCount(directory.appendingPathComponent("out")) < 8 {
            if let task = try second.nextTask(seconds: 1) { try answer(task) }
        }
        #expect(coordinator.wait(seconds: 60) == 0, "\(coordinator.stderr.suffix(3000))")
        let out = directory.appendingPathComponent("out")
        #expect(recordedCount(out) == 8)
        let heldIDs = held.map { String($0.taskID) }.joined(separator: ",")
        #expect(sqlite(out, "select count(*) from results where worker_id = 'flaky' and task_id in (\(heldIDs))") == "2")
        #expect(coordinator.stderr.contains("late results accepted 2"), "\(coordinator.stderr.suffix(1500))")
    }
}
