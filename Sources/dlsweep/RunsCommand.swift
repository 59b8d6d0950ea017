public import ArgumentParser
import Foundation
import ResultsStore
public import SweepTable

/// `dlsweep runs DIR`: every run of a sweep, one line each, streamed from the store.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Export every run of a sweep (parameters, seeds, every metric), one line each, as CSV or JSON Lines.",
        discussion: """
            The rows are written as they are read, so a store of any size exports in constant memory.
            Works on a running sweep too (what is committed so far).
            """)

    @Argument(help: "The results directory of a sweep (the --out of `dlsweep run` or `dlsweep coordinator`).")
    var directory: String

    @Option(help: "csv (a header, then one line per run) or jsonl (one JSON object per line).")
    var format: RunsExport.Format = .csv

    @Option(name: .customLong("where"), help: ArgumentHelp(
        "Only the runs whose axis or column KEY equals VALUE, e.g. depth=5; repeat to require several.",
        valueName: "KEY=VALUE"))
    var filters: [String] = []

    @Flag(help: "Add each sampled run's stored trajectory (a JSON object of columns: step, loss, …).")
    var trajectories = false

    @Option(name: [.customShort("o"), .long], help: "Write to this file instead of standard output.")
    var output: String?

    func run() throws {
        let filters = try filters.map { text in
            guard let filter = RowFilter(text) else { throw CommandError("--where \(text): expected KEY=VALUE, e.g. depth=5") }
            return filter
        }
        let (store, _) = try openStoredSweep(directory)
        // Checked before anything is written (or an output file created).
        try store.validate(filters)
        let sink = try OutputStream(path: output)
        let count = try RunsExport.export(store, filters: filters, format: format, trajectories: trajectories) {
            sink.write($0)
        }
        try sink.close()
        if let output { printError("wrote \(count) run(s) to \(output)") }
    }
}

extension RunsExport.Format: ExpressibleByArgument {}

/// Text out to a file or standard output through a 64 KiB buffer.
final class OutputStream {
    private let handle: FileHandle
    private let path: String?
    private var buffer: [UInt8] = []

    init(path: String?) throws {
        self.path = path
        guard let path else {
            handle = FileHandle.standardOutput
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw CommandError("\(path): cannot create the output file")
        }
        self.handle = handle
        buffer.reserveCapacity(1 << 16)
    }

    func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    private func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        flush()
        if path != nil { try handle.close() }
    }
}

/// A bad argument found while running, said in one line (a `ValidationError` adds the usage).
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
