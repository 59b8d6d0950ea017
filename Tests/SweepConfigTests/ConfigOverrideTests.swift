import Foundation
import SweepConfig
import Testing

/// Command-line overrides (`KEY.PATH=VALUE`, Hydra's syntax): applied to the file's tree,
/// validated as a file is, recorded in the stored text; errors name the override.
@Suite struct ConfigOverrideTests {
    static let file = """
        name: base
        seed: 3
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
        grid:
          depth: [2, 3]
          lambda: [0.0, 0.1]
        trials: 4
        training: {steps: 500, eta_scale: 0.5}
        """

    static func parse(_ overrides: [String]) throws -> SweepConfiguration {
        try SweepConfiguration.parse(yaml: file, fileName: "base.yaml", overrides: overrides.map(ConfigOverride.init))
    }

    @Test("overrides give the config the edited file gives: same values, same fingerprint; the stored text names them")
    func sameAsEditingTheFile() throws {
        let overridden = try Self.parse(["grid.lambda=[0,0.01,0.1]", "trials=16", "training.max_steps=100000", "training.steps=auto",
                                         "+grid.width=[8]", "~training.eta_scale"])
        let edited = try SweepConfiguration.parse(yaml: """
            name: base
            seed: 3
            problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}
            grid:
              depth: [2, 3]
              lambda: [0, 0.01, 0.1]
              width: [8]
            trials: 16
            training: {steps: auto, max_steps: 100000}
            """, fileName: "edited.yaml")
        #expect(overridden.axis("lambda")?.values.compactMap(\.number) == [0, 0.01, 0.1])
        #expect(overridden.trials == 16 && overridden.training.maxSteps == 100000)
        #expect(overridden.fingerprint == edited.fingerprint)
        #expect(overridden.fingerprint != (try SweepConfiguration.parse(yaml: Self.file, fileName: "base.yaml")).fingerprint)
        #expect(overridden.overrides == ["grid.lambda=[0,0.01,0.1]", "trials=16", "training.max_steps=100000", "training.steps=auto",
                                         "+grid.width=[8]", "~training.eta_scale"])
        // The stored text parses back to the same sweep and names its overrides.
        let stored = try SweepConfiguration.parse(yaml: overridden.yamlText, fileName: "results.sqlite")
        #expect(stored.fingerprint == overridden.fingerprint && stored.overrides == overridden.overrides)
        #expect(ConfigOverride.recorded(in: Self.file).isEmpty)
        // A later override of the same key wins.
        #expect(try Self.parse(["trials=2", "trials=5"]).trials == 5)
    }

    @Test("a bad override is an error naming it: unknown key, bad value, bad syntax, not a section")
    func errorsNameTheOverride() throws {
        for (override, expected) in [
            ("grid.colour=[1,2]", "base.yaml: override 'grid.colour=[1,2]': grid.colour: unknown key"),
            ("trainig.max_steps=5", "base.yaml: override 'trainig.max_steps=5': trainig: unknown key"),
            ("grid.lambda=[0,-1]", "base.yaml: override 'grid.lambda=[0,-1]': grid.lambda[1]: expected a list of non-negative numbers"),
            ("trials=0", "base.yaml: override 'trials=0': trials: expected a positive integer"),
            ("trials", "override 'trials': expected KEY=VALUE"),
            ("trials=", "override 'trials=': no value after '='"),
            ("grid.depth.x=1", "override 'grid.depth.x=1': grid.depth is not a section of keys"),
            ("a..b=1", "override 'a..b=1': 'a..b' is not a key path"),
        ] {
            #expect {
                try Self.parse([override])
            } throws: { error in
                "\(error)".hasPrefix(expected) && !"\(error)".contains("\n")
            }
        }
        // The file's own mistake keeps its line, whatever the overrides.
        #expect {
            try SweepConfiguration.parse(yaml: Self.file + "\ncolour: red\n", fileName: "base.yaml", overrides: [ConfigOverride("trials=2")])
        } throws: { error in
            "\(error)".hasPrefix("base.yaml:9: colour: unknown key")
        }
    }
}
