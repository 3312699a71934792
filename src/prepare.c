/* Prepare stage: thumbnail, membrane mask, polarity, hot pixels, rotation. */
#include "blotquant/prepare.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "util.h"

void
bq_prepare_opts_init(struct bq_prepare_opts *o)
{
    o->polarity = BQ_POLARITY_AUTO;
    o->hot_pixels = 1;
    o->membrane = 1;
    o->thumb_max = 512;
}

void
bq_thumb_fini(struct bq_thumb *t)
{
    if (!t)
        return;
    bq_image_destroy(t->img);
    free(t->mask);
    memset(t, 0, sizeof *t);
}

struct thumb_ctx {
    const struct bq_image *img; /* source */
    struct bq_image *t;         /* thumbnail being filled */
    size_t f;                   /* block size */
};

/* Thumbnail rows [A, B): block means of IMG. */
static void
thumb_rows(void *arg, size_t a, size_t b)
{
    const struct thumb_ctx *c = arg;
    const struct bq_image *img = c->img;
    size_t f = c->f, tw = c->t->width;
    double *acc = bq_alloc_array(tw, sizeof *acc);

    for (size_t ty = a; ty < b; ty++) {
        size_t y0 = ty * f, y1 = bq_min_size(y0 + f, img->height);
        float *out = bq_row(c->t, ty);
        if (!acc) {
            /* out of memory for one row of sums: a slow exact path */
            for (size_t tx = 0; tx < tw; tx++) {
                double s = 0;
                size_t n = 0;
                size_t xe = bq_min_size(tx * f + f, img->width);
                for (size_t y = y0; y < y1; y++)
                    for (size_t x = tx * f; x < xe; x++, n++)
                        s += bq_row(img, y)[x];
                out[tx] = (float)(s / (double)(n ? n : 1));
            }
            continue;
        }
        memset(acc, 0, tw * sizeof *acc);
        for (size_t y = y0; y < y1; y++) {
            const float *row = bq_row(img, y);
            size_t x = 0;
            for (size_t tx = 0; tx < tw; tx++) {
                size_t xe = bq_min_size(x + f, img->width);
                float s = 0;
                for (; x < xe; x++)
                    s += row[x];
                acc[tx] += s;
            }
        }
        for (size_t tx = 0; tx < tw; tx++) {
            size_t bw = bq_min_size(f, img->width - tx * f);
            out[tx] = (float)(acc[tx] / (double)(bw * (y1 - y0)));
        }
    }
    free(acc);
}

/* Block-mean thumbnail of IMG with blocks of F x F pixels (partial blocks at
 * the right and bottom edges are averaged over what they hold). */
static struct bq_image *
thumb_make(const struct bq_image *img, size_t f, struct bq_error *err)
{
    size_t tw = (img->width + f - 1) / f, th = (img->height + f - 1) / f;
    struct bq_image *t = bq_image_create(tw, th, err);
    struct thumb_ctx c;

    if (!t)
        return NULL;
    t->bit_depth = img->bit_depth;
    t->max_code = img->max_code;
    c.img = img;
    c.t = t;
    c.f = f;
    bq_parallel_for(th, 0, thumb_rows, &c);
    return t;
}

#define ERODE 3 /* thumbnail pixels taken off the membrane's edge */
/* The SD of rounding to whole codes (1/sqrt(12)): the least noise an
 * integer file can be said to have; a thumbnail pixel, the mean of f x f
 * of them, has 1/f of it. */
#define QUANT_SD 0.2887

/* Longest run of indices in [0, N) where V is beyond MID on the membrane
 * side (above if ABOVE, else below); writes [*A, *B). */
static void
longest_run(const float *v, size_t n, double mid, int above, size_t *a,
            size_t *b)
{
    size_t best = 0, start = 0;

    *a = *b = 0;
    for (size_t i = 0; i <= n; i++) {
        int in = i < n && (above ? v[i] > mid : v[i] < mid);
        if (in && (i == 0 || !(above ? v[i - 1] > mid : v[i - 1] < mid)))
            start = i;
        if (!in && i > 0 && (above ? v[i - 1] > mid : v[i - 1] < mid) &&
            i - start > best) {
            best = i - start;
            *a = start;
            *b = i;
        }
    }
}

#define EDGE_OUT 8 /* thumbnail pixels outside an edge to the surround */

/* Returns 1 if the run [A, B) of the profile V (N values) ends in steps:
 * within EDGE_OUT pixels outside each end that lies inside the profile, V
 * comes back within 30 % of the step from the surround level LF (the
 * membrane's level: LM). A cut membrane's edge is a step even when tilted
 * (a percentile of a column flips from one population to the other); a
 * broad blotch of the background falls off over tens of pixels. */
static int
edge_steps(const float *v, size_t n, size_t a, size_t b, double lf, double lm)
{
    double tol = 0.3 * fabs(lm - lf);
    int left = a == 0, right = b == n;

    for (size_t k = 1; k <= EDGE_OUT; k++) {
        left |= a >= k && fabs(v[a - k] - lf) <= tol;
        right |= b + k <= n && fabs(v[b + k - 1] - lf) <= tol;
    }
    return left && right;
}

