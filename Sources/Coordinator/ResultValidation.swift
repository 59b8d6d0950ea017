import Foundation
import SweepConfig
public import SweepProtocol
public import TrainingCore

/// Checks every value of a result from the wire before it can be stored: a result that is not
/// a plausible run of its task is refused with a one-line reason, never recorded.
public enum ResultValidation {
    /// Worker clocks may drift from ours, but not by days; and SQLite's date text must parse.
    public static let clockSlack: Double = 86_400

    /// The report of `result` if it is a consistent run of `spec`, else why not.
    public static func check(_ result: TaskResult, spec: RunSpec, now: Double) -> Result<RunReport, Invalid> {
        if let problem = timesProblem(startedAt: result.startedAt, finishedAt: result.finishedAt, now: now) {
            return .failure(Invalid(problem))
        }
        let report = result.report.runReport
        if let problem = reportProblem(report, spec: spec) { return .failure(Invalid(problem)) }
        return .success(report)
    }

    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    static func timesProblem(startedAt: Double, finishedAt: Double, now: Double) -> String? {
        guard startedAt.isFinite, finishedAt.isFinite else { return "startedAt/finishedAt not finite" }
        guard finishedAt >= startedAt else { return "finishedAt before startedAt" }
        guard abs(startedAt - now) <= clockSlack, abs(finishedAt - now) <= clockSlack else {
            return "startedAt/finishedAt more than a day from the coordinator's clock"
        }
        return nil
    }

