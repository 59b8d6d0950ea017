#include "CKernels.h"
#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define DLSWEEP_HAVE_X86 1
#endif

// ---- portable versions: plain loops over contiguous columns (vectorizable without
// reassociation, except the dot products of the transposed product).

static void transposed_product_generic(size_t n_out, size_t n_in, size_t k, const double *w,
                                       const double *delta, double *back) {
    for (size_t j = n_in; j-- > 0;) {  // last column first: see TRAVERSAL in CKernels.h
        const double *col = w + j * n_out;
        for (size_t c = 0; c < k; c++) {
            const double *d = delta + c * n_out;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t i = 0;
            for (; i + 4 <= n_out; i += 4) {
                s0 += col[i] * d[i];
                s1 += col[i + 1] * d[i + 1];
                s2 += col[i + 2] * d[i + 2];
                s3 += col[i + 3] * d[i + 3];
            }
            for (; i < n_out; i++) s0 += col[i] * d[i];
            back[j + c * n_in] = (s0 + s1) + (s2 + s3);
        }
    }
}

// W's column j: decay it, add the k rank-one terms, then feed it to the forward product
// while it is still in L1. Every inner loop runs over a contiguous column.
#define STEP_AND_FORWARD_BODY                                                          \
    for (size_t x = 0; x < n_out * k; x++) out[x] = 0;                                 \
    for (size_t j = 0; j < n_in; j++) {                                                \
        double *col = w + j * n_out;                                                   \
        if (decay != 1.0)                                                              \
            for (size_t i = 0; i < n_out; i++) col[i] *= decay;                        \
        for (size_t c = 0; c < k; c++) {                                               \
            const double a = -eta * old_input[j + c * n_in];                           \
            const double *d = delta + c * n_out;                                       \
            for (size_t i = 0; i < n_out; i++) col[i] += a * d[i];                     \
        }                                                                              \
        for (size_t c = 0; c < k; c++) {                                               \
            const double b = new_input[j + c * n_in];                                  \
            double *o = out + c * n_out;                                               \
            for (size_t i = 0; i < n_out; i++) o[i] += b * col[i];                     \
        }                                                                              \
    }

static void step_and_forward_generic(size_t n_out, size_t n_in, size_t k, double *restrict w,
                                     const double *restrict delta, const double *restrict old_input,
                                     const double *restrict new_input, double decay, double eta,
                                     double *restrict out, double *squared_norm) {
    STEP_AND_FORWARD_BODY
    if (squared_norm) {
        double sum = 0;
        for (size_t t = 0; t < n_out * n_in; t++) sum += w[t] * w[t];
        *squared_norm = sum;
    }
}

static void thin_product_generic(size_t n_out, size_t n_in, size_t k, const double *restrict w,
                                 const double *restrict x, double *restrict out) {
    for (size_t t = 0; t < n_out * k; t++) out[t] = 0;
    for (size_t j = 0; j < n_in; j++) {
        const double *col = w + j * n_out;
        for (size_t c = 0; c < k; c++) {
            const double b = x[j + c * n_in];
            double *o = out + c * n_out;
            for (size_t i = 0; i < n_out; i++) o[i] += b * col[i];
        }
    }
}

// ‖λ W + Δ inputᵀ‖² entry by entry (near a minimum the two terms cancel: no expansion into
// traces), and back = Wᵀ Δ, in one pass over W.
static double gradient_norm_generic(size_t n_out, size_t n_in, size_t k, const double *w, const double *delta,
                                    const double *input, double lambda, double *back) {
    double total = 0;
    for (size_t j = 0; j < n_in; j++) {
        const double *col = w + j * n_out;
        double sum = 0;
        for (size_t i = 0; i < n_out; i++) {
            double g = lambda * col[i];
            for (size_t c = 0; c < k; c++) g += delta[c * n_out + i] * input[j + c * n_in];
            sum += g * g;
        }
        total += sum;
    }
    transposed_product_generic(n_out, n_in, k, w, delta, back);
    return total;
}

#ifdef DLSWEEP_HAVE_X86
// ---- AVX2 + FMA versions, register-blocked within 16 ymm registers.
// The k columns of the thin operands are taken in groups of at most 6 (the group's size is a
// compile-time constant, so its vectors live in registers): 2 × 6 accumulators or coefficient
// vectors, two vectors of W and a broadcast fill 15 of the 16 registers.

#define DLSWEEP_AVX2 __attribute__((target("avx2,fma")))
#define DLSWEEP_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline

// The columns of a panel (as DLSWEEP_STEP_PANEL below; no bit depends on it): 48 against 32, the
// AVX2 step 348-358 against 352-364 us on a Xeon (floor_bench's step, alternating runs); 64 is
// as fast at k = 5 and 2% faster at k = 50, 96 and wider lose.
#ifndef DLSWEEP_STEP_PANEL_AVX2
#define DLSWEEP_STEP_PANEL_AVX2 48
#endif

/// Splits k columns into groups of at most `most`, as equal as possible: the group sizes
/// (at most 6 each) in order; returns their number.
static int column_groups(size_t k, int most, int sizes[]) {
    const int count = (int)((k + (size_t)most - 1) / (size_t)most);
    for (int g = 0; g < count; g++) sizes[g] = (int)(k / (size_t)count + ((size_t)g < k % (size_t)count));
    return count;
}

/// A vector of 4 rows, or its first rows under a mask (a row tail).
DLSWEEP_AVX2_INLINE __m256d load4(const double *p, const int full, __m256i mask) {
    return full ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, mask);
}
DLSWEEP_AVX2_INLINE void store4(double *p, __m256d v, const int full, __m256i mask) {
    if (full) _mm256_storeu_pd(p, v);
    else _mm256_maskstore_pd(p, mask, v);
}

/// The lane masks of the first `rows` (0…8) rows of a block of 8.
DLSWEEP_AVX2_INLINE void tail_masks(size_t rows, __m256i *m0, __m256i *m1) {
    const __m256i lanes = _mm256_setr_epi64x(0, 1, 2, 3);
    *m0 = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)rows), lanes);
    *m1 = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)rows - 4), lanes);
}

/// Rows [i, i+8) of W's columns [j0, j1): W ← s W − η Δ_G old_Gᵀ for one group of G columns
/// of Δ and old (s = decay for the first group, 1 after). −ηΔ's 8 rows stay in 2G registers;
/// W's rows are loaded, updated and stored once per group.
DLSWEEP_AVX2_INLINE void update_block(const int G, const int full, __m256i m0, __m256i m1, size_t n_out,
                                      size_t n_in, size_t i, size_t j0, size_t j1, double *w,
                                      const double *delta, const double *old, const int scale,
                                      const int decayed, __m256d vdecay, __m256d vneg) {
    __m256d d0[6], d1[6];
    for (int c = 0; c < G; c++) {
        d0[c] = _mm256_mul_pd(vneg, load4(delta + c * n_out + i, full, m0));
        d1[c] = _mm256_mul_pd(vneg, load4(delta + c * n_out + i + 4, full, m1));
    }
    for (size_t j = j0; j < j1; j++) {
        double *col = w + j * n_out + i;
        // The same column's rows two blocks on, asked for early: W comes from L3 or beyond, in
        // many short strided streams that the hardware prefetchers follow poorly.
        if (scale) _mm_prefetch((const char *)(col + 16), _MM_HINT_T0);
        __m256d v0 = load4(col, full, m0), v1 = load4(col + 4, full, m1);
        if (scale && decayed) { v0 = _mm256_mul_pd(vdecay, v0); v1 = _mm256_mul_pd(vdecay, v1); }
        for (int c = 0; c < G; c++) {
            const __m256d a = _mm256_broadcast_sd(old + j + c * n_in);
            v0 = _mm256_fmadd_pd(a, d0[c], v0);
            v1 = _mm256_fmadd_pd(a, d1[c], v1);
        }
        store4(col, v0, full, m0);
        store4(col + 4, v1, full, m1);
    }
}

/// Rows [i, i+8) of out_G += W[:, j0..j1) x_G[j0..j1, :] for one group of G columns of x (out
/// starts from zero when `accumulate` is 0): out's 8 rows stay in 2G registers.
DLSWEEP_AVX2_INLINE void forward_block(const int G, const int full, __m256i m0, __m256i m1, size_t n_out,
                                       size_t n_in, size_t i, size_t j0, size_t j1, const double *w,
                                       const double *x, double *out, const int accumulate, const int prefetch) {
    __m256d o0[6], o1[6];
    for (int c = 0; c < G; c++) {
        o0[c] = accumulate ? load4(out + c * n_out + i, full, m0) : _mm256_setzero_pd();
        o1[c] = accumulate ? load4(out + c * n_out + i + 4, full, m1) : _mm256_setzero_pd();
    }
    for (size_t j = j0; j < j1; j++) {
        const double *col = w + j * n_out + i;
        if (prefetch) _mm_prefetch((const char *)(col + 16), _MM_HINT_T0);  // as in update_block
        const __m256d v0 = load4(col, full, m0), v1 = load4(col + 4, full, m1);
        for (int c = 0; c < G; c++) {
            const __m256d b = _mm256_broadcast_sd(x + j + c * n_in);
            o0[c] = _mm256_fmadd_pd(b, v0, o0[c]);
            o1[c] = _mm256_fmadd_pd(b, v1, o1[c]);
        }
    }
    for (int c = 0; c < G; c++) {
        store4(out + c * n_out + i, o0[c], full, m0);
        store4(out + c * n_out + i + 4, o1[c], full, m1);
    }
}

// The group size as a compile-time constant: one inlined copy of `call` per size.
#define DLSWEEP_BY_GROUP_SIZE(G, call)                                                                 \
    switch (G) {                                                                                       \
    case 1: { enum { GS = 1 }; call; } break;                                                          \
    case 2: { enum { GS = 2 }; call; } break;                                                          \
    case 3: { enum { GS = 3 }; call; } break;                                                          \
    case 4: { enum { GS = 4 }; call; } break;                                                          \
    case 5: { enum { GS = 5 }; call; } break;                                                          \
    default: { enum { GS = 6 }; call; } break;                                                         \
    }

