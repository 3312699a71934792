/* Synthetic Western blot generator with exact ground truth.
 *
 * The scene is built in "membrane" coordinates (u, v): the blot as it would
 * look without rotation, in output pixel units, pixel centres at integers.
 * An output pixel (x, y) sees the membrane point
 *     u = cx + c (x - cx) + s (y - cy),   v = cy - s (x - cx) + c (y - cy)
 * with c = cos(rotation), s = sin(rotation) and (cx, cy) the image centre,
 * so a positive rotation turns the content clockwise as displayed (y down),
 * the ImageJ convention. Scans of a membrane (bq_synth_membrane_render)
 * are also shifted after the rotation: x and y above become x - tx and
 * y - ty. Truth coordinates are mapped forward through the same transform
 * and are therefore in output pixels.
 *
 * Rendering happens in the "light" sense (larger = more signal) on the
 * nominal code range (255, 65535, or 65535 for float output):
 *   1. background: level, illumination gradient, blotches, dark frame;
 *   2. bands: each evaluated only inside its bounding box; the truth volume
 *      of a band is the double sum of exactly the values added to the image;
 *   3. noise: Poisson (shot) and Gaussian read noise;
 *   4. hot pixels;
 *   5. quantisation and clipping (8/16 bit), saturation flags;
 *   6. inversion for dark bands (film look).
 * Every random choice comes from a xoshiro256** generator seeded from
 * p->seed, one independent stream per phase, so for example changing the
 * noise does not move the bands. The library never prints. */
#include "synth.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <tiffio.h>

/* Byte-identical output needs the same rounding everywhere: no fused
 * multiply-add contraction (GCC's ISO C mode already has it off). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define SYNTH_LN2 0.69314718055994530942
#define SYNTH_TMAX 2.3         /* horizontal cut-off, half widths */
#define SYNTH_ZMAX 5.0         /* vertical cut-off, SDs */
#define SYNTH_MAX_ROWS 6       /* band rows per strip */
#define SYNTH_MAX_BLOTCHES 64  /* background blotches */
#define SYNTH_POISSON_EXACT 30 /* below this mean, draw Poisson exactly */
#define SYNTH_COVER_FRAC 0.01  /* band "covers" a pixel above this of peak */

/* Independent random streams, one per phase. */
enum synth_stream {
    SYNTH_STREAM_GEOMETRY = 1,
    SYNTH_STREAM_NOISE = 2,
    SYNTH_STREAM_HOT = 3,
    SYNTH_STREAM_RANDOMIZE = 4,
    SYNTH_STREAM_SCAN = 5 /* membrane scans: tray, gradient, blotches */
};

/* ---------------------------------------------------------------------- */
/* Random numbers                                                          */
/* ---------------------------------------------------------------------- */

/* xoshiro256** state plus a cached second normal deviate. */
struct synth_rng {
    uint64_t s[4];  /* generator state, never all zero */
    int has_spare;  /* 1 if spare holds an unused normal deviate */
    double spare;   /* second deviate of the last polar-method pair */
};

/* Advances the splitmix64 state X and returns the next output. */
static uint64_t
synth_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Seeds R from SEED and the stream number STREAM. */
static void
synth_rng_seed(struct synth_rng *r, uint64_t seed, enum synth_stream stream)
{
    uint64_t mix = (uint64_t)stream;
    uint64_t x = seed ^ synth_splitmix64(&mix);

    for (int i = 0; i < 4; i++)
        r->s[i] = synth_splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0;
}

/* Rotates X left by K bits. */
static inline uint64_t
synth_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Returns the next 64 random bits of R (xoshiro256**). */
static inline uint64_t
synth_rng_next(struct synth_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = synth_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = synth_rotl(s[3], 45);
    return result;
}

