import Foundation
import LinearAlgebra

/// The reduced problem of MODEL.md §4, `g(D) = γ/2 ‖D S − B‖² + μ Σ σ_i(D)^p` with S = diag(s),
/// p ∈ (0, 2]: the objective, its gradient on a rank manifold, and the proximal method the
/// convex case (p = 1) is solved with.
struct SchattenProblem {
    let b: Matrix
    let s: [Double]
    let gamma: Double
    let mu: Double
    let p: Double
    /// Singular values beyond this many are set to zero (a network's narrowest layer).
    var maxRank: Int = .max

    init(b: Matrix, s: [Double], gamma: Double, mu: Double, p: Double, maxRank: Int = .max) {
        self.b = b
        self.s = s
        self.gamma = gamma
        self.mu = mu
        self.p = p
        self.maxRank = maxRank
    }

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

    /// g at `D = Q E`, its penalty from the q singular values of E alone: those of a
    /// rank-deficient D beyond its rank are rounding (~1e-17 ‖D‖), and for p < 1 their p-th
    /// powers are not (1e-11 at p = 1/2).
    func objective(_ core: FactoredCore) -> Double {
        let d = core.matrix
        var data = 0.0
        for j in 0..<s.count {
            for i in 0..<d.rows {
                let e = d[i, j] * s[j] - b[i, j]
                data += e * e
            }
        }
        let sigma = (try? LAPACK.singularValues(core.factor)) ?? [.infinity]
        return 0.5 * gamma * data + mu * sigma.reduce(0) { $0 + ($1 > 0 ? Foundation.pow($1, p) : 0) }
    }

    /// `‖γ B S‖_F`, the gradient's size at D = 0: the scale of the first-order residual.
    var gradientScale: Double {
        var sum = 0.0
        for j in 0..<s.count { for i in 0..<b.rows { sum += (gamma * b[i, j] * s[j]) * (gamma * b[i, j] * s[j]) } }
        return sum.squareRoot()
    }

    /// The gradient of g at a D of rank `rank`, where `Σ σ^p` is smooth along the manifold of
    /// that rank: `γ (D S − B) S + μ p U Σ^(p−1) Wᵀ` with the `rank` leading singular triplets
    /// (the rest are rounding). Also returns U (r × rank) and W (k × rank).
    func gradient(_ d: Matrix, rank: Int) throws -> (gradient: Matrix, u: Matrix, w: Matrix) {
        var g = Matrix(rows: d.rows, columns: s.count)
        for j in 0..<s.count {
            for i in 0..<d.rows { g[i, j] = gamma * (d[i, j] * s[j] - b[i, j]) * s[j] }
        }
        guard rank > 0 else { return (g, Matrix(rows: d.rows, columns: 0), Matrix(rows: s.count, columns: 0)) }
        let svd = try LAPACK.svd(d)
        var u = svd.u.columns(0..<rank)
        let w = svd.vt.transposed.columns(0..<rank)
        for i in 0..<rank {
            let factor = mu * p * Foundation.pow(svd.singularValues[i], p - 1)
            for row in 0..<u.rows { u[row, i] *= factor }
        }
        BLAS.gemm(u, w, transB: .transpose, beta: 1, into: &g)
        return (g, svd.u.columns(0..<rank), w)
    }

    /// The first-order residual of D as a point of its rank manifold, relative to `‖γ B S‖`:
    /// the tangent part `‖P_T ∇g‖_F`, `P_T G = U Uᵀ G + G W Wᵀ − U Uᵀ G W Wᵀ`. For p < 1 that is
    /// every first-order condition (leaving the manifold costs `ε^p` against a gain `O(ε)`); for
    /// p = 1 the normal part must also have spectral norm at most μ, and its excess counts,
    /// unless D is at the rank limit (it may not leave its manifold upwards); for p = 2 (ridge)
    /// the whole gradient must vanish.
    func firstOrderResidual(_ d: Matrix, rank: Int) throws -> Double {
        let scale = gradientScale
        guard scale > 0 else { return 0 }
        if p == 2 {
            var g = try gradient(d, rank: 0).gradient
            BLAS.axpy(2 * mu, d, &g)
            return g.frobeniusNorm / scale
        }
        let (g, u, w) = try gradient(d, rank: rank)
        let ug = u.transposed * g                    // rank × k
        var normal = g
        BLAS.gemm(u, ug, alpha: -1, beta: 1, into: &normal)   // (I − U Uᵀ) G
        var tangent = u * ug
        let nw = normal * w
        BLAS.gemm(nw, w, transB: .transpose, beta: 1, into: &tangent)
        var residual = tangent.frobeniusNorm
        if p == 1, mu > 0, rank < maxRank {
            BLAS.gemm(nw, w, transB: .transpose, alpha: -1, beta: 1, into: &normal)  // (I − U Uᵀ) G (I − W Wᵀ)
            let largest = try LAPACK.singularValues(normal).first ?? 0
            residual = max(residual, max(0, largest - mu))
        }
        return residual / scale
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

    /// Settles the rank of a proximal-gradient result: rounds of iteratively reweighted least
    /// squares alternate with one proximal step, which can change the rank, until that step no
    /// longer moves D (1e-15 relative). The manifold Newton polish (`RankManifoldPolish`) then
    /// takes it to machine precision on that rank.
    ///
    /// On the column space of D a stationary point solves `γ D S² + M D = γ B S` with
    /// `M = μ p (D Dᵀ)^(p/2 − 1)`; given M = Q Λ Qᵀ the solution is explicit,
    /// `(Qᵀ D)_ij = γ (Qᵀ B)_ij s_j / (Λ_i + γ s_j²)`. Iterating it descends g monotonically,
    /// since `tr((D Dᵀ)^(p/2))` is concave in `D Dᵀ` for p ≤ 2, at a rate independent of cond(S).
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
