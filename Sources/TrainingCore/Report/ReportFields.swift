/// Every field a run reports, once. The order is the table's (outcomes, then medians, then the
/// model-specific ones); the tags are the wire's and never change.
///
/// To add a metric: compute it (give `RunReport` an optional property), add one entry here with
/// the next free tag, and teach the Python worker (scripts/protocol_worker.py) to send it. The
/// wire, the store (a column is added to existing folders on open), the table, the validation,
/// `dlsweep train --json` and the documents' field tables follow; `ReportFieldDocumentTests`
/// says which document table to regenerate.
extension RunReport {
    public static let fields: [ReportField] = [
        // MARK: Outcomes (MODEL.md §4)
        .bool("converged", "converged", tag: 1, get: { $0.converged }, set: { $0.converged = $1 }, models: every,
              aggregate: .outcome(count: "converged", stem: "convergence"),
              doc: "reached W*_λ: targetDistance ≤ tolConv (diagonal: trainResidual ≤ tolConv) at the final iterate"),
        .bool("recovered", "recovered", tag: 2, get: { $0.recovered }, set: { $0.recovered = $1 }, models: every,
              aggregate: .outcome(count: "recovered", stem: "recovery"),
              doc: "a good inverse on the subspace (diagonal: targetDistance ≤ tolRec) at the final iterate"),
        .bool("stationary", "stationary", tag: 3, get: { $0.stationary }, set: { $0.stationary = $1 }, models: every, aggregate: .count("stationary"),
              doc: "the gradient fell below tolGrad at a check without convergence"),
        ReportField("exhaustedBudget", "budget", tag: 0, .derived(\.exhaustedBudget), optional: false, models: every,
                    presence: .always, rule: .any, aggregate: .count("budget"), check: nil,
                    doc: "derived: ran out of steps without converging or diverging"),
        .bool("budgetCapped", "budget_capped", tag: 4, get: { $0.budgetCapped }, set: { $0.budgetCapped = $1 }, models: every, aggregate: .count("capped"),
              doc: "the auto budget was cut by maxSteps"),
        .bool("diverged", "diverged", tag: 5, get: { $0.diverged }, set: { $0.diverged = $1 }, models: every, aggregate: .count("diverged"),
              check: { r, _ in r.diverged && (r.converged || r.recovered || r.stationary) ? "an outcome with a diverged run" : nil },
              doc: "the loss became non-finite or grew 10⁶-fold"),

        // MARK: Steps and distances
        .int("iterations", "iterations", tag: 6, get: { $0.iterations }, set: { $0.iterations = $1 }, models: every, rule: .count(upTo: { _ in .max }, bound: "stepBudget"),
             aggregate: .median(),
             check: { r, _ in r.iterations <= r.stepBudget ? nil : "iterations \(r.iterations) outside 0...\(r.stepBudget)" },
             doc: "steps run"),
        .int("convergedAt", "converged_at", tag: 7, get: { $0.convergedAt }, set: { $0.convergedAt = $1 }, models: every, presence: .measured, rule: .step,
             aggregate: .median(only: { $0.converged }),
             check: { r, _ in r.converged && r.convergedAt == nil ? "converged without convergedAt" : nil },
             doc: "the first check at which the run had converged; absent: never"),
        .int("recoveredAt", "recovered_at", tag: 8, get: { $0.recoveredAt }, set: { $0.recoveredAt = $1 }, models: every, presence: .measured, rule: .step,
             aggregate: .median(),
             check: { r, _ in r.recovered && r.recoveredAt == nil ? "recovered without recoveredAt" : nil },
             doc: "the first check at which the run had recovered; absent: never"),
        .double("targetDistance", "target_distance", tag: 9, get: { $0.targetDistance }, set: { $0.targetDistance = $1 }, models: every, rule: .norm,
                aggregate: .median(),
                doc: "‖W − W*_λ‖_F / ‖W_or‖_F (diagonal: ‖w − w_ℓ1‖ / ‖w_ℓ1‖)"),
        .double("gradientNorm", "gradient_norm", tag: 10, get: { $0.gradientNorm }, set: { $0.gradientNorm = $1 }, models: every, rule: .norm,
                aggregate: .median(), doc: "‖∇F(θ_T)‖ / ‖∇F(θ_0)‖"),
        .double("reconstructionError", "reconstruction_error", tag: 11, get: { $0.reconstructionError }, set: { $0.reconstructionError = $1 }, models: deep,
                rule: .norm, aggregate: .median(), doc: "‖W A R − R‖_F"),
        .double("offSubspaceError", "off_subspace_error", tag: 12, get: { $0.offSubspaceError }, set: { $0.offSubspaceError = $1 }, models: deep, rule: .norm,
                aggregate: .median(), doc: "‖W P⊥‖_F, P the projector onto range(A R)"),
        .double("oracleDistance", "oracle_distance", tag: 13, get: { $0.oracleDistance }, set: { $0.oracleDistance = $1 }, models: every, rule: .norm,
                aggregate: .median(), doc: "‖W − W_or‖_F / ‖W_or‖_F (diagonal: ‖w − w*‖ / ‖w*‖)"),
        .double("trainResidual", "train_residual", tag: 14, get: { $0.trainResidual }, set: { $0.trainResidual = $1 }, models: every, rule: .norm,
                aggregate: .median(), doc: "‖W Y − X‖_F / ‖X‖_F (diagonal: ‖A w − y‖ / ‖y‖)"),
        .double("balancedness", "balancedness", tag: 15, get: { $0.balancedness }, set: { $0.balancedness = $1 }, models: deep, rule: .norm,
                aggregate: .median(), doc: "max_l ‖W_{l+1}ᵀ W_{l+1} − W_l W_lᵀ‖_F"),
        .int("effectiveRank", "effective_rank", tag: 16, get: { $0.effectiveRank }, set: { $0.effectiveRank = $1 }, models: deep,
             rule: .count(upTo: { max($0.model.record.problem.signalDim, $0.model.record.problem.measurements) }, bound: "max(signalDim, measurements)"), aggregate: .median(),
             doc: "singular values of W above rankTolerance · σ_1"),
        .double("trainSeconds", "train_seconds", tag: 17, get: { $0.trainSeconds }, set: { $0.trainSeconds = $1 }, models: every, rule: .duration,
                aggregate: .median(),
                check: { r, spec in
                    guard let seconds = spec.model.sleepSeconds, r.trainSeconds < seconds - 1e-6 else { return nil }
                    return "trainSeconds \(r.trainSeconds) shorter than the sleep of \(seconds) s"
                },
                doc: "wall-clock seconds of the training loop"),

        // MARK: Dynamics (MODEL.md §3)
        .double("flowTime", "flow_time", tag: 18, get: { $0.flowTime }, set: { $0.flowTime = $1 }, models: trained, presence: .measured, rule: .nonNegative,
                aggregate: .median(),
                check: { r, spec in
                    guard let time = r.flowTime, case .flow(let control) = spec.model.record.training.optimizer,
                          let horizon = control.horizon, time > horizon * (1 + 1e-12) else { return nil }
                    return "flowTime \(time) beyond the horizon \(horizon)"
                },
                doc: "the gradient-flow time reached, Σ_k η_k"),
        .double("lossGapRate", "loss_gap_rate", tag: 19, get: { $0.lossGapRate }, set: { $0.lossGapRate = $1 }, models: deep, presence: .measuredUnlessDiverged,
                rule: .finite, aggregate: .median(),
                doc: "minus the fitted slope of ln(F − F*) per unit of flow time over its last two decades"),
        .double("balancednessDrift", "balancedness_drift", tag: 20, get: { $0.balancednessDrift }, set: { $0.balancednessDrift = $1 }, models: deep,
                presence: .measuredUnlessDiverged, rule: .nonNegative, aggregate: .median(),
                doc: "max_l ‖B_l(T) − B_l(0)‖_F"),
        .double("bestRankGap", "best_rank_gap", tag: 21, get: { $0.bestRankGap }, set: { $0.bestRankGap = $1 }, models: deep,
                presence: .measuredUnlessDiverged, rule: .finite, aggregate: .median(),
                check: { r, _ in
                    guard let gap = r.bestRankGap else { return nil }
                    let ceiling = r.trainResidual * r.trainResidual * (1 + 1e-9) + 1e-12
                    return gap >= -1 && gap <= ceiling ? nil : "bestRankGap \(gap) outside -1...trainResidual² (\(ceiling))"
                },
                doc: "(‖W Y − X‖² − min_{rank M ≤ k} ‖M Y − X‖²) / ‖X‖², k = effectiveRank"),
        .double("lossRatio", "loss_ratio", tag: 22, get: { $0.lossRatio }, set: { $0.lossRatio = $1 }, models: deep, presence: .measuredUnlessDiverged,
                rule: .positive, aggregate: .median(),
                doc: "F(θ_T) / F(θ*_λ): the final loss over the target's (1 at W*_λ)"),

        .double("targetResidual", "target_residual", tag: 32, get: { $0.targetResidual }, set: { $0.targetResidual = $1 }, models: deep, presence: .measured,
                rule: .nonNegative, aggregate: .median(),
                check: { r, _ in
                    guard let residual = r.targetResidual, residual > 1e-12 else { return nil }
                    return "targetResidual \(residual) above 1e-12: W*_λ was not found"
                },
                doc: "W*_λ's first-order residual on its rank manifold, relative (at most 1e-12)"),
        ReportField("targetSearched", "target_searched", tag: 0,
                    .derived { $0.targetMethod.map { !$0.isCertified } }, optional: false, models: deep,
                    presence: .always, rule: .any, aggregate: .count("target_searched"), check: nil,
                    doc: "derived: W*_λ came from a local search, not a certified global minimizer"),

        // MARK: The diagonal network (MODEL.md §5)
        .int("supportSize", "support_size", tag: 23, get: { $0.supportSize }, set: { $0.supportSize = $1 }, models: diagonal,
             rule: .count(upTo: { $0.model.record.problem.signalDim }, bound: "signalDim"), aggregate: .median(),
             doc: "entries of w above rankTolerance · max|w_i|"),
        .bool("supportRecovered", "support_recovered", tag: 24, get: { $0.supportRecovered }, set: { $0.supportRecovered = $1 }, models: diagonal,
              presence: .unlessDiverged, aggregate: .outcome(count: "support_recovered", stem: "support_recovery"),
              doc: "the s largest |w_i| are exactly the support of w*"),
        .double("flowLimitDistance", "flow_limit_distance", tag: 34, get: { $0.flowLimitDistance }, set: { $0.flowLimitDistance = $1 }, models: diagonal,
                presence: .measuredUnlessDiverged, rule: .norm, aggregate: .median(),
                doc: "‖w − w∞‖ / ‖w∞‖, w∞ the exact limit of the gradient flow from this (D, α): the optimizer's unfinished part"),
        .double("flowLimitL1Distance", "flow_limit_l1_distance", tag: 35, get: { $0.flowLimitL1Distance }, set: { $0.flowLimitL1Distance = $1 }, models: diagonal,
                presence: .measured, rule: .nonNegative, aggregate: .median(),
                doc: "‖w∞ − w_ℓ1‖ / ‖w_ℓ1‖: how far the implicit bias at this α is from ℓ1"),

        // MARK: Not aggregated
        .int("stationaryAt", "stationary_at", tag: 25, get: { $0.stationaryAt }, set: { $0.stationaryAt = $1 }, models: every, presence: .measured, rule: .step,
             check: { r, _ in r.stationary && (r.stationaryAt == nil || r.converged) ? "stationary without stationaryAt, or converged" : nil },
             doc: "the first check at which the gradient was below tolGrad; absent: never"),
        .int("stepBudget", "step_budget", tag: 26, get: { $0.stepBudget }, set: { $0.stepBudget = $1 }, models: every, rule: .count(upTo: { $0.stepLimit }, bound: "the step limit (steps, or maxSteps for auto and flow)"),
             check: stepBudgetProblem, doc: "the budget T the run had (auto resolved)"),
        .double("oracleNorm", "oracle_norm", tag: 27, get: { $0.oracleNorm }, set: { $0.oracleNorm = $1 }, models: deep, rule: .positive,
                doc: "‖W_or‖_F, the scale of the recovery test"),
        .double("l1Norm", "l1_norm", tag: 28, get: { $0.l1Norm }, set: { $0.l1Norm = $1 }, models: diagonal, rule: .positive,
                doc: "‖w_ℓ1‖_1, the minimum-ℓ1 solution's norm"),
        .name("targetMethod", "target_method", tag: 33, get: { $0.targetMethod }, set: { $0.targetMethod = $1 }, models: deep, presence: .measured,
              doc: "how W*_λ was found (MODEL.md §4): closed-form, convex, exhaustive (certified) or search"),
        .perNoise("testError", "test_error", tag: 29, get: { $0.testError }, set: { $0.testError = $1 }, models: deep, aggregate: .perNoise(quartiles: true),
                  doc: "per test-noise level σ: ‖W (A X + σ E) − X‖_F / ‖X‖_F on fresh test data"),
        .perNoise("oracleTestError", "oracle_test_error", tag: 30, get: { $0.oracleTestError }, set: { $0.oracleTestError = $1 }, models: deep,
                  aggregate: .perNoise(quartiles: false), doc: "the same for W_or"),
        ReportField("trajectory", "trajectory", tag: 31, .trajectory, optional: true, models: trained,
                    presence: .measured, rule: .any, aggregate: .none, check: nil,
                    doc: "the logged points (their own table and codec); absent: none logged"),
    ]

