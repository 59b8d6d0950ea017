// The machine side of docs/PERFORMANCE.md: the FMA peak of each instruction set the kernels
// come in, and the bandwidth of each cache level for the access patterns of the reduced step
// (one thread), read with the widest vectors present. Also times the kernels of one reduced
// step at the Figure 1 size with each instruction set, and the step's floor: each pass's FMAs at
// the peak, and its memory traffic alone (the same passes over the same buffers in the same
// order, one add or multiply per vector), the larger of the two per pass. Runs on any x86-64
// CPU: every instruction set is chosen at run time, as the kernels choose theirs.
//   clang -O3 -ISources/CKernels/include scripts/floor_bench.c -o /tmp/floor_bench && /tmp/floor_bench
#include "../Sources/CKernels/kernels.c"
#include "../Sources/CKernels/peak.c"
#include <immintrin.h>
#include <math.h>
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

// One pass of the step's traffic over a weight matrix of n doubles: a read (adds into four
// accumulators) or a read and write (a multiply by `scale`, which the caller keeps opaque), walked
// from the last double to the first (`descending`, as the backward product walks W's columns) or
// from the first. Returns what was read, so that nothing is left out.
#define DEFINE_TRAFFIC_PASS(NAME, ATTR, T, W, ZERO, SET1, LOAD, ADD, MUL, STORE)                        \
    ATTR static double NAME(double *p, size_t n, int write, int descending, double scale) {            \
        T a[4];                                                                                        \
        for (int q = 0; q < 4; q++) a[q] = ZERO();                                                     \
        const T s = SET1(scale);                                                                       \
        for (size_t b = 0; b + 4 * W <= n; b += 4 * W) {                                               \
            double *block = p + (descending ? n - 4 * W - b : b);                                      \
            for (int q = 0; q < 4; q++) {                                                              \
                const T v = LOAD(block + q * W);                                                       \
                if (write) STORE(block + q * W, MUL(s, v));                                            \
                else a[q] = ADD(a[q], v);                                                              \
            }                                                                                          \
        }                                                                                              \
        double lanes[W], sum = 0;                                                                      \
        STORE(lanes, ADD(ADD(a[0], a[1]), ADD(a[2], a[3])));                                           \
        for (int q = 0; q < W; q++) sum += lanes[q];                                                   \
        return sum;                                                                                    \
    }
DEFINE_TRAFFIC_PASS(traffic_pass_512, DLSWEEP_AVX512, __m512d, 8, _mm512_setzero_pd, _mm512_set1_pd, _mm512_loadu_pd,
                    _mm512_add_pd, _mm512_mul_pd, _mm512_storeu_pd)
DEFINE_TRAFFIC_PASS(traffic_pass_256, DLSWEEP_AVX2, __m256d, 4, _mm256_setzero_pd, _mm256_set1_pd, _mm256_loadu_pd,
                    _mm256_add_pd, _mm256_mul_pd, _mm256_storeu_pd)
#define PLAIN_ZERO() 0.0
#define PLAIN_SET1(x) (x)
#define PLAIN_LOAD(p) (*(p))
#define PLAIN_ADD(a, b) ((a) + (b))
#define PLAIN_MUL(a, b) ((a) * (b))
#define PLAIN_STORE(p, v) (*(p) = (v))
DEFINE_TRAFFIC_PASS(traffic_pass_plain, , double, 1, PLAIN_ZERO, PLAIN_SET1, PLAIN_LOAD, PLAIN_ADD, PLAIN_MUL,
                    PLAIN_STORE)

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

static double traffic_pass(double *p, size_t n, int write, int descending, double scale) {
    switch (widest()) {
    case DLSWEEP_KERNELS_AVX512: return traffic_pass_512(p, n, write, descending, scale);
    case DLSWEEP_KERNELS_AVX2: return traffic_pass_256(p, n, write, descending, scale);
    default: return traffic_pass_plain(p, n, write, descending, scale);
    }
}

// The kernel passes of one reduced step at the Figure 1 size (k = 5), as GradientStep.swift runs
// them: Wᵀδ down W_5 … W_3, W_2's Wᵀδ with its update where the variant fuses the two
// (else Wᵀδ alone), then up W_2 … W_5 the update with the forward product (W_2: the forward
// product alone when fused). Seconds per step, and per pass of each layer in `backward[l]`,
// `forward[l]` (l = 0 is W_2). The updates run with decay 1, as GradientStep runs these layers
// (each keeps its weight decay in a scale, so the kernels leave out its multiply). With
// `traffic`, each pass is its memory traffic alone (traffic_pass, the same buffers in the same
// order: the step's memory floor on this machine).
// The weights start `offset` doubles into a 64-byte line and the thin buffers `thin_offset`
// (Swift's arrays: W 6, the thin ones anywhere in 0, 2, 4, 6), each weight matrix at the same
// place in a page, as mmap gives them.
enum { STEP_K = 5, STEP_L = 4 };
static const size_t step_rows[STEP_L] = {400, 400, 400, 200}, step_cols[STEP_L] = {400, 400, 400, 400};

