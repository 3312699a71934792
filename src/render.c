/* Render stage: the overlay PNG of one analysed scan (cairo + pango).
 *
 * This is the only file of the library that includes cairo.h and pango. It
 * draws from the analysis result only: the display image is shown, never
 * measured, and every box, label and profile comes from bq_analysis. */
#include "blotquant/render.h"
#include "png_write.h"
#include "render_internal.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "parallel.h"
#include "util.h"

/* ---- geometry ---------------------------------------------------------- */

enum {
    OUT_MAX_W = 1600,   /* widest blot panel, px */
    OUT_MIN_W = 800,    /* narrower scans are enlarged (up to MAX_UPSCALE) */
    OUT_MAX_H = 2000,   /* tallest blot panel, px */
    CANVAS_MIN_W = 960, /* room for the header text */
    MARGIN = 16,        /* around everything */
    HEADER_H = 104,     /* title, summary line, legend */
    SUBTITLE_H = 24,    /* the header grows by this with a subtitle */
    LABEL_PAD = 28,     /* above the blot: lane numbers of a strip at y=0 */
    BELOW_PAD = 30,     /* below the blot: volumes of bands at the bottom */
    PROF_TITLE_H = 30,  /* caption of the profile panel */
    PROF_MIN_W = 240,   /* narrowest profile plot */
    PROF_H = 132,       /* height of one profile plot */
    PROF_GAP = 10,      /* between profile plots */
    PROF_MAX_ROWS = 20  /* more lanes than fit are not plotted (said so) */
};
#define MAX_UPSCALE 4.0

/* Lane labels (conditions) are set at 45 degrees above the lane numbers,
 * the usual habit of blot figures: at ~40 px per lane a horizontal
 * "eltrombopag 0.1 nM" would need three lines or an abbreviation. */
#define LBL_PX_MAX 13.0 /* label size, px, shrunk where lanes are close */
#define LBL_PX_MIN 9.0
#define LBL_MAX_W 190.0 /* longer labels are cut in the middle, px */
#define LBL_COS 0.70710678118654752 /* cos 45 = sin 45 */

/* 1 if V is a usable coordinate for A: finite and not absurdly far outside
 * the scan (the renderer draws what it is given, but never from garbage:
 * cairo's fixed-point paths wrap around beyond about 8 million px). */
static int
coord_ok(const struct bq_analysis *a, double v)
{
    return isfinite(v) && fabs(v) <= 4.0 * (double)(a->width + a->height) + 1e3;
}

/* 1 if lane I of A can be drawn: a valid strip and usable coordinates. */
static int
lane_ok(const struct bq_analysis *a, size_t i)
{
    const struct bq_lane *ln = &a->layout.lanes[i];
    const struct bq_strip *sp;

    if (ln->strip >= a->layout.nstrips)
        return 0;
    sp = &a->layout.strips[ln->strip];
    return coord_ok(a, ln->x) && coord_ok(a, ln->width) &&
           coord_ok(a, ln->left) && coord_ok(a, ln->right) &&
           coord_ok(a, sp->top) && coord_ok(a, sp->bottom);
}

/* 1 if band B of A can be drawn (usable box). */
static int
band_ok(const struct bq_analysis *a, const struct bq_band *b)
{
    return coord_ok(a, b->left) && coord_ok(a, b->right) &&
           coord_ok(a, b->top) && coord_ok(a, b->bottom);
}

/* 1 if A can have lane profiles: a signal image of the scan's size (the
 * analysis frame) and some lanes. */
static int
has_profiles(const struct bq_analysis *a)
{
    const struct bq_image *sig = a->signal;

    return sig && sig->px && sig->width == a->width &&
           sig->height == a->height && a->layout.nlanes > 0 &&
           a->layout.lanes && a->layout.strips;
}

/* Scale and size of the blot panel for a W x H scan: at most OUT_MAX_W
 * wide and OUT_MAX_H tall, narrow scans enlarged up to MAX_UPSCALE. */
static void
panel_size(size_t width, size_t height, double *scale, int *bw, int *bh)
{
    double w = width ? (double)width : 1;
    double h = height ? (double)height : 1;
    double s = 1;

    if (w > OUT_MAX_W)
        s = OUT_MAX_W / w;
    else if (w < OUT_MIN_W)
        s = fmin(OUT_MIN_W / w, MAX_UPSCALE);
    if (h * s > OUT_MAX_H)
        s = OUT_MAX_H / h;
    *scale = s;
    *bw = (int)lround(w * s);
    *bh = (int)lround(h * s);
    if (*bw < 1)
        *bw = 1;
    if (*bh < 1)
        *bh = 1;
}

/* The label of lane I of A under OPTS, or NULL: only lanes of the first
 * strip are labelled (the conditions sit once above the membrane). */
static const char *
lane_label(const struct bq_analysis *a, const struct bq_render_opts *o,
           size_t i)
{
    const struct bq_lane *ln = &a->layout.lanes[i];
    const char *s;

    if (!o || !o->lane_labels || ln->strip != 0 || ln->index >= o->nlabels)
        return NULL;
    s = o->lane_labels[ln->index];
    return s && *s ? s : NULL;
}

static void lane_anchor(const struct bq_analysis *a,
                        const struct bq_render_geom *g, size_t i, double *px,
                        double *py);
static void label_measure(const char *s, double size, double *w, double *h);

/* Where lane labels go: their size from the closest pair of labelled
 * lanes, the height of the label band from the longest label, and how far
 * the last labels reach right of the panel (stored in *EXT_R, panel px).
 * Leaves G's label fields 0 if nothing is labelled. */
static void
label_geometry(const struct bq_analysis *a, const struct bq_render_opts *o,
               struct bq_render_geom *g, double *ext_r)
{
    double prev = NAN, pitch = INFINITY, up = 0;
    size_t n = 0;

    *ext_r = 0;
    if (!a->layout.lanes || !a->layout.strips)
        return;
    for (size_t i = 0; i < a->layout.nlanes; i++) {
        double x, y;
        if (!lane_ok(a, i) || !lane_label(a, o, i))
            continue;
        lane_anchor(a, g, i, &x, &y);
        if (isfinite(prev) && fabs(x - prev) > 0)
            pitch = fmin(pitch, fabs(x - prev));
        prev = x;
        n++;
    }
    if (n == 0)
        return;
    /* neighbours 45 degrees apart are PITCH * sin 45 apart across the
     * text, which must hold a line (1.2 em) and a little air */
    g->label_px = bq_clampd(floor(pitch * LBL_COS / 1.45 * 2) / 2, LBL_PX_MIN,
                            LBL_PX_MAX);
    for (size_t i = 0; i < a->layout.nlanes; i++) {
        double x, y, w, h;
        const char *s;
        if (!lane_ok(a, i) || !(s = lane_label(a, o, i)))
            continue;
        lane_anchor(a, g, i, &x, &y);
        label_measure(s, g->label_px, &w, &h);
        up = fmax(up, (w + h) * LBL_COS);
        *ext_r = fmax(*ext_r, x - g->blot_x + 0.5 * h * LBL_COS + w * LBL_COS -
                                  g->blot_w);
    }
    g->labels_h = (int)ceil(up) + 8;
}

void
bq_render_geometry_ex(const struct bq_analysis *a,
                      const struct bq_render_opts *opts,
                      struct bq_render_geom *g)
{
    double s, ext_l = 0, ext_r = 0, ext_t = 0, ext_b = 0, lbl_r = 0;
    int y, header = HEADER_H;

    memset(g, 0, sizeof *g);
    panel_size(a->width, a->height, &g->scale, &g->blot_w, &g->blot_h);
    s = g->scale;
    if (opts && opts->subtitle && *opts->subtitle)
        header += SUBTITLE_H;
    /* Lane boxes of a deskewed scan may reach past the scan's edges: make
     * room for them (and the labels around them). */
    for (size_t i = 0; i < a->layout.nlanes && a->layout.lanes; i++) {
        const struct bq_lane *ln = &a->layout.lanes[i];
        const struct bq_strip *sp;
        if (!a->layout.strips || !lane_ok(a, i))
            continue;
        sp = &a->layout.strips[ln->strip];
        for (int k = 0; k < 4; k++) {
            double ox = (k & 1 ? ln->right : ln->left) - 0.5;
            double oy = (k & 2 ? sp->bottom : sp->top) - 0.5;
            if (a->angle != 0)
                bq_rotate_point(a->width, a->height, a->angle, ox, oy, &ox,
                                &oy);
            ox = (ox + 0.5) * s;
            oy = (oy + 0.5) * s;
            ext_l = fmax(ext_l, -ox);
            ext_r = fmax(ext_r, ox - g->blot_w);
            ext_t = fmax(ext_t, -oy);
            ext_b = fmax(ext_b, oy - g->blot_h);
        }
    }
    ext_l = ceil(fmin(ext_l, 400)); /* a sane lane reaches out a little */
    ext_r = ceil(fmin(ext_r, 400));
    ext_t = ceil(fmin(ext_t, 400));
    ext_b = ceil(fmin(ext_b, 400));
    /* labels: measured with the panel at x = 0, then moved with it */
    g->blot_x = 0;
    label_geometry(a, opts, g, &lbl_r);
    lbl_r = ceil(fmin(fmax(lbl_r - ext_r, 0), 400));
    g->width = g->blot_w + 2 * MARGIN + (int)ext_l + (int)ext_r + (int)lbl_r;
    g->blot_x = MARGIN + (int)ext_l;
    if (g->width < CANVAS_MIN_W) {
        g->blot_x += (CANVAS_MIN_W - g->width) / 2;
        g->width = CANVAS_MIN_W;
    }
    g->labels_y = header;
    g->blot_y = header + g->labels_h + LABEL_PAD + (int)ext_t;
    y = g->blot_y + g->blot_h + BELOW_PAD + (int)ext_b;

