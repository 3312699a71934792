/* The report page of an experiment: its charts, every blot's strips as
 * measured, the numbers and flags, and a footer that says how it was made
 * (README: "report.png"). */
#include "blotquant/report.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "blotquant/chart.h"
#include "blotquant/strip.h"
#include "render_internal.h"

#define PAGE_W 2000 /* px */
#define MARGIN 40   /* px */
#define CHART_W 940 /* one chart, px (two side by side) */
#define CHART_H 560
#define STRIP_W 900 /* the widest strip is scaled to this, px */
#define TEXT_RGB 0x222222u
#define MUTED_RGB 0x666666u
#define LANE_RGB 0x0072B2u
#define BAND_RGB 0x009E73u
#define SAT_RGB 0xD55E00u

static void
rgb(cairo_t *c, unsigned v)
{
    cairo_set_source_rgb(c, ((v >> 16) & 255) / 255.0, ((v >> 8) & 255) / 255.0,
                         (v & 255) / 255.0);
}

/* Draws TEXT at (X, Y) (top-left) in SIZE px, BOLD or not, wrapped at
 * WIDTH px if WIDTH > 0; returns the height used. MONO: monospace. */
static double
text(cairo_t *c, const char *s, double x, double y, double size, int bold,
     int mono, double width, unsigned colour)
{
    PangoLayout *l = pango_cairo_create_layout(c);
    PangoFontDescription *fd = pango_font_description_new();
    int w, h;

    pango_font_description_set_family(fd, mono ? "DejaVu Sans Mono"
                                               : "DejaVu Sans");
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD
                                               : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(l, fd);
    if (width > 0) {
        pango_layout_set_width(l, (int)(width * PANGO_SCALE));
        pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    }
    pango_layout_set_text(l, s, -1);
    rgb(c, colour);
    cairo_move_to(c, x, y);
    pango_cairo_show_layout(c, l);
    pango_layout_get_pixel_size(l, &w, &h);
    pango_font_description_free(fd);
    g_object_unref(l);
    return h;
}

/* The targets (and band parts) of the summary, in order: the first
 * condition of each. Returns the count; IDX receives condition indexes. */
static size_t
targets(const struct bq_exp_summary *s, size_t *idx, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nconds && n < max; i++)
        if (i == 0 || s->conds[i].blot0 != s->conds[i - 1].blot0 ||
            s->conds[i].part != s->conds[i - 1].part)
            idx[n++] = i;
    return n;
}

/* Paints strip S at (X, Y), SCALE px per strip px, like film: dark bands
 * on white with an asinh stretch, the measured boxes outlined. Returns its
 * height. */
static double
draw_strip(cairo_t *c, const struct bq_blot_strip *s, double x, double y,
           double scale)
{
    cairo_surface_t *img;
    unsigned char *data;
    int stride;
    size_t w, h, n;
    float lo, hi, *v;

    if (!s->img)
        return 0;
    w = s->img->width;
    h = s->img->height;
    n = w * h;
    v = malloc(n * sizeof *v);
    img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)w, (int)h);
    if (!v || cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        free(v);
        cairo_surface_destroy(img);
        return 0;
    }
    /* stretch: the 5th percentile is white, the 99.8th black */
    for (size_t yy = 0; yy < h; yy++)
        memcpy(v + yy * w, bq_row(s->img, yy), w * sizeof *v);
    lo = hi = v[0];
    {
        /* quantiles from a histogram of 1024 bins */
        float mn = v[0], mx = v[0];
        size_t hist[1024] = {0}, acc = 0;
        for (size_t i = 0; i < n; i++) {
            mn = v[i] < mn ? v[i] : mn;
            mx = v[i] > mx ? v[i] : mx;
        }
        for (size_t i = 0; i < n; i++) {
            size_t b = mx > mn ? (size_t)((v[i] - mn) / (mx - mn) * 1023) : 0;
            hist[b]++;
        }
        lo = mn;
        hi = mx;
        for (size_t b = 0; b < 1024; b++) {
            size_t prev = acc;
            acc += hist[b];
            if (prev < n / 20 && acc >= n / 20)
                lo = mn + (mx - mn) * (float)b / 1023.0f;
            if (prev < n - n / 500 && acc >= n - n / 500)
                hi = mn + (mx - mn) * (float)b / 1023.0f;
        }
        if (hi <= lo)
            hi = lo + 1;
    }
    cairo_surface_flush(img);
    data = cairo_image_surface_get_data(img);
    stride = cairo_image_surface_get_stride(img);
    for (size_t yy = 0; yy < h; yy++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)stride * yy);
        for (size_t xx = 0; xx < w; xx++) {
            double t = (v[yy * w + xx] - lo) / (hi - lo);
            unsigned g;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            t = asinh(8 * t) / asinh(8.0);
            g = (unsigned)lround(255 * (1 - t));
            row[xx] = (g << 16) | (g << 8) | g;
        }
    }
    cairo_surface_mark_dirty(img);
    free(v);
    cairo_save(c);
    cairo_translate(c, x, y);
    cairo_scale(c, scale, scale);
    cairo_set_source_surface(c, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(c), CAIRO_FILTER_GOOD);
    cairo_paint(c);
    cairo_restore(c);
    cairo_surface_destroy(img);
    cairo_set_line_width(c, 1.5);
    for (size_t i = 0; i < s->nbox; i++) {
        const struct bq_strip_box *b = &s->box[i];
        rgb(c, b->saturated ? SAT_RGB : BAND_RGB);
        cairo_rectangle(c, x + b->x * scale, y + b->y * scale, b->w * scale,
                        b->h * scale);
        cairo_stroke(c);
    }
    rgb(c, 0xBBBBBBu);
    cairo_set_line_width(c, 1);
    cairo_rectangle(c, x, y, (double)w * scale, (double)h * scale);
    cairo_stroke(c);
    return (double)h * scale;
}

