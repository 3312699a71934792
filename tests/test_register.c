/* Tests of the registration stage (src/register.c).
 *
 * Fixtures: a membrane from the synthetic generator, rendered noise-free
 * twice (with its bands, and background only), so that each "scan" of it
 * can be composed here with its own band strengths (a factor per lane and
 * band row, as a different antibody would give), its own background
 * blotches, exposure and noise, and its own placement: the moving scan is
 * resampled (this file's own bilinear sampler and inverse transform, so the
 * library's convention is checked, not copied) so that membrane point p of
 * the fixed scan shows at T(p). Truth is then T exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blotquant/register.h"
#include "fft.h"
#include "synth.h"
#include "testutil.h"

#define TEST_PI 3.14159265358979323846
#define TOL_PX 1.0   /* translation error allowed, px */
#define TOL_DEG 0.15 /* angle error allowed, degrees */

/* ---- random numbers --------------------------------------------------- */

/* splitmix64, so the tests do not depend on the C library's rand(). */
static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [A, B). */
static double
rng_uniform(uint64_t *s, double a, double b)
{
    return a + (b - a) * (double)(rng_next(s) >> 11) *
                   (1.0 / 9007199254740992.0);
}

/* Standard normal deviate (Box-Muller). */
static double
rng_normal(uint64_t *s)
{
    double u = rng_uniform(s, 0.0, 1.0), v = rng_uniform(s, 0.0, 1.0);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * TEST_PI * v);
}

/* ---- the spec's transform, written out independently ------------------ */

/* Point P of the fixed scan to the moving scan: x' = c + R(a)(x - c) + d,
 * c the centre of the fixed scan (W x H). */
static void
spec_map(const struct bq_reg_result *t, double w, double h, double x,
         double y, double *xo, double *yo)
{
    double cx = 0.5 * (w - 1.0), cy = 0.5 * (h - 1.0);
    double a = t->angle * TEST_PI / 180.0;

    *xo = cx + cos(a) * (x - cx) - sin(a) * (y - cy) + t->dx;
    *yo = cy + sin(a) * (x - cx) + cos(a) * (y - cy) + t->dy;
}

/* Its inverse: moving -> fixed. */
static void
spec_unmap(const struct bq_reg_result *t, double w, double h, double x,
           double y, double *xo, double *yo)
{
    double cx = 0.5 * (w - 1.0), cy = 0.5 * (h - 1.0);
    double a = t->angle * TEST_PI / 180.0;
    double u = x - cx - t->dx, v = y - cy - t->dy;

    *xo = cx + cos(a) * u + sin(a) * v;
    *yo = cy - sin(a) * u + cos(a) * v;
}

/* Bilinear sample of IMG at (X, Y), clamped into the image. */
static double
sample(const struct bq_image *img, double x, double y)
{
    double fx, fy;
    size_t x0, y0, x1, y1;
    const float *r0, *r1;

    x = x < 0.0 ? 0.0 : x > (double)(img->width - 1) ? (double)(img->width - 1) : x;
    y = y < 0.0 ? 0.0 : y > (double)(img->height - 1) ? (double)(img->height - 1) : y;
    x0 = (size_t)x;
    y0 = (size_t)y;
    x1 = x0 + 1 < img->width ? x0 + 1 : x0;
    y1 = y0 + 1 < img->height ? y0 + 1 : y0;
    fx = x - (double)x0;
    fy = y - (double)y0;
    r0 = bq_row(img, y0);
    r1 = bq_row(img, y1);
    return (1.0 - fy) * ((1.0 - fx) * r0[x0] + fx * r0[x1]) +
           fy * ((1.0 - fx) * r1[x0] + fx * r1[x1]);
}

/* ---- membranes and their scans ---------------------------------------- */

/* One membrane: its bands rendered noise-free, its background alone, and
 * the generator's truth (lanes and bands). */
