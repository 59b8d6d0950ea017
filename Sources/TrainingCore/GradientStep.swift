import LinearAlgebra

/// Full-batch gradient descent with weight decay on
/// `F = γ/2 ‖W_{L:1} Y − X‖² + λ/2 Σ ‖W_l‖²` (γ = 1, or 1/n with `meanDataTerm`).
///
/// The reduced path trains `V = W_1 U` (U: the left singular vectors of Y) instead of W_1:
/// the data gradient of W_1 has its rows in range(U), so `W_1 (I − U Uᵀ)` only decays as
/// `(1 − ηλ)^t` and is kept as its initial value times that factor. Every step then costs
/// O(L d_w² k) with k = rank(Y), and the weight decay is folded into each gemm (`beta`).
/// `heavy-ball` and `inertial` share the gradient pass and update with their own step
/// (InertialStep.swift); there the off-range factor follows the momentum's recurrence. `flow`
/// integrates the gradient flow with the same gradient pass (FlowStep.swift), and
/// `step_rule: adaptive` chooses η per step (AdaptiveStep.swift).
struct GradientDescent {
    let data: TrainingData
    var depth: Int { data.depth }
    /// The step and the shrink factor `1 − ηλ_l` of the next step: the data's, or with
    /// `step_rule: adaptive` the current trial (AdaptiveStep.swift).
    var eta: Double
    var decay: Double
    /// The inertial update's coefficients at the current η; nil for gd and flow.
    var coefficients: InertialCoefficients?
    /// The time reached: the sum of the gradient steps η_k taken (flow: of its Runge–Kutta steps).
    var time = 0.0
    /// `flow`'s integrator state (FlowStep.swift).
    var flow: FlowState?
    var gamma: Double { data.gamma }
    let reduced: Bool
    /// The step's products run in the blocked kernels (Sources/CKernels), not gemm: for thin
    /// operands (k ≤ 16), and on the reduced path for any k when the CPU runs their AVX2 or
    /// AVX-512 versions (the noisy case's k = min(m, n): near the FMA peak whichever kernels
    /// OpenBLAS picks for the CPU; docs/PERFORMANCE.md).
    let thin: Bool
    /// The gradient norm of the checks in the kernels, without a copy of W: k ≤ 16, or any k
    /// (the plain path's m too) when the CPU runs their AVX2 or AVX-512 versions. Otherwise a
    /// copy of each W and two gemms a check.
    let thinChecks: Bool

    /// W_2 … W_L (index 0 is W_2), each times its `upperScale`.
    var upper: [Matrix]
    /// W_{l+2} = `upperScale[l]` · `upper[l]`. On the thin path gd keeps the weight decay of each
    /// layer of at least `scaledLayerSize` weights here, `s ← (1 − ηλ) s`, and the kernels update
    /// `upper[l]` without it (one multiply per weight less, of 16 vector operations a step):
    /// `M ← M − (η/s) δ aᵀ`. A scale below 1/2 is folded back into its matrix at the next step.
    /// 1 for the other layers and paths (gemm, momentum, flow), which use `upper` as the weights.
    var upperScale: [Double]
    /// Below this many weights a layer keeps its decay in the kernels: scaling its thin products
    /// costs more than the multiplies saved (scaled at width 20, a step was 4–6% slower; at 80,
    /// even; at 160, 2.4–3% faster; at 400, 3.5% with AVX2 and up to 1.5% with AVX-512, whose step
    /// is bound by L3; docs/PERFORMANCE.md).
    static let scaledLayerSize = 128 * 128
    /// Reduced: V = W_1 U; plain: W_1 itself.
    var first: Matrix
    /// Reduced only: W_1 (I − U Uᵀ) at t = 0, and the factor it has decayed by: (1 − ηλ)^t for
    /// gd, the scalar recurrence of `InertialCoefficients.nextOutsideFactor` with momentum.
    let firstOutside: Matrix
    var outsideFactor = 1.0
    /// The previous iterate and gradient of `heavy-ball` and `inertial`.
    var inertia: InertialState?
    let firstOutsideAR: Matrix   // firstOutside · A R, n_1 × r
    /// `‖firstOutside‖²_F` and `‖firstOutside · A R‖_F`: constants the checks use.
    let firstOutsideSquaredNorm: Double
    let firstOutsideARNorm: Double
    let utAR: Matrix             // Uᵀ A R, k × r

    // Work buffers of the hot loop.
    var forward: [Matrix]
    var backward: [Matrix]
    /// d × k: W U and its data gradient on the plain path (two buffers, so neither is
    /// copied on write).
    var scratch: Matrix
    var scratchGradient: Matrix
    /// The forward products of the next step, and the first layer before the update.
    var nextForward: [Matrix]
    var previousFirst: Matrix

