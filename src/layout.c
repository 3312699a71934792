/* Layout stage: strips from the row profile, lanes from column profiles. */
#include "blotquant/layout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "util.h"

#define MAX_SEGS 64
/* A lane must stand out of the compressed column profile by this much:
 * asinh units, about 3x the noise at the weak end, a factor e at the top. */
#define LANE_PROMINENCE 1.0
/* Band rows with at least this many lanes anchor a strip; sparser rows (a
 * ladder, a lone band, a speck) join a neighbouring strip. */
#define ANCHOR_LANES 3
/* Rows with under this share of the fullest row's pixels unmasked
 * separate two membrane pieces. */
#define GAP_LIVE 0.3
/* A pitch must exceed the lanes' half-maximum width by this factor. */
#define PITCH_GAP 1.15
/* Relative pitch difference that marks a band row's lanes as misread. */
#define PITCH_ODD 0.25

void
bq_layout_opts_init(struct bq_layout_opts *o)
{
    o->lanes = 0;
    o->max_strips = 8;
}

void
bq_layout_fini(struct bq_layout *l)
{
    if (!l)
        return;
    free(l->strips);
    free(l->lanes);
    memset(l, 0, sizeof *l);
}

/* A run of rows holding signal, with its column profile. */
struct seg {
    size_t y0, y1; /* rows [y0, y1) */
    double *c;     /* column profile: mean signal per column */
    double *cc;    /* compressed: asinh(c / (3 noise)), smoothed */
    double pitch;  /* lane pitch found in this segment (0 = none) */
    size_t nl;     /* lanes found (gaps between them filled) */
    double *lx;    /* lane centres (owned, nl) */
    unsigned char *seen; /* per lane: 1 if seen, 0 if filled in (owned) */
    double lw;     /* median lane width, px */
    size_t ns;     /* of those, lanes seen (not filled in) at least a
                      tenth as high as the highest */
    size_t strip;  /* strip it was merged into */
    size_t piece;  /* membrane piece its middle row lies on (gap rows) */
    int cut;       /* 1: cut from the run above it, to be joined again */
    int reads_ref; /* 1: an anchor reading the reference run's pitch */
    int residue;   /* 1: thin residue along the membrane's edge */
};

/* Highest value of a run's column profile: how strong its bands are. */
static double
profile_max(const double *c, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = c[i] > m ? c[i] : m;
    return m;
}

/* Whether run Q lies against the edge of its piece of membrane: a masked
 * row (LIVE[y] == -1) or the image's edge within 4 rows above its first
 * row or below its last. */
static int
at_piece_edge(const struct seg *q, const size_t *live, size_t h)
{
    for (size_t d = 1; d <= 4; d++)
        if (q->y0 < d || live[q->y0 - d] == (size_t)-1 || q->y1 - 1 + d >= h ||
            live[q->y1 - 1 + d] == (size_t)-1)
            return 1;
    return 0;
}

/* Whether run Q is thinner than its lanes are wide. */
static int
thin_run(const struct seg *q)
{
    return (double)(q->y1 - q->y0) < q->lw;
}

/* Whether run Q lies against the edge of its piece of membrane and is
 * thinner than its lanes are wide: the residue a masked frame leaves
 * along the membrane's edge. */
static int
thin_edge_run(const struct seg *q, const size_t *live, size_t h)
{
    return thin_run(q) && at_piece_edge(q, live, h);
}

/* A strip's rows, for the test of its end lanes and the lanes its rows
 * saw. */
struct strip_rows {
    const struct bq_image *sig; /* the prepared image */
    const struct seg *segs;     /* its runs of band rows: [ka, kb) */
    size_t ka, kb;
    size_t y0, y1; /* its rows [y0, y1) */
};

/* Lane candidates from one compressed profile. */
struct lanefit {
    size_t n;
    double x[256], w[256];
    int empty[256];
    double pitch;
};

/* Linear interpolation of P at X (clamped). */
static double
interp(const double *p, size_t n, double x)
{
    size_t i;
    double f;

    if (x <= 0)
        return p[0];
    if (x >= (double)(n - 1))
        return p[n - 1];
    i = (size_t)x;
    f = x - (double)i;
    return p[i] * (1 - f) + p[i + 1] * f;
}

#define TOP_LEVEL 0.8 /* of the peak: where a lane's top is measured */

/* Half-maximum crossings of the bump of C around IPK, searched no further
 * than [LIM_L, LIM_R]; writes centre and width, returns 0 if found. BY_TOP:
 * a side with no crossing of its own is mirrored about the middle of the
 * bump's top rather than about IPK (for a strip's final lanes only: the
 * lanes of single runs decide which runs make a strip, and that way the
 * real actin scan's runs read apart, one strip becoming two). */
static int
half_max(const double *c, long ipk, long lim_l, long lim_r, double *xc,
         double *wd, int by_top)
{
    double half = 0.5 * c[ipk], xl, xr;
    long lo = ipk, hi = ipk;

    while (lo > lim_l && c[lo] > half)
        lo--;
    while (hi < lim_r && c[hi] > half)
        hi++;
    xl = (double)lo;
    if (c[lo] < half && c[lo + 1] != c[lo])
        xl += (half - c[lo]) / (c[lo + 1] - c[lo]);
    xr = (double)hi;
    if (c[hi] < half && c[hi - 1] != c[hi])
        xr -= (half - c[hi]) / (c[hi - 1] - c[hi]);
    /* One side still above half at its limit: the bump leans on a
     * brighter neighbour (or the profile's end). Its own half width is the
     * other side's, mirrored. Neither side: no width. */
    if (c[lo] > half && c[hi] > half)
        return -1; /* a smear or a plateau: no width of its own */
    if (by_top && (c[lo] > half || c[hi] > half)) {
        /* mirrored about the middle of its top (the crossings of
         * TOP_LEVEL of the peak), where the neighbour's tail lifts it
         * least; about the peak if the top has no such crossings. A flat
         * top's highest column is anywhere on it (generated seed 77: a
         * 26 px lane beside a bright one, its peak 6 px off its middle,
         * read 42 px wide). */
        double top = TOP_LEVEL * c[ipk], tl = (double)ipk, tr = tl, mid;
        long a = ipk, b = ipk;
        while (a > lim_l && c[a] > top)
            a--;
        while (b < lim_r && c[b] > top)
            b++;
        if (c[a] <= top && c[b] <= top) {
            tl = (double)a + (top - c[a]) / (c[a + 1] - c[a]);
            tr = (double)b - (top - c[b]) / (c[b - 1] - c[b]);
        }
        mid = 0.5 * (tl + tr);
        if (c[lo] > half)
            xl = 2 * mid - xr;
        else
            xr = 2 * mid - xl;
    } else if (c[lo] > half)
        xl = 2 * (double)ipk - xr;
    else if (c[hi] > half)
        xr = 2 * (double)ipk - xl;
    if (xr <= xl)
        return -1;
    *xc = 0.5 * (xl + xr);
    *wd = xr - xl;
    return 0;
}

/* Widens the half-maximum extent [*XL, *XR] of the bump of C peaking at
 * IPK (half_max's): each side goes on past a dip to the outermost half
 * crossing within [BL, BR], if the profile never falls under a quarter of
 * the peak on the way and stays under half beyond it, up to the bound. A
 * lane whose band is uneven across (a bubble, a sample run off-centre)
 * shows two humps, and its width is both (the real alpha-tubulin exposure
 * 13h11: lane 2 read 33 px wide on its right hump, half its band outside
 * the box). */
static void
half_max_span(const double *c, long ipk, long bl, long br, double *xl,
              double *xr)
{
    double half = 0.5 * c[ipk];

    for (int dir = -1; dir <= 1; dir += 2) {
        long end = dir < 0 ? bl : br, last = -1, k;
        for (k = (long)(dir < 0 ? floor(*xl) : ceil(*xr));
             dir < 0 ? k >= end : k <= end; k += dir) {
            if (c[k] < 0.25 * c[ipk])
                break;
            if (c[k] > half)
                last = k;
        }
        if (last < 0 || last == end)
            continue; /* no hump beyond, or one the bound cuts */
        for (k = last + dir; dir < 0 ? k >= end : k <= end; k += dir)
            if (c[k] > half)
                break;
        if (dir < 0 ? k >= end : k <= end)
            continue; /* over half again before the bound */
        /* c[last] > half >= c[last + dir]: interpolate the crossing */
        if (dir < 0)
            *xl = (double)last -
                  (c[last] - half) / (c[last] - c[last - 1]);
        else
            *xr = (double)last +
                  (c[last] - half) / (c[last] - c[last + 1]);
    }
}

/* Whether column X of the strip's rows SR holds a ramp rather than a
 * lane: the mean of its rows outside the band rows is at least half the
 * mean of its band rows (a band lies in a few rows, a ramp the
 * background left runs through them all). Reads the image down the
 * column (a few columns a strip: cheap). 0 when too few rows lie outside
 * the band rows (under a tenth of the strip) to tell. */
static int
ramp_column(const struct strip_rows *sr, size_t x)
{
    double band = 0, quiet = 0;
    size_t nb = 0, nq = 0, k = sr->ka;

    for (size_t y = sr->y0; y < sr->y1; y++) {
        double v = bq_row(sr->sig, y)[x];
        while (k < sr->kb && sr->segs[k].y1 <= y)
            k++;
        if (k < sr->kb && y >= sr->segs[k].y0) {
            band += v;
            nb++;
        } else {
            quiet += v;
            nq++;
        }
    }
    if (nb == 0 || nq < 2 || nq < (sr->y1 - sr->y0) / 10)
        return 0;
    band /= (double)nb;
    quiet /= (double)nq;
    return band <= 0 || quiet >= 0.5 * band;
}

/* The column where the plain profile C (W columns) of the strip's rows
 * SR shows a lane at the end candidate X (PITCH px from its neighbour),
 * or -1: the highest column within 0.3 PITCH of X, followed uphill if it
 * lies on the window's edge, which must top out within 0.5 PITCH of X (a
 * wide lane may peak off its centre: the ladder of the real gel
 * gellanesfit LM_1 peaks 0.33 pitch from where its centre was expected),
 * above zero, and no ramp (ramp_column). A lane the compression lifted
 * out of the tail of its neighbour's band has no such peak (the profile
 * climbs on to the neighbour), nor has one lifted out of a ramp the
 * background left at the membrane's edge. */
