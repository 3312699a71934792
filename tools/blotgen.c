/* blotgen: writes a synthetic Western blot (TIFF or PNG) and, optionally,
 * its exact ground truth as CSV. One option table drives parsing, the
 * order in which options are applied, and --help.
 * Exit codes: 0 success, 1 generation or writing failed, 2 usage. */
#include "synth.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything the command line can set. */
struct cli {
    struct bq_synth_params p; /* the blot */
    const char *out;          /* -o: image path */
    const char *truth;        /* --truth: CSV path or NULL */
    const char *format;       /* "tiff", "png" or NULL (from the name) */
    const char *compression;  /* TIFF compression name */
    int rgb;                  /* 1: R=G=B colour file */
    int random;               /* 1: start from bq_synth_params_randomize */
    int help;                 /* 1: print usage and exit 0 */
    int bigendian;            /* 1: big-endian TIFF */
    int min_is_white;         /* 1: MINISWHITE TIFF */
    unsigned tile;            /* TIFF tile size, 0 = strips */
};

/* How an option's argument is stored. */
enum opt_kind {
    OPT_FLAG,   /* sets an int to 1, no argument */
    OPT_UNSET,  /* sets an int to 0, no argument */
    OPT_INT,    /* int */
    OPT_UINT,   /* unsigned */
    OPT_SIZE,   /* size_t, > 0 */
    OPT_U64,    /* uint64_t */
    OPT_DOUBLE, /* double */
    OPT_STRING  /* const char *, borrowed from argv */
};

/* When an option is applied: size, depth, polarity and seed come first,
 * because --random keeps them; then the randomisation; then the rest. */
enum opt_phase { PHASE_BASE = 0, PHASE_OVERRIDE = 1 };

/* One command-line option. */
struct opt {
    const char *name;    /* long name without "--" ("o" is -o) */
    const char *metavar; /* argument name in --help, NULL for flags */
    enum opt_kind kind;  /* argument type */
    size_t off;          /* offset of the target in struct cli */
    enum opt_phase phase; /* when it is applied */
    double lo, hi;       /* accepted numeric range (inclusive) */
    const char *help;    /* one line for --help */
};

#define P(f) offsetof(struct cli, p.f)
#define C(f) offsetof(struct cli, f)

