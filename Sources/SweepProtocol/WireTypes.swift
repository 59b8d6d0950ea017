/// The run spec and report as they travel: structs of their own with fixed keys, so a field
/// added to the training core changes the wire only when this file (and the protocol
/// version) changes. `WireMapping.swift` converts to and from the core's types.
///
/// Seeds are decimal strings: a UInt64 above 2^53 does not survive a JSON reader that reads
/// numbers as doubles. Non-finite numbers are the strings "nan", "inf" and "-inf".

/// `task.spec`: everything that determines one training run.
public struct WireSpec: Codable, Sendable, Hashable {
    public var problem: WireProblem
    public var model: WireModel
    public var training: WireTraining
    public var seeds: WireSeeds

    public init(problem: WireProblem, model: WireModel, training: WireTraining, seeds: WireSeeds) {
        self.problem = problem
        self.model = model
        self.training = training
        self.seeds = seeds
    }
}

public struct WireProblem: Codable, Sendable, Hashable {
    public var signalDim: Int
    public var measurements: Int
    public var latentDim: Int
    public var samples: Int
    public var condition: Double
    /// "gaussian".
    public var measurementOperator: String
    public var testSamples: Int

    public init(signalDim: Int, measurements: Int, latentDim: Int, samples: Int, condition: Double,
                measurementOperator: String, testSamples: Int) {
        self.signalDim = signalDim
        self.measurements = measurements
        self.latentDim = latentDim
        self.samples = samples
        self.condition = condition
        self.measurementOperator = measurementOperator
        self.testSamples = testSamples
    }
}

public struct WireModel: Codable, Sendable, Hashable {
    public var depth: Int
    public var width: Int
    /// "kaiming", "orthogonal", "balanced" or "zero-last".
    public var initScheme: String
    public var initScale: Double

    public init(depth: Int, width: Int, initScheme: String, initScale: Double) {
        self.depth = depth
        self.width = width
        self.initScheme = initScheme
        self.initScale = initScale
    }
}

public struct WireTraining: Codable, Sendable, Hashable {
    public var lambda: Double
    public var noise: Double
    public var steps: Int
    /// Absent: `etaScale / (L * sigma_max(Y)^2)`.
    public var eta: Double?
    public var etaScale: Double
    /// "gd".
    public var optimizer: String
    /// "reduced" or "plain".
    public var path: String
    public var stopOnSuccess: Bool
    /// Absent: no trajectory.
    public var logEvery: Int?
    /// Absent: the defaults of MODEL.md §4.
    public var tolRec: Double?
    public var tolOff: Double?
    public var testNoise: [Double]
    public var meanDataTerm: Bool
    public var lambdaPerLayer: Bool
    public var rankTolerance: Double
    public var checkEvery: Int

    public init(lambda: Double, noise: Double, steps: Int, eta: Double?, etaScale: Double, optimizer: String,
                path: String, stopOnSuccess: Bool, logEvery: Int?, tolRec: Double?, tolOff: Double?,
                testNoise: [Double], meanDataTerm: Bool, lambdaPerLayer: Bool, rankTolerance: Double,
                checkEvery: Int) {
        self.lambda = lambda
        self.noise = noise
        self.steps = steps
        self.eta = eta
        self.etaScale = etaScale
        self.optimizer = optimizer
        self.path = path
        self.stopOnSuccess = stopOnSuccess
        self.logEvery = logEvery
        self.tolRec = tolRec
        self.tolOff = tolOff
        self.testNoise = testNoise
        self.meanDataTerm = meanDataTerm
        self.lambdaPerLayer = lambdaPerLayer
        self.rankTolerance = rankTolerance
        self.checkEvery = checkEvery
    }
}

/// Decimal strings of UInt64.
public struct WireSeeds: Codable, Sendable, Hashable {
    public var problem: String
    public var training: String

    public init(problem: String, training: String) {
        self.problem = problem
        self.training = training
    }
}

/// `result.report`: the metrics of one run.
public struct WireReport: Codable, Sendable, Hashable {
    public var trainResidual: Double
    public var reconstructionError: Double
    public var offSubspaceError: Double
    public var oracleDistance: Double
    /// Aligned with `spec.training.testNoise`.
    public var testError: [Double]
    public var oracleTestError: [Double]
    public var balancedness: Double
    public var effectiveRank: Int
    public var iterations: Int
    /// Absent: the success test never held.
    public var convergedAt: Int?
    public var diverged: Bool
    public var success: Bool
    public var trainSeconds: Double
    /// Absent or empty when `logEvery` is absent.
    public var trajectory: [WireTrajectoryPoint]?

    public init(trainResidual: Double, reconstructionError: Double, offSubspaceError: Double, oracleDistance: Double,
                testError: [Double], oracleTestError: [Double], balancedness: Double, effectiveRank: Int,
                iterations: Int, convergedAt: Int?, diverged: Bool, success: Bool, trainSeconds: Double,
                trajectory: [WireTrajectoryPoint]?) {
        self.trainResidual = trainResidual
        self.reconstructionError = reconstructionError
        self.offSubspaceError = offSubspaceError
        self.oracleDistance = oracleDistance
        self.testError = testError
        self.oracleTestError = oracleTestError
        self.balancedness = balancedness
        self.effectiveRank = effectiveRank
        self.iterations = iterations
        self.convergedAt = convergedAt
        self.diverged = diverged
        self.success = success
        self.trainSeconds = trainSeconds
        self.trajectory = trajectory
    }
}

public struct WireTrajectoryPoint: Codable, Sendable, Hashable {
    public var step: Int
    public var loss: Double
    public var trainResidual: Double
    public var reconstructionError: Double
    public var offSubspaceError: Double
    public var balancedness: Double

    public init(step: Int, loss: Double, trainResidual: Double, reconstructionError: Double,
                offSubspaceError: Double, balancedness: Double) {
        self.step = step
        self.loss = loss
        self.trainResidual = trainResidual
        self.reconstructionError = reconstructionError
        self.offSubspaceError = offSubspaceError
        self.balancedness = balancedness
    }
}
