import Foundation
import Testing

/// The README's Slurm walk-through on a real Slurm: Debian's slurm-wlm and munge, one
/// slurmctld and two slurmd on this machine (cluster/slurm/testbed.sh, which installs them
/// when missing). Needs root (slurmd starts jobs as their users); CI runs as root.
@Suite(.serialized)
struct SlurmTests {
    static let isRoot = getuid() == 0
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("sbatch, add-workers, scancel and resume, USR1 and resume, requeued at the time limit, preempted and requeued, a heterogeneous job: each completed sweep has the local run's table",
          .enabled(if: isRoot, "needs root to run slurmctld and slurmd (and to apt-get install slurm-wlm munge); run the suite as root"),
          .timeLimit(.minutes(15)))
    func walkThrough() async throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try slowSweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let work = directory.appendingPathComponent("walk")
        let slurm = Self.repository.appendingPathComponent("cluster/slurm")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [
            slurm.appendingPathComponent("testbed.sh").path, "run", directory.appendingPathComponent("testbed").path,
            "bash", slurm.appendingPathComponent("walkthrough-test.sh").path,
            DLSweepProcess.binary.path, config, work.path,
        ]
        process.currentDirectoryURL = directory
        let log = directory.appendingPathComponent("walkthrough.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        // One handle for both streams: two would each write from offset 0 over the other.
        let logHandle = try FileHandle(forWritingTo: log)
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "walkthrough-test.sh failed:\n\(output.suffix(6000))")

        // One results folder per completed sweep: straight through, resumed after scancel,
        // resumed after USR1, requeued by itself after USR1, preempted and requeued by Slurm,
        // the heterogeneous job requeued after USR1.
        let listed = (try? String(contentsOf: work.appendingPathComponent("complete.txt"), encoding: .utf8)) ?? ""
        let folders = listed.split(separator: "\n").map { URL(fileURLWithPath: String($0)) }
        #expect(folders.count == 6, "completed sweeps: \(folders.map(\.lastPathComponent))\n\(output.suffix(3000))")
        let reference = try await ReferenceTables.shared.table(for: slowSweepYAML)
        for folder in folders {
            #expect(try deterministicTable(folder) == reference, "table of \(folder.path) differs from the local run's")
        }
    }
}
