/* Rigid registration of two scans of one membrane by phase correlation.
 *
 * The scans of one membrane share its edges, the ladder and the lanes, but
 * each antibody lights up its own band rows with its own strengths, and
 * each scan has its own background, blotches and noise. So both scans are
 * first turned into "structure images" that keep what the membrane
 * contributes and drop what the scan does:
 *   - a local background (a small Gaussian blur of the image winsorised
 *     around a first blur) is subtracted, which removes the background
 *     level, illumination and blotches;
 *   - what stands out is compressed as sign(x) ln(1 + |x| / s), s = a few
 *     noise SDs, and clipped at REG_SAT: a faint band counts about as much
 *     as a strong one, and the long membrane edges (in every scan) outweigh
 *     any one band row (perhaps only in one scan).
 *
 * Phases:
 *   1. pyramid: box averages of both scans with the same factors, a fine
 *      level (at most 3 * max_side a side; the scan itself when small
 *      enough) and a coarse one (at most max_side); structure images of
 *      both;
 *   2. coarse search: for each angle of a grid over +-max_angle the moving
 *      coarse structure is rotated onto the fixed grid and cross-correlated
 *      (band-passed; not whitened, so the energy of the long common edges
 *      decides); a parabola through the best angle and its neighbours
 *      refines the angle, the peak gives the translation;
 *   3. refinement: six large overlapping regions of the fine structure
 *      images (3 x 2) are correlated (half whitened) with the moving scan
 *      resampled through the current estimate; their shifts, weighted by
 *      peak strength and by each region's structure tensor (a lone
 *      horizontal edge only pins y), give a robust least-squares update of
 *      angle and translation; repeated until it settles;
 *   4. score: 5 x 5 regions a quarter of the size are phase-correlated
 *      (whitened) at the final transform; in each half of the image
 *      (left, right, top, bottom) the best region agreement counts, and the
 *      score is the worst of the four: scans of one membrane agree all
 *      over, another membrane at best where it happens to look alike (the
 *      ladder, say).
 * Transform convention and centre: see blotquant/register.h. A level with
 * box factor F keeps pixel j at full-resolution coordinate F*j + (F-1)/2,
 * so the centre there is (c - (F-1)/2) / F and a translation t is t / F. */
#include "blotquant/register.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"
#include "util.h"

/* Limits. */
#define REG_MIN_SIDE 32      /* smallest accepted image side, px */
#define REG_MIN_COARSE 8     /* smallest coarse-level side, px */
#define REG_MAX_SIDE_OPT 2048 /* largest max_side option */
/* Structure images. */
#define REG_KAPPA 3.0        /* compression scale, noise SDs */
#define REG_SAT 3.0f         /* compressed values clip here (ln(1+19)) */
#define REG_BG_SIGMA 0.01    /* local background blur SD, of the coarse long
                                side (at least 1 px) */
#define REG_BG_CLIP 2.0      /* winsorising around the first blur, in
                                compression scales */
/* Coarse search. */
#define REG_TAPER 0.03       /* window ramps, fraction of each side */
#define REG_LOWPASS_C 0.15   /* correlation band-pass, cycles/px */
#define REG_HIGHPASS_C 0.004
#define REG_WHITEN_C 0.0     /* plain cross-correlation */
#define REG_STEP_PX 1.4      /* angle grid step: this far at the corners */
/* Refinement. */
#define REG_REGION_MIN 16    /* smallest region side, px */
#define REG_REGION_TAPER 0.2 /* region window ramps, fraction of the side */
#define REG_LOWPASS_F 0.25   /* correlation band-pass, cycles/px */
#define REG_HIGHPASS_F 0.01
#define REG_WHITEN_F 0.5     /* half whitened */
#define REG_MIN_PSR 6.0      /* regions with a weaker peak are ignored */
#define REG_PSR_CAP 30.0     /* region weights grow with PSR^2 up to this */
#define REG_FINE_ITERS 3     /* refinement passes at most */
#define REG_CONVERGED 0.1    /* stop when an update moves less, fine px */
#define REG_HUBER 0.5        /* robust fit: residual scale, fine px */
/* Score. */
#define REG_VERIFY_N 5       /* verification regions per side */
#define REG_VERIFY_TOL 1.0   /* agreement falls off with the peak's offset
                                as exp(-d^2 / (2 tol^2)), tol in fine px */
#define REG_PEAK_EXCLUDE 3   /* half side of the box around a peak left out
                                of the sidelobe statistics, px */

/* ---- planes ----------------------------------------------------------- */

/* A float image plane, borrowed or owned. */
struct reg_plane {
    const float *px; /* first pixel */
    float *own;      /* storage owned by the plane, or NULL if borrowed */
    size_t w, h;     /* pixels */
    size_t stride;   /* floats between row starts */
};

static void
reg_plane_fini(struct reg_plane *p)
{
    free(p->own);
    memset(p, 0, sizeof *p);
}

/* Allocates an owned W x H plane in P (contents undefined). Returns 1, or
 * 0 if memory is short. */
static int
reg_plane_alloc(struct reg_plane *p, size_t w, size_t h)
{
    p->own = bq_alloc_array(w * h, sizeof *p->own);
    p->px = p->own;
    p->w = w;
    p->h = h;
    p->stride = w;
    return p->own != NULL;
}

/* Box-averages SRC by F (F x F blocks; a partial block at the right or
 * bottom is dropped) into DST. F == 1 borrows SRC's pixels. Returns BQ_OK
 * or BQ_ERR_NOMEM. */
static enum bq_status
reg_box(const struct reg_plane *src, size_t f, struct reg_plane *dst,
        struct bq_error *err)
{
    size_t w = src->w / f, h = src->h / f;
    float inv = (float)(1.0 / ((double)f * (double)f));
    float *o;

    if (f == 1) {
        *dst = *src;
        dst->own = NULL;
        return BQ_OK;
    }
    if (!reg_plane_alloc(dst, w, h))
        return bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
    o = dst->own;
    for (size_t y = 0; y < h; y++) {
        float *orow = o + y * w;
        memset(orow, 0, w * sizeof *orow);
        for (size_t r = 0; r < f; r++) {
            const float *in = src->px + (y * f + r) * src->stride;
            for (size_t x = 0; x < w; x++) {
                float s = 0.0f;
                for (size_t k = 0; k < f; k++)
                    s += in[x * f + k];
                orow[x] += s;
            }
        }
        for (size_t x = 0; x < w; x++)
            orow[x] *= inv;
    }
    return BQ_OK;
}

/* Gaussian blur of the W x H array IN into OUT (SD SIGMA px, truncated at
 * 3 SD, edges mirrored) by direct separable convolution: cheap for the
 * small SDs used here. Returns 1, or 0 if memory is short. */
