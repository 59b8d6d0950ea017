import CBLAS
import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over the CBLAS calls the training core needs.
public enum BLAS {
    /// OpenBLAS threads for the calls that follow; one per worker process is the fast
    /// layout for sweeps (many small independent problems).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// Ends OpenBLAS's idle server threads. OpenBLAS starts a thread for every core but one when it is
    /// loaded, and each spins (`sched_yield`) for about 0.1 s of CPU before it sleeps: a process
    /// that does no linear algebra, one that only coordinates, paid that for nothing (about
    /// 1 µs of coordinator CPU per task of a 100,000-task `bench dispatch` on 2 cores). A later
    /// multi-threaded call starts them again. Looked up by name: with a BLAS other than
    /// OpenBLAS's pthreads build, nothing happens.
    public static func stopIdleThreads() {
        guard let symbol = dlsym(nil, "blas_thread_shutdown_") else { return }
        _ = unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)()
    }

    /// The name of the kernels OpenBLAS chose for this CPU (or `OPENBLAS_CORETYPE`), e.g. "Haswell".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The `OPENBLAS_CORETYPE` whose kernels use the vector units this CPU has (`widest`, the
    /// best variant of our own kernels), when OpenBLAS has fallen back to kernels without AVX
    /// (`core`, as `coreName` gives it): an OpenBLAS older than the CPU model runs its SSE3
    /// "Prescott" kernels, at a quarter of dgemm's speed. Nil when OpenBLAS's choice is fine.
    /// dlsweep only suggests it: setting it changes the last bits of BLAS results. By default,
    /// for this machine.
    public static func suggestedCoreType(core: String = coreName, widest: ThinKernels.Variant = .best) -> String? {
        // OpenBLAS's x86-64 kernel sets without AVX, as openblas_get_corename() names them.
        let withoutAVX: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "opteron",
                                       "opteron_sse3", "barcelona", "nano"]
        guard withoutAVX.contains(core.lowercased()) else { return nil }
        switch widest {
        case .avx512: return "SkylakeX"
        case .avx2: return "Haswell"
        case .portable: return nil
        }
    }

    public enum Transpose: Sendable {
        case none, transpose

        var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    /// `C = alpha * op(A) op(B) + beta * C`, written into `C`'s storage. Shapes are the
    /// caller's invariant (the hot loop would pay for a throwing check): a mismatch traps.
    public static func gemm(_ a: Matrix, _ b: Matrix, transA: Transpose = .none, transB: Transpose = .none,
                            alpha: Double = 1, beta: Double = 0, into c: inout Matrix) {
        let m = transA == .none ? a.rows : a.columns
        let k = transA == .none ? a.columns : a.rows
        let kb = transB == .none ? b.rows : b.columns
        let n = transB == .none ? b.columns : b.rows
        precondition(k == kb && c.rows == m && c.columns == n,
                     "gemm shape mismatch: op(A) \(m)x\(k), op(B) \(kb)x\(n), C \(c.shape)")
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in c.storage.indices { c.storage[i] *= beta }
            return
        }
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    cblas_dgemm(CblasColMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                                alpha, pa.baseAddress, Int32(max(1, a.rows)), pb.baseAddress, Int32(max(1, b.rows)),
                                beta, pc.baseAddress, Int32(max(1, c.rows)))
                }
            }
        }
    }

    /// The product `op(A) op(B)` after checking shapes (for data that came from outside).
    public static func product(_ a: Matrix, _ b: Matrix, transA: Transpose = .none, transB: Transpose = .none)
        throws(LinearAlgebraError) -> Matrix
    {
        let m = transA == .none ? a.rows : a.columns
        let k = transA == .none ? a.columns : a.rows
        let kb = transB == .none ? b.rows : b.columns
        let n = transB == .none ? b.columns : b.rows
        guard k == kb else {
            throw .shapeMismatch(operation: "product", detail: "\(m)x\(k) times \(kb)x\(n)")
        }
        var c = Matrix(rows: m, columns: n)
        gemm(a, b, transA: transA, transB: transB, into: &c)
        return c
    }

    /// `y += alpha * x` over whole storages.
    public static func axpy(_ alpha: Double, _ x: Matrix, _ y: inout Matrix) {
        precondition(x.count == y.count, "axpy shape mismatch: \(x.shape) vs \(y.shape)")
        x.storage.withUnsafeBufferPointer { px in
            y.storage.withUnsafeMutableBufferPointer { py in
                cblas_daxpy(Int32(px.count), alpha, px.baseAddress, 1, py.baseAddress, 1)
            }
        }
    }

    public static func scale(_ alpha: Double, _ x: inout Matrix) {
        x.storage.withUnsafeMutableBufferPointer { p in cblas_dscal(Int32(p.count), alpha, p.baseAddress, 1) }
    }

    /// Euclidean norm of a vector (no overflow or underflow in the squares).
    public static func norm2(_ x: [Double]) -> Double { x.withUnsafeBufferPointer(norm2(of:)) }

    /// Euclidean norm of a matrix's values.
    public static func norm2(_ x: MatrixStorage) -> Double { x.withUnsafeBufferPointer(norm2(of:)) }

    private static func norm2(of p: UnsafeBufferPointer<Double>) -> Double {
        p.isEmpty ? 0 : cblas_dnrm2(Int32(p.count), p.baseAddress, 1)
    }

    /// Sum of squares, `‖x‖²`.
    public static func squaredNorm(_ x: Matrix) -> Double {
        x.storage.withUnsafeBufferPointer { p in p.isEmpty ? 0 : cblas_ddot(Int32(p.count), p.baseAddress, 1, p.baseAddress, 1) }
    }
}