    g->profiles_y = -1;
    if (has_profiles(a)) {
        int avail = g->width - 2 * MARGIN, rows = 0;
        int cols = (avail + PROF_GAP) / (PROF_MIN_W + PROF_GAP);
        if (cols < 1)
            cols = 1;
        for (size_t s2 = 0; s2 < a->layout.nstrips; s2++) {
            size_t n = a->layout.strips[s2].nlanes;
            rows += (int)((n + (size_t)cols - 1) / (size_t)cols);
        }
        if (rows > PROF_MAX_ROWS)
            rows = PROF_MAX_ROWS;
        if (rows > 0) {
            g->profile_cols = cols;
            g->profile_rows = rows;
            g->profile_w = (avail - (cols - 1) * PROF_GAP) / cols;
            g->profile_h = PROF_H;
            g->profiles_y = y;
            y += PROF_TITLE_H + rows * (PROF_H + PROF_GAP);
        }
    }
    g->height = y + MARGIN;
}

void
bq_render_geometry(const struct bq_analysis *a, struct bq_render_geom *g)
{
    bq_render_geometry_ex(a, NULL, g);
}

void
bq_render_map_point(const struct bq_analysis *a, const struct bq_render_geom *g,
                    double x, double y, double *px, double *py)
{
    double ox = x, oy = y;

    if (a->angle != 0)
        bq_rotate_point(a->width, a->height, a->angle, x, y, &ox, &oy);
    *px = g->blot_x + (ox + 0.5) * g->scale;
    *py = g->blot_y + (oy + 0.5) * g->scale;
}

/* Where lane I's label starts: the lane's centre at its strip's top, in
 * PNG x, and the bottom of the label band in y. */
static void
lane_anchor(const struct bq_analysis *a, const struct bq_render_geom *g,
            size_t i, double *px, double *py)
{
    const struct bq_lane *ln = &a->layout.lanes[i];
    double y;

    bq_render_map_point(a, g, ln->x, a->layout.strips[ln->strip].top - 0.5, px,
                        &y);
    *py = g->labels_y + g->labels_h - 4;
}

char *
bq_render_format_value(double v, char *buf, size_t n)
{
    static const char *const suffix[] = {"", "k", "M", "G", "T"};
    const char *sign = v < 0 ? "-" : "";
    char tmp[32], *e;
    double r;
    int ex, u;

    if (n == 0)
        return buf;
    if (!isfinite(v)) {
        snprintf(buf, n, "n/a");
        return buf;
    }
    v = fabs(v);
    if (v == 0) {
        snprintf(buf, n, "0");
        return buf;
    }
    /* Round to 3 significant digits first, so that 999.7 becomes "1.00k"
     * and not "1000": R is the rounded value, EX its decimal exponent. */
    snprintf(tmp, sizeof tmp, "%.2e", v);
    r = strtod(tmp, NULL);
    e = strchr(tmp, 'e');
    ex = e ? (int)strtol(e + 1, NULL, 10) : 0;
    if (ex < 0) {
        snprintf(buf, n, "%s%.3g", sign, r);
        return buf;
    }
    u = ex / 3;
    if (u > 4) {
        snprintf(buf, n, "%s%.2e", sign, r);
        return buf;
    }
    snprintf(buf, n, "%s%.*f%s", sign, 2 - (ex - 3 * u), r / pow(10, 3 * u),
             suffix[u]);
    return buf;
}

/* ---- drawing context --------------------------------------------------- */

struct rect {
    double x0, y0, x1, y1; /* PNG px, x0 <= x1, y0 <= y1 */
};

/* A lane's left and right edges in the PNG: from (x, y) at the strip's
 * top to (x, y) at its bottom (slanted by the deskew). */
struct lane_edges {
    double l[4], r[4]; /* x top, y top, x bottom, y bottom */
};

struct ctx {
    cairo_t *cr;
    PangoLayout *layout; /* reused for every text */
    PangoFontDescription *font;
    const struct bq_analysis *a;
    const struct bq_render_opts *opts; /* labels, subtitle; may be NULL */
    const char *path; /* of the PNG, for messages */
    struct bq_render_geom g;
    struct rect *boxes;  /* bounding box of each band, PNG px */
    struct rect *labels; /* labels placed so far (obstacles) */
    size_t nlabels, cap;
    struct lane_edges *lanes; /* each lane's outline, PNG px */
    size_t unlabelled;   /* band volumes left unprinted (crowded) */
};

static void
set_rgb(cairo_t *cr, unsigned rgb, double alpha)
{
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0,
                          ((rgb >> 8) & 255) / 255.0, (rgb & 255) / 255.0,
                          alpha);
}

/* Sets the text and font of the shared layout; stores its logical size in
 * PNG px in *W and *H. */
static void
text_set(struct ctx *c, const char *s, double size, int bold, double *w,
         double *h)
{
    PangoRectangle ink, logical;

    pango_font_description_set_weight(c->font, bold ? PANGO_WEIGHT_BOLD
                                                    : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_absolute_size(c->font, size * PANGO_SCALE);
    pango_layout_set_font_description(c->layout, c->font);
    pango_layout_set_text(c->layout, s, -1);
    pango_layout_get_pixel_extents(c->layout, &ink, &logical);
    *w = logical.width;
    *h = logical.height;
}

/* Draws the text last given to text_set with its top-left at (X, Y) in
 * colour RGB. */
static void
text_draw(struct ctx *c, double x, double y, unsigned rgb)
{
    set_rgb(c->cr, rgb, 1);
    cairo_move_to(c->cr, x, y);
    pango_cairo_show_layout(c->cr, c->layout);
}

/* Draws S (SIZE px, BOLD) in RGB with its top-left at (X, Y); returns its
 * width. */
static double
text_at(struct ctx *c, const char *s, double x, double y, double size, int bold,
        unsigned rgb)
{
    double w, h;

    text_set(c, s, size, bold, &w, &h);
    text_draw(c, x, y, rgb);
    return w;
}

/* Sets S as a lane label of SIZE px on LAYOUT with FONT (cut in the
 * middle past LBL_MAX_W, so that a dose at the end stays); stores its
 * logical size in *W and *H. */
static void
label_set(PangoLayout *layout, PangoFontDescription *font, const char *s,
          double size, double *w, double *h)
{
    PangoRectangle ink, logical;

    pango_font_description_set_weight(font, PANGO_WEIGHT_NORMAL);
    pango_font_description_set_absolute_size(font, size * PANGO_SCALE);
    pango_layout_set_font_description(layout, font);
    pango_layout_set_width(layout, (int)(LBL_MAX_W * PANGO_SCALE));
    pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_MIDDLE);
    pango_layout_set_text(layout, s, -1);
    pango_layout_get_pixel_extents(layout, &ink, &logical);
    *w = logical.width;
    *h = logical.height;
}

/* The size of lane label S at SIZE px as drawn (for the geometry, which
 * has no drawing context): measured on a scratch 1x1 surface of the same
 * kind, so the metrics are those of the overlay. 0 x 0 if pango fails. */
static void
label_measure(const char *s, double size, double *w, double *h)
{
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *cr = cairo_create(surf);
    PangoLayout *layout = pango_cairo_create_layout(cr);
    PangoFontDescription *font = pango_font_description_from_string("Sans");

    *w = *h = 0;
    if (layout && font)
        label_set(layout, font, s, size, w, h);
    if (font)
        pango_font_description_free(font);
    if (layout)
        g_object_unref(layout);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
}

