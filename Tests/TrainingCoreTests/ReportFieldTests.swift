import Foundation
import Testing
import TrainingCore

/// `RunReport.fields` is the one description of a report: its entries are consistent, every
/// report the core writes passes its checks, and the documents' field tables are its own.
@Suite struct ReportFieldTests {
    @Test("names, columns and tags are unique; every carried field has a tag, the derived none")
    func registryIsConsistent() {
        let fields = RunReport.fields
        #expect(Set(fields.map(\.name)).count == fields.count)
        #expect(Set(fields.map(\.column)).count == fields.count)
        let carried = fields.filter(\.value.isCarried)
        #expect(Set(carried.map(\.tag)).count == carried.count)
        #expect(carried.allSatisfy { $0.tag > 0 })
        #expect(fields.filter { !$0.value.isCarried }.allSatisfy { $0.tag == 0 })
        // A field every model reports is required on the wire (non-optional in Swift) unless it may be absent.
        for field in carried where !field.isOptional {
            #expect(field.models == Set(ModelKind.allCases) && field.presence == .always, "\(field.name)")
        }
    }

    /// Runs of every model, as the core writes them.
    static func reports() throws -> [(String, RunSpec, RunReport)] {
        var deep = RunSpec()
        deep.run.problem.signalDim = 12
        deep.run.problem.measurements = 6
        deep.run.problem.latentDim = 2
        deep.run.problem.samples = 8
        deep.run.network.depth = 3
        deep.run.network.width = 6
        deep.run.training.lambda = 0.05
        deep.run.training.steps = .fixed(3000)
        deep.run.training.logEvery = 500
        var flow = deep
        flow.run.training.optimizer = .flow(FlowControl())
        flow.run.training.logEvery = nil
        var settings = DiagonalTests.settings(depth: 2, alpha: 0.1)
        settings.common.training.etaScale = TrainingSpec().etaScale
        settings.common.training.steps = .fixed(2000)
        let diagonal = try settings.spec()
        let noop = RunSpec(model: .noop(shape: DeepLinearSpec()))
        return try [("deep", deep), ("flow", flow), ("diagonal", diagonal), ("noop", noop)].map {
            ($0.0, $0.1, try runExperiment($0.1))
        }
    }

    @Test("every report of every model passes the registry's checks, and each model's own fields are there")
    func coreReportsPass() throws {
        for (name, spec, report) in try Self.reports() {
            #expect(report.fieldProblem(for: spec) == nil, "\(name): \(report.fieldProblem(for: spec) ?? "")")
            for field in RunReport.fields where field.value.isCarried && !field.applies(to: spec.model.kind) {
                #expect(!report.isPresent(field), "\(name) carries \(field.name)")
            }
        }
    }

    @Test("a field of another model, a missing one and an out-of-range one are named")
    func checksName() throws {
        let (_, spec, report) = try Self.reports()[0]
        var bad = report
        bad.supportSize = 3
        #expect(bad.fieldProblem(for: spec) == "supportSize in a deep-linear report (the model does not report it)")
        bad = report
        bad.oracleNorm = nil
        #expect(bad.fieldProblem(for: spec) == "oracleNorm missing from a deep-linear report")
        bad = report
        bad.lossRatio = -1
        #expect(bad.fieldProblem(for: spec) == "lossRatio -1.0 is not a positive number")
        bad = report
        bad.testError = (report.testError ?? []) + [0.1]
        let levels = spec.run.training.testNoise.count
        #expect(bad.fieldProblem(for: spec) == "\(levels + 1) values of testError for \(levels) test-noise levels")
        bad = report
        bad.diverged = true
        bad.converged = false
        bad.recovered = false
        #expect(bad.fieldProblem(for: spec)?.hasSuffix("with a diverged run") == true)
    }

    @Test("the final loss over the target's: 1 (to 1e-9) where the run reached W*_λ, above 1 where it stopped short")
    func lossRatio() throws {
        var spec = try Self.reports()[0].1
        spec.run.training.logEvery = nil
        spec.run.training.steps = .fixed(20_000)
        spec.run.training.tolConv = 1e-9
        let reached = try runExperiment(spec)
        #expect(reached.converged, "target distance \(reached.targetDistance)")
        let ratio = try #require(reached.lossRatio)
        #expect(abs(ratio - 1) < 1e-9, "\(ratio)")
        spec.run.training.steps = .fixed(50)
        let early = try runExperiment(spec)
        #expect(try #require(early.lossRatio) > 1 + 1e-6)
    }

    /// The repository's root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test("PROTOCOL.md and docs/RESULTS-FOLDER.md hold the tables the registry writes", arguments: [
        ("Sources/SweepProtocol/PROTOCOL.md", RunReport.FieldTable.wire), ("docs/RESULTS-FOLDER.md", .store),
    ])
    func documentTables(path: String, table: RunReport.FieldTable) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        let (begin, end) = RunReport.tableMarkers(table)
        let start = try #require(text.range(of: begin), "\(path) has no generated \(table) table")
        let stop = try #require(text.range(of: end, range: start.upperBound..<text.endIndex))
        let held = text[start.upperBound..<stop.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(held == RunReport.markdownTable(table), "\(path): run `dlsweep fields \(table.rawValue)` and paste its table between the markers")
    }
}

extension RunSpec {
    /// The deep linear run these tests build and change (`model.record`; setting it makes the
    /// spec a deep linear one).
    fileprivate var run: DeepLinearSpec {
        get { model.record }
        set { model = .deepLinear(newValue) }
    }
}
