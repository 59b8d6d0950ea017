import Foundation
public import LinearAlgebra

/// A finished run: its report and the final weights W_1 … W_L.
public struct TrainingOutcome: Sendable {
    public var report: RunReport
    public var weights: [Matrix]
}

/// Trains a deep linear network on `problem` (MODEL.md §2) and measures it (§3, §4).
///
/// - Parameters:
///   - trainingSeed: draws the training noise E, then (unless given) the initial weights.
///   - initialWeights: W_1 … W_L to start from (their count sets the depth).
public func train(problem: Problem, model: ModelSpec, training: TrainingSpec, trainingSeed: UInt64,
                  initialWeights given: [Matrix]? = nil) throws -> TrainingOutcome {
    var model = model
    if let given { model.depth = given.count }
    var spec = RunSpec(model: model, training: training)
    spec.problem.signalDim = problem.signalDim
    spec.problem.measurements = problem.measurements
    spec.problem.latentDim = problem.latentDim
    spec.problem.samples = problem.samples
    try spec.validate()

    var rng = NormalGenerator(seed: trainingSeed)
    let noise = rng.normalMatrix(rows: problem.measurements, columns: problem.samples)
    var y = problem.a * problem.x
    if training.noise > 0 { BLAS.axpy(training.noise, noise, &y) }

    let weights: [Matrix]
    if let given {
        let shapes = layerShapes(depth: given.count, width: given.count > 1 ? given[0].rows : model.width,
                                 measurements: problem.measurements, signalDim: problem.signalDim)
        for (l, (w, shape)) in zip(given, shapes).enumerated() {
            guard w.rows == shape.rows, w.columns == shape.columns else {
                throw TrainingError("W\(l + 1) is \(w.shape); expected \(shape.rows)x\(shape.columns)")
            }
            guard w.isFinite else { throw TrainingError("W\(l + 1) has non-finite values") }
        }
        weights = given
        if given.count > 1 { model.width = given[0].rows }
    } else {
        weights = try initialWeights(model, measurements: problem.measurements, signalDim: problem.signalDim, rng: &rng)
    }
    var trainer = try GradientDescent(problem: problem, y: y, weights: weights, training: training)
    return try trainer.run()
}

/// Generates the problem of `spec`, trains the network and measures it. A pure function of
/// `spec` apart from `trainSeconds`.
public func runExperiment(_ spec: RunSpec) throws -> RunReport {
    try spec.validate()
    let problem = try Problem.generate(spec.problem, seed: spec.seeds.problem)
    return try train(problem: problem, model: spec.model, training: spec.training,
                     trainingSeed: spec.seeds.training).report
}

/// Full-batch gradient descent with weight decay on
/// `F = γ/2 ‖W_{L:1} Y − X‖² + λ/2 Σ ‖W_l‖²` (γ = 1, or 1/n with `meanDataTerm`).
///
/// The reduced path trains `V = W_1 U` (U: the left singular vectors of Y) instead of W_1:
/// the data gradient of W_1 has its rows in range(U), so `W_1 (I − U Uᵀ)` only decays as
/// `(1 − ηλ)^t` and is kept as its initial value times that factor. Every step then costs
/// O(L d_w² k) with k = rank(Y), and the weight decay is folded into each gemm (`beta`).
struct GradientDescent {
    let problem: Problem
    let training: TrainingSpec
    let depth: Int
    let eta: Double
    let decay: Double
    let lambdaLayer: Double
    let gamma: Double
    let tolRec: Double
    let tolOff: Double

    // Y = U diag(s) Vᵀ (rank k).
    let u: Matrix            // m × k
    let s: [Double]
    let xv: Matrix           // X V, d × k
    let b: Matrix            // X Yᵀ U = X V diag(s), d × k
    let outsideResidual: Double  // ‖X‖² − ‖X V‖²
    let y: Matrix
    let ar: Matrix           // A R, m × r
    let arBasis: Matrix      // orthonormal basis of range(A R), m × r'

    /// W_2 … W_L (index 0 is W_2).
    var upper: [Matrix]
    /// Reduced: V = W_1 U; plain: W_1 itself.
    var first: Matrix
    /// Reduced only: W_1 (I − U Uᵀ) at t = 0, and the factor (1 − ηλ)^t it has decayed by.
    let firstOutside: Matrix
    var outsideFactor = 1.0
    let firstOutsideAR: Matrix   // firstOutside · A R, n_1 × r
    let utAR: Matrix             // Uᵀ A R, k × r
    let reduced: Bool
    /// Thin operands (the reduced path's k columns): the L1-streaming kernels beat gemm.
    let thin: Bool

