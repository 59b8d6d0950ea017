#ifndef DLSWEEP_CKERNELS_H
#define DLSWEEP_CKERNELS_H
#include <stddef.h>

/// The two passes of a reduced gradient step over one weight matrix W (n_out x n_in,
/// column-major), for thin k-column operands (k = rank(Y), a handful). BLAS gemm is slow for
/// such thin shapes; these loops stream each column of W through L1 once per pass.
/// The best version this CPU runs (AVX-512, AVX2+FMA, portable) is picked at run time.

/// TRAVERSAL. A step runs the backward product down the layers, then the update with the
/// forward product back up (GradientStep.swift), so the weights touched last by one pass are
/// the first the next pass needs: the turnaround layers and whatever of their neighbours is
/// still in L2. The update and forward product walk W's columns from the first to the last
/// (their sums run over columns in that order); the backward product, whose columns are
/// independent, walks them from the last to the first, so each pass starts where the previous
/// one ended. The blocks of columns each version takes (fours, pairs, ones) are those of a
/// forward walk, taken in reverse order: every column's sum is the same as in a forward walk,
/// to the bit.

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

/// The squared gradient norm of one layer, ‖lambda W + delta input^T‖_F² summed entry by entry
/// (no cancellation near a minimum), and back (n_in x k) = W^T delta, in one pass over W
/// (input: n_in x k). For the stationarity check, without copying W.
double dlsweep_gradient_norm(size_t n_out, size_t n_in, size_t k, const double *w, const double *delta,
                             const double *input, double lambda, double *back);

/// The instruction-set versions of the kernels, so that tests can compare each with the
/// portable loops. A variant this CPU lacks runs the portable loops.
enum {
    DLSWEEP_KERNELS_PORTABLE = 0,
    DLSWEEP_KERNELS_AVX2 = 1,
    DLSWEEP_KERNELS_AVX512 = 2,
};

/// 1 when this CPU (and OS) runs the variant.
int dlsweep_kernels_supports(int variant);

/// The variant the plain entry points use: the fastest this CPU runs, unless chosen.
int dlsweep_kernels_best(void);

/// Makes the plain entry points use `variant` (-1: back to the fastest), so that a benchmark
/// can compare the variants on the whole step; 0 if this CPU lacks it. Not for concurrent use.
int dlsweep_kernels_choose(int variant);

void dlsweep_transposed_product_variant(int variant, size_t n_out, size_t n_in, size_t k, const double *w,
                                        const double *delta, double *back);
/// With `squared_norm` (else NULL), also ‖W‖_F² of the new weights, summed block by block
/// while each is still in L1: the loss of a check without another read of W.
void dlsweep_step_and_forward_variant(int variant, size_t n_out, size_t n_in, size_t k, double *w,
                                      const double *delta, const double *old_input, const double *new_input,
                                      double decay, double eta, double *out, double *squared_norm);
/// back (n_in x k) = W^T delta from the old W, and W <- decay W - eta delta old_input^T, in one
/// pass over W, with the values of dlsweep_transposed_product_variant and then
/// dlsweep_step_and_forward_variant to the bit; with `squared_norm`, also ‖W‖_F² of the new W.
/// Only where dlsweep_back_and_update_supported (AVX-512, k <= 6): returns 0, doing nothing,
/// elsewhere.
int dlsweep_back_and_update_supported(int variant, size_t k);
int dlsweep_back_and_update_variant(int variant, size_t n_out, size_t n_in, size_t k, double *w,
                                    const double *delta, const double *old_input, double decay, double eta,
                                    double *back, double *squared_norm);
double dlsweep_gradient_norm_variant(int variant, size_t n_out, size_t n_in, size_t k, const double *w,
                                     const double *delta, const double *input, double lambda, double *back);
void dlsweep_thin_product_variant(int variant, size_t n_out, size_t n_in, size_t k, const double *w,
                                  const double *x, double *out);

/// The multiply-add rate of one thread in flop/s (an FMA counts 2) with the variant's own
/// instructions (AVX-512: 8-wide FMAs, AVX2: 4-wide; portable: plain C multiply-adds), the best
/// of rounds over about `seconds` of the thread's CPU time; 0 if this CPU lacks the variant.
/// The ceiling `dlsweep bench core` measures each variant's step against.
double dlsweep_fma_peak(int variant, double seconds);

#endif
