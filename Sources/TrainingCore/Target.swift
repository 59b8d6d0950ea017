public import LinearAlgebra

/// The global minimizer `W*_λ` of the training objective (MODEL.md §4), which the
/// `converged` outcome measures training against.
///
/// Over all factorizations of W, the smallest `Σ_l ‖W_l‖²` is `L Σ_i σ_i(W)^(2/L)`, so the
/// minimum of `F` over the weights is the minimum over `W` of
/// `G(W) = γ/2 ‖W Y − X‖² + (λ_l L / 2) Σ σ_i(W)^(2/L)`. Every minimizer is `W = C D Uᵀ`
/// (C: orthonormal basis of range(X), U: left singular vectors of Y), with D (r × k) a
/// minimizer of the small problem
/// `g(D) = γ/2 ‖D S − B‖² + μ Σ σ_i(D)^p`, `B = Cᵀ X V`, `μ = λ_l L / 2`, `p = 2 / L`.
public struct TrainingTarget: Sendable {
    /// `W* U` (d × k); `W* = onRange · Uᵀ`. For λ = 0 the projection `X Y⁺ U` of the
    /// minimizer set, against which `W U` is measured.
    public var onRange: Matrix
    /// `D*` (r × k), zero rows allowed; for λ = 0, `Cᵀ X V S⁻¹`.
    public var core: Matrix
    /// `g(D*)`, the minimum of the small problem (0 for λ = 0).
    public var objective: Double
    /// How many starts were solved (1 for L ≤ 2 and λ = 0).
    public var candidates: Int
    /// How D* was found, and so whether it is certified to be the global minimizer.
    public var method: TargetMethod
    /// The first-order residual of D* on the manifold of its rank, relative to `‖γ B S‖`
    /// (`SchattenProblem.firstOrderResidual`); at most `residualTolerance`.
    public var residual: Double

    /// The first-order conditions every target meets; a target that misses them is an error.
    public static let residualTolerance = 1e-12
}

/// How `W*_λ` was found (MODEL.md §4). Every method but `search` certifies the global minimum.
public enum TargetMethod: String, Codable, Sendable, Hashable, CaseIterable {
    /// λ = 0 (least squares) or L = 1 (ridge): in closed form.
    case closedForm = "closed-form"
    /// L = 2 without a rank limit: the nuclear norm is convex, its local minimum is global.
    case convex
    /// L ≥ 3: every subset of the ridge solution's singular directions was a start.
    case exhaustive
    /// More directions than `KeptDirectionSearch.exhaustiveRank`, or L = 2 under a rank limit:
    /// a local search; the best minimum found, not a certified one.
    case search

    /// The target is certified to be the global minimizer.
    public var isCertified: Bool { self != .search }
}

extension TrainingTarget {
    /// Solves the small problem for the data `Y = U diag(s) Vᵀ`, `X` (see `solve(b:s:…)`).
    public static func solve(basis c: Matrix, x: Matrix, u: Matrix, s: [Double], v: Matrix,
                             gamma: Double, lambda: Double, depth: Int,
                             maxRank: Int = .max) throws -> TrainingTarget {
        var b = Matrix(rows: c.columns, columns: s.count)
        BLAS.gemm(c, x * v, transA: .transpose, into: &b)          // Cᵀ X V, r × k
        var target = try solve(b: b, s: s, gamma: gamma, lambda: lambda, depth: depth, maxRank: maxRank)
        target.onRange = c * target.core
        return target
    }

