import Foundation
import LinearAlgebra

/// Everything a run derives from its problem and training data once, before the first step:
/// the thin SVD of Y (the reduced path works in its column space), the step size, the
/// oracle, the target of training and the step budget.
struct TrainingData {
    let problem: Problem
    let training: TrainingSpec
    let depth: Int
    /// Y = A X + σ E.
    let y: Matrix
    /// γ: 1, or 1/n with `meanDataTerm`.
    let gamma: Double
    /// λ per layer (λ / L with `lambdaPerLayer`).
    let lambdaLayer: Double
    let eta: Double
    /// 1 − η λ_l: the factor by which every weight shrinks before its gradient step.
    let decay: Double
    /// The inertial update's coefficients; nil for gradient descent.
    let inertial: InertialCoefficients?

    // Y = U diag(s) Vᵀ, rank k.
    let u: Matrix            // m × k
    let s: [Double]
    let xv: Matrix           // X V, d × k
    let b: Matrix            // X Yᵀ U = X V diag(s), d × k
    /// ‖X‖² − ‖X V‖²: the part of the data term no W can reach.
    let outsideResidual: Double
    /// The singular values of X V, largest first: `min_{rank W ≤ k} ‖W Y − X‖² = ‖X‖² − Σ_{i≤k} σ_i(X V)²`.
    let xvSingularValues: [Double]

    let ar: Matrix           // A R, m × r
    /// Uᵀ P⊥ (k × m), P⊥ the projector onto the complement of range(A R): the part of
    /// W U Uᵀ that lies off the subspace.
    let utPerp: Matrix
    /// Orthonormal basis Q of range(A R) (m × r): P⊥ = I − Q Qᵀ.
    let arBasis: Matrix
    /// W_or = R (A R)⁺ (d × m) and its norm.
    let oracle: Matrix
    let oracleNorm: Double
    /// ‖R‖_F.
    let basisNorm: Double
    let target: TrainingTarget
    /// F* = F(W*_λ): `g(D*)` plus the part of the data term no W can reach,
    /// `γ/2 (‖X‖² − ‖Cᵀ X V‖²)` (C an orthonormal basis of range(X)).
    let optimalLoss: Double

    init(problem: Problem, y: Matrix, depth: Int, width: Int, training: TrainingSpec) throws {
        self.problem = problem
        self.training = training
        self.depth = depth
        self.y = y
        gamma = training.meanDataTerm ? 1 / Double(problem.samples) : 1
        lambdaLayer = training.lambdaPerLayer ? training.lambda / Double(depth) : training.lambda

        let svd = try LAPACK.svd(y)
        let sMax = svd.singularValues.first ?? 0
        guard sMax > 0 else { throw TrainingError("the training measurements Y are zero") }
        eta = training.eta ?? training.etaScale / (Double(depth) * gamma * sMax * sMax)
        decay = 1 - eta * lambdaLayer
        guard decay > 0 else {
            throw TrainingError("eta * lambda = \(eta * lambdaLayer) must be below 1 (the weights would flip sign every step): lower eta or lambda")
        }
        inertial = try InertialCoefficients(training, eta: eta, lambda: lambdaLayer)
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
        xvSingularValues = try LAPACK.singularValues(xv)

        ar = problem.a * problem.basis
        let arSVD = try LAPACK.svd(ar)
        let arBasis = arSVD.u.columns(0..<arSVD.rank(relativeTolerance: 1e-10))
        self.arBasis = arBasis
        var utPerp = u.transposed
        BLAS.gemm(u.transposed * arBasis, arBasis, transB: .transpose, alpha: -1, beta: 1, into: &utPerp)
        self.utPerp = utPerp
        oracle = problem.basis * (try LAPACK.pseudoinverse(ar, relativeTolerance: 1e-10))
        oracleNorm = max(oracle.frobeniusNorm, .leastNormalMagnitude)
        basisNorm = problem.basis.frobeniusNorm

        // The target lives on range(X): for generated data that is range(R).
        let xSVD = try LAPACK.svd(problem.x)
        let xBasis = xSVD.u.columns(0..<max(1, xSVD.rank(relativeTolerance: 1e-10)))
        target = try TrainingTarget.solve(basis: xBasis, x: problem.x, u: u, s: s, v: v,
                                          gamma: gamma, lambda: lambdaLayer, depth: depth,
                                          maxRank: depth > 1 ? min(width, problem.measurements, problem.signalDim) : .max)
        let unreachable = max(0, BLAS.squaredNorm(problem.x) - BLAS.squaredNorm(xBasis.transposed * xv))
        optimalLoss = target.objective + 0.5 * gamma * unreachable
    }

