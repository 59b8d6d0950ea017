import Foundation
import Testing

/// Every `dlsweep …` command line in README.md's code blocks, run in a scratch folder in the
/// order the README shows them, so that the README cannot drift from the code.
///
/// Long commands run with their config cut down (`cutDowns`); commands that need other hosts or
/// a cluster are skipped by `skipped`, each with its reason and the test that covers it. A
/// command in neither list runs as written. A skip or cut-down entry the README no longer shows
/// fails the test, so neither list can rot.
@Suite struct ReadmeCommandsTests {
    /// Commands that need another host or a cluster, by their exact text in the README.
    static let skipped: [String: String] = [
        "dlsweep coordinator configs/figure1.yaml --bind tcp://*:5555 --out runs/figure1":
            "serves workers on other hosts and waits for them; MultiHostTests runs this layout on network namespaces",
        "dlsweep worker --connect tcp://coordinator-host:5555 --processes auto":
            "a node worker on another host; NodeWorkerTests runs node workers beside per-core workers",
        "dlsweep worker --connect tcp://coordinator-host:5555":
            "connects to another host; MultiHostTests",
        "dlsweep table dlsweep-runs/<jobid>":
            "a Slurm job's folder; SlurmTests runs the Slurm walk-through",
        "dlsweep coordinator CONFIG --bind tcp://*:5555 --curve-key keys/coordinator.key --authorized-keys allowed/":
            "a placeholder config and workers on other hosts; the CURVE tests in HostilePeerTests and SocketTests",
        "dlsweep worker --connect tcp://coordinator-host:5555 --curve-key keys/node1.key --server-key keys/coordinator.pub":
            "connects to another host; the CURVE tests in HostilePeerTests and SocketTests",
    ]