/// The squares of a block of W just written (still in L1), added into `squares`: ‖W‖² of the
/// new weights without another pass over W, for the loss of a check.
DLSWEEP_AVX2_INLINE __m256d block_squares(__m256d squares, const int full, __m256i m0, __m256i m1, size_t n_out,
                                          size_t i, size_t j0, size_t j1, const double *w) {
    for (size_t j = j0; j < j1; j++) {
        const double *col = w + j * n_out + i;
        const __m256d v0 = load4(col, full, m0), v1 = load4(col + 4, full, m1);
        squares = _mm256_fmadd_pd(v1, v1, _mm256_fmadd_pd(v0, v0, squares));
    }
    return squares;
}

/// One block of 8 rows (or the row tail) over a panel of columns: every group's update (with
/// `update`), then every group's forward product with W's block, which is then still in L1
/// (without `update`, the thin product W x: the first group asks for W's next rows early). With
/// `squares`, the block's new values are added into it.
DLSWEEP_AVX2_INLINE void step_block(const int update, const int decayed, const int full, __m256i m0, __m256i m1,
                                    int groups, const int sizes[], size_t n_out, size_t n_in, size_t i, size_t j0,
                                    size_t j1, double *w, const double *delta, const double *old_input, const double *x,
                                    __m256d vdecay, __m256d vneg, double *out, __m256d *squares) {
    size_t c0 = 0;
    if (update)
        for (int g = 0; g < groups; c0 += (size_t)sizes[g], g++)
            DLSWEEP_BY_GROUP_SIZE(sizes[g], update_block(GS, full, m0, m1, n_out, n_in, i, j0, j1, w, delta + c0 * n_out,
                                                         old_input + c0 * n_in, g == 0, decayed, vdecay, vneg))
    c0 = 0;
    for (int g = 0; g < groups; c0 += (size_t)sizes[g], g++)
        DLSWEEP_BY_GROUP_SIZE(sizes[g], forward_block(GS, full, m0, m1, n_out, n_in, i, j0, j1, w, x + c0 * n_in,
                                                      out + c0 * n_out, j0 != 0, !update && g == 0))
    if (squares) *squares = block_squares(*squares, full, m0, m1, n_out, i, j0, j1, w);
}

/// In blocks of 8 rows × DLSWEEP_STEP_PANEL_AVX2 columns of W: with `update`, the update and
/// the forward product (W is read and written once, from wherever it is; the block's second
/// touch is in L1), else out = W x alone (W is not written).
DLSWEEP_AVX2_INLINE void blocked_avx2(const int update, const int decayed, size_t n_out, size_t n_in, size_t k,
                                      double *w, const double *delta, const double *old_input, const double *x,
                                      double decay, double eta, double *out, double *squared_norm) {
    __m256d squares = _mm256_setzero_pd(), *sums = squared_norm ? &squares : NULL;
    int sizes[64];
    const int groups = column_groups(k, 6, sizes);
    const __m256d vdecay = _mm256_set1_pd(decay), vneg = _mm256_set1_pd(-eta);
    const __m256i all = _mm256_set1_epi64x(-1);
    __m256i t0, t1;
    const size_t full = n_out & ~(size_t)7;
    tail_masks(n_out - full, &t0, &t1);
    for (size_t j0 = 0; j0 < n_in; j0 += DLSWEEP_STEP_PANEL_AVX2) {
        const size_t j1 = j0 + DLSWEEP_STEP_PANEL_AVX2 < n_in ? j0 + DLSWEEP_STEP_PANEL_AVX2 : n_in;
        for (size_t i = 0; i < full; i += 8)
            step_block(update, decayed, 1, all, all, groups, sizes, n_out, n_in, i, j0, j1, w, delta, old_input, x,
                       vdecay, vneg, out, sums);
        if (full < n_out)
            step_block(update, decayed, 0, t0, t1, groups, sizes, n_out, n_in, full, j0, j1, w, delta, old_input, x,
                       vdecay, vneg, out, sums);
    }
    if (squared_norm) {
        __m128d half = _mm_add_pd(_mm256_castpd256_pd128(squares), _mm256_extractf128_pd(squares, 1));
        *squared_norm = _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half)));
    }
}

/// The groups of k columns fit `sizes` (64 groups of 6); beyond, and without work, the portable loops.
#define DLSWEEP_AVX2_HANDLES(k, n_in) ((k) > 0 && (n_in) > 0 && (k) <= 6 * 64)

DLSWEEP_AVX2 static void step_and_forward_avx2(size_t n_out, size_t n_in, size_t k, double *restrict w,
                                               const double *restrict delta, const double *restrict old_input,
                                               const double *restrict new_input, double decay, double eta,
                                               double *restrict out, double *squared_norm) {
    if (!DLSWEEP_AVX2_HANDLES(k, n_in))
        step_and_forward_generic(n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
    else if (decay == 1)  // no weight decay, or a caller that keeps it in a scale (GradientStep.swift)
        blocked_avx2(1, 0, n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
    else
        blocked_avx2(1, 1, n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
}

DLSWEEP_AVX2 static void thin_product_avx2(size_t n_out, size_t n_in, size_t k, const double *restrict w,
                                           const double *restrict x, double *restrict out) {
    if (!DLSWEEP_AVX2_HANDLES(k, n_in))
        thin_product_generic(n_out, n_in, k, w, x, out);
    else  // W is only read: without `update` nothing is written through the pointer.
        blocked_avx2(0, 0, n_out, n_in, k, (double *)w, NULL, NULL, x, 1, 0, out, NULL);
}

/// back[j..j+J, group] = W[:, j..j+J)ᵀ Δ_G: J columns of W against one group of G columns of Δ,
/// J·G ≤ 12 accumulators; each load of Δ serves J FMAs, each load of W G. The J columns before
/// j are asked for early: the product walks W from its last column to its first.
DLSWEEP_AVX2_INLINE void transposed_block(const int G, const int J, size_t n_out, size_t n_in, size_t j,
                                          const double *w, const double *delta, double *back, size_t full,
                                          __m256i tail) {
    __m256d acc[4][6];
    for (int q = 0; q < J; q++)
        for (int c = 0; c < G; c++) acc[q][c] = _mm256_setzero_pd();
    for (size_t i = 0; i < full; i += 4) {
        __m256d v[4];
        for (int q = 0; q < J; q++) v[q] = _mm256_loadu_pd(w + (j + q) * n_out + i);
        // The next J columns' rows, one cache line per 8 rows (the streams run from L3 at
        // its bandwidth only with more requests in flight than the prefetchers make).
        if (i % 8 == 0 && j >= (size_t)J)
            for (int q = 0; q < J; q++) _mm_prefetch((const char *)(w + (j - J + q) * n_out + i), _MM_HINT_T0);
        for (int c = 0; c < G; c++) {
            const __m256d d = _mm256_loadu_pd(delta + c * n_out + i);
            for (int q = 0; q < J; q++) acc[q][c] = _mm256_fmadd_pd(v[q], d, acc[q][c]);
        }
    }
    if (full < n_out) {
        __m256d v[4];
        for (int q = 0; q < J; q++) v[q] = _mm256_maskload_pd(w + (j + q) * n_out + full, tail);
        for (int c = 0; c < G; c++) {
            const __m256d d = _mm256_maskload_pd(delta + c * n_out + full, tail);
            for (int q = 0; q < J; q++) acc[q][c] = _mm256_fmadd_pd(v[q], d, acc[q][c]);
        }
    }
    // The J sums of each column of Δ, stored together.
    for (int c = 0; c < G; c++) {
        double *b = back + j + c * n_in;
        if (J == 4) {
            const __m256d h01 = _mm256_hadd_pd(acc[0][c], acc[1][c]), h23 = _mm256_hadd_pd(acc[2][c], acc[3][c]);
            _mm256_storeu_pd(b, _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),
                                              _mm256_permute2f128_pd(h01, h23, 0x31)));
        } else if (J == 2) {
            const __m256d h = _mm256_hadd_pd(acc[0][c], acc[1][c]);
            _mm_storeu_pd(b, _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1)));
        } else {
            const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(acc[0][c]), _mm256_extractf128_pd(acc[0][c], 1));
            b[0] = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
        }
    }
}

/// back = Wᵀ Δ: four columns of W at a time for k ≤ 3, else two, against groups of at most 6
/// columns of Δ (W's columns are re-read from L1 for each further group).
DLSWEEP_AVX2 static void transposed_product_avx2(size_t n_out, size_t n_in, size_t k, const double *restrict w,
                                                 const double *restrict delta, double *restrict back) {
    int sizes[64];
    if (!DLSWEEP_AVX2_HANDLES(k, n_in)) { transposed_product_generic(n_out, n_in, k, w, delta, back); return; }
    const int groups = column_groups(k, 6, sizes);
    const size_t full = n_out & ~(size_t)3;
    const __m256i tail = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n_out - full)), _mm256_setr_epi64x(0, 1, 2, 3));
    // Columns [0, quads) in blocks of four (k ≤ 3), [quads, pairs) in pairs, the rest one by one,
    // walked from the last block to the first (TRAVERSAL in CKernels.h).
    const size_t quads = k <= 3 ? n_in & ~(size_t)3 : 0;
    const size_t pairs = quads + ((n_in - quads) & ~(size_t)1);
    for (size_t j = n_in; j-- > pairs;) {
        size_t c0 = 0;
        for (int g = 0; g < groups; c0 += (size_t)sizes[g], g++)
            DLSWEEP_BY_GROUP_SIZE(sizes[g], transposed_block(GS, 1, n_out, n_in, j, w, delta + c0 * n_out,
                                                             back + c0 * n_in, full, tail))
    }
    for (size_t j = pairs; j > quads;) {
        j -= 2;
        size_t c0 = 0;
        for (int g = 0; g < groups; c0 += (size_t)sizes[g], g++)
            DLSWEEP_BY_GROUP_SIZE(sizes[g], transposed_block(GS, 2, n_out, n_in, j, w, delta + c0 * n_out,
                                                             back + c0 * n_in, full, tail))
    }
    for (size_t j = quads; j > 0;) {
        j -= 4;
        DLSWEEP_BY_GROUP_SIZE(k, transposed_block(GS < 3 ? GS : 3, 4, n_out, n_in, j, w, delta, back, full, tail))
    }
}

