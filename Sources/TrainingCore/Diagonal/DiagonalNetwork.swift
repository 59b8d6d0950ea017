import LinearAlgebra

/// The diagonal linear network `w = u^D − v^D` (elementwise) on the loss `½‖A w − y‖²`
/// (docs/MODEL.md §5). Its gradient is `∇_u = D u^{D−1} ∘ g`, `∇_v = −D v^{D−1} ∘ g`,
/// `g = Aᵀ(A w − y)` the gradient in w.
public struct DiagonalNetwork: Sendable, Hashable {
    public var u: [Double]
    public var v: [Double]
    /// D ≥ 1.
    public let depth: Int

    /// `u(0) = v(0) = scale · 1`, so `w(0) = 0`.
    public init(dimension: Int, depth: Int, scale: Double) {
        u = [Double](repeating: scale, count: dimension)
        v = u
        self.depth = depth
    }

    public init(u: [Double], v: [Double], depth: Int) {
        precondition(u.count == v.count, "u and v differ in length")
        self.u = u
        self.v = v
        self.depth = depth
    }

    /// `x^k` for the small integer powers of the model, by multiplication (exact for k ≤ 2).
    @inline(__always)
    static func power(_ x: Double, _ k: Int) -> Double {
        var result = 1.0
        for _ in 0..<k { result *= x }
        return result
    }

    public var w: [Double] {
        zip(u, v).map { Self.power($0, depth) - Self.power($1, depth) }
    }

    /// The parameter gradient `(∇_u, ∇_v)` for the gradient `g` in w.
    public func gradient(wGradient g: [Double]) -> (u: [Double], v: [Double]) {
        let d = Double(depth), k = depth - 1
        return (zip(u, g).map { d * Self.power($0, k) * $1 }, zip(v, g).map { -d * Self.power($0, k) * $1 })
    }
}

extension DiagonalProblem {
    /// `A w − y`.
    public func residual(_ w: [Double], y: [Double]) -> [Double] {
        var r = Matrix(column: y)
        BLAS.gemm(a, Matrix(column: w), alpha: 1, beta: -1, into: &r)
        return Array(r.storage)
    }

    /// `Aᵀ r`.
    public func adjoint(_ r: [Double]) -> [Double] {
        var out = Matrix(rows: dimension, columns: 1)
        BLAS.gemm(a, Matrix(column: r), transA: .transpose, into: &out)
        return Array(out.storage)
    }

    /// `½‖A w − y‖²` of the network.
    public func loss(_ network: DiagonalNetwork, y: [Double]) -> Double {
        0.5 * residual(network.w, y: y).reduce(0) { $0 + $1 * $1 }
    }

    /// The parameter gradient of `loss`.
    public func gradient(_ network: DiagonalNetwork, y: [Double]) -> (u: [Double], v: [Double]) {
        network.gradient(wGradient: adjoint(residual(network.w, y: y)))
    }
}

/// The buffers of the gradient-descent loop, so that a step allocates nothing.
public struct DiagonalStepper: Sendable {
    public let problem: DiagonalProblem
    public let y: [Double]
    public let eta: Double
    private var w: Matrix
    private var r: Matrix
    private var g: Matrix

    public init(problem: DiagonalProblem, y: [Double], eta: Double) {
        self.problem = problem
        self.y = y
        self.eta = eta
        w = Matrix(rows: problem.dimension, columns: 1)
        r = Matrix(rows: problem.measurements, columns: 1)
        g = Matrix(rows: problem.dimension, columns: 1)
    }

    /// One gradient-descent step of size η: `u −= η ∇_u`, `v −= η ∇_v` (MODEL.md §5).
    public mutating func step(_ network: inout DiagonalNetwork) {
        let n = problem.dimension, depth = network.depth, d = Double(depth)
        for i in 0..<n {
            w.storage[i] = DiagonalNetwork.power(network.u[i], depth) - DiagonalNetwork.power(network.v[i], depth)
        }
        for i in 0..<problem.measurements { r.storage[i] = y[i] }
        BLAS.gemm(problem.a, w, alpha: 1, beta: -1, into: &r)
        BLAS.gemm(problem.a, r, transA: .transpose, into: &g)
        let k = depth - 1
        for i in 0..<n {
            let scaled = eta * d * g.storage[i]
            network.u[i] -= scaled * DiagonalNetwork.power(network.u[i], k)
            network.v[i] += scaled * DiagonalNetwork.power(network.v[i], k)
        }
    }
}
