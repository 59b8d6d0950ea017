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

    /// Reads a secret key file and derives its public key.
    static func readPair(_ secretPath: String) throws -> CurveKeyPair {
        let secret = try readKey(secretPath)
        do {
            return try CurveKeyPair(secretKey: secret)
        } catch {
            throw KeyFileError(description: "\(secretPath): \(error)")
        }
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
