import Foundation
import LinearAlgebra

/// A point `D = Q E` of the reduced problem on the manifold of rank q = `Q.columns`: Q (r × q)
/// orthonormal spans the kept directions, E (q × k) has full row rank.
struct FactoredCore {
    var basis: Matrix
    var factor: Matrix

    var rank: Int { basis.columns }
    var matrix: Matrix { basis * factor }

    /// D = 0, nothing kept.
    static func zero(rows: Int, columns: Int) -> FactoredCore {
        FactoredCore(basis: Matrix(rows: rows, columns: 0), factor: Matrix(rows: 0, columns: columns))
    }

    /// D factored at its numerical rank (singular values above 1e-12 of the largest).
    init(_ d: Matrix, maxRank: Int = .max) throws {
        let svd = try LAPACK.svd(d)
        let rank = min(svd.rank(relativeTolerance: 1e-12), maxRank)
        basis = svd.u.columns(0..<rank)
        factor = Matrix(rows: rank, columns: d.columns)
        for i in 0..<rank { for j in 0..<d.columns { factor[i, j] = svd.singularValues[i] * svd.vt[i, j] } }
    }

    /// `E` factored as `Q' E'` (its kept directions) becomes `(Q Q') E'`.
    func rotated(by outer: Matrix) -> FactoredCore {
        FactoredCore(basis: outer * basis, factor: factor)
    }

    init(basis: Matrix, factor: Matrix) {
        self.basis = basis
        self.factor = factor
    }
}

/// The two local methods on a rank manifold: a monotone descent that keeps (at most) the
/// directions it starts from, and Newton's method that polishes a point to machine precision.
extension SchattenProblem {
    /// Descends g from the kept directions `start` (r × q, orthonormal), with E first the
    /// unpenalized fit `Qᵀ B S⁻¹` on them: above every stationary point of each kept direction,
    /// so a direction that has a local minimum keeps it and one that has none collapses.
    ///
    /// Each `descentStep` is two exact minimizations, so g never rises. The step converges only
    /// linearly, slowly where columns of small s weigh in (their IRLS factor tends to 2 − p), so
    /// it is accelerated (Anderson, the last `memory` steps): the extrapolated D, cut back to
    /// rank q, is taken only when its g is no higher than the current point's, so g still never
    /// rises (about 8× fewer steps at the quick config's size with noise). The rank never
    /// grows. Stops when D moves less than `tolerance` relative.
    func descend(from start: Matrix, iterations: Int = 2000, tolerance: Double = 1e-11,
                 memory: Int = 5) throws -> FactoredCore {
        let r = b.rows, k = s.count
        var e = start.transposed * b
        for j in 0..<k { for i in 0..<e.rows { e[i, j] /= s[j] } }
        var bs = b
        for j in 0..<k { for i in 0..<r { bs[i, j] *= s[j] } }
        var point = FactoredCore(basis: start, factor: e)
        var current = point.matrix
        /// g at `point`, computed only when an extrapolation is to be compared with it.
        var value: Double?
        var history: [(f: Matrix, g: Matrix)] = []
        for _ in 0..<iterations {
            let plain = try descentStep(point, bs: bs)
            guard plain.rank > 0 else { return plain }
            if plain.rank != point.rank { history.removeAll() }
            let stepped = plain.matrix
            var residual = stepped
            BLAS.axpy(-1, current, &residual)
            history.append((residual, stepped))
            if history.count > memory + 1 { history.removeFirst() }
            var next = plain
            var nextValue: Double?
            if history.count >= 2, let extrapolated = try anderson(history, rank: plain.rank) {
                // Against g at the current point, which the plain step never exceeds: one
                // evaluation of g per step instead of two.
                let before = value ?? objective(point)
                let after = objective(extrapolated)
                if after <= before {
                    next = extrapolated
                    nextValue = after
                } else {
                    history.removeAll()
                }
            }
            let d = next.matrix
            var moved = d
            BLAS.axpy(-1, current, &moved)
            let change = moved.frobeniusNorm
            point = next
            value = nextValue
            current = d
            if change <= tolerance * d.frobeniusNorm { break }
        }
        // A direction still collapsing when D stopped moving is dropped as the next step would.
        return try FactoredCore(point.factor, maxRank: maxRank).rotated(by: point.basis)
    }

