/* Tests of the synthetic blot generator (tools/synth.c): determinism, the
 * exactness of the ground truth, the noise model, and the file writers
 * (read back with libtiff/libpng directly). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <png.h>
#include <tiffio.h>

#include "synth.h"
#include "testutil.h"

#define BQ_TEST_PI 3.14159265358979323846

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/* Generates P, asserting success. */
static void
gen(const struct bq_synth_params *p, struct bq_image **img,
    struct bq_synth_truth *t)
{
    struct bq_error err = {BQ_OK, ""};
    enum bq_status st;

    *img = NULL;
    memset(t, 0, sizeof *t);
    st = bq_synth_generate(p, img, t, &err);
    if (st != BQ_OK)
        fail_msg("generate failed: %s", err.msg);
    assert_non_null(*img);
}

/* A clean float blot without noise: the base of the exactness tests. */
static void
clean_float(struct bq_synth_params *p)
{
    bq_synth_params_init(p);
    p->bit_depth = 32;
    p->read_noise = 0.0;
    p->gain = 0.0;
}

/* Sum of all pixels of IMG, in double. */
static double
image_sum(const struct bq_image *img)
{
    double s = 0.0;

    for (size_t y = 0; y < img->height; y++)
        for (size_t x = 0; x < img->width; x++)
            s += bq_row(img, y)[x];
    return s;
}

/* Returns 1 if the two images have identical size and pixels. */
static int
same_pixels(const struct bq_image *a, const struct bq_image *b)
{
    if (a->width != b->width || a->height != b->height)
        return 0;
    for (size_t y = 0; y < a->height; y++)
        if (memcmp(bq_row(a, y), bq_row(b, y), a->width * sizeof(float)))
            return 0;
    return 1;
}

