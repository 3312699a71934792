/* Statistics and 1-D helpers shared by the stages. */
#include "util.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "blotquant/image.h"

/* Wirth's selection: partial quicksort that keeps only the side holding
 * index K. Signed indices: J may step below L. */
#define SELECT_BODY(T)                                                         \
    long l = 0, m, k;                                                          \
    if (n == 0)                                                                \
        return 0;                                                              \
    k = (long)(bq_clampd(q, 0.0, 1.0) * (double)(n - 1) + 0.5);                \
    m = (long)n - 1;                                                           \
    while (l < m) {                                                            \
        T x = a[k];                                                            \
        long i = l, j = m;                                                     \
        do {                                                                   \
            while (a[i] < x)                                                   \
                i++;                                                           \
            while (x < a[j])                                                   \
                j--;                                                           \
            if (i <= j) {                                                      \
                T t = a[i];                                                    \
                a[i] = a[j];                                                   \
                a[j] = t;                                                      \
                i++;                                                           \
                j--;                                                           \
            }                                                                  \
        } while (i <= j);                                                      \
        if (j < k)                                                             \
            l = i;                                                             \
        if (k < i)                                                             \
            m = j;                                                             \
    }                                                                          \
    return a[k];

float
bq_select_f(float *a, size_t n, double q)
{
    SELECT_BODY(float)
}

double
bq_select_d(double *a, size_t n, double q)
{
    SELECT_BODY(double)
}

double
bq_noise_sigma(const float *px, size_t stride, size_t x0, size_t y0,
               size_t x1, size_t y1)
{
    size_t w = x1 > x0 + 1 ? x1 - x0 - 1 : 0, h = y1 > y0 ? y1 - y0 : 0;
    size_t total, step, n = 0, cap = 50000;
    float *d;
    double med;

    if (w == 0 || h == 0)
        return 0.0;
    total = w * h;
    step = total > cap ? total / cap : 1;
    d = bq_alloc_array(total / step + 1, sizeof *d);
    if (!d)
        return 0.0;
    /* Walk the region as one flat sequence, taking every STEP-th pair. An
     * odd step keeps the sample from locking onto a column pattern. */
    if (step > 1 && step % 2 == 0)
        step++;
    for (size_t i = 0; i < total; i += step) {
        size_t y = y0 + i / w, x = x0 + i % w;
        const float *p = px + y * stride + x;
        d[n++] = fabsf(p[1] - p[0]);
    }
    med = bq_select_f(d, n, 0.5) / 0.6745;
    /* Integer data with a smooth background: most differences are exactly
     * zero and the median says nothing; the upper quartile still does
     * (|N(0,1)| has quartile 1.1503). */
    if (med == 0)
        med = bq_select_f(d, n, 0.75) / 1.1503;
    if (med == 0)
        med = bq_select_f(d, n, 0.95) / 1.96;
    free(d);
    /* differences of two noisy pixels have SD s*sqrt(2) */
    return med / 1.41421356;
}

BQ_NO_COVERAGE void
bq_smooth1d(const double *in, double *out, size_t n, double sigma)
{
    long r, nn = (long)n;
    double k[512];

    if (n == 0)
        return;
    if (sigma < 0.3) {
        for (size_t i = 0; i < n; i++)
            out[i] = in[i];
        return;
    }
    r = (long)ceil(3.0 * sigma);
    if (r > 255)
        r = 255;
    for (long j = -r; j <= r; j++)
        k[j + r] = exp(-0.5 * (double)(j * j) / (sigma * sigma));
    for (long i = 0; i < nn; i++) {
        double s = 0, ws = 0;
        for (long j = -r; j <= r; j++) {
            long t = i + j;
            if (t < 0)
                t = -t - 1;
            if (t >= nn)
                t = 2 * nn - t - 1;
            if (t < 0 || t >= nn)
                continue;
            s += k[j + r] * in[t];
            ws += k[j + r];
        }
        out[i] = s / ws;
    }
}

static pthread_once_t gsl_quiet_once = PTHREAD_ONCE_INIT;

static void
gsl_handler_off(void)
{
    gsl_set_error_handler_off();
}

void
bq_gsl_quiet(void)
{
    pthread_once(&gsl_quiet_once, gsl_handler_off);
}
