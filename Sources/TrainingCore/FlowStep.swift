import Foundation
import LinearAlgebra

/// The Dormand–Prince 5(4) pair (Hairer, Nørsett & Wanner, *Solving ODEs I*, II.5): seven
/// stages, the fifth-order solution is the seventh stage's point (first same as last: its
/// gradient is the next step's first stage), and `e = b − b̂` gives the embedded error estimate.
enum DormandPrince {
    static let a: [[Double]] = [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
        [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ]
    static let e: [Double] = [71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -1.0 / 40]
    /// The PI step-size controller of Hairer's DOPRI5: `h_new = h · safety · err^(−α) · err_old^β`.
    static let beta = 0.04
    static let alpha = 0.2 - 0.75 * beta
    static let safety = 0.9
    /// The step changes by a factor in [1/5, 10] (after a rejection it does not grow).
    static let shrinkLimit = 0.2
    static let growLimit = 10.0
}

/// Hairer's PI step-size control, shared by every Dormand–Prince integrator of the core.
struct StepSizeControl {
    /// The next step to try.
    var h: Double
    /// The error of the last accepted step (the PI controller's memory).
    var previousError = 1e-4
    var rejectedLast = false

    /// After accepting step `h` with scaled error `err` (≤ 1), when `remaining` was left to the horizon.
    mutating func accepted(_ h: Double, error err: Double, remaining: Double) {
        let p = DormandPrince.self
        var factor = Foundation.pow(err, p.alpha) / Foundation.pow(previousError, p.beta) / p.safety
        factor = min(1 / p.shrinkLimit, max(1 / p.growLimit, factor))
        var next = h / factor
        if rejectedLast { next = min(next, h) }
        // A step shortened to land on the horizon says nothing about the next one.
        self.h = h == remaining && h < self.h ? self.h : next
        previousError = max(err, 1e-4)
        rejectedLast = false
    }

    /// After rejecting step `h` with scaled error `err` (a non-finite error counts as a large one).
    mutating func rejected(_ h: Double, error err: Double) {
        let p = DormandPrince.self
        rejectedLast = true
        let shrink = err.isFinite ? min(1 / p.shrinkLimit, Foundation.pow(err, p.alpha) / p.safety) : 1 / p.shrinkLimit
        self.h = h / shrink
    }
}

/// The integrator's state between accepted steps.
struct FlowState {
    /// The time horizon of the run.
    let horizon: Double
    var control: StepSizeControl
    /// θ at the start of the step: first, then upper.
    var start: [Matrix]
    /// The gradient at each of the seven stages; `stages[0]` holds ∇F at the current point.
    var stages: [[Matrix]]
    var started = false

    init(layers: [Matrix], horizon: Double, initialStep: Double) {
        self.horizon = horizon
        control = StepSizeControl(h: initialStep)
        start = layers
        stages = Array(repeating: layers, count: 7)
    }
}

/// Why the flow cannot go on.
enum FlowStop: Error {
    /// The step fell below the resolution of the time (or the error estimate is not finite at
    /// any step): the trajectory blows up.
    case stepUnderflow
}

extension GradientDescent {
    /// The layer `i` of the trained state: `first` (V = W_1 U on the reduced path), then W_2 … W_L.
    private func layer(_ i: Int) -> Matrix { i == 0 ? first : upper[i - 1] }

    private mutating func setLayer(_ i: Int, from source: Matrix) {
        if i == 0 { BLAS.copy(source, into: &first) } else { BLAS.copy(source, into: &upper[i - 1]) }
    }

    private mutating func addToLayer(_ i: Int, _ alpha: Double, _ x: Matrix) {
        if i == 0 { BLAS.axpy(alpha, x, &first) } else { BLAS.axpy(alpha, x, &upper[i - 1]) }
    }

    /// `forward[l] = W_{l+1} … W_2 · first` for the current weights.
    mutating func refreshForward() {
        for l in stride(from: 1, to: depth, by: 1) {
            BLAS.gemm(upper[l - 1], l == 1 ? first : forward[l - 1], into: &forward[l])
        }
    }

    /// `g_l = δ_l a_lᵀ + λ_l W_l` for every layer at the current weights (forward products
    /// refreshed first); on the reduced path `g_1` is in U-coordinates, which is exact.
    mutating func fullGradient(into g: inout [Matrix]) {
        refreshForward()
        backPropagate()
        let lambda = data.lambdaLayer
        BLAS.copy(backward[0], into: &g[0])
        BLAS.axpy(lambda, first, &g[0])
        for l in stride(from: 1, to: depth, by: 1) {
            BLAS.copy(upper[l - 1], into: &g[l])
            BLAS.gemm(backward[l], l == 1 ? first : forward[l - 1], transB: .transpose, alpha: 1, beta: lambda, into: &g[l])
        }
    }

    /// One accepted Dormand–Prince step of `θ' = −∇F(θ)` (rejected trials repeat with a smaller
    /// step), never past the horizon. On the reduced path the off-range part of W_1 obeys
    /// `c' = −λ_l c` exactly: its factor is `e^(−λ_l t)`, not integrated.
    mutating func flowStep() throws(FlowStop) {
        guard var state = flow else { return }
        flow = nil  // the buffers below stay uniquely referenced
        defer { flow = state }
        if !state.started {
            fullGradient(into: &state.stages[0])
            state.started = true
        }
        let tolerances = data.training.optimizer.flow ?? FlowControl()
        let rtol = tolerances.rtol, atol = tolerances.atol
        let count = depth
        for i in 0..<count { BLAS.copy(layer(i), into: &state.start[i]) }
        while true {
            let remaining = state.horizon - time
            let h = min(state.control.h, remaining)
            guard h > 1e-14 * max(time, eta) else { throw .stepUnderflow }
            // Stages 2 … 7; the seventh point is the fifth-order solution.
            for s in 1..<7 {
                for i in 0..<count {
                    setLayer(i, from: state.start[i])
                    for (j, a) in DormandPrince.a[s].enumerated() where a != 0 {
                        addToLayer(i, -h * a, state.stages[j][i])
                    }
                }
                fullGradient(into: &state.stages[s])
            }
            // The RMS of the embedded error, scaled per component.
            var sum = 0.0, n = 0
            for i in 0..<count {
                let y1 = layer(i)
                let size = y1.count
                n += size
                var error = [Double](repeating: 0, count: size)
                for (j, e) in DormandPrince.e.enumerated() where e != 0 {
                    state.stages[j][i].storage.withUnsafeBufferPointer { g in
                        for c in 0..<size { error[c] -= h * e * g[c] }
                    }
                }
                state.start[i].storage.withUnsafeBufferPointer { y0 in
                    y1.storage.withUnsafeBufferPointer { yn in
                        for c in 0..<size {
                            let scale = atol + rtol * max(abs(y0[c]), abs(yn[c]))
                            let r = error[c] / scale
                            sum += r * r
                        }
                    }
                }
            }
            let err = (sum / Double(max(n, 1))).squareRoot()
            if err <= 1 {
                time = h == remaining ? state.horizon : time + h
                if reduced { outsideFactor = Foundation.exp(-data.lambdaLayer * time) }
                state.stages.swapAt(0, 6)
                state.control.accepted(h, error: err, remaining: remaining)
                return
            }
            // Rejected: back to the start, shorter.
            state.control.rejected(h, error: err)
            for i in 0..<count { setLayer(i, from: state.start[i]) }
            refreshForward()
        }
    }
}
