/// The record form of a model: every model written in the fields of a deep linear run, the
/// fields it does not have at their defaults. It is the form of user input (`RunSettings`), of
/// the task spec on the wire (PROTOCOL.md) and of the canonical spec a fingerprint hashes, so
/// that each has one set of keys for every model.
extension Model {
    /// The model's settings in the record form; `sleep`'s seconds are `sleepSeconds`.
    public var record: DeepLinearSpec {
        switch self {
        case .deepLinear(let run): run
        case .diagonal(let run): run.record
        case .noop(let shape), .sleep(_, let shape): shape
        }
    }

    /// `sleep`'s duration; nil for the other models.
    public var sleepSeconds: Double? {
        if case .sleep(let seconds, _) = self { return seconds }
        return nil
    }

    /// The model `kind` written in `record`. A setting of `record` that `kind` has no place for,
    /// not at its default, is an error naming it (`DiagonalSpec.refusal(in:)`). `sleepSeconds`
    /// is read for `sleep` only.
    public init(kind: ModelKind, record: DeepLinearSpec, sleepSeconds: Double) throws(SettingError) {
        if kind == .diagonal, let refusal = DiagonalSpec.refusal(in: record) { throw refusal }
        self.init(kind: kind, projecting: record, sleepSeconds: sleepSeconds)
    }

    /// The model `kind` written in `record`, leaving out what it has no place for: a grid cell's,
    /// where a key swept for some models reaches every cell (the config parser has checked that
    /// each cell's model can hold it).
    public init(kind: ModelKind, projecting record: DeepLinearSpec, sleepSeconds: Double) {
        self = switch kind {
        case .deepLinear: .deepLinear(record)
        case .diagonal: .diagonal(DiagonalSpec(projecting: record))
        case .noop: .noop(shape: record)
        case .sleep: .sleep(seconds: sleepSeconds, shape: record)
        }
    }
}

extension RunSpec {
    /// The most steps a run may take: what a report's `iterations` may reach.
    public var stepLimit: Int {
        switch model {
        case .deepLinear(let run): run.training.stepLimit
        case .diagonal(let run): run.training.stepLimit
        case .noop(let shape), .sleep(_, let shape): shape.training.stepLimit
        }
    }
}
