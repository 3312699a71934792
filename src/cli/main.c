/* blotquant command line: the only code that prints or exits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blotquant/analysis.h"
#include "blotquant/render.h"
#include "cli.h"

/* LeakSanitizer's hook (used only in -DBQ_SANITIZE builds): fontconfig,
 * under pango, keeps its font cache for the life of the process on
 * purpose; that is not a leak of ours. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\n";
}

static int cmd_quantify(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_info(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"quantify", cmd_quantify, "measure the bands of one or more scans"},
    {"experiment", bq_cmd_experiment,
     "measure the blots of one experiment folder: ratios, statistics"},
    {"batch", bq_cmd_batch,
     "every experiment under a folder tree, in parallel"},
    {"info", cmd_info, "read scans and describe them (size, depth, pages)"},
    {"help", cmd_help, "show this help, or a command's: help quantify"},
    {"version", cmd_version, "print the version"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* ---- quantify --------------------------------------------------------- */

enum opt_id {
    O_OUT, O_LANES, O_LAYOUT, O_PAGE, O_OVERLAY, O_QUIET, O_HELP
};

static const struct bq_cli_opt quantify_opts[] = {
    {O_OUT, "-o", "--output", "DIR", "folder for the results (created)"},
    {O_LANES, NULL, "--lanes", "N", "expected lanes per strip (a hint)"},
    {O_LAYOUT, NULL, "--layout", "FILE",
     "explicit lane/band boxes (CSV lane,band,x,y,width,height)"},
    {O_PAGE, NULL, "--page", "N", "TIFF page (directory), 1-based (default 1)"},
    {O_OVERLAY, NULL, "--overlay", NULL,
     "also draw DIR/<name>.overlay.png: lanes, bands, volumes, profiles"},
    {O_QUIET, "-q", "--quiet", NULL, "print only errors"},
    {O_HELP, "-h", "--help", NULL, "show this help"},
    {0, NULL, NULL, NULL, NULL},
};

/* Writes the results of one scan into OUTDIR; returns 0 or prints an error
 * and returns 1. Each file appears whole or not at all. */
static int
write_results(const char *outdir, const char *path, const char *stem,
              const struct bq_analysis *a, const struct bq_analysis_opts *o)
{
    char dst[4096];
    FILE *f;

    snprintf(dst, sizeof dst, "%s/%s.bands.csv", outdir, stem);
    if (!(f = bq_cli_open_atomic(dst)) || bq_write_bands_csv(f, a) != BQ_OK ||
        bq_cli_commit_atomic(f, dst) != 0)
        return bq_cli_fail_write(dst);
    snprintf(dst, sizeof dst, "%s/%s.lanes.csv", outdir, stem);
    if (!(f = bq_cli_open_atomic(dst)) || bq_write_lanes_csv(f, a) != BQ_OK ||
        bq_cli_commit_atomic(f, dst) != 0)
        return bq_cli_fail_write(dst);
    snprintf(dst, sizeof dst, "%s/%s.log.txt", outdir, stem);
    if (!(f = bq_cli_open_atomic(dst)))
        return bq_cli_fail_write(dst);
    bq_cli_write_log(f, path, a, o);
    if (bq_cli_commit_atomic(f, dst) != 0)
        return bq_cli_fail_write(dst);
    return 0;
}

/* Draws DIR/<stem>.overlay.png over the scan as loaded again (the analysis
 * turned its own copy into signal), inverted like the analysis for
 * dark-band scans. Returns 0, or prints an error and returns 1. */
static int
write_overlay(const char *outdir, const char *path, const char *stem,
              const struct bq_analysis *a, const struct bq_analysis_opts *o)
{
    char dst[4096], tmp[4200];
    struct bq_image *img = NULL;
    struct bq_error err = {BQ_OK, ""};
    const char *base = strrchr(path, '/');
    int rc = 0;

    snprintf(dst, sizeof dst, "%s/%s.overlay.png", outdir, stem);
    snprintf(tmp, sizeof tmp, "%s/.%s.overlay.png.tmp", outdir, stem);
    if (bq_image_load(path, &o->load, &img, NULL, &err) != BQ_OK)
        goto fail;
    if (a->prep.polarity == BQ_POLARITY_DARK_BANDS)
        for (size_t y = 0; y < img->height; y++) {
            float *r = bq_row(img, y);
            for (size_t x = 0; x < img->width; x++)
                r[x] = img->max_code - r[x];
        }
    if (bq_render_overlay(tmp, img, a, base ? base + 1 : path, &err) != BQ_OK)
        goto fail;
    if (rename(tmp, dst) != 0) {
        bq_error_set(&err, BQ_ERR_IO, "cannot write %s: %s", dst,
                     strerror(errno));
        goto fail;
    }
    goto out;
fail:
    fprintf(stderr, "blotquant: %s\n", err.msg);
    remove(tmp);
    rc = 1;
out:
    bq_image_destroy(img);
    return rc;
}

