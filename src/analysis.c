/* The single-scan pipeline: load, prepare, background, deskew, layout,
 * bands, quantify. */
#include "blotquant/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parallel.h"
#include "util.h"

void
bq_analysis_opts_init(struct bq_analysis_opts *o)
{
    memset(o, 0, sizeof *o);
    bq_load_opts_init(&o->load);
    bq_prepare_opts_init(&o->prepare);
    bq_bg_opts_init(&o->bg);
    bq_layout_opts_init(&o->layout);
    bq_band_opts_init(&o->bands);
    o->max_angle = 6.0;
    o->local_baseline = 1;
}

void
bq_analysis_fini(struct bq_analysis *res)
{
    if (!res)
        return;
    bq_layout_fini(&res->layout);
    bq_bandset_fini(&res->bands);
    bq_image_destroy(res->signal);
    memset(res, 0, sizeof *res);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_box(const void *a, const void *b)
{
    const struct bq_box *x = a, *y = b;
    if (x->lane != y->lane)
        return x->lane - y->lane;
    return x->band - y->band;
}

/* Builds the layout and bands from explicit boxes: a lane box (band 0)
 * gets its bands detected inside it, band boxes are taken as they are. */
static enum bq_status
layout_from_boxes(const struct bq_image *sig, struct bq_box *boxes,
                  size_t nbox, const struct bq_band_opts *bopts,
                  struct bq_layout *lay, struct bq_bandset *set,
                  struct bq_error *err)
{
    size_t nl = 0, cap = 16;
    double *prof = NULL;
    struct bq_band tmp[128];
    enum bq_status st = BQ_OK;

    qsort(boxes, nbox, sizeof *boxes, cmp_box);
    memset(lay, 0, sizeof *lay);
    memset(set, 0, sizeof *set);
    lay->strips = calloc(1, sizeof *lay->strips);
    lay->lanes = bq_calloc_array(nbox, sizeof *lay->lanes);
    set->b = bq_alloc_array(cap, sizeof *set->b);
    set->cap = cap;
    prof = bq_alloc_array(sig->height, sizeof *prof);
    if (!lay->strips || !lay->lanes || !set->b || !prof) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "layout file: out of memory");
        goto out;
    }
    lay->noise = bq_noise_sigma(sig->px, sig->stride, 0, 0, sig->width,
                                sig->height);
    lay->nstrips = 1;
    lay->strips[0].top = 0;
    lay->strips[0].bottom = (double)sig->height;
    for (size_t i = 0; i < nbox; i++) {
        struct bq_box *bx = &boxes[i];
        struct bq_lane *ln;
        if (nl == 0 || boxes[i - 1].lane != bx->lane) {
            /* A new lane: its box spans all of its boxes. */
            double l = bx->x, r = bx->x + bx->w;
            for (size_t j = i; j < nbox && boxes[j].lane == bx->lane; j++) {
                l = boxes[j].x < l ? boxes[j].x : l;
                r = boxes[j].x + boxes[j].w > r ? boxes[j].x + boxes[j].w : r;
            }
            ln = &lay->lanes[nl++];
            ln->strip = 0;
            ln->index = (size_t)(bx->lane - 1);
            ln->left = l;
            ln->right = r;
            ln->x = 0.5 * (l + r);
            ln->width = r - l;
            ln->fixed = 1;
            ln->empty = 1;
        }
        ln = &lay->lanes[nl - 1];
        if (set->n + 128 > cap) {
            struct bq_band *nb;
            cap = 2 * cap + 128;
            nb = realloc(set->b, cap * sizeof *nb);
            if (!nb) {
                st = bq_error_set(err, BQ_ERR_NOMEM, "layout: out of memory");
                goto out;
            }
            set->b = nb;
            set->cap = cap;
        }
        if (bx->band > 0) {
            struct bq_band *b = &set->b[set->n++];
            memset(b, 0, sizeof *b);
            b->lane = nl - 1;
            b->index = (size_t)(bx->band - 1);
            b->row = bx->band - 1;
            b->top = b->sum_top = bx->y;
            b->bottom = b->sum_bottom = bx->y + bx->h;
            b->y = bx->y + 0.5 * bx->h;
            b->left = bx->x;
            b->right = bx->x + bx->w;
            b->frac = 1;
            b->fixed = 1;
            b->noise = lay->noise / sqrt(bx->w > 1 ? bx->w : 1);
            ln->empty = 0;
        } else {
            size_t y0 = (size_t)bq_clampd(bx->y, 0, (double)sig->height);
            size_t y1 = (size_t)bq_clampd(bx->y + bx->h, 0,
                                          (double)sig->height);
            size_t x0 = (size_t)bq_clampd(bx->x, 0, (double)sig->width);
            size_t x1 = (size_t)bq_clampd(bx->x + bx->w, 0,
                                          (double)sig->width);
            size_t nb, first = set->n;
            double noise;
            if (y1 <= y0 + 4 || x1 <= x0)
                continue;
            for (size_t y = y0; y < y1; y++) {
                double s = 0;
                for (size_t x = x0; x < x1; x++)
                    s += bq_row(sig, y)[x];
                prof[y - y0] = s / (double)(x1 - x0);
            }
            noise = lay->noise / sqrt((double)(x1 - x0));
            nb = bq_profile_peaks(prof, y1 - y0, noise, bopts, tmp, 128);
            for (size_t k = 0; k < nb; k++) {
                struct bq_band *b = &set->b[set->n++];
                *b = tmp[k];
                b->lane = nl - 1;
                b->index = set->n - 1 - first;
                b->row = (int)b->index;
                b->y += (double)y0;
                b->top += (double)y0;
                b->bottom += (double)y0;
                b->sum_top += (double)y0;
                b->sum_bottom += (double)y0;
                b->left = bx->x;
                b->right = bx->x + bx->w;
                b->noise = noise;
                ln->empty = 0;
            }
        }
    }
    lay->nlanes = nl;
    lay->strips[0].nlanes = nl;
