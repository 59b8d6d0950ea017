import Foundation
import Testing

/// `dlsweep report DIR` as a user runs it, on a sweep that is running and then finished.
@Suite struct ReportCommandTests {
    @Test("report on a running sweep leaves it undisturbed; after the end it shows every task")
    func runningThenFinished() throws {
        let directory = try makeTemporaryDirectory()
        try smallSweepYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(["coordinator", "sweep.yaml", "--bind", "tcp://127.0.0.1:*", "--out", "out"],
                                             in: directory, label: "coordinator")
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))

        // No worker yet: the coordinator owns the folder, the report reads it all the same.
        let early = try DLSweepProcess(["report", "out"], in: directory, label: "early")
        #expect(early.wait(seconds: 60) == 0, "\(early.stderr)")
        #expect(early.stdout.contains("wrote out/report.html (0 of 24 tasks recorded)"), "\(early.stdout)")
        let page = directory.appendingPathComponent("out/report.html")
        #expect(try String(contentsOf: page, encoding: .utf8).contains("0 of 24 tasks recorded (incomplete"))

        let worker = try DLSweepProcess(["worker", "--connect", endpoint, "--reconnect-timeout", "60"], in: directory, label: "worker")
        #expect(coordinator.wait(seconds: 180) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(worker.wait(seconds: 60) == 0, "\(worker.stderr.suffix(2000))")

        let late = try DLSweepProcess(["report", "out", "--output", "elsewhere.html"], in: directory, label: "late")
        #expect(late.wait(seconds: 60) == 0, "\(late.stderr)")
        #expect(late.stdout.contains("(24 of 24 tasks recorded)"), "\(late.stdout)")
        let html = try String(contentsOf: directory.appendingPathComponent("elsewhere.html"), encoding: .utf8)
        #expect(html.contains("24 of 24 tasks recorded (complete)"))
        // Four figures (two outcome heat maps, iterations, Figure 1), one trajectory panel for
        // each of the 8 cells (`trajectories` defaults to the first trial of each cell) and the
        // completed tasks over time.
        #expect(html.components(separatedBy: "</svg>").count - 1 == 4 + 8 + 1)

        let missing = try DLSweepProcess(["report", "nothing-here"], in: directory, label: "missing")
        #expect(missing.wait(seconds: 60) != 0)
        #expect(missing.stderr.contains("nothing-here: no results database"), "\(missing.stderr)")
    }
}
