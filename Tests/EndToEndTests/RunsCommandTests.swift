import Foundation
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

/// `dlsweep runs DIR`: one line per run with every axis, seed and stored metric, filtered by
/// `--where`, as CSV or JSON Lines, from a folder of known figures.
@Suite struct RunsCommandTests {
    static let yaml = """
        name: runs-export
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
        grid:
          init_scale: [0.1, 1.0]
          depth: [2, 3]
          lambda: [0.0, 0.01]
        trials: 2
        training: {steps: 100}
        test_noise: [0.0, 0.1]
        """

    /// 16 tasks; task 5 failed; trial 0 of each cell has a trajectory.
    static func folder() throws -> (directory: URL, plan: SweepPlan) {
        let directory = try makeTemporaryDirectory()
        let plan = try writeSyntheticStore(directory: directory.appendingPathComponent("out"), yaml: yaml) { task in
            guard task.id != 5 else { return nil }
            return syntheticReport(converged: task.trial == 0, testError: [0.25, 0.5 + Double(task.id)], oracleTestError: [0.125, 0.25],
                                   trajectory: task.trial == 0 ? syntheticTrajectory(steps: 100) : [])
        }
        return (directory, plan)
    }

    static func csv(_ text: String) -> (header: [String], rows: [[String: String]]) {
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return ([], []) }
        return (header, lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) })
    }

    @Test("CSV: a header with every axis, seed and stored metric (the registry's columns), one row per run in task order")
    func csvExport() throws {
        let (directory, plan) = try Self.folder()
        let command = try DLSweepProcess(["runs", "out"], in: directory, label: "runs")
        #expect(command.wait(seconds: 60) == 0, "\(command.stderr)")
        let (header, rows) = Self.csv(command.stdout)
        #expect(Array(header.prefix(5)) == ["task_id", "cell_index", "init_scale", "depth", "width"])
        for field in ResultsStore.reportFields {
            if case .perNoise = field.value {
                #expect(header.contains("\(field.column)@0") && header.contains("\(field.column)@0.1"), "\(field.column)")
            } else {
                #expect(header.contains(field.column), "\(field.column) missing from \(header)")
            }
        }
        #expect(rows.count == plan.taskCount)
        #expect(rows.map { $0["task_id"] } == (0..<plan.taskCount).map { String($0) })
        for (id, row) in rows.enumerated() {
            let task = plan.task(id)
            #expect(row["problem_seed"] == String(task.spec.seeds.problem) && row["training_seed"] == String(task.spec.seeds.training))
            #expect(row["init_scale"] == task.cell["init_scale"]?.description && row["lambda"] == task.cell["lambda"]?.description)
            #expect(row["host"] == (id % 2 == 0 ? "node-a" : "node-b"))
            if id == 5 {
                #expect(row["status"] == "failed" && row["converged"] == "" && row["failure_reason"] == "synthetic failure of task 5")
            } else {
                #expect(row["status"] == "ok" && row["converged"] == (task.trial == 0 ? "true" : "false"))
                #expect(row["test_error@0.1"] == decimalLabel(0.5 + Double(id)) && row["oracle_test_error@0"] == "0.125")
            }
        }
    }

    @Test("--where on axes with and without a column of their own and on a store column; JSON Lines with trajectories")
    func filtersAndJSONLines() throws {
        let (directory, plan) = try Self.folder()
        let filtered = try DLSweepProcess(["runs", "out", "--where", "depth=3", "--where", "lambda=0.01", "--where", "init_scale=1",
                                           "--format", "jsonl", "--trajectories"], in: directory, label: "filtered")
        #expect(filtered.wait(seconds: 60) == 0, "\(filtered.stderr)")
        let objects = try filtered.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let expected = (0..<plan.taskCount).filter { id in
            let cell = plan.task(id).cell
            return cell["depth"] == .int(3) && cell["lambda"] == .double(0.01) && cell["init_scale"] == .double(1)
        }
        #expect(expected.count == 2)
        #expect(objects.map { ($0["task_id"] as? NSNumber)?.intValue } == expected)
        for object in objects {
            #expect((object["depth"] as? NSNumber)?.intValue == 3 && (object["lambda"] as? NSNumber)?.doubleValue == 0.01)
            let trial = (object["trial"] as? NSNumber)?.intValue
            let trajectory = object["trajectory"] as? [String: Any]
            #expect(trial == 0 ? (trajectory?["step"] as? [Any])?.isEmpty == false : object["trajectory"] is NSNull, "\(object)")
        }
        let failed = try DLSweepProcess(["runs", "out", "--where", "status=failed"], in: directory, label: "failed")
        #expect(failed.wait(seconds: 60) == 0, "\(failed.stderr)")
        #expect(Self.csv(failed.stdout).rows.map { $0["task_id"] } == ["5"])
    }

    @Test("bad input gets one line naming it, and nothing is written: a column that does not exist, a bad value, a folder that is not a sweep")
    func badInput() throws {
        let (directory, _) = try Self.folder()
        let before = try Data(contentsOf: directory.appendingPathComponent("out/results.sqlite"))
        for (arguments, message) in [
            (["runs", "out", "--where", "colour=red", "--output", "x.csv"], "--where colour=red: no axis or column 'colour'"),
            (["runs", "out", "--where", "depth=deep", "--output", "x.csv"], "--where depth=deep: 'deep' is not a number"),
            (["runs", "out", "--where", "depth", "--output", "x.csv"], "--where depth: expected KEY=VALUE"),
            (["runs", "nowhere", "--output", "x.csv"], "nowhere: no results database"),
        ] {
            let command = try DLSweepProcess(arguments, in: directory, label: "bad")
            #expect(command.wait(seconds: 60) != 0)
            let lines = command.stderr.split(separator: "\n")
            #expect(lines.count == 1 && command.stderr.contains(message), "\(arguments): \(command.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("x.csv").path))
        }
        #expect(try Data(contentsOf: directory.appendingPathComponent("out/results.sqlite")) == before)
    }
}