/* A white box of opacity ALPHA under a label so that it reads on both the
 * white background and black bands. */
static void
halo(cairo_t *cr, const struct rect *r, double alpha)
{
    cairo_set_source_rgba(cr, 1, 1, 1, alpha);
    cairo_rectangle(cr, r->x0, r->y0, r->x1 - r->x0, r->y1 - r->y0);
    cairo_fill(cr);
}

static double
overlap(const struct rect *p, const struct rect *q)
{
    double w = fmin(p->x1, q->x1) - fmax(p->x0, q->x0);
    double h = fmin(p->y1, q->y1) - fmax(p->y0, q->y0);
    return w > 0 && h > 0 ? w * h : 0;
}

/* The area of R over the lane E, taken as upright over R's height (its
 * edges at R's middle row): the bounding box of a slanted lane spans its
 * neighbours too. */
static double
lane_overlap(const struct rect *r, const struct lane_edges *e)
{
    double yc = 0.5 * (r->y0 + r->y1), xl, xr, w;

    if (yc < fmin(e->l[1], e->r[1]) || yc > fmax(e->l[3], e->r[3]))
        return 0;
    xl = e->l[3] == e->l[1] ? e->l[0]
                            : e->l[0] + (e->l[2] - e->l[0]) * (yc - e->l[1]) /
                                            (e->l[3] - e->l[1]);
    xr = e->r[3] == e->r[1] ? e->r[0]
                            : e->r[0] + (e->r[2] - e->r[0]) * (yc - e->r[1]) /
                                            (e->r[3] - e->r[1]);
    w = fmin(r->x1, xr) - fmax(r->x0, xl);
    return w > 0 ? w * (r->y1 - r->y0) : 0;
}

/* Lane I's outline in the PNG (its box over its strip's rows, turned
 * back by the deskew). */
static void
lane_edges_of(const struct ctx *c, size_t i, struct lane_edges *e)
{
    const struct bq_lane *ln = &c->a->layout.lanes[i];
    const struct bq_strip *sp = &c->a->layout.strips[ln->strip];

    bq_render_map_point(c->a, &c->g, ln->left - 0.5, sp->top - 0.5, &e->l[0],
                        &e->l[1]);
    bq_render_map_point(c->a, &c->g, ln->left - 0.5, sp->bottom - 0.5,
                        &e->l[2], &e->l[3]);
    bq_render_map_point(c->a, &c->g, ln->right - 0.5, sp->top - 0.5,
                        &e->r[0], &e->r[1]);
    bq_render_map_point(c->a, &c->g, ln->right - 0.5, sp->bottom - 0.5,
                        &e->r[2], &e->r[3]);
}

/* Remembers R as an obstacle for later labels. Returns 0 if out of memory
 * (the label is still drawn; only the avoidance suffers). */
static int
label_add(struct ctx *c, const struct rect *r)
{
    if (c->nlabels == c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 64;
        struct rect *p = realloc(c->labels, ncap * sizeof *p);
        if (!p)
            return 0;
        c->labels = p;
        c->cap = ncap;
    }
    c->labels[c->nlabels++] = *r;
    return 1;
}

/* Strokes the box [X0, X1) x [Y0, Y1) of the analysis frame (pixel indices)
 * around the pixels it holds, rotated into the original image. Stores its
 * bounding box in BB if not NULL. */
static void
box_path(struct ctx *c, double x0, double x1, double y0, double y1,
         struct rect *bb)
{
    double xs[4] = {x0 - 0.5, x1 - 0.5, x1 - 0.5, x0 - 0.5};
    double ys[4] = {y0 - 0.5, y0 - 0.5, y1 - 0.5, y1 - 0.5};
    struct rect r = {1e300, 1e300, -1e300, -1e300};

    cairo_new_path(c->cr);
    for (int k = 0; k < 4; k++) {
        double px, py;
        bq_render_map_point(c->a, &c->g, xs[k], ys[k], &px, &py);
        if (k == 0)
            cairo_move_to(c->cr, px, py);
        else
            cairo_line_to(c->cr, px, py);
        r.x0 = fmin(r.x0, px);
        r.y0 = fmin(r.y0, py);
        r.x1 = fmax(r.x1, px);
        r.y1 = fmax(r.y1, py);
    }
    cairo_close_path(c->cr);
    if (bb)
        *bb = r;
}

/* ---- the scan ---------------------------------------------------------- */

/* Box filter of a scan onto a W x H panel at SCALE (panel px per scan
 * px): each panel pixel is the mean of the scan pixels it covers (or the
 * nearest pixel when enlarging); non-finite pixels count as 0. Rows of the
 * panel are independent, so they are split over the processors; each is
 * summed in one fixed order, so the result does not depend on how. */
struct reduce_job {
    const struct bq_image *d; /* the scan, borrowed */
    double scale;             /* panel px per scan px */
    int w;                    /* panel width, px */
    float *out;               /* W x (rows) floats, row stride W */
    atomic_int failed;        /* 1 if a thread had no scratch memory */
};

/* The mean of the scan pixels under panel pixel I of the row whose column
 * sums over rows [Y0, Y1) are COL; non-finite pixels, rare, are counted
 * as 0 by summing again when the fast sum came out non-finite. */
static float
reduce_pixel(const struct reduce_job *r, const double *col, size_t y0,
             size_t y1, int i)
{
    const struct bq_image *d = r->d;
    double inv = 1.0 / r->scale, sum = 0;
    size_t x0 = (size_t)floor(i * inv), x1 = (size_t)floor((i + 1) * inv);

    if (x0 >= d->width)
        x0 = d->width - 1;
    if (x1 <= x0)
        x1 = x0 + 1;
    if (x1 > d->width)
        x1 = d->width;
    for (size_t x = x0; x < x1; x++)
        sum += col[x];
    if (!isfinite(sum)) {
        sum = 0;
        for (size_t y = y0; y < y1; y++)
            for (size_t x = x0; x < x1; x++) {
                float v = bq_row(d, y)[x];
                sum += isfinite(v) ? v : 0;
            }
    }
    return (float)(sum / (double)((x1 - x0) * (y1 - y0)));
}

static void
reduce_rows(void *ctx, size_t lo, size_t hi)
{
    struct reduce_job *r = ctx;
    const struct bq_image *d = r->d;
    double inv = 1.0 / r->scale;
    double *col = bq_alloc_array(d->width, sizeof *col);

    if (!col) {
        atomic_store(&r->failed, 1);
        return;
    }
    for (size_t j = lo; j < hi; j++) {
        size_t y0 = (size_t)floor((double)j * inv),
               y1 = (size_t)floor((double)(j + 1) * inv);
        if (y0 >= d->height)
            y0 = d->height - 1;
        if (y1 <= y0)
            y1 = y0 + 1;
        if (y1 > d->height)
            y1 = d->height;
        /* column sums: a plain loop the compiler vectorises */
        for (size_t x = 0; x < d->width; x++)
            col[x] = 0;
        for (size_t y = y0; y < y1; y++) {
            const float *row = bq_row(d, y);
            for (size_t x = 0; x < d->width; x++)
                col[x] += row[x];
        }
        for (int i = 0; i < r->w; i++)
            r->out[j * (size_t)r->w + (size_t)i] =
                reduce_pixel(r, col, y0, y1, i);
    }
    free(col);
}

/* Reduces D onto a W x H panel at SCALE into OUT. Returns 0, or -1 if out
 * of memory. */
static int
reduce(const struct bq_image *d, double scale, int w, int h, float *out)
{
    struct reduce_job r = {d, scale, w, out, 0};

    atomic_init(&r.failed, 0);
    bq_parallel_for((size_t)h, 0, reduce_rows, &r);
    return atomic_load(&r.failed) ? -1 : 0;
}

struct bq_image *
bq_render_display_create(const struct bq_image *scan, struct bq_error *err)
{
    struct bq_image *out;
    double s;
    int bw, bh;

    if (!scan || !scan->px || !scan->width || !scan->height) {
        bq_error_set(err, BQ_ERR_INVALID, "render: no scan to display");
        return NULL;
    }
    panel_size(scan->width, scan->height, &s, &bw, &bh);
    if ((size_t)bw >= scan->width && (size_t)bh >= scan->height)
        return bq_image_clone(scan, err);
    out = bq_image_create((size_t)bw, (size_t)bh, err);
    if (!out)
        return NULL;
    out->bit_depth = scan->bit_depth;
    out->max_code = scan->max_code;
    if (out->stride != (size_t)bw || reduce(scan, s, bw, bh, out->px) != 0) {
        bq_image_destroy(out);
        bq_error_set(err, BQ_ERR_NOMEM, "render: out of memory");
        return NULL;
    }
    return out;
}