/* Returns a uniform double in [0, 1) with 53 random bits. */
static inline double
synth_unit(struct synth_rng *r)
{
    return (double)(synth_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Returns a uniform double in [A, B). */
static double
synth_uniform(struct synth_rng *r, double a, double b)
{
    return a + (b - a) * synth_unit(r);
}

/* Returns a uniform integer in [LO, HI] (HI >= LO). */
static int
synth_int(struct synth_rng *r, int lo, int hi)
{
    int v = lo + (int)(synth_unit(r) * (double)(hi - lo + 1));

    return v > hi ? hi : v;
}

/* Returns a standard normal deviate (Marsaglia polar method). */
static inline double
synth_normal(struct synth_rng *r)
{
    double u, v, s, f;

    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    do {
        u = 2.0 * synth_unit(r) - 1.0;
        v = 2.0 * synth_unit(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

/* Returns an exact Poisson deviate of mean LAMBDA (small means only: the
 * cost grows with LAMBDA). Knuth's multiplication method. */
static double
synth_poisson_small(struct synth_rng *r, double lambda)
{
    double limit = exp(-lambda);
    double prod = synth_unit(r);
    int k = 0;

    while (prod > limit) {
        k++;
        prod *= synth_unit(r);
    }
    return (double)k;
}

/* ---------------------------------------------------------------------- */
/* Parameters                                                              */
/* ---------------------------------------------------------------------- */

void
bq_synth_params_init(struct bq_synth_params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->width = 1024;
    p->height = 768;
    p->bit_depth = 16;
    p->dark_bands = 0;
    p->strips = 1;
    p->lanes = 8;
    p->rows = 2;
    p->dyn_range = 10.0;
    p->peak_frac = 0.6;
    p->background = 0.08;
    p->read_noise = 20.0;
    p->gain = 0.0;
}

/* Returns the nominal code range for BIT_DEPTH: float output uses the
 * 16-bit scale (without clipping or rounding). */
static double
synth_range(int bit_depth)
{
    return bit_depth == 8 ? 255.0 : 65535.0;
}

void
bq_synth_params_randomize(struct bq_synth_params *p, uint64_t seed)
{
    struct synth_rng r;
    double range = synth_range(p->bit_depth);
    double scale16 = range / 65535.0; /* noise scales with the code range */
    int max_lanes;

    synth_rng_seed(&r, seed, SYNTH_STREAM_RANDOMIZE);
    p->seed = seed;
    p->strips = p->height >= 240 ? synth_int(&r, 1, 2) : 1;
    max_lanes = (int)(0.85 * (double)p->width / 16.0);
    if (max_lanes < 1)
        max_lanes = 1;
    p->lanes = synth_int(&r, 6, 20);
    if (p->lanes > max_lanes)
        p->lanes = max_lanes;
    p->rows = synth_int(&r, 2, 4);
    p->dyn_range = 100.0;
    p->peak_frac = synth_uniform(&r, 0.5, 1.2);
    p->rotation_deg = synth_uniform(&r, -5.0, 5.0);
    p->smile = synth_uniform(&r, 0.0, 1.5);
    p->lane_width_jitter = synth_uniform(&r, 0.0, 0.2);
    p->lane_pos_jitter = synth_uniform(&r, 0.0, 0.08);
    p->empty_lanes = synth_int(&r, 0, 2);
    if (p->empty_lanes > p->lanes - 2)
        p->empty_lanes = p->lanes > 2 ? p->lanes - 2 : 0;
    p->ladder = 1;
    p->doublets = 1;
    p->gradient = synth_uniform(&r, 0.0, 0.5);
    p->blotches = synth_int(&r, 0, 3);
    p->frame = synth_unit(&r) < 0.5;
    p->background = synth_uniform(&r, 0.05, 0.15);
    p->read_noise = synth_uniform(&r, 0.0003, 0.0015) * range;
    p->gain = synth_uniform(&r, 0.5, 4.0) / scale16;
    p->hot_pixels = synth_int(&r, 5, 50);
}

/* Small named checks: each returns 1 if the condition holds. */
static int
synth_in(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

/* Checks P. Returns BQ_OK or BQ_ERR_INVALID with ERR filled. */
static enum bq_status
synth_check_params(const struct bq_synth_params *p, struct bq_error *err)
{
    enum bq_status st = BQ_ERR_INVALID;
    size_t npix;

    if (p->width < 32 || p->height < 32 || p->width > 65535 ||
        p->height > 65535)
        bq_error_set(err, st, "synth: image %zux%zu: each side must be "
                     "32..65535 pixels", p->width, p->height);
    else if (!bq_mul_size(p->width, p->height, &npix))
        bq_error_set(err, BQ_ERR_LIMIT, "synth: image too large");
    else if (p->bit_depth != 8 && p->bit_depth != 16 && p->bit_depth != 32)
        bq_error_set(err, st, "synth: bit depth %d (use 8, 16 or 32)",
                     p->bit_depth);
    else if (p->strips < 1 || p->strips > BQ_SYNTH_MAX_STRIPS)
        bq_error_set(err, st, "synth: %d strips (use 1..%d)", p->strips,
                     BQ_SYNTH_MAX_STRIPS);
    else if (p->lanes < 1 || p->lanes > BQ_SYNTH_MAX_LANES)
        bq_error_set(err, st, "synth: %d lanes (use 1..%d)", p->lanes,
                     BQ_SYNTH_MAX_LANES);
    else if (p->rows < 1 || p->rows > SYNTH_MAX_ROWS)
        bq_error_set(err, st, "synth: %d band rows (use 1..%d)", p->rows,
                     SYNTH_MAX_ROWS);
    else if (!synth_in(p->dyn_range, 1.0, 1e6))
        bq_error_set(err, st, "synth: dynamic range %g (use 1..1e6)",
                     p->dyn_range);
    else if (!synth_in(p->peak_frac, 1e-6, 100.0))
        bq_error_set(err, st, "synth: peak fraction %g (use >0..100)",
                     p->peak_frac);
    else if (!synth_in(p->rotation_deg, -5.0, 5.0))
        bq_error_set(err, st, "synth: rotation %g degrees (use -5..5)",
                     p->rotation_deg);
    else if (!synth_in(p->smile, 0.0, 3.0))
        bq_error_set(err, st, "synth: smile %g (use 0..3)", p->smile);
    else if (!synth_in(p->lane_width_jitter, 0.0, 0.3))
        bq_error_set(err, st, "synth: lane width jitter %g (use 0..0.3)",
                     p->lane_width_jitter);
    else if (!synth_in(p->lane_pos_jitter, 0.0, 0.15))
        bq_error_set(err, st, "synth: lane position jitter %g (use 0..0.15)",
                     p->lane_pos_jitter);
    else if (p->empty_lanes < 0 ||
             p->empty_lanes > (p->lanes > 2 ? p->lanes - 2 : 0))
        bq_error_set(err, st, "synth: %d empty lanes, but only %d interior "
                     "lanes", p->empty_lanes, p->lanes > 2 ? p->lanes - 2 : 0);
    else if (!synth_in(p->gradient, 0.0, 1.0))
        bq_error_set(err, st, "synth: gradient %g (use 0..1)", p->gradient);
    else if (p->blotches < 0 || p->blotches > SYNTH_MAX_BLOTCHES)
        bq_error_set(err, st, "synth: %d blotches (use 0..%d)", p->blotches,
                     SYNTH_MAX_BLOTCHES);
    else if (!synth_in(p->background, 0.0, 0.9))
        bq_error_set(err, st, "synth: background %g (use 0..0.9)",
                     p->background);
    else if (!synth_in(p->read_noise, 0.0, 1e9))
        bq_error_set(err, st, "synth: read noise %g (use >= 0)",
                     p->read_noise);
    else if (!synth_in(p->gain, 0.0, 1e9))
        bq_error_set(err, st, "synth: gain %g (use >= 0)", p->gain);
    else if (p->hot_pixels < 0 || (size_t)p->hot_pixels > npix / 2)
        bq_error_set(err, st, "synth: %d hot pixels (use 0..half the "
                     "pixels)", p->hot_pixels);
    else
        st = BQ_OK;
    return st;
}

/* ---------------------------------------------------------------------- */
/* Scene                                                                   */
/* ---------------------------------------------------------------------- */

/* One band of the scene, in membrane coordinates. */
struct synth_band {
    int strip, lane, row, sub; /* as in bq_synth_band */
    double u;                  /* lane centre, membrane px */
    double vrow;               /* band centre before the smile, px */
    double hw;                 /* half of the FWHM (lane width / 2), px */
    double sigma;              /* vertical SD, px */
    double amp;                /* peak height, code units */
    double smile;              /* upward shift at the smile edge, px */
    double uc;                 /* smile centre (strip lane centre), px */
    double inv_dmax;           /* 1 / smile half span, 1/px (0: none) */
    double logv;               /* relative log volume while building */
    double volume;             /* accumulated rendered sum, code units */
    int saturated;             /* 1 if it covers a clipped pixel */
};

/* One strip (cut membrane piece) with its lanes. */
struct synth_strip {
    double v0, v1;                      /* vertical extent, membrane px */
    double pitch;                       /* lane spacing, px */
    double lane_u[BQ_SYNTH_MAX_LANES];  /* lane centres, membrane px */
    double lane_w[BQ_SYNTH_MAX_LANES];  /* lane FWHM, px */
    int empty[BQ_SYNTH_MAX_LANES];      /* 1: no bands */
    int ladder[BQ_SYNTH_MAX_LANES];     /* 1: molecular weight ladder */
    double uc;                          /* centre of the lane span, px */
    double dmax;                        /* half the lane span, px */
};

/* A broad background blotch; isotropic, so kept in output coordinates. */
struct synth_blotch {
    double x, y;  /* centre, output px */
    double sigma; /* SD, px */
    double amp;   /* peak, code units (may be negative) */
};

/* Everything needed to render one blot. */
struct synth_scene {
    size_t w, h;                /* output size, px */
    double cx, cy;              /* rotation centre, px */
    double cs, sn;              /* cos and sin of the rotation */
    double tx, ty;              /* shift after the rotation, px (0 for
                                   bq_synth_generate) */
    double range;               /* nominal code range (255 or 65535) */
    double level;               /* flat background, code units */
    double gradient;            /* illumination gradient, fraction */
    double grad[5];             /* X, Y, X^2, Y^2, XY weights (sum |.|=1) */
    int frame;                  /* 1: membrane rectangle + dark frame */
    double mx0, mx1, my0, my1;  /* membrane rectangle, membrane px */
    double inv_soft;            /* 1 / edge softness, 1/px */
    double frame_value;         /* light-sense value of the frame */
    int ngaps;                  /* cut gaps between strips */
    double gap0[BQ_SYNTH_MAX_STRIPS], gap1[BQ_SYNTH_MAX_STRIPS]; /* px */
    int nblotches;              /* used entries of blotches */
    struct synth_blotch blotches[SYNTH_MAX_BLOTCHES]; /* blotches */
    int nstrips;                /* used entries of strips */
    struct synth_strip strips[BQ_SYNTH_MAX_STRIPS]; /* strips */
    size_t nbands;              /* used entries of bands */
    struct synth_band *bands;   /* owned */
};

/* Maps membrane point (U, V) to output pixel coordinates (*X, *Y). */
static void
synth_to_output(const struct synth_scene *sc, double u, double v, double *x,
                double *y)
{
    double du = u - sc->cx, dv = v - sc->cy;

    *x = sc->cx + sc->cs * du - sc->sn * dv + sc->tx;
    *y = sc->cy + sc->sn * du + sc->cs * dv + sc->ty;
}

/* Returns the noise-free contribution of band B at membrane point (U, V):
 * a flat-topped super-Gaussian across the lane (FWHM = lane width) times a
 * Gaussian along the lane whose centre follows the smile. Exactly 0
 * outside the cut-off box. */
static inline double
synth_band_value(const struct synth_band *b, double u, double v)
{
    double t = (u - b->u) / b->hw;
    double t4 = t * t * t * t;
    double q, dv, z2;

    if (t4 > SYNTH_TMAX * SYNTH_TMAX * SYNTH_TMAX * SYNTH_TMAX)
        return 0.0;
    q = (u - b->uc) * b->inv_dmax;
    dv = v - (b->vrow - b->smile * q * q);
    z2 = dv * dv / (2.0 * b->sigma * b->sigma);
    if (z2 > 0.5 * SYNTH_ZMAX * SYNTH_ZMAX)
        return 0.0;
    return b->amp * exp(-(SYNTH_LN2 * t4 + z2));
}

/* Computes the output pixel box [*x0,*x1] x [*y0,*y1] that holds every
 * non-zero value of band B, clipped to the image. Empty if *x0 > *x1 or
 * *y0 > *y1. */
static void
synth_band_box(const struct synth_scene *sc, const struct synth_band *b,
               long *x0, long *x1, long *y0, long *y1)
{
    double ulo = b->u - SYNTH_TMAX * b->hw, uhi = b->u + SYNTH_TMAX * b->hw;
    double qlo = (ulo - b->uc) * b->inv_dmax, qhi = (uhi - b->uc) * b->inv_dmax;
    double offlo = -b->smile * fmax(qlo * qlo, qhi * qhi);
    double offhi = (ulo <= b->uc && b->uc <= uhi)
                       ? 0.0
                       : -b->smile * fmin(qlo * qlo, qhi * qhi);
    double vlo = b->vrow + offlo - SYNTH_ZMAX * b->sigma;
    double vhi = b->vrow + offhi + SYNTH_ZMAX * b->sigma;
    double cu[4] = {ulo, uhi, ulo, uhi}, cv[4] = {vlo, vlo, vhi, vhi};
    double xmin = HUGE_VAL, xmax = -HUGE_VAL, ymin = HUGE_VAL, ymax = -HUGE_VAL;

    for (int i = 0; i < 4; i++) {
        double x, y;
        synth_to_output(sc, cu[i], cv[i], &x, &y);
        xmin = fmin(xmin, x);
        xmax = fmax(xmax, x);
        ymin = fmin(ymin, y);
        ymax = fmax(ymax, y);
    }
    *x0 = (long)fmax(floor(xmin), 0.0);
    *x1 = (long)fmin(ceil(xmax), (double)sc->w - 1.0);
    *y0 = (long)fmax(floor(ymin), 0.0);
    *y1 = (long)fmin(ceil(ymax), (double)sc->h - 1.0);
}

/* Places the lanes of strip S (pitch, offset, widths, jitter) inside the
 * horizontal region [RX0, RX1]. Strips after the first get a different
 * pitch and a lane phase chosen away from the earlier strips, so their
 * lanes do not line up. */
static void
synth_place_lanes(const struct bq_synth_params *p, struct synth_scene *sc,
                  int s, double rx0, double rx1, struct synth_rng *r)
{
    struct synth_strip *st = &sc->strips[s];
    double rw = rx1 - rx0, base = rw / p->lanes;
    double f, slack, off = 0.0, best = -1.0, ratio;
    int nl = p->lanes;

    if (s == 0) {
        f = synth_uniform(r, 0.86, 0.96);
    } else {
        double prev = sc->strips[s - 1].pitch / base;
        double d = synth_uniform(r, 0.03, 0.06);
        f = prev - d >= 0.80 ? prev - d : prev + d;
    }
    st->pitch = base * f;
    slack = rw - nl * st->pitch;
    /* Lane phase: try a few offsets, keep the one whose first lane is
     * farthest (in units of pitch) from the first lanes of earlier strips. */
    for (int tries = 0; tries < 32; tries++) {
        double cand = synth_uniform(r, 0.0, slack), worst = 1.0;
        for (int t = 0; t < s; t++) {
            double a = rx0 + cand + 0.5 * st->pitch;
            double ph = (a - sc->strips[t].lane_u[0]) / st->pitch;
            double d = fabs(ph - floor(ph + 0.5));
            worst = fmin(worst, d);
        }
        if (worst > best) {
            best = worst;
            off = cand;
        }
        if (s == 0 || best >= 0.3)
            break;
    }
    ratio = synth_uniform(r, 0.55, 0.75);
    for (int i = 0; i < nl; i++) {
        double jp = synth_uniform(r, -1.0, 1.0) * p->lane_pos_jitter;
        double jw = synth_uniform(r, -1.0, 1.0) * p->lane_width_jitter;
        st->lane_u[i] = rx0 + off + (i + 0.5 + jp) * st->pitch;
        st->lane_w[i] = fmax(3.0, ratio * st->pitch * (1.0 + jw));
    }
    st->uc = 0.5 * (st->lane_u[0] + st->lane_u[nl - 1]);
    st->dmax = 0.5 * (st->lane_u[nl - 1] - st->lane_u[0]);
}

/* Chooses the empty and ladder lanes of strip S. */
static void
synth_mark_lanes(const struct bq_synth_params *p, struct synth_strip *st,
                 struct synth_rng *r)
{
    int pool[BQ_SYNTH_MAX_LANES], npool = 0;

    memset(st->empty, 0, sizeof st->empty);
    memset(st->ladder, 0, sizeof st->ladder);
    if (p->ladder)
        st->ladder[0] = 1;
    for (int i = 1; i + 1 < p->lanes; i++)
        pool[npool++] = i;
    for (int k = 0; k < p->empty_lanes && npool > 0; k++) {
        int j = synth_int(r, k, npool - 1);
        int t = pool[k];
        pool[k] = pool[j];
        pool[j] = t;
        st->empty[pool[k]] = 1;
    }
}

/* Appends a band to SC (capacity checked by the caller's sizing). */
static struct synth_band *
synth_add_band(struct synth_scene *sc, const struct synth_strip *st, int s,
               int lane, int row, int sub, double vrow, double sigma,
               double smile)
{
    struct synth_band *b = &sc->bands[sc->nbands++];

    memset(b, 0, sizeof *b);
    b->strip = s;
    b->lane = lane;
    b->row = row;
    b->sub = sub;
    b->u = st->lane_u[lane];
    b->vrow = vrow;
    b->hw = 0.5 * st->lane_w[lane];
    b->sigma = sigma;
    b->uc = st->uc;
    b->inv_dmax = st->dmax >= 1.0 ? 1.0 / st->dmax : 0.0;
    b->smile = b->inv_dmax > 0.0 ? smile : 0.0;
    return b;
}

/* Standard ladder marker weights, kDa, top to bottom. */
static const double synth_ladder_kda[] = {250, 150, 100, 75, 50,
                                          37,  25,  20,  15, 10};

/* Builds the band rows, the doublet, the ladder and the relative volumes
 * of strip S. Returns BQ_OK or BQ_ERR_INVALID if the strip is too short. */
static enum bq_status
synth_place_bands(const struct bq_synth_params *p, struct synth_scene *sc,
                  int s, struct synth_rng *r, struct bq_error *err)
{
    struct synth_strip *st = &sc->strips[s];
    double sh = st->v1 - st->v0;
    double sig[SYNTH_MAX_ROWS], vr[SYNTH_MAX_ROWS], sep[SYNTH_MAX_ROWS];
    double smax = 0.0, pad_top, pad_bot, slot, sig_min, sig_lad, mean_sig = 0;
    double wmean = 0.0;
    double loading = synth_uniform(r, 0.75, 0.95);
    int rows = p->rows, drow = -1, nlad = synth_int(r, 8, 10);
    int lrow = rows >= 2 ? rows - 1 : -1; /* loading-control row */

    if (p->doublets)
        drow = synth_int(r, 0, rows - 1);
    for (int k = 0; k < rows; k++) {
        sig[k] = synth_uniform(r, 0.015, 0.04) * sh;
        smax = fmax(smax, p->smile * 2.0 * sig[k]);
    }
    pad_top = 0.08 * sh + smax;
    pad_bot = 0.08 * sh;
    slot = (sh - pad_top - pad_bot) / rows;
    if (slot < 12.0)
        return bq_error_set(err, BQ_ERR_INVALID, "synth: strip %d is %.0f px "
                            "high, too short for %d band rows", s, sh, rows);
    sig_min = HUGE_VAL;
    for (int i = 0; i < p->lanes; i++)
        wmean += st->lane_w[i] / p->lanes;
    for (int k = 0; k < rows; k++) {
        /* Rows must fit their slot, and a band is wider than tall: with
         * many narrow lanes, cap the SD at 15% of the lane width. */
        double cap = fmin(slot / (k == drow ? 10.5 : 7.0), 0.15 * wmean);
        sig[k] = fmax(1.5, fmin(sig[k], cap));
        /* Doublet spacing: below ~2 SD there is no valley at all, above it
         * a shallow one, so the analyser sees both kinds. */
        sep[k] = k == drow ? synth_uniform(r, 1.6, 2.8) * sig[k] : 0.0;
        vr[k] = st->v0 + pad_top +
                (k + 0.5 + synth_uniform(r, -0.15, 0.15)) * slot;
        sig_min = fmin(sig_min, sig[k]);
        mean_sig += sig[k] / rows;
    }
    sig_lad = fmax(1.5, 0.6 * sig_min);

    for (int i = 0; i < p->lanes; i++) {
        if (st->empty[i])
            continue;
        if (st->ladder[i]) {
            /* Marker positions follow log(kDa), as on a gradient gel. */
            double smile = p->smile * 2.0 * mean_sig;
            double top = st->v0 + 0.06 * sh + smile, bot = st->v1 - 0.06 * sh;
            double l0 = log(synth_ladder_kda[0]);
            double l1 = log(synth_ladder_kda[nlad - 1]);
            for (int k = 0; k < nlad; k++) {
                double f = (l0 - log(synth_ladder_kda[k])) / (l0 - l1);
                double v = top + f * (bot - top) +
                           synth_uniform(r, -0.005, 0.005) * sh;
                struct synth_band *b =
                    synth_add_band(sc, st, s, i, -1, 0, v, sig_lad, smile);
                /* Relative peak; the 75 and 25 kDa references are brighter. */
                b->logv = synth_uniform(r, 0.15, 0.45);
                if (k == 3 || k == 6)
                    b->logv = fmin(0.8, 1.8 * b->logv);
            }
            continue;
        }
        for (int k = 0; k < rows; k++) {
            double sm = p->smile * 2.0 * sig[k];
            if (k == drow) {
                double l0 = synth_unit(r);
                double l1 = fmin(1.0, fmax(0.0, l0 + synth_uniform(r, -0.4,
                                                                   0.4)));
                synth_add_band(sc, st, s, i, k, 0, vr[k] - 0.5 * sep[k], sig[k],
                               sm)->logv = l0;
                synth_add_band(sc, st, s, i, k, 1, vr[k] + 0.5 * sep[k], sig[k],
                               sm)->logv = l1;
            } else if (k == lrow) {
                synth_add_band(sc, st, s, i, k, 0, vr[k], sig[k], sm)->logv =
                    loading + synth_uniform(r, -0.06, 0.06);
            } else {
                synth_add_band(sc, st, s, i, k, 0, vr[k], sig[k], sm)->logv =
                    synth_unit(r);
            }
        }
    }
    return BQ_OK;
}

/* Turns relative log volumes into peak amplitudes: the non-ladder volumes
 * (about amp * width * sigma) span exactly P->dyn_range, and the tallest
 * non-ladder band peaks at peak_frac of the range above the background.
 * Ladder bands get their stored fraction of that peak. */
static void
synth_set_amplitudes(const struct bq_synth_params *p, struct synth_scene *sc)
{
    double lmin = HUGE_VAL, lmax = -HUGE_VAL, amax = 0.0;
    double apk = p->peak_frac * (sc->range - sc->level);
    double lndr = log(p->dyn_range);

    for (size_t i = 0; i < sc->nbands; i++) {
        if (sc->bands[i].row < 0)
            continue;
        lmin = fmin(lmin, sc->bands[i].logv);
        lmax = fmax(lmax, sc->bands[i].logv);
    }
    for (size_t i = 0; i < sc->nbands; i++) {
        struct synth_band *b = &sc->bands[i];
        double lv;
        if (b->row < 0)
            continue;
        lv = lmax - lmin > 1e-12 ? -lndr * (lmax - b->logv) / (lmax - lmin)
                                 : 0.0;
        b->amp = exp(lv) / (b->hw * b->sigma);
        amax = fmax(amax, b->amp);
    }
    for (size_t i = 0; i < sc->nbands; i++) {
        struct synth_band *b = &sc->bands[i];
        b->amp = b->row < 0 ? b->logv * apk : b->amp / amax * apk;
    }
}

/* Builds the whole scene of P into SC (SC->bands allocated here; the
 * caller frees it). Returns BQ_OK or an error with ERR filled. */
static enum bq_status
synth_scene_build(const struct bq_synth_params *p, struct synth_scene *sc,
                  struct bq_error *err)
{
    struct synth_rng r;
    double W = (double)p->width, H = (double)p->height;
    double fr[BQ_SYNTH_MAX_STRIPS], ftot = 0.0, cy0, cy1, rx0, rx1, v, gsum;
    double ffrac, theta = p->rotation_deg * 3.14159265358979323846 / 180.0;
    size_t cap;
    enum bq_status st = BQ_OK;

    memset(sc, 0, sizeof *sc);
    synth_rng_seed(&r, p->seed, SYNTH_STREAM_GEOMETRY);
    sc->w = p->width;
    sc->h = p->height;
    sc->cx = 0.5 * (W - 1.0);
    sc->cy = 0.5 * (H - 1.0);
    sc->cs = cos(theta);
    sc->sn = sin(theta);
    sc->range = synth_range(p->bit_depth);
    sc->level = p->background * sc->range;

    /* Phase 1: membrane, frame and strips (vertical layout). */
    sc->frame = p->frame != 0;
    sc->mx0 = synth_uniform(&r, 0.03, 0.08) * (W - 1.0);
    sc->mx1 = (1.0 - synth_uniform(&r, 0.03, 0.08)) * (W - 1.0);
    sc->my0 = synth_uniform(&r, 0.03, 0.08) * (H - 1.0);
    sc->my1 = (1.0 - synth_uniform(&r, 0.03, 0.08)) * (H - 1.0);
    sc->inv_soft = 1.0 / synth_uniform(&r, 0.6, 2.0);
    ffrac = synth_unit(&r);
    sc->frame_value = p->dark_bands
                          ? sc->range * (1.0 - 0.01 - 0.03 * ffrac)
                          : sc->level * (0.05 + 0.15 * ffrac);
    if (sc->frame) {
        cy0 = sc->my0;
        cy1 = sc->my1;
        rx0 = sc->mx0 + 0.025 * W;
        rx1 = sc->mx1 - 0.025 * W;
    } else {
        cy0 = 0.03 * (H - 1.0);
        cy1 = 0.97 * (H - 1.0);
        rx0 = 0.04 * (W - 1.0);
        rx1 = 0.96 * (W - 1.0);
    }
    if ((rx1 - rx0) / p->lanes < 8.0) {
        st = bq_error_set(err, BQ_ERR_INVALID, "synth: image %zu px wide is "
                          "too narrow for %d lanes", p->width, p->lanes);
        goto out;
    }
    sc->nstrips = p->strips;
    for (int s = 0; s < p->strips; s++) {
        fr[s] = synth_uniform(&r, 0.8, 1.25);
        ftot += fr[s];
    }
    v = cy0;
    for (int s = 0; s < p->strips; s++) {
        double gap = fmax(3.0, synth_uniform(&r, 0.006, 0.015) * H);
        double v1 = v + fr[s] / ftot * (cy1 - cy0);
        sc->strips[s].v0 = v;
        sc->strips[s].v1 = v1;
        if (sc->frame && s > 0) {
            /* A cut: the two pieces leave a dark gap between them. */
            sc->gap0[sc->ngaps] = v - 0.5 * gap;
            sc->gap1[sc->ngaps] = v + 0.5 * gap;
            sc->strips[s - 1].v1 = v - 0.5 * gap;
            sc->strips[s].v0 = v + 0.5 * gap;
            sc->ngaps++;
        }
        v = v1;
    }

    /* Phase 2: lanes of each strip. */
    for (int s = 0; s < p->strips; s++) {
        synth_place_lanes(p, sc, s, rx0, rx1, &r);
        synth_mark_lanes(p, &sc->strips[s], &r);
    }

    /* Phase 3: bands and their amplitudes. */
    cap = (size_t)p->strips * (size_t)p->lanes * BQ_SYNTH_MAX_BANDS;
    sc->bands = bq_calloc_array(cap, sizeof *sc->bands);
    if (!sc->bands) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "synth: no memory for bands");
        goto out;
    }
    for (int s = 0; s < p->strips; s++) {
        st = synth_place_bands(p, sc, s, &r, err);
        if (st != BQ_OK)
            goto out;
    }
    synth_set_amplitudes(p, sc);

    /* Phase 4: illumination gradient and blotches. */
    sc->gradient = p->gradient;
    gsum = 0.0;
    for (int i = 0; i < 5; i++) {
        sc->grad[i] = synth_uniform(&r, -1.0, 1.0);
        gsum += fabs(sc->grad[i]);
    }
    for (int i = 0; i < 5; i++)
        sc->grad[i] = gsum > 0.0 ? sc->grad[i] / gsum : 0.0;
    sc->nblotches = p->blotches;
    for (int i = 0; i < p->blotches; i++) {
        struct synth_blotch *b = &sc->blotches[i];
        double u = synth_uniform(&r, sc->mx0, sc->mx1);
        double vv = synth_uniform(&r, sc->my0, sc->my1);
        synth_to_output(sc, u, vv, &b->x, &b->y);
        b->sigma = synth_uniform(&r, 0.05, 0.15) * 0.5 * (W + H);
        b->amp = synth_uniform(&r, -0.1, 0.3) * sc->level;
    }
out:
    return st;
}

/* ---------------------------------------------------------------------- */
/* Rendering                                                               */
/* ---------------------------------------------------------------------- */

/* Returns the soft step of a membrane edge at signed distance D (inside
 * positive): a logistic of width 1/INV_SOFT, exactly 0 or 1 far away. */
static inline double
synth_edge(double d, double inv_soft)
{
    double z = d * inv_soft;

    if (z > 40.0)
        return 1.0;
    if (z < -40.0)
        return 0.0;
    return 1.0 / (1.0 + exp(-z));
}

/* Returns the membrane mask (1 on the membrane, 0 on the frame) at
 * membrane point (U, V). */
static double
synth_membrane(const struct synth_scene *sc, double u, double v)
{
    double m = synth_edge(u - sc->mx0, sc->inv_soft) *
               synth_edge(sc->mx1 - u, sc->inv_soft) *
               synth_edge(v - sc->my0, sc->inv_soft) *
               synth_edge(sc->my1 - v, sc->inv_soft);

    for (int g = 0; g < sc->ngaps && m > 0.0; g++)
        m *= 1.0 - synth_edge(v - sc->gap0[g], sc->inv_soft) *
                       synth_edge(sc->gap1[g] - v, sc->inv_soft);
    return m;
}

/* Fills IMG with the noise-free background of SC: level times the
 * illumination gradient, plus blotches, blended into the dark frame.
 * Returns BQ_OK or BQ_ERR_NOMEM. */
static enum bq_status
synth_render_background(const struct synth_scene *sc, struct bq_image *img,
                        struct bq_error *err)
{
    double *bx = NULL, *by = NULL;
    size_t w = sc->w, h = sc->h, nb = (size_t)sc->nblotches;
    double sx = w > 1 ? 2.0 / (double)(w - 1) : 0.0;
    double sy = h > 1 ? 2.0 / (double)(h - 1) : 0.0;
    enum bq_status st = BQ_OK;

    /* Blotches are isotropic Gaussians: separable in output x and y. */
    if (nb > 0) {
        bx = bq_alloc_array(nb * w, sizeof *bx);
        by = bq_alloc_array(nb * h, sizeof *by);
        if (!bx || !by) {
            st = bq_error_set(err, BQ_ERR_NOMEM, "synth: no memory for "
                              "background blotches");
            goto out;
        }
        for (size_t k = 0; k < nb; k++) {
            const struct synth_blotch *b = &sc->blotches[k];
            double f = 1.0 / (2.0 * b->sigma * b->sigma);
            for (size_t x = 0; x < w; x++) {
                double d = (double)x - b->x;
                bx[k * w + x] = b->amp * exp(-d * d * f);
            }
            for (size_t y = 0; y < h; y++) {
                double d = (double)y - b->y;
                by[k * h + y] = exp(-d * d * f);
            }
        }
    }
    for (size_t y = 0; y < h; y++) {
        float *row = bq_row(img, y);
        double Y = (double)y * sy - 1.0, dy = (double)y - sc->cy - sc->ty;
        for (size_t x = 0; x < w; x++) {
            double X = (double)x * sx - 1.0;
            double q = sc->grad[0] * X + sc->grad[1] * Y +
                       sc->grad[2] * X * X + sc->grad[3] * Y * Y +
                       sc->grad[4] * X * Y;
            double val = sc->level * (1.0 + sc->gradient * q);
            for (size_t k = 0; k < nb; k++)
                val += bx[k * w + x] * by[k * h + y];
            if (sc->frame) {
                double dx = (double)x - sc->cx - sc->tx;
                double u = sc->cx + sc->cs * dx + sc->sn * dy;
                double v = sc->cy - sc->sn * dx + sc->cs * dy;
                double m = synth_membrane(sc, u, v);
                val = sc->frame_value + (val - sc->frame_value) * m;
            }
            row[x] = (float)val;
        }
    }
out:
    free(bx);
    free(by);
    return st;
}

/* Adds every band of SC to IMG and stores in each band the exact sum of
 * the values it added. */
static void
synth_render_bands(struct synth_scene *sc, struct bq_image *img)
{
    for (size_t i = 0; i < sc->nbands; i++) {
        struct synth_band *b = &sc->bands[i];
        double vol = 0.0;
        long x0, x1, y0, y1;

        synth_band_box(sc, b, &x0, &x1, &y0, &y1);
        for (long y = y0; y <= y1; y++) {
            float *row = bq_row(img, (size_t)y);
            double dy = (double)y - sc->cy - sc->ty;
            double ub = sc->cx + sc->sn * dy, vb = sc->cy + sc->cs * dy;
            for (long x = x0; x <= x1; x++) {
                double dx = (double)x - sc->cx - sc->tx;
                double val = synth_band_value(b, ub + sc->cs * dx,
                                              vb - sc->sn * dx);
                if (val > 0.0) {
                    row[x] += (float)val;
                    vol += val;
                }
            }
        }
        b->volume = vol;
    }
}

/* Adds Poisson (GAIN electrons per code unit; 0 = none) and Gaussian read
 * noise (SD READ, code units) to every pixel of IMG. */
static void
synth_add_noise(struct bq_image *img, double gain, double read,
                struct synth_rng *r)
{
    double read2 = read * read;

    if (gain <= 0.0 && read <= 0.0)
        return;
    for (size_t y = 0; y < img->height; y++) {
        float *row = bq_row(img, y);
        for (size_t x = 0; x < img->width; x++) {
            double v = row[x];
            if (gain > 0.0) {
                double lam = v > 0.0 ? v * gain : 0.0;
                if (lam < SYNTH_POISSON_EXACT) {
                    v = synth_poisson_small(r, lam) / gain;
                    if (read > 0.0)
                        v += read * synth_normal(r);
                } else {
                    /* Normal approximation of the Poisson, merged with the
                     * read noise: one deviate per pixel. */
                    v += synth_normal(r) * sqrt(v / gain + read2);
                }
            } else {
                v += read * synth_normal(r);
            }
            row[x] = (float)v;
        }
    }
}

/* Sets P->hot_pixels distinct random pixels of IMG to large values (some
 * near the top of RANGE, some anywhere in its upper part), never exactly
 * RANGE so they never count as saturation. Returns BQ_OK or NOMEM. */
static enum bq_status
synth_add_hot(struct bq_image *img, int count, double range,
              struct synth_rng *r, struct bq_error *err)
{
    size_t npix = img->width * img->height;
    unsigned char *used = NULL;
    enum bq_status st = BQ_OK;

    if (count <= 0)
        goto out;
    used = bq_calloc_array(npix, 1);
    if (!used) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "synth: no memory for hot "
                          "pixels");
        goto out;
    }
    for (int k = 0; k < count; k++) {
        size_t idx;
        double val;
        do {
            idx = (size_t)(synth_unit(r) * (double)npix);
        } while (idx >= npix || used[idx]);
        used[idx] = 1;
        val = synth_unit(r) < 0.5 ? synth_uniform(r, 0.90, 0.98)
                                  : synth_uniform(r, 0.30, 0.90);
        bq_row(img, idx / img->width)[idx % img->width] =
            (float)floor(val * range);
    }
out:
    free(used);
    return st;
}

/* Rounds every pixel of IMG to an integer code and clips it to
 * [0, RANGE]. */
static void
synth_quantize(struct bq_image *img, double range)
{
    for (size_t y = 0; y < img->height; y++) {
        float *row = bq_row(img, y);
        for (size_t x = 0; x < img->width; x++) {
            double v = floor((double)row[x] + 0.5);
            row[x] = (float)(v < 0.0 ? 0.0 : v > range ? range : v);
        }
    }
}

/* Sets the saturated flag of every band of SC that covers (contributes
 * more than 1% of its peak to) a pixel of IMG at 0 or RANGE. */
static void
synth_flag_saturation(struct synth_scene *sc, const struct bq_image *img,
                      double range)
{
    float top = (float)range;

    for (size_t i = 0; i < sc->nbands; i++) {
        struct synth_band *b = &sc->bands[i];
        long x0, x1, y0, y1;

        b->saturated = 0;
        synth_band_box(sc, b, &x0, &x1, &y0, &y1);
        for (long y = y0; y <= y1 && !b->saturated; y++) {
            const float *row = bq_row(img, (size_t)y);
            double dy = (double)y - sc->cy - sc->ty;
            for (long x = x0; x <= x1; x++) {
                double dx;
                if (row[x] < top && row[x] > 0.0f)
                    continue;
                dx = (double)x - sc->cx - sc->tx;
                if (synth_band_value(b, sc->cx + sc->cs * dx + sc->sn * dy,
                                     sc->cy - sc->sn * dx + sc->cs * dy) >
                    SYNTH_COVER_FRAC * b->amp) {
                    b->saturated = 1;
                    break;
                }
            }
        }
    }
}

/* Replaces every pixel of IMG by RANGE - value (film look). */
static void
synth_invert(struct bq_image *img, double range)
{
    for (size_t y = 0; y < img->height; y++) {
        float *row = bq_row(img, y);
        for (size_t x = 0; x < img->width; x++)
            row[x] = (float)(range - (double)row[x]);
    }
}

/* Fills TRUTH from the rendered scene SC with LANES lanes per strip, turned
 * by ROTATION_DEG. Returns BQ_OK or NOMEM; TRUTH is untouched on failure. */
static enum bq_status
synth_fill_truth(const struct synth_scene *sc, int lanes, double rotation_deg,
                 float max_code, struct bq_synth_truth *truth,
                 struct bq_error *err)
{
    struct bq_synth_truth t;
    size_t nl = (size_t)sc->nstrips * (size_t)lanes, k = 0;

    memset(&t, 0, sizeof t);
    t.bands = bq_calloc_array(sc->nbands, sizeof *t.bands);
    t.lanes = bq_calloc_array(nl, sizeof *t.lanes);
    if (!t.bands || !t.lanes) {
        free(t.bands);
        free(t.lanes);
        return bq_error_set(err, BQ_ERR_NOMEM, "synth: no memory for truth");
    }
    for (size_t i = 0; i < sc->nbands; i++) {
        const struct synth_band *b = &sc->bands[i];
        struct bq_synth_band *o = &t.bands[i];
        double q = (b->u - b->uc) * b->inv_dmax;
        o->strip = b->strip;
        o->lane = b->lane;
        o->row = b->row;
        o->sub = b->sub;
        synth_to_output(sc, b->u, b->vrow - b->smile * q * q, &o->x, &o->y);
        o->width = 2.0 * b->hw;
        o->sigma_y = b->sigma;
        o->volume = b->volume;
        o->saturated = b->saturated;
    }
    for (int s = 0; s < sc->nstrips; s++) {
        const struct synth_strip *st = &sc->strips[s];
        for (int i = 0; i < lanes; i++, k++) {
            struct bq_synth_lane *o = &t.lanes[k];
            double dummy;
            o->strip = s;
            o->lane = i;
            synth_to_output(sc, st->lane_u[i], 0.5 * (st->v0 + st->v1), &o->x,
                            &dummy);
            synth_to_output(sc, st->lane_u[i], st->v0, &dummy, &o->y_top);
            synth_to_output(sc, st->lane_u[i], st->v1, &dummy, &o->y_bottom);
            o->width = st->lane_w[i];
            o->empty = st->empty[i];
            o->ladder = st->ladder[i];
        }
    }
    t.nbands = sc->nbands;
    t.nlanes = nl;
    t.rotation_deg = rotation_deg;
    t.max_code = max_code;
    *truth = t;
    return BQ_OK;
}

/* Last phases of a render: adds noise (GAIN, READ) and HOT hot pixels to
 * IMG, drawn from SEED; for 8/16-bit output rounds, clips and flags the
 * saturated bands of SC. Stores the saturation level in *MAX_CODE.
 * Returns BQ_OK or NOMEM. */
static enum bq_status
synth_finish(struct synth_scene *sc, struct bq_image *img, uint64_t seed,
             double gain, double read, int hot, int bit_depth, float *max_code,
             struct bq_error *err)
{
    struct synth_rng r;
    enum bq_status st;

    synth_rng_seed(&r, seed, SYNTH_STREAM_NOISE);
    synth_add_noise(img, gain, read, &r);
    synth_rng_seed(&r, seed, SYNTH_STREAM_HOT);
    st = synth_add_hot(img, hot, sc->range, &r, err);
    if (st != BQ_OK)
        return st;
    if (bit_depth == 32) {
        *max_code = FLT_MAX; /* float data: nothing clips */
    } else {
        synth_quantize(img, sc->range);
        synth_flag_saturation(sc, img, sc->range);
        *max_code = (float)sc->range;
    }
    return BQ_OK;
}

enum bq_status
bq_synth_generate(const struct bq_synth_params *p, struct bq_image **out,
                  struct bq_synth_truth *truth, struct bq_error *err)
{
    struct synth_scene *sc = NULL;
    struct bq_image *img = NULL;
    double range;
    float max_code;
    enum bq_status st;

    if (!p || !out) {
        st = bq_error_set(err, BQ_ERR_INVALID, "synth: no parameters or "
                          "output");
        goto out;
    }
    st = synth_check_params(p, err);
    if (st != BQ_OK)
        goto out;
    sc = malloc(sizeof *sc);
    if (!sc) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "synth: no memory for scene");
        goto out;
    }
    st = synth_scene_build(p, sc, err);
    if (st != BQ_OK)
        goto out;
    range = sc->range;
    img = bq_image_create(p->width, p->height, err);
    if (!img) {
        st = err ? err->status : BQ_ERR_NOMEM;
        if (st == BQ_OK)
            st = BQ_ERR_NOMEM;
        goto out;
    }
    st = synth_render_background(sc, img, err);
    if (st != BQ_OK)
        goto out;
    synth_render_bands(sc, img);
    st = synth_finish(sc, img, p->seed, p->gain, p->read_noise, p->hot_pixels,
                      p->bit_depth, &max_code, err);
    if (st != BQ_OK)
        goto out;
    if (p->dark_bands)
        synth_invert(img, range);
    img->bit_depth = p->bit_depth;
    img->max_code = max_code;
    if (truth) {
        st = synth_fill_truth(sc, p->lanes, p->rotation_deg, max_code, truth,
                              err);
        if (st != BQ_OK)
            goto out;
    }
    *out = img;
    img = NULL;
out:
    if (sc)
        free(sc->bands);
    free(sc);
    bq_image_destroy(img);
    return st;
}

