import CBLAS
func _probe() { openblas_set_num_threads(1); var info: Int32 = 0; _ = info; info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 65, 0, 0, nil, 1, nil, nil, 1, nil, 1) }