/* 1 if D is a display made by bq_render_display_create for A's panel G
 * (smaller than the scan), 0 if it is of the scan's size. */
static int
is_reduced(const struct bq_analysis *a, const struct bq_render_geom *g,
           const struct bq_image *d)
{
    return (d->width != a->width || d->height != a->height) &&
           d->width == (size_t)g->blot_w && d->height == (size_t)g->blot_h;
}

/* The display stretch, film look: the membrane background (median) is
 * almost white, values below it fade to white, and above it darkness rises
 * as asinh(K t) / asinh(K) with t = (v - median) / (p99.7 - median). The
 * gain K makes the asinh linear up to about 6 noise SDs of the panel pixels
 * and logarithmic above (astronomers' asinh stretch), so a band at 1 % of
 * the strongest is still clearly grey while noise stays a faint texture. */
#define STRETCH_BG_DARK 0.05 /* darkness of the background median */
#define STRETCH_K_MIN 10.0   /* asinh gain limits */
#define STRETCH_K_MAX 100.0

/* Marks in MASK (blot_w x blot_h bytes, zeroed) the panel pixels within the
 * bounding box of some lane. */
static void
lane_mask(const struct ctx *c, unsigned char *mask)
{
    const struct bq_layout *l = &c->a->layout;
    const struct bq_render_geom *g = &c->g;

    for (size_t i = 0; i < l->nlanes; i++) {
        const struct bq_lane *ln = &l->lanes[i];
        const struct bq_strip *sp;
        double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
        if (!lane_ok(c->a, i))
            continue;
        sp = &l->strips[ln->strip];
        for (int k = 0; k < 4; k++) {
            double px, py;
            double ax = (k & 1 ? ln->right : ln->left) - 0.5;
            double ay = (k & 2 ? sp->bottom : sp->top) - 0.5;
            bq_render_map_point(c->a, g, ax, ay, &px, &py);
            x0 = fmin(x0, px - g->blot_x);
            x1 = fmax(x1, px - g->blot_x);
            y0 = fmin(y0, py - g->blot_y);
            y1 = fmax(y1, py - g->blot_y);
        }
        x0 = bq_clampd(floor(x0), 0, g->blot_w);
        x1 = bq_clampd(ceil(x1), 0, g->blot_w);
        y0 = bq_clampd(floor(y0), 0, g->blot_h);
        y1 = bq_clampd(ceil(y1), 0, g->blot_h);
        for (size_t y = (size_t)y0; y < (size_t)y1; y++)
            memset(mask + y * (size_t)g->blot_w + (size_t)x0, 1,
                   (size_t)(x1 - x0));
    }
}

/* The stretch as a table: darkness at t = (v - median) / (p99.7 - median)
 * in [0, 1], sampled at STRETCH_N + 1 points and interpolated linearly
 * (error below 0.002 grey levels for the largest gain; asinh per pixel
 * cost 30 ms on a 1600x1200 panel). */
#define STRETCH_N 4096

struct stretch_job {
    const float *buf;    /* panel values, blot_w per row */
    unsigned char *data; /* the cairo surface's pixels */
    int w, stride;       /* panel width; bytes between surface rows */
    double lo, med, hi;  /* levels */
    const float *lut;    /* STRETCH_N + 1 darkness values */
};

static void
stretch_rows(void *ctx, size_t lo, size_t hi)
{
    const struct stretch_job *s = ctx;
    double inv_hi = 1 / (s->hi - s->med), inv_lo = 1 / (s->med - s->lo);

    for (size_t j = lo; j < hi; j++) {
        uint32_t *row = (uint32_t *)(void *)(s->data + j * (size_t)s->stride);
        const float *in = s->buf + j * (size_t)s->w;
        for (int i = 0; i < s->w; i++) {
            double v = in[i], dark;
            unsigned q;
            if (v >= s->med) {
                double t = bq_clampd((v - s->med) * inv_hi, 0, 1) * STRETCH_N;
                int k = (int)t;
                if (k >= STRETCH_N)
                    k = STRETCH_N - 1;
                dark = s->lut[k] + (t - k) * (s->lut[k + 1] - s->lut[k]);
            } else {
                dark = STRETCH_BG_DARK * bq_clampd((v - s->lo) * inv_lo, 0, 1);
            }
            q = (unsigned)(255 * (1 - dark) + 0.5);
            row[i] = (uint32_t)(q << 16 | q << 8 | q);
        }
    }
}

/* Levels come from at most this many panel pixels (every k-th of the
 * panel, of those chosen), which fixes the percentiles to well under a
 * grey level. */
#define LEVEL_SAMPLES 100000

/* 1 if panel pixel I (value BUF[I], lane MASK) sets the levels in PASS:
 * 0 only within lanes and off the frame, 1 anywhere off the frame, 2
 * anywhere. */
static int
level_pixel(const struct ctx *c, const unsigned char *mask, const float *buf,
            size_t i, int pass)
{
    double fl = c->a->prep.frame_level, ml = c->a->prep.membrane_level;
    double mid = 0.5 * (fl + ml);

    if (pass == 0 && !mask[i])
        return 0;
    if (pass < 2 && c->a->prep.frame && (fl > ml ? buf[i] > mid : buf[i] < mid))
        return 0;
    return 1;
}

/* 1 if the N values at V are all finite. */
static int
all_finite(const float *v, size_t n)
{
    int ok = 1;

    for (size_t i = 0; i < n; i++)
        ok &= isfinite(v[i]) != 0;
    return ok;
}

/* Paints the scan DISPLAY into the blot panel, straight into the canvas's
 * pixels (which lie under nothing yet). */
static enum bq_status
draw_scan(struct ctx *c, const struct bq_image *d, struct bq_error *err)
{
    const struct bq_render_geom *g = &c->g;
    size_t npx = (size_t)g->blot_w * (size_t)g->blot_h, ns = 0;
    const float *vals;
    float *buf = NULL, *sample = NULL, *lut = NULL;
    unsigned char *mask = NULL;
    cairo_surface_t *canvas = cairo_get_target(c->cr);
    enum bq_status st = BQ_OK;
    double lo, med, hi, noise, k, kn;
    struct stretch_job sj;

    sample = bq_alloc_array(bq_min_size(npx, LEVEL_SAMPLES), sizeof *sample);
    lut = bq_alloc_array(STRETCH_N + 1, sizeof *lut);
    mask = bq_calloc_array(npx, 1);
    if (!sample || !lut || !mask)
        goto nomem;
    /* the panel's values: a display made for it is used as it is */
    if (is_reduced(c->a, g, d) && d->stride == d->width &&
        all_finite(d->px, npx)) {
        vals = d->px;
    } else {
        if (!(buf = bq_alloc_array(npx, sizeof *buf)))
            goto nomem;
        if (is_reduced(c->a, g, d)) {
            for (int j = 0; j < g->blot_h; j++) {
                const float *r = bq_row(d, (size_t)j);
                float *o = buf + (size_t)j * (size_t)g->blot_w;
                for (int i = 0; i < g->blot_w; i++)
                    o[i] = isfinite(r[i]) ? r[i] : 0;
            }
        } else if (reduce(d, g->scale, g->blot_w, g->blot_h, buf) != 0) {
            goto nomem;
        }
        vals = buf;
    }

    /* Levels from where the lanes are, without the surround (frame) that
     * prepare found: a bright or dark frame would otherwise set the black
     * or white point and wash the bands out. Pass 0: lanes without frame;
     * 1: whole panel without frame; 2: all; the first that holds 1 % of
     * the panel is used. */
    lane_mask(c, mask);
    for (int pass = 0; pass < 3; pass++) {
        size_t nsel = 0, step = npx / LEVEL_SAMPLES + 1;
        ns = 0;
        for (size_t i = 0; i < npx; i++)
            if (level_pixel(c, mask, vals, i, pass)) {
                if (i % step == 0)
                    sample[ns++] = vals[i];
                nsel++;
            }
        if (nsel >= npx / 100 + 1 && ns > 0)
            break;
    }
    lo = bq_select_f(sample, ns, 0.01);
    med = bq_select_f(sample, ns, 0.5);
    hi = bq_select_f(sample, ns, 0.997);
    if (!(hi > med))
        hi = med + 1;
    if (!(med > lo))
        lo = med - 1e-6 * (hi - med) - 1e-30;
    noise = bq_noise_sigma(vals, (size_t)g->blot_w, 0, 0, (size_t)g->blot_w,
                           (size_t)g->blot_h);
    k = noise > 0 ? (hi - med) / (6 * noise) : STRETCH_K_MAX;
    k = bq_clampd(k, STRETCH_K_MIN, STRETCH_K_MAX);
    kn = asinh(k);
    for (int i = 0; i <= STRETCH_N; i++)
        lut[i] = (float)(STRETCH_BG_DARK +
                         (1 - STRETCH_BG_DARK) * asinh(k * i / STRETCH_N) / kn);

    cairo_surface_flush(canvas);
    sj.buf = vals;
    sj.stride = cairo_image_surface_get_stride(canvas);
    sj.data = cairo_image_surface_get_data(canvas) +
              (size_t)g->blot_y * (size_t)sj.stride + (size_t)g->blot_x * 4;
    sj.w = g->blot_w;
    sj.lo = lo;
    sj.med = med;
    sj.hi = hi;
    sj.lut = lut;
    bq_parallel_for((size_t)g->blot_h, 0, stretch_rows, &sj);
    cairo_surface_mark_dirty_rectangle(canvas, g->blot_x, g->blot_y, g->blot_w,
                                       g->blot_h);
    goto out;
nomem:
    st = bq_error_set(err, BQ_ERR_NOMEM, "render %s: out of memory", c->path);
out:
    free(mask);
    free(buf);
    free(sample);
    free(lut);
    return st;
}

