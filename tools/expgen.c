/* expgen: writes a generated Western-blot experiment with exact ground
 * truth: the scans (16-bit TIFF), the manifest blotquant.ini and truth.csv
 * (format in the experiment spec, "Ground truth written by the experiment
 * generator").
 *
 * The experiment follows the study that motivates blotquant: 32D-MPL cells
 * treated with vehicle, rhTPO and dose series of eltrombopag and
 * hetrombopag; blots of pSTAT3/STAT3, pSTAT5/STAT5, pAKT/AKT and
 * pERK1/2 / ERK1/2 with GAPDH as loading control; three replicates.
 *
 * Biology. For target t and lane l of replicate r:
 *   total(t, l)   = share(t) * load(r, l)
 *   phospho(t, l) = total(t, l) * fold(t, dose) * noise(r, t, l)
 *   GAPDH(l)      = load(r, l)
 * with fold(t, d) = 1 + (top(t) - 1) * d^n / (d^n + EC50^n) (vehicle 1,
 * rhTPO top), load ~ U(0.8, 1.2) shared by every membrane of a replicate
 * (one lysate), noise = exp(0.05 N(0,1)). Each scan has its own exposure
 * (peak_frac), background, noise and placement; every number in truth.csv
 * is taken from what was rendered (exact band sums), so the truth fold
 * changes include the noise and the pixel sampling.
 *
 * Each blot is one membrane. Its phospho scan is the reference; the total
 * scan (re-probed) and the GAPDH scan (re-probed again) show the same lanes
 * and band rows, moved by a random rigid transform. The lanes, doses,
 * agents and targets come from the tables below.
 *
 * Exit codes: 0 success, 1 generation or writing failed, 2 usage. */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define EXP_MAX_REPS 9 /* replicates */
#define EXP_PI 3.14159265358979323846
#define EXP_BIO_NOISE 0.05  /* SD of the log biological noise per lane */
#define EXP_LOAD_SPREAD 0.2 /* loading factor U(1 - s, 1 + s) */

/* ---------------------------------------------------------------------- */
/* The experiment: tables                                                  */
/* ---------------------------------------------------------------------- */

enum lane_kind {
    LANE_LADDER,  /* molecular weight ladder */
    LANE_CONTROL, /* vehicle: the control lane, fold change 1 */
    LANE_FULL,    /* full agonist (rhTPO): fold change = top */
    LANE_DOSE,    /* an agent of the agent table at a dose in nM */
    LANE_EMPTY    /* empty well */
};

/* One lane of the gel layout, shared by every blot. */
struct lane_def {
    enum lane_kind kind; /* what the lane holds */
    const char *agent;   /* label for LADDER/CONTROL/EMPTY, else agent */
    double dose;         /* in UNIT (LANE_DOSE: nM) */
    const char *unit;    /* "nM", "ng/mL"; NULL without a dose */
};

static const struct lane_def lane_table[] = {
    {LANE_LADDER, "ladder", 0, NULL},
    {LANE_CONTROL, "vehicle", 0, NULL},
    {LANE_FULL, "rhTPO", 50, "ng/mL"},
    {LANE_DOSE, "eltrombopag", 0.1, "nM"},
    {LANE_DOSE, "eltrombopag", 1, "nM"},
    {LANE_DOSE, "eltrombopag", 3, "nM"},
    {LANE_DOSE, "eltrombopag", 10, "nM"},
    {LANE_DOSE, "eltrombopag", 30, "nM"},
    {LANE_DOSE, "eltrombopag", 100, "nM"},
    {LANE_DOSE, "eltrombopag", 1000, "nM"},
    {LANE_DOSE, "hetrombopag", 0.01, "nM"},
    {LANE_DOSE, "hetrombopag", 0.1, "nM"},
    {LANE_DOSE, "hetrombopag", 0.3, "nM"},
    {LANE_DOSE, "hetrombopag", 1, "nM"},
    {LANE_DOSE, "hetrombopag", 3, "nM"},
    {LANE_DOSE, "hetrombopag", 10, "nM"},
    {LANE_DOSE, "hetrombopag", 100, "nM"},
};
#define NLANES_TABLE (sizeof lane_table / sizeof lane_table[0])
_Static_assert(NLANES_TABLE <= BQ_SYNTH_MAX_LANES, "too many lanes");

/* A dose-series agent: the same EC50 and Hill slope for every target. */
struct agent_def {
    const char *name; /* as in lane_table */
    double ec50_nm;   /* nM */
    double hill;      /* Hill slope */
};

static const struct agent_def agent_table[] = {
    {"eltrombopag", 13.4, 1.0},
    {"hetrombopag", 0.4, 1.0},
};
#define NAGENTS (sizeof agent_table / sizeof agent_table[0])

/* One blot (membrane): a phospho and a total antibody. */
struct target_def {
    const char *blot;   /* blot name and phospho scan stem: "pSTAT3" */
    const char *target; /* the manifest's target: "STAT3", "ERK1/2" */
    const char *total;  /* total scan stem: "STAT3" */
    int nsub;           /* bands of the row: 1, or 2 (doublet) */
    double kda[2];      /* band sizes, upper band first */
    double share[2];    /* relative total protein of each band */
    double top;         /* full response, fold over vehicle */
    double ns_kda[2];   /* non-specific band of the phospho [0] and
                           total [1] antibody, kDa; 0 = none */
    double ns_level[2]; /* its volume / the full-response phospho (total)
                           volume, before loading */
};