static const struct opt opts[] = {
    {"o", "OUT", OPT_STRING, C(out), PHASE_BASE, 0, 0,
     "output image (.tif/.tiff or .png)"},
    {"truth", "CSV", OPT_STRING, C(truth), PHASE_BASE, 0, 0,
     "write the exact ground truth to CSV"},
    {"seed", "N", OPT_U64, P(seed), PHASE_BASE, 0, 0,
     "random seed (default 1)"},
    {"random", NULL, OPT_FLAG, C(random), PHASE_BASE, 0, 0,
     "every artefact on, strengths drawn from the seed"},
    {"width", "W", OPT_SIZE, P(width), PHASE_BASE, 32, 65535,
     "image width in pixels (default 1024)"},
    {"height", "H", OPT_SIZE, P(height), PHASE_BASE, 32, 65535,
     "image height in pixels (default 768)"},
    {"bits", "8|16|32", OPT_INT, P(bit_depth), PHASE_BASE, 8, 32,
     "bit depth; 32 = float TIFF (default 16)"},
    {"dark", NULL, OPT_FLAG, P(dark_bands), PHASE_BASE, 0, 0,
     "dark bands on a light background (film look)"},
    {"format", "tiff|png", OPT_STRING, C(format), PHASE_BASE, 0, 0,
     "default: from the output name, else tiff"},
    {"compression", "NAME", OPT_STRING, C(compression), PHASE_BASE, 0, 0,
     "TIFF: none (default), lzw, deflate, packbits"},
    {"rgb", NULL, OPT_FLAG, C(rgb), PHASE_BASE, 0, 0,
     "write an RGB file with R=G=B"},
    {"tile", "N", OPT_UINT, C(tile), PHASE_BASE, 16, 4096,
     "TIFF tiles of N x N pixels (multiple of 16)"},
    {"big-endian", NULL, OPT_FLAG, C(bigendian), PHASE_BASE, 0, 0,
     "big-endian (MM) TIFF"},
    {"min-is-white", NULL, OPT_FLAG, C(min_is_white), PHASE_BASE, 0, 0,
     "TIFF stored as MINISWHITE (inverted codes)"},
    {"strips", "N", OPT_INT, P(strips), PHASE_OVERRIDE, 1, BQ_SYNTH_MAX_STRIPS,
     "membrane strips stacked vertically (default 1)"},
    {"lanes", "N", OPT_INT, P(lanes), PHASE_OVERRIDE, 1, BQ_SYNTH_MAX_LANES,
     "lanes per strip (default 8)"},
    {"rows", "N", OPT_INT, P(rows), PHASE_OVERRIDE, 1, 6,
     "band rows (targets) per strip (default 2)"},
    {"range", "R", OPT_DOUBLE, P(dyn_range), PHASE_OVERRIDE, 1, 1e6,
     "max/min band volume (default 10)"},
    {"peak", "F", OPT_DOUBLE, P(peak_frac), PHASE_OVERRIDE, 1e-6, 100,
     "brightest peak / range above background; >1 clips "
     "(0.6)"},
    {"rotation", "DEG", OPT_DOUBLE, P(rotation_deg), PHASE_OVERRIDE, -5, 5,
     "degrees, clockwise as displayed (default 0)"},
    {"smile", "S", OPT_DOUBLE, P(smile), PHASE_OVERRIDE, 0, 3,
     "edge lanes shifted up by S * 2 band SDs (default 0)"},
    {"width-jitter", "J", OPT_DOUBLE, P(lane_width_jitter), PHASE_OVERRIDE,
     0, 0.3, "relative spread of lane widths (default 0)"},
    {"pos-jitter", "J", OPT_DOUBLE, P(lane_pos_jitter), PHASE_OVERRIDE, 0,
     0.15, "relative spread of lane positions (default 0)"},
    {"empty", "N", OPT_INT, P(empty_lanes), PHASE_OVERRIDE, 0,
     BQ_SYNTH_MAX_LANES, "interior lanes left empty (default 0)"},
    {"ladder", NULL, OPT_FLAG, P(ladder), PHASE_OVERRIDE, 0, 0,
     "lane 1 of each strip is a molecular weight ladder"},
    {"doublets", NULL, OPT_FLAG, P(doublets), PHASE_OVERRIDE, 0, 0,
     "one row per strip is an ERK1/ERK2-like doublet"},
    {"no-doublets", NULL, OPT_UNSET, P(doublets), PHASE_OVERRIDE, 0, 0,
     "no doublet row (with --random: as accuracy --no-doublets)"},
    {"gradient", "G", OPT_DOUBLE, P(gradient), PHASE_OVERRIDE, 0, 1,
     "illumination gradient, fraction of background (0)"},
    {"blotches", "N", OPT_INT, P(blotches), PHASE_OVERRIDE, 0, 64,
     "broad background blotches (default 0)"},
    {"frame", NULL, OPT_FLAG, P(frame), PHASE_OVERRIDE, 0, 0,
     "membrane edge with a dark frame around it"},
    {"background", "B", OPT_DOUBLE, P(background), PHASE_OVERRIDE, 0, 0.9,
     "background, fraction of the code range (0.08)"},
    {"noise", "SD", OPT_DOUBLE, P(read_noise), PHASE_OVERRIDE, 0, 1e9,
     "read noise SD, code units (20 at 16 bit; scaled)"},
    {"gain", "G", OPT_DOUBLE, P(gain), PHASE_OVERRIDE, 0, 1e9,
     "Poisson noise: electrons per code unit (0 = off)"},
    {"hot", "N", OPT_INT, P(hot_pixels), PHASE_OVERRIDE, 0, 1e9,
     "isolated hot pixels (default 0)"},
    {"help", NULL, OPT_FLAG, C(help), PHASE_BASE, 0, 0,
     "print this help and exit"},
};

#define NOPTS (sizeof opts / sizeof opts[0])

/* Prints the usage text, generated from the option table, to FP. */
static void
usage(FILE *fp)
{
    fprintf(fp, "usage: blotgen -o OUT.tif [options]\n"
                "Writes a synthetic Western blot with exact ground truth.\n"
                "Options are applied on top of a clean blot, or on top of a "
                "randomised one\nwith --random.\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[40];
        snprintf(left, sizeof left, "%s%s %s", opts[i].name[1] ? "--" : "-",
                 opts[i].name, opts[i].metavar ? opts[i].metavar : "");
        fprintf(fp, "  %-21s %s\n", left, opts[i].help);
    }
    fprintf(fp, "\nExit status: 0 success, 1 failure, 2 usage error (including "
                "options\nthat cannot be combined or do not fit the image).\n");
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
    double d = 0.0;
    unsigned long long u = 0;

    switch (o->kind) {
    case OPT_FLAG:
    case OPT_UNSET:
        *(int *)(void *)base = o->kind == OPT_FLAG;
        return 0;
    case OPT_STRING:
        *(const char **)(void *)base = val;
        return 0;
    case OPT_U64:
        errno = 0;
        u = strtoull(val, &end, 10);
        if (errno || end == val || *end || val[0] == '-')
            goto bad;
        *(uint64_t *)(void *)base = (uint64_t)u;
        return 0;
    case OPT_INT:
    case OPT_UINT:
    case OPT_SIZE:
    case OPT_DOUBLE:
        errno = 0;
        d = strtod(val, &end);
        if (errno || end == val || *end || d < o->lo || d > o->hi)
            goto bad;
        if (o->kind != OPT_DOUBLE && d != (double)(long long)d)
            goto bad;
        if (o->kind == OPT_INT)
            *(int *)(void *)base = (int)d;
        else if (o->kind == OPT_UINT)
            *(unsigned *)(void *)base = (unsigned)d;
        else if (o->kind == OPT_SIZE)
            *(size_t *)(void *)base = (size_t)d;
        else
            *(double *)(void *)base = d;
        return 0;
    }
bad:
    if (o->kind == OPT_U64)
        fprintf(stderr, "blotgen: --%s needs a non-negative integer, not "
                "'%s'\n", o->name, val);
    else
        fprintf(stderr, "blotgen: --%s needs %s in %g..%g, not '%s'\n",
                o->name, o->kind == OPT_DOUBLE ? "a number" : "an integer",
                o->lo, o->hi, val);
    return -1;
}

