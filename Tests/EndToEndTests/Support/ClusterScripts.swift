import Foundation
import Testing

/// The repository's root (the launchers and their test beds live in cluster/).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs a script to its end with stdout and stderr in one log file (read after exit: a pipe
/// read only then can fill and block the script). Returns its exit status and the log.
func runLogged(_ executable: String, _ arguments: [String], in directory: URL, log name: String) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let log = directory.appendingPathComponent(name)
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    // One handle for both streams: two would each write from offset 0 over the other.
    let logHandle = try FileHandle(forWritingTo: log)
    process.standardOutput = logHandle
    process.standardError = logHandle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// Expects each results folder to hold the table of a local, undisturbed run of the slow sweep.
func expectLocalRunTables(_ folders: [URL]) async throws {
    let reference = try await ReferenceTables.shared.table(for: slowSweepYAML)
    for folder in folders {
        #expect(try deterministicTable(folder) == reference, "table of \(folder.path) differs from the local run's")
    }
}

/// A scheduler's walk-through on its test bed, on the slow sweep:
/// `cluster/<scheduler>/testbed.sh run DIR bash cluster/<scheduler>/walkthrough-test.sh
/// DLSWEEP CONFIG WORK`. Expects it to pass and to list `completedSweeps` results folders
/// in WORK/complete.txt, each with the local run's table.
func expectClusterWalkthrough(_ scheduler: String, completedSweeps: Int) async throws {
    let directory = try makeTemporaryDirectory(scheduler)
    let config = directory.appendingPathComponent("sweep.yaml").path
    try slowSweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
    let work = directory.appendingPathComponent("walk")
    let scripts = repositoryRoot.appendingPathComponent("cluster/\(scheduler)")
    let (status, output) = try runLogged("/bin/bash", [
        scripts.appendingPathComponent("testbed.sh").path, "run", directory.appendingPathComponent("testbed").path,
        "bash", scripts.appendingPathComponent("walkthrough-test.sh").path, DLSweepProcess.binary.path, config, work.path,
    ], in: directory, log: "walkthrough.log")
    #expect(status == 0, "walkthrough-test.sh failed:\n\(output.suffix(6000))")
    let listed = (try? String(contentsOf: work.appendingPathComponent("complete.txt"), encoding: .utf8)) ?? ""
    let folders = listed.split(separator: "\n").map { URL(fileURLWithPath: String($0)) }
    #expect(folders.count == completedSweeps, "completed sweeps: \(folders.map(\.lastPathComponent))\n\(output.suffix(3000))")
    try await expectLocalRunTables(folders)
}
