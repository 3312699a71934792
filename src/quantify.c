/* Quantify stage: band volumes, saturation, error bars; the CSV tables. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blotquant/analysis.h"
#include "util.h"

/* Integer pixel range [*a, *b) covering [lo, hi) clipped to [0, n). */
static void
span(double lo, double hi, size_t n, size_t *a, size_t *b)
{
    double l = floor(lo + 0.5), h = floor(hi + 0.5);

    if (l < 0)
        l = 0;
    if (h > (double)n)
        h = (double)n;
    if (h < l)
        h = l;
    *a = (size_t)l;
    *b = (size_t)h;
}

/* Mean of SIG over columns [CX0, CX1) and rows [Y0, Y1) into *OUT, unless
 * the window leaves the image or overlaps another band of band K's lane.
 * Returns 1 if the window was usable. */
static int
window_mean(const struct bq_image *sig, const struct bq_bandset *set,
            size_t k, size_t cx0, size_t cx1, double y0, double y1,
            double *out)
{
    const struct bq_band *b = &set->b[k];
    size_t a, e;
    double s = 0;

    if (y0 < 0 || y1 > (double)sig->height || cx1 <= cx0)
        return 0;
    for (size_t j = 0; j < set->n; j++) {
        const struct bq_band *o = &set->b[j];
        if (j == k || o->lane != b->lane)
            continue;
        if (o->sum_top < y1 && o->sum_bottom > y0 &&
            !(o->sum_top == b->sum_top && o->sum_bottom == b->sum_bottom))
            return 0;
    }
    span(y0, y1, sig->height, &a, &e);
    if (e <= a)
        return 0;
    for (size_t y = a; y < e; y++)
        for (size_t x = cx0; x < cx1; x++)
            s += bq_row(sig, y)[x];
    *out = s / (double)((e - a) * (cx1 - cx0));
    return 1;
}

/* The file's saturated pixels (SATMASK, W x H, original coordinates)
 * whose centres fall in the box of pixels X0..X1-1 x Y0..Y1-1 of the image
 * deskewed by ANGLE degrees (the cells [X0 - 1/2, X1 - 1/2) x [Y0 - 1/2,
 * Y1 - 1/2)). Each saturated pixel of the file within the bounding
 * rectangle of the box's outline turned back is turned into the deskewed
 * frame and tested once: sampling the box's own pixels mapped back instead skips
 * some original pixels and visits others twice (a turned grid), and a
 * band whose peak touched the maximum in one pixel went unflagged
 * (generated seed 4570, turned 4.2 degrees). */
static size_t
saturated_in_box(size_t w, size_t h, const unsigned char *satmask,
                 double angle, size_t x0, size_t x1, size_t y0, size_t y1)
{
    double cx[4] = {(double)x0 - 0.5, (double)x1 - 0.5, (double)x0 - 0.5,
                    (double)x1 - 0.5};
    double cy[4] = {(double)y0 - 0.5, (double)y0 - 0.5, (double)y1 - 0.5,
                    (double)y1 - 0.5};
    double lx = 1e300, hx = -1e300, ly = 1e300, hy = -1e300;
    size_t sat = 0;

    for (int i = 0; i < 4; i++) {
        double ox, oy;
        bq_rotate_point(w, h, angle, cx[i], cy[i], &ox, &oy);
        lx = fmin(lx, ox);
        hx = fmax(hx, ox);
        ly = fmin(ly, oy);
        hy = fmax(hy, oy);
    }
    lx = fmax(floor(lx), 0);
    ly = fmax(floor(ly), 0);
    hx = fmin(ceil(hx), (double)w - 1);
    hy = fmin(ceil(hy), (double)h - 1);
    for (double oy = ly; oy <= hy; oy++)
        for (double ox = lx; ox <= hx; ox++) {
            double dx, dy;
            if (!satmask[(size_t)oy * w + (size_t)ox])
                continue;
            bq_rotate_point(w, h, -angle, ox, oy, &dx, &dy);
            sat += dx >= cx[0] && dx < cx[1] && dy >= cy[0] && dy < cy[2];
        }
    return sat;
}