/* Is there a dose fit row for the target of condition C? */
static int
has_dose(const struct bq_exp_summary *s, const struct bq_condition *c)
{
    for (size_t i = 0; i < s->nfits; i++)
        if (s->fits[i].blot0 == c->blot0 && s->fits[i].part == c->part)
            return 1;
    return 0;
}

static void
fmt(char *buf, size_t n, double v)
{
    if (isfinite(v))
        snprintf(buf, n, "%.3g", v);
    else
        snprintf(buf, n, "–");
}

/* The numbers of one target: a table of its conditions at (X, Y), WIDTH
 * wide. Returns the height used. */
static double
table(cairo_t *c, const struct bq_manifest *m, const struct bq_exp_summary *s,
      size_t first, double x, double y, double width)
{
    static const double col[] = {0, 0.36, 0.49, 0.60, 0.67, 0.80, 0.87};
    static const char *head[] = {
        "condition", "fold change", "SD", "n", "p (Holm)", "sig.", "flags"};
    const struct bq_condition *c0 = &s->conds[first];
    char title[160], buf[64];
    double yy = y;
    const char *part = bq_part_name(c0->part);

    snprintf(title, sizeof title, "%s%s%s: fold change over %s",
             m->blots[c0->blot0].target, part[0] ? " " : "", part,
             m->nlanes ? m->lanes[m->control].label : "lane 1");
    yy += text(c, title, x, yy, 17, 1, 0, width, TEXT_RGB) + 4;
    for (int k = 0; k < 7; k++)
        text(c, head[k], x + col[k] * width, yy, 13, 1, 0, 0, MUTED_RGB);
    yy += 20;
    for (size_t i = first; i < s->nconds && s->conds[i].blot0 == c0->blot0 &&
                           s->conds[i].part == c0->part;
         i++) {
        const struct bq_condition *ci = &s->conds[i];
        char flags[160] = "";
        unsigned fl = ci->flags;
        static const struct {
            unsigned bit;
            const char *name;
        } names[] = {
            {BQ_FLAG_SAT_PHOSPHO | BQ_FLAG_SAT_TOTAL | BQ_FLAG_SAT_LOADING,
             "saturated"},
            {BQ_FLAG_BELOW_DETECT, "below detection"},
            {BQ_FLAG_LOW_TOTAL, "low signal"},
            {BQ_FLAG_NO_RATIO | BQ_FLAG_CONTROL_BAD, "no ratio"},
            {BQ_FLAG_INTERP, "no total band"}};
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            if (fl & names[k].bit) {
                if (flags[0])
                    strncat(flags, ", ", sizeof flags - strlen(flags) - 1);
                strncat(flags, names[k].name, sizeof flags - strlen(flags) - 1);
            }
        if (i % 2 == 0) {
            rgb(c, 0xF2F2F2u);
            cairo_rectangle(c, x - 4, yy - 1, width, 19);
            cairo_fill(c);
        }
        text(c, ci->lane < m->nlanes ? m->lanes[ci->lane].label : "?", x, yy,
             13, 0, 0, col[1] * width - 8, TEXT_RGB);
        fmt(buf, sizeof buf, ci->fc.mean);
        text(c, buf, x + col[1] * width, yy, 13, 0, 0, 0, TEXT_RGB);
        fmt(buf, sizeof buf, ci->fc.sd);
        text(c, buf, x + col[2] * width, yy, 13, 0, 0, 0, TEXT_RGB);
        snprintf(buf, sizeof buf, "%zu", ci->fc.n);
        text(c, buf, x + col[3] * width, yy, 13, 0, 0, 0, TEXT_RGB);
        fmt(buf, sizeof buf, ci->p_holm);
        text(c, buf, x + col[4] * width, yy, 13, 0, 0, 0, TEXT_RGB);
        text(c,
             !isfinite(ci->p_holm) ? ""
             : ci->p_holm < 0.001  ? "***"
             : ci->p_holm < 0.01   ? "**"
             : ci->p_holm < 0.05   ? "*"
                                   : "ns",
             x + col[5] * width, yy, 13, 1, 0, 0, TEXT_RGB);
        text(c, flags, x + col[6] * width, yy, 12, 0, 0, 0,
             flags[0] ? SAT_RGB : TEXT_RGB);
        yy += 19;
    }
    return yy - y;
}

