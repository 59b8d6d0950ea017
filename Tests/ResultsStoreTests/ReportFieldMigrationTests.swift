import Foundation
import ResultsStore
import SweepConfig
import Testing
import TrainingCore

/// Folders written before each model's report had its own named fields (protocol 6): a diagonal
/// run's support size was kept in `effective_rank` and its ℓ1 norm in `oracle_norm`, beside
/// zeros in the deep network's columns, and `support_size`, `l1_norm`, `loss_ratio` did not exist.
@Suite struct ReportFieldMigrationTests {
    static let diagonalYAML = """
        name: legacy-diagonal
        seed: 1
        model: diagonal
        problem: {signal_dim: 20, measurements: 10, latent_dim: 2}
        grid:
          depth: [2]
          init_scale: [0.1]
        trials: 2
        training: {steps: 100}
        test_noise: [0.0]
        """

    static func diagonalReport() -> RunReport {
        RunReport(trainResidual: 1e-5, oracleDistance: 0.25, targetDistance: 1e-3, gradientNorm: 1e-6, iterations: 100,
                  convergedAt: 50, recoveredAt: 60, stationaryAt: nil, diverged: false, converged: true, recovered: true,
                  stationary: false, stepBudget: 100, budgetCapped: false, trainSeconds: 0.5, flowTime: 2,
                  supportSize: 2, l1Norm: 3.5, supportRecovered: true)
    }

    static func sqlite(_ directory: String, _ sql: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", (directory as NSString).appendingPathComponent(ResultsStore.fileName), sql]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
    }

    @Test("a diagonal row of protocol 6 reads its support size and l1 norm from their old columns, for a reader and after a writer adds the new ones")
    func legacyDiagonalRows() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Its `test_noise`, which the diagonal model ignored, is an error in a new config since.
        let (configuration, plan) = try makePlan(Self.diagonalYAML, storedSweep: true)
        #expect(configuration.ignoredSettings.count == 1)
        do {
            let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
            try store.record(outcome(plan, 0, result: .report(Self.diagonalReport())))
        }
        // Make it a protocol-6 file: the old columns hold the diagonal fields, the new ones are gone.
        try Self.sqlite(directory, """
            UPDATE results SET effective_rank = support_size, oracle_norm = l1_norm, reconstruction_error = 0,
              off_subspace_error = 0, balancedness = 0, test_error = '{"0":0}', oracle_test_error = '{"0":0}';
            ALTER TABLE results DROP COLUMN support_size; ALTER TABLE results DROP COLUMN l1_norm;
            ALTER TABLE results DROP COLUMN loss_ratio;
            """)
        let expected = Self.diagonalReport()
        let (reader, _) = try ResultsStore.openExisting(directory: directory)
        #expect(try reader.rows().first?.report == expected)
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        try store.record(outcome(plan, 1, result: .report(expected)))
        let rows = try store.rows()
        #expect(rows.map(\.report) == [expected, expected])
    }

    @Test("a stored deep-linear NaN reads back as NaN; an optional field left out reads back as absent")
    func nanAndAbsent() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (configuration, plan) = try makePlan()
        let store = try ResultsStore.open(directory: directory, plan: plan, configuration: configuration)
        var sent = report(seed: 2)
        sent.reconstructionError = .nan
        sent.trajectory = []
        try store.record(outcome(plan, 0, result: .report(sent)))
        let back = try #require(try store.rows().first?.report)
        #expect(back.reconstructionError?.isNaN == true)
        #expect(back.lossGapRate == nil && back.lossRatio == nil && back.supportSize == nil)
    }
}
