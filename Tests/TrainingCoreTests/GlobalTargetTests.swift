import Foundation
import LinearAlgebra
import Numerics
import Testing
import TrainingCore

/// The global target for L ≥ 3 (MODEL.md §4), against problems whose global minimum is known
/// exactly: with diagonal B and S the reduced problem decouples per direction, so the best kept
/// set is found by deciding each direction alone.
@Suite struct GlobalTargetTests {
    /// One direction of a decoupled problem: `min_{d ≥ 0} γ/2 (d s − b)² + μ d^p`, solved here
    /// independently of the core: the nonzero candidate is the larger root of
    /// `h(d) = γ s (d s − b) + μ p d^(p−1)` (h is convex; bisection between its minimum and
    /// b/s, where h > 0), compared with d = 0.
    struct Direction {
        var b: Double, s: Double

        func solve(gamma: Double = 1, mu: Double, p: Double) -> (d: Double, g: Double) {
            let zero = 0.5 * gamma * b * b
            let h = { (d: Double) in gamma * self.s * (d * self.s - self.b) + mu * p * pow(d, p - 1) }
            let low = pow(mu * p * (1 - p) / (gamma * s * s), 1 / (2 - p))
            guard low < b / s, h(low) < 0 else { return (0, zero) }
            var lo = low, hi = b / s
            for _ in 0..<200 {
                let mid = 0.5 * (lo + hi)
                if h(mid) < 0 { lo = mid } else { hi = mid }
                if hi - lo <= 1e-16 * hi { break }
            }
            let d = 0.5 * (lo + hi)
            let kept = 0.5 * gamma * (d * s - b) * (d * s - b) + mu * pow(d, p)
            return kept < zero ? (d, kept) : (0, zero)
        }
    }

    /// B (r × k) with `b` on its diagonal.
    private func diagonal(_ b: [Double], columns: Int) -> Matrix {
        var m = Matrix(rows: b.count, columns: columns)
        for (i, value) in b.enumerated() { m[i, i] = value }
        return m
    }

    /// The exact global minimum of a decoupled problem: D* (diagonal) and g(D*).
    private func exact(b: [Double], s: [Double], lambda: Double, depth: Int) -> (d: [Double], g: Double) {
        let mu = lambda * Double(depth) / 2, p = 2 / Double(depth)
        let parts = zip(b, s).map { Direction(b: $0, s: $1).solve(mu: mu, p: p) }
        // Columns beyond r have b = 0: they cost nothing at d = 0.
        return (parts.map(\.d), parts.reduce(0) { $0 + $1.g })
    }

    @Test("the issue's example: S = diag(0.4, 1, 2.5), B = diag(1.2, 0.9, 0.6), L = 3, lambda = 0.3 keeps the 2nd and 3rd ridge directions, g = 1.235512643")
    func issueExample() throws {
        let b = [1.2, 0.9, 0.6], s = [0.4, 1, 2.5]
        let target = try TrainingTarget.solve(b: diagonal(b, columns: 3), s: s, gamma: 1, lambda: 0.3, depth: 3)
        let known = exact(b: b, s: s, lambda: 0.3, depth: 3)
        #expect(known.g.isApproximatelyEqual(to: 1.235512643, absoluteTolerance: 5e-10))
        #expect(known.d[0] == 0 && known.d[1] > 0 && known.d[2] > 0)
        // The ridge order is 1, 2, 3 (ridge values 1.04, 0.69, 0.23): the kept set is not a prefix.
        #expect(target.objective.isApproximatelyEqual(to: known.g, relativeTolerance: 1e-13))
        for i in 0..<3 {
            for j in 0..<3 {
                #expect(abs(target.core[i, j] - (i == j ? known.d[i] : 0)) <= 1e-12, "D*[\(i), \(j)] = \(target.core[i, j])")
            }
        }
        #expect(target.method == .exhaustive && target.method.isCertified)
        #expect(target.candidates == 8)
        #expect(target.residual <= 1e-12)
    }

    /// A decoupled problem with five directions whose ridge order and worth disagree, plus two
    /// columns of Y that carry no signal.
    private let mixed = (b: [1.5, 1.1, 0.8, 0.5, 0.3], s: [0.02, 0.3, 4, 60, 600, 1.0, 0.5])

    /// The λ at which the kept set of the exact solution changes, located by bisection on
    /// log λ between grid points where it differs.
    private func switches(depth: Int, in range: (Double, Double), points: Int) -> [Double] {
        func kept(_ lambda: Double) -> [Bool] {
            exact(b: mixed.b, s: Array(mixed.s.prefix(mixed.b.count)), lambda: lambda, depth: depth).d.map { $0 > 0 }
        }
        let grid = (0...points).map { range.0 * pow(range.1 / range.0, Double($0) / Double(points)) }
        var out: [Double] = []
        for (lo, hi) in zip(grid, grid.dropFirst()) where kept(lo) != kept(hi) {
            var a = lo, c = hi
            for _ in 0..<60 {
                let mid = (a * c).squareRoot()
                if kept(mid) == kept(lo) { a = mid } else { c = mid }
            }
            out.append((a * c).squareRoot())
        }
        return out
    }

    @Test("decoupled problems scanned in lambda across every change of the kept set: D* and g are the exact global minimum",
          arguments: [3, 4, 5])
    func lambdaScan(depth: Int) throws {
        let b = diagonal(mixed.b, columns: mixed.s.count)
        let changes = switches(depth: depth, in: (1e-3, 20), points: 400)
        #expect(changes.count == 5, "the scan must cross the kept set's changes, found \(changes.count)")
        var lambdas = (0...60).map { 1e-3 * pow(2e4, Double($0) / 60) }
        for change in changes { lambdas += [change * (1 - 1e-6), change * (1 + 1e-6)] }
        var nonPrefix = 0
        for lambda in lambdas {
            let known = exact(b: mixed.b, s: Array(mixed.s.prefix(mixed.b.count)), lambda: lambda, depth: depth)
            let target = try TrainingTarget.solve(b: b, s: mixed.s, gamma: 1, lambda: lambda, depth: depth)
            #expect(target.objective.isApproximatelyEqual(to: known.g, relativeTolerance: 1e-12),
                    "lambda \(lambda): g = \(target.objective), exact \(known.g)")
            var error = 0.0
            for i in 0..<b.rows {
                for j in 0..<b.columns { error = max(error, abs(target.core[i, j] - (i == j ? known.d[i] : 0))) }
            }
            #expect(error <= 1e-12 * max(1, known.d.max() ?? 0), "lambda \(lambda): D* off by \(error)")
            #expect(target.residual <= 1e-12 && target.method == .exhaustive)
            // Not a prefix of the ridge order: some dropped direction has a larger ridge value
            // `b s / (s² + λ)` than some kept one.
            let ridge = zip(mixed.b, mixed.s).map { $0 * $1 / ($1 * $1 + lambda) }
            let kept = ridge.indices.filter { known.d[$0] > 0 }, dropped = ridge.indices.filter { known.d[$0] == 0 }
            if let weakest = kept.map({ ridge[$0] }).min(), dropped.contains(where: { ridge[$0] > weakest }) { nonPrefix += 1 }
        }
        #expect(nonPrefix >= 5, "the scan must include optimal kept sets that are not a prefix of the ridge order (\(nonPrefix))")
    }
}
