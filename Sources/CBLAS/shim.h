#ifndef DLSWEEP_CBLAS_SHIM_H
#define DLSWEEP_CBLAS_SHIM_H
// OpenBLAS's CBLAS (with openblas_set_num_threads) and LAPACKE, the C interface to LAPACK.
#include <cblas.h>
#include <lapacke.h>
#endif
