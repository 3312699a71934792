/* Background stage: FFT lower envelope (default), rolling ball, none. */
#include "blotquant/background.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"
#include "parallel.h"
#include "util.h"

void
bq_bg_opts_init(struct bq_bg_opts *o)
{
    o->method = BQ_BG_FFT;
    o->size = 0;
    o->iterations = 40;
    o->clip_k = 2.0;
}

int
bq_bg_method_parse(const char *s, enum bq_bg_method *out)
{
    if (!strcmp(s, "fft"))
        *out = BQ_BG_FFT;
    else if (!strcmp(s, "rolling-ball"))
        *out = BQ_BG_ROLLING_BALL;
    else if (!strcmp(s, "none"))
        *out = BQ_BG_NONE;
    else
        return -1;
    return 0;
}

const char *
bq_bg_method_name(enum bq_bg_method m)
{
    switch (m) {
    case BQ_BG_FFT: return "fft";
    case BQ_BG_ROLLING_BALL: return "rolling-ball";
    case BQ_BG_NONE: return "none";
    }
    return "?";
}

void
bq_background_fini(struct bq_background *bg)
{
    if (!bg)
        return;
    bq_image_destroy(bg->grid);
    memset(bg, 0, sizeof *bg);
}

/* Automatic scale: a tenth of the side of a square with the membrane's
 * area. Bands are far smaller than that; illumination and blotches are of
 * that order or larger. */
static double
auto_size(const struct bq_image *img, const struct bq_thumb *t)
{
    size_t n = t->img->width * t->img->height, in = 0;

    for (size_t i = 0; i < n; i++)
        in += t->mask[i];
    return 0.1 * sqrt((double)img->width * (double)img->height *
                      ((double)in / (double)n));
}

/* ---- FFT lower envelope ------------------------------------------------ */

/* The envelope grid: the thumbnail halved until its longest side is at most
 * 192 (background is smooth: a finer grid buys nothing). Values are means
 * over membrane pixels; W holds the membrane fraction of each cell. */
static enum bq_status
envelope_grid(const struct bq_thumb *t, struct bq_image **gout, float **wout,
              size_t *gfactor, struct bq_error *err)
{
    size_t k = 1, tw = t->img->width, th = t->img->height, gw, gh;
    struct bq_image *g;
    float *w;

    while ((tw > 192 * k || th > 192 * k) && k < 64)
        k *= 2;
    gw = (tw + k - 1) / k;
    gh = (th + k - 1) / k;
    g = bq_image_create(gw, gh, err);
    if (!g)
        return err ? err->status : BQ_ERR_NOMEM;
    w = bq_calloc_array(gw * gh, sizeof *w);
    if (!w) {
        bq_image_destroy(g);
        return bq_error_set(err, BQ_ERR_NOMEM, "background: out of memory");
    }
    for (size_t y = 0; y < th; y++)
        for (size_t x = 0; x < tw; x++) {
            size_t gi = (y / k) * gw + x / k;
            if (!t->mask[y * tw + x])
                continue;
            g->px[gi] += bq_row(t->img, y)[x];
            w[gi] += 1.0f;
        }
    for (size_t i = 0; i < gw * gh; i++) {
        size_t cy = i / gw, cx = i % gw;
        size_t cells = bq_min_size(k, th - cy * k) * bq_min_size(k, tw - cx * k);
        if (w[i] > 0)
            g->px[i] /= w[i];
        w[i] /= (float)cells;
    }
    *gout = g;
    *wout = w;
    *gfactor = k * t->factor;
    return BQ_OK;
}

/* Least-squares plane a + b x + c y through the lower half of the
 * membrane cells of G (weights W > 0): the lower half is background
 * wherever bands cover less than half the membrane, so bands do not lift
 * the plane. Writes a, b, c into P (0, 0, 0 if too few cells, or if the
 * plane explains less than half of their variance). */
