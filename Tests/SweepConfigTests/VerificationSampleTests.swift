import SweepConfig
import Testing

/// `verify: {fraction: F}` and the tasks it picks (verification by replay, issue 20).
@Suite struct VerificationSampleTests {
    static func yaml(_ extra: String) -> String {
        """
        name: v
        seed: 1
        model: noop
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2, samples: 10}
        trials: 2
        training: {steps: 1}
        \(extra)
        """
    }

    // MARK: The sample

    @Test("the sample is a hash of the seed and the task id: the same tasks every time, about F of them, none at 0, all at 1")
    func sample() throws {
        let a = try #require(VerificationSample(fraction: 0.3, seed: 7))
        let b = try #require(VerificationSample(fraction: 0.3, seed: 7))
        let chosen = (0..<10_000).filter(a.contains)
        #expect(chosen == (0..<10_000).filter(b.contains))
        // Binomial(10000, 0.3): sd 46; five sd either side.
        #expect(abs(chosen.count - 3000) < 230, "\(chosen.count)")
        let other = try #require(VerificationSample(fraction: 0.3, seed: 8))
        #expect(chosen != (0..<10_000).filter(other.contains))
        #expect(VerificationSample(fraction: 0, seed: 7) == nil)
        let all = try #require(VerificationSample(fraction: 1, seed: 7))
        #expect((0..<1000).allSatisfy(all.contains))
        // A larger fraction keeps the smaller one's tasks (the same hash, a higher threshold).
        let more = try #require(VerificationSample(fraction: 0.6, seed: 7))
        #expect(chosen.allSatisfy(more.contains))
    }

    @Test("verify: {fraction: F} is read, checked with file, key and line, and left out of the fingerprint")
    func configKey() throws {
        let plain = try SweepConfiguration.parse(yaml: Self.yaml(""), fileName: "v.yaml")
        let verified = try SweepConfiguration.parse(yaml: Self.yaml("verify: {fraction: 0.25}"),
                                                    fileName: "v.yaml")
        #expect(plain.verifyFraction == 0 && verified.verifyFraction == 0.25)
        #expect(plain.fingerprint == verified.fingerprint)
        for (bad, message) in [("verify: {fraction: 1.5}", "expected a fraction in [0, 1]"),
                               ("verify: {fraction: -0.1}", "expected a fraction in [0, 1]"),
                               ("verify: {fraction: lots}", "expected a fraction in [0, 1]"),
                               ("verify: {share: 0.1}", "share"),
                               ("verify: 0.1", "expected a mapping")] {
            let yaml = Self.yaml(bad)
            let line = yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("verify") }! + 1
            #expect(throws: ConfigError.self) { try SweepConfiguration.parse(yaml: yaml, fileName: "v.yaml") }
            do {
                _ = try SweepConfiguration.parse(yaml: yaml, fileName: "v.yaml")
            } catch let error as ConfigError {
                #expect(error.file == "v.yaml" && error.line == line && error.keyPath.hasPrefix("verify"), "\(error)")
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }
}