out:
    free(prof);
    if (st != BQ_OK) {
        bq_layout_fini(lay);
        bq_bandset_fini(set);
    }
    return st;
}

struct sat_ctx {
    const struct bq_image *img; /* scanned */
    unsigned char *rows;        /* 1 per row that holds a saturated pixel */
    unsigned char *mask;        /* filled on the second pass */
};

/* Pass 1 over rows [A, B): which rows hold a saturated pixel. */
static void
sat_rows(void *arg, size_t a, size_t b)
{
    struct sat_ctx *c = arg;
    float lim = c->img->max_code;

    for (size_t y = a; y < b; y++) {
        const float *r = bq_row(c->img, y);
        int any = 0;
        for (size_t x = 0; x < c->img->width; x++)
            any |= r[x] >= lim;
        c->rows[y] = (unsigned char)any;
    }
}

/* Pass 2 over rows [A, B): the mask bytes of the flagged rows. */
static void
sat_fill(void *arg, size_t a, size_t b)
{
    struct sat_ctx *c = arg;
    float lim = c->img->max_code;
    size_t w = c->img->width;

    for (size_t y = a; y < b; y++) {
        const float *r = bq_row(c->img, y);
        if (!c->rows[y])
            continue;
        for (size_t x = 0; x < w; x++)
            c->mask[y * w + x] = r[x] >= lim;
    }
}

/* A byte per pixel, 1 where IMG is at or above its saturation level; NULL
 * (and ERR untouched) if no pixel is. NULL with ERR set if out of memory. */
static unsigned char *
saturation_mask(const struct bq_image *img, struct bq_error *err)
{
    struct sat_ctx c = {img, NULL, NULL};
    int any = 0;

    /* Float data has no clipping level: its maximum is just the largest
     * value present, not a ceiling the detector hit. */
    if (img->bit_depth == 32)
        return NULL;
    c.rows = bq_calloc_array(img->height, 1);
    if (!c.rows) {
        bq_error_set(err, BQ_ERR_NOMEM, "saturation mask: out of memory");
        return NULL;
    }
    bq_parallel_for(img->height, 0, sat_rows, &c);
    for (size_t y = 0; y < img->height && !any; y++)
        any = c.rows[y];
    if (any) {
        c.mask = bq_calloc_array(img->width * img->height, 1);
        if (!c.mask)
            bq_error_set(err, BQ_ERR_NOMEM, "saturation mask: out of memory");
        else
            bq_parallel_for(img->height, 0, sat_fill, &c);
    }
    free(c.rows);
    return c.mask;
}

