import TrainingCore

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
        w.optionalString(session)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(
            protocolVersion: try r.int("protocolVersion"), workerID: try r.string("workerID"), host: try r.string("host"),
            pid: try r.int("pid"), cores: try r.int("cores"), blasThreads: try r.int("blasThreads"),
            capabilities: try r.strings("capabilities"), prefetch: try r.int("prefetch"),
            session: try r.optionalString("session"))
    }
}

extension Welcome {
    func write(to w: inout WireWriter) {
        w.string(sweep)
        w.string(fingerprint)
        w.double(heartbeatInterval)
        w.double(workerTimeout)
        w.int(prefetch)
        w.string(session)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        self.init(
            sweep: try r.string("sweep"), fingerprint: try r.string("fingerprint"),
            heartbeatInterval: try r.double("heartbeatInterval"), workerTimeout: try r.double("workerTimeout"),
            prefetch: try r.int("prefetch"), session: try r.string("session"))
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
        w.string(session)
        w.string(sweep)
        w.int(taskID)
        w.int(attempt)
        report.write(to: &w)
        w.double(startedAt)
        w.double(finishedAt)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let session = try r.string("session")
        self.init(sweep: try r.string("sweep"), taskID: try r.int("taskID"), attempt: try r.int("attempt"),
                  report: try RunReport(from: &r), startedAt: try r.double("startedAt"),
                  finishedAt: try r.double("finishedAt"), session: session)
    }
}

extension TaskFailure {
    func write(to w: inout WireWriter) {
        w.string(session)
        w.string(sweep)
        w.int(taskID)
        w.int(attempt)
        w.string(reason)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let session = try r.string("session")
        self.init(sweep: try r.string("sweep"), taskID: try r.int("taskID"), attempt: try r.int("attempt"),
                  reason: try r.string("reason"), session: session)
    }
}

extension Heartbeat {
    func write(to w: inout WireWriter) {
        w.string(session)
        w.double(sentAt)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let session = try r.string("session")
        self.init(sentAt: try r.double("sentAt"), session: session)
    }
}

extension Shutdown {
    func write(to w: inout WireWriter) { w.string(reason) }
    init(from r: inout WireReader) throws(ProtocolError) { self.init(reason: try r.string("reason")) }
}

extension Bye {
    func write(to w: inout WireWriter) {
        w.string(session)
        w.string(reason)
        w.ints(taskIDs)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let session = try r.string("session")
        self.init(reason: try r.string("reason"), taskIDs: try r.ints("taskIDs"), session: session)
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
