/* The experiment stage: one geometry per membrane, ratios, fold changes,
 * replicate statistics and dose-response fits (README: "Experiments"). */
#include "blotquant/experiment.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blotquant/blotfile.h"
#include "blotquant/render.h"
#include "util.h"

/* a band's extent may be this many times the row's median height before
 * the row's height is used instead */
#define ROW_MAX_STRETCH 1.6

/* widest strip kept for the report page, px */
#define STRIP_MAX_W 900

/* Largest RMS misfit of the ladder's log10 sizes against position: 0.03
 * is 7 % in size. */
#define LADDER_MAX_RMS 0.03
/* Pairs of ladder bands and sizes that may be left out of the match when
 * all of them do not fit (bands missed and a stray one found). */
#define LADDER_MAX_DROP 2

void
bq_exp_opts_init(struct bq_exp_opts *o)
{
    memset(o, 0, sizeof *o);
    bq_analysis_opts_init(&o->analysis);
    bq_reg_opts_init(&o->reg);
    o->detect_snr = 3;
    o->low_snr = 10;
}

const char *
bq_part_name(enum bq_part p)
{
    switch (p) {
    case BQ_PART_SUM:
        return "sum";
    case BQ_PART_UPPER:
        return "upper";
    case BQ_PART_LOWER:
        return "lower";
    default:
        return "";
    }
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of N values of A (sorted in place); NaN if N is 0. */
static double
median(double *a, size_t n)
{
    if (!n)
        return NAN;
    qsort(a, n, sizeof *a, cmp_double);
    return n % 2 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2]);
}

/* A band row of one strip of an analysed scan. */
struct row {
    size_t strip;
    int row;          /* bq_band.row */
    double ya;        /* median centre, analysis frame px */
    double h, w;      /* median band height and box width, px */
    double vol;       /* summed volume over its lanes */
    size_t n, nsplit; /* bands, and bands split by a fit */
    size_t nlanes;    /* lanes with a band in the row */
};

/* Collects the rows of A into a new array *OUT sorted by strip and y.
 * Returns the count (0 on allocation failure or no bands). */
static size_t
collect_rows(const struct bq_analysis *a, const struct bq_manifest *m,
             const size_t *skip_lane, struct row **out)
{
    struct row *r = NULL;
    size_t nr = 0;
    double *tmp = NULL;

    *out = NULL;
    if (!a->bands.n)
        return 0;
    r = calloc(a->bands.n, sizeof *r);
    tmp = bq_alloc_array(a->bands.n, sizeof *tmp);
    if (!r || !tmp) {
        free(r);
        free(tmp);
        return 0;
    }
    (void)m;
    for (size_t k = 0; k < a->bands.n; k++) {
        const struct bq_band *b = &a->bands.b[k];
        size_t j;
        if (skip_lane && skip_lane[b->lane])
            continue;
        for (j = 0; j < nr; j++)
            if (r[j].strip == b->strip && r[j].row == b->row)
                break;
        if (j == nr) {
            r[nr].strip = b->strip;
            r[nr].row = b->row;
            nr++;
        }
        r[j].vol += b->volume;
        r[j].n++;
        {
            /* a lane counts once even with both bands of a doublet */
            int seen = 0;
            for (size_t q = 0; q < k; q++)
                seen |= a->bands.b[q].lane == b->lane &&
                        a->bands.b[q].strip == b->strip &&
                        a->bands.b[q].row == b->row;
            r[j].nlanes += !seen;
        }
        r[j].nsplit += b->split != 0;
    }
    for (size_t j = 0; j < nr; j++) {
        size_t n = 0;
        for (int q = 0; q < 3; q++) {
            n = 0;
            for (size_t k = 0; k < a->bands.n; k++) {
                const struct bq_band *b = &a->bands.b[k];
                if (b->strip != r[j].strip || b->row != r[j].row ||
                    (skip_lane && skip_lane[b->lane]))
                    continue;
                tmp[n++] = q == 0   ? b->y - a->layout.lanes[b->lane].smile
                           : q == 1 ? b->bottom - b->top
                                    : b->right - b->left;
            }
            if (q == 0)
                r[j].ya = median(tmp, n);
            else if (q == 1)
                r[j].h = median(tmp, n);
            else
                r[j].w = median(tmp, n);
        }
    }
    free(tmp);
    /* a row is a protein seen across the gel: rows of a stray band or two
     * (a speck, a false split) are left out */
    {
        size_t most = 0, k = 0;
        for (size_t j = 0; j < nr; j++)
            most = r[j].nlanes > most ? r[j].nlanes : most;
        for (size_t j = 0; j < nr; j++)
            if (r[j].nlanes >= 2 && 4 * r[j].nlanes >= most)
                r[k++] = r[j];
        nr = k;
    }
    /* sort by strip, then y */
    for (size_t i = 1; i < nr; i++)
        for (size_t j = i;
             j > 0 && (r[j - 1].strip > r[j].strip ||
                       (r[j - 1].strip == r[j].strip && r[j - 1].ya > r[j].ya));
             j--) {
            struct row t = r[j - 1];
            r[j - 1] = r[j];
            r[j] = t;
        }
    *out = r;
    return nr;
}

/* Where row R runs through layout lane LI of A (analysis frame): centre
 * x, extent [top, bottom), the split point MID between the two bands of a
 * doublet (their centres' midpoint; the centre for one band) and the box
 * width. Without a band there, the row's median shape at the lane's
 * smile; with two bands in a row that is not a DOUBLET, one band of the
 * row's median height between them. Returns the number of bands found
 * (0: interpolated). */
struct extent {
    double xa, top, bottom, mid, w;
};

static size_t
row_extent(const struct bq_analysis *a, size_t li, const struct row *r,
           int doublet, struct extent *x)
{
    const struct bq_lane *ln = &a->layout.lanes[li];
    double ylo = INFINITY, yhi = -INFINITY;
    size_t nb = 0;

    x->xa = ln->x;
    x->top = INFINITY;
    x->bottom = -INFINITY;
    x->w = 0;
    int lone_split = 0;
    for (size_t k = 0; k < a->bands.n; k++) {
        const struct bq_band *b = &a->bands.b[k];
        if (b->lane != li || b->strip != r->strip || b->row != r->row)
            continue;
        lone_split = b->split;
        x->top = fmin(x->top, b->top);
        x->bottom = fmax(x->bottom, b->bottom);
        x->w = fmax(x->w, b->right - b->left);
        ylo = fmin(ylo, b->y);
        yhi = fmax(yhi, b->y);
        nb++;
    }
    if (nb) {
        x->mid = 0.5 * (ylo + yhi);
        if ((nb > 1 || lone_split ||
             x->bottom - x->top > ROW_MAX_STRETCH * r->h) &&
            !doublet) {
            /* one protein split in two by the bands stage (or one part
             * of a split left), or an extent far taller than the row's
             * (a band merged with a neighbour): one band of the row's
             * usual height, centred on the parts */
            x->top = x->mid - 0.5 * r->h;
            x->bottom = x->mid + 0.5 * r->h;
        }
        return nb;
    }
    x->top = r->ya + ln->smile - 0.5 * r->h;
    x->bottom = x->top + r->h;
    x->mid = r->ya + ln->smile;
    x->w = r->w;
    return 0;
}

static void
to_original(const struct bq_analysis *a, double xa, double ya, double *x,
            double *y)
{
    bq_rotate_point(a->width, a->height, a->angle, xa, ya, x, y);
}

/* Copies IMG with larger = more protein (POL as decided for the total). */
static struct bq_image *
protein_copy(const struct bq_image *img, enum bq_polarity pol,
             struct bq_error *err)
{
    struct bq_image *c = bq_image_clone(img, err);
    if (!c || pol != BQ_POLARITY_DARK_BANDS)
        return c;
    for (size_t y = 0; y < c->height; y++) {
        float *r = c->px + y * c->stride;
        for (size_t x = 0; x < c->width; x++)
            r[x] = c->max_code - r[x];
    }
    return c;
}