/* Joins two bands of a lane that meet (one's box ends where the next
 * begins), neither a split part, with their peaks under 2 SD apart (no
 * valley can lie between them), when one holds saturated pixels: a
 * clipped top the doublet fit refused to pair (generated seed 2945: a
 * clipped pair, merged again, sat right below such a band 4 px off; the
 * truth's saturated band was the upper one, with no clipped pixel). The
 * joined band spans both boxes; JOINED (SET->n entries) marks it, to be
 * measured again. Returns how many were joined. */
static size_t
join_clipped_neighbours(struct bq_bandset *set, unsigned char *joined)
{
    size_t m = 0, nj = 0;

    for (size_t k = 0; k < set->n; k++) {
        struct bq_band *a = m ? &set->b[m - 1] : NULL, *b = &set->b[k];
        if (a && !a->split && !b->split && a->lane == b->lane &&
            a->bottom == b->top && (a->sat_px || b->sat_px) &&
            b->y - a->y < 2 * fmax(a->sigma, b->sigma) && a->volume > 0 &&
            b->volume > 0) {
            double va = a->volume, vb = b->volume;
            a->y = (va * a->y + vb * b->y) / (va + vb);
            a->sigma = fmax(a->sigma, b->sigma);
            a->bottom = a->sum_bottom = b->bottom;
            joined[m - 1] = 1;
            nj++;
            continue;
        }
        joined[m] = 0;
        set->b[m++] = *b;
    }
    set->n = m;
    return nj;
}

/* Merges split pairs that hold saturated pixels, then removes detected
 * bands whose measured volume is not positive: a peak in
 * the profile that holds no signal above its local baseline is an edge or
 * a ripple, not protein (seen at masked membrane edges). Renumbers bands
 * within each lane and compacts each strip's row labels. */
/* the smaller part of a split doublet must hold this share of the pair */
#define SPLIT_MIN_SHARE 0.05
/* A band carried by under a quarter of its lane's central columns is a
 * speck (dust, a scratch's end), not protein, which spans its lane: on the
 * real alpha-tubulin exposures specks read 0.06-0.10 and bands 0.46 and
 * over; on seeds 1-3000 (generated bands are as wide as their lanes) no
 * band found is under it, and four phantom lanes' bands are. */
#define SPECK_SPREAD 0.25

