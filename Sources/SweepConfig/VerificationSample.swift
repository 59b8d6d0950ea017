/// Which finished tasks a sweep re-runs on another worker to check their results
/// (`verify: {fraction: F}`): task t is chosen when a hash of the sweep's master seed and t,
/// read as a fraction of 2⁶⁴, is below F. The choice depends on nothing else, so every run and
/// every resume of the sweep (and anyone reading the folder) picks the same tasks; about F of
/// any set of tasks is chosen, spread evenly over cells and trials.
public struct VerificationSample: Sendable, Hashable {
    public let fraction: Double
    private let seed: UInt64
    /// Chosen: hash < threshold (F = 1: every task).
    private let threshold: UInt64
    private let everyTask: Bool

    /// nil for a fraction of 0 (or less): nothing is verified, at no cost.
    public init?(fraction: Double, seed: UInt64) {
        guard fraction > 0 else { return nil }
        self.fraction = min(1, fraction)
        self.seed = SweepSeeds.mix(seed ^ Self.tag)
        everyTask = fraction >= 1
        // 2⁶⁴ · F, below 2⁶⁴ since F < 1 here.
        threshold = everyTask ? .max : UInt64(fraction * 18_446_744_073_709_551_616.0)
    }

    public init?(_ configuration: SweepConfiguration) {
        self.init(fraction: configuration.verifyFraction, seed: configuration.seed)
    }

    /// Whether task `taskID` is re-run to check its result.
    public func contains(_ taskID: Int) -> Bool {
        everyTask || SweepSeeds.mix(seed ^ SweepSeeds.mix(UInt64(truncatingIfNeeded: taskID))) < threshold
    }

    /// "VERIFY" as ASCII: the sample never shares a chain with the seeds of the runs.
    static let tag: UInt64 = 0x56_4552_4946_59
}
