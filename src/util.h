/* Internal helpers shared by the stages: statistics and 1-D smoothing. */
#ifndef BQ_UTIL_H
#define BQ_UTIL_H

#include <stddef.h>

#define BQ_PI 3.14159265358979323846

/* Marks an arithmetic kernel that the fuzz build (tests/fuzz) leaves without
 * coverage callbacks: a loop over every pixel with a bounds test spends most
 * of a fuzz run's time reporting the same comparison. The sanitizers still
 * check it; other builds are unaffected. */
#if defined(__clang__) && __clang_major__ >= 13
#define BQ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define BQ_NO_COVERAGE
#endif

static inline double
bq_clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static inline size_t
bq_min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Sum of N floats in double precision, in eight interleaved partial sums
 * combined pairwise: the loop vectorises (a single running sum is one long
 * dependency chain, and the compiler may not reorder it), and the order,
 * hence the result, does not depend on where V starts. */
static inline double
bq_sum_f(const float *v, size_t n)
{
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += (double)v[i + k];
    for (int k = 0; i < n; i++, k++)
        a[k] += (double)v[i];
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* Returns the Q-quantile (0..1) of N floats, reordering A in place
 * (quickselect, linear time). N == 0 returns 0. */
float bq_select_f(float *a, size_t n, double q);

/* Same for doubles. */
double bq_select_d(double *a, size_t n, double q);

/* Robust noise SD of the image values V at a STEP sample spacing, from the
 * median absolute difference of horizontally adjacent pixels (a Gaussian
 * noise of SD s gives differences of SD s*sqrt(2)). Smooth structure barely
 * contributes. Uses up to ~50000 samples of rows Y0..Y1, columns X0..X1
 * (the median of 50000 is within ~0.5 % of the population's).
 * Returns 0 for an empty region. */
double bq_noise_sigma(const float *px, size_t stride, size_t x0, size_t y0,
                      size_t x1, size_t y1);

/* Gaussian smoothing of a 1-D array of N doubles with SD SIGMA (samples),
 * edges reflected, by direct convolution. OUT must not alias IN. */
void bq_smooth1d(const double *in, double *out, size_t n, double sigma);

/* Switches GSL's default error handler (which aborts the process) off, once
 * per process; safe to call from any thread, any number of times. Fits that
 * fail are an expected outcome, reported by GSL's return codes. The handler
 * is process-wide, so it is switched off once (pthread_once), not per fit
 * (that would race between threads analysing scans in parallel). */
void bq_gsl_quiet(void);

#endif
