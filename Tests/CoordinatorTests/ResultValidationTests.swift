import Coordinator
import SweepProtocol
import Testing
import TrainingCore

/// Every value of a result is checked before it may be stored.
@Suite struct ResultValidationTests {
    static let now = 1_800_000_000.0

    static var spec: RunSpec {
        var spec = RunSpec()
        spec.run.training.steps = 100
        spec.run.training.testNoise = [0, 0.1]
        spec.run.training.tolRec = 0.01
        spec.run.training.tolOff = 0.01
        return spec
    }

    static var good: RunReport {
        RunReport(trainResidual: 1e-3, reconstructionError: 1e-3, offSubspaceError: 1e-3, oracleDistance: 0.5,
                  targetDistance: 5e-4, gradientNorm: 1e-4, oracleNorm: 2,
                  testError: [0.1, 0.2], oracleTestError: [0.05, 0.1], balancedness: 0.01, effectiveRank: 5,
                  iterations: 80, convergedAt: 80, recoveredAt: 70, stationaryAt: nil, diverged: false, converged: true,
                  recovered: true, stationary: false, stepBudget: 100, budgetCapped: false, trainSeconds: 0.5)
    }

    func check(_ report: RunReport, startedAt: Double = now - 2, finishedAt: Double = now - 1) -> String? {
        let result = TaskResult(sweep: "f", taskID: 0, attempt: 1, report: report,
                                startedAt: startedAt, finishedAt: finishedAt)
        switch ResultValidation.check(result, spec: Self.spec, now: Self.now) {
        case .success: return nil
        case .failure(let invalid): return invalid.reason
        }
    }

    @Test("a consistent report passes, diverged runs may carry non-finite metrics")
    func consistentPasses() {
        #expect(check(Self.good) == nil)
        var diverged = Self.good
        diverged.diverged = true
        diverged.converged = false
        diverged.recovered = false
        diverged.convergedAt = nil
        diverged.recoveredAt = nil
        diverged.targetDistance = .nan
        diverged.reconstructionError = .nan
        diverged.trainResidual = .infinity
        diverged.testError = [.nan, .nan]
        #expect(check(diverged) == nil)
    }

    @Test("times that are not finite, far from now or reversed are refused (item 1)",
          arguments: [Double.nan, .infinity, -.infinity, 1e300, -1e12])
    func badTimes(startedAt: Double) {
        #expect(check(Self.good, startedAt: startedAt) != nil)
        #expect(check(Self.good, finishedAt: startedAt) != nil)
    }

    @Test("finishedAt before startedAt is refused")
    func reversedTimes() {
        #expect(check(Self.good, startedAt: Self.now - 1, finishedAt: Self.now - 2) != nil)
    }

    @Test("a test-error count that does not fit the task is refused (item 3)")
    func shapes() {
        var r = Self.good
        r.testError = [0.1]
        #expect(check(r)?.contains("test-noise levels") == true)
        r = Self.good
        r.oracleTestError = [0.1, 0.2, 0.3]
        #expect(check(r) != nil)
    }

    @Test("an all-NaN report claiming success is refused (item 5)")
    func allNaNSuccess() {
        let nan = Double.nan
        let r = RunReport(trainResidual: nan, reconstructionError: nan, offSubspaceError: nan, oracleDistance: nan,
                          targetDistance: nan, gradientNorm: nan, oracleNorm: 2,
                          testError: [nan, nan], oracleTestError: [nan, nan], balancedness: nan, effectiveRank: 0,
                          iterations: 10, convergedAt: 10, recoveredAt: 10, stationaryAt: nil, diverged: false,
                          converged: true, recovered: true, stationary: false, stepBudget: 100, budgetCapped: false,
                          trainSeconds: 0.1)
        #expect(check(r) != nil)
        var claimed = r
        claimed.diverged = true
        #expect(check(claimed)?.contains("diverged") == true)
    }