static void
plane_fit(const struct bq_image *g, const float *w, double p[3])
{
    size_t n = g->width * g->height, m = 0;
    float *v = bq_alloc_array(n, sizeof *v);
    double s[3][3] = {{0}}, r[3] = {0}, med, det;

    p[0] = p[1] = p[2] = 0;
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0.5f)
            v[m++] = g->px[i];
    if (m < 16) {
        free(v);
        return;
    }
    med = bq_select_f(v, m, 0.5);
    free(v);
    for (size_t i = 0; i < n; i++) {
        double x = (double)(i % g->width), y = (double)(i / g->width);
        double f[3] = {1, x, y};
        if (w[i] <= 0.5f || g->px[i] > med)
            continue;
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++)
                s[a][b] += f[a] * f[b];
            r[a] += f[a] * g->px[i];
        }
    }
    /* 3x3 solve by Cramer's rule */
    det = s[0][0] * (s[1][1] * s[2][2] - s[1][2] * s[2][1]) -
          s[0][1] * (s[1][0] * s[2][2] - s[1][2] * s[2][0]) +
          s[0][2] * (s[1][0] * s[2][1] - s[1][1] * s[2][0]);
    if (fabs(det) < 1e-9)
        return;
    for (int k = 0; k < 3; k++) {
        double t[3][3];
        memcpy(t, s, sizeof t);
        for (int a = 0; a < 3; a++)
            t[a][k] = r[a];
        p[k] = (t[0][0] * (t[1][1] * t[2][2] - t[1][2] * t[2][1]) -
                t[0][1] * (t[1][0] * t[2][2] - t[1][2] * t[2][0]) +
                t[0][2] * (t[1][0] * t[2][1] - t[1][1] * t[2][0])) /
               det;
    }
    /* Only a plane that describes the background is used: it must explain
     * at least half the variance of those cells (a step, such as a dark
     * region beside a gel, is not a plane and is left to the envelope). */
    {
        double mean = r[0] / s[0][0], vc = 0, vr = 0;
        for (size_t i = 0; i < n; i++) {
            double x = (double)(i % g->width), y = (double)(i / g->width);
            double gv = g->px[i], e = gv - (p[0] + p[1] * x + p[2] * y);
            if (w[i] <= 0.5f || gv > med)
                continue;
            vc += (gv - mean) * (gv - mean);
            vr += e * e;
        }
        if (!(vr < 0.5 * vc))
            p[0] = p[1] = p[2] = 0;
    }
}

/* Rounds of the envelope (see fft_envelope): clip G to B + LIM, smooth
 * with normalisation, until the largest change is below 1 % of NOISE or
 * MAXIT rounds. B is updated in place; C is scratch. Returns the rounds
 * run. */
BQ_NO_COVERAGE static int
envelope_rounds(const float *g, const float *w, const float *ws,
                struct bq_smoother *sm, float *b, float *c, size_t n,
                double lim, int maxit, double noise)
{
    int it;

    for (it = 0; it < maxit; it++) {
        double change = 0;
        for (size_t i = 0; i < n; i++) {
            float v = g[i], cap = b[i] + (float)lim;
            c[i] = (v < cap ? v : cap) * w[i];
        }
        bq_smoother_apply(sm, c, c);
        for (size_t i = 0; i < n; i++) {
            float nb = c[i] * ws[i];
            double d = fabs((double)nb - b[i]);
            change = d > change ? d : change;
            b[i] = nb;
        }
        if (change < 0.01 * noise + 1e-9)
            return it + 1;
    }
    return it;
}

/* Runs the envelope on G halved (2x2 cells, weighted by W) with SIGMA/2
 * and writes it, upsampled bilinearly, into B (G's size). Returns BQ_OK,
 * BQ_ERR_INVALID if G is too small to halve, or BQ_ERR_NOMEM/FFT. */
