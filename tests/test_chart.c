/* The charts of an experiment and the Prism CSV: on the real pipeline's
 * results for the bundled sample experiment (what is drawn where, read back
 * from the PNGs), and on hand-made results for the edge cases (one
 * replicate, failed blots, NaN, no fit, huge values, long labels, many
 * conditions, mixed units, odd names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cairo.h>

#include "blotquant/chart.h"
#include "blotquant/experiment.h"
#include "render_internal.h"
#include "testutil.h"

/* The sample's agents take the first Okabe-Ito colours in lane order
 * (chart.h): rhTPO, eltrombopag, hetrombopag. */
#define RGB_AGENT0 0x0072B2u
#define RGB_AGENT1 0xE69F00u
#define RGB_AGENT2 0x009E73u

static char outdir[1024];

/* |A - B| <= TOL, printing both numbers when it fails. */
#define assert_near(a, b, tol)                                                 \
    do {                                                                       \
        double a_ = (a), b_ = (b), t_ = (tol);                                 \
        if (!(fabs(a_ - b_) <= t_))                                            \
            print_error("%s = %.12g, expected %.12g +- %g\n", #a, a_, b_, t_); \
        assert_true(fabs(a_ - b_) <= t_);                                      \
    } while (0)

/* ---- helpers ------------------------------------------------------------ */

/* An RGB24 PNG read back. */
struct png {
    cairo_surface_t *s;
    int w, h, stride;
    const unsigned char *px;
};

static void
png_read(const char *path, struct png *p)
{
    p->s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(p->s), CAIRO_STATUS_SUCCESS);
    p->w = cairo_image_surface_get_width(p->s);
    p->h = cairo_image_surface_get_height(p->s);
    p->stride = cairo_image_surface_get_stride(p->s);
    p->px = cairo_image_surface_get_data(p->s);
}

static void
png_free(struct png *p)
{
    cairo_surface_destroy(p->s);
}

/* 0xRRGGBB of the pixel holding the point (X, Y) (continuous px). */
static unsigned
png_at(const struct png *p, double x, double y)
{
    int i = (int)floor(x), j = (int)floor(y);
    uint32_t v;

    assert_true(i >= 0 && i < p->w && j >= 0 && j < p->h);
    memcpy(&v, p->px + (size_t)j * (size_t)p->stride + (size_t)i * 4, 4);
    return v & 0xFFFFFFu;
}

/* 1 if A and B differ by at most TOL in every channel. */
static int
rgb_near(unsigned a, unsigned b, int tol)
{
    for (int sh = 0; sh <= 16; sh += 8) {
        int d = (int)((a >> sh) & 255) - (int)((b >> sh) & 255);
        if (d > tol || d < -tol)
            return 0;
    }
    return 1;
}

/* Pixels darker than 0x80 in every channel in [X0, X1) x [Y0, Y1). */
static int
dark_pixels(const struct png *p, double x0, double x1, double y0, double y1)
{
    int n = 0;

    for (int j = (int)floor(y0); j < (int)ceil(y1); j++)
        for (int i = (int)floor(x0); i < (int)ceil(x1); i++) {
            unsigned v = png_at(p, i + 0.5, j + 0.5);
            n += ((v >> 16) & 255) < 0x80 && ((v >> 8) & 255) < 0x80 &&
                 (v & 255) < 0x80;
        }
    return n;
}

/* Pixels of exactly RGB (within 6) in [X0, X1) x [Y0, Y1). */
static int
rgb_pixels(const struct png *p, unsigned rgb, double x0, double x1, double y0,
           double y1)
{
    int n = 0;

    for (int j = (int)floor(y0); j < (int)ceil(y1); j++)
        for (int i = (int)floor(x0); i < (int)ceil(x1); i++)
            n += rgb_near(png_at(p, i + 0.5, j + 0.5), rgb, 6);
    return n;
}