static enum bq_status
load_scan(const struct bq_scanref *ref, const struct bq_analysis_opts *ao,
          struct bq_image **out, struct bq_error *err)
{
    struct bq_load_opts lo = ao->load;
    struct bq_load_info info;
    lo.page = ref->page;
    return bq_image_load(ref->path, &lo, out, &info, err);
}

/* Measures the boxes BX (NB of them) on IMG (consumed: prepared in place)
 * with the options of AO. Fills RES. */
static enum bq_status
measure_boxes(struct bq_image *img, const struct bq_analysis_opts *ao,
              enum bq_polarity pol, const struct bq_box *bx, size_t nb,
              struct bq_analysis *res, struct bq_error *err)
{
    struct bq_analysis_opts o = *ao;
    o.layout_file = NULL;
    o.boxes = bx;
    o.nboxes = nb;
    o.keep_images = 0;
    o.prepare.polarity = pol;
    memset(res, 0, sizeof *res);
    return bq_analyze_image(img, &o, res, err);
}

/* The measured band for box lane LANE (1-based) and band BAND. */
static const struct bq_band *
box_band(const struct bq_analysis *a, int lane, int band)
{
    for (size_t k = 0; k < a->bands.n; k++) {
        const struct bq_band *b = &a->bands.b[k];
        if ((int)a->layout.lanes[b->lane].index + 1 == lane &&
            (int)b->index + 1 == band)
            return b;
    }
    return NULL;
}

/* Names the blot and scan in an error that does not already. */
static enum bq_status blot_error(struct bq_blot_result *res,
                                 struct bq_error *err, enum bq_status st,
                                 const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum bq_status
blot_error(struct bq_blot_result *res, struct bq_error *err, enum bq_status st,
           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    res->status = st;
    return bq_error_set(err, st, "%s", res->error);
}

/* Least-squares line log10(kDa) = ICPT + SLOPE * y through the pairs
 * (Y[i], KDA[i]); returns the RMS residual in log10 units. */
static double
line_fit(const double *y, const double *kda, size_t n, double *slope,
         double *icpt)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, d, ss = 0;
    for (size_t i = 0; i < n; i++) {
        double lk = log10(kda[i]);
        sx += y[i];
        sy += lk;
        sxx += y[i] * y[i];
        sxy += y[i] * lk;
    }
    d = (double)n * sxx - sx * sx;
    if (n < 2 || d <= 0)
        return INFINITY;
    *slope = ((double)n * sxy - sx * sy) / d;
    *icpt = (sy - *slope * sx) / (double)n;
    for (size_t i = 0; i < n; i++) {
        double r = log10(kda[i]) - (*icpt + *slope * y[i]);
        ss += r * r;
    }
    return sqrt(ss / (double)n);
}

/* Search state for matching detected ladder bands to the listed sizes. */
struct ladder_match {
    const double *ys, *kda;        /* detected centres (sorted), listed sizes */
    size_t n, k, m;                /* their counts, and pairs to form */
    size_t pick_y[64], pick_k[64]; /* the current choice */
    double best, slope, icpt;      /* the best fit so far */
    long budget;                   /* choices left to try */
};

/* Tries every way of pairing M of the detected bands with M of the sizes,
 * both in order (a band may be missed, or a stray band found). */
static void
ladder_search(struct ladder_match *lm, size_t depth, size_t from_y,
              size_t from_k)
{
    if (lm->budget <= 0)
        return;
    if (depth == lm->m) {
        double y[64], kd[64], sl = 0, ic = 0, r;
        lm->budget--;
        for (size_t i = 0; i < lm->m; i++) {
            y[i] = lm->ys[lm->pick_y[i]];
            kd[i] = lm->kda[lm->pick_k[i]];
        }
        r = line_fit(y, kd, lm->m, &sl, &ic);
        if (sl < 0 && r < lm->best) {
            lm->best = r;
            lm->slope = sl;
            lm->icpt = ic;
        }
        return;
    }
    for (size_t i = from_y; i + (lm->m - depth) <= lm->n; i++)
        for (size_t j = from_k; j + (lm->m - depth) <= lm->k; j++) {
            lm->pick_y[depth] = i;
            lm->pick_k[depth] = j;
            ladder_search(lm, depth + 1, i + 1, j + 1);
        }
}

/* Chooses the row of TOTAL's analysis the blot asks for. Returns its
 * index in ROWS, or -1 with a message in MSG. */
static long
pick_row(const struct bq_manifest *m, const struct bq_mblot *b,
         const struct bq_analysis *t, const struct row *rows, size_t nr,
         const size_t *lane_of, const struct bq_reg_result *reg, double *kda,
         char *msg, size_t msgsize)
{
    long best = -1;
    *kda = NAN;
    if (nr == 0) {
        snprintf(msg, msgsize, "no band found on the total scan");
        return -1;
    }
    switch (b->pick) {
    case BQ_PICK_STRONGEST:
        for (size_t j = 0; j < nr; j++)
            if (best < 0 || rows[j].vol > rows[best].vol)
                best = (long)j;
        return best;
    case BQ_PICK_ROW:
        if (b->pick_value > (double)nr) {
            snprintf(msg, msgsize,
                     "band = row %.0f, but the total scan shows %zu rows",
                     b->pick_value, nr);
            return -1;
        }
        return (long)b->pick_value - 1;
    case BQ_PICK_Y: {
        /* Y is given on the phospho scan: map it to the total scan */
        double x, y, d = INFINITY;
        bq_reg_map(reg, 0.5 * ((double)t->width - 1),
                   0.5 * ((double)t->height - 1), 0.5 * ((double)t->width - 1),
                   b->pick_value, &x, &y);
        for (size_t j = 0; j < nr; j++) {
            double ox, oy;
            to_original(t, 0.5 * (double)t->width, rows[j].ya, &ox, &oy);
            if (fabs(oy - y) < d) {
                d = fabs(oy - y);
                best = (long)j;
            }
        }
        return best;
    }
    case BQ_PICK_KDA: {
        /* the ladder lane's bands, top to bottom, against ladder_kda */
        size_t ladder = m->nlanes, nb = 0;
        double ys[64], slope, icpt, yk, d;
        for (size_t i = 0; i < m->nlanes; i++)
            if (m->lanes[i].kind == BQ_LANE_LADDER) {
                ladder = i;
                break;
            }
        if (ladder == m->nlanes)
            return -1;
        for (size_t k = 0; k < t->bands.n && nb < 64; k++)
            if (t->bands.b[k].lane == lane_of[ladder])
                ys[nb++] = t->bands.b[k].y;
        qsort(ys, nb, sizeof *ys, cmp_double);
        {
            /* A ladder band may be missed (faint, at an edge) or a stray
             * one found: pair as many as both sides have, in order, and
             * keep the pairing whose sizes fall on the straightest line
             * of log size against position. Bands missed and a stray
             * one found on the same ladder leave fewer true pairs than
             * that: when no pairing fits, one or two fewer are tried. */
            struct ladder_match lm = {0};
            size_t most = nb < m->nladder ? nb : m->nladder;
            lm.ys = ys;
            lm.kda = m->ladder_kda;
            lm.n = nb;
            lm.k = m->nladder;
            lm.best = INFINITY;
            lm.budget = 2000000;
            for (lm.m = most; lm.m >= 3 && lm.m + LADDER_MAX_DROP >= most;
                 lm.m--) {
                ladder_search(&lm, 0, 0, 0);
                if (lm.best <= LADDER_MAX_RMS)
                    break;
            }
            if (!isfinite(lm.best) || lm.best > LADDER_MAX_RMS) {
                snprintf(msg, msgsize,
                         "the ladder (lane %zu) on the total scan shows %zu "
                         "bands that do not match ladder_kda (%zu sizes)",
                         ladder + 1, nb, m->nladder);
                return -1;
            }
            slope = lm.slope;
            icpt = lm.icpt;
        }
        yk = (log10(b->pick_value) - icpt) / slope;
        d = INFINITY;
        for (size_t j = 0; j < nr; j++) {
            if (rows[j].strip != t->bands.b[0].strip && 0)
                continue;
            if (fabs(rows[j].ya - yk) < d) {
                d = fabs(rows[j].ya - yk);
                best = (long)j;
            }
        }
        if (best >= 0)
            *kda = pow(10, icpt + slope * rows[best].ya);
        return best;
    }
    }
    return -1;
}

