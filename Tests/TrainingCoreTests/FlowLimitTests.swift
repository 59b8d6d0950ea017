import Foundation
import LinearAlgebra
import Numerics
import Testing
import TrainingCore

/// The exact limit of the diagonal network's gradient flow (docs/MODEL.md §5), `w∞ = h(Aᵀν)`
/// with `A w∞ = y`, against its definition and against the flow itself.
@Suite struct FlowLimitTests {
    /// The flow's closed form per coordinate, written here from the ODE (docs/MODEL.md §5).
    static func h(_ z: Double, depth: Int, alpha: Double) -> Double {
        switch depth {
        case 1: return z
        case 2: return 2 * alpha * alpha * sinh(z)
        default:
            let a = pow(alpha, Double(2 - depth)), q = Double(depth) / Double(depth - 2)
            return pow(a - z, -q) - pow(a + z, -q)
        }
    }

    @Test("one measurement: w∞ = h(ν a) with ν from a bisection on a · h(ν a) = y", arguments: [1, 2, 3, 4])
    func oneMeasurement(depth: Int) throws {
        let row = [0.9, -0.4, 0.25, 1.3, -0.05]
        let a = Matrix([row])
        for (alpha, y) in [(0.5, 0.7), (0.1, -1.2), (0.03, 2.0)] {
            let limit = try DiagonalFlowLimit(a: a, y: [y], depth: depth, scale: alpha)
            // a · h(ν a) is increasing in ν; for D ≥ 3 ν lives where |ν a_i| < α^(2−D).
            let bound = depth >= 3 ? pow(alpha, Double(2 - depth)) / row.map(abs).max()! : 60
            var lo = -bound, hi = bound
            func f(_ nu: Double) -> Double { zip(row, row.map { Self.h(nu * $0, depth: depth, alpha: alpha) }).map(*).reduce(0, +) - y }
            for _ in 0..<300 {
                let mid = 0.5 * (lo + hi)
                if f(mid) < 0 { lo = mid } else { hi = mid }
            }
            let nu = 0.5 * (lo + hi)
            for (i, ai) in row.enumerated() {
                let expected = Self.h(nu * ai, depth: depth, alpha: alpha)
                #expect(limit.w[i].isApproximatelyEqual(to: expected, absoluteTolerance: 1e-12 * max(1, abs(y))),
                        "depth \(depth) alpha \(alpha) w[\(i)] = \(limit.w[i]), expected \(expected)")
            }
            #expect(limit.residual <= 1e-12)
        }
    }

    @Test("on sparse recovery problems w∞ interpolates to 1e-12 and has the flow's form h(Aᵀν)",
          arguments: [(2, 0.02), (2, 0.32), (3, 0.02), (3, 0.32)])
    func interpolatesWithTheFlowsForm(depth: Int, alpha: Double) throws {
        let p = try DiagonalTests.problem(n: 40, m: 20, s: 3, seed: 2)
        let y = p.apply(p.signal)
        let limit = try DiagonalFlowLimit(a: p.a, y: y, depth: depth, scale: alpha)
        let residual = zip(p.apply(limit.w), y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            / y.map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(residual <= 1e-12, "residual \(residual)")
        // With A having full row rank, h(Aᵀν) is one point per ν and only one interpolates (h is increasing).
        for i in 0..<40 {
            let z = (0..<20).reduce(0) { $0 + p.a[$1, i] * limit.dual[$1] }
            let expected = Self.h(z, depth: depth, alpha: alpha)
            #expect(limit.w[i].isApproximatelyEqual(to: expected, absoluteTolerance: 1e-13), "w[\(i)]")
        }
    }

    @Test("the flow ends at w∞, not at w_l1: at alpha 0.3 the distance to the limit is the integrator's, to w_l1 it is the bias", arguments: [2, 3])
    func flowEndsAtTheLimit(depth: Int) throws {
        let p = try DiagonalTests.problem(n: 20, m: 10, s: 2, seed: 5)
        let model = DiagonalNetworkSpec(depth: depth, initScale: 0.3)
        var training = DiagonalTraining()
        training.checkEvery = 10
        training.steps = .fixed(200_000)
        training.tolConv = 1e-10
        training.stopOnSuccess = true
        training.etaScale = 1
        training.optimizer = .flow(FlowControl(rtol: 1e-11, atol: 1e-13))
        let outcome = try trainDiagonal(problem: p, model: model, training: training, trainingSeed: 1)
        let report = outcome.report
        #expect(report.converged, "residual \(report.trainResidual) after \(report.iterations) steps")
        let toLimit = try #require(report.flowLimitDistance), bias = try #require(report.flowLimitL1Distance)
        #expect(toLimit <= 1e-8, "distance to the flow's limit \(toLimit)")
        #expect(bias > 1e-2, "the limit at alpha 0.3 is not w_l1 yet (\(bias))")
        #expect(report.targetDistance.isApproximatelyEqual(to: bias, relativeTolerance: 1e-6))
    }

    @Test("the limit's distance to w_l1 shrinks with alpha and deeper is closer", arguments: [2, 3])
    func limitApproachesL1(depth: Int) throws {
        let p = try DiagonalTests.problem(n: 40, m: 20, s: 3, seed: 1)
        let y = p.apply(p.signal)
        let l1 = try MinimumL1Solution(a: p.a, y: y)
        let norm = BLAS.norm2(l1.w)
        let distances = try [0.32, 0.16, 0.08, 0.04, 0.02].map { alpha in
            let limit = try DiagonalFlowLimit(a: p.a, y: y, depth: depth, scale: alpha)
            return BLAS.norm2(zip(limit.w, l1.w).map { $0 - $1 }) / norm
        }
        for (a, b) in zip(distances, distances.dropFirst()) { #expect(b < a, "\(distances)") }
        if depth == 3 {
            let two = try DiagonalFlowLimit(a: p.a, y: y, depth: 2, scale: 0.02)
            #expect(distances.last! < BLAS.norm2(zip(two.w, l1.w).map { $0 - $1 }) / norm)
        }
    }
}