/* Second test, for a membrane that differs from its surround by little
 * against the bands' spread (a dim membrane on a black imager bed): the
 * membrane as a rectangle. Each column's and row's 75th percentile (on the
 * membrane's side) is compared with the midway level between the border
 * (BORDER, NB values, median LF) and the membrane (whose side of LF the
 * image's middle, level LC, tells); the longest runs beyond
 * it give the rectangle. A rectangle cannot leak into dark parts of the
 * membrane the way a flood fill can. Accepted only if the membrane stands
 * 10 border noise SDs (at least QSD, the code step's) from the surround
 * and the rectangle is 15 to 95 % of
 * the image in each axis, smaller in at least one, and its left and right
 * or its top and bottom are steps (edge_steps). Returns 1 and sets MASK if
 * accepted. */
static int
surround_rectangle(const struct bq_image *t, unsigned char *mask, float *border,
                   size_t nb, double lf, double lc, double qsd,
                   double *frame_lv)
{
    size_t w = t->width, h = t->height, x0, x1, y0, y1;
    float *cm = bq_alloc_array(w > h ? w : h, sizeof *cm);
    float *col = bq_alloc_array(w > h ? w : h, sizeof *col);
    float *rm = bq_alloc_array(h, sizeof *rm);
    double sd, lm, mid;
    int above, ok = 0;

    if (!cm || !col || !rm)
        goto out;
    for (size_t i = 0; i < nb; i++)
        border[i] = fabsf(border[i] - (float)lf);
    sd = bq_select_f(border, nb, 0.5) * 1.4826 + 1e-6;
    /* An integer file cannot tell levels much closer than its code step:
     * a clean 8-bit scan whose border was all one code (SD 0) took a
     * gradient of a quarter code for a membrane's edge and masked 90 % of
     * the blot (generated seed 596). */
    if (sd < qsd)
        sd = qsd;
    /* the membrane's side: the middle of the image is membrane */
    above = lc > lf;
    for (size_t x = 0; x < w; x++) {
        for (size_t y = 0; y < h; y++)
            col[y] = bq_row(t, y)[x];
        cm[x] = bq_select_f(col, h, above ? 0.75 : 0.25);
    }
    for (size_t y = 0; y < h; y++) {
        memcpy(col, bq_row(t, y), w * sizeof *col);
        rm[y] = bq_select_f(col, w, above ? 0.75 : 0.25);
    }
    memcpy(col, cm, w * sizeof *col);
    lm = bq_select_f(col, w, above ? 0.9 : 0.1);
    if (fabs(lm - lf) < 10 * sd)
        goto out;
    mid = 0.5 * (lm + lf);
    longest_run(cm, w, mid, above, &x0, &x1);
    longest_run(rm, h, mid, above, &y0, &y1);
    if (x1 - x0 < w * 15 / 100 || y1 - y0 < h * 15 / 100 ||
        x1 - x0 > w * 95 / 100 + 1 || y1 - y0 > h * 95 / 100 + 1)
        goto out;
    if (x1 - x0 > w * 90 / 100 && y1 - y0 > h * 90 / 100)
        goto out; /* the membrane is the whole image: no surround */
    /* nor is it a tenth of the image: a blotch's bright rows and
     * columns made a rectangle of 3 % (generated seed 1858 without
     * doublets: 3 of 96 bands measured) */
    if ((x1 - x0) * (y1 - y0) < w * h / 10)
        goto out;
    /* A membrane has steps at two opposite edges at least (its top and
     * bottom may fade, as a gel's wells do); a blotch has none. */
    if (!edge_steps(cm, w, x0, x1, lf, lm) &&
        !edge_steps(rm, h, y0, y1, lf, lm))
        goto out;
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            mask[y * w + x] = y >= y0 && y < y1 && x >= x0 && x < x1;
    *frame_lv = lf;
    ok = 1;
out:
    free(cm);
    free(col);
    free(rm);
    return ok;
}

/* Finds a surround (frame, scanner bed, dark border) that differs strongly
 * from the membrane: the thumbnail's border pixels, if most of them lie far
 * from the central level on one side, are flood-filled inwards through all
 * pixels on their side of the midway level. QSD: the least noise SD a
 * thumbnail level has (the file's code step's share; 0 for float files).
 * Writes MASK (1 = membrane). Returns 1 if a surround was found. */