static long
file_bytes(const char *path, unsigned char **data)
{
    FILE *f = fopen(path, "rb");
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc((size_t)n);
    assert_int_equal(fread(*data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return n;
}

static int
same_file(const char *a, const char *b)
{
    unsigned char *x, *y;
    long n = file_bytes(a, &x), m = file_bytes(b, &y);
    int same = n == m && memcmp(x, y, (size_t)n) == 0;

    free(x);
    free(y);
    return same;
}

/* The conditions of BLOT0's target and PART in S: their indices into
 * S->conds, in order. Returns how many. */
static size_t
target_conds(const struct bq_manifest *m, const struct bq_exp_summary *s,
             size_t blot0, enum bq_part part, size_t *idx)
{
    size_t n = 0;

    for (size_t i = 0; i < s->nconds; i++)
        if (s->conds[i].part == part &&
            strcasecmp(m->blots[s->conds[i].blot0].target,
                       m->blots[blot0].target) == 0)
            idx[n++] = i;
    return n;
}

/* The target's blots ordered by replicate (chart.h: bq_chart_jitter). */
static size_t
target_blots(const struct bq_manifest *m, size_t blot0, size_t *idx)
{
    size_t n = 0;

    for (int rep = 0; rep <= 64; rep++)
        for (size_t i = 0; i < m->nblots; i++)
            if (m->blots[i].replicate == rep &&
                strcasecmp(m->blots[i].target, m->blots[blot0].target) == 0)
                idx[n++] = i;
    return n;
}

/* Fold change of lane LANE's label in RES, part PART, computed here from
 * the rows (the mean over lanes of that label). */
static double
expected_fc(const struct bq_manifest *m, const struct bq_blot_result *r,
            size_t lane, enum bq_part part)
{
    double s = 0;
    size_t n = 0;

    if (r->status != BQ_OK)
        return NAN;
    for (size_t k = 0; k < r->nrows; k++) {
        const struct bq_lane_ratio *lr = &r->rows[k];
        if (lr->part == part && isfinite(lr->fold_change) &&
            strcmp(m->lanes[lr->lane].label, m->lanes[lane].label) == 0) {
            s += lr->fold_change;
            n++;
        }
    }
    return n ? s / (double)n : NAN;
}

/* Checks the bar chart at PATH against its geometry G and the data: the
 * documented size, one bar per condition whose fill shows just below its
 * top (beside the error bar and dots) and not just above it, background
 * between bars, each replicate's dot where it belongs, a mark above each
 * significant condition and none above the control. FILL[j] is bar j's
 * colour (0 to skip the colour check). */
static void
check_bars(const char *path, const struct bq_chart_geom *g,
           const struct bq_manifest *m, const struct bq_blot_result *res,
           const struct bq_exp_summary *s, size_t blot0, enum bq_part part,
           const unsigned *fill, int width)
{
    struct png p;
    size_t ci[512], bl[64], nc, nb, ndots = 0;

    png_read(path, &p);
    assert_int_equal(p.w, width);
    assert_int_equal(p.h, BQ_CHART_H);
    assert_int_equal(g->width, width);
    assert_int_equal(g->height, BQ_CHART_H);
    nc = target_conds(m, s, blot0, part, ci);
    nb = target_blots(m, blot0, bl);
    assert_int_equal(g->nbars, nc < BQ_CHART_MAX_BARS ? nc : BQ_CHART_MAX_BARS);
    assert_true(g->plot_x0 < g->plot_x1 && g->plot_y0 < g->plot_y1);
    for (size_t j = 0; j < g->nbars; j++) {
        const struct bq_condition *c = &s->conds[ci[j]];
        double side = 0.42 * g->bar_w, top = g->bar_top[j];
        double y0 = g->y_of_value_a; /* the baseline, value 0 */
        double ytop = top, e = c->fc.n >= 2 ? c->fc.sd : 0;
        assert_true(g->bar_x[j] > g->plot_x0 && g->bar_x[j] < g->plot_x1);
        if (j > 0) {
            /* background halfway between bars, just above the baseline */
            double xm = 0.5 * (g->bar_x[j - 1] + g->bar_x[j]);
            assert_true(g->bar_x[j] - g->bar_x[j - 1] > g->bar_w);
            assert_int_equal(png_at(&p, xm, y0 - 3), BQ_CHART_BG_RGB);
        }
        if (!isfinite(c->fc.mean)) {
            assert_true(isnan(top));
            continue;
        }
        assert_near(top, round(g->y_of_value_a + g->y_of_value_b * c->fc.mean),
                    0.01);
        if (fill && fabs(y0 - top) > 8) {
            unsigned below = png_at(&p, g->bar_x[j] - side, top + 3);
            unsigned below2 = png_at(&p, g->bar_x[j] + side, top + 3);
            if (!rgb_near(below, fill[j], 2) || !rgb_near(below2, fill[j], 2))
                fail_msg("bar %zu: %06x / %06x just below its top, fill "
                         "%06x",
                         j, below, below2, fill[j]);
            if (c->fc.mean > 0)
                assert_false(rgb_near(png_at(&p, g->bar_x[j] - side, top - 3),
                                      fill[j], 40));
        }
        /* the replicate dots */
        for (size_t k = 0; k < nb; k++) {
            double fc = expected_fc(m, &res[bl[k]], c->lane, part);
            double x = g->bar_x[j] + bq_chart_jitter(k, nb) * g->bar_w;
            double y = g->y_of_value_a + g->y_of_value_b * fc;
            unsigned v;
            if (!isfinite(fc) || y < g->plot_y0 || y > g->plot_y1)
                continue;
            v = png_at(&p, x, y);
            if (!rgb_near(v, BQ_CHART_DOT_RGB, 12))
                fail_msg("bar %zu blot %zu: %06x at the dot (%.1f, %.1f)", j,
                         bl[k], v, x, y);
            ytop = fmin(ytop, y - 6);
            ndots++;
        }
        /* the mark, above the error bar and the dots */
        if (isfinite(e))
            ytop = fmin(ytop,
                        g->y_of_value_a + g->y_of_value_b * (c->fc.mean + e));
        if (c->lane == m->control) {
            assert_int_equal(dark_pixels(&p, g->bar_x[j] - 12, g->bar_x[j] + 12,
                                         ytop - 22, ytop - 2),
                             0);
        } else if (isfinite(c->p_holm) && c->p_holm < 0.05) {
            assert_true(dark_pixels(&p, g->bar_x[j] - 12, g->bar_x[j] + 12,
                                    ytop - 24, ytop - 1) > 5);
        }
    }
    assert_true(ndots > 0 || nb == 0 || g->nbars == 0 || !fill);
    png_free(&p);
}

/* ---- the sample experiment through the real pipeline -------------------- */

static struct bq_manifest sm;
static struct bq_blot_result *sres;
static struct bq_exp_summary ssum;

static int
setup(void **state)
{
    struct bq_exp_opts o;
    struct bq_error err = {0};
    const char *d = bq_test_tmpdir("chart");
    (void)state;

    if (!d)
        return -1;
    snprintf(outdir, sizeof outdir, "%s", d);
    bq_exp_opts_init(&o);
    if (bq_manifest_load(BQ_SOURCE_DIR "/samples/experiment", &sm, &err) !=
        BQ_OK)
        return -1;
    sres = calloc(sm.nblots, sizeof *sres);
    for (size_t i = 0; i < sm.nblots; i++) {
        struct bq_error e = {0};
        if (bq_blot_process(&sm, i, &o, &sres[i], &e) != BQ_OK)
            return -1;
    }
    return bq_exp_summarize(&sm, sres, &ssum, &err) == BQ_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sm.nblots; i++)
        bq_blot_result_fini(&sres[i]);
    free(sres);
    bq_exp_summary_fini(&ssum);
    bq_manifest_fini(&sm);
    return 0;
}

/* The colour each condition's bar should have in the sample. */
static void
sample_fill(const struct bq_manifest *m, const struct bq_exp_summary *s,
            size_t blot0, enum bq_part part, unsigned *fill)
{
    size_t ci[512], nc = target_conds(m, s, blot0, part, ci);

    for (size_t j = 0; j < nc; j++) {
        const struct bq_mlane *l = &m->lanes[s->conds[ci[j]].lane];
        fill[j] = s->conds[ci[j]].lane == m->control ? BQ_CHART_CONTROL_RGB
                  : !strcmp(l->agent, "rhTPO")       ? RGB_AGENT0
                  : !strcmp(l->agent, "eltrombopag") ? RGB_AGENT1
                                                     : RGB_AGENT2;
    }
}

/* Every target of the sample (STAT3, STAT5, AKT and the summed ERK1/2
 * doublet): the bar chart as check_bars says; the dose chart's Hill curve
 * through its EC50 point and through the curve at +-0.25 and +-0.5 decades
 * in each agent's colour; the same inputs give the same bytes. */
static void
test_sample_charts(void **state)
{
    char path[1200], path2[1200];
    int targets = 0;
    (void)state;

    for (size_t b = 0; b < sm.nblots; b++) {
        struct bq_chart_geom g, g2;
        struct bq_error err = {0};
        enum bq_part part = BQ_PART_ONE;
        unsigned fill[512];
        size_t nfit = 0;
        struct png p;
        if (sm.blots[b].replicate != 1)
            continue;
        for (size_t k = 0; k < ssum.nconds; k++)
            if (ssum.conds[k].blot0 == b)
                part = ssum.conds[k].part;
        targets++;

        snprintf(path, sizeof path, "%s/bars_%zu.png", outdir, b);
        assert_int_equal(
            bq_render_bars(path, &sm, sres, &ssum, b, part, &g, &err), BQ_OK);
        sample_fill(&sm, &ssum, b, part, fill);
        check_bars(path, &g, &sm, sres, &ssum, b, part, fill, BQ_CHART_W);
        assert_int_equal(g.nbars, 16);
        snprintf(path2, sizeof path2, "%s/bars_%zu_again.png", outdir, b);
        assert_int_equal(
            bq_render_bars(path2, &sm, sres, &ssum, b, part, NULL, &err),
            BQ_OK);
        assert_true(same_file(path, path2));

        snprintf(path, sizeof path, "%s/dose_%zu.png", outdir, b);
        assert_int_equal(
            bq_render_dose(path, &sm, sres, &ssum, b, part, &g, &err), BQ_OK);
        snprintf(path2, sizeof path2, "%s/dose_%zu_again.png", outdir, b);
        assert_int_equal(
            bq_render_dose(path2, &sm, sres, &ssum, b, part, &g2, &err), BQ_OK);
        assert_true(same_file(path, path2));
        png_read(path, &p);
        assert_int_equal(p.w, BQ_CHART_W);
        assert_int_equal(p.h, BQ_CHART_H);
        assert_true(isfinite(g.x_of_log10dose_a) && g.x_of_log10dose_b > 0);
        assert_true(g.y_of_value_b < 0);
        assert_true(g.x_control <
                    g.x_of_log10dose_a + g.x_of_log10dose_b * log10(0.01));
        for (size_t k = 0; k < ssum.nfits; k++) {
            const struct bq_dose_fit *f = &ssum.fits[k];
            const struct bq_hill_fit *h = &f->fit;
            const char *agent = sm.lanes[f->lane].agent;
            unsigned rgb =
                !strcmp(agent, "eltrombopag") ? RGB_AGENT1 : RGB_AGENT2;
            static const double off[] = {-0.5, -0.25, 0.25, 0.5};
            int hits = 0;
            double x, y;
            if (f->blot0 != b || f->part != part)
                continue;
            assert_true(f->fitted);
            nfit++;
            x = g.x_of_log10dose_a + g.x_of_log10dose_b * log10(h->ec50);
            y = g.y_of_value_a + g.y_of_value_b * 0.5 * (h->top + h->bottom);
            if (!rgb_near(png_at(&p, x, y), rgb, 4))
                fail_msg("%s %s: %06x at the EC50 (%.1f, %.1f), curve %06x",
                         sm.blots[b].target, agent, png_at(&p, x, y), x, y,
                         rgb);
            for (size_t o = 0; o < 4; o++) {
                double d = h->ec50 * pow(10, off[o]);
                x = g.x_of_log10dose_a + g.x_of_log10dose_b * log10(d);
                y = g.y_of_value_a + g.y_of_value_b * bq_hill_eval(h, d);
                hits += rgb_near(png_at(&p, x, y), rgb, 4);
            }
            /* a mean marker (white ring) may sit on one of them */
            assert_true(hits >= 3);
        }
        assert_int_equal(nfit, 2);
        png_free(&p);
    }
    assert_int_equal(targets, 4);
}

/* The Prism CSV of the sample: one row per condition (16), 3 columns per
 * target (4 targets), values equal to the fold changes in the results. */
static void
test_sample_prism(void **state)
{
    char path[1200];
    struct bq_test_csv t;
    FILE *f;
    (void)state;

    snprintf(path, sizeof path, "%s/prism.csv", outdir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(bq_write_prism_csv(f, &sm, sres), BQ_OK);
    fclose(f);
    assert_int_equal(bq_test_csv_read(path, 0, &t), 0);
    assert_int_equal(t.nrow, 16);
    assert_int_equal(t.ncol, 1 + 4 * 3);
    assert_string_equal(t.head[0], "condition");
    assert_string_equal(t.head[1], "pSTAT3/STAT3 rep1");
    assert_string_equal(t.head[3], "pSTAT3/STAT3 rep3");
    assert_string_equal(t.head[10], "pERK1/2 / ERK1/2 (sum) rep1");
    for (size_t r = 0; r < t.nrow; r++) {
        const char *label = t.cell[r * t.ncol];
        size_t lane = 0, col = 1;
        while (lane < sm.nlanes && strcmp(sm.lanes[lane].label, label) != 0)
            lane++;
        assert_true(lane < sm.nlanes);
        assert_int_equal(sm.lanes[lane].kind, BQ_LANE_SAMPLE);
        for (size_t b0 = 0; b0 < sm.nblots; b0++) {
            size_t bl[64], nb;
            enum bq_part part = BQ_PART_ONE;
            if (sm.blots[b0].replicate != 1)
                continue;
            nb = target_blots(&sm, b0, bl);
            assert_int_equal(nb, 3);
            for (size_t k = 0; k < sres[b0].nrows; k++)
                part = sres[b0].rows[k].part;
            for (size_t k = 0; k < nb; k++, col++) {
                double want = expected_fc(&sm, &sres[bl[k]], lane, part);
                double got = atof(t.cell[r * t.ncol + col]);
                assert_true(isfinite(want));
                assert_near(got, want, 1e-5 * fabs(want));
            }
        }
    }
    bq_test_csv_free(&t);
}

/* Threads render at once and get the same bytes as one thread alone. */
struct job {
    char path[1200];
    size_t blot;
    enum bq_status st;
};

static void *
job_run(void *arg)
{
    struct job *j = arg;
    j->st = bq_render_dose(j->path, &sm, sres, &ssum, j->blot, BQ_PART_ONE,
                           NULL, NULL);
    return NULL;
}

static void
test_threads(void **state)
{
    struct job jobs[4];
    pthread_t th[4];
    char ref[1200];
    (void)state;

    snprintf(ref, sizeof ref, "%s/dose_thread_ref.png", outdir);
    assert_int_equal(
        bq_render_dose(ref, &sm, sres, &ssum, 0, BQ_PART_ONE, NULL, NULL),
        BQ_OK);
    for (int i = 0; i < 4; i++) {
        snprintf(jobs[i].path, sizeof jobs[i].path, "%s/dose_thread%d.png",
                 outdir, i);
        jobs[i].blot = 0;
        assert_int_equal(pthread_create(&th[i], NULL, job_run, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].st, BQ_OK);
        assert_true(same_file(ref, jobs[i].path));
    }
}

/* Drawn into a box of a larger surface: nothing outside the box changes,
 * the geometry is in the surface's coordinates; a box too small is
 * refused. */
static void
test_draw_into_box(void **state)
{
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1000, 700);
    cairo_t *cr = cairo_create(s);
    struct bq_chart_geom g;
    struct bq_error err = {0};
    const unsigned char *px;
    int stride, outside = 0;
    (void)state;

    cairo_set_source_rgb(cr, 1, 0, 0);
    cairo_paint(cr);
    assert_int_equal(bq_render_bars_to(cr, 100, 50, 800, 600, &sm, sres, &ssum,
                                       0, BQ_PART_ONE, BQ_CHART_ERR_SEM, &g,
                                       &err),
                     BQ_OK);
    assert_int_equal(bq_render_dose_to(cr, 100, 50, 800, 600, &sm, sres, &ssum,
                                       0, BQ_PART_ONE, &g, &err),
                     BQ_OK);
    assert_int_equal(cairo_status(cr), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s);
    px = cairo_image_surface_get_data(s);
    stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < 700; y++)
        for (int x = 0; x < 1000; x++) {
            uint32_t v;
            if (x >= 100 && x < 900 && y >= 50 && y < 650)
                continue;
            memcpy(&v, px + (size_t)y * (size_t)stride + (size_t)x * 4, 4);
            outside += (v & 0xFFFFFFu) != 0xFF0000u;
        }
    assert_int_equal(outside, 0);
    assert_true(g.plot_x0 > 100 && g.plot_x1 < 900);
    assert_true(g.plot_y0 > 50 && g.plot_y1 < 650);
    assert_int_equal(g.width, 800);
    assert_int_equal(bq_render_bars_to(cr, 0, 0, 300, 200, &sm, sres, &ssum, 0,
                                       BQ_PART_ONE, BQ_CHART_ERR_SD, &g, &err),
                     BQ_ERR_INVALID);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
}