    init(data: TrainingData, weights: [Matrix]) {
        self.data = data
        eta = data.eta
        decay = data.decay
        coefficients = data.inertial
        let training = data.training, problem = data.problem, u = data.u
        reduced = training.path == .reduced
        let k = data.s.count

        upper = Array(weights.dropFirst())
        upperScale = Array(repeating: 1, count: upper.count)
        let w1 = weights[0]
        if reduced {
            first = w1 * u
            var outside = w1
            BLAS.gemm(first, u, transB: .transpose, alpha: -1, beta: 1, into: &outside)
            firstOutside = outside
            firstOutsideAR = outside * data.ar
        } else {
            first = w1
            firstOutside = Matrix(rows: 0, columns: 0)
            firstOutsideAR = Matrix(rows: 0, columns: 0)
        }
        firstOutsideSquaredNorm = BLAS.squaredNorm(firstOutside)
        firstOutsideARNorm = firstOutsideAR.frobeniusNorm
        utAR = u.transposed * data.ar

        let columns = reduced ? k : problem.measurements
        let simd = ThinKernels.Variant.best != .portable
        thinChecks = columns <= 16 || simd
        thin = columns <= 16 || (reduced && simd)
        forward = ([w1.rows] + upper.map(\.rows)).map { Matrix(rows: $0, columns: columns) }
        backward = forward
        nextForward = forward
        scratch = Matrix(rows: problem.signalDim, columns: k)
        scratchGradient = scratch
        previousFirst = first
        inertia = data.inertial.map { InertialState(first: first, upper: upper, keepsGradient: $0.keepsGradient) }
        // The forward products of the initial weights.
        for l in stride(from: 1, to: weights.count, by: 1) {
            let input = l == 1 ? first : forward[l - 1]
            BLAS.gemm(upper[l - 1], input, into: &forward[l])
        }
    }

    // MARK: The step

    /// One gradient step on every layer. Allocates nothing: every buffer is reused and
    /// `first` is never aliased (no copy-on-write).
    ///
    /// `forward[l] = W_{l+1} … W_2 · first` is kept valid across steps. A step computes the
    /// data gradient from it, passes the gradient down (one read of each W), then climbs
    /// back up, updating each W and forming the next step's forward product in the same pass
    /// over it (`BLAS.stepAndForward`): each weight matrix is read twice per step, not three
    /// times, which is what bounds this memory-bound, rank-k update.
    ///
    /// With `measuringNorms`, returns `‖W_l‖²_F` of the new W_2 … W_L, summed by the kernels in the
    /// same pass (a check's loss then needs no read of the weights); nil where they cannot (the
    /// gemm path, momentum), and the caller computes them.
    @discardableResult
    mutating func step(measuringNorms: Bool = false) -> [Double]? {
        if let coefficients {
            inertialStep(coefficients)
            time += eta
            return nil
        }
        let last = depth - 1
        // W_2, at the bottom turnaround, is updated in the backward pass where the kernels fuse
        // the two (its backward product streams it from L3 with the FMA units half idle; the up
        // pass then reads it from L2 for the forward product alone): the same values, to the bit.
        let fused = thin && depth > 1 && ThinKernels.fusesBackwardAndUpdate(k: first.columns)
        var norms: [Double]? = measuringNorms && thin ? [] : nil
        if thin { foldSmallScales() }
        backPropagate(through: fused ? 2 : 1)
        if fused {
            // The backward product with the old scale, the update with the new one.
            let scale = upperScale[0], update = update(ofLayer: 0)
            let norm = ThinKernels.transposedProductAndUpdate(&upper[0], delta: backward[1], oldInput: first,
                                                              decay: update.decay, eta: update.eta, back: &backward[0],
                                                              measuringNorm: norms != nil)
            if scale != 1 { BLAS.scale(scale, &backward[0]) }
            upperScale[0] = update.scale
            if let norm { norms?.append(norm * update.scale * update.scale) }
        }
        // The first layer (weight decay folded in), keeping its old value for W_2's update.
        if depth > 1 && !fused { BLAS.copy(first, into: &previousFirst) }
        if decay != 1 { BLAS.scale(decay, &first) }
        BLAS.axpy(-eta, backward[0], &first)
        if reduced { outsideFactor *= decay }
        // Up: update W_{l+1} and form the next forward product in one pass over it (W_2, when its
        // update was fused into the down pass: the forward product alone).
        for l in stride(from: 1, through: last, by: 1) {
            if l == 1 && fused {
                ThinKernels.product(upper[0], first, into: &nextForward[1])
                if upperScale[0] != 1 { BLAS.scale(upperScale[0], &nextForward[1]) }
                continue
            }
            let oldInput = l == 1 ? previousFirst : forward[l - 1]
            let newInput = l == 1 ? first : nextForward[l - 1]
            if thin {
                // The new forward product is s′ M′ a_new, the new ‖W‖² s′² ‖M′‖².
                let update = update(ofLayer: l - 1)
                let norm = ThinKernels.stepAndForward(&upper[l - 1], delta: backward[l], oldInput: oldInput,
                                                      newInput: newInput, decay: update.decay, eta: update.eta,
                                                      output: &nextForward[l], measuringNorm: norms != nil)
                if update.scale != 1 { BLAS.scale(update.scale, &nextForward[l]) }
                upperScale[l - 1] = update.scale
                if let norm { norms?.append(norm * update.scale * update.scale) }
            } else {
                BLAS.stepAndForward(&upper[l - 1], delta: backward[l], oldInput: oldInput, newInput: newInput,
                                    decay: decay, eta: eta, output: &nextForward[l])
            }
        }
        swap(&forward, &nextForward)
        time += eta
        return norms
    }

