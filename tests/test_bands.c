/* Tests of the bands stage (src/bands.c): peaks of analytic 1-D lane
 * profiles through bq_profile_peaks, and band volumes end to end on a
 * clean generated blot against the generator's exact truth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blotquant/analysis.h"
#include "blotquant/bands.h"
#include "synth.h"
#include "testutil.h"

#define TEST_PI 3.14159265358979323846
#define NMAX 400   /* longest profile */
#define BMAX 64    /* most bands asked for */

/* ---- helpers ----------------------------------------------------------- */

/* splitmix64: deterministic noise independent of the C library. */
static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double
rng_normal(uint64_t *s)
{
    double u = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    double v = (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * TEST_PI * v);
}

/* A Gaussian peak: amplitude, centre and SD in samples. */
struct peak {
    double amp, c, sd;
};

/* P[0..N) = sum of the peaks + SD * N(0,1) noise (SD 0: none). */
static void
profile(double *p, size_t n, const struct peak *pk, size_t np, double sd,
        uint64_t seed)
{
    uint64_t s = seed;

    for (size_t i = 0; i < n; i++) {
        double v = 0;
        for (size_t k = 0; k < np; k++) {
            double u = ((double)i - pk[k].c) / pk[k].sd;
            v += pk[k].amp * exp(-0.5 * u * u);
        }
        p[i] = v + (sd > 0 ? sd * rng_normal(&s) : 0);
    }
}

/* Bands of P with default options but MIN_SNR. */
static size_t
peaks(const double *p, size_t n, double noise, double min_snr,
      struct bq_band *out)
{
    struct bq_band_opts o;

    bq_band_opts_init(&o);
    o.min_snr = min_snr;
    memset(out, 0, BMAX * sizeof *out);
    return bq_profile_peaks(p, n, noise, &o, out, BMAX);
}

/* Share of peak PK's area inside the rows the volume sums for band B:
 * [floor(sum_top + 0.5), floor(sum_bottom + 0.5)), as src/quantify.c
 * rounds a band's extent to pixels. */
static double
area_covered(const struct peak *pk, const struct bq_band *b, size_t n)
{
    double in = 0, all = 0;
    double a = floor(b->sum_top + 0.5), e = floor(b->sum_bottom + 0.5);

    for (size_t i = 0; i < n; i++) {
        double u = ((double)i - pk->c) / pk->sd, v = exp(-0.5 * u * u);
        all += v;
        if ((double)i >= a && (double)i < e)
            in += v;
    }
    return in / all;
}

/* ---- bq_profile_peaks -------------------------------------------------- */

/* One noise-free Gaussian: one band, centre within 0.2 px, extent holding
 * at least 99 % of the area. Several widths and sub-pixel centres. */
static void
test_single_gaussian_centre_and_extent(void **state)
{
    static const struct peak cases[] = {
        {100, 80.3, 4.0}, {100, 120.75, 2.0}, {50, 99.5, 8.0}, {500, 60.1, 3.0}};
    double p[NMAX];
    struct bq_band b[BMAX];

    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        profile(p, 200, &cases[k], 1, 0, 0);
        assert_int_equal(peaks(p, 200, 1.0, 5.0, b), 1);
        /* tolerance: 0.2 px */
        assert_float_equal(b[0].y, cases[k].c, 0.2);
        /* tolerance: at least 99 % of the area inside the extent */
        assert_true(area_covered(&cases[k], &b[0], 200) >= 0.99);
        assert_int_equal(b[0].split, 0);
        assert_float_equal(b[0].frac, 1.0, 0.0); /* exact */
    }
}

/* Two clearly separate Gaussians: two bands, each with its centre and
 * 99 % of its area. */
static void
test_two_separate_gaussians(void **state)
{
    static const struct peak pk[2] = {{100, 60.0, 4.0}, {60, 140.0, 4.0}};
    double p[NMAX];
    struct bq_band b[BMAX];

    (void)state;
    profile(p, 200, pk, 2, 0, 0);
    assert_int_equal(peaks(p, 200, 1.0, 5.0, b), 2);
    for (int k = 0; k < 2; k++) {
        /* tolerance: 0.2 px */
        assert_float_equal(b[k].y, pk[k].c, 0.2);
        /* tolerance: at least 99 % of the area */
        assert_true(area_covered(&pk[k], &b[k], 200) >= 0.99);
        assert_int_equal(b[k].split, 0);
    }
}