/// Rows [i, i+4) of J columns of W from j: adds the squares of λ W + Δ inputᵀ to `total`.
DLSWEEP_AVX2_INLINE void gradient_rows_avx2(const int J, const int whole, __m256i mask, size_t n_out, size_t n_in,
                                            size_t k, size_t j, size_t i, const double *w, const double *delta,
                                            const double *input, __m256d vlambda, __m256d total[4]) {
    __m256d g[4];
    for (int q = 0; q < J; q++) g[q] = _mm256_mul_pd(vlambda, load4(w + (j + q) * n_out + i, whole, mask));
    for (size_t c = 0; c < k; c++) {
        const __m256d d = load4(delta + c * n_out + i, whole, mask);
        for (int q = 0; q < J; q++) g[q] = _mm256_fmadd_pd(d, _mm256_broadcast_sd(input + j + q + c * n_in), g[q]);
    }
    for (int q = 0; q < J; q++) total[q] = _mm256_fmadd_pd(g[q], g[q], total[q]);
}

/// The gradient norm for k > 8, as the AVX-512 `gradient_norm_avx512_groups`: four columns of W
/// at a time, then back = Wᵀ Δ in a second pass.
DLSWEEP_AVX2 static double gradient_norm_avx2_groups(size_t n_out, size_t n_in, size_t k, const double *restrict w,
                                                     const double *restrict delta, const double *restrict input,
                                                     double lambda, double *restrict back) {
    if (!DLSWEEP_AVX2_HANDLES(k, n_in)) return gradient_norm_generic(n_out, n_in, k, w, delta, input, lambda, back);
    const __m256d vlambda = _mm256_set1_pd(lambda);
    const size_t full = n_out & ~(size_t)3;
    const __m256i all = _mm256_set1_epi64x(-1);
    const __m256i tail = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n_out - full)), _mm256_setr_epi64x(0, 1, 2, 3));
    __m256d total[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
    size_t j = 0;
    for (; j + 4 <= n_in; j += 4) {
        for (size_t i = 0; i < full; i += 4)
            gradient_rows_avx2(4, 1, all, n_out, n_in, k, j, i, w, delta, input, vlambda, total);
        if (full < n_out) gradient_rows_avx2(4, 0, tail, n_out, n_in, k, j, full, w, delta, input, vlambda, total);
    }
    for (; j < n_in; j++) {
        for (size_t i = 0; i < full; i += 4)
            gradient_rows_avx2(1, 1, all, n_out, n_in, k, j, i, w, delta, input, vlambda, total);
        if (full < n_out) gradient_rows_avx2(1, 0, tail, n_out, n_in, k, j, full, w, delta, input, vlambda, total);
    }
    transposed_product_avx2(n_out, n_in, k, w, delta, back);
    const __m256d sum = _mm256_add_pd(_mm256_add_pd(total[0], total[1]), _mm256_add_pd(total[2], total[3]));
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(sum), _mm256_extractf128_pd(sum, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

// The gradient norm of a layer and Wᵀ Δ together (as the AVX-512 version below), one column
// of W at a time, k accumulators and k broadcast inputs in registers.
#define DEFINE_GRADIENT_NORM_AVX2(K)                                                                   \
__attribute__((target("avx2,fma")))                                                                    \
static double gradient_norm_avx2_##K(size_t n_out, size_t n_in, const double *restrict w,               \
                                     const double *restrict delta, const double *restrict input,       \
                                     double lambda, double *restrict back) {                           \
    const __m256d vlambda = _mm256_set1_pd(lambda);                                                    \
    __m256d total = _mm256_setzero_pd();                                                               \
    double rest = 0;                                                                                   \
    for (size_t j = 0; j < n_in; j++) {                                                                \
        const double *col = w + j * n_out;                                                             \
        __m256d a[K], b[K];                                                                            \
        for (int c = 0; c < K; c++) { a[c] = _mm256_setzero_pd(); b[c] = _mm256_set1_pd(input[j + c * n_in]); } \
        size_t i = 0;                                                                                  \
        for (; i + 4 <= n_out; i += 4) {                                                               \
            const __m256d v = _mm256_loadu_pd(col + i);                                                \
            __m256d g = _mm256_mul_pd(vlambda, v);                                                     \
            for (int c = 0; c < K; c++) {                                                              \
                const __m256d d = _mm256_loadu_pd(delta + c * n_out + i);                              \
                g = _mm256_fmadd_pd(d, b[c], g);                                                       \
                a[c] = _mm256_fmadd_pd(v, d, a[c]);                                                    \
            }                                                                                          \
            total = _mm256_fmadd_pd(g, g, total);                                                      \
        }                                                                                              \
        for (size_t t = i; t < n_out; t++) {                                                           \
            double g = lambda * col[t];                                                                \
            for (int c = 0; c < K; c++) g += delta[c * n_out + t] * input[j + c * n_in];               \
            rest += g * g;                                                                             \
        }                                                                                              \
        for (int c = 0; c < K; c++) {                                                                  \
            double r[4];                                                                               \
            _mm256_storeu_pd(r, a[c]);                                                                 \
            double sum = (r[0] + r[1]) + (r[2] + r[3]);                                                \
            for (size_t t = i; t < n_out; t++) sum += col[t] * delta[c * n_out + t];                   \
            back[j + c * n_in] = sum;                                                                  \
        }                                                                                              \
    }                                                                                                  \
    double r[4];                                                                                       \
    _mm256_storeu_pd(r, total);                                                                        \
    return ((r[0] + r[1]) + (r[2] + r[3])) + rest;                                                     \
}
DEFINE_GRADIENT_NORM_AVX2(1)
DEFINE_GRADIENT_NORM_AVX2(2)
DEFINE_GRADIENT_NORM_AVX2(3)
DEFINE_GRADIENT_NORM_AVX2(4)
DEFINE_GRADIENT_NORM_AVX2(5)
DEFINE_GRADIENT_NORM_AVX2(6)
DEFINE_GRADIENT_NORM_AVX2(7)
DEFINE_GRADIENT_NORM_AVX2(8)

// ---- AVX-512 versions (k = 1…6; wider k keeps the AVX2 loops, whose registers suffice).
// 32 vector registers let a block of W stay in registers across all k columns of the thin
// operands, and masked loads handle the row tails without scalar loops.

#define DLSWEEP_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,fma")))

/// The sums of four vectors, as one vector [Σa, Σb, Σc, Σd].
DLSWEEP_AVX512 static inline __m256d sum4_512(__m512d a, __m512d b, __m512d c, __m512d d) {
    __m256d ta = _mm256_add_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd(a, 1));
    __m256d tb = _mm256_add_pd(_mm512_castpd512_pd256(b), _mm512_extractf64x4_pd(b, 1));
    __m256d tc = _mm256_add_pd(_mm512_castpd512_pd256(c), _mm512_extractf64x4_pd(c, 1));
    __m256d td = _mm256_add_pd(_mm512_castpd512_pd256(d), _mm512_extractf64x4_pd(d, 1));
    __m256d hab = _mm256_hadd_pd(ta, tb), hcd = _mm256_hadd_pd(tc, td);
    return _mm256_add_pd(_mm256_permute2f128_pd(hab, hcd, 0x20), _mm256_permute2f128_pd(hab, hcd, 0x31));
}