struct membrane {
    struct bq_image *img, *bg;
    struct bq_synth_truth truth;
};

/* Renders membrane SEED at W x H, unrotated (FRAME: -1 as the generator
 * chose, else forced), noise-free. */
static void
membrane_make(struct membrane *m, uint64_t seed, size_t w, size_t h,
              int frame)
{
    struct bq_synth_params p;
    struct bq_synth_truth t2;

    bq_synth_params_init(&p);
    p.width = w;
    p.height = h;
    bq_synth_params_randomize(&p, seed);
    p.rotation_deg = 0.0;
    p.read_noise = 0.0;
    p.gain = 0.0;
    p.hot_pixels = 0;
    p.bit_depth = 32;
    if (frame >= 0)
        p.frame = frame;
    assert_int_equal(bq_synth_generate(&p, &m->img, &m->truth, NULL), BQ_OK);
    p.peak_frac = 1e-6; /* same scene, bands too faint to matter */
    assert_int_equal(bq_synth_generate(&p, &m->bg, &t2, NULL), BQ_OK);
    bq_synth_truth_fini(&t2);
}

static void
membrane_free(struct membrane *m)
{
    bq_image_destroy(m->img);
    bq_image_destroy(m->bg);
    bq_synth_truth_fini(&m->truth);
}

/* How one scan of a membrane looks. */
struct look {
    double lo, hi;     /* band factor range, per lane and row */
    double p_absent;   /* chance that a row is not seen at all */
    int blotches;      /* extra background blotches */
    double expo;       /* exposure factor */
    double read, gain; /* read noise SD (codes), electrons per code */
};

#define ROW_KEYS (3 * 24 * 8) /* strips x lanes x (rows + ladder) */

/* Returns the table index of band B: (strip, lane, row), ladder row 7. */
static size_t
band_key(const struct bq_synth_band *b)
{
    int row = b->row < 0 ? 7 : b->row;
    return ((size_t)b->strip * 24 + (size_t)b->lane) * 8 + (size_t)row;
}

/* Factor at membrane pixel (X, Y): that of the band row, in the nearest
 * lane of the strip, whose centre is nearest in y. Constant over a band,
 * as the strength of a band is one number. */
static double
factor_at(const struct membrane *m, const double *f, double x, double y)
{
    const struct bq_synth_truth *t = &m->truth;
    const struct bq_synth_lane *ln = NULL;
    double bd = HUGE_VAL;
    size_t key = (size_t)-1;

    for (size_t i = 0; i < t->nlanes; i++) {
        const struct bq_synth_lane *l = &t->lanes[i];
        double dy = y < l->y_top      ? l->y_top - y
                    : y > l->y_bottom ? y - l->y_bottom
                                      : 0.0;
        double d = fabs(x - l->x) + 4.0 * dy;
        if (d < bd) {
            bd = d;
            ln = l;
        }
    }
    bd = HUGE_VAL;
    for (size_t i = 0; ln && i < t->nbands; i++) {
        const struct bq_synth_band *b = &t->bands[i];
        if (b->strip == ln->strip && b->lane == ln->lane &&
            fabs(y - b->y) < bd) {
            bd = fabs(y - b->y);
            key = band_key(b);
        }
    }
    return key < ROW_KEYS ? f[key] : 1.0;
}

/* Renders a scan of M as an OW x OH float image: its own band factors
 * (LOOK), blotches and noise; if T is not NULL, placed so that the
 * membrane point p of an untransformed scan shows at T(p). SEED drives the
 * scan's random choices. The caller frees the image. */