static int
reg_blur(const float *in, size_t w, size_t h, double sigma, float *out)
{
    long r = (long)ceil(3.0 * sigma), W = (long)w, H = (long)h;
    float *k = bq_alloc_array((size_t)(2 * r + 1), sizeof *k);
    float *tmp = bq_alloc_array(w * h, sizeof *tmp);
    double sum = 0.0;

    if (!k || !tmp) {
        free(k);
        free(tmp);
        return 0;
    }
    for (long j = -r; j <= r; j++) {
        k[j + r] = (float)exp(-0.5 * (double)(j * j) / (sigma * sigma));
        sum += k[j + r];
    }
    for (long j = 0; j <= 2 * r; j++)
        k[j] = (float)(k[j] / sum);
    /* Phase 1: rows, IN -> TMP. */
    for (long y = 0; y < H; y++) {
        const float *row = in + y * W;
        float *o = tmp + y * W;
        for (long x = 0; x < W; x++) {
            float a = 0.0f;
            for (long j = -r; j <= r; j++) {
                long t = x + j;
                t = t < 0 ? -t - 1 : t >= W ? 2 * W - t - 1 : t;
                t = t < 0 ? 0 : t >= W ? W - 1 : t;
                a += k[j + r] * row[t];
            }
            o[x] = a;
        }
    }
    /* Phase 2: columns, TMP -> OUT, a whole row at a time. */
    for (long y = 0; y < H; y++) {
        float *o = out + y * W;
        for (long x = 0; x < W; x++)
            o[x] = 0.0f;
        for (long j = -r; j <= r; j++) {
            long t = y + j;
            const float *src;
            t = t < 0 ? -t - 1 : t >= H ? 2 * H - t - 1 : t;
            t = t < 0 ? 0 : t >= H ? H - 1 : t;
            src = tmp + t * W;
            for (long x = 0; x < W; x++)
                o[x] += k[j + r] * src[x];
        }
    }
    free(k);
    free(tmp);
    return 1;
}

/* Bilinear interpolation of PX (W x H, STRIDE) at (X, Y). Returns FILL if
 * the point lies outside [0, W-1] x [0, H-1] or is not finite. */
static inline float
reg_bilinear(const float *px, size_t stride, size_t w, size_t h, double x,
             double y, float fill)
{
    size_t x0, y0, x1, y1;
    float fx, fy;
    const float *r0, *r1;

    if (!(x >= 0.0 && y >= 0.0 && x <= (double)(w - 1) &&
          y <= (double)(h - 1)))
        return fill;
    x0 = (size_t)x;
    y0 = (size_t)y;
    fx = (float)(x - (double)x0);
    fy = (float)(y - (double)y0);
    x1 = x0 + 1 < w ? x0 + 1 : x0;
    y1 = y0 + 1 < h ? y0 + 1 : y0;
    r0 = px + y0 * stride;
    r1 = px + y1 * stride;
    return (1.0f - fy) * ((1.0f - fx) * r0[x0] + fx * r0[x1]) +
           fy * ((1.0f - fx) * r1[x0] + fx * r1[x1]);
}

/* ---- compression ------------------------------------------------------ */

/* Natural logarithm of V >= 1 (any bits give a finite result): exponent
 * plus an atanh series on the mantissa m in [1, 2), z = (m-1)/(m+1) <= 1/3;
 * absolute error < 2e-6, branch-free, several times faster than logf. */
static inline float
reg_log1up(float v)
{
    uint32_t bits;
    int e;
    float m, z, z2;

    memcpy(&bits, &v, sizeof bits);
    e = (int)((bits >> 23) & 0xffu) - 127;
    bits = (bits & 0x7fffffu) | 0x3f800000u;
    memcpy(&m, &bits, sizeof m);
    z = (m - 1.0f) / (m + 1.0f);
    z2 = z * z;
    return (float)e * 0.69314718f +
           2.0f * z *
               (1.0f + z2 * (1.0f / 3 + z2 * (0.2f + z2 * (1.0f / 7 +
                                                           z2 * (1.0f / 9)))));
}

/* ROW[i] = sign(x) min(ln(1 + |x|), REG_SAT) with x = ROW[i] * INV_S, for
 * i < N: linear near 0 (noise), logarithmic for strong bands, clipped for
 * the strongest. Finite for any input (NaN and infinities clip); branch-
 * free, so the loop vectorises. */
static void
reg_compress_row(float *row, float inv_s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = row[i] * inv_s, y = reg_log1up(1.0f + fabsf(x));
        row[i] = copysignf(y < REG_SAT ? y : REG_SAT, x);
    }
}

/* ---- rigid transforms and resampling ---------------------------------- */

/* A rigid transform at one pyramid level: q = c + R(angle)(p - c) + t. */
struct reg_xf {
    double cs, sn; /* cos and sin of the angle */
    double cx, cy; /* rotation centre, level px */
    double tx, ty; /* translation, level px */
};

/* Returns the level view (box factor F) of the full-resolution transform
 * of ANGLE radians and translation TX, TY about the centre CX, CY. */
static struct reg_xf
reg_xf_level(double angle, double tx, double ty, double cx, double cy,
             size_t f)
{
    struct reg_xf x;
    double off = 0.5 * ((double)f - 1.0);

    x.cs = cos(angle);
    x.sn = sin(angle);
    x.cx = (cx - off) / (double)f;
    x.cy = (cy - off) / (double)f;
    x.tx = tx / (double)f;
    x.ty = ty / (double)f;
    return x;
}

static inline void
reg_xf_apply(const struct reg_xf *t, double x, double y, double *xo,
             double *yo)
{
    double dx = x - t->cx, dy = y - t->cy;

    *xo = t->cx + t->cs * dx - t->sn * dy + t->tx;
    *yo = t->cy + t->sn * dx + t->cs * dy + t->ty;
}

/* Resamples SRC through XF onto the W x H grid OUT (row length STRIDE):
 * OUT(p) = SRC(XF(p)), bilinear, 0 (background) outside SRC. */
static void
reg_warp(const struct reg_plane *src, const struct reg_xf *xf, size_t w,
         size_t h, float *out, size_t stride)
{
    for (size_t y = 0; y < h; y++) {
        float *row = out + y * stride;
        double ax, ay, ex, ey;
        reg_xf_apply(xf, 0.0, (double)y, &ax, &ay);
        reg_xf_apply(xf, 1.0, (double)y, &ex, &ey);
        ex -= ax;
        ey -= ay;
        for (size_t x = 0; x < w; x++)
            row[x] = reg_bilinear(src->px, src->stride, src->w, src->h,
                                  ax + ex * (double)x, ay + ey * (double)x,
                                  0.0f);
    }
}

/* Separable window: flat middle, raised-cosine ramps of TAPER of the side
 * at both ends. Fills W[0..N-1]. */
static void
reg_window(float *w, size_t n, double taper)
{
    double ramp = fmax(1.0, taper * (double)n);

    for (size_t i = 0; i < n; i++) {
        double d = fmin((double)i + 0.5, (double)n - 0.5 - (double)i);
        w[i] = d >= ramp ? 1.0f
                         : (float)(0.5 - 0.5 * cos(BQ_PI * d / ramp));
    }
}

/* Copies the W x H block of SRC at (X0, Y0) (or, SRC NULL, takes the block
 * already in BUF) into BUF (row length BW), minus its windowed mean, times
 * the window WX x WY (NULL: no window, mean still removed). */