    /// Solves the small problem `g(D)` for B (r × k) and S = diag(s) (s > 0); `onRange` is D*.
    ///
    /// - λ = 0: `D = B S⁻¹`. L = 1: ridge in closed form.
    /// - L = 2: the nuclear norm, convex; 300 iterations of accelerated proximal gradient
    ///   (singular value soft-thresholding), `polish` to settle the rank, Newton on that rank.
    /// - L ≥ 3: a Schatten quasi-norm (p < 1), non-convex: its local minima differ in which
    ///   directions they keep, and `KeptDirectionSearch` compares them (every subset of the
    ///   ridge solution's directions up to `exhaustiveRank` of them, a local search beyond).
    ///
    /// A network narrower than the rank of the answer can only reach maps of rank at most its
    /// narrowest layer (`maxRank`): the search keeps at most that many directions (L = 2: the
    /// proximal step keeps the `maxRank` largest singular values, from the ridge solution's
    /// truncations, a `search`).
    ///
    /// Every answer meets the first-order conditions on its rank manifold to
    /// `residualTolerance`, or this throws.
    public static func solve(b: Matrix, s: [Double], gamma: Double, lambda: Double, depth: Int,
                             maxRank: Int = .max) throws -> TrainingTarget {
        let k = s.count
        if lambda == 0 {
            var d = b
            for j in 0..<k { for i in 0..<d.rows { d[i, j] /= s[j] } }
            let problem = SchattenProblem(b: b, s: s, gamma: gamma, mu: 0, p: 2)
            return try checked(TrainingTarget(onRange: d, core: d, objective: 0, candidates: 1, method: .closedForm,
                                              residual: problem.firstOrderResidual(d, rank: 0)))
        }
        let rankLimit = depth == 1 ? Int.max : max(0, maxRank)
        let problem = SchattenProblem(b: b, s: s, gamma: gamma, mu: lambda * Double(depth) / 2, p: 2 / Double(depth),
                                      maxRank: rankLimit)
        let ridge = problem.ridge(lambda: lambda)
        let ridgeSVD = try LAPACK.svd(ridge)
        let ridgeRank = ridgeSVD.rank(relativeTolerance: 1e-12)
        switch depth {
        case 1:
            return try checked(TrainingTarget(onRange: ridge, core: ridge, objective: problem.objective(ridge), candidates: 1,
                                              method: .closedForm, residual: problem.firstOrderResidual(ridge, rank: ridgeRank)))
        case 2:
            var starts = [ridge]
            if ridgeRank > rankLimit {
                // Under a rank limit the problem is not convex: start from the ridge solution's
                // truncations to the limit and below, and from 0.
                starts = [Matrix(rows: ridge.rows, columns: ridge.columns)]
                for j in 1..<ridgeRank where j <= rankLimit { starts.append(truncated(ridgeSVD, rank: j)) }
            }
            var best: (core: FactoredCore, g: Double, residual: Double)?
            for start in starts {
                let settled = try problem.polish(try problem.minimize(from: start, iterations: 300))
                let (core, residual) = try problem.newtonPolish(try FactoredCore(settled, maxRank: rankLimit))
                let g = problem.objective(core)
                if best == nil || g < best!.g { best = (core, g, residual) }
            }
            let d = best!.core.matrix
            return try checked(TrainingTarget(onRange: d, core: d, objective: best!.g, candidates: starts.count,
                                              method: starts.count == 1 ? .convex : .search, residual: best!.residual))
        default:
            let search = KeptDirectionSearch(problem: problem, directions: ridgeSVD.u.columns(0..<ridgeRank),
                                             maxKept: min(ridgeRank, rankLimit))
            let result = try search.run()
            let d = result.core.matrix
            return try checked(TrainingTarget(onRange: d, core: d, objective: result.objective, candidates: result.candidates,
                                              method: result.method, residual: result.residual))
        }
    }

    /// The target, if it meets the first-order conditions; else the error that says it does not.
    private static func checked(_ target: TrainingTarget) throws -> TrainingTarget {
        guard target.residual <= residualTolerance else {
            throw TrainingError("the target W*_λ could not be polished: first-order residual \(target.residual) above \(residualTolerance) (\(target.method.rawValue))")
        }
        return target
    }

    private static func truncated(_ svd: SVD, rank j: Int) -> Matrix {
        var us = svd.u.columns(0..<j)
        for col in 0..<j { for i in 0..<us.rows { us[i, col] *= svd.singularValues[col] } }
        var vt = Matrix(rows: j, columns: svd.vt.columns)
        for i in 0..<j { for col in 0..<svd.vt.columns { vt[i, col] = svd.vt[i, col] } }
        return us * vt
    }
}