static struct bq_image *
scan_make(const struct membrane *m, const struct bq_reg_result *t, size_t ow,
          size_t oh, const struct look *look, uint64_t seed)
{
    size_t w = m->img->width, h = m->img->height;
    double W = (double)w, H = (double)h;
    double *f = malloc(ROW_KEYS * sizeof *f);
    float *fac = malloc(w * h * sizeof *fac);
    double bx[8], by[8], bs[8], ba[8];
    int absent[8];
    struct bq_image *out = bq_image_create(ow, oh, NULL);
    uint64_t s = seed;

    assert_non_null(f);
    assert_non_null(fac);
    assert_non_null(out);
    assert_true(look->blotches <= 8);
    /* Phase 1: this scan's band factors (the ladder is the same marker in
     * every scan) and blotches. */
    for (int r = 0; r < 8; r++)
        absent[r] = rng_uniform(&s, 0.0, 1.0) < look->p_absent;
    for (size_t k = 0; k < ROW_KEYS; k++) {
        int row = (int)(k % 8);
        f[k] = row == 7 ? 1.0
               : absent[row] ? 0.0
                             : rng_uniform(&s, look->lo, look->hi);
    }
    for (int k = 0; k < look->blotches; k++) {
        bx[k] = rng_uniform(&s, 0.0, W);
        by[k] = rng_uniform(&s, 0.0, H);
        bs[k] = rng_uniform(&s, 0.05, 0.15) * 0.5 * (W + H);
        ba[k] = rng_uniform(&s, -0.15, 0.4);
    }
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            double sig = bq_row(m->img, y)[x] - bq_row(m->bg, y)[x];
            fac[y * w + x] = sig > 1.0 ? (float)factor_at(m, f, (double)x,
                                                          (double)y)
                                       : 1.0f;
        }
    /* Phase 2: every output pixel shows the membrane point it maps from. */
    out->bit_depth = 32;
    out->max_code = 65535.0f;
    for (size_t y = 0; y < oh; y++)
        for (size_t x = 0; x < ow; x++) {
            double px = (double)x, py = (double)y, b, v, g = 1.0, val;
            long ix, iy;
            if (t)
                spec_unmap(t, W, H, (double)x, (double)y, &px, &py);
            b = sample(m->bg, px, py);
            v = sample(m->img, px, py);
            ix = lround(px < 0.0 ? 0.0 : px > W - 1.0 ? W - 1.0 : px);
            iy = lround(py < 0.0 ? 0.0 : py > H - 1.0 ? H - 1.0 : py);
            for (int k = 0; k < look->blotches; k++) {
                double dx = px - bx[k], dy = py - by[k];
                g += ba[k] * exp(-(dx * dx + dy * dy) / (2.0 * bs[k] * bs[k]));
            }
            val = look->expo * (b * g + fac[(size_t)iy * w + (size_t)ix] * (v - b));
            val += rng_normal(&s) *
                   sqrt(look->read * look->read + (val > 0.0 ? val / look->gain : 0.0));
            bq_row(out, y)[x] = (float)val;
        }
    free(f);
    free(fac);
    return out;
}

/* The phospho scan: band strengths spread 30x across lanes (a dose
 * series), one blotch, read noise 30 codes. */
static const struct look phospho_look = {0.05, 1.5, 0.0, 1, 1.0, 30.0, 1.0};
/* The total scan: strengths within +-40 %, three blotches of its own, a
 * different exposure and noise. */
static const struct look total_look = {0.6, 1.4, 0.0, 3, 0.6, 20.0, 2.0};

/* Registers MOVING onto FIXED with the default options and checks the
 * result against T and that it matched; returns the result. */
static struct bq_reg_result
check_register(const struct bq_image *fixed, const struct bq_image *moving,
               const struct bq_reg_result *t, const char *what)
{
    struct bq_reg_result r;
    struct bq_error err = {BQ_OK, ""};

    assert_int_equal(bq_register(fixed, moving, NULL, &r, &err), BQ_OK);
    printf("  %-28s truth (%7.2f, %7.2f, %6.3f)  got (%7.2f, %7.2f, %6.3f)  "
           "err %.3f px %.4f deg  score %.3f\n", what, t->dx, t->dy, t->angle,
           r.dx, r.dy, r.angle, fmax(fabs(r.dx - t->dx), fabs(r.dy - t->dy)),
           fabs(r.angle - t->angle), r.score);
    assert_true(fabs(r.dx - t->dx) <= TOL_PX);
    assert_true(fabs(r.dy - t->dy) <= TOL_PX);
    assert_true(fabs(r.angle - t->angle) <= TOL_DEG);
    assert_int_equal(r.matched, 1);
    return r;
}