/* ---- lanes and bands --------------------------------------------------- */

#define LANE_LABEL_PX 13.0 /* lane numbers */
#define TEXT_RGB 0x111111u
#define MUTED_RGB 0x555555u

/* Outlines every lane (dashed if empty) and writes its 1-based number (per
 * strip) above it. */
static void
draw_lanes(struct ctx *c)
{
    const struct bq_layout *l = &c->a->layout;
    cairo_t *cr = c->cr;
    static const double dash[] = {6, 4};

    cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
    /* the outlines, kept for the volume labels to stay off other lanes
     * (without the memory, they are drawn and not kept) */
    c->lanes = bq_calloc_array(l->nlanes ? l->nlanes : 1, sizeof *c->lanes);
    for (size_t i = 0; i < l->nlanes; i++) {
        const struct bq_lane *ln = &l->lanes[i];
        struct lane_edges e;
        if (!lane_ok(c->a, i))
            continue;
        lane_edges_of(c, i, &e);
        if (c->lanes)
            c->lanes[i] = e;
        cairo_new_path(cr);
        cairo_move_to(cr, e.l[0], e.l[1]);
        cairo_line_to(cr, e.r[0], e.r[1]);
        cairo_line_to(cr, e.r[2], e.r[3]);
        cairo_line_to(cr, e.l[2], e.l[3]);
        cairo_close_path(cr);
        set_rgb(cr, BQ_RENDER_LANE_RGB, 1);
        cairo_set_line_width(cr, 2);
        cairo_set_dash(cr, dash, ln->empty ? 2 : 0, 0);
        cairo_stroke(cr);
    }
    cairo_set_dash(cr, NULL, 0, 0);

    for (size_t i = 0; i < l->nlanes; i++) {
        const struct bq_lane *ln = &l->lanes[i];
        char s[32];
        double px, py, w, h;
        struct rect r;
        if (!lane_ok(c->a, i))
            continue;
        bq_render_map_point(c->a, &c->g, ln->x, l->strips[ln->strip].top - 0.5,
                            &px, &py);
        snprintf(s, sizeof s, "%zu", ln->index + 1);
        text_set(c, s, LANE_LABEL_PX, 1, &w, &h);
        r.x0 = px - 0.5 * w - 2;
        r.x1 = px + 0.5 * w + 2;
        r.y1 = py - 2;
        r.y0 = r.y1 - h;
        halo(cr, &r, 0.85);
        text_draw(c, r.x0 + 2, r.y0, BQ_RENDER_LANE_RGB);
        label_add(c, &r);
    }
}

/* Writes the label of every labelled lane at 45 degrees in the label band,
 * rising to the right from above the lane's centre (lane_anchor). */
static void
draw_labels(struct ctx *c)
{
    const struct bq_layout *l = &c->a->layout;
    cairo_t *cr = c->cr;

    if (c->g.labels_h <= 0)
        return;
    for (size_t i = 0; i < l->nlanes; i++) {
        const char *s;
        double x, y, w, h;
        if (!lane_ok(c->a, i) || !(s = lane_label(c->a, c->opts, i)))
            continue;
        lane_anchor(c->a, &c->g, i, &x, &y);
        label_set(c->layout, c->font, s, c->g.label_px, &w, &h);
        cairo_save(cr);
        /* the text's middle line starts above the lane's centre */
        cairo_translate(cr, x + 0.5 * h * LBL_COS, y);
        cairo_rotate(cr, -0.25 * BQ_PI);
        pango_cairo_update_layout(cr, c->layout);
        set_rgb(cr, TEXT_RGB, 1);
        cairo_move_to(cr, 0, -h);
        pango_cairo_show_layout(cr, c->layout);
        cairo_restore(cr);
    }
    pango_cairo_update_layout(cr, c->layout);
    pango_layout_set_width(c->layout, -1);
    pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_NONE);
}

/* Colour and dash of band B's outline. */
static unsigned
band_rgb(const struct bq_band *b)
{
    if (b->sat_px > 0)
        return BQ_RENDER_SAT_RGB;
    return b->split ? BQ_RENDER_SPLIT_RGB : BQ_RENDER_BAND_RGB;
}

/* Volume font size: about a quarter of the lane pitch on screen, so that
 * "12.3k" fits between neighbouring lanes, within 10..12 px. */
static double
volume_px(const struct ctx *c)
{
    const struct bq_layout *l = &c->a->layout;
    double pitch = 0;
    size_t n = 0;

    for (size_t s = 0; s < l->nstrips; s++)
        if (l->strips[s].pitch > 0) {
            pitch += l->strips[s].pitch;
            n++;
        }
    if (n == 0)
        return 12;
    return bq_clampd(pitch / (double)n * c->g.scale / 4.2, 10, 12);
}

#define FOREIGN_SHARE 0.3 /* of a label over another lane: not printed */

/* Chooses where band K's label of W x H px goes: the first of below /
 * above / right / left / inside its box that collides with no other label,
 * band box or other lane and stays on the canvas, else the least bad of
 * those that do not clash (cover another label, or lie over
 * FOREIGN_SHARE or more on one other lane, where it would read as that
 * lane's), else the least bad of all, with *CLASH set. Stores it in BEST
 * and returns its badness (0 = free; about px^2 overlapped). */
static double
place_label(const struct ctx *c, size_t k, double w, double h,
            struct rect *best, int *clash)
{
    const struct bq_bandset *set = &c->a->bands;
    const struct rect *bb = &c->boxes[k];
    const struct rect canvas = {0, 0, c->g.width, c->g.height};
    double cx = 0.5 * (bb->x0 + bb->x1), cy = 0.5 * (bb->y0 + bb->y1);
    double best_score = INFINITY;
    struct rect cand[5];

