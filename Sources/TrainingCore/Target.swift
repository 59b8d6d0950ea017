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
    /// How many candidate minimizers were compared (1 for L ≤ 2 and λ = 0).
    public var candidates: Int
}

extension TrainingTarget {
    /// Solves the small problem for the data `Y = U diag(s) Vᵀ`, `X`.
    ///
    /// - L = 1: ridge in closed form. L = 2: the nuclear norm, convex; 300 iterations of
    ///   accelerated proximal gradient (singular value soft-thresholding), then `polish`.
    /// - L ≥ 3: a Schatten quasi-norm (p < 1), non-convex; D = 0 is a local minimum, and
    ///   other local minima differ in which singular directions survive. The same proximal
    ///   method (the scalar prox of `x^p` is exact: zero or the larger root of
    ///   `x − z + τ p x^(p−1) = 0`) runs 300 iterations from the ridge solution, from each of
    ///   its rank-j truncations (j = 1 … r − 1) and from D = 0; the candidates within 1e-6 of
    ///   the least `g` are polished (`polish`: IRLS with proximal steps, to machine precision)
    ///   and the least wins.
    ///   The starts cover every rank pattern the ridge solution's singular directions allow;
    ///   tests compare the result with long training runs.
    ///
    /// A network narrower than the rank of the answer can only reach maps of rank at most its
    /// narrowest layer (`maxRank`): the proximal step then keeps the `maxRank` largest singular
    /// values (the ones with the largest gain), and the starts are truncated to that rank.
    public static func solve(basis c: Matrix, x: Matrix, u: Matrix, s: [Double], v: Matrix,
                             gamma: Double, lambda: Double, depth: Int,
                             maxRank: Int = .max) throws -> TrainingTarget {
        let k = s.count
        var b = Matrix(rows: c.columns, columns: k)
        BLAS.gemm(c, x * v, transA: .transpose, into: &b)          // Cᵀ X V, r × k
        if lambda == 0 {
            var d = b
            for j in 0..<k { for i in 0..<d.rows { d[i, j] /= s[j] } }
            return TrainingTarget(onRange: c * d, core: d, objective: 0, candidates: 1)
        }
        let rankLimit = depth == 1 ? Int.max : max(0, maxRank)
        let problem = SchattenProblem(b: b, s: s, gamma: gamma, mu: lambda * Double(depth) / 2, p: 2 / Double(depth),
                                      maxRank: rankLimit)
        let ridge = problem.ridge(lambda: lambda)
        let ridgeSVD = try LAPACK.svd(ridge)
        let ridgeRank = ridgeSVD.rank(relativeTolerance: 1e-12)
        var best: (d: Matrix, g: Double)
        var count = 1
        switch depth {
        case 1:
            best = (ridge, problem.objective(ridge))
        case 2 where ridgeRank <= rankLimit:
            let d = try problem.polish(try problem.minimize(from: ridge, iterations: 300))
            best = (d, problem.objective(d))
        default:
            var starts = [Matrix(rows: ridge.rows, columns: ridge.columns)]
            if ridgeRank <= rankLimit { starts.append(ridge) }
            if ridgeRank > 1 {
                for j in 1..<ridgeRank where j <= rankLimit { starts.append(truncated(ridgeSVD, rank: j)) }
            }
            // A cheap first pass over every start; only the candidates that come out within 1e-6
            // of the best are polished to full precision.
            count = starts.count
            var rough: [(d: Matrix, g: Double)] = []
            for start in starts {
                let d = try problem.minimize(from: start, iterations: 300)
                rough.append((d, problem.objective(d)))
            }
            let lowest = rough.map(\.g).min() ?? 0
            best = (starts[0], problem.objective(starts[0]))
            for candidate in rough where candidate.g <= lowest + 1e-6 * max(abs(lowest), 1e-300) {
                let d = try problem.polish(candidate.d)
                let g = problem.objective(d)
                if g < best.g { best = (d, g) }
            }
        }
        return TrainingTarget(onRange: c * best.d, core: best.d, objective: best.g, candidates: count)
    }