/* ---- tests ------------------------------------------------------------ */

/* The correlator against a brute-force oracle: without whitening and with
 * a flat pass band it is the circular cross-correlation of the zero-mean
 * arrays, scaled by N / (N - 1) (the weights sum to 1 over the N - 1
 * frequencies but DC); whitened, a circular shift by (+3, -2) peaks at
 * exactly 1 there (and is -1/(N-1) elsewhere, DC being left out). */
static void
test_phasecorr_matches_direct(void **state)
{
    enum { W = 16, H = 12, N = W * H };
    struct bq_phasecorr *pc = NULL;
    float a[N], b[N], surf[N], *sa, *sb;
    double ma = 0.0, mb = 0.0, worst = 0.0;
    uint64_t s = 99;
    size_t len;

    (void)state;
    for (int i = 0; i < N; i++) {
        a[i] = (float)rng_normal(&s);
        b[i] = (float)rng_normal(&s);
        ma += a[i] / N;
        mb += b[i] / N;
    }
    assert_int_equal(bq_phasecorr_create(W, H, 1e6, 0.0, 0.0, &pc, NULL),
                     BQ_OK);
    len = bq_phasecorr_spectrum_len(pc);
    sa = malloc(len * sizeof *sa);
    sb = malloc(len * sizeof *sb);
    assert_non_null(sa);
    assert_non_null(sb);
    bq_phasecorr_forward(pc, a, sa);
    bq_phasecorr_forward(pc, b, sb);
    bq_phasecorr_correlate(pc, sa, sb, surf);
    for (int ty = 0; ty < H; ty++)
        for (int tx = 0; tx < W; tx++) {
            double d = 0.0;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    d += (a[y * W + x] - ma) *
                         (b[((y + ty) % H) * W + (x + tx) % W] - mb);
            d *= (double)N / (double)(N - 1);
            worst = fmax(worst, fabs(d - surf[ty * W + tx]));
        }
    assert_true(worst < 1e-3);
    bq_phasecorr_destroy(pc);
    pc = NULL;

    /* b = a shifted by (+3, -2): b(x, y) = a(x - 3, y + 2) */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            b[y * W + x] = a[((y + 2) % H) * W + (x - 3 + W) % W];
    assert_int_equal(bq_phasecorr_create(W, H, 1e6, 0.0, 1.0, &pc, NULL),
                     BQ_OK);
    bq_phasecorr_forward(pc, a, sa);
    bq_phasecorr_forward(pc, b, sb);
    bq_phasecorr_correlate(pc, sa, sb, surf);
    assert_true(fabs(surf[(H - 2) * W + 3] - 1.0) < 1e-4);
    for (int i = 0; i < N; i++) /* DC is left out: -1/(N-1) elsewhere */
        if (i != (H - 2) * W + 3)
            assert_true(fabs(surf[i] + 1.0 / (N - 1)) < 1e-4);
    bq_phasecorr_destroy(pc);
    free(sa);
    free(sb);
}

