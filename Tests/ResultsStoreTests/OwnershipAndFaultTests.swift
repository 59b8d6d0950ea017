import Foundation
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

/// One owner per results folder, a store that notices its file going away, and the bitmap
/// that tracks finished tasks (issue 11, items 1, 3 and 5).
@Suite struct OwnershipAndFaultTests {
    @Test("a second store on a folder is refused, naming the first one's host, pid and address")
    func secondOwnerRefused() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        do {
            let first = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
            first.lock?.note(address: "tcp://127.0.0.1:5999")
            #expect {
                try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
            } throws: { error in
                guard case let ResultsStoreError.folderInUse(dir, holder) = error else { return false }
                return dir == directory && holder.pid == Int(getpid())
                    && holder.host == ProcessInfo.processInfo.hostName && holder.address == "tcp://127.0.0.1:5999"
                    && "\(error)".contains("in use by another coordinator")
            }
            #expect(throws: ResultsStoreError.self) { try FolderLock.checkFree(directory: directory) }
            withExtendedLifetime(first) {}
        }
        // The first owner gone, the folder is free again (the kernel drops the lock on close).
        try FolderLock.checkFree(directory: directory)
        let again = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        #expect(again.lock != nil)
    }

    @Test("checking a folder that does not exist creates nothing")
    func checkFreeWritesNothing() throws {
        let directory = temporaryDirectory()
        try FolderLock.checkFree(directory: directory)
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test("network file systems are recognized from the mount table")
    func networkFileSystems() {
        let mounts = """
            /dev/sda1 / ext4 rw,relatime 0 0
            server:/export/home /home nfs4 rw,relatime,vers=4.2 0 0
            server:/scratch /home/me/scratch\\040space lustre rw 0 0
            tmpfs /home/me/tmp tmpfs rw 0 0
            """
        #expect(FileSystemKind.of("/var/runs", mounts: mounts) == .local)
        #expect(FileSystemKind.of("/home/me/runs", mounts: mounts) == .network(type: "nfs4"))
        #expect(FileSystemKind.of("/home/me/scratch space/x", mounts: mounts) == .network(type: "lustre"))
        #expect(FileSystemKind.of("/home/me/tmp/x", mounts: mounts) == .local)
        #expect(FileSystemKind.of("/homework", mounts: mounts) == .local)
    }

    @Test("a deleted results.sqlite is noticed at the next commit, not written into the void")
    func deletedFile() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        try store.record(outcome(plan, 0, result: .report(report(seed: 1))))
        try FileManager.default.removeItem(atPath: store.path)
        #expect(throws: ResultsStoreError.fileDeleted(path: store.path)) {
            try store.record(outcome(plan, 1, result: .report(report(seed: 2))))
        }
        #expect(!ResultsStoreError.fileDeleted(path: store.path).isRetryable)
    }

    @Test("a results.sqlite replaced by another file is noticed")
    func replacedFile() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        let other = directory + "/other.sqlite"
        try FileManager.default.copyItem(atPath: store.path, toPath: other)
        #expect(rename(other, store.path) == 0)
        #expect(throws: ResultsStoreError.fileReplaced(path: store.path)) { try store.checkFile() }
    }

    @Test("a results folder path through a file says which part is a file")
    func folderThroughAFile() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: base + "/afile"))
        #expect {
            try ResultsStore.createDirectory(base + "/afile/sub")
        } throws: { error in
            "\(error)" == "\(base)/afile/sub: cannot create the results directory: \(base)/afile is a file, not a folder"
        }
    }

    @Test("the done bitmap: set, clear, count and the next unfinished task across words")
    func bitmap() {
        var bits = TaskBitmap(count: 200)
        #expect(bits.firstClear(from: 0) == 0)
        for i in 0..<130 { bits[i] = true }
        bits[5] = true  // setting twice counts once
        #expect(bits.setCount == 130)
        #expect(bits.firstClear(from: 0) == 130)
        bits[64] = false
        #expect(bits.firstClear(from: 0) == 64)
        #expect(bits.firstClear(from: 65) == 130)
        for i in 130..<200 { bits[i] = true }
        #expect(bits.firstClear(from: 65) == nil)
        #expect(bits.setCount == 199)
        #expect(!bits[-1] && !bits[200])
        bits[1_000] = true  // out of range: ignored
        #expect(bits.setCount == 199)
        #expect(TaskBitmap(count: 0).firstClear(from: 0) == nil)
    }

    @Test("loading the finished tasks of a large store stops when asked (a SIGTERM during startup)")
    func cancellableLoad() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let yaml = sweepYAML.replacingOccurrences(of: "trials: 2", with: "trials: 20000")
        let (configuration, plan) = try makePlan(yaml)
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        let failed = RecordedResult.failed(reason: "x")
        for start in stride(from: 0, to: 70_000, by: 10_000) {
            try store.record((start..<(start + 10_000)).map { outcome(plan, $0, result: failed) })
        }
        #expect(throws: CancellationError.self) { try store.completedTasks(isCancelled: { true }) }
        #expect(try store.completedTasks(isCancelled: { false }).setCount == 70_000)
    }

    @Test("completed tasks come back as a bitmap; the table is summarized in one pass with empty cells in place")
    func bitmapAndOnePassSummary() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        let ids = [1, 4, 5, 7]
        for id in ids { try store.record(outcome(plan, id, result: .report(report(seed: id)))) }
        let done = try store.completedTasks()
        #expect(done.setIndices == ids)
        #expect(done.count == plan.taskCount)
        var order: [Int] = []
        try store.forEachRowByCell { order.append($0.taskID) }
        #expect(order == ids)
    }
}