static int
membrane_find(const struct bq_image *t, unsigned char *mask, double qsd,
              double *frame_lv, double *membrane_lv)
{
    size_t w = t->width, h = t->height, n = w * h, nb = 0, far = 0;
    size_t cx0 = w / 4, cx1 = w - w / 4, cy0 = h / 4, cy1 = h - h / 4;
    float *buf = bq_alloc_array(n, sizeof *buf);
    size_t *stack = NULL, sp = 0, nc = 0;
    double lc, spread, lf, mid, p25, p75;
    int below, found = 0;

    memset(mask, 1, n);
    if (!buf || w < 8 || h < 8)
        goto out;
    for (size_t y = cy0; y < cy1; y++)
        for (size_t x = cx0; x < cx1; x++)
            buf[nc++] = bq_row(t, y)[x];
    lc = bq_select_f(buf, nc, 0.5);
    p25 = bq_select_f(buf, nc, 0.25);
    p75 = bq_select_f(buf, nc, 0.75);
    *membrane_lv = lc;
    for (size_t i = 0; i < n; i++) {
        size_t x = i % w, y = i / w;
        if (x == 0 || y == 0 || x == w - 1 || y == h - 1)
            buf[nb++] = t->px[y * t->stride + x];
    }
    lf = bq_select_f(buf, nb, 0.5);
    /* The membrane's spread on the surround's side only, doubled: the
     * bands lie on the other side (light bands on a black bed, dark ones
     * on a white lid), and strong, wide ones would widen P25..P75 until a
     * plain frame no longer stood out. */
    spread = 2.0 * (lf < lc ? lc - p25 : p75 - lc);
    if (spread < 2.0 * qsd)
        spread = 2.0 * qsd; /* see surround_rectangle */
    /* The surround must stand out against the spread of the membrane
     * (bands, gradient) by a wide margin to count. */
    if (fabs(lf - lc) < 3.0 * spread + 0.05 * fabs(lc) + 1e-6) {
        found = surround_rectangle(t, mask, buf, nb, lf, lc, qsd, frame_lv);
        goto out;
    }
    below = lf < lc;
    mid = 0.5 * (lf + lc);
    for (size_t i = 0; i < nb; i++)
        if ((below && buf[i] < mid) || (!below && buf[i] > mid))
            far++;
    if (far * 2 < nb) {
        /* BUF still holds the border values */
        found = surround_rectangle(t, mask, buf, nb, lf, lc, qsd, frame_lv);
        goto out;
    }
    stack = bq_alloc_array(n, sizeof *stack);
    if (!stack)
        goto out;
    /* Flood fill from the border through pixels on the surround's side. */
    for (size_t i = 0; i < n; i++) {
        size_t x = i % w, y = i / w;
        float v = t->px[y * t->stride + x];
        int side = below ? v < mid : v > mid;
        if ((x == 0 || y == 0 || x == w - 1 || y == h - 1) && side) {
            mask[i] = 0;
            stack[sp++] = i;
        }
    }
    while (sp) {
        size_t i = stack[--sp], x = i % w, y = i / w;
        size_t nbr[4];
        int k = 0;
        if (x > 0)
            nbr[k++] = i - 1;
        if (x + 1 < w)
            nbr[k++] = i + 1;
        if (y > 0)
            nbr[k++] = i - w;
        if (y + 1 < h)
            nbr[k++] = i + w;
        for (int j = 0; j < k; j++) {
            size_t q = nbr[j];
            float v = t->px[(q / w) * t->stride + q % w];
            if (mask[q] && (below ? v < mid : v > mid)) {
                mask[q] = 0;
                stack[sp++] = q;
            }
        }
    }
    /* Erode the membrane by ERODE thumb pixels at the top and bottom (one
     * at the sides): the edge itself is a ramp (a cut membrane, a soft
     * shadow), which would read as a band along the edge in every lane. */
    for (int pass = 0; pass < ERODE; pass++) {
        for (size_t i = 0; i < n; i++)
            buf[i] = mask[i];
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++) {
                size_t i = y * w + x;
                if (!buf[i])
                    continue;
                /* sideways only on the first pass: a ramp at the left or
                 * right edge is a thin ridge the lane finder ignores, and
                 * edge lanes need their columns */
                if ((pass == 0 &&
                     ((x > 0 && !buf[i - 1]) || (x + 1 < w && !buf[i + 1]))) ||
                    (y > 0 && !buf[i - w]) || (y + 1 < h && !buf[i + w]))
                    mask[i] = 0;
            }
    }
    *frame_lv = lf;
    found = 1;
out:
    free(buf);
    free(stack);
    return found;
}

/* Returns >0 when bands are lighter than the membrane, <0 when darker: the
 * bands are the minority of membrane pixels, so the histogram's long tail
 * points their way. */
static double
polarity_score(const struct bq_image *t, const unsigned char *mask)
{
    size_t n = 0, total = t->width * t->height;
    float *v = bq_alloc_array(total, sizeof *v);
    double p1, p50, p99, score;

    if (!v)
        return 1.0;
    for (size_t y = 0; y < t->height; y++)
        for (size_t x = 0; x < t->width; x++)
            if (mask[y * t->width + x])
                v[n++] = bq_row(t, y)[x];
    if (n < 16) {
        free(v);
        return 1.0;
    }
    p50 = bq_select_f(v, n, 0.5);
    p1 = bq_select_f(v, n, 0.01);
    p99 = bq_select_f(v, n, 0.99);
    free(v);
    score = (p99 - p50) - (p50 - p1);
    return score / (p99 - p1 + 1e-12);
}

