import TrainingCore

/// A result whose trajectory does not fit one frame is thinned, not refused: its points stay
/// log-spaced and scheduled (a receiver checks them against the schedule), the run's metrics
/// are untouched. PROTOCOL.md, "Trajectories".
extension TaskResult {
    /// The result's frame, with its trajectory thinned until the frame fits `maxFrameBytes`:
    /// every other point is dropped (the first and the last kept) until it fits; with two
    /// points left that still do not fit, the trajectory is dropped.
    public func encodedFrame() throws(ProtocolError) -> [UInt8] {
        var result = self
        while true {
            do {
                return try Message.result(result).encoded()
            } catch .tooLarge(let bytes) {
                let points = result.report.trajectory
                guard !points.isEmpty else { throw .tooLarge(bytes: bytes) }
                result.report.trajectory = points.count > 2 ? Self.thinned(points) : []
            }
        }
    }

    /// The points at even positions, and the last one.
    static func thinned(_ points: [TrajectoryPoint]) -> [TrajectoryPoint] {
        var kept = stride(from: 0, to: points.count, by: 2).map { points[$0] }
        if points.count % 2 == 0, let last = points.last { kept.append(last) }
        return kept
    }
}