extension BLAS {
    /// One pass over a weight matrix W (n_out × n_in) that does a gradient step and the next
    /// forward product together:
    ///
    ///     W ← decay · W − eta · Δ · oldInputᵀ      (Δ: n_out × k, oldInput: n_in × k)
    ///     output ← W · newInput                    (newInput: n_in × k, output: n_out × k)
    ///
    /// W is processed in panels of `panel` columns, so each panel is still in cache when the
    /// forward product reads it: W crosses the memory bus once per step instead of twice.
    public static func stepAndForward(_ w: inout Matrix, delta: Matrix, oldInput: Matrix, newInput: Matrix,
                                      decay: Double, eta: Double, output: inout Matrix, panel: Int = 64) {
        let nOut = w.rows, nIn = w.columns, k = delta.columns
        precondition(delta.rows == nOut && oldInput.rows == nIn && newInput.rows == nIn
                     && oldInput.columns == k && newInput.columns == k
                     && output.rows == nOut && output.columns == k, "stepAndForward shape mismatch")
        if nOut == 0 || nIn == 0 || k == 0 { return }
        w.storage.withUnsafeMutableBufferPointer { pw in
            delta.storage.withUnsafeBufferPointer { pd in
                oldInput.storage.withUnsafeBufferPointer { po in
                    newInput.storage.withUnsafeBufferPointer { pn in
                        output.storage.withUnsafeMutableBufferPointer { pout in
                            var start = 0
                            while start < nIn {
                                let width = min(panel, nIn - start)
                                let wPanel = pw.baseAddress! + start * nOut
                                cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, Int32(nOut), Int32(width), Int32(k),
                                            -eta, pd.baseAddress, Int32(nOut), po.baseAddress! + start, Int32(nIn),
                                            decay, wPanel, Int32(nOut))
                                cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, Int32(nOut), Int32(k), Int32(width),
                                            1, wPanel, Int32(nOut), pn.baseAddress! + start, Int32(nIn),
                                            start == 0 ? 0 : 1, pout.baseAddress, Int32(nOut))
                                start += width
                            }
                        }
                    }
                }
            }
        }
    }
}

extension BLAS {
    /// Copies `x` into `y`'s existing storage (no allocation, no shared buffer).
    public static func copy(_ x: Matrix, into y: inout Matrix) {
        precondition(x.rows == y.rows && x.columns == y.columns, "copy shape mismatch: \(x.shape) vs \(y.shape)")
        x.storage.withUnsafeBufferPointer { px in
            y.storage.withUnsafeMutableBufferPointer { py in
                if !px.isEmpty { cblas_dcopy(Int32(px.count), px.baseAddress, 1, py.baseAddress, 1) }
            }
        }
    }
}

