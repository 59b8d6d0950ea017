import Testing
import TrainingCore

/// How two runs of one task are compared (verification by replay, issue 20): each field by
/// its `ReportField.agreement`.
@Suite struct ReportAgreementTests {
    static func report() -> RunReport {
        RunReport(
            trainResidual: 0.5, reconstructionError: 0.5, offSubspaceError: 0.5, oracleDistance: 0.5,
            targetDistance: 0.5, gradientNorm: 0.01, oracleNorm: 1,
            testError: [0.5, 0.25], oracleTestError: [0.5, 0.25],
            balancedness: 0.5, effectiveRank: 2, iterations: 300, convergedAt: nil, recoveredAt: nil,
            stationaryAt: nil, diverged: false, converged: false, recovered: false, stationary: false,
            stepBudget: 300, budgetCapped: false, trainSeconds: 0.01)
    }

    // MARK: Comparing

    @Test("two reports are compared field by field: numbers to 1e-12 relative, counts and flags exactly, the wall clock not at all")
    func comparison() {
        var a = Self.report()
        a.trajectory = [TrajectoryPoint(step: 0, loss: 1, trainResidual: 1, reconstructionError: 1, offSubspaceError: 1,
                                        targetDistance: 1, gradientNorm: 1, balancedness: 0)]
        #expect(a.disagreements(with: a).isEmpty)
        var b = a
        b.trainSeconds = a.trainSeconds * 7
        b.trainResidual = a.trainResidual * (1 + 4e-13)
        b.testError = a.testError.map { $0.map { $0 * (1 - 5e-13) } }
        #expect(a.disagreements(with: b).isEmpty, "\(a.disagreements(with: b))")
        b.trainResidual = a.trainResidual * (1 + 1e-9)
        b.testError![1] *= 1.5
        b.iterations += 1
        b.converged.toggle()
        b.trajectory[0].loss = 2
        let differences = a.disagreements(with: b)
        #expect(differences.count == 5, "\(differences)")
        #expect(differences.contains { $0.hasPrefix("trainResidual: ") } && differences.contains { $0.hasPrefix("testError[1]: ") })
        #expect(differences.contains { $0.hasPrefix("iterations: 300 vs 301") } && differences.contains { $0.hasPrefix("converged: ") })
        #expect(differences.contains { $0.hasPrefix("trajectory: loss at step 0") })
        // NaN agrees with NaN, an infinity with itself, never with a number.
        #expect(ReportField.Agreement.relative(1e-12).agrees(.nan, .nan))
        #expect(ReportField.Agreement.relative(1e-12).agrees(.infinity, .infinity))
        #expect(!ReportField.Agreement.relative(1e-12).agrees(.infinity, 1e308))
        #expect(!ReportField.Agreement.relative(1e-12).agrees(0, 1e-300))
        // The registry says it per field, and the store's field table shows it.
        let seconds = RunReport.fields.first { $0.name == "trainSeconds" }!
        #expect(seconds.agreement == .notCompared("wall clock"))
        #expect(RunReport.fields.first { $0.name == "iterations" }!.agreement == .exact)
        #expect(RunReport.fields.first { $0.name == "testError" }!.agreement == .relative(1e-12))
        #expect(RunReport.markdownTable(.store).contains("| within 1e-12 relative |"))
    }

    @Test("a report read back from the store is compared as stored: no trajectory, and NaN and absent read alike; nothing else is forgiven")
    func asStored() {
        var received = Self.report()
        received.trajectory = [TrajectoryPoint(step: 0, loss: 1, trainResidual: 1, reconstructionError: 1, offSubspaceError: 1,
                                               targetDistance: 1, gradientNorm: 1, balancedness: 0)]
        received.lossGapRate = .nan
        var stored = received
        stored.trajectory = []
        stored.lossGapRate = nil
        #expect(stored.disagreements(with: received, asStored: true).isEmpty)
        #expect(stored.disagreements(with: received).count == 2)
        stored.lossGapRate = 0.5
        #expect(stored.disagreements(with: received, asStored: true) == ["lossGapRate: 0.5 vs nan"])
    }
}