struct hot_fix {
    size_t i; /* pixel index (y * stride + x) */
    float v;  /* its replacement: the median of its neighbours */
};

struct hot_ctx {
    struct bq_image *img; /* read only while detecting */
    float tn, fl;         /* noise threshold, floor level */
    pthread_mutex_t lock; /* guards the list below */
    struct hot_fix *fix;  /* replacements found so far */
    size_t n, cap;        /* used, allocated */
    int oom;              /* 1 if a list could not grow */
};

#define HOT_BLOCK 64

/* 1 if pixel X of row R stands out from its left and right neighbours by
 * more than the noise threshold TN (above: by a quarter of the brighter
 * neighbour's height over the floor FL too): the cheap first test. */
static inline int
hot_candidate(const float *r, size_t x, float tn, float fl)
{
    float v = r[x], l = r[x - 1], rt = r[x + 1];
    float hi = l > rt ? l : rt, lo = l < rt ? l : rt;
    float t = tn > 0.25f * (hi - fl) ? tn : 0.25f * (hi - fl);
    return !(v - hi <= t) | !(lo - v <= tn);
}

/* Finds the outliers of rows [A+1, B+1) without changing any pixel (so the
 * result does not depend on which thread looks at which rows) and adds
 * them to the shared list. */
static void
hot_rows(void *arg, size_t a, size_t b)
{
    struct hot_ctx *c = arg;
    struct bq_image *img = c->img;
    size_t w = img->width, n = 0, cap = 0;
    struct hot_fix *mine = NULL;
    float tn = c->tn, fl = c->fl;

    for (size_t y = a + 1; y < b + 1; y++) {
        const float *r0 = bq_row(img, y - 1), *r1 = bq_row(img, y),
                    *r2 = bq_row(img, y + 1);
        for (size_t xb = 1; xb + 1 < w; xb += HOT_BLOCK) {
            size_t xe = xb + HOT_BLOCK < w - 1 ? xb + HOT_BLOCK : w - 1;
            int any = 0;
            /* the common case: no pixel of the block stands out from its
             * row neighbours (a loop without branches, so it vectorises) */
            for (size_t x = xb; x < xe; x++)
                any |= hot_candidate(r1, x, tn, fl);
            if (!any)
                continue;
            for (size_t x = xb; x < xe; x++) {
                float v = r1[x], l = r1[x - 1], r = r1[x + 1];
                float t, nb[8], mx, mn;
                if (!hot_candidate(r1, x, tn, fl))
                    continue;
                nb[0] = r0[x - 1], nb[1] = r0[x], nb[2] = r0[x + 1];
                nb[3] = l, nb[4] = r;
                nb[5] = r2[x - 1], nb[6] = r2[x], nb[7] = r2[x + 1];
                mx = mn = nb[0];
                for (int k = 1; k < 8; k++) {
                    mx = nb[k] > mx ? nb[k] : mx;
                    mn = nb[k] < mn ? nb[k] : mn;
                }
                t = tn > 0.25f * (mx - fl) ? tn : 0.25f * (mx - fl);
                if (!(v - mx > t || mn - v > t))
                    continue;
                if (n == cap) {
                    struct hot_fix *g;
                    cap = cap ? 2 * cap : 64;
                    g = realloc(mine, cap * sizeof *g);
                    if (!g) {
                        c->oom = 1;
                        goto out;
                    }
                    mine = g;
                }
                mine[n].i = y * img->stride + x;
                mine[n].v = bq_select_f(nb, 8, 0.5);
                n++;
            }
        }
    }
out:
    pthread_mutex_lock(&c->lock);
    if (c->n + n > c->cap) {
        size_t ncap = (c->n + n) * 2;
        struct hot_fix *g = realloc(c->fix, ncap * sizeof *g);
        if (g) {
            c->fix = g;
            c->cap = ncap;
        } else {
            c->oom = 1;
            n = 0;
        }
    }
    if (n)
        memcpy(c->fix + c->n, mine, n * sizeof *mine);
    c->n += n;
    pthread_mutex_unlock(&c->lock);
    free(mine);
}

/* Replaces isolated outliers: a pixel further than T above the largest (or
 * below the smallest) of its 8 neighbours, T = max(K*noise, 25 % of the
 * neighbours' height above the floor), by the median of the 8. Band pixels
 * have neighbours of similar value and are never touched. Detection reads
 * the original pixels only; the replacements are applied afterwards, so
 * rows can be searched in parallel. Returns the count replaced (0 if the
 * list of replacements could not be allocated: nothing is changed then). */
static size_t
hot_pixels_fix(struct bq_image *img, double noise, double floor_lv)
{
    struct hot_ctx c;
    size_t fixed;

    if (img->width < 3 || img->height < 3)
        return 0;
    memset(&c, 0, sizeof c);
    c.img = img;
    c.tn = (float)(8.0 * noise + 1.0);
    c.fl = (float)floor_lv;
    pthread_mutex_init(&c.lock, NULL);
    bq_parallel_for(img->height - 2, 0, hot_rows, &c);
    pthread_mutex_destroy(&c.lock);
    if (c.oom) {
        free(c.fix);
        return 0;
    }
    for (size_t k = 0; k < c.n; k++)
        img->px[c.fix[k].i] = c.fix[k].v;
    fixed = c.n;
    free(c.fix);
    return fixed;
}

