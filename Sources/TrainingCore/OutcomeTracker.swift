import LinearAlgebra

/// Judges the outcomes of MODEL.md §4 at every check and records the first step at which
/// each held, exactly, at a small fraction of a step's cost.
///
/// On the reduced path `W = (W U) Uᵀ + c_t E`, with `W U` kept by the step (d × k,
/// cheap) and `E = W_{L:2} W_1(0)(I − U Uᵀ)` (d × m, as dear as a plain step). The decaying
/// factor c_t is known exactly (`(1 − ηλ)^t` for gd, the momentum's recurrence otherwise); E moves only as the upper layers do, slowly once training
/// settles. So each check measures the cheap parts exactly and predicts the E parts from the
/// last exact E; the exact E is formed only when a prediction lies within `band` (10%) of a
/// threshold, and on a refresh schedule that adapts to how fast E moves (halved when E moved
/// by more than band/2 between two refreshes, doubled below band/4, at most every 64
/// checks). An outcome is declared only on exact values, so a first hit is never early; it
/// is late only if E moved by more than `band` between refreshes. The plain path measures
/// everything exactly at every check.
struct OutcomeTracker {
    let data: TrainingData
    let convergenceThreshold: Double
    let reconstructionThreshold: Double
    let offSubspaceThreshold: Double
    let initialGradient: Double
    let band = 0.1

    private(set) var convergedAt: Int?
    private(set) var recoveredAt: Int?
    private(set) var stationaryAt: Int?
    /// The last exact E and E P⊥, and the refresh schedule.
    private var product: Matrix?
    private var productNorm = 0.0
    private var productOffSubspace: Matrix?
    private var checksSinceRefresh = 0
    private var refreshInterval = 1

    init(data: TrainingData, initialGradient: Double) {
        self.data = data
        let t = data.training
        convergenceThreshold = t.tolConv * data.oracleNorm
        reconstructionThreshold = t.tolRec * data.basisNorm
        offSubspaceThreshold = t.tolOff * data.oracleNorm
        self.initialGradient = max(initialGradient, .leastNormalMagnitude)
    }

    /// True once the network converged (the run may stop).
    var hasConverged: Bool { convergedAt != nil }

    /// Records a first hit that the final, exact measurement found at the last step.
    mutating func settle(converged: Bool, recovered: Bool, at step: Int) {
        if converged && convergedAt == nil { convergedAt = step }
        if recovered && recoveredAt == nil { recoveredAt = step }
    }

    /// - Parameter upperSquaredNorms: `‖W_l‖²_F` of W_2 … W_L if the caller has them (the
    ///   loss of the same check reads them).
    mutating func check(_ net: GradientDescent, step t: Int, upperSquaredNorms: [Double]? = nil) {
        let needConverged = convergedAt == nil
        let needRecovered = recoveredAt == nil
        if needConverged || needRecovered {
            judge(net, step: t, needConverged: needConverged, needRecovered: needRecovered,
                  upperSquaredNorms: upperSquaredNorms)
        }
        if stationaryAt == nil && convergedAt == nil
            && net.gradientNorm(stoppingAbove: data.training.tolGrad * initialGradient) / initialGradient
               <= data.training.tolGrad {
            stationaryAt = t
        }
    }