/* Returns the number of lines of the text file at PATH. */
static size_t
count_lines(const char *path)
{
    FILE *fp = fopen(path, "r");
    size_t n = 0;
    int c;

    assert_non_null(fp);
    while ((c = fgetc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Parameters and determinism                                              */
/* ---------------------------------------------------------------------- */

static void
test_params_init(void **state)
{
    struct bq_synth_params p;

    (void)state;
    bq_synth_params_init(&p);
    assert_int_equal(p.width, 1024);
    assert_int_equal(p.height, 768);
    assert_int_equal(p.bit_depth, 16);
    assert_int_equal(p.strips, 1);
    assert_int_equal(p.lanes, 8);
    assert_int_equal(p.rows, 2);
    assert_true(p.dyn_range == 10.0 && p.peak_frac == 0.6);
    assert_true(p.background == 0.08 && p.read_noise == 20.0);
    assert_true(p.gain == 0.0 && p.rotation_deg == 0.0 && p.smile == 0.0);
    assert_true(p.lane_width_jitter == 0.0 && p.lane_pos_jitter == 0.0);
    assert_int_equal(p.empty_lanes + p.ladder + p.doublets + p.blotches +
                         p.frame + p.hot_pixels + p.dark_bands,
                     0);
    assert_true(p.gradient == 0.0);
}

static void
test_randomize(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct bq_synth_params a, b;
        struct bq_image *img;
        struct bq_synth_truth t;

        bq_synth_params_init(&a);
        a.bit_depth = seed % 2 ? 16 : 8;
        a.dark_bands = seed % 3 == 0;
        b = a;
        bq_synth_params_randomize(&a, seed);
        bq_synth_params_randomize(&b, seed);
        assert_memory_equal(&a, &b, sizeof a);
        assert_int_equal(a.seed, seed);
        /* Size, depth and polarity are kept. */
        assert_int_equal(a.width, 1024);
        assert_int_equal(a.bit_depth, seed % 2 ? 16 : 8);
        assert_int_equal(a.dark_bands, seed % 3 == 0);
        assert_true(a.strips >= 1 && a.strips <= 2);
        assert_true(a.lanes >= 6 && a.lanes <= 20);
        assert_true(a.rows >= 2 && a.rows <= 4);
        assert_true(a.dyn_range == 100.0);
        assert_true(fabs(a.rotation_deg) <= 5.0);
        assert_true(a.smile >= 0.0 && a.smile <= 1.5);
        assert_true(a.empty_lanes >= 0 && a.empty_lanes <= 2);
        assert_true(a.ladder && a.doublets);
        assert_true(a.gradient >= 0.0 && a.gradient <= 0.5);
        assert_true(a.blotches >= 0 && a.blotches <= 3);
        assert_true(a.read_noise > 0.0 && a.gain > 0.0);
        assert_true(a.hot_pixels >= 5 && a.hot_pixels <= 50);
        assert_true(a.peak_frac >= 0.5 && a.peak_frac <= 1.2);
        /* Every randomised blot renders. */
        gen(&a, &img, &t);
        assert_true(t.nbands > 0);
        bq_image_destroy(img);
        bq_synth_truth_fini(&t);
    }
}

static void
test_determinism(void **state)
{
    struct bq_synth_params p;
    struct bq_image *a, *b, *c;
    struct bq_synth_truth ta, tb, tc;

    (void)state;
    bq_synth_params_init(&p);
    bq_synth_params_randomize(&p, 1234);
    gen(&p, &a, &ta);
    gen(&p, &b, &tb);
    assert_true(same_pixels(a, b));
    assert_int_equal(ta.nbands, tb.nbands);
    assert_int_equal(ta.nlanes, tb.nlanes);
    assert_memory_equal(ta.bands, tb.bands, ta.nbands * sizeof *ta.bands);
    assert_memory_equal(ta.lanes, tb.lanes, ta.nlanes * sizeof *ta.lanes);
    assert_int_equal(a->bit_depth, 16);
    assert_true(a->max_code == 65535.0f);
    p.seed = 1235;
    gen(&p, &c, &tc);
    assert_false(same_pixels(a, c));
    bq_image_destroy(a);
    bq_image_destroy(b);
    bq_image_destroy(c);
    bq_synth_truth_fini(&ta);
    bq_synth_truth_fini(&tb);
    bq_synth_truth_fini(&tc);
}

static void
test_invalid_params(void **state)
{
    struct bq_synth_params p;

    (void)state;
    for (int k = 0; k < 7; k++) {
        struct bq_error err = {BQ_OK, ""};
        struct bq_image *img = NULL;
        struct bq_synth_truth t;

        memset(&t, 0, sizeof t);
        bq_synth_params_init(&p);
        switch (k) {
        case 0: p.bit_depth = 12; break;
        case 1: p.lanes = 0; break;
        case 2: p.rows = 7; break;
        case 3: p.rotation_deg = 10.0; break;
        case 4: p.empty_lanes = 7; break;
        case 5: p.width = 64; p.lanes = 24; break; /* lanes too narrow */
        default: p.height = 40; p.rows = 6; break;  /* strip too short */
        }
        assert_int_equal(bq_synth_generate(&p, &img, &t, &err),
                         BQ_ERR_INVALID);
        assert_null(img);
        assert_null(t.bands);
        assert_true(strlen(err.msg) > 0);
    }
}

/* ---------------------------------------------------------------------- */
/* Exactness of the truth                                                  */
/* ---------------------------------------------------------------------- */

/* Isolated bands, no noise, float output: the image minus the flat
 * background over each band box equals the truth volume, and the volume
 * matches the analytic area of the band shape. */
static void
test_single_band_volume(void **state)
{
    struct bq_synth_params p;
    struct bq_image *img;
    struct bq_synth_truth t;
    double level, apk, vols = 0.0;

    (void)state;
    clean_float(&p);
    p.lanes = 8;
    p.empty_lanes = 6; /* only the two edge lanes hold a band */
    p.rows = 1;
    p.dyn_range = 1.0; /* both bands peak at the same height */
    gen(&p, &img, &t);
    assert_int_equal(t.nbands, 2);
    assert_true(img->max_code == FLT_MAX);
    level = (double)(float)(0.08 * 65535.0);
    apk = 0.6 * (65535.0 - 0.08 * 65535.0);
    for (size_t i = 0; i < t.nbands; i++) {
        const struct bq_synth_band *b = &t.bands[i];
        double sum = 0.0, peak = 0.0, analytic;
        long x0 = (long)fmax(0.0, floor(b->x - 1.2 * b->width));
        long x1 = (long)fmin((double)img->width - 1.0,
                             ceil(b->x + 1.2 * b->width));
        long y0 = (long)floor(b->y - 5.5 * b->sigma_y);
        long y1 = (long)ceil(b->y + 5.5 * b->sigma_y);
        assert_true(y0 >= 0 && y1 < (long)img->height);
        for (long y = y0; y <= y1; y++)
            for (long x = x0; x <= x1; x++) {
                double v = bq_row(img, (size_t)y)[x] - level;
                sum += v;
                peak = fmax(peak, v);
            }
        assert_true(b->volume > 0.0);
        assert_true(fabs(sum - b->volume) <= 1e-3 * b->volume);
        /* Peak = peak_frac of the range above background, sampled at
         * most half a pixel from the true centre. */
        assert_true(peak <= apk * (1.0 + 1e-6));
        assert_true(peak >= apk * exp(-0.125 / (b->sigma_y * b->sigma_y)) *
                                 exp(-log(2.0) * pow(1.0 / b->width, 4.0)) -
                             0.01);
        /* Analytic area: the super-Gaussian exp(-ln2 t^4) integrates to
         * w Gamma(5/4) / ln2^(1/4), the Gaussian to sigma sqrt(2 pi). */
        analytic = apk * b->width * tgamma(1.25) / pow(log(2.0), 0.25) *
                   b->sigma_y * sqrt(2.0 * BQ_TEST_PI);
        assert_true(fabs(analytic - b->volume) <= 1e-3 * b->volume);
        vols += b->volume;
    }
    /* Whole image: background everywhere else. */
    assert_true(fabs(image_sum(img) - vols -
                     level * (double)(img->width * img->height)) <=
                1e-5 * image_sum(img));
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
}

/* Noise-free, unclipped, frameless float image with everything else on:
 * image sum = sum of truth volumes + background * pixels. */
static void
test_total_sum(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct bq_synth_params p;
        struct bq_image *img;
        struct bq_synth_truth t;
        double vols = 0.0, level, total, expect;

        bq_synth_params_init(&p);
        p.bit_depth = 32;
        bq_synth_params_randomize(&p, seed);
        p.read_noise = p.gain = 0.0;
        p.hot_pixels = 0;
        p.frame = 0;
        p.gradient = 0.0;
        p.blotches = 0;
        gen(&p, &img, &t);
        for (size_t i = 0; i < t.nbands; i++) {
            vols += t.bands[i].volume;
            assert_int_equal(t.bands[i].saturated, 0);
        }
        level = (double)(float)(p.background * 65535.0);
        total = image_sum(img);
        expect = vols + level * (double)(img->width * img->height);
        assert_true(fabs(total - expect) <= 1e-4 * expect);
        bq_image_destroy(img);
        bq_synth_truth_fini(&t);
    }
}

/* Centroid of IMG - LEVEL in a window point-symmetric about (X, Y) with
 * half sizes AX, AY (shrunk to stay inside the image). */
static void
centroid(const struct bq_image *img, double level, double x, double y,
         double ax, double ay, double *cx, double *cy)
{
    double sw = 0.0, sx = 0.0, sy = 0.0;

    ax = fmin(ax, fmin(x, (double)img->width - 1.0 - x));
    ay = fmin(ay, fmin(y, (double)img->height - 1.0 - y));
    for (long yy = (long)ceil(y - ay); yy <= (long)floor(y + ay); yy++)
        for (long xx = (long)ceil(x - ax); xx <= (long)floor(x + ax); xx++) {
            double v = bq_row(img, (size_t)yy)[xx] - level;
            sw += v;
            sx += v * (double)xx;
            sy += v * (double)yy;
        }
    *cx = sx / sw;
    *cy = sy / sw;
}

/* Rotation moves the band centres exactly as the truth says. */
static void
test_rotation_centroids(void **state)
{
    const double angles[] = {4.0, -3.0, 5.0};

    (void)state;
    for (size_t a = 0; a < sizeof angles / sizeof angles[0]; a++) {
        struct bq_synth_params p;
        struct bq_image *img, *img0;
        struct bq_synth_truth t, t0;
        double level, th = angles[a] * BQ_TEST_PI / 180.0, moved = 0.0;
        double cx0, cy0;

        clean_float(&p);
        p.seed = 77 + a;
        p.strips = 2;
        p.lanes = 3;
        p.empty_lanes = 1; /* the middle lane: bands stay isolated */
        p.rows = 1;
        gen(&p, &img0, &t0);
        p.rotation_deg = angles[a];
        gen(&p, &img, &t);
        assert_int_equal(t.nbands, 4);
        assert_int_equal(t0.nbands, 4);
        level = (double)(float)(0.08 * 65535.0);
        cx0 = 0.5 * ((double)img->width - 1.0);
        cy0 = 0.5 * ((double)img->height - 1.0);
        for (size_t i = 0; i < t.nbands; i++) {
            const struct bq_synth_band *b = &t.bands[i], *b0 = &t0.bands[i];
            double mx, my, ex, ey;
            centroid(img, level, b->x, b->y, 1.2 * b->width,
                     6.0 * b->sigma_y, &mx, &my);
            assert_true(fabs(mx - b->x) < 0.5);
            assert_true(fabs(my - b->y) < 0.5);
            /* The truth is the unrotated truth rotated about the centre
             * (clockwise as displayed for positive angles). */
            ex = cx0 + cos(th) * (b0->x - cx0) - sin(th) * (b0->y - cy0);
            ey = cy0 + sin(th) * (b0->x - cx0) + cos(th) * (b0->y - cy0);
            assert_true(fabs(ex - b->x) < 1e-6 && fabs(ey - b->y) < 1e-6);
            moved = fmax(moved, hypot(b->x - b0->x, b->y - b0->y));
            /* Same band, same volume up to sampling on the rotated grid. */
            assert_true(fabs(b->volume - b0->volume) <= 1e-3 * b0->volume);
        }
        assert_true(moved > 5.0);
        assert_true(t.rotation_deg == angles[a]);
        bq_image_destroy(img);
        bq_image_destroy(img0);
        bq_synth_truth_fini(&t);
        bq_synth_truth_fini(&t0);
    }
}

/* Smile: the band centre rises quadratically with the lane's distance
 * from the strip centre, by smile * 2 sigma at the edge lanes. */
static void
test_smile(void **state)
{
    struct bq_synth_params p;
    struct bq_image *img;
    struct bq_synth_truth t;

    (void)state;
    bq_synth_params_init(&p);
    p.lanes = 9;
    p.smile = 1.0;
    p.lane_pos_jitter = 0.1;
    gen(&p, &img, &t);
    for (int row = 0; row < p.rows; row++) {
        const struct bq_synth_band *first = NULL, *last = NULL, *mid = NULL;
        double uc, dmax, base = 0.0;
        for (size_t i = 0; i < t.nbands; i++) {
            const struct bq_synth_band *b = &t.bands[i];
            if (b->row != row)
                continue;
            if (b->lane == 0)
                first = b;
            if (b->lane == p.lanes - 1)
                last = b;
            if (b->lane == p.lanes / 2)
                mid = b;
        }
        assert_non_null(first);
        assert_non_null(last);
        assert_non_null(mid);
        assert_true(fabs(first->y - last->y) < 1e-9);
        assert_true(mid->y - first->y > 1.9 * first->sigma_y);
        uc = 0.5 * (first->x + last->x);
        dmax = 0.5 * (last->x - first->x);
        for (size_t i = 0; i < t.nbands; i++) {
            const struct bq_synth_band *b = &t.bands[i];
            double q = (b->x - uc) / dmax;
            double v = b->y + 2.0 * p.smile * b->sigma_y * q * q;
            if (b->row != row)
                continue;
            if (b == first)
                base = v;
            assert_true(fabs(v - base) < 1e-9 || b == first);
        }
    }
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
}

/* Dark bands: the same blot (noise and hot pixels included) inverted. */
static void
test_dark_inverts(void **state)
{
    struct bq_synth_params p;
    struct bq_image *l, *d;
    struct bq_synth_truth tl, td;
    double mean_l = 0.0, mean_d = 0.0;

    (void)state;
    bq_synth_params_init(&p);
    bq_synth_params_randomize(&p, 99);
    p.frame = 0; /* the frame is dark in both looks */
    p.peak_frac = 1.3;
    gen(&p, &l, &tl);
    p.dark_bands = 1;
    gen(&p, &d, &td);
    for (size_t y = 0; y < l->height; y++)
        for (size_t x = 0; x < l->width; x++) {
            assert_true(bq_row(d, y)[x] == 65535.0f - bq_row(l, y)[x]);
            mean_l += bq_row(l, y)[x];
            mean_d += bq_row(d, y)[x];
        }
    assert_true(mean_d > mean_l); /* light background now */
    assert_int_equal(tl.nbands, td.nbands);
    for (size_t i = 0; i < tl.nbands; i++) {
        assert_true(tl.bands[i].volume == td.bands[i].volume);
        assert_true(td.bands[i].volume > 0.0);
        assert_int_equal(tl.bands[i].saturated, td.bands[i].saturated);
    }
    bq_image_destroy(l);
    bq_image_destroy(d);
    bq_synth_truth_fini(&tl);
    bq_synth_truth_fini(&td);
}

/* Returns 1 if pixel (X, Y) is inside the coverage box of band B (no
 * rotation or smile: |dx| <= 1.15 w, |dy| <= 5 sigma). */
static int
in_band_box(const struct bq_synth_band *b, size_t x, size_t y)
{
    return fabs((double)x - b->x) <= 1.15 * b->width + 1.0 &&
           fabs((double)y - b->y) <= 5.0 * b->sigma_y + 1.0;
}

/* Counts saturated bands of T and checks the flags against the pixels of
 * IMG at CLIP (65535 for light, 0 for dark bands). Returns the count. */
static int
check_saturation(const struct bq_image *img, const struct bq_synth_truth *t,
                 float clip)
{
    int nsat = 0;

    for (size_t i = 0; i < t->nbands; i++) {
        const struct bq_synth_band *b = &t->bands[i];
        int found = 0;
        for (size_t y = 0; y < img->height && !found; y++)
            for (size_t x = 0; x < img->width; x++)
                if (bq_row(img, y)[x] == clip && in_band_box(b, x, y)) {
                    found = 1;
                    break;
                }
        /* A saturated band has a clipped pixel within its box. */
        if (b->saturated)
            assert_true(found);
        nsat += b->saturated;
    }
    /* Every clipped pixel belongs to some saturated band. */
    for (size_t y = 0; y < img->height; y++)
        for (size_t x = 0; x < img->width; x++) {
            int owner = 0;
            if (bq_row(img, y)[x] != clip)
                continue;
            for (size_t i = 0; i < t->nbands && !owner; i++)
                owner = t->bands[i].saturated &&
                        in_band_box(&t->bands[i], x, y);
            assert_true(owner);
        }
    return nsat;
}

static void
test_saturation(void **state)
{
    struct bq_synth_params p;
    struct bq_image *img;
    struct bq_synth_truth t;
    int nsat;

    (void)state;
    bq_synth_params_init(&p);
    p.lanes = 10;
    p.rows = 3;
    p.dyn_range = 30.0;
    p.ladder = 1;
    p.doublets = 1;
    p.hot_pixels = 40;
    p.gain = 2.0;
    p.peak_frac = 1.5;
    gen(&p, &img, &t);
    nsat = check_saturation(img, &t, 65535.0f);
    assert_true(nsat > 0 && (size_t)nsat < t.nbands);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);

    p.dark_bands = 1; /* clipped pixels are at 0 now, same flags */
    gen(&p, &img, &t);
    assert_int_equal(check_saturation(img, &t, 0.0f), nsat);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);

    p.dark_bands = 0;
    p.peak_frac = 0.5;
    gen(&p, &img, &t);
    assert_int_equal(check_saturation(img, &t, 65535.0f), 0);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);

    /* 8 bit clips at 255; float never clips. */
    p.peak_frac = 1.5;
    p.bit_depth = 8;
    p.read_noise = 0.1;
    gen(&p, &img, &t);
    assert_true(img->max_code == 255.0f);
    assert_true(check_saturation(img, &t, 255.0f) > 0);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
    p.bit_depth = 32;
    gen(&p, &img, &t);
    assert_true(img->max_code == FLT_MAX);
    for (size_t i = 0; i < t.nbands; i++)
        assert_int_equal(t.bands[i].saturated, 0);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
}