void
bq_synth_truth_fini(struct bq_synth_truth *t)
{
    if (!t)
        return;
    free(t->bands);
    free(t->lanes);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------------- */
/* Scans of one membrane                                                   */
/* ---------------------------------------------------------------------- */

void
bq_synth_membrane_init(struct bq_synth_membrane *m)
{
    memset(m, 0, sizeof *m);
    m->geometry_seed = 1;
    m->scan_seed = 1;
    m->width = 640;
    m->height = 280;
    m->bit_depth = 16;
    m->ladder_lane = -1;
    m->ladder_sigma = 1.5;
    m->background = 0.02;
    m->read_noise = 6.0;
}

/* Checks the band rows and ladder of M. Returns BQ_OK or BQ_ERR_INVALID
 * with ERR filled. */
static enum bq_status
synth_check_membrane_bands(const struct bq_synth_membrane *m,
                           struct bq_error *err)
{
    enum bq_status st = BQ_ERR_INVALID;

    if (m->ladder_lane < -1 || m->ladder_lane >= m->lanes)
        return bq_error_set(err, st, "synth: ladder lane %d (use -1..%d)",
                            m->ladder_lane, m->lanes - 1);
    if (m->nladder < 0 || m->nladder > BQ_SYNTH_MAX_LADDER)
        return bq_error_set(err, st, "synth: %d ladder bands (use 0..%d)",
                            m->nladder, BQ_SYNTH_MAX_LADDER);
    if (m->ladder_lane >= 0 && m->nladder > 0 &&
        !synth_in(m->ladder_sigma, 0.8, 0.25 * (double)m->height))
        return bq_error_set(err, st,
                            "synth: ladder band SD %g px (use "
                            "0.8..a quarter of the height)",
                            m->ladder_sigma);
    for (int k = 0; m->ladder_lane >= 0 && k < m->nladder; k++)
        if (!synth_in(m->ladder_v[k], -1e6, 1e6) ||
            !synth_in(m->ladder_peak[k], 0.0, 100.0))
            return bq_error_set(err, st,
                                "synth: ladder band %d: position "
                                "%g or peak %g out of range",
                                k + 1, m->ladder_v[k], m->ladder_peak[k]);
    if (m->nrows < 0 || m->nrows > BQ_SYNTH_MAX_ROWS)
        return bq_error_set(err, st, "synth: %d band rows (use 0..%d)",
                            m->nrows, BQ_SYNTH_MAX_ROWS);
    for (int k = 0; k < m->nrows; k++) {
        const struct bq_synth_row *row = &m->rows[k];
        if (!synth_in(row->v, -1e6, 1e6) ||
            !synth_in(row->sigma, 0.8, 0.25 * (double)m->height))
            return bq_error_set(err, st,
                                "synth: band row %d: position %g "
                                "or SD %g px out of range",
                                k + 1, row->v, row->sigma);
        for (int i = 0; i < m->lanes; i++)
            if (!synth_in(row->volume[i], -1e300, 1e300))
                return bq_error_set(err, st,
                                    "synth: band row %d, lane %d: "
                                    "volume is not finite",
                                    k + 1, i + 1);
    }
    return BQ_OK;
}

/* Checks M. Returns BQ_OK or an error with ERR filled. */
static enum bq_status
synth_check_membrane(const struct bq_synth_membrane *m, struct bq_error *err)
{
    enum bq_status st;
    size_t npix;

    if (m->width < 32 || m->height < 32 || m->width > 65535 ||
        m->height > 65535)
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: image %zux%zu: each side must be "
                          "32..65535 pixels",
                          m->width, m->height);
    else if (!bq_mul_size(m->width, m->height, &npix))
        st = bq_error_set(err, BQ_ERR_LIMIT, "synth: image too large");
    else if (m->bit_depth != 8 && m->bit_depth != 16 && m->bit_depth != 32)
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: bit depth %d (use "
                          "8, 16 or 32)",
                          m->bit_depth);
    else if (m->lanes < 1 || m->lanes > BQ_SYNTH_MAX_LANES)
        st = bq_error_set(err, BQ_ERR_INVALID, "synth: %d lanes (use 1..%d)",
                          m->lanes, BQ_SYNTH_MAX_LANES);
    else if (!synth_in(m->lane_width_jitter, 0.0, 0.3))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: lane width jitter %g (use 0..0.3)",
                          m->lane_width_jitter);
    else if (!synth_in(m->lane_pos_jitter, 0.0, 0.15))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: lane position jitter %g (use 0..0.15)",
                          m->lane_pos_jitter);
    else if (m->lane_fill != 0.0 && !synth_in(m->lane_fill, 0.2, 0.9))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: lane fill %g (use "
                          "0.2..0.9, or 0)",
                          m->lane_fill);
    else if (!synth_in(m->smile_px, 0.0, 0.25 * (double)m->height))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: smile %g px (use 0..a quarter of the "
                          "height)",
                          m->smile_px);
    else if (!synth_in(m->peak_frac, 0.0, 100.0))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: peak fraction %g (use 0..100)", m->peak_frac);
    else if (!synth_in(m->background, 0.0, 0.9))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: background %g (use 0..0.9)", m->background);
    else if (!synth_in(m->gradient, 0.0, 1.0))
        st = bq_error_set(err, BQ_ERR_INVALID, "synth: gradient %g (use 0..1)",
                          m->gradient);
    else if (m->blotches < 0 || m->blotches > SYNTH_MAX_BLOTCHES)
        st = bq_error_set(err, BQ_ERR_INVALID, "synth: %d blotches (use 0..%d)",
                          m->blotches, SYNTH_MAX_BLOTCHES);
    else if (!synth_in(m->read_noise, 0.0, 1e9))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: read noise %g (use >= 0)", m->read_noise);
    else if (!synth_in(m->gain, 0.0, 1e9))
        st = bq_error_set(err, BQ_ERR_INVALID, "synth: gain %g (use >= 0)",
                          m->gain);
    else if (m->hot_pixels < 0 || (size_t)m->hot_pixels > npix / 2)
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: %d hot pixels (use 0..half the "
                          "pixels)",
                          m->hot_pixels);
    else if (!synth_in(m->angle_deg, -10.0, 10.0))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: angle %g degrees "
                          "(use -10..10)",
                          m->angle_deg);
    else if (!synth_in(m->dx, -(double)m->width, (double)m->width) ||
             !synth_in(m->dy, -(double)m->height, (double)m->height))
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: shift (%g, %g) px is larger than the "
                          "image",
                          m->dx, m->dy);
    else
        st = synth_check_membrane_bands(m, err);
    return st;
}