    /// Shapes, ranges, finiteness and the outcome booleans against the metrics and the spec's
    /// tolerances (the rule of `Trainer.finish`, MODEL.md §4).
    static func reportProblem(_ r: RunReport, spec: RunSpec) -> String? {
        switch spec.model.kind {
        case .deepLinear: break
        case .diagonal: return diagonalProblem(r, spec: spec)
        case .noop, .sleep: return syntheticProblem(r, spec: spec)
        }
        if r.supportRecovered != nil { return "supportRecovered with a deep-linear run" }
        let t = spec.training
        let levels = t.testNoise.count
        guard r.testError.count == levels, r.oracleTestError.count == levels else {
            return "\(r.testError.count) test errors and \(r.oracleTestError.count) oracle test errors for \(levels) test-noise levels"
        }
        let limit = t.stepLimit
        guard r.stepBudget >= 0, r.stepBudget <= limit else { return "stepBudget \(r.stepBudget) outside 0...\(limit)" }
        if t.optimizer.kind == .flow {
            // The horizon took stepBudget accepted steps, or max_steps cut it.
            if r.budgetCapped && r.stepBudget != t.maxSteps { return "a capped flow budget of \(r.stepBudget), not maxSteps \(t.maxSteps)" }
        } else if case .fixed(let n) = t.steps, r.stepBudget != n || r.budgetCapped {
            return "stepBudget \(r.stepBudget) (capped: \(r.budgetCapped)) for a fixed budget of \(n) steps"
        }
        guard r.iterations >= 0, r.iterations <= r.stepBudget else {
            return "iterations \(r.iterations) outside 0...\(r.stepBudget)"
        }
        for (name, at) in [("convergedAt", r.convergedAt), ("recoveredAt", r.recoveredAt), ("stationaryAt", r.stationaryAt)] {
            if let at, at < 0 || at > r.iterations { return "\(name) \(at) outside 0...\(r.iterations)" }
        }
        let rankLimit = max(spec.problem.signalDim, spec.problem.measurements)
        guard r.effectiveRank >= 0, r.effectiveRank <= rankLimit else {
            return "effectiveRank \(r.effectiveRank) outside 0...\(rankLimit)"
        }
        guard r.trainSeconds.isFinite, r.trainSeconds >= 0, r.trainSeconds < 1e8 else {
            return "trainSeconds \(r.trainSeconds) not a duration"
        }
        let metrics: [(String, Double)] = [
            ("trainResidual", r.trainResidual), ("reconstructionError", r.reconstructionError),
            ("offSubspaceError", r.offSubspaceError), ("oracleDistance", r.oracleDistance),
            ("targetDistance", r.targetDistance), ("gradientNorm", r.gradientNorm), ("balancedness", r.balancedness),
        ] + r.testError.map { ("testError", $0) } + r.oracleTestError.map { ("oracleTestError", $0) }
        for (name, value) in metrics {
            // Norms: never negative; non-finite only when the run diverged.
            if value < 0 { return "\(name) \(value) is negative" }
            if !value.isFinite && !r.diverged { return "\(name) is \(value) but the run did not diverge" }
        }
        if let problem = dynamicsProblem(r, spec: spec) { return problem }
        guard r.oracleNorm.isFinite, r.oracleNorm > 0 else { return "oracleNorm \(r.oracleNorm) is not a positive number" }
        if r.diverged && (r.converged || r.recovered || r.stationary) { return "an outcome with a diverged run" }
        if r.converged && r.convergedAt == nil { return "converged without convergedAt" }
        if r.recovered && r.recoveredAt == nil { return "recovered without recoveredAt" }
        if r.stationary && (r.stationaryAt == nil || r.converged) { return "stationary without stationaryAt, or converged" }
        // The outcome booleans follow from the metrics (Trainer.finish); a value on the edge of
        // its tolerance may round either way.
        func disagrees(_ claimed: Bool, _ value: Double, _ tolerance: Double) -> Bool {
            claimed ? value > tolerance * (1 + 1e-9) : value < tolerance * (1 - 1e-9)
        }
        if !r.diverged {
            if disagrees(r.converged, r.targetDistance, t.tolConv) {
                return "converged \(r.converged) with targetDistance \(r.targetDistance) (tolerance \(t.tolConv))"
            }
            // ‖R‖_F = sqrt(r) for the orthonormal basis of a generated problem.
            let recTolerance = t.tolRec * Double(spec.problem.latentDim).squareRoot()
            let offTolerance = t.tolOff * r.oracleNorm
            let clearlyPasses = r.reconstructionError < recTolerance * (1 - 1e-9) && r.offSubspaceError < offTolerance * (1 - 1e-9)
            let clearlyFails = r.reconstructionError > recTolerance * (1 + 1e-9) || r.offSubspaceError > offTolerance * (1 + 1e-9)
            if r.recovered && clearlyFails || !r.recovered && clearlyPasses {
                return "recovered \(r.recovered) with reconstructionError \(r.reconstructionError) (tolerance \(recTolerance)) and offSubspaceError \(r.offSubspaceError) (tolerance \(offTolerance))"
            }
        }
        if !r.trajectory.isEmpty, let problem = trajectoryProblem(r, spec: spec) { return problem }
        return nil
    }

    /// A trajectory only where the spec asked for one; its steps those of the schedule (or a
    /// subset, a worker may thin it to fit a frame), increasing, within the run, at most one point
    /// per scheduled step; every value finite and in range.
    static func trajectoryProblem(_ r: RunReport, spec: RunSpec) -> String? {
        let t = spec.training
        let points = r.trajectory
        let scheduled: (Int) -> Bool
        let limit: Int
        if let every = t.logEvery, every > 0 {
            scheduled = { $0 % every == 0 }
            limit = r.iterations / every + 2
        } else if let density = t.logDensity, density > 0 {
            let steps = Set(LogSchedule.steps(through: r.iterations, density: density))
            scheduled = { steps.contains($0) || $0 == r.iterations }
            limit = steps.count + 1
        } else {
            return "a trajectory the task did not ask for"
        }
        guard points.count <= limit else { return "\(points.count) trajectory points for \(r.iterations) steps" }
        let singularLimit = min(spec.problem.signalDim, spec.problem.measurements)
        var previous = -1
        for p in points {
            guard p.step > previous, p.step <= r.iterations, scheduled(p.step) else {
                return "trajectory step \(p.step) is not a scheduled step in \(previous + 1)...\(r.iterations)"
            }
            previous = p.step
            let values: [(String, Double)] = [
                ("loss", p.loss), ("trainResidual", p.trainResidual), ("reconstructionError", p.reconstructionError),
                ("offSubspaceError", p.offSubspaceError), ("targetDistance", p.targetDistance),
                ("gradientNorm", p.gradientNorm), ("balancedness", p.balancedness),
                ("lossGap", p.lossGap ?? 0), ("flowTime", p.flowTime ?? 0),
            ] + p.singularValues.map { ("singular value", $0) }
            for (name, value) in values where !(value.isFinite && value >= 0) {
                return "trajectory \(name) \(value) at step \(p.step) is not a finite number >= 0"
            }
            guard p.singularValues.count <= singularLimit else {
                return "\(p.singularValues.count) singular values at step \(p.step), more than min(d, m) = \(singularLimit)"
            }
        }
        return nil
    }