static enum bq_status
coarse_start(const struct bq_image *g, const float *w, double sigma,
             const struct bq_bg_opts *o, float *b, struct bq_error *err)
{
    size_t gw = g->width, gh = g->height, hw = (gw + 1) / 2, hh = (gh + 1) / 2;
    size_t hn = hw * hh;
    float *g2 = NULL, *w2 = NULL, *ws2 = NULL, *b2 = NULL, *c2 = NULL;
    struct bq_smoother *sm2 = NULL;
    enum bq_status st = BQ_OK;
    double noise2;

    if (gw < 64 || gh < 32 || sigma < 2)
        return BQ_ERR_INVALID;
    g2 = bq_calloc_array(hn, sizeof *g2);
    w2 = bq_calloc_array(hn, sizeof *w2);
    ws2 = bq_alloc_array(hn, sizeof *ws2);
    b2 = bq_alloc_array(hn, sizeof *b2);
    c2 = bq_alloc_array(hn, sizeof *c2);
    if (!g2 || !w2 || !ws2 || !b2 || !c2) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "background: out of memory");
        goto out;
    }
    for (size_t y = 0; y < gh; y++)
        for (size_t x = 0; x < gw; x++) {
            size_t i = y * gw + x, j = (y / 2) * hw + x / 2;
            g2[j] += g->px[i] * w[i];
            w2[j] += w[i];
        }
    for (size_t j = 0; j < hn; j++) {
        size_t cy = j / hw, cx = j % hw;
        size_t cells = bq_min_size(2, gh - 2 * cy) * bq_min_size(2, gw - 2 * cx);
        g2[j] = w2[j] > 0 ? g2[j] / w2[j] : 0;
        w2[j] /= (float)cells;
    }
    st = bq_smoother_create(hw, hh, 0.5 * sigma, 0.5 * sigma, &sm2, err);
    if (st != BQ_OK)
        goto out;
    bq_smoother_apply(sm2, w2, ws2);
    for (size_t j = 0; j < hn; j++)
        ws2[j] = ws2[j] > 1e-6f ? 1.0f / ws2[j] : 0.0f;
    {
        struct bq_image view = {hw, hh, hw, 32, 1.0f, g2, 0};
        noise2 = bq_noise_sigma(view.px, view.stride, 0, 0, hw, hh);
    }
    for (size_t j = 0; j < hn; j++)
        c2[j] = g2[j] * w2[j];
    bq_smoother_apply(sm2, c2, b2);
    for (size_t j = 0; j < hn; j++)
        b2[j] *= ws2[j];
    envelope_rounds(g2, w2, ws2, sm2, b2, c2, hn, o->clip_k * noise2,
                    o->iterations, noise2);
    /* upsample: cell centre of fine (x, y) sits at (x + 0.5)/2 - 0.5 */
    for (size_t y = 0; y < gh; y++) {
        double fy = bq_clampd((y + 0.5) / 2 - 0.5, 0, (double)hh - 1);
        size_t iy = (size_t)fy, iy1 = iy + 1 < hh ? iy + 1 : iy;
        double ty = fy - (double)iy;
        for (size_t x = 0; x < gw; x++) {
            double fx = bq_clampd((x + 0.5) / 2 - 0.5, 0, (double)hw - 1);
            size_t ix = (size_t)fx, ix1 = ix + 1 < hw ? ix + 1 : ix;
            double tx = fx - (double)ix;
            b[y * gw + x] =
                (float)((1 - ty) * ((1 - tx) * b2[iy * hw + ix] +
                                    tx * b2[iy * hw + ix1]) +
                        ty * ((1 - tx) * b2[iy1 * hw + ix] +
                              tx * b2[iy1 * hw + ix1]));
        }
    }
out:
    bq_smoother_destroy(sm2);
    free(g2);
    free(w2);
    free(ws2);
    free(b2);
    free(c2);
    return st;
}

/* Repeated smoothing of the data clipped to the current estimate: each
 * round lowers the estimate under bands (which stick out above it) and
 * leaves it on the background (which does not). Normalised convolution
 * (smooth(w*c) / smooth(w)) ignores cells outside the membrane. */
static enum bq_status
fft_envelope(const struct bq_image *img, const struct bq_thumb *t,
             const struct bq_bg_opts *o, struct bq_background *bg,
             struct bq_error *err)
{
    struct bq_image *g = NULL;
    struct bq_smoother *sm = NULL;
    float *w = NULL, *ws = NULL, *c = NULL, *b = NULL;
    size_t factor = 1, n;
    double sigma, noise, plane[3];
    int fine_rounds;
    enum bq_status st;