    @Test("the outcomes must agree with the metrics and the spec's tolerances")
    func outcomeConsistency() {
        var r = Self.good
        r.targetDistance = 0.5
        #expect(check(r)?.contains("converged true with targetDistance") == true)
        r = Self.good
        r.converged = false
        r.convergedAt = nil
        #expect(check(r)?.contains("converged false") == true)
        r = Self.good
        r.reconstructionError = 0.5
        #expect(check(r)?.contains("recovered true") == true)
        r = Self.good
        r.recovered = false
        #expect(check(r)?.contains("recovered false") == true)
        r = Self.good
        r.convergedAt = nil
        #expect(check(r)?.contains("without convergedAt") == true)
        r = Self.good
        r.stationary = true
        r.stationaryAt = 50
        #expect(check(r)?.contains("stationary") == true)
        r = Self.good
        r.oracleNorm = 0
        #expect(check(r)?.contains("oracleNorm") == true)
    }

    @Test("ranges: iterations, convergedAt, rank, seconds, negative norms")
    func ranges() {
        let edits: [(inout RunReport) -> Void] = [
            { $0.iterations = 101 }, { $0.iterations = -1 }, { $0.convergedAt = 81 }, { $0.convergedAt = -1 },
            { $0.stepBudget = 99 }, { $0.budgetCapped = true }, { $0.recoveredAt = 81 }, { $0.gradientNorm = -1 },
            { $0.effectiveRank = -1 }, { $0.effectiveRank = 10_000 }, { $0.trainSeconds = .nan },
            { $0.trainSeconds = -1 }, { $0.balancedness = -0.5 }, { $0.oracleDistance = .infinity },
            { $0.trajectory = [TrajectoryPoint(step: 1, loss: 0, trainResidual: 0, reconstructionError: 0,
                                               offSubspaceError: 0, targetDistance: 0, gradientNorm: 0, balancedness: 0)] },
        ]
        for (index, edit) in edits.enumerated() {
            var r = Self.good
            edit(&r)
            #expect(check(r) != nil, "edit \(index) passed")
        }
    }

    @Test("the dynamics: absent is fine, present must be finite and in range")
    func dynamics() {
        var measured = Self.good
        measured.flowTime = 0.8
        measured.lossGapRate = -0.5
        measured.balancednessDrift = 0
        measured.bestRankGap = -1e-12
        measured.trajectory = [TrajectoryPoint(step: 10, loss: 1, trainResidual: 0, reconstructionError: 0, offSubspaceError: 0,
                                               targetDistance: 0, gradientNorm: 0, balancedness: 0, flowTime: 0.1,
                                               singularValues: [3, 1, 0])]
        var spec = Self.spec
        spec.run.training.logEvery = 10
        func check(_ report: RunReport, _ spec: RunSpec) -> String? {
            let result = TaskResult(sweep: "f", taskID: 0, attempt: 1, report: report,
                                    startedAt: Self.now - 2, finishedAt: Self.now - 1)
            if case .failure(let invalid) = ResultValidation.check(result, spec: spec, now: Self.now) { return invalid.reason }
            return nil
        }
        #expect(check(measured, spec) == nil)
        let edits: [(String, (inout RunReport) -> Void)] = [
            ("flowTime", { $0.flowTime = -1 }), ("flowTime", { $0.flowTime = .infinity }),
            ("lossGapRate", { $0.lossGapRate = .nan }), ("balancednessDrift", { $0.balancednessDrift = -1e-9 }),
            ("balancednessDrift", { $0.balancednessDrift = .infinity }), ("bestRankGap", { $0.bestRankGap = -1.5 }),
            // The gap is the squared residual minus a loss >= 0, over ‖X‖²: at most trainResidual² = 1e-6.
            ("bestRankGap", { $0.bestRankGap = 1e-3 }), ("bestRankGap", { $0.bestRankGap = .nan }),
            ("singular value", { $0.trajectory[0].singularValues = [1, -1] }),
            ("singular values", { $0.trajectory[0].singularValues = Array(repeating: 1, count: 101) }),
            ("trajectory flowTime", { $0.trajectory[0].flowTime = .nan }),
        ]
        for (name, edit) in edits {
            var r = measured
            edit(&r)
            #expect(check(r, spec)?.contains(name) == true, "\(name): \(check(r, spec) ?? "accepted")")
        }
        // A diverged run keeps its time but has no rate, drift or gap.
        var diverged = measured
        diverged.diverged = true
        diverged.converged = false
        diverged.recovered = false
        diverged.convergedAt = nil
        diverged.recoveredAt = nil
        #expect(check(diverged, spec)?.contains("diverged") == true)
        diverged.lossGapRate = nil
        diverged.balancednessDrift = nil
        diverged.bestRankGap = nil
        #expect(check(diverged, spec) == nil)
        // flow: a time past the horizon, a capped budget that is not max_steps.
        spec.run.training.optimizer = .flow(FlowControl(horizon: 0.5))
        #expect(check(measured, spec)?.contains("beyond the horizon") == true)
        spec.run.training.optimizer = .flow(FlowControl(horizon: 0.8))
        #expect(check(measured, spec) == nil)
        var capped = measured
        capped.budgetCapped = true
        #expect(check(capped, spec)?.contains("capped flow budget") == true)
    }