/* Is row J and its neighbour below (or above) a doublet? Returns the
 * index of the partner or -1. Two rows are a doublet when most lanes
 * had them split by a fit, or their bands touch. */
static long
doublet_partner(const struct row *rows, size_t nr, size_t j)
{
    long best = -1;
    for (int dir = -1; dir <= 1; dir += 2) {
        long k = (long)j + dir;
        const struct row *a, *c;
        if (k < 0 || (size_t)k >= nr || rows[k].strip != rows[j].strip)
            continue;
        a = &rows[j];
        c = &rows[k];
        /* a stray band or two is no partner: most lanes show both */
        if (c->nlanes * 2 < a->nlanes)
            continue;
        if ((a->nsplit * 2 >= a->n && c->nsplit * 2 >= c->n) ||
            fabs(a->ya - c->ya) < 0.6 * (a->h + c->h)) {
            if (best < 0 ||
                fabs(rows[k].ya - a->ya) < fabs(rows[best].ya - a->ya))
                best = k;
        }
    }
    return best;
}

/* Matches the lanes of A to the manifest's NL lanes (*NL = 0: as many as
 * found; set on return). The scan must show the manifest's lanes, but an
 * empty well at either end of the gel cannot be seen: the scan may show
 * only the lanes between the end-most loaded ones. LANE_OF[i] receives
 * the layout lane of manifest lane i (SIZE_MAX for an unseen end lane);
 * SKIP[layout lane] is set for lanes of other strips and for ladder and
 * empty lanes. Returns 1, or 0 with the count found in *FOUND. */
static int
lane_has_band(const struct bq_analysis *a, size_t lane)
{
    for (size_t k = 0; k < a->bands.n; k++)
        if (a->bands.b[k].lane == lane)
            return 1;
    return 0;
}

static int
map_lanes(const struct bq_manifest *m, const struct bq_analysis *a,
          size_t *nl_io, size_t *lane_of, size_t *skip, size_t *found)
{
    size_t nl = *nl_io, lead = 0, trail = 0, off = 0, first = 0, strip = 0;
    int ok = 0;

    *found = 0;
    if (m->nlanes) {
        while (lead < nl && m->lanes[lead].kind == BQ_LANE_EMPTY)
            lead++;
        while (trail + lead < nl &&
               m->lanes[nl - 1 - trail].kind == BQ_LANE_EMPTY)
            trail++;
    }
    for (size_t s = 0; s < a->layout.nstrips && !ok; s++) {
        /* the strip's lanes [i0, i1), and without lanes that show no band
         * at its ends [j0, j1) (nothing there tells an empty well from
         * bare membrane) */
        size_t i0 = a->layout.nlanes, i1 = 0, j0, j1;
        for (size_t i = 0; i < a->layout.nlanes; i++)
            if (a->layout.lanes[i].strip == s) {
                i0 = i < i0 ? i : i0;
                i1 = i + 1;
            }
        if (i1 <= i0)
            continue;
        j0 = i0;
        j1 = i1;
        while (j0 < j1 && !lane_has_band(a, j0))
            j0++;
        while (j1 > j0 && !lane_has_band(a, j1 - 1))
            j1--;
        /* without a manifest's count, bandless end lanes do not count */
        for (int t = 0; t < 2 && !ok; t++) {
            int trim = nl ? t : !t;
            size_t lo = trim ? j0 : i0, c = (trim ? j1 : i1) - lo;
            if (!nl || c == nl)
                off = 0, ok = 1;
            else if (c == nl - lead - trail)
                off = lead, ok = 1;
            else if (c == nl - lead && !trail)
                off = lead, ok = 1;
            else if (c == nl - trail && !lead)
                off = 0, ok = 1;
            if (ok || c > *found) {
                *found = c;
                first = lo;
                strip = s;
            }
        }
    }
    if (!ok)
        return 0;
    if (!nl)
        nl = *nl_io = *found;
    for (size_t i = 0; i < nl; i++)
        lane_of[i] = SIZE_MAX;
    for (size_t i = 0; i < a->layout.nlanes; i++) {
        size_t k = i - first + off;
        skip[i] = 1;
        if (a->layout.lanes[i].strip != strip || i < first ||
            i >= first + *found)
            continue;
        lane_of[k] = i;
        skip[i] = m->nlanes && m->lanes[k].kind != BQ_LANE_SAMPLE;
    }
    return 1;
}

/* Analyses a copy of IMG with AO and matches its lanes to the manifest's
 * (map_lanes). If they do not match, the analysis is run again with the
 * manifest's count as a hint, and that is accepted only if every sample
 * and ladder lane of the manifest then shows a band (a lane the hint
 * invented shows none). On success A, *LANE_OF and *SKIP (new arrays, caller
 * frees) are filled and *HINTED says whether the hint was needed; returns 1.
 * Returns 0 with *FOUND = lanes seen (A holds the first analysis) or -1 with E
 * filled if the analysis itself failed. */
static int
analyze_lanes(const struct bq_image *img, const struct bq_analysis_opts *ao,
              const struct bq_manifest *m, size_t *nl, struct bq_analysis *a,
              size_t **lane_of, size_t **skip, size_t *found, int *hinted,
              struct bq_error *e)
{
    struct bq_analysis_opts o = *ao;
    /* a blot of the manifest is one membrane: one strip (a ladder row is
     * not a strip of its own) */
    o.layout.max_strips = 1;
    *hinted = 0;
    for (int pass = 0; pass < 2; pass++) {
        struct bq_image *tmp = bq_image_clone(img, e);
        struct bq_analysis b2 = {0};
        struct bq_analysis *dst = pass == 0 ? a : &b2;
        size_t *lo, *sk, n = *nl, f = 0;
        int ok;
        if (!tmp)
            return -1;
        if (bq_analyze_image(tmp, &o, dst, e) != BQ_OK) {
            bq_image_destroy(tmp);
            if (pass == 0)
                return -1;
            bq_analysis_fini(&b2);
            return 0;
        }
        bq_image_destroy(tmp);
        lo = bq_calloc_array(dst->layout.nlanes + n + 1, sizeof *lo);
        sk = bq_calloc_array(dst->layout.nlanes + 1, sizeof *sk);
        if (!lo || !sk) {
            free(lo);
            free(sk);
            bq_analysis_fini(&b2);
            bq_error_set(e, BQ_ERR_NOMEM, "out of memory");
            return -1;
        }
        ok = map_lanes(m, dst, &n, lo, sk, &f);
        if (ok && pass == 1)
            for (size_t i = 0; i < n; i++)
                if (m->lanes[i].kind != BQ_LANE_EMPTY &&
                    (lo[i] == SIZE_MAX || !lane_has_band(dst, lo[i])))
                    ok = 0;
        if (pass == 0)
            *found = f;
        if (ok) {
            if (pass == 1) {
                bq_analysis_fini(a);
                *a = b2;
                *hinted = 1;
            }
            *lane_of = lo;
            *skip = sk;
            *nl = n;
            return 1;
        }
        free(lo);
        free(sk);
        bq_analysis_fini(&b2);
        if (!m->nlanes)
            break;
        o.layout.lanes = (int)m->nlanes;
    }
    return 0;
}

/* ---- overlays of the scans as measured ---- */

