/// One bit per task id: which tasks are finished. 10⁹ tasks take 119 MiB, an eighth of a
/// `[Bool]`, and finding the next unfinished task skips 64 finished ones per word.
public struct TaskBitmap: Sendable, Hashable {
    public private(set) var count: Int
    public private(set) var setCount = 0
    private var words: [UInt64]

    public init(count: Int) {
        precondition(count >= 0, "negative task count")
        self.count = count
        words = Array(repeating: 0, count: (count + 63) / 64)
    }

    /// Adds clear bits up to `newCount` (an adaptive sweep's next round).
    public mutating func grow(to newCount: Int) {
        guard newCount > count else { return }
        count = newCount
        words += Array(repeating: 0, count: (newCount + 63) / 64 - words.count)
    }

    /// Whether `index` is a task id of this bitmap (ids from the network are checked first).
    public func contains(_ index: Int) -> Bool { index >= 0 && index < count }

    /// Out-of-range ids read as false and are ignored on write.
    public subscript(index: Int) -> Bool {
        get {
            guard contains(index) else { return false }
            return words[index >> 6] & (1 << UInt64(index & 63)) != 0
        }
        set {
            guard contains(index) else { return }
            let mask: UInt64 = 1 << UInt64(index & 63)
            let old = words[index >> 6]
            if newValue, old & mask == 0 {
                words[index >> 6] = old | mask
                setCount += 1
            } else if !newValue, old & mask != 0 {
                words[index >> 6] = old & ~mask
                setCount -= 1
            }
        }
    }

    /// The first clear bit at or after `start`, or nil.
    public func firstClear(from start: Int) -> Int? {
        guard start < count else { return nil }
        var word = max(0, start) >> 6
        var bits = ~words[word] & (UInt64.max << UInt64(max(0, start) & 63))
        while true {
            if bits != 0 {
                let index = word << 6 + bits.trailingZeroBitCount
                return index < count ? index : nil
            }
            word += 1
            guard word < words.count else { return nil }
            bits = ~words[word]
        }
    }

    /// The ids whose bit is set, in order (for small bitmaps and tests).
    public var setIndices: [Int] {
        var out: [Int] = []
        var index = 0
        while index < count {
            if self[index] { out.append(index) }
            index += 1
        }
        return out
    }
}