/* ---------------------------------------------------------------------- */
/* Layout of the truth                                                     */
/* ---------------------------------------------------------------------- */

static void
test_truth_layout(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        struct bq_synth_params p;
        struct bq_image *img;
        struct bq_synth_truth t;
        double vmin = HUGE_VAL, vmax = 0.0;
        int nlad[BQ_SYNTH_MAX_STRIPS] = {0};

        bq_synth_params_init(&p);
        bq_synth_params_randomize(&p, seed);
        p.rotation_deg = 0.0; /* straight lanes for the geometric checks */
        gen(&p, &img, &t);
        assert_int_equal(t.nlanes, (size_t)(p.strips * p.lanes));
        for (size_t i = 0; i < t.nlanes; i++) {
            const struct bq_synth_lane *l = &t.lanes[i];
            int nb = 0, nempty = 0;
            assert_int_equal(l->strip, (int)(i / (size_t)p.lanes));
            assert_int_equal(l->lane, (int)(i % (size_t)p.lanes));
            assert_int_equal(l->ladder, l->lane == 0);
            assert_true(l->y_top < l->y_bottom);
            if (l->empty)
                assert_true(l->lane > 0 && l->lane < p.lanes - 1);
            for (size_t k = 0; k < t.nlanes; k++)
                nempty += t.lanes[k].strip == l->strip && t.lanes[k].empty;
            assert_int_equal(nempty, p.empty_lanes);
            for (size_t k = 0; k < t.nbands; k++)
                nb += t.bands[k].strip == l->strip &&
                      t.bands[k].lane == l->lane;
            if (l->empty)
                assert_int_equal(nb, 0);
            else if (l->ladder)
                assert_true(nb >= 8 && nb <= 10);
            else
                assert_int_equal(nb, p.rows + 1); /* one doublet row */
            if (l->lane > 0) {
                const struct bq_synth_lane *prev = &t.lanes[i - 1];
                double pitch = l->x - prev->x;
                assert_true(pitch > 8.0);
            }
        }
        /* Strips do not share a lane grid. */
        if (p.strips == 2) {
            const struct bq_synth_lane *a = &t.lanes[0];
            const struct bq_synth_lane *b = &t.lanes[p.lanes];
            double pa = (t.lanes[p.lanes - 1].x - a->x) / (p.lanes - 1);
            double pb = (t.lanes[2 * p.lanes - 1].x - b->x) / (p.lanes - 1);
            assert_true(fabs(pa - pb) > 0.02 * pa ||
                        fabs(a->x - b->x) > 0.2 * pa);
            assert_true(t.lanes[0].y_bottom <= b->y_top + 1e-9);
        }
        for (size_t k = 0; k < t.nbands; k++) {
            const struct bq_synth_band *b = &t.bands[k];
            const struct bq_synth_lane *l =
                &t.lanes[(size_t)(b->strip * p.lanes + b->lane)];
            assert_true(b->sigma_y >= 1.5);
            assert_true(b->width == l->width);
            assert_true(b->y > l->y_top && b->y < l->y_bottom);
            assert_true(fabs(b->x - l->x) < 1e-9);
            if (b->row < 0) {
                nlad[b->strip]++;
                continue;
            }
            vmin = fmin(vmin, b->volume);
            vmax = fmax(vmax, b->volume);
            if (b->sub == 1) {
                /* Doublet: the band above it is sub 0 of the same row. */
                const struct bq_synth_band *a = &t.bands[k - 1];
                double sep = (b->y - a->y) / b->sigma_y;
                assert_int_equal(a->sub, 0);
                assert_int_equal(a->row, b->row);
                assert_true(sep >= 1.6 - 1e-9 && sep <= 2.8 + 1e-9);
            }
            if (k > 0 && t.bands[k - 1].lane == b->lane &&
                t.bands[k - 1].strip == b->strip)
                assert_true(t.bands[k - 1].y < b->y); /* top to bottom */
        }
        for (int s = 0; s < p.strips; s++)
            assert_true(nlad[s] >= 8 && nlad[s] <= 10);
        /* Volumes span the dynamic range (no rotation: nothing is cut off
         * at the image edge). */
        assert_true(fabs(vmax / vmin - p.dyn_range) <= 1e-3 * p.dyn_range);
        bq_image_destroy(img);
        bq_synth_truth_fini(&t);
    }
}