/* Returns the volume of a band of peak 1, half width HW and vertical SD
 * SIGMA: the integral of exp(-ln2 t^4 - z^2/2) over the plane, which the
 * pixel sum matches closely for SIGMA >= 0.8 (cut-offs lose < 1e-8). */
static double
synth_unit_volume(double hw, double sigma)
{
    return hw * 2.0 * tgamma(1.25) / pow(SYNTH_LN2, 0.25) * sigma *
           sqrt(2.0 * 3.14159265358979323846);
}

/* Builds the bands of M into SC (lanes placed): one per lane and row with
 * a positive volume, then the ladder; scales the rows by M->peak_frac.
 * Returns BQ_OK or NOMEM. */
static enum bq_status
synth_membrane_bands(const struct bq_synth_membrane *m, struct synth_scene *sc,
                     struct bq_error *err)
{
    struct synth_strip *st = &sc->strips[0];
    size_t cap = (size_t)m->lanes * (size_t)m->nrows + (size_t)m->nladder;
    double apk = sc->range - sc->level, amax = 0.0;

    sc->bands = bq_calloc_array(cap > 0 ? cap : 1, sizeof *sc->bands);
    if (!sc->bands)
        return bq_error_set(err, BQ_ERR_NOMEM, "synth: no memory for bands");
    for (int k = 0; k < m->nrows; k++) {
        const struct bq_synth_row *row = &m->rows[k];
        for (int i = 0; i < m->lanes; i++) {
            struct synth_band *b;
            if (row->volume[i] <= 0.0 || i == m->ladder_lane)
                continue;
            b = synth_add_band(sc, st, 0, i, k, 0, row->v, row->sigma,
                               m->smile_px);
            b->amp = row->volume[i] / synth_unit_volume(b->hw, b->sigma);
            amax = fmax(amax, b->amp);
        }
    }
    for (int k = 0; m->ladder_lane >= 0 && k < m->nladder; k++) {
        struct synth_band *b =
            synth_add_band(sc, st, 0, m->ladder_lane, -1, 0, m->ladder_v[k],
                           m->ladder_sigma, m->smile_px);
        b->amp = m->ladder_peak[k] * apk;
    }
    if (m->peak_frac > 0.0 && amax > 0.0)
        for (size_t i = 0; i < sc->nbands; i++)
            if (sc->bands[i].row >= 0)
                sc->bands[i].amp *= m->peak_frac * apk / amax;
    for (int i = 0; i < m->lanes; i++) {
        st->empty[i] = i != m->ladder_lane;
        for (int k = 0; k < m->nrows && st->empty[i]; k++)
            st->empty[i] = !(m->rows[k].volume[i] > 0.0);
    }
    return BQ_OK;
}