    // Work buffers of the hot loop.
    var forward: [Matrix]
    var backward: [Matrix]
    /// d × k: W U and its data gradient on the plain path (two buffers, so neither is
    /// copied on write).
    var scratch: Matrix
    var scratchGradient: Matrix
    /// The forward products of the next step, and the first layer before the update.
    var nextForward: [Matrix]
    var previousFirst: Matrix

    init(problem: Problem, y: Matrix, weights: [Matrix], training: TrainingSpec) throws {
        self.problem = problem
        self.training = training
        self.y = y
        depth = weights.count
        reduced = training.path == .reduced
        let n = Double(problem.samples)
        gamma = training.meanDataTerm ? 1 / n : 1
        lambdaLayer = training.lambdaPerLayer ? training.lambda / Double(depth) : training.lambda

        let svd = try LAPACK.svd(y)
        let sMax = svd.singularValues.first ?? 0
        guard sMax > 0 else { throw TrainingError("the training measurements Y are zero") }
        eta = training.eta ?? training.etaScale / (Double(depth) * gamma * sMax * sMax)
        decay = 1 - eta * lambdaLayer
        let k = svd.rank(relativeTolerance: 1e-12)
        u = svd.u.columns(0..<k)
        s = Array(svd.singularValues.prefix(k))
        var v = Matrix(rows: problem.samples, columns: k)
        for i in 0..<problem.samples { for j in 0..<k { v[i, j] = svd.vt[j, i] } }
        xv = problem.x * v
        var b = xv
        for j in 0..<k { for i in 0..<b.rows { b[i, j] *= s[j] } }
        self.b = b
        outsideResidual = max(0, BLAS.squaredNorm(problem.x) - BLAS.squaredNorm(xv))
        ar = problem.a * problem.basis
        let arSVD = try LAPACK.svd(ar)
        arBasis = arSVD.u.columns(0..<arSVD.rank(relativeTolerance: 1e-10))

        let r = Double(problem.latentDim)
        tolRec = training.tolRec ?? max(10 * training.lambda * r.squareRoot(), 1e-6)
        tolOff = training.tolOff ?? 1e-2

        upper = Array(weights.dropFirst())
        let w1 = weights[0]
        if reduced {
            first = w1 * u
            var outside = w1
            BLAS.gemm(first, u, transB: .transpose, alpha: -1, beta: 1, into: &outside)
            firstOutside = outside
            firstOutsideAR = outside * ar
        } else {
            first = w1
            firstOutside = Matrix(rows: 0, columns: 0)
            firstOutsideAR = Matrix(rows: 0, columns: 0)
        }
        utAR = u.transposed * ar

        let columns = reduced ? k : problem.measurements
        thin = columns <= 16
        forward = ([w1.rows] + upper.map(\.rows)).map { Matrix(rows: $0, columns: columns) }
        backward = forward
        nextForward = forward
        scratch = Matrix(rows: problem.signalDim, columns: k)
        scratchGradient = scratch
        previousFirst = first
        // The forward products of the initial weights.
        for l in stride(from: 1, to: depth, by: 1) {
            let input = l == 1 ? first : forward[l - 1]
            BLAS.gemm(upper[l - 1], input, into: &forward[l])
        }
    }

    // MARK: The step

    /// One gradient step on every layer. Allocates nothing: every buffer is reused and
    /// `first` is never aliased (no copy-on-write).
    ///
    /// `forward[l] = W_{l+1} … W_2 · first` is kept valid across steps. A step computes the
    /// data gradient from it, passes the gradient down (one read of each W), then climbs
    /// back up, updating each W and forming the next step's forward product in the same pass
    /// over it (`BLAS.stepAndForward`): each weight matrix is read twice per step, not three
    /// times, which is what bounds this memory-bound, rank-k update.
    mutating func step() {
        let last = depth - 1
        // Data gradient of the end-to-end map, restricted to range(U): D = γ (W U S² − X Yᵀ U).
        if reduced {
            if depth > 1 {
                gradient(ofProduct: forward[last], into: &backward[last])
            } else {
                gradient(ofProduct: first, into: &backward[last])
            }
        } else {
            // Plain: G = D Uᵀ in full (d × m), from W U.
            if depth > 1 {
                BLAS.gemm(forward[last], u, into: &scratch)
            } else {
                BLAS.gemm(first, u, into: &scratch)
            }
            gradient(ofProduct: scratch, into: &scratchGradient)
            BLAS.gemm(scratchGradient, u, transB: .transpose, into: &backward[last])
        }
        // Down: the gradient with respect to each layer's output, with the old weights.
        for l in stride(from: last, through: 1, by: -1) {
            if thin {
                ThinKernels.transposedProduct(upper[l - 1], backward[l], into: &backward[l - 1])
            } else {
                BLAS.gemm(upper[l - 1], backward[l], transA: .transpose, into: &backward[l - 1])
            }
        }
        // The first layer (weight decay folded in), keeping its old value for W_2's update.
        if depth > 1 { BLAS.copy(first, into: &previousFirst) }
        if decay != 1 { BLAS.scale(decay, &first) }
        BLAS.axpy(-eta, backward[0], &first)
        if reduced { outsideFactor *= decay }
        // Up: update W_{l+1} and form the next forward product in one pass over it.
        for l in stride(from: 1, through: last, by: 1) {
            let oldInput = l == 1 ? previousFirst : forward[l - 1]
            let newInput = l == 1 ? first : nextForward[l - 1]
            if thin {
                ThinKernels.stepAndForward(&upper[l - 1], delta: backward[l], oldInput: oldInput, newInput: newInput,
                                           decay: decay, eta: eta, output: &nextForward[l])
            } else {
                BLAS.stepAndForward(&upper[l - 1], delta: backward[l], oldInput: oldInput, newInput: newInput,
                                    decay: decay, eta: eta, output: &nextForward[l])
            }
        }
        swap(&forward, &nextForward)
    }