enum bq_status
bq_prepare(struct bq_image *img, const struct bq_prepare_opts *opts,
           struct bq_thumb *thumb, struct bq_prepare_info *info,
           struct bq_error *err)
{
    struct bq_prepare_opts def;
    size_t longest, f, tn;
    double noise, floor_lv, score, frame_lv = 0, mem_lv = 0;
    enum bq_polarity pol;
    int frame = 0;

    memset(thumb, 0, sizeof *thumb);
    memset(info, 0, sizeof *info);
    if (!opts) {
        bq_prepare_opts_init(&def);
        opts = &def;
    }
    longest = img->width > img->height ? img->width : img->height;
    f = (longest + opts->thumb_max - 1) /
        (opts->thumb_max ? opts->thumb_max : 512);
    if (f < 1)
        f = 1;
    thumb->factor = f;

    /* Hot pixels first: a saturated hot pixel must neither count as
     * saturation nor pull the thumbnail. The floor is the dark end of the
     * data, taken from a sparse sample. */
    noise = bq_noise_sigma(img->px, img->stride, 0, 0, img->width, img->height);
    {
        size_t n = 0, step = img->width * img->height / 65536 + 1;
        float *s = bq_alloc_array(65537, sizeof *s);
        if (!s)
            return bq_error_set(err, BQ_ERR_NOMEM, "prepare: out of memory");
        for (size_t i = 0; i < img->width * img->height && n < 65537; i += step)
            s[n++] = bq_row(img, i / img->width)[i % img->width];
        floor_lv = bq_select_f(s, n, 0.02);
        free(s);
    }
    if (opts->hot_pixels)
        info->hot_pixels = hot_pixels_fix(img, noise, floor_lv);

    thumb->img = thumb_make(img, f, err);
    if (!thumb->img)
        return err ? err->status : BQ_ERR_NOMEM;
    tn = thumb->img->width * thumb->img->height;
    thumb->mask = malloc(tn);
    if (!thumb->mask) {
        bq_thumb_fini(thumb);
        return bq_error_set(err, BQ_ERR_NOMEM, "prepare: out of memory");
    }
    memset(thumb->mask, 1, tn);
    if (opts->membrane)
        frame = membrane_find(thumb->img, thumb->mask,
                              thumb->img->bit_depth <= 16
                                  ? QUANT_SD / (double)thumb->factor
                                  : 0,
                              &frame_lv, &mem_lv);

    score = polarity_score(thumb->img, thumb->mask);
    pol = opts->polarity;
    if (pol == BQ_POLARITY_AUTO)
        pol = score >= 0 ? BQ_POLARITY_LIGHT_BANDS : BQ_POLARITY_DARK_BANDS;
    info->polarity = pol;
    info->polarity_score = score;

    if (pol == BQ_POLARITY_DARK_BANDS) {
        float m = img->max_code;
        for (size_t y = 0; y < img->height; y++) {
            float *r = bq_row(img, y);
            for (size_t x = 0; x < img->width; x++)
                r[x] = m - r[x];
        }
        for (size_t y = 0; y < thumb->img->height; y++) {
            float *r = bq_row(thumb->img, y);
            for (size_t x = 0; x < thumb->img->width; x++)
                r[x] = m - r[x];
        }
        frame_lv = m - frame_lv;
        mem_lv = m - mem_lv;
    }
    info->frame = frame;
    info->frame_level = frame_lv;
    info->membrane_level = mem_lv;
    {
        size_t in = 0;
        for (size_t i = 0; i < tn; i++)
            in += thumb->mask[i];
        info->membrane_frac = (double)in / (double)tn;
        if (in < tn / 50 + 1) {
            bq_thumb_fini(thumb);
            return bq_error_set(err, BQ_ERR_NOT_FOUND,
                                "no membrane area left after removing the "
                                "surround");
        }
    }
    return BQ_OK;
}

/* ---- rotation ---------------------------------------------------------- */

/* A pixel that carries signal, for the projection score. */
struct sigpx {
    float dx, dy; /* offset from the image centre */
    float w;      /* weight: sqrt of the signal above the noise floor */
};

/* Sharpness of the projections of the listed pixels onto the axes of a
 * frame rotated by THETA: sum of squared bin totals, rows and columns,
 * for NK smiles at once. For smile j the row coordinate is first
 * flattened: a pixel at rotated column XR moves by -(K0 + j KSTEP)
 * (XR - X0)^2 rows. The columns do not depend on the smile, so each pixel
 * is turned once. ROWS: NK * NBINS. Writes the NK scores to SCORE. */
