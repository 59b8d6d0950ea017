/// A linear program `minimize cᵀx` subject to `lower_i ≤ (A x)_i ≤ upper_i` and bounds on each
/// `x_j`, as a plain value: it can be built anywhere and sent across threads; only `solve()`
/// touches GLPK, on the calling thread, with a problem object that lives for that call alone.
public struct LinearProgram: Sendable, Hashable {
    /// The bounds of one variable or one row.
    public enum Bound: Sendable, Hashable {
        case free
        /// `value ≤ x`.
        case atLeast(Double)
        /// `x ≤ value`.
        case atMost(Double)
        /// `lower ≤ x ≤ upper`.
        case between(Double, Double)
        /// `x = value`.
        case equal(Double)
    }

    /// `c`, one entry per variable.
    public var objective: [Double]
    public var variableBounds: [Bound]
    /// `A`, dense and row-major: `rowBounds.count` rows of `objective.count` entries. Zeros are
    /// not handed to GLPK.
    public var constraints: [Double]
    public var rowBounds: [Bound]

    public init(objective: [Double], variableBounds: [Bound], constraints: [Double], rowBounds: [Bound]) {
        self.objective = objective
        self.variableBounds = variableBounds
        self.constraints = constraints
        self.rowBounds = rowBounds
    }

    public var variableCount: Int { objective.count }
    public var rowCount: Int { rowBounds.count }
}

/// An optimal basic solution.
public struct LinearProgramSolution: Sendable, Hashable {
    /// `x`, one entry per variable.
    public var primal: [Double]
    /// The row duals (Lagrange multipliers of the rows), one per row.
    public var rowDuals: [Double]
    /// `cᵀx`.
    public var objective: Double
}

/// Why a linear program has no solution to give: the input was malformed, GLPK's simplex
/// stopped (`glp_simplex`'s return code), or it ended with a status other than optimal.
public struct LinearProgramError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A malformed program (shapes, non-finite numbers, crossed bounds), caught before GLPK
        /// sees it: GLPK aborts the process on invalid arguments.
        case invalidInput
        /// `glp_simplex` returned a non-zero code (`GLP_E…`), e.g. presolve found no feasible point.
        case solverFailed(code: Int32)
        /// The simplex finished with this `glp_get_status` (`GLP_…`), not `GLP_OPT`.
        case notOptimal(status: Int32)
    }

    public var kind: Kind
    public var message: String

    public var description: String { message }

    /// The program has no feasible point (presolve's `GLP_ENOPFS`, or status `GLP_NOFEAS`).
    public var isInfeasible: Bool {
        switch kind {
        case .solverFailed(let code): code == 0x0A
        case .notOptimal(let status): status == 4
        case .invalidInput: false
        }
    }

    /// The objective is unbounded below (presolve's `GLP_ENODFS`, or status `GLP_UNBND`).
    public var isUnbounded: Bool {
        switch kind {
        case .solverFailed(let code): code == 0x0B
        case .notOptimal(let status): status == 6
        case .invalidInput: false
        }
    }
}

extension LinearProgram {
    /// Checks shapes, finiteness and bounds: everything GLPK would abort on.
    public func validate() throws(LinearProgramError) {
        func invalid(_ message: String) -> LinearProgramError { LinearProgramError(kind: .invalidInput, message: message) }
        guard variableCount >= 1, rowCount >= 1 else {
            throw invalid("a linear program needs at least one variable and one row, got \(variableCount) and \(rowCount)")
        }
        guard variableBounds.count == variableCount else {
            throw invalid("\(variableBounds.count) variable bounds for \(variableCount) variables")
        }
        guard constraints.count == rowCount * variableCount else {
            throw invalid("\(constraints.count) constraint entries for \(rowCount) rows of \(variableCount) variables")
        }
        guard constraints.count < Int(Int32.max) else { throw invalid("\(constraints.count) constraint entries exceed GLPK's int indices") }
        if let j = objective.firstIndex(where: { !$0.isFinite }) { throw invalid("objective[\(j)] is \(objective[j])") }
        if let k = constraints.firstIndex(where: { !$0.isFinite }) {
            throw invalid("constraint (\(k / variableCount), \(k % variableCount)) is \(constraints[k])")
        }
        for (name, bounds) in [("variable", variableBounds), ("row", rowBounds)] {
            for (i, bound) in bounds.enumerated() {
                if let problem = bound.problem { throw invalid("\(name) \(i): \(problem)") }
            }
        }
    }
}

extension LinearProgram.Bound {
    /// Why GLPK would refuse these bounds, if it would.
    var problem: String? {
        switch self {
        case .free: nil
        case .atLeast(let v), .atMost(let v), .equal(let v): v.isFinite ? nil : "bound \(v) is not finite"
        case .between(let lower, let upper):
            !(lower.isFinite && upper.isFinite) ? "bounds \(lower)...\(upper) are not finite"
                : lower > upper ? "lower bound \(lower) above upper bound \(upper)" : nil
        }
    }
}