/* ---- hand-made results -------------------------------------------------- */

/* An experiment built by hand: lanes from labels, blots of targets, every
 * sample lane with the fold change FC(blot, lane); summarized for real. */
struct fake {
    struct bq_manifest m;
    struct bq_blot_result *res;
    struct bq_exp_summary s;
};

typedef double (*fc_fn)(size_t blot, size_t lane, size_t nlanes);

static void
fake_init(struct fake *f, const char *const *labels, size_t nlanes,
          size_t control, const char *const *targets, const int *reps,
          size_t nblots, fc_fn fc)
{
    struct bq_error err = {0};

    memset(f, 0, sizeof *f);
    snprintf(f->m.name, sizeof f->m.name, "hand-made, edge cases");
    f->m.lanes = calloc(nlanes, sizeof *f->m.lanes);
    f->m.nlanes = nlanes;
    f->m.control = control;
    for (size_t i = 0; i < nlanes; i++) {
        assert_int_equal(bq_lane_parse(labels[i], &f->m.lanes[i], &err), BQ_OK);
        snprintf(f->m.lanes[i].label, sizeof f->m.lanes[i].label, "%s",
                 labels[i]);
    }
    f->m.blots = calloc(nblots, sizeof *f->m.blots);
    f->m.nblots = nblots;
    f->res = calloc(nblots, sizeof *f->res);
    for (size_t b = 0; b < nblots; b++) {
        struct bq_blot_result *r = &f->res[b];
        snprintf(f->m.blots[b].name, sizeof f->m.blots[b].name, "%s rep%d",
                 targets[b], reps[b]);
        snprintf(f->m.blots[b].target, sizeof f->m.blots[b].target, "%s",
                 targets[b]);
        f->m.blots[b].replicate = reps[b];
        r->status = BQ_OK;
        r->nlanes = nlanes;
        r->rows = calloc(nlanes, sizeof *r->rows);
        for (size_t i = 0; i < nlanes; i++) {
            struct bq_lane_ratio *lr;
            if (f->m.lanes[i].kind != BQ_LANE_SAMPLE)
                continue;
            lr = &r->rows[r->nrows++];
            lr->lane = i;
            lr->part = BQ_PART_ONE;
            lr->fold_change = i == control ? 1 : fc(b, i, nlanes);
            lr->ratio = lr->fold_change;
        }
    }
}

