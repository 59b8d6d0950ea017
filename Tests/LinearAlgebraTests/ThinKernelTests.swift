import LinearAlgebra
import Testing

/// The hand-written thin-operand kernels against BLAS, for every specialized k and the
/// generic fallback, on shapes with and without a multiple-of-4 row count.
@Suite struct ThinKernelTests {
    static let shapes: [(rows: Int, columns: Int, k: Int)] =
        (1...10).map { (37, 23, $0) } + (1...9).map { (40, 24, $0) } + [(200, 400, 5), (3, 1, 2)]

    @Test("W x, Wᵀ Δ and the fused step agree with gemm", arguments: 0..<shapes.count)
    func agreeWithBLAS(index: Int) {
        let (rows, columns, k) = Self.shapes[index]
        var rng = NormalGenerator(seed: UInt64(100 + index))
        let w = rng.normalMatrix(rows: rows, columns: columns)
        let x = rng.normalMatrix(rows: columns, columns: k)
        let delta = rng.normalMatrix(rows: rows, columns: k)
        let oldInput = rng.normalMatrix(rows: columns, columns: k)
        func close(_ a: Matrix, _ b: Matrix) -> Bool { (a - b).frobeniusNorm <= 1e-13 * max(1, b.frobeniusNorm) }

        #expect(close(ThinKernels.product(w, x), w * x))

        var back = Matrix(rows: columns, columns: k)
        ThinKernels.transposedProduct(w, delta, into: &back)
        #expect(close(back, w.transposed * delta))

        var fused = w, fusedOut = Matrix(rows: rows, columns: k, repeating: 7)
        ThinKernels.stepAndForward(&fused, delta: delta, oldInput: oldInput, newInput: x, decay: 0.99, eta: 0.01,
                                   output: &fusedOut)
        let expected = 0.99 * w - 0.01 * (delta * oldInput.transposed)
        #expect(close(fused, expected))
        #expect(close(fusedOut, expected * x))
    }
}