/// Kernels for products with thin (k-column) operands, where BLAS gemm is inefficient.
public enum ThinKernels {
    /// The instruction-set versions of the kernels. Each is exact arithmetic on the same
    /// operands in a different summation order, so they agree to rounding.
    public enum Variant: Int32, CaseIterable, Sendable, CustomStringConvertible {
        case portable = 0   // DLSWEEP_KERNELS_PORTABLE
        case avx2 = 1       // DLSWEEP_KERNELS_AVX2
        case avx512 = 2     // DLSWEEP_KERNELS_AVX512

        /// Whether this CPU runs the variant (one it lacks runs the portable loops).
        public var isSupported: Bool { dlsweep_kernels_supports(rawValue) == 1 }

        /// The variant the training core uses: the fastest this CPU runs, unless chosen.
        public static var best: Variant { Variant(rawValue: dlsweep_kernels_best()) ?? .portable }

        /// Makes the training core use `variant` (nil: the fastest again); false if this CPU
        /// lacks it. For benchmarks comparing the variants on the whole step: not to be called
        /// while kernels run on other threads.
        @discardableResult
        public static func choose(_ variant: Variant?) -> Bool { dlsweep_kernels_choose(variant?.rawValue ?? -1) == 1 }

        /// This thread's measured FMA peak with the variant's own instructions, in flop/s
        /// (the best of rounds over about `seconds` of CPU time; 0 if this CPU lacks it): the
        /// ceiling a step on these kernels is compared with.
        public func measuredPeak(seconds: Double = 0.3) -> Double { dlsweep_fma_peak(rawValue, seconds) }

        public var description: String {
            switch self {
            case .portable: "portable"
            case .avx2: "AVX2+FMA"
            case .avx512: "AVX-512"
            }
        }
    }

    /// `W x` for a thin x (at most 8 columns use the specialized loops).
    public static func product(_ w: Matrix, _ x: Matrix, variant: Variant = .best) -> Matrix {
        var out = Matrix(rows: w.rows, columns: x.columns)
        product(w, x, into: &out, variant: variant)
        return out
    }

    /// `out = W x`, into a buffer of the right shape (a step's forward product, without allocating).
    public static func product(_ w: Matrix, _ x: Matrix, into out: inout Matrix, variant: Variant = .best) {
        precondition(x.rows == w.columns && out.rows == w.rows && out.columns == x.columns,
                     "thin product shape mismatch: \(w.shape) times \(x.shape) into \(out.shape)")
        w.storage.withUnsafeBufferPointer { pw in
            x.storage.withUnsafeBufferPointer { px in
                out.storage.withUnsafeMutableBufferPointer { po in
                    dlsweep_thin_product_variant(variant.rawValue, w.rows, w.columns, x.columns, pw.baseAddress,
                                                 px.baseAddress, po.baseAddress)
                }
            }
        }
    }

    /// Whether `transposedProductAndUpdate` runs for `k` columns with `variant` (AVX-512, k ≤ 6).
    public static func fusesBackwardAndUpdate(k: Int, variant: Variant = .best) -> Bool {
        k > 0 && dlsweep_back_and_update_supported(variant.rawValue, k) == 1
    }

    /// `back = Wᵀ Δ` from the old W, and `W ← decay W − η Δ oldInputᵀ`, in one pass over W: the
    /// values of `transposedProduct` and then `stepAndForward`, to the bit. For the layer at the
    /// bottom turnaround of a step, whose backward product streams it from L3 while the FMA units
    /// wait; its up pass is then `product` alone, from L2. With `measuringNorm`, returns `‖W‖²_F`
    /// of the new weights. Only where `fusesBackwardAndUpdate(k:variant:)`.
    @discardableResult
    public static func transposedProductAndUpdate(_ w: inout Matrix, delta: Matrix, oldInput: Matrix, decay: Double,
                                                  eta: Double, back: inout Matrix, measuringNorm: Bool = false,
                                                  variant: Variant = .best) -> Double? {
        let nOut = w.rows, nIn = w.columns, k = delta.columns
        precondition(delta.rows == nOut && oldInput.rows == nIn && oldInput.columns == k
                     && back.rows == nIn && back.columns == k, "transposedProductAndUpdate shape mismatch")
        precondition(fusesBackwardAndUpdate(k: k, variant: variant),
                     "transposedProductAndUpdate: no fused kernel for k = \(k) with \(variant)")
        var squaredNorm = 0.0
        w.storage.withUnsafeMutableBufferPointer { pw in
            delta.storage.withUnsafeBufferPointer { pd in
                oldInput.storage.withUnsafeBufferPointer { po in
                    back.storage.withUnsafeMutableBufferPointer { pb in
                        withUnsafeMutablePointer(to: &squaredNorm) { norm in
                            _ = dlsweep_back_and_update_variant(variant.rawValue, nOut, nIn, k, pw.baseAddress,
                                                                pd.baseAddress, po.baseAddress, decay, eta,
                                                                pb.baseAddress, measuringNorm ? norm : nil)
                        }
                    }
                }
            }
        }
        return measuringNorm ? squaredNorm : nil
    }