    /// The dynamics are optional (a worker may not measure them) but, when given, finite and in
    /// range: flow time ≥ 0 (within `flowTime` for flow), drift ≥ 0, and the best rank-k gap
    /// between −1 and `trainResidual²` (it is the squared residual minus a loss in [0, ‖X‖²],
    /// over ‖X‖²); none of them with a diverged run except the time.
    static func dynamicsProblem(_ r: RunReport, spec: RunSpec) -> String? {
        if let time = r.flowTime {
            guard time.isFinite, time >= 0 else { return "flowTime \(time) is not a time" }
            if let horizon = spec.training.optimizer.flow?.horizon, time > horizon * (1 + 1e-12) {
                return "flowTime \(time) beyond the horizon \(horizon)"
            }
        }
        if r.diverged {
            if r.lossGapRate != nil || r.balancednessDrift != nil || r.bestRankGap != nil {
                return "loss-gap rate, balancedness drift or best rank-k gap with a diverged run"
            }
            return nil
        }
        if let rate = r.lossGapRate, !rate.isFinite { return "lossGapRate \(rate) is not finite" }
        if let drift = r.balancednessDrift, !(drift.isFinite && drift >= 0) { return "balancednessDrift \(drift) is not a norm" }
        if let gap = r.bestRankGap {
            let ceiling = r.trainResidual * r.trainResidual * (1 + 1e-9) + 1e-12
            guard gap.isFinite, gap >= -1, gap <= ceiling else {
                return "bestRankGap \(gap) outside -1...trainResidual² (\(ceiling))"
            }
        }
        return nil
    }

