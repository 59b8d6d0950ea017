import Foundation
import Testing

/// The README's Slurm walk-through on a real Slurm: Debian's slurm-wlm and munge, one
/// slurmctld and two slurmd on this machine (cluster/slurm/testbed.sh, which installs them
/// when missing). Needs root (slurmd starts jobs as their users); CI runs as root.
@Suite(.serialized)
struct SlurmTests {
    @Test("sbatch, add-workers, scancel and resume, USR1 and resume, requeued at the time limit, preempted and requeued, a heterogeneous job: each completed sweep has the local run's table",
          .enabled(if: getuid() == 0, "needs root to run slurmctld and slurmd (and to apt-get install slurm-wlm munge); run the suite as root"),
          .timeLimit(.minutes(15)))
    func walkThrough() async throws {
        // Straight through, resumed after scancel, resumed after USR1, requeued by itself
        // after USR1, preempted and requeued by Slurm, the heterogeneous job requeued.
        try await expectClusterWalkthrough("slurm", completedSweeps: 6)
    }
}
