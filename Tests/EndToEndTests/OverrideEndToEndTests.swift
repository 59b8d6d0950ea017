import Foundation
import ResultsStore
import Testing

/// `dlsweep run CONFIG KEY=VALUE …`: the sweep the overrides make, recorded in the store; a
/// resume with other overrides refused, saying which; a bad override refused before the folder
/// is touched.
@Suite struct OverrideEndToEndTests {
    @Test("run with overrides: the overridden grid runs and the store names the overrides; resumes need the same ones")
    func overriddenSweep() throws {
        let directory = try makeTemporaryDirectory()
        try smallSweepYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let overrides = ["grid.depth=[2]", "grid.width=[8]", "trials=2", "training.max_steps=500"]
        let run = try DLSweepProcess(["run", "sweep.yaml"] + overrides + ["--workers", "2", "--out", "out", "--progress", "none"],
                                     in: directory, label: "run")
        #expect(run.wait(seconds: 180) == 0, "\(run.stderr.suffix(2000))")
        let (store, configuration) = try ResultsStore.openExisting(directory: directory.appendingPathComponent("out").path)
        // depth 2 × width 8 × lambda {0, 0.01} × noise {0}, two trials.
        let recorded = try store.count()
        #expect(store.plan.taskCount == 4 && recorded == 4)
        #expect(configuration.overrides == overrides && configuration.training.maxSteps == 500)
        #expect(store.meta.configYAML.hasPrefix("# dlsweep overrides: "))

        // Other overrides: refused, naming both sets, nothing written.
        let other = try DLSweepProcess(["run", "sweep.yaml", "grid.depth=[2]", "grid.width=[8]", "trials=3", "--workers", "1", "--out", "out"],
                                       in: directory, label: "other")
        #expect(other.wait(seconds: 60) == 1)
        #expect(other.stderr.contains("started with the overrides grid.depth=[2] grid.width=[8] trials=2 training.max_steps=500; this command gives grid.depth=[2] grid.width=[8] trials=3: give the same overrides to resume it"),
                "\(other.stderr)")
        #expect((try store.count()) == 4)
        // The same ones: a resume with nothing left to do.
        let same = try DLSweepProcess(["run", "sweep.yaml"] + overrides + ["--workers", "1", "--out", "out", "--progress", "none"],
                                      in: directory, label: "same")
        #expect(same.wait(seconds: 120) == 0, "\(same.stderr.suffix(2000))")
        #expect(same.stderr.contains("recorded 0 results"), "\(same.stderr.suffix(1000))")
        let status = try DLSweepProcess(["status", "out"], in: directory, label: "status")
        #expect(status.wait(seconds: 60) == 0)
        #expect(status.stdout.contains("overrides: " + overrides.joined(separator: " ")), "\(status.stdout)")
    }

    @Test("a bad override on dlsweep coordinator: one line naming it, and no folder")
    func badOverrideOnCoordinator() throws {
        let directory = try makeTemporaryDirectory()
        try smallSweepYAML.write(to: directory.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let command = try DLSweepProcess(["coordinator", "sweep.yaml", "grid.colour=[1]", "--bind", "tcp://127.0.0.1:*", "--out", "out"],
                                         in: directory, label: "coordinator")
        #expect(command.wait(seconds: 60) == 1)
        #expect(command.stderr.hasPrefix("Error: sweep.yaml: override 'grid.colour=[1]': grid.colour: unknown key")
                && command.stderr.split(separator: "\n").count == 1, "\(command.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
    }
}
