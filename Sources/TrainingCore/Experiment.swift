/// Generates the problem of `spec`, trains the network and measures it.
/// Throws `TrainingError` for invalid specs; never traps on bad input.
public func runExperiment(_ spec: RunSpec) throws -> RunReport {
    fatalError("not implemented yet")  // TODO(core helper)
}
