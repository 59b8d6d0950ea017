/// The binary body of every wire struct, field by field in declaration order (PROTOCOL.md,
/// "Bodies"). A field added to a wire struct must be added here, to PROTOCOL.md and to
/// scripts/protocol_worker.py; `EncodingCoverageTests` fails until it is.

extension WireSpec {
    func write(to w: inout WireWriter) {
        writeWithoutSeeds(to: &w)
        seeds.write(to: &w)
    }

    /// Everything but the seeds: the part a cell's tasks share (the coordinator encodes it once per cell).
    func writeWithoutSeeds(to w: inout WireWriter) {
        problem.write(to: &w)
        model.write(to: &w)
        training.write(to: &w)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let problem = try WireProblem(from: &r)
        let model = try WireModel(from: &r)
        let training = try WireTraining(from: &r)
        self.init(problem: problem, model: model, training: training, seeds: try WireSeeds(from: &r))
    }
}

extension WireProblem {
    func write(to w: inout WireWriter) {
        w.int(signalDim)
        w.int(measurements)
        w.int(latentDim)
        w.int(samples)
        w.double(condition)
        w.string(measurementOperator)
        w.int(testSamples)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(
            signalDim: try r.int("problem.signalDim"), measurements: try r.int("problem.measurements"),
            latentDim: try r.int("problem.latentDim"), samples: try r.int("problem.samples"),
            condition: try r.double("problem.condition"), measurementOperator: try r.string("problem.measurementOperator"),
            testSamples: try r.int("problem.testSamples"))
    }
}

extension WireModel {
    func write(to w: inout WireWriter) {
        w.optionalString(kind)
        w.int(depth)
        w.int(width)
        w.string(initScheme)
        w.double(initScale)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(
            kind: try r.optionalString("model.kind"), depth: try r.int("model.depth"), width: try r.int("model.width"),
            initScheme: try r.string("model.initScheme"), initScale: try r.double("model.initScale"))
    }
}

extension WireSteps {
    /// u8 0 then the int for a fixed budget; u8 1 for "auto".
    func write(to w: inout WireWriter) {
        switch self {
        case .fixed(let n):
            w.u8(0)
            w.int(n)
        case .auto:
            w.u8(1)
        }
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        switch try r.u8("training.steps") {
        case 0: self = .fixed(try r.int("training.steps"))
        case 1: self = .auto
        case let other: throw r.fail("training.steps", "tag must be 0 (fixed) or 1 (auto), got \(other)")
        }
    }
}

extension WireTraining {
    func write(to w: inout WireWriter) {
        w.double(lambda)
        w.double(noise)
        steps.write(to: &w)
        w.int(maxSteps)
        w.double(budgetFactor)
        w.optionalDouble(eta)
        w.double(etaScale)
        w.string(optimizer)
        w.optionalDouble(alpha)
        w.optionalDouble(beta)
        w.optionalString(stepRule)
        w.optionalDouble(flowRtol)
        w.optionalDouble(flowAtol)
        w.optionalDouble(flowTime)
        w.string(path)
        w.bool(stopOnSuccess)
        w.optionalInt(logEvery)
        w.optionalInt(logDensity)
        w.double(tolConv)
        w.double(tolGrad)
        w.double(tolRec)
        w.double(tolOff)
        w.doubles(testNoise)
        w.bool(meanDataTerm)
        w.bool(lambdaPerLayer)
        w.double(rankTolerance)
        w.int(checkEvery)
        w.optionalDouble(sleepSeconds)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let lambda = try r.double("training.lambda")
        let noise = try r.double("training.noise")
        let steps = try WireSteps(from: &r)
        let maxSteps = try r.int("training.maxSteps")
        let budgetFactor = try r.double("training.budgetFactor")
        let eta = try r.optionalDouble("training.eta")
        let etaScale = try r.double("training.etaScale")
        let optimizer = try r.string("training.optimizer")
        let alpha = try r.optionalDouble("training.alpha")
        let beta = try r.optionalDouble("training.beta")
        let stepRule = try r.optionalString("training.stepRule")
        let flowRtol = try r.optionalDouble("training.flowRtol")
        let flowAtol = try r.optionalDouble("training.flowAtol")
        let flowTime = try r.optionalDouble("training.flowTime")
        let path = try r.string("training.path")
        let stopOnSuccess = try r.bool("training.stopOnSuccess")
        let logEvery = try r.optionalInt("training.logEvery")
        let logDensity = try r.optionalInt("training.logDensity")
        let tolConv = try r.double("training.tolConv")
        let tolGrad = try r.double("training.tolGrad")
        let tolRec = try r.double("training.tolRec")
        let tolOff = try r.double("training.tolOff")
        let testNoise = try r.doubles("training.testNoise")
        let meanDataTerm = try r.bool("training.meanDataTerm")
        let lambdaPerLayer = try r.bool("training.lambdaPerLayer")
        let rankTolerance = try r.double("training.rankTolerance")
        let checkEvery = try r.int("training.checkEvery")
        let sleepSeconds = try r.optionalDouble("training.sleepSeconds")
        self.init(
            lambda: lambda, noise: noise, steps: steps, maxSteps: maxSteps, budgetFactor: budgetFactor, eta: eta,
            etaScale: etaScale, optimizer: optimizer, alpha: alpha, beta: beta, stepRule: stepRule,
            flowRtol: flowRtol, flowAtol: flowAtol, flowTime: flowTime, path: path, stopOnSuccess: stopOnSuccess,
            logEvery: logEvery, tolConv: tolConv, tolGrad: tolGrad, tolRec: tolRec, tolOff: tolOff,
            testNoise: testNoise, meanDataTerm: meanDataTerm, lambdaPerLayer: lambdaPerLayer,
            rankTolerance: rankTolerance, checkEvery: checkEvery, sleepSeconds: sleepSeconds, logDensity: logDensity)
    }
}

