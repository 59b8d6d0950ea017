// The machine side of docs/PERFORMANCE.md: FMA peak and the bandwidth of each cache level for
// the access patterns of the reduced step (one thread).
// Also times the kernels of one reduced step at the Figure 1 size with each instruction set.
//   clang -O3 -ISources/CKernels/include scripts/floor_bench.c -o /tmp/floor_bench && /tmp/floor_bench
#include "../Sources/CKernels/kernels.c"
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);  // CPU time: other processes on the shared cores do not count
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// 10 independent FMA chains of 8 doubles: enough to cover the FMA latency on 2 pipes.
DLSWEEP_AVX512 static double fma_peak(void) {
    __m512d x = _mm512_set1_pd(1.0000001), y = _mm512_set1_pd(0.9999999);
    __m512d a0 = x, a1 = y, a2 = x, a3 = y, a4 = x, a5 = y, a6 = x, a7 = y, a8 = x, a9 = y;
    long reps = 50000000;
    double t = now();
    for (long r = 0; r < reps; r++) {
        a0 = _mm512_fmadd_pd(a0, x, y); a1 = _mm512_fmadd_pd(a1, x, y); a2 = _mm512_fmadd_pd(a2, x, y);
        a3 = _mm512_fmadd_pd(a3, x, y); a4 = _mm512_fmadd_pd(a4, x, y); a5 = _mm512_fmadd_pd(a5, x, y);
        a6 = _mm512_fmadd_pd(a6, x, y); a7 = _mm512_fmadd_pd(a7, x, y); a8 = _mm512_fmadd_pd(a8, x, y);
        a9 = _mm512_fmadd_pd(a9, x, y);
    }
    t = now() - t;
    __m512d s = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)),
                              _mm512_add_pd(_mm512_add_pd(a4, a5), _mm512_add_pd(_mm512_add_pd(a6, a7), _mm512_add_pd(a8, a9))));
    if (_mm512_reduce_add_pd(s) == 42) puts("");
    return reps * 10.0 * 8 * 2 / t;
}

// Read every double of a buffer (8 accumulators), bytes per second.
DLSWEEP_AVX512 static double read_rate(const double *p, size_t n, int reps) {
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    double t = now();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 64) {
            a0 = _mm512_add_pd(a0, _mm512_load_pd(p + i)); a1 = _mm512_add_pd(a1, _mm512_load_pd(p + i + 8));
            a2 = _mm512_add_pd(a2, _mm512_load_pd(p + i + 16)); a3 = _mm512_add_pd(a3, _mm512_load_pd(p + i + 24));
            a4 = _mm512_add_pd(a4, _mm512_load_pd(p + i + 32)); a5 = _mm512_add_pd(a5, _mm512_load_pd(p + i + 40));
            a6 = _mm512_add_pd(a6, _mm512_load_pd(p + i + 48)); a7 = _mm512_add_pd(a7, _mm512_load_pd(p + i + 56));
        }
    t = now() - t;
    __m512d s = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)),
                              _mm512_add_pd(_mm512_add_pd(a4, a5), _mm512_add_pd(a6, a7)));
    if (_mm512_reduce_add_pd(s) == 42) puts("");
    return reps * n * 8.0 / t;
}

// Read, scale and write back every double, bytes moved (read + write) per second.
DLSWEEP_AVX512 static double update_rate(double *p, size_t n, int reps) {
    __m512d c = _mm512_set1_pd(0.999999);
    double t = now();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 8) _mm512_storeu_pd(p + i, _mm512_mul_pd(c, _mm512_loadu_pd(p + i)));
    t = now() - t;
    return reps * n * 16.0 / t;
}

