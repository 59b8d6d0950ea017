import ArgumentParser
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

    /// The config with its overrides applied, validated as one file.
    func load() throws -> SweepConfiguration {
        try SweepConfiguration.load(path: config, overrides: try overrides.map(ConfigOverride.init))
    }
}