static void
reg_cut(const struct reg_plane *src, size_t x0, size_t y0, size_t w,
        size_t h, const float *wx, const float *wy, float *buf, size_t bw)
{
    double sum = 0.0, wsum = 0.0, wys = 0.0;
    float mean;

    for (size_t j = 0; j < h; j++) {
        float *row = buf + j * bw;
        double rs = 0.0;
        if (src)
            memcpy(row, src->px + (y0 + j) * src->stride + x0,
                   w * sizeof *row);
        for (size_t i = 0; i < w; i++)
            rs += (double)(wx ? wx[i] * row[i] : row[i]);
        sum += (wy ? wy[j] : 1.0f) * rs;
        wys += wy ? wy[j] : 1.0f;
    }
    for (size_t i = 0; i < w; i++)
        wsum += wx ? wx[i] : 1.0f;
    wsum *= wys;
    mean = (float)(wsum > 0.0 ? sum / wsum : 0.0);
    for (size_t j = 0; j < h; j++) {
        float *row = buf + j * bw, fy = wy ? wy[j] : 1.0f;
        for (size_t i = 0; i < w; i++)
            row[i] = (row[i] - mean) * (wx ? wx[i] : 1.0f) * fy;
    }
}

/* ---- correlation peaks ------------------------------------------------ */

struct reg_peak {
    double x, y;  /* sub-pixel shift, px (signed) */
    double value; /* surface value at the integer peak */
    double psr;   /* (value - mean) / SD of the rest of the surface; 0 if
                     not asked for */
    int inside;   /* 0 if the peak sits on the edge of the search box */
};

/* Offset of the vertex of the parabola through (-1, A), (0, B), (1, C), on
 * log values when all are positive (exact for a Gaussian peak); within
 * +-0.5. */
static double
reg_subpixel(double a, double b, double c)
{
    double d;

    if (a > 0.0 && b > 0.0 && c > 0.0) {
        a = log(a);
        b = log(b);
        c = log(c);
    }
    d = a - 2.0 * b + c;
    if (!(d < 0.0))
        return 0.0;
    return bq_clampd(0.5 * (a - c) / d, -0.5, 0.5);
}

/* Finds the highest point of the W x H correlation surface S among shifts
 * |x| <= RX, |y| <= RY (wrapped indices) and describes it in *PK; the
 * peak-to-sidelobe ratio only if STATS. */
static void
reg_find_peak(const float *s, size_t w, size_t h, long rx, long ry,
              int stats, struct reg_peak *pk)
{
    long W = (long)w, H = (long)h, bx = 0, by = 0, e = REG_PEAK_EXCLUDE;
    float best = -HUGE_VALF;
    double v, l, r, u, d;

    rx = rx < (W - 1) / 2 ? rx : (W - 1) / 2;
    ry = ry < (H - 1) / 2 ? ry : (H - 1) / 2;
    for (long y = -ry; y <= ry; y++) {
        const float *row = s + (size_t)((y + H) % H) * w;
        for (long x = -rx; x <= rx; x++) {
            float t = row[(x + W) % W];
            if (t > best) {
                best = t;
                bx = x;
                by = y;
            }
        }
    }
#define REG_AT(X, Y)                                                           \
    ((double)s[(size_t)((((Y) % H) + H) % H) * w +                             \
               (size_t)((((X) % W) + W) % W)])
    v = best;
    l = REG_AT(bx - 1, by);
    r = REG_AT(bx + 1, by);
    u = REG_AT(bx, by - 1);
    d = REG_AT(bx, by + 1);
    pk->x = (double)bx + reg_subpixel(l, v, r);
    pk->y = (double)by + reg_subpixel(u, v, d);
    pk->value = v;
    pk->inside = labs(bx) < rx && labs(by) < ry;
    pk->psr = 0.0;
    if (stats) {
        double sum = 0.0, sum2 = 0.0, n = (double)(w * h), mean, var;
        for (size_t i = 0; i < w * h; i++) {
            sum += s[i];
            sum2 += (double)s[i] * s[i];
        }
        if (2 * e + 1 < W && 2 * e + 1 < H)
            for (long y = by - e; y <= by + e; y++)
                for (long x = bx - e; x <= bx + e; x++) {
                    double t = REG_AT(x, y);
                    sum -= t;
                    sum2 -= t * t;
                    n -= 1.0;
                }
        mean = sum / n;
        var = sum2 / n - mean * mean;
        pk->psr = var > 0.0 ? (v - mean) / sqrt(var) : 0.0;
    }
#undef REG_AT
}

/* ---- per-scan preparation --------------------------------------------- */

/* One scan at both levels with its structure images. */
struct reg_scan {
    struct reg_plane fine;   /* fine level (may borrow the image) */
    struct reg_plane coarse; /* coarse level (may borrow the fine one) */
    struct reg_plane cmp;    /* coarse structure image (owned) */
    struct reg_plane fcmp;   /* fine structure image (owned) */
};

static void
reg_scan_fini(struct reg_scan *s)
{
    reg_plane_fini(&s->fine);
    reg_plane_fini(&s->coarse);
    reg_plane_fini(&s->cmp);
    reg_plane_fini(&s->fcmp);
}

/* Makes the structure image OUT (owned, the size of SRC) of SRC: the
 * compression (scale S) of what stands out of the background BG (W x H,
 * on a grid G times coarser than SRC, interpolated bilinearly). Returns 1,
 * or 0 if memory is short. */
static int
reg_structure(const struct reg_plane *src, const float *bg, size_t w,
              size_t h, size_t g, double s, struct reg_plane *out)
{
    size_t fw = src->w, fh = src->h;
    double off = 0.5 * ((double)g - 1.0);
    size_t *ix = bq_alloc_array(fw, sizeof *ix);
    float *fx = bq_alloc_array(fw, sizeof *fx);
    float *brow = bq_alloc_array(w, sizeof *brow);
    int ok = ix && fx && brow && reg_plane_alloc(out, fw, fh);

    for (size_t x = 0; ok && x < fw; x++) {
        double cx = bq_clampd(((double)x - off) / (double)g, 0.0,
                              (double)(w - 1));
        ix[x] = bq_min_size((size_t)cx, w > 1 ? w - 2 : 0);
        fx[x] = w > 1 ? (float)(cx - (double)ix[x]) : 0.0f;
    }
    for (size_t y = 0; ok && y < fh; y++) {
        double cy = bq_clampd(((double)y - off) / (double)g, 0.0,
                              (double)(h - 1));
        size_t iy = bq_min_size((size_t)cy, h > 1 ? h - 2 : 0);
        float fy = h > 1 ? (float)(cy - (double)iy) : 0.0f;
        const float *b0 = bg + iy * w, *b1 = bg + (h > 1 ? iy + 1 : iy) * w;
        const float *in = src->px + y * src->stride;
        float *orow = out->own + y * fw;
        for (size_t x = 0; x < w; x++)
            brow[x] = b0[x] + fy * (b1[x] - b0[x]);
        for (size_t x = 0; x < fw; x++) {
            size_t k = ix[x], k1 = w > 1 ? k + 1 : k;
            orow[x] = in[x] - (brow[k] + fx[x] * (brow[k1] - brow[k]));
        }
        reg_compress_row(orow, (float)(1.0 / s), fw);
    }
    free(ix);
    free(fx);
    free(brow);
    return ok;
}

/* Builds S from IMG with box factors FF (fine) and G (coarse = fine / G).
 * WHAT names the scan in messages. Returns BQ_OK, BQ_ERR_NOT_FOUND for a
 * constant image, BQ_ERR_INVALID for NaN or infinite pixels, or
 * BQ_ERR_NOMEM; S is empty on error. */
