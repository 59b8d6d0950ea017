import Foundation
import LinearAlgebra

/// The search of MODEL.md §4 for the global minimizer of the reduced problem when it is not
/// convex (L ≥ 3): its local minima differ in which directions they keep, and the global one
/// need not keep a prefix of the ridge solution's singular directions (a direction with a large
/// ridge value but a small s can be worth dropping while a weaker one is kept).
///
/// A start is a subset J of the ridge solution's ρ left singular directions; `descend` from it
/// reaches a local minimum that keeps at most those directions (possibly turned). With
/// ρ ≤ `exhaustiveRank` every subset (of size at most the rank limit) is a start; beyond, a
/// local search over subsets from the best prefix, by adding, dropping and swapping one
/// direction while that lowers g.
struct KeptDirectionSearch {
    let problem: SchattenProblem
    /// r × ρ: the ridge solution's left singular vectors, largest singular value first.
    let directions: Matrix
    /// The most directions a start keeps: min(ρ, the network's rank limit).
    let maxKept: Int

    /// 2^8 = 256 starts: 0.6 s (noise-free) to 1.0 s (noisy Y, k = 30) per run at r = 8 in a
    /// release build on the development VM, doubling with each direction more; r ≤ 5 (the
    /// configs) costs 6–76 ms, the local search at r = 10 65–203 ms (docs/MODEL.md §4).
    static let exhaustiveRank = 8

    /// A start and the local minimum reached from it.
    struct Candidate {
        var kept: [Bool]
        var core: FactoredCore
        var objective: Double
    }

    /// The result: the polished winner, its residual, how it was found, how many starts.
    struct Result {
        var core: FactoredCore
        var objective: Double
        var residual: Double
        var method: TargetMethod
        var candidates: Int
    }

    func run() throws -> Result {
        let rho = directions.columns
        if rho <= Self.exhaustiveRank {
            var rough: [Candidate] = []
            for mask in 0..<(1 << rho) where mask.nonzeroBitCount <= maxKept {
                rough.append(try candidate((0..<rho).map { mask & (1 << $0) != 0 }))
            }
            let best = try settle(rough)
            return Result(core: best.core, objective: best.objective, residual: best.residual,
                          method: .exhaustive, candidates: rough.count)
        }
        return try localSearch()
    }

    /// From the best prefix (the old starts: the ridge solution's top j directions), moves to
    /// the best of the subsets one addition, removal or swap away, as long as one is lower
    /// after polishing. Exact on decoupled problems (diagonal B and S), where g of a kept set
    /// is a sum over directions; a local optimum over sets otherwise.
    private func localSearch() throws -> Result {
        let rho = directions.columns
        var visited = Set<[Bool]>()
        var prefixes: [Candidate] = []
        for j in 0...maxKept {
            let kept = (0..<rho).map { $0 < j }
            visited.insert(kept)
            prefixes.append(try candidate(kept))
        }
        var current = try settle(prefixes)
        var count = prefixes.count
        for _ in 0..<(4 * rho) {
            var neighbours: [Candidate] = []
            for kept in neighbourhood(current.kept) where !visited.contains(kept) {
                visited.insert(kept)
                neighbours.append(try candidate(kept))
            }
            count += neighbours.count
            // A descent's value bounds its own local minimum from above: only those near or
            // below the current one can win once polished.
            let promising = neighbours
                .filter { $0.objective <= current.objective + 1e-6 * max(abs(current.objective), 1e-300) }
                .sorted { $0.objective < $1.objective }
            var moved = false
            for next in promising {
                guard let polished = try? polish(next), polished.residual <= TrainingTarget.residualTolerance else { continue }
                if polished.objective < current.objective - 1e-12 * abs(current.objective) {
                    current = polished
                    moved = true
                    break
                }
            }
            if !moved { break }
        }
        return Result(core: current.core, objective: current.objective, residual: current.residual,
                      method: .search, candidates: count)
    }

    /// The subsets one addition (within the rank limit), removal or swap away from `kept`.
    private func neighbourhood(_ kept: [Bool]) -> [[Bool]] {
        let inside = kept.indices.filter { kept[$0] }, outside = kept.indices.filter { !kept[$0] }
        var out: [[Bool]] = []
        if inside.count < maxKept {
            for j in outside { var next = kept; next[j] = true; out.append(next) }
        }
        for i in inside { var next = kept; next[i] = false; out.append(next) }
        for i in inside {
            for j in outside { var next = kept; next[i] = false; next[j] = true; out.append(next) }
        }
        return out
    }

    /// The descent from the directions in `kept` (D = 0 for none).
    private func candidate(_ kept: [Bool]) throws -> Candidate {
        let columns = kept.indices.filter { kept[$0] }
        let r = directions.rows, k = problem.s.count
        guard !columns.isEmpty else {
            let zero = FactoredCore.zero(rows: r, columns: k)
            return Candidate(kept: kept, core: zero, objective: problem.objective(zero))
        }
        var start = Matrix(rows: r, columns: columns.count)
        for (c, j) in columns.enumerated() { for i in 0..<r { start[i, c] = directions[i, j] } }
        let core = try problem.descend(from: start)
        return Candidate(kept: kept, core: core, objective: problem.objective(core))
    }

    /// A polished candidate.
    struct Polished {
        var kept: [Bool]
        var core: FactoredCore
        var objective: Double
        var residual: Double
    }

    private func polish(_ candidate: Candidate) throws -> Polished {
        let (core, residual) = try problem.newtonPolish(candidate.core)
        return Polished(kept: candidate.kept, core: core, objective: problem.objective(core), residual: residual)
    }

    /// Polishes every distinct candidate within 1e-6 of the least descent value (a descent
    /// stops at 1e-11 in D, so its value is within rounding of its minimum's unless it is
    /// still crawling, which the margin allows for) and returns the least that meets the
    /// residual tolerance. A candidate that misses the tolerance yet lies lower is an error:
    /// the target could not be certified.
    private func settle(_ rough: [Candidate]) throws -> Polished {
        let lowest = rough.map(\.objective).min() ?? 0
        let near = rough.filter { $0.objective <= lowest + 1e-6 * max(abs(lowest), 1e-300) }
            .sorted { $0.objective < $1.objective }
        var distinct: [(d: Matrix, candidate: Candidate)] = []
        for candidate in near {
            let d = candidate.core.matrix
            let size = max(d.frobeniusNorm, 1e-300)
            if distinct.contains(where: { ($0.d - d).frobeniusNorm <= 1e-8 * max(size, $0.d.frobeniusNorm) }) { continue }
            distinct.append((d, candidate))
        }
        let polished = try distinct.map { try polish($0.candidate) }
        let passing = polished.filter { $0.residual <= TrainingTarget.residualTolerance }
        let failing = polished.filter { $0.residual > TrainingTarget.residualTolerance }
        guard let best = passing.min(by: { $0.objective < $1.objective }) else {
            let worst = failing.map(\.residual).min() ?? .nan
            throw TrainingError("the target W*_λ could not be polished: first-order residual \(worst) above \(TrainingTarget.residualTolerance)")
        }
        if let lower = failing.first(where: { $0.objective < best.objective - 1e-12 * abs(best.objective) }) {
            throw TrainingError("the target W*_λ could not be certified: a candidate with g = \(lower.objective) below \(best.objective) keeps a first-order residual \(lower.residual) above \(TrainingTarget.residualTolerance)")
        }
        return best
    }
}
