// The machine side of docs/PERFORMANCE.md: the FMA peak of each instruction set the kernels
// come in, and the bandwidth of each cache level for the access patterns of the reduced step
// (one thread), read with the widest vectors present. Also times the kernels of one reduced
// step at the Figure 1 size with each instruction set. Runs on any x86-64 CPU: every
// instruction set is chosen at run time, as the kernels choose theirs.
//   clang -O3 -ISources/CKernels/include scripts/floor_bench.c -o /tmp/floor_bench && /tmp/floor_bench
#include "../Sources/CKernels/kernels.c"
#include "../Sources/CKernels/peak.c"
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>

// CPU time of the thread: other processes on the shared cores do not count.
static double now(void) { return thread_seconds(); }

// Read every double of a buffer (8 accumulators of W doubles), bytes per second; one version
// per vector width, chosen at run time.
#define DEFINE_READ_RATE(NAME, ATTR, T, W, ZERO, LOAD, ADD, STORE)                                     \
    ATTR static double NAME(const double *p, size_t n, int reps) {                                     \
        T a[8];                                                                                        \
        for (int q = 0; q < 8; q++) a[q] = ZERO();                                                     \
        double t = now();                                                                              \
        for (int r = 0; r < reps; r++)                                                                 \
            for (size_t i = 0; i < n; i += 8 * W)                                                      \
                for (int q = 0; q < 8; q++) a[q] = ADD(a[q], LOAD(p + i + q * W));                     \
        t = now() - t;                                                                                 \
        for (int q = 1; q < 8; q++) a[0] = ADD(a[0], a[q]);                                            \
        double lanes[W];                                                                               \
        STORE(lanes, a[0]);                                                                            \
        if (lanes[0] == 42) puts("");                                                                  \
        return reps * n * 8.0 / t;                                                                     \
    }
DEFINE_READ_RATE(read_rate_512, DLSWEEP_AVX512, __m512d, 8, _mm512_setzero_pd, _mm512_load_pd, _mm512_add_pd,
                 _mm512_storeu_pd)
DEFINE_READ_RATE(read_rate_256, DLSWEEP_AVX2, __m256d, 4, _mm256_setzero_pd, _mm256_load_pd, _mm256_add_pd,
                 _mm256_storeu_pd)

// Plain C (SSE2, which every x86-64 CPU has).
static double read_rate_plain(const double *p, size_t n, int reps) {
    double a[8] = {0};
    double t = now();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 8)
            for (int q = 0; q < 8; q++) a[q] += p[i + q];
    t = now() - t;
    if (a[0] + a[7] == 42) puts("");
    return reps * n * 8.0 / t;
}

// Read, scale and write back every double, bytes moved (read + write) per second.
#define DEFINE_UPDATE_RATE(NAME, ATTR, W, SET1, LOAD, MUL, STORE)                                      \
    ATTR static double NAME(double *p, size_t n, int reps) {                                           \
        const double t0 = now();                                                                       \
        for (int r = 0; r < reps; r++)                                                                 \
            for (size_t i = 0; i < n; i += W) STORE(p + i, MUL(SET1(0.999999), LOAD(p + i)));          \
        return reps * n * 16.0 / (now() - t0);                                                         \
    }
DEFINE_UPDATE_RATE(update_rate_512, DLSWEEP_AVX512, 8, _mm512_set1_pd, _mm512_loadu_pd, _mm512_mul_pd, _mm512_storeu_pd)
DEFINE_UPDATE_RATE(update_rate_256, DLSWEEP_AVX2, 4, _mm256_set1_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_storeu_pd)

static double update_rate_plain(double *p, size_t n, int reps) {
    double t = now();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i++) p[i] *= 0.999999;
    t = now() - t;
    return reps * n * 16.0 / t;
}

static int widest(void) {
    return dlsweep_kernels_supports(DLSWEEP_KERNELS_AVX512) ? DLSWEEP_KERNELS_AVX512
         : dlsweep_kernels_supports(DLSWEEP_KERNELS_AVX2)   ? DLSWEEP_KERNELS_AVX2 : DLSWEEP_KERNELS_PORTABLE;
}

static double read_rate(const double *p, size_t n, int reps) {
    switch (widest()) {
    case DLSWEEP_KERNELS_AVX512: return read_rate_512(p, n, reps);
    case DLSWEEP_KERNELS_AVX2: return read_rate_256(p, n, reps);
    default: return read_rate_plain(p, n, reps);
    }
}

static double update_rate(double *p, size_t n, int reps) {
    switch (widest()) {
    case DLSWEEP_KERNELS_AVX512: return update_rate_512(p, n, reps);
    case DLSWEEP_KERNELS_AVX2: return update_rate_256(p, n, reps);
    default: return update_rate_plain(p, n, reps);
    }
}