    /// A `noop` or `sleep` run reports exactly `syntheticReport`, apart from its duration
    /// (at least the sleep, less a microsecond of rounding).
    /// A diagonal run (docs/MODEL.md §5): the budget and steps as for gd, norms ≥ 0 and finite
    /// unless diverged, `oracleNorm = ‖w_ℓ1‖ > 0`, a support size within n, the unused
    /// deep-linear metrics 0, `supportRecovered` present exactly when not diverged, and the
    /// outcomes by the model's own test: converged ⇔ trainResidual ≤ tolConv, recovered ⇔
    /// targetDistance (‖w − w_ℓ1‖/‖w_ℓ1‖) ≤ tolRec.
    static func diagonalProblem(_ r: RunReport, spec: RunSpec) -> String? {
        let t = spec.training
        guard r.testError.count == t.testNoise.count, r.oracleTestError.count == t.testNoise.count else {
            return "\(r.testError.count) test errors for \(t.testNoise.count) test-noise levels"
        }
        guard r.stepBudget == t.stepLimit, !r.budgetCapped else {
            return "stepBudget \(r.stepBudget) (capped: \(r.budgetCapped)) for a diagonal budget of \(t.stepLimit) steps"
        }
        guard r.iterations >= 0, r.iterations <= r.stepBudget else { return "iterations \(r.iterations) outside 0...\(r.stepBudget)" }
        for (name, at) in [("convergedAt", r.convergedAt), ("recoveredAt", r.recoveredAt), ("stationaryAt", r.stationaryAt)] {
            if let at, at < 0 || at > r.iterations { return "\(name) \(at) outside 0...\(r.iterations)" }
        }
        guard r.effectiveRank >= 0, r.effectiveRank <= spec.problem.signalDim else {
            return "support size (effectiveRank) \(r.effectiveRank) outside 0...\(spec.problem.signalDim)"
        }
        guard r.trainSeconds.isFinite, r.trainSeconds >= 0, r.trainSeconds < 1e8 else { return "trainSeconds \(r.trainSeconds) not a duration" }
        guard r.oracleNorm.isFinite, r.oracleNorm > 0 else { return "oracleNorm \(r.oracleNorm) is not a positive number" }
        let unused: [(String, Double)] = [
            ("reconstructionError", r.reconstructionError), ("offSubspaceError", r.offSubspaceError), ("balancedness", r.balancedness),
        ] + (r.testError + r.oracleTestError).map { ("testError", $0) }
        if let (name, value) = unused.first(where: { $0.1 != 0 }) { return "\(name) \(value) for a diagonal run (not measured: 0)" }
        if r.lossGapRate != nil || r.balancednessDrift != nil || r.bestRankGap != nil {
            return "deep-linear dynamics with a diagonal run"
        }
        if let time = r.flowTime, !(time.isFinite && time >= 0) { return "flowTime \(time) is not a time" }
        for (name, value) in [("trainResidual", r.trainResidual), ("oracleDistance", r.oracleDistance),
                              ("targetDistance", r.targetDistance), ("gradientNorm", r.gradientNorm)] {
            if value < 0 { return "\(name) \(value) is negative" }
            if !value.isFinite && !r.diverged { return "\(name) is \(value) but the run did not diverge" }
        }
        if r.diverged {
            if r.converged || r.recovered || r.stationary { return "an outcome with a diverged run" }
            if r.supportRecovered != nil { return "supportRecovered with a diverged run" }
            return nil
        }
        guard r.supportRecovered != nil else { return "a diagonal run without supportRecovered" }
        if r.converged && r.convergedAt == nil { return "converged without convergedAt" }
        if r.recovered && r.recoveredAt == nil { return "recovered without recoveredAt" }
        if r.stationary && (r.stationaryAt == nil || r.converged) { return "stationary without stationaryAt, or converged" }
        func disagrees(_ claimed: Bool, _ value: Double, _ tolerance: Double) -> Bool {
            claimed ? value > tolerance * (1 + 1e-9) : value < tolerance * (1 - 1e-9)
        }
        if disagrees(r.converged, r.trainResidual, t.tolConv) {
            return "converged \(r.converged) with trainResidual \(r.trainResidual) (tolerance \(t.tolConv))"
        }
        if disagrees(r.recovered, r.targetDistance, t.tolRec) {
            return "recovered \(r.recovered) with targetDistance \(r.targetDistance) (tolerance \(t.tolRec))"
        }
        if let every = t.logEvery, r.trajectory.count > r.iterations / every + 2 {
            return "\(r.trajectory.count) trajectory points for \(r.iterations) steps"
        }
        if t.logEvery == nil, !r.trajectory.isEmpty { return "a trajectory without logEvery" }
        return nil
    }

    static func syntheticProblem(_ r: RunReport, spec: RunSpec) -> String? {
        guard r.trainSeconds.isFinite, r.trainSeconds >= 0, r.trainSeconds < 1e8 else {
            return "trainSeconds \(r.trainSeconds) not a duration"
        }
        if case .sleep(let seconds) = spec.model.choice, r.trainSeconds < seconds - 1e-6 {
            return "trainSeconds \(r.trainSeconds) shorter than the sleep of \(seconds) s"
        }
        var expected = spec.syntheticReport(seconds: r.trainSeconds)
        expected.trainSeconds = r.trainSeconds
        guard r == expected else { return "not the fixed report of a \(spec.model.kind.rawValue) run" }
        return nil
    }
}
