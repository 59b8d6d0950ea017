import Foundation

/// The runs of the `noop` and `sleep` model kinds: no problem is drawn and nothing is trained,
/// so a sweep of them measures the coordinator, the wire and the store alone.
extension RunSpec {
    /// The report every `noop` and `sleep` run gives: the fields every model reports, each 0 or
    /// false, no steps, no outcome, and the run's own duration.
    public func syntheticReport(seconds: Double) -> RunReport {
        var report = RunReport.blank
        report.trainSeconds = seconds
        return report
    }

    /// Runs a `noop` or `sleep` spec.
    func runSynthetic() throws(TrainingError) -> RunReport {
        switch model {
        case .noop:
            return syntheticReport(seconds: 0)
        case .sleep(let seconds, _):  // in 0...86400: `validate` checked it
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
