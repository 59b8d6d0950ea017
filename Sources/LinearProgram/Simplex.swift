import CGLPK

// Threads: Debian's GLPK keeps its environment (memory pools, terminal hook) in thread-local
// storage (libglpk.so has a TLS segment), so a `glp_prob` belongs to the thread that created it
// and must never be used or freed on another. `GLPKProblem` is therefore ~Copyable and not
// Sendable, and lives only inside one `solve()` call. Concurrent solves on different threads
// are independent. Each thread that solves keeps its small GLPK environment until it exits
// (`glp_free_env` would also free every other problem of that thread, so it is never called).

extension LinearProgram {
    /// Solves the program by GLPK's primal simplex with its LP presolver, silently.
    ///
    /// - Throws: `LinearProgramError` naming the input problem, GLPK's failure code or the
    ///   final status (infeasible, unbounded, …).
    public func solve() throws(LinearProgramError) -> LinearProgramSolution {
        try validate()
        let problem = GLPKProblem()
        problem.load(self)
        return try problem.solve()
    }
}

/// Owns one `glp_prob` for the duration of a solve on the current thread.
struct GLPKProblem: ~Copyable {
    private let handle: OpaquePointer

    init() {
        // glp_create_prob never returns NULL: GLPK aborts when it cannot allocate.
        handle = glp_create_prob()
    }

    deinit { glp_delete_prob(handle) }

    /// Loads a validated program (`LinearProgram.validate()`): GLPK aborts on bad arguments.
    func load(_ lp: LinearProgram) {
        let n = lp.variableCount, m = lp.rowCount
        glp_set_obj_dir(handle, GLP_MIN)
        glp_add_cols(handle, Int32(n))
        glp_add_rows(handle, Int32(m))
        for j in 0..<n {
            glp_set_obj_coef(handle, Int32(j + 1), lp.objective[j])
            let (type, lower, upper) = lp.variableBounds[j].glpk
            glp_set_col_bnds(handle, Int32(j + 1), type, lower, upper)
        }
        for i in 0..<m {
            let (type, lower, upper) = lp.rowBounds[i].glpk
            glp_set_row_bnds(handle, Int32(i + 1), type, lower, upper)
        }
        // GLPK's triplets are 1-based: entry 0 of each array is ignored.
        var rows: [Int32] = [0], columns: [Int32] = [0], values: [Double] = [0]
        for i in 0..<m {
            for j in 0..<n where lp.constraints[i * n + j] != 0 {
                rows.append(Int32(i + 1))
                columns.append(Int32(j + 1))
                values.append(lp.constraints[i * n + j])
            }
        }
        glp_load_matrix(handle, Int32(values.count - 1), rows, columns, values)
    }

    func solve() throws(LinearProgramError) -> LinearProgramSolution {
        var parameters = glp_smcp()
        glp_init_smcp(&parameters)
        parameters.msg_lev = GLP_MSG_OFF
        parameters.presolve = GLP_ON
        // The message level covers the simplex; glp_term_out also silences the rest of GLPK's
        // terminal output (this thread's environment only), restored afterwards.
        let previous = glp_term_out(GLP_OFF)
        let code = glp_simplex(handle, &parameters)
        _ = glp_term_out(previous)
        guard code == 0 else {
            throw LinearProgramError(kind: .solverFailed(code: code),
                                     message: "GLPK simplex failed: \(Self.failureName(code))")
        }
        let status = glp_get_status(handle)
        guard status == GLP_OPT else {
            throw LinearProgramError(kind: .notOptimal(status: status),
                                     message: "GLPK simplex ended without an optimum: \(Self.statusName(status))")
        }
        let n = Int(glp_get_num_cols(handle)), m = Int(glp_get_num_rows(handle))
        return LinearProgramSolution(
            primal: (1...n).map { glp_get_col_prim(handle, Int32($0)) },
            rowDuals: (1...m).map { glp_get_row_dual(handle, Int32($0)) },
            objective: glp_get_obj_val(handle))
    }

    static func failureName(_ code: Int32) -> String {
        switch code {
        case GLP_EBADB: "invalid initial basis (GLP_EBADB)"
        case GLP_ESING: "singular basis matrix (GLP_ESING)"
        case GLP_ECOND: "ill-conditioned basis matrix (GLP_ECOND)"
        case GLP_EBOUND: "invalid double bounds (GLP_EBOUND)"
        case GLP_EFAIL: "solver failure (GLP_EFAIL)"
        case GLP_EOBJLL: "objective lower limit reached (GLP_EOBJLL)"
        case GLP_EOBJUL: "objective upper limit reached (GLP_EOBJUL)"
        case GLP_EITLIM: "iteration limit exceeded (GLP_EITLIM)"
        case GLP_ETMLIM: "time limit exceeded (GLP_ETMLIM)"
        case GLP_ENOPFS: "no primal feasible solution: the program is infeasible (GLP_ENOPFS)"
        case GLP_ENODFS: "no dual feasible solution: the program is unbounded or infeasible (GLP_ENODFS)"
        default: "code \(code)"
        }
    }

    static func statusName(_ status: Int32) -> String {
        switch status {
        case GLP_UNDEF: "solution undefined (GLP_UNDEF)"
        case GLP_FEAS: "feasible, not proven optimal (GLP_FEAS)"
        case GLP_INFEAS: "infeasible (GLP_INFEAS)"
        case GLP_NOFEAS: "no feasible solution exists (GLP_NOFEAS)"
        case GLP_UNBND: "unbounded (GLP_UNBND)"
        default: "status \(status)"
        }
    }
}

extension LinearProgram.Bound {
    /// GLPK's (type, lower, upper) triple.
    var glpk: (Int32, Double, Double) {
        switch self {
        case .free: (GLP_FR, 0, 0)
        case .atLeast(let v): (GLP_LO, v, 0)
        case .atMost(let v): (GLP_UP, 0, v)
        case .between(let lower, let upper): lower == upper ? (GLP_FX, lower, upper) : (GLP_DB, lower, upper)
        case .equal(let v): (GLP_FX, v, v)
        }
    }
}
