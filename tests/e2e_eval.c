#include "e2e_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Detected lane nearest to truth lane TL, or -1. */
static long
match_lane(const struct bq_analysis *a, double x, double y, double *dist)
{
    long best = -1;
    double bd = 1e300;

    for (size_t i = 0; i < a->layout.nlanes; i++) {
        const struct bq_lane *ln = &a->layout.lanes[i];
        const struct bq_strip *sp = &a->layout.strips[ln->strip];
        double ox, oy, d;
        /* the strip must cover the truth point (in the analysis frame) */
        double rx, ry, t = -a->angle * 3.14159265358979 / 180.0;
        double cx = 0.5 * (double)(a->width - 1), cy = 0.5 * (double)(a->height - 1);
        rx = cos(t) * (x - cx) - sin(t) * (y - cy) + cx;
        ry = sin(t) * (x - cx) + cos(t) * (y - cy) + cy;
        (void)rx;
        if (ry < sp->top || ry >= sp->bottom)
            continue;
        bq_rotate_point(a->width, a->height, a->angle, ln->x, ry, &ox, &oy);
        d = fabs(ox - x);
        if (d < bd) {
            bd = d;
            best = (long)i;
        }
    }
    *dist = bd;
    return best;
}

/* Whether detected lane I of A lies on a truth lane of T: one whose rows
 * overlap the lane's strip and whose centre (in the analysis frame) is
 * within a quarter of its width. A strip the layout cut in two keeps
 * true lanes in both parts. */
static int
on_true_lane(const struct bq_analysis *a, size_t i,
             const struct bq_synth_truth *t)
{
    const struct bq_lane *ln = &a->layout.lanes[i];
    const struct bq_strip *sp = &a->layout.strips[ln->strip];
    double th = -a->angle * 3.14159265358979 / 180.0;
    double cx = 0.5 * (double)(a->width - 1), cy = 0.5 * (double)(a->height - 1);

    for (size_t k = 0; k < t->nlanes; k++) {
        const struct bq_synth_lane *tl = &t->lanes[k];
        double y = 0.5 * (tl->y_top + tl->y_bottom), half;
        double rx = cos(th) * (tl->x - cx) - sin(th) * (y - cy) + cx;
        double ry = sin(th) * (tl->x - cx) + cos(th) * (y - cy) + cy;
        half = 0.5 * (tl->y_bottom - tl->y_top);
        if (ry + half <= sp->top || ry - half >= sp->bottom)
            continue;
        if (fabs(ln->x - rx) <= 0.25 * tl->width)
            return 1;
    }
    return 0;
}

/* With BQ_EVAL_VERBOSE: a line for truth band TB that was not found,
 * with its peak height over the noise, its volume against the largest
 * of its row (the generator's bands span two orders of magnitude), and
 * whether a band of its lane and row is clipped (a clipped doublet is
 * measured as one band). */
static void
miss_line(const struct bq_analysis *a, const struct bq_synth_truth *t,
          const struct bq_synth_band *tb, const char *why)
{
    double rowmax = 0, peak;
    int clipped = 0;

    if (!getenv("BQ_EVAL_VERBOSE"))
        return;
    for (size_t k = 0; k < t->nbands; k++)
        if (t->bands[k].strip == tb->strip && t->bands[k].row == tb->row) {
            rowmax = fmax(rowmax, t->bands[k].volume);
            clipped |= t->bands[k].lane == tb->lane &&
                       t->bands[k].saturated && &t->bands[k] != tb;
        }
    /* a Gaussian row profile times a lane about its FWHM wide */
    peak = tb->volume / (sqrt(2 * acos(-1.0)) * tb->sigma_y * tb->width);
    printf("  missed band s%d l%d r%d sub%d y %.0f sy %.1f true %.4g "
           "peak/noise %.1f of row max %.3f%s: %s\n",
           tb->strip, tb->lane, tb->row, tb->sub, tb->y, tb->sigma_y,
           tb->volume, a->layout.noise > 0 ? peak / a->layout.noise : 0,
           rowmax > 0 ? tb->volume / rowmax : 0,
           clipped ? ", beside a clipped band" : "", why);
}

