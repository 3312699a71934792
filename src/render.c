/* Render stage: the overlay PNG of one analysed scan (cairo + pango).
 *
 * This is the only file of the library that includes cairo.h and pango. It
 * draws from the analysis result only: the display image is shown, never
 * measured, and every box, label and profile comes from bq_analysis. */
#include "blotquant/render.h"
#include "render_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "util.h"

/* ---- geometry ---------------------------------------------------------- */

enum {
    OUT_MAX_W = 1600,   /* widest blot panel, px */
    OUT_MIN_W = 800,    /* narrower scans are enlarged (up to MAX_UPSCALE) */
    OUT_MAX_H = 2000,   /* tallest blot panel, px */
    CANVAS_MIN_W = 960, /* room for the header text */
    MARGIN = 16,        /* around everything */
    HEADER_H = 104,     /* title, summary line, legend */
    LABEL_PAD = 28,     /* above the blot: lane numbers of a strip at y=0 */
    BELOW_PAD = 30,     /* below the blot: volumes of bands at the bottom */
    PROF_TITLE_H = 30,  /* caption of the profile panel */
    PROF_MIN_W = 240,   /* narrowest profile plot */
    PROF_H = 132,       /* height of one profile plot */
    PROF_GAP = 10,      /* between profile plots */
    PROF_MAX_ROWS = 20  /* more lanes than fit are not plotted (said so) */
};
#define MAX_UPSCALE 4.0

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

