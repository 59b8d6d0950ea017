import Testing
import TrainingCore

/// The `noop` and `sleep` model kinds: runs of known cost that measure the sweep machinery.
@Suite struct SyntheticModelTests {
    @Test("noop returns the fixed report (the fields every model reports, none of the deep network's), whatever the problem size")
    func noop() throws {
        var shape = DeepLinearSpec()
        shape.network.width = 1 << 40  // nothing is allocated, so no memory limit applies
        shape.training.testNoise = [0, 0.1, 0.5]
        let spec = RunSpec(model: .noop(shape: shape))
        try spec.checkFitsInMemory(available: 1)
        let report = try runExperiment(spec)
        #expect(report == spec.syntheticReport(seconds: 0))
        #expect(report.testError == nil && report.effectiveRank == nil && report.fieldProblem(for: spec) == nil)
        #expect(!report.converged && !report.recovered && !report.diverged && report.iterations == 0)
    }

    @Test("sleep lasts at least sleep_seconds and reports its own duration; a bad duration is refused")
    func sleep() throws {
        var spec = RunSpec(model: .sleep(seconds: 0.05, shape: DeepLinearSpec()))
        let report = try runExperiment(spec)
        #expect(report.trainSeconds >= 0.05 - 1e-6)
        var expected = spec.syntheticReport(seconds: report.trainSeconds)
        expected.trainSeconds = report.trainSeconds
        #expect(report == expected)
        for bad in [-1.0, .nan, .infinity, 1e6] {
            spec.model = .sleep(seconds: bad, shape: DeepLinearSpec())
            #expect(throws: TrainingError.self) { try runExperiment(spec) }
        }
    }
}

