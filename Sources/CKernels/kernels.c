#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define DLSWEEP_HAVE_X86 1
#endif

// ---- portable versions: plain loops over contiguous columns (vectorizable without
// reassociation, except the dot products of the transposed product).

static void transposed_product_generic(size_t n_out, size_t n_in, size_t k, const double *w,
                                       const double *delta, double *back) {
    for (size_t j = 0; j < n_in; j++) {
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
                                     double *restrict out) {
    STEP_AND_FORWARD_BODY
}

#ifdef DLSWEEP_HAVE_X86
// ---- AVX2 + FMA versions.

__attribute__((target("avx2,fma")))
static void transposed_product_avx2(size_t n_out, size_t n_in, size_t k, const double *w,
                                    const double *delta, double *back) {
    for (size_t j = 0; j < n_in; j++) {
        const double *col = w + j * n_out;
        size_t c = 0;
        // Four output columns at a time share each load of W's column.
        for (; c + 4 <= k; c += 4) {
            const double *d0 = delta + c * n_out, *d1 = d0 + n_out, *d2 = d1 + n_out, *d3 = d2 + n_out;
            __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
            size_t i = 0;
            for (; i + 4 <= n_out; i += 4) {
                __m256d v = _mm256_loadu_pd(col + i);
                a0 = _mm256_fmadd_pd(v, _mm256_loadu_pd(d0 + i), a0);
                a1 = _mm256_fmadd_pd(v, _mm256_loadu_pd(d1 + i), a1);
                a2 = _mm256_fmadd_pd(v, _mm256_loadu_pd(d2 + i), a2);
                a3 = _mm256_fmadd_pd(v, _mm256_loadu_pd(d3 + i), a3);
            }
            double r[4][4];
            _mm256_storeu_pd(r[0], a0); _mm256_storeu_pd(r[1], a1);
            _mm256_storeu_pd(r[2], a2); _mm256_storeu_pd(r[3], a3);
            for (int q = 0; q < 4; q++) {
                double s = (r[q][0] + r[q][1]) + (r[q][2] + r[q][3]);
                const double *d = delta + (c + q) * n_out;
                for (size_t t = i; t < n_out; t++) s += col[t] * d[t];
                back[j + (c + q) * n_in] = s;
            }
        }
        for (; c < k; c++) {
            const double *d = delta + c * n_out;
            __m256d a = _mm256_setzero_pd();
            size_t i = 0;
            for (; i + 4 <= n_out; i += 4) a = _mm256_fmadd_pd(_mm256_loadu_pd(col + i), _mm256_loadu_pd(d + i), a);
            double r[4];
            _mm256_storeu_pd(r, a);
            double s = (r[0] + r[1]) + (r[2] + r[3]);
            for (; i < n_out; i++) s += col[i] * d[i];
            back[j + c * n_in] = s;
        }
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

// out = W x, two columns of W at a time so each load and store of `out` serves two FMAs.
#define DEFINE_THIN_PRODUCT_K(K)                                                                       \
__attribute__((target("avx2,fma")))                                                                    \
static void thin_product_avx2_##K(size_t n_out, size_t n_in, const double *restrict w,                  \
                                  const double *restrict x, double *restrict out) {                    \
    if (n_in % 2 != 0 || n_out % 4 != 0) { thin_product_generic(n_out, n_in, K, w, x, out); return; }  \
    for (size_t t = 0; t < n_out * K; t++) out[t] = 0;                                                 \
    for (size_t j = 0; j < n_in; j += 2) {                                                             \
        const double *c0 = w + j * n_out, *c1 = c0 + n_out;                                            \
        __m256d b0[K], b1[K];                                                                          \
        for (int c = 0; c < K; c++) {                                                                  \
            b0[c] = _mm256_set1_pd(x[j + c * n_in]);                                                   \
            b1[c] = _mm256_set1_pd(x[j + 1 + c * n_in]);                                               \
        }                                                                                              \
        for (size_t i = 0; i < n_out; i += 4) {                                                        \
            __m256d v0 = _mm256_loadu_pd(c0 + i), v1 = _mm256_loadu_pd(c1 + i);                       \
            for (int c = 0; c < K; c++) {                                                              \
                double *o = out + c * n_out + i;                                                       \
                __m256d acc = _mm256_fmadd_pd(b0[c], v0, _mm256_loadu_pd(o));                         \
                _mm256_storeu_pd(o, _mm256_fmadd_pd(b1[c], v1, acc));                                  \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
}
DEFINE_THIN_PRODUCT_K(1)
DEFINE_THIN_PRODUCT_K(2)
DEFINE_THIN_PRODUCT_K(3)
DEFINE_THIN_PRODUCT_K(4)
DEFINE_THIN_PRODUCT_K(5)
DEFINE_THIN_PRODUCT_K(6)
DEFINE_THIN_PRODUCT_K(7)
DEFINE_THIN_PRODUCT_K(8)

// One version per k (1…8): k accumulators in registers, one pass over each column of W.
#define DEFINE_TRANSPOSED_K(K)                                                                         \
__attribute__((target("avx2,fma")))                                                                    \
static void transposed_product_avx2_##K(size_t n_out, size_t n_in, const double *restrict w,            \
                                        const double *restrict delta, double *restrict back) {         \
    for (size_t j = 0; j < n_in; j++) {                                                                \
        const double *col = w + j * n_out;                                                             \
        __m256d acc[K];                                                                                \
        for (int c = 0; c < K; c++) acc[c] = _mm256_setzero_pd();                                      \
        size_t i = 0;                                                                                  \
        for (; i + 4 <= n_out; i += 4) {                                                               \
            __m256d v = _mm256_loadu_pd(col + i);                                                      \
            for (int c = 0; c < K; c++) acc[c] = _mm256_fmadd_pd(v, _mm256_loadu_pd(delta + c * n_out + i), acc[c]); \
        }                                                                                              \
        for (int c = 0; c < K; c++) {                                                                  \
            double r[4];                                                                               \
            _mm256_storeu_pd(r, acc[c]);                                                               \
            double sum = (r[0] + r[1]) + (r[2] + r[3]);                                                \
            for (size_t t = i; t < n_out; t++) sum += col[t] * delta[c * n_out + t];                   \
            back[j + c * n_in] = sum;                                                                  \
        }                                                                                              \
    }                                                                                                  \
}
DEFINE_TRANSPOSED_K(1)
DEFINE_TRANSPOSED_K(2)
DEFINE_TRANSPOSED_K(3)
DEFINE_TRANSPOSED_K(4)
DEFINE_TRANSPOSED_K(5)
DEFINE_TRANSPOSED_K(6)
DEFINE_TRANSPOSED_K(7)
DEFINE_TRANSPOSED_K(8)

// One version per k (1…8) so the k coefficients of a column live in registers and the
// loops over k unroll: W's four rows stay in a register through the update and the forward
// product, so W is loaded and stored once per step.
#define DEFINE_STEP_AND_FORWARD_K(K)                                                                   \
__attribute__((target("avx2,fma")))                                                                    \
static void step_and_forward_avx2_##K(size_t n_out, size_t n_in, double *restrict w,                    \
                                      const double *restrict delta, const double *restrict old_input,  \
                                      const double *restrict new_input, double decay, double eta,      \
                                      double *restrict out) {                                          \
    for (size_t x = 0; x < n_out * K; x++) out[x] = 0;                                                 \
    const __m256d vdecay = _mm256_set1_pd(decay);                                                      \
    for (size_t j = 0; j < n_in; j++) {                                                                \
        double *col = w + j * n_out;                                                                   \
        __m256d a[K], b[K];                                                                            \
        for (int c = 0; c < K; c++) {                                                                  \
            a[c] = _mm256_set1_pd(-eta * old_input[j + c * n_in]);                                     \
            b[c] = _mm256_set1_pd(new_input[j + c * n_in]);                                            \
        }                                                                                              \
        size_t i = 0;                                                                                  \
        for (; i + 4 <= n_out; i += 4) {                                                               \
            __m256d v = _mm256_mul_pd(_mm256_loadu_pd(col + i), vdecay);                               \
            for (int c = 0; c < K; c++) v = _mm256_fmadd_pd(a[c], _mm256_loadu_pd(delta + c * n_out + i), v); \
            _mm256_storeu_pd(col + i, v);                                                              \
            for (int c = 0; c < K; c++) {                                                              \
                double *o = out + c * n_out + i;                                                       \
                _mm256_storeu_pd(o, _mm256_fmadd_pd(b[c], v, _mm256_loadu_pd(o)));                     \
            }                                                                                          \
        }                                                                                              \
        for (; i < n_out; i++) {                                                                       \
            double v = col[i] * decay;                                                                 \
            for (int c = 0; c < K; c++) v += (-eta * old_input[j + c * n_in]) * delta[c * n_out + i];  \
            col[i] = v;                                                                                \
            for (int c = 0; c < K; c++) out[c * n_out + i] += new_input[j + c * n_in] * v;             \
        }                                                                                              \
    }                                                                                                  \
}
DEFINE_STEP_AND_FORWARD_K(1)
DEFINE_STEP_AND_FORWARD_K(2)
DEFINE_STEP_AND_FORWARD_K(3)
DEFINE_STEP_AND_FORWARD_K(4)
DEFINE_STEP_AND_FORWARD_K(5)
DEFINE_STEP_AND_FORWARD_K(6)
DEFINE_STEP_AND_FORWARD_K(7)
DEFINE_STEP_AND_FORWARD_K(8)

static void step_and_forward_avx2(size_t n_out, size_t n_in, size_t k, double *restrict w,
                                  const double *restrict delta, const double *restrict old_input,
                                  const double *restrict new_input, double decay, double eta,
                                  double *restrict out) {
    switch (k) {
    case 1: step_and_forward_avx2_1(n_out, n_in, w, delta, old_input, new_input, decay, eta, out); return;
    case 2: step_and_forward_avx2_2(n_out, n_in, w, delta, old_input, new_input, decay, eta, out); return;
    case 3: step_and_forward_avx2_3(n_out, n_in, w, delta, old_input, new_input, decay, eta, out); return;
    case 4: step_and_forward_avx2_4(n_out, n_in, w, delta, old_input, new_input, decay, eta, out); return;
    case 5: step_and_forward_avx2_5(n_out, n_in, w, delta, old_input, new_input, decay, eta, out); return;
    case 6: step_and_forward_avx2_6(n_out, n_in, w, delta, old_input, new_input, decay, eta, out); return;
    case 7: step_and_forward_avx2_7(n_out, n_in, w, delta, old_input, new_input, decay, eta, out); return;
    case 8: step_and_forward_avx2_8(n_out, n_in, w, delta, old_input, new_input, decay, eta, out); return;
    default: step_and_forward_generic(n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out);
    }
}
#endif

static int use_avx2(void) {
#ifdef DLSWEEP_HAVE_X86
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

int dlsweep_kernels_use_avx2(void) { return use_avx2(); }

void dlsweep_transposed_product(size_t n_out, size_t n_in, size_t k, const double *w,
                                const double *delta, double *back) {
#ifdef DLSWEEP_HAVE_X86
    if (use_avx2()) {
        switch (k) {
        case 1: transposed_product_avx2_1(n_out, n_in, w, delta, back); return;
        case 2: transposed_product_avx2_2(n_out, n_in, w, delta, back); return;
        case 3: transposed_product_avx2_3(n_out, n_in, w, delta, back); return;
        case 4: transposed_product_avx2_4(n_out, n_in, w, delta, back); return;
        case 5: transposed_product_avx2_5(n_out, n_in, w, delta, back); return;
        case 6: transposed_product_avx2_6(n_out, n_in, w, delta, back); return;
        case 7: transposed_product_avx2_7(n_out, n_in, w, delta, back); return;
        case 8: transposed_product_avx2_8(n_out, n_in, w, delta, back); return;
        default: transposed_product_avx2(n_out, n_in, k, w, delta, back); return;
        }
    }
#endif
    transposed_product_generic(n_out, n_in, k, w, delta, back);
}

void dlsweep_step_and_forward(size_t n_out, size_t n_in, size_t k, double *w, const double *delta,
                              const double *old_input, const double *new_input, double decay,
                              double eta, double *out) {
#ifdef DLSWEEP_HAVE_X86
    if (use_avx2()) { step_and_forward_avx2(n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out); return; }
#endif
    step_and_forward_generic(n_out, n_in, k, w, delta, old_input, new_input, decay, eta, out);
}

void dlsweep_thin_product(size_t n_out, size_t n_in, size_t k, const double *w, const double *x, double *out) {
#ifdef DLSWEEP_HAVE_X86
    if (use_avx2()) {
        switch (k) {
        case 1: thin_product_avx2_1(n_out, n_in, w, x, out); return;
        case 2: thin_product_avx2_2(n_out, n_in, w, x, out); return;
        case 3: thin_product_avx2_3(n_out, n_in, w, x, out); return;
        case 4: thin_product_avx2_4(n_out, n_in, w, x, out); return;
        case 5: thin_product_avx2_5(n_out, n_in, w, x, out); return;
        case 6: thin_product_avx2_6(n_out, n_in, w, x, out); return;
        case 7: thin_product_avx2_7(n_out, n_in, w, x, out); return;
        case 8: thin_product_avx2_8(n_out, n_in, w, x, out); return;
        default: break;
        }
    }
#endif
    thin_product_generic(n_out, n_in, k, w, x, out);
}