void
bq_render_geometry(const struct bq_analysis *a, struct bq_render_geom *g)
{
    double w = a->width ? (double)a->width : 1;
    double h = a->height ? (double)a->height : 1;
    double s = 1, ext_l = 0, ext_r = 0, ext_t = 0, ext_b = 0;
    int y;

    memset(g, 0, sizeof *g);
    if (w > OUT_MAX_W)
        s = OUT_MAX_W / w;
    else if (w < OUT_MIN_W)
        s = fmin(OUT_MIN_W / w, MAX_UPSCALE);
    if (h * s > OUT_MAX_H)
        s = OUT_MAX_H / h;
    g->scale = s;
    g->blot_w = (int)lround(w * s);
    g->blot_h = (int)lround(h * s);
    if (g->blot_w < 1)
        g->blot_w = 1;
    if (g->blot_h < 1)
        g->blot_h = 1;
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
    g->width = g->blot_w + 2 * MARGIN + (int)ext_l + (int)ext_r;
    g->blot_x = MARGIN + (int)ext_l;
    if (g->width < CANVAS_MIN_W) {
        g->blot_x += (CANVAS_MIN_W - g->width) / 2;
        g->width = CANVAS_MIN_W;
    }
    g->blot_y = HEADER_H + LABEL_PAD + (int)ext_t;
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
bq_render_map_point(const struct bq_analysis *a, const struct bq_render_geom *g,
                    double x, double y, double *px, double *py)
{
    double ox = x, oy = y;

    if (a->angle != 0)
        bq_rotate_point(a->width, a->height, a->angle, x, y, &ox, &oy);
    *px = g->blot_x + (ox + 0.5) * g->scale;
    *py = g->blot_y + (oy + 0.5) * g->scale;
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

struct ctx {
    cairo_t *cr;
    PangoLayout *layout; /* reused for every text */
    PangoFontDescription *font;
    const struct bq_analysis *a;
    const char *path; /* of the PNG, for messages */
    struct bq_render_geom g;
    struct rect *boxes;  /* bounding box of each band, PNG px */
    struct rect *labels; /* labels placed so far (obstacles) */
    size_t nlabels, cap;
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

/* Box-filters DISPLAY to the blot panel size into OUT (blot_w*blot_h
 * floats): each panel pixel is the mean of the scan pixels it covers (or the
 * nearest pixel when enlarging). COL is scratch space of DISPLAY's width. */
static void
downsample(const struct bq_image *d, const struct bq_render_geom *g, float *out,
           double *col)
{
    double inv = 1.0 / g->scale;

    for (int j = 0; j < g->blot_h; j++) {
        size_t y0 = (size_t)floor(j * inv), y1 = (size_t)floor((j + 1) * inv);
        if (y0 >= d->height)
            y0 = d->height - 1;
        if (y1 <= y0)
            y1 = y0 + 1;
        if (y1 > d->height)
            y1 = d->height;
        for (size_t x = 0; x < d->width; x++)
            col[x] = 0;
        for (size_t y = y0; y < y1; y++) {
            const float *r = bq_row(d, y);
            for (size_t x = 0; x < d->width; x++)
                col[x] += isfinite(r[x]) ? r[x] : 0;
        }
        for (int i = 0; i < g->blot_w; i++) {
            size_t x0 = (size_t)floor(i * inv),
                   x1 = (size_t)floor((i + 1) * inv);
            double s = 0;
            if (x0 >= d->width)
                x0 = d->width - 1;
            if (x1 <= x0)
                x1 = x0 + 1;
            if (x1 > d->width)
                x1 = d->width;
            for (size_t x = x0; x < x1; x++)
                s += col[x];
            out[(size_t)j * (size_t)g->blot_w + (size_t)i] =
                (float)(s / (double)((x1 - x0) * (y1 - y0)));
        }
    }
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

/* Paints the scan DISPLAY into the blot panel. */
static enum bq_status
draw_scan(struct ctx *c, const struct bq_image *d, struct bq_error *err)
{
    const struct bq_render_geom *g = &c->g;
    size_t npx = (size_t)g->blot_w * (size_t)g->blot_h, ns = 0;
    float *buf = NULL, *sample = NULL;
    unsigned char *mask = NULL;
    double *col = NULL;
    cairo_surface_t *img = NULL;
    enum bq_status st = BQ_OK;
    double lo, med, hi, noise, k, kn;
    unsigned char *data;
    int stride;

    buf = bq_alloc_array(npx, sizeof *buf);
    sample = bq_alloc_array(npx, sizeof *sample);
    col = bq_alloc_array(d->width, sizeof *col);
    if (!buf || !sample || !col) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "render %s: out of memory",
                          c->path);
        goto out;
    }
    downsample(d, g, buf, col);

    /* Levels from where the lanes are, without the surround (frame) that
     * prepare found: a bright or dark frame would otherwise set the black
     * or white point and wash the bands out. */
    mask = bq_calloc_array(npx, 1);
    if (!mask) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "render %s: out of memory",
                          c->path);
        goto out;
    }
    lane_mask(c, mask);
    for (int pass = 0; pass < 3 && ns < npx / 100 + 1; pass++) {
        /* 0: lanes without frame; 1: whole panel without frame; 2: all */
        int use_mask = pass == 0, use_frame = pass < 2 && c->a->prep.frame;
        double fl = c->a->prep.frame_level, ml = c->a->prep.membrane_level;
        double mid = 0.5 * (fl + ml);
        ns = 0;
        for (size_t i = 0; i < npx; i++) {
            if (use_mask && !mask[i])
                continue;
            if (use_frame && (fl > ml ? buf[i] > mid : buf[i] < mid))
                continue;
            sample[ns++] = buf[i];
        }
    }
    lo = bq_select_f(sample, ns, 0.01);
    med = bq_select_f(sample, ns, 0.5);
    hi = bq_select_f(sample, ns, 0.997);
    if (!(hi > med))
        hi = med + 1;
    if (!(med > lo))
        lo = med - 1e-6 * (hi - med) - 1e-30;
    noise = bq_noise_sigma(buf, (size_t)g->blot_w, 0, 0, (size_t)g->blot_w,
                           (size_t)g->blot_h);
    k = noise > 0 ? (hi - med) / (6 * noise) : STRETCH_K_MAX;
    k = bq_clampd(k, STRETCH_K_MIN, STRETCH_K_MAX);
    kn = asinh(k);

    img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, g->blot_w, g->blot_h);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        st = bq_error_set(err, BQ_ERR_RENDER,
                          "render %s: cannot create a %dx%d image (%s)",
                          c->path, g->blot_w, g->blot_h,
                          cairo_status_to_string(cairo_surface_status(img)));
        goto out;
    }
    cairo_surface_flush(img);
    data = cairo_image_surface_get_data(img);
    stride = cairo_image_surface_get_stride(img);
    for (int j = 0; j < g->blot_h; j++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)j * (size_t)stride);
        for (int i = 0; i < g->blot_w; i++) {
            double v = buf[(size_t)j * (size_t)g->blot_w + (size_t)i], dark;
            unsigned q;
            if (v >= med) {
                double t = bq_clampd((v - med) / (hi - med), 0, 1);
                dark =
                    STRETCH_BG_DARK + (1 - STRETCH_BG_DARK) * asinh(k * t) / kn;
            } else {
                dark = STRETCH_BG_DARK * bq_clampd((v - lo) / (med - lo), 0, 1);
            }
            q = (unsigned)lround(255 * (1 - dark));
            row[i] = (uint32_t)(q << 16 | q << 8 | q);
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_set_source_surface(c->cr, img, g->blot_x, g->blot_y);
    cairo_rectangle(c->cr, g->blot_x, g->blot_y, g->blot_w, g->blot_h);
    cairo_fill(c->cr);

out:
    cairo_surface_destroy(img);
    free(mask);
    free(buf);
    free(sample);
    free(col);
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
    for (size_t i = 0; i < l->nlanes; i++) {
        const struct bq_lane *ln = &l->lanes[i];
        const struct bq_strip *sp;
        if (!lane_ok(c->a, i))
            continue;
        sp = &l->strips[ln->strip];
        box_path(c, ln->left, ln->right, sp->top, sp->bottom, NULL);
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

/* Chooses where band K's label of W x H px goes: the first of below /
 * above / right / left / inside its box that collides with no other label
 * or band box and stays on the canvas, else the least bad of them. Stores
 * it in BEST and returns its badness (0 = free; about px^2 overlapped). */
static double
place_label(const struct ctx *c, size_t k, double w, double h,
            struct rect *best)
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
    for (int q = 0; q < 5; q++) {
        const struct rect *r = &cand[q];
        double area = (r->x1 - r->x0) * (r->y1 - r->y0), score = 0;
        /* labels keep 2 px apart */
        struct rect pad = {r->x0 - 2, r->y0 - 2, r->x1 + 2, r->y1 + 2};
        for (size_t j = 0; j < c->nlabels; j++)
            score += 4 * overlap(&pad, &c->labels[j]);
        for (size_t j = 0; j < set->n; j++)
            if (j != k)
                score += overlap(r, &c->boxes[j]);
        score += 4 * (area - overlap(r, &canvas));
        if (q == 4) /* inside hides the band itself: a last resort */
            score += 0.5 * area + 1;
        if (score < best_score) {
            best_score = score;
            *best = *r;
        }
        if (score == 0)
            break;
    }
    return best_score;
}

#define VOLUME_MIN_PX 10.0 /* smaller volume label where crowded, px */

/* Outlines every band (saturated: vermilion and thicker; split doublets:
 * dashed) and prints its volume next to it, in a smaller font where that
 * avoids every collision the normal one has. */
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
        int sat = b->sat_px > 0;

        if (!band_ok(c->a, b))
            continue;
        bq_render_format_value(b->volume, s, sizeof s);
        text_set(c, s, size, sat, &w, &h);
        score = place_label(c, k, w + 4, h, &best);
        if (score > 0 && fpx > VOLUME_MIN_PX) {
            text_set(c, s, VOLUME_MIN_PX, sat, &w, &h);
            if (place_label(c, k, w + 4, h, &small) == 0) {
                best = small;
                size = VOLUME_MIN_PX;
            }
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
    double x, y, w = c->g.width - 2 * MARGIN;

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
    text_at(c, line, MARGIN, 38, 13.5, 0, MUTED_RGB);

    /* what was found */
    {
        char strips[48] = "";
        if (a->layout.nstrips > 1)
            snprintf(strips, sizeof strips, "%zu strips  \u00b7  ",
                     a->layout.nstrips);
        snprintf(line, sizeof line,
                 "%s%zu lane%s (%zu empty)  \u00b7  %zu band%s  \u00b7  "
                 "%zu in split doublets  \u00b7  %zu saturated",
                 strips, a->layout.nlanes, a->layout.nlanes == 1 ? "" : "s",
                 empty, a->bands.n, a->bands.n == 1 ? "" : "s", split, sat);
        x = MARGIN + text_at(c, line, MARGIN, 58, 13.5, 0, TEXT_RGB);
    }
    if (sat) {
        /* say it in words too, in the warning colour */
        pango_layout_set_width(c->layout,
                               (int)((w - (x - MARGIN) - 16) * PANGO_SCALE));
        text_at(c,
                sat == 1 ? "\u26a0 its volume is only a lower bound"
                         : "\u26a0 their volumes are only lower bounds",
                x + 16, 58, 13.5, 1, BQ_RENDER_SAT_RGB);
    }
    pango_layout_set_width(c->layout, -1);
    pango_layout_set_ellipsize(c->layout, PANGO_ELLIPSIZE_NONE);

    x = MARGIN;
    y = 82;
    x = legend_item(c, x, y, BQ_RENDER_LANE_RGB, 0, 2, "lane (number above)");
    x = legend_item(c, x, y, BQ_RENDER_LANE_RGB, 1, 2, "empty lane");
    x = legend_item(c, x, y, BQ_RENDER_BAND_RGB, 0, 2, "band, its volume");
    x = legend_item(c, x, y, BQ_RENDER_SPLIT_RGB, 1, 2, "split doublet");
    x = legend_item(c, x, y, BQ_RENDER_SAT_RGB, 0, 3,
                    "saturated (pixels at the file's maximum)");
    (void)x;
}

/* ---- lane profiles ----------------------------------------------------- */

/* One plot: lane LI's profile in the cell at (X, Y), band extents shaded,
 * zero dashed. P is scratch of the strip's height. */
static void
draw_profile(struct ctx *c, size_t li, double x, double y, double *p)
{
    const struct bq_analysis *a = c->a;
    const struct bq_lane *ln = &a->layout.lanes[li];
    const struct bq_strip *sp = &a->layout.strips[ln->strip];
    cairo_t *cr = c->cr;
    double w = c->g.profile_w, h = c->g.profile_h;
    double px0 = x + 8, px1 = x + w - 8, py0 = y + 24, py1 = y + h - 8;
    double lo = 0, hi = -INFINITY, sx, sy, title_w;
    size_t y0 = (size_t)bq_clampd(sp->top, 0, (double)a->signal->height);
    size_t y1 = (size_t)bq_clampd(sp->bottom, 0, (double)a->signal->height);
    size_t n = y1 > y0 ? y1 - y0 : 0;
    char s[64], v[16];
    static const double dash[] = {4, 3};

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
    if (n == 0)
        return;

    bq_lane_profile(a->signal, ln, y0, y1, p);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i]))
            p[i] = 0;
        lo = fmin(lo, p[i]);
        hi = fmax(hi, p[i]);
    }
    snprintf(s, sizeof s, "max %s", bq_render_format_value(hi, v, sizeof v));
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
    /* zero */
    cairo_move_to(cr, px0, py1 - (0 - lo) * sy);
    cairo_line_to(cr, px1, py1 - (0 - lo) * sy);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    /* the profile, sample i at the middle of its row */
    cairo_new_path(cr);
    for (size_t i = 0; i < n; i++)
        cairo_line_to(cr, px0 + ((double)i + 0.5) * sx, py1 - (p[i] - lo) * sy);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_set_line_width(cr, 1.3);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cr);

    /* the largest value, top right (inside the plot, on a halo, if the
     * title leaves no room beside it) */
    {
        double tw, th, ty = y + 5;
        text_set(c, s, 11, 0, &tw, &th);
        if (8 + title_w + 12 + tw + 8 > w) {
            struct rect r = {x + w - 10 - tw, py0, x + w - 8, py0 + th};
            ty = py0;
            halo(cr, &r, 0.85);
        }
        text_draw(c, x + w - 8 - tw, ty, MUTED_RGB);
    }
}