// The kernel passes of one reduced step at the Figure 1 size (k = 5): Wᵀδ down W_5 … W_2,
// then the fused update and forward product up W_2 … W_5. Seconds per step, and per pass of
// each layer in `backward[l]`, `forward[l]` (l = 0 is W_2). The weights start `offset` doubles
// into a 64-byte line and the thin buffers `thin_offset` (Swift's arrays: W 6, the thin ones
// anywhere in 0, 2, 4, 6), each weight matrix at the same place in a page, as mmap gives them.
static double step_seconds(int variant, int reps, size_t offset, size_t thin_offset, double backward[4],
                           double forward[4]) {
    enum { K = 5, L = 4 };
    const size_t rows[L] = {400, 400, 400, 200}, cols[L] = {400, 400, 400, 400};
    double *w[L], *delta[L + 1], *fwd[L + 1], *next[L + 1];
    double *blocks[3 * (L + 1) + L];
    int count = 0;
    for (int l = 0; l <= L; l++) {
        size_t n = 400 * K;
        delta[l] = (blocks[count++] = aligned_alloc(64, n * 8 + 64)) + thin_offset;
        fwd[l] = (blocks[count++] = aligned_alloc(64, n * 8 + 64)) + thin_offset;
        next[l] = (blocks[count++] = aligned_alloc(64, n * 8 + 64)) + thin_offset;
        for (size_t i = 0; i < n; i++) delta[l][i] = fwd[l][i] = next[l][i] = 1e-3 / (1 + i % 17);
    }
    for (int l = 0; l < L; l++) {
        w[l] = (blocks[count++] = aligned_alloc(4096, rows[l] * cols[l] * 8 + 4096)) + offset;
        for (size_t i = 0; i < rows[l] * cols[l]; i++) w[l][i] = 1.0 / (1 + i % 13);
    }
    for (int l = 0; l < L; l++) backward[l] = forward[l] = 0;
    double t = 0;
    for (int r = -1; r < reps; r++) {
        if (r == 0) t = now();
        for (int l = L - 1; l >= 0; l--) {
            const double t0 = now();
            dlsweep_transposed_product_variant(variant, rows[l], cols[l], K, w[l], delta[l + 1], delta[l]);
            if (r >= 0) backward[l] += now() - t0;
        }
        for (int l = 0; l < L; l++) {
            const double t0 = now();
            dlsweep_step_and_forward_variant(variant, rows[l], cols[l], K, w[l], delta[l + 1], fwd[l], next[l],
                                             0.9999, 1e-6, next[l + 1], NULL);
            if (r >= 0) forward[l] += now() - t0;
        }
    }
    t = now() - t;
    for (int l = 0; l < L; l++) { backward[l] /= reps; forward[l] /= reps; }
    for (int b = 0; b < count; b++) free(blocks[b]);
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
            dlsweep_step_and_forward_variant(variant, 400, 400, K, w[l], delta, x, x, 0.9999, 1e-6, out, NULL);
    *fused = (now() - t) / reps / 3;
    for (int l = 0; l < 3; l++) free(w[l]);
    free(delta); free(x); free(out);
}

int main(void) {
    const char *variants[] = {"portable", "AVX2+FMA", "AVX-512"};
    double peaks[3] = {0, 0, 0};
    for (int v = 0; v < 3; v++) {
        if (!dlsweep_kernels_supports(v)) { printf("%-9s not supported by this CPU\n", variants[v]); continue; }
        double tp, sf, back[4], fwd[4], swift_back[4], swift_fwd[4];
        kernel_seconds(v, 300, &tp, &sf);
        const double step = step_seconds(v, 1000, 0, 0, back, fwd);
        const double swift = step_seconds(v, 1000, 6, 2, swift_back, swift_fwd);
        peaks[v] = dlsweep_fma_peak(v, 0.5);
        // 16.8 MFLOP a step at the Figure 1 size (an FMA counts 2).
        printf("%-9s step kernels %.3f ms (%.0f%% of its FMA peak)   per 400x400 layer: Wt.delta %.1f us, update+forward %.1f us\n",
               variants[v], 1e3 * step, 100 * 16.8e6 / step / peaks[v], 1e6 * tp, 1e6 * sf);
        printf("%-9s   in the step, us:  Wt.delta W5 %.1f W4 %.1f W3 %.1f W2 %.1f   update+forward W2 %.1f W3 %.1f W4 %.1f W5 %.1f\n",
               "", 1e6 * back[3], 1e6 * back[2], 1e6 * back[1], 1e6 * back[0], 1e6 * fwd[0], 1e6 * fwd[1], 1e6 * fwd[2],
               1e6 * fwd[3]);
        printf("%-9s   W 48 bytes into a line, the thin buffers 16 (as Swift's arrays placed them before MatrixStorage): %.3f ms (%.2fx)\n",
               "", 1e3 * swift, swift / step);
    }
    for (int v = 0; v < 3; v++)
        if (peaks[v] > 0)
            printf("FMA peak, one thread, %-9s %6.1f GFLOP/s%s\n", variants[v], peaks[v] / 1e9,
                   v == 0 ? " (plain C multiply-adds)" : "");
    const char *vectors[] = {"SSE2", "AVX2", "AVX-512"};
    printf("bandwidths, read with %s vectors:\n", vectors[widest()]);
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