BQ_NO_COVERAGE static void
projection_scores(const struct sigpx *sp, size_t n, double theta, double k0,
                  double kstep, int nk, double x0, double *rows, double *cols,
                  size_t nbins, double *score)
{
    double c = cos(theta), s = sin(theta), off = floor(0.5 * (double)nbins);
    double cs = 0;

    memset(rows, 0, (size_t)nk * nbins * sizeof *rows);
    memset(cols, 0, nbins * sizeof *cols);
    for (size_t j = 0; j < n; j++) {
        double xr = c * sp[j].dx + s * sp[j].dy;
        double y0 = -s * sp[j].dx + c * sp[j].dy + off;
        double q = (xr - x0) * (xr - x0), v = sp[j].w, fr;
        long i = (long)floor(xr + off);
        fr = xr + off - (double)i;
        if (i >= 0 && i + 1 < (long)nbins) {
            cols[i] += v * (1 - fr);
            cols[i + 1] += v * fr;
        }
        for (int m = 0; m < nk; m++) {
            double yr = y0 - (k0 + m * kstep) * q;
            double *r = rows + (size_t)m * nbins;
            i = (long)floor(yr);
            fr = yr - (double)i;
            if (i >= 0 && i + 1 < (long)nbins) {
                r[i] += v * (1 - fr);
                r[i + 1] += v * fr;
            }
        }
    }
    for (size_t i = 0; i < nbins; i++)
        cs += cols[i] * cols[i];
    for (int m = 0; m < nk; m++) {
        const double *r = rows + (size_t)m * nbins;
        score[m] = cs;
        for (size_t i = 0; i < nbins; i++)
            score[m] += r[i] * r[i];
    }
}

/* The level above which pixels of SIG (W x H, MASK) vote on the rotation,
 * given the noise floor FLOOR: that floor, unless over VOTE_MOST of the
 * membrane reads above it; then what the background left (a blotch, a
 * gradient it could not follow), flat and square to the image, would
 * outvote the bands, and the floor is the membrane's median instead
 * (generated seeds 2570 without doublets and 2878 read 0.00 degrees for
 * -4.6 and +3.9, with 78 and 76 % of their pixels above the noise floor;
 * clean scans have 50-63 %). The pixels are copied for the median only
 * then; without the memory for it, the floor stays. */
#define VOTE_MOST 0.65
static double
vote_floor(const struct bq_image *sig, const unsigned char *mask,
           double floor)
{
    size_t m = 0, above = 0;
    float *tmp;
    double med;

    for (size_t y = 0; y < sig->height; y++) {
        const float *r = bq_row(sig, y);
        for (size_t x = 0; x < sig->width; x++)
            if (!mask || mask[y * sig->width + x]) {
                m++;
                above += r[x] > floor;
            }
    }
    if (m == 0 || (double)above <= VOTE_MOST * (double)m ||
        !(tmp = bq_alloc_array(m, sizeof *tmp)))
        return floor;
    m = 0;
    for (size_t y = 0; y < sig->height; y++) {
        const float *r = bq_row(sig, y);
        for (size_t x = 0; x < sig->width; x++)
            if (!mask || mask[y * sig->width + x])
                tmp[m++] = r[x];
    }
    med = bq_select_f(tmp, m, 0.5);
    free(tmp);
    return fmax(floor, med);
}

/* Smiles tried with the rotation: the edge of the signal's width is moved
 * by up to SMILE_EDGE of its half width, in 2 * SMILE_STEPS + 1 steps. */
#define SMILE_EDGE 0.12
#define SMILE_STEPS 4
#define SMILE_N (2 * SMILE_STEPS + 1)

