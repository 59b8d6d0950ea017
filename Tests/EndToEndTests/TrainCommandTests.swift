import Foundation
import LinearAlgebra
import NumPyFiles
import Testing

/// `dlsweep train` as a user runs it.
@Suite struct TrainCommandTests {
    let small = ["--signal-dim", "20", "--measurements", "10", "--latent-dim", "2", "--samples", "12",
                 "--depth", "3", "--width", "8"]

    @Test("--json prints one object with the metric names of MODEL.md as keys")
    func json() throws {
        let directory = try makeTemporaryDirectory()
        let run = try DLSweepProcess(["train"] + small + ["--lambda", "0.5", "--steps", "3000", "--stop-on-success",
                                                          "--test-noise", "0,0.1", "--json"],
                                     in: directory, label: "json")
        #expect(run.wait(seconds: 60) == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == [
            "train_residual", "reconstruction_error", "off_subspace_error", "oracle_distance", "target_distance",
            "gradient_norm", "oracle_norm", "test_error", "oracle_test_error", "balancedness", "effective_rank",
            "iterations", "converged_at", "recovered_at", "stationary_at", "diverged", "converged", "recovered",
            "stationary", "step_budget", "budget_capped", "train_seconds", "balancedness_drift", "loss_gap_rate",
            "best_rank_gap", "flow_time", "loss_ratio", "target_method", "target_residual",
        ])
        let testError = try #require(object["test_error"] as? [String: Double])
        #expect(Set(testError.keys) == ["0", "0.1"])
        let oracle = try #require(object["oracle_test_error"] as? [String: Double])
        #expect(try #require(oracle["0"]) < 1e-10)
        #expect(object["converged"] as? Bool == true)
        #expect(try #require(object["target_distance"] as? Double) <= 1e-3)
        #expect(object["iterations"] as? Int == object["converged_at"] as? Int)
    }

    @Test("--model diagonal: the report with the diagonal figures, the text summary, and the deep-linear options refused")
    func diagonal() throws {
        let directory = try makeTemporaryDirectory()
        let args = ["train", "--model", "diagonal", "--signal-dim", "20", "--measurements", "10", "--latent-dim", "2",
                    "--depth", "2", "--init-scale", "0.1", "--eta-scale", "1", "--steps", "100000", "--tol-conv", "1e-8",
                    "--stop-on-success"]
        let run = try DLSweepProcess(args + ["--json"], in: directory, label: "diagonal")
        #expect(run.wait(seconds: 60) == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["converged"] as? Bool == true && object["support_recovered"] as? Bool != nil)
        let loss = try #require(object["final_loss"] as? Double), residual = try #require(object["train_residual"] as? Double)
        #expect(residual <= 1e-8 && loss >= 0)
        let rho = try #require(object["certificate_off_support"] as? Double)
        #expect(rho > 0 && rho < 1)
        #expect(try #require(object["l1_norm"] as? Double) > 0 && (object["target_distance"] as? Double ?? -1) > 0)

        let text = try DLSweepProcess(args, in: directory, label: "diagonal-text")
        #expect(text.wait(seconds: 60) == 0, "\(text.stderr)")
        #expect(text.stdout.contains("distance to the minimum-l1 solution") && text.stdout.contains("support recovered: "))

        let refused = try DLSweepProcess(args + ["--save-weights", "w"], in: directory, label: "diagonal-refused")
        #expect(refused.wait(seconds: 60) != 0)
        #expect(refused.stderr.contains("--save-weights applies to the deep-linear model, not diagonal"), "\(refused.stderr)")
        // What the diagonal model cannot train with is refused by the settings, before any run.
        let decayed = try DLSweepProcess(args + ["--lambda", "0.1"], in: directory, label: "diagonal-lambda")
        #expect(decayed.wait(seconds: 60) != 0)
        #expect(decayed.stderr.contains("--lambda: diagonal has no weight decay: lambda must be 0, not 0.1"), "\(decayed.stderr)")
        // A deep network's setting the diagonal model has no place for: refused, not ignored.
        for (option, value) in [("--width", "10"), ("--samples", "12"), ("--init", "orthogonal"), ("--test-noise", "0,0.1"), ("--path", "plain")] {
            let given = try DLSweepProcess(args + [option, value], in: directory, label: "diagonal\(option)")
            #expect(given.wait(seconds: 60) != 0)
            #expect(given.stderr.contains("\(option) applies to the deep-linear model, not diagonal (docs/MODEL.md §5)"), "\(given.stderr)")
        }
    }

    @Test("--optimizer flow integrates to its horizon and logs the singular values of W")
    func flow() throws {
        let directory = try makeTemporaryDirectory()
        let run = try DLSweepProcess(["train"] + small + ["--lambda", "0.2", "--optimizer", "flow", "--flow-rtol", "1e-9",
                                                          "--flow-atol", "1e-9", "--flow-time", "30", "--log-every", "5", "--json"],
                                     in: directory, label: "flow")
        #expect(run.wait(seconds: 60) == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(try #require(object["flow_time"] as? Double) == 30)
        #expect(object["step_budget"] as? Int == object["iterations"] as? Int)
        let trajectory = try #require(object["trajectory"] as? [[String: Any]])
        let last = try #require(trajectory.last)
        let values = try #require(last["singular_values"] as? [Double])
        #expect(values.count == 10)
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(try #require(last["flow_time"] as? Double) > 0)
    }

    @Test("--problem, --init-weights and --save-weights: saved weights replay bit for bit")
    func weightsRoundTrip() throws {
        let directory = try makeTemporaryDirectory()
        var rng = NormalGenerator(seed: 4)
        let basis = try LAPACK.orthonormalColumns(rng.normalMatrix(rows: 20, columns: 2))
        let x = basis * rng.normalMatrix(rows: 2, columns: 12)
        let a = rng.normalMatrix(rows: 10, columns: 20, standardDeviation: 1 / 10.0.squareRoot())
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        try NPYFile.write(a, to: directory.appendingPathComponent("data/A.npy").path)
        try NPYFile.write(x, to: directory.appendingPathComponent("data/X.npy").path)

        let first = try DLSweepProcess(["train", "--problem", "data", "--depth", "3", "--width", "8", "--steps", "200",
                                        "--eta", "0.01", "--save-weights", "after200", "--json"], in: directory, label: "first")
        #expect(first.wait(seconds: 60) == 0, "\(first.stderr)")
        // 200 more steps from the saved weights equal 400 steps from the start.
        let resumed = try DLSweepProcess(["train", "--problem", "data", "--init-weights", "after200", "--steps", "200",
                                          "--eta", "0.01", "--save-weights", "resumed"], in: directory, label: "resumed")
        #expect(resumed.wait(seconds: 60) == 0, "\(resumed.stderr)")
        let straight = try DLSweepProcess(["train", "--problem", "data", "--depth", "3", "--width", "8", "--steps", "400",
                                           "--eta", "0.01", "--save-weights", "straight"], in: directory, label: "straight")
        #expect(straight.wait(seconds: 60) == 0, "\(straight.stderr)")
        for l in 1...3 {
            let r = try NPYFile.read(directory.appendingPathComponent("resumed/W\(l).npy").path)
            let s = try NPYFile.read(directory.appendingPathComponent("straight/W\(l).npy").path)
            #expect(r.rows == s.rows && r.columns == s.columns)
            #expect((r - s).frobeniusNorm <= 1e-12 * s.frobeniusNorm, "W\(l)")
        }
    }

    @Test("bad input is a one-line error naming the culprit, with a non-zero exit", arguments: [
        (["--depth", "0"], "depth"),
        (["--width", "0"], "width"),
        (["--lambda=-1"], "lambda"),
        (["--measurements", "300"], "measurements"),
        (["--problem", "missing"], "missing/A.npy"),
        (["--problem", "badshape"], "X has"),
        (["--problem", "nonfinite"], "A has non-finite"),
        (["--init-weights", "empty"], "W1.npy"),
        (["--test-noise", "0,abc"], "abc"),
        (["--alpha", "2"], "--alpha applies to --optimizer heavy-ball or inertial, not gd"),
        (["--optimizer", "heavy-ball", "--beta", "0.1"], "--beta applies to --optimizer inertial only, not heavy-ball"),
        (["--optimizer", "inertial", "--alpha=-1"], "alpha must be a finite number >= 0"),
        (["--optimizer", "heavy-ball", "--alpha", "1000"], "alpha * h"),
        (["--flow-rtol", "1e-6"], "--flow-rtol applies to --optimizer flow only, not gd"),
        (["--optimizer", "flow", "--flow-atol", "2"], "flow_atol must be a number in (0, 1)"),
        (["--optimizer", "flow", "--step-rule", "adaptive"], "--step-rule adaptive applies to gd, heavy-ball and inertial"),
    ])
    func badInput(arguments: [String], culprit: String) throws {
        let directory = try makeTemporaryDirectory()
        for name in ["badshape", "nonfinite", "empty"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        var a = Matrix(rows: 10, columns: 20, repeating: 0.1)
        try NPYFile.write(a, to: directory.appendingPathComponent("badshape/A.npy").path)
        try NPYFile.write(Matrix(rows: 19, columns: 5, repeating: 1), to: directory.appendingPathComponent("badshape/X.npy").path)
        a[3, 4] = .nan
        try NPYFile.write(a, to: directory.appendingPathComponent("nonfinite/A.npy").path)
        try NPYFile.write(Matrix(rows: 20, columns: 5, repeating: 1), to: directory.appendingPathComponent("nonfinite/X.npy").path)
        let run = try DLSweepProcess(["train", "--steps", "10"] + arguments, in: directory, label: "bad")
        let status = run.wait(seconds: 60)
        #expect(status != nil && status != 0)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains(culprit), "\(run.stderr)")
    }
}