/* Returns 1 if PATH ends in SUFFIX, ignoring ASCII case. */
static int
ends_with(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);

    if (m > n)
        return 0;
    for (size_t i = 0; i < m; i++) {
        char a = path[n - m + i], b = suffix[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

/* Parses ARGV into C (params from init, or randomize with --random).
 * Returns 0, 1 if --help was given, or 2 on a usage error (printed). */
static int
parse(int argc, char **argv, struct cli *c)
{
    const char *vals[NOPTS];
    int seen[NOPTS];

    memset(seen, 0, sizeof seen);
    memset(c, 0, sizeof *c);
    bq_synth_params_init(&c->p);
    for (int i = 1; i < argc; i++) {
        const struct opt *o = find_opt(argv[i]);
        size_t k;
        if (!o) {
            fprintf(stderr, "blotgen: unknown option '%s' (see --help)\n",
                    argv[i]);
            return 2;
        }
        k = (size_t)(o - opts);
        vals[k] = NULL;
        if (o->kind != OPT_FLAG && o->kind != OPT_UNSET) {
            if (i + 1 >= argc) {
                fprintf(stderr, "blotgen: %s needs a value\n", argv[i]);
                return 2;
            }
            vals[k] = argv[++i];
        }
        seen[k] = 1;
    }
    /* Apply in phases: base options, randomisation, overrides. */
    for (int phase = PHASE_BASE; phase <= PHASE_OVERRIDE; phase++) {
        for (size_t k = 0; k < NOPTS; k++)
            if (seen[k] && opts[k].phase == (enum opt_phase)phase &&
                apply_opt(c, &opts[k], vals[k]) != 0)
                return 2;
        if (phase == PHASE_BASE) {
            if (c->help)
                return 1;
            if (c->p.bit_depth != 8 && c->p.bit_depth != 16 &&
                c->p.bit_depth != 32) {
                fprintf(stderr, "blotgen: --bits must be 8, 16 or 32\n");
                return 2;
            }
            if (c->random)
                bq_synth_params_randomize(&c->p, c->p.seed);
            else if (c->p.bit_depth == 8)
                c->p.read_noise *= 255.0 / 65535.0; /* same look as 16 bit */
        }
    }
    if (!c->out) {
        fprintf(stderr, "blotgen: no output file (use -o OUT.tif)\n");
        return 2;
    }
    if (!c->format)
        c->format = ends_with(c->out, ".png") ? "png" : "tiff";
    if (strcmp(c->format, "tiff") != 0 && strcmp(c->format, "png") != 0) {
        fprintf(stderr, "blotgen: --format must be tiff or png\n");
        return 2;
    }
    if (strcmp(c->format, "png") == 0 && c->p.bit_depth == 32) {
        fprintf(stderr, "blotgen: PNG cannot hold 32-bit float data; use "
                "--format tiff or --bits 8/16\n");
        return 2;
    }
    if (c->tile % 16 != 0) {
        fprintf(stderr, "blotgen: --tile must be a multiple of 16\n");
        return 2;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct cli c;
    struct bq_error err = {BQ_OK, ""};
    struct bq_synth_truth truth;
    struct bq_image *img = NULL;
    int rc = parse(argc, argv, &c);

    memset(&truth, 0, sizeof truth);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (bq_synth_generate(&c.p, &img, &truth, &err) != BQ_OK)
        goto fail;
    if (strcmp(c.format, "png") == 0) {
        if (bq_synth_write_png(c.out, img, c.rgb, &err) != BQ_OK)
            goto fail;
    } else {
        const struct bq_image *pages[1] = {img};
        struct bq_synth_tiff_opts to = {c.compression ? c.compression : "none",
                                        c.rgb, c.bigendian, c.tile,
                                        c.min_is_white};
        if (bq_synth_write_tiff(c.out, pages, 1, &to, &err) != BQ_OK)
            goto fail;
    }
    if (c.truth && bq_synth_write_truth(c.truth, &truth, &err) != BQ_OK)
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "blotgen: %s\n", err.msg[0] ? err.msg
                                                : bq_strerror(err.status));
    /* Invalid = the options asked for something impossible: usage. */
    rc = err.status == BQ_ERR_INVALID ? 2 : 1;
out:
    bq_synth_truth_fini(&truth);
    bq_image_destroy(img);
    return rc;
}
