import Foundation
import ResultsStore
import Synchronization
import Testing

/// `FolderLock.holder` (what `dlsweep status` asks) and the patience that keeps a coordinator
/// starting during such a probe from being refused.
@Suite struct FolderLockProbeTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dlsweep-lockprobe-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("the probe names the holder, and nobody once it is gone; it creates no lock file")
    func probe() throws {
        let directory = try Self.folder()
        #expect(FolderLock.holder(directory: directory) == nil)
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + FolderLock.fileName))
        var lock: FolderLock? = try FolderLock.acquire(directory: directory)
        lock?.note(address: "tcp://127.0.0.1:5555")
        let holder = try #require(FolderLock.holder(directory: directory))
        #expect(holder.pid == Int(getpid()) && holder.address == "tcp://127.0.0.1:5555")
        lock = nil
        #expect(FolderLock.holder(directory: directory) == nil)
    }

    @Test("a lock held for a moment (a probe) is waited out; one held past the patience is refused, naming its holder")
    func patience() throws {
        let directory = try Self.folder()
        // Held for a tenth of a second, like a probe: the next owner gets it.
        let brief = Mutex<FolderLock?>(try FolderLock.acquire(directory: directory))
        let release = Thread { usleep(100_000); brief.withLock { $0 = nil } }
        release.start()
        let next = try FolderLock.acquire(directory: directory)
        // Held for good: refused after the patience.
        let started = Date()
        #expect {
            try FolderLock.acquire(directory: directory)
        } throws: { error in
            guard case ResultsStoreError.folderInUse(_, let holder) = error else { return false }
            return holder.pid == Int(getpid())
        }
        #expect(Date().timeIntervalSince(started) >= FolderLock.patience * 0.9)
        withExtendedLifetime(next) {}
    }
}
