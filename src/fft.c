/* Gaussian smoothing by DCT and phase correlation (FFTW transforms). */
#include "fft.h"

#include <fftw3.h>

#include "util.h"
#include <float.h>
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

BQ_NO_COVERAGE void
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

/* ---- phase correlation ------------------------------------------------- */

struct bq_phasecorr {
    size_t w, h;         /* array size, pixels */
    size_t nc;           /* complex values per spectrum: h * (w/2 + 1) */
    float *real;         /* fftwf_malloc'd w*h input / output array */
    fftwf_complex *spec; /* fftwf_malloc'd nc work spectrum */
    float *weight;       /* nc band-pass weights, normalised (see header) */
    float *mag;          /* nc magnitudes of the cross-power, scratch */
    float whiten;        /* exponent of the magnitude normalisation */
    fftwf_plan fwd, inv; /* r2c real -> spec, c2r spec -> real */
};

enum bq_status
bq_phasecorr_create(size_t w, size_t h, double lowpass, double highpass,
                    double whiten, struct bq_phasecorr **out,
                    struct bq_error *err)
{
    struct bq_phasecorr *pc = NULL;
    size_t n, hw = w / 2 + 1;
    double total = 0.0, *gx = NULL, *gy = NULL;

    if (w < 2 || h < 2 || w > 65536 || h > 65536 || !bq_mul_size(w, h, &n) ||
        !(lowpass > 0.0) || !(highpass >= 0.0) || !(whiten >= 0.0) ||
        !(whiten <= 1.0))
        return bq_error_set(err, BQ_ERR_INVALID,
                            "phase correlation: bad size %zux%zu, band "
                            "%g..%g or whitening %g", w, h, highpass, lowpass,
                            whiten);
    pc = calloc(1, sizeof *pc);
    if (!pc)
        goto nomem;
    pc->w = w;
    pc->h = h;
    pc->nc = h * hw;
    pc->whiten = (float)whiten;
    pc->real = fftwf_malloc(n * sizeof(float));
    pc->spec = fftwf_malloc(pc->nc * sizeof(fftwf_complex));
    pc->weight = bq_alloc_array(pc->nc, sizeof(float));
    pc->mag = bq_alloc_array(pc->nc, sizeof(float));
    if (!pc->real || !pc->spec || !pc->weight || !pc->mag)
        goto nomem;

    /* Band-pass in cycles/pixel; both Gaussians are separable, so their
     * factors are tabulated per row and column. The half spectrum stands
     * for the full one: every column except kx = 0 (and kx = w/2 for even
     * w) also appears mirrored, so it counts twice in the normalisation. */
    gx = bq_alloc_array(2 * hw, sizeof *gx);
    gy = bq_alloc_array(2 * h, sizeof *gy);
    if (!gx || !gy)
        goto nomem;
    for (size_t kx = 0; kx < hw; kx++) {
        double fx = (double)kx / (double)w;
        gx[kx] = exp(-0.5 * fx * fx / (lowpass * lowpass));
        gx[hw + kx] = highpass > 0.0
                          ? exp(-0.5 * fx * fx / (highpass * highpass))
                          : (kx == 0 ? 1.0 : 0.0);
    }
    for (size_t ky = 0; ky < h; ky++) {
        double fy = (double)(ky <= h / 2 ? ky : h - ky) / (double)h;
        gy[ky] = exp(-0.5 * fy * fy / (lowpass * lowpass));
        gy[h + ky] = highpass > 0.0
                         ? exp(-0.5 * fy * fy / (highpass * highpass))
                         : (ky == 0 ? 1.0 : 0.0);
    }
    for (size_t ky = 0; ky < h; ky++)
        for (size_t kx = 0; kx < hw; kx++) {
            double g = gx[kx] * gy[ky] * (1.0 - gx[hw + kx] * gy[h + ky]);
            int twice = kx != 0 && !(w % 2 == 0 && kx == w / 2);
            pc->weight[ky * hw + kx] = (float)g;
            total += g * (twice ? 2.0 : 1.0);
        }
    free(gx);
    free(gy);
    gx = gy = NULL;
    if (!(total > 0.0)) {
        bq_phasecorr_destroy(pc);
        return bq_error_set(err, BQ_ERR_INVALID,
                            "phase correlation: empty pass band");
    }
    for (size_t i = 0; i < pc->nc; i++)
        pc->weight[i] = (float)(pc->weight[i] / total);