extension WireSeeds {
    func write(to w: inout WireWriter) {
        w.string(problem)
        w.string(training)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(problem: try r.string("seeds.problem"), training: try r.string("seeds.training"))
    }
}

extension WireReport {
    func write(to w: inout WireWriter) {
        w.double(trainResidual)
        w.double(reconstructionError)
        w.double(offSubspaceError)
        w.double(oracleDistance)
        w.double(targetDistance)
        w.double(gradientNorm)
        w.double(oracleNorm)
        w.doubles(testError)
        w.doubles(oracleTestError)
        w.double(balancedness)
        w.int(effectiveRank)
        w.int(iterations)
        w.optionalInt(convergedAt)
        w.optionalInt(recoveredAt)
        w.optionalInt(stationaryAt)
        w.bool(diverged)
        w.bool(converged)
        w.bool(recovered)
        w.bool(stationary)
        w.int(stepBudget)
        w.bool(budgetCapped)
        w.double(trainSeconds)
        w.optional(trajectory) { w, points in
            w.u32(UInt32(truncatingIfNeeded: points.count))
            for point in points { point.write(to: &w) }
        }
        w.optionalDouble(flowTime)
        w.optionalDouble(lossGapRate)
        w.optionalDouble(balancednessDrift)
        w.optionalDouble(bestRankGap)
        w.optional(supportRecovered) { $0.bool($1) }
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let trainResidual = try r.double("report.trainResidual")
        let reconstructionError = try r.double("report.reconstructionError")
        let offSubspaceError = try r.double("report.offSubspaceError")
        let oracleDistance = try r.double("report.oracleDistance")
        let targetDistance = try r.double("report.targetDistance")
        let gradientNorm = try r.double("report.gradientNorm")
        let oracleNorm = try r.double("report.oracleNorm")
        let testError = try r.doubles("report.testError")
        let oracleTestError = try r.doubles("report.oracleTestError")
        let balancedness = try r.double("report.balancedness")
        let effectiveRank = try r.int("report.effectiveRank")
        let iterations = try r.int("report.iterations")
        let convergedAt = try r.optionalInt("report.convergedAt")
        let recoveredAt = try r.optionalInt("report.recoveredAt")
        let stationaryAt = try r.optionalInt("report.stationaryAt")
        let diverged = try r.bool("report.diverged")
        let converged = try r.bool("report.converged")
        let recovered = try r.bool("report.recovered")
        let stationary = try r.bool("report.stationary")
        let stepBudget = try r.int("report.stepBudget")
        let budgetCapped = try r.bool("report.budgetCapped")
        let trainSeconds = try r.double("report.trainSeconds")
        var trajectory: [WireTrajectoryPoint]?
        if try r.present("report.trajectory") {
            // A point takes at least 8 numbers and 3 presence bytes.
            let count = try r.count("report.trajectory", minimum: 67)
            var points: [WireTrajectoryPoint] = []
            points.reserveCapacity(count)
            for _ in 0..<count { points.append(try WireTrajectoryPoint(from: &r)) }
            trajectory = points
        }
        self.init(
            trainResidual: trainResidual, reconstructionError: reconstructionError, offSubspaceError: offSubspaceError,
            oracleDistance: oracleDistance, targetDistance: targetDistance, gradientNorm: gradientNorm,
            oracleNorm: oracleNorm, testError: testError, oracleTestError: oracleTestError, balancedness: balancedness,
            effectiveRank: effectiveRank, iterations: iterations, convergedAt: convergedAt, recoveredAt: recoveredAt,
            stationaryAt: stationaryAt, diverged: diverged, converged: converged, recovered: recovered,
            stationary: stationary, stepBudget: stepBudget, budgetCapped: budgetCapped, trainSeconds: trainSeconds,
            trajectory: trajectory, flowTime: try r.optionalDouble("report.flowTime"),
            lossGapRate: try r.optionalDouble("report.lossGapRate"),
            balancednessDrift: try r.optionalDouble("report.balancednessDrift"),
            bestRankGap: try r.optionalDouble("report.bestRankGap"),
            supportRecovered: try r.present("report.supportRecovered") ? try r.bool("report.supportRecovered") : nil)
    }
}

