/* Render stage: the charts of an experiment (cairo + pango), a bar chart of
 * the fold changes per condition and a dose-response plot per target.
 *
 * Like render.c it draws from results only: the summary's conditions and
 * fits (bq_exp_summarize) and the blots' fold changes for the replicate
 * dots. Text goes through pango so that µ, ±, ² and Greek letters render. */
#include "blotquant/chart.h"
#include "render_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "chart_internal.h"
#include "util.h"

/* ---- layout constants (px) --------------------------------------------- */

enum {
    PAD = 16,         /* around everything */
    TITLE_PX = 20,    /* title font */
    HEAD_ROOM = 26,   /* above the highest value: significance marks */
    CTRL_ZONE = 96,   /* dose chart: width of the control's zone */
    BREAK_GAP = 22,   /* dose chart: the axis break */
    MAX_LEGEND = 10,  /* dose chart: legend lines shown */
    CURVE_STEPS = 240 /* dose chart: segments of a Hill curve */
};
#define TEXT_PX 14.0 /* subtitles, axis titles */
#define TICK_PX 13.0 /* tick and condition labels */
#define NOTE_PX 12.5 /* footnotes, n */
#define TEXT_RGB 0x111111u
#define MUTED_RGB 0x555555u
#define AXIS_RGB 0x333333u
#define GRID_RGB 0xE6E6E6u
#define ERRBAR_RGB 0x222222u
#define DOSE_CONTROL_RGB 0x6E6E6Eu /* control point of the dose chart */

/* Okabe-Ito, strongest first (yellow late: thin lines of it are faint). */
static const unsigned okabe_ito[] = {0x0072B2u, 0xE69F00u, 0x009E73u,
                                     0xCC79A7u, 0x56B4E9u, 0xD55E00u,
                                     0xF0E442u, 0x000000u};
#define NPALETTE (sizeof okabe_ito / sizeof *okabe_ito)

/* ---- drawing context and text ------------------------------------------- */

struct cctx {
    cairo_t *cr;
    PangoLayout *layout; /* reused for every text */
    PangoFontDescription *font;
    double x, y, w, h; /* the box drawn into */
};

static void
set_rgb(cairo_t *cr, unsigned rgb, double alpha)
{
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0,
                          ((rgb >> 8) & 255) / 255.0, (rgb & 255) / 255.0,
                          alpha);
}

/* Copies S into BUF of N bytes as valid UTF-8: bytes that are not part of
 * a UTF-8 sequence are taken as Latin-1 (a manifest saved by an old Windows
 * editor writes µ as the byte 0xB5). Cuts at a character boundary. */
static const char *
utf8_fix(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    const char *p = s;

    if (g_utf8_validate(s, -1, NULL))
        return s;
    while (*p && o + 5 < n) {
        gunichar ch = g_utf8_get_char_validated(p, -1);
        if (ch != (gunichar)-1 && ch != (gunichar)-2) {
            const char *q = g_utf8_next_char(p);
            memcpy(buf + o, p, (size_t)(q - p));
            o += (size_t)(q - p);
            p = q;
        } else {
            unsigned char b = (unsigned char)*p++;
            o += (size_t)g_unichar_to_utf8(b, buf + o);
        }
    }
    buf[o] = '\0';
    return buf;
}

/* Sets the text of the shared layout: S at SIZE px, bold or not, cut with
 * an ellipsis at MAXW px (no limit if MAXW <= 0). Stores its logical size
 * in *W and *H. */
static void
text_set(struct cctx *c, const char *s, double size, int bold, double maxw,
         double *w, double *h)
{
    PangoRectangle logical;
    char buf[1024];

    pango_font_description_set_weight(c->font, bold ? PANGO_WEIGHT_BOLD
                                                    : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_absolute_size(c->font, size * PANGO_SCALE);
    pango_layout_set_font_description(c->layout, c->font);
    if (maxw > 0) {
        pango_layout_set_width(c->layout, (int)(maxw * PANGO_SCALE));
        pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_END);
    } else {
        pango_layout_set_width(c->layout, -1);
        pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_NONE);
    }
    pango_layout_set_text(c->layout, utf8_fix(s, buf, sizeof buf), -1);
    pango_layout_get_pixel_extents(c->layout, NULL, &logical);
    *w = logical.width;
    *h = logical.height;
}

/* Draws the text last set with its top-left at (X, Y) in RGB. */
static void
text_draw(struct cctx *c, double x, double y, unsigned rgb)
{
    set_rgb(c->cr, rgb, 1);
    cairo_move_to(c->cr, x, y);
    pango_cairo_show_layout(c->cr, c->layout);
}

/* Draws S with its top-left at (X, Y), or centred on X (ALIGN 0.5), or
 * right-aligned at X (ALIGN 1); returns its width. */
static double
text_at(struct cctx *c, const char *s, double x, double y, double size,
        int bold, double maxw, double align, unsigned rgb)
{
    double w, h;

    text_set(c, s, size, bold, maxw, &w, &h);
    text_draw(c, x - align * w, y, rgb);
    return w;
}

/* Draws the text last set turned by ANGLE (radians, cairo's sense) about
 * (X, Y), its top-left at (DX, DY) in the turned frame. */
static void
text_turned(struct cctx *c, double x, double y, double angle, double dx,
            double dy, unsigned rgb)
{
    cairo_save(c->cr);
    cairo_translate(c->cr, x, y);
    cairo_rotate(c->cr, angle);
    pango_cairo_update_layout(c->cr, c->layout);
    set_rgb(c->cr, rgb, 1);
    cairo_move_to(c->cr, dx, dy);
    pango_cairo_show_layout(c->cr, c->layout);
    cairo_restore(c->cr);
    pango_cairo_update_layout(c->cr, c->layout);
}

/* ---- numbers ------------------------------------------------------------ */

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about NT ticks
 * over RANGE (> 0). */
static double
nice_step(double range, double nt)
{
    double raw = range / nt, mag = pow(10, floor(log10(raw))), f = raw / mag;

    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* Tick label of V on an axis of step STEP. */
static void
fmt_tick(double v, double step, char *buf, size_t n)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);

    if (fabs(v) < step * 1e-6)
        v = 0;
    if (fabs(v) >= 1e6 || step < 1e-4)
        snprintf(buf, n, "%.3g", v);
    else
        snprintf(buf, n, "%.*f", dec, v);
}

/* The power of 1000 to show a dose of V in UNIT with: for "nM" the SI
 * prefix that puts V's number in [1, 1000) (pM ... mM), else none. Stores
 * the divisor in *DIV and the unit to print in U (16 bytes). */
static void
dose_scale(double v, const char *unit, double *div, char *u)
{
    static const struct {
        double div;
        const char *name;
    } si[] = {{1e-6, "fM"},     {1e-3, "pM"}, {1, "nM"},
              {1e3, "\u00b5M"}, {1e6, "mM"},  {1e9, "M"}};
    size_t k = 2;

    *div = 1;
    snprintf(u, 16, "%s", unit);
    if (strcmp(unit, "nM") != 0 || !(v > 0) || !isfinite(v))
        return;
    while (k > 0 && v < si[k].div * (1 - 1e-9))
        k--;
    while (k + 1 < sizeof si / sizeof *si && v >= si[k + 1].div * (1 - 1e-9))
        k++;
    *div = si[k].div;
    snprintf(u, 16, "%s", si[k].name);
}

/* V with 3 significant digits ("%.3g") into BUF; returns BUF. */
static const char *
buf_3g(double v, char *buf, size_t n)
{
    snprintf(buf, n, "%.3g", v);
    return buf;
}

/* 3 significant digits, without an exponent from 0.001 to a million
 * ("0.0668", "14.3", "16800"). */
static void
fmt_num(double v, char *buf, size_t n)
{
    if (!isfinite(v))
        snprintf(buf, n, "n/a");
    else if (fabs(v) >= 1000 && fabs(v) < 1e6)
        snprintf(buf, n, "%.0f", strtod(buf_3g(v, buf, n), NULL));
    else
        snprintf(buf, n, "%.3g", v);
}

/* ---- the target's data -------------------------------------------------- */