    pthread_mutex_lock(&planner_lock);
    pc->fwd = fftwf_plan_dft_r2c_2d((int)h, (int)w, pc->real, pc->spec,
                                    FFTW_ESTIMATE);
    pc->inv = fftwf_plan_dft_c2r_2d((int)h, (int)w, pc->spec, pc->real,
                                    FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (!pc->fwd || !pc->inv) {
        bq_phasecorr_destroy(pc);
        return bq_error_set(err, BQ_ERR_FFT,
                            "FFTW could not plan a %zux%zu transform", w, h);
    }
    *out = pc;
    return BQ_OK;

nomem:
    free(gx);
    free(gy);
    bq_phasecorr_destroy(pc);
    return bq_error_set(err, BQ_ERR_NOMEM, "phase correlation: out of memory");
}

size_t
bq_phasecorr_spectrum_len(const struct bq_phasecorr *pc)
{
    return 2 * pc->nc;
}

void
bq_phasecorr_forward(struct bq_phasecorr *pc, const float *in, float *spec)
{
    memcpy(pc->real, in, pc->w * pc->h * sizeof(float));
    fftwf_execute(pc->fwd);
    memcpy(spec, pc->spec, pc->nc * sizeof(fftwf_complex));
}

void
bq_phasecorr_correlate(struct bq_phasecorr *pc, const float *ref,
                       const float *mov, float *surface)
{
    double total = 0.0;
    float eps;

    /* conj(REF) * MOV: its phase is the shift of MOV against REF. */
    for (size_t i = 0; i < pc->nc; i++) {
        float ar = ref[2 * i], ai = ref[2 * i + 1];
        float br = mov[2 * i], bi = mov[2 * i + 1];
        pc->spec[i][0] = ar * br + ai * bi;
        pc->spec[i][1] = ar * bi - ai * br;
    }
    /* Divide by the magnitude to the power WHITEN (1: only the phase is
     * left); frequencies with (numerically) no energy in either array are
     * damped instead of amplified. */
    if (pc->whiten > 0.0f) {
        for (size_t i = 0; i < pc->nc; i++) {
            float re = pc->spec[i][0], im = pc->spec[i][1];
            pc->mag[i] = sqrtf(re * re + im * im);
            total += pc->mag[i];
        }
        eps = (float)(1e-6 * total / (double)pc->nc) + FLT_MIN;
        if (pc->whiten == 1.0f)
            for (size_t i = 0; i < pc->nc; i++)
                pc->mag[i] = pc->weight[i] / (pc->mag[i] + eps);
        else if (pc->whiten == 0.5f)
            for (size_t i = 0; i < pc->nc; i++)
                pc->mag[i] = pc->weight[i] / sqrtf(pc->mag[i] + eps);
        else
            for (size_t i = 0; i < pc->nc; i++)
                pc->mag[i] =
                    pc->weight[i] / powf(pc->mag[i] + eps, pc->whiten);
    } else {
        memcpy(pc->mag, pc->weight, pc->nc * sizeof *pc->mag);
    }
    for (size_t i = 0; i < pc->nc; i++) {
        pc->spec[i][0] *= pc->mag[i];
        pc->spec[i][1] *= pc->mag[i];
    }
    fftwf_execute(pc->inv);
    memcpy(surface, pc->real, pc->w * pc->h * sizeof(float));
}

void
bq_phasecorr_destroy(struct bq_phasecorr *pc)
{
    if (!pc)
        return;
    pthread_mutex_lock(&planner_lock);
    if (pc->fwd)
        fftwf_destroy_plan(pc->fwd);
    if (pc->inv)
        fftwf_destroy_plan(pc->inv);
    pthread_mutex_unlock(&planner_lock);
    fftwf_free(pc->real);
    fftwf_free(pc->spec);
    free(pc->weight);
    free(pc->mag);
    free(pc);
}