/* Builds the scene of one scan of membrane M into SC (SC->bands allocated
 * here; the caller frees it). The membrane's edges and lanes come from the
 * geometry seed alone, the tray, gradient and blotches from the scan seed.
 * Returns BQ_OK or an error with ERR filled. */
static enum bq_status
synth_membrane_build(const struct bq_synth_membrane *m, struct synth_scene *sc,
                     struct bq_error *err)
{
    struct synth_rng r;
    struct bq_synth_params lp; /* lane placement reuses the strip code */
    double W = (double)m->width, H = (double)m->height, rx0, rx1, gsum;
    double theta = m->angle_deg * 3.14159265358979323846 / 180.0;
    struct synth_strip *st = &sc->strips[0];

    memset(sc, 0, sizeof *sc);
    sc->w = m->width;
    sc->h = m->height;
    sc->cx = 0.5 * (W - 1.0);
    sc->cy = 0.5 * (H - 1.0);
    sc->cs = cos(theta);
    sc->sn = sin(theta);
    sc->tx = m->dx;
    sc->ty = m->dy;
    sc->range = synth_range(m->bit_depth);
    sc->level = m->background * sc->range;

    /* Phase 1 (geometry seed): membrane edges, then lanes. */
    synth_rng_seed(&r, m->geometry_seed, SYNTH_STREAM_GEOMETRY);
    sc->frame = m->frame != 0;
    sc->mx0 = synth_uniform(&r, 0.04, 0.08) * (W - 1.0);
    sc->mx1 = (1.0 - synth_uniform(&r, 0.04, 0.08)) * (W - 1.0);
    sc->my0 = synth_uniform(&r, 0.04, 0.08) * (H - 1.0);
    sc->my1 = (1.0 - synth_uniform(&r, 0.04, 0.08)) * (H - 1.0);
    sc->inv_soft = 1.0 / synth_uniform(&r, 0.6, 2.0);
    rx0 = sc->mx0 + 0.025 * W;
    rx1 = sc->mx1 - 0.025 * W;
    if ((rx1 - rx0) / m->lanes < 8.0)
        return bq_error_set(err, BQ_ERR_INVALID,
                            "synth: image %zu px wide "
                            "is too narrow for %d lanes",
                            m->width, m->lanes);
    sc->nstrips = 1;
    st->v0 = sc->my0;
    st->v1 = sc->my1;
    bq_synth_params_init(&lp);
    lp.lanes = m->lanes;
    lp.lane_pos_jitter = m->lane_pos_jitter;
    lp.lane_width_jitter = m->lane_width_jitter;
    synth_place_lanes(&lp, sc, 0, rx0, rx1, &r);
    if (m->lane_fill > 0.0) {
        /* Rescale the widths (keeping their jitter) to the asked fill. */
        double wm = 0.0;
        for (int i = 0; i < m->lanes; i++)
            wm += st->lane_w[i] / m->lanes;
        for (int i = 0; i < m->lanes; i++)
            st->lane_w[i] =
                fmax(3.0, st->lane_w[i] * m->lane_fill * st->pitch / wm);
    }
    if (m->ladder_lane >= 0)
        st->ladder[m->ladder_lane] = 1;