/* One condition (a bar) of the target. */
struct cview {
    const struct bq_condition *c;
    char label[96]; /* as in the manifest (valid UTF-8 not guaranteed) */
    char key[96];   /* colour group: agent, or the label without one */
    double dose;    /* > 0 for a dosed condition, else 0 */
    unsigned rgb;   /* fill */
    int control;    /* 1 for the control lane */
};

/* Everything both charts need of one target and band part. */
struct tdata {
    const struct bq_manifest *m;
    size_t blot0, control;
    enum bq_part part;
    struct cview *cv; /* owned, conditions in lane order */
    size_t nc;        /* drawn (at most BQ_CHART_MAX_BARS) */
    size_t nc_all;    /* of the target in S */
    size_t *blots;    /* owned: the target's blots (replicate order) */
    size_t nb;
    double *dots; /* owned: nc x nb fold changes, NaN if missing */
    char keys[NPALETTE * 4][96]; /* colour groups, first appearance */
    unsigned keyrgb[NPALETTE * 4];
    size_t nkeys;    /* at most NPALETTE * 4 (more share colours) */
    char ratio[160]; /* "pSTAT3 / STAT3" */
    char control_label[96];
    char target[64]; /* "STAT3", "ERK1/2 (sum of the doublet)" */
};

static void
tdata_fini(struct tdata *d)
{
    free(d->cv);
    free(d->blots);
    free(d->dots);
}

/* Colour of the group KEY: its place among the first appearances. */
static unsigned
key_rgb(struct tdata *d, const char *key)
{
    size_t k;

    for (k = 0; k < d->nkeys; k++)
        if (strcmp(d->keys[k], key) == 0)
            return d->keyrgb[k];
    if (d->nkeys < sizeof d->keys / sizeof *d->keys) {
        snprintf(d->keys[d->nkeys], sizeof d->keys[0], "%s", key);
        d->keyrgb[d->nkeys] = okabe_ito[d->nkeys % NPALETTE];
        return d->keyrgb[d->nkeys++];
    }
    return okabe_ito[k % NPALETTE];
}

/* 1 if the arguments can be drawn from; else fills ERR. */
static enum bq_status
check_args(const struct bq_manifest *m, const struct bq_blot_result *res,
           const struct bq_exp_summary *s, size_t blot0, enum bq_part part,
           struct bq_error *err)
{
    if (!m || !res || !s)
        return bq_error_set(err, BQ_ERR_INVALID,
                            "chart: no manifest, results or summary");
    if (blot0 >= m->nblots)
        return bq_error_set(err, BQ_ERR_INVALID, "chart: blot %zu of %zu",
                            blot0 + 1, m->nblots);
    if ((s->nconds && !s->conds) || (s->nfits && !s->fits))
        return bq_error_set(err, BQ_ERR_INVALID,
                            "chart: the summary is incomplete");
    if (part > BQ_PART_LOWER)
        return bq_error_set(err, BQ_ERR_INVALID, "chart: no band part %d",
                            (int)part);
    return BQ_OK;
}

/* Gathers the conditions of BLOT0's target and PART from S and each
 * replicate's fold change from RES into D (caller: tdata_fini, also on
 * error). Returns BQ_OK or BQ_ERR_NOMEM. */
static enum bq_status
tdata_init(struct tdata *d, const struct bq_manifest *m,
           const struct bq_blot_result *res, const struct bq_exp_summary *s,
           size_t blot0, enum bq_part part, struct bq_error *err)
{
    char buf[32];

    memset(d, 0, sizeof *d);
    d->m = m;
    d->blot0 = blot0;
    d->part = part;
    d->control = bq_chart_control(m);
    for (size_t i = 0; i < s->nconds; i++)
        if (s->conds[i].part == part && s->conds[i].blot0 < m->nblots &&
            bq_chart_same_target(m, s->conds[i].blot0, blot0))
            d->nc_all++;
    d->nc = bq_min_size(d->nc_all, BQ_CHART_MAX_BARS);
    d->cv = bq_calloc_array(d->nc ? d->nc : 1, sizeof *d->cv);
    d->blots = bq_alloc_array(m->nblots, sizeof *d->blots);
    if (!d->cv || !d->blots)
        return bq_error_set(err, BQ_ERR_NOMEM, "chart: out of memory");
    d->nb = bq_chart_target_blots(m, blot0, d->blots);
    d->dots =
        bq_alloc_array(d->nc * d->nb > 0 ? d->nc * d->nb : 1, sizeof *d->dots);
    if (!d->dots)
        return bq_error_set(err, BQ_ERR_NOMEM, "chart: out of memory");

    for (size_t i = 0, j = 0; i < s->nconds && j < d->nc; i++) {
        const struct bq_condition *c = &s->conds[i];
        struct cview *v = &d->cv[j];
        const struct bq_mlane *ml =
            c->lane < m->nlanes ? &m->lanes[c->lane] : NULL;
        if (c->part != part || c->blot0 >= m->nblots ||
            !bq_chart_same_target(m, c->blot0, blot0))
            continue;
        v->c = c;
        snprintf(v->label, sizeof v->label, "%s",
                 bq_chart_lane_label(m, c->lane, buf, sizeof buf));
        snprintf(v->key, sizeof v->key, "%s",
                 ml && ml->agent[0] ? ml->agent : v->label);
        v->dose = ml && ml->agent[0] && ml->dose > 0 ? ml->dose : 0;
        v->control = c->lane == d->control;
        for (size_t k = 0; k < d->nb; k++)
            d->dots[j * d->nb + k] =
                bq_chart_blot_fc(m, &res[d->blots[k]], c->lane, part);
        j++;
    }
    /* colours: the control grey, the other groups in order */
    for (size_t j = 0; j < d->nc; j++)
        d->cv[j].rgb =
            d->cv[j].control ? BQ_CHART_CONTROL_RGB : key_rgb(d, d->cv[j].key);

    bq_chart_ratio_name(m, blot0, " / ", d->ratio, sizeof d->ratio);
    snprintf(d->control_label, sizeof d->control_label, "%s",
             bq_chart_lane_label(m, d->control, buf, sizeof buf));
    snprintf(d->target, sizeof d->target, "%s%s", m->blots[blot0].target,
             part == BQ_PART_SUM     ? " (sum of the doublet)"
             : part == BQ_PART_UPPER ? " (upper band)"
             : part == BQ_PART_LOWER ? " (lower band)"
                                     : "");
    return BQ_OK;
}

/* ---- shared pieces ------------------------------------------------------ */

/* A value axis: range, step and the mapping y = a + b*v. */
struct yaxis {
    double lo, hi, step; /* ticks from lo to hi by step */
    double a, b;
};

/* Widens [*LO, *HI] to hold V (finite values only, clamped so that the
 * range stays finite). */
static void
range_add(double *lo, double *hi, double v)
{
    if (!isfinite(v))
        return;
    v = bq_clampd(v, -1e100, 1e100);
    *lo = fmin(*lo, v);
    *hi = fmax(*hi, v);
}

/* Ticks for the values in [LO, HI] (0 included) mapped onto the pixel rows
 * Y1 (bottom) .. Y0 (top). */
static void
yaxis_make(struct yaxis *ax, double lo, double hi, double y0, double y1)
{
    lo = fmin(lo, 0);
    hi = fmax(hi, 0);
    if (!(hi > lo))
        hi = lo + 1;
    ax->step = nice_step(hi - lo, 5);
    ax->lo = floor(lo / ax->step) * ax->step;
    ax->hi = ceil(hi / ax->step) * ax->step;
    if (!(ax->hi > ax->lo))
        ax->hi = ax->lo + ax->step;
    ax->b = -(y1 - y0) / (ax->hi - ax->lo);
    ax->a = y1 - ax->b * ax->lo;
}

/* Pixel row of V, kept within a sane distance of the box (cairo's fixed
 * point wraps far outside). */
static double
ymap(const struct yaxis *ax, const struct cctx *c, double v)
{
    return bq_clampd(ax->a + ax->b * v, c->y - 1e4, c->y + c->h + 1e4);
}

/* Width of the widest tick label of AX. */
static double
ytick_width(struct cctx *c, const struct yaxis *ax)
{
    double wmax = 0, tw, th;
    char s[48];

    for (int k = 0; k <= 50; k++) {
        double v = ax->lo + k * ax->step;
        if (v > ax->hi + ax->step * 1e-6)
            break;
        fmt_tick(v, ax->step, s, sizeof s);
        text_set(c, s, TICK_PX, 0, 0, &tw, &th);
        wmax = fmax(wmax, tw);
    }
    return wmax;
}

