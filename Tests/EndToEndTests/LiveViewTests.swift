import Foundation
import Testing

/// `--http`: the live view of a running sweep, a real coordinator (or `dlsweep run`) and real
/// HTTP over loopback. The sweep is held running by stopping its only worker (SIGSTOP), so the
/// page is always checked mid-sweep, whatever the machine's speed.
@Suite(.serialized) struct LiveViewTests {
    /// Tasks of a second or so each (a debug build): 2 cells × 6 trials.
    static let yaml = """
        name: live
        seed: 3
        problem: {signal_dim: 40, measurements: 20, latent_dim: 3, samples: 20}
        grid: {depth: [3], width: [40], lambda: [0.01, 0.1], noise: [0.0]}
        trials: 6
        training: {steps: 3000, stop_on_success: false}
        test_noise: [0.0, 0.1]
        """

    /// The address a `--http` process logged.
    static func liveURL(_ process: DLSweepProcess) throws -> String {
        var url: String?
        _ = DLSweepProcess.eventually(seconds: 30) {
            url = process.stderr.split(separator: "\n").first { $0.contains("live view at ") }
                .flatMap { $0.components(separatedBy: "live view at ").last?.split(separator: " ").first.map(String.init) }
            return url != nil
        }
        return try #require(url, "no live view line: \(process.stderr.suffix(2000))")
    }

    /// One request; the status code and the body.
    static func request(_ url: String, method: String = "GET") throws -> (status: Int, body: Data) {
        let (status, _, body) = try plainHTTP(url, method: method)
        return (status, body)
    }