// back = Wᵀ Δ, four columns of W at a time: each load of Δ serves four FMAs and the 4k sums
// are reduced together and stored as one vector per column of back. Columns [0, quads) go in
// fours, the rest one by one, walked from the last to the first (TRAVERSAL in CKernels.h).
#define DEFINE_TRANSPOSED_512(K)                                                                       \
DLSWEEP_AVX512 static void transposed_product_avx512_##K(size_t n_out, size_t n_in, const double *restrict w, \
                                                         const double *restrict delta, double *restrict back) { \
    const size_t full = n_out & ~(size_t)7;                                                            \
    const __mmask8 tail = (__mmask8)((1u << (n_out - full)) - 1);                                      \
    const size_t quads = n_in & ~(size_t)3;                                                            \
    for (size_t j = n_in; j-- > quads;) {                                                              \
        const double *col = w + j * n_out;                                                             \
        __m512d a[K];                                                                                  \
        for (int c = 0; c < K; c++) a[c] = _mm512_setzero_pd();                                        \
        for (size_t i = 0; i < n_out; i += 8) {                                                        \
            const __mmask8 m = n_out - i >= 8 ? 0xFF : tail;                                           \
            __m512d v = _mm512_maskz_loadu_pd(m, col + i);                                             \
            for (int c = 0; c < K; c++) a[c] = _mm512_fmadd_pd(v, _mm512_maskz_loadu_pd(m, delta + c * n_out + i), a[c]); \
        }                                                                                              \
        for (int c = 0; c < K; c++) back[j + c * n_in] = _mm512_reduce_add_pd(a[c]);                   \
    }                                                                                                  \
    for (size_t j = quads; j > 0;) {                                                                   \
        j -= 4;                                                                                        \
        const double *c0 = w + j * n_out, *c1 = c0 + n_out, *c2 = c1 + n_out, *c3 = c2 + n_out;        \
        /* the four columns before these, next in this walk (or these again at the first) */          \
        const double *p = j >= 4 ? c0 - 4 * n_out : c0;                                                \
        __m512d a0[K], a1[K], a2[K], a3[K];                                                            \
        for (int c = 0; c < K; c++) a0[c] = a1[c] = a2[c] = a3[c] = _mm512_setzero_pd();              \
        for (size_t i = 0; i < full; i += 8) {                                                         \
            _mm_prefetch((const char *)(p + i), _MM_HINT_T0);                                          \
            _mm_prefetch((const char *)(p + n_out + i), _MM_HINT_T0);                                  \
            _mm_prefetch((const char *)(p + 2 * n_out + i), _MM_HINT_T0);                              \
            _mm_prefetch((const char *)(p + 3 * n_out + i), _MM_HINT_T0);                              \
            __m512d v0 = _mm512_loadu_pd(c0 + i), v1 = _mm512_loadu_pd(c1 + i);                        \
            __m512d v2 = _mm512_loadu_pd(c2 + i), v3 = _mm512_loadu_pd(c3 + i);                        \
            for (int c = 0; c < K; c++) {                                                              \
                __m512d d = _mm512_loadu_pd(delta + c * n_out + i);                                    \
                a0[c] = _mm512_fmadd_pd(v0, d, a0[c]); a1[c] = _mm512_fmadd_pd(v1, d, a1[c]);          \
                a2[c] = _mm512_fmadd_pd(v2, d, a2[c]); a3[c] = _mm512_fmadd_pd(v3, d, a3[c]);          \
            }                                                                                          \
        }                                                                                              \
        if (tail) {                                                                                    \
            __m512d v0 = _mm512_maskz_loadu_pd(tail, c0 + full), v1 = _mm512_maskz_loadu_pd(tail, c1 + full); \
            __m512d v2 = _mm512_maskz_loadu_pd(tail, c2 + full), v3 = _mm512_maskz_loadu_pd(tail, c3 + full); \
            for (int c = 0; c < K; c++) {                                                              \
                __m512d d = _mm512_maskz_loadu_pd(tail, delta + c * n_out + full);                     \
                a0[c] = _mm512_fmadd_pd(v0, d, a0[c]); a1[c] = _mm512_fmadd_pd(v1, d, a1[c]);          \
                a2[c] = _mm512_fmadd_pd(v2, d, a2[c]); a3[c] = _mm512_fmadd_pd(v3, d, a3[c]);          \
            }                                                                                          \
        }                                                                                              \
        for (int c = 0; c < K; c++) _mm256_storeu_pd(back + j + c * n_in, sum4_512(a0[c], a1[c], a2[c], a3[c])); \
    }                                                                                                  \
}
DEFINE_TRANSPOSED_512(1)
DEFINE_TRANSPOSED_512(2)
DEFINE_TRANSPOSED_512(3)
DEFINE_TRANSPOSED_512(4)
DEFINE_TRANSPOSED_512(5)
DEFINE_TRANSPOSED_512(6)

// back = Wᵀ Δ from the old values, and W ← decay W − η Δ oldᵀ, in one pass over W: for the layer
// at the bottom turnaround, whose backward product streams it from L3 with the FMA units half
// idle, while its update with the forward product then found it in L2 and was bound by them; the
// up pass is left W x alone. Two columns at a time (their 2k coefficients of old in registers,
// 2k accumulators), from the last column to the first (TRAVERSAL); one at a time for the columns
// past the last four. Every sum runs in the order of transposed_product_avx512_K and
// step_and_forward_avx512_K (the column sums reduced by the same tree), so back and W are those
// kernels' to the bit. With `squared_norm`, also ‖W‖² of the new weights.
#define BACK_UPDATE_512_ROWS(J, M, I, DECAYED)                                                         \
    {                                                                                                  \
        __m512d v[J], u[J];                                                                            \
        for (int q = 0; q < J; q++) {                                                                  \
            v[q] = _mm512_maskz_loadu_pd(M, col[q] + (I));                                             \
            u[q] = DECAYED ? _mm512_mul_pd(vdecay, v[q]) : v[q];                                       \
        }                                                                                              \
        for (int c = 0; c < K; c++) {                                                                  \
            const __m512d d = _mm512_maskz_loadu_pd(M, delta + c * n_out + (I)), nd = _mm512_mul_pd(vneg, d); \
            for (int q = 0; q < J; q++) {                                                              \
                acc[q][c] = _mm512_fmadd_pd(v[q], d, acc[q][c]);                                       \
                u[q] = _mm512_fmadd_pd(a[q][c], nd, u[q]);                                             \
            }                                                                                          \
        }                                                                                              \
        for (int q = 0; q < J; q++) {                                                                  \
            _mm512_mask_storeu_pd(col[q] + (I), M, u[q]);                                              \
            if (squared_norm) squares = _mm512_fmadd_pd(u[q], u[q], squares);                          \
        }                                                                                              \
    }

#define BACK_UPDATE_512_COLUMNS(J, J0, DECAYED)                                                        \
    {                                                                                                  \
        double *col[J];                                                                                \
        __m512d acc[J][K], a[J][K];                                                                    \
        for (int q = 0; q < J; q++) {                                                                  \
            col[q] = w + (J0 + (size_t)q) * n_out;                                                     \
            for (int c = 0; c < K; c++) {                                                              \
                acc[q][c] = _mm512_setzero_pd();                                                       \
                a[q][c] = _mm512_set1_pd(old_input[J0 + (size_t)q + c * n_in]);                        \
            }                                                                                          \
        }                                                                                              \
        /* the two columns before these, next in this walk */                                        \
        const double *p = J0 >= 2 ? col[0] - 2 * n_out : col[0];                                       \
        for (size_t i = 0; i < full; i += 8) {                                                         \
            _mm_prefetch((const char *)(p + i), _MM_HINT_T0);                                          \
            _mm_prefetch((const char *)(p + n_out + i), _MM_HINT_T0);                                  \
            BACK_UPDATE_512_ROWS(J, 0xFF, i, DECAYED)                                                  \
        }                                                                                              \
        if (tail) BACK_UPDATE_512_ROWS(J, tail, full, DECAYED)                                         \
        for (int c = 0; c < K; c++) {                                                                  \
            if (J == 1) back[J0 + c * n_in] = _mm512_reduce_add_pd(acc[0][c]);                         \
            else _mm_storeu_pd(back + J0 + c * n_in,                                                   \
                               _mm256_castpd256_pd128(sum4_512(acc[0][c], acc[J - 1][c], acc[0][c], acc[J - 1][c]))); \
        }                                                                                              \
    }

// The columns past the last four one by one, then pairs, from the last column to the first.
#define BACK_UPDATE_512_WALK(DECAYED)                                                                  \
    {                                                                                                  \
        for (size_t j = n_in; j-- > quads;) BACK_UPDATE_512_COLUMNS(1, j, DECAYED)                     \
        for (size_t j = quads; j > 0;) {                                                               \
            j -= 2;                                                                                    \
            BACK_UPDATE_512_COLUMNS(2, j, DECAYED)                                                     \
        }                                                                                              \
    }

#define DEFINE_BACK_AND_UPDATE_512(KK)                                                                 \
DLSWEEP_AVX512 static void back_and_update_avx512_##KK(size_t n_out, size_t n_in, double *restrict w,   \
                                                       const double *restrict delta,                  \
                                                       const double *restrict old_input, double decay, \
                                                       double eta, double *restrict back, double *squared_norm) { \
    enum { K = KK };                                                                                   \
    const __m512d vdecay = _mm512_set1_pd(decay), vneg = _mm512_set1_pd(-eta);                         \
    const size_t full = n_out & ~(size_t)7, quads = n_in & ~(size_t)3;                                 \
    const __mmask8 tail = (__mmask8)((1u << (n_out - full)) - 1);                                      \
    __m512d squares = _mm512_setzero_pd();                                                             \
    if (decay == 1) BACK_UPDATE_512_WALK(0) /* no multiply by the decay: GradientStep keeps it in a scale */ \
    else BACK_UPDATE_512_WALK(1)                                                                       \
    if (squared_norm) *squared_norm = _mm512_reduce_add_pd(squares);                                   \
}
DEFINE_BACK_AND_UPDATE_512(1)
DEFINE_BACK_AND_UPDATE_512(2)
DEFINE_BACK_AND_UPDATE_512(3)
DEFINE_BACK_AND_UPDATE_512(4)
DEFINE_BACK_AND_UPDATE_512(5)
DEFINE_BACK_AND_UPDATE_512(6)

// `p + i` for a row offset i that may be negative (the first block of an aligned walk starts
// before row 0; its lanes there are masked off and never touched), in integer arithmetic.
#define DLSWEEP_AT(p, i) ((__typeof__(p))((uintptr_t)(p) + (uintptr_t)(intptr_t)(i) * sizeof(double)))

/// The lanes of rows [s, s + 8) that lie in [0, n): which rows of a block exist.
static inline __mmask8 row_mask(ptrdiff_t s, size_t n) {
    const ptrdiff_t below = s < 0 ? -s : 0, above = (ptrdiff_t)n - s;
    if (below >= 8 || above <= 0) return 0;
    const unsigned high = above >= 8 ? 0xFFu : (1u << above) - 1;
    return (__mmask8)((0xFFu << below) & high);
}

/// The blocks of 16 rows of a pass over W that start where W's 64-byte lines do: a masked first
/// block from `first` (< 0) when W starts inside a line, whole blocks [whole, last), and a masked
/// last block from `last` when rows remain. A `Matrix` starts a line (MatrixStorage.swift), but
/// a caller's buffer need not (a Swift array's large buffer starts 48 bytes into one), and
/// blocks from row 0 would then make every load and store of W span two lines. The blocks move
/// only when every column starts at the same place in a line (n_out a multiple of 8).
struct line_blocks {
    ptrdiff_t first, whole, last;
    __mmask8 h0, h1, t0, t1;  // the first and the last block's lanes
};