static long
end_peak(const double *c, size_t w, const struct strip_rows *sr, double x,
         double pitch)
{
    long a = (long)floor(x - 0.3 * pitch), b = (long)ceil(x + 0.3 * pitch);
    long lim_a = (long)floor(x - 0.5 * pitch), lim_b = (long)ceil(x + 0.5 * pitch);
    long ipk = -1;

    lim_a = lim_a < 0 ? 0 : lim_a;
    lim_b = lim_b > (long)w - 1 ? (long)w - 1 : lim_b;
    a = a < lim_a ? lim_a : a;
    b = b > lim_b ? lim_b : b;
    for (long i = a; i <= b; i++)
        if (ipk < 0 || c[i] > c[ipk])
            ipk = i;
    if (ipk < 0 || (ipk == a && !(ipk > lim_a && c[ipk - 1] > c[ipk])) ||
        (ipk == b && !(ipk < lim_b && c[ipk + 1] > c[ipk])))
        return -1; /* on the window's edge, and not climbing on beyond it */
    while (ipk > lim_a && ipk <= a && c[ipk - 1] > c[ipk])
        ipk--;
    while (ipk < lim_b && ipk >= b && c[ipk + 1] > c[ipk])
        ipk++;
    if (ipk <= lim_a || ipk >= lim_b || c[ipk] <= 0 ||
        ramp_column(sr, (size_t)ipk))
        return -1;
    return ipk;
}

/* The lane (its peak column) one PITCH beyond the end lane X (DIR -1:
 * left, 1: right) of the strip's rows SR, or -1. A weak lane beside
 * strong ones may stand too little out of the compressed profile to be a
 * candidate, its bands on its neighbour's tail; inside the strip the gap
 * is filled, at its end the lane was lost (generated seed 453). The plain
 * profile C (W columns, the signal's extent [XA, XB)) must peak there
 * (end_peak) at least END_TOP of TOP (the median lane's height) and fall
 * to END_DIP of that peak on both sides, towards X and within 0.6 PITCH
 * beyond, where no column may read exactly 0, masked in all its rows
 * (seed 6 without doublets: a bump where the membrane meets the masked
 * frame; a run whose ramp was removed reads minus the ramp there instead,
 * which the next test sees if it is deep); and the peak must be at least
 * half as wide as the lanes LW (a frame's edge is a ridge a few px wide:
 * seeds 27, 81) with no drop beyond it to far below zero (a dark frame
 * beyond the membrane's last plateau: seed 611 without doublets). */
#define END_TOP 0.15
#define END_DIP 0.6
static double
end_beyond(const double *c, size_t w, size_t xa, size_t xb,
           const struct strip_rows *sr, double x, int dir, double pitch,
           double top, double lw)
{
    double nx = x + dir * pitch, lo_in = 1e300, lo_out = 1e300, xc, wd;
    long a = (long)floor(nx - 0.3 * pitch), b = (long)ceil(nx + 0.3 * pitch);
    long ipk, reach, from, end;

    if (a < (long)xa || b >= (long)xb ||
        (ipk = end_peak(c, w, sr, nx, pitch)) < 0 || c[ipk] < END_TOP * top)
        return -1;
    for (long i = (long)floor(x + 0.5); i != ipk; i += dir)
        lo_in = fmin(lo_in, c[i]);
    /* beyond: 0.6 pitch past the peak; a wide lane may peak near its
     * inner side, so if the peak lies inwards of where the lane was
     * expected, the dip may also come up to 0.6 pitch past that (so far
     * as the image, the mask and a dark frame allow) */
    reach = (long)ceil(0.6 * pitch);
    from = ipk + dir * reach;
    for (long i = ipk;; i += dir) {
        if (i < 0 || i >= (long)w || c[i] == 0)
            return -1; /* the image's end, or masked in every row */
        lo_out = fmin(lo_out, c[i]);
        if (i == from)
            break;
    }
    if (lo_out < -END_DIP * c[ipk])
        return -1;
    end = (long)floor(nx + 0.5) + dir * reach;
    while ((end - from) * dir > 0 && from + dir >= 0 &&
           from + dir < (long)w && c[from + dir] != 0 &&
           c[from + dir] >= -END_DIP * c[ipk]) {
        from += dir;
        lo_out = fmin(lo_out, c[from]);
    }
    if (fmax(lo_in, lo_out) > END_DIP * c[ipk])
        return -1;
    if (half_max(c, ipk, dir < 0 ? from : ipk - reach,
                 dir < 0 ? ipk + reach : from, &xc, &wd, 0) != 0 ||
        wd < 0.5 * lw)
        return -1;
    return (double)ipk;
}

/* Whether a peak of compressed height PK over the base BASE of its
 * prominence stands out in plain terms: by SHALLOW_ABS scale units (CC is
 * asinh(C / scale), so sinh undoes it), by SHALLOW_DIP of its height, and
 * is at least SHALLOW_TOP of the profile's top TOP (ripples on what the
 * background left do not count). Bright lanes whose bands nearly touch dip
 * by a fifth between them, far less than the factor e the compressed
 * prominence asks at the top: without this they were taken for one lane
 * and the pitch for twice the true one. */
#define SHALLOW_ABS 3.0
#define SHALLOW_DIP 0.15
#define SHALLOW_TOP 0.1
static int
shallow_valley(double pk, double base, double top)
{
    double p = sinh(pk), b = sinh(base > 0 ? base : 0);
    return p - b >= SHALLOW_ABS && b <= (1 - SHALLOW_DIP) * p &&
           p >= SHALLOW_TOP * sinh(top);
}

/* The median, over the first 256 entries of A (of NA) for which USE is
 * nonzero (all if USE is NULL), of the offset from each to the nearest of
 * the NB entries of B (B minus A). Sets *N to how many entries counted;
 * returns 0 if none (or if NB is 0). */
static double
median_offset(const double *a, const unsigned char *use, size_t na,
              const double *b, size_t nb, size_t *n)
{
    double d[256];
    size_t m = 0;

    for (size_t i = 0; i < na && i < 256 && nb > 0; i++) {
        double best = 1e300;
        if (use && !use[i])
            continue;
        for (size_t j = 0; j < nb; j++)
            if (fabs(b[j] - a[i]) < fabs(best))
                best = b[j] - a[i];
        d[m++] = best;
    }
    *n = m;
    return m ? bq_select_d(d, m, 0.5) : 0;
}

/* Adds to the NC candidates CAND (heights CH, sorted, room for 256) of a
 * strip's profile CC the lanes that its anchor rows (SR) saw on their own,
 * where CC reaches THR within [XA, XB) and no candidate lies within a
 * third of that row's pitch. The strip's profile is the upper envelope of
 * its rows' compressed profiles, so a bright band's shoulders in one row
 * can fill the valleys around a weak lane that another row shows clearly
 * (generated seed 397 without doublets: two rows showing different lanes
 * read the pitch as twice the true one, 5 of 9 lanes). Only when
 * the anchor rows' median pitch is under 3/4 of the candidates' (the
 * lower-middle spacing, as find_lanes takes it), and two anchor rows at
 * least: otherwise every row's stray weak peak would become a candidate
 * (one row of specks on a DNA gel halved its pitch). A row whose lanes sit
 * off the candidates by over an eighth of its pitch (median) adds nothing.
 * Returns the new count. */
static size_t
strip_candidates(const struct strip_rows *sr, const double *cc, size_t w,
                 size_t xa, size_t xb, double thr, double *cand, double *ch,
                 size_t nc)
{
    double sp[256], ap[MAX_SEGS];
    size_t na = 0;

    /* only when the rows read a finer pitch than the strip's candidates */
    if (nc < 2)
        return nc;
    for (size_t i = 0; i + 1 < nc; i++)
        sp[i] = cand[i + 1] - cand[i];
    for (size_t k = sr->ka; k < sr->kb; k++)
        if (sr->segs[k].nl >= ANCHOR_LANES && sr->segs[k].pitch > 0)
            ap[na++] = sr->segs[k].pitch;
    if (na < 2 ||
        bq_select_d(ap, na, 0.5) > 0.75 * bq_select_d(sp, nc - 1, 0.4))
        return nc;
    for (size_t k = sr->ka; k < sr->kb; k++) {
        const struct seg *q = &sr->segs[k];
        double off;
        size_t nd;
        if (q->nl < ANCHOR_LANES || q->pitch <= 0)
            continue;
        /* a row whose lanes sit off the strip's (a deskew that missed
         * shears the rows apart) would add its lanes beside them */
        off = median_offset(q->lx, q->seen, q->nl, cand, nc, &nd);
        if (nd == 0 || fabs(off) > q->pitch / 8)
            continue;
        for (size_t i = 0; i < q->nl && nc < 256; i++) {
            long x = (long)floor(q->lx[i] + 0.5);
            size_t j = 0;
            int near = 0;
            if (!q->seen[i] || x < (long)xa || x >= (long)xb ||
                x >= (long)w || cc[x] < thr)
                continue;
            for (j = 0; j < nc && !near; j++)
                near = fabs(cand[j] - (double)x) < q->pitch / 3;
            if (near)
                continue;
            for (j = 0; j < nc && cand[j] < (double)x; j++)
                ;
            memmove(cand + j + 1, cand + j, (nc - j) * sizeof *cand);
            memmove(ch + j + 1, ch + j, (nc - j) * sizeof *ch);
            cand[j] = (double)x;
            ch[j] = cc[x];
            nc++;
        }
    }
    return nc;
}

/* The lane pitch of the NC >= 2 candidate positions CAND (ascending),
 * whose median half-maximum width is CWMED (0: unknown). */
static double
pitch_of(const double *cand, size_t nc, double cwmed)
{
    double sp[256], tmp[256], ratios[256], pitch;
    size_t nr = 0;

    for (size_t i = 0; i + 1 < nc; i++)
        sp[i] = cand[i + 1] - cand[i];
    memcpy(tmp, sp, (nc - 1) * sizeof *tmp);
    /* the lower-middle spacing: robust to empty lanes (2 pitches) and
     * to a few split candidates (half a pitch, removed below) */
    pitch = bq_select_d(tmp, nc - 1, 0.4);
    for (int pass = 0; pass < 2; pass++) {
        nr = 0;
        for (size_t i = 0; i + 1 < nc; i++) {
            double k = floor(sp[i] / pitch + 0.5);
            if (k >= 1 && k <= 6 && fabs(sp[i] / k - pitch) < 0.25 * pitch)
                ratios[nr++] = sp[i] / k;
        }
        if (nr)
            pitch = bq_select_d(ratios, nr, 0.5);
    }
    /* Half that pitch, if it explains every spacing and one the pitch
     * does not (a row of few lanes with empty ones between: spacings
     * of 1, 2 and 2 pitches read as 2), and lanes as wide as the
     * candidates still fit in it with a gap (a split candidate half a
     * pitch off does not make the pitch half). */
    if (cwmed > 0 && 0.5 * pitch >= PITCH_GAP * cwmed) {
        double half = 0.5 * pitch;
        int all = 1, gain = 0;
        nr = 0;
        for (size_t i = 0; i + 1 < nc; i++) {
            double k = floor(sp[i] / half + 0.5),
                   k1 = floor(sp[i] / pitch + 0.5);
            if (k < 1 || k > 6 || fabs(sp[i] / k - half) >= 0.2 * half)
                all = 0;
            else
                ratios[nr++] = sp[i] / k;
            gain |= k1 < 1 || fabs(sp[i] / k1 - pitch) >= 0.25 * pitch;
        }
        if (all && gain && nr)
            pitch = bq_select_d(ratios, nr, 0.5);
    }
    return pitch;
}