static enum bq_status
reg_scan_prepare(const struct bq_image *img, size_t ff, size_t g,
                 const char *what, struct reg_scan *s, struct bq_error *err)
{
    struct reg_plane full = {img->px, NULL, img->width, img->height,
                             img->stride};
    float *tmp = NULL, *clip = NULL, *bg = NULL;
    size_t w, h, n, m;
    double lo, hi, spread, floor_s, s_c, s_f, bsig;
    float vmin = HUGE_VALF, vmax = -HUGE_VALF, lim;
    int finite = 1;
    enum bq_status st;

    memset(s, 0, sizeof *s);
    st = reg_box(&full, ff, &s->fine, err);
    if (st == BQ_OK)
        st = reg_box(&s->fine, g, &s->coarse, err);
    if (st != BQ_OK)
        goto out;
    w = s->coarse.w;
    h = s->coarse.h;
    n = w * h;
    tmp = bq_alloc_array(n, sizeof *tmp);
    clip = bq_alloc_array(n, sizeof *clip);
    bg = bq_alloc_array(n, sizeof *bg);
    if (!tmp || !clip || !bg) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
        goto out;
    }

    /* Phase 1: range, spread and noise; the compression scales. */
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            float v = s->coarse.px[y * s->coarse.stride + x];
            clip[y * w + x] = v;
            finite &= isfinite(v) != 0; /* a NaN anywhere reaches here */
            vmin = v < vmin ? v : vmin;
            vmax = v > vmax ? v : vmax;
        }
    if (!finite) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "register: the %s scan has pixels that are not "
                          "finite numbers", what);
        goto out;
    }
    if (!(vmax > vmin)) {
        st = bq_error_set(err, BQ_ERR_NOT_FOUND,
                          "register: the %s scan has no structure (constant)",
                          what);
        goto out;
    }
    for (m = 0; 3 * m < n; m++) /* every third pixel is plenty */
        tmp[m] = clip[3 * m];
    lo = bq_select_f(tmp, m, 0.02);
    hi = bq_select_f(tmp, m, 0.98);
    spread = hi - lo > 0.0 ? hi - lo : (double)vmax - vmin;
    floor_s = 1e-3 * spread; /* noise-free (synthetic) scans */
    s_c = fmax(REG_KAPPA * bq_noise_sigma(s->coarse.px, s->coarse.stride, 0,
                                          0, w, h),
               floor_s);
    s_f = fmax(REG_KAPPA * bq_noise_sigma(s->fine.px, s->fine.stride, 0, 0,
                                          s->fine.w, s->fine.h),
               floor_s);

    /* Phase 2: local background on the coarse grid: a blur of the image
     * winsorised around a first blur, so bands and the dark frame pull it
     * less. */
    bsig = fmax(1.0, REG_BG_SIGMA * (double)(w > h ? w : h));
    if (!reg_blur(clip, w, h, bsig, bg)) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
        goto out;
    }
    lim = (float)(REG_BG_CLIP * s_c);
    for (size_t i = 0; i < n; i++)
        clip[i] = clip[i] > bg[i] + lim   ? bg[i] + lim
                  : clip[i] < bg[i] - lim ? bg[i] - lim
                                          : clip[i];
    if (!reg_blur(clip, w, h, bsig, bg)) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
        goto out;
    }

    /* Phase 3: the structure images of both levels. */
    if (!reg_structure(&s->coarse, bg, w, h, 1, s_c, &s->cmp) ||
        !reg_structure(&s->fine, bg, w, h, g, s_f, &s->fcmp))
        st = bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
out:
    free(tmp);
    free(clip);
    free(bg);
    if (st != BQ_OK)
        reg_scan_fini(s);
    return st;
}

/* ---- coarse search ---------------------------------------------------- */

/* Everything bq_register works with. */
struct reg_ctx {
    const struct bq_reg_opts *o;
    struct reg_scan fix, mov;  /* the two scans */
    size_t ff, fc;             /* box factors of the fine and coarse level */
    double cx, cy;             /* centre of FIXED, full px */
    double angle;              /* current estimate: radians, */
    double tx, ty;             /* and px of FIXED */
    /* coarse correlation */
    struct bq_phasecorr *pc;   /* NW x NH */
    size_t nw, nh;             /* padded coarse grid */
    float *buf, *surf;         /* NW*NH */
    float *fspec, *mspec;      /* spectra */
    float *wx, *wy;            /* coarse window */
};

static size_t
reg_pow2(size_t n)
{
    size_t p = 1;

    while (p < n)
        p *= 2;
    return p;
}

/* Returns the smallest FFT size >= N of the form 2^k, 3 * 2^k or 5 * 2^k:
 * such transforms plan and run fast, and pad N by at most a third. */
static size_t
reg_fft_side(size_t n)
{
    size_t best = reg_pow2(n);

    for (size_t f = 3; f <= 5; f += 2) {
        size_t m = f;
        while (m < n)
            m *= 2;
        best = m < best ? m : best;
    }
    return best;
}

/* Correlates the moving coarse structure, seen through the rotation ANGLE
 * (radians, no translation), with the fixed one; the peak is looked for
 * within RX x RY coarse px of zero. */
static void
reg_coarse_corr(struct reg_ctx *c, double angle, long rx, long ry,
                struct reg_peak *pk)
{
    struct reg_xf xf = reg_xf_level(angle, 0.0, 0.0, c->cx, c->cy, c->fc);
    size_t w = c->fix.cmp.w, h = c->fix.cmp.h;

    reg_warp(&c->mov.cmp, &xf, w, h, c->buf, c->nw);
    reg_cut(NULL, 0, 0, w, h, c->wx, c->wy, c->buf, c->nw);
    bq_phasecorr_forward(c->pc, c->buf, c->mspec);
    bq_phasecorr_correlate(c->pc, c->fspec, c->mspec, c->surf);
    reg_find_peak(c->surf, c->nw, c->nh, rx, ry, 0, pk);
}

/* Sets up the coarse correlator and the fixed spectrum. Returns BQ_OK or
 * an error. */
static enum bq_status
reg_coarse_setup(struct reg_ctx *c, struct bq_error *err)
{
    size_t w = c->fix.cmp.w, h = c->fix.cmp.h, len;
    enum bq_status st;

    c->nw = reg_pow2(w);
    c->nh = reg_pow2(h);
    st = bq_phasecorr_create(c->nw, c->nh, REG_LOWPASS_C, REG_HIGHPASS_C,
                             REG_WHITEN_C, &c->pc, err);
    if (st != BQ_OK)
        return st;
    len = bq_phasecorr_spectrum_len(c->pc);
    c->buf = bq_calloc_array(c->nw * c->nh, sizeof *c->buf);
    c->surf = bq_alloc_array(c->nw * c->nh, sizeof *c->surf);
    c->fspec = bq_alloc_array(len, sizeof *c->fspec);
    c->mspec = bq_alloc_array(len, sizeof *c->mspec);
    c->wx = bq_alloc_array(w, sizeof *c->wx);
    c->wy = bq_alloc_array(h, sizeof *c->wy);
    if (!c->buf || !c->surf || !c->fspec || !c->mspec || !c->wx || !c->wy)
        return bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
    reg_window(c->wx, w, REG_TAPER);
    reg_window(c->wy, h, REG_TAPER);
    reg_cut(&c->fix.cmp, 0, 0, w, h, c->wx, c->wy, c->buf, c->nw);
    bq_phasecorr_forward(c->pc, c->buf, c->fspec);
    return BQ_OK;
}