/* ---------------------------------------------------------------------- */
/* Noise and hot pixels                                                    */
/* ---------------------------------------------------------------------- */

/* Mean and SD of the top rows of IMG (flat background, no bands). */
static void
top_stats(const struct bq_image *img, double *mean, double *sd)
{
    size_t rows = img->height / 50, n = 0;
    double s = 0.0, s2 = 0.0;

    for (size_t y = 0; y < rows; y++)
        for (size_t x = 0; x < img->width; x++, n++) {
            double v = bq_row(img, y)[x];
            s += v;
            s2 += v * v;
        }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
}

static void
test_noise_model(void **state)
{
    struct bq_synth_params p;
    struct bq_image *img;
    struct bq_synth_truth t;
    double level = 0.08 * 65535.0, mean, sd;

    (void)state;
    /* Read noise only. */
    clean_float(&p);
    p.read_noise = 20.0;
    gen(&p, &img, &t);
    top_stats(img, &mean, &sd);
    assert_true(fabs(mean - level) < 1.0);
    assert_true(fabs(sd - 20.0) < 0.6);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
    /* Poisson, normal regime: variance = level / gain, plus read noise. */
    p.gain = 0.5;
    gen(&p, &img, &t);
    top_stats(img, &mean, &sd);
    assert_true(fabs(mean - level) < 3.0);
    assert_true(fabs(sd - sqrt(level / 0.5 + 400.0)) <
                0.03 * sqrt(level / 0.5 + 400.0));
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
    /* Poisson, exact regime (about 5 electrons per pixel). */
    p.gain = 0.001;
    p.read_noise = 0.0;
    gen(&p, &img, &t);
    top_stats(img, &mean, &sd);
    assert_true(fabs(mean - level) < 0.03 * level);
    assert_true(fabs(sd - sqrt(level / 0.001)) < 0.03 * sqrt(level / 0.001));
    /* Counts are whole electrons. */
    for (size_t x = 0; x < 50; x++) {
        double e = bq_row(img, 0)[x] * 0.001;
        assert_true(fabs(e - floor(e + 0.5)) < 1e-3);
    }
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
}