/* How well the period P explains the NC positions X: the length of the
 * mean of their phases as unit vectors, 1 when every one sits on a grid
 * of pitch P, near 0 when they are spread over it. */
static double
coherence(const double *x, size_t nc, double p)
{
    double re = 0, im = 0;

    for (size_t i = 0; i < nc; i++) {
        double ph = 2 * BQ_PI * x[i] / p;
        re += cos(ph);
        im += sin(ph);
    }
    return sqrt(re * re + im * im) / (double)nc;
}

/* The pitch within a quarter of P0 that best explains the NC candidate
 * positions CAND (coherence), if it explains them by COHERE_GAIN more
 * than P0 does; else P0. The spacings of neighbours read wide lanes'
 * peaks, which sit off their centres where a band is uneven: with few
 * candidates and empty lanes between, their median can be a sixth off
 * (generated seed 4106: 108 px for 92, so a gap of 3 pitches read 2.4
 * and held one empty lane for two), while every candidate still lies
 * near the true grid. Within a quarter, the search cannot reach half or
 * twice the pitch, which explain the candidates as well or better. */
#define COHERE_GAIN 0.1
static double
coherent_pitch(const double *cand, size_t nc, double p0)
{
    double best = p0, r0, rb;

    if (!(p0 > 1e-6) || !isfinite(p0)) /* no pitch to search around */
        return p0;
    r0 = rb = coherence(cand, nc, p0);
    for (double p = 0.75 * p0; p <= 1.25 * p0; p += 0.002 * p0) {
        double r = coherence(cand, nc, p);
        if (r > rb) {
            rb = r;
            best = p;
        }
    }
    return rb >= r0 + COHERE_GAIN ? best : p0;
}

/* Drops each weak candidate (plain height C under WEAK_CAND of the
 * median candidate's) that lies between two strong ones more than a
 * pitch apart, in a gap that holds another number of weak candidates
 * than of lanes, and more than GRID_TOL pitch off every place the gap
 * between them holds a lane (the pitch taken from the strong candidates
 * alone, at least three, which must agree with PITCH_ALL, the pitch of
 * them all, within PITCH_AGREE). Beside bright lanes the background leaves a
 * shallow trough, and between two such troughs the middle of a run of
 * empty lanes stands out of the compressed profile like a lane: it threw
 * the gap's count of lanes (generated seed 29: two empty lanes read as
 * one, half a pitch off both). A weak lane on the grid stays; one off it
 * is filled in at its place on the grid. A gap with one weak candidate
 * for each of its lanes keeps them all, however far off the grid: there
 * the strong ones' pitch is what is off (generated seed 4106: four strong
 * lanes read 125 px for 92, and the two weak lanes between two of them
 * went). For a strip's lanes only (one run's lanes decide which runs
 * make a strip, and there it split seed 169's strip in two). Returns the
 * count left. */
#define WEAK_CAND 0.1
#define GRID_TOL 0.25
#define PITCH_AGREE 0.15
static size_t
grid_candidates(const double *c, double *cand, double *ch, size_t nc,
                double cwmed, double pitch_all)
{
    double hc[256], tmp[256], strong[256], med, pitch;
    size_t ns = 0, m = 0;

    if (nc < 4)
        return nc;
    for (size_t i = 0; i < nc; i++)
        tmp[i] = hc[i] = c[(long)cand[i]];
    med = bq_select_d(tmp, nc, 0.5);
    if (!(med > 0))
        return nc; /* no height to judge by */
    for (size_t i = 0; i < nc; i++)
        if (hc[i] >= WEAK_CAND * med)
            strong[ns++] = cand[i];
    if (ns < 3 || ns == nc)
        return nc;
    pitch = pitch_of(strong, ns, cwmed);
    /* the weak ones keep their say where the strong ones alone read
     * another pitch (weak lanes between every other one: seed 271) */
    if (fabs(pitch_all - pitch) > PITCH_AGREE * pitch)
        return nc;
    for (size_t i = 0, a = 0; i < nc; i++) {
        int keep = 1;
        if (hc[i] < WEAK_CAND * med) {
            /* the strong candidates either side: strong[a - 1], strong[a] */
            while (a < ns && strong[a] < cand[i])
                a++;
            if (a > 0 && a < ns) {
                double gap = strong[a] - strong[a - 1], d = 1e300;
                double k = floor(gap / pitch + 0.5);
                size_t nw = 0; /* weak candidates in the gap */
                for (size_t j = 0; j < nc; j++)
                    nw += cand[j] > strong[a - 1] && cand[j] < strong[a] &&
                          hc[j] < WEAK_CAND * med;
                for (double j = 1; j < k; j++)
                    d = fmin(d, fabs(cand[i] - (strong[a - 1] + gap * j / k)));
                keep = k < 2 || (double)nw == k - 1 || d <= GRID_TOL * pitch;
            }
        }
        if (keep) {
            cand[m] = cand[i];
            ch[m] = ch[i];
            m++;
        }
    }
    return m;
}

/* Lanes from the compressed column profile CC (and C, uncompressed):
 * 1. candidates are peaks of CC with a prominence of at least THR, or
 *    a shallow valley on either side (shallow_valley), and, with SR, the
 *    lanes its anchor rows saw on their own (strip_candidates);
 * 2. the pitch is the median spacing of neighbours, refined by dividing
 *    each spacing by its whole number of pitches (gaps of two or more
 *    pitches are empty lanes, not a longer pitch; pitch_of), after weak
 *    candidates off the strong ones' grid go (grid_candidates); for a
 *    strip, then the pitch near it that puts the candidates best on one
 *    grid, if that is clearly better (coherent_pitch);
 * 3. candidates closer than half a pitch are the same lane (the weaker
 *    goes); with SR (a whole strip's profile; NULL for one run), end
 *    candidates go while they fail end_peak, then weak lanes beyond
 *    either end that were no candidates are added while end_beyond finds
 *    one; gaps of k pitches get k-1 empty lanes;
 * 4. each lane's centre and width come from its half-maximum crossings;
 *    for a strip without HINT, a seen lane whose centre comes out within
 *    a third of a pitch of the seen lane before it is that lane.
 * With HINT > 0 the count is made HINT: the strongest run of HINT lanes is
 * kept, or empty lanes are added on the side with room. */
static void
find_lanes(const double *c, const double *cc, size_t w, size_t xa, size_t xb,
           int hint, double thr, const struct strip_rows *sr,
           struct lanefit *lf)
{
    double cand[256], ch[256], pitch, pos[256];
    int emp[256];
    size_t nc = 0, np = 0;
    double cctop = 0, cwmed = 0; /* candidates' median half-max width */