/* The public map/unmap follow the spec's formula and invert each other. */
static void
test_map_unmap_convention(void **state)
{
    struct bq_reg_result t = {7.25, -3.5, 1.75, 0.0, 0.0, 0};
    double w = 640.0, h = 280.0, cx = 0.5 * (w - 1.0), cy = 0.5 * (h - 1.0);
    double pts[4][2] = {{0, 0}, {639, 0}, {100.5, 200.25}, {cx, cy}};

    (void)state;
    for (int i = 0; i < 4; i++) {
        double x, y, sx, sy, bx, by;
        bq_reg_map(&t, cx, cy, pts[i][0], pts[i][1], &x, &y);
        spec_map(&t, w, h, pts[i][0], pts[i][1], &sx, &sy);
        assert_true(fabs(x - sx) < 1e-9 && fabs(y - sy) < 1e-9);
        bq_reg_unmap(&t, cx, cy, x, y, &bx, &by);
        assert_true(fabs(bx - pts[i][0]) < 1e-9);
        assert_true(fabs(by - pts[i][1]) < 1e-9);
    }
    /* the centre moves by the translation only */
    {
        double x, y;
        bq_reg_map(&t, cx, cy, cx, cy, &x, &y);
        assert_true(fabs(x - (cx + 7.25)) < 1e-9);
        assert_true(fabs(y - (cy - 3.5)) < 1e-9);
    }
}

/* bq_image_warp brings a spot placed at T(p) in the moving image back to
 * p, and fills what lies outside. */
static void
test_warp_brings_spot_back(void **state)
{
    struct bq_reg_result t = {6.3, -4.7, 2.0, 0.0, 0.0, 0};
    size_t w = 200, h = 150;
    double px = 60.0, py = 100.0, qx, qy, sx = 0, sy = 0, sum = 0;
    struct bq_image *mov = bq_image_create(w, h, NULL), *out = NULL;
    struct bq_error err = {BQ_OK, ""};

    (void)state;
    assert_non_null(mov);
    spec_map(&t, (double)w, (double)h, px, py, &qx, &qy);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            double dx = (double)x - qx, dy = (double)y - qy;
            bq_row(mov, y)[x] = (float)(1000.0 * exp(-(dx * dx + dy * dy) / 18.0));
        }
    assert_int_equal(bq_image_warp(mov, &t, w, h, -1.0f, &out, &err), BQ_OK);
    assert_int_equal(out->width, w);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            double v = bq_row(out, y)[x];
            if (v > 1.0) {
                sx += v * (double)x;
                sy += v * (double)y;
                sum += v;
            }
        }
    assert_true(fabs(sx / sum - px) < 0.05);
    assert_true(fabs(sy / sum - py) < 0.05);
    /* the top-right corner maps outside the moving image: filled */
    assert_true(bq_row(out, 0)[w - 1] == -1.0f);
    bq_image_destroy(out);
    out = NULL;
    assert_int_equal(bq_image_warp(NULL, &t, w, h, 0.0f, &out, &err),
                     BQ_ERR_INVALID);
    assert_null(out);
    bq_image_destroy(mov);
}

/* The same membrane with other band strengths, blotches, exposure and
 * noise is found for offsets up to +-15 px and +-2 degrees, both signs. */
static void
test_recovers_offsets(void **state)
{
    static const double cases[][3] = {
        {15.0, -15.0, 2.0}, {-15.0, 15.0, -2.0}, {-12.4, -9.7, 1.3},
        {9.1, 13.6, -1.7},  {0.4, -0.3, 0.0},    {14.2, 3.3, -0.6},
    };
    size_t w = 1024, h = 768;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct membrane m;
        struct bq_reg_result t = {cases[i][0], cases[i][1], cases[i][2],
                                  0.0, 0.0, 0};
        struct bq_image *fixed, *moving;
        char what[64];
        membrane_make(&m, 100 + i, w, h, -1);
        fixed = scan_make(&m, NULL, w, h, &phospho_look, 1000 + i);
        moving = scan_make(&m, &t, w, h, &total_look, 2000 + i);
        snprintf(what, sizeof what, "membrane %zu", 100 + i);
        check_register(fixed, moving, &t, what);
        bq_image_destroy(fixed);
        bq_image_destroy(moving);
        membrane_free(&m);
    }
}

/* Other sizes (small, portrait), a loading-control-like scan that lacks a
 * band row, and translation only with max_angle 0. */