/* Marks blot B failed (before summarizing). */
static void
fake_fail(struct fake *f, size_t b)
{
    f->res[b].status = BQ_ERR_NOT_FOUND;
    snprintf(f->res[b].error, sizeof f->res[b].error, "no lanes");
    bq_blot_result_fini(&f->res[b]);
}

static void
fake_summarize(struct fake *f)
{
    struct bq_error err = {0};
    assert_int_equal(bq_exp_summarize(&f->m, f->res, &f->s, &err), BQ_OK);
}

static void
fake_fini(struct fake *f)
{
    for (size_t b = 0; b < f->m.nblots; b++)
        bq_blot_result_fini(&f->res[b]);
    free(f->res);
    bq_exp_summary_fini(&f->s);
    bq_manifest_fini(&f->m);
}

/* Both charts of target BLOT0 to NAME_bars.png / NAME_dose.png; the bar
 * chart checked (colours not: they depend on the case). Returns the
 * geometries. */
static void
render_both(struct fake *f, const char *name, size_t blot0,
            struct bq_chart_geom *gb, struct bq_chart_geom *gd)
{
    char path[1200];
    struct bq_error err = {0};

    snprintf(path, sizeof path, "%s/%s_bars.png", outdir, name);
    if (bq_render_bars(path, &f->m, f->res, &f->s, blot0, BQ_PART_ONE, gb,
                       &err) != BQ_OK)
        fail_msg("%s: %s", name, err.msg);
    check_bars(path, gb, &f->m, f->res, &f->s, blot0, BQ_PART_ONE, NULL,
               bq_chart_bars_width(&f->m, &f->s, blot0, BQ_PART_ONE));
    snprintf(path, sizeof path, "%s/%s_dose.png", outdir, name);
    if (bq_render_dose(path, &f->m, f->res, &f->s, blot0, BQ_PART_ONE, gd,
                       &err) != BQ_OK)
        fail_msg("%s: %s", name, err.msg);
}

