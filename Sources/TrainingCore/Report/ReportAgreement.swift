/// Verification by replay: a run is deterministic given its task, so two workers that ran the
/// same task must report the same values, field by field, within each field's `agreement`.
extension RunReport {
    /// The carried fields on which `self` and `other` (two runs of one task) disagree, each as
    /// `name: value vs value`; empty when they agree.
    /// - Parameter asStored: `self` was read back from a results store, which keeps no
    ///   trajectory in the row and reads a NaN and an absent number alike: those are not held
    ///   against `other`.
    public func disagreements(with other: RunReport, asStored: Bool = false) -> [String] {
        var out: [String] = []
        for field in Self.fields {
            let rule = field.agreement
            if case .notCompared = rule { continue }
            func number(_ x: Double?) -> String { x.map { "\($0)" } ?? "absent" }
            switch field.value {
            case .double(let get, _):
                let (a, b) = (get(self), get(other))
                if let a, let b, rule.agrees(a, b) { continue }
                if a == nil && b == nil { continue }
                if asStored && (a ?? .nan).isNaN && (b ?? .nan).isNaN { continue }
                out.append("\(field.name): \(number(a)) vs \(number(b))")
            case .int(let get, _):
                let (a, b) = (get(self), get(other))
                if a != b { out.append("\(field.name): \(a.map(String.init) ?? "absent") vs \(b.map(String.init) ?? "absent")") }
            case .bool(let get, _):
                let (a, b) = (get(self), get(other))
                if a != b { out.append("\(field.name): \(a.map { "\($0)" } ?? "absent") vs \(b.map { "\($0)" } ?? "absent")") }
            case .name(let get, _, _):
                let (a, b) = (get(self), get(other))
                if a != b { out.append("\(field.name): \(a ?? "absent") vs \(b ?? "absent")") }
            case .perNoise(let get, _):
                let (a, b) = (get(self), get(other))
                guard let a, let b else {
                    if (a == nil) != (b == nil) { out.append("\(field.name): \(a == nil ? "absent" : "present") vs \(b == nil ? "absent" : "present")") }
                    continue
                }
                guard a.count == b.count else {
                    out.append("\(field.name): \(a.count) vs \(b.count) values")
                    continue
                }
                for (i, (x, y)) in zip(a, b).enumerated() where !rule.agrees(x, y) {
                    out.append("\(field.name)[\(i)]: \(x) vs \(y)")
                }
            case .trajectory:
                if asStored { continue }
                if let difference = Self.trajectoryDisagreement(trajectory, other.trajectory, rule) {
                    out.append("\(field.name): \(difference)")
                }
            case .derived:
                continue
            }
        }
        return out
    }

    /// The first point where two trajectories differ (their steps exactly, their numbers by `rule`).
    private static func trajectoryDisagreement(_ a: [TrajectoryPoint], _ b: [TrajectoryPoint],
                                               _ rule: ReportField.Agreement) -> String? {
        guard a.count == b.count else { return "\(a.count) vs \(b.count) points" }
        for (p, q) in zip(a, b) {
            guard p.step == q.step else { return "step \(p.step) vs \(q.step)" }
            let pairs: [(String, Double?, Double?)] = [
                ("loss", p.loss, q.loss), ("trainResidual", p.trainResidual, q.trainResidual),
                ("reconstructionError", p.reconstructionError, q.reconstructionError),
                ("offSubspaceError", p.offSubspaceError, q.offSubspaceError),
                ("targetDistance", p.targetDistance, q.targetDistance), ("gradientNorm", p.gradientNorm, q.gradientNorm),
                ("balancedness", p.balancedness, q.balancedness), ("flowTime", p.flowTime, q.flowTime),
                ("lossGap", p.lossGap, q.lossGap),
            ]
            for (name, x, y) in pairs {
                if x == nil && y == nil { continue }
                guard let x, let y, rule.agrees(x, y) else {
                    return "\(name) at step \(p.step): \(x.map { "\($0)" } ?? "absent") vs \(y.map { "\($0)" } ?? "absent")"
                }
            }
            guard p.singularValues.count == q.singularValues.count,
                  zip(p.singularValues, q.singularValues).allSatisfy({ rule.agrees($0, $1) })
            else { return "singular values at step \(p.step)" }
        }
        return nil
    }
}
