import Foundation
import ResultsStore
import SweepConfig
import Testing

/// Adaptive sweeps (issue 14) with the real binary: coordinator and worker processes over tcp.
@Suite(.serialized)
struct AdaptiveEndToEndTests {
    /// The converged outcome flips along the step budget (0/8 at 500 steps, 8/8 at 4000): the
    /// middle cells are uncertain, the ends are not. ~20 ms per task (no early stop).
    static let yaml = """
        name: adaptive
        seed: 5
        problem: {signal_dim: 12, measurements: 6, latent_dim: 2, samples: 8, test_samples: 20}
        grid:
          steps: [500, 1000, 2000, 4000, 8000]
        training: {eta_scale: 0.5, stop_on_success: false, depth: 2, width: 8, lambda: 0.3}
        test_noise: [0.0]
        adaptive: {target_ci_width: 0.35, min_trials: 4, max_trials: 12, round: 4, refine: {axes: [steps], levels: 1}}
        """

    private func run(_ config: String, workers: Int, out: String, in directory: URL) throws -> String {
        let run = try DLSweepProcess(["run", config, "--workers", "\(workers)", "--out", out, "--progress", "lines"],
                                     in: directory, label: out)
        #expect(run.wait(seconds: 300) == 0, "\(run.stderr.suffix(3000))")
        return run.stderr
    }

    @Test("an adaptive sweep gives the same rounds and table with 1 and 3 workers and after a SIGKILL mid-round")
    func sameTableWhateverTheWorkers() throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("adaptive.yaml").path
        try Self.yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let log = try run(config, workers: 1, out: "one", in: directory)
        #expect(log.contains("adaptive round 1:"), "\(log.suffix(2000))")
        #expect(log.contains("so far, adaptive round "), "progress says the total grows")
        _ = try run(config, workers: 3, out: "three", in: directory)

        // A coordinator and one worker; the worker is frozen as soon as round 1 is recorded,
        // so the coordinator dies with that round under way.
        let out = directory.appendingPathComponent("killed")
        let first = try DLSweepProcess(["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "killed"],
                                       in: directory, label: "first")
        let worker = try DLSweepProcess(["worker", "--connect", try first.coordinatorEndpoint(out: out)],
                                        in: directory, label: "worker")
        #expect(DLSweepProcess.eventually(seconds: 120) { sqlite(out, "select count(*) from adaptive_rounds") == "1" })
        worker.signal(SIGSTOP)
        first.signal(SIGKILL)
        first.wait(seconds: 10)
        worker.signal(SIGKILL)
        worker.wait(seconds: 10)
        let rounds = try ResultsStore.openExisting(directory: out.path).0.recordedRounds()
        let planned = SweepPlan(try SweepConfiguration.parse(yaml: Self.yaml, fileName: config)).gridTaskCount
            + rounds.reduce(0) { $0 + $1.addedTasks }
        let recorded = Int(sqlite(out, "select count(*) from results")) ?? -1
        #expect(recorded >= 20 && recorded < planned, "killed mid-round 1: \(recorded) of \(planned) tasks")

        // The address file still names the dead coordinator's port until the new one writes it.
        try FileManager.default.removeItem(at: out.appendingPathComponent("coordinator.address"))
        let second = try DLSweepProcess(["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "killed"],
                                        in: directory, label: "second")
        let again = try DLSweepProcess(["worker", "--connect", try second.coordinatorEndpoint(out: out)],
                                       in: directory, label: "again")
        #expect(second.wait(seconds: 300) == 0, "\(second.stderr.suffix(3000))")
        #expect(second.stderr.contains("resuming"), "\(second.stderr.suffix(2000))")
        again.wait(seconds: 30)

        let one = try deterministicTable(directory.appendingPathComponent("one"))
        #expect(one.count == 6, "five grid cells and one refined")
        #expect(try deterministicTable(directory.appendingPathComponent("three")) == one)
        #expect(try deterministicTable(out) == one)
        let roundsOne = try ResultsStore.openExisting(directory: directory.appendingPathComponent("one").path).0.recordedRounds()
        #expect(try ResultsStore.openExisting(directory: out.path).0.recordedRounds() == roundsOne)
        #expect(roundsOne.count >= 2)
        // Trials differ per cell: the sure ends stop at 8, the uncertain middle goes on to 12.
        let trials = one.map { Int(Double(bitPattern: UInt64($0["trials"] ?? "") ?? 0)) }
        #expect(trials.first == 8 && trials.last == 8 && trials.contains(12), "\(trials)")
    }

    @Test("refinement adds the midpoint between a 0/8 and an 8/8 cell and leaves their results unchanged")
    func refinementInsertsTheMidpoint() throws {
        let directory = try makeTemporaryDirectory()
        let fixedYAML = """
            name: flip
            seed: 5
            problem: {signal_dim: 12, measurements: 6, latent_dim: 2, samples: 8, test_samples: 20}
            grid:
              steps: [500, 4000]
            trials: 8
            training: {eta_scale: 0.5, stop_on_success: true, depth: 2, width: 8, lambda: 0.3}
            test_noise: [0.0]
            """
        let refinedYAML = fixedYAML.replacingOccurrences(
            of: "trials: 8",
            with: "adaptive: {target_ci_width: 0.5, min_trials: 8, max_trials: 8, refine: {axes: [steps], levels: 1, scale: {steps: log}}}")
        let middleYAML = fixedYAML.replacingOccurrences(of: "steps: [500, 4000]", with: "steps: [1414]")
        for (name, text) in [("fixed", fixedYAML), ("refined", refinedYAML), ("middle", middleYAML)] {
            try text.write(toFile: directory.appendingPathComponent("\(name).yaml").path, atomically: true, encoding: .utf8)
            _ = try run("\(name).yaml", workers: 2, out: name, in: directory)
        }
        func rows(_ name: String) throws -> [ResultRow] {
            try ResultsStore.openExisting(directory: directory.appendingPathComponent(name).path).0.rows()
        }
        let fixed = try rows("fixed"), refined = try rows("refined"), middle = try rows("middle")
        // The fixed sweep's ends: 0/8 and 8/8.
        #expect(fixed.filter { $0.cellIndex == 0 }.map { $0.report?.converged } == Array(repeating: false, count: 8))
        #expect(fixed.filter { $0.cellIndex == 1 }.map { $0.report?.converged } == Array(repeating: true, count: 8))
        // The refined sweep: the same 16 runs, bit for bit (same task ids, seeds, metrics), then
        // the geometric midpoint sqrt(500 · 4000) = 1414 as a third cell with 8 trials.
        func strip(_ row: ResultRow) -> ResultRow {
            var row = row
            (row.workerID, row.host, row.startedAt, row.finishedAt, row.trainSeconds) = ("", "", .distantPast, .distantPast, nil)
            row.report?.trainSeconds = 0
            return row
        }
        #expect(refined.prefix(16).map(strip) == fixed.map(strip))
        let added = refined.dropFirst(16)
        #expect(added.count == 8)
        #expect(Set(added.map(\.cellIndex)) == [2])
        #expect(Set(added.map { $0[axis: "steps"] }) == [.int(1414)])
        // Its runs are those of a plain sweep over that value: seeds by value, not by position.
        #expect(added.map { strip($0).report } == middle.map { strip($0).report })
        #expect(added.map(\.trainingSeed) == middle.map(\.trainingSeed))
        // The table lists it between its neighbours.
        let table = try deterministicTable(directory.appendingPathComponent("refined"))
        #expect(table.map { $0["steps"] } == ["500", "1414", "4000"].map { "\(Double($0)!.bitPattern)" })
    }
}