static const struct target_def target_table[] = {
    {"pSTAT3", "STAT3", "STAT3", 1, {88, 0}, {1, 0}, 8.0, {130, 0}, {0.3, 0}},
    {"pSTAT5", "STAT5", "STAT5", 1, {90, 0}, {1, 0}, 15.0, {0, 50}, {0, 0.25}},
    {"pAKT", "AKT", "AKT", 1, {60, 0}, {1, 0}, 4.0, {110, 0}, {0.35, 0}},
    {"pERK", "ERK1/2", "ERK", 2, {44, 42}, {1.0, 1.6}, 5.0, {65, 0}, {0.25, 0}},
};
#define NTARGETS (sizeof target_table / sizeof target_table[0])

static const double ladder_kda[] = {250, 150, 100, 75, 50, 37, 25, 20};
#define NLADDER (sizeof ladder_kda / sizeof ladder_kda[0])
#define GAPDH_KDA 37.0
#define LADDER_TOP 0.14    /* 250 kDa at this fraction of the height */
#define LADDER_BOTTOM 0.88 /* 20 kDa here; log-linear in between */

/* Scan roles, in the order of the registration table. */
enum role { ROLE_PHOSPHO = 0, ROLE_TOTAL = 1, ROLE_LOADING = 2, NROLES = 3 };
static const char *const role_name[NROLES] = {"phospho", "total", "loading"};

/* ---------------------------------------------------------------------- */
/* Random numbers: splitmix64 streams keyed by what they are for           */
/* ---------------------------------------------------------------------- */

/* Stream keys: every quantity has its own stream, so adding replicates or
 * choosing --pair leaves the draws of the others as they were. */
enum key { KEY_LOAD = 1, KEY_BIO, KEY_MEMBRANE, KEY_SCAN, KEY_OFFSET };

struct rng {
    uint64_t s; /* splitmix64 state */
};

/* Returns the next 64 random bits of R. */
static uint64_t
rng_next(struct rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Returns a stream for SEED and the keys A, B, C. */
static struct rng
rng_for(uint64_t seed, unsigned a, unsigned b, unsigned c)
{
    struct rng r = {seed};
    uint64_t k[3] = {a, b, c};

    for (int i = 0; i < 3; i++) {
        r.s ^= rng_next(&r) + k[i] * UINT64_C(0xd1b54a32d192ed03);
        (void)rng_next(&r);
    }
    return r;
}

/* Returns a uniform double in [A, B). */
static double
rng_uniform(struct rng *r, double a, double b)
{
    double u = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);

    return a + (b - a) * u;
}

/* Returns a standard normal deviate (Box-Muller, one of the pair). */
static double
rng_normal(struct rng *r)
{
    double u = 1.0 - rng_uniform(r, 0.0, 1.0); /* (0, 1] */
    double v = rng_uniform(r, 0.0, 1.0);

    return sqrt(-2.0 * log(u)) * cos(2.0 * EXP_PI * v);
}

/* Returns a 64-bit seed for the synthetic renderer from R. */
static uint64_t
rng_seed(struct rng *r)
{
    return rng_next(r);
}

/* ---------------------------------------------------------------------- */
/* Command line                                                            */
/* ---------------------------------------------------------------------- */

/* Everything the command line can set. */
struct cli {
    const char *out;    /* -o: experiment folder */
    uint64_t seed;      /* --seed */
    int replicates;     /* --replicates */
    size_t width;       /* --width, px */
    size_t height;      /* --height, px */
    double max_shift;   /* --max-shift, px */
    double max_angle;   /* --max-angle, degrees */
    const char *offset; /* --offset "DX,DY,DEG" or NULL */
    const char *pair;   /* --pair BLOT or NULL */
    int no_manifest;    /* --no-manifest */
    int no_loading;     /* --no-loading */
    int doublet_each;   /* --doublet-each */
    int help;           /* --help */
    int argc;           /* the command line, for the manifest's header */
    char **argv;
    /* derived */
    int fixed_offset; /* 1: OFF is used for every re-probed scan */
    double off[3];    /* dx, dy (px), angle (deg) from --offset */
    int pair_target;  /* index into target_table with --pair, else -1 */
};

enum opt_kind { OPT_FLAG, OPT_INT, OPT_SIZE, OPT_U64, OPT_DOUBLE, OPT_STRING };

/* One command-line option. */
struct opt {
    const char *name;    /* long name without "--" ("o" is -o) */
    const char *metavar; /* argument name in --help, NULL for flags */
    enum opt_kind kind;  /* argument type */
    size_t off;          /* offset of the target in struct cli */
    double lo, hi;       /* accepted numeric range (inclusive) */
    const char *help;    /* one line for --help */
};

#define C(f) offsetof(struct cli, f)