/* Phase 2: angle grid, parabola, translation. Sets c->angle, tx, ty.
 * Returns BQ_OK or BQ_ERR_NOMEM. */
static enum bq_status
reg_coarse_search(struct reg_ctx *c, struct bq_error *err)
{
    size_t w = c->fix.cmp.w, h = c->fix.cmp.h;
    long rx = (long)ceil(c->o->max_shift * (double)w);
    long ry = (long)ceil(c->o->max_shift * (double)h);
    double amax = c->o->max_angle * BQ_PI / 180.0, step = 0.0, *sc;
    double rcorner = 0.5 * hypot((double)w, (double)h);
    long nhalf = 0, ib;
    struct reg_peak pk;

    if (amax > 0.0) {
        step = fmin(BQ_PI / 180.0, REG_STEP_PX / rcorner);
        nhalf = (long)ceil(amax / step);
        step = amax / (double)nhalf;
    }
    sc = bq_alloc_array((size_t)(2 * nhalf + 1), sizeof *sc);
    if (!sc)
        return bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
    ib = -nhalf;
    for (long k = -nhalf; k <= nhalf; k++) {
        reg_coarse_corr(c, (double)k * step, rx, ry, &pk);
        sc[k + nhalf] = pk.value;
        if (pk.value > sc[ib + nhalf])
            ib = k;
    }
    c->angle = (double)ib * step;
    if (ib > -nhalf && ib < nhalf)
        c->angle += step * reg_subpixel(sc[ib + nhalf - 1], sc[ib + nhalf],
                                        sc[ib + nhalf + 1]);
    free(sc);
    /* The peak at this angle is the shift t' of the rotated moving image;
     * the translation is R(angle) t'. */
    reg_coarse_corr(c, c->angle, rx, ry, &pk);
    c->tx = (double)c->fc * (cos(c->angle) * pk.x - sin(c->angle) * pk.y);
    c->ty = (double)c->fc * (sin(c->angle) * pk.x + cos(c->angle) * pk.y);
    return BQ_OK;
}

/* ---- refinement ------------------------------------------------------- */

/* One region shift: d at region centre q (relative to the rotation
 * centre), with its weight. */
struct reg_obs {
    double qx, qy;        /* region centre - rotation centre, fine px */
    double dx, dy;        /* measured shift, fine px */
    double wxx, wxy, wyy; /* 2x2 weight (information) matrix of d */
    double jxx, jxy, jyy; /* the region's structure tensor, trace 1 */
};

/* Fills the structure tensor of O from the W x H block S (row length
 * STRIDE, unwindowed), weighted by the window WX x WY and scaled to trace
 * 1: its eigenvectors are the directions in which the block pins a shift
 * down (a lone horizontal edge: only y). */
static void
reg_tensor(const float *s, size_t w, size_t h, size_t stride, const float *wx,
           const float *wy, struct reg_obs *o)
{
    double xx = 0.0, xy = 0.0, yy = 0.0, t;

    for (size_t j = 1; j + 1 < h; j++)
        for (size_t i = 1; i + 1 < w; i++) {
            const float *p = s + j * stride + i;
            double gx = 0.5 * ((double)p[1] - p[-1]);
            double gy = 0.5 * ((double)p[stride] - *(p - stride));
            double ww = (double)wx[i] * wy[j];
            xx += ww * gx * gx;
            xy += ww * gx * gy;
            yy += ww * gy * gy;
        }
    t = xx + yy;
    o->jxx = t > 0.0 ? xx / t : 0.5;
    o->jxy = t > 0.0 ? xy / t : 0.0;
    o->jyy = t > 0.0 ? yy / t : 0.5;
}

/* Weighted robust least squares for d = e + delta * (-qy, qx) (or e alone
 * when ROTATE is 0) over the N observations, LEVER scaling the angle
 * column. Huber weights on the residual along each region's constrained
 * directions. Returns 1 and the solution, or 0 if the system is
 * singular. */
static int
reg_fit(const struct reg_obs *o, size_t n, int rotate, double lever,
        double *delta, double *ex, double *ey)
{
    double sol[3] = {0.0, 0.0, 0.0};
    int m = rotate ? 3 : 2, ok = 0;

    for (int it = 0; it < 5; it++) {
        double a[3][4] = {{0}};
        for (size_t i = 0; i < n; i++) {
            /* unknowns u = (ex, ey, delta * lever): d = A u with rows AX
             * (for dx) and AY (for dy); add A' W A and A' W d */
            double ax[3] = {1.0, 0.0, -o[i].qy / lever};
            double ay[3] = {0.0, 1.0, o[i].qx / lever};
            double wxx = o[i].wxx, wxy = o[i].wxy, wyy = o[i].wyy;
            if (it > 0) {
                double rx = o[i].dx - (sol[0] + ax[2] * sol[2]);
                double ry = o[i].dy - (sol[1] + ay[2] * sol[2]);
                double r = sqrt(fmax(0.0, o[i].jxx * rx * rx +
                                              2.0 * o[i].jxy * rx * ry +
                                              o[i].jyy * ry * ry));
                double hub = r > REG_HUBER ? REG_HUBER / r : 1.0;
                wxx *= hub;
                wxy *= hub;
                wyy *= hub;
            }
            for (int p = 0; p < m; p++) {
                double bx = wxx * ax[p] + wxy * ay[p];
                double by = wxy * ax[p] + wyy * ay[p];
                for (int q = 0; q < m; q++)
                    a[p][q] += bx * ax[q] + by * ay[q];
                a[p][3] += bx * o[i].dx + by * o[i].dy;
            }
        }
        /* Gaussian elimination with partial pivoting on the m x m system. */
        for (int p = 0; p < m; p++) {
            int piv = p;
            for (int q = p + 1; q < m; q++)
                if (fabs(a[q][p]) > fabs(a[piv][p]))
                    piv = q;
            if (!(fabs(a[piv][p]) > 1e-9))
                return ok;
            if (piv != p)
                for (int k = 0; k < 4; k++) {
                    double t = a[p][k];
                    a[p][k] = a[piv][k];
                    a[piv][k] = t;
                }
            for (int q = p + 1; q < m; q++) {
                double f = a[q][p] / a[p][p];
                for (int k = p; k < 4; k++)
                    a[q][k] -= f * a[p][k];
            }
        }
        for (int p = m - 1; p >= 0; p--) {
            double s = a[p][3];
            for (int k = p + 1; k < m; k++)
                s -= a[p][k] * sol[k];
            sol[p] = s / a[p][p];
        }
        ok = 1;
        *ex = sol[0];
        *ey = sol[1];
        *delta = rotate ? sol[2] / lever : 0.0;
    }
    return ok;
}