    private static func truncated(_ svd: SVD, rank j: Int) -> Matrix {
        var us = svd.u.columns(0..<j)
        for col in 0..<j { for i in 0..<us.rows { us[i, col] *= svd.singularValues[col] } }
        var vt = Matrix(rows: j, columns: svd.vt.columns)
        for i in 0..<j { for col in 0..<svd.vt.columns { vt[i, col] = svd.vt[i, col] } }
        return us * vt
    }
}

/// `g(D) = γ/2 ‖D S − B‖² + μ Σ σ_i(D)^p` with S = diag(s), p ∈ (0, 2].
struct SchattenProblem {
    let b: Matrix
    let s: [Double]
    let gamma: Double
    let mu: Double
    let p: Double
    /// Singular values beyond this many are set to zero (a network's narrowest layer).
    var maxRank: Int = .max

    func objective(_ d: Matrix) -> Double {
        var data = 0.0
        for j in 0..<s.count {
            for i in 0..<d.rows {
                let e = d[i, j] * s[j] - b[i, j]
                data += e * e
            }
        }
        let sigma = (try? LAPACK.singularValues(d)) ?? [.infinity]
        return 0.5 * gamma * data + mu * sigma.reduce(0) { $0 + ($1 > 0 ? Foundation.pow($1, p) : 0) }
    }

    /// The ridge minimizer of `γ/2 ‖D S − B‖² + λ/2 ‖D‖²`: `D = γ B S (γ S² + λ)⁻¹`
    /// (the L = 1 answer, since then μ Σ σ² = λ/2 ‖D‖²).
    func ridge(lambda: Double) -> Matrix {
        var d = b
        for j in 0..<s.count {
            let f = gamma * s[j] / (gamma * s[j] * s[j] + lambda)
            for i in 0..<d.rows { d[i, j] *= f }
        }
        return d
    }

    /// Accelerated proximal gradient (FISTA with restart on any increase of g) from `start`,
    /// for at most `iterations`, stopping earlier at a step below 1e-14 relative or when g has
    /// not decreased for 50 iterations (rounding level). The cheap pass before `polish`.
    func minimize(from start: Matrix, iterations: Int) throws -> Matrix {
        let sMax = s.max() ?? 0
        guard sMax > 0 else { return start }
        let t = 1 / (gamma * sMax * sMax)
        var current = start
        var currentValue = objective(current)
        var extrapolated = current
        var momentum = 1.0
        var stalled = 0
        for _ in 0..<iterations {
            var next = try proxStep(extrapolated, t: t)
            var nextValue = objective(next)
            if nextValue > currentValue {
                // Restart from the last iterate: a plain proximal step never increases g.
                momentum = 1
                next = try proxStep(current, t: t)
                nextValue = objective(next)
            }
            let change = (next - current).frobeniusNorm
            let size = max(next.frobeniusNorm, current.frobeniusNorm)
            stalled = nextValue < currentValue - 1e-16 * abs(currentValue) ? 0 : stalled + 1
            let newMomentum = (1 + (1 + 4 * momentum * momentum).squareRoot()) / 2
            var y = next
            BLAS.axpy((momentum - 1) / newMomentum, next - current, &y)
            extrapolated = y
            momentum = newMomentum
            current = next
            currentValue = nextValue
            if change <= 1e-14 * size || size == 0 || stalled >= 50 { break }
        }
        return current
    }