    /// One descent step: E by one step of iteratively reweighted least squares for fixed Q
    /// (see `polish`), then Q by orthogonal Procrustes for fixed E
    /// (`‖Q E S − B‖² = const − 2 tr(Qᵀ B S Eᵀ)`, so Q is the polar factor of `B S Eᵀ`; the
    /// penalty does not depend on Q). A singular value of E below 1e-12 of the largest is
    /// dropped (IRLS takes a collapsing one to zero superlinearly for p < 1).
    private func descentStep(_ point: FactoredCore, bs: Matrix) throws -> FactoredCore {
        let r = b.rows, k = s.count
        let svd = try LAPACK.svd(point.factor)
        let rank = min(svd.rank(relativeTolerance: 1e-12), maxRank)
        guard rank > 0 else { return .zero(rows: r, columns: k) }
        // In the basis of E's left singular vectors, M = μ p (E Eᵀ)^(p/2 − 1) is diagonal.
        var q = point.basis * svd.u.columns(0..<rank)
        let qb = q.transposed * b
        var next = Matrix(rows: rank, columns: k)
        for i in 0..<rank {
            let weight = mu * p * Foundation.pow(svd.singularValues[i], p - 2)
            for j in 0..<k { next[i, j] = gamma * qb[i, j] * s[j] / (weight + gamma * s[j] * s[j]) }
        }
        if rank < r {
            var m = Matrix(rows: r, columns: rank)
            BLAS.gemm(bs, next, transB: .transpose, into: &m)
            let polar = try LAPACK.svd(m)
            q = polar.u * polar.vt
        }
        return FactoredCore(basis: q, factor: next)
    }

    /// Anderson's extrapolation from the last steps `(f_i = T(x_i) − x_i, g_i = T(x_i))`:
    /// `g − ΔG γ` with γ the least-squares fit of f by ΔF (BLAS throughout: the tests run
    /// debug builds), cut back to `rank` (its best approximation of that rank); nil when the
    /// fit is singular or not finite.
    private func anderson(_ history: [(f: Matrix, g: Matrix)], rank: Int) throws -> FactoredCore? {
        let h = history.count - 1, shape = history[h].g, n = shape.storage.count
        let f = try Matrix(rows: n, columns: h + 1, columnMajor: history.flatMap(\.f.storage))
        let g = try Matrix(rows: n, columns: h + 1, columnMajor: history.flatMap(\.g.storage))
        var difference = Matrix(rows: h + 1, columns: h)    // column i: e_{i+1} − e_i
        for i in 0..<h { difference[i, i] = -1; difference[i + 1, i] = 1 }
        let df = f * difference, dg = g * difference
        var normal = Matrix(rows: h, columns: h), rhs = Matrix(rows: h, columns: 1)
        BLAS.gemm(df, df, transA: .transpose, into: &normal)
        let lastF = try Matrix(rows: n, columns: 1, columnMajor: history[h].f.storage)
        BLAS.gemm(df, lastF, transA: .transpose, into: &rhs)
        let trace = (0..<h).reduce(0) { $0 + normal[$1, $1] }
        guard trace > 0 else { return nil }
        for i in 0..<h { normal[i, i] += 1e-12 * trace }
        guard let weights = try? LAPACK.solveSPD(normal, rhs), weights.isFinite else { return nil }
        var x = try Matrix(rows: n, columns: 1, columnMajor: shape.storage)
        BLAS.gemm(dg, weights, alpha: -1, beta: 1, into: &x)
        guard x.isFinite else { return nil }
        let core = try FactoredCore(try Matrix(rows: shape.rows, columns: shape.columns, columnMajor: x.storage), maxRank: rank)
        return core.rank == rank ? core : nil
    }