/* A set of equal regions of the fine level and a correlator for them. */
struct reg_regions {
    size_t nx, ny;           /* regions per row and column */
    size_t rw, rh;           /* region size, px */
    size_t nw, nh;           /* padded FFT size */
    struct bq_phasecorr *pc; /* NW x NH */
    float *wx, *wy;          /* region window */
    float *buf, *surf;       /* NW*NH */
    float *fspec, *mspec;    /* fixed spectra (all regions), moving one */
    float *tspec;            /* a fixed spectrum made for one pass */
    size_t len;              /* floats of one spectrum */
    const struct reg_plane *fix; /* the fixed fine structure (borrowed) */
};

static void
reg_regions_fini(struct reg_regions *r)
{
    bq_phasecorr_destroy(r->pc);
    free(r->wx);
    free(r->wy);
    free(r->buf);
    free(r->surf);
    free(r->fspec);
    free(r->mspec);
    free(r->tspec);
    memset(r, 0, sizeof *r);
}

/* Origin (fine px) of region K of R in a W x H plane. */
static void
reg_region_origin(const struct reg_regions *r, size_t k, size_t w, size_t h,
                  size_t *x0, size_t *y0)
{
    size_t i = k % r->nx, j = k / r->nx;

    *x0 = r->nx > 1 ? i * (w - r->rw) / (r->nx - 1) : (w - r->rw) / 2;
    *y0 = r->ny > 1 ? j * (h - r->rh) / (r->ny - 1) : (h - r->rh) / 2;
}

/* Sets up NX x NY regions of RW x RH px over the fixed fine structure F,
 * their correlator (WHITEN, band-pass REG_*_F) and the fixed spectra; if
 * OBS, also fills each region's centre and structure tensor. Returns BQ_OK
 * or an error. */
static enum bq_status
reg_regions_setup(struct reg_regions *r, const struct reg_plane *f,
                  size_t nx, size_t ny, size_t rw, size_t rh, double whiten,
                  double cx, double cy, struct reg_obs *obs,
                  struct bq_error *err)
{
    enum bq_status st;

    memset(r, 0, sizeof *r);
    r->nx = nx;
    r->ny = ny;
    r->rw = rw;
    r->rh = rh;
    r->nw = reg_fft_side(rw);
    r->nh = reg_fft_side(rh);
    st = bq_phasecorr_create(r->nw, r->nh, REG_LOWPASS_F, REG_HIGHPASS_F,
                             whiten, &r->pc, err);
    if (st != BQ_OK)
        return st;
    r->len = bq_phasecorr_spectrum_len(r->pc);
    r->wx = bq_alloc_array(rw, sizeof *r->wx);
    r->wy = bq_alloc_array(rh, sizeof *r->wy);
    r->buf = bq_calloc_array(r->nw * r->nh, sizeof *r->buf);
    r->surf = bq_alloc_array(r->nw * r->nh, sizeof *r->surf);
    r->fspec = bq_alloc_array(nx * ny, r->len * sizeof *r->fspec);
    r->mspec = bq_alloc_array(r->len, sizeof *r->mspec);
    r->tspec = bq_alloc_array(r->len, sizeof *r->tspec);
    r->fix = f;
    if (!r->wx || !r->wy || !r->buf || !r->surf || !r->fspec || !r->mspec ||
        !r->tspec)
        return bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
    reg_window(r->wx, rw, REG_REGION_TAPER);
    reg_window(r->wy, rh, REG_REGION_TAPER);
    for (size_t k = 0; k < nx * ny; k++) {
        size_t x0, y0;
        reg_region_origin(r, k, f->w, f->h, &x0, &y0);
        if (obs) {
            obs[k].qx = (double)x0 + 0.5 * ((double)rw - 1.0) - cx;
            obs[k].qy = (double)y0 + 0.5 * ((double)rh - 1.0) - cy;
            reg_cut(f, x0, y0, rw, rh, NULL, NULL, r->buf, r->nw);
            reg_tensor(r->buf, rw, rh, r->nw, r->wx, r->wy, &obs[k]);
        }
        reg_cut(f, x0, y0, rw, rh, r->wx, r->wy, r->buf, r->nw);
        bq_phasecorr_forward(r->pc, r->buf, r->fspec + k * r->len);
    }
    return BQ_OK;
}

/* Returns 1 if the level point (X, Y) maps through XF into a W x H
 * plane. */
static int
reg_maps_inside(const struct reg_xf *xf, double x, double y, size_t w,
                size_t h)
{
    double u, v;

    reg_xf_apply(xf, x, y, &u, &v);
    return u >= 0.0 && v >= 0.0 && u <= (double)(w - 1) &&
           v <= (double)(h - 1);
}

/* Correlates region K of the warped moving structure WARP (fixed frame,
 * resampled through XF from a MW x MH plane) with the fixed one; the peak
 * within RADIUS px goes to *PK. If REFINE, the peak-to-sidelobe ratio is
 * measured too, and where part of the region maps outside the moving scan
 * (which shows nothing there) the fixed region is blanked there too, so
 * structure only one scan could show does not pull. */
static void
reg_region_corr(struct reg_regions *r, size_t k, const struct reg_plane *warp,
                const struct reg_xf *xf, size_t mw, size_t mh, long radius,
                int refine, struct reg_peak *pk)
{
    const float *ref = r->fspec + k * r->len;
    double ax, ay, bx, by;
    size_t x0, y0, rw = r->rw, rh = r->rh;

    reg_region_origin(r, k, warp->w, warp->h, &x0, &y0);
    ax = (double)x0;
    ay = (double)y0;
    bx = ax + (double)(rw - 1);
    by = ay + (double)(rh - 1);
    if (refine && (!reg_maps_inside(xf, ax, ay, mw, mh) ||
        !reg_maps_inside(xf, bx, ay, mw, mh) ||
        !reg_maps_inside(xf, ax, by, mw, mh) ||
        !reg_maps_inside(xf, bx, by, mw, mh))) {
        reg_cut(r->fix, x0, y0, rw, rh, NULL, NULL, r->buf, r->nw);
        for (size_t j = 0; j < rh; j++)
            for (size_t i = 0; i < rw; i++)
                if (!reg_maps_inside(xf, ax + (double)i, ay + (double)j, mw,
                                     mh))
                    r->buf[j * r->nw + i] = 0.0f;
        reg_cut(NULL, 0, 0, rw, rh, r->wx, r->wy, r->buf, r->nw);
        bq_phasecorr_forward(r->pc, r->buf, r->tspec);
        ref = r->tspec;
    }
    reg_cut(warp, x0, y0, rw, rh, r->wx, r->wy, r->buf, r->nw);
    bq_phasecorr_forward(r->pc, r->buf, r->mspec);
    bq_phasecorr_correlate(r->pc, ref, r->mspec, r->surf);
    reg_find_peak(r->surf, r->nw, r->nh, radius, radius, refine, pk);
}

/* Resamples the moving fine structure through the current estimate into
 * WARP (the fixed fine grid); the level transform used goes to *XF. */
static void
reg_warp_moving(const struct reg_ctx *c, struct reg_plane *warp,
                struct reg_xf *xf)
{
    *xf = reg_xf_level(c->angle, c->tx, c->ty, c->cx, c->cy, c->ff);
    reg_warp(&c->mov.fcmp, xf, warp->w, warp->h, warp->own, warp->stride);
}