static const char *const lab7[] = {"ladder",     "vehicle",     "drug 1 nM",
                                   "drug 10 nM", "drug 100 nM", "drug 1000 nM",
                                   "empty"};

/* A dose response with some spread between blots. */
static double
fc_hill(size_t b, size_t lane, size_t nlanes)
{
    (void)nlanes;
    return (1 + 5.0 * (double)(lane - 1) / 4) * (1 + 0.05 * (double)b);
}

/* One replicate: no error bars and no significance marks (nothing above
 * a bar's top but its dot), bars still where the means are. */
static void
test_one_replicate(void **state)
{
    static const char *const tg[] = {"STAT3"};
    static const int reps[] = {1};
    struct fake f;
    struct bq_chart_geom gb, gd;
    struct png p;
    char path[1200];
    (void)state;

    fake_init(&f, lab7, 7, 1, tg, reps, 1, fc_hill);
    fake_summarize(&f);
    render_both(&f, "one_rep", 0, &gb, &gd);
    assert_int_equal(gb.nbars, 5); /* ladder and empty lanes are not bars */
    snprintf(path, sizeof path, "%s/one_rep_bars.png", outdir);
    png_read(path, &p);
    for (size_t j = 0; j < gb.nbars; j++)
        assert_int_equal(dark_pixels(&p, gb.bar_x[j] - gb.bar_w / 2,
                                     gb.bar_x[j] + gb.bar_w / 2,
                                     gb.bar_top[j] - 30, gb.bar_top[j] - 7),
                         0);
    png_free(&p);
    fake_fini(&f);
}

