public import LinearAlgebra

/// One instance of the inverse problem of MODEL.md §1, with its test set.
public struct Problem: Sendable {
    /// m × d measurement operator.
    public var a: Matrix
    /// d × r orthonormal basis of the signal subspace.
    public var basis: Matrix
    /// d × n training signals.
    public var x: Matrix
    /// d × n_test fresh test signals `R z`.
    public var testSignals: Matrix
    /// m × n_test unit-variance test noise, scaled by each test noise level.
    public var testNoise: Matrix

    public var signalDim: Int { a.columns }
    public var measurements: Int { a.rows }
    public var samples: Int { x.columns }
    public var latentDim: Int { basis.columns }

    /// Draws the problem from `seed` in a fixed order: R, Z, A, test Z, test noise.
    public static func generate(_ spec: ProblemSpec, seed: UInt64) throws -> Problem {
        try spec.validate()
        var rng = NormalGenerator(seed: seed)
        let d = spec.signalDim, m = spec.measurements, r = spec.latentDim, n = spec.samples
        let basis = try LAPACK.orthonormalColumns(rng.normalMatrix(rows: d, columns: r))
        var z = rng.normalMatrix(rows: r, columns: n)
        if spec.condition > 1 && r > 1 {
            // Geometric ladder from 1 down to 1/kappa over the rows of Z.
            for i in 0..<r {
                let scale = Foundation.pow(spec.condition, -Double(i) / Double(r - 1))
                for j in 0..<n { z[i, j] *= scale }
            }
        }
        let a = rng.normalMatrix(rows: m, columns: d, standardDeviation: 1 / Double(m).squareRoot())
        let x = basis * z
        let testZ = rng.normalMatrix(rows: r, columns: spec.testSamples)
        let testNoise = rng.normalMatrix(rows: m, columns: spec.testSamples)
        return Problem(a: a, basis: basis, x: x, testSignals: basis * testZ, testNoise: testNoise)
    }

    /// A problem from given data (e.g. `.npy` files). Without `basis`, an orthonormal basis
    /// of range(X) is used; the test set is drawn from `seed` on that basis.
    public init(a: Matrix, x: Matrix, basis: Matrix? = nil, testSamples: Int = 200, seed: UInt64 = 1) throws {
        guard a.rows >= 1, a.columns >= 1 else { throw TrainingError("A is empty (\(a.shape))") }
        guard x.rows == a.columns else {
            throw TrainingError("X has \(x.rows) rows but A has \(a.columns) columns (A \(a.shape), X \(x.shape))")
        }
        guard a.rows < a.columns else { throw TrainingError("A is \(a.shape): needs fewer rows (measurements) than columns") }
        guard a.isFinite else { throw TrainingError("A has non-finite values") }
        guard x.isFinite else { throw TrainingError("X has non-finite values") }
        guard testSamples >= 1 else { throw TrainingError("test_samples must be at least 1") }
        let r: Matrix
        if let basis {
            guard basis.rows == a.columns, basis.columns >= 1 else {
                throw TrainingError("R is \(basis.shape); expected \(a.columns) rows")
            }
            guard basis.isFinite else { throw TrainingError("R has non-finite values") }
            guard basis.columns <= a.rows else {
                throw TrainingError("R is \(basis.shape): its \(basis.columns) columns (the latent dimension) must not exceed the \(a.rows) measurements (rows of A)")
            }
            r = try LAPACK.orthonormalColumns(basis)
            // X must lie in span(R), or every subspace metric would measure the wrong subspace.
            let outside = x - r * (r.transposed * x)
            guard outside.frobeniusNorm <= 1e-8 * max(x.frobeniusNorm, .leastNormalMagnitude) else {
                throw TrainingError("R is \(basis.shape) but X does not lie in the span of its columns (relative residual \(outside.frobeniusNorm / x.frobeniusNorm)): R.npy does not belong to X.npy")
            }
        } else {
            let svd = try LAPACK.svd(x)
            let rank = svd.rank(relativeTolerance: 1e-10)
            guard rank >= 1 else { throw TrainingError("X is zero: no signal subspace") }
            r = svd.u.columns(0..<rank)
        }
        var rng = NormalGenerator(seed: seed)
        let testZ = rng.normalMatrix(rows: r.columns, columns: testSamples)
        self.init(a: a, basis: r, x: x, testSignals: r * testZ,
                  testNoise: rng.normalMatrix(rows: a.rows, columns: testSamples))
    }

    public init(a: Matrix, basis: Matrix, x: Matrix, testSignals: Matrix, testNoise: Matrix) {
        self.a = a
        self.basis = basis
        self.x = x
        self.testSignals = testSignals
        self.testNoise = testNoise
    }
}

import Foundation
