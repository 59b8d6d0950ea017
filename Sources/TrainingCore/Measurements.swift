import LinearAlgebra

/// The metrics of MODEL.md §3, read from the network's state without disturbing it.
extension GradientDescent {
    /// W_1 in full (n_1 × m).
    func firstLayer() -> Matrix {
        guard reduced else { return first }
        var w1 = firstOutside
        BLAS.gemm(first, data.u, transB: .transpose, alpha: 1, beta: outsideFactor, into: &w1)
        return w1
    }

    func layers() -> [Matrix] { [firstLayer()] + upperLayers() }

    /// W_2 … W_L, each `upper` matrix times its scale.
    func upperLayers() -> [Matrix] { zip(upper, upperScale).map { w, scale in scale == 1 ? w : scale * w } }

    /// `W_{L:2} M` for an n_1 × c matrix M.
    func throughUpper(_ m: Matrix) -> Matrix {
        // The blocked kernels take any number of columns with AVX2 or AVX-512 (E's m, near the
        // FMA peak, where gemm runs whatever kernels OpenBLAS picked for the CPU); the portable
        // loops only thin ones.
        let kernels = m.columns <= 8 || ThinKernels.Variant.best != .portable
        var current = m
        for (w, scale) in zip(upper, upperScale) {
            current = kernels ? ThinKernels.product(w, current) : w * current
            if scale != 1 { BLAS.scale(scale, &current) }
        }
        return current
    }

    /// The end-to-end map W = W_L … W_1 (d × m).
    func endToEnd() -> Matrix { throughUpper(firstLayer()) }

    /// `W U` (d × k), kept by the step on the reduced path (`W_1 U = V`).
    func onRange() -> Matrix {
        let top = depth > 1 ? forward[depth - 1] : first
        return reduced ? top : top * data.u
    }

    /// `E = W_{L:2} W_1(0)(I − U Uᵀ)` (d × m), so that `W (I − U Uᵀ) = (1 − ηλ)^t E`.
    /// The one product of a check that costs as much as a plain step (reduced path only).
    func outsideProduct() -> Matrix { throughUpper(firstOutside) }

    /// `‖W_1(0)(I − U Uᵀ)‖_F`, which sets the `auto` step budget.
    func initialOutsideNorm() -> Double {
        if reduced { return firstOutside.frobeniusNorm }
        return (max(0, BLAS.squaredNorm(first) - BLAS.squaredNorm(first * data.u))).squareRoot()
    }

    /// `‖W_l‖²_F` of W_2 … W_L, one read of every weight: a check's loss and its
    /// reconstruction bound (`OutcomeTracker`) share them.
    func upperSquaredNorms() -> [Double] { zip(upper, upperScale).map { BLAS.squaredNorm($0) * $1 * $1 } }

    /// The objective F: data term from the reduced quantities, plus weight decay.
    func loss(upperSquaredNorms norms: [Double]? = nil) -> Double {
        var p = onRange()
        let s = data.s
        for j in 0..<s.count { for i in 0..<p.rows { p[i, j] = p[i, j] * s[j] - data.xv[i, j] } }
        let dataTerm = 0.5 * gamma * (BLAS.squaredNorm(p) + data.outsideResidual)
        var regularization = (norms ?? upperSquaredNorms()).reduce(0, +) + BLAS.squaredNorm(first)
        if reduced { regularization += outsideFactor * outsideFactor * firstOutsideSquaredNorm }
        return dataTerm + 0.5 * data.lambdaLayer * regularization
    }

    /// ‖W A R − R‖ without forming W: (W_1 A R) is n_1 × r.
    func reconstructionError() -> Double {
        var w1ar: Matrix
        if reduced {
            w1ar = firstOutsideAR
            BLAS.gemm(first, utAR, alpha: 1, beta: outsideFactor, into: &w1ar)
        } else {
            w1ar = first * data.ar
        }
        return (throughUpper(w1ar) - data.problem.basis).frobeniusNorm
    }

    /// `‖(W U) Uᵀ A R − R‖_F` (reduced path): the reconstruction error without its off-range
    /// part `c_t W_{L:2} W_1(0)(I − U Uᵀ) A R`, from the forward product the step keeps
    /// (d × k times k × r) instead of a product through every layer.
    func onRangeReconstructionError() -> Double {
        var p = data.problem.basis
        BLAS.gemm(onRange(), utAR, alpha: 1, beta: -1, into: &p)
        return p.frobeniusNorm
    }

    /// `‖W − W*‖_F` (λ > 0) or `‖W U − W* U‖_F` (λ = 0) for the full W.
    func targetError(_ w: Matrix) -> Double {
        let onRangeError = (w * data.u - data.target.onRange).frobeniusNorm
        guard data.training.lambda > 0 else { return onRangeError }
        var gap = w
        BLAS.gemm(data.target.onRange, data.u, transB: .transpose, alpha: -1, beta: 1, into: &gap)
        return gap.frobeniusNorm
    }