/* Two Gaussians 5 SD apart (valley at 9 % of the smaller peak): their
 * 3-SD extents would overlap, so they meet at the valley instead. */
static void
test_close_gaussians_split_at_valley(void **state)
{
    static const struct peak pk[2] = {{100, 60.0, 4.0}, {60, 80.0, 4.0}};
    double p[NMAX], valley;
    struct bq_band b[BMAX];
    size_t v = 60;

    (void)state;
    profile(p, 200, pk, 2, 0, 0);
    for (size_t i = 60; i <= 80; i++)
        v = p[i] < p[v] ? i : v;
    valley = (double)v;
    assert_int_equal(peaks(p, 200, 1.0, 5.0, b), 2);
    /* tolerance: 0.2 px on centres, 1 px on the split row */
    assert_float_equal(b[0].y, pk[0].c, 0.2);
    assert_float_equal(b[1].y, pk[1].c, 0.2);
    assert_true(b[0].bottom <= b[1].top);
    assert_float_equal(b[0].bottom, valley, 1.0);
    assert_float_equal(b[1].top, valley, 1.0);
    assert_int_equal(b[0].split, 0); /* a drop line, not a fit */
    assert_int_equal(b[1].split, 0);
}

/* A doublet 2.0 SD apart (no valley at all) with amplitude ratio R:1 and
 * noise SD 0.5 on a peak of 100: two bands whose shares are within 0.05
 * of the truth, over several noise draws, and boxes that together span
 * the pair's rows. */
static void
doublet_case(double ratio)
{
    double a2 = 200.0 / (1.0 + ratio), a1 = ratio * a2;
    struct peak pk[2] = {{a1, 96.0, 4.0}, {a2, 104.0, 4.0}};
    double p[NMAX], share = a1 / (a1 + a2);
    struct bq_band b[BMAX];

    for (uint64_t seed = 1; seed <= 5; seed++) {
        profile(p, 200, pk, 2, 0.5, seed);
        assert_int_equal(peaks(p, 200, 0.5, 5.0, b), 2);
        printf("ratio %.0f:1 seed %d: shares %.3f %.3f (truth %.3f), "
               "centres %.2f %.2f\n", ratio, (int)seed, b[0].frac, b[1].frac,
               share, b[0].y, b[1].y);
        /* tolerance: 0.05 of the total */
        assert_float_equal(b[0].frac, share, 0.05);
        assert_float_equal(b[1].frac, 1 - share, 0.05);
        assert_int_equal(b[0].split, 1);
        assert_int_equal(b[1].split, 1);
        /* the parts' boxes meet and span the rows summed (saturation is
         * judged on the boxes) */
        assert_true(b[0].top == b[0].sum_top);
        assert_true(b[0].bottom == b[1].top);
        assert_true(b[1].bottom == b[1].sum_bottom);
    }
}

static void
test_doublet_equal_is_split(void **state)
{
    (void)state;
    doublet_case(1.0);
}

static void
test_doublet_three_to_one_is_split(void **state)
{
    (void)state;
    doublet_case(3.0);
}

/* A single Gaussian with noise (SNR 100) is never split. */
static void
test_single_gaussian_with_noise_not_split(void **state)
{
    static const struct peak cases[] = {{100, 100.3, 4.0}, {100, 99.6, 7.0}};
    double p[NMAX];
    struct bq_band b[BMAX];

    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        for (uint64_t seed = 1; seed <= 20; seed++) {
            profile(p, 200, &cases[k], 1, 1.0, seed);
            assert_int_equal(peaks(p, 200, 1.0, 5.0, b), 1);
            assert_int_equal(b[0].split, 0);
            printf("sd %.0f seed %d: centre error %+.3f\n", cases[k].sd,
                   (int)seed, b[0].y - cases[k].c);
            /* tolerance: 0.5 px (a three-point parabola on a broad,
             * noisy top) */
            assert_float_equal(b[0].y, cases[k].c, 0.5);
        }
}

/* Noise alone gives no band. */
static void
test_noise_only_no_bands(void **state)
{
    double p[NMAX];
    struct bq_band b[BMAX];

    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        profile(p, 300, NULL, 0, 1.0, seed);
        assert_int_equal(peaks(p, 300, 1.0, 5.0, b), 0);
    }
}