/* Phase 3: refinement at the fine level. The fine structure images are
 * cut into six large overlapping regions (3 x 2, or 2 x 3 for a portrait
 * scan), each correlated with its counterpart in the moving scan seen
 * through the current estimate; the region shifts, weighted by peak
 * strength and by the region's structure tensor, give a least-squares
 * update of angle and translation. Large regions always hold some common
 * structure (membrane edges and corners, the ladder, lanes), which
 * outweighs band rows seen by one antibody only. Updates c->angle, tx,
 * ty; leaves them alone if too few regions have structure. WARP is the
 * scratch plane for the resampled moving structure. */
static enum bq_status
reg_refine(struct reg_ctx *c, struct reg_plane *warp, struct bq_error *err)
{
    const struct reg_plane *fp = &c->fix.fcmp;
    struct reg_xf id = reg_xf_level(0.0, 0.0, 0.0, c->cx, c->cy, c->ff);
    struct reg_regions r;
    struct reg_obs obs[6];
    size_t nx = fp->w >= fp->h ? 3 : 2, ny = 5 - nx, g = c->fc / c->ff;
    double lever = 0.5 * (double)(fp->w > fp->h ? fp->w : fp->h);
    /* The coarse estimate is good to about a coarse pixel plus half an
     * angle step at the corners: search a few coarse pixels around it,
     * then, once refined, close around the estimate. */
    long radius = (long)(2 * g + 2);
    enum bq_status st;

    if (fp->w / 2 < REG_REGION_MIN || fp->h / 2 < REG_REGION_MIN)
        return BQ_OK; /* too small to refine: keep the coarse estimate */
    st = reg_regions_setup(&r, fp, nx, ny, fp->w / 2, fp->h / 2,
                           REG_WHITEN_F, id.cx, id.cy, obs, err);
    for (int it = 0; st == BQ_OK && it < REG_FINE_ITERS; it++) {
        size_t used = 0;
        double delta = 0.0, ex = 0.0, ey = 0.0, fx, fy;
        struct reg_xf xf;
        reg_warp_moving(c, warp, &xf);
        for (size_t k = 0; k < nx * ny; k++) {
            struct reg_peak pk;
            reg_region_corr(&r, k, warp, &xf, c->mov.fcmp.w, c->mov.fcmp.h,
                            radius, 1, &pk);
            obs[k].dx = pk.x;
            obs[k].dy = pk.y;
            obs[k].wxx = obs[k].wxy = obs[k].wyy = 0.0;
            if (pk.psr >= REG_MIN_PSR && pk.inside) {
                double q = fmin(pk.psr, REG_PSR_CAP);
                obs[k].wxx = q * q * obs[k].jxx;
                obs[k].wxy = q * q * obs[k].jxy;
                obs[k].wyy = q * q * obs[k].jyy;
                used++;
            }
        }
        if (used < 2 || !reg_fit(obs, nx * ny, c->o->max_angle > 0.0, lever,
                                 &delta, &ex, &ey))
            break;
        /* T = T0 o E with E(p) = c + R(delta)(p - c) + e. */
        fx = (double)c->ff * (cos(c->angle) * ex - sin(c->angle) * ey);
        fy = (double)c->ff * (sin(c->angle) * ex + cos(c->angle) * ey);
        c->angle += delta;
        c->tx += fx;
        c->ty += fy;
        if (hypot(ex, ey) < REG_CONVERGED &&
            fabs(delta) * lever < REG_CONVERGED)
            break;
        radius = (long)bq_clampd(
            ceil(2.0 * (hypot(ex, ey) + fabs(delta) * lever)) + 2.0, 3.0,
            (double)radius);
    }
    reg_regions_fini(&r);
    return st;
}

/* ---- score ------------------------------------------------------------ */

/* Phase 4: the match score at the current estimate (see the file comment):
 * stores it in *SCORE. Returns BQ_OK or an error. */
static enum bq_status
reg_verify(struct reg_ctx *c, struct reg_plane *warp, double *score,
           struct bq_error *err)
{
    const struct reg_plane *fp = &c->fix.fcmp;
    struct reg_xf id = reg_xf_level(0.0, 0.0, 0.0, c->cx, c->cy, c->ff);
    struct reg_regions r;
    struct reg_xf xf;
    size_t n = REG_VERIFY_N, rw, rh;
    long radius = (long)(2 * (c->fc / c->ff) + 2);
    double best[4] = {0.0, 0.0, 0.0, 0.0};
    enum bq_status st;

    rw = bq_min_size(fp->w, fp->w / 4 > REG_REGION_MIN ? fp->w / 4
                                                       : REG_REGION_MIN);
    rh = bq_min_size(fp->h, fp->h / 4 > REG_REGION_MIN ? fp->h / 4
                                                       : REG_REGION_MIN);
    st = reg_regions_setup(&r, fp, n, n, rw, rh, 1.0, id.cx, id.cy, NULL,
                           err);
    if (st == BQ_OK)
        reg_warp_moving(c, warp, &xf);
    for (size_t k = 0; st == BQ_OK && k < n * n; k++) {
        struct reg_peak pk;
        size_t x0, y0;
        double qx, qy, a, d2;
        reg_region_corr(&r, k, warp, &xf, c->mov.fcmp.w, c->mov.fcmp.h,
                        radius, 0, &pk);
        reg_region_origin(&r, k, fp->w, fp->h, &x0, &y0);
        qx = (double)x0 + 0.5 * ((double)rw - 1.0) - id.cx;
        qy = (double)y0 + 0.5 * ((double)rh - 1.0) - id.cy;
        d2 = pk.x * pk.x + pk.y * pk.y;
        a = pk.value * exp(-0.5 * d2 / (REG_VERIFY_TOL * REG_VERIFY_TOL));
        /* best agreement in each half: left, right, top, bottom */
        if (qx < -0.5)
            best[0] = fmax(best[0], a);
        if (qx > 0.5)
            best[1] = fmax(best[1], a);
        if (qy < -0.5)
            best[2] = fmax(best[2], a);
        if (qy > 0.5)
            best[3] = fmax(best[3], a);
    }
    *score = fmin(fmin(best[0], best[1]), fmin(best[2], best[3]));
    reg_regions_fini(&r);
    return st;
}

/* ---- public ----------------------------------------------------------- */

void
bq_reg_opts_init(struct bq_reg_opts *o)
{
    o->max_angle = 3.0;
    o->max_shift = 0.2;
    o->min_score = 0.15;
    o->max_side = 256;
}

/* Small named checks: each returns 1 if the condition holds. */
static int
reg_image_ok(const struct bq_image *img)
{
    return img && img->px && img->width >= REG_MIN_SIDE &&
           img->height >= REG_MIN_SIDE && img->stride >= img->width;
}

static int
reg_opts_ok(const struct bq_reg_opts *o)
{
    return o->max_angle >= 0.0 && o->max_angle <= 10.0 &&
           o->max_shift >= 0.01 && o->max_shift <= 0.45 &&
           isfinite(o->min_score) && o->max_side >= 64 &&
           o->max_side <= REG_MAX_SIDE_OPT;
}

static int
reg_sizes_close(const struct bq_image *a, const struct bq_image *b)
{
    return 2 * b->width >= a->width && b->width <= 2 * a->width &&
           2 * b->height >= a->height && b->height <= 2 * a->height;
}