static const char *const role_name[BQ_NROLES] = {"phospho", "total", "loading"};

/* The overlay file name of scan ROLE of blot BI of M, into OUT of N bytes:
 * "<blot>_<role>.overlay.png" (bq_blot_file_name). */
static void
overlay_name(const struct bq_manifest *m, size_t bi, int role, char *out,
             size_t n)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, "_%s.overlay.png", role_name[role]);
    bq_blot_file_name(m, bi, suffix, out, n);
}

/* Keeps the first note of RES. */
static void
blot_note(struct bq_blot_result *res, const char *what, const char *why)
{
    if (!res->note[0])
        snprintf(res->note, sizeof res->note, "%.100s: %.150s", what, why);
}

/* The overlay of one scan, drawn after it was measured. */
struct overlay_job {
    const struct bq_manifest *m;
    size_t bi;                 /* the blot */
    const char *dir;           /* opts->overlay_dir */
    const char *const *labels; /* lane labels (m's), or NULL */
    size_t nlabels;
};

/* The display of IMG for its overlay (reduced, larger = more protein for
 * polarity POL), or NULL with a note in RES. */
static struct bq_image *
overlay_display(const struct bq_image *img, enum bq_polarity pol,
                struct bq_blot_result *res, const char *scan)
{
    struct bq_error e = {0};
    struct bq_image *d = bq_render_display_create(img, &e);

    if (!d) {
        blot_note(res, scan, e.msg[0] ? e.msg : "overlay not drawn");
        return NULL;
    }
    if (pol == BQ_POLARITY_DARK_BANDS)
        for (size_t y = 0; y < d->height; y++) {
            float *r = bq_row(d, y);
            for (size_t x = 0; x < d->width; x++)
                r[x] = d->max_code - r[x];
        }
    return d;
}

/* Draws scan ROLE of the blot as measured in A over DISPLAY into the
 * overlay folder (through a temporary name, so a file there is always
 * whole). Records the file name in RES, or a note if it fails. */
static void
overlay_draw(const struct overlay_job *ov, int role,
             const struct bq_image *display, const struct bq_analysis *a,
             struct bq_blot_result *res)
{
    const struct bq_mblot *b = &ov->m->blots[ov->bi];
    const struct bq_scanref *ref = role == BQ_ROLE_PHOSPHO ? &b->phospho
                                   : role == BQ_ROLE_TOTAL ? &b->total
                                                           : &b->loading;
    struct bq_render_opts ro = {ov->labels, ov->nlabels, NULL};
    struct bq_error e = {0};
    char name[256], dst[BQ_PATH_MAX + 300], tmp[BQ_PATH_MAX + 310], sub[512],
        page[32] = "", what[64];

    overlay_name(ov->m, ov->bi, role, name, sizeof name);
    snprintf(dst, sizeof dst, "%s/%s", ov->dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", ov->dir, name);
    if (ref->page > 0)
        snprintf(page, sizeof page, " page %u", ref->page + 1);
    if (role == BQ_ROLE_LOADING)
        snprintf(what, sizeof what, "loading control %s", b->loading_name);
    else
        snprintf(what, sizeof what, "%s", role_name[role]);
    snprintf(sub, sizeof sub, "%s \u2014 %s (%s%s)", b->name, what, ref->name,
             page);
    ro.subtitle = sub;
    if (bq_render_overlay_ex(tmp, display, a, ov->m->name, &ro, &e) != BQ_OK) {
        remove(tmp);
        blot_note(res, ref->name, e.msg);
        return;
    }
    if (rename(tmp, dst) != 0) {
        remove(tmp);
        blot_note(res, name, "cannot put the overlay in place");
        return;
    }
    snprintf(res->overlay[role], sizeof res->overlay[role], "%s", name);
}

/* Measures the boxes BX (NB) on IMG (consumed) into OUT like measure_boxes
 * and, with OV, draws the overlay of scan ROLE right after: the display is
 * taken from IMG (reduced to the overlay's panel) before the analysis
 * turns IMG into signal, and the profiles read that signal in IMG itself,
 * so drawing costs a few MB per scan, not a copy of it. */
static enum bq_status
measure_scan(struct bq_image *img, const struct bq_analysis_opts *ao,
             enum bq_polarity pol, const struct bq_box *bx, size_t nb,
             const struct overlay_job *ov, int role, struct bq_analysis *out,
             struct bq_blot_result *res, int strip, struct bq_error *err)
{
    const struct bq_mblot *b = ov ? &ov->m->blots[ov->bi] : NULL;
    const char *scan = !b                        ? ""
                       : role == BQ_ROLE_PHOSPHO ? b->phospho.name
                       : role == BQ_ROLE_TOTAL   ? b->total.name
                                                 : b->loading.name;
    struct bq_image *display = ov ? overlay_display(img, pol, res, scan) : NULL;
    enum bq_status st;

    if (strip) {
        /* the report page's picture of this scan, cut before the pixels
         * become signal; a failure costs only the picture */
        struct bq_error se = {0};
        struct bq_blot_strip *sp = &res->strip[role];
        if (bq_blot_strip_make(img, bx, nb, NULL, STRIP_MAX_W, sp, &se) ==
                BQ_OK &&
            pol == BQ_POLARITY_DARK_BANDS)
            for (size_t y = 0; y < sp->img->height; y++) {
                float *r = bq_row(sp->img, y);
                for (size_t x = 0; x < sp->img->width; x++)
                    r[x] = sp->img->max_code - r[x];
            }
    }
    st = measure_boxes(img, ao, pol, bx, nb, out, err);
    if (st == BQ_OK && strip)
        for (size_t i = 0; i < res->strip[role].nbox; i++) {
            const struct bq_band *mb =
                box_band(out, res->strip[role].box[i].lane, bx[i].band);
            res->strip[role].box[i].saturated = mb && mb->sat_px > 0;
        }
    if (st == BQ_OK && display) {
        out->signal = img; /* borrowed: IMG is now the signal */
        overlay_draw(ov, role, display, out, res);
        out->signal = NULL;
    }
    bq_image_destroy(display);
    return st;
}

void
bq_blot_result_fini(struct bq_blot_result *r)
{
    if (!r)
        return;
    free(r->rows);
    r->rows = NULL;
    r->nrows = 0;
    for (int k = 0; k < BQ_NROLES; k++)
        bq_blot_strip_fini(&r->strip[k]);
}

enum bq_status
bq_blot_process(const struct bq_manifest *m, size_t bi,
                const struct bq_exp_opts *opts, struct bq_blot_result *res,
                struct bq_error *err)
{
    const struct bq_mblot *b = &m->blots[bi];
    struct bq_error e = {0};
    struct bq_image *pimg = NULL, *timg = NULL, *limg = NULL, *preg = NULL,
                    *treg = NULL;
    struct bq_analysis ta = {0}, la = {0}, pm = {0}, tm = {0}, lm = {0};
    struct bq_analysis_opts ao = opts->analysis;
    struct row *rows = NULL, *lrows = NULL;
    size_t nr = 0, nlr = 0, *lane_of = NULL, *skip = NULL, nl, nparts, found;
    size_t *lane_ofl = NULL, *skipl = NULL;
    struct bq_box *pbox = NULL, *tbox = NULL, *lbox = NULL;
    size_t nbox = 0;
    struct overlay_job ov = {0};
    const char **labels = NULL;
    long rsel, rpart;
    const struct row *upper, *lower;
    enum bq_polarity pol;
    enum bq_status st;
    double t0 = now_ms();
    char msg[200];

    memset(res, 0, sizeof *res);
    res->band_kda = NAN;
    res->band_y = NAN;
    res->has_loading = b->loading.path[0] != '\0';