    lf->n = 0;
    lf->pitch = 0;
    for (size_t i = xa; i < xb; i++)
        cctop = cc[i] > cctop ? cc[i] : cctop;
    for (size_t i = xa + 1; i + 1 < xb && nc < 256; i++) {
        double lmin = cc[i], rmin = cc[i], base;
        long k;
        if (!(cc[i] > cc[i - 1] && cc[i] >= cc[i + 1]) || cc[i] < thr)
            continue;
        /* prominence over the whole profile: a lane at the edge of the
         * signal extent still falls away beyond it */
        for (k = (long)i - 1; k >= 0 && cc[k] <= cc[i]; k--)
            lmin = cc[k] < lmin ? cc[k] : lmin;
        for (k = (long)i + 1; k < (long)w && cc[k] <= cc[i]; k++)
            rmin = cc[k] < rmin ? cc[k] : rmin;
        base = lmin > rmin ? lmin : rmin;
        if (cc[i] - (base > 0 ? base : 0) < thr &&
            !shallow_valley(cc[i], base, cctop))
            continue;
        cand[nc] = (double)i;
        ch[nc] = cc[i];
        nc++;
    }
    if (sr)
        nc = strip_candidates(sr, cc, w, xa, xb, thr, cand, ch, nc);
    /* Lanes are never far narrower than their neighbours: a thin ridge
     * is a scratch, a membrane edge or a label, not a lane. */
    if (nc >= 3) {
        double wd[256], tmpw[256], med, xc;
        size_t m = 0;
        size_t nw = 0;
        for (size_t i = 0; i < nc; i++) {
            long ip = (long)cand[i];
            /* searched up to the neighbouring candidates: a group of
             * nearly touching lanes is not one wide bump. One that never
             * falls to half between them has no width to judge (-1). */
            long lo = i > 0 ? (long)cand[i - 1] : (long)xa,
                 hi = i + 1 < nc ? (long)cand[i + 1] : (long)xb - 1;
            wd[i] = 0;
            if (c[ip] > 0 && half_max(c, ip, lo, hi, &xc, &wd[i], 0) != 0)
                wd[i] = -1;
            if (wd[i] >= 0)
                tmpw[nw++] = wd[i];
        }
        med = nw ? bq_select_d(tmpw, nw, 0.5) : 0;
        cwmed = med;
        for (size_t i = 0; i < nc; i++)
            if (wd[i] < 0 || wd[i] >= 0.3 * med) {
                cand[m] = cand[i];
                ch[m] = ch[i];
                m++;
            }
        nc = m;
    }
    if (nc == 0)
        return;
    if (nc == 1) {
        pos[0] = cand[0];
        emp[0] = 0;
        np = 1;
        pitch = 0;
        goto measure;
    }
    /* 2. pitch; for a strip, weak candidates off the grid of the strong
     * ones go first */
    pitch = pitch_of(cand, nc, cwmed);
    if (sr) { /* not for one run's lanes: they decide which runs join */
        size_t m = grid_candidates(c, cand, ch, nc, cwmed, pitch);
        if (m != nc) {
            nc = m;
            pitch = pitch_of(cand, nc, cwmed);
        }
        if (nc >= 4)
            pitch = coherent_pitch(cand, nc, pitch);
    }
    /* 3. merge close candidates, fill gaps */
    {
        double keep[256], kh[256];
        size_t nk = 0;
        for (size_t i = 0; i < nc; i++) {
            if (nk && cand[i] - keep[nk - 1] < 0.5 * pitch) {
                if (ch[i] > kh[nk - 1]) {
                    keep[nk - 1] = cand[i];
                    kh[nk - 1] = ch[i];
                }
                continue;
            }
            keep[nk] = cand[i];
            kh[nk] = ch[i];
            nk++;
        }
        /* an end candidate needs a peak of its own in the plain profile,
         * and bands, not a ramp, under it */
        while (sr && nk >= 2 && end_peak(c, w, sr, keep[0], pitch) < 0) {
            memmove(keep, keep + 1, (nk - 1) * sizeof *keep);
            memmove(kh, kh + 1, (nk - 1) * sizeof *kh);
            nk--;
        }
        while (sr && nk >= 2 && end_peak(c, w, sr, keep[nk - 1], pitch) < 0)
            nk--;
        /* then weak lanes beyond either end that the candidates missed
         * (one pitch at a time); not without a lane width to judge
         * them by (under 3 candidates) */
        if (sr && nk >= 2 && cwmed > 0) {
            double top, nx, ck[256];
            for (size_t i = 0; i < nk; i++)
                ck[i] = interp(c, w, keep[i]);
            top = bq_select_d(ck, nk, 0.5);
            while (nk < 256 &&
                   (nx = end_beyond(c, w, xa, xb, sr, keep[0], -1, pitch,
                                    top, cwmed)) >= 0) {
                memmove(keep + 1, keep, nk * sizeof *keep);
                memmove(kh + 1, kh, nk * sizeof *kh);
                keep[0] = nx;
                kh[0] = interp(cc, w, nx);
                nk++;
            }
            while (nk < 256 &&
                   (nx = end_beyond(c, w, xa, xb, sr, keep[nk - 1], 1, pitch,
                                    top, cwmed)) >= 0) {
                keep[nk] = nx;
                kh[nk] = interp(cc, w, nx);
                nk++;
            }
        }
        for (size_t i = 0; i < nk && np < 256; i++) {
            if (i > 0) {
                double gap = keep[i] - keep[i - 1];
                int k = (int)floor(gap / pitch + 0.5);
                for (int j = 1; j < k && np < 256; j++) {
                    pos[np] = keep[i - 1] + gap * j / k;
                    emp[np] = 1;
                    np++;
                }
            }
            if (np < 256) {
                pos[np] = keep[i];
                emp[np] = 0;
                np++;
            }
        }
    }
    if (hint > 0 && (int)np > hint) {
        double bs = -1e300;
        size_t bi = 0;
        for (size_t s0 = 0; s0 + (size_t)hint <= np; s0++) {
            double s = 0;
            for (size_t k = s0; k < s0 + (size_t)hint; k++)
                s += emp[k] ? 0 : interp(cc, w, pos[k]);
            if (s > bs) {
                bs = s;
                bi = s0;
            }
        }
        memmove(pos, pos + bi, (size_t)hint * sizeof *pos);
        memmove(emp, emp + bi, (size_t)hint * sizeof *emp);
        np = (size_t)hint;
    }
    while (hint > 0 && (int)np < hint && np < 255 && pitch > 0) {
        /* add an empty lane on the side with more room */
        double left = pos[0] - (double)xa, right = (double)xb - pos[np - 1];
        if (left >= right) {
            memmove(pos + 1, pos, np * sizeof *pos);
            memmove(emp + 1, emp, np * sizeof *emp);
            pos[0] = pos[1] - pitch;
            emp[0] = 1;
        } else {
            pos[np] = pos[np - 1] + pitch;
            emp[np] = 1;
        }
        np++;
    }
measure:
    lf->pitch = pitch;
    for (size_t k = 0; k < np; k++) {
        double reach = pitch > 0 ? 0.75 * pitch : (double)w;
        long lim_l = (long)floor(pos[k] - reach),
             lim_r = (long)ceil(pos[k] + reach);
        long ipk = (long)floor(pos[k] + 0.5);
        if (lim_l < 0)
            lim_l = 0;
        if (lim_r > (long)w - 1)
            lim_r = (long)w - 1;
        if (ipk < 0)
            ipk = 0;
        if (ipk > (long)w - 1)
            ipk = (long)w - 1;
        lf->x[k] = pos[k];
        lf->w[k] = 0;
        lf->empty[k] = emp[k];
        if (!emp[k] && c[ipk] > 0)
            half_max(c, ipk, lim_l, lim_r, &lf->x[k], &lf->w[k], sr != NULL);
    }
    /* Two candidates on one wide bump measure the same lane: a strip's
     * lane whose centre comes out within a third of a pitch of the seen
     * lane before it is that lane (the real gel LM_1: two lanes at 778.4
     * px, one over the other). Not with a count asked for (HINT). */
    if (sr && pitch > 0 && hint <= 0) {
        size_t m = 0;
        for (size_t k = 0; k < np; k++) {
            if (m > 0 && !lf->empty[k] && !lf->empty[m - 1] &&
                fabs(lf->x[k] - lf->x[m - 1]) < pitch / 3)
                continue;
            lf->x[m] = lf->x[k];
            lf->w[m] = lf->w[k];
            lf->empty[m] = lf->empty[k];
            pos[m] = pos[k];
            m++;
        }
        np = m;
    }
    lf->n = np;
    /* Empty lanes and failed widths take the median width of the others. */
    {
        double ws[256], med;
        size_t nw = 0;
        for (size_t k = 0; k < lf->n; k++)
            if (!lf->empty[k] && lf->w[k] > 0)
                ws[nw++] = lf->w[k];
        med = nw ? bq_select_d(ws, nw, 0.5) : (pitch > 0 ? 0.6 * pitch : 10);
        /* A strip's lane narrower than the others may be one whose band
         * is uneven across: its width spans both humps if that leaves it
         * no wider than the others and moves it under a quarter of their
         * width (a smear along the band row reaches further: the real
         * exposure 13h12, a streak left of lane 1). */
        for (size_t k = 0; sr && pitch > 0 && nw >= 3 && k < lf->n; k++) {
            double xl = lf->x[k] - 0.5 * lf->w[k], xr = xl + lf->w[k];
            long ipk = (long)floor(pos[k] + 0.5);
            long bl = (long)floor(pos[k] - 0.5 * pitch),
                 br = (long)ceil(pos[k] + 0.5 * pitch);
            if (lf->empty[k] || lf->w[k] <= 0 || lf->w[k] >= 0.6 * med ||
                ipk < 0 || ipk > (long)w - 1 || c[ipk] <= 0)
                continue;
            half_max_span(c, ipk, bl < 0 ? 0 : bl,
                          br > (long)w - 1 ? (long)w - 1 : br, &xl, &xr);
            if (xr - xl <= 1.1 * med &&
                fabs(0.5 * (xl + xr) - lf->x[k]) <= 0.25 * med) {
                lf->x[k] = 0.5 * (xl + xr);
                lf->w[k] = xr - xl;
            }
        }
        for (size_t k = 0; k < lf->n; k++)
            if (lf->empty[k] || lf->w[k] <= 0 ||
                (pitch > 0 && lf->w[k] > 1.2 * pitch))
                lf->w[k] = med;
    }
}

/* A single lane (no period): the signal's half-maximum extent. */
static void
single_lane(const double *c, size_t xa, size_t xb, struct lanefit *lf)
{
    size_t ipk = xa, lo, hi;

    for (size_t i = xa; i < xb; i++)
        if (c[i] > c[ipk])
            ipk = i;
    lo = hi = ipk;
    while (lo > xa && c[lo] > 0.5 * c[ipk])
        lo--;
    while (hi + 1 < xb && c[hi] > 0.5 * c[ipk])
        hi++;
    lf->n = 1;
    lf->x[0] = 0.5 * (double)(lo + hi);
    lf->w[0] = (double)(hi - lo);
    lf->empty[0] = 0;
    lf->pitch = 0;
}

/* Compressed, smoothed profile of C into CC: asinh keeps weak lanes
 * visible next to lanes a hundred times stronger. The scale is FLOOR (the
 * averaged noise) or what the background left between lanes (the lower
 * quartile of the profile's magnitude: gaps between and beside lanes are
 * more than a quarter of the columns), whichever is larger. TMP: W. */
static double
compress_scale(const double *c, size_t w, double floor, double *tmp)
{
    double scale;

    for (size_t i = 0; i < w; i++)
        tmp[i] = fabs(c[i]);
    scale = bq_select_d(tmp, w, 0.25);
    return scale < floor ? floor : scale;
}

/* CC = asinh(C / SCALE), smoothed. TMP: W. */
static void
compress_by(const double *c, double *cc, size_t w, double scale, double *tmp)
{
    for (size_t i = 0; i < w; i++)
        tmp[i] = asinh(c[i] / scale);
    bq_smooth1d(tmp, cc, w, 1.0);
}

static void
compress(const double *c, double *cc, size_t w, double floor, double *tmp)
{
    compress_by(c, cc, w, compress_scale(c, w, floor, tmp), tmp);
}

/* Extent of columns that hold signal in CC (above THR), widened by a
 * little; falls back to everything. */
static void
signal_extent(const double *cc, size_t w, double thr, size_t *xa, size_t *xb)
{
    size_t a = 0, b = w;

    while (a < w && cc[a] < thr)
        a++;
    while (b > a && cc[b - 1] < thr)
        b--;
    if (b <= a) {
        *xa = 0;
        *xb = w;
        return;
    }
    *xa = a > w / 50 ? a - w / 50 : 0;
    *xb = b + w / 50 < w ? b + w / 50 : w;
}

/* Fraction of A's lanes that have a lane of B within TOL px, after A is
 * moved by the median offset to its nearest lanes of B (at most TOL; only
 * with three or more lanes in A): lanes of one gel can drift sideways a
 * little from one band row to the next, while the lanes of two cut strips
 * drift apart across the gel. Up to 2 TOL let two strips whose lanes were
 * a third of a pitch apart pass for one. */
static double
lane_agreement(const double *a, size_t na, const double *b, size_t nb,
               double tol)
{
    size_t hit = 0, m;
    double shift;

    if (na == 0 || nb == 0)
        return 0;
    /* the median offset of one or two lanes is their own offset: any
     * lane would agree after it */
    shift = median_offset(a, NULL, na, b, nb, &m);
    if (na < 3)
        shift = 0;
    if (fabs(shift) > tol)
        shift = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (fabs(a[i] + shift - b[j]) <= tol) {
                hit++;
                break;
            }
    return (double)hit / (double)na;
}

/* Whether run Q may set the reference in pass PASS (0-2) of the choice in
 * bq_layout_find: enough lanes (seen ones, but for the last pass), and
 * not thin edge residue (but for passes 1 and 2). */
static int
anchor_pass(const struct seg *q, int pass, const size_t *live, size_t h)
{
    return q->nl >= ANCHOR_LANES && (pass == 2 || q->ns >= ANCHOR_LANES) &&
           (pass || !thin_edge_run(q, live, h));
}

/* Lanes of run Q on its own, from its profiles: fills pitch, nl, lx, lw.
 * No hint here: a run may show only a few lanes (a ladder row); padding it
 * to the hinted count would invent lanes off the membrane. The hint
 * applies to whole strips. LF: scratch. */
static void
run_lanes(struct seg *q, size_t w, struct lanefit *lf)
{
    size_t xa, xb;
    double hmax = 0;

    signal_extent(q->cc, w, 0.5 * LANE_PROMINENCE, &xa, &xb);
    find_lanes(q->c, q->cc, w, xa, xb, 0, LANE_PROMINENCE, NULL, lf);
    q->pitch = lf->pitch;
    q->nl = lf->n;
    q->lw = 0;
    q->ns = 0;
    for (size_t i = 0; i < lf->n; i++) {
        q->lx[i] = lf->x[i];
        q->seen[i] = !lf->empty[i];
        if (!lf->empty[i])
            hmax = fmax(hmax, interp(q->c, w, lf->x[i]));
    }
    for (size_t i = 0; i < lf->n; i++)
        q->ns += !lf->empty[i] && interp(q->c, w, lf->x[i]) >= 0.1 * hmax;
    if (lf->n) {
        double wt[256];
        memcpy(wt, lf->w, lf->n * sizeof *wt);
        q->lw = bq_select_d(wt, lf->n, 0.5);
    }
}