static void
test_hot_pixels(void **state)
{
    struct bq_synth_params p;
    struct bq_image *a, *b;
    struct bq_synth_truth ta, tb;
    size_t ndiff = 0;

    (void)state;
    bq_synth_params_init(&p);
    p.ladder = p.doublets = 1;
    p.peak_frac = 1.4;
    gen(&p, &a, &ta);
    p.hot_pixels = 300;
    gen(&p, &b, &tb);
    for (size_t y = 0; y < a->height; y++)
        for (size_t x = 0; x < a->width; x++) {
            float va = bq_row(a, y)[x], vb = bq_row(b, y)[x];
            if (va != vb) {
                ndiff++;
                assert_true(vb >= 0.3f * 65535.0f - 1.0f);
                assert_true(vb < 65535.0f); /* never counts as saturation */
            }
        }
    /* Only the hot pixels changed (a hot pixel could land on an equal
     * value, so allow a couple fewer). */
    assert_true(ndiff <= 300 && ndiff >= 298);
    for (size_t i = 0; i < ta.nbands; i++)
        assert_true(ta.bands[i].volume == tb.bands[i].volume);
    bq_image_destroy(a);
    bq_image_destroy(b);
    bq_synth_truth_fini(&ta);
    bq_synth_truth_fini(&tb);
}

/* ---------------------------------------------------------------------- */
/* Writers                                                                 */
/* ---------------------------------------------------------------------- */