    /// `out = γ (p S² − B)` column by column (p: d × k).
    private func gradient(ofProduct p: Matrix, into out: inout Matrix) {
        let rows = p.rows
        p.storage.withUnsafeBufferPointer { pp in
            b.storage.withUnsafeBufferPointer { pb in
                out.storage.withUnsafeMutableBufferPointer { po in
                    for j in 0..<s.count {
                        let s2 = s[j] * s[j]
                        let base = j * rows
                        for i in 0..<rows { po[base + i] = gamma * (pp[base + i] * s2 - pb[base + i]) }
                    }
                }
            }
        }
    }

    // MARK: Measuring

    /// W_1 in full (n_1 × m).
    func firstLayer() -> Matrix {
        guard reduced else { return first }
        var w1 = firstOutside
        BLAS.gemm(first, u, transB: .transpose, alpha: 1, beta: outsideFactor, into: &w1)
        return w1
    }

    func layers() -> [Matrix] { [firstLayer()] + upper }

    /// `W_{L:2} M` for an n_1 × c matrix M.
    func throughUpper(_ m: Matrix) -> Matrix {
        var current = m
        for w in upper { current = m.columns <= 8 ? ThinKernels.product(w, current) : w * current }
        return current
    }

    /// The end-to-end map W = W_L … W_1 (d × m).
    func endToEnd() -> Matrix { throughUpper(firstLayer()) }

    /// The objective F: data term from the reduced quantities, plus weight decay.
    func loss() -> Double {
        // forward[last] is W_{L:2} · first for the current weights (kept by `step`).
        let top = depth > 1 ? forward[depth - 1] : first
        var p = reduced ? top : top * u
        for j in 0..<s.count { for i in 0..<p.rows { p[i, j] = p[i, j] * s[j] - xv[i, j] } }
        let data = 0.5 * gamma * (BLAS.squaredNorm(p) + outsideResidual)
        var regularization = upper.reduce(0) { $0 + BLAS.squaredNorm($1) } + BLAS.squaredNorm(first)
        if reduced { regularization += outsideFactor * outsideFactor * BLAS.squaredNorm(firstOutside) }
        return data + 0.5 * lambdaLayer * regularization
    }

    /// ‖W A R − R‖ without forming W: (W_1 A R) is n_1 × r.
    func reconstructionError() -> Double {
        var w1ar: Matrix
        if reduced {
            w1ar = firstOutsideAR
            BLAS.gemm(first, utAR, alpha: 1, beta: outsideFactor, into: &w1ar)
        } else {
            w1ar = first * ar
        }
        return (throughUpper(w1ar) - problem.basis).frobeniusNorm
    }

    func offSubspaceError(_ w: Matrix) -> Double {
        var outside = w
        let wq = w * arBasis
        BLAS.gemm(wq, arBasis, transB: .transpose, alpha: -1, beta: 1, into: &outside)
        return outside.frobeniusNorm
    }

    func balancedness(_ layers: [Matrix]) -> Double {
        guard layers.count > 1 else { return 0 }
        var worst = 0.0
        for l in 0..<(layers.count - 1) {
            var gap = Matrix(rows: layers[l].rows, columns: layers[l].rows)
            BLAS.gemm(layers[l + 1], layers[l + 1], transA: .transpose, into: &gap)
            BLAS.gemm(layers[l], layers[l], transB: .transpose, alpha: -1, beta: 1, into: &gap)
            worst = max(worst, gap.frobeniusNorm)
        }
        return worst
    }

    /// Mean over test signals of ‖W (A x + σ e) − x‖ / ‖x‖.
    func testError(_ w: Matrix, sigma: Double) -> Double {
        var yTest = problem.a * problem.testSignals
        if sigma > 0 { BLAS.axpy(sigma, problem.testNoise, &yTest) }
        let prediction = w * yTest
        let d = prediction.rows
        var total = 0.0
        for j in 0..<prediction.columns {
            var err = 0.0, norm = 0.0
            for i in 0..<d {
                let x = problem.testSignals[i, j]
                let e = prediction[i, j] - x
                err += e * e
                norm += x * x
            }
            total += norm > 0 ? (err / norm).squareRoot() : 0
        }
        return total / Double(max(1, prediction.columns))
    }