    /* Phase 2: bands (explicit rows and ladder). */
    if (synth_membrane_bands(m, sc, err) != BQ_OK)
        return BQ_ERR_NOMEM; /* its only failure */

    /* Phase 3 (scan seed): tray level, illumination, blotches. */
    synth_rng_seed(&r, m->scan_seed, SYNTH_STREAM_SCAN);
    sc->frame_value = sc->level * (0.05 + 0.15 * synth_unit(&r));
    sc->gradient = m->gradient;
    gsum = 0.0;
    for (int i = 0; i < 5; i++) {
        sc->grad[i] = synth_uniform(&r, -1.0, 1.0);
        gsum += fabs(sc->grad[i]);
    }
    for (int i = 0; i < 5; i++)
        sc->grad[i] = gsum > 0.0 ? sc->grad[i] / gsum : 0.0;
    sc->nblotches = m->blotches;
    for (int i = 0; i < m->blotches; i++) {
        struct synth_blotch *b = &sc->blotches[i];
        b->x = synth_uniform(&r, 0.0, W - 1.0);
        b->y = synth_uniform(&r, 0.0, H - 1.0);
        b->sigma = synth_uniform(&r, 0.05, 0.15) * 0.5 * (W + H);
        b->amp = synth_uniform(&r, -0.1, 0.3) * sc->level;
    }
    return BQ_OK;
}