/* A small blot of BITS depth for the writer tests. */
static struct bq_image *
small_blot(int bits, uint64_t seed)
{
    struct bq_synth_params p;
    struct bq_image *img;
    struct bq_synth_truth t;

    bq_synth_params_init(&p);
    p.width = 301; /* odd sizes: partial tiles and strips */
    p.height = 203;
    p.lanes = 5;
    p.bit_depth = bits;
    p.seed = seed;
    p.peak_frac = 1.2;
    p.hot_pixels = 10;
    if (bits == 8)
        p.read_noise = 1.0;
    gen(&p, &img, &t);
    bq_synth_truth_fini(&t);
    return img;
}

/* Returns sample I of BUF, a buffer of BITS-bit samples. */
static double
sample_at(const unsigned char *buf, size_t i, int bits)
{
    if (bits == 8)
        return buf[i];
    if (bits == 16) {
        uint16_t v;
        memcpy(&v, buf + 2 * i, 2);
        return v;
    }
    {
        float f;
        memcpy(&f, buf + 4 * i, 4);
        return f;
    }
}

/* Compares the current directory of TIF with IMG (MIW: stored inverted).
 * Checks the layout tags against the expectations. */
static void
check_tiff_page(TIFF *tif, const struct bq_image *img, int spp, int miw,
                unsigned tile, uint16_t comp)
{
    uint32_t w = 0, h = 0;
    uint16_t bps = 0, nspp = 0, fmt = 0, photo = 0, c = 0;
    unsigned char *buf;
    double range = img->bit_depth == 8 ? 255.0 : 65535.0;

    assert_true(TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w));
    assert_true(TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h));
    assert_true(TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bps));
    assert_true(TIFFGetField(tif, TIFFTAG_SAMPLESPERPIXEL, &nspp));
    assert_true(TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo));
    assert_true(TIFFGetField(tif, TIFFTAG_COMPRESSION, &c));
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    assert_int_equal(w, img->width);
    assert_int_equal(h, img->height);
    assert_int_equal(bps, img->bit_depth);
    assert_int_equal(nspp, spp);
    assert_int_equal(c, comp);
    assert_int_equal(fmt, img->bit_depth == 32 ? SAMPLEFORMAT_IEEEFP
                                               : SAMPLEFORMAT_UINT);
    assert_int_equal(photo, spp == 3 ? PHOTOMETRIC_RGB
                            : miw    ? PHOTOMETRIC_MINISWHITE
                                     : PHOTOMETRIC_MINISBLACK);
    assert_int_equal(TIFFIsTiled(tif) != 0, tile != 0);
    if (tile) {
        uint32_t tw = 0, tl = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &tl);
        assert_int_equal(tw, tile);
        assert_int_equal(tl, tile);
        buf = malloc((size_t)TIFFTileSize(tif));
        assert_non_null(buf);
        for (uint32_t ty = 0; ty < h; ty += tile)
            for (uint32_t tx = 0; tx < w; tx += tile) {
                assert_true(TIFFReadTile(tif, buf, tx, ty, 0, 0) > 0);
                for (uint32_t y = ty; y < ty + tile && y < h; y++)
                    for (uint32_t x = tx; x < tx + tile && x < w; x++)
                        for (int s = 0; s < spp; s++) {
                            size_t i = ((size_t)(y - ty) * tile + (x - tx)) *
                                           (size_t)spp + (size_t)s;
                            double v = sample_at(buf, i, bps);
                            double e = bq_row(img, y)[x];
                            if (miw)
                                e = range - e;
                            assert_true(v == e);
                        }
            }
    } else {
        buf = malloc((size_t)TIFFScanlineSize(tif));
        assert_non_null(buf);
        for (uint32_t y = 0; y < h; y++) {
            assert_true(TIFFReadScanline(tif, buf, y, 0) > 0);
            for (uint32_t x = 0; x < w; x++)
                for (int s = 0; s < spp; s++) {
                    double v = sample_at(buf, (size_t)x * (size_t)spp +
                                                  (size_t)s, bps);
                    double e = bq_row(img, y)[x];
                    if (miw)
                        e = range - e;
                    assert_true(v == e);
                }
        }
    }
    free(buf);
}

static void
test_tiff_roundtrip(void **state)
{
    const char *comps[] = {"none", "lzw", "deflate", "packbits"};
    const uint16_t codes[] = {COMPRESSION_NONE, COMPRESSION_LZW,
                              COMPRESSION_ADOBE_DEFLATE, COMPRESSION_PACKBITS};
    const int depths[] = {8, 16, 32};
    const char *dir = bq_test_tmpdir("synth_tiff");
    char path[1200];

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/t.tif", dir);
    for (size_t d = 0; d < 3; d++) {
        struct bq_image *img = small_blot(depths[d], 5);
        const struct bq_image *pages[1] = {img};
        for (size_t c = 0; c < 4; c++)
            for (int be = 0; be <= 1; be++)
                for (unsigned tile = 0; tile <= 64; tile += 64)
                    for (int rgb = 0; rgb <= 1; rgb++) {
                        struct bq_synth_tiff_opts o = {comps[c], rgb, be, tile,
                                                       0};
                        struct bq_error err = {BQ_OK, ""};
                        TIFF *tif;
                        assert_int_equal(bq_synth_write_tiff(path, pages, 1, &o,
                                                             &err),
                                         BQ_OK);
                        tif = TIFFOpen(path, "r");
                        assert_non_null(tif);
                        assert_int_equal(TIFFIsBigEndian(tif) != 0, be);
                        check_tiff_page(tif, img, rgb ? 3 : 1, 0, tile,
                                        codes[c]);
                        assert_int_equal(TIFFNumberOfDirectories(tif), 1);
                        TIFFClose(tif);
                    }
        bq_image_destroy(img);
    }
    /* MINISWHITE stores inverted codes. */
    {
        struct bq_image *img = small_blot(16, 6);
        const struct bq_image *pages[1] = {img};
        struct bq_synth_tiff_opts o = {"lzw", 0, 1, 32, 1};
        struct bq_error err = {BQ_OK, ""};
        TIFF *tif;
        assert_int_equal(bq_synth_write_tiff(path, pages, 1, &o, &err), BQ_OK);
        tif = TIFFOpen(path, "r");
        assert_non_null(tif);
        check_tiff_page(tif, img, 1, 1, 32, COMPRESSION_LZW);
        TIFFClose(tif);
        bq_image_destroy(img);
    }
}

