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

    init(_ arguments: [String], in directory: URL, label: String, environment: [String: String] = [:]) throws {
        stdoutURL = directory.appendingPathComponent("\(label).out")
        stderrURL = directory.appendingPathComponent("\(label).err")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = Self.binary
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