    /// Long commands and what makes them short: extra arguments, and config files copied into
    /// the scratch folder with every grid axis cut to its first value and fewer steps.
    static let cutDowns: [String: (extraArguments: [String], configs: [String])] = [
        "dlsweep run configs/quick.yaml": ([], ["configs/quick.yaml"]),
        "dlsweep run configs/quick.yaml --retry-failed": ([], ["configs/quick.yaml"]),
        // The overrides' sweep, cut down by later overrides of the same keys (the last one wins).
        "dlsweep run configs/quick.yaml grid.lambda=[0,0.01,0.1] trials=16 training.max_steps=100000 --out runs/quick-more": (
            ["grid.lambda=[0.1]", "trials=2", "training.max_steps=2000"], ["configs/quick.yaml"]),
        // A free port instead of 8080 (the later --http wins); LiveViewTests checks what it serves.
        "dlsweep run configs/quick.yaml --http 8080": (["--http", "0"], ["configs/quick.yaml"]),
        // The paper's size with a few hundred steps instead of ~10^5.
        "dlsweep train --depth 5 --width 400 --lambda 0.1 --steps auto --stop-on-success --json": (["--max-steps", "200"], []),
    ]

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The `dlsweep …` commands of the README's code blocks, in order: from the word `dlsweep`
    /// (alone or as the last part of a path, followed by a command or a flag) to the end of the
    /// command (`&`, `;`, `|`, `#`, end of line).
    static func commands(in markdown: String) -> [String] {
        var commands: [String] = []
        var inCode = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCode.toggle(); continue }
            guard inCode else { continue }
            var text = String(line)
            if let comment = text.range(of: #"(^|\s)#.*$"#, options: .regularExpression) { text.removeSubrange(comment) }
            var rest = Substring(text)
            while let found = rest.range(of: #"(^|[\s/])dlsweep [a-z-]"#, options: .regularExpression) {
                let start = rest[found].hasPrefix("dlsweep") ? found.lowerBound : rest.index(after: found.lowerBound)
                var command = rest[start...]
                if let end = command.range(of: #"\s*(&|;|\|).*$"#, options: .regularExpression) {
                    command = command[..<end.lowerBound]
                }
                commands.append(command.trimmingCharacters(in: .whitespaces))
                rest = rest[command.endIndex...]
            }
        }
        return commands
    }

    /// `text` with every `depth`, `width`, `lambda`, `noise` list cut to its first value, two
    /// trials and a 2000-step cap.
    static func cutDown(config text: String) -> String {
        var out = text.replacingOccurrences(of: #"(depth|width|lambda|noise): \[([^,\]]+)[^\]]*\]"#, with: "$1: [$2]",
                                            options: .regularExpression)
        out = out.replacingOccurrences(of: #"(?m)^trials: \d+"#, with: "trials: 2", options: .regularExpression)
        return out.replacingOccurrences(of: #"max_steps: \d+"#, with: "max_steps: 2000", options: .regularExpression)
    }

    /// The backticked file names in the first column of the README's table after `heading`.
    static func filesTable(after heading: String, in markdown: String) -> [String] {
        guard let start = markdown.range(of: heading) else { return [] }
        var files: [String] = []
        var inTable = false
        for line in markdown[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("| file |") { inTable = true; continue }
            guard inTable else { continue }
            guard line.hasPrefix("|") else { break }
            let first = line.split(separator: "|").first ?? ""
            for match in first.matches(of: /`([^`]+)`/) { files.append(String(match.1)) }
        }
        return files
    }

    @Test("the extractor finds commands after paths and prefixes, and stops at &, ; and comments")
    func extractor() {
        let markdown = """
            text dlsweep table not-in-code
            ```sh
            bash setup.sh && swift run dlsweep run a.yaml   # comment dlsweep table x
            for i in 1 2; do dlsweep worker --connect tcp://h:1 & done
            .build/release/dlsweep table dlsweep-runs/1
            cd dlsweep && ls dlsweep-runs
            dlsweep --generate-completion-script bash | tee x
            ```
            """
        #expect(Self.commands(in: markdown) == [
            "dlsweep run a.yaml", "dlsweep worker --connect tcp://h:1", "dlsweep table dlsweep-runs/1",
            "dlsweep --generate-completion-script bash",
        ])
    }

    @Test("every dlsweep command in README.md runs in a scratch folder (cut down or skipped as listed)")
    func readmeCommands() throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let commands = Self.commands(in: readme)
        #expect(commands.count >= 8, "found only \(commands)")
        for listed in Array(Self.skipped.keys) + Array(Self.cutDowns.keys) {
            #expect(commands.contains(listed), "listed for the README test but no longer in README.md: \(listed)")
        }
        let scratch = try makeTemporaryDirectory()
        var ran = 0
        for (index, command) in commands.enumerated() where Self.skipped[command] == nil {
            #expect(!command.contains("<") && !command.contains("$") && !command.contains("\""),
                    "a command with placeholders, variables or quotes needs a skip entry: \(command)")
            var arguments = command.split(separator: " ").dropFirst().map(String.init)
            if let cut = Self.cutDowns[command] {
                arguments += cut.extraArguments
                for config in cut.configs {
                    let text = try String(contentsOf: Self.repository.appendingPathComponent(config), encoding: .utf8)
                    let short = Self.cutDown(config: text)
                    #expect(short != text, "\(config): nothing to cut down")
                    let target = scratch.appendingPathComponent(config)
                    try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try short.write(to: target, atomically: true, encoding: .utf8)
                }
            }
            let process = try DLSweepProcess(arguments, in: scratch, label: "command\(index)")
            let status = process.wait(seconds: 300)
            #expect(status == 0, "README command failed: \(command)\nstderr:\n\(process.stderr.suffix(2000))")
            ran += 1
        }
        #expect(ran >= 4)
        // What the quick sweep leaves, as the README's table lists it.
        let files = Self.filesTable(after: "## The quick sweep", in: readme)
        #expect(files.contains("results.sqlite"), "\(files)")
        for file in files {
            #expect(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("runs/quick/\(file)").path),
                    "README lists runs/quick/\(file), the quick sweep did not write it")
        }
        for key in ["keys/coordinator.key", "keys/coordinator.pub", "keys/node1.key", "keys/node1.pub"] {
            #expect(FileManager.default.fileExists(atPath: scratch.appendingPathComponent(key).path), "\(key)")
        }
    }
}