static void
test_tiff_multipage(void **state)
{
    const char *dir = bq_test_tmpdir("synth_tiff_pages");
    char path[1200];
    struct bq_image *imgs[3];
    struct bq_synth_tiff_opts o = {"deflate", 0, 0, 0, 0};
    struct bq_error err = {BQ_OK, ""};
    TIFF *tif;

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/pages.tif", dir);
    for (int i = 0; i < 3; i++)
        imgs[i] = small_blot(16, 10 + (uint64_t)i);
    assert_int_equal(bq_synth_write_tiff(path,
                                         (const struct bq_image *const *)imgs,
                                         3, &o, &err),
                     BQ_OK);
    tif = TIFFOpen(path, "r");
    assert_non_null(tif);
    assert_int_equal(TIFFNumberOfDirectories(tif), 3);
    for (int i = 0; i < 3; i++) {
        uint16_t pg = 0, npg = 0;
        assert_true(TIFFSetDirectory(tif, (tdir_t)i));
        assert_true(TIFFGetField(tif, TIFFTAG_PAGENUMBER, &pg, &npg));
        assert_int_equal(pg, i);
        assert_int_equal(npg, 3);
        check_tiff_page(tif, imgs[i], 1, 0, 0, COMPRESSION_ADOBE_DEFLATE);
    }
    TIFFClose(tif);
    for (int i = 0; i < 3; i++)
        bq_image_destroy(imgs[i]);
}

/* Reads the PNG at PATH and compares it with IMG (SPP samples/pixel). */
static void
check_png(const char *path, const struct bq_image *img, int spp)
{
    FILE *fp = fopen(path, "rb");
    png_structp png;
    png_infop info;
    png_uint_32 w, h;
    int depth, ctype;
    unsigned char *row;
    size_t bps;

    assert_non_null(fp);
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not read %s", path);
    png_init_io(png, fp);
    png_read_info(png, info);
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    assert_int_equal(w, img->width);
    assert_int_equal(h, img->height);
    assert_int_equal(depth, img->bit_depth);
    assert_int_equal(ctype,
                     spp == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY);
    bps = (size_t)depth / 8;
    row = malloc(png_get_rowbytes(png, info));
    assert_non_null(row);
    for (png_uint_32 y = 0; y < h; y++) {
        png_read_row(png, row, NULL);
        for (png_uint_32 x = 0; x < w; x++)
            for (int s = 0; s < spp; s++) {
                const unsigned char *q =
                    row + ((size_t)x * (size_t)spp + (size_t)s) * bps;
                double v = bps == 1 ? q[0] : (double)(q[0] << 8 | q[1]);
                assert_true(v == bq_row(img, y)[x]);
            }
    }
    free(row);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
}

static void
test_png_roundtrip(void **state)
{
    const char *dir = bq_test_tmpdir("synth_png");
    char path[1200];

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/t.png", dir);
    for (int bits = 8; bits <= 16; bits += 8)
        for (int rgb = 0; rgb <= 1; rgb++) {
            struct bq_image *img = small_blot(bits, 20);
            struct bq_error err = {BQ_OK, ""};
            assert_int_equal(bq_synth_write_png(path, img, rgb, &err), BQ_OK);
            check_png(path, img, rgb ? 3 : 1);
            bq_image_destroy(img);
        }
    {
        struct bq_image *img = small_blot(32, 20);
        struct bq_error err = {BQ_OK, ""};
        assert_int_equal(bq_synth_write_png(path, img, 0, &err),
                         BQ_ERR_INVALID);
        bq_image_destroy(img);
    }
}

/* Writer failures come back as errors, with nothing printed on stderr. */
static void
test_writer_errors(void **state)
{
    const char *dir = bq_test_tmpdir("synth_err");
    char cap[1200], bad[] = "/nonexistent-dir/x/blot.tif";
    struct bq_image *img = small_blot(16, 3);
    const struct bq_image *pages[1] = {img};
    struct bq_synth_tiff_opts o = {"lzw", 0, 0, 0, 0};
    struct bq_error err = {BQ_OK, ""};
    struct bq_synth_truth t;
    struct stat sb;
    int saved, fd;

    (void)state;
    assert_non_null(dir);
    memset(&t, 0, sizeof t);
    snprintf(cap, sizeof cap, "%s/stderr.txt", dir);
    fflush(stderr);
    saved = dup(2);
    fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);

    assert_int_equal(bq_synth_write_tiff(bad, pages, 1, &o, &err), BQ_ERR_IO);
    assert_non_null(strstr(err.msg, bad));
    bq_error_clear(&err);
    assert_int_equal(bq_synth_write_png("/nonexistent-dir/x.png", img, 0, &err),
                     BQ_ERR_IO);
    bq_error_clear(&err);
    assert_int_equal(bq_synth_write_truth("/nonexistent-dir/x.csv", &t, &err),
                     BQ_ERR_IO);
    bq_error_clear(&err);
    o.compression = "jpeg2000";
    assert_int_equal(bq_synth_write_tiff("x.tif", pages, 1, &o, &err),
                     BQ_ERR_INVALID);
    bq_error_clear(&err);
    o.compression = "none";
    o.tile = 20;
    assert_int_equal(bq_synth_write_tiff("x.tif", pages, 1, &o, &err),
                     BQ_ERR_INVALID);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(stat(cap, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    bq_image_destroy(img);
}

static void
test_truth_csv(void **state)
{
    const char *dir = bq_test_tmpdir("synth_csv");
    char path[1200], line[512];
    struct bq_synth_params p;
    struct bq_image *img;
    struct bq_synth_truth t;
    struct bq_error err = {BQ_OK, ""};
    FILE *fp;

    (void)state;
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/truth.csv", dir);
    bq_synth_params_init(&p);
    bq_synth_params_randomize(&p, 8);
    gen(&p, &img, &t);
    assert_int_equal(bq_synth_write_truth(path, &t, &err), BQ_OK);
    assert_int_equal(count_lines(path), 1 + t.nbands + 1 + 1 + t.nlanes);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line,
                        "strip,lane,row,sub,x,y,width,sigma_y,volume,"
                        "saturated\n");
    for (size_t i = 0; i < t.nbands; i++) {
        int s, l, r, sub, sat;
        double x, y, w, sg, vol;
        assert_non_null(fgets(line, sizeof line, fp));
        assert_int_equal(sscanf(line, "%d,%d,%d,%d,%lf,%lf,%lf,%lf,%lf,%d", &s,
                                &l, &r, &sub, &x, &y, &w, &sg, &vol, &sat),
                         10);
        assert_int_equal(l, t.bands[i].lane);
        assert_int_equal(r, t.bands[i].row);
        assert_true(fabs(vol - t.bands[i].volume) <=
                    1e-12 * t.bands[i].volume);
        assert_true(fabs(x - t.bands[i].x) < 1e-6);
    }
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "\n");
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "strip,lane,x,y_top,y_bottom,width,empty,"
                              "ladder\n");
    fclose(fp);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
}