// The kernel passes of one reduced step at the Figure 1 size (k = 5): Wᵀδ down W_5 … W_2,
// then the fused update and forward product up W_2 … W_5. Seconds per step.
static double step_seconds(int variant, int reps) {
    enum { K = 5, L = 4 };
    const size_t rows[L] = {400, 400, 400, 200}, cols[L] = {400, 400, 400, 400};
    double *w[L], *delta[L + 1], *fwd[L + 1], *next[L + 1];
    for (int l = 0; l <= L; l++) {
        size_t n = 400 * K;
        delta[l] = aligned_alloc(64, n * 8); fwd[l] = aligned_alloc(64, n * 8); next[l] = aligned_alloc(64, n * 8);
        for (size_t i = 0; i < n; i++) delta[l][i] = fwd[l][i] = next[l][i] = 1e-3 / (1 + i % 17);
    }
    for (int l = 0; l < L; l++) {
        w[l] = aligned_alloc(64, rows[l] * cols[l] * 8);
        for (size_t i = 0; i < rows[l] * cols[l]; i++) w[l][i] = 1.0 / (1 + i % 13);
    }
    double t = 0;
    for (int r = -1; r < reps; r++) {
        if (r == 0) t = now();
        for (int l = L - 1; l >= 0; l--)
            dlsweep_transposed_product_variant(variant, rows[l], cols[l], K, w[l], delta[l + 1], delta[l]);
        for (int l = 0; l < L; l++)
            dlsweep_step_and_forward_variant(variant, rows[l], cols[l], K, w[l], delta[l + 1], fwd[l], next[l],
                                             0.9999, 1e-6, next[l + 1]);
    }
    t = now() - t;
    for (int l = 0; l < L; l++) free(w[l]);
    for (int l = 0; l <= L; l++) { free(delta[l]); free(fwd[l]); free(next[l]); }
    return t / reps;
}

// One pass of each kernel alone over the three 400 x 400 layers: seconds per pass per layer.
static void kernel_seconds(int variant, int reps, double *transposed, double *fused) {
    enum { K = 5 };
    double *w[3], *delta = aligned_alloc(64, 400 * K * 8), *x = aligned_alloc(64, 400 * K * 8),
           *out = aligned_alloc(64, 400 * K * 8);
    for (size_t i = 0; i < 400 * K; i++) delta[i] = x[i] = 1e-3 / (1 + i % 17);
    for (int l = 0; l < 3; l++) {
        w[l] = aligned_alloc(64, 400 * 400 * 8);
        for (size_t i = 0; i < 400 * 400; i++) w[l][i] = 1.0 / (1 + i % 13);
    }
    double t = now();
    for (int r = 0; r < reps; r++)
        for (int l = 0; l < 3; l++) dlsweep_transposed_product_variant(variant, 400, 400, K, w[l], delta, out);
    *transposed = (now() - t) / reps / 3;
    t = now();
    for (int r = 0; r < reps; r++)
        for (int l = 0; l < 3; l++)
            dlsweep_step_and_forward_variant(variant, 400, 400, K, w[l], delta, x, x, 0.9999, 1e-6, out);
    *fused = (now() - t) / reps / 3;
    for (int l = 0; l < 3; l++) free(w[l]);
    free(delta); free(x); free(out);
}

int main(void) {
    const char *variants[] = {"portable", "AVX2", "AVX-512"};
    for (int v = 0; v < 3; v++) {
        if (!dlsweep_kernels_supports(v)) { printf("%-9s not supported by this CPU\n", variants[v]); continue; }
        double tp, sf;
        kernel_seconds(v, 300, &tp, &sf);
        printf("%-9s step kernels %.3f ms   per 400x400 layer: Wt.delta %.1f us, update+forward %.1f us\n",
               variants[v], 1e3 * step_seconds(v, 1000), 1e6 * tp, 1e6 * sf);
    }
    printf("FMA peak (AVX-512, one thread): %.1f GFLOP/s\n", fma_peak() / 1e9);
    const size_t sizes[] = {16 << 10, 640 << 10, 4480 << 10, 256 << 20};
    const char *names[] = {"16 KiB (L1)", "640 KiB (L2, W_5)", "4.48 MB (L3, all W of Figure 1)", "256 MiB (DRAM)"};
    for (int s = 0; s < 4; s++) {
        size_t n = sizes[s] / 8;
        double *p = aligned_alloc(64, n * 8);
        for (size_t i = 0; i < n; i++) p[i] = 1.0 / (1 + i);
        int reps = (int)(2e9 / sizes[s]);
        if (reps < 3) reps = 3;
        read_rate(p, n, 1);
        double r = read_rate(p, n, reps), u = update_rate(p, n, reps);
        printf("%-34s read %6.1f GB/s   read+write %6.1f GB/s\n", names[s], r / 1e9, u / 1e9);
        free(p);
    }
    return 0;
}
