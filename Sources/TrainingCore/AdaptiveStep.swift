import Foundation
import LinearAlgebra

/// `step_rule: adaptive` for `gd`, `heavy-ball` and `inertial` (docs/MODEL.md, "Adaptive step").
///
/// Each step starts from a trial η: twice the last accepted one when that was accepted at its
/// first trial, the last accepted one otherwise (the first: η of the fixed rule), never above
/// `maximumEta`. gd accepts the trial when F falls by Armijo's sufficient decrease
/// `F(θ+) ≤ F(θ) − σ η ‖∇F(θ)‖²`, σ = 1e-4; the momentum methods when F does not rise, and
/// after a rise they first restart the momentum (θ− = θ: the step becomes a gradient step)
/// and then halve η. Both tests allow the rounding of F, `4ε|F|`. After `maxHalvings` the
/// last trial is taken as it is: F is then flat to rounding (a stationary point).
enum AdaptiveRule {
    static let sufficientDecrease = 1e-4
    static let maxHalvings = 50
    /// The largest trial step, relative to η of the fixed rule.
    static let maximumRatio = 1e3
}

extension GradientDescent {
    /// The largest η the rule tries: `1e3 η_0`, below `0.9 / λ_l` (the shrink factor `1 − ηλ_l`
    /// stays positive) and for momentum at most `1/α²` (the momentum `1 − α√η` stays ≥ 0).
    var maximumEta: Double {
        var cap = AdaptiveRule.maximumRatio * data.eta
        if data.lambdaLayer > 0 { cap = min(cap, 0.9 / data.lambdaLayer) }
        if coefficients != nil, let alpha = data.training.optimizer.alpha, alpha > 0 { cap = min(cap, 1 / (alpha * alpha)) }
        return cap
    }

    mutating func setStepSize(_ size: Double) {
        eta = size
        decay = 1 - size * data.lambdaLayer
        if coefficients != nil {
            coefficients = (try? InertialCoefficients(data.training, eta: size, lambda: data.lambdaLayer)) ?? coefficients
        }
    }

    /// θ− = θ and g− = g: the next inertial step is a gradient step.
    mutating func restartMomentum() {
        guard var state = inertia else { return }
        inertia = nil
        BLAS.copy(first, into: &state.previousFirst)
        for l in 0..<upper.count { BLAS.copy(upper[l], into: &state.previousUpper[l]) }
        state.previousOutsideFactor = outsideFactor
        state.started = false
        inertia = state
    }

    /// One accepted step of the adaptive rule; returns whether it was accepted at its first trial.
    @discardableResult
    mutating func adaptiveStep(grow: Bool) -> Bool {
        let before = loss()
        let momentum = coefficients != nil
        let squaredGradient = momentum ? 0 : Foundation.pow(gradientNorm(), 2)
        let rounding = 4 * Double.ulpOfOne * abs(before)
        var trial = min(maximumEta, grow ? 2 * eta : eta)
        var restarted = false
        for attempt in 0...AdaptiveRule.maxHalvings {
            let saved = self
            setStepSize(trial)
            step()
            let after = loss()
            let decrease = momentum ? 0 : AdaptiveRule.sufficientDecrease * trial * squaredGradient
            if attempt == AdaptiveRule.maxHalvings || (after.isFinite && after <= before - decrease + rounding) {
                return attempt == 0
            }
            self = saved
            if momentum && !restarted {
                restartMomentum()
                restarted = true
            } else {
                trial /= 2
            }
        }
        return false
    }
}
