import Foundation
import Testing

/// `dlsweep --generate-completion-script` (swift-argument-parser's) as
/// `scripts/install-shell-files.sh` installs it: the files land under the prefix, and bash's
/// completion of the installed script completes the new commands, flags and values.
@Suite struct ShellFilesTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `script` with bash; its standard output.
    static func bash(_ script: String, in directory: URL) throws -> (status: Int32, output: String) {
        let file = directory.appendingPathComponent("script-\(UUID().uuidString).sh")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("\(file.lastPathComponent).out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [file.path]
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8))
    }

    @Test("install-shell-files.sh writes the bash, zsh and fish completions; bash completes commands, flags and values")
    func completions() throws {
        let directory = try makeTemporaryDirectory()
        let prefix = directory.appendingPathComponent("prefix")
        let install = try Self.bash("""
            bash '\(Self.repository.appendingPathComponent("scripts/install-shell-files.sh").path)' --prefix '\(prefix.path)' --binary '\(DLSweepProcess.binary.path)' --no-man
            """, in: directory)
        #expect(install.status == 0)
        let bashFile = prefix.appendingPathComponent("share/bash-completion/completions/dlsweep")
        for file in [bashFile.path, prefix.appendingPathComponent("share/zsh/site-functions/_dlsweep").path,
                     prefix.appendingPathComponent("share/fish/vendor_completions.d/dlsweep.fish").path] {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(text.contains("status") && text.contains("runs") && text.contains("retry-failed"), "\(file)")
        }
        // bash calls a completion function with the command, the word being completed and the one before.
        let completed = try Self.bash("""
            shopt -s extglob
            source '\(bashFile.path)'
            complete_line() {
                COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
                read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=("")
                COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
                _dlsweep dlsweep "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                echo "$1 => ${COMPREPLY[*]}"
            }
            complete_line "dlsweep st"
            complete_line "dlsweep runs --"
            complete_line "dlsweep runs out --format "
            complete_line "dlsweep status --"
            complete_line "dlsweep run configs/quick.yaml --retry"
            """, in: directory)
        #expect(completed.status == 0)
        let lines = Dictionary(uniqueKeysWithValues: completed.output.split(separator: "\n").compactMap { line -> (String, Set<String>)? in
            let parts = line.components(separatedBy: " => ")
            guard parts.count == 2 else { return nil }
            return (parts[0], Set(parts[1].split(separator: " ").map(String.init)))
        })
        #expect(lines["dlsweep st"] == ["status"], "\(completed.output)")
        #expect(lines["dlsweep runs --"]?.isSuperset(of: ["--where", "--format", "--trajectories", "--output"]) == true, "\(completed.output)")
        #expect(lines["dlsweep runs out --format "] == ["csv", "jsonl"], "\(completed.output)")
        #expect(lines["dlsweep status --"]?.contains("--json") == true, "\(completed.output)")
        #expect(lines["dlsweep run configs/quick.yaml --retry"] == ["--retry-failed"], "\(completed.output)")
    }
}