void
bq_bands_measure(const struct bq_image *sig, const unsigned char *satmask,
                 const struct bq_background *bg,
                 const struct bq_layout *layout, double angle,
                 int local_baseline, struct bq_bandset *set)
{
    bq_bands_measure_some(sig, satmask, bg, layout, angle, local_baseline,
                          set, NULL);
}

/* How many of columns [CX0, CX1) carry what rows [Y0, Y1) hold above
 * BASELINE, as a share of them: the participation ratio of the column
 * sums, (sum c)^2 / sum c^2 with negative sums as 0, over the number of
 * columns (1: evenly across them). Protein spans its lane; a speck of dust
 * a few columns. Wide lanes are summed in at most 512 bins. */
static double
spread(const struct bq_image *sig, size_t cx0, size_t cx1, size_t y0,
       size_t y1, double baseline)
{
    double col[512] = {0}, s1 = 0, s2 = 0;
    size_t nc = cx1 > cx0 ? cx1 - cx0 : 0, bins = nc < 512 ? nc : 512;

    if (!bins || y1 <= y0)
        return 0;
    for (size_t y = y0; y < y1; y++) {
        const float *r = bq_row(sig, y);
        for (size_t x = cx0; x < cx1; x++)
            col[(x - cx0) * bins / nc] += r[x] - baseline;
    }
    for (size_t i = 0; i < bins; i++) {
        double c = col[i] > 0 ? col[i] : 0;
        s1 += c;
        s2 += c * c;
    }
    return s2 > 0 ? s1 * s1 / s2 / (double)bins : 0;
}

void
bq_bands_measure_some(const struct bq_image *sig,
                      const unsigned char *satmask,
                      const struct bq_background *bg,
                      const struct bq_layout *layout, double angle,
                      int local_baseline, struct bq_bandset *set,
                      const unsigned char *which)
{
    double bg_px = bg->grid ? 2 * BQ_PI * bg->size * bg->size : 0;

    for (size_t k = 0; k < set->n; k++) {
        struct bq_band *b = &set->b[k];
        if (which && !which[k])
            continue;
        const struct bq_lane *ln = &layout->lanes[b->lane];
        size_t x0, x1, y0, y1, cx0, cx1, n = 0, sat = 0;
        double sum = 0, bsum = 0, pk = 0, noise_px = layout->noise;
        long yc;

        span(ln->x - 0.25 * ln->width, ln->x + 0.25 * ln->width, sig->width,
             &cx0, &cx1);
        if (cx1 <= cx0)
            cx1 = cx0 + 1 <= sig->width ? cx0 + 1 : cx0;
        span(b->left, b->right, sig->width, &x0, &x1);
        span(b->sum_top, b->sum_bottom, sig->height, &y0, &y1);
        for (size_t y = y0; y < y1; y++)
            sum += bq_sum_f(bq_row(sig, y) + x0, x1 - x0);
        n = (x1 - x0) * (y1 - y0);
        span(b->left, b->right, sig->width, &x0, &x1);
        span(b->top, b->bottom, sig->height, &y0, &y1);
        if (satmask && x1 > x0 && y1 > y0)
            sat = saturated_in_box(sig->width, sig->height, satmask, angle,
                                   x0, x1, y0, y1);
        /* Background level: mean of the estimate over a 3x3 grid of the
         * box (it is smooth), at original coordinates. */
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double px = b->left + (b->right - b->left) * (0.5 + i) / 3;
                double py = b->top + (b->bottom - b->top) * (0.5 + j) / 3;
                if (angle != 0)
                    bq_rotate_point(sig->width, sig->height, angle, px, py,
                                    &px, &py);
                bsum += bq_background_at(bg, px, py);
            }
        /* Peak height: the lane's central-half profile at the centre row. */
        yc = lround(b->y);
        for (long y = yc - 1; y <= yc + 1; y++) {
            double s = 0;
            if (y < 0 || y >= (long)sig->height || cx1 <= cx0)
                continue;
            for (size_t x = cx0; x < cx1; x++)
                s += bq_row(sig, (size_t)y)[x];
            s /= (double)(cx1 - cx0);
            pk = s > pk ? s : pk;
        }
        /* Local baseline: whatever the 2-D background left under the band,
         * read from the lane profile just above and below the box (rows
         * inside another band of the lane do not count), interpolated
         * linearly across the band and removed from every pixel. */
        b->baseline = 0;
        if (local_baseline && b->sum_bottom - b->sum_top >= 3) {
            double ht = b->sum_bottom - b->sum_top, win = ht / 4 > 2 ? ht / 4 : 2;
            double up = 0, dn = 0;
            int have_up = window_mean(sig, set, k, cx0, cx1, b->sum_top - win,
                                      b->sum_top, &up);
            int have_dn = window_mean(sig, set, k, cx0, cx1, b->sum_bottom,
                                      b->sum_bottom + win, &dn);
            if (have_up && have_dn)
                b->baseline = 0.5 * (up + dn);
            else if (have_up)
                b->baseline = up;
            else if (have_dn)
                b->baseline = dn;
            sum -= b->baseline * (double)n;
        }
        span(b->sum_top, b->sum_bottom, sig->height, &y0, &y1);
        b->spread = spread(sig, cx0, cx1, y0, y1, b->baseline);
        b->volume = b->frac * sum;
        b->npx = n;
        b->sat_px = sat;
        b->background = bsum / 9.0;
        b->peak = pk;
        b->snr = b->noise > 0 ? pk / b->noise : 0;
        /* Standard error: independent pixel noise over the box, plus the
         * uncertainty of the background level under it (the noise averaged
         * over the estimator's kernel area) times the box area. */
        b->volume_se = sqrt((double)n * noise_px * noise_px +
                            (bg_px > 0 ? (double)n * (double)n * noise_px *
                                             noise_px / bg_px
                                       : 0.0)) *
                       b->frac;
        {
            double ox, oy;
            bq_rotate_point(sig->width, sig->height, angle, ln->x, b->y, &ox,
                            &oy);
            b->ox = ox;
            b->oy = oy;
        }
    }
}