/* Returns 1 if the files at A and B have identical bytes. */
static int
same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;

    while (same) {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb)
            same = 0;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* The blotgen CLI: exit codes, outputs, byte-identical reruns. Skipped if
 * blotgen has not been built (test_synth does not depend on it). */
static void
test_blotgen_cli(void **state)
{
    const char *exe = BQ_BINARY_DIR "/blotgen";
    const char *dir;
    char cmd[4096], a[1200], b[1200], csv[1200];

    (void)state;
    if (!bq_test_exists(exe))
        skip();
    dir = bq_test_tmpdir("synth_cli");
    assert_non_null(dir);
    snprintf(a, sizeof a, "%s/a.tif", dir);
    snprintf(b, sizeof b, "%s/b.tif", dir);
    snprintf(csv, sizeof csv, "%s/a.csv", dir);
    snprintf(cmd, sizeof cmd, "'%s' --help > '%s/help.txt'", exe, dir);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' --no-such-option 2>/dev/null", exe);
    assert_int_equal(bq_test_run(cmd), 2);
    snprintf(cmd, sizeof cmd, "'%s' -o '%s' --lanes 0 2>/dev/null", exe, a);
    assert_int_equal(bq_test_run(cmd), 2);
    snprintf(cmd, sizeof cmd, "'%s' -o '%s' --bits 32 --format png "
             "2>/dev/null", exe, a);
    assert_int_equal(bq_test_run(cmd), 2);
    snprintf(cmd, sizeof cmd, "'%s' -o /nonexistent-dir/x.tif 2>/dev/null",
             exe);
    assert_int_equal(bq_test_run(cmd), 1);
    snprintf(cmd, sizeof cmd, "'%s' -o '%s' --truth '%s' --random --seed 42 "
             "--compression lzw --lanes 12", exe, a, csv);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' -o '%s' --random --seed 42 "
             "--compression lzw --lanes 12", exe, b);
    assert_int_equal(bq_test_run(cmd), 0);
    assert_true(same_file(a, b));
    {
        /* 12 lanes, one of them a ladder: lane section has 12 x strips. */
        struct bq_synth_params p;
        struct bq_image *img;
        struct bq_synth_truth t;
        bq_synth_params_init(&p);
        bq_synth_params_randomize(&p, 42);
        p.lanes = 12;
        gen(&p, &img, &t);
        assert_int_equal(count_lines(csv), 1 + t.nbands + 1 + 1 + t.nlanes);
        bq_image_destroy(img);
        bq_synth_truth_fini(&t);
    }
}

/* ---------------------------------------------------------------------- */
/* Speed                                                                   */
/* ---------------------------------------------------------------------- */

static void
test_timing_large(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct bq_synth_params p;
        struct bq_image *img;
        struct bq_synth_truth t;
        struct timespec a, b;
        double secs;

        bq_synth_params_init(&p);
        p.width = 4096;
        p.height = 3072;
        bq_synth_params_randomize(&p, seed);
        clock_gettime(CLOCK_MONOTONIC, &a);
        gen(&p, &img, &t);
        clock_gettime(CLOCK_MONOTONIC, &b);
        secs = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec -
                                                               a.tv_nsec);
        printf("synth: 4096x3072 16-bit randomised (seed %llu, %zu bands): "
               "%.3f s\n", (unsigned long long)seed, t.nbands, secs);
        assert_true(secs < 20.0); /* generous: sanitiser builds are slow */
        bq_image_destroy(img);
        bq_synth_truth_fini(&t);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_init),
        cmocka_unit_test(test_randomize),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test(test_single_band_volume),
        cmocka_unit_test(test_total_sum),
        cmocka_unit_test(test_rotation_centroids),
        cmocka_unit_test(test_smile),
        cmocka_unit_test(test_dark_inverts),
        cmocka_unit_test(test_saturation),
        cmocka_unit_test(test_truth_layout),
        cmocka_unit_test(test_noise_model),
        cmocka_unit_test(test_hot_pixels),
        cmocka_unit_test(test_tiff_roundtrip),
        cmocka_unit_test(test_tiff_multipage),
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_truth_csv),
        cmocka_unit_test(test_blotgen_cli),
        cmocka_unit_test(test_timing_large),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