/* Draws the whole page into C; returns its height. */
static double
page(cairo_t *c, const struct bq_manifest *m, const struct bq_blot_result *res,
     const struct bq_exp_summary *s, const struct bq_report_info *info)
{
    size_t tidx[64], nt = targets(s, tidx, 64), ok = 0;
    double y = MARGIN, maxw = 1, scale;
    char buf[4096];

    for (size_t i = 0; i < m->nblots; i++) {
        ok += res[i].status == BQ_OK;
        for (int r = 0; r < 3; r++)
            if (res[i].strip[r].img &&
                (double)res[i].strip[r].img->width > maxw)
                maxw = (double)res[i].strip[r].img->width;
    }
    scale = 760.0 / maxw;

    /* title */
    y += text(c, m->name, MARGIN, y, 30, 1, 0, PAGE_W - 2 * MARGIN, TEXT_RGB) +
         6;
    snprintf(buf, sizeof buf,
             "%zu of %zu blots measured · fold change = (phospho / total) over "
             "the control lane (%s) of the same blot · error bars: SD over "
             "replicate blots · test: one-sample t test of log2 fold change "
             "against 0, Holm-adjusted",
             ok, m->nblots, m->nlanes ? m->lanes[m->control].label : "lane 1");
    y += text(c, buf, MARGIN, y, 16, 0, 0, PAGE_W - 2 * MARGIN, MUTED_RGB) + 20;

    /* charts: bars and dose-response of each target side by side */
    for (size_t t = 0; t < nt; t++) {
        const struct bq_condition *ct = &s->conds[tidx[t]];
        bq_render_bars_to(c, MARGIN, y, CHART_W, CHART_H, m, res, s, ct->blot0,
                          ct->part, BQ_CHART_ERR_SD, NULL, NULL);
        if (has_dose(s, ct))
            bq_render_dose_to(c, MARGIN + CHART_W + 40, y, CHART_W, CHART_H, m,
                              res, s, ct->blot0, ct->part, NULL, NULL);
        y += CHART_H + 20;
    }

    /* blots as measured, two columns */
    y += 10;
    y += text(c, "Blots as measured", MARGIN, y, 22, 1, 0, 0, TEXT_RGB) + 4;
    y += text(c,
              "Each blot's phospho, total and loading scans around the band "
              "measured; boxes: what was summed (green), saturated pixels "
              "(vermilion). Lanes:",
              MARGIN, y, 14, 0, 0, PAGE_W - 2 * MARGIN, MUTED_RGB) +
         2;
    buf[0] = '\0';
    for (size_t i = 0; i < m->nlanes; i++) {
        char one[160];
        snprintf(one, sizeof one, "%s%zu %s", i ? " · " : "", i + 1,
                 m->lanes[i].label);
        strncat(buf, one, sizeof buf - strlen(buf) - 1);
    }
    y += text(c, buf, MARGIN, y, 14, 0, 0, PAGE_W - 2 * MARGIN, TEXT_RGB) + 12;
    {
        double colx[2] = {MARGIN, MARGIN + 980}, coly[2] = {y, y};
        static const char *role[3] = {"phospho", "total", "loading"};
        for (size_t i = 0; i < m->nblots; i++) {
            int k = coly[0] <= coly[1] ? 0 : 1;
            double yy = coly[k], x = colx[k];
            snprintf(buf, sizeof buf, "%s", m->blots[i].name);
            yy += text(c, buf, x, yy, 16, 1, 0, 900, TEXT_RGB) + 2;
            if (res[i].status != BQ_OK) {
                yy += text(c, res[i].error, x, yy, 13, 0, 0, 900, SAT_RGB) + 8;
                coly[k] = yy + 10;
                continue;
            }
            for (int r = 0; r < 3; r++) {
                const struct bq_blot_strip *st = &res[i].strip[r];
                double hgt;
                if (!st->img)
                    continue;
                text(c, r == 2 ? m->blots[i].loading_name : role[r], x, yy + 2,
                     13, 0, 0, 150, MUTED_RGB);
                hgt = draw_strip(c, st, x + 160, yy, scale);
                if (r == 0)
                    for (size_t b = 0; b < st->nbox; b++) {
                        char ln[16];
                        if (b > 0 && st->box[b].lane == st->box[b - 1].lane)
                            continue;
                        snprintf(ln, sizeof ln, "%d", st->box[b].lane);
                        text(c, ln,
                             x + 160 +
                                 (st->box[b].x + 0.5 * st->box[b].w) * scale -
                                 5,
                             yy - 15, 11, 0, 0, 0, LANE_RGB);
                    }
                yy += hgt + 6;
            }
            coly[k] = yy + 14;
        }
        y = (coly[0] > coly[1] ? coly[0] : coly[1]) + 10;
    }

    /* the numbers, two targets a row */
    y += text(c, "Numbers (summary.csv)", MARGIN, y, 22, 1, 0, 0, TEXT_RGB) + 8;
    for (size_t t = 0; t < nt; t += 2) {
        double h0 = table(c, m, s, tidx[t], MARGIN, y, 920), h1 = 0;
        if (t + 1 < nt)
            h1 = table(c, m, s, tidx[t + 1], MARGIN + 980, y, 920);
        y += (h0 > h1 ? h0 : h1) + 20;
    }

    /* footer: how this page was made */
    rgb(c, 0xCCCCCCu);
    cairo_rectangle(c, MARGIN, y, PAGE_W - 2 * MARGIN, 1);
    cairo_fill(c);
    y += 10;
    if (info) {
        snprintf(buf, sizeof buf, "%s · options: %s", info->version,
                 info->options && info->options[0] ? info->options
                                                   : "defaults");
        y += text(c, buf, MARGIN, y, 13, 0, 0, PAGE_W - 2 * MARGIN, MUTED_RGB) +
             4;
        y +=
            text(c, "Inputs (SHA-256):", MARGIN, y, 13, 1, 0, 0, MUTED_RGB) + 2;
        for (size_t i = 0; i < info->nfiles; i += 2) {
            for (size_t k = 0; k < 2 && i + k < info->nfiles; k++) {
                snprintf(buf, sizeof buf, "%s  %s", info->sha256[i + k],
                         info->files[i + k]);
                text(c, buf, MARGIN + (double)k * 980, y, 11, 0, 1, 960,
                     MUTED_RGB);
            }
            y += 15;
        }
    }
    return y + MARGIN;
}

