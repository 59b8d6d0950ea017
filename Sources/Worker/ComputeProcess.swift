import Foundation
import SweepProtocol
public import TrainingCore

/// The compute process of a node worker (`dlsweep compute-process`): reads tasks from its
/// node worker over a pipe and answers each, one at a time, single-threaded. It knows nothing
/// of the coordinator; if it dies (SIGKILL, out of memory) the node worker runs its task again.
public enum ComputeProcess {
    /// Serves until `input` ends. Exits at once (without finishing a run) when the node worker
    /// goes away: a run nobody will read is wasted work on a shared node.
    public static func serve(input: Int32, output: Int32,
                             compute: @escaping @Sendable (RunSpec) throws -> RunReport = runExperiment) -> Int32 {
        let watchdog = Thread {
            // Asking for no event still reports POLLHUP: every writer of `input` has closed it.
            var entry = pollfd(fd: input, events: 0, revents: 0)
            while poll(&entry, 1, -1) < 0 && errno == EINTR {}
            _exit(0)
        }
        watchdog.name = "dlsweep-watchdog"
        watchdog.start()
        do {
            while let frame = try PipeFrames.read(from: input) {
                guard case .task(let task) = try Message.decode(frame) else {
                    FileHandle.standardError.write(Data("compute process: expected a task from the node worker\n".utf8))
                    return 2
                }
                try PipeFrames.write(try TaskAnswer.frame(for: task, compute: compute), to: output)
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("compute process: \(error)\n".utf8))
            return 2
        }
    }
}
