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

    @Test("beyond the exhaustive rank (12 directions) the local search finds the exact minimum of a decoupled problem and says search")
    func searchBeyondExhaustiveRank() throws {
        // Alternating worth: large b with small s, small b with large s.
        let b = (0..<12).map { 1.4 * pow(0.8, Double($0)) }
        let s = (0..<12).map { $0 % 2 == 0 ? 0.05 * pow(1.9, Double($0)) : 40 * pow(0.6, Double($0)) }
        var nonPrefix = 0
        for lambda in [0.02, 0.1, 0.4] {
            let known = exact(b: b, s: s, lambda: lambda, depth: 3)
            let target = try TrainingTarget.solve(b: diagonal(b, columns: 12), s: s, gamma: 1, lambda: lambda, depth: 3)
            #expect(target.method == .search && !target.method.isCertified)
            #expect(target.objective.isApproximatelyEqual(to: known.g, relativeTolerance: 1e-12),
                    "lambda \(lambda): g = \(target.objective), exact \(known.g)")
            #expect(target.residual <= 1e-12)
            #expect(target.candidates < 4096, "a search, not every subset (\(target.candidates))")
            let ridge = zip(b, s).map { $0 * $1 / ($1 * $1 + lambda) }
            let kept = ridge.indices.filter { known.d[$0] > 0 }, dropped = ridge.indices.filter { known.d[$0] == 0 }
            if let weakest = kept.map({ ridge[$0] }).min(), dropped.contains(where: { ridge[$0] > weakest }) { nonPrefix += 1 }
        }
        #expect(nonPrefix >= 2, "the answers must leave the ridge order (\(nonPrefix))")
    }

    @Test("S = c I: D* keeps the leading singular directions of B that pay (von Neumann), rank-deficient, to 1e-12",
          arguments: [3, 4, 5])
    func rankDeficientScalarS(depth: Int) throws {
        // B = O diag(b) Pᵀ with orthonormal O (4 × 4) and P (6 × 4): with S = c I the problem is
        // invariant under O and P, so D* = Σ d_i o_i p_iᵀ, each d_i its direction's scalar answer.
        var rng = NormalGenerator(seed: 17)
        let o = try LAPACK.orthonormalColumns(rng.normalMatrix(rows: 4, columns: 4))
        let pBasis = try LAPACK.orthonormalColumns(rng.normalMatrix(rows: 6, columns: 4))
        let values = [2.0, 1.3, 0.7, 0.3], c = 1.7
        var b = Matrix(rows: 4, columns: 6)
        for i in 0..<4 { BLAS.gemm(o.columns(i..<(i + 1)), pBasis.columns(i..<(i + 1)), transB: .transpose, alpha: values[i], beta: 1, into: &b) }
        let mu = { (lambda: Double) in lambda * Double(depth) / 2 }, p = 2 / Double(depth)
        var deficient = 0
        for lambda in (0...24).map({ 0.02 * pow(100, Double($0) / 24) }) {
            let parts = values.map { Direction(b: $0, s: c).solve(mu: mu(lambda), p: p) }
            let keptCount = parts.filter { $0.d > 0 }.count
            guard keptCount > 0 && keptCount < 4 else { continue }
            deficient += 1
            var known = Matrix(rows: 4, columns: 6)
            for i in 0..<4 where parts[i].d > 0 {
                BLAS.gemm(o.columns(i..<(i + 1)), pBasis.columns(i..<(i + 1)), transB: .transpose, alpha: parts[i].d, beta: 1, into: &known)
            }
            let target = try TrainingTarget.solve(b: b, s: [Double](repeating: c, count: 6), gamma: 1, lambda: lambda, depth: depth)
            #expect(relativeDifference(target.core, known) <= 1e-12, "lambda \(lambda): \(relativeDifference(target.core, known))")
            #expect(target.objective.isApproximatelyEqual(to: parts.reduce(0) { $0 + $1.g }, relativeTolerance: 1e-12))
            #expect(try LAPACK.singularValues(target.core).filter { $0 > 1e-9 }.count == keptCount)
        }
        #expect(deficient >= 5, "the scan must hit rank-deficient answers (\(deficient))")
    }

    /// The balanced factorization of W (rank q ≤ width): `W_l = Σ^(1/L)` between the singular
    /// vectors, so `W_{l+1}ᵀ W_{l+1} = W_l W_lᵀ`; a stationary point of G gives one of F.
    private func balancedFactors(_ w: Matrix, depth: Int, width: Int) throws -> [Matrix] {
        let svd = try LAPACK.svd(w)
        let q = svd.rank(relativeTolerance: 1e-12)
        let root = svd.singularValues.prefix(q).map { pow($0, 1 / Double(depth)) }
        var layers: [Matrix] = []
        for l in 0..<depth {
            var layer = Matrix(rows: l == depth - 1 ? w.rows : width, columns: l == 0 ? w.columns : width)
            for i in 0..<q {
                if l == 0 {
                    for j in 0..<w.columns { layer[i, j] = root[i] * svd.vt[i, j] }
                } else if l == depth - 1 {
                    for j in 0..<w.rows { layer[j, i] = svd.u[j, i] * root[i] }
                } else {
                    layer[i, i] = root[i]
                }
            }
            layers.append(layer)
        }
        return layers
    }

    @Test("a rank-deficient target from noisy data (L = 4, lambda = 1) is a first-order point: the residual, checked here, is below 1e-12 and gradient descent leaves it where it is")
    func rankDeficientNoisyTarget() throws {
        // The issue's case: d 20, m 10, r 3, n 12, width 10, L 4, lambda 1, noise 0.05.
        let problem = try smallProblem(seed: 2, latentDim: 3)
        var rng = NormalGenerator(seed: 4)
        var y = problem.a * problem.x
        BLAS.axpy(0.05, rng.normalMatrix(rows: y.rows, columns: y.columns), &y)
        let svd = try LAPACK.svd(y)
        let k = svd.rank(relativeTolerance: 1e-12)
        let u = svd.u.columns(0..<k), s = Array(svd.singularValues.prefix(k)), v = svd.vt.transposed.columns(0..<k)
        let depth = 4, lambda = 1.0
        let target = try TrainingTarget.solve(basis: problem.basis, x: problem.x, u: u, s: s, v: v,
                                              gamma: 1, lambda: lambda, depth: depth)
        let d = target.core
        let dSVD = try LAPACK.svd(d)
        let q = dSVD.rank(relativeTolerance: 1e-9)
        #expect(q > 0 && q < 3, "the target must drop a direction here (rank \(q))")
        // The first-order conditions on the rank-q manifold, from the definitions: G = (D S − B) S
        // + μ p U Σ^(p−1) Wᵀ, and its tangent part U Uᵀ G + G W Wᵀ − U Uᵀ G W Wᵀ.
        let b = problem.basis.transposed * problem.x * v
        let mu = lambda * Double(depth) / 2, p = 2 / Double(depth)
        var g = Matrix(rows: d.rows, columns: k), bs = b
        for j in 0..<k { for i in 0..<d.rows { g[i, j] = (d[i, j] * s[j] - b[i, j]) * s[j]; bs[i, j] *= s[j] } }
        let uq = dSVD.u.columns(0..<q), wq = dSVD.vt.transposed.columns(0..<q)
        for i in 0..<q {
            let term = mu * p * pow(dSVD.singularValues[i], p - 1)
            g = g + term * (uq.columns(i..<(i + 1)) * wq.columns(i..<(i + 1)).transposed)
        }
        let pu = uq * uq.transposed, pw = wq * wq.transposed
        let tangent = pu * g + g * pw - pu * g * pw
        let residual = tangent.frobeniusNorm / bs.frobeniusNorm
        #expect(residual <= 1e-12, "first-order residual \(residual)")
        #expect(target.residual <= 1e-12 && target.method == .exhaustive)
        // Gradient descent from W*'s balanced factors stays at W* (the old target moved by 2.65e-7).
        var training = TrainingSpec()
        training.lambda = lambda
        training.noise = 0.05
        training.steps = 5000
        training.testNoise = []
        let start = try balancedFactors(target.onRange * u.transposed, depth: depth, width: 10)
        let outcome = try train(problem: problem, model: model(depth: depth, width: 10), training: training,
                                trainingSeed: 4, initialWeights: start)
        #expect(outcome.report.targetDistance <= 1e-12, "GD moved to \(outcome.report.targetDistance)")
        #expect(outcome.report.targetMethod == .exhaustive)
        #expect(try #require(outcome.report.targetResidual) <= 1e-12)
    }

    /// The issue's example as a full problem: d = 6, m = 4, n = 3, X = C B with C the first three
    /// coordinates of R^6, and A chosen so that Y = A X = U S with V = I (U the first three
    /// coordinates of R^4): then Cᵀ X V = B and Y's singular values are s.
    private func exampleProblem() throws -> Problem {
        let b = [1.2, 0.9, 0.6], s = [0.4, 1, 2.5]
        var a = Matrix(rows: 4, columns: 6)
        var rng = NormalGenerator(seed: 21)
        for i in 0..<4 { for j in 3..<6 { a[i, j] = 0.5 * rng.nextNormal() } }
        for i in 0..<3 { a[i, i] = s[i] / b[i] }
        var basis = Matrix(rows: 6, columns: 3), x = Matrix(rows: 6, columns: 3)
        for i in 0..<3 { basis[i, i] = 1; x[i, i] = b[i] }
        return try Problem(a: a, x: x, basis: basis, testSamples: 20)
    }

    @Test("the issue's example trained from a Kaiming start reaches the global minimum and is converged; a network held at the old (local) target is not")
    func kaimingRunConverges() throws {
        let problem = try exampleProblem()
        var training = TrainingSpec()
        training.lambda = 0.3
        training.steps = 200_000
        training.etaScale = 0.9
        training.stopOnSuccess = true
        training.testNoise = []
        let net = model(depth: 3, width: 6)
        let report = try train(problem: problem, model: net, training: training, trainingSeed: 1).report
        #expect(report.converged, "target distance \(report.targetDistance) after \(report.iterations) steps")
        #expect(report.targetMethod == .exhaustive)
        // Y = U S: W = C D Uᵀ with D = diag(d) in the order of the example.
        let known = exact(b: [1.2, 0.9, 0.6], s: [0.4, 1, 2.5], lambda: 0.3, depth: 3)
        func map(_ d: [Double]) -> Matrix {
            var w = Matrix(rows: 6, columns: 4)
            for i in 0..<3 { w[i, i] = d[i] }
            return w
        }
        #expect(known.d[0] == 0 && known.d[1] > 0 && known.d[2] > 0)
        // The local minimum keeping the third direction alone (g = 1.277351913, the old target):
        // stationary, and a distance of 0.17 from W*_λ.
        let third = Direction(b: 0.6, s: 2.5).solve(mu: 0.45, p: 2 / 3)
        training.steps = 2000
        training.stopOnSuccess = false
        let held = try train(problem: problem, model: net, training: training, trainingSeed: 1,
                             initialWeights: balancedFactors(map([0, 0, third.d]), depth: 3, width: 6)).report
        #expect((0.5 * 1.2 * 1.2 + 0.5 * 0.9 * 0.9 + third.g).isApproximatelyEqual(to: 1.277351913, absoluteTolerance: 5e-10))
        #expect(!held.converged && held.targetDistance > 0.1, "distance \(held.targetDistance)")
        // It stays there: its distance after 2000 steps is the exact distance between the two.
        let exactDistance = (map([0, 0, third.d]) - map(known.d)).frobeniusNorm / (held.oracleNorm ?? .nan)
        #expect(held.targetDistance.isApproximatelyEqual(to: exactDistance, relativeTolerance: 1e-9))
    }
}