    /* 1. the total scan: lanes, bands, polarity */
    st = load_scan(&b->total, &ao, &timg, &e);
    if (st != BQ_OK)
        return blot_error(res, err, st, "%s", e.msg);
    nl = m->nlanes;
    switch (analyze_lanes(timg, &ao, m, &nl, &ta, &lane_of, &skip, &found,
                          &res->hinted, &e)) {
    case -1:
        st = blot_error(res, err, e.status ? e.status : BQ_ERR_NOMEM, "%s: %s",
                        b->total.name, e.msg);
        goto out;
    case 0:
        st = blot_error(res, err, BQ_ERR_INVALID,
                        "%s line %d: [lanes] lists %zu lanes, but %s shows "
                        "%zu",
                        m->path, m->lanes_line, nl, b->total.name, found);
        goto out;
    }
    res->lanes_found = found;
    pol = ta.prep.polarity;
    res->nlanes = nl;

    /* 2. registration onto the phospho scan */
    st = load_scan(&b->phospho, &ao, &pimg, &e);
    if (st != BQ_OK) {
        st = blot_error(res, err, st, "%s", e.msg);
        goto out;
    }
    if (pol == BQ_POLARITY_DARK_BANDS) {
        /* registration wants larger = more protein: inverted copies (for
         * light bands the scans themselves, 100 MB less at 4096x3072) */
        preg = protein_copy(pimg, pol, &e);
        treg = protein_copy(timg, pol, &e);
        if (!preg || !treg) {
            st = blot_error(res, err, BQ_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    st = bq_register(preg ? preg : pimg, treg ? treg : timg, &opts->reg,
                     &res->reg_total, &e);
    if (st != BQ_OK) {
        st = blot_error(res, err, st, "%s onto %s: %s", b->total.name,
                        b->phospho.name, e.msg);
        goto out;
    }
    if (!res->reg_total.matched) {
        st = blot_error(res, err, BQ_ERR_INVALID,
                        "%s does not match %s: they do not look like the same "
                        "membrane (registration score %.1f, at least %.1f "
                        "needed); check the manifest",
                        b->total.name, b->phospho.name, res->reg_total.score,
                        opts->reg.min_score);
        goto out;
    }

    /* 3. the band row */
    nr = collect_rows(&ta, m, skip, &rows);
    msg[0] = '\0';
    rsel = pick_row(m, b, &ta, rows, nr, lane_of, &res->reg_total,
                    &res->band_kda, msg, sizeof msg);
    if (rsel < 0) {
        st = blot_error(res, err, BQ_ERR_NOT_FOUND, "%s line %d: %s",
                        m->path[0] ? m->path : b->total.name,
                        b->pick_line ? b->pick_line : b->line,
                        msg[0] ? msg : "no such band row");
        goto out;
    }
    /* a doublet: two bands of one row in most lanes (split by a fit),
     * or two rows whose bands touch */
    rpart = -1;
    if (rows[rsel].n * 2 >= rows[rsel].nlanes * 3)
        rpart = rsel;
    else
        rpart = doublet_partner(rows, nr, (size_t)rsel);
    res->doublet = rpart >= 0;
    upper = &rows[rpart >= 0 && rpart < rsel ? rpart : rsel];
    lower = &rows[rpart > rsel ? rpart : rsel];
    nparts = !res->doublet ? 1 : b->doublet_each ? 2 : 1;
    {
        double ox, oy, px, py;
        to_original(&ta, 0.5 * (double)ta.width, 0.5 * (upper->ya + lower->ya),
                    &ox, &oy);
        bq_reg_unmap(&res->reg_total, 0.5 * ((double)pimg->width - 1),
                     0.5 * ((double)pimg->height - 1), ox, oy, &px, &py);
        res->band_y = py;
    }

    /* 4. boxes: on the total scan from its bands, on the others mapped */
    pbox = bq_calloc_array(nl * 2, sizeof *pbox);
    tbox = bq_calloc_array(nl * 2, sizeof *tbox);
    lbox = bq_calloc_array(nl * 2, sizeof *lbox);
    res->rows = bq_calloc_array(nl * 2, sizeof *res->rows);
    if (!pbox || !tbox || !lbox || !res->rows) {
        st = blot_error(res, err, BQ_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nl; i++) {
        struct extent eu, el;
        double w, xa;
        int interp;
        if (m->nlanes && m->lanes[i].kind != BQ_LANE_SAMPLE)
            continue;
        interp = row_extent(&ta, lane_of[i], upper, res->doublet, &eu) == 0;
        interp |= row_extent(&ta, lane_of[i], lower, res->doublet, &el) == 0;
        w = fmax(eu.w, el.w);
        xa = eu.xa;
        for (size_t part = 0; part < nparts; part++) {
            double top = eu.top, bot = el.bottom, cx, cy, px, py;
            struct bq_lane_ratio *lr = &res->rows[res->nrows++];
            if (nparts == 2) {
                /* split between the two bands' centres */
                double mid = upper == lower
                                 ? eu.mid
                                 : 0.5 * (0.5 * (eu.top + eu.bottom) +
                                          0.5 * (el.top + el.bottom));
                top = part == 0 ? eu.top : mid;
                bot = part == 0 ? mid : el.bottom;
            }
            to_original(&ta, xa, 0.5 * (top + bot), &cx, &cy);
            bq_reg_unmap(&res->reg_total, 0.5 * ((double)pimg->width - 1),
                         0.5 * ((double)pimg->height - 1), cx, cy, &px, &py);
            tbox[nbox] = (struct bq_box){
                (int)i + 1, (int)part + 1, cx - 0.5 * w, cy - 0.5 * (bot - top),
                w,          bot - top};
            pbox[nbox] = (struct bq_box){
                (int)i + 1, (int)part + 1, px - 0.5 * w, py - 0.5 * (bot - top),
                w,          bot - top};
            nbox++;
            lr->lane = i;
            lr->part = !res->doublet ? BQ_PART_ONE
                       : nparts == 1 ? BQ_PART_SUM
                       : part == 0   ? BQ_PART_UPPER
                                     : BQ_PART_LOWER;
            lr->flags = interp ? BQ_FLAG_INTERP : 0;
            lr->loading = lr->loading_se = lr->loading_snr = NAN;
            lr->phospho_per_loading = lr->total_per_loading = NAN;
        }
    }

    if (getenv("BQ_DEBUG_EXP"))
        for (size_t k = 0; k < nbox; k++)
            fprintf(stderr,
                    "%s lane %d part %d total (%.1f %.1f %.1f %.1f) phospho "
                    "(%.1f %.1f)\n",
                    b->name, tbox[k].lane, tbox[k].band, tbox[k].x, tbox[k].y,
                    tbox[k].w, tbox[k].h, pbox[k].x, pbox[k].y);
    /* 5. the loading control: its own lanes (the manifest's, like the
     * total's) and its own strongest row (GAPDH, actin, a stain) */
    if (res->has_loading) {
        long lsel = -1;
        size_t lfound = 0, nll = nl;
        int lh = 0;
        st = load_scan(&b->loading, &ao, &limg, &e);
        if (st != BQ_OK) {
            st = blot_error(res, err, st, "%s", e.msg);
            goto out;
        }
        ao.prepare.polarity = pol;
        switch (analyze_lanes(limg, &ao, m, &nll, &la, &lane_ofl, &skipl,
                              &lfound, &lh, &e)) {
        case -1:
            st = blot_error(res, err, e.status ? e.status : BQ_ERR_NOMEM,
                            "%s: %s", b->loading.name, e.msg);
            goto out;
        case 0:
            st = blot_error(res, err, BQ_ERR_INVALID,
                            "%s shows %zu lanes, %s %zu: not the same gel?",
                            b->loading.name, lfound, b->total.name, nl);
            goto out;
        }
        if (nll != nl) {
            st = blot_error(res, err, BQ_ERR_INVALID,
                            "%s shows %zu lanes, %s %zu: not the same gel?",
                            b->loading.name, nll, b->total.name, nl);
            goto out;
        }
        nlr = collect_rows(&la, m, skipl, &lrows);
        for (size_t j = 0; j < nlr; j++)
            if (lsel < 0 || lrows[j].vol > lrows[lsel].vol)
                lsel = (long)j;
        if (lsel < 0) {
            st = blot_error(res, err, BQ_ERR_NOT_FOUND,
                            "%s: no band found on the loading control",
                            b->loading.name);
            goto out;
        }
        for (size_t k = 0; k < nbox; k++) {
            struct extent ex;
            double h, cx, cy;
            size_t li = lane_ofl[pbox[k].lane - 1];
            if (k > 0 && pbox[k].lane == pbox[k - 1].lane) {
                lbox[k] = lbox[k - 1];
                continue;
            }
            row_extent(&la, li, &lrows[lsel], 0, &ex);
            h = ex.bottom - ex.top;
            to_original(&la, ex.xa, 0.5 * (ex.top + ex.bottom), &cx, &cy);
            lbox[k] = (struct bq_box){pbox[k].lane, 1,    cx - 0.5 * ex.w,
                                      cy - 0.5 * h, ex.w, h};
        }
    }

    /* 6. the same boxes measured on every scan (and drawn as measured) */
    if (opts->overlay_dir) {
        ov.m = m;
        ov.bi = bi;
        ov.dir = opts->overlay_dir;
        if (m->nlanes) {
            labels = bq_calloc_array(m->nlanes, sizeof *labels);
            for (size_t i = 0; labels && i < m->nlanes; i++)
                labels[i] = m->lanes[i].label;
            ov.labels = labels;
            ov.nlabels = labels ? m->nlanes : 0;
        }
    }
    st = measure_scan(timg, &opts->analysis, pol, tbox, nbox,
                      opts->overlay_dir ? &ov : NULL, BQ_ROLE_TOTAL, &tm, res,
                      opts->strips, &e);
    if (st == BQ_OK)
        st = measure_scan(pimg, &opts->analysis, pol, pbox, nbox,
                          opts->overlay_dir ? &ov : NULL, BQ_ROLE_PHOSPHO, &pm,
                          res, opts->strips, &e);
    if (st == BQ_OK && res->has_loading) {
        /* one loading box per lane */
        size_t nlb = 0;
        for (size_t k = 0; k < nbox; k++)
            if (k == 0 || lbox[k].lane != lbox[k - 1].lane)
                lbox[nlb++] = lbox[k];
        st = measure_scan(limg, &opts->analysis, pol, lbox, nlb,
                          opts->overlay_dir ? &ov : NULL, BQ_ROLE_LOADING, &lm,
                          res, opts->strips, &e);
    }
    if (st != BQ_OK) {
        st = blot_error(res, err, st, "measuring %s: %s", b->name, e.msg);
        goto out;
    }
    for (size_t k = 0; k < res->nrows; k++) {
        struct bq_lane_ratio *lr = &res->rows[k];
        int lane = (int)lr->lane + 1,
            band = nparts == 2 && lr->part == BQ_PART_LOWER ? 2 : 1;
        const struct bq_band *pb = box_band(&pm, lane, band),
                             *tb = box_band(&tm, lane, band),
                             *lb = res->has_loading ? box_band(&lm, lane, 1)
                                                    : NULL;
        if (!pb || !tb) {
            lr->phospho = lr->total = lr->ratio = NAN;
            lr->flags |= BQ_FLAG_NO_RATIO;
            continue;
        }
        lr->phospho = pb->volume;
        lr->phospho_se = pb->volume_se;
        lr->phospho_snr = pb->snr;
        lr->total = tb->volume;
        lr->total_se = tb->volume_se;
        lr->total_snr = tb->snr;
        if (pb->sat_px)
            lr->flags |= BQ_FLAG_SAT_PHOSPHO;
        if (tb->sat_px)
            lr->flags |= BQ_FLAG_SAT_TOTAL;
        if (pb->snr < opts->detect_snr)
            lr->flags |= BQ_FLAG_BELOW_DETECT;
        if (tb->snr < opts->low_snr)
            lr->flags |= BQ_FLAG_LOW_TOTAL;
        if (lb) {
            lr->loading = lb->volume;
            lr->loading_se = lb->volume_se;
            lr->loading_snr = lb->snr;
            if (lb->sat_px)
                lr->flags |= BQ_FLAG_SAT_LOADING;
            if (lb->snr < opts->low_snr)
                lr->flags |= BQ_FLAG_LOW_TOTAL;
            if (lb->volume > 0) {
                lr->phospho_per_loading = lr->phospho / lb->volume;
                lr->total_per_loading = lr->total / lb->volume;
            }
        }
        if (lr->total > 0) {
            double rp = lr->phospho != 0 ? lr->phospho_se / lr->phospho : 0,
                   rt = lr->total_se / lr->total;
            lr->ratio = lr->phospho / lr->total;
            lr->ratio_se = lr->phospho != 0
                               ? fabs(lr->ratio) * sqrt(rp * rp + rt * rt)
                               : lr->phospho_se / lr->total;
        } else {
            lr->ratio = lr->ratio_se = NAN;
            lr->flags |= BQ_FLAG_NO_RATIO;
        }
    }
    /* fold change over the control lane of this blot, part by part */
    for (size_t k = 0; k < res->nrows; k++) {
        struct bq_lane_ratio *lr = &res->rows[k];
        double c = NAN;
        size_t ctl = m->nlanes ? m->control : 0;
        for (size_t j = 0; j < res->nrows; j++)
            if (res->rows[j].lane == ctl && res->rows[j].part == lr->part)
                c = res->rows[j].ratio;
        if (isfinite(c) && c > 0 && isfinite(lr->ratio)) {
            lr->fold_change = lr->ratio / c;
        } else {
            lr->fold_change = NAN;
            lr->flags |= BQ_FLAG_CONTROL_BAD;
        }
    }
    st = BQ_OK;
out:
    bq_analysis_fini(&ta);
    bq_analysis_fini(&la);
    bq_analysis_fini(&pm);
    bq_analysis_fini(&tm);
    bq_analysis_fini(&lm);
    bq_image_destroy(pimg);
    bq_image_destroy(timg);
    bq_image_destroy(limg);
    bq_image_destroy(preg);
    bq_image_destroy(treg);
    free(rows);
    free(lrows);
    free(lane_of);
    free(skip);
    free(lane_ofl);
    free(skipl);
    free(pbox);
    free(tbox);
    free(lbox);
    free(labels);
    res->ms = now_ms() - t0;
    if (st != BQ_OK)
        res->status = st;
    return st;
}

/* ---- statistics over replicate blots ---- */

/* Label of lane I ("lane 3" when the manifest has no lanes). */
static const char *
lane_label(const struct bq_manifest *m, size_t i, char *buf, size_t size)
{
    if (i < m->nlanes)
        return m->lanes[i].label;
    snprintf(buf, size, "lane %zu", i + 1);
    return buf;
}

static int
same_target(const struct bq_manifest *m, size_t a, size_t b)
{
    return strcasecmp(m->blots[a].target, m->blots[b].target) == 0;
}

/* Appends to a growing array; returns the new element or NULL. */
static void *
grow(void **arr, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        void *na = realloc(*arr, nc * size);
        if (!na)
            return NULL;
        *arr = na;
        *cap = nc;
    }
    memset((char *)*arr + *n * size, 0, size);
    return (char *)*arr + (*n)++ * size;
}

/* Mean fold change of lanes labelled like lane LANE in blot RES, part
 * PART; NaN if none. ORFLAGS collects their flags. */
static double
blot_fc(const struct bq_manifest *m, const struct bq_blot_result *r,
        size_t lane, enum bq_part part, unsigned *orflags)
{
    char b1[32], b2[32];
    double s = 0;
    size_t n = 0;
    const char *want = lane_label(m, lane, b1, sizeof b1);
    for (size_t k = 0; k < r->nrows; k++) {
        const struct bq_lane_ratio *lr = &r->rows[k];
        if (lr->part != part ||
            strcmp(lane_label(m, lr->lane, b2, sizeof b2), want) != 0)
            continue;
        *orflags |= lr->flags;
        if (isfinite(lr->fold_change)) {
            s += lr->fold_change;
            n++;
        }
    }
    return n ? s / (double)n : NAN;
}

enum bq_status
bq_exp_summarize(const struct bq_manifest *m, const struct bq_blot_result *res,
                 struct bq_exp_summary *out, struct bq_error *err)
{
    size_t capc = 0, capf = 0, maxl = 0;
    double *v = NULL, *dose = NULL, *y = NULL;
    size_t npts_cap;
    char b1[32], b2[32];

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < m->nblots; i++)
        if (res[i].status == BQ_OK && res[i].nlanes > maxl)
            maxl = res[i].nlanes;
    npts_cap = (m->nblots + 1) * (maxl + 1) * 2;
    v = bq_alloc_array(m->nblots + 1, sizeof *v);
    dose = bq_alloc_array(npts_cap, sizeof *dose);
    y = bq_alloc_array(npts_cap, sizeof *y);
    if (!v || !dose || !y)
        goto nomem;

    for (size_t t0 = 0; t0 < m->nblots; t0++) {
        int first = 1;
        if (res[t0].status != BQ_OK)
            continue;
        /* each target once: at its first successful blot */
        for (size_t j = 0; j < t0; j++)
            if (res[j].status == BQ_OK && same_target(m, j, t0))
                first = 0;
        if (!first)
            continue;
        for (int part = BQ_PART_ONE; part <= BQ_PART_LOWER; part++) {
            size_t c0 = out->nconds;
            int present = 0;
            for (size_t k = 0; k < res[t0].nrows; k++)
                present |= res[t0].rows[k].part == (enum bq_part)part;
            if (!present)
                continue;
            /* conditions: distinct labels of quantified lanes, in order */
            for (size_t lane = 0; lane < maxl; lane++) {
                struct bq_condition *c;
                size_t n = 0;
                unsigned fl = 0;
                int dup = 0, quant = 0;
                const char *lab = lane_label(m, lane, b1, sizeof b1);
                for (size_t q = 0; q < lane; q++)
                    dup |= strcmp(lane_label(m, q, b2, sizeof b2), lab) == 0;
                for (size_t k = 0; k < res[t0].nrows; k++)
                    quant |= res[t0].rows[k].lane == lane;
                if (dup || !quant)
                    continue;
                for (size_t i = t0; i < m->nblots; i++)
                    if (res[i].status == BQ_OK && same_target(m, i, t0))
                        v[n++] =
                            blot_fc(m, &res[i], lane, (enum bq_part)part, &fl);
                c = grow((void **)&out->conds, &out->nconds, &capc, sizeof *c);
                if (!c)
                    goto nomem;
                c->blot0 = t0;
                c->part = (enum bq_part)part;
                c->lane = lane;
                c->flags = fl;
                bq_summarize(v, n, &c->fc);
                c->t = c->df = c->p = c->p_holm = NAN;
                if (lane != (m->nlanes ? m->control : 0))
                    c->p = bq_ttest_log2_vs_1(v, n, &c->t, &c->df);
                c->p_holm = c->p;
            }
            /* Holm over the conditions of this target and band */
            {
                size_t nc = out->nconds - c0;
                double *p = bq_alloc_array(nc ? nc : 1, sizeof *p);
                if (!p)
                    goto nomem;
                for (size_t k = 0; k < nc; k++)
                    p[k] = out->conds[c0 + k].p;
                if (bq_holm(p, nc, NULL) == BQ_OK)
                    for (size_t k = 0; k < nc; k++)
                        out->conds[c0 + k].p_holm = p[k];
                free(p);
            }
            /* dose-response: each agent of the manifest's lanes */
            for (size_t lane = 0; lane < m->nlanes; lane++) {
                const struct bq_mlane *ml = &m->lanes[lane];
                struct bq_dose_fit *f;
                double doses[64];
                size_t nd = 0, np = 0;
                int dup = 0, mixed = 0;
                if (ml->kind != BQ_LANE_SAMPLE || !ml->agent[0])
                    continue;
                for (size_t q = 0; q < lane; q++)
                    dup |= strcmp(m->lanes[q].agent, ml->agent) == 0;
                if (dup)
                    continue;
                for (size_t q = lane; q < m->nlanes; q++) {
                    const struct bq_mlane *o = &m->lanes[q];
                    int seen = 0;
                    if (strcmp(o->agent, ml->agent) != 0)
                        continue;
                    mixed |= strcmp(o->unit, ml->unit) != 0;
                    for (size_t d = 0; d < nd; d++)
                        seen |= doses[d] == o->dose;
                    if (!seen && o->dose > 0 && nd < 64)
                        doses[nd++] = o->dose;
                }
                if (nd < 2)
                    continue; /* a single concentration: no curve */
                f = grow((void **)&out->fits, &out->nfits, &capf, sizeof *f);
                if (!f)
                    goto nomem;
                f->blot0 = t0;
                f->part = (enum bq_part)part;
                f->lane = lane;
                f->ndoses = nd;
                if (mixed) {
                    snprintf(f->note, sizeof f->note,
                             "doses in different units");
                    continue;
                }
                if (nd < 4) {
                    snprintf(f->note, sizeof f->note,
                             "fewer than 4 doses: no fit");
                    continue;
                }
                for (size_t i = t0; i < m->nblots; i++) {
                    if (res[i].status != BQ_OK || !same_target(m, i, t0))
                        continue;
                    for (size_t k = 0; k < res[i].nrows; k++) {
                        const struct bq_lane_ratio *lr = &res[i].rows[k];
                        const struct bq_mlane *o = &m->lanes[lr->lane];
                        int ctl = lr->lane == m->control;
                        if (lr->part != (enum bq_part)part ||
                            !isfinite(lr->fold_change) || np >= npts_cap)
                            continue;
                        if (ctl || strcmp(o->agent, ml->agent) == 0) {
                            dose[np] = ctl ? 0 : o->dose;
                            y[np++] = lr->fold_change;
                        }
                    }
                }
                {
                    struct bq_error fe = {0};
                    if (bq_hill_fit(dose, y, np, &f->fit, &fe) == BQ_OK) {
                        f->fitted = 1;
                        snprintf(f->note, sizeof f->note, "%s", f->fit.note);
                    } else {
                        snprintf(f->note, sizeof f->note, "%s", fe.msg);
                    }
                }
            }
        }
    }
    free(v);
    free(dose);
    free(y);
    return BQ_OK;
nomem:
    free(v);
    free(dose);
    free(y);
    bq_exp_summary_fini(out);
    return bq_error_set(err, BQ_ERR_NOMEM, "statistics: out of memory");
}

void
bq_exp_summary_fini(struct bq_exp_summary *s)
{
    if (!s)
        return;
    free(s->conds);
    free(s->fits);
    memset(s, 0, sizeof *s);
}

/* ---- CSV ---- */

void
bq_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A number, or an empty field for NaN/Inf (missing). */
static void
csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
}

void
bq_csv_numbers(FILE *f, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        csv_num(f, v[i]);
        fputc(',', f);
    }
}

static void
csv_flags(FILE *f, unsigned fl)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {BQ_FLAG_SAT_PHOSPHO, "saturated_phospho"},
        {BQ_FLAG_SAT_TOTAL, "saturated_total"},
        {BQ_FLAG_SAT_LOADING, "saturated_loading"},
        {BQ_FLAG_BELOW_DETECT, "below_detection"},
        {BQ_FLAG_LOW_TOTAL, "low_signal"},
        {BQ_FLAG_NO_RATIO, "no_ratio"},
        {BQ_FLAG_INTERP, "no_total_band"},
        {BQ_FLAG_CONTROL_BAD, "control_unusable"},
    };
    int first = 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (fl & names[i].bit) {
            fprintf(f, "%s%s", first ? "" : ";", names[i].name);
            first = 0;
        }
}

