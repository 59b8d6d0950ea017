import Foundation
import LinearAlgebra
import NumPyFiles
import Testing

/// The results folder, the disk and the limits, through the real binary (issue 11): one
/// owner per folder, storage faults that are loud and recoverable, a deleted store noticed,
/// limits checked before --out is touched, a 10⁹-task grid that stops at once.
@Suite(.serialized)
struct StoreAndLimitsTests {
    private func writeConfig(_ text: String = smallSweepYAML, in directory: URL, name: String = "sweep.yaml") throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A coordinator on a free loopback port; returns once it has written its address.
    private func startCoordinator(_ config: String, out: String, in directory: URL, extra: [String] = [],
                                  label: String = "coordinator") throws -> (DLSweepProcess, String) {
        let coordinator = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", out, "--progress", "lines"] + extra,
            in: directory, label: label)
        let endpoint = try coordinator.coordinatorEndpoint(out: directory.appendingPathComponent(out))
        return (coordinator, endpoint)
    }

    private func worker(_ endpoint: String, in directory: URL, label: String) throws -> DLSweepProcess {
        try DLSweepProcess(["worker", "--connect", endpoint, "--heartbeat", "0.25", "--reconnect-timeout", "60"],
                           in: directory, label: label)
    }

    // MARK: 1. One owner per folder

    @Test("1. a second coordinator on the same --out is refused with the first one's host, pid and address")
    func secondCoordinatorRefused() throws {
        let directory = try makeTemporaryDirectory()
        let config = try writeConfig(in: directory)
        let (first, endpoint) = try startCoordinator(config, out: "out", in: directory, label: "first")
        let addressFile = directory.appendingPathComponent("out/coordinator.address")
        let second = try DLSweepProcess(
            ["coordinator", config, "--bind", "tcp://127.0.0.1:*", "--out", "out", "--progress", "none"],
            in: directory, label: "second")
        let status = second.wait(seconds: 30)
        #expect(status != nil && status != 0)
        #expect(second.stderr.contains("out is in use by another coordinator (host \(ProcessInfo.processInfo.hostName), pid \(first.pid), address \(endpoint))"),
                "\(second.stderr)")
        #expect(try String(contentsOf: addressFile, encoding: .utf8).contains(endpoint), "the first one's address is intact")
        // The first one still owns the folder and finishes the sweep.
        let w = try worker(endpoint, in: directory, label: "w")
        #expect(first.wait(seconds: 120) == 0, "\(first.stderr.suffix(2000))")
        #expect(w.wait(seconds: 20) == 0)
        #expect(recordedCount(directory.appendingPathComponent("out")) == 24)
    }

    // MARK: 2. A full disk

    /// Whether this process may mount a small tmpfs (root on Linux); the disk-full tests need one.
    static let canMountTmpfs: Bool = {
        guard getuid() == 0 else { return false }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-tmpfs-probe-\(getpid())")
        try? FileManager.default.createDirectory(at: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: probe) }
        guard shell(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe.path]) == 0 else { return false }
        _ = shell(["umount", probe.path])
        return true
    }()

    @discardableResult
    static func shell(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// A small tmpfs mounted at `directory/disk`, unmounted by the returned closure.
    private func mountSmallDisk(in directory: URL) throws -> (URL, () -> Void) {
        let disk = directory.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        try #require(Self.shell(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", disk.path]) == 0)
        return (disk, { Self.shell(["umount", "-l", disk.path]) })
    }

    /// Fills the file system of `disk` with `disk/filler` until it is full.
    private func fill(_ disk: URL) {
        let path = disk.appendingPathComponent("filler").path
        guard let file = fopen(path, "wb") else { return }
        let block = [UInt8](repeating: 0xAB, count: 4096)
        while fwrite(block, 1, block.count, file) == block.count {}
        fclose(file)
    }

    @Test("2. a full disk: results are held in memory while tasks keep flowing, then committed once space is freed",
          .enabled(if: StoreAndLimitsTests.canMountTmpfs, "skipped: needs root to mount a small tmpfs"))
    func diskFullRecovers() async throws {
        let directory = try makeTemporaryDirectory()
        let (disk, unmount) = try mountSmallDisk(in: directory)
        defer { unmount() }
        let config = try writeConfig(in: directory)
        let (coordinator, endpoint) = try startCoordinator(config, out: "disk/out", in: directory)
        fill(disk)
        let w = try worker(endpoint, in: directory, label: "w")
        #expect(DLSweepProcess.eventually(seconds: 60) { coordinator.stderr.contains("cannot commit") },
                "\(coordinator.stderr.suffix(2000))")
        // Every task was computed and is held, though the worker only ever holds two at a time.
        #expect(DLSweepProcess.eventually(seconds: 60) { coordinator.stderr.contains("24 result(s) held in memory") },
                "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("STORE FAILING"), "the progress line tells the operator")
        #expect(coordinator.isRunning)
        try FileManager.default.removeItem(at: disk.appendingPathComponent("filler"))
        #expect(coordinator.wait(seconds: 120) == 0, "\(coordinator.stderr.suffix(3000))")
        #expect(w.wait(seconds: 20) == 0)
        #expect(coordinator.stderr.contains("results store recovered"), "\(coordinator.stderr.suffix(2000))")
        let reference = try await ReferenceTables.shared.table(for: smallSweepYAML)
        #expect(try deterministicTable(disk.appendingPathComponent("out")) == reference)
    }

    @Test("2. a disk that stays full: the coordinator gives up non-zero with the reason; a resume loses nothing",
          .enabled(if: StoreAndLimitsTests.canMountTmpfs, "skipped: needs root to mount a small tmpfs"))
    func diskFullGivesUpThenResumes() async throws {
        let directory = try makeTemporaryDirectory()
        let (disk, unmount) = try mountSmallDisk(in: directory)
        defer { unmount() }
        let config = try writeConfig(in: directory)
        let (first, endpoint) = try startCoordinator(config, out: "disk/out", in: directory,
                                                     extra: ["--store-retry-limit", "2", "--result-buffer", "5"],
                                                     label: "first")
        fill(disk)
        let w = try worker(endpoint, in: directory, label: "w1")
        let status = first.wait(seconds: 60)
        #expect(status != nil && status != 0)
        #expect(first.stderr.contains("the results store kept failing"), "\(first.stderr.suffix(2000))")
        #expect(first.stderr.contains("run the same command again to resume"))
        // The memory budget held: no more than the buffer plus what the worker already had.
        let held = first.stderr.firstMatch(of: /(\d+) result\(s\) were not committed/).flatMap { Int($0.1) }
        #expect(held.map { (5...7).contains($0) } == true, "\(first.stderr.suffix(2000))")
        w.wait(seconds: 30)

        try FileManager.default.removeItem(at: disk.appendingPathComponent("filler"))
        // The first one's address is stale; wait for the second one's.
        try FileManager.default.removeItem(at: disk.appendingPathComponent("out/coordinator.address"))
        let (second, endpoint2) = try startCoordinator(config, out: "disk/out", in: directory, label: "second")
        let w2 = try worker(endpoint2, in: directory, label: "w2")
        #expect(second.wait(seconds: 120) == 0, "\(second.stderr.suffix(3000))")
        #expect(w2.wait(seconds: 20) == 0)
        let reference = try await ReferenceTables.shared.table(for: smallSweepYAML)
        #expect(try deterministicTable(disk.appendingPathComponent("out")) == reference)
    }

    // MARK: 3. The store deleted under a running sweep

    @Test("3. results.sqlite deleted mid-sweep: the coordinator stops non-zero saying so")
    func deletedStore() throws {
        let directory = try makeTemporaryDirectory()
        let config = try writeConfig(in: directory)
        let (coordinator, endpoint) = try startCoordinator(config, out: "out", in: directory)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("out/results.sqlite"))
        let w = try worker(endpoint, in: directory, label: "w")
        let status = coordinator.wait(seconds: 60)
        #expect(status != nil && status != 0)
        #expect(coordinator.stderr.contains("results.sqlite was deleted while the sweep was writing to it"),
                "\(coordinator.stderr.suffix(2000))")
        #expect(!coordinator.stderr.contains("table written"))
        w.wait(seconds: 30)
    }

    // MARK: 4. Input that used to crash

    @Test("4. limits: a clear one-line error, exit status 1, and nothing created in --out", arguments: [
        ("trials: 3", "trials: 1000000000000", "exceed the limit of 1000000000"),
        ("signal_dim: 20", "signal_dim: 100000000", "needs about"),
    ])
    func limitsRefused(original: String, replacement: String, message: String) throws {
        let directory = try makeTemporaryDirectory()
        let config = try writeConfig(smallSweepYAML.replacingOccurrences(of: original, with: replacement), in: directory)
        for command in ["coordinator", "run"] {
            let run = try DLSweepProcess([command, config, "--out", "out", "--progress", "none"], in: directory, label: command)
            #expect(run.wait(seconds: 30) == 1)
            #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(message), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
        }
    }

    @Test("4. a cell too large for the worker's host is recorded as failed with what it needs; the worker survives")
    func cellTooLargeForTheHost() throws {
        let directory = try makeTemporaryDirectory()
        let yaml = """
            name: huge
            problem: {signal_dim: 1000000000, measurements: 10, latent_dim: 2, samples: 12}
            grid: {depth: [1], width: [8]}
            trials: 2
            """
        let config = try writeConfig(yaml, in: directory)
        let run = try DLSweepProcess(["run", config, "--workers", "1", "--out", "out", "--progress", "none",
                                      "--max-cell-memory", "100000"], in: directory, label: "run")
        #expect(run.wait(seconds: 60) == 0, "\(run.stderr.suffix(2000))")
        #expect(run.stderr.contains("failed 2"), "\(run.stderr.suffix(2000))")
        let table = try DLSweepProcess(["table", "out"], in: directory, label: "table")
        #expect(table.wait(seconds: 30) == 0)
        #expect(table.stdout.contains("needs 2608 GiB of memory (depth 1, width 8, signal_dim 1000000000, samples 12); this host has"),
                "\(table.stdout)")
    }

    // MARK: 5. Huge grids

    @Test("5. a 10⁹-task grid of 105k cells: small memory, and SIGTERM stops it at once")
    func hugeGridStopsAtOnce() throws {
        let directory = try makeTemporaryDirectory()
        let widths = (1...1050).map(String.init).joined(separator: ", ")
        let lambdas = (0..<20).map { String(Double($0) / 10) }.joined(separator: ", ")
        let yaml = """
            name: huge-grid
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
            grid:
              depth: [1, 2, 3, 4, 5]
              width: [\(widths)]
              lambda: [\(lambdas)]
            trials: 9500
            """
        let config = try writeConfig(yaml, in: directory)
        let (coordinator, _) = try startCoordinator(config, out: "out", in: directory)
        #expect(DLSweepProcess.eventually(seconds: 30) { coordinator.stderr.contains("997500000 tasks) listening") },
                "\(coordinator.stderr)")
        let status = try String(contentsOfFile: "/proc/\(coordinator.pid)/status", encoding: .utf8)
        let rssLine = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        let kilobytes = Int(rssLine.split(separator: " ").dropFirst().first ?? "") ?? .max
        #expect(kilobytes < 256 * 1024, "coordinator RSS \(kilobytes) kB for 10⁹ tasks")
        coordinator.signal(SIGTERM)
        let exit = coordinator.wait(seconds: 5)
        #expect(exit == 2, "\(coordinator.stderr.suffix(2000))")
        #expect(coordinator.stderr.contains("run the same command again to resume"))
    }

    // MARK: 6. Errors in the user's words

    @Test("6. a secret key readable by others, or a .pub given as --curve-key, is refused before --out is touched")
    func keyFiles() throws {
        let directory = try makeTemporaryDirectory()
        let config = try writeConfig(in: directory)
        let keys = directory.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        for name in ["coordinator", "w"] {
            let generate = try DLSweepProcess(["keys", "generate", "keys/\(name)"], in: directory, label: "keys-\(name)")
            #expect(generate.wait(seconds: 20) == 0)
        }
        let cases: [(setup: () throws -> Void, arguments: [String], message: String)] = [
            ({ chmod(keys.appendingPathComponent("coordinator.key").path, 0o644) },
             ["--curve-key", "keys/coordinator.key", "--authorized-keys", "keys"],
             "keys/coordinator.key: permissions 644 are too open"),
            ({ chmod(keys.appendingPathComponent("coordinator.key").path, 0o600) },
             ["--curve-key", "keys/coordinator.pub", "--authorized-keys", "keys"],
             "keys/coordinator.pub is a public key file; --curve-key takes the secret key"),
        ]
        for (setup, arguments, message) in cases {
            try setup()
            let run = try DLSweepProcess(["coordinator", config, "--out", "out", "--bind", "tcp://127.0.0.1:*"] + arguments,
                                         in: directory, label: "curve")
            #expect(run.wait(seconds: 30) == 1)
            #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(message), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
        }
        let worker = try DLSweepProcess(["worker", "--connect", "tcp://127.0.0.1:9", "--curve-key", "keys/w.key",
                                         "--server-key", "keys/coordinator.key"], in: directory, label: "worker")
        #expect(worker.wait(seconds: 30) == 1)
        #expect(worker.stderr.contains("keys/coordinator.key is a secret key file; --server-key takes a public key"), "\(worker.stderr)")
    }

    @Test("6. CURVE: a wrong server key or an unauthorized key is named on both sides, not 'no coordinator'")
    func refusedHandshakes() throws {
        let directory = try makeTemporaryDirectory()
        let config = try writeConfig(in: directory)
        let keys = directory.appendingPathComponent("keys"), allowed = directory.appendingPathComponent("allowed")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: allowed, withIntermediateDirectories: true)
        for name in ["coordinator", "other", "member", "stranger"] {
            let generate = try DLSweepProcess(["keys", "generate", "keys/\(name)"], in: directory, label: "keys-\(name)")
            #expect(generate.wait(seconds: 20) == 0)
        }
        try FileManager.default.copyItem(at: keys.appendingPathComponent("member.pub"), to: allowed.appendingPathComponent("member.pub"))
        let (coordinator, endpoint) = try startCoordinator(
            config, out: "out", in: directory, extra: ["--curve-key", "keys/coordinator.key", "--authorized-keys", "allowed"])
        let cases = [
            ("wrong-server", ["--curve-key", "keys/member.key", "--server-key", "keys/other.pub"]),
            ("stranger", ["--curve-key", "keys/stranger.key", "--server-key", "keys/coordinator.pub"]),
        ]
        for (label, keyArguments) in cases {
            let worker = try DLSweepProcess(["worker", "--connect", endpoint, "--reconnect-timeout", "3"] + keyArguments,
                                            in: directory, label: label)
            #expect(worker.wait(seconds: 30) == 4, "\(worker.stderr)")
            #expect(worker.stderr.contains("handshake refused (wrong server key or unauthorized client key)"), "\(worker.stderr)")
            #expect(!worker.stderr.contains("no coordinator"), "\(worker.stderr)")
        }
        #expect(coordinator.stderr.contains("refused a worker's handshake: cryptographic error"), "\(coordinator.stderr)")
        #expect(coordinator.stderr.contains("is not authorized"), "\(coordinator.stderr)")
        coordinator.signal(SIGTERM)
        coordinator.wait(seconds: 10)
    }

    @Test("6. bad paths, options and files: one line naming the culprit, non-zero, nothing left behind", arguments: [
        (["coordinator", "sweep.yaml", "--out", "afile/sub"], "afile/sub: cannot create the results directory: afile is a file, not a folder"),
        (["coordinator", "sweep.yaml", "--out", "out", "--bind", "tcp://256.1.1.1:5555"], "256.1.1.1"),
        (["coordinator", "sweep.yaml", "--out", "out", "--heartbeat", "inf"], "--heartbeat must be a positive number of seconds"),
        (["worker", "--connect", "tcp://127.0.0.1:9", "--heartbeat", "inf"], "--heartbeat must be a positive number of seconds"),
        (["train", "--steps", "5", "--depth", "2", "--width", "4", "--save-weights", "afile/sub"],
         "--save-weights afile/sub: cannot create the folder: afile is a file, not a folder"),
        (["train", "--steps", "5", "--init-weights", "gap"],
         "gap: W2.npy is missing; W3.npy is there, so the network has 3 layers and needs W1.npy ... W3.npy"),
        (["train", "--steps", "5", "--depth", "2", "--init-weights", "gap2"], "--depth 2 but --init-weights gap2 holds W1.npy ... W3.npy"),
        (["train", "--steps", "5", "--problem", "widerR"], "R is 20x11: its 11 columns (the latent dimension) must not exceed the 10 measurements"),
    ])
    func plainErrors(arguments: [String], message: String) throws {
        let directory = try makeTemporaryDirectory()
        _ = try writeConfig(in: directory)
        try Data("x".utf8).write(to: directory.appendingPathComponent("afile"))
        let fm = FileManager.default
        for name in ["gap", "gap2", "widerR"] {
            try fm.createDirectory(at: directory.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        var rng = NormalGenerator(seed: 5)
        try NPYFile.write(rng.normalMatrix(rows: 4, columns: 10), to: directory.appendingPathComponent("gap/W1.npy").path)
        try NPYFile.write(rng.normalMatrix(rows: 200, columns: 4), to: directory.appendingPathComponent("gap/W3.npy").path)
        for l in 1...3 {
            try NPYFile.write(rng.normalMatrix(rows: 4, columns: 4), to: directory.appendingPathComponent("gap2/W\(l).npy").path)
        }
        let basis = try LAPACK.orthonormalColumns(rng.normalMatrix(rows: 20, columns: 2))
        try NPYFile.write(rng.normalMatrix(rows: 10, columns: 20), to: directory.appendingPathComponent("widerR/A.npy").path)
        try NPYFile.write(basis * rng.normalMatrix(rows: 2, columns: 8), to: directory.appendingPathComponent("widerR/X.npy").path)
        try NPYFile.write(rng.normalMatrix(rows: 20, columns: 11), to: directory.appendingPathComponent("widerR/R.npy").path)

        let run = try DLSweepProcess(arguments, in: directory, label: "bad")
        let status = run.wait(seconds: 30)
        #expect(status != nil && status != 0)
        let lines = run.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.contains("See '") && !$0.isEmpty }
        #expect(lines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
        #expect(!run.stderr.contains("NSCocoaErrorDomain") && !run.stderr.contains("Error Domain"))
        #expect(!fm.fileExists(atPath: directory.appendingPathComponent("out").path), "nothing written to --out")
    }
}