static inline struct line_blocks line_blocks_of(const double *w, size_t n_out) {
    struct line_blocks b;
    b.first = n_out % 8 == 0 ? -(ptrdiff_t)(((uintptr_t)w / sizeof(double)) % 8) : 0;
    b.whole = b.first < 0 ? b.first + 16 : 0;
    b.last = b.whole >= (ptrdiff_t)n_out ? b.whole : b.whole + (ptrdiff_t)((n_out - (size_t)b.whole) & ~(size_t)15);
    b.h0 = row_mask(b.first, n_out);
    b.h1 = row_mask(b.first + 8, n_out);
    b.t0 = row_mask(b.last, n_out);
    b.t1 = row_mask(b.last + 8, n_out);
    return b;
}

// One block of 16 rows of W (from row i, which may be negative) over the columns [j0, j1): -η Δ
// and the output rows stay in registers, W's 16 rows are loaded, updated, stored and fed to the
// forward product at once. Each output row is a sum over the columns in order, whatever rows a
// block holds: where the blocks start does not change the result.
#define STEP_512_BLOCK(K, M0, M1, DECAYED)                                                             \
    {                                                                                                  \
        __m512d d0[K], d1[K], o0[K], o1[K];                                                            \
        for (int c = 0; c < K; c++) {                                                                  \
            const double *dc = DLSWEEP_AT(delta + c * n_out, i);                                       \
            double *oc = DLSWEEP_AT(out + c * n_out, i);                                               \
            d0[c] = _mm512_mul_pd(vneg, _mm512_maskz_loadu_pd(M0, dc));                                \
            d1[c] = _mm512_mul_pd(vneg, _mm512_maskz_loadu_pd(M1, dc + 8));                            \
            o0[c] = j0 == 0 ? _mm512_setzero_pd() : _mm512_maskz_loadu_pd(M0, oc);                     \
            o1[c] = j0 == 0 ? _mm512_setzero_pd() : _mm512_maskz_loadu_pd(M1, oc + 8);                 \
        }                                                                                              \
        for (size_t j = j0; j < j1; j++) {                                                             \
            double *col = DLSWEEP_AT(w + j * n_out, i);                                                \
            const double *ahead = prefetch_target(col, i, j, n_out, n_in, DLSWEEP_STEP_PANEL, 32);     \
            _mm_prefetch((const char *)ahead, _MM_HINT_T0);                                            \
            _mm_prefetch((const char *)(ahead + 8), _MM_HINT_T0);                                      \
            __m512d v0 = _mm512_maskz_loadu_pd(M0, col), v1 = _mm512_maskz_loadu_pd(M1, col + 8);      \
            if (DECAYED) { v0 = _mm512_mul_pd(vdecay, v0); v1 = _mm512_mul_pd(vdecay, v1); }            \
            for (int c = 0; c < K; c++) {                                                              \
                const __m512d a = _mm512_set1_pd(old_input[j + c * n_in]);                             \
                v0 = _mm512_fmadd_pd(a, d0[c], v0); v1 = _mm512_fmadd_pd(a, d1[c], v1);                \
            }                                                                                          \
            _mm512_mask_storeu_pd(col, M0, v0); _mm512_mask_storeu_pd(col + 8, M1, v1);                \
            for (int c = 0; c < K; c++) {                                                              \
                const __m512d b = _mm512_set1_pd(new_input[j + c * n_in]);                             \
                o0[c] = _mm512_fmadd_pd(b, v0, o0[c]); o1[c] = _mm512_fmadd_pd(b, v1, o1[c]);          \
            }                                                                                          \
        }                                                                                              \
        for (int c = 0; c < K; c++) {                                                                  \
            double *oc = DLSWEEP_AT(out + c * n_out, i);                                               \
            _mm512_mask_storeu_pd(oc, M0, o0[c]);                                                      \
            _mm512_mask_storeu_pd(oc + 8, M1, o1[c]);                                                  \
        }                                                                                              \
        if (squared_norm) squares = block_squares_512(squares, M0, M1, n_out, i, j0, j1, w);           \
    }

// The columns of W a block of rows runs over before its output rows are stored (their values
// round-trip exactly, so the panel changes no bit). 48 against 16: the noisy step (k = 50)
// 1.84–1.86 ms against 1.96–2.00, the noiseless one 0.254–0.255 against 0.258–0.271 ms on a
// Xeon with 2 MiB of L2 (docs/PERFORMANCE.md); 128 and wider lose (0.265, 0.281 ms).
#ifndef DLSWEEP_STEP_PANEL
#define DLSWEEP_STEP_PANEL 48
#endif

/// Where a pass over W in panels of columns asks for W's lines early: the same column's rows
/// `ahead` on, or, in a panel's last blocks (where those rows are past the column's end), the
/// same rows of the column one panel on, which the walk reaches next; the first blocks of each
/// panel used to start cold (about 2% of the AVX-512 step; the AVX2 kernels, bound by their FMAs,
/// lost as much to the test and keep the plain offset). Prefetches change no value.
static inline const double *prefetch_target(const double *col, ptrdiff_t i, size_t j, size_t n_out, size_t n_in,
                                            size_t panel, ptrdiff_t ahead) {
    if (i + ahead < (ptrdiff_t)n_out || j + panel >= n_in) return col + ahead;
    return col + (ptrdiff_t)(panel - 1) * (ptrdiff_t)n_out + ahead;
}

/// The squares of a block of 16 rows of W just written (still in L1), added into `squares`, as
/// the AVX2 block_squares.
__attribute__((target("avx512f,avx512vl,avx512dq,fma"), always_inline)) static inline __m512d
block_squares_512(__m512d squares, __mmask8 m0, __mmask8 m1, size_t n_out, ptrdiff_t i, size_t j0, size_t j1,
                  const double *w) {
    for (size_t j = j0; j < j1; j++) {
        const double *col = DLSWEEP_AT(w + j * n_out, i);
        const __m512d v0 = _mm512_maskz_loadu_pd(m0, col), v1 = _mm512_maskz_loadu_pd(m1, col + 8);
        squares = _mm512_fmadd_pd(v1, v1, _mm512_fmadd_pd(v0, v0, squares));
    }
    return squares;
}

// The blocks start where W's 64-byte lines do (line_blocks), so no load or store of W spans two
// lines: a masked first block, whole blocks, a masked last block.
#define STEP_512_WALK(K, DECAYED)                                                                      \
    for (size_t j0 = 0; j0 < n_in; j0 += DLSWEEP_STEP_PANEL) {                                         \
        const size_t j1 = j0 + DLSWEEP_STEP_PANEL < n_in ? j0 + DLSWEEP_STEP_PANEL : n_in;             \
        ptrdiff_t i = b.first;                                                                         \
        if (b.first < 0) { STEP_512_BLOCK(K, b.h0, b.h1, DECAYED) i = b.whole; }                       \
        for (; i < b.last; i += 16) STEP_512_BLOCK(K, 0xFF, 0xFF, DECAYED)                             \
        if (b.last < (ptrdiff_t)n_out) STEP_512_BLOCK(K, b.t0, b.t1, DECAYED)                          \
    }

#define DEFINE_STEP_AND_FORWARD_512(K)                                                                 \
DLSWEEP_AVX512 static void step_and_forward_avx512_##K(size_t n_out, size_t n_in, double *restrict w,    \
                                                       const double *restrict delta, const double *restrict old_input, \
                                                       const double *restrict new_input, double decay, double eta, \
                                                       double *restrict out, double *squared_norm) {   \
    const __m512d vdecay = _mm512_set1_pd(decay), vneg = _mm512_set1_pd(-eta);                         \
    const struct line_blocks b = line_blocks_of(w, n_out);                                             \
    __m512d squares = _mm512_setzero_pd();                                                             \
    if (n_in == 0) { for (size_t t = 0; t < n_out * K; t++) out[t] = 0; }                              \
    if (decay == 1) STEP_512_WALK(K, 0) /* no multiply by the decay: GradientStep keeps it in a scale */ \
    else STEP_512_WALK(K, 1)                                                                           \
    if (squared_norm) *squared_norm = _mm512_reduce_add_pd(squares);                                   \
}
DEFINE_STEP_AND_FORWARD_512(1)
DEFINE_STEP_AND_FORWARD_512(2)
DEFINE_STEP_AND_FORWARD_512(3)
DEFINE_STEP_AND_FORWARD_512(4)
DEFINE_STEP_AND_FORWARD_512(5)
DEFINE_STEP_AND_FORWARD_512(6)
// out = W x in blocks of 16 rows × 16 columns of W (from row i, which may be negative: the
// blocks start where W's lines do, as the update's): the block's k output columns stay in
// registers, x's coefficients are broadcast from memory.
#define THIN_512_BLOCK(K, M0, M1)                                                                      \
    {                                                                                                  \
        __m512d o0[K], o1[K];                                                                          \
        for (int c = 0; c < K; c++) {                                                                  \
            const double *oc = DLSWEEP_AT(out + c * n_out, i);                                         \
            o0[c] = j0 == 0 ? _mm512_setzero_pd() : _mm512_maskz_loadu_pd(M0, oc);                     \
            o1[c] = j0 == 0 ? _mm512_setzero_pd() : _mm512_maskz_loadu_pd(M1, oc + 8);                 \
        }                                                                                              \
        for (size_t j = j0; j < j1; j++) {                                                             \
            const double *col = DLSWEEP_AT(w + j * n_out, i);                                          \
            const __m512d v0 = _mm512_maskz_loadu_pd(M0, col), v1 = _mm512_maskz_loadu_pd(M1, col + 8);\
            for (int c = 0; c < K; c++) {                                                              \
                const __m512d b = _mm512_set1_pd(x[j + c * n_in]);                                     \
                o0[c] = _mm512_fmadd_pd(b, v0, o0[c]); o1[c] = _mm512_fmadd_pd(b, v1, o1[c]);          \
            }                                                                                          \
        }                                                                                              \
        for (int c = 0; c < K; c++) {                                                                  \
            double *oc = DLSWEEP_AT(out + c * n_out, i);                                               \
            _mm512_mask_storeu_pd(oc, M0, o0[c]);                                                      \
            _mm512_mask_storeu_pd(oc + 8, M1, o1[c]);                                                  \
        }                                                                                              \
    }