static void
drop_empty_bands(struct bq_bandset *set)
{
    size_t m = 0;
    int map[1024];

    /* A clipped band has a flat top, which the doublet test reads as two
     * peaks side by side: a split pair holding saturated pixels is one
     * band again (its volume, the pair's sum, is a lower bound anyway). */
    /* Likewise a split that leaves one part (almost) nothing: the fit
     * found no second band there, and the part alone would carry only its
     * share of the rows summed. */
    for (size_t k = 0; k + 1 < set->n; k++) {
        struct bq_band *a = &set->b[k], *b = &set->b[k + 1];
        double va = a->volume, vb = b->volume;
        if (!a->split || !b->split || a->lane != b->lane ||
            a->sum_top != b->sum_top || a->sum_bottom != b->sum_bottom)
            continue;
        if (a->sat_px == 0 && b->sat_px == 0 &&
            fmin(va, vb) > SPLIT_MIN_SHARE * (va + vb))
            continue;
        if (va > 0 && vb > 0) {
            a->y = (va * a->y + vb * b->y) / (va + vb);
            a->oy = (va * a->oy + vb * b->oy) / (va + vb);
        } else if (vb > va) {
            a->y = b->y;
            a->oy = b->oy;
        }
        a->volume += b->volume;
        /* the parts are shares (frac) of one box sum, so their errors
         * add as they are, not in quadrature (which understated the
         * merged band's by up to a factor sqrt 2) */
        a->volume_se += b->volume_se;
        a->sat_px += b->sat_px; /* their boxes do not overlap */
        a->top = a->sum_top;
        a->bottom = a->sum_bottom;
        a->frac = 1;
        a->split = 0;
        a->peak = a->peak > b->peak ? a->peak : b->peak;
        a->snr = a->snr > b->snr ? a->snr : b->snr;
        b->volume = 0; /* removed below */
    }
    for (size_t k = 0; k < set->n; k++)
        if (set->b[k].volume > 0 && set->b[k].spread >= SPECK_SPREAD)
            set->b[m++] = set->b[k];
    set->n = m;
    for (size_t k = 0; k < set->n; k++) {
        struct bq_band *b = &set->b[k];
        b->index = k > 0 && set->b[k - 1].lane == b->lane
                       ? set->b[k - 1].index + 1
                       : 0;
    }
    /* rows: labels used in a strip, in order, become 0, 1, 2, ... */
    for (size_t k = 0; k < set->n;) {
        size_t s = set->b[k].strip, e = k;
        int next = 0;
        for (int r = 0; r < 1024; r++)
            map[r] = -1;
        while (e < set->n && set->b[e].strip == s)
            e++;
        for (int r = 0; r < 1024; r++)
            for (size_t j = k; j < e; j++)
                if (set->b[j].row == r) {
                    map[r] = next++;
                    break;
                }
        for (size_t j = k; j < e; j++)
            if (set->b[j].row >= 0 && set->b[j].row < 1024)
                set->b[j].row = map[set->b[j].row];
        k = e;
    }
}

/* Drops lanes at either end of a strip whose best band is 200 times weaker
 * (signal-to-noise) than the strip's typical lane: faint background
 * structure beside the membrane's lanes, not lanes. Only end lanes go, one
 * at a time from the outside in, so an empty lane between real ones stays;
 * a genuinely weak lane (1 % of the strongest) is well above the limit.
 * Lane and band indices are renumbered. */
static void
drop_exterior_noise_lanes(struct bq_layout *lay, struct bq_bandset *set)
{
    for (size_t s = 0; s < lay->nstrips; s++) {
        struct bq_strip *sp = &lay->strips[s];
        double best[256], tmp[256], med;
        size_t nl = sp->nlanes, lo = 0, hi = nl, m = 0;

        if (nl < 4 || nl > 256)
            continue;
        for (size_t i = 0; i < nl; i++) {
            best[i] = 0;
            for (size_t k = 0; k < set->n; k++)
                if (set->b[k].lane == sp->first_lane + i &&
                    set->b[k].snr > best[i])
                    best[i] = set->b[k].snr;
            if (best[i] > 0)
                tmp[m++] = best[i];
        }
        if (m < 3)
            continue;
        med = bq_select_d(tmp, m, 0.5);
        while (lo < hi && best[lo] > 0 && best[lo] < 0.005 * med)
            lo++;
        while (hi > lo && best[hi - 1] > 0 && best[hi - 1] < 0.005 * med)
            hi--;
        if (lo == 0 && hi == nl)
            continue;
        /* remove lanes [first+hi, first+nl) and [first, first+lo) */
        for (int side = 0; side < 2; side++) {
            size_t a0 = side == 0 ? sp->first_lane + hi : sp->first_lane;
            size_t cnt = side == 0 ? nl - hi : lo;
            size_t m2 = 0;
            if (cnt == 0)
                continue;
            for (size_t k = 0; k < set->n; k++) {
                struct bq_band *b = &set->b[k];
                if (b->lane >= a0 && b->lane < a0 + cnt)
                    continue;
                if (b->lane >= a0 + cnt)
                    b->lane -= cnt;
                set->b[m2++] = *b;
            }
            set->n = m2;
            memmove(&lay->lanes[a0], &lay->lanes[a0 + cnt],
                    (lay->nlanes - a0 - cnt) * sizeof *lay->lanes);
            lay->nlanes -= cnt;
            sp->nlanes -= cnt;
            for (size_t t = s + 1; t < lay->nstrips; t++)
                lay->strips[t].first_lane -= cnt;
        }
        for (size_t i = 0; i < sp->nlanes; i++)
            lay->lanes[sp->first_lane + i].index = i;
    }
}