/* The threshold is min_snr noise SDs: a peak of 3 SDs is ignored with
 * min_snr 5 and found with min_snr 2. */
static void
test_min_snr_respected(void **state)
{
    static const struct peak pk = {3.0, 100.0, 4.0};
    double p[NMAX];
    struct bq_band b[BMAX];

    (void)state;
    profile(p, 200, &pk, 1, 0, 0);
    assert_int_equal(peaks(p, 200, 1.0, 5.0, b), 0);
    assert_int_equal(peaks(p, 200, 1.0, 2.0, b), 1);
    /* tolerance: 0.2 px */
    assert_float_equal(b[0].y, pk.c, 0.2);
}

/* ---- end to end -------------------------------------------------------- */

/* Index of the detected band nearest to truth band TB: in the lane whose
 * centre (original image x) is nearest, the band nearest in y; -1 if the
 * lane is off by more than a quarter lane width or the band by more than
 * 2 SD (at least 4 px). */
static long
match_band(const struct bq_analysis *a, const struct bq_synth_band *tb)
{
    long best = -1;
    double bx = 1e300, by = 1e300;
    size_t lane = 0;

    for (size_t k = 0; k < a->bands.n; k++) {
        double dx = fabs(a->bands.b[k].ox - tb->x);
        if (dx < bx) {
            bx = dx;
            lane = a->bands.b[k].lane;
        }
    }
    if (bx > 0.25 * tb->width)
        return -1;
    for (size_t k = 0; k < a->bands.n; k++) {
        double dy = fabs(a->bands.b[k].oy - tb->y);
        if (a->bands.b[k].lane == lane && dy < by) {
            by = dy;
            best = (long)k;
        }
    }
    return by <= fmax(2 * tb->sigma_y, 4.0) ? best : -1;
}

/* A clean 16-bit blot (no artefacts, read noise 20 codes on a 65535
 * range): every truth band is found; each volume within 6 % of the exact
 * truth (the box is 0.6 FWHM either side: a flat-topped band keeps ~96 %
 * of its signal), and, what ratios depend on, every volume/truth ratio
 * within 1.5 % of their median. */
static void
test_end_to_end_volumes_clean_blot(void **state)
{
    struct bq_synth_params p;
    struct bq_synth_truth t;
    struct bq_image *img = NULL;
    struct bq_analysis a;
    struct bq_analysis_opts o;
    struct bq_error err = {BQ_OK, ""};
    double worst = 0, ratio[64], med;
    size_t nr = 0;

    (void)state;
    bq_synth_params_init(&p); /* 1024 x 768, 8 lanes, 2 rows, 16 bit */
    p.seed = 3;
    assert_int_equal(bq_synth_generate(&p, &img, &t, &err), BQ_OK);
    bq_analysis_opts_init(&o);
    memset(&a, 0, sizeof a);
    if (bq_analyze_image(img, &o, &a, &err) != BQ_OK)
        fail_msg("analyze: %s", err.msg);
    for (size_t i = 0; i < t.nbands; i++) {
        const struct bq_synth_band *tb = &t.bands[i];
        long k = match_band(&a, tb);
        double e;
        if (k < 0)
            fail_msg("truth band lane %d row %d at (%.1f, %.1f) not found",
                     tb->lane, tb->row, tb->x, tb->y);
        e = a.bands.b[k].volume / tb->volume - 1;
        worst = fabs(e) > worst ? fabs(e) : worst;
        printf("lane %d row %d: volume %.5g truth %.5g error %+.2f %%\n",
               tb->lane, tb->row, a.bands.b[k].volume, tb->volume, 100 * e);
        /* tolerance: 6 % of the true volume */
        assert_true(fabs(e) < 0.06);
        if (nr < 64)
            ratio[nr++] = 1 + e;
    }
    printf("%zu bands, worst volume error %.2f %%\n", t.nbands, 100 * worst);
    {
        double tmp[64];
        memcpy(tmp, ratio, nr * sizeof *tmp);
        med = bq_test_quantile(tmp, nr, 0.5);
        for (size_t i = 0; i < nr; i++)
            assert_true(fabs(ratio[i] / med - 1) < 0.015);
    }
    bq_analysis_fini(&a);
    bq_synth_truth_fini(&t);
    bq_image_destroy(img);
}