    /// Newton's method for the first-order conditions on the manifold of rank q = `start.rank`,
    /// until its step stops shrinking (rounding) or falls below 1e-15 of D. The step, not the
    /// residual, decides: the residual is relative to `‖γ B S‖`, so with a badly conditioned S
    /// it reaches its rounding floor while directions of small s still move by 1e-11.
    ///
    /// The chart `D(K, F) = (Q + Q⊥ K)(E + F)` covers the rank-q matrices near D = Q E once each
    /// (K: (r − q) × q turns the kept directions, F: q × k moves within them), so the Hessian of
    /// g in (K, F) is regular at a strict local minimum: no gauge freedom to fix. Its gradient is
    /// `(Q⊥ᵀ G (E + F)ᵀ, (Q + Q⊥ K)ᵀ G)`, G the gradient of g on the manifold; the Hessian is
    /// formed by central differences of it (accurate to ~1e-10, which costs Newton a factor of
    /// that per step, not its limit), with Levenberg damping when it is not positive definite. This is what takes a
    /// rank-deficient D, whose kept directions the descent turns only linearly, to 1e-12.
    func newtonPolish(_ start: FactoredCore) throws -> (core: FactoredCore, residual: Double) {
        let q = start.rank
        var point = start
        var residual = try firstOrderResidual(point.matrix, rank: q)
        guard q > 0 else { return (point, residual) }
        let r = b.rows, k = s.count
        let kCount = (r - q) * q, n = kCount + q * k
        var lastStep = Double.infinity
        for _ in 0..<20 {
            let complement = try orthogonalComplement(point.basis)
            let e = point.factor
            let scaleF = max(e.frobeniusNorm / Double(q * k).squareRoot(), .leastNormalMagnitude)
            func chartGradient(_ x: [Double]) throws -> [Double] {
                var turn = Matrix(rows: r - q, columns: q)
                turn.storage = MatrixStorage(x[0..<kCount])
                var moved = e
                for i in 0..<(q * k) { moved.storage[i] += x[kCount + i] }
                var basis = point.basis
                if kCount > 0 { BLAS.gemm(complement, turn, beta: 1, into: &basis) }
                let g = try gradient(basis * moved, rank: q).gradient
                var out: [Double] = []
                out.reserveCapacity(n)
                if kCount > 0 {
                    var gk = Matrix(rows: r - q, columns: q)
                    BLAS.gemm(complement.transposed * g, moved, transB: .transpose, into: &gk)
                    out += gk.storage
                }
                var gf = Matrix(rows: q, columns: k)
                BLAS.gemm(basis, g, transA: .transpose, into: &gf)
                return out + gf.storage
            }
            let origin = [Double](repeating: 0, count: n)
            let g0 = try chartGradient(origin)
            var hessian = Matrix(rows: n, columns: n)
            for i in 0..<n {
                let h = 1e-5 * (i < kCount ? 1 : scaleF)
                var plus = origin, minus = origin
                plus[i] = h
                minus[i] = -h
                let gp = try chartGradient(plus), gm = try chartGradient(minus)
                for row in 0..<n { hessian[row, i] = (gp[row] - gm[row]) / (2 * h) }
            }
            for i in 0..<n {
                for j in 0..<i {
                    let mean = 0.5 * (hessian[i, j] + hessian[j, i])
                    hessian[i, j] = mean
                    hessian[j, i] = mean
                }
            }
            guard let step = Self.dampedSolve(hessian, g0) else { break }
            var turn = Matrix(rows: r - q, columns: q)
            turn.storage = MatrixStorage(step[0..<kCount])
            var moved = e
            for i in 0..<(q * k) { moved.storage[i] += step[kCount + i] }
            var basis = point.basis
            if kCount > 0 { BLAS.gemm(complement, turn, beta: 1, into: &basis) }
            guard basis.isFinite, moved.isFinite else { break }
            let orthonormal = try LAPACK.orthonormalColumns(basis)
            let candidate = FactoredCore(basis: orthonormal, factor: (orthonormal.transposed * basis) * moved)
            let next = try firstOrderResidual(candidate.matrix, rank: q)
            // A step that raises the residual beyond rounding is leaving the minimum, not polishing it.
            guard next.isFinite, next <= 2 * residual + 1e-16 else { break }
            let size = point.matrix.frobeniusNorm
            let stepSize = (candidate.matrix - point.matrix).frobeniusNorm
            point = candidate
            residual = next
            if stepSize <= 1e-15 * size || stepSize > 0.5 * lastStep { break }
            lastStep = stepSize
        }
        return (point, residual)
    }

    /// An orthonormal basis of the complement of range(Q) (r × (r − q)).
    private func orthogonalComplement(_ q: Matrix) throws -> Matrix {
        let r = q.rows
        guard q.columns < r else { return Matrix(rows: r, columns: 0) }
        var projector = Matrix.identity(r)
        BLAS.gemm(q, q, transB: .transpose, alpha: -1, beta: 1, into: &projector)
        return try LAPACK.svd(projector).u.columns(0..<(r - q.columns))
    }

    /// Solves `(H + ν I) x = −g` by Cholesky, with ν = 0 first and then growing from 1e-12 of
    /// H's largest entry until the factorization succeeds; nil if it never does.
    private static func dampedSolve(_ h: Matrix, _ g: [Double]) -> [Double]? {
        let n = h.rows
        var rhs = Matrix(rows: n, columns: 1)
        for i in 0..<n { rhs[i, 0] = -g[i] }
        let largest = h.storage.map(abs).max() ?? 0
        var damping = 0.0
        for _ in 0..<30 {
            var shifted = h
            for i in 0..<n { shifted[i, i] += damping }
            if let x = try? LAPACK.solveSPD(shifted, rhs), x.isFinite { return Array(x.storage) }
            damping = damping == 0 ? 1e-12 * max(largest, .leastNormalMagnitude) : 10 * damping
        }
        return nil
    }
}
