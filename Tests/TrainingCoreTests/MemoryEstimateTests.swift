import LinearAlgebra
import Testing
import TrainingCore

/// Runs too large for a host fail with "needs N GiB" before anything is allocated, and data
/// that does not fit together is refused (issue 11, items 4 and 6).
@Suite struct MemoryEstimateTests {
    @Test("the estimate covers the largest arrays and grows with every size")
    func estimate() {
        var spec = RunSpec()
        spec.run.problem.signalDim = 1000
        spec.run.problem.measurements = 500
        spec.run.problem.samples = 100
        spec.run.problem.testSamples = 200
        spec.run.network.depth = 3
        spec.run.network.width = 800
        let base = spec.run.estimatedBytes
        // At least A, X, the test set and the weights once each.
        let elements: Double = 500_000 + 100_000 + 200_000 + 400_000 + 640_000 + 800_000
        let floor = 8 * elements
        #expect(base >= floor)
        #expect(base < 20 * floor)
        var wider = spec
        wider.run.network.width = 1600
        var deeper = spec
        deeper.run.network.depth = 6
        var larger = spec
        larger.run.problem.signalDim = 2000
        #expect(wider.run.estimatedBytes > base && deeper.run.estimatedBytes > base && larger.run.estimatedBytes > base)
    }

    @Test("a run that does not fit is refused with what it needs and what the host has")
    func refused() throws {
        var spec = RunSpec()
        spec.run.problem.signalDim = 100_000_000
        #expect {
            try spec.checkFitsInMemory(available: 16 * 1_073_741_824)
        } throws: { error in
            "\(error)".hasPrefix("needs ") && "\(error)".contains("this host has 16.0 GiB in all")
        }
        try RunSpec().checkFitsInMemory(available: 16 * 1_073_741_824)
        try spec.checkFitsInMemory(available: nil)  // unknown: nothing refused
    }

    @Test("an R.npy whose columns do not span X, or outnumber the measurements, is refused")
    func wrongBasis() throws {
        var rng = NormalGenerator(seed: 3)
        let basis = try LAPACK.orthonormalColumns(rng.normalMatrix(rows: 20, columns: 2))
        let x = basis * rng.normalMatrix(rows: 2, columns: 6)
        let a = rng.normalMatrix(rows: 10, columns: 20)
        _ = try Problem(a: a, x: x, basis: basis)
        let other = try LAPACK.orthonormalColumns(rng.normalMatrix(rows: 20, columns: 2))
        #expect {
            try Problem(a: a, x: x, basis: other)
        } throws: { error in
            "\(error)".contains("X does not lie in the span")
        }
        #expect {
            try Problem(a: a, x: x, basis: rng.normalMatrix(rows: 20, columns: 11))
        } throws: { error in
            "\(error)".contains("must not exceed the 10 measurements")
        }
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