enum bq_status
bq_render_report(const char *png_path, const struct bq_manifest *m,
                 const struct bq_blot_result *res,
                 const struct bq_exp_summary *s,
                 const struct bq_report_info *info, struct bq_error *err)
{
    cairo_surface_t *rec, *img;
    cairo_t *c;
    double h;
    enum bq_status st;

    if (!png_path || !m || !res || !s)
        return bq_error_set(err, BQ_ERR_INVALID, "report: nothing to draw");
    /* draw once onto a 1x1 surface to learn the height (everything is
     * clipped away, so it costs little), then onto the page itself: no
     * recording of the whole page is kept */
    rec = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    c = cairo_create(rec);
    h = page(c, m, res, s, info);
    cairo_destroy(c);
    if (h > 30000)
        h = 30000;
    img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, PAGE_W, (int)ceil(h));
    c = cairo_create(img);
    rgb(c, 0xFFFFFFu);
    cairo_paint(c);
    page(c, m, res, s, info);
    if (cairo_status(c) != CAIRO_STATUS_SUCCESS) {
        st = bq_error_set(err, BQ_ERR_RENDER, "report %s: %s", png_path,
                          cairo_status_to_string(cairo_status(c)));
    } else {
        st = bq_render_write_png(img, png_path, err);
    }
    cairo_destroy(c);
    cairo_surface_destroy(img);
    cairo_surface_destroy(rec);
    return st;
}
