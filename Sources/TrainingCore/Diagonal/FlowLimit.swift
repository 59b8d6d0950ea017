import Foundation
public import LinearAlgebra

/// Where the diagonal network's gradient flow from `u = v = α·1` ends (docs/MODEL.md §5), at a
/// finite α: not `w_ℓ1` but the interpolator of a separable potential that tends to `‖w‖_1` as
/// α → 0. Measuring against it tells "the optimizer has not finished" from "the implicit bias at
/// this α is not ℓ1 yet", which the distance to `w_ℓ1` alone mixes.
///
/// Along the flow each coordinate obeys `u_i' = −D u_i^(D−1) g_i`, `v_i' = D v_i^(D−1) g_i`,
/// `g = Aᵀ(A w − y)`, so with `z = −c_D ∫₀^t g` (a vector in range(Aᵀ)) in closed form
///
///     D = 1:  w_i = z_i                                   (c_1 = 2)
///     D = 2:  w_i = 2α² sinh(z_i)                          (c_2 = 4)
///     D ≥ 3:  w_i = (a − z_i)^(−q) − (a + z_i)^(−q),   a = α^(2−D),  q = D/(D−2),  |z_i| < a
///                                                          (c_D = D (D − 2))
///
/// `w_i = h(z_i)` with h odd and increasing. A limit that interpolates is therefore `h(Aᵀν)` with
/// `A h(Aᵀν) = y`: the minimizer of `Σ_i Q(w_i)` (Q' = h⁻¹) subject to `A w = y`, unique. It is
/// found from the dual, `ν = argmin Σ_i H((Aᵀν)_i) − yᵀν` (H' = h, convex; for D ≥ 3 a barrier
/// on |z_i| < a), by Newton's method with backtracking from ν = 0.
public struct DiagonalFlowLimit: Sendable, Hashable {
    /// `w∞ = h(Aᵀν)`.
    public var w: [Double]
    /// ν (one entry per row of A).
    public var dual: [Double]
    /// `‖A w∞ − y‖ / ‖y‖`: at most `tolerance`, or the initializer throws.
    public var residual: Double

    /// The limit is solved to this relative residual.
    public static let tolerance = 1e-12

    public init(a: Matrix, y: [Double], depth: Int, scale alpha: Double) throws(TrainingError) {
        guard depth >= 1, alpha > 0, alpha.isFinite else {
            throw TrainingError("the flow limit needs depth >= 1 and a positive init_scale, got \(depth), \(alpha)")
        }
        let link = Link(depth: depth, alpha: alpha)
        let m = a.rows, n = a.columns
        let yNorm = y.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var nu = [Double](repeating: 0, count: m)
        func z(_ nu: [Double]) -> [Double] {
            (0..<n).map { i in (0..<m).reduce(0) { $0 + a[$1, i] * nu[$1] } }
        }
        func objective(_ z: [Double], _ nu: [Double]) -> Double {
            z.reduce(0) { $0 + link.potential($1) } - zip(y, nu).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var current = z(nu)
        var value = objective(current, nu)
        var residual = Double.infinity
        for _ in 0..<500 {
            let w = current.map(link.value)
            var gradient = [Double](repeating: 0, count: m)
            for j in 0..<m { gradient[j] = (0..<n).reduce(0) { $0 + a[j, $1] * w[$1] } - y[j] }
            residual = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot() / max(yNorm, .leastNormalMagnitude)
            if residual <= Self.tolerance / 10 { break }
            // Hessian A diag(h'(z)) Aᵀ (positive definite: A has full row rank for a Gaussian A).
            var hessian = Matrix(rows: m, columns: m)
            let slopes = current.map(link.slope)
            for j in 0..<m {
                for l in 0...j {
                    let entry = (0..<n).reduce(0) { $0 + a[j, $1] * slopes[$1] * a[l, $1] }
                    hessian[j, l] = entry
                    hessian[l, j] = entry
                }
            }
            var rhs = Matrix(rows: m, columns: 1)
            for j in 0..<m { rhs[j, 0] = -gradient[j] }
            guard let step = try? LAPACK.solveSPD(hessian, rhs).storage else { break }
            // Backtracking (Armijo) inside the domain of the barrier.
            let decrease = zip(gradient, step).reduce(0) { $0 + $1.0 * $1.1 }
            var t = 1.0, moved = false
            for _ in 0..<60 {
                let trial = zip(nu, step).map { $0 + t * $1 }
                let trialZ = z(trial)
                if trialZ.allSatisfy(link.inDomain) {
                    let trialValue = objective(trialZ, trial)
                    if trialValue <= value + 1e-4 * t * decrease || abs(t * decrease) <= 1e-15 * abs(value) {
                        nu = trial
                        current = trialZ
                        value = trialValue
                        moved = true
                        break
                    }
                }
                t /= 2
            }
            if !moved { break }
        }
        guard residual <= Self.tolerance else {
            throw TrainingError("the gradient flow's limit (depth \(depth), init_scale \(alpha)) could not be solved: residual \(residual) above \(Self.tolerance)")
        }
        w = current.map(link.value)
        self.dual = nu
        self.residual = residual
    }

    /// `h`, its derivative and its antiderivative H for one (D, α).
    private struct Link {
        let depth: Int
        let alpha: Double
        /// `a = α^(2−D)` and `q = D/(D−2)` for D ≥ 3.
        let a: Double, q: Double

        init(depth: Int, alpha: Double) {
            self.depth = depth
            self.alpha = alpha
            a = depth >= 3 ? Foundation.pow(alpha, Double(2 - depth)) : .infinity
            q = depth >= 3 ? Double(depth) / Double(depth - 2) : 0
        }

        func inDomain(_ z: Double) -> Bool { z.isFinite && abs(z) < a }

        func value(_ z: Double) -> Double {
            switch depth {
            case 1: z
            case 2: 2 * alpha * alpha * sinh(z)
            default: Foundation.pow(a - z, -q) - Foundation.pow(a + z, -q)
            }
        }

        func slope(_ z: Double) -> Double {
            switch depth {
            case 1: 1
            case 2: 2 * alpha * alpha * cosh(z)
            default: q * (Foundation.pow(a - z, -q - 1) + Foundation.pow(a + z, -q - 1))
            }
        }

        func potential(_ z: Double) -> Double {
            switch depth {
            case 1: 0.5 * z * z
            case 2: 2 * alpha * alpha * cosh(z)
            default: (Foundation.pow(a - z, 1 - q) + Foundation.pow(a + z, 1 - q)) / (q - 1)
            }
        }
    }
}
