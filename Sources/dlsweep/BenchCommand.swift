import ArgumentParser
import Foundation
import LinearAlgebra
import TrainingCore

/// `dlsweep bench …`: speed figures printed as numbers and ratios (never timed tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: the training core, the coordinator, dispatch to worker processes.",
        subcommands: [BenchCoreCommand.self, BenchCoordinatorCommand.self, BenchDispatchCommand.self, BenchOverheadCommand.self])
}

struct BenchCoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Steps per second of the reduced and plain paths at the paper's Figure 1 size, against this machine's dgemm and NumPy.")

    @Option(help: "Steps timed on the reduced path (the plain path runs a tenth).") var steps = 2000
    @Option(help: "L.") var depth = 5
    @Option(help: "d_w.") var width = 400
    @Flag(help: "Also time one NumPy step of the Gram form (scripts/bench_numpy_step.py) and print the speed-up.")
    var numpy = false
    @Option(help: "Also time the reduced path with the outcome checks every K steps, as a sweep runs them (check_every), and print their overhead.")
    var checkEvery: Int?

    func run() throws {
        BLAS.setThreads(1)
        var spec = RunSpec()
        spec.model.depth = depth
        spec.model.width = width
        spec.training.lambda = 1e-3
        // Time the step itself, as the NumPy script does: the outcome and divergence checks
        // (every 10 steps in a sweep; --check-every measures them) run only at the end here.
        spec.training.checkEvery = 1_000_000
        let problem = try Problem.generate(spec.problem, seed: 1)
        let (d, m, k) = (spec.problem.signalDim, spec.problem.measurements, spec.problem.latentDim)
        print("size: d=\(d) m=\(m) r=\(k) n=\(spec.problem.samples) L=\(depth) d_w=\(width), one BLAS thread")

        /// CPU seconds of this thread (the machine may be shared: time other processes take
        /// from the core does not count).
        func cpuSeconds() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
        }
        /// A run of `steps` steps less one of a few steps: the set-up and final measurement
        /// cancel, the steps (and checks) remain.
        func secondsPerStep(_ path: GradientPath, steps: Int, checkEvery: Int = 1_000_000) throws -> Double {
            var training = spec.training
            training.path = path
            training.checkEvery = checkEvery
            let few = 10
            func run(_ n: Int) throws -> Double {
                training.steps = .fixed(n)
                let start = cpuSeconds()
                _ = try train(problem: problem, model: spec.model, training: training, trainingSeed: 2)
                return cpuSeconds() - start
            }
            let short = try run(few)
            return (try run(few + steps) - short) / Double(steps)
        }
        _ = try secondsPerStep(.reduced, steps: 20)
        // The reduced step with each instruction-set version of the kernels this CPU runs
        // (the portable loops only when there is no other), the fastest last.
        let simd = ThinKernels.Variant.allCases.filter { $0 != .portable && $0.isSupported }
        var byVariant: [(ThinKernels.Variant, Double)] = []
        for variant in simd.isEmpty ? [.portable] : simd {
            ThinKernels.Variant.choose(variant)
            defer { ThinKernels.Variant.choose(nil) }
            byVariant.append((variant, try secondsPerStep(.reduced, steps: steps)))
        }
        let reduced = byVariant.last!.1
        let plain = try secondsPerStep(.plain, steps: max(10, steps / 10))

        // Flops of one step: forward, backward and update on every layer.
        let dims = [m] + Array(repeating: width, count: depth - 1) + [d]
        func stepFlops(columns c: Int) -> Double {
            var flops = 0.0
            for l in 1..<depth { flops += 3 * 2 * Double(dims[l + 1] * dims[l] * c) }
            return flops
        }
        let reducedFlops = stepFlops(columns: k), plainFlops = stepFlops(columns: m)

        let size = 400
        var a = Matrix(rows: size, columns: size, repeating: 0.5), b = a, c = a
        var rng = NormalGenerator(seed: 3)
        a = rng.normalMatrix(rows: size, columns: size)
        b = rng.normalMatrix(rows: size, columns: size)
        BLAS.gemm(a, b, into: &c)
        let reps = 20
        let start = cpuSeconds()
        for _ in 0..<reps { BLAS.gemm(a, b, into: &c) }
        let gemmRate = Double(reps) * 2 * pow(Double(size), 3) / (cpuSeconds() - start)

        func line(_ name: String, _ seconds: Double, _ flops: Double) {
            print(String(format: "%-8@ %10.1f steps/s  %8.3f ms/step  %6.2f GFLOP/s  (%.0f%% of dgemm)",
                         name as NSString, 1 / seconds, seconds * 1e3, flops / seconds / 1e9, 100 * flops / seconds / gemmRate))
        }
        print(String(format: "dgemm %dx%dx%d: %.2f GFLOP/s", size, size, size, gemmRate / 1e9))
        for (variant, seconds) in byVariant {
            line("reduced", seconds, reducedFlops)
            print("         (kernels: \(variant))")
        }
        line("plain", plain, plainFlops)
        print(String(format: "reduced / plain speed-up: %.1fx", plain / reduced))

        if let checkEvery {
            guard checkEvery >= 1 else { throw ValidationError("--check-every must be at least 1, got \(checkEvery)") }
            // The same run with the checks a sweep makes (default tolerances; at λ = 1e-3 no
            // outcome is reached within a few thousand steps, so every check does its work).
            // The best of three alternating runs each: a few per cent is within one run's noise
            // on a shared machine.
            var without = reduced, with = Double.infinity
            for _ in 0..<3 {
                with = min(with, try secondsPerStep(.reduced, steps: steps, checkEvery: checkEvery))
                without = min(without, try secondsPerStep(.reduced, steps: steps))
            }
            print(String(format: "reduced with checks every %d steps: %.3f ms/step; without checks: %.3f ms/step (best of 3 each, this run)",
                         checkEvery, with * 1e3, without * 1e3))
            print(String(format: "check overhead: %.3f (with / without checks), checks add %.1f%% to the step",
                         with / without, 100 * (with / without - 1)))
        }

        if numpy {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/bench_numpy_step.py").path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, "--depth", "\(depth)", "--width", "\(width)"]
            var environment = ProcessInfo.processInfo.environment
            environment["OPENBLAS_NUM_THREADS"] = "1"
            environment["OMP_NUM_THREADS"] = "1"
            environment["MKL_NUM_THREADS"] = "1"
            process.environment = environment
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                  let value = output.split(separator: " ").last.flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            else { throw ValidationError("\(script) failed (is numpy installed? bash scripts/setup.sh)") }
            print(String(format: "numpy Gram-form step: %.3f ms; reduced path speed-up over it: %.1fx", value * 1e3, value / reduced))
        }
    }
}
