import Foundation

extension DeepLinearSpec {
    /// About how many bytes a run of this spec allocates at its peak: the problem (A, X, R,
    /// the test set), Y and its SVD, the weights with the trainer's copies and work buffers.
    /// Computed in `Double`, so absurd sizes give a large number instead of an overflow; a
    /// sweep refuses cells above its limit and a worker fails a task that cannot fit its host
    /// with "needs N GiB" rather than being killed by the allocator.
    public var estimatedBytes: Double {
        let d = Double(problem.signalDim), m = Double(problem.measurements), r = Double(problem.latentDim)
        let n = Double(problem.samples), nt = Double(problem.testSamples)
        let k = min(m, n)
        let shapes = layerShapes(depth: network.depth, width: network.width,
                                 measurements: problem.measurements, signalDim: problem.signalDim)
        let weights = shapes.reduce(0.0) { $0 + Double($1.rows) * Double($1.columns) }
        let widest = shapes.reduce(0.0) { max($0, Double($1.rows)) }
        let columns = training.path == .reduced ? k : m
        let problemArrays = 2 * m * d + 3 * d * n + 2 * d * r + (d + m) * nt
        let data = 3 * m * n + m * k + k * n
        // Momentum keeps the previous weights and a gradient buffer (inertial: the previous gradient too);
        // an adaptive step keeps a copy of the state to return to (counted as twice the weights).
        let momentumCopies: Double = switch self.training.optimizer.kind {
        case .gd: 0
        case .heavyBall: 2
        case .inertial: 3
        // Dormand–Prince: the step's start and the gradients of its seven stages.
        case .flow: 8
        }
        // Weights, the first layer's reduced and outside parts, the previous first layer, and
        // the forward, backward and next-forward products of each layer.
        let training = 3 * weights + 3 * Double(shapes.count) * widest * columns + 2 * d * k
            + (momentumCopies + (self.training.optimizer.stepRule == .adaptive ? 2 : 0)) * weights
        // The end-to-end product and the balancedness gaps measured at the end.
        let metrics = d * m + Double(network.width) * Double(network.width) * 2
        return 8 * (problemArrays + data + training + metrics)
    }
}

/// Bytes as GiB for messages ("needs 12.5 GiB").
public func gibibytes(_ bytes: Double) -> String {
    let value = bytes / 1_073_741_824
    if value >= 100 { return "\(Int(value.rounded())) GiB" }
    let tenths = (value * 10).rounded() / 10
    return "\(tenths) GiB"
}

extension RunSpec {
    /// Throws "needs N GiB" when the run could never fit in `available` bytes (default: the
    /// host's physical memory, not what is free at the moment, so that a busy host does not
    /// fail a task for good), before anything is allocated: a worker records the task as
    /// failed instead of the allocator killing it, and the next worker, in turn.
    public func checkFitsInMemory(available: Double?) throws(TrainingError) {
        let needed: Double
        switch model {
        case .deepLinear(let run): needed = run.estimatedBytes
        // A (m × n), its LP (m × 2n dense, then GLPK's sparse copy): about six m × n doubles.
        case .diagonal(let run): needed = 48 * Double(run.problem.measurements) * Double(run.problem.dimension)
        case .noop, .sleep: return  // nothing is allocated
        }
        guard let available, needed > available else { return }
        let r = model.record
        throw TrainingError("needs \(gibibytes(needed)) of memory (depth \(r.network.depth), width \(r.network.width), signal_dim \(r.problem.signalDim), samples \(r.problem.samples)); this host has \(gibibytes(available)) in all")
    }
}

extension RunSpec {
    /// Against this host's physical memory (read once per process).
    public func checkFitsInMemory() throws(TrainingError) {
        try checkFitsInMemory(available: hostMemoryBytes)
    }
}

/// `physicalMemoryBytes()` read once per process: a worker checks every task against it.
private let hostMemoryBytes = physicalMemoryBytes()

/// `MemTotal` of /proc/meminfo in bytes; nil when unknown (then nothing is refused).
public func physicalMemoryBytes() -> Double? {
    guard let file = fopen("/proc/meminfo", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard text.hasPrefix("MemTotal:") else { continue }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 2, let kilobytes = Double(fields[1]) else { return nil }
        return kilobytes * 1024
    }
    return nil
}
