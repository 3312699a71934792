/* Gaussian smoothing by DCT (FFTW real-to-real transforms). */
#include "fft.h"

#include <fftw3.h>

#include "util.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* FFTW's planner is not thread-safe; execution is. This lock is the one
 * piece of process-wide state in the library, and it only guards planning
 * so that `batch` can analyse scans on several threads. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

struct bq_smoother {
    size_t w, h;         /* array size, pixels */
    float *buf;          /* fftwf_malloc'd work array, w*h */
    float *gain;         /* w*h transfer function incl. 1/(4wh) */
    fftwf_plan fwd, inv; /* DCT-II and DCT-III, in place on buf */
};

enum bq_status
bq_smoother_create(size_t w, size_t h, double sigma_x, double sigma_y,
                   struct bq_smoother **out, struct bq_error *err)
{
    struct bq_smoother *s = NULL;
    size_t n;
    double norm;

    if (w == 0 || h == 0 || w > (1u << 20) || h > (1u << 20) ||
        !bq_mul_size(w, h, &n))
        return bq_error_set(err, BQ_ERR_INVALID,
                            "smoothing: bad size %zux%zu", w, h);
    s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->w = w;
    s->h = h;
    s->buf = fftwf_malloc(n * sizeof(float));
    s->gain = bq_alloc_array(n, sizeof(float));
    if (!s->buf || !s->gain)
        goto nomem;

    /* DCT-II frequency index k of an N-point signal is pi*k/N rad/sample;
     * a Gaussian of SD sigma multiplies it by exp(-(sigma*omega)^2/2).
     * REDFT10 followed by REDFT01 scales by 2N per dimension. */
    norm = 1.0 / (4.0 * (double)w * (double)h);
    for (size_t ky = 0; ky < h; ky++) {
        double wy = BQ_PI * (double)ky / (double)h * sigma_y;
        double gy = exp(-0.5 * wy * wy);
        for (size_t kx = 0; kx < w; kx++) {
            double wx = BQ_PI * (double)kx / (double)w * sigma_x;
            s->gain[ky * w + kx] = (float)(gy * exp(-0.5 * wx * wx) * norm);
        }
    }

    pthread_mutex_lock(&planner_lock);
    s->fwd = fftwf_plan_r2r_2d((int)h, (int)w, s->buf, s->buf, FFTW_REDFT10,
                               FFTW_REDFT10, FFTW_ESTIMATE);
    s->inv = fftwf_plan_r2r_2d((int)h, (int)w, s->buf, s->buf, FFTW_REDFT01,
                               FFTW_REDFT01, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (!s->fwd || !s->inv) {
        bq_smoother_destroy(s);
        return bq_error_set(err, BQ_ERR_FFT,
                            "FFTW could not plan a %zux%zu transform", w, h);
    }
    *out = s;
    return BQ_OK;

nomem:
    bq_smoother_destroy(s);
    return bq_error_set(err, BQ_ERR_NOMEM, "smoothing: out of memory");
}

void
bq_smoother_apply(struct bq_smoother *s, const float *in, float *out)
{
    size_t n = s->w * s->h;

    if (in != s->buf)
        memcpy(s->buf, in, n * sizeof(float));
    fftwf_execute(s->fwd);
    for (size_t i = 0; i < n; i++)
        s->buf[i] *= s->gain[i];
    fftwf_execute(s->inv);
    memcpy(out, s->buf, n * sizeof(float));
}

void
bq_smoother_destroy(struct bq_smoother *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&planner_lock);
    if (s->fwd)
        fftwf_destroy_plan(s->fwd);
    if (s->inv)
        fftwf_destroy_plan(s->inv);
    pthread_mutex_unlock(&planner_lock);
    fftwf_free(s->buf);
    free(s->gain);
    free(s);
}