    @Test("a noop or sleep run's report is exactly the fixed synthetic report; the deep-linear checks stay strict")
    func syntheticReports() {
        func check(_ report: RunReport, _ spec: RunSpec) -> String? {
            let result = TaskResult(sweep: "f", taskID: 0, attempt: 1, report: report,
                                    startedAt: Self.now - 2, finishedAt: Self.now - 1)
            switch ResultValidation.check(result, spec: spec, now: Self.now) {
            case .success: return nil
            case .failure(let invalid): return invalid.reason
            }
        }
        var noop = Self.spec
        noop.model = .noop(shape: noop.model.record)
        let fixed = noop.syntheticReport(seconds: 0.001)
        #expect(check(fixed, noop) == nil)
        // The same report for a deep-linear task breaks its budget rule.
        #expect(check(fixed, Self.spec) != nil)
        var claimed = fixed
        claimed.converged = true
        claimed.convergedAt = 0
        #expect(check(claimed, noop) == "not the fixed report of a noop run")
        var shaped = fixed
        shaped.testError = [0]
        #expect(check(shaped, noop) != nil)
        var nan = fixed
        nan.targetDistance = .nan
        #expect(check(nan, noop) != nil)
        var negative = fixed
        negative.trainSeconds = -1
        #expect(check(negative, noop) != nil)

        var sleep = Self.spec
        sleep.model = .sleep(seconds: 2, shape: sleep.model.record)
        #expect(check(sleep.syntheticReport(seconds: 2.01), sleep) == nil)
        #expect(check(sleep.syntheticReport(seconds: 1.5), sleep)?.contains("shorter than the sleep") == true)
    }

    static func point(_ step: Int) -> TrajectoryPoint {
        TrajectoryPoint(step: step, loss: 1, trainResidual: 0.5, reconstructionError: 0.1, offSubspaceError: 0.1,
                        targetDistance: 0.2, gradientNorm: 0.3, balancedness: 0.01, lossGap: 0.4)
    }

    func check(_ report: RunReport, density: Int?) -> String? {
        var spec = Self.spec
        spec.run.training.logDensity = density
        let result = TaskResult(sweep: "f", taskID: 0, attempt: 1, report: report,
                                startedAt: Self.now - 2, finishedAt: Self.now - 1)
        switch ResultValidation.check(result, spec: spec, now: Self.now) {
        case .success: return nil
        case .failure(let invalid): return invalid.reason
        }
    }