/* Specks of dust on a clean blot, each a few pixels across and as bright
 * as a mid-range band, between the band rows of three lanes: they are no
 * bands (a band spans its lane; a speck a few of its columns), and every
 * true band is still found. Without the spread rule each speck was read as
 * a band of its lane. */
static void
test_specks_are_no_bands(void **state)
{
    struct bq_synth_params p;
    struct bq_synth_truth t;
    struct bq_image *img = NULL;
    struct bq_analysis a;
    struct bq_analysis_opts o;
    struct bq_error err = {BQ_OK, ""};
    double sx[3], sy[3];
    int nspeck = 0;

    (void)state;
    bq_synth_params_init(&p); /* 1024 x 768, 8 lanes, 2 rows, 16 bit */
    p.seed = 3;
    assert_int_equal(bq_synth_generate(&p, &img, &t, &err), BQ_OK);
    /* a speck midway between rows 0 and 1 of lanes 1, 3 and 5, a fifth of
     * the lane's width right of its centre (inside its central half) */
    for (int lane = 1; lane <= 5 && nspeck < 3; lane += 2) {
        const struct bq_synth_band *r0 = NULL, *r1 = NULL;
        for (size_t i = 0; i < t.nbands; i++) {
            const struct bq_synth_band *tb = &t.bands[i];
            if (tb->lane == lane && tb->row == 0 && tb->sub == 0)
                r0 = tb;
            if (tb->lane == lane && tb->row == 1 && tb->sub == 0)
                r1 = tb;
        }
        assert_non_null(r0);
        assert_non_null(r1);
        sx[nspeck] = r0->x + 0.2 * r0->width;
        sy[nspeck] = 0.5 * (r0->y + r1->y);
        for (long y = lround(sy[nspeck]) - 6; y <= lround(sy[nspeck]) + 6; y++)
            for (long x = lround(sx[nspeck]) - 6; x <= lround(sx[nspeck]) + 6;
                 x++) {
                double dx = x - sx[nspeck], dy = y - sy[nspeck];
                float *px = &img->px[(size_t)y * img->stride + (size_t)x];
                *px = fminf(img->max_code,
                            *px + (float)(8000 * exp(-(dx * dx + dy * dy) /
                                                     (2 * 1.8 * 1.8))));
            }
        nspeck++;
    }
    bq_analysis_opts_init(&o);
    memset(&a, 0, sizeof a);
    if (bq_analyze_image(img, &o, &a, &err) != BQ_OK)
        fail_msg("analyze: %s", err.msg);
    for (size_t i = 0; i < t.nbands; i++)
        if (match_band(&a, &t.bands[i]) < 0)
            fail_msg("truth band lane %d row %d at (%.1f, %.1f) not found",
                     t.bands[i].lane, t.bands[i].row, t.bands[i].x,
                     t.bands[i].y);
    for (int s = 0; s < nspeck; s++)
        for (size_t k = 0; k < a.bands.n; k++) {
            const struct bq_band *b = &a.bands.b[k];
            double w = a.layout.lanes[b->lane].width;
            if (fabs(b->ox - sx[s]) < 0.5 * w && fabs(b->oy - sy[s]) < 6)
                fail_msg("speck at (%.1f, %.1f) read as a band (volume %.4g,"
                         " spread %.2f)",
                         sx[s], sy[s], b->volume, b->spread);
        }
    printf("%d specks, no band; %zu bands found for %zu true\n", nspeck,
           a.bands.n, t.nbands);
    bq_analysis_fini(&a);
    bq_synth_truth_fini(&t);
    bq_image_destroy(img);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_gaussian_centre_and_extent),
        cmocka_unit_test(test_two_separate_gaussians),
        cmocka_unit_test(test_close_gaussians_split_at_valley),
        cmocka_unit_test(test_doublet_equal_is_split),
        cmocka_unit_test(test_doublet_three_to_one_is_split),
        cmocka_unit_test(test_single_gaussian_with_noise_not_split),
        cmocka_unit_test(test_noise_only_no_bands),
        cmocka_unit_test(test_min_snr_respected),
        cmocka_unit_test(test_end_to_end_volumes_clean_blot),
        cmocka_unit_test(test_specks_are_no_bands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
