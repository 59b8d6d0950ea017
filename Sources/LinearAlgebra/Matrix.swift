/// A dense column-major matrix of `Double`, the layout BLAS and LAPACK expect.
public struct Matrix: Sendable, Hashable, CustomStringConvertible {
    public let rows: Int
    public let columns: Int
    /// Column-major storage: element (i, j) is at `i + j * rows`, the first one at the start of
    /// a cache line (`MatrixStorage`).
    public var storage: MatrixStorage

    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        precondition(rows >= 0 && columns >= 0, "matrix dimensions must be non-negative")
        self.rows = rows
        self.columns = columns
        storage = MatrixStorage(repeating: value, count: rows * columns)
    }

    /// - Parameter columnMajor: `rows * columns` values, column after column.
    public init(rows: Int, columns: Int, columnMajor: some Collection<Double>) throws(LinearAlgebraError) {
        guard rows >= 0, columns >= 0, columnMajor.count == rows * columns else {
            throw .shapeMismatch(operation: "Matrix(rows:columns:columnMajor:)",
                                 detail: "\(columnMajor.count) values for \(rows)x\(columns)")
        }
        self.rows = rows
        self.columns = columns
        storage = MatrixStorage(columnMajor)
    }

    /// Builds a matrix from its rows (convenient in tests).
    public init(_ rowArrays: [[Double]]) {
        let r = rowArrays.count, c = rowArrays.first?.count ?? 0
        precondition(rowArrays.allSatisfy { $0.count == c }, "ragged rows")
        self.init(rows: r, columns: c)
        for i in 0..<r { for j in 0..<c { storage[i + j * r] = rowArrays[i][j] } }
    }

    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.storage[i + i * n] = 1 }
        return m
    }

    public subscript(row: Int, column: Int) -> Double {
        get { storage[row + column * rows] }
        set { storage[row + column * rows] = newValue }
    }

    public var shape: String { "\(rows)x\(columns)" }
    public var count: Int { storage.count }

    public var transposed: Matrix {
        var t = Matrix(rows: columns, columns: rows)
        for j in 0..<columns { for i in 0..<rows { t.storage[j + i * columns] = storage[i + j * rows] } }
        return t
    }

    /// Columns `range` as a new matrix.
    public func columns(_ range: Range<Int>) -> Matrix {
        var out = Matrix(rows: rows, columns: range.count)
        out.storage = MatrixStorage(storage[(range.lowerBound * rows)..<(range.upperBound * rows)])
        return out
    }

    public var isFinite: Bool { storage.allSatisfy(\.isFinite) }

    public var frobeniusNorm: Double { BLAS.norm2(storage) }

    public var description: String {
        (0..<rows).map { i in (0..<columns).map { j in "\(self[i, j])" }.joined(separator: " ") }
            .joined(separator: "\n")
    }

    public static func + (a: Matrix, b: Matrix) -> Matrix {
        precondition(a.rows == b.rows && a.columns == b.columns, "shape mismatch in +: \(a.shape) vs \(b.shape)")
        var out = a
        for i in out.storage.indices { out.storage[i] += b.storage[i] }
        return out
    }

    public static func - (a: Matrix, b: Matrix) -> Matrix {
        precondition(a.rows == b.rows && a.columns == b.columns, "shape mismatch in -: \(a.shape) vs \(b.shape)")
        var out = a
        for i in out.storage.indices { out.storage[i] -= b.storage[i] }
        return out
    }

    public static func * (s: Double, a: Matrix) -> Matrix {
        var out = a
        for i in out.storage.indices { out.storage[i] *= s }
        return out
    }

    /// The matrix product (allocating; the hot loops use `BLAS.gemm` into buffers).
    public static func * (a: Matrix, b: Matrix) -> Matrix {
        precondition(a.columns == b.rows, "shape mismatch in *: \(a.shape) times \(b.shape)")
        var c = Matrix(rows: a.rows, columns: b.columns)
        BLAS.gemm(a, b, into: &c)
        return c
    }
}

/// What can go wrong in a linear-algebra call: named, with the shapes involved.
public enum LinearAlgebraError: Error, CustomStringConvertible, Sendable, Hashable {
    case shapeMismatch(operation: String, detail: String)
    /// LAPACK returned `info != 0`.
    case lapack(routine: String, info: Int32)
    case notFinite(operation: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let op, let detail): "\(op): shape mismatch (\(detail))"
        case .lapack(let routine, let info): "\(routine) failed (info = \(info))"
        case .notFinite(let op): "\(op): input has non-finite values"
        }
    }
}