double
bq_rotation_estimate(const struct bq_image *sig, const unsigned char *mask,
                     double max_deg)
{
    size_t nbins =
        (size_t)ceil(hypot((double)sig->width, (double)sig->height)) + 4;
    size_t w = sig->width, h = sig->height, n = 0;
    double *rows = bq_alloc_array(nbins * SMILE_N, sizeof *rows);
    double *cols = bq_alloc_array(nbins, sizeof *cols);
    struct sigpx *sp = bq_alloc_array(w * h, sizeof *sp);
    struct sigpx *vs = bq_alloc_array(w * h / 4 + 1, sizeof *vs);
    double best = 0, step = 0.5, lo = -max_deg, hi = max_deg, floor_lv;
    double kbest = 0, kstep, x0, xmin = INFINITY, xmax = -INFINITY, half;
    double sc[SMILE_N];
    int nk = SMILE_N;
    /* Whole-pixel centre: at 0 degrees every pixel then lands on a bin
     * centre; a half-pixel centre (even sides) would split each pixel
     * between two bins and blur exactly the projection that should be
     * sharpest. The angle does not depend on the centre chosen. */
    double cx = floor(0.5 * (double)(w - 1)), cy = floor(0.5 * (double)(h - 1));

    if (!rows || !cols || !sp || !vs || max_deg <= 0)
        goto out;
    /* Only pixels clearly above the noise vote: a uniform floor would
     * favour tilted frames (a tilted rectangle projects to a trapezoid,
     * whose sum of squares is larger). */
    floor_lv = vote_floor(
        sig, mask, 3.0 * bq_noise_sigma(sig->px, sig->stride, 0, 0, w, h));
    for (size_t y = 0; y < h; y++) {
        const float *r = bq_row(sig, y);
        for (size_t x = 0; x < w; x++) {
            if (r[x] <= floor_lv || (mask && !mask[y * w + x]))
                continue;
            sp[n].dx = (float)((double)x - cx);
            sp[n].dy = (float)((double)y - cy);
            sp[n].w = (float)sqrt(r[x] - floor_lv);
            xmin = fmin(xmin, sp[n].dx);
            xmax = fmax(xmax, sp[n].dx);
            n++;
        }
    }
    if (n < 16)
        goto out;
    /* More than ~40000 voters add time, not precision: keep an evenly
     * spread subset. */
    if (n > 40000) {
        size_t every = n / 40000 + 1, m = 0;
        for (size_t k = 0; k < n; k += every)
            sp[m++] = sp[k];
        n = m;
    }
    /* Smile: band rows bow (the gel ran faster in the middle), so a band
     * row is a parabola, centred on the signal's width, plus the rotation.
     * Judged by its row projection alone the angle would follow the tilt
     * of whichever side carries more signal (a ladder lane at one edge):
     * on generated scans 1-100 the error was 0.98 degrees at the 90th
     * percentile, 0.61 with the smile searched together with the angle. */
    x0 = 0.5 * (xmin + xmax);
    half = fmax(0.5 * (xmax - xmin), 1.0);
    kstep = SMILE_EDGE / half / SMILE_STEPS;
    /* Coarse to fine: 0.5 degree steps over the range, then 0.1 and 0.02
     * around the best; a parabola through the last three picks the peak.
     * Each pass tries the smiles around the best one so far, the first
     * over the whole range, then one step either side. */
    for (int pass = 0; pass < 3; pass++) {
        double bs = -1, sm, spl, k0 = kbest - (nk / 2) * kstep;
        /* the coarse pass finds the neighbourhood: a quarter of the voters
         * (every 4th, still spread over the image) is enough */
        size_t nv = pass == 0 && n > 4000 ? n / 4 : n;
        struct sigpx *vp = sp;
        if (nv < n)
            for (size_t k = 0; k < nv; k++)
                vs[k] = sp[4 * k];
        if (nv < n)
            vp = vs;
        for (double a = lo; a <= hi + 1e-9; a += step) {
            projection_scores(vp, nv, a * BQ_PI / 180.0, k0, kstep, nk, x0,
                              rows, cols, nbins, sc);
            for (int m = 0; m < nk; m++)
                if (sc[m] > bs) {
                    bs = sc[m];
                    best = a;
                    kbest = k0 + m * kstep;
                }
        }
        if (pass == 2) {
            projection_scores(sp, n, (best - step) * BQ_PI / 180.0, kbest, 0,
                              1, x0, rows, cols, nbins, &sm);
            projection_scores(sp, n, (best + step) * BQ_PI / 180.0, kbest, 0,
                              1, x0, rows, cols, nbins, &spl);
            if (sm + spl - 2 * bs < 0)
                best += 0.5 * step * (sm - spl) / (sm + spl - 2 * bs);
            best = fmin(fmax(best, -max_deg), max_deg);
        }
        /* never past the largest angle asked for */
        lo = fmax(best - step, -max_deg);
        hi = fmin(best + step, max_deg);
        step /= 5;
        nk = 3;
        kstep /= 3;
    }
out:
    free(rows);
    free(cols);
    free(sp);
    free(vs);
    return best;
}

void
bq_rotate_point(size_t width, size_t height, double angle_deg, double x,
                double y, double *ox, double *oy)
{
    double t = angle_deg * BQ_PI / 180.0, c = cos(t), s = sin(t);
    double cx = 0.5 * (double)(width - 1), cy = 0.5 * (double)(height - 1);
    double dx = x - cx, dy = y - cy;

    *ox = c * dx - s * dy + cx;
    *oy = s * dx + c * dy + cy;
}

struct shear_ctx {
    struct bq_image *img; /* sheared in place */
    double a;             /* shear factor */
    long *k, *rs;         /* Y shear: integer shift per column, run starts */
    float *f;             /* Y shear: fractional shift per column */
    long nrun;            /* Y shear: number of runs */
};

/* X shear of rows [Y0, Y1) in place: IMG(x, y) <- IMG(x + a*(y - cy), y),
 * linear interpolation with one weight per row (the loop vectorises), 0
 * where the source falls outside. */