    cand[0] = (struct rect){cx - w / 2, bb->y1 + 1, cx + w / 2, bb->y1 + 1 + h};
    cand[1] = (struct rect){cx - w / 2, bb->y0 - 1 - h, cx + w / 2, bb->y0 - 1};
    cand[2] = (struct rect){bb->x1 + 2, cy - h / 2, bb->x1 + 2 + w, cy + h / 2};
    cand[3] = (struct rect){bb->x0 - 2 - w, cy - h / 2, bb->x0 - 2, cy + h / 2};
    cand[4] = (struct rect){cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
    *best = cand[0];
    *clash = 1;
    for (int q = 0; q < 5; q++) {
        const struct rect *r = &cand[q];
        double area = (r->x1 - r->x0) * (r->y1 - r->y0), score = 0;
        double on_labels = 0, foreign = 0;
        int cl;
        /* labels keep 2 px apart */
        struct rect pad = {r->x0 - 2, r->y0 - 2, r->x1 + 2, r->y1 + 2};
        for (size_t j = 0; j < c->nlabels; j++) {
            score += 4 * overlap(&pad, &c->labels[j]);
            on_labels += overlap(r, &c->labels[j]);
        }
        for (size_t j = 0; j < set->n; j++)
            if (j != k)
                score += overlap(r, &c->boxes[j]);
        /* over another lane it reads as that lane's */
        for (size_t j = 0; c->lanes && j < c->a->layout.nlanes; j++)
            if (j != set->b[k].lane) {
                double o = lane_overlap(r, &c->lanes[j]);
                score += o;
                foreign = fmax(foreign, o);
            }
        score += 4 * (area - overlap(r, &canvas));
        if (q == 4) /* inside hides the band itself: a last resort */
            score += 0.5 * area + 1;
        /* a place that clashes only if every one does */
        cl = on_labels > 0 || foreign > FOREIGN_SHARE * area;
        if (cl < *clash || (cl == *clash && score < best_score)) {
            best_score = score;
            *best = *r;
            *clash = cl;
        }
        if (score == 0)
            break;
    }
    return best_score;
}

#define VOLUME_MIN_PX 10.0 /* smaller volume label where crowded, px */

/* Outlines every band (saturated: vermilion and thicker; split doublets:
 * dashed) and prints its volume next to it, in a smaller font where that
 * avoids every collision the normal one has. A volume that has no place
 * but over another label or another lane is not printed (counted in
 * c->unlabelled, which the header states): on a crowded real scan it sat
 * by the next lane's band and read as that one's. */
static void
draw_bands(struct ctx *c)
{
    const struct bq_bandset *set = &c->a->bands;
    cairo_t *cr = c->cr;
    static const double dash[] = {5, 3};
    double fpx = volume_px(c);

    for (size_t k = 0; k < set->n; k++) {
        const struct bq_band *b = &set->b[k];
        if (!band_ok(c->a, b)) {
            c->boxes[k] = (struct rect){0, 0, 0, 0};
            continue;
        }
        box_path(c, b->left, b->right, b->top, b->bottom, &c->boxes[k]);
        set_rgb(cr, band_rgb(b), 1);
        cairo_set_line_width(cr, b->sat_px > 0 ? 3 : 2);
        cairo_set_dash(cr, dash, b->split ? 2 : 0, 0);
        cairo_stroke(cr);
    }
    cairo_set_dash(cr, NULL, 0, 0);

    for (size_t k = 0; k < set->n; k++) {
        const struct bq_band *b = &set->b[k];
        struct rect best, small;
        double w, h, score, size = fpx;
        char s[32];
        int sat = b->sat_px > 0, clash, small_clash;

        if (!band_ok(c->a, b))
            continue;
        bq_render_format_value(b->volume, s, sizeof s);
        text_set(c, s, size, sat, &w, &h);
        score = place_label(c, k, w + 4, h, &best, &clash);
        if (score > 0 && fpx > VOLUME_MIN_PX) {
            double ss;
            text_set(c, s, VOLUME_MIN_PX, sat, &w, &h);
            ss = place_label(c, k, w + 4, h, &small, &small_clash);
            if (ss == 0 || (clash && !small_clash)) {
                best = small;
                size = VOLUME_MIN_PX;
                clash = small_clash;
            }
        }
        if (clash) {
            c->unlabelled++;
            continue;
        }
        text_set(c, s, size, sat, &w, &h);
        halo(cr, &best, 0.75);
        text_draw(c, best.x0 + 2, best.y0, sat ? BQ_RENDER_SAT_RGB : TEXT_RGB);
        label_add(c, &best);
    }
}

/* ---- header ------------------------------------------------------------ */

/* One legend entry at (X, Y): a swatch in RGB (dashed, of line width LW)
 * and TEXT. Returns the x after it. */
static double
legend_item(struct ctx *c, double x, double y, unsigned rgb, int dashed,
            double lw, const char *text)
{
    static const double dash[] = {5, 3};
    cairo_t *cr = c->cr;

    cairo_new_path(cr);
    cairo_rectangle(cr, x + 1, y + 3, 24, 11);
    set_rgb(cr, rgb, 1);
    cairo_set_line_width(cr, lw);
    cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    x += 32;
    x += text_at(c, text, x, y, 12.5, 0, TEXT_RGB);
    return x + 18;
}

/* Title, what was done, counts (with a warning about saturated bands) and
 * the legend. */
static void
draw_header(struct ctx *c, const char *title)
{
    const struct bq_analysis *a = c->a;
    size_t empty = 0, sat = 0, split = 0;
    char line[512], bg[32] = "", nz[16];
    double x, y, w = c->g.width - 2 * MARGIN, dy = 0;
    const char *sub = c->opts ? c->opts->subtitle : NULL;

    for (size_t i = 0; i < a->layout.nlanes; i++)
        empty += a->layout.lanes[i].empty != 0;
    for (size_t k = 0; k < a->bands.n; k++) {
        sat += a->bands.b[k].sat_px > 0;
        split += a->bands.b[k].split != 0;
    }

    pango_layout_set_width(c->layout, (int)(w * PANGO_SCALE));
    pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_MIDDLE);
    text_at(c, title && *title ? title : "blotquant overlay", MARGIN, 10, 19, 1,
            TEXT_RGB);
    pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_END);
    if (sub && *sub) {
        /* which scan this is: blot, role, file */
        text_at(c, sub, MARGIN, 36, 15, 0, TEXT_RGB);
        dy = SUBTITLE_H;
    }

    /* what was done */
    if (a->bg_method != BQ_BG_NONE && a->bg_size > 0)
        snprintf(bg, sizeof bg, ", %.0f px", a->bg_size);
    snprintf(line, sizeof line,
             "%s  \u00b7  background: %s%s  \u00b7  deskew: %.2f\u00b0  "
             "\u00b7  noise \u03c3: %s",
             a->prep.polarity == BQ_POLARITY_DARK_BANDS
                 ? "dark bands (film or stain; inverted for analysis)"
                 : "light bands (chemiluminescence or fluorescence)",
             bq_bg_method_name(a->bg_method), bg, a->angle,
             bq_render_format_value(a->noise, nz, sizeof nz));
    text_at(c, line, MARGIN, 38 + dy, 13.5, 0, MUTED_RGB);

    /* what was found */
    {
        char strips[48] = "";
        if (a->layout.nstrips > 1)
            snprintf(strips, sizeof strips, "%zu strips  \u00b7  ",
                     a->layout.nstrips);
        char unl[64] = "";
        if (c->unlabelled)
            snprintf(unl, sizeof unl, " (%zu volume%s not printed: crowded)",
                     c->unlabelled, c->unlabelled == 1 ? "" : "s");
        snprintf(line, sizeof line,
                 "%s%zu lane%s (%zu empty)  \u00b7  %zu band%s%s  \u00b7  "
                 "%zu in split doublets  \u00b7  %zu saturated",
                 strips, a->layout.nlanes, a->layout.nlanes == 1 ? "" : "s",
                 empty, a->bands.n, a->bands.n == 1 ? "" : "s", unl, split,
                 sat);
        x = MARGIN + text_at(c, line, MARGIN, 58 + dy, 13.5, 0, TEXT_RGB);
    }
    if (sat && w - (x - MARGIN) - 16 >= 40) {
        /* say it in words too, in the warning colour, if there is room
         * (the counts before it already say it) */
        pango_layout_set_width(c->layout,
                               (int)((w - (x - MARGIN) - 16) * PANGO_SCALE));
        text_at(c,
                sat == 1 ? "\u26a0 its volume is only a lower bound"
                         : "\u26a0 their volumes are only lower bounds",
                x + 16, 58 + dy, 13.5, 1, BQ_RENDER_SAT_RGB);
    }
    pango_layout_set_width(c->layout, -1);
    pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_NONE);

    x = MARGIN;
    y = 82 + dy;
    x = legend_item(c, x, y, BQ_RENDER_LANE_RGB, 0, 2, "lane (number above)");
    x = legend_item(c, x, y, BQ_RENDER_LANE_RGB, 1, 2, "empty lane");
    x = legend_item(c, x, y, BQ_RENDER_BAND_RGB, 0, 2, "band, its volume");
    x = legend_item(c, x, y, BQ_RENDER_SPLIT_RGB, 1, 2, "split doublet");
    x = legend_item(c, x, y, BQ_RENDER_SAT_RGB, 0, 3,
                    "saturated (pixels at the file's maximum)");
    (void)x;
}

/* ---- lane profiles ----------------------------------------------------- */

/* The rows [*Y0, *Y1) of lane LI's strip that its profile covers. */
static void
profile_rows(const struct bq_analysis *a, size_t li, size_t *y0, size_t *y1)
{
    const struct bq_strip *sp = &a->layout.strips[a->layout.lanes[li].strip];

    *y0 = (size_t)bq_clampd(sp->top, 0, (double)a->signal->height);
    *y1 = (size_t)bq_clampd(sp->bottom, 0, (double)a->signal->height);
    if (*y1 < *y0)
        *y1 = *y0;
}

/* One plot: lane LI's profile P (from profile_rows, overwritten) in the
 * cell at (X, Y), band extents shaded, zero dashed. */
