import Foundation
import ZeroMQ

/// CURVE key files as `dlsweep keys generate` writes them: `NAME.key` holds the Z85 secret
/// key (mode 0600), `NAME.pub` the Z85 public key, each on one line.
enum KeyFiles {
    struct KeyFileError: Error, CustomStringConvertible {
        let description: String
    }

    static func write(_ pair: CurveKeyPair, name: String, overwrite: Bool) throws {
        let secretPath = name + ".key", publicPath = name + ".pub"
        let manager = FileManager.default
        if !overwrite {
            for path in [secretPath, publicPath] where manager.fileExists(atPath: path) {
                throw KeyFileError(description: "\(path) exists; pass --force to replace it")
            }
        }
        // `keys generate keys/node1` on a fresh checkout: make the folder, closed to others.
        let folder = (secretPath as NSString).deletingLastPathComponent
        if !folder.isEmpty && !manager.fileExists(atPath: folder) {
            do {
                try manager.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o700])
            } catch {
                throw KeyFileError(description: "\(folder): cannot create the keys folder: \(error.localizedDescription)")
            }
        }
        guard manager.createFile(
            atPath: secretPath, contents: Data((pair.secretKey + "\n").utf8),
            attributes: [.posixPermissions: 0o600])
        else { throw KeyFileError(description: "\(secretPath): cannot write the secret key") }
        try Data((pair.publicKey + "\n").utf8).write(to: URL(fileURLWithPath: publicPath))
    }

    /// Reads one Z85 key (40 characters) from a file.
    static func readKey(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyFileError(description: "\(path): cannot read the key file")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard Z85.isValidKey(text) else {
            throw KeyFileError(description: "\(path): not a CURVE key (expected 40 Z85 characters)")
        }
        return text
    }

    /// Reads a secret key file and derives its public key. Like ssh, refuses a key that group
    /// or others may read, and a `.pub` file given where the secret key belongs (its text is
    /// a valid key too, so it would otherwise be used and every handshake would fail).
    static func readPair(_ secretPath: String, option: String = "--curve-key") throws -> CurveKeyPair {
        if secretPath.hasSuffix(".pub") {
            throw KeyFileError(description: "\(secretPath) is a public key file; \(option) takes the secret key (NAME.key from `dlsweep keys generate`)")
        }
        var info = stat()
        if stat(secretPath, &info) == 0 {
            let mode = info.st_mode & 0o777
            if mode & 0o077 != 0 {
                throw KeyFileError(description: "\(secretPath): permissions \(String(mode, radix: 8)) are too open: others can read this secret key; run chmod 600 \(secretPath)")
            }
        }
        let secret = try readKey(secretPath)
        do {
            return try CurveKeyPair(secretKey: secret)
        } catch {
            throw KeyFileError(description: "\(secretPath): \(error)")
        }
    }

    /// Reads a public key file (the coordinator's, for a worker's `--server-key`).
    static func readPublicKey(_ path: String, option: String = "--server-key") throws -> String {
        if path.hasSuffix(".key") {
            throw KeyFileError(description: "\(path) is a secret key file; \(option) takes a public key (NAME.pub); never copy a secret key to other hosts")
        }
        return try readKey(path)
    }

    /// Every `*.pub` key in a folder: the workers allowed in.
    static func readAuthorizedKeys(_ directory: String) throws -> Set<String> {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw KeyFileError(description: "\(directory): cannot list the authorized keys folder")
        }
        let keys = try names.filter { $0.hasSuffix(".pub") }.sorted().map {
            try readKey((directory as NSString).appendingPathComponent($0))
        }
        guard !keys.isEmpty else {
            throw KeyFileError(description: "\(directory): no *.pub key files; no worker could join")
        }
        return Set(keys)
    }
}
