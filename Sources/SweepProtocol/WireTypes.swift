/// The run spec as it travels: structs of their own with fixed keys, so a field added to the
/// training core's spec changes the wire only when this file (and the protocol version)
/// changes. `WireMapping.swift` converts to and from the core's types.
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
    /// "noop" or "sleep"; absent: "deep-linear" (so the specs and fingerprints of version 4 stand).
    public var kind: String?
    public var depth: Int
    public var width: Int
    /// "kaiming", "orthogonal", "balanced" or "zero-last".
    public var initScheme: String
    public var initScale: Double

    public init(kind: String? = nil, depth: Int, width: Int, initScheme: String, initScale: Double) {
        self.kind = kind
        self.depth = depth
        self.width = width
        self.initScheme = initScheme
        self.initScale = initScale
    }
}

/// `training.steps`: a JSON number (a fixed budget) or the string "auto".
public enum WireSteps: Codable, Sendable, Hashable {
    case fixed(Int)
    case auto

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) { self = .fixed(n); return }
        guard try c.decode(String.self) == "auto" else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "steps must be an integer or \"auto\"")
        }
        self = .auto
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .fixed(let n): try c.encode(n)
        case .auto: try c.encode("auto")
        }
    }
}

public struct WireTraining: Codable, Sendable, Hashable {
    public var lambda: Double
    public var noise: Double
    public var steps: WireSteps
    /// The cap of `"auto"` and its budget for lambda = 0.
    public var maxSteps: Int
    /// `c` of `"auto"`.
    public var budgetFactor: Double
    /// Absent: `etaScale / (L * sigma_max(Y)^2)`.
    public var eta: Double?
    public var etaScale: Double
    /// "gd", "heavy-ball", "inertial" or "flow".
    public var optimizer: String
    /// The viscous damping α: present exactly for "heavy-ball" and "inertial".
    public var alpha: Double?
    /// The Hessian-driven damping β: present exactly for "inertial".
    public var beta: Double?
    /// "adaptive"; absent: "fixed" (never present for "flow").
    public var stepRule: String?
    /// The Runge–Kutta tolerances: present exactly for "flow".
    public var flowRtol: Double?
    public var flowAtol: Double?
    /// The time horizon of "flow"; absent: the time `steps` steps of size η cover.
    public var flowTime: Double?
    /// "reduced" or "plain".
    public var path: String
    public var stopOnSuccess: Bool
    /// Absent: no trajectory every so many steps.
    public var logEvery: Int?
    /// Absent: no log-spaced trajectory (`LogSchedule`); present on a sweep's sampled runs only.
    public var logDensity: Int?
    /// The outcome tolerances of MODEL.md §4.
    public var tolConv: Double
    public var tolGrad: Double
    public var tolRec: Double
    public var tolOff: Double
    public var testNoise: [Double]
    public var meanDataTerm: Bool
    public var lambdaPerLayer: Bool
    public var rankTolerance: Double
    public var checkEvery: Int
    /// The run's length in seconds: present exactly for model kind "sleep".
    public var sleepSeconds: Double?

    public init(lambda: Double, noise: Double, steps: WireSteps, maxSteps: Int, budgetFactor: Double, eta: Double?,
                etaScale: Double, optimizer: String, alpha: Double? = nil, beta: Double? = nil, stepRule: String? = nil,
                flowRtol: Double? = nil, flowAtol: Double? = nil, flowTime: Double? = nil,
                path: String, stopOnSuccess: Bool, logEvery: Int?,
                tolConv: Double, tolGrad: Double, tolRec: Double, tolOff: Double,
                testNoise: [Double], meanDataTerm: Bool, lambdaPerLayer: Bool, rankTolerance: Double,
                checkEvery: Int, sleepSeconds: Double? = nil, logDensity: Int? = nil) {
        self.lambda = lambda
        self.noise = noise
        self.steps = steps
        self.maxSteps = maxSteps
        self.budgetFactor = budgetFactor
        self.eta = eta
        self.etaScale = etaScale
        self.optimizer = optimizer
        self.alpha = alpha
        self.beta = beta
        self.stepRule = stepRule
        self.flowRtol = flowRtol
        self.flowAtol = flowAtol
        self.flowTime = flowTime
        self.path = path
        self.stopOnSuccess = stopOnSuccess
        self.logEvery = logEvery
        self.logDensity = logDensity
        self.tolConv = tolConv
        self.tolGrad = tolGrad
        self.tolRec = tolRec
        self.tolOff = tolOff
        self.testNoise = testNoise
        self.meanDataTerm = meanDataTerm
        self.lambdaPerLayer = lambdaPerLayer
        self.rankTolerance = rankTolerance
        self.checkEvery = checkEvery
        self.sleepSeconds = sleepSeconds
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

// `result.report` is the training core's own `RunReport`, written field by field from
// `RunReport.fields` (ReportCoding.swift).
