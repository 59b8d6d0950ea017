public import LinearAlgebra

/// Sparse regression `y = A w*` (MODEL.md §5, docs/MODEL.md §5): the problem of the diagonal
/// linear network (`SparseProblemSpec`: config `signal_dim` is the dimension n of w,
/// `measurements` the m < n rows of A, `latent_dim` the sparsity s of w*).
public struct DiagonalProblem: Sendable {
    /// m × n, i.i.d. N(0, 1/m).
    public var a: Matrix
    /// `w*`: s entries ±1 (random signs) on `support`, zero elsewhere.
    public var signal: [Double]
    /// The s indices of w*'s non-zero entries, increasing.
    public var support: [Int]

    public var dimension: Int { a.columns }
    public var measurements: Int { a.rows }

    public init(a: Matrix, signal: [Double]) throws(TrainingError) {
        guard a.rows >= 1, a.rows < a.columns else { throw TrainingError("A is \(a.shape): needs fewer rows (measurements) than columns") }
        guard signal.count == a.columns else { throw TrainingError("w* has \(signal.count) entries; A has \(a.columns) columns") }
        guard a.isFinite, signal.allSatisfy(\.isFinite) else { throw TrainingError("A or w* has non-finite values") }
        self.a = a
        self.signal = signal
        support = signal.indices.filter { signal[$0] != 0 }
    }

    /// Draws, in this order from `seed`: A (column after column), the support (a partial
    /// Fisher–Yates shuffle of 0..<n, one uniform per pick), then w* on the support in increasing
    /// index order (+1 when a uniform draw is below 1/2, else −1). Entries of one magnitude give
    /// every support entry the same escape time from the small initialization.
    public static func generate(_ spec: SparseProblemSpec, seed: UInt64) throws -> DiagonalProblem {
        try DiagonalSpec(problem: spec).record.problem.validate()
        var rng = NormalGenerator(seed: seed)
        let n = spec.dimension, m = spec.measurements, s = spec.sparsity
        let a = rng.normalMatrix(rows: m, columns: n, standardDeviation: 1 / Double(m).squareRoot())
        var indices = Array(0..<n)
        for k in 0..<s {
            let pick = k + min(n - k - 1, Int(rng.nextUniform() * Double(n - k)))
            indices.swapAt(k, pick)
        }
        var signal = [Double](repeating: 0, count: n)
        for i in indices[0..<s].sorted() { signal[i] = rng.nextUniform() < 0.5 ? 1 : -1 }
        return try DiagonalProblem(a: a, signal: signal)
    }

    /// `A w`.
    public func apply(_ w: [Double]) -> [Double] {
        var out = Matrix(rows: measurements, columns: 1)
        BLAS.gemm(a, Matrix(column: w), into: &out)
        return Array(out.storage)
    }
}

extension Matrix {
    /// A column vector.
    init(column values: [Double]) {
        self.init(rows: values.count, columns: 1)
        storage = MatrixStorage(values)
    }
}