/* Writes the lane's condition columns: condition,agent,dose,dose_unit. */
static void
csv_condition(FILE *f, const struct bq_manifest *m, size_t lane)
{
    char buf[32];
    bq_csv_field(f, lane_label(m, lane, buf, sizeof buf));
    fputc(',', f);
    if (lane < m->nlanes && m->lanes[lane].agent[0]) {
        bq_csv_field(f, m->lanes[lane].agent);
        fputc(',', f);
        csv_num(f, m->lanes[lane].dose);
        fputc(',', f);
        bq_csv_field(f, m->lanes[lane].unit);
    } else {
        fputs(",,", f);
    }
}

enum bq_status
bq_write_ratios_csv(FILE *f, const struct bq_manifest *m,
                    const struct bq_blot_result *res)
{
    fputs("experiment,blot,target,band,replicate,lane,condition,agent,dose,"
          "dose_unit,control,phospho,total,loading,loading_name,ratio,"
          "ratio_se,fold_change,phospho_per_loading,total_per_loading,"
          "phospho_snr,total_snr,loading_snr,flags\n",
          f);
    for (size_t i = 0; i < m->nblots; i++) {
        const struct bq_mblot *b = &m->blots[i];
        if (res[i].status != BQ_OK)
            continue;
        for (size_t k = 0; k < res[i].nrows; k++) {
            const struct bq_lane_ratio *lr = &res[i].rows[k];
            bq_csv_field(f, m->name);
            fputc(',', f);
            bq_csv_field(f, b->name);
            fputc(',', f);
            bq_csv_field(f, b->target);
            fprintf(f, ",%s,%d,%zu,", bq_part_name(lr->part), b->replicate,
                    lr->lane + 1);
            csv_condition(f, m, lr->lane);
            fprintf(f, ",%d,", lr->lane == (m->nlanes ? m->control : 0));
            {
                const double v1[] = {lr->phospho, lr->total, lr->loading};
                const double v2[] = {lr->ratio,
                                     lr->ratio_se,
                                     lr->fold_change,
                                     lr->phospho_per_loading,
                                     lr->total_per_loading,
                                     lr->phospho_snr,
                                     lr->total_snr,
                                     lr->loading_snr};
                bq_csv_numbers(f, v1, 3);
                if (res[i].has_loading)
                    bq_csv_field(f, b->loading_name);
                fputc(',', f);
                bq_csv_numbers(f, v2, 8);
            }
            csv_flags(f, lr->flags);
            fputc('\n', f);
        }
    }
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}

