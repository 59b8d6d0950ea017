import CKernels
import LinearAlgebra
import Testing

/// The AVX-512 update, forward product and W x start their row blocks where W's 64-byte lines
/// start (a `Matrix` starts a line, a Swift array's large buffer 48 bytes into one), and the
/// backward product walks W's columns from the last to the first. Neither may change a single
/// bit: each output row of a forward product is a sum over the columns in order, and each
/// column of the backward product is its own sum. So W placed at every offset within a line,
/// and the Δ and output buffers at others, give the same bits as W at the start of a line.
@Suite struct KernelAlignmentTests {
    /// Row counts that are multiples of 8 (every column starts at the same place in a line, so
    /// the blocks move) and two that are not; k over the specialized kernels and the groups.
    static let shapes: [(rows: Int, columns: Int, k: Int)] =
        [(8, 3, 1), (16, 5, 2), (24, 9, 3), (40, 17, 4), (400, 20, 5), (200, 33, 6), (48, 7, 13), (64, 6, 50),
         (37, 11, 5), (9, 4, 2)]

    /// `body` gets buffers of `count` doubles that start `offset` doubles into a 64-byte line.
    static func withBuffer<R>(count: Int, offset: Int, _ body: (UnsafeMutablePointer<Double>) -> R) -> R {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (count + 8) * 8, alignment: 64)
        defer { raw.deallocate() }
        return body(raw.assumingMemoryBound(to: Double.self) + offset)
    }

    /// W, Δ and the old and new inputs of a shape, drawn from `seed`.
    static func operands(_ shape: (rows: Int, columns: Int, k: Int), seed: UInt64)
        -> (w: Matrix, delta: Matrix, old: Matrix, new: Matrix) {
        var rng = NormalGenerator(seed: seed)
        return (rng.normalMatrix(rows: shape.rows, columns: shape.columns), rng.normalMatrix(rows: shape.rows, columns: shape.k),
                rng.normalMatrix(rows: shape.columns, columns: shape.k), rng.normalMatrix(rows: shape.columns, columns: shape.k))
    }

    /// W and Δ copied to buffers that start `offset` and `3 offset mod 8` doubles into a line, and a
    /// buffer for Wᵀ Δ at `7 − offset`: where `run` and `runFused` both place them.
    static func withPlaced<R>(shape: (rows: Int, columns: Int, k: Int), offset: Int, w: Matrix, delta: Matrix,
                              _ body: (_ w: UnsafeMutablePointer<Double>, _ delta: UnsafeMutablePointer<Double>,
                                       _ back: UnsafeMutablePointer<Double>) -> R) -> R {
        let (rows, columns, k) = shape
        return withBuffer(count: rows * columns, offset: offset) { pw in
            withBuffer(count: rows * k, offset: (offset * 3) % 8) { pd in
                withBuffer(count: columns * k, offset: 7 - offset) { pb in
                    w.storage.withUnsafeBufferPointer { pw.update(from: $0.baseAddress!, count: w.count) }
                    delta.storage.withUnsafeBufferPointer { pd.update(from: $0.baseAddress!, count: delta.count) }
                    return body(pw, pd, pb)
                }
            }
        }
    }

    /// Wᵀ Δ, the fused step's new W and output, and the new W times `old` (the thin product),
    /// with W at `offset` doubles into a line.
    static func run(variant: ThinKernels.Variant, shape: (rows: Int, columns: Int, k: Int), offset: Int,
                    w: Matrix, delta: Matrix, old: Matrix, new: Matrix) -> [Double] {
        let (rows, columns, k) = shape
        return withPlaced(shape: shape, offset: offset, w: w, delta: delta) { pw, pd, pb in
            withBuffer(count: rows * k, offset: (offset * 5) % 8) { po in
                dlsweep_transposed_product_variant(variant.rawValue, rows, columns, k, pw, pd, pb)
                let back = Array(UnsafeBufferPointer(start: pb, count: columns * k))
                old.storage.withUnsafeBufferPointer { po0 in
                    new.storage.withUnsafeBufferPointer { pn in
                        dlsweep_step_and_forward_variant(variant.rawValue, rows, columns, k, pw, pd,
                                                         po0.baseAddress, pn.baseAddress, 0.99, 0.01, po, nil)
                    }
                }
                let stepped = Array(UnsafeBufferPointer(start: pw, count: rows * columns))
                    + Array(UnsafeBufferPointer(start: po, count: rows * k))
                old.storage.withUnsafeBufferPointer { po0 in
                    dlsweep_thin_product_variant(variant.rawValue, rows, columns, k, pw, po0.baseAddress, pd)
                }
                return back + stepped + Array(UnsafeBufferPointer(start: pd, count: rows * k))
            }
        }
    }

    /// Wᵀ Δ and the new W of the pass that does both (`dlsweep_back_and_update_variant`), with the
    /// buffers where `run` puts them; nil where the variant has no such kernel.
    static func runFused(variant: ThinKernels.Variant, shape: (rows: Int, columns: Int, k: Int), offset: Int,
                         w: Matrix, delta: Matrix, old: Matrix) -> [Double]? {
        let (rows, columns, k) = shape
        guard ThinKernels.fusesBackwardAndUpdate(k: k, variant: variant) else { return nil }
        return withPlaced(shape: shape, offset: offset, w: w, delta: delta) { pw, pd, pb in
            let done = old.storage.withUnsafeBufferPointer { po in
                dlsweep_back_and_update_variant(variant.rawValue, rows, columns, k, pw, pd, po.baseAddress,
                                                0.99, 0.01, pb, nil)
            }
            guard done == 1 else { return [] }
            return Array(UnsafeBufferPointer(start: pb, count: columns * k))
                + Array(UnsafeBufferPointer(start: pw, count: rows * columns))
        }
    }

    @Test("the backward product with the update in one pass gives the two kernels' bits wherever W starts",
          arguments: ThinKernels.Variant.allCases.filter(\.isSupported), 0..<shapes.count)
    func fusedSameBits(variant: ThinKernels.Variant, index: Int) {
        let shape = Self.shapes[index]
        let (w, delta, old, new) = Self.operands(shape, seed: UInt64(700 + index))
        let split = Self.run(variant: variant, shape: shape, offset: 0, w: w, delta: delta, old: old, new: new)
        let expected = Array(split.prefix(shape.columns * shape.k + w.count)).map(\.bitPattern)
        for offset in 0..<8 {
            guard let fused = Self.runFused(variant: variant, shape: shape, offset: offset, w: w, delta: delta, old: old)
            else {
                #expect(variant != .avx512 || shape.k > 6, "AVX-512 fuses every k up to 6")
                return
            }
            #expect(fused.map(\.bitPattern) == expected, "W \(offset) doubles into a line")
        }
    }

    @Test("every variant gives the same bits wherever W and the thin buffers start in a cache line",
          arguments: ThinKernels.Variant.allCases.filter(\.isSupported), 0..<shapes.count)
    func sameBits(variant: ThinKernels.Variant, index: Int) throws {
        let shape = Self.shapes[index]
        let (w, delta, old, new) = Self.operands(shape, seed: UInt64(500 + index))
        let aligned = Self.run(variant: variant, shape: shape, offset: 0, w: w, delta: delta, old: old, new: new)
        for offset in 1..<8 {
            let moved = Self.run(variant: variant, shape: shape, offset: offset, w: w, delta: delta, old: old, new: new)
            #expect(moved.map(\.bitPattern) == aligned.map(\.bitPattern), "W \(offset) doubles into a line")
        }
        // And the results are the products, not merely stable.
        let back = try Matrix(rows: shape.columns, columns: shape.k, columnMajor: Array(aligned.prefix(shape.columns * shape.k)))
        let product = w.transposed * delta
        #expect((back - product).frobeniusNorm <= 1e-13 * product.frobeniusNorm)
        var expected = 0.99 * w - 0.01 * (delta * old.transposed)
        let newW = try Matrix(rows: shape.rows, columns: shape.columns,
                              columnMajor: Array(aligned[(shape.columns * shape.k)..<(shape.columns * shape.k + w.count)]))
        #expect((newW - expected).frobeniusNorm <= 1e-13 * expected.frobeniusNorm)
        expected = expected * new
        let outStart = shape.columns * shape.k + w.count
        let out = try Matrix(rows: shape.rows, columns: shape.k,
                             columnMajor: Array(aligned[outStart..<(outStart + shape.rows * shape.k)]))
        #expect((out - expected).frobeniusNorm <= 1e-13 * expected.frobeniusNorm)
        let thin = try Matrix(rows: shape.rows, columns: shape.k, columnMajor: Array(aligned.suffix(shape.rows * shape.k)))
        let thinExpected = newW * old
        #expect((thin - thinExpected).frobeniusNorm <= 1e-13 * thinExpected.frobeniusNorm)
    }
}