/* Makes run Q no anchor (one lane) if its lanes are under half as wide as
 * REF_LW (thin ridges: the edge of a masked frame, a crease,
 * interpolation residue), over twice as wide (broad humps: what a blotch
 * left), or under half as many as REF_NL (a ladder row with a speck or
 * two). */
static void
demote(struct seg *q, size_t ref_nl, double ref_lw)
{
    if (q->nl >= ANCHOR_LANES && ref_nl > 0 &&
        (q->lw < 0.5 * ref_lw || q->lw > 2 * ref_lw || 2 * q->nl < ref_nl))
        q->nl = 1;
}

/* Whether run Q, no anchor, lies against the edge of its piece of
 * membrane with lanes under half REF_LW wide: the ridges a frame's edge
 * leaves there. Such a run stays out of its strip's profile, a sum of
 * its runs' means, where 15 rows weigh as much as 300 (generated seed
 * 2295 without doublets: 10 of 20 lanes found, 7 phantoms). */
static int
edge_ridges(const struct seg *q, const size_t *live, size_t h, double ref_lw)
{
    return q->nl > 0 && q->nl < ANCHOR_LANES && q->lw > 0 &&
           q->lw < 0.5 * ref_lw && at_piece_edge(q, live, h);
}

/* Whether the lanes of runs P and Q agree. One row may show only some of
 * the lanes (weak or empty ones), so the sparser row's lanes must be a
 * subset of the denser row's: three quarters of them within 15 % of the
 * finer pitch. */
static int
runs_agree(const struct seg *p, const struct seg *q)
{
    double pitch = p->pitch < q->pitch ? p->pitch : q->pitch;
    double ag = q->nl < p->nl
                    ? lane_agreement(q->lx, q->nl, p->lx, p->nl, 0.15 * pitch)
                    : lane_agreement(p->lx, p->nl, q->lx, q->nl, 0.15 * pitch);
    return ag >= 0.75;
}

struct sum_ctx {
    const struct bq_image *sig;
    double *rows; /* row means, one per row */
    double *cols; /* column means over rows [y0, y1) */
    size_t y0, y1;
    size_t *live; /* per row: pixels not exactly 0 (not masked) */
};

/* The nearest run before (DIR -1) or after (DIR 1) run K of the NSEG
 * runs SEGS with ANCHOR_LANES lanes or more, of which at least MIN_SEEN
 * seen (ns); -1 if none. */
static long
nearest_anchor(const struct seg *segs, size_t nseg, size_t k, int dir,
               size_t min_seen)
{
    for (long j = (long)k + dir; j >= 0 && j < (long)nseg; j += dir)
        if (segs[j].nl >= ANCHOR_LANES && segs[j].ns >= min_seen)
            return j;
    return -1;
}

/* Means of rows [A, B) of the image. */
static void
row_means(void *arg, size_t a, size_t b)
{
    const struct sum_ctx *c = arg;
    for (size_t y = a; y < b; y++) {
        const float *r = bq_row(c->sig, y);
        size_t live = 0;
        c->rows[y] = bq_sum_f(r, c->sig->width) / (double)c->sig->width;
        for (size_t x = 0; x < c->sig->width; x++)
            live += r[x] != 0.0f;
        c->live[y] = live;
    }
}

/* Means of columns [A, B) over rows [y0, y1); each column is summed in
 * row order whatever the split, so results do not depend on threads. */
static void
column_means(void *arg, size_t a, size_t b)
{
    const struct sum_ctx *c = arg;
    for (size_t x = a; x < b; x++)
        c->cols[x] = 0;
    for (size_t y = c->y0; y < c->y1; y++) {
        const float *r = bq_row(c->sig, y);
        for (size_t x = a; x < b; x++)
            c->cols[x] += r[x];
    }
    for (size_t x = a; x < b; x++)
        c->cols[x] /= (double)(c->y1 - c->y0);
}

/* Returns 1 if the lowest tenth of the row profile R over [Y0, Y1) lies
 * above THR: the run has no quiet rows. TMP: Y1 - Y0. */
static int
run_offset(const double *r, size_t y0, size_t y1, double thr, double *tmp)
{
    memcpy(tmp, r + y0, (y1 - y0) * sizeof *tmp);
    return bq_select_d(tmp, y1 - y0, 0.1) > thr;
}

/* A run's ramp: the columns and rows it is sampled at, the smoothing SD
 * (RAMP_COLS / RAMP_SD samples) and how rough (RMS from the smoothed
 * curve, as a share of its range) the base may be to count as a ramp
 * rather than lanes. */
#define RAMP_COLS 512
#define RAMP_ROWS 64
#define RAMP_SD 20
#define RAMP_ROUGH 0.3

/* Removes from the column profile C (W columns) of the rows [Y0, Y1) of
 * SIG a ramp the background subtraction left: each column's lower
 * quartile over those rows (a lane's column is background between its
 * band rows), smoothed over several lanes; sampled at up to RAMP_COLS
 * columns and RAMP_ROWS rows, evenly spaced, and interpolated between
 * (the curve is smooth; a full pass down every column would cost more
 * than the rest of the layout). Only a smooth base is taken off: where
 * the quartile follows the lanes (smeared lanes of a gel, whose columns
 * are signal throughout), its RMS from the smoothed curve exceeds
 * RAMP_ROUGH of the curve's range and C is left as it is (also when the
 * sample buffer cannot be allocated). */
static void
remove_ramp(const struct bq_image *sig, size_t y0, size_t y1, double *c,
            size_t w)
{
    size_t n = y1 - y0, step = (n + RAMP_ROWS - 1) / RAMP_ROWS, m = 0;
    size_t nx = w < RAMP_COLS ? w : RAMP_COLS, xs[RAMP_COLS];
    double lo = 1e300, hi = -1e300, r2 = 0, dx = (double)w / (double)nx;
    double tmp[RAMP_ROWS], base[RAMP_COLS], sm[RAMP_COLS];
    float *buf = bq_alloc_array(RAMP_ROWS * nx, sizeof *buf);

    if (!buf)
        return; /* the profile is kept as it is */
    for (size_t i = 0; i < nx; i++)
        xs[i] = (size_t)(((double)i + 0.5) * dx);
    /* row by row (a pass down each column would miss the cache at every
     * pixel), then each column's quartile from the copy */
    for (size_t y = y0; y < y1; y += step, m++) {
        const float *r = bq_row(sig, y);
        for (size_t i = 0; i < nx; i++)
            buf[m * nx + i] = r[xs[i]];
    }
    for (size_t i = 0; i < nx; i++) {
        for (size_t j = 0; j < m; j++)
            tmp[j] = buf[j * nx + i];
        base[i] = bq_select_d(tmp, m, 0.25);
    }
    free(buf);
    bq_smooth1d(base, sm, nx, (double)nx / RAMP_SD);
    for (size_t i = 0; i < nx; i++) {
        lo = sm[i] < lo ? sm[i] : lo;
        hi = sm[i] > hi ? sm[i] : hi;
        r2 += (base[i] - sm[i]) * (base[i] - sm[i]);
    }
    if (sqrt(r2 / (double)nx) > RAMP_ROUGH * (hi - lo))
        return;
    for (size_t x = 0; x < w; x++)
        c[x] -= interp(sm, nx, ((double)x + 0.5) / dx - 0.5);
}

/* Splits the run of rows [Y0, Y1) of the row profile R at the lowest row
 * between each two of its distinct peaks (a peak is distinct if the
 * profile falls to half its height on both sides before it rises above
 * it, or the run ends). Writes up to MAX cut rows to CUTS in order;
 * returns how many. */
static size_t
split_run(const double *r, size_t y0, size_t y1, size_t *cuts, size_t max)
{
    size_t n = 0;
    long prev = -1;

    for (size_t y = y0 + 1; y + 1 < y1; y++) {
        double lmin = r[y], rmin = r[y];
        long k;
        if (!(r[y] > r[y - 1] && r[y] >= r[y + 1]))
            continue;
        for (k = (long)y - 1; k >= (long)y0 && r[k] <= r[y]; k--)
            lmin = r[k] < lmin ? r[k] : lmin;
        if (k >= (long)y0 && lmin > 0.5 * r[y])
            continue;
        for (k = (long)y + 1; k < (long)y1 && r[k] <= r[y]; k++)
            rmin = r[k] < rmin ? r[k] : rmin;
        if (k < (long)y1 && rmin > 0.5 * r[y])
            continue;
        if (prev >= 0 && n < max) {
            size_t lo = (size_t)prev;
            for (size_t i = (size_t)prev; i <= y; i++)
                lo = r[i] < r[lo] ? i : lo;
            cuts[n++] = lo;
        }
        prev = (long)y;
    }
    return n;
}

/* Whether run A, an anchor, reads the pitch of run REF (the run that set
 * what a band row looks like) within half PITCH_ODD. Only the pitch: a
 * row may show a subset of REF's lanes, and a join that only lets more of
 * them through stays (a real scan, raspbeep, split a lane in two when
 * the lanes had to agree as well). */
static int
reads_like(const struct seg *a, const struct seg *ref)
{
    return ref->nl >= ANCHOR_LANES && a->nl >= ANCHOR_LANES && a->pitch > 0 &&
           ref->pitch > 0 &&
           fabs(a->pitch / ref->pitch - 1) <= 0.5 * PITCH_ODD;
}

/* Whether run A is an anchor that sees (ns) at least half as many lanes
 * as REF sees: a band row in its own right. */
static int
band_row(const struct seg *a, const struct seg *ref)
{
    return a->nl >= ANCHOR_LANES && 2 * a->ns >= ref->ns;
}

/* Joins the cut pieces of runs SEGS (NSEG of them, updated) again, from
 * the bottom up; the joined run's profile is the row-weighted mean and
 * its lanes are found anew (profiles of W columns, NOISE for the
 * compression, TMP and LF scratch), then demoted as the others were
 * (REF_NL, REF_LW). REF: a copy of the reference run's pitch and counts
 * (its buffers NULL). JN: scratch run with buffers for
 * W columns and 256 lanes (as every run), swapped with a piece's on a
 * join.
 * Rows that only a ladder or a blotch spans dilute a thin band row in the
 * mean, so a join is undone if
 * - a piece read the pitch of REF and the joined run does not (generated
 *   seed 518: the joined profile showed every other lane at twice the
 *   pitch, and 7 of the 19 lanes were found), or
 * - the joined run is no anchor but a piece was a band row (seed 550
 *   without doublets: a strip whose lanes are not REF's lost its only
 *   anchor and its 20 lanes went to the strip below).
 * A join that only weakens some lanes keeps the pitch and stays. */