static void
shear_x_rows(void *arg, size_t y0, size_t y1)
{
    struct shear_ctx *c = arg;
    struct bq_image *img = c->img;
    double cy = 0.5 * (double)(img->height - 1);
    long w = (long)img->width;
    float *row = bq_alloc_array(img->width, sizeof *row);

    if (!row)
        return; /* rows left unsheared: deskew degrades only */
    for (size_t y = y0; y < y1; y++) {
        float *o = bq_row(img, y);
        double d = c->a * ((double)y - cy);
        long k = (long)floor(d), x0, x1;
        float f = (float)(d - (double)k), g = 1 - f;
        memcpy(row, o, (size_t)w * sizeof *row);
        /* o[x] = g*row[x+k] + f*row[x+k+1] where both are inside */
        x0 = -k > 0 ? -k : 0;
        x1 = w - 1 - k < w ? w - 1 - k : w;
        if (x1 < x0)
            x1 = x0;
        for (long x = 0; x < x0 && x < w; x++)
            o[x] = 0;
        for (long x = x0; x < x1; x++)
            o[x] = g * row[x + k] + f * row[x + k + 1];
        for (long x = x1; x < w; x++)
            o[x] = 0;
    }
    free(row);
}

static void
shear_x(struct bq_image *img, double a)
{
    struct shear_ctx c = {img, a, NULL, NULL, NULL, 0};
    bq_parallel_for(img->height, 0, shear_x_rows, &c);
}

/* Y shear in place of the column runs [R0, R1): IMG(x, y) <- IMG(x, y +
 * b*(x - cx)). The integer part K of the shift is constant over a run of
 * columns; each run is a blend of rows y+K and y+K+1. Runs with K >= 0 read
 * rows below the one written, so rows are walked top down; runs with K < 0
 * bottom up. Runs touch disjoint columns, so they can go to threads. */
#define PREFETCH_ROWS 4
#if defined(__GNUC__)
#define prefetch(p) __builtin_prefetch(p)
#else
#define prefetch(p) ((void)(p))
#endif

static void
shear_y_runs(void *arg, size_t r0, size_t r1)
{
    struct shear_ctx *c = arg;
    struct bq_image *img = c->img;
    long h = (long)img->height;

    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: runs with K >= 0, top down; pass 1: K < 0, bottom up */
        for (long i = 0; i < h; i++) {
            long y = pass == 0 ? i : h - 1 - i;
            float *o = bq_row(img, (size_t)y);
            for (size_t r = r0; r < r1; r++) {
                long x0 = c->rs[r], x1 = c->rs[r + 1], ys = y + c->k[x0];
                if ((c->k[x0] >= 0) != (pass == 0))
                    continue;
                if (ys < 0 || ys + 1 >= h) {
                    for (long x = x0; x < x1; x++)
                        o[x] = 0;
                    continue;
                }
                {
                    const float *a0 = bq_row(img, (size_t)ys);
                    const float *a1 = bq_row(img, (size_t)ys + 1);
                    const float *f = c->f;
                    /* A run is a few cache lines of each row, so the
                     * hardware sees hundreds of short streams and fetches
                     * none ahead: ask for the row this run reads
                     * PREFETCH_ROWS rows on. */
                    long yp =
                        pass == 0 ? ys + 1 + PREFETCH_ROWS : ys - PREFETCH_ROWS;
                    if (yp >= 0 && yp < h) {
                        const float *p = bq_row(img, (size_t)yp);
                        for (long x = x0; x < x1; x += 16)
                            prefetch(p + x);
                        prefetch(p + x1 - 1);
                    }
                    for (long x = x0; x < x1; x++)
                        o[x] = (1 - f[x]) * a0[x] + f[x] * a1[x];
                }
            }
        }
    }
}

static void
shear_y(struct bq_image *img, double b)
{
    double cx = 0.5 * (double)(img->width - 1);
    long w = (long)img->width;
    struct shear_ctx c = {img, b, NULL, NULL, NULL, 0};

    c.k = bq_alloc_array((size_t)w, sizeof *c.k);
    c.rs = bq_alloc_array((size_t)w + 1, sizeof *c.rs);
    c.f = bq_alloc_array((size_t)w, sizeof *c.f);
    if (c.k && c.rs && c.f) {
        for (long x = 0; x < w; x++) {
            double e = b * ((double)x - cx);
            c.k[x] = (long)floor(e);
            c.f[x] = (float)(e - (double)c.k[x]);
            if (x == 0 || c.k[x] != c.k[x - 1])
                c.rs[c.nrun++] = x;
        }
        c.rs[c.nrun] = w;
        bq_parallel_for((size_t)c.nrun, 0, shear_y_runs, &c);
    } /* else: out of memory, left unsheared: deskew degrades only */
    free(c.k);
    free(c.rs);
    free(c.f);
}

enum bq_status
bq_image_rotate(struct bq_image *img, double angle_deg, struct bq_error *err)
{
    double t = angle_deg * BQ_PI / 180.0;
    double a = -tan(0.5 * t), b = sin(t);

    (void)err;
    /* Paeth: R(t) = X(a) Y(b) X(a) exactly, so NEW(q) = OLD(R q) is three
     * passes: t1 = OLD o X(a), t2 = t1 o Y(b), NEW = t2 o X(a). Each pass
     * is a 1-D linear interpolation done in place, and shears keep areas,
     * so band volumes are kept. Rows (X) and column runs (Y) are split
     * over the processors. */
    shear_x(img, a);
    shear_y(img, b);
    shear_x(img, a);
    return BQ_OK;
}