static double step_seconds(int variant, int reps, size_t offset, size_t thin_offset, int traffic, double backward[4],
                           double forward[4]) {
    enum { K = STEP_K, L = STEP_L };
    const size_t *rows = step_rows, *cols = step_cols;
    const int fused = dlsweep_back_and_update_supported(variant, K);
    volatile double opaque = 0.9999;  // the traffic's scale, which the compiler must not fold away
    const double scale = opaque;
    double *w[L], *delta[L + 1], *fwd[L + 1], *next[L + 1], read = 0;
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
            const int update = l == 0 && fused;
            const double t0 = now();
            if (traffic) read += traffic_pass(w[l], rows[l] * cols[l], update, 1, scale);
            else if (update)
                dlsweep_back_and_update_variant(variant, rows[l], cols[l], K, w[l], delta[l + 1], fwd[l], 1, 1e-6,
                                                delta[l], NULL);
            else dlsweep_transposed_product_variant(variant, rows[l], cols[l], K, w[l], delta[l + 1], delta[l]);
            if (r >= 0) backward[l] += now() - t0;
        }
        for (int l = 0; l < L; l++) {
            const int update = !(l == 0 && fused);
            const double t0 = now();
            if (traffic) read += traffic_pass(w[l], rows[l] * cols[l], update, 0, scale);
            else if (update)
                dlsweep_step_and_forward_variant(variant, rows[l], cols[l], K, w[l], delta[l + 1], fwd[l], next[l],
                                                 1, 1e-6, next[l + 1], NULL);
            else dlsweep_thin_product_variant(variant, rows[l], cols[l], K, w[l], next[l], next[l + 1]);
            if (r >= 0) forward[l] += now() - t0;
        }
    }
    t = now() - t;
    if (read == 42) puts("");
    for (int l = 0; l < L; l++) { backward[l] /= reps; forward[l] /= reps; }
    for (int b = 0; b < count; b++) free(blocks[b]);
    return t / reps;
}

// The floor of the step's kernels: per pass, the larger of its FMAs at the variant's peak and its
// traffic alone (`backward`, `forward` from step_seconds with `traffic`), summed.
static double step_floor(int variant, double peak, const double backward[4], const double forward[4]) {
    const int fused = dlsweep_back_and_update_supported(variant, STEP_K);
    double floor = 0;
    for (int l = 0; l < STEP_L; l++) {
        // An FMA counts 2: the products and an update 2nk each (the decay is kept in a scale).
        const double n = (double)(step_rows[l] * step_cols[l]), product = 2 * n * STEP_K, update = product;
        const double down = l == 0 && fused ? product + update : product;
        const double up = l == 0 && fused ? product : product + update;
        floor += fmax(down / peak, backward[l]) + fmax(up / peak, forward[l]);
    }
    return floor;
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
        double tp, sf, back[4], fwd[4], swift_back[4], swift_fwd[4], moved_back[4], moved_fwd[4];
        kernel_seconds(v, 300, &tp, &sf);
        peaks[v] = dlsweep_fma_peak(v, 0.5);
        // The traffic alone and the kernels in turn, so that both see the same state of the caches.
        const double moved = step_seconds(v, 1000, 0, 0, 1, moved_back, moved_fwd);
        const double step = step_seconds(v, 1000, 0, 0, 0, back, fwd);
        const double swift = step_seconds(v, 1000, 6, 2, 0, swift_back, swift_fwd);
        const double floor = step_floor(v, peaks[v], moved_back, moved_fwd);
        const int fused = dlsweep_back_and_update_supported(v, STEP_K);
        // 16.8 MFLOP a step at the Figure 1 size (an FMA counts 2).
        printf("%-9s step kernels %.3f ms (%.0f%% of its FMA peak)   per 400x400 layer: Wt.delta %.1f us, update+forward %.1f us\n",
               variants[v], 1e3 * step, 100 * 16.8e6 / step / peaks[v], 1e6 * tp, 1e6 * sf);
        printf("%-9s   in the step, us:   down (Wt.delta) W5 %5.1f W4 %5.1f W3 %5.1f W2 %5.1f   up (update+forward) W2 %5.1f W3 %5.1f W4 %5.1f W5 %5.1f\n",
               "", 1e6 * back[3], 1e6 * back[2], 1e6 * back[1], 1e6 * back[0], 1e6 * fwd[0], 1e6 * fwd[1], 1e6 * fwd[2],
               1e6 * fwd[3]);
        if (fused) printf("%-9s   (W2's update in its down pass, W x alone in its up pass)\n", "");
        printf("%-9s   its traffic alone, us:            %5.1f    %5.1f    %5.1f    %5.1f                         %5.1f    %5.1f    %5.1f    %5.1f (%.3f ms)\n",
               "", 1e6 * moved_back[3], 1e6 * moved_back[2], 1e6 * moved_back[1], 1e6 * moved_back[0],
               1e6 * moved_fwd[0], 1e6 * moved_fwd[1], 1e6 * moved_fwd[2], 1e6 * moved_fwd[3], 1e3 * moved);
        printf("%-9s   floor (per pass the FMAs at the peak or the traffic, whichever is longer): %.3f ms; the step %.2fx it\n",
               "", 1e3 * floor, step / floor);
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