static void
test_recovers_other_sizes_and_rows(void **state)
{
    struct membrane m;
    struct bq_reg_result t1 = {-7.5, 11.2, 1.4, 0.0, 0.0, 0};
    struct bq_reg_result t2 = {10.8, -6.1, -1.9, 0.0, 0.0, 0};
    struct bq_reg_result t3 = {-4.3, -9.9, 0.0, 0.0, 0.0, 0};
    struct look loading = total_look;
    struct bq_reg_opts o;
    struct bq_reg_result r;
    struct bq_image *fixed, *moving;

    (void)state;
    /* small landscape */
    membrane_make(&m, 211, 640, 400, -1);
    fixed = scan_make(&m, NULL, 640, 400, &phospho_look, 11);
    moving = scan_make(&m, &t1, 640, 400, &total_look, 12);
    check_register(fixed, moving, &t1, "640 x 400");
    bq_image_destroy(moving);
    /* the same membrane, a scan missing some band rows (another antibody),
     * with the membrane edges in view */
    bq_image_destroy(fixed);
    membrane_free(&m);
    membrane_make(&m, 212, 800, 600, 1);
    loading.p_absent = 0.5;
    fixed = scan_make(&m, NULL, 800, 600, &phospho_look, 21);
    moving = scan_make(&m, &t2, 800, 600, &loading, 22);
    check_register(fixed, moving, &t2, "800 x 600, rows missing");
    /* other working sizes */
    for (size_t side = 128; side <= 512; side *= 4) {
        bq_reg_opts_init(&o);
        o.max_side = side;
        assert_int_equal(bq_register(fixed, moving, &o, &r, NULL), BQ_OK);
        printf("  max_side %-3zu: err %.3f px %.4f deg score %.3f\n", side,
               fmax(fabs(r.dx - t2.dx), fabs(r.dy - t2.dy)),
               fabs(r.angle - t2.angle), r.score);
        assert_true(fabs(r.dx - t2.dx) <= TOL_PX);
        assert_true(fabs(r.dy - t2.dy) <= TOL_PX);
        assert_true(fabs(r.angle - t2.angle) <= TOL_DEG);
    }
    bq_image_destroy(moving);
    /* translation only */
    bq_reg_opts_init(&o);
    o.max_angle = 0.0;
    moving = scan_make(&m, &t3, 800, 600, &total_look, 23);
    assert_int_equal(bq_register(fixed, moving, &o, &r, NULL), BQ_OK);
    assert_true(r.angle == 0.0);
    assert_true(fabs(r.dx - t3.dx) <= TOL_PX && fabs(r.dy - t3.dy) <= TOL_PX);
    assert_int_equal(r.matched, 1);
    bq_image_destroy(moving);
    bq_image_destroy(fixed);
    membrane_free(&m);
    /* portrait */
    membrane_make(&m, 213, 600, 900, -1);
    fixed = scan_make(&m, NULL, 600, 900, &phospho_look, 31);
    moving = scan_make(&m, &t2, 600, 900, &total_look, 32);
    check_register(fixed, moving, &t2, "600 x 900");
    bq_image_destroy(moving);
    bq_image_destroy(fixed);
    membrane_free(&m);
}

/* A moving scan of another size: a crop of the full scan at offset
 * (OX, OY) shows membrane point p at T(p) - (OX, OY), with T about the
 * centre of the fixed scan. */