    /// `‖∇_θ F‖_F` over all layers, from one backward pass over the current weights.
    ///
    /// A layer with input `a` (its forward product) and output gradient `δ` has gradient
    /// `δ aᵀ + λ W`, formed explicitly: near a minimum the two terms cancel, and a norm
    /// expanded into traces would lose all its digits there. On the reduced path the first
    /// layer adds its off-range part `λ (1 − ηλ)^t W_1(0)(I − U Uᵀ)`, orthogonal to the rest.
    func gradientNorm() -> Double { gradientNorm(stoppingAbove: .infinity) }

    /// `gradientNorm()`, or, as soon as the layers summed so far (top down) exceed `bound`,
    /// their partial norm: a lower bound above `bound`. The stationarity check only asks
    /// whether the norm is below a bound, and away from a stationary point the top layer
    /// alone settles it, at a seventh of the passes.
    func gradientNorm(stoppingAbove bound: Double) -> Double {
        let limit = bound * bound
        let last = depth - 1, lambda = data.lambdaLayer
        let top = depth > 1 ? forward[last] : first
        var delta: Matrix
        if reduced {
            delta = Matrix(rows: top.rows, columns: top.columns)
            gradient(ofProduct: top, into: &delta)
        } else {
            let wu = top * data.u
            var g = Matrix(rows: wu.rows, columns: wu.columns)
            gradient(ofProduct: wu, into: &g)
            delta = g * data.u.transposed
        }
        var total = 0.0
        for l in stride(from: last, through: 1, by: -1) {
            // W = scale · w: its gradient is λ scale w + δ inputᵀ, and Wᵀδ = scale wᵀδ.
            let w = upper[l - 1], scale = upperScale[l - 1]
            let input = l == 1 ? first : forward[l - 1]
            var down = Matrix(rows: w.columns, columns: delta.columns)
            if thinChecks {
                // One pass over W, no copy of it: a check costs a fraction of a step.
                total += ThinKernels.gradientSquaredNorm(w, delta: delta, input: input, lambda: lambda * scale,
                                                         back: &down)
                if scale != 1 { BLAS.scale(scale, &down) }
            } else {
                var g = w
                BLAS.gemm(delta, input, transB: .transpose, alpha: 1, beta: lambda * scale, into: &g)
                total += BLAS.squaredNorm(g)
                BLAS.gemm(w, delta, transA: .transpose, alpha: scale, into: &down)
            }
            if total > limit { return total.squareRoot() }
            delta = down
        }
        // The first layer: δ_1 (U-space, or full) + λ first.
        var g1 = delta
        BLAS.axpy(lambda, first, &g1)
        total += BLAS.squaredNorm(g1)
        if reduced { total += lambda * lambda * outsideFactor * outsideFactor * firstOutsideSquaredNorm }
        return total.squareRoot()
    }

    func balancedness(_ layers: [Matrix]) -> Double {
        balanceGaps(layers).reduce(0) { max($0, $1.frobeniusNorm) }
    }

    /// `W_{l+1}ᵀ W_{l+1} − W_l W_lᵀ` for l = 1 … L − 1.
    func balanceGaps(_ layers: [Matrix]) -> [Matrix] {
        guard layers.count > 1 else { return [] }
        return (0..<(layers.count - 1)).map { l in
            var gap = Matrix(rows: layers[l].rows, columns: layers[l].rows)
            BLAS.gemm(layers[l + 1], layers[l + 1], transA: .transpose, into: &gap)
            BLAS.gemm(layers[l], layers[l], transB: .transpose, alpha: -1, beta: 1, into: &gap)
            return gap
        }
    }

    /// The metrics of a trajectory point, all exact, with the singular values of W.
    func trajectoryPoint(step: Int, initialGradient: Double) throws -> TrajectoryPoint {
        let w = endToEnd()
        let x = data.problem.x
        let residual = (w * data.y - x).frobeniusNorm / max(x.frobeniusNorm, .leastNormalMagnitude)
        let current = loss()
        return TrajectoryPoint(
            step: step, loss: current, trainResidual: residual, reconstructionError: reconstructionError(),
            offSubspaceError: data.offSubspace(w).frobeniusNorm,
            targetDistance: targetError(w) / data.oracleNorm,
            gradientNorm: gradientNorm() / max(initialGradient, .leastNormalMagnitude),
            balancedness: balancedness(layers()), flowTime: time,
            singularValues: w.isFinite ? try LAPACK.singularValues(w) : [],
            lossGap: max(0, current - data.optimalLoss))
    }
}

extension TrainingData {
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
}