/* Gridlines, ticks and labels of AX along the plot's left edge X0..X1 and
 * the y axis title TITLE (turned, centred on the plot). */
static void
draw_yaxis(struct cctx *c, const struct yaxis *ax, double x0, double x1,
           double ytop, double ybot, const char *title)
{
    cairo_t *cr = c->cr;
    double tw, th;
    char s[48];

    cairo_set_line_width(cr, 1);
    for (int k = 0; k <= 50; k++) {
        double v = ax->lo + k * ax->step, y;
        if (v > ax->hi + ax->step * 1e-6)
            break;
        y = floor(ymap(ax, c, v)) + 0.5;
        set_rgb(cr, GRID_RGB, 1);
        cairo_move_to(cr, x0, y);
        cairo_line_to(cr, x1, y);
        cairo_stroke(cr);
        set_rgb(cr, AXIS_RGB, 1);
        cairo_move_to(cr, x0 - 5, y);
        cairo_line_to(cr, x0, y);
        cairo_stroke(cr);
        fmt_tick(v, ax->step, s, sizeof s);
        text_set(c, s, TICK_PX, 0, 0, &tw, &th);
        text_draw(c, x0 - 8 - tw, y - th / 2, TEXT_RGB);
    }
    set_rgb(cr, AXIS_RGB, 1);
    cairo_set_line_width(cr, 1.2);
    cairo_move_to(cr, floor(x0) + 0.5, ytop);
    cairo_line_to(cr, floor(x0) + 0.5, ybot);
    cairo_stroke(cr);
    text_set(c, title, TEXT_PX, 0, 0, &tw, &th);
    if (tw > ybot - ytop) /* a smaller font before an ellipsis */
        text_set(c, title, NOTE_PX - 0.5, 0, ybot - ytop, &tw, &th);
    text_turned(c, c->x + PAD - 2, (ytop + ybot) / 2, -BQ_PI / 2, -tw / 2, 0,
                TEXT_RGB);
}

/* A filled marker of SHAPE (0 circle, 1 square, 2 triangle, 3 inverted
 * triangle, 4 diamond) of radius R at (X, Y). */
static void
marker_path(cairo_t *cr, int shape, double x, double y, double r)
{
    cairo_new_path(cr);
    switch (shape % 5) {
    case 1:
        r *= 0.9;
        cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r);
        break;
    case 2:
        r *= 1.2;
        cairo_move_to(cr, x, y - r);
        cairo_line_to(cr, x + 0.87 * r, y + 0.5 * r);
        cairo_line_to(cr, x - 0.87 * r, y + 0.5 * r);
        cairo_close_path(cr);
        break;
    case 3:
        r *= 1.2;
        cairo_move_to(cr, x, y + r);
        cairo_line_to(cr, x + 0.87 * r, y - 0.5 * r);
        cairo_line_to(cr, x - 0.87 * r, y - 0.5 * r);
        cairo_close_path(cr);
        break;
    case 4:
        r *= 1.25;
        cairo_move_to(cr, x, y - r);
        cairo_line_to(cr, x + r, y);
        cairo_line_to(cr, x, y + r);
        cairo_line_to(cr, x - r, y);
        cairo_close_path(cr);
        break;
    default:
        cairo_arc(cr, x, y, r, 0, 2 * BQ_PI);
        break;
    }
}

/* A marker filled with RGB (ALPHA) and ringed in RING (width LW, none if
 * LW <= 0). */
static void
marker(cairo_t *cr, int shape, double x, double y, double r, unsigned rgb,
       double alpha, unsigned ring, double lw)
{
    marker_path(cr, shape, x, y, r);
    set_rgb(cr, rgb, alpha);
    if (lw > 0) {
        cairo_fill_preserve(cr);
        set_rgb(cr, ring, 1);
        cairo_set_line_width(cr, lw);
        cairo_stroke(cr);
    } else {
        cairo_fill(cr);
    }
}

/* A vertical error bar from Y0 to Y1 at X with caps of half-width CAP. */
static void
errbar(cairo_t *cr, double x, double y0, double y1, double cap, unsigned rgb,
       double lw)
{
    set_rgb(cr, rgb, 1);
    cairo_set_line_width(cr, lw);
    cairo_move_to(cr, x, y0);
    cairo_line_to(cr, x, y1);
    cairo_move_to(cr, x - cap, y0);
    cairo_line_to(cr, x + cap, y0);
    cairo_move_to(cr, x - cap, y1);
    cairo_line_to(cr, x + cap, y1);
    cairo_stroke(cr);
}

/* Title (experiment and target) and a subtitle line; returns the y below
 * them. */
static double
draw_titles(struct cctx *c, const struct tdata *d, const char *what,
            const char *sub)
{
    char t[512];
    double tw, th, y = c->y + 12;
    int ih;

    snprintf(t, sizeof t, "%s \u2014 %s", d->target, what);
    text_set(c, t, TITLE_PX, 1, c->w - 2 * PAD, &tw, &th);
    text_draw(c, c->x + PAD, y, TEXT_RGB);
    y += th + 2;
    if (d->m->name[0]) {
        text_set(c, d->m->name, TEXT_PX, 0, c->w - 2 * PAD, &tw, &th);
        text_draw(c, c->x + PAD, y, MUTED_RGB);
        y += th + 2;
    }
    /* the subtitle may wrap onto a second line in a narrow box */
    text_set(c, sub, TEXT_PX, 0, 0, &tw, &th);
    if (tw > c->w - 2 * PAD) {
        pango_layout_set_width(c->layout,
                               (int)((c->w - 2 * PAD) * PANGO_SCALE));
        pango_layout_set_wrap(c->layout, PANGO_WRAP_WORD);
        pango_layout_set_height(c->layout, -2); /* at most 2 lines */
        pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_END);
        pango_layout_get_pixel_size(c->layout, NULL, &ih);
        th = ih;
    }
    text_draw(c, c->x + PAD, y, TEXT_RGB);
    pango_layout_set_height(c->layout, -1);
    return y + th;
}

/* Paints the box white and clips to it; sets up text. Returns BQ_OK or
 * BQ_ERR_RENDER / BQ_ERR_INVALID. */
static enum bq_status
cctx_begin(struct cctx *c, cairo_t *cr, double x, double y, double w, double h,
           struct bq_error *err)
{
    memset(c, 0, sizeof *c);
    if (!cr || cairo_status(cr) != CAIRO_STATUS_SUCCESS)
        return bq_error_set(err, BQ_ERR_RENDER, "chart: %s",
                            cr ? cairo_status_to_string(cairo_status(cr))
                               : "no cairo context");
    if (!(w >= BQ_CHART_MIN_W && h >= BQ_CHART_MIN_H && w < 1e5 && h < 1e5) ||
        !isfinite(x) || !isfinite(y))
        return bq_error_set(err, BQ_ERR_INVALID,
                            "chart: a %.0fx%.0f box is too small (at least "
                            "%dx%d)",
                            w, h, BQ_CHART_MIN_W, BQ_CHART_MIN_H);
    c->cr = cr;
    c->x = x;
    c->y = y;
    c->w = w;
    c->h = h;
    cairo_save(cr);
    c->layout = pango_cairo_create_layout(cr);
    c->font = pango_font_description_from_string("Sans");
    if (!c->layout || !c->font)
        return bq_error_set(err, BQ_ERR_RENDER, "chart: cannot set up text");
    cairo_rectangle(cr, x, y, w, h);
    cairo_clip(cr);
    set_rgb(cr, BQ_CHART_BG_RGB, 1);
    cairo_paint(cr);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
    return BQ_OK;
}

/* Frees the text objects and restores CR. Returns ST, or BQ_ERR_RENDER if
 * cairo went into an error state. */
static enum bq_status
cctx_end(struct cctx *c, enum bq_status st, struct bq_error *err)
{
    if (c->font)
        pango_font_description_free(c->font);
    if (c->layout)
        g_object_unref(c->layout);
    if (c->cr) {
        cairo_restore(c->cr);
        if (st == BQ_OK && cairo_status(c->cr) != CAIRO_STATUS_SUCCESS)
            st = bq_error_set(err, BQ_ERR_RENDER, "chart: drawing failed (%s)",
                              cairo_status_to_string(cairo_status(c->cr)));
    }
    return st;
}

