import ArgumentParser

/// The `dlsweep` command: each subcommand lives in its own file and only wires modules together.
@main
struct DLSweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlsweep",
        abstract: "Hyperparameter sweeps of deep linear networks on linear inverse problems.",
        subcommands: [
            RunCommand.self, CoordinatorCommand.self, WorkerCommand.self, KeysCommand.self, TableCommand.self, ReportCommand.self, TrainCommand.self, BenchCommand.self, FieldsCommand.self,
            ComputeProcessCommand.self,
            // Operating a sweep: its runs, where it stands.
            RunsCommand.self, StatusCommand.self,
        ])
}