static void
join_pieces(struct seg *segs, size_t *nseg, size_t w, double noise,
            double *tmp, struct lanefit *lf, size_t ref_nl, double ref_lw,
            const struct seg *ref, struct seg *jn)
{
    for (size_t k = *nseg; k-- > 1;) {
        struct seg *p = &segs[k - 1], *q = &segs[k], t;
        double np, nq;
        if (!q->cut)
            continue;
        np = (double)(p->y1 - p->y0);
        nq = (double)(q->y1 - q->y0);
        for (size_t x = 0; x < w; x++)
            jn->c[x] = (np * p->c[x] + nq * q->c[x]) / (np + nq);
        jn->y0 = p->y0;
        jn->y1 = q->y1;
        jn->piece = p->piece;
        compress(jn->c, jn->cc, w, 3 * noise / sqrt(np + nq), tmp);
        run_lanes(jn, w, lf);
        demote(jn, ref_nl, ref_lw);
        jn->reads_ref = reads_like(jn, ref);
        if (((p->reads_ref || q->reads_ref) && !jn->reads_ref) ||
            (jn->nl < ANCHOR_LANES &&
             (band_row(p, ref) || band_row(q, ref))))
            continue;
        jn->cut = p->cut;
        /* p takes the joined run; jn keeps p's buffers for the next */
        t = *p;
        *p = *jn;
        *jn = t;
        free(q->c);
        free(q->cc);
        free(q->lx);
        free(q->seen);
        memmove(q, q + 1, (*nseg - k - 1) * sizeof *q);
        (*nseg)--;
        memset(&segs[*nseg], 0, sizeof segs[*nseg]);
    }
}

enum bq_status
bq_layout_find(const struct bq_image *sig, const struct bq_layout_opts *opts,
               struct bq_layout *out, struct bq_error *err)
{
    struct bq_layout_opts def;
    size_t w = sig->width, h = sig->height, nseg = 0, nstrips = 0;
    double *rowp = NULL, *rows = NULL, *tmp = NULL, *scc = NULL, *sc = NULL;
    size_t *live = NULL;
    struct seg segs[MAX_SEGS];
    struct lanefit *lf = NULL;
    double noise, thr, rmax = 0, sig_r;
    size_t ref_nl = 0; /* lanes and lane width of the fullest run */
    double ref_lw = 0;
    struct seg ref, jn; /* a copy of that run; scratch for joins */
    size_t strip_seg0[MAX_SEGS], strip_seg1[MAX_SEGS];
    enum bq_status st = BQ_OK;

