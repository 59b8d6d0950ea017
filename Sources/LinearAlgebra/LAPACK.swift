import CBLAS

/// A thin singular value decomposition `A = U diag(s) Vᵀ` with `k = min(m, n)`.
public struct SVD: Sendable {
    /// m × k, orthonormal columns.
    public var u: Matrix
    /// k singular values, descending.
    public var singularValues: [Double]
    /// k × n, orthonormal rows.
    public var vt: Matrix

    /// Numerical rank: singular values above `relativeTolerance * s_1`.
    public func rank(relativeTolerance: Double) -> Int {
        guard let first = singularValues.first, first > 0 else { return 0 }
        return singularValues.filter { $0 > relativeTolerance * first }.count
    }
}

/// The LAPACK calls the training core needs, through LAPACKE, with `info` checked.
public enum LAPACK {
    /// Thin SVD by divide and conquer (`dgesdd`).
    public static func svd(_ a: Matrix) throws(LinearAlgebraError) -> SVD {
        guard a.isFinite else { throw .notFinite(operation: "svd") }
        let m = a.rows, n = a.columns, k = min(m, n)
        var work = a.storage
        var s = [Double](repeating: 0, count: k)
        var u = Matrix(rows: m, columns: k)
        var vt = Matrix(rows: k, columns: n)
        if k == 0 { return SVD(u: u, singularValues: s, vt: vt) }
        let info = work.withUnsafeMutableBufferPointer { pa in
            s.withUnsafeMutableBufferPointer { ps in
                u.storage.withUnsafeMutableBufferPointer { pu in
                    vt.storage.withUnsafeMutableBufferPointer { pv in
                        LAPACKE_dgesdd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n),
                                       pa.baseAddress, Int32(max(1, m)), ps.baseAddress,
                                       pu.baseAddress, Int32(max(1, m)), pv.baseAddress, Int32(max(1, k)))
                    }
                }
            }
        }
        guard info == 0 else { throw .lapack(routine: "dgesdd", info: info) }
        return SVD(u: u, singularValues: s, vt: vt)
    }

    /// Singular values only, descending.
    public static func singularValues(_ a: Matrix) throws(LinearAlgebraError) -> [Double] {
        guard a.isFinite else { throw .notFinite(operation: "singularValues") }
        let m = a.rows, n = a.columns, k = min(m, n)
        if k == 0 { return [] }
        var work = a.storage
        var s = [Double](repeating: 0, count: k)
        var dummy = [Double](repeating: 0, count: 1)
        let info = work.withUnsafeMutableBufferPointer { pa in
            s.withUnsafeMutableBufferPointer { ps in
                dummy.withUnsafeMutableBufferPointer { pd in
                    LAPACKE_dgesdd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "N")), Int32(m), Int32(n),
                                   pa.baseAddress, Int32(max(1, m)), ps.baseAddress,
                                   pd.baseAddress, 1, pd.baseAddress, 1)
                }
            }
        }
        guard info == 0 else { throw .lapack(routine: "dgesdd", info: info) }
        return s
    }

    /// The thin Q factor (m × n, m ≥ n) of a QR decomposition (`dgeqrf` + `dorgqr`).
    public static func orthonormalColumns(_ a: Matrix) throws(LinearAlgebraError) -> Matrix {
        let m = a.rows, n = a.columns
        guard m >= n else { throw .shapeMismatch(operation: "qr", detail: "needs rows >= columns, got \(a.shape)") }
        guard a.isFinite else { throw .notFinite(operation: "qr") }
        if n == 0 { return a }
        var q = a
        var tau = [Double](repeating: 0, count: n)
        var info = q.storage.withUnsafeMutableBufferPointer { pq in
            tau.withUnsafeMutableBufferPointer { pt in
                LAPACKE_dgeqrf(LAPACK_COL_MAJOR, Int32(m), Int32(n), pq.baseAddress, Int32(m), pt.baseAddress)
            }
        }
        guard info == 0 else { throw .lapack(routine: "dgeqrf", info: info) }
        info = q.storage.withUnsafeMutableBufferPointer { pq in
            tau.withUnsafeMutableBufferPointer { pt in
                LAPACKE_dorgqr(LAPACK_COL_MAJOR, Int32(m), Int32(n), Int32(n), pq.baseAddress, Int32(m), pt.baseAddress)
            }
        }
        guard info == 0 else { throw .lapack(routine: "dorgqr", info: info) }
        return q
    }

    /// Moore–Penrose pseudoinverse; singular values at or below `relativeTolerance * s_1`
    /// count as zero.
    public static func pseudoinverse(_ a: Matrix, relativeTolerance: Double = 1e-12) throws(LinearAlgebraError) -> Matrix {
        let svd = try svd(a)
        let k = svd.singularValues.count
        let cutoff = (svd.singularValues.first ?? 0) * max(relativeTolerance, Double(max(a.rows, a.columns)) * .ulpOfOne)
        // A⁺ = V diag(1/s) Uᵀ: scale the rows of Vᵀ, then (Vᵀ)ᵀ Uᵀ.
        var scaledVt = svd.vt
        for i in 0..<k {
            let s = svd.singularValues[i]
            let inverse = s > cutoff ? 1 / s : 0
            for j in 0..<a.columns { scaledVt[i, j] *= inverse }
        }
        var out = Matrix(rows: a.columns, columns: a.rows)
        BLAS.gemm(scaledVt, svd.u, transA: .transpose, transB: .transpose, into: &out)
        return out
    }

    /// Solves `A X = B` for symmetric positive definite `A` (Cholesky, `dposv`).
    public static func solveSPD(_ a: Matrix, _ b: Matrix) throws(LinearAlgebraError) -> Matrix {
        guard a.rows == a.columns, a.rows == b.rows else {
            throw .shapeMismatch(operation: "solveSPD", detail: "A \(a.shape), B \(b.shape)")
        }
        var factor = a
        var x = b
        let info = factor.storage.withUnsafeMutableBufferPointer { pa in
            x.storage.withUnsafeMutableBufferPointer { px in
                LAPACKE_dposv(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(a.rows), Int32(b.columns),
                              pa.baseAddress, Int32(max(1, a.rows)), px.baseAddress, Int32(max(1, b.rows)))
            }
        }
        guard info == 0 else { throw .lapack(routine: "dposv", info: info) }
        return x
    }
}