    /// `/status.json`, once the coordinator has published it (503 until it has read its store).
    static func status(_ base: String) throws -> [String: Any] {
        var answer: (status: Int, body: Data) = (0, Data())
        _ = DLSweepProcess.eventually(seconds: 30) {
            answer = (try? request(base + "status.json")) ?? (0, Data())
            return answer.status == 200
        }
        try #require(answer.status == 200, "status.json answered \(answer.status)")
        return try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])
    }

    @Test("during a sweep: every SVG of the live page renders, no console message, status.json parses and progresses")
    func liveDuringSweep() throws {
        let directory = try makeTemporaryDirectory()
        try Self.yaml.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(
            ["coordinator", "sweep.yaml", "--bind", "tcp://127.0.0.1:*", "--out", "out", "--http", "0",
             "--worker-timeout", "300", "--progress", "lines"], in: directory, label: "coordinator")
        defer { coordinator.signal(SIGTERM); coordinator.wait(seconds: 30) }
        let base = try Self.liveURL(coordinator)
        #expect(base.hasPrefix("http://127.0.0.1:"), "default bind: \(base)")
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))

        // Before any worker: the figures of an idle sweep.
        var status = try Self.status(base)
        #expect(status["state"] as? String == "running" && status["tasks"] as? Int == 12 && status["done"] as? Int == 0)
        #expect(status["workers"] as? Int == 0 && status["etaSeconds"] == nil)
        #expect((status["counters"] as? [String: Any])?["failed"] as? Int == 0)

        let worker = try DLSweepProcess(["worker", "--connect", endpoint, "--prefetch", "1"], in: directory, label: "worker")
        defer { worker.signal(SIGCONT); worker.signal(SIGTERM); worker.wait(seconds: 30) }
        // Task 0 (trial 0 of the first cell, a sampled run) comes first.
        #expect(DLSweepProcess.eventually(seconds: 120) { ((try? Self.status(base))?["done"] as? Int ?? 0) >= 1 })
        worker.signal(SIGSTOP)
        status = try Self.status(base)
        let held = status["done"] as? Int ?? 0
        #expect(status["state"] as? String == "running" && held >= 1 && held < 12, "\(status)")
        #expect(status["workers"] as? Int == 1 && (status["tasksPerSecond"] as? Double ?? 0) > 0)
        #expect((status["etaSeconds"] as? Double ?? -1) > 0)
        let hosts = try #require(status["hosts"] as? [[String: Any]])
        #expect(hosts.count == 1 && hosts[0]["workers"] as? Int == 1 && (hosts[0]["tasks"] as? Int ?? 0) >= 1, "\(hosts)")

        if ReportBrowserTests.browserInstalled {
            let (found, missing) = try ReportBrowserTests.inspect(base, in: directory, label: "browser")
            let figures = try #require(found, "the browser check could not start: \(missing)")
            #expect(figures["title"] as? String == "dlsweep report: live")
            #expect(figures["scripts"] as? Int == 0)
            let console = try #require(figures["console"] as? [[String: Any]])
            #expect(console.isEmpty, "console: \(console)")
            let svgs = try #require(figures["svgs"] as? [[String: Any]])
            let sections = svgs.compactMap { $0["section"] as? String }
            #expect(Array(sections.prefix(4)) == ["converged", "recovered", "iterations", "noise"])
            // The trajectories, then the completed tasks over time.
            #expect(sections.last == "completion", "\(sections)")
            #expect(sections.dropFirst(4).dropLast().allSatisfy { $0 == "trajectories" } && sections.count >= 6, "\(sections)")
            for svg in svgs {
                #expect((svg["width"] as? Double ?? 0) > 100 && (svg["height"] as? Double ?? 0) > 40, "\(svg)")
                #expect((svg["drawnShapes"] as? Int ?? 0) >= 1 && svg["drawnShapes"] as? Int == svg["shapes"] as? Int, "\(svg)")
            }
            // Still mid-sweep when the page was read.
            #expect((try Self.status(base)["done"] as? Int ?? 12) < 12)
        }
        let (code, page) = try Self.request(base + "report.html")
        #expect(code == 200)
        let html = String(decoding: page, as: UTF8.self)
        #expect(html.contains("<meta http-equiv=\"refresh\""))
        #expect(html.contains("<section id=\"live\">") && html.contains(" tasks/s, ETA "), "the live figures")
        let recorded = html.components(separatedBy: " of 12 tasks recorded (incomplete").first?
            .split(separator: ">").last.flatMap { Int($0) }
        #expect(recorded.map { $0 >= held && $0 < 12 } == true, "\(recorded.map(String.init) ?? "no progress line")")

        worker.signal(SIGCONT)
        #expect(DLSweepProcess.eventually(seconds: 120) { ((try? Self.status(base))?["done"] as? Int ?? 0) > held },
                "status.json does not progress")
    }

    @Test("read-only: any method but GET gets 405 with Allow: GET, an unknown path 404; an explicit address is honoured")
    func readOnly() throws {
        let directory = try makeTemporaryDirectory()
        try Self.yaml.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(
            ["coordinator", "sweep.yaml", "--bind", "tcp://127.0.0.1:*", "--out", "out", "--http", "127.0.0.2:0"],
            in: directory, label: "coordinator")
        defer { coordinator.signal(SIGTERM); coordinator.wait(seconds: 30) }
        let base = try Self.liveURL(coordinator)
        #expect(base.hasPrefix("http://127.0.0.2:"), "\(base)")
        for path in ["", "report.html", "status.json", "nope"] {
            for method in ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
                let (status, headers, _) = try plainHTTP(base + path, method: method)
                #expect(status == 405 && headers.contains("Allow: GET"), "\(method) /\(path): \(headers)")
            }
        }
        #expect(try Self.request(base + "nope").status == 404)
        #expect(try Self.request(base).status == 200)
        #expect(try Self.status(base)["sweep"] as? String == "live")
        // Nothing was written by the requests: still no result, the folder holds what a sweep writes.
        #expect(recordedCount(directory.appendingPathComponent("out")) == 0)

        let bad = try DLSweepProcess(["coordinator", "sweep.yaml", "--out", "other", "--http", "localhost"],
                                     in: directory, label: "bad")
        #expect(bad.wait(seconds: 30) != 0)
        #expect(bad.stderr.contains("--http must be PORT, HOST:PORT or [IPv6]:PORT"), "\(bad.stderr)")
    }

    @Test("dlsweep run --http serves the same view while its local workers run")
    func runServes() throws {
        let directory = try makeTemporaryDirectory()
        try """
            name: sleepy
            model: sleep
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
            trials: 2
            training: {steps: 1, sleep_seconds: 120}
            """.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let run = try DLSweepProcess(["run", "sweep.yaml", "--workers", "1", "--out", "out", "--http", "0"],
                                     in: directory, label: "run")
        defer { run.signal(SIGTERM); run.wait(seconds: 60) }
        let base = try Self.liveURL(run)
        #expect(base.hasPrefix("http://127.0.0.1:"))
        // Its worker joins; the two-minute tasks keep the sweep running meanwhile.
        #expect(DLSweepProcess.eventually(seconds: 60) { ((try? Self.status(base))?["workers"] as? Int ?? 0) == 1 })
        let status = try Self.status(base)
        #expect(status["sweep"] as? String == "sleepy" && status["tasks"] as? Int == 2 && status["state"] as? String == "running")
        #expect(try Self.request(base).status == 200)
    }
}