    /// Polishes a candidate to machine precision, whatever the conditioning of S.
    ///
    /// On the column space of D, a stationary point solves `γ D S² + M D = γ B S` with
    /// `M = μ p (D Dᵀ)^(p/2 − 1)`; given M = Q Λ Qᵀ the solution is explicit,
    /// `(Qᵀ D)_ij = γ (Qᵀ B)_ij s_j / (Λ_i + γ s_j²)`. Iterating it (iteratively reweighted least
    /// squares) descends g monotonically, since `tr((D Dᵀ)^(p/2))` is concave in `D Dᵀ` for
    /// p ≤ 2, and its rate does not depend on cond(S). IRLS cannot change the column space or
    /// the rank, so rounds of it alternate with one proximal gradient step, which can; a
    /// candidate is done when that step no longer moves it (1e-15 relative).
    func polish(_ start: Matrix) throws -> Matrix {
        let sMax = s.max() ?? 0
        guard sMax > 0 else { return start }
        let t = 1 / (gamma * sMax * sMax)
        var current = start
        for _ in 0..<200 {
            current = try reweighted(current)
            let next = try proxStep(current, t: t)
            let change = (next - current).frobeniusNorm
            let size = max(next.frobeniusNorm, current.frobeniusNorm)
            current = objective(next) <= objective(current) ? next : current
            if change <= 1e-15 * size || size == 0 { break }
        }
        return current
    }

    /// IRLS on the column space of `start` (see `polish`), until steps fall below 1e-15.
    private func reweighted(_ start: Matrix) throws -> Matrix {
        var current = start
        for _ in 0..<500 {
            let svd = try LAPACK.svd(current)
            let rank = min(svd.rank(relativeTolerance: 1e-12), maxRank)
            guard rank > 0 else { return current }
            let q = svd.u.columns(0..<rank)
            let qb = q.transposed * b
            var e = Matrix(rows: rank, columns: s.count)
            for i in 0..<rank {
                let weight = mu * p * Foundation.pow(svd.singularValues[i], p - 2)
                for j in 0..<s.count { e[i, j] = gamma * qb[i, j] * s[j] / (weight + gamma * s[j] * s[j]) }
            }
            let next = q * e
            let change = (next - current).frobeniusNorm
            // IRLS never increases g in exact arithmetic: only a rise beyond rounding stops it.
            let before = objective(current)
            guard objective(next) <= before + 1e-14 * abs(before) else { break }
            current = next
            if change <= 1e-15 * next.frobeniusNorm { break }
        }
        return current
    }

    /// `prox_{tμ Σσ^p}(D − t ∇f(D))`: a gradient step on the data term, then the scalar prox
    /// on each singular value.
    func proxStep(_ d: Matrix, t: Double) throws -> Matrix {
        var z = d
        for j in 0..<s.count {
            let s2 = s[j] * s[j]
            for i in 0..<z.rows { z[i, j] -= t * gamma * (d[i, j] * s2 - b[i, j] * s[j]) }
        }
        let svd = try LAPACK.svd(z)
        let tau = t * mu
        var us = svd.u
        // Singular values come sorted, and the gain of keeping one grows with it: under a rank
        // limit, the leading ones are kept.
        for col in 0..<svd.singularValues.count {
            let shrunk = col < maxRank ? Self.scalarProx(svd.singularValues[col], tau: tau, p: p) : 0
            for i in 0..<us.rows { us[i, col] *= shrunk }
        }
        return us * svd.vt
    }

    /// `argmin_{x ≥ 0} 1/2 (x − z)² + τ x^p` for z ≥ 0.
    static func scalarProx(_ z: Double, tau: Double, p: Double) -> Double {
        if p == 2 { return z / (1 + 2 * tau) }
        if p == 1 { return max(z - tau, 0) }
        // φ(x) = x + τ p x^(p−1) is convex on x > 0 with its minimum at x̂; positive
        // stationary points solve φ(x) = z, and the larger one is the local minimum.
        let xHat = Foundation.pow(tau * p * (1 - p), 1 / (2 - p))
        let phi = { (x: Double) in x + tau * p * Foundation.pow(x, p - 1) }
        guard z > phi(xHat) else { return 0 }
        // Newton from the right on the increasing, convex branch: monotone convergence.
        var x = z
        for _ in 0..<100 {
            let f = phi(x) - z
            let df = 1 + tau * p * (p - 1) * Foundation.pow(x, p - 2)
            let next = max(xHat, x - f / df)
            if abs(next - x) <= 1e-16 * x { x = next; break }
            x = next
        }
        let h = 0.5 * (x - z) * (x - z) + tau * Foundation.pow(x, p)
        return h < 0.5 * z * z ? x : 0
    }
}

import Foundation