    /// `back = Wᵀ Δ` for thin Δ.
    public static func transposedProduct(_ w: Matrix, _ delta: Matrix, into back: inout Matrix,
                                         variant: Variant = .best) {
        precondition(delta.rows == w.rows && back.rows == w.columns && back.columns == delta.columns,
                     "transposedProduct shape mismatch")
        w.storage.withUnsafeBufferPointer { pw in
            delta.storage.withUnsafeBufferPointer { pd in
                back.storage.withUnsafeMutableBufferPointer { pb in
                    dlsweep_transposed_product_variant(variant.rawValue, w.rows, w.columns, delta.columns,
                                                       pw.baseAddress, pd.baseAddress, pb.baseAddress)
                }
            }
        }
    }

    /// `‖λ W + Δ inputᵀ‖²_F`, summed entry by entry, and `back = Wᵀ Δ`, in one pass over W
    /// and without a copy of it (the gradient norm of one layer).
    public static func gradientSquaredNorm(_ w: Matrix, delta: Matrix, input: Matrix, lambda: Double,
                                           back: inout Matrix, variant: Variant = .best) -> Double {
        let nOut = w.rows, nIn = w.columns, k = delta.columns
        precondition(delta.rows == nOut && input.rows == nIn && input.columns == k
                     && back.rows == nIn && back.columns == k, "gradientSquaredNorm shape mismatch")
        return w.storage.withUnsafeBufferPointer { pw in
            delta.storage.withUnsafeBufferPointer { pd in
                input.storage.withUnsafeBufferPointer { pi in
                    back.storage.withUnsafeMutableBufferPointer { pb in
                        dlsweep_gradient_norm_variant(variant.rawValue, nOut, nIn, k, pw.baseAddress, pd.baseAddress,
                                                      pi.baseAddress, lambda, pb.baseAddress)
                    }
                }
            }
        }
    }

    /// The same as `BLAS.stepAndForward`, in blocks of W that stay in registers (or L1). With
    /// `measuringNorm`, returns also `‖W‖²_F` of the new weights, summed while each block of W is
    /// still in L1: a check's loss without another read of every weight from memory (in another
    /// order than `BLAS.squaredNorm`'s, so its last bits may differ).
    @discardableResult
    public static func stepAndForward(_ w: inout Matrix, delta: Matrix, oldInput: Matrix, newInput: Matrix,
                                      decay: Double, eta: Double, output: inout Matrix, measuringNorm: Bool = false,
                                      variant: Variant = .best) -> Double? {
        let nOut = w.rows, nIn = w.columns, k = delta.columns
        precondition(delta.rows == nOut && oldInput.rows == nIn && newInput.rows == nIn
                     && oldInput.columns == k && newInput.columns == k
                     && output.rows == nOut && output.columns == k, "stepAndForward shape mismatch")
        var squaredNorm = 0.0
        w.storage.withUnsafeMutableBufferPointer { pw in
            delta.storage.withUnsafeBufferPointer { pd in
                oldInput.storage.withUnsafeBufferPointer { po in
                    newInput.storage.withUnsafeBufferPointer { pn in
                        output.storage.withUnsafeMutableBufferPointer { pout in
                            withUnsafeMutablePointer(to: &squaredNorm) { norm in
                                dlsweep_step_and_forward_variant(variant.rawValue, nOut, nIn, k, pw.baseAddress,
                                                                 pd.baseAddress, po.baseAddress, pn.baseAddress,
                                                                 decay, eta, pout.baseAddress, measuringNorm ? norm : nil)
                            }
                        }
                    }
                }
            }
        }
        return measuringNorm ? squaredNorm : nil
    }
}