static void
test_moving_of_other_size(void **state)
{
    struct membrane m;
    struct bq_reg_result t = {8.6, -5.4, -1.2, 0.0, 0.0, 0}, tc = t;
    struct bq_image *fixed, *full, *crop;
    size_t ox = 17, oy = 9, cw = 980, ch = 700;

    (void)state;
    membrane_make(&m, 301, 1024, 768, -1);
    fixed = scan_make(&m, NULL, 1024, 768, &phospho_look, 41);
    full = scan_make(&m, &t, 1024, 768, &total_look, 42);
    crop = bq_image_create(cw, ch, NULL);
    assert_non_null(crop);
    for (size_t y = 0; y < ch; y++)
        memcpy(bq_row(crop, y), bq_row(full, y + oy) + ox, cw * sizeof(float));
    tc.dx -= (double)ox;
    tc.dy -= (double)oy;
    check_register(fixed, crop, &tc, "moving cropped to 980 x 700");
    bq_image_destroy(crop);
    bq_image_destroy(full);
    bq_image_destroy(fixed);
    membrane_free(&m);
}

/* The generator's own rotation (the convention of the experiment
 * generator's truth): two renders of one membrane turned by 0.5 and -1.3
 * degrees are registered as a turn of -1.8 degrees and no shift. */
static void
test_matches_generator_rotation(void **state)
{
    struct bq_synth_params p;
    struct bq_synth_truth tr;
    struct bq_image *a = NULL, *b = NULL;
    struct bq_reg_result t = {0.0, 0.0, -1.8, 0.0, 0.0, 0};

    (void)state;
    bq_synth_params_init(&p);
    bq_synth_params_randomize(&p, 404);
    p.rotation_deg = 0.5;
    assert_int_equal(bq_synth_generate(&p, &a, &tr, NULL), BQ_OK);
    bq_synth_truth_fini(&tr);
    p.rotation_deg = -1.3;
    p.seed = 404; /* same scene; the noise is the same too, which is fine
                     for a convention check */
    assert_int_equal(bq_synth_generate(&p, &b, &tr, NULL), BQ_OK);
    bq_synth_truth_fini(&tr);
    check_register(a, b, &t, "generator rotation");
    bq_image_destroy(a);
    bq_image_destroy(b);
}

/* Scans of other membranes (other lanes, rows, edges) are refused. */
static void
test_refuses_other_membranes(void **state)
{
    static const uint64_t pairs[][2] = {
        {501, 601}, {502, 602}, {503, 603}, {504, 604}, {505, 605},
    };
    size_t w = 1024, h = 768;

    (void)state;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        struct membrane a, b;
        struct bq_image *fixed, *moving;
        struct bq_reg_result r;
        membrane_make(&a, pairs[i][0], w, h, -1);
        membrane_make(&b, pairs[i][1], w, h, -1);
        fixed = scan_make(&a, NULL, w, h, &phospho_look, 51 + i);
        moving = scan_make(&b, NULL, w, h, &total_look, 61 + i);
        assert_int_equal(bq_register(fixed, moving, NULL, &r, NULL), BQ_OK);
        printf("  membranes %llu / %llu: score %.3f\n",
               (unsigned long long)pairs[i][0],
               (unsigned long long)pairs[i][1], r.score);
        assert_int_equal(r.matched, 0);
        assert_true(r.score < 0.5 * 0.15);
        bq_image_destroy(fixed);
        bq_image_destroy(moving);
        membrane_free(&a);
        membrane_free(&b);
    }
}

