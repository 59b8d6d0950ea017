// The FMA peak of one thread, measured: the ceiling a benchmark compares the step's flop rate
// with, for each instruction set the kernels come in.
#include "CKernels.h"
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double thread_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);  // other processes on a shared core do not count
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// 12 independent chains of multiply-adds: enough to cover an FMA latency of 5 cycles on two
// pipes (Zen 2; 4 cycles suffice on Intel cores). Each function returns flops per second (an
// FMA counts 2) over `reps` iterations; the sums are returned through `sink` so the loop stays.
#define PEAK_CHAINS(FMA, ADD, T, x, y, reps, sink, seconds)                                     \
    {                                                                                                  \
        T a0 = x, a1 = y, a2 = x, a3 = y, a4 = x, a5 = y, a6 = x, a7 = y, a8 = x, a9 = y, a10 = x, a11 = y; \
        const double start = thread_seconds();                                                         \
        for (long r = 0; r < reps; r++) {                                                              \
            a0 = FMA(a0, x, y); a1 = FMA(a1, x, y); a2 = FMA(a2, x, y); a3 = FMA(a3, x, y);            \
            a4 = FMA(a4, x, y); a5 = FMA(a5, x, y); a6 = FMA(a6, x, y); a7 = FMA(a7, x, y);            \
            a8 = FMA(a8, x, y); a9 = FMA(a9, x, y); a10 = FMA(a10, x, y); a11 = FMA(a11, x, y);        \
        }                                                                                              \
        seconds = thread_seconds() - start;                                                            \
        sink = ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))),                  \
                   ADD(ADD(a8, a9), ADD(a10, a11)));                                                   \
    }

/// Two doubles: SSE2 on x86-64, NEON on aarch64, whatever the portable loops compile to.
typedef double pair __attribute__((vector_size(16)));
#define PAIR_FMA(a, x, y) ((a) * (x) + (y))
#define PAIR_ADD(a, b) ((a) + (b))

/// The portable loops' arithmetic: plain C multiply-adds on pairs of doubles (a separate
/// multiply and add on x86-64 without FMA; the compiler may fuse them elsewhere).
static double peak_portable(long reps, double *sink) {
    const pair x = {1.0000001, 1.0000001}, y = {0.9999999, 0.9999999};
    pair s;
    double seconds;
    PEAK_CHAINS(PAIR_FMA, PAIR_ADD, pair, x, y, reps, s, seconds)
    *sink = s[0] + s[1];
    return (double)reps * 12 * 2 * 2 / seconds;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static double peak_avx2(long reps, double *sink) {
    const __m256d x = _mm256_set1_pd(1.0000001), y = _mm256_set1_pd(0.9999999);
    __m256d s;
    double seconds;
    PEAK_CHAINS(_mm256_fmadd_pd, _mm256_add_pd, __m256d, x, y, reps, s, seconds)
    double lanes[4];
    _mm256_storeu_pd(lanes, s);
    *sink = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    return (double)reps * 12 * 4 * 2 / seconds;
}

__attribute__((target("avx512f,fma"))) static double peak_avx512(long reps, double *sink) {
    const __m512d x = _mm512_set1_pd(1.0000001), y = _mm512_set1_pd(0.9999999);
    __m512d s;
    double seconds;
    PEAK_CHAINS(_mm512_fmadd_pd, _mm512_add_pd, __m512d, x, y, reps, s, seconds)
    *sink = _mm512_reduce_add_pd(s);
    return (double)reps * 12 * 8 * 2 / seconds;
}
#endif

double dlsweep_fma_peak(int variant, double seconds) {
    if (!dlsweep_kernels_supports(variant)) return 0;
    // The best of rounds of about 10 ms each: a round that loses the core to another process
    // or to a frequency change is not the peak.
    double best = 0, sink = 0, spent = 0;
    long reps = 100000;
    while (spent < seconds) {
        const double start = thread_seconds();
        double rate;
        switch (variant) {
#if defined(__x86_64__)
        case DLSWEEP_KERNELS_AVX512: rate = peak_avx512(reps, &sink); break;
        case DLSWEEP_KERNELS_AVX2: rate = peak_avx2(reps, &sink); break;
#endif
        default: rate = peak_portable(reps, &sink); break;
        }
        const double took = thread_seconds() - start;
        spent += took;
        if (rate > best) best = rate;
        if (took < 5e-3) reps *= 2;
    }
    // The sums cannot be 42 (they grow without bound); the test keeps the loops.
    if (sink == 42) best += 1e-300;
    return best;
}