    // MARK: The run

    mutating func run() throws -> TrainingOutcome {
        let started = Date()
        let initialLoss = loss()
        var diverged = !initialLoss.isFinite
        var convergedAt: Int?
        var trajectory: [TrajectoryPoint] = []
        var iterations = 0
        // The exact off-subspace error needs the full W; it is evaluated only once the cheap
        // reconstruction test passes, and backs off geometrically while it keeps failing.
        var offCheckInterval = training.checkEvery
        var nextOffCheck = 0

        func checkSuccess(at t: Int) -> Bool {
            guard reconstructionError() <= tolRec else {
                offCheckInterval = training.checkEvery
                return false
            }
            guard t >= nextOffCheck || t == training.steps else { return false }
            if offSubspaceError(endToEnd()) <= tolOff { return true }
            offCheckInterval = min(offCheckInterval * 2, 64 * training.checkEvery)
            nextOffCheck = t + offCheckInterval
            return false
        }

        if training.logEvery != nil { trajectory.append(trajectoryPoint(step: 0)) }
        if !diverged && checkSuccess(at: 0) { convergedAt = 0 }

        if !(training.stopOnSuccess && convergedAt != nil) && !diverged {
            for t in 1...max(training.steps, 1) where training.steps > 0 {
                step()
                iterations = t
                let isLast = t == training.steps
                if t % training.checkEvery == 0 || isLast {
                    let current = loss()
                    if !current.isFinite || current > 1e6 * max(initialLoss, .leastNormalMagnitude) {
                        diverged = true
                        break
                    }
                    if convergedAt == nil && checkSuccess(at: t) {
                        convergedAt = t
                        if training.stopOnSuccess { break }
                    }
                }
                if let every = training.logEvery, t % every == 0 { trajectory.append(trajectoryPoint(step: t)) }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        return try finish(iterations: iterations, convergedAt: convergedAt, diverged: diverged,
                          seconds: seconds, trajectory: trajectory)
    }

    func trajectoryPoint(step: Int) -> TrajectoryPoint {
        let w = endToEnd()
        let residual = (w * y - problem.x).frobeniusNorm / max(problem.x.frobeniusNorm, .leastNormalMagnitude)
        return TrajectoryPoint(step: step, loss: loss(), trainResidual: residual,
                               reconstructionError: reconstructionError(), offSubspaceError: offSubspaceError(w),
                               balancedness: balancedness(layers()))
    }

    func finish(iterations: Int, convergedAt: Int?, diverged: Bool, seconds: Double,
                trajectory: [TrajectoryPoint]) throws -> TrainingOutcome {
        let all = layers()
        let w = throughUpper(all[0])
        let levels = training.testNoise
        guard w.isFinite else {
            let nan = Double.nan
            let report = RunReport(
                trainResidual: nan, reconstructionError: nan, offSubspaceError: nan, oracleDistance: nan,
                testError: levels.map { _ in nan }, oracleTestError: levels.map { _ in nan }, balancedness: nan,
                effectiveRank: 0, iterations: iterations, convergedAt: convergedAt, diverged: true, success: false,
                trainSeconds: seconds, trajectory: trajectory)
            return TrainingOutcome(report: report, weights: all)
        }
        let xNorm = max(problem.x.frobeniusNorm, .leastNormalMagnitude)
        let oracle = problem.x * (try LAPACK.pseudoinverse(y, relativeTolerance: 1e-12))
        let rec = reconstructionError()
        let off = offSubspaceError(w)
        let values = try LAPACK.singularValues(w)
        let rank = values.first.map { s1 in s1 > 0 ? values.filter { $0 > training.rankTolerance * s1 }.count : 0 } ?? 0
        let report = RunReport(
            trainResidual: (w * y - problem.x).frobeniusNorm / xNorm,
            reconstructionError: rec,
            offSubspaceError: off,
            oracleDistance: (w - oracle).frobeniusNorm / max(oracle.frobeniusNorm, .leastNormalMagnitude),
            testError: levels.map { testError(w, sigma: $0) },
            oracleTestError: levels.map { testError(oracle, sigma: $0) },
            balancedness: balancedness(all),
            effectiveRank: rank,
            iterations: iterations,
            convergedAt: convergedAt,
            diverged: diverged,
            success: !diverged && rec <= tolRec && off <= tolOff,
            trainSeconds: seconds,
            trajectory: trajectory)
        return TrainingOutcome(report: report, weights: all)
    }
}
