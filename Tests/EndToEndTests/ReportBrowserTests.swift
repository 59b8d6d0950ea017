import Foundation
import Testing

/// report.html of a finished small sweep, opened in headless Chromium (Debian's `chromium` and
/// `chromium-driver`, Python `selenium`; `scripts/setup.sh` installs them, and CI runs it first)
/// by `scripts/check_report_browser.py`: every plot must render and the console must stay empty.
@Suite(.serialized) struct ReportBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/check_report_browser.py").path

    /// The browser's findings about `page`; nil (with the reason in `missing`) when the browser
    /// or its driver is not installed.
    static func inspect(_ page: URL, in directory: URL, label: String) throws -> (figures: [String: Any]?, missing: String) {
        try inspect(page.path, in: directory, label: label)
    }

    /// `page`: a file path or an http:// address.
    static func inspect(_ page: String, in directory: URL, label: String) throws -> (figures: [String: Any]?, missing: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, page]
        let out = directory.appendingPathComponent("\(label).out"), err = directory.appendingPathComponent("\(label).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        if process.terminationStatus == 3 { return (nil, stderr) }
        try #require(process.terminationStatus == 0, "check_report_browser.py failed: \(stderr.suffix(3000))")
        let data = try Data(contentsOf: out)
        return (try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]), "")
    }

    static var browserInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
    }

    @Test("every SVG of report.html renders with a non-zero box and the console has no message",
          .enabled(if: browserInstalled, "needs Debian's chromium and chromium-driver: run bash scripts/setup.sh (CI does)"))
    func rendersInChromium() throws {
        let directory = try makeTemporaryDirectory()
        try smallSweepYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let run = try DLSweepProcess(["run", "sweep.yaml", "--workers", "2", "--out", "out"], in: directory, label: "run")
        #expect(run.wait(seconds: 180) == 0, "\(run.stderr.suffix(3000))")
        let report = try DLSweepProcess(["report", "out"], in: directory, label: "report")
        #expect(report.wait(seconds: 60) == 0, "\(report.stderr)")

        let (found, missing) = try Self.inspect(directory.appendingPathComponent("out/report.html"), in: directory, label: "browser")
        let figures = try #require(found, "the browser check could not start: \(missing)")
        #expect(figures["title"] as? String == "dlsweep report: e2e")
        #expect(figures["readyState"] as? String == "complete")
        #expect(figures["scripts"] as? Int == 0)
        let console = try #require(figures["console"] as? [[String: Any]])
        #expect(console.isEmpty, "console: \(console)")
        let svgs = try #require(figures["svgs"] as? [[String: Any]])
        // The four plots, one trajectory per cell (8 cells, trajectories: 1 by default), then the
        // completed tasks over time.
        #expect(svgs.compactMap { $0["section"] as? String }
                == ["converged", "recovered", "iterations", "noise"] + Array(repeating: "trajectories", count: 8)
                + ["completion"])
        for svg in svgs {
            let width = svg["width"] as? Double ?? 0, height = svg["height"] as? Double ?? 0
            #expect(width > 100 && height > 100, "\(svg)")
            let shapes = svg["shapes"] as? Int ?? 0
            #expect(shapes > 10 && svg["drawnShapes"] as? Int == shapes, "every shape has a box: \(svg)")
            #expect((svg["outside"] as? [Any])?.isEmpty == true, "texts outside the drawing: \(svg["outside"] ?? "?")")
        }
    }

    @Test("the report of a sweep with no result yet renders too (grey maps, an empty Figure 1)",
          .enabled(if: browserInstalled, "needs Debian's chromium and chromium-driver: run bash scripts/setup.sh (CI does)"))
    func rendersBeforeTheFirstResult() throws {
        let directory = try makeTemporaryDirectory()
        try smallSweepYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let coordinator = try DLSweepProcess(["coordinator", "sweep.yaml", "--bind", "tcp://127.0.0.1:*", "--out", "out"],
                                             in: directory, label: "coordinator")
        defer { coordinator.signal(SIGTERM); coordinator.wait(seconds: 30) }
        _ = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent("out"))
        let report = try DLSweepProcess(["report", "out"], in: directory, label: "report")
        #expect(report.wait(seconds: 60) == 0, "\(report.stderr)")
        #expect(report.stdout.contains("(0 of 24 tasks recorded)"), "\(report.stdout)")

        let (found, missing) = try Self.inspect(directory.appendingPathComponent("out/report.html"), in: directory, label: "browser")
        let figures = try #require(found, "the browser check could not start: \(missing)")
        let console = try #require(figures["console"] as? [[String: Any]])
        #expect(console.isEmpty, "console: \(console)")
        let svgs = try #require(figures["svgs"] as? [[String: Any]])
        #expect(svgs.compactMap { $0["section"] as? String } == ["converged", "recovered", "iterations", "noise"])
        for svg in svgs {
            #expect((svg["width"] as? Double ?? 0) > 100 && (svg["height"] as? Double ?? 0) > 40, "\(svg)")
            #expect((svg["drawnShapes"] as? Int ?? 0) >= 1 && svg["drawnShapes"] as? Int == svg["shapes"] as? Int, "\(svg)")
        }
    }

    /// A missing resource is the failure a page loading anything from outside would show offline.
    @Test("the check sees a failed resource load in the console and an empty plot (control)",
          .enabled(if: browserInstalled, "needs Debian's chromium and chromium-driver: run bash scripts/setup.sh (CI does)"))
    func controlPage() throws {
        let directory = try makeTemporaryDirectory()
        let page = directory.appendingPathComponent("broken.html")
        try """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title></head><body>
            <section id="x"><svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"></svg></section>
            <img src="missing.png">
            </body></html>
            """.write(to: page, atomically: true, encoding: .utf8)
        let (found, missing) = try Self.inspect(page, in: directory, label: "control")
        let figures = try #require(found, "the browser check could not start: \(missing)")
        let console = try #require(figures["console"] as? [[String: Any]])
        #expect(console.contains { ($0["level"] as? String) == "SEVERE" && ($0["message"] as? String ?? "").contains("missing.png") },
                "\(console)")
        let svgs = try #require(figures["svgs"] as? [[String: Any]])
        #expect(svgs.count == 1 && svgs[0]["width"] as? Double == 0)
    }
}
