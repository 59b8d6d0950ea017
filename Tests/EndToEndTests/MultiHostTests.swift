import Foundation
import Testing

/// A sweep across three hosts built from network namespaces (cluster/netns), with one worker
/// host's link cut mid-sweep. Needs root for `ip netns`; CI runs as root.
@Suite(.serialized)
struct MultiHostTests {
    static let isRoot = getuid() == 0
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("three hosts, one cut off mid-sweep: the sweep finishes on the rest with the single-machine table",
          .enabled(if: isRoot, "needs root to build network namespaces (ip netns); run the suite as root"))
    func cutHostMidSweep() async throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try slowSweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let script = Self.repository.appendingPathComponent("cluster/netns/multihost-sweep.sh").path

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, DLSweepProcess.binary.path, config, directory.appendingPathComponent("out").path]
        var environment = ProcessInfo.processInfo.environment
        environment["DLSW_TESTBED_ID"] = "t\(getpid() % 100_000)"
        environment["DLSW_CUT_AFTER"] = "6"
        environment["DLSW_WORKER_TIMEOUT"] = "3"
        environment["DLSW_TIMEOUT"] = "300"
        process.environment = environment
        let log = directory.appendingPathComponent("multihost.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "multihost-sweep.sh failed:\n\(output.suffix(4000))")

        let summary = (try? String(contentsOf: directory.appendingPathComponent("out/multihost-summary.txt"), encoding: .utf8)) ?? ""
        #expect(summary.contains("cut=yes"), "h2 was cut mid-sweep: \(summary)")
        let reference = try await ReferenceTables.shared.table(for: slowSweepYAML)
        #expect(try deterministicTable(directory.appendingPathComponent("out")) == reference)
    }
}
