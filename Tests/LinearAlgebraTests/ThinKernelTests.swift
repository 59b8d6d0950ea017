import LinearAlgebra
import Testing

/// The hand-written thin-operand kernels, every instruction-set variant, against BLAS and
/// against the portable loops, for every specialized k and the generic fallback, on shapes
/// with every row tail of the vector blocks (rows mod 16) and column tails (columns mod 4).
/// The AVX2 kernels split k into groups of at most 6 columns: k up to 20 covers one, two,
/// three and four groups of unequal sizes, and 67 columns fill one of the update's 48-column
/// panels and leave a tail; the Figure 1 sizes and the noisy case's k = 50 run as in training.
@Suite struct ThinKernelTests {
    static let shapes: [(rows: Int, columns: Int, k: Int)] =
        (1...10).map { (37, 23, $0) } + (1...9).map { (40, 24, $0) } + (1...16).map { (16 + $0, 4 + $0 % 5, 5) }
        + (1...7).map { (8 + $0, 9, 6) } + [(200, 400, 5), (400, 400, 5), (3, 1, 2), (1, 3, 1)]
        + (11...20).map { (13 + $0, 67, $0) } + (1...8).map { (29 + $0, 65 + $0 % 4, $0) }
        + [(400, 400, 50), (200, 400, 50)]

    static func close(_ a: Matrix, _ b: Matrix) -> Bool { (a - b).frobeniusNorm <= 1e-13 * max(1, b.frobeniusNorm) }