    memset(out, 0, sizeof *out);
    memset(segs, 0, sizeof segs);
    memset(&ref, 0, sizeof ref);
    memset(&jn, 0, sizeof jn);
    if (!opts) {
        bq_layout_opts_init(&def);
        opts = &def;
    }
    noise = bq_noise_sigma(sig->px, sig->stride, w / 4, h / 4, w - w / 4,
                           h - h / 4);
    if (noise <= 0)
        noise = bq_noise_sigma(sig->px, sig->stride, 0, 0, w, h);
    /* Integer files cannot resolve less than their code step: the
     * quantisation noise of a uniform step is 1/sqrt(12) of it. */
    if (sig->bit_depth <= 16 && noise < 0.2887)
        noise = 0.2887;
    if (noise <= 0)
        noise = 1e-3;
    out->noise = noise;
    rowp = bq_calloc_array(h, sizeof *rowp);
    live = bq_calloc_array(h, sizeof *live);
    rows = bq_calloc_array(h, sizeof *rows);
    tmp = bq_calloc_array(w > h ? w : h, sizeof *tmp);
    scc = bq_calloc_array(w, sizeof *scc);
    sc = bq_calloc_array(w, sizeof *sc);
    lf = calloc(1, sizeof *lf);
    if (!rowp || !live || !rows || !tmp || !scc || !sc || !lf) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "layout: out of memory");
        goto out;
    }

    /* 1. Row profile and the runs of rows that hold signal. */
    {
        struct sum_ctx c = {sig, rowp, NULL, 0, 0, live};
        bq_parallel_for(h, 0, row_means, &c);
    }
    bq_smooth1d(rowp, rows, h, h / 400.0 > 1.0 ? h / 400.0 : 1.0);
    /* Membrane pieces: rows almost wholly masked (under GAP_LIVE of the
     * fullest row's pixels unmasked) between two stretches of membrane are
     * the surround showing between two pieces of membrane, which are two
     * strips whatever their lanes look like. live[] becomes the piece of
     * each row. */
    {
        size_t lmax = 0, pc = 0;
        int in_gap = 1;
        for (size_t y = 0; y < h; y++)
            lmax = live[y] > lmax ? live[y] : lmax;
        for (size_t y = 0; y < h; y++) {
            int g = (double)live[y] < GAP_LIVE * (double)lmax;
            if (in_gap && !g && y > 0)
                pc++;
            in_gap = g;
            live[y] = g ? (size_t)-1 : pc;
        }
    }
    for (size_t y = 0; y < h; y++)
        rmax = rows[y] > rmax ? rows[y] : rmax;
    sig_r = noise / sqrt((double)w);
    thr = 5 * sig_r > 0.01 * rmax ? 5 * sig_r : 0.01 * rmax;
    if (rmax <= thr) {
        st = bq_error_set(err, BQ_ERR_NOT_FOUND,
                          "no bands: the image holds no signal above its "
                          "noise after background subtraction");
        goto out;
    }
    {
        size_t gap = h / 100 > 2 ? h / 100 : 2, y = 0;
        while (y < h && nseg < MAX_SEGS) {
            size_t y0;
            while (y < h && rows[y] <= thr)
                y++;
            if (y >= h)
                break;
            y0 = y;
            while (y < h && rows[y] > thr)
                y++;
            if (nseg > 0 && y0 - segs[nseg - 1].y1 < gap &&
                live[y0] == live[segs[nseg - 1].y1 - 1])
                segs[nseg - 1].y1 = y;
            else if (y - y0 >= 2) {
                segs[nseg].y0 = y0;
                segs[nseg].y1 = y;
                nseg++;
            }
        }
    }
    if (nseg == 0) {
        st = bq_error_set(err, BQ_ERR_NOT_FOUND, "no band rows found");
        goto out;
    }
    /* Runs that hold more than one distinct band row are cut between them
     * (band rows of two strips can touch through a ladder band or a
     * blotch); the pieces are joined again below unless their lanes
     * disagree. */
    for (size_t k = 0; k < nseg; k++) {
        size_t cuts[MAX_SEGS], nc;
        nc = split_run(rows, segs[k].y0, segs[k].y1, cuts, MAX_SEGS - nseg);
        if (nc == 0)
            continue;
        memmove(segs + k + 1 + nc, segs + k + 1, (nseg - k - 1) * sizeof *segs);
        for (size_t i = nc; i > 0; i--) {
            memset(&segs[k + i], 0, sizeof segs[k + i]);
            segs[k + i].cut = 1;
            segs[k + i].y0 = cuts[i - 1];
            segs[k + i].y1 = i == nc ? segs[k].y1 : cuts[i];
        }
        segs[k].y1 = cuts[0];
        nseg += nc;
        k += nc;
    }
    /* Widen each run to catch the tails of its bands: down to a third of
     * the threshold, not past the neighbours. */
    for (size_t k = 0; k < nseg; k++) {
        size_t lo = k ? segs[k - 1].y1 : 0,
               hi = k + 1 < nseg ? segs[k + 1].y0 : h;
        while (segs[k].y0 > lo && rows[segs[k].y0 - 1] > thr / 3)
            segs[k].y0--;
        while (segs[k].y1 < hi && rows[segs[k].y1] > thr / 3)
            segs[k].y1++;
    }

    for (size_t k = 0; k < nseg; k++) {
        size_t m = (segs[k].y0 + segs[k].y1) / 2, d = 0;
        /* the middle row, or the nearest row of a piece */
        while (live[m] == (size_t)-1 && d < h) {
            d++;
            if (m >= d && live[m - d] != (size_t)-1)
                m -= d;
            else if (m + d < h && live[m + d] != (size_t)-1)
                m += d;
        }
        segs[k].piece = live[m];
    }

    /* 2. Column profile of every run, in one pass over its rows. */
    for (size_t k = 0; k < nseg; k++) {
        segs[k].c = bq_calloc_array(w, sizeof(double));
        segs[k].cc = bq_calloc_array(w, sizeof(double));
        segs[k].lx = bq_calloc_array(256, sizeof(double));
        segs[k].seen = bq_calloc_array(256, 1);
        if (!segs[k].c || !segs[k].cc || !segs[k].lx || !segs[k].seen) {
            st = bq_error_set(err, BQ_ERR_NOMEM, "layout: out of memory");
            goto out;
        }
        {
            struct sum_ctx c = {sig, NULL, segs[k].c, segs[k].y0, segs[k].y1,
                            NULL};
            bq_parallel_for(w, 0, column_means, &c);
        }
        compress(segs[k].c, segs[k].cc, w,
                 3 * noise / sqrt((double)(segs[k].y1 - segs[k].y0)), tmp);
    }
    /* A run with no quiet rows may sit on a ramp the background left over
     * a whole strip, which its profile would show instead of the lanes
     * (the compression scales to the profile's low quartile). */
    for (size_t k = 0; k < nseg; k++) {
        if (!run_offset(rows, segs[k].y0, segs[k].y1, thr, tmp))
            continue;
        remove_ramp(sig, segs[k].y0, segs[k].y1, segs[k].c, w);
        compress(segs[k].c, segs[k].cc, w,
                 3 * noise / sqrt((double)(segs[k].y1 - segs[k].y0)), tmp);
    }

    /* 3. Lanes of each run on its own, then runs whose lanes agree are
     * merged into one strip (a membrane cut into pieces has strips whose
     * lanes do not line up; band rows of one piece share their lanes). */
    for (size_t k = 0; k < nseg; k++)
        run_lanes(&segs[k], w, lf);
    {
        /* The run whose lanes cover the most of the membrane (count times
         * width) sets what a band row looks like (demote). Runs with
         * ANCHOR_LANES lanes of their own at least a tenth as high as
         * their highest go first: a ladder row's compression lifts broad
         * humps out of what the background left beside its one lane,
         * which would set a lane width no band row shows. The count is of
         * lanes seen: a row of three humps twice as wide as the lanes,
         * with gaps filled up to 12, set the width on generated seed 805
         * and demoted every band row of its lower strip. Thin runs
         * against the membrane's edge go after the other runs that see
         * as many lanes: the residue a frame leaves there reads many
         * narrow lanes (generated seed 81: 27
         * lanes 15 px wide, which demoted band rows of 6 lanes 60 px
         * wide). Nor does a run that sees under half the lanes of the run
         * that sees the most: a smear the background kept reads a few
         * humps far wider than lanes, which cover more of the membrane
         * (generated seed 4245: three humps 167 px wide against 11 lanes
         * 32 px wide demoted every band row of both strips, read as one
         * strip of 8 lanes at twice the pitch). The count to reach is of
         * runs inside their piece of membrane: along its edge, what a
         * frame left reads many narrow lanes (seed 984: 19 lanes 9 px
         * wide in 15 rows, against 5 lanes of the band rows). */
        long best = -1;
        for (int pass = 0; pass < 3 && best < 0; pass++) {
            size_t most = 0;
            for (size_t k = 0; k < nseg; k++)
                if (anchor_pass(&segs[k], pass, live, h) &&
                    !at_piece_edge(&segs[k], live, h))
                    most = segs[k].ns > most ? segs[k].ns : most;
            for (size_t k = 0; k < nseg; k++)
                if (anchor_pass(&segs[k], pass, live, h) &&
                    2 * segs[k].ns >= most &&
                    (best < 0 || (double)segs[k].ns * segs[k].lw >
                                     (double)segs[best].ns * segs[best].lw))
                    best = (long)k;
        }
        if (best >= 0) {
            ref_nl = segs[best].nl;
            ref_lw = segs[best].lw;
            ref = segs[best];
            ref.c = ref.cc = ref.lx = NULL;
            ref.seen = NULL;
        }
        for (size_t k = 0; k < nseg; k++)
            demote(&segs[k], ref_nl, ref_lw);
    }
    /* Pieces of one run are joined again (join_pieces), but for a cut
     * above an anchor whose lanes disagree with those of the anchor above
     * it in the run, as found on the pieces themselves (a join changes
     * what the joined run shows). */
    {
        long last = -1; /* the last anchor piece of the current run */
        for (size_t k = 0; k < nseg; k++) {
            if (!segs[k].cut)
                last = -1;
            if (segs[k].nl < ANCHOR_LANES)
                continue;
            /* between two that disagree every cut is kept: the pieces
             * there join a strip on their own */
            if (last >= 0 && !runs_agree(&segs[last], &segs[k]))
                for (size_t j = (size_t)last + 1; j <= k; j++)
                    segs[j].cut = 0;
            last = (long)k;
        }
    }
    jn.c = bq_calloc_array(w, sizeof(double));
    jn.cc = bq_calloc_array(w, sizeof(double));
    jn.lx = bq_calloc_array(256, sizeof(double));
    jn.seen = bq_calloc_array(256, 1);
    if (!jn.c || !jn.cc || !jn.lx || !jn.seen) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "layout: out of memory");
        goto out;
    }
    for (size_t k = 0; k < nseg; k++)
        segs[k].reads_ref = reads_like(&segs[k], &ref);
    join_pieces(segs, &nseg, w, noise, tmp, lf, ref_nl, ref_lw, &ref, &jn);
    {
        /* Runs with ANCHOR_LANES or more lanes anchor the strips: consecutive
         * anchors whose lanes agree share a strip. Runs with fewer lanes
         * (a ladder row, a lone band) join the neighbouring strip whose
         * lanes they match, else the one above. */
        long prev = -1;
        int orphan[MAX_SEGS], misread[MAX_SEGS];
        /* An anchor whose pitch is off by over PITCH_ODD from both
         * neighbouring anchors', which agree with each other within half
         * that and show more lanes, read its lanes wrongly (weak bands, a
         * ladder's rows): it anchors nothing and joins the strip whose
         * lanes it matches. The neighbours compared with see ANCHOR_LANES
         * lanes themselves: a ladder's rows come several in a row, each
         * with one lane seen and its pitch read from specks (generated
         * seed 131, no doublets: six strips where there are two). */
        for (size_t k = 0; k < nseg; k++) {
            long a = -1, b = -1;
            misread[k] = 0;
            if (segs[k].nl < ANCHOR_LANES)
                continue;
            a = nearest_anchor(segs, nseg, k, -1, ANCHOR_LANES);
            b = nearest_anchor(segs, nseg, k, 1, ANCHOR_LANES);
            misread[k] = a >= 0 && b >= 0 && segs[k].ns < segs[a].ns &&
                         segs[k].ns < segs[b].ns &&
                         fabs(segs[k].pitch / segs[a].pitch - 1) > PITCH_ODD &&
                         fabs(segs[k].pitch / segs[b].pitch - 1) > PITCH_ODD &&
                         fabs(segs[a].pitch / segs[b].pitch - 1) <
                             0.5 * PITCH_ODD;
            /* At the end of a piece of membrane the one neighbour on it
             * decides, if it sees twice the lanes and half of this row's
             * lanes lie on its own (a misread row shows the same lanes; a
             * strip of its own, a row of fewer lanes at another pitch,
             * shows others). */
            if (a >= 0 && segs[a].piece != segs[k].piece)
                a = -1;
            if (b >= 0 && segs[b].piece != segs[k].piece)
                b = -1;
            if ((a < 0) != (b < 0)) {
                long o = a >= 0 ? a : b;
                /* Residue along a membrane's edge, which made strips of
                 * narrow lanes of its own on dark scans with a frame: a
                 * row against the edge of its piece, weaker than the
                 * neighbour, lanes disagreeing, and either thinner than
                 * its lanes are wide (residue proper), or seeing fewer
                 * lanes at a pitch off by over half PITCH_ODD (generated
                 * seed 294: 6 strips for 2). Thin residue may read the
                 * band rows' pitch (seeds 18 and 69 without doublets) or
                 * more lanes than they show (seed 576); it joins its
                 * strip but not the strip's profile. Weaker: on the real
                 * actin scan the band row lies at the membrane's cropped
                 * top edge, and smears below it see more lanes at
                 * another pitch. */
                {
                    int edge_row = at_piece_edge(&segs[k], live, h) &&
                                   profile_max(segs[k].c, w) <
                                       profile_max(segs[o].c, w) &&
                                   !runs_agree(&segs[k], &segs[o]);
                    segs[k].residue = edge_row && thin_run(&segs[k]);
                    misread[k] |=
                        segs[k].residue ||
                        (edge_row && segs[k].ns < segs[o].ns &&
                         fabs(segs[k].pitch / segs[o].pitch - 1) >
                             0.5 * PITCH_ODD);
                }
                misread[k] |=
                    2 * segs[k].ns <= segs[o].ns &&
                    fabs(segs[k].pitch / segs[o].pitch - 1) > PITCH_ODD &&
                    lane_agreement(segs[k].lx, segs[k].nl, segs[o].lx,
                                   segs[o].nl, 0.25 * segs[o].pitch) >= 0.5;
            }
        }
        /* Nor does a run anchor that sees under ANCHOR_LANES lanes of its
         * own (ns): its other lanes were filled in at a pitch read from
         * one or two lanes and noise (generated seed 2600: a ladder row
         * between two band rows read 14 lanes at pitch 70 for 57 and cut
         * the piece into three strips; seeds 1-3000: 51 lanes more found,
         * 52 phantoms fewer). */
        for (size_t k = 0; k < nseg; k++)
            if (misread[k] || segs[k].ns < ANCHOR_LANES)
                segs[k].nl = 1;
        /* A piece of membrane without an anchor row: its rows are a strip
         * of their own (they would join the strip of another piece). */
        for (size_t k = 0; k < nseg; k++) {
            orphan[k] = 1;
            for (size_t j = 0; j < nseg && orphan[k]; j++)
                if (segs[j].piece == segs[k].piece &&
                    segs[j].nl >= ANCHOR_LANES)
                    orphan[k] = 0;
        }
        for (size_t k = 0; k < nseg; k++) {
            struct seg *q = &segs[k];
            int merge = 0, odd = 0;
            if (q->nl < ANCHOR_LANES && orphan[k]) {
                if ((k == 0 || segs[k - 1].piece != q->piece) &&
                    (nstrips == 0 || (int)nstrips < opts->max_strips))
                    nstrips++;
                q->strip = nstrips - 1;
                prev = -1;
                continue;
            }
            if (q->nl < ANCHOR_LANES)
                continue;
            if (prev >= 0) {
                merge = runs_agree(&segs[prev], q);
                /* an odd row between two rows that agree (weak or
                 * smeared bands) is no strip of its own, nor the row
                 * the next one is compared with */
                for (size_t n = k + 1; !merge && n < nseg; n++)
                    if (segs[n].nl >= ANCHOR_LANES) {
                        merge = odd = runs_agree(&segs[prev], &segs[n]) &&
                                      segs[n].piece == q->piece;
                        break;
                    }
                /* another piece of membrane is another strip */
                if (segs[prev].piece != q->piece)
                    merge = odd = 0;
            }
            if (nstrips > 0 && (int)nstrips >= opts->max_strips)
                merge = 1;
            if (!merge)
                nstrips++;
            q->strip = nstrips - 1;
            if (!odd)
                prev = (long)k;
        }
        if (nstrips == 0) {
            nstrips = 1;
            for (size_t k = 0; k < nseg; k++)
                segs[k].strip = 0;
        } else {
            for (size_t k = 0; k < nseg; k++) {
                long pa = -1, na = -1;
                double sp, sn;
                if (segs[k].nl >= ANCHOR_LANES || orphan[k])
                    continue;
                pa = nearest_anchor(segs, nseg, k, -1, 0);
                na = nearest_anchor(segs, nseg, k, 1, 0);
                if (pa < 0 || na < 0) {
                    segs[k].strip = segs[pa >= 0 ? pa : na].strip;
                    continue;
                }
                if (segs[pa].strip == segs[na].strip) {
                    segs[k].strip = segs[pa].strip;
                    continue;
                }
                /* a row on one anchor's piece of membrane only joins it */
                if ((segs[pa].piece == segs[k].piece) !=
                    (segs[na].piece == segs[k].piece)) {
                    segs[k].strip = segs[segs[pa].piece == segs[k].piece
                                             ? pa
                                             : na]
                                        .strip;
                    continue;
                }
                sp = lane_agreement(segs[k].lx, segs[k].nl, segs[pa].lx,
                                    segs[pa].nl, 0.25 * segs[pa].pitch);
                sn = lane_agreement(segs[k].lx, segs[k].nl, segs[na].lx,
                                    segs[na].nl, 0.25 * segs[na].pitch);
                segs[k].strip = sn > sp ? segs[na].strip : segs[pa].strip;
            }
        }
        /* runs of a strip are contiguous: a run between two strips that
         * matched the lower one takes the runs after it down with it
         * (they would otherwise split the upper strip's extent in two) */
        for (size_t k = 1; k < nseg; k++)
            if (segs[k].strip < segs[k - 1].strip)
                segs[k].strip = segs[k - 1].strip;
        for (size_t k = 0; k < nseg; k++) {
            size_t si = segs[k].strip;
            if (k == 0 || segs[k - 1].strip != si)
                strip_seg0[si] = k;
            strip_seg1[si] = k + 1;
        }
    }

    /* 4. Each strip's lanes from the sum of its runs' compressed profiles. */
    out->strips = bq_calloc_array(nstrips, sizeof *out->strips);
    out->lanes = bq_calloc_array(nstrips * 256, sizeof *out->lanes);
    if (!out->strips || !out->lanes) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "layout: out of memory");
        goto out;
    }
    for (size_t s = 0; s < nstrips; s++) {
        struct bq_strip *sp = &out->strips[s];
        size_t xa, xb, ka = strip_seg0[s], kb = strip_seg1[s];
        int anchored = 0;
        double var = 0; /* noise variance of the summed profile */
        double scale;   /* of its compression */
        struct strip_rows sr = {sig, segs, ka, kb, 0, h};
        memset(sc, 0, w * sizeof *sc);
        memset(scc, 0, w * sizeof *scc);
        for (size_t k = ka; k < kb; k++)
            anchored |= segs[k].nl >= ANCHOR_LANES;
        for (size_t k = ka; k < kb; k++) {
            var += noise * noise / (double)(segs[k].y1 - segs[k].y0);
            for (size_t x = 0; x < w; x++)
                scc[x] += segs[k].c[x];
            /* thin edge residue joins the strip but not its profile:
             * its narrow lanes would fill the valleys between the band
             * rows' lanes (seed 576: one lane read as two); nor do the
             * ridges of a thicker edge row that anchors nothing
             * (edge_ridges; seed 2295). A thicker
             * edge row may be a band row at the image's edge (seed 1379)
             * and stays. Residue is misread (one lane, no anchor), so an
             * anchored strip always keeps a run of its own here; the
             * test is a guard. The compression's scale is still that of
             * every run (scc, for now): without the residue it fell and
             * lifted a frame's corner in another edge row over the
             * lane prominence (seed 96). */
            if (anchored && (segs[k].residue || edge_ridges(&segs[k], live,
                                                            h, ref_lw)))
                continue;
            for (size_t x = 0; x < w; x++)
                sc[x] += segs[k].c[x];
        }
        scale = compress_scale(scc, w, 3 * sqrt(var), tmp);
        /* vertical extent: halfway to the neighbouring strips */
        if (s > 0)
            sr.y0 = (segs[ka - 1].y1 + segs[ka].y0) / 2;
        if (s + 1 < nstrips)
            sr.y1 = (segs[kb - 1].y1 + segs[kb].y0) / 2;
        /* A lane is a lane if any band row shows it, or the strip's rows
         * together. Rows with fewer lanes than an anchor (a ladder band, a
         * lone band, what a blotch left) count only through the sum: their
         * own compressed profiles are mostly residual background, which
         * would fill the valleys between the lanes of the other rows. */
        compress_by(sc, scc, w, scale, tmp);
        for (size_t k = ka; k < kb; k++)
            if (!anchored || segs[k].nl >= ANCHOR_LANES)
                for (size_t x = 0; x < w; x++)
                    scc[x] = segs[k].cc[x] > scc[x] ? segs[k].cc[x] : scc[x];
        signal_extent(scc, w, 0.5 * LANE_PROMINENCE, &xa, &xb);
        find_lanes(sc, scc, w, xa, xb, opts->lanes, LANE_PROMINENCE, &sr, lf);
        if (lf->n == 0)
            single_lane(sc, xa, xb, lf);
        sp->top = s == 0 ? 0.0 : 0.5 * (double)(segs[ka - 1].y1 + segs[ka].y0);
        sp->bottom = s + 1 == nstrips
                         ? (double)h
                         : 0.5 * (double)(segs[kb - 1].y1 + segs[kb].y0);
        sp->pitch = lf->pitch;
        sp->first_lane = out->nlanes;
        sp->nlanes = lf->n;
        for (size_t i = 0; i < lf->n; i++) {
            struct bq_lane *ln = &out->lanes[out->nlanes++];
            double half_slot = lf->pitch > 0 ? 0.5 * lf->pitch : lf->w[i];
            /* integrate 0.6 FWHM either side, the same for every lane:
             * wider boxes collect the tails of neighbouring lanes' bands
             * (a weak band beside strong ones read up to 50 % high at
             * 0.75), narrower ones cut the band's own edges. A flat-topped
             * band keeps ~96 % of its signal in the box: the same share
             * for every band, so ratios are unaffected. */
            double half = 0.6 * lf->w[i];
            if (half > half_slot)
                half = half_slot;
            ln->strip = s;
            ln->index = i;
            ln->x = lf->x[i];
            ln->width = lf->w[i];
            ln->left = bq_clampd(ln->x - half, 0, (double)w);
            ln->right = bq_clampd(ln->x + half, 0, (double)w);
            ln->empty = lf->empty[i];
        }
        /* neighbours must not overlap: split at the midpoint */
        for (size_t i = sp->first_lane + 1; i < out->nlanes; i++) {
            struct bq_lane *a = &out->lanes[i - 1], *b = &out->lanes[i];
            if (a->right > b->left) {
                double m = 0.5 * (a->x + b->x);
                a->right = m < a->right ? m : a->right;
                b->left = m > b->left ? m : b->left;
            }
        }
    }
    out->nstrips = nstrips;
    if (out->nlanes == 0)
        st = bq_error_set(err, BQ_ERR_NOT_FOUND, "no lanes found");