    /// The data gradient with respect to each layer's output, from the kept forward products:
    /// `backward[l]` for the output of W_{l+1} (`backward[0]`: W_1's gradient, in U-coordinates
    /// on the reduced path).
    /// The down pass stops at the output of W_{lowest+1} (`backward[lowest]`): `step` runs the last
    /// layer's itself when it fuses it with the update.
    mutating func backPropagate(through lowest: Int = 1) {
        let last = depth - 1
        // Data gradient of the end-to-end map, restricted to range(U): D = γ (W U S² − X Yᵀ U).
        if reduced {
            if depth > 1 {
                Self.gradient(ofProduct: forward[last], s: data.s, b: data.b, gamma: data.gamma, into: &backward[last])
            } else {
                Self.gradient(ofProduct: first, s: data.s, b: data.b, gamma: data.gamma, into: &backward[last])
            }
        } else {
            // Plain: G = D Uᵀ in full (d × m), from W U.
            if depth > 1 {
                BLAS.gemm(forward[last], data.u, into: &scratch)
            } else {
                BLAS.gemm(first, data.u, into: &scratch)
            }
            Self.gradient(ofProduct: scratch, s: data.s, b: data.b, gamma: data.gamma, into: &scratchGradient)
            BLAS.gemm(scratchGradient, data.u, transB: .transpose, into: &backward[last])
        }
        // Down: the gradient with respect to each layer's output, with the old weights.
        for l in stride(from: last, through: lowest, by: -1) {
            let scale = upperScale[l - 1]
            if thin {
                ThinKernels.transposedProduct(upper[l - 1], backward[l], into: &backward[l - 1])
                if scale != 1 { BLAS.scale(scale, &backward[l - 1]) }
            } else {
                BLAS.gemm(upper[l - 1], backward[l], transA: .transpose, alpha: scale, into: &backward[l - 1])
            }
        }
    }

    /// The decay and step the kernels update `upper[index]` with this step, and its scale after.
    /// A layer that keeps its decay in its scale (the thin path, at least `scaledLayerSize`
    /// weights): W′ = s′ M′ with s′ = (1 − ηλ) s and M′ = M − (η/s′) δ aᵀ, so (1, η/s′, s′).
    /// Any other: (1 − ηλ, η, 1).
    func update(ofLayer index: Int) -> (decay: Double, eta: Double, scale: Double) {
        guard thin && upper[index].rows * upper[index].columns >= Self.scaledLayerSize else { return (decay, eta, 1) }
        let next = upperScale[index] * decay
        return (1, eta / next, next)
    }

    /// Folds each scale that has fallen below 1/2 into its matrix (one pass over the layer, every
    /// ln 2 / ηλ steps), so that `upper` stays within a factor 2 of the weights.
    mutating func foldSmallScales() {
        for l in upperScale.indices where upperScale[l] < 0.5 {
            BLAS.scale(upperScale[l], &upper[l])
            upperScale[l] = 1
        }
    }

    /// `out = γ (p S² − B)` column by column (p: d × k).
    func gradient(ofProduct p: Matrix, into out: inout Matrix) {
        Self.gradient(ofProduct: p, s: data.s, b: data.b, gamma: data.gamma, into: &out)
    }

    /// The same, given the data's parts: a mutating step that writes into one of its own
    /// buffers calls this, because calling a method of `self` while one of its properties is
    /// borrowed for writing makes Swift copy the whole state (every buffer retained and
    /// released, each step).
    static func gradient(ofProduct p: Matrix, s: [Double], b: Matrix, gamma: Double, into out: inout Matrix) {
        let rows = p.rows
        p.storage.withUnsafeBufferPointer { pp in
            b.storage.withUnsafeBufferPointer { pb in
                out.storage.withUnsafeMutableBufferPointer { po in
                    for j in 0..<s.count {
                        let s2 = s[j] * s[j]
                        let base = j * rows
                        // Wrapping index arithmetic (the indices lie in the buffers): without an
                        // overflow check per element the loop is vectorized.
                        for i in 0..<rows { po[base &+ i] = gamma * (pp[base &+ i] * s2 - pb[base &+ i]) }
                    }
                }
            }
        }
    }
}
