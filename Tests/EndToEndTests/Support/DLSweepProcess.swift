import Foundation
import Testing

/// The built `dlsweep` binary, run as a real child process with its output in files (reading
/// pipes only after exit can deadlock on large output).
final class DLSweepProcess: @unchecked Sendable {
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL

    /// The executable SwiftPM built beside the test bundle.
    static let binary: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("dlsweep")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.appendingPathComponent("dlsweep")
    }()

    /// - Parameter executable: another program than dlsweep (a peer written in Python).
    init(_ arguments: [String], in directory: URL, label: String, environment: [String: String] = [:],
         executable: URL? = nil) throws {
        stdoutURL = directory.appendingPathComponent("\(label).out")
        stderrURL = directory.appendingPathComponent("\(label).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = executable ?? Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Waits up to `seconds`; kills the process and records an issue when it overruns.
    @discardableResult
    func wait(seconds: Double, sourceLocation: SourceLocation = #_sourceLocation) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            Issue.record("dlsweep \(process.arguments ?? []) still running after \(seconds) s; killed.\nstderr:\n\(stderr.suffix(3000))", sourceLocation: sourceLocation)
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Polls until `condition` holds or `seconds` pass.
    /// The endpoint a coordinator bound, read from `OUT/coordinator.address` once it holds a
    /// tcp address (the coordinator writes it atomically after binding).
    func coordinatorEndpoint(out: URL, seconds: Double = 20,
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let addressFile = out.appendingPathComponent("coordinator.address")
        try #require(Self.eventually(seconds: seconds) {
            (try? String(contentsOf: addressFile, encoding: .utf8))?.contains("tcp://") == true
        }, "coordinator did not start: \(stderr)", sourceLocation: sourceLocation)
        return try String(contentsOf: addressFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func eventually(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// A fresh temporary folder per test.
func makeTemporaryDirectory(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("dlsweep-\(safe)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A sweep small enough for tests: 2 × 2 × 2 cells × 3 trials = 24 tasks of a few ms each.
let smallSweepYAML = """
    name: e2e
    seed: 7
    problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
    grid:
      depth: [1, 3]
      width: [8, 16]
      lambda: [0.0, 0.01]
      noise: [0.0]
    trials: 3
    training: {steps: 3000, eta_scale: 0.5, stop_on_success: true}
    success: {tol_rec: 0.05, tol_off: 0.01}
    test_noise: [0.0, 0.1]
    """

/// table.json rows with the wall-clock columns removed: everything left must match exactly
/// between two runs of the same sweep.
func deterministicTable(_ directory: URL) throws -> [[String: String]] {
    let data = try Data(contentsOf: directory.appendingPathComponent("table.json"))
    let rows = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    return rows.map { row in
        var out: [String: String] = [:]
        for (key, value) in row where !key.contains("seconds") {
            if let number = value as? NSNumber {
                out[key] = "\(number.doubleValue.bitPattern)"
            } else if let object = value as? [String: Any] {
                out[key] = object.keys.sorted().map { "\($0)=\((object[$0] as? NSNumber)?.doubleValue.bitPattern ?? 0)" }
                    .joined(separator: ",")
            } else {
                out[key] = "\(value)"
            }
        }
        return out
    }
}

/// Results committed so far, read with the sqlite3 command-line tool (a separate reader,
/// as a user would).
func recordedCount(_ outDirectory: URL) -> Int {
    let database = outDirectory.appendingPathComponent("results.sqlite").path
    guard FileManager.default.fileExists(atPath: database) else { return 0 }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sqlite3", "-readonly", database, "select count(*) from results"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return 0 }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
}

/// A TCP port that was free a moment ago (for a coordinator that must come back on it).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    try #require(bound == 0)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// 127.0.0.1:port as a socket address.
func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return address
}

/// A sweep whose tasks last long enough (tens of ms) to be interrupted mid-task.
let slowSweepYAML = """
    name: slow
    seed: 11
    problem: {signal_dim: 30, measurements: 15, latent_dim: 3, samples: 20}
    grid:
      depth: [2, 4]
      width: [24]
      lambda: [0.0, 0.01]
      noise: [0.0, 0.05]
    trials: 6
    training: {steps: 20000, eta_scale: 0.5, stop_on_success: false}
    test_noise: [0.0, 0.1]
    """

/// The reference table of a sweep: one worker, nothing disturbed. Computed once per config.
actor ReferenceTables {
    static let shared = ReferenceTables()
    private var tables: [String: [[String: String]]] = [:]

    func table(for yaml: String) throws -> [[String: String]] {
        if let table = tables[yaml] { return table }
        let directory = try makeTemporaryDirectory("reference")
        let config = directory.appendingPathComponent("sweep.yaml").path
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let run = try DLSweepProcess(["run", config, "--workers", "1", "--out", "ref", "--progress", "none"],
                                     in: directory, label: "reference")
        try #require(run.wait(seconds: 300) == 0, "reference run failed: \(run.stderr.suffix(2000))")
        let table = try deterministicTable(directory.appendingPathComponent("ref"))
        tables[yaml] = table
        return table
    }
}

/// Replays task `task` of the sweep in `directory/out` (`dlsweep train --from out --task N --json`,
/// plus `arguments`) and expects each column to equal its stored value to 1e-12 relative: the same
/// spec, seeds and code path (BLAS may sum in another order depending on buffer alignment, so the
/// last bits may differ). Returns the replay's JSON for further checks.
@discardableResult
func expectReplay(task: Int, in directory: URL, matches columns: [(String, Double)], arguments: [String] = [],
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let replay = try DLSweepProcess(["train", "--from", "out", "--task", "\(task)"] + arguments + ["--json"],
                                    in: directory, label: "replay\(task)")
    #expect(replay.wait(seconds: 60) == 0, "\(replay.stderr)", sourceLocation: sourceLocation)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any],
                              sourceLocation: sourceLocation)
    for (column, value) in columns {
        let replayed = try #require((object[column] as? NSNumber)?.doubleValue, "\(column)", sourceLocation: sourceLocation)
        #expect(abs(replayed - value) <= 1e-12 * max(abs(value), 1e-12), "task \(task), \(column): \(replayed) vs stored \(value)",
                sourceLocation: sourceLocation)
    }
    return object
}
