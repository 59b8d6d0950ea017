import ArgumentParser
import ZeroMQ

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "CURVE keys for authenticated, encrypted sweeps.",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write NAME.key (secret, mode 0600) and NAME.pub (public), both Z85 text.")

        @Argument(help: "Path prefix of the two files, e.g. keys/coordinator.")
        var name: String

        @Flag(help: "Replace existing files.")
        var force = false

        func run() throws {
            guard CurveKeyPair.isCurveAvailable else {
                throw ValidationError("this libzmq was built without CURVE support")
            }
            try KeyFiles.write(try CurveKeyPair.generate(), name: name, overwrite: force)
            print("wrote \(name).key (keep it secret) and \(name).pub")
        }
    }
}