/* A failed blot and NaN fold changes: the failed blot gives no dots and an
 * empty Prism column; a condition that is NaN on every blot has no bar. */
static double
fc_nan(size_t b, size_t lane, size_t nlanes)
{
    (void)nlanes;
    if (lane == 3)
        return NAN; /* drug 10 nM: never measured */
    if (lane == 4 && b == 0)
        return NAN; /* one missing replicate */
    return fc_hill(b, lane, nlanes);
}

static void
test_failed_blot_and_nan(void **state)
{
    static const char *const tg[] = {"STAT3", "STAT3", "STAT3", "AKT", "AKT"};
    static const int reps[] = {1, 2, 3, 1, 2};
    struct fake f;
    struct bq_chart_geom gb, gd;
    struct bq_test_csv t;
    char path[1200];
    FILE *fp;
    (void)state;

    fake_init(&f, lab7, 7, 1, tg, reps, 5, fc_nan);
    fake_fail(&f, 1);
    fake_summarize(&f);
    render_both(&f, "failed_nan", 0, &gb, &gd);
    assert_int_equal(gb.nbars, 5);
    assert_true(isnan(gb.bar_top[2])); /* drug 10 nM */
    assert_true(isfinite(gb.bar_top[3]));

    snprintf(path, sizeof path, "%s/failed_nan_prism.csv", outdir);
    fp = fopen(path, "w");
    assert_int_equal(bq_write_prism_csv(fp, &f.m, f.res), BQ_OK);
    fclose(fp);
    assert_int_equal(bq_test_csv_read(path, 0, &t), 0);
    assert_int_equal(t.nrow, 5);
    assert_int_equal(t.ncol, 1 + 3 + 3); /* AKT padded to 3 subcolumns */
    assert_string_equal(t.head[4], "pAKT/AKT rep1");
    for (size_t r = 0; r < t.nrow; r++) {
        assert_string_equal(t.cell[r * t.ncol + 2], ""); /* failed blot */
        assert_string_equal(t.cell[r * t.ncol + 6], ""); /* padding */
    }
    assert_string_equal(t.cell[2 * t.ncol + 1], ""); /* NaN */
    assert_near(atof(t.cell[3 * t.ncol + 3]), fc_hill(2, 4, 7), 1e-5);
    bq_test_csv_free(&t);
    fake_fini(&f);
}