/* Refines the deskew ANGLE (degrees, within +-MAX) estimated on the
 * background-subtracted thumbnail TSIG by the lanes' own direction: the
 * thumbnail is turned by ANGLE, its lanes found, and their remaining lean
 * (bq_layout_lane_tilt) added, twice at most. The band rows' projection
 * alone mistakes a smile centred off the lanes' middle, or bowed more on
 * one side, for a rotation; the lanes stay straight whatever the smile.
 * Returns ANGLE unchanged where the lanes cannot tell (see
 * bq_layout_lane_tilt), or the thumbnail's layout fails. */
static double
lane_tilt_refine(const struct bq_image *tsig,
                 const struct bq_layout_opts *lopts, double angle, double max)
{
    for (int it = 0; it < 2; it++) {
        struct bq_image *t = bq_image_clone(tsig, NULL);
        struct bq_layout l;
        double tilt = 0;
        size_t n = 0;
        if (!t)
            break;
        if (bq_image_rotate(t, angle, NULL) == BQ_OK &&
            bq_layout_find(t, lopts, &l, NULL) == BQ_OK) {
            tilt = bq_layout_lane_tilt(t, &l, &n);
            bq_layout_fini(&l);
        }
        bq_image_destroy(t);
        if (n == 0)
            break;
        angle = bq_clampd(angle + tilt, -max, max);
        if (fabs(tilt) < 0.05)
            break;
    }
    return angle;
}

enum bq_status
bq_analyze_image(struct bq_image *img, const struct bq_analysis_opts *opts,
                 struct bq_analysis *res, struct bq_error *err)
{
    struct bq_analysis_opts def;
    struct bq_prepare_opts popts;
    struct bq_thumb thumb = {0};
    struct bq_background bg = {0};
    struct bq_image *sig = NULL, *tsig = NULL;
    unsigned char *satmask = NULL;
    struct bq_box *boxes = NULL;
    size_t nbox = 0;
    enum bq_status st;
    double t0;

    if (!opts) {
        bq_analysis_opts_init(&def);
        opts = &def;
    }
    res->width = img->width;
    res->height = img->height;
    res->bit_depth = img->bit_depth;
    res->max_code = img->max_code;
    if (opts->layout_file) {
        st = bq_layout_file_read(opts->layout_file, &boxes, &nbox, err);
        if (st != BQ_OK)
            goto out;
    } else if (opts->boxes && opts->nboxes) {
        /* a copy: the boxes are sorted in place */
        boxes = bq_alloc_array(opts->nboxes, sizeof *boxes);
        if (!boxes) {
            st = bq_error_set(err, BQ_ERR_NOMEM, "boxes: out of memory");
            goto out;
        }
        memcpy(boxes, opts->boxes, opts->nboxes * sizeof *boxes);
        nbox = opts->nboxes;
    }

    /* prepare: with explicit boxes, no pixel is altered but by polarity */
    t0 = now_ms();
    popts = opts->prepare;
    if (boxes) {
        popts.hot_pixels = 0;
        popts.membrane = 0;
    }
    st = bq_prepare(img, &popts, &thumb, &res->prep, err);
    if (st != BQ_OK)
        goto out;
    res->ms_prepare = now_ms() - t0;

    /* background */
    t0 = now_ms();
    st = bq_background_estimate(img, &thumb, &opts->bg, &bg, err);
    if (st != BQ_OK)
        goto out;
    res->bg_method = bg.method;
    res->bg_size = bg.size;
    res->bg_iterations = bg.iterations;
    /* Saturation is a property of the file's pixels: remember where they
     * sit (rarely anywhere) before the pixels become signal in place. */
    satmask = saturation_mask(img, err);
    if (err && err->status != BQ_OK) {
        st = err->status;
        goto out;
    }
    bq_background_subtract(img, &bg, &thumb, img);
    sig = img;