static void
geom_clear(struct bq_chart_geom *g, const struct cctx *c)
{
    memset(g, 0, sizeof *g);
    g->width = (int)lround(c->w);
    g->height = (int)lround(c->h);
    g->x_of_log10dose_a = g->x_of_log10dose_b = NAN;
    g->x_control = NAN;
    g->y_of_value_a = g->y_of_value_b = NAN;
}

/* A message in the middle of the plot when there is nothing to draw. */
static void
draw_empty(struct cctx *c, double x0, double y0, double x1, double y1,
           const char *msg)
{
    double tw, th;

    cairo_rectangle(c->cr, x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
    set_rgb(c->cr, GRID_RGB, 1);
    cairo_set_line_width(c->cr, 1);
    cairo_stroke(c->cr);
    text_set(c, msg, TEXT_PX, 0, x1 - x0 - 20, &tw, &th);
    text_draw(c, (x0 + x1 - tw) / 2, (y0 + y1 - th) / 2, MUTED_RGB);
}

/* ---- the bar chart ------------------------------------------------------ */

/* Error half-width of condition C under EB (NaN if none). */
static double
err_half(const struct bq_condition *c, enum bq_chart_errbar eb)
{
    if (c->fc.n < 2)
        return NAN;
    switch (eb) {
    case BQ_CHART_ERR_SEM:
        return c->fc.sem;
    case BQ_CHART_ERR_CI95:
        return c->fc.ci_high - c->fc.mean;
    default:
        return c->fc.sd;
    }
}

static const char *
err_name(enum bq_chart_errbar eb)
{
    return eb == BQ_CHART_ERR_SEM    ? "mean \u00b1 SEM"
           : eb == BQ_CHART_ERR_CI95 ? "mean and 95 % CI"
                                     : "mean \u00b1 SD";
}

/* "*", "**", "***", "ns" from the Holm-adjusted P; "" if untested. */
static const char *
stars(double p)
{
    if (!isfinite(p))
        return "";
    return p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : "ns";
}

int
bq_chart_bars_width(const struct bq_manifest *m, const struct bq_exp_summary *s,
                    size_t blot0, enum bq_part part)
{
    size_t n = 0;

    if (!m || !s || blot0 >= m->nblots || (s->nconds && !s->conds))
        return BQ_CHART_W;
    for (size_t i = 0; i < s->nconds; i++)
        n += s->conds[i].part == part && s->conds[i].blot0 < m->nblots &&
             bq_chart_same_target(m, s->conds[i].blot0, blot0);
    n = bq_min_size(n, BQ_CHART_MAX_BARS);
    return n > BQ_CHART_BARS_WIDE ? 120 + BQ_CHART_BAR_SLOT * (int)n
                                  : BQ_CHART_W;
}

/* The legend of the bar chart from X at Y: one swatch per colour group
 * (control first), a dot and the error bar; wraps within the box. Returns
 * the y below it. Draws only if DRAW. */
static double
bars_legend(struct cctx *c, const struct tdata *d, double y, const char *ename,
            int draw)
{
    double x = c->x + PAD, xmax = c->x + c->w - PAD, tw, th, rowh = 20;
    char s[256];
    size_t nitems = d->nkeys + 3;

    for (size_t k = 0; k < nitems; k++) {
        unsigned rgb;
        int kind = 0; /* 0 swatch, 1 dot, 2 error bar */
        if (k == 0) {
            snprintf(s, sizeof s, "%s (control)", d->control_label);
            rgb = BQ_CHART_CONTROL_RGB;
        } else if (k <= d->nkeys) {
            snprintf(s, sizeof s, "%s", d->keys[k - 1]);
            rgb = d->keyrgb[k - 1];
        } else if (k == d->nkeys + 1) {
            snprintf(s, sizeof s, "single blot");
            rgb = BQ_CHART_DOT_RGB;
            kind = 1;
        } else {
            snprintf(s, sizeof s, "%s", ename);
            rgb = ERRBAR_RGB;
            kind = 2;
        }
        text_set(c, s, TICK_PX, 0, 260, &tw, &th);
        if (x + 20 + tw > xmax && x > c->x + PAD) {
            x = c->x + PAD;
            y += rowh;
        }
        if (draw) {
            if (kind == 0) {
                set_rgb(c->cr, rgb, 1);
                cairo_rectangle(c->cr, x, y + 3, 14, 14);
                cairo_fill(c->cr);
            } else if (kind == 1) {
                marker(c->cr, 0, x + 7, y + 10, 4.5, rgb, 1, 0xFFFFFFu, 1);
            } else {
                errbar(c->cr, x + 7, y + 2, y + 18, 4, rgb, 1.4);
            }
            text_draw(c, x + 20, y + 10 - th / 2, TEXT_RGB);
        }
        x += 20 + tw + 18;
    }
    return y + rowh;
}

/* Draws the bar chart of D into C. */
static void
draw_bars(struct cctx *c, const struct tdata *d, enum bq_chart_errbar eb,
          struct bq_chart_geom *g)
{
    cairo_t *cr = c->cr;
    double px0, px1, py0, py1, slot, bw, tw, th, ytop, lab_h, lab_max;
    double label_w[BQ_CHART_MAX_BARS], maxlab = 0, left_need = 0;
    double lo = 0, hi = 0, foot_y;
    size_t nmin = (size_t)-1, nmax = 0, untested = 0;
    int rotate, n_row;
    struct yaxis ax;
    char sub[512], s[512], ytitle[512];
    static const double dash[] = {5, 4};
    const double sin45 = 0.70710678;

    /* Phase 1: what the text says. */
    for (size_t j = 0; j < d->nc; j++) {
        const struct bq_condition *cd = d->cv[j].c;
        nmin = bq_min_size(nmin, cd->fc.n);
        nmax = cd->fc.n > nmax ? cd->fc.n : nmax;
        if (!d->cv[j].control && cd->fc.n > 0 && !isfinite(cd->p_holm))
            untested++;
    }
    n_row = d->nc && nmin != nmax;
    if (d->nc == 0)
        snprintf(sub, sizeof sub,
                 "Fold change of %s over %s: no successful blot of this "
                 "target",
                 d->ratio, d->control_label);
    else if (nmax <= 1)
        snprintf(sub, sizeof sub,
                 "Fold change of %s over %s per condition \u00b7 n = 1 "
                 "blot: bars are single values, no error bars",
                 d->ratio, d->control_label);
    else if (!n_row)
        snprintf(sub, sizeof sub,
                 "Fold change of %s over %s per condition \u00b7 %s of n = "
                 "%zu replicate blots \u00b7 dots: single blots",
                 d->ratio, d->control_label, err_name(eb), nmax);
    else
        snprintf(sub, sizeof sub,
                 "Fold change of %s over %s per condition \u00b7 %s of the "
                 "replicate blots (n below each bar) \u00b7 dots: single "
                 "blots",
                 d->ratio, d->control_label, err_name(eb));
    ytop = draw_titles(c, d, "fold change per condition", sub);
    if (d->nc == 0) {
        g->plot_x0 = c->x + PAD;
        g->plot_y0 = ytop + 14;
        g->plot_x1 = c->x + c->w - PAD;
        g->plot_y1 = c->y + c->h - PAD;
        draw_empty(c, g->plot_x0, g->plot_y0, g->plot_x1, g->plot_y1,
                   "Nothing to plot: no successful blot of this target (see "
                   "blots.csv).");
        return;
    }
    ytop = bars_legend(c, d, ytop + 8, err_name(eb), 1);

    /* Phase 2: the value range and the layout. */
    for (size_t j = 0; j < d->nc; j++) {
        const struct bq_condition *cd = d->cv[j].c;
        double e = err_half(cd, eb);
        range_add(&lo, &hi, cd->fc.mean);
        if (isfinite(e)) {
            range_add(&lo, &hi, cd->fc.mean - e);
            range_add(&lo, &hi, cd->fc.mean + e);
        }
        for (size_t k = 0; k < d->nb; k++)
            range_add(&lo, &hi, d->dots[j * d->nb + k]);
    }
    py0 = ytop + 10;
    /* footnote: 2 lines (3 with a note of conditions left out) */
    foot_y = c->y + c->h - PAD - 2 * 18 - (d->nc < d->nc_all ? 18 : 0);
    /* y ticks need the axis; their width depends only on the range */
    yaxis_make(&ax, lo, hi, 0, 1);
    px0 = c->x + PAD + 22 + ytick_width(c, &ax) + 12;
    px1 = c->x + c->w - PAD;

    /* condition labels: horizontal if they fit, else turned 45 degrees and
     * cut to what the label band allows */
    for (size_t j = 0; j < d->nc; j++) {
        text_set(c, d->cv[j].label, TICK_PX, 0, 0, &label_w[j], &th);
        maxlab = fmax(maxlab, label_w[j]);
    }
    text_set(c, "Xg", TICK_PX, 0, 0, &tw, &th);
    slot = d->nc ? (px1 - px0) / (double)d->nc : px1 - px0;
    rotate = maxlab > slot - 6;
    lab_max = (0.24 * c->h - th * sin45 - 8) / sin45; /* longest label */
    if (rotate) {
        /* the first labels reach left of their bar: make room */
        for (int it = 0; it < 2; it++) {
            left_need = 0;
            for (size_t j = 0; j < d->nc; j++) {
                double reach = fmin(label_w[j], lab_max) * sin45 + 8 -
                               ((double)j + 0.5) * slot;
                left_need = fmax(left_need, reach - (px0 - c->x));
            }
            if (left_need > 0) {
                px0 += left_need;
                slot = (px1 - px0) / (double)d->nc;
            }
        }
        lab_h = fmin(maxlab, lab_max) * sin45 + th * sin45 + 8;
    } else {
        lab_h = th + 8;
    }
    py1 = foot_y - 8 - lab_h - (n_row ? 18 : 0) - 6;
    yaxis_make(&ax, lo, hi, py0 + HEAD_ROOM, py1);
    bw = fmin(slot * 0.72, 90);

    g->plot_x0 = px0;
    g->plot_y0 = py0;
    g->plot_x1 = px1;
    g->plot_y1 = py1;
    g->y_of_value_a = ax.a;
    g->y_of_value_b = ax.b;
    g->bar_w = bw;

    /* Phase 3: axes, bars, error bars, dots, marks. */
    snprintf(ytitle, sizeof ytitle, "%s, fold change vs %s", d->ratio,
             d->control_label);
    draw_yaxis(c, &ax, px0, px1, py0, py1, ytitle);
    /* the control level 1, behind the bars */
    if (ax.lo < 1 && ax.hi > 1 && d->nc) {
        double y1 = floor(ymap(&ax, c, 1)) + 0.5;
        set_rgb(cr, 0x777777u, 1);
        cairo_set_line_width(cr, 1);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, px0, y1);
        cairo_line_to(cr, px1, y1);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    /* the bars, then the baseline over their feet */
    for (size_t j = 0; j < d->nc; j++) {
        const struct bq_condition *cd = d->cv[j].c;
        double cx = px0 + ((double)j + 0.5) * slot;
        double xl = round(cx - bw / 2), xr = round(cx + bw / 2);
        double y0 = round(ymap(&ax, c, 0)),
               yt = round(ymap(&ax, c, cd->fc.mean));

        g->nbars = j + 1;
        g->bar_x[j] = (xl + xr) / 2;
        g->bar_top[j] = NAN;
        if (!isfinite(cd->fc.mean))
            continue;
        set_rgb(cr, d->cv[j].rgb, 1);
        cairo_rectangle(cr, xl, fmin(yt, y0), xr - xl, fabs(y0 - yt));
        cairo_fill(cr);
        g->bar_top[j] = yt;
    }
    {
        double y0 = floor(ymap(&ax, c, 0)) + 0.5;
        set_rgb(cr, AXIS_RGB, 1);
        cairo_set_line_width(cr, 1.2);
        cairo_move_to(cr, px0, y0);
        cairo_line_to(cr, px1, y0);
        cairo_stroke(cr);
    }
    /* error bars, replicate dots, marks, n and labels */
    for (size_t j = 0; j < d->nc; j++) {
        const struct cview *v = &d->cv[j];
        const struct bq_condition *cd = v->c;
        double y0 = ymap(&ax, c, 0), e = err_half(cd, eb);
        double ytopmost = ymap(&ax, c, cd->fc.mean), r;
        const char *mark = v->control ? "" : stars(cd->p_holm);

        if (isfinite(cd->fc.mean) && isfinite(e) && e > 0) {
            double ya = ymap(&ax, c, cd->fc.mean + e);
            double yb = ymap(&ax, c, cd->fc.mean - e);
            errbar(cr, g->bar_x[j], ya, yb, fmin(bw * 0.18, 9), ERRBAR_RGB,
                   1.4);
            ytopmost = fmin(ytopmost, fmin(ya, yb));
        }
        r = bq_clampd(bw * 0.1, 2.5, 4.5);
        for (size_t k = 0; k < d->nb; k++) {
            double fc = d->dots[j * d->nb + k], yd;
            if (!isfinite(fc))
                continue;
            yd = ymap(&ax, c, fc);
            marker(cr, 0, g->bar_x[j] + bq_chart_jitter(k, d->nb) * bw, yd, r,
                   BQ_CHART_DOT_RGB, 1, 0xFFFFFFu, 1);
            ytopmost = fmin(ytopmost, yd - r);
        }
        /* significance mark above the highest thing drawn */
        if (*mark && isfinite(ytopmost)) {
            int ns = strcmp(mark, "ns") == 0;
            text_set(c, mark, ns ? NOTE_PX : 15, !ns, 0, &tw, &th);
            text_draw(c, g->bar_x[j] - tw / 2, fmax(ytopmost - th - 1, py0),
                      ns ? MUTED_RGB : TEXT_RGB);
        }
        /* n, and the label */
        if (n_row || cd->fc.n == 0) {
            snprintf(s, sizeof s, cd->fc.n == 0 ? "no data" : "n = %zu",
                     cd->fc.n);
            text_set(c, s, NOTE_PX - 1, 0, slot - 2, &tw, &th);
            text_draw(c, g->bar_x[j] - tw / 2,
                      cd->fc.n == 0 ? y0 - th - 4 : py1 + 6, MUTED_RGB);
        }
        if (rotate) {
            text_set(c, v->label, TICK_PX, 0, lab_max, &tw, &th);
            text_turned(c, g->bar_x[j] + th * 0.3, py1 + 8 + (n_row ? 18 : 0),
                        -BQ_PI / 4, -tw, -th / 2, TEXT_RGB);
        } else {
            text_set(c, v->label, TICK_PX, 0, slot - 2, &tw, &th);
            text_draw(c, g->bar_x[j] - tw / 2, py1 + 6 + (n_row ? 18 : 0),
                      TEXT_RGB);
        }
    }

    /* Phase 4: the footnote. */
    snprintf(s, sizeof s,
             "Bars: %s over replicate blots (%s); dots: each blot's fold "
             "change over its own %s lane; dashed: fold change 1.",
             err_name(eb),
             eb == BQ_CHART_ERR_SEM    ? "SEM = SD / \u221an"
             : eb == BQ_CHART_ERR_CI95 ? "t interval"
                                       : "sample SD",
             d->control_label);
    text_at(c, s, c->x + PAD, foot_y, NOTE_PX, 0, c->w - 2 * PAD, 0, MUTED_RGB);
    snprintf(s, sizeof s,
             "Significance vs %s: one-sample t test of log2 fold change vs "
             "control, "
             "Holm-adjusted: * p < 0.05, ** p < 0.01, *** p < 0.001, ns p "
             "\u2265 0.05%s",
             d->control_label, untested ? "; no mark: not tested (n < 2)" : "");
    text_at(c, s, c->x + PAD, foot_y + 18, NOTE_PX, 0, c->w - 2 * PAD, 0,
            MUTED_RGB);
    if (d->nc < d->nc_all) {
        snprintf(s, sizeof s,
                 "Only the first %zu of %zu conditions are drawn: see "
                 "summary.csv.",
                 d->nc, d->nc_all);
        text_at(c, s, c->x + PAD, foot_y + 36, NOTE_PX, 1, c->w - 2 * PAD, 0,
                TEXT_RGB);
    }
}

enum bq_status
bq_render_bars_to(cairo_t *cr, double x, double y, double w, double h,
                  const struct bq_manifest *m, const struct bq_blot_result *res,
                  const struct bq_exp_summary *s, size_t blot0,
                  enum bq_part part, enum bq_chart_errbar eb,
                  struct bq_chart_geom *geom, struct bq_error *err)
{
    struct tdata d;
    struct cctx c;
    struct bq_chart_geom g;
    enum bq_status st;

    memset(&d, 0, sizeof d);
    memset(&c, 0, sizeof c);
    st = check_args(m, res, s, blot0, part, err);
    if (st == BQ_OK)
        st = tdata_init(&d, m, res, s, blot0, part, err);
    if (st == BQ_OK)
        st = cctx_begin(&c, cr, x, y, w, h, err);
    if (st == BQ_OK) {
        geom_clear(&g, &c);
        draw_bars(&c, &d, eb, &g);
    }
    st = cctx_end(&c, st, err);
    if (st == BQ_OK && geom)
        *geom = g;
    tdata_fini(&d);
    return st;
}

/* ---- the dose-response chart -------------------------------------------- */

/* One agent of the dose chart. */
struct aview {
    const struct bq_dose_fit *f;
    const char *name; /* agent, from the manifest */
    unsigned rgb;
    int shape;         /* marker: 0 circle, 1 square, 2, 3 triangles */
    int plotted;       /* 1 if on the axis */
    double dmin, dmax; /* tested doses, > 0 */
    char legend[768];
};

/* Formats dose V in UNIT ("14.3 nM", "1.2 \u00b5M", "50 ng/mL"). */
static void
fmt_dose(double v, const char *unit, char *buf, size_t n)
{
    double div;
    char u[16], num[32];

    dose_scale(v, unit, &div, u);
    fmt_num(v / div, num, sizeof num);
    snprintf(buf, n, "%s %s", num, u);
}

/* The legend line of agent A (fit, CI, Hill, R^2 or why there is none). */
static void
agent_legend(struct aview *a, const char *unit)
{
    const struct bq_hill_fit *h = &a->f->fit;
    char ec[48], lo[48], hi[48], u[16], hill[32], r2[32];
    double div;

    if (!a->f->fitted) {
        if (strstr(a->f->note, "no fit"))
            snprintf(a->legend, sizeof a->legend, "%s: %s", a->name,
                     a->f->note);
        else
            snprintf(a->legend, sizeof a->legend, "%s: no fit (%s)", a->name,
                     a->f->note[0] ? a->f->note : "not fitted");
        return;
    }
    fmt_dose(h->ec50, unit, ec, sizeof ec);
    dose_scale(h->ec50, unit, &div, u);
    {
        /* the CI in the EC50's unit, or each bound in its own (SI prefix)
         * when they span prefixes */
        double dl, dh;
        char ul[16], uh[16];
        dose_scale(h->ec50_ci_low, unit, &dl, ul);
        dose_scale(h->ec50_ci_high, unit, &dh, uh);
        if (dl == div && dh == div) {
            fmt_num(h->ec50_ci_low / div, lo, sizeof lo);
            fmt_num(h->ec50_ci_high / div, hi, sizeof hi);
        } else {
            fmt_dose(h->ec50_ci_low, unit, lo, sizeof lo);
            fmt_dose(h->ec50_ci_high, unit, hi, sizeof hi);
        }
    }
    snprintf(hill, sizeof hill, "%.2f", h->hill);
    if (isfinite(h->r2))
        snprintf(r2, sizeof r2, "%.2f", h->r2);
    else
        snprintf(r2, sizeof r2, "n/a");
    if (isfinite(h->ec50_ci_low) && isfinite(h->ec50_ci_high))
        snprintf(a->legend, sizeof a->legend,
                 "%s: EC50 %s (95 %% CI %s\u2013%s), Hill %s, R\u00b2 %s%s%s",
                 a->name, ec, lo, hi, hill, r2, a->f->note[0] ? " \u00b7 " : "",
                 a->f->note);
    else
        snprintf(a->legend, sizeof a->legend,
                 "%s: EC50 %s (95 %% CI n/a), Hill %s, R\u00b2 %s%s%s", a->name,
                 ec, hill, r2, a->f->note[0] ? " \u00b7 " : "", a->f->note);
}

/* Draws the dose-response chart of D (fits from S) into C. */
static void
draw_dose(struct cctx *c, const struct tdata *d, const struct bq_exp_summary *s,
          struct bq_chart_geom *g)
{
    const struct bq_manifest *m = d->m;
    cairo_t *cr = c->cr;
    struct aview *av = NULL;
    size_t na = 0, nplot = 0, ci = (size_t)-1;
    const char *unit = NULL;
    int unit_fitted = 0;
    double lo = 0, hi = 0, lx0, lx1, dlo = INFINITY, dhi = -INFINITY, xa, xb;
    double px0, px1, py0, py1, ytop, tw, th, leg_y, xc;
    struct yaxis ax;
    char sub[512], s1[512], ytitle[512];
    static const double dash[] = {5, 4};

    /* Phase 1: the agents, their unit, the dose range. */
    for (size_t i = 0; i < s->nfits; i++)
        na += s->fits[i].part == d->part && s->fits[i].blot0 < m->nblots &&
              s->fits[i].lane < m->nlanes &&
              bq_chart_same_target(m, s->fits[i].blot0, d->blot0);
    av = bq_calloc_array(na ? na : 1, sizeof *av);
    if (!av) {
        draw_empty(c, c->x + PAD, c->y + PAD, c->x + c->w - PAD,
                   c->y + c->h - PAD, "out of memory");
        return;
    }
    /* the axis unit: that of the first fitted agent, else the first's */
    for (size_t i = 0; i < s->nfits; i++) {
        const struct bq_dose_fit *f = &s->fits[i];
        if (f->part == d->part && f->blot0 < m->nblots && f->lane < m->nlanes &&
            bq_chart_same_target(m, f->blot0, d->blot0) &&
            (!unit || (f->fitted && !unit_fitted))) {
            unit = m->lanes[f->lane].unit;
            unit_fitted = f->fitted;
        }
    }
    na = 0;
    for (size_t i = 0; i < s->nfits; i++) {
        const struct bq_dose_fit *f = &s->fits[i];
        struct aview *a;
        int mixed = 0;
        if (f->part != d->part || f->blot0 >= m->nblots ||
            f->lane >= m->nlanes ||
            !bq_chart_same_target(m, f->blot0, d->blot0))
            continue;
        a = &av[na++];
        a->f = f;
        a->name = m->lanes[f->lane].agent;
        a->rgb = okabe_ito[0];
        for (size_t k = 0; k < d->nkeys; k++)
            if (strcmp(d->keys[k], a->name) == 0)
                a->rgb = d->keyrgb[k];
        a->dmin = INFINITY;
        a->dmax = -INFINITY;
        for (size_t j = 0; j < d->nc; j++)
            if (d->cv[j].dose > 0 && strcmp(d->cv[j].key, a->name) == 0) {
                const char *u = m->lanes[d->cv[j].c->lane].unit;
                mixed |= strcmp(u, m->lanes[f->lane].unit) != 0;
                a->dmin = fmin(a->dmin, d->cv[j].dose);
                a->dmax = fmax(a->dmax, d->cv[j].dose);
            }
        if (mixed) {
            snprintf(a->legend, sizeof a->legend,
                     "%s: not plotted (its doses are in different units)",
                     a->name);
            continue;
        }
        if (!(a->dmax >= a->dmin)) {
            snprintf(a->legend, sizeof a->legend,
                     "%s: not plotted (no measured dose)", a->name);
            continue;
        }
        if (strcmp(unit, m->lanes[f->lane].unit) != 0) {
            snprintf(a->legend, sizeof a->legend,
                     "%s: not plotted (doses in %s; this axis is in %s)",
                     a->name, m->lanes[f->lane].unit, unit);
            continue;
        }
        a->plotted = 1;
        a->shape = (int)(nplot % 4);
        nplot++;
        agent_legend(a, unit);
        dlo = fmin(dlo, a->dmin);
        dhi = fmax(dhi, a->dmax);
    }
    for (size_t j = 0; j < d->nc; j++)
        if (d->cv[j].control)
            ci = j;

    /* Phase 2: layout. */
    snprintf(sub, sizeof sub,
             "%s, fold change over %s \u00b7 points: mean \u00b1 SD of the "
             "replicate blots, faint: single blots \u00b7 lines: "
             "4-parameter Hill fits \u00b7 \u25c6 and dashed: EC50",
             d->ratio, d->control_label);
    ytop = draw_titles(c, d, "dose response", sub);
    py0 = ytop + 14;
    {
        size_t nl = na < MAX_LEGEND ? na : MAX_LEGEND + 1;
        leg_y = c->y + c->h - PAD - (double)(nl ? nl : 1) * 21;
    }
    py1 = leg_y - 12 - 50; /* x tick labels and the axis title */
    for (size_t i = 0; i < na; i++) {
        if (!av[i].plotted)
            continue;
        for (size_t j = 0; j < d->nc; j++) {
            const struct bq_condition *cd = d->cv[j].c;
            if (d->cv[j].dose <= 0 || strcmp(d->cv[j].key, av[i].name) != 0)
                continue;
            range_add(&lo, &hi, cd->fc.mean);
            if (isfinite(cd->fc.sd)) {
                range_add(&lo, &hi, cd->fc.mean - cd->fc.sd);
                range_add(&lo, &hi, cd->fc.mean + cd->fc.sd);
            }
            for (size_t k = 0; k < d->nb; k++)
                range_add(&lo, &hi, d->dots[j * d->nb + k]);
        }
        if (av[i].f->fitted) {
            range_add(&lo, &hi, bq_hill_eval(&av[i].f->fit, av[i].dmin));
            range_add(&lo, &hi, bq_hill_eval(&av[i].f->fit, av[i].dmax));
        }
    }
    if (ci != (size_t)-1 && nplot) {
        const struct bq_condition *cd = d->cv[ci].c;
        range_add(&lo, &hi, cd->fc.mean);
        if (isfinite(cd->fc.sd)) {
            range_add(&lo, &hi, cd->fc.mean - cd->fc.sd);
            range_add(&lo, &hi, cd->fc.mean + cd->fc.sd);
        }
        for (size_t k = 0; k < d->nb; k++)
            range_add(&lo, &hi, d->dots[ci * d->nb + k]);
    }
    yaxis_make(&ax, lo, hi, 0, 1);
    px0 = c->x + PAD + 22 + ytick_width(c, &ax) + 12;
    px1 = c->x + c->w - PAD - 10;
    yaxis_make(&ax, lo, hi, py0 + 8, py1);
    g->plot_x0 = px0;
    g->plot_y0 = py0;
    g->plot_x1 = px1;
    g->plot_y1 = py1;
    g->y_of_value_a = ax.a;
    g->y_of_value_b = ax.b;

    if (!nplot) {
        if (d->nc == 0)
            snprintf(s1, sizeof s1,
                     "Nothing to plot: no successful blot of this target "
                     "(see blots.csv).");
        else
            snprintf(s1, sizeof s1,
                     "No agent of %s has two or more doses in one unit: no "
                     "dose response to plot.",
                     d->target);
        g->plot_x0 = px0 = c->x + PAD;
        g->y_of_value_a = g->y_of_value_b = NAN;
        draw_empty(c, px0, py0, px1, py1, s1);
        goto legend;
    }
    snprintf(ytitle, sizeof ytitle, "%s, fold change vs %s", d->ratio,
             d->control_label);
    draw_yaxis(c, &ax, px0, px1, py0, py1, ytitle);

    /* the x axis: the control's zone, a break, log10 dose */
    xc = px0 + CTRL_ZONE / 2.0;
    lx0 = px0 + CTRL_ZONE + BREAK_GAP + 14;
    lx1 = px1 - 4;
    {
        double a0 = log10(dlo) - 0.3, a1 = log10(dhi) + 0.3;
        if (a1 - a0 < 1.2) {
            double mid = (a0 + a1) / 2;
            a0 = mid - 0.6;
            a1 = mid + 0.6;
        }
        xb = (lx1 - lx0) / (a1 - a0);
        xa = lx0 - xb * a0;
        g->x_of_log10dose_a = xa;
        g->x_of_log10dose_b = xb;
        g->x_control = xc;
        set_rgb(cr, AXIS_RGB, 1);
        cairo_set_line_width(cr, 1.2);
        cairo_move_to(cr, px0, floor(py1) + 0.5);
        cairo_line_to(cr, px0 + CTRL_ZONE, floor(py1) + 0.5);
        cairo_move_to(cr, px0 + CTRL_ZONE + BREAK_GAP, floor(py1) + 0.5);
        cairo_line_to(cr, px1, floor(py1) + 0.5);
        /* the break: two slanted strokes */
        cairo_move_to(cr, px0 + CTRL_ZONE - 4, py1 + 7);
        cairo_line_to(cr, px0 + CTRL_ZONE + 4, py1 - 7);
        cairo_move_to(cr, px0 + CTRL_ZONE + BREAK_GAP - 4, py1 + 7);
        cairo_line_to(cr, px0 + CTRL_ZONE + BREAK_GAP + 4, py1 - 7);
        cairo_stroke(cr);
        /* decade ticks with labels, minor ticks between */
        for (int e = (int)floor(a0); e <= (int)ceil(a1); e++) {
            for (int k = 1; k <= 9; k++) {
                double ld = e + log10(k), x;
                if (ld < a0 || ld > a1)
                    continue;
                x = floor(xa + xb * ld) + 0.5;
                set_rgb(cr, AXIS_RGB, 1);
                cairo_set_line_width(cr, 1);
                cairo_move_to(cr, x, py1);
                cairo_line_to(cr, x, py1 + (k == 1 ? 6 : 3));
                cairo_stroke(cr);
                if (k == 1) {
                    char t[48];
                    if (strcmp(unit, "nM") == 0)
                        fmt_dose(pow(10, e), unit, t, sizeof t);
                    else
                        fmt_num(pow(10, e), t, sizeof t);
                    text_at(c, t, x, py1 + 8, TICK_PX, 0, 0, 0.5, TEXT_RGB);
                }
            }
        }
        /* the control's tick and name */
        set_rgb(cr, AXIS_RGB, 1);
        cairo_move_to(cr, floor(xc) + 0.5, py1);
        cairo_line_to(cr, floor(xc) + 0.5, py1 + 6);
        cairo_stroke(cr);
        text_at(c, d->control_label, xc, py1 + 8, TICK_PX, 0, CTRL_ZONE + 10,
                0.5, TEXT_RGB);
        if (strcmp(unit, "nM") == 0)
            snprintf(s1, sizeof s1, "dose (log scale)");
        else
            snprintf(s1, sizeof s1, "dose, %s (log scale)", unit);
        text_at(c, s1, (lx0 + lx1) / 2, py1 + 30, TEXT_PX, 0, 0, 0.5, TEXT_RGB);
    }

    /* Phase 3: per agent faint dots, curve, mean +- SD, EC50; then the
     * control. */
    for (size_t i = 0; i < na; i++) {
        struct aview *a = &av[i];
        if (!a->plotted)
            continue;
        /* faint replicate dots, spread a little by replicate */
        for (size_t j = 0; j < d->nc; j++) {
            double x;
            if (d->cv[j].dose <= 0 || strcmp(d->cv[j].key, a->name) != 0)
                continue;
            x = xa + xb * log10(d->cv[j].dose);
            for (size_t k = 0; k < d->nb; k++) {
                double fc = d->dots[j * d->nb + k];
                if (isfinite(fc))
                    marker(cr, 0, x + bq_chart_jitter(k, d->nb) * 16,
                           ymap(&ax, c, fc), 3.2, a->rgb, 0.4, 0, 0);
            }
        }
        /* the fitted curve over the tested doses */
        if (a->f->fitted) {
            double l0 = log10(a->dmin), l1 = log10(a->dmax);
            cairo_new_path(cr);
            for (int k = 0; k <= CURVE_STEPS; k++) {
                double ld = l0 + (l1 - l0) * k / CURVE_STEPS;
                double v = bq_hill_eval(&a->f->fit, pow(10, ld));
                if (isfinite(v))
                    cairo_line_to(cr, xa + xb * ld, ymap(&ax, c, v));
            }
            set_rgb(cr, a->rgb, 1);
            cairo_set_line_width(cr, 2.5);
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
            if (!a->f->fit.converged)
                cairo_set_dash(cr, dash, 2, 0);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
        /* mean +- SD */
        for (size_t j = 0; j < d->nc; j++) {
            const struct bq_condition *cd = d->cv[j].c;
            double x;
            if (d->cv[j].dose <= 0 || strcmp(d->cv[j].key, a->name) != 0 ||
                !isfinite(cd->fc.mean))
                continue;
            x = xa + xb * log10(d->cv[j].dose);
            if (isfinite(cd->fc.sd) && cd->fc.sd > 0)
                errbar(cr, x, ymap(&ax, c, cd->fc.mean - cd->fc.sd),
                       ymap(&ax, c, cd->fc.mean + cd->fc.sd), 5, a->rgb, 1.5);
            marker(cr, a->shape, x, ymap(&ax, c, cd->fc.mean), 5.5, a->rgb, 1,
                   0xFFFFFFu, 1.2);
        }
    }
    /* EC50s last, on top of everything */
    for (size_t i = 0; i < na; i++) {
        const struct bq_hill_fit *h = &av[i].f->fit;
        double l = log10(h->ec50), x, y;
        if (!av[i].plotted || !av[i].f->fitted || !isfinite(l) ||
            xa + xb * l < lx0 || xa + xb * l > lx1)
            continue;
        x = xa + xb * l;
        y = ymap(&ax, c, 0.5 * (h->top + h->bottom));
        set_rgb(cr, av[i].rgb, 1);
        cairo_set_line_width(cr, 1.3);
        cairo_set_dash(cr, dash, 2, 0);
        cairo_move_to(cr, x, py1);
        cairo_line_to(cr, x, y);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        marker(cr, 4, x, y, 6, av[i].rgb, 1, TEXT_RGB, 1);
    }
    if (ci != (size_t)-1) {
        const struct bq_condition *cd = d->cv[ci].c;
        for (size_t k = 0; k < d->nb; k++) {
            double fc = d->dots[ci * d->nb + k];
            if (isfinite(fc))
                marker(cr, 0, xc + bq_chart_jitter(k, d->nb) * 16,
                       ymap(&ax, c, fc), 3.2, DOSE_CONTROL_RGB, 0.4, 0, 0);
        }
        if (isfinite(cd->fc.mean)) {
            if (isfinite(cd->fc.sd) && cd->fc.sd > 0)
                errbar(cr, xc, ymap(&ax, c, cd->fc.mean - cd->fc.sd),
                       ymap(&ax, c, cd->fc.mean + cd->fc.sd), 5,
                       DOSE_CONTROL_RGB, 1.5);
            marker(cr, 0, xc, ymap(&ax, c, cd->fc.mean), 5.5, DOSE_CONTROL_RGB,
                   1, 0xFFFFFFu, 1.2);
        }
    }

legend:
    /* Phase 4: one legend line per agent (plotted ones first). */
    {
        double y = leg_y;
        size_t shown = 0;
        for (int pass = 1; pass >= 0; pass--)
            for (size_t i = 0; i < na; i++) {
                struct aview *a = &av[i];
                if (a->plotted != pass)
                    continue;
                if (shown == MAX_LEGEND) {
                    snprintf(s1, sizeof s1,
                             "\u2026 and %zu more: see doseresponse.csv",
                             na - shown);
                    text_at(c, s1, c->x + PAD + 40, y, TICK_PX, 0,
                            c->w - 2 * PAD - 40, 0, MUTED_RGB);
                    shown++;
                    continue;
                }
                if (shown > MAX_LEGEND)
                    continue;
                if (a->plotted) {
                    double ly = y + 10;
                    set_rgb(cr, a->rgb, 1);
                    cairo_set_line_width(cr, 2.5);
                    if (a->f->fitted && !a->f->fit.converged)
                        cairo_set_dash(cr, dash, 2, 0);
                    if (a->f->fitted) {
                        cairo_move_to(cr, c->x + PAD, ly);
                        cairo_line_to(cr, c->x + PAD + 30, ly);
                        cairo_stroke(cr);
                    }
                    cairo_set_dash(cr, NULL, 0, 0);
                    marker(cr, a->shape, c->x + PAD + 15, ly, 5.5, a->rgb, 1,
                           0xFFFFFFu, 1.2);
                }
                text_set(c, a->legend, TICK_PX, 0, c->w - 2 * PAD - 40, &tw,
                         &th);
                text_draw(c, c->x + PAD + 40, y + 10 - th / 2,
                          a->plotted ? TEXT_RGB : MUTED_RGB);
                y += 21;
                shown++;
            }
    }
    free(av);
}

enum bq_status
bq_render_dose_to(cairo_t *cr, double x, double y, double w, double h,
                  const struct bq_manifest *m, const struct bq_blot_result *res,
                  const struct bq_exp_summary *s, size_t blot0,
                  enum bq_part part, struct bq_chart_geom *geom,
                  struct bq_error *err)
{
    struct tdata d;
    struct cctx c;
    struct bq_chart_geom g;
    enum bq_status st;

    memset(&d, 0, sizeof d);
    memset(&c, 0, sizeof c);
    st = check_args(m, res, s, blot0, part, err);
    if (st == BQ_OK)
        st = tdata_init(&d, m, res, s, blot0, part, err);
    if (st == BQ_OK)
        st = cctx_begin(&c, cr, x, y, w, h, err);
    if (st == BQ_OK) {
        geom_clear(&g, &c);
        draw_dose(&c, &d, s, &g);
    }
    st = cctx_end(&c, st, err);
    if (st == BQ_OK && geom)
        *geom = g;
    tdata_fini(&d);
    return st;
}

/* ---- PNG files ---------------------------------------------------------- */

/* Renders chart KIND (0 bars, 1 dose) to a W x H PNG at PATH. */
static enum bq_status
render_png(int kind, const char *path, int w, int h,
           const struct bq_manifest *m, const struct bq_blot_result *res,
           const struct bq_exp_summary *s, size_t blot0, enum bq_part part,
           struct bq_chart_geom *geom, struct bq_error *err)
{
    cairo_surface_t *surf = NULL;
    cairo_t *cr = NULL;
    enum bq_status st;

    if (!path)
        return bq_error_set(err, BQ_ERR_INVALID, "chart: no output path");
    st = check_args(m, res, s, blot0, part, err);
    if (st != BQ_OK)
        return st;
    surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        st = bq_error_set(
            err, BQ_ERR_RENDER, "chart %s: cannot create a %dx%d image (%s)",
            path, w, h, cairo_status_to_string(cairo_surface_status(surf)));
        goto out;
    }
    cr = cairo_create(surf);
    if (kind == 0)
        st = bq_render_bars_to(cr, 0, 0, w, h, m, res, s, blot0, part,
                               BQ_CHART_ERR_SD, geom, err);
    else
        st = bq_render_dose_to(cr, 0, 0, w, h, m, res, s, blot0, part, geom,
                               err);
    if (st != BQ_OK)
        goto out;
    cairo_surface_flush(surf);
    st = bq_render_write_png(surf, path, err);
out:
    if (cr)
        cairo_destroy(cr);
    cairo_surface_destroy(surf);
    return st;
}

enum bq_status
bq_render_bars(const char *png_path, const struct bq_manifest *m,
               const struct bq_blot_result *res, const struct bq_exp_summary *s,
               size_t blot0, enum bq_part part, struct bq_chart_geom *geom,
               struct bq_error *err)
{
    return render_png(0, png_path, bq_chart_bars_width(m, s, blot0, part),
                      BQ_CHART_H, m, res, s, blot0, part, geom, err);
}

enum bq_status
bq_render_dose(const char *png_path, const struct bq_manifest *m,
               const struct bq_blot_result *res, const struct bq_exp_summary *s,
               size_t blot0, enum bq_part part, struct bq_chart_geom *geom,
               struct bq_error *err)
{
    return render_png(1, png_path, BQ_CHART_W, BQ_CHART_H, m, res, s, blot0,
                      part, geom, err);
}