/* Every blot of a target failed: charts that say so, no bars. */
static void
test_all_failed(void **state)
{
    static const char *const tg[] = {"STAT3", "AKT"};
    static const int reps[] = {1, 1};
    struct fake f;
    struct bq_chart_geom gb, gd;
    (void)state;

    fake_init(&f, lab7, 7, 1, tg, reps, 2, fc_hill);
    fake_fail(&f, 1);
    fake_summarize(&f);
    render_both(&f, "all_failed", 1, &gb, &gd);
    assert_int_equal(gb.nbars, 0);
    assert_true(isnan(gd.x_of_log10dose_a));
    fake_fini(&f);
}

/* Fewer than 4 doses: no fit, points only; a single dose: not on the dose
 * chart; a dose series in ng/mL next to ones in nM is left out of the nM
 * axis (none of its colour inside the plot). */
static void
test_no_fit_and_units(void **state)
{
    static const char *const lab[] = {
        "vehicle",     "A 1 nM",       "A 10 nM",   "A 100 nM",  "D 1 nM",
        "D 10 nM",     "D 100 nM",     "D 1000 nM", "B 1 ng/mL", "B 10 ng/mL",
        "B 100 ng/mL", "B 1000 ng/mL", "C 1 uM"};
    static const char *const tg[] = {"STAT3", "STAT3"};
    static const int reps[] = {1, 2};
    struct fake f;
    struct bq_chart_geom gb, gd;
    struct png p;
    char path[1200];
    (void)state;

    fake_init(&f, lab, 13, 0, tg, reps, 2, fc_hill);
    fake_summarize(&f);
    render_both(&f, "units", 0, &gb, &gd);
    assert_int_equal(gb.nbars, 13);
    /* the nM axis holds 1 nM .. 1000 nM */
    assert_true(isfinite(gd.x_of_log10dose_a));
    assert_true(gd.x_of_log10dose_a > gd.plot_x0 &&
                gd.x_of_log10dose_a + 3 * gd.x_of_log10dose_b < gd.plot_x1);
    snprintf(path, sizeof path, "%s/units_dose.png", outdir);
    png_read(path, &p);
    /* colours in lane order: A, D, B, C */
    assert_true(rgb_pixels(&p, RGB_AGENT0, gd.plot_x0, gd.plot_x1, gd.plot_y0,
                           gd.plot_y1) > 20);
    assert_true(rgb_pixels(&p, RGB_AGENT1, gd.plot_x0, gd.plot_x1, gd.plot_y0,
                           gd.plot_y1) > 200);
    assert_int_equal(rgb_pixels(&p, RGB_AGENT2, gd.plot_x0, gd.plot_x1,
                                gd.plot_y0, gd.plot_y1),
                     0);
    assert_int_equal(rgb_pixels(&p, 0xCC79A7u, gd.plot_x0, gd.plot_x1,
                                gd.plot_y0, gd.plot_y1),
                     0);
    png_free(&p);
    fake_fini(&f);
}

/* Huge and tiny values: bars stay within the plot. */
static double
fc_huge(size_t b, size_t lane, size_t nlanes)
{
    (void)nlanes;
    return lane == 2   ? 1e9 * (1 + 0.1 * (double)b)
           : lane == 3 ? 1e-9
           : lane == 4 ? INFINITY
                       : 2;
}

