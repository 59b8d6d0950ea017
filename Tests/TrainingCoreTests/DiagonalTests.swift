import LinearAlgebra
import Numerics
import Testing
import TrainingCore

@Suite struct DiagonalTests {
    static func problem(n: Int, m: Int, s: Int, seed: UInt64) throws -> DiagonalProblem {
        try DiagonalProblem.generate(SparseProblemSpec(dimension: n, measurements: m, sparsity: s), seed: seed)
    }

    @Test("the generated problem: A is m x n, w* has s entries of ±1")
    func generated() throws {
        let p = try Self.problem(n: 30, m: 12, s: 4, seed: 3)
        #expect(p.a.rows == 12 && p.a.columns == 30)
        #expect(p.support.count == 4)
        #expect(p.signal.filter { $0 != 0 }.allSatisfy { abs($0) == 1 })
    }

    @Test("the minimum-l1 LP solves A w = y to 1e-9 and its certificate is one", arguments: [1, 2, 3] as [UInt64])
    func minimumL1Feasible(seed: UInt64) throws {
        let p = try Self.problem(n: 40, m: 20, s: 3, seed: seed)
        var y = p.apply(p.signal)
        y[0] += 0.3  // not the sparse signal's measurements: w_l1 is then not w*
        let solution = try MinimumL1Solution(a: p.a, y: y)
        let residual = zip(p.apply(solution.w), y).map { abs($0 - $1) }.max()!
        #expect(residual <= 1e-9)
        #expect(solution.norm.isApproximatelyEqual(to: solution.w.map(abs).reduce(0, +), relativeTolerance: 1e-10))
        // Strong duality: yᵀλ = ‖w‖_1 with |Aᵀλ| ≤ 1.
        var aTl = Matrix(rows: 40, columns: 1)
        BLAS.gemm(p.a, try Matrix(rows: 20, columns: 1, columnMajor: solution.certificate), transA: .transpose, into: &aTl)
        #expect(aTl.storage.allSatisfy { abs($0) <= 1 + 1e-9 })
        #expect(zip(y, solution.certificate).map(*).reduce(0, +).isApproximatelyEqual(to: solution.norm, relativeTolerance: 1e-9))
    }