    /// MODEL.md §5's best rank-k gap, relative to ‖X‖²: `(‖W Y − X‖² − L_k) / ‖X‖²` with
    /// `L_k = min_{rank W ≤ k} ‖W Y − X‖² = ‖X‖² − Σ_{i≤k} σ_i(X V)²`. With `Y Yᵀ` invertible
    /// `X V` has the singular values of `Q = X Yᵀ (Y Yᵀ)^(−1/2) = X V Uᵀ`, §5's formula; the form
    /// here holds for any Y (`W U S` ranges over all d × rank(Y) matrices of rank ≤ k).
    func bestRankGap(squaredResidual: Double, rank: Int) -> Double? {
        let xSquared = BLAS.squaredNorm(problem.x)
        guard squaredResidual.isFinite, xSquared > 0 else { return nil }
        let best = max(0, xSquared - xvSingularValues.prefix(rank).reduce(0) { $0 + $1 * $1 })
        return (squaredResidual - best) / xSquared
    }

    /// The time horizon of `flow`: `flow_time`, or the time the step budget covers at η (a
    /// fixed `steps: T`: T η; `auto`: `c · ln(max(e, s / (tol_conv ‖W_or‖))) / λ_l`, the time
    /// the off-range part `e^(−λ_l t) W_1(0)(I − U Uᵀ)` needs, as `stepBudget`; λ = 0:
    /// `max_steps · η`).
    func flowHorizon(outsideNorm: Double, initialDistance: Double) -> Double {
        if let time = training.optimizer.flow?.horizon { return time }
        switch training.steps {
        case .fixed(let n):
            return Double(n) * eta
        case .auto:
            guard lambdaLayer > 0 else { return Double(training.maxSteps) * eta }
            let scale = max(outsideNorm, initialDistance)
            let ratio = max(scale / (training.tolConv * oracleNorm), M_E)
            return training.budgetFactor * Foundation.log(ratio) / lambdaLayer
        }
    }

    /// `M P⊥ = M − (M Q) Qᵀ` for a matrix with m columns.
    func offSubspace(_ matrix: Matrix) -> Matrix {
        var out = matrix
        BLAS.gemm(matrix * arBasis, arBasis, transB: .transpose, alpha: -1, beta: 1, into: &out)
        return out
    }

    /// The step budget of MODEL.md §4 from the distances training has to close at t = 0: the
    /// off-range part of the first layer, which decays exactly as `(1 − ηλ)^t` under gradient
    /// descent (asymptotically as ρ^t under momentum, ρ the root of its recurrence), and the
    /// distance to the target (with noisy data rank(Y) = m can leave no off-range part at all,
    /// while the weak directions of Y still converge only at the rate of the weight decay).
    func stepBudget(outsideNorm: Double, initialDistance: Double) -> (steps: Int, capped: Bool) {
        switch training.steps {
        case .fixed(let n):
            return (n, false)
        case .auto:
            let rate = inertial?.outsideRate ?? decay
            guard rate < 1 else { return (training.maxSteps, false) }
            let scale = max(outsideNorm, initialDistance)
            let ratio = max(scale / (training.tolConv * oracleNorm), M_E)
            let steps = (training.budgetFactor * Foundation.log(ratio) / -Foundation.log(rate)).rounded(.up)
            if !(steps < Double(training.maxSteps)) { return (training.maxSteps, true) }
            return (max(1, Int(steps)), false)
        }
    }
}