    private mutating func judge(_ net: GradientDescent, step t: Int, needConverged: Bool, needRecovered: Bool,
                                upperSquaredNorms: [Double]?) {
        guard net.reduced else {
            let w = net.endToEnd()
            if needConverged && net.targetError(w) <= convergenceThreshold { convergedAt = t }
            if needRecovered && net.reconstructionError() <= reconstructionThreshold
                && data.offSubspace(w).frobeniusNorm <= offSubspaceThreshold {
                recoveredAt = t
            }
            return
        }
        let lambda = data.training.lambda
        let factor = net.outsideFactor
        let wu = net.onRange()
        let onRangeError = (wu - data.target.onRange).frobeniusNorm
        let reconstructionHolds = needRecovered && reconstructionHolds(net, upperSquaredNorms: upperSquaredNorms)
        // W U Uᵀ P⊥: the part of the off-subspace error that the step keeps exactly.
        let onRangeOff = reconstructionHolds ? wu * data.utPerp : nil
        // E is needed by the λ > 0 convergence test and by the off-subspace test. The distance
        // is at least the on-range error, so while that alone is above the threshold the
        // convergence test needs no E (an exact bound: no first hit is late), and the checks
        // far from convergence skip the one product that costs as much as a plain step.
        let convergedUsesProduct = needConverged && lambda > 0 && onRangeError <= convergenceThreshold
        if needConverged && lambda == 0 && onRangeError <= convergenceThreshold { convergedAt = t }
        // Checks that skip E count too: the first one to need it after a gap refreshes it.
        checksSinceRefresh += 1
        guard convergedUsesProduct || reconstructionHolds else { return }

        // The target distance and the off-subspace error from the last E: a prediction before
        // `refresh`, exact after it.
        func distance() -> Double {
            (onRangeError * onRangeError + factor * factor * productNorm * productNorm).squareRoot()
        }
        func offSubspaceError(_ onRangeOff: Matrix, _ productOffSubspace: Matrix) -> Double {
            var off = onRangeOff
            BLAS.axpy(factor, productOffSubspace, &off)
            return off.frobeniusNorm
        }
        var exact = product == nil || checksSinceRefresh >= refreshInterval
        if !exact, convergedUsesProduct, distance() <= convergenceThreshold * (1 + band) { exact = true }
        if !exact, let onRangeOff, let productOffSubspace,
           offSubspaceError(onRangeOff, productOffSubspace) <= offSubspaceThreshold * (1 + band) {
            exact = true
        }
        guard exact else { return }
        refresh(net)
        if convergedUsesProduct && distance() <= convergenceThreshold { convergedAt = t }
        if let onRangeOff, let productOffSubspace,
           offSubspaceError(onRangeOff, productOffSubspace) <= offSubspaceThreshold {
            recoveredAt = t
        }
    }

    /// Whether `‖W A R − R‖_F ≤ reconstructionThreshold`, exactly, usually without the product
    /// through every layer that `reconstructionError()` forms (a third of a step).
    ///
    /// `W A R = (W U) Uᵀ A R + c_t W_{L:2} F` with `F = W_1(0)(I − U Uᵀ) A R` fixed, and
    /// `‖W_{L:2} F‖_F ≤ ‖W_L‖_F ⋯ ‖W_2‖_F ‖F‖_F`, so the error lies within `bound` of the on-range
    /// part's. F is the part of range(A R) outside range(Y): zero up to rounding for generated
    /// data (noiseless Y spans range(A R); with noise and n ≥ m, U spans everything), so the
    /// on-range part settles the question unless the error lies within `bound` (plus a margin
    /// far above rounding) of the threshold; then the exact error decides, as before.
    private func reconstructionHolds(_ net: GradientDescent, upperSquaredNorms: [Double]?) -> Bool {
        let onRangeError = net.onRangeReconstructionError()
        var bound = abs(net.outsideFactor) * net.firstOutsideARNorm
        if bound > 0 {
            for squared in upperSquaredNorms ?? net.upperSquaredNorms() { bound *= squared.squareRoot() }
        }
        let margin = bound + 1e-6 * (onRangeError + data.basisNorm)
        guard bound.isFinite, onRangeError.isFinite else { return net.reconstructionError() <= reconstructionThreshold }
        if onRangeError - margin > reconstructionThreshold { return false }
        if onRangeError + margin < reconstructionThreshold { return true }
        return net.reconstructionError() <= reconstructionThreshold
    }

    /// Forms E exactly and adapts the refresh interval to how far it moved.
    private mutating func refresh(_ net: GradientDescent) {
        let fresh = net.outsideProduct()
        let freshNorm = fresh.frobeniusNorm
        if let product {
            let moved = (fresh - product).frobeniusNorm / max(freshNorm, .leastNormalMagnitude)
            if net.depth == 1 || moved < band / 4 {
                refreshInterval = min(refreshInterval * 2, 64)
            } else if moved > band / 2 {
                refreshInterval = max(refreshInterval / 2, 1)
            }
        }
        product = fresh
        productNorm = freshNorm
        productOffSubspace = data.offSubspace(fresh)
        checksSinceRefresh = 0
    }
}