enum bq_status
bq_write_blots_csv(FILE *f, const struct bq_manifest *m,
                   const struct bq_blot_result *res)
{
    fputs("experiment,blot,target,replicate,phospho,total,loading,status,"
          "total_dx,total_dy,total_angle,total_score,lanes,band_y,band_kda,"
          "doublet,"
          "message\n",
          f);
    for (size_t i = 0; i < m->nblots; i++) {
        const struct bq_mblot *b = &m->blots[i];
        const struct bq_blot_result *r = &res[i];
        bq_csv_field(f, m->name);
        fputc(',', f);
        bq_csv_field(f, b->name);
        fputc(',', f);
        bq_csv_field(f, b->target);
        fprintf(f, ",%d,", b->replicate);
        bq_csv_field(f, b->phospho.name);
        fputc(',', f);
        bq_csv_field(f, b->total.name);
        fputc(',', f);
        bq_csv_field(f, b->loading.name);
        fprintf(f, ",%s,", r->status == BQ_OK ? "ok" : "failed");
        if (r->reg_total.score > 0)
            fprintf(f, "%.2f,%.2f,%.3f,%.1f,", r->reg_total.dx, r->reg_total.dy,
                    r->reg_total.angle, r->reg_total.score);
        else
            fputs(",,,,", f);
        fprintf(f, "%zu,", r->nlanes);
        csv_num(f, r->band_y);
        fputc(',', f);
        csv_num(f, r->band_kda);
        fprintf(f, ",%d,", r->doublet);
        if (r->status != BQ_OK) {
            bq_csv_field(f, r->error);
        } else if (r->hinted || r->note[0]) {
            char note[512] = "";
            if (r->hinted)
                snprintf(note, sizeof note,
                         "the total scan showed %zu lanes on its own; the "
                         "manifest's %zu were imposed%s",
                         r->lanes_found, r->nlanes, r->note[0] ? "; " : "");
            snprintf(note + strlen(note), sizeof note - strlen(note), "%s",
                     r->note);
            bq_csv_field(f, note);
        }
        fputc('\n', f);
    }
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}

