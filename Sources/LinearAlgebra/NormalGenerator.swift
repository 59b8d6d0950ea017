/// A seedable source of standard normal numbers that gives the same sequence on every
/// machine, so a seed names a problem and its initial weights everywhere.
///
/// Algorithm (portable, so that NumPy can reproduce it):
/// - state: xoshiro256** (Blackman & Vigna 2018), its four 64-bit words filled by four
///   successive SplitMix64 outputs starting from `seed`;
/// - uniforms: `u = (next() >> 11) * 2^-53`, in [0, 1);
/// - normals: the Box–Muller transform of two uniforms `u1, u2`,
///   `r = sqrt(-2 ln(1 - u1))`, yielding `r cos(2π u2)` then `r sin(2π u2)`.
public struct NormalGenerator: Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spare: Double?

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// The next 64 random bits (xoshiro256**).
    public mutating func nextBits() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(nextBits() >> 11) * 0x1.0p-53
    }

    public mutating func nextNormal() -> Double {
        if let value = spare {
            spare = nil
            return value
        }
        let u1 = nextUniform(), u2 = nextUniform()
        let r = (-2 * _log(1 - u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spare = r * _sin(angle)
        return r * _cos(angle)
    }

    /// A rows × columns matrix of i.i.d. N(0, standardDeviation²), filled column by column.
    public mutating func normalMatrix(rows: Int, columns: Int, standardDeviation: Double = 1) -> Matrix {
        var m = Matrix(rows: rows, columns: columns)
        for i in m.storage.indices { m.storage[i] = standardDeviation * nextNormal() }
        return m
    }
}

#if canImport(Glibc)
import Glibc
private func _log(_ x: Double) -> Double { Glibc.log(x) }
private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
private func _log(_ x: Double) -> Double { Foundation.log(x) }
private func _sin(_ x: Double) -> Double { Foundation.sin(x) }
private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