    @Test("a log-spaced trajectory: its schedule (or a thinned part of it) and the last step, every value finite and >= 0")
    func logSpacedTrajectory() {
        var r = Self.good  // 80 iterations
        r.trajectory = (LogSchedule.steps(through: 80, density: 4) + [80]).map(Self.point)
        #expect(check(r, density: 4) == nil)
        r.trajectory = [0, 2, 4, 7, 10, 15, 22, 33, 51, 80].map(Self.point)  // thinned, as a worker may to fit a frame
        #expect(check(r, density: 4) == nil)
        #expect(check(r, density: nil) == "a trajectory the task did not ask for")
        let refused: [(String, [TrajectoryPoint])] = [
            ("unscheduled step", [0, 1, 9].map(Self.point)),
            ("step beyond the run", [0, 97].map(Self.point)),
            ("repeated step", [0, 1, 1].map(Self.point)),
            ("decreasing steps", [0, 2, 1].map(Self.point)),
            ("too many points", Array(repeating: Self.point(0), count: 40)),
        ]
        for (what, points) in refused {
            r.trajectory = points
            #expect(check(r, density: 4) != nil, "\(what) passed")
        }
        let edits: [(String, (inout TrajectoryPoint) -> Void)] = [
            ("loss", { $0.loss = .nan }), ("targetDistance", { $0.targetDistance = -1e-3 }),
            ("lossGap", { $0.lossGap = .infinity }), ("gradientNorm", { $0.gradientNorm = -.infinity }),
            ("balancedness", { $0.balancedness = .nan }),
        ]
        for (name, edit) in edits {
            var p = Self.point(4)
            edit(&p)
            r.trajectory = [Self.point(0), p]
            #expect(check(r, density: 4)?.contains(name) == true, "\(name): \(check(r, density: 4) ?? "passed")")
        }
    }

    /// A real diagonal run's report, and the spec it ran.
    static let diagonal: (spec: RunSpec, report: RunReport) = {
        var settings = RunSettings()
        settings.model = .diagonal
        settings.common.problem.signalDim = 20
        settings.common.problem.measurements = 10
        settings.common.problem.latentDim = 2
        settings.common.network.depth = 2
        settings.common.network.initScale = 0.3
        settings.common.training.etaScale = 1
        settings.common.training.steps = 20_000
        settings.common.training.tolConv = 1e-5
        settings.common.training.tolRec = 0.5
        settings.common.training.stopOnSuccess = true
        let spec = try! settings.spec()
        return (spec, try! runExperiment(spec))
    }()

    func checkDiagonal(_ report: RunReport) -> String? {
        let result = TaskResult(sweep: "f", taskID: 0, attempt: 1, report: report, startedAt: Self.now - 2, finishedAt: Self.now - 1)
        switch ResultValidation.check(result, spec: Self.diagonal.spec, now: Self.now) {
        case .success: return nil
        case .failure(let invalid): return invalid.reason
        }
    }

    @Test("a diagonal run's report passes; its outcomes follow its own test, its support flag must be there")
    func diagonalReports() {
        let good = Self.diagonal.report
        #expect(good.converged && good.supportRecovered != nil)
        #expect(checkDiagonal(good) == nil)
        var bad = good
        bad.converged = false
        bad.convergedAt = nil
        #expect(checkDiagonal(bad)?.hasPrefix("converged false with trainResidual") == true)
        bad = good
        bad.recovered.toggle()
        bad.recoveredAt = bad.recovered ? bad.iterations : nil
        #expect(checkDiagonal(bad)?.hasPrefix("recovered ") == true)
        bad = good
        bad.supportRecovered = nil
        #expect(checkDiagonal(bad) == "supportRecovered missing from a diagonal report")
        bad = good
        bad.reconstructionError = 0.1
        #expect(checkDiagonal(bad) == "reconstructionError in a diagonal report (the model does not report it)")
        bad = good
        bad.targetDistance = .nan
        #expect(checkDiagonal(bad) == "targetDistance is nan but the run did not diverge")
        bad = good
        bad.supportSize = 21
        #expect(checkDiagonal(bad) == "supportSize 21 outside 0...20")
        bad = good
        bad.supportSize = nil
        #expect(checkDiagonal(bad) == "supportSize missing from a diagonal report")
        bad = good
        bad.l1Norm = 0
        #expect(checkDiagonal(bad) == "l1Norm 0.0 is not a positive number")
        // And a deep-linear report may not claim a support.
        var deep = Self.good
        deep.supportRecovered = true
        #expect(check(deep) == "supportRecovered in a deep-linear report (the model does not report it)")
    }
}

extension RunSpec {
    /// The deep linear run these tests build and change (`model.record`; setting it makes the
    /// spec a deep linear one).
    fileprivate var run: DeepLinearSpec {
        get { model.record }
        set { model = .deepLinear(newValue) }
    }
}