enum bq_status
bq_synth_membrane_render(const struct bq_synth_membrane *m,
                         struct bq_image **out, struct bq_synth_truth *truth,
                         struct bq_error *err)
{
    struct synth_scene *sc = NULL;
    struct bq_image *img = NULL;
    float max_code;
    enum bq_status st;

    if (!m || !out) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "synth: no membrane or "
                          "output");
        goto out;
    }
    st = synth_check_membrane(m, err);
    if (st != BQ_OK)
        goto out;
    sc = malloc(sizeof *sc);
    if (!sc) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "synth: no memory for scene");
        goto out;
    }
    st = synth_membrane_build(m, sc, err);
    if (st != BQ_OK)
        goto out;
    img = bq_image_create(m->width, m->height, err);
    if (!img) {
        st = err && err->status != BQ_OK ? err->status : BQ_ERR_NOMEM;
        goto out;
    }
    st = synth_render_background(sc, img, err);
    if (st != BQ_OK)
        goto out;
    synth_render_bands(sc, img);
    st = synth_finish(sc, img, m->scan_seed, m->gain, m->read_noise,
                      m->hot_pixels, m->bit_depth, &max_code, err);
    if (st != BQ_OK)
        goto out;
    img->bit_depth = m->bit_depth;
    img->max_code = max_code;
    if (truth) {
        st = synth_fill_truth(sc, m->lanes, m->angle_deg, max_code, truth, err);
        if (st != BQ_OK)
            goto out;
    }
    *out = img;
    img = NULL;
out:
    if (sc)
        free(sc->bands);
    free(sc);
    bq_image_destroy(img);
    return st;
}

/* ---------------------------------------------------------------------- */
/* Writers                                                                 */
/* ---------------------------------------------------------------------- */

/* Where libtiff and libpng messages go: the first error into ERR. */
struct synth_io_ctx {
    struct bq_error *err; /* caller's record, may be NULL */
    const char *path;     /* file being written, for messages */
    int failed;           /* 1 once the library reported an error */
};

/* libtiff error handler: records the message, returns 1 (handled, so
 * nothing reaches stderr). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 0)))
#endif
static int
synth_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt,
                 va_list ap)
{
    struct synth_io_ctx *c = user;
    char msg[192];

    (void)tif;
    vsnprintf(msg, sizeof msg, fmt, ap);
    c->failed = 1;
    bq_error_set(c->err, BQ_ERR_IO, "%s: cannot write TIFF (%s%s%s)", c->path,
                 module ? module : "", module ? ": " : "", msg);
    return 1;
}

/* libtiff warning handler: ignored, returns 1 (handled). */
static int
synth_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt,
                   va_list ap)
{
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

/* Returns the libtiff compression code for NAME (NULL = none), or -1. */
static int
synth_tiff_compression(const char *name)
{
    if (!name || strcmp(name, "none") == 0)
        return COMPRESSION_NONE;
    if (strcmp(name, "lzw") == 0 || strcmp(name, "lzw+pred") == 0)
        return COMPRESSION_LZW;
    if (strcmp(name, "deflate") == 0 || strcmp(name, "deflate+pred") == 0)
        return COMPRESSION_ADOBE_DEFLATE;
    if (strcmp(name, "packbits") == 0)
        return COMPRESSION_PACKBITS;
    return -1;
}

/* Returns 1 if compression NAME asks for TIFF's horizontal differencing
 * predictor ("lzw+pred", "deflate+pred"), else 0. */
static int
synth_tiff_predictor(const char *name)
{
    return name && (strcmp(name, "lzw+pred") == 0 ||
                    strcmp(name, "deflate+pred") == 0);
}

/* Stores pixel X of row ROW as SPP samples at DST, in the file's sample
 * type for BITS; MIW stores RANGE - value (MINISWHITE). */
static void
synth_pack_pixel(unsigned char *dst, const float *row, size_t x, int bits,
                 int spp, int miw, double range)
{
    double v = row[x];

    if (bits == 32) {
        float f = (float)v;
        for (int c = 0; c < spp; c++)
            memcpy(dst + (size_t)c * 4, &f, 4);
        return;
    }
    v = floor(v + 0.5);
    v = v < 0.0 ? 0.0 : v > range ? range : v;
    if (miw)
        v = range - v;
    for (int c = 0; c < spp; c++) {
        if (bits == 8) {
            dst[c] = (unsigned char)v;
        } else {
            uint16_t u = (uint16_t)v;
            memcpy(dst + (size_t)c * 2, &u, 2);
        }
    }
}

/* Writes the pixels of IMG as the current directory of TIF, in strips or
 * TILE x TILE tiles. BUF holds at least one tile or one row. Returns 1 on
 * success, 0 if libtiff failed (error already routed). */
static int
synth_tiff_pixels(TIFF *tif, const struct bq_image *img, unsigned tile,
                  int spp, int miw, unsigned char *buf)
{
    int bits = img->bit_depth;
    double range = synth_range(bits);
    size_t bpp = (size_t)spp * (size_t)(bits / 8);

    if (tile == 0) {
        for (size_t y = 0; y < img->height; y++) {
            const float *row = bq_row(img, y);
            for (size_t x = 0; x < img->width; x++)
                synth_pack_pixel(buf + x * bpp, row, x, bits, spp, miw, range);
            if (TIFFWriteScanline(tif, buf, (uint32_t)y, 0) < 0)
                return 0;
        }
        return 1;
    }
    for (size_t ty = 0; ty < img->height; ty += tile) {
        for (size_t tx = 0; tx < img->width; tx += tile) {
            memset(buf, 0, (size_t)tile * tile * bpp);
            for (size_t y = ty; y < ty + tile && y < img->height; y++) {
                const float *row = bq_row(img, y);
                unsigned char *dst = buf + (y - ty) * tile * bpp;
                for (size_t x = tx; x < tx + tile && x < img->width; x++)
                    synth_pack_pixel(dst + (x - tx) * bpp, row, x, bits, spp,
                                     miw, range);
            }
            if (TIFFWriteEncodedTile(
                    tif, TIFFComputeTile(tif, (uint32_t)tx, (uint32_t)ty, 0, 0),
                    buf, (tmsize_t)((size_t)tile * tile * bpp)) < 0)
                return 0;
        }
    }
    return 1;
}

/* Checks the pages and options of a TIFF write. Returns BQ_OK or
 * BQ_ERR_INVALID with ERR filled. */
static enum bq_status
synth_check_tiff(const char *path, const struct bq_image *const *pages,
                 size_t npages, const struct bq_synth_tiff_opts *o,
                 struct bq_error *err)
{
    if (!path || !pages || npages == 0 || !pages[0])
        return bq_error_set(err, BQ_ERR_INVALID, "TIFF writer: no image");
    if (npages > 65535)
        return bq_error_set(err, BQ_ERR_INVALID, "%s: too many pages", path);
    for (size_t i = 0; i < npages; i++) {
        const struct bq_image *im = pages[i];
        if (!im || im->width != pages[0]->width ||
            im->height != pages[0]->height ||
            im->bit_depth != pages[0]->bit_depth)
            return bq_error_set(err, BQ_ERR_INVALID, "%s: page %zu differs "
                                "in size or bit depth from page 1", path,
                                i + 1);
        if (im->width > UINT32_MAX || im->height > UINT32_MAX)
            return bq_error_set(err, BQ_ERR_LIMIT, "%s: image too large for "
                                "TIFF", path);
    }
    if (pages[0]->bit_depth != 8 && pages[0]->bit_depth != 16 &&
        pages[0]->bit_depth != 32)
        return bq_error_set(err, BQ_ERR_INVALID, "%s: bit depth %d cannot "
                            "be written", path, pages[0]->bit_depth);
    if (o && synth_tiff_compression(o->compression) < 0)
        return bq_error_set(err, BQ_ERR_INVALID, "%s: unknown compression "
                            "'%s' (use none, lzw, deflate or packbits; "
                            "lzw+pred, deflate+pred)", path, o->compression);
    if (o && (o->tile % 16 != 0 || o->tile > 4096))
        return bq_error_set(err, BQ_ERR_INVALID, "%s: tile size %u must be a "
                            "multiple of 16, at most 4096", path, o->tile);
    if (o && o->min_is_white && (o->rgb || pages[0]->bit_depth == 32))
        return bq_error_set(err, BQ_ERR_INVALID, "%s: MINISWHITE is only "
                            "written for 8/16-bit gray", path);
    return BQ_OK;
}

enum bq_status
bq_synth_write_tiff(const char *path, const struct bq_image *const *pages,
                    size_t npages, const struct bq_synth_tiff_opts *o,
                    struct bq_error *err)
{
    static const struct bq_synth_tiff_opts defaults = {"none", 0, 0, 0, 0};
    struct synth_io_ctx ctx = {err, path, 0};
    TIFFOpenOptions *topts = NULL;
    TIFF *tif = NULL;
    unsigned char *buf = NULL;
    enum bq_status st;
    int comp, spp, bits, opened = 0;
    size_t bufsize;

    st = synth_check_tiff(path, pages, npages, o, err);
    if (st != BQ_OK)
        goto out;
    if (!o)
        o = &defaults;
    comp = synth_tiff_compression(o->compression);
    if (!TIFFIsCODECConfigured((uint16_t)comp)) {
        st = bq_error_set(err, BQ_ERR_INVALID, "%s: this libtiff cannot "
                          "write %s compression", path, o->compression);
        goto out;
    }
    bits = pages[0]->bit_depth;
    spp = o->rgb ? 3 : 1;
    bufsize = o->tile ? (size_t)o->tile * o->tile : pages[0]->width;
    buf = bq_alloc_array(bufsize, (size_t)spp * (size_t)(bits / 8));
    topts = TIFFOpenOptionsAlloc();
    if (!buf || !topts) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "%s: no memory to write", path);
        goto out;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(topts, synth_tiff_error, &ctx);
    TIFFOpenOptionsSetWarningHandlerExtR(topts, synth_tiff_warning, &ctx);
    tif = TIFFOpenExt(path, o->bigendian ? "wb" : "wl", topts);
    if (!tif) {
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot create the file", path);
        goto out;
    }
    opened = 1;
    for (size_t i = 0; i < npages; i++) {
        const struct bq_image *im = pages[i];
        int ok = 1;
        uint16_t photo = o->rgb           ? PHOTOMETRIC_RGB
                         : o->min_is_white ? PHOTOMETRIC_MINISWHITE
                                           : PHOTOMETRIC_MINISBLACK;
        ok &= TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)im->width);
        ok &= TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)im->height);
        ok &= TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)bits);
        ok &= TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)spp);
        ok &= TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT,
                           bits == 32 ? SAMPLEFORMAT_IEEEFP
                                      : SAMPLEFORMAT_UINT);
        ok &= TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, photo);
        ok &= TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        ok &= TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
        ok &= TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)comp);
        if (synth_tiff_predictor(o->compression))
            ok &= TIFFSetField(tif, TIFFTAG_PREDICTOR,
                               (uint16_t)PREDICTOR_HORIZONTAL);
        ok &= TIFFSetField(tif, TIFFTAG_SOFTWARE,
                           "blotquant blotgen " BQ_VERSION);
        if (npages > 1) {
            ok &= TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
            ok &= TIFFSetField(tif, TIFFTAG_PAGENUMBER, (uint16_t)i,
                               (uint16_t)npages);
        }
        if (o->tile) {
            ok &= TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)o->tile);
            ok &= TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)o->tile);
        } else {
            /* With a predictor (a newer option), strips of about 256 KiB
             * and deflate level 3: noisy scans compress poorly in small
             * pieces, and higher levels only find short matches in the
             * noise (measured: level 9 larger and 8x slower). Otherwise
             * libtiff's ~8 KiB strips and its default level. */
            uint32_t rps = TIFFDefaultStripSize(tif, 0);
            if (synth_tiff_predictor(o->compression)) {
                size_t rb = im->width * (size_t)spp * (size_t)(bits / 8);
                rps = (uint32_t)(262144 / (rb > 0 ? rb : 1));
                rps = rps < 1 ? 1 : rps;
                if (comp == COMPRESSION_ADOBE_DEFLATE)
                    ok &= TIFFSetField(tif, TIFFTAG_ZIPQUALITY, 3);
            }
            ok &= TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps);
        }
        if (!ok || !synth_tiff_pixels(tif, im, o->tile, spp, o->min_is_white,
                                      buf) ||
            !TIFFWriteDirectory(tif) || ctx.failed) {
            st = bq_error_set(err, BQ_ERR_IO, "%s: cannot write page %zu",
                              path, i + 1);
            goto out;
        }
    }
