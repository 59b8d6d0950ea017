import Foundation

/// The runs of the `noop` and `sleep` model kinds: no problem is drawn and nothing is trained,
/// so a sweep of them measures the coordinator, the wire and the store alone.
extension RunSpec {
    /// The report every `noop` and `sleep` run gives: no steps, every metric 0, `oracleNorm` 1
    /// (the recovery test's scale must be positive), no outcome, a test error of 0 at each test
    /// noise level, and the run's own duration.
    public func syntheticReport(seconds: Double) -> RunReport {
        let levels = training.testNoise.map { _ in 0.0 }
        return RunReport(
            trainResidual: 0, reconstructionError: 0, offSubspaceError: 0, oracleDistance: 0, targetDistance: 0,
            gradientNorm: 0, oracleNorm: 1, testError: levels, oracleTestError: levels, balancedness: 0,
            effectiveRank: 0, iterations: 0, convergedAt: nil, recoveredAt: nil, stationaryAt: nil,
            diverged: false, converged: false, recovered: false, stationary: false,
            stepBudget: 0, budgetCapped: false, trainSeconds: seconds)
    }

    /// Runs a `noop` or `sleep` spec.
    func runSynthetic() throws(TrainingError) -> RunReport {
        switch model.choice {
        case .noop:
            return syntheticReport(seconds: 0)
        case .sleep(let seconds):  // in 0...86400: `validate` checked it
            let started = DispatchTime.now().uptimeNanoseconds
            let deadline = started + UInt64(seconds * 1e9)
            // nanosleep may wake early on a signal: sleep again until the deadline.
            while true {
                let now = DispatchTime.now().uptimeNanoseconds
                guard now < deadline else { break }
                let rest = deadline - now
                var request = timespec(tv_sec: Int(rest / 1_000_000_000), tv_nsec: Int(rest % 1_000_000_000))
                _ = nanosleep(&request, nil)
            }
            return syntheticReport(seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
        case .deepLinear, .diagonal:
            throw TrainingError("a \(model.kind.rawValue) run is trained, not synthesized")
        }
    }
}