    st = envelope_grid(t, &g, &w, &factor, err);
    if (st != BQ_OK)
        return st;
    n = g->width * g->height;
    bg->size = o->size > 0 ? o->size : auto_size(img, t);
    sigma = bg->size / (double)factor;
    if (sigma < 0.5)
        sigma = 0.5;
    st = bq_smoother_create(g->width, g->height, sigma, sigma, &sm, err);
    if (st != BQ_OK)
        goto out;
    ws = bq_alloc_array(n, sizeof *ws);
    c = bq_alloc_array(n, sizeof *c);
    b = bq_alloc_array(n, sizeof *b);
    if (!ws || !c || !b) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "background: out of memory");
        goto out;
    }
    bq_smoother_apply(sm, w, ws);
    for (size_t i = 0; i < n; i++)
        ws[i] = ws[i] > 1e-6f ? 1.0f / ws[i] : 0.0f;
    noise = bq_noise_sigma(g->px, g->stride, 0, 0, g->width, g->height);
    /* The smoothing mirrors the grid at its edges, which folds a straight
     * gradient into a ridge there, and the envelope would dig into it. A
     * plane fitted to the background (below) is taken out first and put
     * back at the end: the envelope then only follows what is not a
     * plane. */
    plane_fit(g, w, plane);
    for (size_t i = 0; i < n; i++)
        g->px[i] -= (float)(plane[0] + plane[1] * (double)(i % g->width) +
                            plane[2] * (double)(i / g->width));

    /* Coarse to fine: the envelope on a half-size grid first, upsampled as
     * the starting estimate, so that the full grid needs few rounds. */
    fine_rounds = o->iterations / 2;
    st = coarse_start(g, w, sigma, o, b, err);
    if (st == BQ_ERR_NOMEM)
        goto out;
    if (st != BQ_OK) { /* grid too small to halve: start from smoothing */
        fine_rounds = o->iterations;
        st = BQ_OK;
        for (size_t i = 0; i < n; i++)
            c[i] = g->px[i] * w[i];
        bq_smoother_apply(sm, c, b);
        for (size_t i = 0; i < n; i++)
            b[i] *= ws[i];
    }
    bg->iterations = envelope_rounds(g->px, w, ws, sm, b, c, n,
                                     o->clip_k * noise, fine_rounds, noise);
    for (size_t i = 0; i < n; i++)
        b[i] += (float)(plane[0] + plane[1] * (double)(i % g->width) +
                        plane[2] * (double)(i / g->width));
    memcpy(g->px, b, n * sizeof *b);
    bg->grid = g;
    g = NULL;
    bg->factor = factor;
out:
    bq_smoother_destroy(sm);
    bq_image_destroy(g);
    free(w);
    free(ws);
    free(c);
    free(b);
    return st;
}

/* ---- rolling ball ------------------------------------------------------ */

/* ImageJ's convention: shrink by a block minimum (factor from the radius),
 * open with a ball (erosion then dilation with a spherical cap), and
 * interpolate back up. */
static enum bq_status
rolling_ball(const struct bq_image *img, const struct bq_thumb *t,
             const struct bq_bg_opts *o, struct bq_background *bg,
             struct bq_error *err)
{
    double radius = o->size > 0 ? o->size : 50.0, r;
    size_t f = radius <= 10 ? 1 : radius <= 30 ? 2 : radius <= 100 ? 4 : 8;
    size_t sw = (img->width + f - 1) / f, sh = (img->height + f - 1) / f;
    struct bq_image *s = NULL, *e = NULL, *out = NULL;
    float *z = NULL;
    long br, bw;
    enum bq_status st = BQ_OK;

    (void)t;
    bg->size = radius;
    r = radius / (double)f;
    br = (long)floor(r);
    if (br < 1)
        br = 1;
    bw = 2 * br + 1;
    s = bq_image_create(sw, sh, err);
    e = bq_image_create(sw, sh, err);
    out = bq_image_create(sw, sh, err);
    z = bq_alloc_array((size_t)(bw * bw), sizeof *z);
    if (!s || !e || !out || !z) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "rolling ball: out of memory");
        goto out;
    }
    for (size_t y = 0; y < sh; y++)
        for (size_t x = 0; x < sw; x++) {
            float m = INFINITY;
            for (size_t yy = y * f; yy < bq_min_size(y * f + f, img->height);
                 yy++)
                for (size_t xx = x * f;
                     xx < bq_min_size(x * f + f, img->width); xx++) {
                    float v = bq_row(img, yy)[xx];
                    m = v < m ? v : m;
                }
            bq_row(s, y)[x] = m;
        }
    /* The ball's height profile in image units: ImageJ treats one grey
     * level as one pixel, so the cap is sqrt(r^2 - d^2) in shrunk pixels. */
    for (long dy = -br; dy <= br; dy++)
        for (long dx = -br; dx <= br; dx++) {
            double d2 = (double)(dx * dx + dy * dy);
            z[(dy + br) * bw + dx + br] =
                d2 <= r * r ? (float)sqrt(r * r - d2) : -INFINITY;
        }
    for (long y = 0; y < (long)sh; y++)
        for (long x = 0; x < (long)sw; x++) {
            float m = INFINITY;
            for (long dy = -br; dy <= br; dy++) {
                long yy = y + dy;
                if (yy < 0 || yy >= (long)sh)
                    continue;
                for (long dx = -br; dx <= br; dx++) {
                    long xx = x + dx;
                    float zz = z[(dy + br) * bw + dx + br], v;
                    if (xx < 0 || xx >= (long)sw || zz == -INFINITY)
                        continue;
                    v = bq_row(s, (size_t)yy)[xx] - zz;
                    m = v < m ? v : m;
                }
            }
            bq_row(e, (size_t)y)[x] = m;
        }
    for (long y = 0; y < (long)sh; y++)
        for (long x = 0; x < (long)sw; x++) {
            float m = -INFINITY;
            for (long dy = -br; dy <= br; dy++) {
                long yy = y - dy;
                if (yy < 0 || yy >= (long)sh)
                    continue;
                for (long dx = -br; dx <= br; dx++) {
                    long xx = x - dx;
                    float zz = z[(dy + br) * bw + dx + br], v;
                    if (xx < 0 || xx >= (long)sw || zz == -INFINITY)
                        continue;
                    v = bq_row(e, (size_t)yy)[xx] + zz;
                    m = v > m ? v : m;
                }
            }
            bq_row(out, (size_t)y)[x] = m;
        }
    bg->grid = out;
    out = NULL;
    bg->factor = f;