#define DEFINE_THIN_PRODUCT_512(K)                                                                     \
DLSWEEP_AVX512 static void thin_product_avx512_##K(size_t n_out, size_t n_in, const double *restrict w, \
                                                   const double *restrict x, double *restrict out) {   \
    const struct line_blocks b = line_blocks_of(w, n_out);                                             \
    if (n_in == 0) { for (size_t t = 0; t < n_out * K; t++) out[t] = 0; return; }                      \
    for (size_t j0 = 0; j0 < n_in; j0 += DLSWEEP_STEP_PANEL) {                                         \
        const size_t j1 = j0 + DLSWEEP_STEP_PANEL < n_in ? j0 + DLSWEEP_STEP_PANEL : n_in;             \
        ptrdiff_t i = b.first;                                                                         \
        if (b.first < 0) { THIN_512_BLOCK(K, b.h0, b.h1) i = b.whole; }                                \
        for (; i < b.last; i += 16) THIN_512_BLOCK(K, 0xFF, 0xFF)                                      \
        if (b.last < (ptrdiff_t)n_out) THIN_512_BLOCK(K, b.t0, b.t1)                                   \
    }                                                                                                  \
}
DEFINE_THIN_PRODUCT_512(1)
DEFINE_THIN_PRODUCT_512(2)
DEFINE_THIN_PRODUCT_512(3)
DEFINE_THIN_PRODUCT_512(4)
DEFINE_THIN_PRODUCT_512(5)
DEFINE_THIN_PRODUCT_512(6)

// The gradient norm of a layer and Wᵀ Δ together, one column of W at a time: Δ's k columns
// are read from L1, W once from wherever it is.
#define DEFINE_GRADIENT_NORM_512(K)                                                                    \
DLSWEEP_AVX512 static double gradient_norm_avx512_##K(size_t n_out, size_t n_in, const double *restrict w, \
                                                      const double *restrict delta, const double *restrict input, \
                                                      double lambda, double *restrict back) {          \
    const __m512d vlambda = _mm512_set1_pd(lambda);                                                    \
    const __mmask8 tail = (__mmask8)((1u << (n_out % 8)) - 1);                                        \
    __m512d total = _mm512_setzero_pd();                                                               \
    for (size_t j = 0; j < n_in; j++) {                                                                \
        const double *col = w + j * n_out;                                                             \
        __m512d a[K], b[K];                                                                            \
        for (int c = 0; c < K; c++) { a[c] = _mm512_setzero_pd(); b[c] = _mm512_set1_pd(input[j + c * n_in]); } \
        for (size_t i = 0; i < n_out; i += 8) {                                                        \
            const __mmask8 m = n_out - i >= 8 ? 0xFF : tail;                                           \
            const __m512d v = _mm512_maskz_loadu_pd(m, col + i);                                       \
            __m512d g = _mm512_mul_pd(vlambda, v);                                                     \
            for (int c = 0; c < K; c++) {                                                              \
                const __m512d d = _mm512_maskz_loadu_pd(m, delta + c * n_out + i);                     \
                g = _mm512_fmadd_pd(d, b[c], g);                                                       \
                a[c] = _mm512_fmadd_pd(v, d, a[c]);                                                    \
            }                                                                                          \
            total = _mm512_fmadd_pd(g, g, total);                                                      \
        }                                                                                              \
        for (int c = 0; c < K; c++) back[j + c * n_in] = _mm512_reduce_add_pd(a[c]);                   \
    }                                                                                                  \
    return _mm512_reduce_add_pd(total);                                                                \
}
DEFINE_GRADIENT_NORM_512(1)
DEFINE_GRADIENT_NORM_512(2)
DEFINE_GRADIENT_NORM_512(3)
DEFINE_GRADIENT_NORM_512(4)
DEFINE_GRADIENT_NORM_512(5)
DEFINE_GRADIENT_NORM_512(6)

// ---- AVX-512 for k > 6 (the noisy case's k = min(m, n)): the AVX2 scheme with 16-row blocks
// (two zmm per column) and masked row tails: k in groups of at most 6, each group's update then
// its forward product over a block of 16 rows × 16 columns of W, four columns of W at a time
// against a group in the backward product (4 × 6 accumulators of the 32 registers).

#define DLSWEEP_AVX512_INLINE __attribute__((target("avx512f,avx512vl,avx512dq,fma"), always_inline)) static inline

DLSWEEP_AVX512_INLINE void update_block_512(const int G, __mmask8 m0, __mmask8 m1, size_t n_out, size_t n_in,
                                            ptrdiff_t i, size_t j0, size_t j1, double *w, const double *delta,
                                            const double *old, const int scale, const int decayed, __m512d vdecay,
                                            __m512d vneg) {
    __m512d d0[6], d1[6];
    for (int c = 0; c < G; c++) {
        const double *dc = DLSWEEP_AT(delta + c * n_out, i);
        d0[c] = _mm512_mul_pd(vneg, _mm512_maskz_loadu_pd(m0, dc));
        d1[c] = _mm512_mul_pd(vneg, _mm512_maskz_loadu_pd(m1, dc + 8));
    }
    for (size_t j = j0; j < j1; j++) {
        double *col = DLSWEEP_AT(w + j * n_out, i);
        if (scale) {  // as in the AVX2 update_block: W's rows two blocks on
            const double *ahead = prefetch_target(col, i, j, n_out, n_in, DLSWEEP_STEP_PANEL, 32);
            _mm_prefetch((const char *)ahead, _MM_HINT_T0);
            _mm_prefetch((const char *)(ahead + 8), _MM_HINT_T0);
        }
        __m512d v0 = _mm512_maskz_loadu_pd(m0, col), v1 = _mm512_maskz_loadu_pd(m1, col + 8);
        if (scale && decayed) { v0 = _mm512_mul_pd(vdecay, v0); v1 = _mm512_mul_pd(vdecay, v1); }
        for (int c = 0; c < G; c++) {
            const __m512d a = _mm512_set1_pd(old[j + c * n_in]);
            v0 = _mm512_fmadd_pd(a, d0[c], v0);
            v1 = _mm512_fmadd_pd(a, d1[c], v1);
        }
        _mm512_mask_storeu_pd(col, m0, v0);
        _mm512_mask_storeu_pd(col + 8, m1, v1);
    }
}

DLSWEEP_AVX512_INLINE void forward_block_512(const int G, __mmask8 m0, __mmask8 m1, size_t n_out, size_t n_in,
                                             ptrdiff_t i, size_t j0, size_t j1, const double *w, const double *x,
                                             double *out, const int accumulate, const int prefetch) {
    __m512d o0[6], o1[6];
    for (int c = 0; c < G; c++) {
        const double *oc = DLSWEEP_AT(out + c * n_out, i);
        o0[c] = accumulate ? _mm512_maskz_loadu_pd(m0, oc) : _mm512_setzero_pd();
        o1[c] = accumulate ? _mm512_maskz_loadu_pd(m1, oc + 8) : _mm512_setzero_pd();
    }
    for (size_t j = j0; j < j1; j++) {
        const double *col = DLSWEEP_AT(w + j * n_out, i);
        if (prefetch) {
            const double *ahead = prefetch_target(col, i, j, n_out, n_in, DLSWEEP_STEP_PANEL, 32);
            _mm_prefetch((const char *)ahead, _MM_HINT_T0);
            _mm_prefetch((const char *)(ahead + 8), _MM_HINT_T0);
        }
        const __m512d v0 = _mm512_maskz_loadu_pd(m0, col), v1 = _mm512_maskz_loadu_pd(m1, col + 8);
        for (int c = 0; c < G; c++) {
            const __m512d b = _mm512_set1_pd(x[j + c * n_in]);
            o0[c] = _mm512_fmadd_pd(b, v0, o0[c]);
            o1[c] = _mm512_fmadd_pd(b, v1, o1[c]);
        }
    }
    for (int c = 0; c < G; c++) {
        double *oc = DLSWEEP_AT(out + c * n_out, i);
        _mm512_mask_storeu_pd(oc, m0, o0[c]);
        _mm512_mask_storeu_pd(oc + 8, m1, o1[c]);
    }
}

DLSWEEP_AVX512_INLINE void step_block_512(const int update, const int decayed, __mmask8 m0, __mmask8 m1, int groups,
                                          const int sizes[],
                                          size_t n_out, size_t n_in, ptrdiff_t i, size_t j0, size_t j1, double *w,
                                          const double *delta, const double *old_input, const double *x,
                                          __m512d vdecay, __m512d vneg, double *out, __m512d *squares) {
    size_t c0 = 0;
    if (update)
        for (int g = 0; g < groups; c0 += (size_t)sizes[g], g++)
            DLSWEEP_BY_GROUP_SIZE(sizes[g], update_block_512(GS, m0, m1, n_out, n_in, i, j0, j1, w, delta + c0 * n_out,
                                                             old_input + c0 * n_in, g == 0, decayed, vdecay, vneg))
    c0 = 0;
    for (int g = 0; g < groups; c0 += (size_t)sizes[g], g++)
        DLSWEEP_BY_GROUP_SIZE(sizes[g], forward_block_512(GS, m0, m1, n_out, n_in, i, j0, j1, w, x + c0 * n_in,
                                                          out + c0 * n_out, j0 != 0, !update && g == 0))
    if (squares) *squares = block_squares_512(*squares, m0, m1, n_out, i, j0, j1, w);
}