static const struct opt opts[] = {
    {"o", "DIR", OPT_STRING, C(out), 0, 0,
     "experiment folder (created; files replaced)"},
    {"seed", "N", OPT_U64, C(seed), 0, 0, "random seed (default 1)"},
    {"replicates", "N", OPT_INT, C(replicates), 1, EXP_MAX_REPS,
     "replicates (default 3)"},
    {"width", "W", OPT_SIZE, C(width), 200, 8192,
     "scan width in pixels (default 640)"},
    {"height", "H", OPT_SIZE, C(height), 120, 8192,
     "scan height in pixels (default 280)"},
    {"max-shift", "PX", OPT_DOUBLE, C(max_shift), 0, 100,
     "largest |dx|, |dy| of a re-probed scan (15)"},
    {"max-angle", "DEG", OPT_DOUBLE, C(max_angle), 0, 8,
     "largest |angle| of a re-probed scan (2)"},
    {"offset", "DX,DY,DEG", OPT_STRING, C(offset), 0, 0,
     "exactly this offset for every re-probed scan"},
    {"pair", "BLOT", OPT_STRING, C(pair), 0, 0,
     "only the phospho/total pair of BLOT, rep 1"},
    {"no-manifest", NULL, OPT_FLAG, C(no_manifest), 0, 0,
     "no manifest or ladder; names pair in one folder"},
    {"no-loading", NULL, OPT_FLAG, C(no_loading), 0, 0,
     "no GAPDH loading-control scans"},
    {"doublet-each", NULL, OPT_FLAG, C(doublet_each), 0, 0,
     "manifest: each band of ERK1/2 (default sum)"},
    {"help", NULL, OPT_FLAG, C(help), 0, 0, "print this help and exit"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* Prints the usage text, generated from the option table, to FP. */
static void
usage(FILE *fp)
{
    fprintf(fp, "usage: expgen -o DIR [options]\n"
                "Writes a generated Western-blot experiment (32D-MPL cells, "
                "TPO-receptor\nagonists): 16-bit TIFF scans, the manifest "
                "DIR/blotquant.ini and the exact\nground truth "
                "DIR/truth.csv.\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[40];
        snprintf(left, sizeof left, "%s%s %s", opts[i].name[1] ? "--" : "-",
                 opts[i].name, opts[i].metavar ? opts[i].metavar : "");
        fprintf(fp, "  %-22s %s\n", left, opts[i].help);
    }
    fprintf(fp, "\nFiles: DIR/blotquant.ini, DIR/truth.csv, and for each "
                "replicate N\nDIR/repN/pSTAT3.tif, STAT3.tif, GAPDH_STAT3.tif "
                "(likewise pSTAT5, pAKT, pERK);\nwith --no-manifest "
                "DIR/pSTAT3_repN.tif, STAT3_repN.tif, GAPDH_STAT3_repN.tif.\n"
                "BLOT is pSTAT3, pSTAT5, pAKT or pERK.\n"
                "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

/* Returns the table entry for ARG ("-o" or "--name"), or NULL. */
static const struct opt *
find_opt(const char *arg)
{
    const char *name;

    if (strncmp(arg, "--", 2) == 0)
        name = arg + 2;
    else if (arg[0] == '-' && arg[1] && !arg[2])
        name = arg + 1;
    else
        return NULL;
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, name) == 0 &&
            (strlen(name) == 1) == (arg[1] != '-'))
            return &opts[i];
    return NULL;
}

/* Converts VAL for option O and stores it in C. Returns 0, or -1 after
 * printing a usage message. */
static int
apply_opt(struct cli *c, const struct opt *o, const char *val)
{
    char *base = (char *)c + o->off, *end = NULL;
    double d;
    unsigned long long u;

    switch (o->kind) {
    case OPT_FLAG:
        *(int *)(void *)base = 1;
        return 0;
    case OPT_STRING:
        *(const char **)(void *)base = val;
        return 0;
    case OPT_U64:
        errno = 0;
        u = strtoull(val, &end, 10);
        if (errno || end == val || *end || val[0] == '-')
            break;
        *(uint64_t *)(void *)base = (uint64_t)u;
        return 0;
    case OPT_INT:
    case OPT_SIZE:
    case OPT_DOUBLE:
        errno = 0;
        d = strtod(val, &end);
        if (errno || end == val || *end || !(d >= o->lo && d <= o->hi))
            break;
        if (o->kind != OPT_DOUBLE && d != floor(d))
            break;
        if (o->kind == OPT_INT)
            *(int *)(void *)base = (int)d;
        else if (o->kind == OPT_SIZE)
            *(size_t *)(void *)base = (size_t)d;
        else
            *(double *)(void *)base = d;
        return 0;
    }
    if (o->kind == OPT_U64)
        fprintf(stderr,
                "expgen: --%s needs a non-negative integer, not "
                "'%s'\n",
                o->name, val);
    else
        fprintf(stderr, "expgen: --%s needs %s in %g..%g, not '%s'\n", o->name,
                o->kind == OPT_DOUBLE ? "a number" : "an integer", o->lo, o->hi,
                val);
    return -1;
}

/* Parses "DX,DY,DEG" into OUT. Returns 0, or -1 after a message. */
static int
parse_offset(const char *s, struct cli *c, double *out)
{
    const char *p = s;
    char *end;

    for (int i = 0; i < 3; i++) {
        errno = 0;
        out[i] = strtod(p, &end);
        if (errno || end == p || !isfinite(out[i]) || (i < 2 && *end != ',') ||
            (i == 2 && *end))
            goto bad;
        p = end + 1;
    }
    if (fabs(out[0]) > 0.25 * (double)c->width ||
        fabs(out[1]) > 0.25 * (double)c->height || fabs(out[2]) > 8.0) {
        fprintf(stderr,
                "expgen: --offset %s: shift beyond a quarter of the "
                "image or angle beyond 8 degrees\n",
                s);
        return -1;
    }
    return 0;
bad:
    fprintf(stderr,
            "expgen: --offset needs DX,DY,DEG (e.g. 12,-7.5,1.5), "
            "not '%s'\n",
            s);
    return -1;
}

/* Parses ARGV into C. Returns 0, 1 if --help was given, or 2 on a usage
 * error (printed). */
static int
parse(int argc, char **argv, struct cli *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->replicates = 3;
    c->width = 640;
    c->height = 280;
    c->max_shift = 15.0;
    c->max_angle = 2.0;
    c->pair_target = -1;
    c->argc = argc;
    c->argv = argv;
    for (int i = 1; i < argc; i++) {
        const struct opt *o = find_opt(argv[i]);
        if (!o) {
            fprintf(stderr, "expgen: unknown option '%s' (see --help)\n",
                    argv[i]);
            return 2;
        }
        if (o->kind != OPT_FLAG && i + 1 >= argc) {
            fprintf(stderr, "expgen: %s needs a value\n", argv[i]);
            return 2;
        }
        if (apply_opt(c, o, o->kind == OPT_FLAG ? NULL : argv[++i]) != 0)
            return 2;
    }
    if (c->help)
        return 1;
    if (!c->out) {
        fprintf(stderr, "expgen: no output folder (use -o DIR)\n");
        return 2;
    }
    if (c->offset) {
        if (parse_offset(c->offset, c, c->off) != 0)
            return 2;
        c->fixed_offset = 1;
    }
    if (c->pair) {
        for (size_t t = 0; t < NTARGETS; t++)
            if (strcmp(c->pair, target_table[t].blot) == 0)
                c->pair_target = (int)t;
        if (c->pair_target < 0) {
            fprintf(stderr,
                    "expgen: --pair %s: not a blot (use pSTAT3, "
                    "pSTAT5, pAKT or pERK)\n",
                    c->pair);
            return 2;
        }
        c->replicates = 1;
        c->no_loading = 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The experiment: what is drawn, what was rendered                       */
/* ---------------------------------------------------------------------- */

/* One scan as written. */
struct scan_rec {
    char file[128];     /* path relative to the experiment folder */
    double dx, dy, deg; /* relative to the phospho scan (spec mapping) */
    double vol[2][BQ_SYNTH_MAX_LANES]; /* exact volume of each band of the
                                          measured row, per lane */
    int sat[2][BQ_SYNTH_MAX_LANES];    /* 1 if that band clipped */
};

/* One blot: a membrane and its scans. */
struct blot_rec {
    int target;                   /* index into target_table */
    int rep;                      /* 1-based replicate */
    char name[64];                /* blot name (manifest section) */
    int nscans;                   /* 2, or 3 with a loading scan */
    struct scan_rec scan[NROLES]; /* by role */
};

/* The whole experiment. */
struct experiment {
    const struct cli *c;                             /* options */
    int nlanes;                                      /* lanes on the gel */
    const struct lane_def *lane[BQ_SYNTH_MAX_LANES]; /* the gel's lanes */
    double load[EXP_MAX_REPS][BQ_SYNTH_MAX_LANES];   /* loading factors */
    struct blot_rec blots[EXP_MAX_REPS * NTARGETS];  /* blots written */
    int nblots;                                      /* used entries of blots */
};

/* Returns the agent of lane L, or NULL if it has no dose series. */
static const struct agent_def *
lane_agent(const struct lane_def *l)
{
    if (l->kind != LANE_DOSE)
        return NULL;
    for (size_t a = 0; a < NAGENTS; a++)
        if (strcmp(agent_table[a].name, l->agent) == 0)
            return &agent_table[a];
    return NULL;
}

/* Returns the true fold change (over vehicle) of target T in lane L. */
static double
lane_fold(const struct target_def *t, const struct lane_def *l)
{
    const struct agent_def *a = lane_agent(l);
    double h;

    if (l->kind == LANE_FULL)
        return t->top;
    if (!a)
        return 1.0;
    h = pow(l->dose, a->hill) /
        (pow(l->dose, a->hill) + pow(a->ec50_nm, a->hill));
    return 1.0 + (t->top - 1.0) * h;
}

/* Returns the membrane row position v (px) of KDA on a scan H px high:
 * log-linear between the ladder's first and last bands. */
static double
kda_to_v(double kda, size_t h)
{
    double l0 = log(ladder_kda[0]), l1 = log(ladder_kda[NLADDER - 1]);
    double f = (l0 - log(kda)) / (l0 - l1);
    double H = (double)h - 1.0;

    return H * (LADDER_TOP + f * (LADDER_BOTTOM - LADDER_TOP));
}

/* Formats the label of lane L into BUF ("eltrombopag 0.1 nM"). */
static void
lane_label(const struct lane_def *l, char *buf, size_t size)
{
    if (l->unit)
        snprintf(buf, size, "%s %g %s", l->agent, l->dose, l->unit);
    else
        snprintf(buf, size, "%s", l->agent);
}

/* Sets up the lanes of E and draws the loading factors. */
static void
exp_init(struct experiment *e, const struct cli *c)
{
    memset(e, 0, sizeof *e);
    e->c = c;
    for (size_t i = 0; i < NLANES_TABLE; i++) {
        /* Pairing by name numbers lanes from the scans and takes lane 1
         * as the control: without a manifest, no ladder. */
        if (c->no_manifest && lane_table[i].kind == LANE_LADDER)
            continue;
        e->lane[e->nlanes++] = &lane_table[i];
    }
    for (int r = 0; r < c->replicates; r++) {
        struct rng g = rng_for(c->seed, KEY_LOAD, (unsigned)r, 0);
        for (size_t i = 0; i < NLANES_TABLE; i++) {
            double f =
                rng_uniform(&g, 1.0 - EXP_LOAD_SPREAD, 1.0 + EXP_LOAD_SPREAD);
            /* Indexed by the table, so --no-manifest keeps the draws. */
            for (int k = 0; k < e->nlanes; k++)
                if (e->lane[k] == &lane_table[i])
                    e->load[r][k] = f;
        }
    }
}

/* Fills the membrane part of M for blot B (rows: the target's bands, the
 * non-specific bands, GAPDH) from its geometry stream. Writes the row
 * index of each target band into ROW_OF (sub 0, 1), of GAPDH into *GROW,
 * of the non-specific bands into NS_ROW (-1 if none). */
static void
membrane_setup(const struct experiment *e, const struct blot_rec *b,
               struct bq_synth_membrane *m, int row_of[2], int *grow,
               int ns_row[2])
{
    const struct cli *c = e->c;
    const struct target_def *t = &target_table[b->target];
    struct rng g =
        rng_for(c->seed, KEY_MEMBRANE, (unsigned)b->rep, (unsigned)b->target);
    double sig_band = rng_uniform(&g, 2.0, 2.6);

    bq_synth_membrane_init(m);
    m->geometry_seed = rng_seed(&g);
    m->width = c->width;
    m->height = c->height;
    m->lanes = e->nlanes;
    m->lane_width_jitter = 0.08;
    m->lane_pos_jitter = 0.03;
    m->lane_fill = rng_uniform(&g, 0.5, 0.6); /* wells with gaps between */
    m->smile_px = rng_uniform(&g, 0.008, 0.012) * (double)c->height;
    m->frame = 1;
    m->ladder_lane = -1;
    for (int i = 0; i < e->nlanes; i++)
        if (e->lane[i]->kind == LANE_LADDER)
            m->ladder_lane = i;
    if (m->ladder_lane >= 0) {
        m->nladder = (int)NLADDER;
        m->ladder_sigma = 1.6;
        for (size_t k = 0; k < NLADDER; k++)
            m->ladder_v[k] = kda_to_v(ladder_kda[k], c->height);
    }
    m->nrows = 0;
    for (int s = 0; s < t->nsub; s++) {
        row_of[s] = m->nrows;
        m->rows[m->nrows].v = kda_to_v(t->kda[s], c->height);
        /* A doublet's bands are thinner, as on a real gel where 44 and
         * 42 kDa are only just resolved. */
        m->rows[m->nrows++].sigma = t->nsub == 2 ? 0.72 * sig_band : sig_band;
    }
    for (int k = 0; k < 2; k++) {
        ns_row[k] = -1;
        if (t->ns_kda[k] > 0.0) {
            ns_row[k] = m->nrows;
            m->rows[m->nrows].v = kda_to_v(t->ns_kda[k], c->height);
            m->rows[m->nrows++].sigma = rng_uniform(&g, 2.2, 3.0);
        }
    }
    *grow = m->nrows;
    m->rows[m->nrows].v = kda_to_v(GAPDH_KDA, c->height);
    m->rows[m->nrows++].sigma = rng_uniform(&g, 2.2, 2.8);
}

/* Sets the scan part of M for role ROLE of blot B: band volumes (the
 * biology), exposure, background, noise and placement. Records the offset
 * in SR. BIO holds the biological noise per sub-band and lane. */
static void
scan_setup(const struct experiment *e, const struct blot_rec *b, int role,
           struct bq_synth_membrane *m, const int row_of[2], int grow,
           const int ns_row[2], double bio[2][BQ_SYNTH_MAX_LANES], double skew,
           struct scan_rec *sr)
{
    const struct cli *c = e->c;
    const struct target_def *t = &target_table[b->target];
    struct rng g = rng_for(c->seed, KEY_SCAN,
                           (unsigned)(b->rep * 16 + b->target), (unsigned)role);
    struct rng go =
        rng_for(c->seed, KEY_OFFSET, (unsigned)(b->rep * 16 + b->target),
                (unsigned)role);
    const double *load = e->load[b->rep - 1];

    for (int k = 0; k < m->nrows; k++)
        memset(m->rows[k].volume, 0, sizeof m->rows[k].volume);
    for (int i = 0; i < e->nlanes; i++) {
        const struct lane_def *l = e->lane[i];
        if (l->kind == LANE_LADDER || l->kind == LANE_EMPTY)
            continue;
        if (role == ROLE_LOADING) {
            m->rows[grow].volume[i] = load[i];
            continue;
        }
        for (int s = 0; s < t->nsub; s++) {
            double tot = t->share[s] * load[i];
            m->rows[row_of[s]].volume[i] =
                role == ROLE_TOTAL ? tot : tot * lane_fold(t, l) * bio[s][i];
        }
        if (ns_row[role] >= 0) /* scales with the lysate, like any band */
            m->rows[ns_row[role]].volume[i] =
                t->ns_level[role] * (role == ROLE_PHOSPHO ? t->top : 1.0) *
                load[i] * exp(0.03 * rng_normal(&g));
    }
    m->scan_seed = rng_seed(&g);
    /* Chemiluminescence on a cooled CCD: a low background, the brightest
     * band at 45-70 % of the range, no saturation. */
    m->peak_frac = rng_uniform(&g, 0.45, 0.7);
    for (size_t k = 0; k < NLADDER; k++) {
        m->ladder_peak[k] = rng_uniform(&g, 0.05, 0.12);
        if (ladder_kda[k] == 75.0 || ladder_kda[k] == 25.0)
            m->ladder_peak[k] *= 2.0; /* the reference bands */
    }
    m->background = rng_uniform(&g, 0.008, 0.015);
    m->gradient = rng_uniform(&g, 0.1, 0.4);
    m->blotches = (int)rng_uniform(&g, 1.0, 4.0);
    m->read_noise = rng_uniform(&g, 1.0, 1.5);
    m->gain = rng_uniform(&g, 90.0, 140.0);
    m->hot_pixels = (int)rng_uniform(&g, 5.0, 25.0);
    /* Placement: the phospho scan is the reference. */
    sr->dx = sr->dy = sr->deg = 0.0;
    if (role != ROLE_PHOSPHO) {
        if (c->fixed_offset) {
            sr->dx = c->off[0];
            sr->dy = c->off[1];
            sr->deg = c->off[2];
        } else {
            sr->dx = rng_uniform(&go, -c->max_shift, c->max_shift);
            sr->dy = rng_uniform(&go, -c->max_shift, c->max_shift);
            sr->deg = rng_uniform(&go, -c->max_angle, c->max_angle);
        }
    }
    /* Scan = R(deg) (phospho - c) + c + d, phospho = R(skew) (p - c) + c:
     * so the scan turns the membrane by skew + deg, then shifts it. */
    m->dx = sr->dx;
    m->dy = sr->dy;
    m->angle_deg = skew + sr->deg;
}

/* Creates folder PATH if it does not exist. Returns BQ_OK or BQ_ERR_IO. */
static enum bq_status
make_dir(const char *path, struct bq_error *err)
{
    struct stat st;

    if (mkdir(path, 0777) == 0)
        return BQ_OK;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return BQ_OK;
    return bq_error_set(err, BQ_ERR_IO, "%s: cannot create the folder: %s",
                        path, strerror(errno));
}

/* Joins DIR and NAME into BUF. Returns BQ_OK or BQ_ERR_INVALID. */
static enum bq_status
join(char *buf, size_t size, const char *dir, const char *name,
     struct bq_error *err)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= size)
        return bq_error_set(err, BQ_ERR_INVALID, "%s/%s: path too long", dir,
                            name);
    return BQ_OK;
}

/* Names blot B and its scans (manifest layout or pairing by name). */
static void
name_blot(const struct cli *c, struct blot_rec *b)
{
    const struct target_def *t = &target_table[b->target];
    const char *stem[NROLES] = {t->blot, t->total, NULL};
    char gstem[64];

    snprintf(gstem, sizeof gstem, "GAPDH_%s", t->total);
    stem[ROLE_LOADING] = gstem;
    if (c->no_manifest)
        snprintf(b->name, sizeof b->name, "%s_rep%d", t->blot, b->rep);
    else
        snprintf(b->name, sizeof b->name, "%s rep%d", t->blot, b->rep);
    for (int k = 0; k < NROLES; k++) {
        if (c->no_manifest)
            snprintf(b->scan[k].file, sizeof b->scan[k].file, "%s_rep%d.tif",
                     stem[k], b->rep);
        else
            snprintf(b->scan[k].file, sizeof b->scan[k].file, "rep%d/%s.tif",
                     b->rep, stem[k]);
    }
}

/* Renders and writes the scans of blot B and records their truth. Returns
 * BQ_OK or an error with ERR filled. */
static enum bq_status
make_blot(struct experiment *e, struct blot_rec *b, struct bq_error *err)
{
    const struct cli *c = e->c;
    const struct target_def *t = &target_table[b->target];
    struct bq_synth_membrane *m = NULL;
    struct bq_synth_truth truth;
    struct bq_image *img = NULL;
    struct bq_synth_tiff_opts to = {"deflate+pred", 0, 0, 0, 0};
    double bio[2][BQ_SYNTH_MAX_LANES], skew;
    int row_of[2] = {0, 0}, grow = 0, ns_row[2];
    enum bq_status st = BQ_OK;
    struct rng g =
        rng_for(c->seed, KEY_BIO, (unsigned)b->rep, (unsigned)b->target);
    char path[1200];

    memset(&truth, 0, sizeof truth);
    m = malloc(sizeof *m);
    if (!m)
        return bq_error_set(err, BQ_ERR_NOMEM, "no memory for a membrane");
    for (int i = 0; i < BQ_SYNTH_MAX_LANES; i++)
        for (int s = 0; s < 2; s++)
            bio[s][i] = exp(EXP_BIO_NOISE * rng_normal(&g));
    skew = rng_uniform(&g, -0.8, 0.8); /* the membrane on the imager */
    membrane_setup(e, b, m, row_of, &grow, ns_row);
    b->nscans = c->no_loading ? 2 : 3;
    for (int role = 0; role < b->nscans; role++) {
        struct scan_rec *sr = &b->scan[role];
        const struct bq_image *pages[1];
        scan_setup(e, b, role, m, row_of, grow, ns_row, bio, skew, sr);
        st = bq_synth_membrane_render(m, &img, &truth, err);
        if (st != BQ_OK)
            goto out;
        /* The measured row's band volumes, lane by lane. */
        for (size_t k = 0; k < truth.nbands; k++) {
            const struct bq_synth_band *tb = &truth.bands[k];
            for (int s = 0; s < (role == ROLE_LOADING ? 1 : t->nsub); s++) {
                int want = role == ROLE_LOADING ? grow : row_of[s];
                if (tb->row == want) {
                    sr->vol[s][tb->lane] = tb->volume;
                    sr->sat[s][tb->lane] = tb->saturated;
                }
            }
        }
        st = join(path, sizeof path, c->out, sr->file, err);
        if (st != BQ_OK)
            goto out;
        pages[0] = img;
        st = bq_synth_write_tiff(path, pages, 1, &to, err);
        if (st != BQ_OK)
            goto out;
        bq_image_destroy(img);
        img = NULL;
        bq_synth_truth_fini(&truth);
    }
out:
    bq_image_destroy(img);
    bq_synth_truth_fini(&truth);
    free(m);
    return st;
}

/* ---------------------------------------------------------------------- */
/* Writers                                                                 */
/* ---------------------------------------------------------------------- */

/* Returns the truth volume of band S (-1: both bands summed) of lane I on
 * scan ROLE of blot B (NaN if the blot has no such scan); ORs the band's
 * saturation into *SAT. */
static double
band_volume(const struct blot_rec *b, int role, int s, int i, int *sat)
{
    const struct scan_rec *sr = &b->scan[role];

    if (role >= b->nscans)
        return NAN;
    if (role == ROLE_LOADING)
        s = 0; /* GAPDH: one band */
    if (s >= 0) {
        *sat |= sr->sat[s][i];
        return sr->vol[s][i];
    }
    *sat |= sr->sat[0][i] | sr->sat[1][i];
    return sr->vol[0][i] + sr->vol[1][i];
}

/* Writes the rows of table 1 for blot B to FP: lane by lane; for a
 * doublet the upper, lower and summed bands of each lane. */
static void
truth_rows(FILE *fp, const struct experiment *e, const struct blot_rec *b)
{
    static const char *const part[3] = {"upper", "lower", "sum"};
    const struct target_def *t = &target_table[b->target];
    const char *target = e->c->no_manifest ? t->total : t->target;
    int nparts = t->nsub == 1 ? 1 : 3;
    double ctrl[3] = {NAN, NAN, NAN}; /* control ratio of each part */

    for (int i = 0; i < e->nlanes; i++) {
        int sat = 0;
        if (e->lane[i]->kind != LANE_CONTROL)
            continue;
        for (int p = 0; p < nparts; p++) {
            int s = p < 2 ? p : -1;
            ctrl[p] = band_volume(b, ROLE_PHOSPHO, s, i, &sat) /
                      band_volume(b, ROLE_TOTAL, s, i, &sat);
        }
    }
    for (int i = 0; i < e->nlanes; i++) {
        const struct lane_def *l = e->lane[i];
        char label[96];
        if (l->kind == LANE_LADDER || l->kind == LANE_EMPTY)
            continue;
        lane_label(l, label, sizeof label);
        for (int p = 0; p < nparts; p++) {
            int s = p < 2 ? p : -1, sat = 0;
            double ph = band_volume(b, ROLE_PHOSPHO, s, i, &sat);
            double to = band_volume(b, ROLE_TOTAL, s, i, &sat);
            double lo = band_volume(b, ROLE_LOADING, s, i, &sat);
            double ratio = ph / to;
            fprintf(fp, "%s,%s,%s,%d,%d,%s,%s,%g,%s,%.17g,%.17g,", b->name,
                    target, nparts == 1 ? "" : part[p], b->rep, i + 1, label,
                    l->unit ? l->agent : "", l->unit ? l->dose : 0.0,
                    l->unit ? l->unit : "", ph, to);
            if (!isnan(lo))
                fprintf(fp, "%.17g", lo);
            fprintf(fp, ",%.17g,%.17g,%d\n", ratio, ratio / ctrl[p], sat);
        }
    }
}

/* Writes DIR/truth.csv: per blot and lane, registration, generator
 * parameters. Returns BQ_OK or BQ_ERR_IO. */
static enum bq_status
write_truth(const struct experiment *e, struct bq_error *err)
{
    char path[1200];
    FILE *fp;
    enum bq_status st;

    st = join(path, sizeof path, e->c->out, "truth.csv", err);
    if (st != BQ_OK)
        return st;
    fp = fopen(path, "w");
    if (!fp)
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot create the file: %s",
                            path, strerror(errno));
    fprintf(fp, "blot,target,band,replicate,lane,condition,agent,dose,"
                "dose_unit,phospho,total,loading,ratio,fold_change,"
                "saturated\n");
    for (int k = 0; k < e->nblots; k++)
        truth_rows(fp, e, &e->blots[k]);
    fprintf(fp, "\nblot,role,file,dx,dy,angle_deg\n");
    for (int k = 0; k < e->nblots; k++) {
        const struct blot_rec *b = &e->blots[k];
        for (int r = 0; r < b->nscans; r++)
            fprintf(fp, "%s,%s,%s,%.17g,%.17g,%.17g\n", b->name, role_name[r],
                    b->scan[r].file, b->scan[r].dx, b->scan[r].dy,
                    b->scan[r].deg);
    }
    /* Generator parameters, in fold-change units: bottom is the vehicle. */
    fprintf(fp, "\nagent,target,ec50_nM,hill,bottom,top\n");
    for (size_t a = 0; a < NAGENTS; a++) {
        int used = 0;
        for (int i = 0; i < e->nlanes; i++)
            used |= lane_agent(e->lane[i]) == &agent_table[a];
        for (size_t t = 0; used && t < NTARGETS; t++) {
            int has = 0;
            for (int k = 0; k < e->nblots; k++)
                has |= e->blots[k].target == (int)t;
            if (has)
                fprintf(fp, "%s,%s,%.15g,%.15g,1,%.15g\n", agent_table[a].name,
                        e->c->no_manifest ? target_table[t].total
                                          : target_table[t].target,
                        agent_table[a].ec50_nm, agent_table[a].hill,
                        target_table[t].top);
        }
    }
    if (ferror(fp)) {
        fclose(fp);
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot write", path);
    }
    if (fclose(fp) != 0)
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot finish writing", path);
    return BQ_OK;
}

/* Writes DIR/blotquant.ini, commented as a template for biologists.
 * Returns BQ_OK or BQ_ERR_IO. */
static enum bq_status
write_manifest(const struct experiment *e, struct bq_error *err)
{
    const struct cli *c = e->c;
    char path[1200];
    FILE *fp;
    enum bq_status st;

    st = join(path, sizeof path, c->out, "blotquant.ini", err);
    if (st != BQ_OK)
        return st;
    fp = fopen(path, "w");
    if (!fp)
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot create the file: %s",
                            path, strerror(errno));
    fprintf(fp, "; blotquant experiment manifest: which scans belong together, "
                "what each lane\n"
                "; holds and which band to measure. Use it as a template: copy "
                "it beside your\n"
                "; scans and edit it. Lines starting with ; or # are comments; "
                "a ; after a\n"
                "; value (with a space before it) starts a comment too. Paths "
                "are relative to\n"
                "; this folder.\n"
                ";\n"
                "; This experiment was generated by `expgen -o DIR");
    for (int i = 1; i < c->argc; i++) {
        if (strcmp(c->argv[i], "-o") == 0 && i + 1 < c->argc) {
            i++;
        } else {
            fprintf(fp, " %s", c->argv[i]);
        }
    }
    fprintf(fp,
            "` (seed %llu):\n"
            "; 32D-MPL cells, vehicle, rhTPO and dose series of two "
            "TPO-receptor agonists.\n"
            "; The exact volumes, fold changes, scan offsets and EC50s "
            "are in truth.csv.\n\n",
            (unsigned long long)c->seed);
    fprintf(fp,
            "[experiment]\n"
            "name = 32D-MPL, TPO-receptor agonists (generated)  ; optional; "
            "default: the folder name\n"
            "control = vehicle        ; the lane every fold change is "
            "relative to (label or number)\n"
            "ladder_kda =");
    for (size_t k = 0; k < NLADDER; k++)
        fprintf(fp, " %g", ladder_kda[k]);
    fprintf(fp, "  ; ladder bands top to bottom (for \"band = kda N\")\n\n");
    fprintf(fp,
            "[lanes]\n"
            "; One line per lane, left to right as on the gel, numbered from "
            "1 without gaps:\n"
            ";   ladder (or marker)   a size ladder, not quantified\n"
            ";   empty (or -)         an empty well, not quantified\n"
            ";   AGENT DOSE UNIT      a treatment; units pM nM uM mM M or "
            "ng/mL ug/mL\n"
            ";   any other text       a condition without a dose "
            "(e.g. vehicle)\n"
            "; An agent with 4 or more doses gets a dose-response (Hill) "
            "fit; the control\n"
            "; lane enters each fit as dose 0.\n");
    for (int i = 0; i < e->nlanes; i++) {
        char label[96];
        lane_label(e->lane[i], label, sizeof label);
        fprintf(fp, "%d = %s\n", i + 1, label);
    }
    fprintf(fp,
            "\n; One [blot NAME] section per membrane; NAME is free text, "
            "unique here.\n"
            ";   target     the protein, as it should appear in the results\n"
            ";   replicate  the biological replicate: 1, 2, 3, ...\n"
            ";   phospho    the phospho-specific scan (\"file.tif page 2\" "
            "picks a TIFF page)\n"
            ";   total      the total-protein scan of the same membrane "
            "(stripped, re-probed)\n"
            ";   loading    optional loading control of the same membrane\n"
            ";   loading_name  what the loading control is called (GAPDH, "
            "actin, ...)\n"
            ";   band       which band row: strongest | row N | y PX | kda N\n"
            ";   doublet    for a two-band row such as ERK1/ERK2: "
            "sum | each\n");
    for (int k = 0; k < e->nblots; k++) {
        const struct blot_rec *b = &e->blots[k];
        const struct target_def *t = &target_table[b->target];
        fprintf(fp, "\n[blot %s]\n", b->name);
        fprintf(fp, "target = %s\nreplicate = %d\n", t->target, b->rep);
        fprintf(fp, "phospho = %s\ntotal = %s\n", b->scan[ROLE_PHOSPHO].file,
                b->scan[ROLE_TOTAL].file);
        if (b->nscans > ROLE_LOADING)
            fprintf(fp, "loading = %s\nloading_name = GAPDH\n",
                    b->scan[ROLE_LOADING].file);
        if (t->nsub == 2) {
            fprintf(fp,
                    "band = kda %g  ; ERK1 %g and ERK2 %g kDa: one "
                    "doublet row\n",
                    floor(0.5 * (t->kda[0] + t->kda[1]) + 0.5), t->kda[0],
                    t->kda[1]);
            fprintf(fp, "doublet = %s\n", c->doublet_each ? "each" : "sum");
        } else {
            fprintf(fp, "band = kda %g\n", t->kda[0]);
        }
    }
    if (ferror(fp)) {
        fclose(fp);
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot write", path);
    }
    if (fclose(fp) != 0)
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot finish writing", path);
    return BQ_OK;
}

