#ifndef DLSWEEP_CKERNELS_H
#define DLSWEEP_CKERNELS_H
#include <stddef.h>

/// The two passes of a reduced gradient step over one weight matrix W (n_out x n_in,
/// column-major), for thin k-column operands (k = rank(Y), a handful). BLAS gemm is slow for
/// such thin shapes; these loops stream each column of W through L1 once per pass.
/// An AVX2+FMA version is picked at run time when the CPU has it.

/// back (n_in x k) = W^T delta (delta: n_out x k).
void dlsweep_transposed_product(size_t n_out, size_t n_in, size_t k, const double *w,
                                const double *delta, double *back);

/// W <- decay W - eta delta old_input^T, then out (n_out x k) = W new_input, in one pass over W
/// (old_input, new_input: n_in x k).
void dlsweep_step_and_forward(size_t n_out, size_t n_in, size_t k, double *w, const double *delta,
                              const double *old_input, const double *new_input, double decay,
                              double eta, double *out);

/// out (n_out x k) = W x (x: n_in x k).
void dlsweep_thin_product(size_t n_out, size_t n_in, size_t k, const double *w, const double *x, double *out);

/// 1 when the AVX2+FMA versions are in use.
int dlsweep_kernels_use_avx2(void);

#endif