/* Bad input gives a clean error and leaves the result alone. */
static void
test_degenerate_input(void **state)
{
    struct bq_image *tiny = bq_image_create(16, 16, NULL);
    struct bq_image *flat = bq_image_create(300, 200, NULL);
    struct bq_image *other = bq_image_create(300, 200, NULL);
    struct bq_image *huge = bq_image_create(700, 500, NULL);
    struct bq_image *narrow = bq_image_create(2000, 32, NULL);
    struct bq_reg_result r, keep;
    struct bq_reg_opts o;
    struct bq_error err = {BQ_OK, ""};
    uint64_t s = 7;

    (void)state;
    assert_non_null(tiny);
    assert_non_null(flat);
    assert_non_null(other);
    assert_non_null(huge);
    assert_non_null(narrow);
    for (size_t y = 0; y < 200; y++)
        for (size_t x = 0; x < 300; x++) {
            bq_row(flat, y)[x] = 1234.0f;
            bq_row(other, y)[x] = (float)(1000.0 + 50.0 * rng_normal(&s));
        }
    memset(&r, 0x5a, sizeof r);
    keep = r;
    assert_int_equal(bq_register(tiny, tiny, NULL, &r, &err), BQ_ERR_INVALID);
    printf("  tiny: %s\n", err.msg);
    bq_error_clear(&err);
    assert_int_equal(bq_register(flat, other, NULL, &r, &err),
                     BQ_ERR_NOT_FOUND);
    printf("  constant: %s\n", err.msg);
    bq_error_clear(&err);
    assert_int_equal(bq_register(other, flat, NULL, &r, &err),
                     BQ_ERR_NOT_FOUND);
    bq_error_clear(&err);
    assert_int_equal(bq_register(other, huge, NULL, &r, &err), BQ_ERR_INVALID);
    printf("  sizes: %s\n", err.msg);
    bq_error_clear(&err);
    assert_int_equal(bq_register(narrow, narrow, NULL, &r, &err),
                     BQ_ERR_INVALID);
    printf("  narrow: %s\n", err.msg);
    assert_int_equal(bq_register(NULL, other, NULL, &r, NULL), BQ_ERR_INVALID);
    assert_int_equal(bq_register(other, other, NULL, NULL, NULL),
                     BQ_ERR_INVALID);
    bq_reg_opts_init(&o);
    o.max_angle = 45.0;
    assert_int_equal(bq_register(other, other, &o, &r, NULL), BQ_ERR_INVALID);
    bq_reg_opts_init(&o);
    o.max_side = 8;
    assert_int_equal(bq_register(other, other, &o, &r, NULL), BQ_ERR_INVALID);
    bq_reg_opts_init(&o);
    o.min_score = NAN;
    assert_int_equal(bq_register(other, other, &o, &r, NULL), BQ_ERR_INVALID);
    assert_memory_equal(&r, &keep, sizeof r);

    /* noise only: runs, refuses */
    bq_row(flat, 10)[10] = 2000.0f; /* no longer constant */
    assert_int_equal(bq_register(other, flat, NULL, &r, NULL), BQ_OK);
    assert_int_equal(r.matched, 0);
    /* NaN and infinite pixels are refused */
    bq_row(other, 50)[60] = NAN;
    assert_int_equal(bq_register(other, huge, NULL, &r, NULL), BQ_ERR_INVALID);
    bq_row(other, 50)[60] = INFINITY;
    assert_int_equal(bq_register(huge, other, NULL, &r, NULL), BQ_ERR_INVALID);
    bq_row(other, 50)[60] = 1000.0f;
    /* the smallest accepted size works */
    {
        struct bq_image *a = bq_image_create(32, 32, NULL);
        assert_non_null(a);
        for (size_t y = 0; y < 32; y++)
            for (size_t x = 0; x < 32; x++)
                bq_row(a, y)[x] = (float)((x / 5 + y / 7) % 2 * 100 +
                                          rng_normal(&s));
        assert_int_equal(bq_register(a, a, NULL, &r, NULL), BQ_OK);
        bq_image_destroy(a);
    }
    bq_image_destroy(tiny);
    bq_image_destroy(flat);
    bq_image_destroy(other);
    bq_image_destroy(huge);
    bq_image_destroy(narrow);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phasecorr_matches_direct),
        cmocka_unit_test(test_map_unmap_convention),
        cmocka_unit_test(test_warp_brings_spot_back),
        cmocka_unit_test(test_recovers_offsets),
        cmocka_unit_test(test_recovers_other_sizes_and_rows),
        cmocka_unit_test(test_moving_of_other_size),
        cmocka_unit_test(test_matches_generator_rotation),
        cmocka_unit_test(test_refuses_other_membranes),
        cmocka_unit_test(test_degenerate_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
