import Foundation
import SweepConfig
import Testing

/// The fingerprint of every config in configs/ and of configs that set each optimizer's and
/// model's own keys, pinned to the values computed before the spec became a typed tree: a
/// fingerprint that moves makes every stored sweep "another sweep" to its coordinator.
@Suite struct FingerprintPinTests {
    static let configs: [(String, String)] = [
        ("diagonal.yaml", "26f2b081e3563a3b"),
        ("figure1.yaml", "54ee50991e92506f"),
        ("flow.yaml", "129a10b34e52fc1d"),
        ("inertial.yaml", "5175bab6b8d83166"),
        ("overhead.yaml", "285df06352f144ff"),
        ("phase-adaptive.yaml", "d768ea20344605ae"),
        ("phase.yaml", "8acf31b160e41cd9"),
        ("quick.yaml", "15fd58bc384fa681"),
    ]

    @Test("every config in configs/ keeps its fingerprint", arguments: configs)
    func repositoryConfig(_ pin: (String, String)) throws {
        let config = try SweepConfiguration.load(path: configsDirectory.appendingPathComponent(pin.0).path)
        #expect(config.fingerprint == pin.1)
    }

    @Test func everyConfigInTheFolderIsPinned() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: configsDirectory.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(files) == Set(Self.configs.map(\.0)))
    }

    /// Settings the configs/ folder does not reach: each optimizer's own keys, the step rule,
    /// the synthetic and diagonal models, a fixed eta, a trajectory, and an optimizer axis whose
    /// first (base) value ignores a swept damping.
    static let settings: [(String, String)] = [
        ("training: {optimizer: heavy-ball, alpha: 0.5, step_rule: adaptive, eta: 0.01, log_every: 10}", "13416d557f20d1b8"),
        ("training: {optimizer: inertial, alpha: 2, beta: 0.25, budget_factor: 3, lambda_per_layer: true}", "91af23bda35991f8"),
        ("training: {optimizer: flow, flow_rtol: 1.0e-6, mean_data_term: true, check_every: 5}", "4ee8f575691ed94d"),
        ("training: {optimizer: flow, flow_atol: 1.0e-7, flow_time: 12.5, steps: auto}", "7067f0676c50560e"),
        ("grid:\n  optimizer: [gd, heavy-ball, inertial]\n  alpha: [0.5, 1]\ntraining: {beta: 0.1}", "684ed3a13e3059cf"),
        ("grid:\n  optimizer: [inertial, gd]\n  step_rule: [fixed, adaptive]\ntraining: {alpha: 0.5, beta: 0.1}", "c74f30084a387f50"),
        ("model: noop\ntraining: {steps: 3, init: orthogonal}", "6367da166542e889"),
        ("model: sleep\ntraining: {sleep_seconds: 0.25, path: plain}", "5427e34a0165c602"),
        ("model: diagonal\ntraining: {optimizer: flow, flow_time: 10, init_scale: 0.1}", "73281717fdc7eea3"),
        ("grid:\n  model: [deep-linear, noop]\n  depth: [2, 3]\ntraining: {stop_on_success: true, rank_tolerance: 0.01}", "741ed61b81bbe68f"),
    ]

    /// The diagonal pin's `samples: 12` (of the common prefix) is a deep network's setting: an
    /// error in a new config, ignored in a stored sweep's (DiagonalSettingTests), whose folder
    /// keeps this fingerprint.
    @Test("configs setting each optimizer's and model's keys keep their fingerprints", arguments: settings)
    func settingsConfig(_ pin: (String, String)) throws {
        let yaml = "seed: 3\nproblem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 12}\n" + pin.0 + "\n"
        let stored = try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml", storedSweep: true)
        #expect(stored.fingerprint == pin.1)
        if pin.0.hasPrefix("model: diagonal") {
            #expect(stored.ignoredSettings.count == 1)
            #expect(throws: ConfigError.self) { try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml") }
        } else {
            #expect(stored.ignoredSettings.isEmpty)
            #expect(try SweepConfiguration.parse(yaml: yaml, fileName: "t.yaml").fingerprint == pin.1)
        }
    }
}