extension WireTrajectoryPoint {
    func write(to w: inout WireWriter) {
        w.int(step)
        w.double(loss)
        w.double(trainResidual)
        w.double(reconstructionError)
        w.double(offSubspaceError)
        w.double(targetDistance)
        w.double(gradientNorm)
        w.double(balancedness)
        w.optionalDouble(flowTime)
        w.optional(singularValues) { $0.doubles($1) }
        w.optionalDouble(lossGap)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let step = try r.int("trajectory.step")
        let loss = try r.double("trajectory.loss")
        let trainResidual = try r.double("trajectory.trainResidual")
        let reconstructionError = try r.double("trajectory.reconstructionError")
        let offSubspaceError = try r.double("trajectory.offSubspaceError")
        let targetDistance = try r.double("trajectory.targetDistance")
        let gradientNorm = try r.double("trajectory.gradientNorm")
        let balancedness = try r.double("trajectory.balancedness")
        let flowTime = try r.optionalDouble("trajectory.flowTime")
        let singularValues = try r.present("trajectory.singularValues") ? try r.doubles("trajectory.singularValues") : nil
        self.init(
            step: step, loss: loss, trainResidual: trainResidual, reconstructionError: reconstructionError,
            offSubspaceError: offSubspaceError, targetDistance: targetDistance, gradientNorm: gradientNorm,
            balancedness: balancedness, flowTime: flowTime, singularValues: singularValues,
            lossGap: try r.optionalDouble("trajectory.lossGap"))
    }
}

// MARK: Messages

extension Hello {
    func write(to w: inout WireWriter) {
        w.int(protocolVersion)
        w.string(workerID)
        w.string(host)
        w.int(pid)
        w.int(cores)
        w.int(blasThreads)
        w.strings(capabilities)
        w.int(prefetch)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(
            protocolVersion: try r.int("protocolVersion"), workerID: try r.string("workerID"), host: try r.string("host"),
            pid: try r.int("pid"), cores: try r.int("cores"), blasThreads: try r.int("blasThreads"),
            capabilities: try r.strings("capabilities"), prefetch: try r.int("prefetch"))
    }
}

extension Welcome {
    func write(to w: inout WireWriter) {
        w.string(sweep)
        w.string(fingerprint)
        w.double(heartbeatInterval)
        w.double(workerTimeout)
        w.int(prefetch)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(
            sweep: try r.string("sweep"), fingerprint: try r.string("fingerprint"),
            heartbeatInterval: try r.double("heartbeatInterval"), workerTimeout: try r.double("workerTimeout"),
            prefetch: try r.int("prefetch"))
    }
}

extension TaskAssignment {
    func write(to w: inout WireWriter) {
        w.string(sweep)
        w.int(taskID)
        w.int(attempt)
        spec.write(to: &w)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(sweep: try r.string("sweep"), taskID: try r.int("taskID"), attempt: try r.int("attempt"),
                  spec: try WireSpec(from: &r))
    }
}

extension TaskResult {
    func write(to w: inout WireWriter) {
        w.string(sweep)
        w.int(taskID)
        w.int(attempt)
        report.write(to: &w)
        w.double(startedAt)
        w.double(finishedAt)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(sweep: try r.string("sweep"), taskID: try r.int("taskID"), attempt: try r.int("attempt"),
                  report: try WireReport(from: &r), startedAt: try r.double("startedAt"),
                  finishedAt: try r.double("finishedAt"))
    }
}

extension TaskFailure {
    func write(to w: inout WireWriter) {
        w.string(sweep)
        w.int(taskID)
        w.int(attempt)
        w.string(reason)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(sweep: try r.string("sweep"), taskID: try r.int("taskID"), attempt: try r.int("attempt"),
                  reason: try r.string("reason"))
    }
}

extension Heartbeat {
    func write(to w: inout WireWriter) { w.double(sentAt) }
    init(from r: inout WireReader) throws(ProtocolError) { self.init(sentAt: try r.double("sentAt")) }
}

extension Shutdown {
    func write(to w: inout WireWriter) { w.string(reason) }
    init(from r: inout WireReader) throws(ProtocolError) { self.init(reason: try r.string("reason")) }
}

extension Bye {
    func write(to w: inout WireWriter) {
        w.string(reason)
        w.ints(taskIDs)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(reason: try r.string("reason"), taskIDs: try r.ints("taskIDs"))
    }
}

extension Ack {
    func write(to w: inout WireWriter) { w.ints(taskIDs) }
    init(from r: inout WireReader) throws(ProtocolError) { self.init(taskIDs: try r.ints("taskIDs")) }
}

extension Register {
    func write(to w: inout WireWriter) { w.string(reason) }
    init(from r: inout WireReader) throws(ProtocolError) { self.init(reason: try r.string("reason")) }
}
