import Foundation
import Synchronization

/// `DIR/status.json`: what the coordinator owning a folder knows and the store does not —
/// connected workers per host, rates, refused answers, where it listens — rewritten every few
/// seconds (atomically: a reader never sees half a file) and once more when it stops, so
/// `dlsweep status DIR` can tell where a sweep stands from the folder alone.
public struct FolderStatus: Codable, Sendable, Equatable {
    public static let fileName = "status.json"

    /// The coordinator's figures at `status.updatedAt`.
    public var status: SweepStatus
    /// The ZeroMQ endpoint workers connect to.
    public var endpoint: String
    /// The live view's address (`--http`), if it serves one.
    public var http: String?
    public var host: String
    public var pid: Int

    public init(status: SweepStatus, endpoint: String, http: String?, host: String, pid: Int) {
        self.status = status
        self.endpoint = endpoint
        self.http = http
        self.host = host
        self.pid = pid
    }

    /// The file in `directory`, or nil when there is none or it does not read as one.
    public static func read(directory: String) -> FolderStatus? {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path), data.count < 1 << 24 else { return nil }
        return try? JSONDecoder().decode(FolderStatus.self, from: data)
    }
}

/// Writes `FolderStatus` from a coordinator's `StatusBoard` every `interval` seconds on a
/// thread of its own, until `stop()`, which writes the last figures (complete or stopped).
public final class StatusFileWriter: Sendable {
    private let board: StatusBoard
    private let path: String
    private let template: @Sendable (SweepStatus) -> FolderStatus
    private let stopped = Mutex(false)
    private let done = DispatchSemaphore(value: 0)

    public init(board: StatusBoard, directory: String, endpoint: String, http: String?, interval: Double = 2) {
        self.board = board
        path = (directory as NSString).appendingPathComponent(FolderStatus.fileName)
        let host = ProcessInfo.processInfo.hostName, pid = Int(getpid())
        template = { FolderStatus(status: $0, endpoint: endpoint, http: http, host: host, pid: pid) }
        let thread = Thread { [self] in
            while !stopped.withLock({ $0 }) {
                write()
                var waited = 0.0
                while waited < interval, !stopped.withLock({ $0 }) {
                    usleep(50_000)
                    waited += 0.05
                }
            }
            done.signal()
        }
        thread.name = "dlsweep-status-file"
        thread.start()
    }

    /// Stops the thread and writes the board's last figures.
    public func stop() {
        guard !stopped.withLock({ flag in defer { flag = true }; return flag }) else { return }
        done.wait()
        write()
    }

    private func write() {
        guard let status = board.status else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(template(status)) else { return }
        // Best effort: a full disk must not stop the sweep over a status file.
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
