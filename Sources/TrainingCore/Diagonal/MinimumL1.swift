public import LinearAlgebra
import LinearProgram

/// The minimum-ℓ1 solution of `A w = y`, `argmin ‖w‖_1 s.t. A w = y`: the limit the diagonal
/// network's training approaches as its initialization scale goes to 0.
public struct MinimumL1Solution: Sendable, Hashable {
    /// `w_ℓ1`, one entry per column of A.
    public var w: [Double]
    /// `‖w_ℓ1‖_1`, the LP's optimal value.
    public var norm: Double
    /// A dual certificate λ (one entry per row of A): `|Aᵀλ| ≤ 1`, with equality where w ≠ 0.
    public var certificate: [Double]

    /// Solves the linear program `min Σp + Σq s.t. A p − A q = y, p, q ≥ 0` (w = p − q) with
    /// GLPK's simplex. At an optimal basic solution p and q are never both positive (each
    /// positive pair could be lowered together), so `Σp + Σq = ‖w‖_1`.
    public init(a: Matrix, y: [Double]) throws(TrainingError) {
        let m = a.rows, n = a.columns
        guard y.count == m else { throw TrainingError("y has \(y.count) entries; A has \(m) rows") }
        var constraints = [Double](repeating: 0, count: m * 2 * n)
        for i in 0..<m {
            for j in 0..<n {
                constraints[i * 2 * n + j] = a[i, j]
                constraints[i * 2 * n + n + j] = -a[i, j]
            }
        }
        let program = LinearProgram(
            objective: [Double](repeating: 1, count: 2 * n),
            variableBounds: [LinearProgram.Bound](repeating: .atLeast(0), count: 2 * n),
            constraints: constraints,
            rowBounds: y.map { .equal($0) })
        let solution: LinearProgramSolution
        do {
            solution = try program.solve()
        } catch {
            throw TrainingError("the minimum-l1 linear program: \(error)")
        }
        w = (0..<n).map { solution.primal[$0] - solution.primal[n + $0] }
        norm = solution.objective
        certificate = solution.rowDuals
    }
}

extension MinimumL1Solution {
    /// `ρ = min over certificates λ of max_{i ∉ S} |(Aᵀλ)_i|`, subject to `(Aᵀλ)_S = sign(w_ℓ1)_S`,
    /// S the support of w_ℓ1 (entries above 1e-9 of its largest): how strictly the best dual
    /// certificate separates the support, itself a linear program (variables λ and ρ). ρ < 1
    /// for a unique, stable solution; it sets the D = 2 exponent of docs/MODEL.md §5. 0 when
    /// w_ℓ1 has no zero entry.
    public func strictestCertificate(a: Matrix) throws(TrainingError) -> Double {
        let m = a.rows, n = a.columns
        let largest = w.map(abs).max() ?? 0
        let support = Set(w.indices.filter { abs(w[$0]) > 1e-9 * largest })
        guard support.count < n else { return 0 }
        var constraints: [Double] = [], rows: [LinearProgram.Bound] = []
        for i in 0..<n {
            let column = (0..<m).map { a[$0, i] }
            if support.contains(i) {
                constraints += column + [0]
                rows.append(.equal(w[i] > 0 ? 1 : -1))
            } else {
                constraints += column + [-1]
                rows.append(.atMost(0))
                constraints += column + [1]
                rows.append(.atLeast(0))
            }
        }
        let program = LinearProgram(
            objective: [Double](repeating: 0, count: m) + [1],
            variableBounds: [LinearProgram.Bound](repeating: .free, count: m) + [.atLeast(0)],
            constraints: constraints, rowBounds: rows)
        do {
            return try program.solve().objective
        } catch {
            throw TrainingError("the certificate linear program: \(error)")
        }
    }
}