void
bq_eval_add(struct bq_eval *ev, const struct bq_analysis *a,
            const struct bq_synth_truth *t)
{
    /* per (strip,row,sub) group: ratios, then scale by the group median */
    size_t ng = 0;
    struct { int strip, row, sub; size_t n; double r[64]; } *g;

    g = calloc(256, sizeof *g);
    if (!g)
        return;
    for (size_t i = 0; i < t->nlanes; i++) {
        const struct bq_synth_lane *tl = &t->lanes[i];
        double d;
        ev->lanes++;
        if (match_lane(a, tl->x, 0.5 * (tl->y_top + tl->y_bottom), &d) >= 0 &&
            d <= 0.25 * tl->width) {
            ev->lanes_found++;
        } else if (getenv("BQ_EVAL_VERBOSE")) {
            int left = 0, right = 0, end; /* bands on either side */
            for (size_t k = 0; k < t->nlanes; k++)
                if (t->lanes[k].strip == tl->strip && !t->lanes[k].empty) {
                    left |= t->lanes[k].lane < tl->lane;
                    right |= t->lanes[k].lane > tl->lane;
                }
            end = !left || !right;
            printf("  missed lane s%d l%d x %.0f width %.0f%s%s%s "
                   "(nearest found lane %.0f px off)\n",
                   tl->strip, tl->lane, tl->x, tl->width,
                   tl->empty ? ", empty" : "", tl->ladder ? ", ladder" : "",
                   end ? ", at the strip's end" : "", d);
        }
    }
    ev->lanes_det += a->layout.nlanes;
    for (size_t i = 0; i < a->layout.nlanes; i++) {
        int bands = 0;
        for (size_t k = 0; k < a->bands.n && !bands; k++)
            bands = a->bands.b[k].lane == i;
        if (bands && !on_true_lane(a, i, t)) {
            ev->phantom++;
            if (getenv("BQ_EVAL_VERBOSE"))
                printf("  phantom lane: strip %zu x %.1f width %.1f, rows "
                       "%.0f-%.0f\n",
                       a->layout.lanes[i].strip + 1, a->layout.lanes[i].x,
                       a->layout.lanes[i].width,
                       a->layout.strips[a->layout.lanes[i].strip].top,
                       a->layout.strips[a->layout.lanes[i].strip].bottom);
        }
    }
    /* The standard error of a box sum: pixel noise over its n pixels
     * plus the background level's uncertainty (noise over the envelope
     * kernel's area) times n; a split part carries its share (frac) of
     * the one sum, and a merged pair the whole of it. */
    for (size_t k = 0; k < a->bands.n; k++) {
        const struct bq_band *b = &a->bands.b[k];
        double n = (double)b->npx, s2 = a->layout.noise * a->layout.noise,
               kern = a->bg_method == BQ_BG_NONE
                          ? 0
                          : 2 * acos(-1.0) * a->bg_size * a->bg_size,
               se = sqrt(n * s2 + (kern > 0 ? n * n * s2 / kern : 0)) *
                    b->frac;
        ev->se_off += fabs(b->volume_se - se) > 1e-6 * se;
    }
    for (size_t i = 0; i < t->nbands; i++) {
        const struct bq_synth_band *tb = &t->bands[i];
        double d, bd = 1e300, tol = fmax(2 * tb->sigma_y, 4.0);
        long li, bi = -1;
        if (tb->row < 0)
            continue;
        ev->bands++;
        ev->sat_bands += tb->saturated;
        li = match_lane(a, tb->x, tb->y, &d);
        if (li < 0 || d > 0.25 * tb->width) {
            miss_line(a, t, tb, "lane not found");
            continue;
        }
        for (size_t k = 0; k < a->bands.n; k++) {
            const struct bq_band *b = &a->bands.b[k];
            double dy;
            if ((long)b->lane != li)
                continue;
            dy = fabs(b->oy - tb->y);
            if (dy < bd) {
                bd = dy;
                bi = (long)k;
            }
        }
        if (bi < 0 || bd > tol) {
            miss_line(a, t, tb, "no band near it");
            continue;
        }
        ev->bands_found++;
        if (tb->saturated) {
            ev->sat_found++;
            ev->sat_flagged += a->bands.b[bi].sat_px > 0;
            if (getenv("BQ_EVAL_VERBOSE") && a->bands.b[bi].sat_px == 0)
                printf("  saturated band not flagged: s%d l%d y %.0f sy %.1f "
                       "true %.4g, found as band %ld y %.1f rows %.1f-%.1f "
                       "split %d\n",
                       tb->strip, tb->lane, tb->y, tb->sigma_y, tb->volume, bi,
                       a->bands.b[bi].oy, a->bands.b[bi].top,
                       a->bands.b[bi].bottom, a->bands.b[bi].split);
            continue;
        }
        {
            size_t gi;
            for (gi = 0; gi < ng; gi++)
                if (g[gi].strip == tb->strip && g[gi].row == tb->row &&
                    g[gi].sub == tb->sub)
                    break;
            if (gi == ng && ng < 256) {
                g[ng].strip = tb->strip;
                g[ng].row = tb->row;
                g[ng].sub = tb->sub;
                ng++;
            }
            if (gi < ng && g[gi].n < 64)
                g[gi].r[g[gi].n++] = a->bands.b[bi].volume / tb->volume;
            if (getenv("BQ_EVAL_VERBOSE"))
                printf("  band s%d l%d r%d sub%d y %.0f sy %.1f true %.4g "
                       "found %.4g ratio %.3f snr %.0f split %d h %.0f\n",
                       tb->strip, tb->lane, tb->row, tb->sub, tb->y,
                       tb->sigma_y, tb->volume, a->bands.b[bi].volume,
                       a->bands.b[bi].volume / tb->volume, a->bands.b[bi].snr,
                       a->bands.b[bi].split,
                       a->bands.b[bi].bottom - a->bands.b[bi].top);
        }
    }
    for (size_t gi = 0; gi < ng; gi++) {
        double tmp[64], med;
        size_t n = g[gi].n;
        if (n == 0)
            continue;
        memcpy(tmp, g[gi].r, n * sizeof *tmp);
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && tmp[j - 1] > tmp[j]; j--) {
                double x = tmp[j];
                tmp[j] = tmp[j - 1];
                tmp[j - 1] = x;
            }
        med = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
        for (size_t i = 0;
             i < n && ev->nerr < sizeof ev->err / sizeof *ev->err; i++)
            ev->err[ev->nerr++] = fabs(g[gi].r[i] / med - 1);
    }
    free(g);
}

enum bq_status
bq_eval_scan(struct bq_eval *ev, const struct bq_synth_params *p,
             struct bq_analysis *a, struct bq_error *err)
{
    struct bq_synth_truth t;
    struct bq_image *img = NULL;
    struct bq_analysis local, *res = a ? a : &local;
    struct bq_analysis_opts o;
    enum bq_status st;

    memset(res, 0, sizeof *res);
    st = bq_synth_generate(p, &img, &t, err);
    if (st != BQ_OK)
        return st;
    bq_analysis_opts_init(&o);
    st = bq_analyze_image(img, &o, res, err);
    bq_eval_add(ev, res, &t);
    if (!a)
        bq_analysis_fini(res);
    bq_synth_truth_fini(&t);
    bq_image_destroy(img);
    return st;
}
