/// A matrix's values in one block that starts a 64-byte cache line, copied on write as an
/// `Array` is.
///
/// Why not `[Double]`: an array's elements follow its 32-byte header, so a large one (which
/// malloc places 16 bytes into a page) starts 48 bytes into a line, and every 64-byte load of a
/// weight column spans two lines. The reduced step's kernels (CKernels.h) run 5–7% faster on
/// line-aligned weights and thin buffers (`scripts/floor_bench.c`, docs/PERFORMANCE.md).
public struct MatrixStorage: Sendable {
    /// The owner of the block. Mutated only through a uniquely referenced `MatrixStorage`.
    @usableFromInline
    final class Block: @unchecked Sendable {
        @usableFromInline let base: UnsafeMutablePointer<Double>
        @usableFromInline let count: Int

        @usableFromInline
        init(uninitializedCount count: Int) {
            self.count = count
            base = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Double>.stride,
                                                    alignment: MatrixStorage.alignment)
                .bindMemory(to: Double.self, capacity: Swift.max(count, 1))
        }

        /// A block holding `values`.
        @usableFromInline
        convenience init(copying values: UnsafeBufferPointer<Double>) {
            self.init(uninitializedCount: values.count)
            if let source = values.baseAddress { base.initialize(from: source, count: values.count) }
        }

        @usableFromInline
        func copy() -> Block { Block(copying: UnsafeBufferPointer(start: base, count: count)) }

        deinit { base.deallocate() }
    }

    /// The alignment of the first value, in bytes: one cache line.
    public static let alignment = 64

    @usableFromInline var block: Block

    public init(repeating value: Double, count: Int) {
        precondition(count >= 0, "a negative count")
        block = Block(uninitializedCount: count)
        block.base.initialize(repeating: value, count: count)
    }

    public init(_ values: some Sequence<Double>) {
        block = values.withContiguousStorageIfAvailable(Block.init(copying:))
            ?? Array(values).withUnsafeBufferPointer(Block.init(copying:))
    }

    /// Gives this value a block of its own before a write (copy on write).
    @inlinable
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&block) { block = block.copy() }
    }

    // The block outlives `body` without a retain: `self` is borrowed (or held inout) for the
    // whole call, so its block can be neither released nor replaced meanwhile.
    @inlinable
    public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Double>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: block.base, count: block.count))
    }

    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Double>) throws(E) -> R
    ) throws(E) -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: block.base, count: block.count))
    }
}

extension MatrixStorage: RandomAccessCollection, MutableCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { block.count }

    @inlinable
    public subscript(position: Int) -> Double {
        get {
            precondition(position >= 0 && position < block.count, "index out of range")
            return block.base[position]
        }
        set {
            precondition(position >= 0 && position < block.count, "index out of range")
            makeUnique()
            block.base[position] = newValue
        }
    }

    @inlinable
    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<Double>) throws -> R) rethrows -> R? {
        try body(UnsafeBufferPointer(start: block.base, count: block.count))
    }

    @inlinable
    public mutating func withContiguousMutableStorageIfAvailable<R>(
        _ body: (inout UnsafeMutableBufferPointer<Double>) throws -> R
    ) rethrows -> R? {
        makeUnique()
        var buffer = UnsafeMutableBufferPointer(start: block.base, count: block.count)
        let result = try body(&buffer)
        precondition(buffer.baseAddress == block.base && buffer.count == block.count, "the buffer was replaced")
        return result
    }
}

extension MatrixStorage: Hashable, ExpressibleByArrayLiteral, CustomStringConvertible {
    public init(arrayLiteral values: Double...) { self.init(values) }

    /// Value by value, as `[Double]` compares (so NaN is unequal to itself and -0 equals 0).
    public static func == (a: MatrixStorage, b: MatrixStorage) -> Bool {
        a.count == b.count && a.elementsEqual(b)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for value in self { hasher.combine(value) }
    }

    public var description: String { Array(self).description }
}