enum bq_status
bq_register(const struct bq_image *fixed, const struct bq_image *moving,
            const struct bq_reg_opts *opts, struct bq_reg_result *res,
            struct bq_error *err)
{
    struct bq_reg_opts defaults;
    struct reg_ctx c;
    struct reg_plane warp;
    struct reg_peak pk;
    size_t maxdim, g;
    double score = 0.0;
    enum bq_status st;

    memset(&c, 0, sizeof c);
    memset(&warp, 0, sizeof warp);
    if (!opts) {
        bq_reg_opts_init(&defaults);
        opts = &defaults;
    }
    if (!fixed || !moving || !res)
        return bq_error_set(err, BQ_ERR_INVALID, "register: NULL argument");
    if (!reg_opts_ok(opts))
        return bq_error_set(err, BQ_ERR_INVALID,
                            "register: bad options (max_angle %g: 0..10, "
                            "max_shift %g: 0.01..0.45, max_side %zu: "
                            "64..%d)", opts->max_angle, opts->max_shift,
                            opts->max_side, REG_MAX_SIDE_OPT);
    if (!reg_image_ok(fixed) || !reg_image_ok(moving))
        return bq_error_set(err, BQ_ERR_INVALID,
                            "register: images must be at least %d x %d px "
                            "(have %zux%zu and %zux%zu)", REG_MIN_SIDE,
                            REG_MIN_SIDE, fixed->width, fixed->height,
                            moving->width, moving->height);
    if (!reg_sizes_close(fixed, moving))
        return bq_error_set(err, BQ_ERR_INVALID,
                            "register: sizes %zux%zu and %zux%zu differ by "
                            "more than a factor of 2", fixed->width,
                            fixed->height, moving->width, moving->height);

    /* Phase 1: pyramid factors from FIXED, used for both scans. */
    c.o = opts;
    maxdim = fixed->width > fixed->height ? fixed->width : fixed->height;
    c.ff = (maxdim + 3 * opts->max_side - 1) / (3 * opts->max_side);
    g = (maxdim / c.ff + opts->max_side - 1) / opts->max_side;
    c.fc = c.ff * g;
    if (fixed->width / c.fc < REG_MIN_COARSE ||
        fixed->height / c.fc < REG_MIN_COARSE ||
        moving->width / c.fc < REG_MIN_COARSE ||
        moving->height / c.fc < REG_MIN_COARSE)
        return bq_error_set(err, BQ_ERR_INVALID,
                            "register: images too narrow (%zux%zu, %zux%zu)",
                            fixed->width, fixed->height, moving->width,
                            moving->height);
    c.cx = 0.5 * ((double)fixed->width - 1.0);
    c.cy = 0.5 * ((double)fixed->height - 1.0);
    st = reg_scan_prepare(fixed, c.ff, g, "fixed", &c.fix, err);
    if (st == BQ_OK)
        st = reg_scan_prepare(moving, c.ff, g, "moving", &c.mov, err);
    if (st == BQ_OK && !reg_plane_alloc(&warp, c.fix.fcmp.w, c.fix.fcmp.h))
        st = bq_error_set(err, BQ_ERR_NOMEM, "register: out of memory");
    if (st == BQ_OK)
        st = reg_coarse_setup(&c, err);

    /* Phases 2 to 4. */
    if (st == BQ_OK)
        st = reg_coarse_search(&c, err);
    if (st == BQ_OK)
        st = reg_refine(&c, &warp, err);
    if (st == BQ_OK)
        st = reg_verify(&c, &warp, &score, err);
    if (st != BQ_OK)
        goto out;
    /* Diagnostics: the coarse peak-to-sidelobe ratio at the final
     * transform (warp with the full estimate, so the peak sits at 0). */
    {
        struct reg_xf xf =
            reg_xf_level(c.angle, c.tx, c.ty, c.cx, c.cy, c.fc);
        reg_warp(&c.mov.cmp, &xf, c.fix.cmp.w, c.fix.cmp.h, c.buf, c.nw);
        reg_cut(NULL, 0, 0, c.fix.cmp.w, c.fix.cmp.h, c.wx, c.wy, c.buf,
                c.nw);
        bq_phasecorr_forward(c.pc, c.buf, c.mspec);
        bq_phasecorr_correlate(c.pc, c.fspec, c.mspec, c.surf);
        reg_find_peak(c.surf, c.nw, c.nh, 2, 2, 1, &pk);
    }
    res->dx = c.tx;
    res->dy = c.ty;
    res->angle = c.angle * 180.0 / BQ_PI;
    res->score = score;
    res->psr = pk.psr;
    res->matched = score >= opts->min_score;
out:
    bq_phasecorr_destroy(c.pc);
    free(c.buf);
    free(c.surf);
    free(c.fspec);
    free(c.mspec);
    free(c.wx);
    free(c.wy);
    reg_plane_fini(&warp);
    reg_scan_fini(&c.fix);
    reg_scan_fini(&c.mov);
    return st;
}

void
bq_reg_map(const struct bq_reg_result *r, double cx, double cy, double x,
           double y, double *xo, double *yo)
{
    double a = r->angle * BQ_PI / 180.0, cs = cos(a), sn = sin(a);
    double dx = x - cx, dy = y - cy;

    *xo = cx + cs * dx - sn * dy + r->dx;
    *yo = cy + sn * dx + cs * dy + r->dy;
}

void
bq_reg_unmap(const struct bq_reg_result *r, double cx, double cy, double x,
             double y, double *xo, double *yo)
{
    double a = r->angle * BQ_PI / 180.0, cs = cos(a), sn = sin(a);
    double dx = x - cx - r->dx, dy = y - cy - r->dy;

    *xo = cx + cs * dx + sn * dy;
    *yo = cy - sn * dx + cs * dy;
}

enum bq_status
bq_image_warp(const struct bq_image *moving, const struct bq_reg_result *t,
              size_t width, size_t height, float fill, struct bq_image **out,
              struct bq_error *err)
{
    struct bq_error e2 = {BQ_OK, ""};
    struct bq_image *img;
    double cx = 0.5 * ((double)width - 1.0), cy = 0.5 * ((double)height - 1.0);
    double a, cs, sn;

    if (!moving || !moving->px || !t || !out || moving->width == 0 ||
        moving->height == 0 || moving->stride < moving->width || width == 0 ||
        height == 0)
        return bq_error_set(err, BQ_ERR_INVALID, "warp: bad argument");
    img = bq_image_create(width, height, &e2);
    if (!img)
        return bq_error_set(err, e2.status, "warp: %s", e2.msg);
    img->bit_depth = moving->bit_depth;
    img->max_code = moving->max_code;
    a = t->angle * BQ_PI / 180.0;
    cs = cos(a);
    sn = sin(a);
    for (size_t y = 0; y < height; y++) {
        float *row = bq_row(img, y);
        double dy = (double)y - cy;
        double ax = cx - cs * cx - sn * dy + t->dx;
        double ay = cy - sn * cx + cs * dy + t->dy;
        for (size_t x = 0; x < width; x++)
            row[x] = reg_bilinear(moving->px, moving->stride, moving->width,
                                  moving->height, ax + cs * (double)x,
                                  ay + sn * (double)x, fill);
    }
    *out = img;
    return BQ_OK;
}