    @Test("on a tiny instance the LP's solution is the least-l1 basic solution, by enumerating every support",
          arguments: [4, 5, 6, 7] as [UInt64])
    func bruteForce(seed: UInt64) throws {
        let n = 7, m = 3
        var rng = NormalGenerator(seed: seed)
        let a = rng.normalMatrix(rows: m, columns: n)
        let y = (0..<m).map { _ in rng.nextNormal() }
        // An optimum of an LP in equality form is attained at a basic solution: w_B = A_B⁻¹ y on
        // m columns B, zero elsewhere. Enumerate all C(7, 3) = 35 of them.
        var best: (norm: Double, w: [Double])?
        func subsets(_ start: Int, _ chosen: [Int]) {
            if chosen.count == m {
                guard let wB = Self.cramer(chosen.map { j in (0..<m).map { a[$0, j] } }, y) else { return }
                var w = [Double](repeating: 0, count: n)
                for (k, j) in chosen.enumerated() { w[j] = wB[k] }
                let norm = w.map(abs).reduce(0, +)
                if best == nil || norm < best!.norm { best = (norm, w) }
                return
            }
            guard start < n else { return }
            for j in start..<n { subsets(j + 1, chosen + [j]) }
        }
        subsets(0, [])
        let brute = try #require(best)
        let lp = try MinimumL1Solution(a: a, y: y)
        #expect(lp.norm.isApproximatelyEqual(to: brute.norm, relativeTolerance: 1e-10))
        for (x, z) in zip(lp.w, brute.w) { #expect(x.isApproximatelyEqual(to: z, absoluteTolerance: 1e-9)) }
    }

    @Test("the strictest certificate's rho on instances with a known answer")
    func certificate() throws {
        // min |w1| + |w2| s.t. w1 + 0.5 w2 = 1: w_l1 = (1, 0); λ = 1 is forced on the support, so ρ = 0.5.
        let a = Matrix([[1, 0.5]])
        let solution = try MinimumL1Solution(a: a, y: [1])
        #expect(solution.w[0].isApproximatelyEqual(to: 1, absoluteTolerance: 1e-12) && abs(solution.w[1]) <= 1e-12)
        #expect(try solution.strictestCertificate(a: a).isApproximatelyEqual(to: 0.5, absoluteTolerance: 1e-12))
        // Two rows, support {0, 1}: λ = (1, −1) is forced and the third column sees |0.25 − 0.5| = 0.25.
        let b = Matrix([[1, 0, 0.25, 0.1], [0, 1, 0.5, 0.1]])
        let two = try MinimumL1Solution(a: b, y: [2, -1])
        #expect(try two.strictestCertificate(a: b).isApproximatelyEqual(to: 0.25, absoluteTolerance: 1e-12))
    }

    /// Solves the 3 x 3 system whose columns are `columns` by Cramer's rule; nil when singular.
    static func cramer(_ columns: [[Double]], _ y: [Double]) -> [Double]? {
        func det(_ c: [[Double]]) -> Double {
            c[0][0] * (c[1][1] * c[2][2] - c[2][1] * c[1][2]) - c[1][0] * (c[0][1] * c[2][2] - c[2][1] * c[0][2])
                + c[2][0] * (c[0][1] * c[1][2] - c[1][1] * c[0][2])
        }
        let d = det(columns)
        guard abs(d) > 1e-9 else { return nil }
        return (0..<3).map { k in
            var replaced = columns
            replaced[k] = y
            return det(replaced) / d
        }
    }

    @Test("the parameter gradient matches central finite differences of the loss", arguments: [1, 2, 3, 4])
    func gradient(depth: Int) throws {
        let p = try Self.problem(n: 12, m: 6, s: 2, seed: 9)
        let y = p.apply(p.signal)
        var rng = NormalGenerator(seed: 11)
        let network = DiagonalNetwork(u: (0..<12).map { _ in 0.5 + 0.3 * rng.nextNormal() },
                                      v: (0..<12).map { _ in 0.5 + 0.3 * rng.nextNormal() }, depth: depth)
        let g = p.gradient(network, y: y)
        let h = 1e-6
        for i in 0..<12 {
            for (which, analytic) in [(0, g.u[i]), (1, g.v[i])] {
                var plus = network, minus = network
                if which == 0 { plus.u[i] += h; minus.u[i] -= h } else { plus.v[i] += h; minus.v[i] -= h }
                let numeric = (p.loss(plus, y: y) - p.loss(minus, y: y)) / (2 * h)
                #expect(numeric.isApproximatelyEqual(to: analytic, absoluteTolerance: 1e-7), "depth \(depth) \(which == 0 ? "u" : "v")[\(i)]")
            }
        }
    }

    @Test("one training step is u − η∇_u, v − η∇_v")
    func stepIsGradientDescent() throws {
        let p = try Self.problem(n: 12, m: 6, s: 2, seed: 9)
        let y = p.apply(p.signal)
        var network = DiagonalNetwork(dimension: 12, depth: 3, scale: 0.3)
        network.u[0] = 0.7
        let g = p.gradient(network, y: y)
        let before = network
        var stepper = DiagonalStepper(problem: p, y: y, eta: 0.01)
        stepper.step(&network)
        for i in 0..<12 {
            #expect(network.u[i].isApproximatelyEqual(to: before.u[i] - 0.01 * g.u[i], absoluteTolerance: 1e-15))
            #expect(network.v[i].isApproximatelyEqual(to: before.v[i] - 0.01 * g.v[i], absoluteTolerance: 1e-15))
        }
    }

    /// A diagonal run on sparse recovery with n, m, s = `size`, as a config gives it.
    static func settings(depth: Int, alpha: Double, size: (n: Int, m: Int, s: Int) = (20, 10, 2)) -> RunSettings {
        var settings = RunSettings()
        settings.model = .diagonal
        settings.common.problem.signalDim = size.n
        settings.common.problem.measurements = size.m
        settings.common.problem.latentDim = size.s
        settings.common.network.depth = depth
        settings.common.network.initScale = alpha
        settings.common.training.etaScale = 1
        return settings
    }

    static func run(depth: Int, alpha: Double) throws -> RunReport {
        var settings = Self.settings(depth: depth, alpha: alpha)
        settings.common.training.steps = .fixed(400_000)
        settings.common.training.tolConv = 1e-5
        settings.common.training.checkEvery = 50
        settings.common.training.stopOnSuccess = true
        var spec = try settings.spec()
        spec.seeds = RunSeeds(problem: 5, training: 6)
        return try runExperiment(spec)
    }

    @Test("flow agrees with gd at the same time: the gap falls linearly in η")
    func flowMatchesSmallStepGD() throws {
        let p = try Self.problem(n: 12, m: 6, s: 2, seed: 9)
        let model = DiagonalNetworkSpec(depth: 2, initScale: 0.3)
        var training = DiagonalTraining()
        training.stopOnSuccess = false
        training.checkEvery = 1
        training.eta = 0.05
        training.optimizer = .flow(FlowControl(rtol: 1e-11, atol: 1e-12, horizon: 4))
        let flow = try trainDiagonal(problem: p, model: model, training: training, trainingSeed: 1)
        #expect(flow.report.flowTime == 4)
        training.optimizer = .gd
        let gaps = try [40, 80, 160].map { steps in
            training.eta = 4 / Double(steps)
            training.steps = .fixed(steps)
            let gd = try trainDiagonal(problem: p, model: model, training: training, trainingSeed: 1)
            return BLAS.norm2(zip(gd.network.w, flow.network.w).map { $0 - $1 })
        }
        #expect(gaps[0] > 1e-4, "\(gaps)")
        for k in 0..<2 { #expect((gaps[k] / gaps[k + 1]).isApproximatelyEqual(to: 2, relativeTolerance: 0.1), "\(gaps)") }
    }

    static func runFlow(depth: Int, alpha: Double) throws -> RunReport {
        var settings = Self.settings(depth: depth, alpha: alpha)
        settings.optimizer = .flow
        settings.flowRtol = 1e-7
        settings.flowAtol = 1e-9
        settings.common.training.steps = .fixed(400_000)
        settings.common.training.tolConv = 1e-5
        settings.common.training.checkEvery = 1
        settings.common.training.stopOnSuccess = true
        var spec = try settings.spec()
        spec.seeds = RunSeeds(problem: 5, training: 6)
        return try runExperiment(spec)
    }

    @Test("flow approaches the minimum-l1 solution as α shrinks, as gd does", arguments: [2, 3])
    func flowApproachesL1(depth: Int) throws {
        let alphas = [0.4, 0.25, 0.15]
        let flows = try alphas.map { try Self.runFlow(depth: depth, alpha: $0) }
        let gds = try alphas.map { try Self.run(depth: depth, alpha: $0) }
        #expect(flows.allSatisfy { $0.converged }, "\(flows.map(\.iterations)) \(flows.map(\.flowTime))")
        let distances = flows.map(\.targetDistance)
        #expect(distances[0] > distances[1] && distances[1] > distances[2], "\(distances)")
        for (f, g) in zip(flows, gds) {
            #expect(f.targetDistance.isApproximatelyEqual(to: g.targetDistance, relativeTolerance: 0.05),
                    "flow \(f.targetDistance) (\(f.iterations) steps, t \(f.flowTime ?? 0)) gd \(g.targetDistance) (\(g.iterations) steps)")
        }
    }

    @Test("the distance to the minimum-l1 solution shrinks with the initialization scale", arguments: [2, 3])
    func distanceShrinks(depth: Int) throws {
        let reports = try [0.4, 0.25, 0.15].map { try Self.run(depth: depth, alpha: $0) }
        #expect(reports.allSatisfy { $0.converged }, "\(reports.map(\.iterations))")
        let distances = reports.map(\.targetDistance)
        #expect(distances[0] > distances[1] && distances[1] > distances[2], "\(distances)")
        // Deeper is closer at the same small scale (ℓ1 distance ∝ α^D instead of α^(2(1−ρ))).
        if depth == 3 { #expect(distances[2] < (try Self.run(depth: 2, alpha: 0.15)).targetDistance) }
        #expect(reports.allSatisfy { $0.supportRecovered == true })
    }

    @Test("support recovery: the s largest entries of |w| are exactly the support")
    func supportRecovery() {
        #expect(recoversSupport([0.9, 0.01, -0.8, 0.02], support: [0, 2]))
        #expect(!recoversSupport([0.9, 0.81, -0.8, 0.02], support: [0, 2]))
        #expect(!recoversSupport([0.9, 0.0, 0.0, 0.0], support: [0, 2]))
    }

    @Test("model diagonal refuses what it does not implement", arguments: [
        ("optimizer", "diagonal trains with optimizer gd or flow only, not heavy-ball"),
        ("lambda", "diagonal has no weight decay: lambda must be 0, not 0.1"),
        ("step_rule", "diagonal trains with a fixed step: no step_rule"),
    ])
    func refusals(key: String, message: String) {
        var settings = RunSettings()
        settings.model = .diagonal
        switch key {
        case "optimizer": settings.optimizer = .heavyBall
        case "lambda": settings.common.training.lambda = 0.1
        default: settings.stepRule = .adaptive
        }
        #expect(throws: SettingError(key: key, message: message)) { try settings.spec() }
    }

    @Test("the deep network's settings a diagonal run does not read have no place in its spec: left out, as configs always could set them")
    func deepSettingsLeftOut() throws {
        var settings = RunSettings()
        settings.model = .diagonal
        settings.common.network.width = 10
        settings.common.network.initScheme = .orthogonal
        settings.common.problem.samples = 7
        settings.common.training.testNoise = [0, 0.1]
        let record = try settings.spec().model.record
        #expect(record == DiagonalSpec(projecting: settings.record).record)
        #expect(record.network.width == NetworkSpec().width && record.network.initScheme == .kaiming)
        #expect(record.problem.samples == ProblemSpec().samples && record.training.testNoise == TrainingSpec().testNoise)
    }

    @Test("a diagonal run needs a positive initial scale")
    func positiveScale() throws {
        var settings = RunSettings()
        settings.model = .diagonal
        settings.common.network.initScale = 0
        #expect(throws: TrainingError("init_scale must be positive for model diagonal (u(0) = v(0) = init_scale), got 0.0")) {
            try settings.spec().validate()
        }
    }

    @Test("the record form: a diagonal spec written in the deep network's fields reads back the same")
    func recordRoundTrip() throws {
        var settings = Self.settings(depth: 3, alpha: 0.05, size: (30, 12, 3))
        settings.common.training.etaScale = TrainingSpec().etaScale
        settings.common.training.noise = 0.01
        settings.optimizer = .flow
        settings.flowTime = 7
        let spec = try settings.spec()
        guard case .diagonal(let run) = spec.model else { Issue.record("not diagonal: \(spec.model)"); return }
        #expect(run.problem == SparseProblemSpec(dimension: 30, measurements: 12, sparsity: 3))
        #expect(run.network == DiagonalNetworkSpec(depth: 3, initScale: 0.05))
        #expect(run.training.optimizer == .flow(FlowControl(horizon: 7)) && run.training.noise == 0.01)
        #expect(try Model(kind: .diagonal, record: run.record, sleepSeconds: 0) == spec.model)
        #expect(run.record == settings.record)
    }
}