enum bq_status
bq_write_bands_csv(FILE *f, const struct bq_analysis *a)
{
    fprintf(f, "lane,lane_x,lane_width,band,band_y,volume,saturated,strip,"
               "row,band_top,band_bottom,band_height,background,peak_height,"
               "saturated_px,snr,volume_se,split,baseline\n");
    for (size_t k = 0; k < a->bands.n; k++) {
        const struct bq_band *b = &a->bands.b[k];
        const struct bq_lane *ln = &a->layout.lanes[b->lane];
        double tx, ty, bx, by;
        bq_rotate_point(a->width, a->height, a->angle, ln->x, b->top, &tx,
                        &ty);
        bq_rotate_point(a->width, a->height, a->angle, ln->x, b->bottom, &bx,
                        &by);
        fprintf(f,
                "%zu,%.2f,%.2f,%zu,%.2f,%.6g,%d,%zu,%d,%.2f,%.2f,%.2f,%.6g,"
                "%.6g,%zu,%.2f,%.6g,%d,%.6g\n",
                ln->index + 1, b->ox, ln->width, b->index + 1, b->oy,
                b->volume, b->sat_px > 0, b->strip + 1, b->row + 1, ty, by,
                b->bottom - b->top, b->background, b->peak, b->sat_px, b->snr,
                b->volume_se, b->split, b->baseline);
    }
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}

enum bq_status
bq_write_lanes_csv(FILE *f, const struct bq_analysis *a)
{
    fprintf(f, "strip,lane,lane_x,lane_width,left,right,smile,bands,empty\n");
    for (size_t i = 0; i < a->layout.nlanes; i++) {
        const struct bq_lane *ln = &a->layout.lanes[i];
        const struct bq_strip *sp = &a->layout.strips[ln->strip];
        double ox, oy, mid = 0.5 * (sp->top + sp->bottom);
        size_t nb = 0;
        for (size_t k = 0; k < a->bands.n; k++)
            nb += a->bands.b[k].lane == i;
        bq_rotate_point(a->width, a->height, a->angle, ln->x, mid, &ox, &oy);
        fprintf(f, "%zu,%zu,%.2f,%.2f,%.2f,%.2f,%.2f,%zu,%d\n", ln->strip + 1,
                ln->index + 1, ox, ln->width, ox - (ln->x - ln->left),
                ox + (ln->right - ln->x), ln->smile,
                nb, nb == 0);
    }
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}