/* Generates the whole experiment described by C. Returns BQ_OK or an
 * error with ERR filled. */
static enum bq_status
generate(const struct cli *c, struct experiment *e, struct bq_error *err)
{
    enum bq_status st;
    char dir[1200], rep[32];

    exp_init(e, c);
    st = make_dir(c->out, err);
    for (int r = 1; st == BQ_OK && r <= c->replicates; r++) {
        if (!c->no_manifest) {
            snprintf(rep, sizeof rep, "rep%d", r);
            st = join(dir, sizeof dir, c->out, rep, err);
            if (st == BQ_OK)
                st = make_dir(dir, err);
        }
        for (size_t t = 0; st == BQ_OK && t < NTARGETS; t++) {
            struct blot_rec *b;
            if (c->pair_target >= 0 && (int)t != c->pair_target)
                continue;
            b = &e->blots[e->nblots++];
            b->target = (int)t;
            b->rep = r;
            name_blot(c, b);
            st = make_blot(e, b, err);
        }
    }
    if (st == BQ_OK)
        st = write_truth(e, err);
    if (st == BQ_OK && !c->no_manifest)
        st = write_manifest(e, err);
    return st;
}

int
main(int argc, char **argv)
{
    struct cli c;
    struct bq_error err = {BQ_OK, ""};
    struct experiment *e = NULL;
    int rc = parse(argc, argv, &c);

    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0)
        return rc;
    e = malloc(sizeof *e);
    if (!e) {
        fprintf(stderr, "expgen: out of memory\n");
        return 1;
    }
    if (generate(&c, e, &err) != BQ_OK) {
        fprintf(stderr, "expgen: %s\n",
                err.msg[0] ? err.msg : bq_strerror(err.status));
        rc = err.status == BQ_ERR_INVALID ? 2 : 1;
    }
    free(e);
    return rc;
}
