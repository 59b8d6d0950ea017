import LinearAlgebra
import Testing
import TrainingCore

@Suite struct ValidationTests {
    static let cases: [(String, @Sendable (inout DeepLinearSpec) -> Void, String)] = [
        ("depth 0", { $0.network.depth = 0 }, "depth"),
        ("width 0", { $0.network.width = 0 }, "width"),
        ("negative lambda", { $0.training.lambda = -1 }, "lambda"),
        ("m >= d", { $0.problem.measurements = 300 }, "measurements"),
        ("r > m", { $0.problem.latentDim = 150 }, "latent_dim"),
        ("NaN noise", { $0.training.noise = .nan }, "noise"),
        ("zero eta", { $0.training.eta = 0 }, "eta"),
    ]

    @Test("invalid specs are one-line errors naming the culprit", arguments: 0..<cases.count)
    func invalidSpec(index: Int) {
        let (_, mutate, culprit) = Self.cases[index]
        var spec = DeepLinearSpec()
        mutate(&spec)
        do {
            _ = try runExperiment(RunSpec(model: .deepLinear(spec)))
            Issue.record("expected an error for \(Self.cases[index].0)")
        } catch {
            let text = "\(error)"
            #expect(text.contains(culprit), "\(text)")
            #expect(!text.contains("\n"))
        }
    }

    @Test("bring-your-own data: shape mismatches and non-finite values are named")
    func badData() throws {
        let a = Matrix(rows: 5, columns: 10, repeating: 1)
        #expect(throws: TrainingError.self) { try Problem(a: a, x: Matrix(rows: 9, columns: 3, repeating: 1)) }
        var x = Matrix(rows: 10, columns: 3, repeating: 1)
        x[2, 1] = .infinity
        do {
            _ = try Problem(a: a, x: x)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("X"))
        }
        let problem = try smallProblem()
        let wrong = [Matrix(rows: 4, columns: 7)]
        do {
            _ = try train(problem: problem, model: NetworkSpec(), training: TrainingSpec(), trainingSeed: 1, initialWeights: wrong)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("W1"), "\(error)")
        }
    }
}
