import GRDB
import TrainingCore

/// The columns of `results` that hold a `RunReport`, named once: the insert statement and
/// the migrations derive from this list.
enum ReportColumns {
    /// In insert order. `success` (v1) is no longer written.
    static let all = [
        "train_seconds", "train_residual", "reconstruction_error", "off_subspace_error", "oracle_distance",
        "target_distance", "gradient_norm", "oracle_norm", "balancedness", "effective_rank", "iterations",
        "converged_at", "recovered_at", "stationary_at", "diverged", "converged", "recovered", "stationary",
        "step_budget", "budget_capped", "test_error", "oracle_test_error",
        "flow_time", "loss_gap_rate", "balancedness_drift", "best_rank_gap", "support_recovered",
    ]

    /// The columns the v2 migration adds to a v1 table.
    static let addedInV2: [(String, String)] = [
        ("target_distance", "REAL"), ("gradient_norm", "REAL"), ("oracle_norm", "REAL"),
        ("recovered_at", "INTEGER"), ("stationary_at", "INTEGER"), ("converged", "INTEGER"),
        ("recovered", "INTEGER"), ("stationary", "INTEGER"), ("step_budget", "INTEGER"), ("budget_capped", "INTEGER"),
    ]

    /// The columns the v4-dynamics migration adds: the dynamics of docs/MODEL.md §3 (NULL: not measured).
    static let addedInV4: [(String, String)] = [
        ("flow_time", "REAL"), ("loss_gap_rate", "REAL"), ("balancedness_drift", "REAL"), ("best_rank_gap", "REAL"),
    ]

    /// The values of `all` for one report, in order.
    static func values(_ r: RunReport, byNoise: NoiseKeyedWriter) -> [SQLValue] {
        [
            .real(r.trainSeconds), .real(r.trainResidual), .real(r.reconstructionError),
            .real(r.offSubspaceError), .real(r.oracleDistance), .real(r.targetDistance),
            .real(r.gradientNorm), .real(r.oracleNorm), .real(r.balancedness), .int(r.effectiveRank), .int(r.iterations),
            .int(r.convergedAt), .int(r.recoveredAt), .int(r.stationaryAt), .bool(r.diverged), .bool(r.converged),
            .bool(r.recovered), .bool(r.stationary), .int(r.stepBudget), .bool(r.budgetCapped),
            .text(byNoise.text(r.testError)), .text(byNoise.text(r.oracleTestError)),
            .real(r.flowTime), .real(r.lossGapRate), .real(r.balancednessDrift), .real(r.bestRankGap),
            .bool(r.supportRecovered),
        ]
    }
}

extension Double {
    /// NaN as NULL (what SQLite would do anyway), said explicitly.
    var storable: Double? { isNaN ? nil : self }
}