out:
    bq_image_destroy(s);
    bq_image_destroy(e);
    bq_image_destroy(out);
    free(z);
    return st;
}

enum bq_status
bq_background_estimate(const struct bq_image *img, const struct bq_thumb *t,
                       const struct bq_bg_opts *opts, struct bq_background *bg,
                       struct bq_error *err)
{
    struct bq_bg_opts def;

    memset(bg, 0, sizeof *bg);
    if (!opts) {
        bq_bg_opts_init(&def);
        opts = &def;
    }
    bg->method = opts->method;
    switch (opts->method) {
    case BQ_BG_NONE: return BQ_OK;
    case BQ_BG_FFT: return fft_envelope(img, t, opts, bg, err);
    case BQ_BG_ROLLING_BALL: return rolling_ball(img, t, opts, bg, err);
    }
    return bq_error_set(err, BQ_ERR_INVALID, "unknown background method");
}

float
bq_background_at(const struct bq_background *bg, double x, double y)
{
    const struct bq_image *g = bg->grid;
    double gx, gy, fx, fy;
    size_t ix, iy, ix1, iy1;

    if (!g)
        return 0.0f;
    gx = bq_clampd((x + 0.5) / (double)bg->factor - 0.5, 0,
                   (double)g->width - 1);
    gy = bq_clampd((y + 0.5) / (double)bg->factor - 0.5, 0,
                   (double)g->height - 1);
    ix = (size_t)gx;
    iy = (size_t)gy;
    fx = gx - (double)ix;
    fy = gy - (double)iy;
    ix1 = ix + 1 < g->width ? ix + 1 : ix;
    iy1 = iy + 1 < g->height ? iy + 1 : iy;
    return (float)((1 - fy) * ((1 - fx) * bq_row(g, iy)[ix] +
                               fx * bq_row(g, iy)[ix1]) +
                   fy * ((1 - fx) * bq_row(g, iy1)[ix] +
                         fx * bq_row(g, iy1)[ix1]));
}

struct subtract_ctx {
    const struct bq_image *img;    /* input (may be OUT) */
    const struct bq_background *bg;
    const struct bq_thumb *t;
    struct bq_image *out;
    const size_t *ix;              /* grid column per x */
    const float *fx;               /* grid column weight per x */
};

/* Grid row GY expanded to the image's width (bilinear in x) into ROW. */
static void
expand_grid_row(const struct subtract_ctx *c, size_t gy, float *row)
{
    const struct bq_image *g = c->bg->grid;
    const float *r = bq_row(g, gy);

    for (size_t x = 0; x < c->img->width; x++) {
        size_t i = c->ix[x];
        row[x] = g->width >= 2 ? r[i] + c->fx[x] * (r[i + 1] - r[i]) : r[0];
    }
}

/* Rows [Y0, Y1) of OUT = IMG - BG, 0 outside the membrane. Grid rows are
 * expanded to full width once and blended per image row, and the mask row
 * once per thumbnail row, so the inner loop is a plain vectorisable
 * select. */