out:
    if (tif)
        TIFFClose(tif);
    if (ctx.failed && st == BQ_OK)
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot write TIFF", path);
    if (st != BQ_OK && opened)
        remove(path);
    if (topts)
        TIFFOpenOptionsFree(topts);
    free(buf);
    return st;
}

/* libpng error handler: records the message and jumps back. */
static void
synth_png_error(png_structp png, png_const_charp msg)
{
    struct synth_io_ctx *c = png_get_error_ptr(png);

    c->failed = 1;
    bq_error_set(c->err, BQ_ERR_IO, "%s: cannot write PNG (%s)", c->path, msg);
    png_longjmp(png, 1);
}

/* libpng warning handler: ignored. */
static void
synth_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Writes the header and rows of IMG through PNG (errors longjmp out).
 * ROW holds one row of output bytes. */
static void
synth_png_rows(png_structp png, png_infop info, const struct bq_image *img,
               int rgb, unsigned char *row)
{
    int bits = img->bit_depth, spp = rgb ? 3 : 1;
    double range = synth_range(bits);

    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height,
                 bits, rgb ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 3);
    png_write_info(png, info);
    for (size_t y = 0; y < img->height; y++) {
        const float *src = bq_row(img, y);
        unsigned char *dst = row;
        for (size_t x = 0; x < img->width; x++) {
            double v = floor((double)src[x] + 0.5);
            unsigned u;
            v = v < 0.0 ? 0.0 : v > range ? range : v;
            u = (unsigned)v;
            for (int c = 0; c < spp; c++) {
                if (bits == 8) {
                    *dst++ = (unsigned char)u;
                } else { /* PNG samples are big-endian */
                    *dst++ = (unsigned char)(u >> 8);
                    *dst++ = (unsigned char)(u & 0xff);
                }
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
}

/* Writes IMG to FP through PNG/INFO. The only frame with a setjmp, so no
 * caller local can be clobbered. Returns 1 on success, 0 if libpng failed
 * (message already in the error record). */
static int
synth_png_write(png_structp png, png_infop info, FILE *fp,
                const struct bq_image *img, int rgb, unsigned char *row)
{
    if (setjmp(png_jmpbuf(png)))
        return 0;
    png_init_io(png, fp);
    synth_png_rows(png, info, img, rgb, row);
    return 1;
}

enum bq_status
bq_synth_write_png(const char *path, const struct bq_image *img, int rgb,
                   struct bq_error *err)
{
    struct synth_io_ctx ctx = {err, path, 0};
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *row = NULL;
    FILE *fp = NULL;
    enum bq_status st = BQ_OK;

    if (!path || !img) {
        st = bq_error_set(err, BQ_ERR_INVALID, "PNG writer: no image");
        goto out;
    }
    if (img->bit_depth != 8 && img->bit_depth != 16) {
        st = bq_error_set(err, BQ_ERR_INVALID, "%s: PNG holds 8 or 16-bit "
                          "integers, not bit depth %d", path, img->bit_depth);
        goto out;
    }
    if (img->width > 0x7fffffff || img->height > 0x7fffffff) {
        st = bq_error_set(err, BQ_ERR_LIMIT, "%s: image too large for PNG",
                          path);
        goto out;
    }
    row = bq_alloc_array(img->width, (size_t)(rgb ? 3 : 1) *
                                         (size_t)(img->bit_depth / 8));
    if (!row) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "%s: no memory to write", path);
        goto out;
    }
    fp = fopen(path, "wb");
    if (!fp) {
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot create the file", path);
        goto out;
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx,
                                  synth_png_error, synth_png_warning);
    if (png)
        info = png_create_info_struct(png);
    if (!png || !info) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "%s: no memory for libpng", path);
        goto out;
    }
    if (!synth_png_write(png, info, fp, img, rgb, row))
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot write PNG", path);
out:
    if (png)
        png_destroy_write_struct(&png, info ? &info : NULL);
    if (fp && fclose(fp) != 0 && st == BQ_OK)
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot finish writing", path);
    if (fp && st != BQ_OK)
        remove(path);
    free(row);
    return st;
}

enum bq_status
bq_synth_write_truth(const char *path, const struct bq_synth_truth *truth,
                     struct bq_error *err)
{
    FILE *fp = NULL;
    enum bq_status st = BQ_OK;

    if (!path || !truth) {
        st = bq_error_set(err, BQ_ERR_INVALID, "truth writer: no truth");
        goto out;
    }
    fp = fopen(path, "w");
    if (!fp) {
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot create the file", path);
        goto out;
    }
    fprintf(fp, "strip,lane,row,sub,x,y,width,sigma_y,volume,saturated\n");
    for (size_t i = 0; i < truth->nbands; i++) {
        const struct bq_synth_band *b = &truth->bands[i];
        fprintf(fp, "%d,%d,%d,%d,%.10g,%.10g,%.10g,%.10g,%.15g,%d\n",
                b->strip, b->lane, b->row, b->sub, b->x, b->y, b->width,
                b->sigma_y, b->volume, b->saturated);
    }
    fprintf(fp, "\nstrip,lane,x,y_top,y_bottom,width,empty,ladder\n");
    for (size_t i = 0; i < truth->nlanes; i++) {
        const struct bq_synth_lane *l = &truth->lanes[i];
        fprintf(fp, "%d,%d,%.10g,%.10g,%.10g,%.10g,%d,%d\n", l->strip,
                l->lane, l->x, l->y_top, l->y_bottom, l->width, l->empty,
                l->ladder);
    }
    if (ferror(fp))
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot write", path);
out:
    if (fp && fclose(fp) != 0 && st == BQ_OK)
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot finish writing", path);
    return st;
}
