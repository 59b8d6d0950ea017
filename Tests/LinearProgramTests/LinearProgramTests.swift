import Dispatch
import LinearProgram
import Numerics
import Synchronization
import Testing

@Suite struct LinearProgramTests {
    @Test("a textbook LP: the optimal vertex, its value and its duals")
    func textbook() throws {
        // max x + y s.t. x + 2y ≤ 4, 3x + y ≤ 6, x, y ≥ 0: the vertex (8/5, 6/5), value 14/5;
        // duals of the two rows (for the minimization of −x − y): −2/5 and −1/5.
        let lp = LinearProgram(objective: [-1, -1], variableBounds: [.atLeast(0), .atLeast(0)],
                               constraints: [1, 2, 3, 1], rowBounds: [.atMost(4), .atMost(6)])
        let solution = try lp.solve()
        #expect(solution.primal[0].isApproximatelyEqual(to: 8.0 / 5, absoluteTolerance: 1e-12))
        #expect(solution.primal[1].isApproximatelyEqual(to: 6.0 / 5, absoluteTolerance: 1e-12))
        #expect(solution.objective.isApproximatelyEqual(to: -14.0 / 5, absoluteTolerance: 1e-12))
        #expect(solution.rowDuals[0].isApproximatelyEqual(to: -2.0 / 5, absoluteTolerance: 1e-12))
        #expect(solution.rowDuals[1].isApproximatelyEqual(to: -1.0 / 5, absoluteTolerance: 1e-12))
    }

    @Test("equality rows, free and fixed variables")
    func equalities() throws {
        // min |free| written as x − z with x, z ≥ 0 s.t. x − z + f = 3, f fixed at 5: x − z = −2.
        let lp = LinearProgram(objective: [1, 1, 0], variableBounds: [.atLeast(0), .atLeast(0), .equal(5)],
                               constraints: [1, -1, 1], rowBounds: [.equal(3)])
        let solution = try lp.solve()
        #expect(solution.primal[0].isApproximatelyEqual(to: 0, absoluteTolerance: 1e-12))
        #expect(solution.primal[1].isApproximatelyEqual(to: 2, absoluteTolerance: 1e-12))
        #expect(solution.primal[2] == 5)
        #expect(solution.objective.isApproximatelyEqual(to: 2, absoluteTolerance: 1e-12))
    }

    @Test("an infeasible program is a typed error that says so")
    func infeasible() {
        let lp = LinearProgram(objective: [1], variableBounds: [.atLeast(0)], constraints: [1], rowBounds: [.atMost(-1)])
        #expect { try lp.solve() } throws: { error in
            guard let error = error as? LinearProgramError else { return false }
            return error.isInfeasible && !error.isUnbounded && error.description.contains("infeasible")
        }
    }

    @Test("an unbounded program is a typed error that says so")
    func unbounded() {
        let lp = LinearProgram(objective: [-1], variableBounds: [.atLeast(0)], constraints: [1], rowBounds: [.atLeast(0)])
        #expect { try lp.solve() } throws: { error in
            guard let error = error as? LinearProgramError else { return false }
            return error.isUnbounded && !error.isInfeasible
        }
    }

    @Test("malformed programs are refused before GLPK sees them (it would abort)",
          arguments: [
              LinearProgram(objective: [1, 1], variableBounds: [.free], constraints: [1, 1], rowBounds: [.equal(1)]),
              LinearProgram(objective: [1], variableBounds: [.free], constraints: [1, 2], rowBounds: [.equal(1)]),
              LinearProgram(objective: [.nan], variableBounds: [.free], constraints: [1], rowBounds: [.equal(1)]),
              LinearProgram(objective: [1], variableBounds: [.between(2, 1)], constraints: [1], rowBounds: [.equal(1)]),
              LinearProgram(objective: [1], variableBounds: [.free], constraints: [.infinity], rowBounds: [.equal(1)]),
              LinearProgram(objective: [], variableBounds: [], constraints: [], rowBounds: []),
          ])
    func malformed(_ lp: LinearProgram) {
        #expect(throws: LinearProgramError.self) { try lp.solve() }
        do {
            _ = try lp.solve()
        } catch {
            #expect(error.kind == .invalidInput)
        }
    }

    @Test("solves on several threads at once are independent (GLPK's environment is per thread)")
    func concurrentSolves() throws {
        let results = Mutex<[Int: [Double]]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            // max x + y s.t. x + 2y ≤ 4 + k, 3x + y ≤ 6, solved 50 times on each of 8 threads.
            let lp = LinearProgram(objective: [-1, -1], variableBounds: [.atLeast(0), .atLeast(0)],
                                   constraints: [1, 2, 3, 1], rowBounds: [.atMost(4 + Double(k)), .atMost(6)])
            for _ in 0..<50 {
                let value = (try? lp.solve().objective) ?? .nan
                results.withLock { $0[k, default: []].append(value) }
            }
        }
        for k in 0..<8 {
            // The vertex of x + 2y = b, 3x + y = 6 is x = (12 − b)/5, y = (3b − 6)/5 while x ≥ 0 (b ≤ 12).
            let b = 4 + Double(k)
            let expected = -((12 - b) / 5 + (3 * b - 6) / 5)
            let values = try #require(results.withLock { $0[k] })
            #expect(values.count == 50)
            #expect(values.allSatisfy { $0.isApproximatelyEqual(to: expected, absoluteTolerance: 1e-12) }, "k = \(k): \(values)")
        }
    }
}