static void
test_huge_values(void **state)
{
    static const char *const tg[] = {"STAT3", "STAT3", "STAT3"};
    static const int reps[] = {1, 2, 3};
    struct fake f;
    struct bq_chart_geom gb, gd;
    (void)state;

    fake_init(&f, lab7, 7, 1, tg, reps, 3, fc_huge);
    fake_summarize(&f);
    render_both(&f, "huge", 0, &gb, &gd);
    for (size_t j = 0; j < gb.nbars; j++)
        if (isfinite(gb.bar_top[j]))
            assert_true(gb.bar_top[j] >= gb.plot_y0 &&
                        gb.bar_top[j] <= gb.plot_y1);
    fake_fini(&f);
}

/* 30 conditions with long labels (commas, µ, a Latin-1 byte): one bar per
 * condition, in order, none overlapping; 60 conditions widen the PNG. */
static const char *long_labels[64];
static char long_buf[64][96];

static double
fc_many(size_t b, size_t lane, size_t nlanes)
{
    return 1 + (double)lane / (double)nlanes * 3 + 0.1 * (double)b;
}

static void
many(size_t n, const char *name)
{
    static const char *const tg[] = {"ERK1/2", "ERK1/2", "ERK1/2"};
    static const int reps[] = {1, 2, 3};
    struct fake f;
    struct bq_chart_geom gb, gd;
    char path[1200];
    FILE *fp;
    struct bq_test_csv t;

    for (size_t i = 0; i < n; i++) {
        if (i == 0)
            snprintf(long_buf[i], sizeof long_buf[i], "vehicle, DMSO 0.1 %%");
        else if (i % 3 == 0)
            snprintf(long_buf[i], sizeof long_buf[i],
                     "a compound with a long name, batch 7 (re-dissolved) "
                     "%zu \u00b5M",
                     i);
        else if (i % 3 == 1)
            snprintf(long_buf[i], sizeof long_buf[i], "x\xb5y %zu nM", i);
        else
            snprintf(long_buf[i], sizeof long_buf[i], "agent%zu", i);
        long_labels[i] = long_buf[i];
    }
    fake_init(&f, long_labels, n, 0, tg, reps, 3, fc_many);
    fake_summarize(&f);
    render_both(&f, name, 0, &gb, &gd);
    assert_int_equal(gb.nbars, n);
    assert_int_equal(gb.width, n > BQ_CHART_BARS_WIDE
                                   ? 120 + BQ_CHART_BAR_SLOT * (int)n
                                   : BQ_CHART_W);
    snprintf(path, sizeof path, "%s/%s_prism.csv", outdir, name);
    fp = fopen(path, "w");
    assert_int_equal(bq_write_prism_csv(fp, &f.m, f.res), BQ_OK);
    fclose(fp);
    assert_int_equal(bq_test_csv_read(path, 0, &t), 0);
    assert_int_equal(t.nrow, n);
    assert_int_equal(t.ncol, 4);
    assert_string_equal(t.head[1], "pERK1/2 / ERK1/2 rep1");
    assert_string_equal(t.cell[0], "vehicle, DMSO 0.1 %");
    assert_string_equal(t.cell[3 * t.ncol], long_buf[3]);
    bq_test_csv_free(&t);
    fake_fini(&f);
}

static void
test_many_conditions(void **state)
{
    (void)state;
    many(30, "many30");
    many(60, "many60");
}

/* Bad arguments and unwritable paths: clear errors, no file left. */
static void
test_errors(void **state)
{
    struct bq_error err = {0};
    char path[1200];
    (void)state;

    assert_int_equal(
        bq_render_bars(NULL, &sm, sres, &ssum, 0, BQ_PART_ONE, NULL, &err),
        BQ_ERR_INVALID);
    bq_error_clear(&err);
    snprintf(path, sizeof path, "%s/x.png", outdir);
    assert_int_equal(bq_render_dose(path, &sm, sres, &ssum, sm.nblots,
                                    BQ_PART_ONE, NULL, &err),
                     BQ_ERR_INVALID);
    assert_false(bq_test_exists(path));
    bq_error_clear(&err);
    snprintf(path, sizeof path, "%s/no/such/folder/x.png", outdir);
    assert_int_equal(
        bq_render_bars(path, &sm, sres, &ssum, 0, BQ_PART_ONE, NULL, &err),
        BQ_ERR_IO);
    assert_non_null(strstr(err.msg, "folder does not exist"));
    assert_int_equal(bq_write_prism_csv(NULL, &sm, sres), BQ_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_charts),
        cmocka_unit_test(test_sample_prism),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_draw_into_box),
        cmocka_unit_test(test_one_replicate),
        cmocka_unit_test(test_failed_blot_and_nan),
        cmocka_unit_test(test_all_failed),
        cmocka_unit_test(test_no_fit_and_units),
        cmocka_unit_test(test_huge_values),
        cmocka_unit_test(test_many_conditions),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