/* "***" p < 0.001, "**" < 0.01, "*" < 0.05, "ns", "" if untested. */
static const char *
stars(double p)
{
    if (!isfinite(p))
        return "";
    return p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : "ns";
}

enum bq_status
bq_write_summary_csv(FILE *f, const struct bq_manifest *m,
                     const struct bq_exp_summary *s, int header)
{
    if (header)
        fputs("experiment,target,band,condition,agent,dose,dose_unit,"
              "control,n,mean_fold_change,sd,sem,ci95_low,ci95_high,t,df,"
              "p_value,p_holm,significance,flags\n",
              f);
    for (size_t i = 0; i < s->nconds; i++) {
        const struct bq_condition *c = &s->conds[i];
        bq_csv_field(f, m->name);
        fputc(',', f);
        bq_csv_field(f, m->blots[c->blot0].target);
        fprintf(f, ",%s,", bq_part_name(c->part));
        csv_condition(f, m, c->lane);
        fprintf(f, ",%d,%zu,", c->lane == (m->nlanes ? m->control : 0),
                c->fc.n);
        {
            const double v[] = {c->fc.mean,   c->fc.sd,      c->fc.sem,
                                c->fc.ci_low, c->fc.ci_high, c->t,
                                c->df,        c->p,          c->p_holm};
            bq_csv_numbers(f, v, 9);
        }
        fprintf(f, "%s,", stars(c->p_holm));
        csv_flags(f, c->flags);
        fputc('\n', f);
    }
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}

enum bq_status
bq_write_doseresponse_csv(FILE *f, const struct bq_manifest *m,
                          const struct bq_exp_summary *s, int header)
{
    if (header)
        fputs("experiment,target,band,agent,dose_unit,doses,n,bottom,top,"
              "ec50,ec50_ci95_low,ec50_ci95_high,log10_ec50,log10_ec50_se,"
              "hill,hill_se,r_squared,rmse,converged,note\n",
              f);
    for (size_t i = 0; i < s->nfits; i++) {
        const struct bq_dose_fit *d = &s->fits[i];
        const struct bq_hill_fit *h = &d->fit;
        const struct bq_mlane *ml = &m->lanes[d->lane];
        bq_csv_field(f, m->name);
        fputc(',', f);
        bq_csv_field(f, m->blots[d->blot0].target);
        fprintf(f, ",%s,", bq_part_name(d->part));
        bq_csv_field(f, ml->agent);
        fputc(',', f);
        bq_csv_field(f, ml->unit);
        fprintf(f, ",%zu,", d->ndoses);
        if (d->fitted) {
            const double v[] = {h->bottom,        h->top,
                                h->ec50,          h->ec50_ci_low,
                                h->ec50_ci_high,  h->log10_ec50,
                                h->log10_ec50_se, h->hill,
                                h->hill_se,       h->r2,
                                h->rmse};
            fprintf(f, "%zu,", h->n);
            bq_csv_numbers(f, v, 11);
            fprintf(f, "%d,", h->converged);
        } else {
            fputs(",,,,,,,,,,,,,0,", f);
        }
        bq_csv_field(f, d->note);
        fputc('\n', f);
    }
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}