static int
cmd_quantify(int argc, char **argv)
{
    struct bq_analysis_opts o;
    struct bq_cli_opt table[64];
    const char *outdir = NULL, *files[4096];
    int nfiles = 0, quiet = 0, failed = 0, overlay = 0;

    bq_analysis_opts_init(&o);
    bq_cli_join(quantify_opts, table, 64);
    for (int i = 1; i < argc; i++) {
        const struct bq_cli_opt *opt;
        const char *val = NULL;
        if (argv[i][0] != '-' || !strcmp(argv[i], "-")) {
            if (nfiles < 4096)
                files[nfiles++] = argv[i];
            continue;
        }
        opt = bq_cli_match(table, argc, argv, &i, &val);
        if (!opt)
            return 2;
        switch (opt->id) {
        case O_OUT: outdir = val; break;
        case O_LANES:
            if (bq_cli_int(val, 1, 200, "--lanes", &o.layout.lanes))
                return 2;
            break;
        case O_LAYOUT: o.layout_file = val; break;
        case O_PAGE: {
            int p;
            if (bq_cli_int(val, 1, 100000, "--page", &p))
                return 2;
            o.load.page = (unsigned)(p - 1);
            break;
        }
        case O_OVERLAY: overlay = 1; break;
        case O_QUIET: quiet = 1; break;
        default:
            if (bq_cli_analysis_opt(opt->id, val, &o))
                return 2;
            break;
        case O_HELP:
            bq_cli_print_help(stdout, "quantify IMAGE... -o DIR [options]",
                              "Measures every band of each scan and writes "
                              "DIR/<name>.bands.csv, .lanes.csv and "
                              ".log.txt.",
                              table);
            return 0;
        }
    }
    if (nfiles == 0)
        return bq_cli_usage("quantify needs at least one image file");
    if (!outdir)
        return bq_cli_usage("quantify needs an output folder: -o DIR");
    o.keep_images = overlay;
    if (bq_cli_mkdirs(outdir) != 0) {
        fprintf(stderr, "blotquant: cannot create the output folder %s: %s\n",
                outdir, strerror(errno));
        return 1;
    }
    for (int k = 0; k < nfiles; k++) {
        struct bq_analysis a;
        struct bq_error err = {BQ_OK, ""};
        char stem[1024];
        enum bq_status st;
        bq_cli_stem(files[k], stem, sizeof stem);
        st = bq_analyze_file(files[k], &o, &a, &err);
        if (st != BQ_OK) {
            fprintf(stderr, "blotquant: %s\n",
                    err.msg[0] ? err.msg : bq_strerror(st));
            failed++;
        } else if (write_results(outdir, files[k], stem, &a, &o) != 0) {
            failed++;
        } else if (overlay && write_overlay(outdir, files[k], stem, &a, &o)) {
            failed++;
        } else if (!quiet) {
            size_t sat = 0;
            for (size_t i = 0; i < a.bands.n; i++)
                sat += a.bands.b[i].sat_px > 0;
            printf("%s: %zu strip%s, %zu lanes, %zu bands (%zu saturated) "
                   "-> %s/%s.bands.csv\n",
                   files[k], a.layout.nstrips,
                   a.layout.nstrips == 1 ? "" : "s", a.layout.nlanes,
                   a.bands.n, sat, outdir, stem);
        }
        bq_analysis_fini(&a);
    }
    return failed ? 1 : 0;
}

/* ---- info ------------------------------------------------------------- */

static int
cmd_info(int argc, char **argv)
{
    int failed = 0, n = 0;

    for (int i = 1; i < argc; i++) {
        struct bq_load_opts o;
        struct bq_load_info li;
        struct bq_image *img = NULL;
        struct bq_error err = {BQ_OK, ""};
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: blotquant info IMAGE...\n\nReads each scan "
                   "completely and prints its size, bit depth, format,\n"
                   "compression, pages and saturation level.\n");
            return 0;
        }
        n++;
        bq_load_opts_init(&o);
        if (bq_image_load(argv[i], &o, &img, &li, &err) != BQ_OK) {
            fprintf(stderr, "blotquant: %s\n", err.msg);
            failed++;
            continue;
        }
        printf("%s: %zux%zu, %d-bit %s, %s compression, %u page%s, %u "
               "sample%s per pixel, saturation at %g\n",
               argv[i], img->width, img->height, img->bit_depth, li.format,
               li.compression, li.pages, li.pages == 1 ? "" : "s",
               li.samples, li.samples == 1 ? "" : "s", (double)img->max_code);
        bq_image_destroy(img);
    }
    if (n == 0)
        return bq_cli_usage("info needs at least one image file");
    return failed ? 1 : 0;
}

/* ---- help, version, dispatch ------------------------------------------ */

static void
usage(FILE *f)
{
    fprintf(f, "usage: blotquant COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'blotquant COMMAND --help' shows a command's options.\n");
}

static int
cmd_help(int argc, char **argv)
{
    if (argc > 1)
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (!strcmp(argv[1], commands[i].name) &&
                commands[i].run != cmd_help) {
                char *h[] = {argv[1], "--help", NULL};
                return commands[i].run(2, h);
            }
    usage(stdout);
    return 0;
}

static int
cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("blotquant %s\n", BQ_VERSION);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return cmd_help(1, argv);
    if (!strcmp(argv[1], "--version"))
        return cmd_version(1, argv);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "blotquant: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