static void
draw_profile(struct ctx *c, size_t li, double x, double y, double *p)
{
    const struct bq_analysis *a = c->a;
    const struct bq_lane *ln = &a->layout.lanes[li];
    cairo_t *cr = c->cr;
    double w = c->g.profile_w, h = c->g.profile_h;
    double px0 = x + 8, px1 = x + w - 8, py0 = y + 24, py1 = y + h - 8;
    double lo = 0, hi = -INFINITY, sx, sy, title_w;
    size_t y0, y1, n;
    const char *lbl = lane_label(a, c->opts, li);
    char s[64], v[16], top[32] = "";
    static const double dash[] = {4, 3};

    profile_rows(a, li, &y0, &y1);
    n = y1 - y0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i]))
            p[i] = 0;
        lo = fmin(lo, p[i]);
        hi = fmax(hi, p[i]);
    }
    if (n > 0)
        snprintf(top, sizeof top, "max %s",
                 bq_render_format_value(hi, v, sizeof v));
    cairo_rectangle(cr, x + 0.5, y + 0.5, w - 1, h - 1);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    if (a->layout.nstrips > 1)
        snprintf(s, sizeof s, "strip %zu \u00b7 lane %zu%s", ln->strip + 1,
                 ln->index + 1, ln->empty ? " (empty)" : "");
    else
        snprintf(s, sizeof s, "lane %zu%s", ln->index + 1,
                 ln->empty ? " (empty)" : "");
    title_w = text_at(c, s, x + 8, y + 4, 12.5, 1, BQ_RENDER_LANE_RGB);
    if (lbl) {
        /* the condition after the number, beside the largest value if
         * both fit, else the value moves into the plot; cut in the middle
         * if even that is too short, so that the dose stays */
        double mw = 0, mh, nw, room = w - 16 - title_w - 8, lw;
        if (top[0])
            text_set(c, top, 11, 0, &mw, &mh);
        text_set(c, lbl, 11.5, 0, &nw, &mh);
        lw = room - (mw > 0 ? mw + 12 : 0);
        if (nw > lw)
            lw = room;
        if (lw > 24) {
            pango_layout_set_width(c->layout, (int)(lw * PANGO_SCALE));
            pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_MIDDLE);
            title_w += 8 + text_at(c, lbl, x + 8 + title_w + 8, y + 5, 11.5, 0,
                                   TEXT_RGB);
            pango_layout_set_width(c->layout, -1);
            pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_NONE);
        }
    }
    if (n == 0)
        return;
    if (!(hi > lo))
        hi = lo + 1;
    hi += 0.06 * (hi - lo);
    sx = (px1 - px0) / (double)(n > 1 ? n : 1);
    sy = (py1 - py0) / (hi - lo);

    /* band extents */
    for (size_t k = 0; k < a->bands.n; k++) {
        const struct bq_band *b = &a->bands.b[k];
        double t, u;
        if (b->lane != li || !band_ok(c->a, b))
            continue;
        t = bq_clampd(b->top - (double)y0, 0, (double)n);
        u = bq_clampd(b->bottom - (double)y0, 0, (double)n);
        cairo_rectangle(cr, px0 + t * sx, py0, (u - t) * sx, py1 - py0);
        set_rgb(cr, band_rgb(b), b->sat_px > 0 ? 0.35 : 0.25);
        cairo_fill(cr);
    }
    /* each band's local baseline (what was removed under it) */
    for (size_t k = 0; k < a->bands.n; k++) {
        const struct bq_band *b = &a->bands.b[k];
        double t, u, yb;
        if (b->lane != li || !band_ok(c->a, b) || b->baseline == 0 ||
            !isfinite(b->baseline))
            continue;
        t = bq_clampd(b->sum_top - (double)y0, 0, (double)n);
        u = bq_clampd(b->sum_bottom - (double)y0, 0, (double)n);
        yb = bq_clampd(py1 - (b->baseline - lo) * sy, py0, py1);
        cairo_move_to(cr, px0 + t * sx, yb);
        cairo_line_to(cr, px0 + u * sx, yb);
        set_rgb(cr, band_rgb(b), 1.0);
        cairo_set_line_width(cr, 1.5);
        cairo_stroke(cr);
    }
    /* zero */
    cairo_move_to(cr, px0, py1 - (0 - lo) * sy);
    cairo_line_to(cr, px1, py1 - (0 - lo) * sy);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    /* the profile, sample i at the middle of its row. A long profile
     * (thousands of rows in a plot 200-odd px wide) keeps per pixel column
     * its lowest and highest sample, in their order, or just one where
     * they lie within a pixel: the same picture for a tenth of the
     * stroking, which cost 1 ms per plot (20 ms for a 4096x3072 scan).
     * Bevel joins and cairo's fast antialiasing (4x4 samples) are as
     * sharp at 1.3 px and cost half again. */
    cairo_new_path(cr);
    if ((double)n <= 2 * (px1 - px0)) {
        for (size_t i = 0; i < n; i++)
            cairo_line_to(cr, px0 + ((double)i + 0.5) * sx,
                          py1 - (p[i] - lo) * sy);
    } else {
        size_t ncol = (size_t)ceil(px1 - px0), i0 = 0;
        for (size_t col = 0; col < ncol; col++) {
            size_t i1 = col + 1 == ncol ? n : (col + 1) * n / ncol, imin, imax;
            if (i1 <= i0)
                continue;
            imin = imax = i0;
            for (size_t i = i0 + 1; i < i1; i++) {
                if (p[i] < p[imin])
                    imin = i;
                if (p[i] > p[imax])
                    imax = i;
            }
            if ((p[imax] - p[imin]) * sy < 1) {
                size_t im = (i0 + i1) / 2;
                cairo_line_to(cr, px0 + ((double)im + 0.5) * sx,
                              py1 - (0.5 * (p[imin] + p[imax]) - lo) * sy);
            } else {
                size_t a0 = imin < imax ? imin : imax,
                       a1 = imin < imax ? imax : imin;
                cairo_line_to(cr, px0 + ((double)a0 + 0.5) * sx,
                              py1 - (p[a0] - lo) * sy);
                cairo_line_to(cr, px0 + ((double)a1 + 0.5) * sx,
                              py1 - (p[a1] - lo) * sy);
            }
            i0 = i1;
        }
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_set_line_width(cr, 1.3);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_BEVEL);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_FAST);
    cairo_stroke(cr);
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);

    /* the largest value, top right (inside the plot, on a halo, if the
     * title leaves no room beside it) */
    {
        double tw, th, ty = y + 5;
        text_set(c, top, 11, 0, &tw, &th);
        if (8 + title_w + 12 + tw + 8 > w) {
            struct rect r = {x + w - 10 - tw, py0, x + w - 8, py0 + th};
            ty = py0;
            halo(cr, &r, 0.85);
        }
        text_draw(c, x + w - 8 - tw, ty, MUTED_RGB);
    }
}

/* One profile plot to draw: its lane, cell and samples. */
struct plot {
    size_t li;   /* lane */
    double x, y; /* top-left corner of the cell, PNG px */
    size_t off;  /* its samples in the shared buffer */
};

struct profile_job {
    const struct bq_analysis *a;
    const struct plot *plots;
    double *buf; /* every plot's samples */
};

/* Computes the profiles of plots [LO, HI) (lanes are independent). */
static void
profile_plots(void *ctx, size_t lo, size_t hi)
{
    const struct profile_job *j = ctx;

    for (size_t i = lo; i < hi; i++) {
        size_t y0, y1, li = j->plots[i].li;
        profile_rows(j->a, li, &y0, &y1);
        bq_lane_profile(j->a->signal, &j->a->layout.lanes[li], y0, y1,
                        j->buf + j->plots[i].off);
    }
}

/* The panel of lane profiles (only when the signal image was kept). The
 * profiles are computed first, on all processors (each reads a column
 * of the scan: a page per row), then drawn. */