    @Test("W x, Wᵀ Δ, the fused step and the gradient norm of every variant agree with gemm and the portable loops",
          arguments: ThinKernels.Variant.allCases, 0..<shapes.count)
    func agree(variant: ThinKernels.Variant, index: Int) {
        let (rows, columns, k) = Self.shapes[index]
        var rng = NormalGenerator(seed: UInt64(100 + index))
        let w = rng.normalMatrix(rows: rows, columns: columns)
        let x = rng.normalMatrix(rows: columns, columns: k)
        let delta = rng.normalMatrix(rows: rows, columns: k)
        let oldInput = rng.normalMatrix(rows: columns, columns: k)

        let product = ThinKernels.product(w, x, variant: variant)
        #expect(Self.close(product, w * x))
        #expect(Self.close(product, ThinKernels.product(w, x, variant: .portable)))

        var back = Matrix(rows: columns, columns: k, repeating: 7), portableBack = back
        ThinKernels.transposedProduct(w, delta, into: &back, variant: variant)
        ThinKernels.transposedProduct(w, delta, into: &portableBack, variant: .portable)
        #expect(Self.close(back, w.transposed * delta))
        #expect(Self.close(back, portableBack))

        var fused = w, fusedOut = Matrix(rows: rows, columns: k, repeating: 7)
        var portable = w, portableOut = fusedOut
        ThinKernels.stepAndForward(&fused, delta: delta, oldInput: oldInput, newInput: x, decay: 0.99, eta: 0.01,
                                   output: &fusedOut, variant: variant)
        ThinKernels.stepAndForward(&portable, delta: delta, oldInput: oldInput, newInput: x, decay: 0.99, eta: 0.01,
                                   output: &portableOut, variant: .portable)
        let expected = 0.99 * w - 0.01 * (delta * oldInput.transposed)
        #expect(Self.close(fused, expected))
        #expect(Self.close(fusedOut, expected * x))
        #expect(Self.close(fused, portable))
        #expect(Self.close(fusedOut, portableOut))

        // The same step measuring ‖W‖² of the new weights: the same weights and output to the
        // bit, and the sum of their squares.
        var measured = w, measuredOut = Matrix(rows: rows, columns: k, repeating: 7)
        let squaredNorm = ThinKernels.stepAndForward(
            &measured, delta: delta, oldInput: oldInput, newInput: x, decay: 0.99, eta: 0.01, output: &measuredOut,
            measuringNorm: true, variant: variant) ?? .nan
        #expect(measured == fused)
        #expect(measuredOut == fusedOut)
        let sumOfSquares = fused.storage.withUnsafeBufferPointer { $0.reduce(0) { $0 + $1 * $1 } }
        #expect(abs(squaredNorm - sumOfSquares) <= 1e-13 * sumOfSquares)

        // The backward product and the update in one pass, where a variant has it (AVX-512, k ≤ 6):
        // the values of the two kernels above, to the bit.
        if ThinKernels.fusesBackwardAndUpdate(k: k, variant: variant) {
            var both = w, bothBack = Matrix(rows: columns, columns: k, repeating: 7)
            let norm = ThinKernels.transposedProductAndUpdate(&both, delta: delta, oldInput: oldInput, decay: 0.99,
                                                              eta: 0.01, back: &bothBack, measuringNorm: true,
                                                              variant: variant)
            #expect(both == fused)
            #expect(bothBack == back)
            let sum = fused.storage.withUnsafeBufferPointer { $0.reduce(0) { $0 + $1 * $1 } }
            #expect(abs((norm ?? .nan) - sum) <= 1e-13 * sum)
            #expect(ThinKernels.transposedProductAndUpdate(&both, delta: delta, oldInput: oldInput, decay: 0.99,
                                                           eta: 0.01, back: &bothBack, variant: variant) == nil)
        } else {
            #expect(variant != .avx512 || !variant.isSupported || k > 6)
        }

        // Without the decay (1: the kernels leave its multiply out, as GradientStep keeps the decay
        // in a scale of each layer): the step's values, and the fused pass's equal to them to the bit.
        var undecayed = w, undecayedOut = Matrix(rows: rows, columns: k, repeating: 7)
        ThinKernels.stepAndForward(&undecayed, delta: delta, oldInput: oldInput, newInput: x, decay: 1, eta: 0.01,
                                   output: &undecayedOut, variant: variant)
        let expectedUndecayed = w - 0.01 * (delta * oldInput.transposed)
        #expect(Self.close(undecayed, expectedUndecayed))
        #expect(Self.close(undecayedOut, expectedUndecayed * x))
        if ThinKernels.fusesBackwardAndUpdate(k: k, variant: variant) {
            var both = w, bothBack = Matrix(rows: columns, columns: k, repeating: 7)
            _ = ThinKernels.transposedProductAndUpdate(&both, delta: delta, oldInput: oldInput, decay: 1, eta: 0.01,
                                                       back: &bothBack, variant: variant)
            #expect(both == undecayed)
            #expect(bothBack == back)
        }

        // The gradient norm of a layer, with λ W and Δ inputᵀ of the same size.
        var gradientBack = Matrix(rows: columns, columns: k, repeating: 7), portableGradientBack = gradientBack
        let lambda = 0.3
        let squared = ThinKernels.gradientSquaredNorm(w, delta: delta, input: x, lambda: lambda, back: &gradientBack,
                                                      variant: variant)
        let portableSquared = ThinKernels.gradientSquaredNorm(w, delta: delta, input: x, lambda: lambda,
                                                              back: &portableGradientBack, variant: .portable)
        let explicit = lambda * w + delta * x.transposed
        #expect(abs(squared - explicit.frobeniusNorm * explicit.frobeniusNorm) <= 1e-12 * squared)
        #expect(abs(squared - portableSquared) <= 1e-13 * squared)
        #expect(Self.close(gradientBack, w.transposed * delta))
        #expect(Self.close(gradientBack, portableGradientBack))
    }

    @Test("each variant's FMA peak is measured where the CPU runs it, and zero where it does not",
          arguments: ThinKernels.Variant.allCases)
    func peak(variant: ThinKernels.Variant) {
        let peak = variant.measuredPeak(seconds: 0.01)
        if variant.isSupported {
            // At least one multiply-add per nanosecond: any CPU of this century.
            #expect(peak > 1e9)
        } else {
            #expect(peak == 0)
        }
    }

    @Test("the training core uses the fastest variant this CPU runs")
    func bestIsFastestSupported() {
        let fastest = ThinKernels.Variant.allCases.last { $0.isSupported }
        #expect(ThinKernels.Variant.best == fastest)
    }
}
