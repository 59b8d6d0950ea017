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
        let report = result.report
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

    /// The fields by `RunReport.fields` (which a model carries, their ranges, their relations),
    /// then the outcome booleans against the metrics and the spec's tolerances (the rule of
    /// `Trainer.finish`, MODEL.md §4), and the trajectory against its schedule.
    static func reportProblem(_ r: RunReport, spec: RunSpec) -> String? {
        if let problem = r.fieldProblem(for: spec) { return problem }
        switch spec.kind {
        case .deepLinear:
            if let problem = deepLinearOutcomeProblem(r, spec: spec) { return problem }
        case .diagonal:
            if let problem = diagonalOutcomeProblem(r, spec: spec) { return problem }
        case .noop, .sleep:
            return syntheticProblem(r, spec: spec)
        }
        if !r.trajectory.isEmpty, let problem = trajectoryProblem(r, spec: spec) { return problem }
        return nil
    }

    /// A value on the edge of its tolerance may round either way.
    private static func disagrees(_ claimed: Bool, _ value: Double, _ tolerance: Double) -> Bool {
        claimed ? value > tolerance * (1 + 1e-9) : value < tolerance * (1 - 1e-9)
    }

    /// converged ⇔ targetDistance ≤ tolConv; recovered ⇔ both recovery errors within their
    /// tolerances (MODEL.md §4).
    static func deepLinearOutcomeProblem(_ r: RunReport, spec: RunSpec) -> String? {
        let t = spec.model.record.training
        guard !r.diverged, let rec = r.reconstructionError, let off = r.offSubspaceError, let oracleNorm = r.oracleNorm
        else { return nil }
        if disagrees(r.converged, r.targetDistance, t.tolConv) {
            return "converged \(r.converged) with targetDistance \(r.targetDistance) (tolerance \(t.tolConv))"
        }
        // ‖R‖_F = sqrt(r) for the orthonormal basis of a generated problem.
        let recTolerance = t.tolRec * Double(spec.model.record.problem.latentDim).squareRoot()
        let offTolerance = t.tolOff * oracleNorm
        let clearlyPasses = rec < recTolerance * (1 - 1e-9) && off < offTolerance * (1 - 1e-9)
        let clearlyFails = rec > recTolerance * (1 + 1e-9) || off > offTolerance * (1 + 1e-9)
        if r.recovered && clearlyFails || !r.recovered && clearlyPasses {
            return "recovered \(r.recovered) with reconstructionError \(rec) (tolerance \(recTolerance)) and offSubspaceError \(off) (tolerance \(offTolerance))"
        }
        return nil
    }

    /// The diagonal model's own test (docs/MODEL.md §5): converged ⇔ trainResidual ≤ tolConv,
    /// recovered ⇔ targetDistance (‖w − w_ℓ1‖/‖w_ℓ1‖) ≤ tolRec.
    static func diagonalOutcomeProblem(_ r: RunReport, spec: RunSpec) -> String? {
        let t = spec.model.record.training
        guard !r.diverged else { return nil }
        if disagrees(r.converged, r.trainResidual, t.tolConv) {
            return "converged \(r.converged) with trainResidual \(r.trainResidual) (tolerance \(t.tolConv))"
        }
        if disagrees(r.recovered, r.targetDistance, t.tolRec) {
            return "recovered \(r.recovered) with targetDistance \(r.targetDistance) (tolerance \(t.tolRec))"
        }
        return nil
    }

    /// A trajectory only where the spec asked for one; its steps those of the schedule (or a
    /// subset, a worker may thin it to fit a frame), increasing, within the run, at most one point
    /// per scheduled step; every value finite and in range.
    static func trajectoryProblem(_ r: RunReport, spec: RunSpec) -> String? {
        let t = spec.model.record.training
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
        let singularLimit = min(spec.model.record.problem.signalDim, spec.model.record.problem.measurements)
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

    /// A `noop` or `sleep` run reports exactly `syntheticReport`, apart from its duration
    /// (at least the sleep, less a microsecond of rounding: the field's own check).
    static func syntheticProblem(_ r: RunReport, spec: RunSpec) -> String? {
        var expected = spec.syntheticReport(seconds: r.trainSeconds)
        expected.trainSeconds = r.trainSeconds
        guard r == expected else { return "not the fixed report of a \(spec.kind.rawValue) run" }
        return nil
    }
}