static enum bq_status
draw_profiles(struct ctx *c, struct bq_error *err)
{
    const struct bq_analysis *a = c->a;
    const struct bq_render_geom *g = &c->g;
    size_t skipped = 0, nplots = 0, total = 0;
    struct plot *plots = NULL;
    struct profile_job job;
    char caption[256];
    int row = 0;

    if (g->profiles_y < 0)
        return BQ_OK;
    plots = bq_alloc_array(a->layout.nlanes, sizeof *plots);
    if (!plots)
        return bq_error_set(err, BQ_ERR_NOMEM, "render %s: out of memory",
                            c->path);
    for (size_t s = 0; s < a->layout.nstrips; s++) {
        const struct bq_strip *sp = &a->layout.strips[s];
        for (size_t k = 0; k < sp->nlanes; k++) {
            size_t li = sp->first_lane + k, y0, y1;
            int col = (int)(k % (size_t)g->profile_cols);
            int r = row + (int)(k / (size_t)g->profile_cols);
            if (li >= a->layout.nlanes || a->layout.lanes[li].strip != s ||
                !lane_ok(a, li) || nplots == a->layout.nlanes)
                continue;
            if (r >= g->profile_rows) {
                skipped++;
                continue;
            }
            profile_rows(a, li, &y0, &y1);
            plots[nplots].li = li;
            plots[nplots].x = MARGIN + col * (g->profile_w + PROF_GAP);
            plots[nplots].y =
                g->profiles_y + PROF_TITLE_H + r * (g->profile_h + PROF_GAP);
            plots[nplots].off = total;
            total += y1 - y0;
            nplots++;
        }
        row += (int)((sp->nlanes + (size_t)g->profile_cols - 1) /
                     (size_t)g->profile_cols);
    }
    job.a = a;
    job.plots = plots;
    job.buf = bq_alloc_array(total ? total : 1, sizeof *job.buf);
    if (!job.buf) {
        free(plots);
        return bq_error_set(err, BQ_ERR_NOMEM, "render %s: out of memory",
                            c->path);
    }
    bq_parallel_for(nplots, 0, profile_plots, &job);
    for (size_t i = 0; i < nplots; i++)
        draw_profile(c, plots[i].li, plots[i].x, plots[i].y,
                     job.buf + plots[i].off);
    if (skipped)
        snprintf(caption, sizeof caption,
                 "Lane profiles, top \u2192 bottom (%zu more lanes: see the "
                 "CSV) \u00b7 shaded: bands \u00b7 solid: local baseline "
                 "\u00b7 dashed: zero",
                 skipped);
    else
        snprintf(caption, sizeof caption,
                 "Lane profiles (mean of each lane's central half), top "
                 "\u2192 bottom \u00b7 shaded: bands \u00b7 solid: local "
                 "baseline \u00b7 dashed: zero");
    text_at(c, caption, MARGIN, g->profiles_y + 4, 13, 0, TEXT_RGB);
    free(job.buf);
    free(plots);
    return BQ_OK;
}

/* ---- writing ----------------------------------------------------------- */

struct sink {
    FILE *f;
    int err; /* errno of the first failed write, or 0 */
};

static cairo_status_t
sink_write(void *closure, const unsigned char *data, unsigned int len)
{
    struct sink *s = closure;

    if (fwrite(data, 1, len, s->f) != len) {
        s->err = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

enum bq_status
bq_render_write_png(cairo_surface_t *surf, const char *path,
                    struct bq_error *err)
{
    struct sink s = {NULL, 0};
    cairo_status_t cs;
    cairo_format_t fmt;
    int close_failed;

    /* Image surfaces (everything blotquant draws) go through libpng at a
     * fast zlib level: cairo's own writer uses zlib's default level, which
     * took 0.4 s for the overlay of a 4096x3072 scan, three times the whole
     * analysis. */
    cairo_surface_flush(surf);
    fmt = cairo_surface_get_type(surf) == CAIRO_SURFACE_TYPE_IMAGE
              ? cairo_image_surface_get_format(surf)
              : CAIRO_FORMAT_INVALID;
    if (fmt == CAIRO_FORMAT_RGB24 || fmt == CAIRO_FORMAT_ARGB32) {
        const unsigned char *data = cairo_image_surface_get_data(surf);
        int w = cairo_image_surface_get_width(surf);
        int h = cairo_image_surface_get_height(surf);
        int stride = cairo_image_surface_get_stride(surf);
        if (!data || w <= 0 || h <= 0 || stride <= 0)
            return bq_error_set(err, BQ_ERR_RENDER,
                                "cannot write %s: the image is empty", path);
        return bq_png_write_rgb(path, data, (size_t)w, (size_t)h,
                                (size_t)stride, fmt == CAIRO_FORMAT_ARGB32,
                                BQ_PNG_FAST, err);
    }

    /* anything else: cairo's writer */
    s.f = fopen(path, "wb");
    if (!s.f)
        return bq_write_error(err, path, errno);
    errno = 0;
    cs = cairo_surface_write_to_png_stream(surf, sink_write, &s);
    close_failed = fclose(s.f) != 0;
    if (cs != CAIRO_STATUS_SUCCESS || close_failed) {
        int e = s.err ? s.err : errno;
        remove(path);
        if (cs != CAIRO_STATUS_SUCCESS && cs != CAIRO_STATUS_WRITE_ERROR)
            return bq_error_set(err, BQ_ERR_RENDER,
                                "cannot write %s: %s", path,
                                cairo_status_to_string(cs));
        return bq_write_error(err, path, e ? e : EIO);
    }
    return BQ_OK;
}

/* ---- public entry ------------------------------------------------------ */

enum bq_status
bq_render_overlay(const char *png_path, const struct bq_image *display,
                  const struct bq_analysis *a, const char *title,
                  struct bq_error *err)
{
    return bq_render_overlay_ex(png_path, display, a, title, NULL, err);
}

enum bq_status
bq_render_overlay_ex(const char *png_path, const struct bq_image *display,
                     const struct bq_analysis *a, const char *title,
                     const struct bq_render_opts *opts, struct bq_error *err)
{
    struct ctx c;
    cairo_surface_t *surf = NULL;
    enum bq_status st = BQ_OK;

    memset(&c, 0, sizeof c);
    if (!png_path || !a) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "render: no output path or no analysis");
        goto out;
    }
    if ((a->layout.nlanes && !a->layout.lanes) ||
        (a->layout.nstrips && !a->layout.strips) ||
        (a->bands.n && !a->bands.b)) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "render %s: the analysis result is incomplete",
                          png_path);
        goto out;
    }
    for (size_t k = 0; k < a->bands.n; k++)
        if (a->bands.b[k].lane >= a->layout.nlanes) {
            st = bq_error_set(err, BQ_ERR_INVALID,
                              "render %s: band %zu refers to lane %zu of %zu",
                              png_path, k + 1, a->bands.b[k].lane + 1,
                              a->layout.nlanes);
            goto out;
        }
    bq_render_geometry_ex(a, opts, &c.g);
    if (display && (!display->px || ((display->width != a->width ||
                                      display->height != a->height) &&
                                     !is_reduced(a, &c.g, display)))) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "render %s: the display image is %zux%zu but the "
                          "scan is %zux%zu",
                          png_path, display->width, display->height, a->width,
                          a->height);
        goto out;
    }
    c.a = a;
    c.opts = opts;
    c.path = png_path;

    surf =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, c.g.width, c.g.height);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        st = bq_error_set(err, BQ_ERR_RENDER,
                          "render %s: cannot create a %dx%d image (%s)",
                          png_path, c.g.width, c.g.height,
                          cairo_status_to_string(cairo_surface_status(surf)));
        goto out;
    }
    c.cr = cairo_create(surf);
    c.layout = pango_cairo_create_layout(c.cr);
    c.font = pango_font_description_from_string("Sans");
    c.boxes = bq_calloc_array(a->bands.n ? a->bands.n : 1, sizeof *c.boxes);
    if (!c.boxes) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "render %s: out of memory",
                          png_path);
        goto out;
    }
    if (cairo_status(c.cr) != CAIRO_STATUS_SUCCESS || !c.layout || !c.font) {
        st = bq_error_set(err, BQ_ERR_RENDER,
                          "render %s: cannot start drawing (%s)", png_path,
                          cairo_status_to_string(cairo_status(c.cr)));
        goto out;
    }

    cairo_set_source_rgb(c.cr, 1, 1, 1);
    cairo_paint(c.cr);
    if (display) {
        st = draw_scan(&c, display, err);
        if (st != BQ_OK)
            goto out;
    }
    /* a thin frame around the scan */
    cairo_rectangle(c.cr, c.g.blot_x - 0.5, c.g.blot_y - 0.5, c.g.blot_w + 1,
                    c.g.blot_h + 1);
    cairo_set_source_rgb(c.cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(c.cr, 1);
    cairo_stroke(c.cr);

    draw_lanes(&c);
    draw_labels(&c);
    draw_bands(&c);
    draw_header(&c, title); /* after the bands: it counts the unprinted */
    st = draw_profiles(&c, err);
    if (st != BQ_OK)
        goto out;

    cairo_surface_flush(surf);
    if (cairo_status(c.cr) != CAIRO_STATUS_SUCCESS) {
        st = bq_error_set(err, BQ_ERR_RENDER, "render %s: drawing failed (%s)",
                          png_path, cairo_status_to_string(cairo_status(c.cr)));
        goto out;
    }
    st = bq_render_write_png(surf, png_path, err);

out:
    free(c.boxes);
    free(c.labels);
    free(c.lanes);
    if (c.font)
        pango_font_description_free(c.font);
    if (c.layout)
        g_object_unref(c.layout);
    if (c.cr)
        cairo_destroy(c.cr);
    cairo_surface_destroy(surf);
    return st;
}
