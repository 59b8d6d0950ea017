import Foundation
import LinearAlgebra
import NumPyFiles
import Testing
import TrainingCore

/// Exact replay: the same A, X and initial weights as `.npy`, T steps with a fixed eta,
/// give final weights equal to a float64 NumPy implementation (scripts/replay_numpy.py).
@Suite struct NumPyReplayTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/replay_numpy.py").path

    /// The third case's W_2 (128 × 128) keeps its weight decay in a scale (GradientStep.swift,
    /// `scaledLayerSize`), and λ = 30 makes ηλ large enough that the scale folds back into W_2
    /// several times; that width needs a tenth of the step to stay stable.
    @Test("final weights agree with NumPy to 1e-9 relative",
          arguments: [(GradientPath.reduced, 0.03, 10, 0.5), (.plain, 0.03, 10, 0.5), (.reduced, 30, 128, 0.05)])
    func replay(path: GradientPath, lambda: Double, width: Int, etaScale: Double) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-replay-\(UUID().uuidString)")
        let problemDir = directory.appendingPathComponent("problem"), initDir = directory.appendingPathComponent("init")
        let outDir = directory.appendingPathComponent("numpy")
        for dir in [problemDir, initDir] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        defer { try? FileManager.default.removeItem(at: directory) }

        let generated = try smallProblem(seed: 21, signalDim: 24, measurements: 12, latentDim: 3, samples: 15)
        try NPYFile.write(generated.a, to: problemDir.appendingPathComponent("A.npy").path)
        try NPYFile.write(generated.x, to: problemDir.appendingPathComponent("X.npy").path)
        let net = model(depth: 3, width: width)
        let start = try weights(for: generated, net, seed: 22)
        for (l, w) in start.enumerated() { try NPYFile.write(w, to: initDir.appendingPathComponent("W\(l + 1).npy").path) }

        // What the CLI does with --problem and --init-weights: read the files back.
        let problem = try Problem(a: try NPYFile.read(problemDir.appendingPathComponent("A.npy").path),
                                  x: try NPYFile.read(problemDir.appendingPathComponent("X.npy").path))
        let initial = try (1...3).map { try NPYFile.read(initDir.appendingPathComponent("W\($0).npy").path) }
        // A stable fixed step: `etaScale` of the usual eta-scale bound; passed to NumPy in shortest
        // round-trip decimal form, so both sides use the same double.
        let sMax = try LAPACK.singularValues(problem.a * problem.x)[0]
        let eta = etaScale / (3 * sMax * sMax)
        var training = TrainingSpec()
        training.eta = eta
        training.lambda = lambda
        training.steps = 300
        if lambda > 1 { try #require(Foundation.pow(1 - eta * lambda, 300) < 0.25, "two folds at least") }
        training.path = path
        let ours = try train(problem: problem, model: net, training: training, trainingSeed: 1, initialWeights: initial)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, problemDir.path, initDir.path, outDir.path,
                             "--eta", "\(eta)", "--lambda", "\(lambda)", "--steps", "300"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0,
                     "python3 with numpy is needed for this test (bash scripts/setup.sh installs it): \(message)")
        for l in 0..<3 {
            let theirs = try NPYFile.read(outDir.appendingPathComponent("W\(l + 1).npy").path)
            let difference = relativeDifference(ours.weights[l], theirs)
            #expect(difference < 1e-9, "W\(l + 1): relative difference \(difference)")
        }
        #expect(relativeDifference(ours.weights[0], initial[0]) > 1e-3, "the weights moved")
    }

    /// `dlsweep bench core --numpy` compares the reduced path with the expert's NumPy version of
    /// the same algorithm: it must be that algorithm, with and without training noise (k = 5, 50).
    @Test("the NumPy benchmark's reduced step (SciPy dgemm in place) gives the Gram form's iterates",
          arguments: [0.0, 0.1])
    func benchmarkReducedStep(noise: Double) throws {
        let script = URL(fileURLWithPath: Self.script).deletingLastPathComponent()
            .appendingPathComponent("bench_numpy_step.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--check", "--noise", "\(noise)", "--width", "40", "--depth", "4"]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(said) \(message) (numpy and scipy: bash scripts/setup.sh)")
        #expect(said.hasPrefix(noise > 0 ? "rank 50:" : "rank 5:"), "\(said)")
    }
}