/// The AVX2 `blocked_avx2` with 16-row blocks starting where W's lines do (line_blocks): the
/// update and forward product (`decayed`: with the multiply by the decay), or W x alone.
DLSWEEP_AVX512_INLINE void blocked_512(const int update, const int decayed, size_t n_out, size_t n_in, size_t k,
                                       double *w, const double *delta, const double *old_input, const double *x,
                                       double decay, double eta, double *out, double *squared_norm) {
    __m512d squares = _mm512_setzero_pd(), *sums = squared_norm ? &squares : NULL;
    int sizes[64];
    const int groups = column_groups(k, 6, sizes);
    const __m512d vdecay = _mm512_set1_pd(decay), vneg = _mm512_set1_pd(-eta);
    const struct line_blocks b = line_blocks_of(w, n_out);
    for (size_t j0 = 0; j0 < n_in; j0 += DLSWEEP_STEP_PANEL) {
        const size_t j1 = j0 + DLSWEEP_STEP_PANEL < n_in ? j0 + DLSWEEP_STEP_PANEL : n_in;
        if (b.first < 0)
            step_block_512(update, decayed, b.h0, b.h1, groups, sizes, n_out, n_in, b.first, j0, j1, w, delta,
                           old_input, x, vdecay, vneg, out, sums);
        for (ptrdiff_t i = b.whole; i < b.last; i += 16)
            step_block_512(update, decayed, 0xFF, 0xFF, groups, sizes, n_out, n_in, i, j0, j1, w, delta, old_input,
                           x, vdecay, vneg, out, sums);
        if (b.last < (ptrdiff_t)n_out)
            step_block_512(update, decayed, b.t0, b.t1, groups, sizes, n_out, n_in, b.last, j0, j1, w, delta,
                           old_input, x, vdecay, vneg, out, sums);
    }
    if (squared_norm) *squared_norm = _mm512_reduce_add_pd(squares);
}

