import Foundation
import Testing

/// The Grid Engine launchers on a real Grid Engine: Debian's Son of Grid Engine, one
/// sge_qmaster and one sge_execd on this machine (cluster/gridengine/testbed.sh, which
/// installs them when missing). Needs root (sge_execd starts jobs as their users); CI runs as root.
@Suite(.serialized)
struct GridEngineTests {
    @Test("submit.sh, workers added and one deleted, qdel of the coordinator and a resume, qsub failures: each completed sweep has the local run's table",
          .enabled(if: getuid() == 0, "needs root to run sge_qmaster and sge_execd (and to apt-get install gridengine-*); run the suite as root"),
          .timeLimit(.minutes(10)))
    func walkThrough() async throws {
        // With workers added, resumed after qdel.
        try await expectClusterWalkthrough("gridengine", completedSweeps: 2)
    }
}
