import Foundation
import LinearAlgebra

/// The coefficients of MODEL.md §2's inertial update
/// `θ+ = θ + (1 − αh)(θ − θ−) − βh (g(θ) − g(θ−)) − h² g(θ)`, g the gradient of F with its
/// weight decay. `h = √η`, η from the step-size rule of gradient descent, so that the
/// gradient term `h² g` is GD's step and α, β are damping rates per unit of time h.
struct InertialCoefficients: Sendable {
    /// `1 − α h`.
    let momentum: Double
    /// `β h`; zero for heavy ball.
    let hessian: Double
    /// `h² = η`.
    let step: Double
    /// Heavy ball keeps no previous gradient.
    let keepsGradient: Bool
    /// The asymptotic factor per step of the off-range part of W_1 (see `outsideFactor`).
    let outsideRate: Double

    /// Nil for gradient descent.
    init?(_ training: TrainingSpec, eta: Double, lambda: Double) throws(TrainingError) {
        guard let alpha = training.optimizer.alpha else { return nil }
        let h = eta.squareRoot()
        momentum = 1 - alpha * h
        guard momentum >= 0 else {
            throw TrainingError("alpha * h = \(alpha * h) (h = sqrt(eta) = \(h)) must be at most 1, or the momentum 1 - alpha h is negative: lower alpha or eta")
        }
        keepsGradient = training.optimizer.kind == .inertial
        hessian = (training.optimizer.beta ?? 0) * h
        step = eta
        // c+ = p c − q c−: the characteristic roots z² − p z + q, the largest modulus.
        let p = 1 + momentum - (hessian + step) * lambda, q = momentum - hessian * lambda
        let discriminant = p * p - 4 * q
        if discriminant < 0 {
            outsideRate = q.squareRoot()
        } else {
            let root = discriminant.squareRoot()
            outsideRate = max(abs(p + root), abs(p - root)) / 2
        }
    }

    /// The next off-range factor: the update above on `c · W_1(0)(I − U Uᵀ)`, whose gradient is
    /// `λ c · W_1(0)(I − U Uᵀ)` (the data gradient has no off-range part), in the order the
    /// matrices are updated.
    func nextOutsideFactor(_ c: Double, previous: Double, lambda: Double) -> Double {
        var next = -momentum * previous
        next += (1 + momentum) * c
        next += -(hessian + step) * (lambda * c)
        if keepsGradient { next += hessian * (lambda * previous) }
        return next
    }
}

/// The previous iterate θ− (and for `inertial` the previous gradient g(θ−)) of every layer,
/// and the buffers the current gradient is formed in. The run starts at rest: θ−1 = θ0 and
/// g(θ−1) = g(θ0), so the first step is a gradient step of size h².
struct InertialState {
    var previousFirst: Matrix
    var previousUpper: [Matrix]
    var gradientFirst: Matrix
    var gradientUpper: [Matrix]
    /// Empty for heavy ball.
    var previousGradientFirst: Matrix?
    var previousGradientUpper: [Matrix]
    var previousOutsideFactor = 1.0
    var started = false

    init(first: Matrix, upper: [Matrix], keepsGradient: Bool) {
        previousFirst = first
        previousUpper = upper
        gradientFirst = first
        gradientUpper = upper
        previousGradientFirst = keepsGradient ? first : nil
        previousGradientUpper = keepsGradient ? upper : []
    }
}

extension GradientDescent {
    /// One inertial step on every layer (reduced: on V = W_1 U, with the off-range part's
    /// factor following its own scalar recurrence; plain: on W_1 in full).
    mutating func inertialStep(_ c: InertialCoefficients) {
        let last = depth - 1, lambda = data.lambdaLayer
        backPropagate()
        guard var state = inertia else { return }
        inertia = nil  // so the buffers below are uniquely referenced (no copy on write)

        // g = δ aᵀ + λ W per layer, a the layer's input (on the reduced path in U-coordinates,
        // which is exact: the data gradient's rows lie in range(U)).
        BLAS.copy(backward[0], into: &state.gradientFirst)
        BLAS.axpy(lambda, first, &state.gradientFirst)
        for l in stride(from: 1, through: last, by: 1) {
            let input = l == 1 ? first : forward[l - 1]
            BLAS.copy(upper[l - 1], into: &state.gradientUpper[l - 1])
            BLAS.gemm(backward[l], input, transB: .transpose, alpha: 1, beta: lambda, into: &state.gradientUpper[l - 1])
        }
        if !state.started, state.previousGradientFirst != nil {
            state.previousGradientFirst = state.gradientFirst
            state.previousGradientUpper = state.gradientUpper
        }
        state.started = true

        Self.update(&first, previous: &state.previousFirst, gradient: &state.gradientFirst,
                    previousGradient: &state.previousGradientFirst, c)
        for l in 0..<upper.count {
            var previousGradient = state.previousGradientFirst == nil ? nil : state.previousGradientUpper[l]
            if previousGradient != nil { state.previousGradientUpper[l] = Matrix(rows: 0, columns: 0) }
            Self.update(&upper[l], previous: &state.previousUpper[l], gradient: &state.gradientUpper[l],
                        previousGradient: &previousGradient, c)
            if let previousGradient { state.previousGradientUpper[l] = previousGradient }
        }
        if reduced {
            let next = c.nextOutsideFactor(outsideFactor, previous: state.previousOutsideFactor, lambda: lambda)
            state.previousOutsideFactor = outsideFactor
            outsideFactor = next
        }
        for l in stride(from: 1, through: last, by: 1) {
            BLAS.gemm(upper[l - 1], l == 1 ? first : forward[l - 1], into: &forward[l])
        }
        inertia = state
    }

    /// `θ+ = (1 + μ) θ − μ θ− − (βh + h²) g + βh g−`, formed in θ−'s buffer, which then
    /// becomes θ while θ becomes θ−; g and g− swap likewise.
    private static func update(_ w: inout Matrix, previous: inout Matrix, gradient: inout Matrix,
                               previousGradient: inout Matrix?, _ c: InertialCoefficients) {
        BLAS.scale(-c.momentum, &previous)
        BLAS.axpy(1 + c.momentum, w, &previous)
        BLAS.axpy(-(c.hessian + c.step), gradient, &previous)
        if var g = previousGradient {
            previousGradient = nil
            BLAS.axpy(c.hessian, g, &previous)
            swap(&g, &gradient)
            previousGradient = g
        }
        swap(&w, &previous)
    }
}
