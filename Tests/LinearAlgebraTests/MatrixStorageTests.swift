import LinearAlgebra
import Testing

/// A matrix's values start a cache line (what the kernels are fastest with) and behave as an
/// `Array` of them: copied on write, compared and hashed value by value.
@Suite struct MatrixStorageTests {
    static func address(_ storage: MatrixStorage) -> UInt {
        storage.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
    }

    /// Sizes from empty to a Figure 1 weight matrix, made every way a matrix is made.
    @Test func everyMatrixStartsALine() throws {
        for (rows, columns) in [(0, 0), (1, 1), (3, 5), (7, 9), (400, 5), (400, 400), (200, 400)] {
            let made = [
                Matrix(rows: rows, columns: columns, repeating: 0.5),
                try Matrix(rows: rows, columns: columns, columnMajor: (0..<(rows * columns)).map(Double.init)),
                Matrix(rows: rows, columns: columns).transposed,
                Matrix(rows: rows, columns: columns + 2).columns(1..<(columns + 1)),
            ]
            for m in made {
                #expect(Self.address(m.storage) % UInt(MatrixStorage.alignment) == 0, "\(rows)x\(columns)")
            }
            if rows > 0 && columns > 0 {  // a copy made on write is aligned too
                var copy = made[0]
                copy[0, 0] = 1
                #expect(Self.address(copy.storage) != Self.address(made[0].storage))
                #expect(Self.address(copy.storage) % UInt(MatrixStorage.alignment) == 0)
            }
        }
    }

    @Test func copiesOnWrite() {
        let a = MatrixStorage([1, 2, 3])
        var b = a
        #expect(Self.address(a) == Self.address(b))  // shared until written
        b[1] = 20
        #expect(Array(a) == [1, 2, 3])
        #expect(Array(b) == [1, 20, 3])
        #expect(Self.address(a) != Self.address(b))

        var c = a
        c.withUnsafeMutableBufferPointer { $0[0] = -1 }
        #expect(Array(a) == [1, 2, 3])
        #expect(Array(c) == [-1, 2, 3])

        // A unique owner writes in place.
        var d = MatrixStorage(repeating: 0, count: 4)
        let before = Self.address(d)
        d[3] = 7
        d.withUnsafeMutableBufferPointer { $0[2] = 5 }
        #expect(Self.address(d) == before)
        #expect(d == [0, 0, 5, 7])
    }

    @Test func comparesAndHashesAsAnArray() {
        #expect(MatrixStorage([0.0, 1]) == MatrixStorage([-0.0, 1]))
        #expect(MatrixStorage([0.0, 1]).hashValue == MatrixStorage([-0.0, 1]).hashValue)
        #expect(MatrixStorage([1, 2]) != MatrixStorage([1, 2, 3]))
        #expect(MatrixStorage([1, 2]) != MatrixStorage([2, 1]))
        #expect(MatrixStorage([.nan]) != MatrixStorage([.nan]))
        let m = Matrix([[1, 2], [3, 4]])
        #expect(Set([m, m.transposed.transposed]).count == 1)
        #expect(MatrixStorage([]).isEmpty)
        // From a sequence without contiguous storage, and from a slice.
        #expect(Array(MatrixStorage(stride(from: 1.0, through: 3, by: 1))) == [1, 2, 3])
        #expect(Array(MatrixStorage(m.storage[1..<3])) == [3, 2])
    }
}