out:
    for (size_t k = 0; k < nseg; k++) {
        free(segs[k].c);
        free(segs[k].cc);
        free(segs[k].lx);
        free(segs[k].seen);
    }
    free(jn.c);
    free(jn.cc);
    free(jn.lx);
    free(jn.seen);
    free(rowp);
    free(live);
    free(rows);
    free(tmp);
    free(scc);
    free(sc);
    free(lf);
    if (st != BQ_OK)
        bq_layout_fini(out);
    return st;
}

/* Lanes whose slope counts need bands at least this many rows apart (SD
 * of the bands' rows); the tilt needs TILT_MIN_LANES such lanes. Known
 * limit: two strips whose lanes are offset sideways by under a third of a
 * pitch, if the layout takes them for one, make a step in each lane that
 * the line reads as a tilt (a median of neighbouring bands' slopes, or
 * dropping lanes off their line, cost more on generated scans than the
 * few such scans lose). */
#define TILT_MIN_DY 8.0
#define TILT_MIN_SHARE 0.1 /* of the lane's strongest band, to count */
#define TILT_MIN_LANES 5

double
bq_layout_lane_tilt(const struct bq_image *sig, const struct bq_layout *l,
                    size_t *n)
{
    double *slope = bq_alloc_array(l->nlanes + 1, sizeof *slope), res = 0;
    size_t ns = 0;

    *n = 0;
    if (!slope)
        return 0;
    for (size_t i = 0; i < l->nlanes; i++) {
        const struct bq_lane *ln = &l->lanes[i];
        const struct bq_strip *st = &l->strips[ln->strip];
        double half = st->pitch > 0 ? 0.5 * st->pitch : 0.5 * ln->width;
        long x0 = (long)floor(ln->x - half), x1 = (long)ceil(ln->x + half);
        long y0 = (long)floor(st->top), y1 = (long)ceil(st->bottom);
        /* per band (a run of rows whose sum clears the noise): weight and
         * centroid; a lane of more than 64 bands keeps its first 64 */
        double bw[64], bx[64], by[64], thr;
        size_t nb = 0;
        int in = 0;
        if (ln->empty)
            continue;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > (long)sig->width ? (long)sig->width : x1;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > (long)sig->height ? (long)sig->height : y1;
        if (x1 - x0 < 2 || y1 - y0 < 2)
            continue;
        /* 5 noise SDs of the row's signed sum (a sum of the positive
         * values alone grows with the slot's width on noise only) */
        thr = 5 * l->noise * sqrt((double)(x1 - x0));
        for (long y = y0; y < y1; y++) {
            const float *r = bq_row(sig, (size_t)y);
            double s = 0, sx = 0, top = 0;
            for (long x = x0; x < x1; x++) {
                s += r[x];
                top = r[x] > top ? r[x] : top;
            }
            if (s <= thr) {
                in = 0;
                continue;
            }
            /* the centroid of the row's upper half: the tails of the
             * neighbouring lanes' bands would pull it to the slot's
             * middle (1.2 degrees read for 1.5) */
            s = 0;
            for (long x = x0; x < x1; x++)
                if (r[x] >= 0.5 * top) {
                    s += r[x];
                    sx += r[x] * (double)x;
                }
            if (s <= 0) {
                in = 0;
                continue;
            }
            if (!in) {
                if (nb == 64)
                    break;
                bw[nb] = bx[nb] = by[nb] = 0;
                nb++;
                in = 1;
            }
            bw[nb - 1] += s;
            bx[nb - 1] += sx;
            by[nb - 1] += s * (double)y;
        }
        /* Bands under a tenth of the lane's strongest go: their centroids
         * are noisy, and what the background left along a membrane's edge
         * reads as a weak band far from the others, whose lever arm then
         * sets the slope (a generated experiment's scan turned by 0.36
         * degrees was deskewed by -0.49). */
        {
            double wmax = 0;
            size_t m = 0;
            for (size_t b = 0; b < nb; b++)
                wmax = bw[b] > wmax ? bw[b] : wmax;
            for (size_t b = 0; b < nb; b++)
                if (bw[b] >= TILT_MIN_SHARE * wmax) {
                    bw[m] = bw[b];
                    bx[m] = bx[b];
                    by[m] = by[b];
                    m++;
                }
            nb = m;
        }
        if (nb < 2)
            continue;
        {
            /* weighted least squares of x on y over the bands */
            double sw = 0, mx = 0, my = 0, sxy = 0, syy = 0;
            for (size_t b = 0; b < nb; b++) {
                bx[b] /= bw[b];
                by[b] /= bw[b];
                sw += bw[b];
                mx += bw[b] * bx[b];
                my += bw[b] * by[b];
            }
            mx /= sw;
            my /= sw;
            for (size_t b = 0; b < nb; b++) {
                sxy += bw[b] * (bx[b] - mx) * (by[b] - my);
                syy += bw[b] * (by[b] - my) * (by[b] - my);
            }
            if (syy <= sw * TILT_MIN_DY * TILT_MIN_DY)
                continue;
            slope[ns++] = sxy / syy;
        }
    }
    if (ns >= TILT_MIN_LANES) {
        /* The median slope counts if it stands out of its standard error
         * (1.25 * 1.4826 * MAD / sqrt(n) for normal scatter): on a DNA gel
         * with smears across lanes, three lanes gave -2.3, 0.8 and -1.8
         * degrees. A content turned clockwise by phi leans its lanes left
         * going down: dx/dy = -tan(phi). */
        double med = bq_select_d(slope, ns, 0.5), se;
        for (size_t i = 0; i < ns; i++)
            slope[i] = fabs(slope[i] - med);
        se = 1.25 * 1.4826 * bq_select_d(slope, ns, 0.5) / sqrt((double)ns);
        if (fabs(med) > se) {
            res = -atan(med) * 180.0 / BQ_PI;
            *n = ns;
        }
    }
    free(slope);
    return res;
}
