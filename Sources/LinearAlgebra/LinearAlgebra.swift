import CBLAS

/// Thin wrappers over the CBLAS calls the training core needs.
public enum BLAS {
    /// OpenBLAS threads for the calls that follow; one per worker process is the fast
    /// layout for sweeps (many small independent problems).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
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
    public static func norm2(_ x: [Double]) -> Double {
        x.withUnsafeBufferPointer { p in p.isEmpty ? 0 : cblas_dnrm2(Int32(p.count), p.baseAddress, 1) }
    }

    /// Sum of squares, `‖x‖²`.
    public static func squaredNorm(_ x: Matrix) -> Double {
        x.storage.withUnsafeBufferPointer { p in p.isEmpty ? 0 : cblas_ddot(Int32(p.count), p.baseAddress, 1, p.baseAddress, 1) }
    }
}