    /// The carried fields by wire tag.
    public static let fieldsByTag: [UInt8: ReportField] = Dictionary(
        uniqueKeysWithValues: fields.filter(\.value.isCarried).map { ($0.tag, $0) })

    private static let every = Set(ModelKind.allCases)
    private static let trained: Set<ModelKind> = [.deepLinear, .diagonal]
    private static let deep: Set<ModelKind> = [.deepLinear]
    private static let diagonal: Set<ModelKind> = [.diagonal]

    /// The budget a run had, against the spec: a fixed budget exactly (not capped), an auto
    /// one within the cap, a flow horizon's accepted steps or `maxSteps` when capped.
    private static let stepBudgetProblem: ReportField.Check = { r, spec in
        let t = spec.model.record.training
        switch spec.kind {
        case .noop, .sleep:
            return r.stepBudget == 0 && !r.budgetCapped ? nil : "stepBudget \(r.stepBudget) for a \(spec.kind.rawValue) run"
        case .diagonal:
            return r.stepBudget == t.stepLimit && !r.budgetCapped
                ? nil : "stepBudget \(r.stepBudget) (capped: \(r.budgetCapped)) for a diagonal budget of \(t.stepLimit) steps"
        case .deepLinear:
            if t.optimizer.kind == .flow {
                return r.budgetCapped && r.stepBudget != t.maxSteps ? "a capped flow budget of \(r.stepBudget), not maxSteps \(t.maxSteps)" : nil
            }
            if case .fixed(let n) = t.steps, r.stepBudget != n || r.budgetCapped {
                return "stepBudget \(r.stepBudget) (capped: \(r.budgetCapped)) for a fixed budget of \(n) steps"
            }
            return nil
        }
    }
}