    res->ms_background = now_ms() - t0;

    /* deskew: estimated on the thumbnail, applied to the signal */
    t0 = now_ms();
    res->angle = 0;
    if (!boxes && opts->max_angle > 0) {
        tsig = bq_image_create(thumb.img->width, thumb.img->height, err);
        if (!tsig) {
            st = err ? err->status : BQ_ERR_NOMEM;
            goto out;
        }
        bq_background_subtract_thumb(&thumb, &bg, tsig);
        res->angle = bq_rotation_estimate(tsig, thumb.mask, opts->max_angle);
        res->angle = lane_tilt_refine(tsig, &opts->layout, res->angle,
                                      opts->max_angle);
        if (fabs(res->angle) < 0.05)
            res->angle = 0;
        if (res->angle != 0) {
            st = bq_image_rotate(sig, res->angle, err);
            if (st != BQ_OK)
                goto out;
        }
    }
    res->ms_deskew = now_ms() - t0;

    /* layout and bands */
    t0 = now_ms();
    if (boxes) {
        st = layout_from_boxes(sig, boxes, nbox, &opts->bands, &res->layout,
                               &res->bands, err);
        if (st != BQ_OK)
            goto out;
        res->ms_layout = now_ms() - t0;
    } else {
        st = bq_layout_find(sig, &opts->layout, &res->layout, err);
        if (st != BQ_OK)
            goto out;
        res->ms_layout = now_ms() - t0;
        t0 = now_ms();
        st = bq_bands_find(sig, &res->layout, &opts->bands, &res->bands, err);
        if (st != BQ_OK)
            goto out;
    }
    res->noise = res->layout.noise;
    bq_bands_measure(sig, satmask, &bg, &res->layout, res->angle,
                     opts->local_baseline && bg.method != BQ_BG_NONE,
                     &res->bands);
    if (!boxes) {
        unsigned char *joined;
        drop_empty_bands(&res->bands);
        joined = bq_alloc_array(res->bands.n + 1, 1);
        if (joined && join_clipped_neighbours(&res->bands, joined)) {
            bq_bands_measure_some(sig, satmask, &bg, &res->layout,
                                  res->angle,
                                  opts->local_baseline &&
                                      bg.method != BQ_BG_NONE,
                                  &res->bands, joined);
            drop_empty_bands(&res->bands); /* numbers them again */
        }
        free(joined);
        drop_exterior_noise_lanes(&res->layout, &res->bands);
    }
    res->ms_bands = now_ms() - t0;
    if (opts->keep_images) {
        res->signal = bq_image_clone(sig, err);
        if (!res->signal) {
            st = err ? err->status : BQ_ERR_NOMEM;
            goto out;
        }
    }
out:
    bq_thumb_fini(&thumb);
    bq_background_fini(&bg);
    free(satmask);
    bq_image_destroy(tsig);
    free(boxes);
    return st;
}

enum bq_status
bq_analyze_file(const char *path, const struct bq_analysis_opts *opts,
                struct bq_analysis *res, struct bq_error *err)
{
    struct bq_analysis_opts def;
    struct bq_image *img = NULL;
    enum bq_status st;
    double t0 = now_ms();

    memset(res, 0, sizeof *res);
    if (!opts) {
        bq_analysis_opts_init(&def);
        opts = &def;
    }
    st = bq_image_load(path, &opts->load, &img, &res->load, err);
    if (st != BQ_OK)
        return st;
    res->ms_load = now_ms() - t0;
    st = bq_analyze_image(img, opts, res, err);
    if (st != BQ_OK && err && err->msg[0]) {
        /* name the file in stage errors that do not */
        if (strstr(err->msg, path) == NULL) {
            char msg[2 * sizeof err->msg];
            snprintf(msg, sizeof msg, "%s: %s", path, err->msg);
            memcpy(err->msg, msg, sizeof err->msg - 1);
            err->msg[sizeof err->msg - 1] = '\0';
        }
    }
    bq_image_destroy(img);
    return st;
}