DLSWEEP_AVX512 static void step_and_forward_avx512_groups(size_t n_out, size_t n_in, size_t k, double *restrict w,
                                                          const double *restrict delta, const double *restrict old_input,
                                                          const double *restrict new_input, double decay, double eta,
                                                          double *restrict out, double *squared_norm) {
    if (!DLSWEEP_AVX2_HANDLES(k, n_in))
        step_and_forward_generic(n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
    else if (decay == 1)  // as step_and_forward_avx2: no multiply by the decay
        blocked_512(1, 0, n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
    else
        blocked_512(1, 1, n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
}

DLSWEEP_AVX512 static void thin_product_avx512_groups(size_t n_out, size_t n_in, size_t k, const double *restrict w,
                                                      const double *restrict x, double *restrict out) {
    if (!DLSWEEP_AVX2_HANDLES(k, n_in))
        thin_product_generic(n_out, n_in, k, w, x, out);
    else  // W is only read: without `update` nothing is written through the pointer.
        blocked_512(0, 0, n_out, n_in, k, (double *)w, NULL, NULL, x, 1, 0, out, NULL);
}

/// back[j..j+J, group] = W[:, j..j+J)ᵀ Δ_G with J·G ≤ 24 accumulators; the first group asks for
/// the lines of the J columns before j early (the walk goes from the last column to the first).
DLSWEEP_AVX512_INLINE void transposed_rows_512(const int G, const int J, size_t n_out, size_t j, const double *w,
                                               const double *delta, size_t i, __mmask8 m, const int prefetch,
                                               __m512d acc[4][6]) {
    __m512d v[4];
    for (int q = 0; q < J; q++) {
        if (prefetch && j >= (size_t)J) _mm_prefetch((const char *)(w + (j - J + q) * n_out + i), _MM_HINT_T0);
        v[q] = _mm512_maskz_loadu_pd(m, w + (j + q) * n_out + i);
    }
    for (int c = 0; c < G; c++) {
        const __m512d d = _mm512_maskz_loadu_pd(m, delta + c * n_out + i);
        for (int q = 0; q < J; q++) acc[q][c] = _mm512_fmadd_pd(v[q], d, acc[q][c]);
    }
}

DLSWEEP_AVX512_INLINE void transposed_block_512(const int G, const int J, size_t n_out, size_t n_in, size_t j,
                                                const double *w, const double *delta, double *back, size_t full,
                                                __mmask8 tail, const int prefetch) {
    __m512d acc[4][6];
    for (int q = 0; q < J; q++)
        for (int c = 0; c < G; c++) acc[q][c] = _mm512_setzero_pd();
    for (size_t i = 0; i < full; i += 8) transposed_rows_512(G, J, n_out, j, w, delta, i, 0xFF, prefetch, acc);
    if (full < n_out) transposed_rows_512(G, J, n_out, j, w, delta, full, tail, prefetch, acc);
    for (int c = 0; c < G; c++) {
        if (J == 4) _mm256_storeu_pd(back + j + c * n_in, sum4_512(acc[0][c], acc[1][c], acc[2][c], acc[3][c]));
        else back[j + c * n_in] = _mm512_reduce_add_pd(acc[0][c]);
    }
}

DLSWEEP_AVX512 static void transposed_product_avx512_groups(size_t n_out, size_t n_in, size_t k, const double *restrict w,
                                                            const double *restrict delta, double *restrict back) {
    int sizes[64];
    if (!DLSWEEP_AVX2_HANDLES(k, n_in)) { transposed_product_generic(n_out, n_in, k, w, delta, back); return; }
    const int groups = column_groups(k, 6, sizes);
    const size_t full = n_out & ~(size_t)7;
    const __mmask8 tail = (__mmask8)((1u << (n_out - full)) - 1);
    // Columns [0, quads) in fours, the rest one by one, from the last to the first (TRAVERSAL).
    const size_t quads = n_in & ~(size_t)3;
    for (size_t j = n_in; j-- > quads;) {
        size_t c0 = 0;
        for (int g = 0; g < groups; c0 += (size_t)sizes[g], g++)
            DLSWEEP_BY_GROUP_SIZE(sizes[g], transposed_block_512(GS, 1, n_out, n_in, j, w, delta + c0 * n_out,
                                                                 back + c0 * n_in, full, tail, 0))
    }
    for (size_t j = quads; j > 0;) {
        j -= 4;
        size_t c0 = 0;
        for (int g = 0; g < groups; c0 += (size_t)sizes[g], g++)
            DLSWEEP_BY_GROUP_SIZE(sizes[g], transposed_block_512(GS, 4, n_out, n_in, j, w, delta + c0 * n_out,
                                                                 back + c0 * n_in, full, tail, g == 0))
    }
}

/// Rows [i, i+8) of J columns of W from j: adds the squares of λ W + Δ inputᵀ to `total`
/// (each load of Δ serves the J columns; input's coefficients are broadcast from memory).
DLSWEEP_AVX512_INLINE void gradient_rows_512(const int J, size_t n_out, size_t n_in, size_t k, size_t j, size_t i,
                                             __mmask8 m, const double *w, const double *delta, const double *input,
                                             __m512d vlambda, __m512d total[4]) {
    __m512d g[4];
    for (int q = 0; q < J; q++) g[q] = _mm512_mul_pd(vlambda, _mm512_maskz_loadu_pd(m, w + (j + q) * n_out + i));
    for (size_t c = 0; c < k; c++) {
        const __m512d d = _mm512_maskz_loadu_pd(m, delta + c * n_out + i);
        for (int q = 0; q < J; q++) g[q] = _mm512_fmadd_pd(d, _mm512_set1_pd(input[j + q + c * n_in]), g[q]);
    }
    for (int q = 0; q < J; q++) total[q] = _mm512_fmadd_pd(g[q], g[q], total[q]);
}

/// The gradient norm of a layer for k > 6: the squares of λ W + Δ inputᵀ summed entry by entry,
/// four columns of W at a time, then back = Wᵀ Δ by the grouped transposed product (a second
/// pass over W: this is a check, every few steps, where it replaced a copy of W and two gemms).
DLSWEEP_AVX512 static double gradient_norm_avx512_groups(size_t n_out, size_t n_in, size_t k, const double *restrict w,
                                                         const double *restrict delta, const double *restrict input,
                                                         double lambda, double *restrict back) {
    if (!DLSWEEP_AVX2_HANDLES(k, n_in)) return gradient_norm_generic(n_out, n_in, k, w, delta, input, lambda, back);
    const __m512d vlambda = _mm512_set1_pd(lambda);
    const size_t full = n_out & ~(size_t)7;
    const __mmask8 tail = (__mmask8)((1u << (n_out - full)) - 1);
    __m512d total[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
    size_t j = 0;
    for (; j + 4 <= n_in; j += 4) {
        for (size_t i = 0; i < full; i += 8) gradient_rows_512(4, n_out, n_in, k, j, i, 0xFF, w, delta, input, vlambda, total);
        if (tail) gradient_rows_512(4, n_out, n_in, k, j, full, tail, w, delta, input, vlambda, total);
    }
    for (; j < n_in; j++) {
        for (size_t i = 0; i < full; i += 8) gradient_rows_512(1, n_out, n_in, k, j, i, 0xFF, w, delta, input, vlambda, total);
        if (tail) gradient_rows_512(1, n_out, n_in, k, j, full, tail, w, delta, input, vlambda, total);
    }
    transposed_product_avx512_groups(n_out, n_in, k, w, delta, back);
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(total[0], total[1]), _mm512_add_pd(total[2], total[3])));
}
#endif

// ---- Dispatch: every variant can be called by name (the tests compare them); the plain
// entry points use the best one this CPU runs.

int dlsweep_kernels_supports(int variant) {
#ifdef DLSWEEP_HAVE_X86
    // Bit 0: known, bit 1: AVX2+FMA, bit 2: AVX-512 (F, VL, DQ). Every thread computes the same value.
    static int features = 0;
    int f = __atomic_load_n(&features, __ATOMIC_RELAXED);
    if (f == 0) {
        __builtin_cpu_init();
        const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        const int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
                           && __builtin_cpu_supports("avx512dq");
        f = 1 | (avx2 << 1) | (avx512 << 2);
        __atomic_store_n(&features, f, __ATOMIC_RELAXED);
    }
    switch (variant) {
    case DLSWEEP_KERNELS_PORTABLE: return 1;
    case DLSWEEP_KERNELS_AVX2: return (f >> 1) & 1;
    case DLSWEEP_KERNELS_AVX512: return (f >> 2) & 1;
    default: return 0;
    }
#else
    return variant == DLSWEEP_KERNELS_PORTABLE;
#endif
}

static int chosen = -1;

int dlsweep_kernels_best(void) {
    const int c = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (c >= 0) return c;
    return dlsweep_kernels_supports(DLSWEEP_KERNELS_AVX512) ? DLSWEEP_KERNELS_AVX512
         : dlsweep_kernels_supports(DLSWEEP_KERNELS_AVX2)   ? DLSWEEP_KERNELS_AVX2
                                                            : DLSWEEP_KERNELS_PORTABLE;
}

int dlsweep_kernels_choose(int variant) {
    if (variant >= 0 && !dlsweep_kernels_supports(variant)) return 0;
    __atomic_store_n(&chosen, variant < 0 ? -1 : variant, __ATOMIC_RELAXED);
    return 1;
}

/// The variant that runs: the one asked for if this CPU has it, else the portable loops.
static int runnable(int variant) {
    return dlsweep_kernels_supports(variant) ? variant : DLSWEEP_KERNELS_PORTABLE;
}

void dlsweep_transposed_product_variant(int variant, size_t n_out, size_t n_in, size_t k, const double *w,
                                        const double *delta, double *back) {
#ifdef DLSWEEP_HAVE_X86
    variant = runnable(variant);
    if (variant == DLSWEEP_KERNELS_AVX512) {
        switch (k) {
        case 1: transposed_product_avx512_1(n_out, n_in, w, delta, back); return;
        case 2: transposed_product_avx512_2(n_out, n_in, w, delta, back); return;
        case 3: transposed_product_avx512_3(n_out, n_in, w, delta, back); return;
        case 4: transposed_product_avx512_4(n_out, n_in, w, delta, back); return;
        case 5: transposed_product_avx512_5(n_out, n_in, w, delta, back); return;
        case 6: transposed_product_avx512_6(n_out, n_in, w, delta, back); return;
        default: transposed_product_avx512_groups(n_out, n_in, k, w, delta, back); return;
        }
    }
    if (variant == DLSWEEP_KERNELS_AVX2) {
        transposed_product_avx2(n_out, n_in, k, w, delta, back);
        return;
    }
#endif
    (void)variant;
    transposed_product_generic(n_out, n_in, k, w, delta, back);
}

void dlsweep_step_and_forward_variant(int variant, size_t n_out, size_t n_in, size_t k, double *w,
                                      const double *delta, const double *old_input, const double *new_input,
                                      double decay, double eta, double *out, double *squared_norm) {
#ifdef DLSWEEP_HAVE_X86
    variant = runnable(variant);
    if (variant == DLSWEEP_KERNELS_AVX512) {
        switch (k) {
        case 1: step_and_forward_avx512_1(n_out, n_in, w, delta, old_input, new_input, decay, eta, out, squared_norm); return;
        case 2: step_and_forward_avx512_2(n_out, n_in, w, delta, old_input, new_input, decay, eta, out, squared_norm); return;
        case 3: step_and_forward_avx512_3(n_out, n_in, w, delta, old_input, new_input, decay, eta, out, squared_norm); return;
        case 4: step_and_forward_avx512_4(n_out, n_in, w, delta, old_input, new_input, decay, eta, out, squared_norm); return;
        case 5: step_and_forward_avx512_5(n_out, n_in, w, delta, old_input, new_input, decay, eta, out, squared_norm); return;
        case 6: step_and_forward_avx512_6(n_out, n_in, w, delta, old_input, new_input, decay, eta, out, squared_norm); return;
        default:
            step_and_forward_avx512_groups(n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
            return;
        }
    }
    if (variant == DLSWEEP_KERNELS_AVX2) {
        step_and_forward_avx2(n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
        return;
    }
#endif
    (void)variant;
    step_and_forward_generic(n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out, squared_norm);
}

int dlsweep_back_and_update_supported(int variant, size_t k) {
#ifdef DLSWEEP_HAVE_X86
    return runnable(variant) == DLSWEEP_KERNELS_AVX512 && k >= 1 && k <= 6;
#else
    (void)variant; (void)k;
    return 0;
#endif
}

int dlsweep_back_and_update_variant(int variant, size_t n_out, size_t n_in, size_t k, double *w,
                                    const double *delta, const double *old_input, double decay, double eta,
                                    double *back, double *squared_norm) {
#ifdef DLSWEEP_HAVE_X86
    if (dlsweep_back_and_update_supported(variant, k)) {
        switch (k) {
        case 1: back_and_update_avx512_1(n_out, n_in, w, delta, old_input, decay, eta, back, squared_norm); return 1;
        case 2: back_and_update_avx512_2(n_out, n_in, w, delta, old_input, decay, eta, back, squared_norm); return 1;
        case 3: back_and_update_avx512_3(n_out, n_in, w, delta, old_input, decay, eta, back, squared_norm); return 1;
        case 4: back_and_update_avx512_4(n_out, n_in, w, delta, old_input, decay, eta, back, squared_norm); return 1;
        case 5: back_and_update_avx512_5(n_out, n_in, w, delta, old_input, decay, eta, back, squared_norm); return 1;
        default: back_and_update_avx512_6(n_out, n_in, w, delta, old_input, decay, eta, back, squared_norm); return 1;
        }
    }
#endif
    (void)variant; (void)n_out; (void)n_in; (void)k; (void)w; (void)delta; (void)old_input; (void)decay;
    (void)eta; (void)back; (void)squared_norm;
    return 0;
}

void dlsweep_thin_product_variant(int variant, size_t n_out, size_t n_in, size_t k, const double *w,
                                  const double *x, double *out) {
#ifdef DLSWEEP_HAVE_X86
    if (runnable(variant) == DLSWEEP_KERNELS_AVX512) {
        switch (k) {
        case 1: thin_product_avx512_1(n_out, n_in, w, x, out); return;
        case 2: thin_product_avx512_2(n_out, n_in, w, x, out); return;
        case 3: thin_product_avx512_3(n_out, n_in, w, x, out); return;
        case 4: thin_product_avx512_4(n_out, n_in, w, x, out); return;
        case 5: thin_product_avx512_5(n_out, n_in, w, x, out); return;
        case 6: thin_product_avx512_6(n_out, n_in, w, x, out); return;
        default: thin_product_avx512_groups(n_out, n_in, k, w, x, out); return;
        }
    }
    if (runnable(variant) != DLSWEEP_KERNELS_PORTABLE) {
        thin_product_avx2(n_out, n_in, k, w, x, out);
        return;
    }
#endif
    (void)variant;
    thin_product_generic(n_out, n_in, k, w, x, out);
}

double dlsweep_gradient_norm_variant(int variant, size_t n_out, size_t n_in, size_t k, const double *w,
                                     const double *delta, const double *input, double lambda, double *back) {
#ifdef DLSWEEP_HAVE_X86
    if (runnable(variant) == DLSWEEP_KERNELS_AVX512) {
        switch (k) {
        case 1: return gradient_norm_avx512_1(n_out, n_in, w, delta, input, lambda, back);
        case 2: return gradient_norm_avx512_2(n_out, n_in, w, delta, input, lambda, back);
        case 3: return gradient_norm_avx512_3(n_out, n_in, w, delta, input, lambda, back);
        case 4: return gradient_norm_avx512_4(n_out, n_in, w, delta, input, lambda, back);
        case 5: return gradient_norm_avx512_5(n_out, n_in, w, delta, input, lambda, back);
        case 6: return gradient_norm_avx512_6(n_out, n_in, w, delta, input, lambda, back);
        default: return gradient_norm_avx512_groups(n_out, n_in, k, w, delta, input, lambda, back);
        }
    }
    if (runnable(variant) >= DLSWEEP_KERNELS_AVX2) {
        switch (k) {
        case 1: return gradient_norm_avx2_1(n_out, n_in, w, delta, input, lambda, back);
        case 2: return gradient_norm_avx2_2(n_out, n_in, w, delta, input, lambda, back);
        case 3: return gradient_norm_avx2_3(n_out, n_in, w, delta, input, lambda, back);
        case 4: return gradient_norm_avx2_4(n_out, n_in, w, delta, input, lambda, back);
        case 5: return gradient_norm_avx2_5(n_out, n_in, w, delta, input, lambda, back);
        case 6: return gradient_norm_avx2_6(n_out, n_in, w, delta, input, lambda, back);
        case 7: return gradient_norm_avx2_7(n_out, n_in, w, delta, input, lambda, back);
        case 8: return gradient_norm_avx2_8(n_out, n_in, w, delta, input, lambda, back);
        default: return gradient_norm_avx2_groups(n_out, n_in, k, w, delta, input, lambda, back);
        }
    }
#endif
    (void)variant;
    return gradient_norm_generic(n_out, n_in, k, w, delta, input, lambda, back);
}

double dlsweep_gradient_norm(size_t n_out, size_t n_in, size_t k, const double *w, const double *delta,
                             const double *input, double lambda, double *back) {
    return dlsweep_gradient_norm_variant(dlsweep_kernels_best(), n_out, n_in, k, w, delta, input, lambda, back);
}

void dlsweep_transposed_product(size_t n_out, size_t n_in, size_t k, const double *w,
                                const double *delta, double *back) {
    dlsweep_transposed_product_variant(dlsweep_kernels_best(), n_out, n_in, k, w, delta, back);
}

void dlsweep_step_and_forward(size_t n_out, size_t n_in, size_t k, double *w, const double *delta,
                              const double *old_input, const double *new_input, double decay,
                              double eta, double *out) {
    dlsweep_step_and_forward_variant(dlsweep_kernels_best(), n_out, n_in, k, w, delta, old_input, new_input,
                                     decay, eta, out, NULL);
}

void dlsweep_thin_product(size_t n_out, size_t n_in, size_t k, const double *w, const double *x, double *out) {
    dlsweep_thin_product_variant(dlsweep_kernels_best(), n_out, n_in, k, w, x, out);
}
