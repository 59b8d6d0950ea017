import Foundation

/// One coordinator per results folder: an exclusive `flock` on `DIR/coordinator.lock`, held
/// for the owner's life and released by the kernel when the process ends (even by SIGKILL),
/// so a stale lock never needs cleaning up. The file names the holder (host, pid, address)
/// for the refusal message of a second coordinator.
///
/// On NFS, Linux turns `flock` into a POSIX lock of the NFS lock manager (NLM for v3, the
/// protocol itself for v4): it excludes coordinators on different hosts as long as the mount
/// has locking (not `-o nolock`/`local_lock=all`). See docs/RESULTS-FOLDER.md.
public final class FolderLock: Sendable {
    public static let fileName = "coordinator.lock"

    /// Who holds (or last held) a folder, as its lock file says.
    public struct Holder: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var pid: Int
        public var address: String?

        public var description: String {
            "host \(host), pid \(pid), address \(address ?? "not yet bound")"
        }
    }

    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        // Closing the last descriptor releases the lock; the file stays (deleting it would
        // let a newcomer lock a fresh inode while an old owner still holds the first).
        close(descriptor)
    }

    /// Seconds a coordinator tries again before it takes the lock for held: `dlsweep status`
    /// probes the lock by taking it for an instant (`holder(directory:)`), and a coordinator
    /// starting at that instant must not be refused for it.
    public static let patience = 0.5

    /// Takes the lock of `directory` (which must exist) or throws `folderInUse` naming the holder.
    public static func acquire(directory: String) throws -> FolderLock {
        let path = (directory as NSString).appendingPathComponent(fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ResultsStoreError.cannotLock(path: path, reason: String(cString: strerror(errno)))
        }
        if let error = tryLock(fd, path: path, directory: directory, patience: patience) {
            close(fd)
            throw error
        }
        let lock = FolderLock(path: path, descriptor: fd)
        lock.write(Holder(host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), address: nil))
        return lock
    }

    /// Throws `folderInUse` when another process holds the lock of `directory`; creates nothing
    /// (for checking before anything is written to the folder).
    public static func checkFree(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(fileName)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }  // no lock file: nobody holds it
        defer { close(fd) }
        if let error = tryLock(fd, path: path, directory: directory, patience: patience) { throw error }
        // Got it: the descriptor's close releases it at once.
    }

    /// The coordinator holding the lock of `directory` now, or nil when none does: a probe
    /// that takes the lock for an instant if it is free (coordinators starting then wait it out,
    /// see `patience`) and creates nothing.
    public static func holder(directory: String) -> Holder? {
        let path = (directory as NSString).appendingPathComponent(fileName)
        // Read-write where it can: NFS turns flock into a POSIX lock, whose exclusive form needs it.
        var fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 { fd = open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if case .folderInUse(_, let holder)? = tryLock(fd, path: path, directory: directory, patience: 0) { return holder }
        return nil
    }

    /// Records the address the owner listens on, for the message a second coordinator gets.
    public func note(address: String) {
        write(Holder(host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), address: address))
    }

    private static func tryLock(_ fd: Int32, path: String, directory: String, patience: Double) -> ResultsStoreError? {
        let deadline = Date().addingTimeInterval(patience)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK, Date() < deadline {
                usleep(20_000)
                continue
            }
            if code == EWOULDBLOCK {
                var holder = readHolder(path) ?? Holder(host: "unknown", pid: 0, address: nil)
                if holder.address == nil {
                    // An owner that has not noted its address yet may have written the address file.
                    let file = (directory as NSString).appendingPathComponent("coordinator.address")
                    holder.address = (try? String(contentsOfFile: file, encoding: .utf8))?
                        .trimmingCharacters(in: .whitespacesAndNewlines).nilIfEmpty
                }
                return .folderInUse(directory: directory, holder: holder)
            }
            return .cannotLock(path: path, reason: String(cString: strerror(code)))
        }
        return nil
    }

    private func write(_ holder: Holder) {
        let text = "host=\(holder.host)\npid=\(holder.pid)\naddress=\(holder.address ?? "")\n"
        let bytes = Array(text.utf8)
        // Best effort: the lock itself is what excludes; the text only explains.
        _ = ftruncate(descriptor, 0)
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// The holder the lock file names; nil when it says nothing readable.
    public static func readHolder(_ path: String) -> Holder? {
        guard let data = FileManager.default.contents(atPath: path), data.count < 4096 else { return nil }
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard let host = fields["host"], let pid = fields["pid"].flatMap({ Int($0) }) else { return nil }
        let address = fields["address"].flatMap { $0.isEmpty ? nil : $0 }
        return Holder(host: host, pid: pid, address: address)
    }
}

/// What kind of file system a path lives on, for the warnings shared file systems deserve.
public enum FileSystemKind: Sendable, Equatable {
    case local
    /// NFS, CIFS/SMB, Lustre, GPFS, BeeGFS, sshfs: other hosts may open the folder too.
    case network(type: String)

    static let networkTypes = ["nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "fuse.sshfs",
                               "ceph", "fuse.ceph", "glusterfs", "fuse.glusterfs", "9p", "afs"]

    /// The kind of the file system holding `path` (an existing file or folder), from the
    /// longest mount point in /proc/self/mounts that contains it.
    public static func of(_ path: String) -> FileSystemKind {
        guard let resolved = realpath(path, nil) else { return .local }
        let full = String(cString: resolved)
        free(resolved)
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return .local }
        return of(full, mounts: mounts)
    }

    /// `path` (absolute, resolved) against the text of a mounts table.
    public static func of(_ path: String, mounts: String) -> FileSystemKind {
        var best = (length: -1, type: "")
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            // Spaces in mount points are written as \040.
            let point = fields[1].replacingOccurrences(of: "\\040", with: " ")
            let contains = point == "/" || path == point || path.hasPrefix(point + "/")
            if contains && point.count >= best.length { best = (point.count, String(fields[2])) }
        }
        return networkTypes.contains(best.type) ? .network(type: best.type) : .local
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
