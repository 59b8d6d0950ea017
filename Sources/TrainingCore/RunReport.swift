/// What one run reports: the metrics of MODEL.md §3 and the success test of §4.
public struct RunReport: Codable, Sendable, Hashable {
    public var trainResidual: Double
    public var reconstructionError: Double
    public var offSubspaceError: Double
    public var oracleDistance: Double
    /// Aligned with `TrainingSpec.testNoise`.
    public var testError: [Double]
    /// Aligned with `TrainingSpec.testNoise`.
    public var oracleTestError: [Double]
    public var balancedness: Double
    public var effectiveRank: Int
    /// Steps run.
    public var iterations: Int
    /// First step at which the success test held, if it did.
    public var convergedAt: Int?
    public var diverged: Bool
    public var success: Bool
    /// Wall-clock seconds of the training loop (not part of a run's identity).
    public var trainSeconds: Double
    /// Metrics every `logEvery` steps; empty when off.
    public var trajectory: [TrajectoryPoint]

    public init(trainResidual: Double, reconstructionError: Double, offSubspaceError: Double,
                oracleDistance: Double, testError: [Double], oracleTestError: [Double],
                balancedness: Double, effectiveRank: Int, iterations: Int, convergedAt: Int?,
                diverged: Bool, success: Bool, trainSeconds: Double, trajectory: [TrajectoryPoint] = []) {
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

/// The cheap metrics at one logged step.
public struct TrajectoryPoint: Codable, Sendable, Hashable {
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