static void
subtract_rows(void *arg, size_t y0, size_t y1)
{
    const struct subtract_ctx *c = arg;
    const struct bq_image *g = c->bg->grid;
    size_t w = c->img->width, tf = c->t->factor, tw = c->t->img->width;
    float *ra = bq_alloc_array(w, sizeof *ra);
    float *rb = bq_alloc_array(w, sizeof *rb);
    unsigned char *mrow = bq_alloc_array(w, 1);
    size_t have_a = (size_t)-1, have_m = (size_t)-1;

    if (!ra || !rb || !mrow) {
        /* out of memory for three rows: the slow exact path */
        for (size_t y = y0; y < y1; y++)
            for (size_t x = 0; x < w; x++)
                bq_row(c->out, y)[x] =
                    c->t->mask[(y / tf) * tw + x / tf]
                        ? bq_row(c->img, y)[x] -
                              bq_background_at(c->bg, (double)x, (double)y)
                        : 0.0f;
        goto out;
    }
    for (size_t y = y0; y < y1; y++) {
        const float *src = bq_row(c->img, y);
        float *dst = bq_row(c->out, y);
        float fy = 0;
        if (y / tf != have_m) {
            const unsigned char *m = c->t->mask + (y / tf) * tw;
            for (size_t x = 0; x < w; x++)
                mrow[x] = m[x / tf];
            have_m = y / tf;
        }
        if (g) {
            double gy = bq_clampd((y + 0.5) / (double)c->bg->factor - 0.5, 0,
                                  (double)g->height - 1);
            size_t iy = (size_t)gy, iy1 = iy + 1 < g->height ? iy + 1 : iy;
            fy = (float)(gy - (double)iy);
            if (iy != have_a) {
                expand_grid_row(c, iy, ra);
                expand_grid_row(c, iy1, rb);
                have_a = iy;
            }
            /* the difference everywhere, then selected: the loop has no
             * branch and vectorises */
            for (size_t x = 0; x < w; x++)
                dst[x] = src[x] - (ra[x] + fy * (rb[x] - ra[x]));
            for (size_t x = 0; x < w; x++) {
                float v = dst[x];
                dst[x] = mrow[x] ? v : 0.0f;
            }
        } else {
            for (size_t x = 0; x < w; x++) {
                float v = src[x];
                dst[x] = mrow[x] ? v : 0.0f;
            }
        }
    }
out:
    free(ra);
    free(rb);
    free(mrow);
}

void
bq_background_subtract(const struct bq_image *img,
                       const struct bq_background *bg,
                       const struct bq_thumb *t, struct bq_image *out)
{
    const struct bq_image *g = bg->grid;
    size_t w = img->width;
    size_t *ix = bq_calloc_array(w, sizeof *ix);
    float *fx = bq_calloc_array(w, sizeof *fx);
    struct subtract_ctx c = {img, bg, t, out, ix, fx};

    if (!ix || !fx) {
        /* out of memory for two small arrays: the slow exact path */
        size_t tw = t->img->width, tf = t->factor;
        for (size_t y = 0; y < img->height; y++)
            for (size_t x = 0; x < w; x++)
                bq_row(out, y)[x] =
                    t->mask[(y / tf) * tw + x / tf]
                        ? bq_row(img, y)[x] -
                              bq_background_at(bg, (double)x, (double)y)
                        : 0.0f;
        goto out;
    }
    if (g)
        for (size_t x = 0; x < w; x++) {
            double gx = bq_clampd((x + 0.5) / (double)bg->factor - 0.5, 0,
                                  (double)g->width - 1);
            ix[x] = (size_t)gx;
            if (ix[x] + 1 >= g->width)
                ix[x] = g->width >= 2 ? g->width - 2 : 0;
            fx[x] = g->width >= 2 ? (float)(gx - (double)ix[x]) : 0.0f;
        }
    bq_parallel_for(img->height, 0, subtract_rows, &c);
out:
    free(ix);
    free(fx);
}

void
bq_background_subtract_thumb(const struct bq_thumb *t,
                             const struct bq_background *bg,
                             struct bq_image *out)
{
    size_t f = t->factor;

    for (size_t y = 0; y < t->img->height; y++)
        for (size_t x = 0; x < t->img->width; x++) {
            double cx = ((double)x + 0.5) * (double)f - 0.5;
            double cy = ((double)y + 0.5) * (double)f - 0.5;
            bq_row(out, y)[x] =
                t->mask[y * t->img->width + x]
                    ? bq_row(t->img, y)[x] - bq_background_at(bg, cx, cy)
                    : 0.0f;
        }
}
