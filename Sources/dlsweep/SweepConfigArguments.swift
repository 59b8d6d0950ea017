import ArgumentParser
import ResultsStore
import SweepConfig

/// The sweep a command serves: its config file and the overrides applied to it, shared by
/// `coordinator` and `run` so that both read a config the same way.
struct SweepConfigArguments: ParsableArguments {
    @Argument(help: "The sweep config (YAML), e.g. configs/quick.yaml.")
    var config: String

    @Argument(help: ArgumentHelp(
        "Changes to the config, Hydra-style: KEY.PATH=VALUE (VALUE in YAML, e.g. trials=16 grid.lambda=[0,0.01,0.1] training.max_steps=100000) or ~KEY.PATH to remove one.",
        valueName: "override"))
    var overrides: [String] = []

    /// The config with its overrides applied, validated as one file. A config an older version
    /// started a sweep from may set keys its model does not use (a width for the diagonal
    /// model), which that version ignored and which are errors now: when the results folder
    /// (`out`, or runs/NAME) holds that sweep, fingerprint and all, it resumes with the config
    /// read as that version read it, each such key named on standard error.
    func load(out: String?) throws -> SweepConfiguration {
        let overrides = try overrides.map(ConfigOverride.init)
        do {
            return try SweepConfiguration.load(path: config, overrides: overrides)
        } catch let error as ConfigError {
            guard let stored = try? SweepConfiguration.load(path: config, overrides: overrides, storedSweep: true),
                  !stored.ignoredSettings.isEmpty,
                  let (store, _) = try? ResultsStore.openExisting(directory: out ?? "runs/\(stored.name)"),
                  store.meta.fingerprint == stored.fingerprint
            else { throw error }
            noteIgnoredSettings(stored)
            return stored
        }
    }
}