/* The panel of lane profiles (only when the signal image was kept). */
static enum bq_status
draw_profiles(struct ctx *c, struct bq_error *err)
{
    const struct bq_analysis *a = c->a;
    const struct bq_render_geom *g = &c->g;
    size_t maxh = 1, skipped = 0;
    double *p = NULL;
    char caption[256];
    int row = 0;

    if (g->profiles_y < 0)
        return BQ_OK;
    maxh = a->signal->height;
    p = bq_alloc_array(maxh, sizeof *p);
    if (!p)
        return bq_error_set(err, BQ_ERR_NOMEM, "render %s: out of memory",
                            c->path);

    for (size_t s = 0; s < a->layout.nstrips; s++) {
        const struct bq_strip *sp = &a->layout.strips[s];
        for (size_t k = 0; k < sp->nlanes; k++) {
            size_t li = sp->first_lane + k;
            int col = (int)(k % (size_t)g->profile_cols);
            int r = row + (int)(k / (size_t)g->profile_cols);
            if (li >= a->layout.nlanes || a->layout.lanes[li].strip != s ||
                !lane_ok(a, li))
                continue;
            if (r >= g->profile_rows) {
                skipped++;
                continue;
            }
            draw_profile(c, li, MARGIN + col * (g->profile_w + PROF_GAP),
                         g->profiles_y + PROF_TITLE_H +
                             r * (g->profile_h + PROF_GAP),
                         p);
        }
        row += (int)((sp->nlanes + (size_t)g->profile_cols - 1) /
                     (size_t)g->profile_cols);
    }
    if (skipped)
        snprintf(caption, sizeof caption,
                 "Lane profiles (%zu more lanes not plotted: see the CSV): "
                 "mean over the central half of each lane, strip top "
                 "\u2192 bottom; shaded: bands; dashed: zero",
                 skipped);
    else
        snprintf(caption, sizeof caption,
                 "Lane profiles: mean signal over the central half of each "
                 "lane, strip top \u2192 bottom (left \u2192 right); shaded: "
                 "band extents; dashed: zero");
    text_at(c, caption, MARGIN, g->profiles_y + 4, 13, 0, TEXT_RGB);
    free(p);
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

/* Fills ERR with why PATH cannot be written (errno E), in plain words. */
static enum bq_status
write_error(struct bq_error *err, const char *path, int e)
{
    char sys[128];

    switch (e) {
    case ENOENT:
        return bq_error_set(err, BQ_ERR_IO,
                            "cannot write %s: its folder does "
                            "not exist",
                            path);
    case EACCES:
    case EPERM:
        return bq_error_set(err, BQ_ERR_IO,
                            "cannot write %s: permission denied",
                            path);
    case ENOSPC:
        return bq_error_set(err, BQ_ERR_IO,
                            "cannot write %s: the disk is full",
                            path);
    case ENOTDIR:
        return bq_error_set(err, BQ_ERR_IO,
                            "cannot write %s: part of this path "
                            "is a file, not a folder",
                            path);
    default:
        if (strerror_r(e, sys, sizeof sys) != 0)
            snprintf(sys, sizeof sys, "error %d", e);
        return bq_error_set(err, BQ_ERR_IO, "cannot write %s: %s",
                            path, sys);
    }
}

enum bq_status
bq_render_write_png(cairo_surface_t *surf, const char *path,
                    struct bq_error *err)
{
    struct sink s = {NULL, 0};
    cairo_status_t cs;
    int close_failed;

    s.f = fopen(path, "wb");
    if (!s.f)
        return write_error(err, path, errno);
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
        return write_error(err, path, e ? e : EIO);
    }
    return BQ_OK;
}

/* ---- public entry ------------------------------------------------------ */

enum bq_status
bq_render_overlay(const char *png_path, const struct bq_image *display,
                  const struct bq_analysis *a, const char *title,
                  struct bq_error *err)
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
    if (display && (display->width != a->width ||
                    display->height != a->height || !display->px)) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "render %s: the display image is %zux%zu but the "
                          "scan is %zux%zu",
                          png_path, display->width, display->height, a->width,
                          a->height);
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
    c.a = a;
    c.path = png_path;
    bq_render_geometry(a, &c.g);

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

    draw_header(&c, title);
    draw_lanes(&c);
    draw_bands(&c);
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
    if (c.font)
        pango_font_description_free(c.font);
    if (c.layout)
        g_object_unref(c.layout);
    if (c.cr)
        cairo_destroy(c.cr);
    cairo_surface_destroy(surf);
    return st;
}
