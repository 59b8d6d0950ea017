import CBLAS

/// Process-wide OpenBLAS settings.
public enum BLAS {
    /// OpenBLAS threads for the calls that follow; one per worker process is the fast
    /// layout for sweeps (many small independent problems).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }
}
