import ArgumentParser
import Foundation
import LinearAlgebra
import TrainingCore

/// `dlsweep bench …`: speed figures printed as numbers and ratios (never timed tests).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: the training core, the coordinator, dispatch to worker processes.",
        subcommands: [BenchCoreCommand.self, BenchCoordinatorCommand.self, BenchDispatchCommand.self, BenchOverheadCommand.self,
                      BenchWorkerDriverCommand.self])
}

/// Which kernel variants `bench core` times the reduced step with.
enum KernelChoice: String, ExpressibleByArgument, CaseIterable {
    case all, portable, avx2, avx512

    var variant: ThinKernels.Variant? {
        switch self {
        case .all: nil
        case .portable: .portable
        case .avx2: .avx2
        case .avx512: .avx512
        }
    }
}

struct BenchCoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Steps per second of the reduced and plain paths at the paper's Figure 1 size, against this machine's dgemm, its FMA peak and NumPy.")

    @Option(help: "Steps timed on the reduced path (the plain path and the noisy case run a tenth).") var steps = 2000
    @Option(help: "L.") var depth = 5
    @Option(help: "d_w.") var width = 400
    @Option(help: """
        The kernels to time the reduced step with: every variant this CPU runs (all), or one of \
        portable, avx2, avx512. On an AVX-512 CPU, `--kernels avx2` with OPENBLAS_CORETYPE=Haswell \
        (dgemm on AVX2 too) measures what an AVX2-only CPU of the same clock would do.
        """)
    var kernels: KernelChoice = .all
    @Option(help: "sigma_train of the noisy case, where rank(Y) = min(m, n) (50 here, not r = 5); 0 leaves it out.")
    var noise = 0.1
    @Flag(help: "Also time NumPy (scripts/bench_numpy_step.py): the Gram form and the reduced algorithm with SciPy's in-place dgemm, and print the speed-ups.")
    var numpy = false

    @Option(help: "With --numpy: rounds that alternate the reduced step and NumPy's, a speed-up from each.")
    var numpyRounds = 3
    @Option(help: "Also time the reduced path with the outcome checks every K steps, as a sweep runs them (check_every), and print their overhead.")
    var checkEvery: Int?

    func run() throws {
        guard numpyRounds >= 1 else { throw ValidationError("--numpy-rounds must be at least 1, got \(numpyRounds)") }
        BLAS.setThreads(1)
        var spec = DeepLinearSpec()
        spec.network.depth = depth
        spec.network.width = width
        spec.training.lambda = 1e-3
        // Time the step itself, as the NumPy script does: the outcome and divergence checks
        // (every 10 steps in a sweep; --check-every measures them) run only at the end here.
        spec.training.checkEvery = 1_000_000
        let problem = try Problem.generate(spec.problem, seed: 1)
        let (d, m, k, n) = (spec.problem.signalDim, spec.problem.measurements, spec.problem.latentDim, spec.problem.samples)
        print("size: d=\(d) m=\(m) r=\(k) n=\(n) L=\(depth) d_w=\(width), one BLAS thread (OpenBLAS kernels: \(BLAS.coreName))")
        if let suggested = BLAS.suggestedCoreType() {
            print("  (this OpenBLAS does not know the CPU and runs kernels without AVX: dgemm, the plain path and each run's "
                  + "set-up run faster with OPENBLAS_CORETYPE=\(suggested), which dlsweep leaves to you: README, Speed)")
        }

        /// CPU seconds of this thread (the machine may be shared: time other processes take
        /// from the core does not count).
        func cpuSeconds() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
        }
        /// A run of `steps` steps less one of a few steps: the set-up and final measurement
        /// cancel, the steps (and checks) remain.
        func secondsPerStep(_ path: GradientPath, steps: Int, checkEvery: Int = 1_000_000, noise: Double = 0) throws -> Double {
            var training = spec.training
            training.path = path
            training.checkEvery = checkEvery
            training.noise = noise
            let few = 10
            func run(_ n: Int) throws -> Double {
                training.steps = .fixed(n)
                let start = cpuSeconds()
                _ = try train(problem: problem, model: spec.network, training: training, trainingSeed: 2)
                return cpuSeconds() - start
            }
            let short = try run(few)
            return (try run(few + steps) - short) / Double(steps)
        }
        _ = try secondsPerStep(.reduced, steps: 20)
        // The reduced step with each instruction-set version of the kernels asked for (all: every
        // one this CPU runs, the portable loops only when there is no other), the fastest last,
        // and the FMA peak of each version's own instructions, measured in this run.
        let variants: [ThinKernels.Variant]
        if let chosen = kernels.variant {
            guard chosen.isSupported else { throw ValidationError("this CPU does not run the \(chosen) kernels") }
            variants = [chosen]
        } else {
            let simd = ThinKernels.Variant.allCases.filter { $0 != .portable && $0.isSupported }
            variants = simd.isEmpty ? [.portable] : simd
        }
        var byVariant: [(variant: ThinKernels.Variant, seconds: Double, peak: Double)] = []
        for variant in variants {
            ThinKernels.Variant.choose(variant)
            defer { ThinKernels.Variant.choose(nil) }
            byVariant.append((variant, try secondsPerStep(.reduced, steps: steps), variant.measuredPeak()))
        }
        let reduced = byVariant.last!.seconds
        let plain = try secondsPerStep(.plain, steps: max(10, steps / 10))
        // The noisy case: k = min(m, n) columns, in the same blocked kernels (gemm without SIMD ones).
        // With --kernels, the chosen variant (an AVX2-only CPU is emulated whole).
        let noisyRank = min(m, n)
        let noisyVariant = kernels.variant ?? ThinKernels.Variant.best
        ThinKernels.Variant.choose(kernels.variant)
        let noisy = noise > 0 ? try secondsPerStep(.reduced, steps: max(10, steps / 10), noise: noise) : nil
        ThinKernels.Variant.choose(nil)

        // Flops of one step: forward, backward and update on every layer.
        let dims = [m] + Array(repeating: width, count: depth - 1) + [d]
        func stepFlops(columns c: Int) -> Double {
            var flops = 0.0
            for l in 1..<depth { flops += 3 * 2 * Double(dims[l + 1] * dims[l] * c) }
            return flops
        }

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
        // BLAS runs the widest units present.
        let widest = ThinKernels.Variant.allCases.last { $0.isSupported } ?? .portable
        let widestPeak = byVariant.first { $0.variant == widest }?.peak ?? widest.measuredPeak()

        func line(_ name: String, _ seconds: Double, _ flops: Double, peak: Double, of variant: ThinKernels.Variant) {
            let rate = flops / seconds
            print(String(format: "%-8@ %10.1f steps/s  %8.3f ms/step  %6.2f GFLOP/s  (%.0f%% of dgemm, %.0f%% of the %@ peak)",
                         name as NSString, 1 / seconds, seconds * 1e3, rate / 1e9, 100 * rate / gemmRate,
                         100 * rate / peak, variant.description as NSString))
        }
        print(String(format: "dgemm %dx%dx%d: %.2f GFLOP/s", size, size, size, gemmRate / 1e9))
        print("FMA peak, one thread: " + ([widest] + byVariant.map(\.variant)).reduce(into: [ThinKernels.Variant]()) {
            if !$0.contains($1) { $0.append($1) }
        }.map { variant in
            let peak = variant == widest ? widestPeak : byVariant.first { $0.variant == variant }!.peak
            return String(format: "%@ %.1f GFLOP/s", variant.description as NSString, peak / 1e9)
        }.joined(separator: ", "))
        for (variant, seconds, peak) in byVariant {
            line("reduced", seconds, stepFlops(columns: k), peak: peak, of: variant)
            print("         (kernels: \(variant))")
        }
        if let noisy {
            let noisyPeak = byVariant.first { $0.variant == noisyVariant }?.peak ?? noisyVariant.measuredPeak()
            line("noisy", noisy, stepFlops(columns: noisyRank), peak: noisyPeak, of: noisyVariant)
            let products = noisyVariant == .portable ? "gemm" : "kernels: \(noisyVariant)"
            print(String(format: "         (sigma_train = %g: rank(Y) = %d, %@; %.1fx the noiseless step's time for %.0fx its flops)",
                         noise, noisyRank, products as NSString, noisy / reduced, Double(noisyRank) / Double(k)))
        }
        line("plain", plain, stepFlops(columns: m), peak: widestPeak, of: widest)
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
            let gram = try numpyStepSeconds(noise: 0, form: "gram")
            print(String(format: "numpy Gram-form step: %.3f ms; reduced path speed-up over it: %.1fx",
                         gram * 1e3, gram / reduced))
            // The anchor in rounds that alternate the two steps, each ratio from one round: a
            // shared machine's speed drifts by a third within a minute, more than the ratio's
            // own spread when both sides run under the same conditions.
            let best = byVariant.last!.variant
            ThinKernels.Variant.choose(best)
            var rounds: [(ours: Double, numpy: Double)] = []
            for _ in 0..<numpyRounds {
                let ours = try secondsPerStep(.reduced, steps: steps)
                rounds.append((ours, try numpyStepSeconds(noise: 0, form: "reduced")))
            }
            ThinKernels.Variant.choose(nil)
            let ratios = rounds.map { $0.numpy / $0.ours }
            func milliseconds(_ values: [Double]) -> String {
                values.map { String(format: "%.3f", $0 * 1e3) }.joined(separator: ", ")
            }
            print("numpy reduced step (SciPy dgemm in place, beta = 1 - eta lambda), \(rounds.count) rounds alternating "
                + "with the reduced step (kernels: \(best)): numpy \(milliseconds(rounds.map(\.numpy))) ms, "
                + "dlsweep \(milliseconds(rounds.map(\.ours))) ms")
            print(String(format: "reduced path speed-up over the numpy reduced step: %@ (median %.2fx)",
                         ratios.map { String(format: "%.2fx", $0) }.joined(separator: ", ") as NSString,
                         ratios.sorted()[ratios.count / 2]))
            if let noisy {
                let noisyNumpy = try numpyStepSeconds(noise: noise, form: "reduced")
                print(String(format: "numpy reduced step, sigma_train = %g: %.3f ms; noisy path speed-up over it: %.2fx",
                             noise, noisyNumpy * 1e3, noisyNumpy / noisy))
            }
        }
    }

    /// Seconds per step of one of scripts/bench_numpy_step.py's forms ("gram" or "reduced"), with
    /// one BLAS thread.
    func numpyStepSeconds(noise: Double, form: String) throws -> Double {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/bench_numpy_step.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--depth", "\(depth)", "--width", "\(width)", "--noise", "\(noise)",
                             "--form", form]
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
        let key = "\(form)_step_seconds"
        var seconds: Double?
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == key { seconds = Double(fields[1]) }
        }
        guard process.terminationStatus == 0, let seconds else {
            throw ValidationError("\(script) failed (are numpy and scipy installed? bash scripts/setup.sh)")
        }
        return seconds
    }
}
