/* blotquant command line: the only code that prints or exits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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
    {"blot", bq_cmd_blot,
     "workflow stage: measure one blot of an experiment, save the result"},
    {"summary", bq_cmd_summary,
     "workflow stage: the summary tables and index of saved results"},
    {"list", bq_cmd_list,
     "the experiments and blots under a folder tree, for a workflow"},
    {"info", cmd_info, "read scans and describe them (size, depth, pages)"},
    {"help", cmd_help, "show this help, or a command's: help quantify"},
    {"version", cmd_version, "print the version"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* ---- quantify --------------------------------------------------------- */

enum opt_id {
    O_OUT,
    O_LANES,
    O_LAYOUT,
    O_PAGE,
    O_OVERLAY,
    O_NO_OVERLAY,
    O_QUIET,
    O_HELP
};

static const struct bq_cli_opt quantify_opts[] = {
    {O_OUT, "-o", "--output", "DIR", "folder for the results (created)"},
    {O_LANES, NULL, "--lanes", "N", "expected lanes per strip (a hint)"},
    {O_LAYOUT, NULL, "--layout", "FILE",
     "explicit lane/band boxes (CSV lane,band,x,y,width,height)"},
    {O_PAGE, NULL, "--page", "N", "TIFF page (directory), 1-based (default 1)"},
    {O_NO_OVERLAY, NULL, "--no-overlay", NULL,
     "do not draw DIR/<name>.overlay.png (lanes, bands, volumes, profiles)"},
    {O_OVERLAY, NULL, "--overlay", NULL,
     "draw the overlay (the default; accepted for older scripts)"},
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

/* Loads PATH and analyses it like bq_analyze_file, keeping the image: on
 * success *SIGNAL is the scan turned into signal (bq_analyze_image), which
 * the overlay's profiles read instead of a copy (keep_images); with
 * DISPLAY not NULL, *DISPLAY is the scan reduced to the overlay's panel,
 * taken before the analysis (loading the scan again would cost more than
 * the drawing). Fills A (caller: bq_analysis_fini, also on error); the
 * caller destroys *SIGNAL and *DISPLAY (both NULL on error). */
static enum bq_status
analyze(const char *path, const struct bq_analysis_opts *o,
        struct bq_analysis *a, struct bq_image **signal,
        struct bq_image **display, struct bq_error *err)
{
    struct bq_image *img = NULL;
    struct timespec t0, t1;
    enum bq_status st;

    memset(a, 0, sizeof *a);
    *signal = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = bq_image_load(path, &o->load, &img, &a->load, err);
    if (st != BQ_OK)
        return st;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    a->ms_load = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                 (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
    if (display && !(*display = bq_render_display_create(img, err))) {
        bq_image_destroy(img);
        return err && err->status ? err->status : BQ_ERR_NOMEM;
    }
    st = bq_analyze_image(img, o, a, err);
    if (st != BQ_OK) {
        bq_image_destroy(img);
        if (display) {
            bq_image_destroy(*display);
            *display = NULL;
        }
        if (err && err->msg[0] && !strstr(err->msg, path)) {
            /* name the file in stage errors that do not */
            char msg[2 * sizeof err->msg];
            snprintf(msg, sizeof msg, "%s: %s", path, err->msg);
            memcpy(err->msg, msg, sizeof err->msg - 1); /* cut if long */
            err->msg[sizeof err->msg - 1] = '\0';
        }
        return st;
    }
    *signal = img;
    return BQ_OK;
}

/* Draws DIR/<stem>.overlay.png of A over DISPLAY (from analyze; inverted
 * here like the analysis did for dark-band scans), with the lane profiles
 * from SIGNAL (borrowed into A for the drawing). Returns 0, or prints an
 * error and returns 1. */
static int
write_overlay(const char *outdir, const char *path, const char *stem,
              struct bq_analysis *a, struct bq_image *signal,
              struct bq_image *display)
{
    char dst[4096], tmp[4200];
    struct bq_error err = {BQ_OK, ""};
    const char *base = strrchr(path, '/');
    enum bq_status st;

    snprintf(dst, sizeof dst, "%s/%s.overlay.png", outdir, stem);
    snprintf(tmp, sizeof tmp, "%s/.%s.overlay.png.tmp", outdir, stem);
    if (a->prep.polarity == BQ_POLARITY_DARK_BANDS)
        for (size_t y = 0; y < display->height; y++) {
            float *r = bq_row(display, y);
            for (size_t x = 0; x < display->width; x++)
                r[x] = display->max_code - r[x];
        }
    a->signal = signal;
    st = bq_render_overlay(tmp, display, a, base ? base + 1 : path, &err);
    a->signal = NULL;
    if (st != BQ_OK)
        goto fail;
    if (rename(tmp, dst) != 0) {
        bq_error_set(&err, BQ_ERR_IO, "cannot write %s: %s", dst,
                     strerror(errno));
        goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "blotquant: %s\n", err.msg);
    remove(tmp);
    return 1;
}

static int
cmd_quantify(int argc, char **argv)
{
    struct bq_analysis_opts o;
    struct bq_cli_opt table[64];
    const char *outdir = NULL, *files[4096];
    int nfiles = 0, quiet = 0, failed = 0, overlay = 1;

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
        case O_NO_OVERLAY:
            overlay = 0;
            break;
        case O_QUIET: quiet = 1; break;
        default:
            if (bq_cli_analysis_opt(opt->id, val, &o))
                return 2;
            break;
        case O_HELP:
            bq_cli_print_help(stdout, "quantify IMAGE... -o DIR [options]",
                              "Measures every band of each scan and writes "
                              "DIR/<name>.bands.csv, .lanes.csv, .log.txt "
                              "and .overlay.png.",
                              table);
            return 0;
        }
    }
    if (nfiles == 0)
        return bq_cli_usage("quantify needs at least one image file");
    if (!outdir)
        return bq_cli_usage("quantify needs an output folder: -o DIR");
    if (bq_cli_mkdirs(outdir) != 0) {
        fprintf(stderr, "blotquant: cannot create the output folder %s: %s\n",
                outdir, strerror(errno));
        return 1;
    }
    for (int k = 0; k < nfiles; k++) {
        struct bq_analysis a;
        struct bq_image *display = NULL, *signal = NULL;
        struct bq_error err = {BQ_OK, ""};
        char stem[1024];
        enum bq_status st;
        bq_cli_stem(files[k], stem, sizeof stem);
        st =
            analyze(files[k], &o, &a, &signal, overlay ? &display : NULL, &err);
        if (st != BQ_OK) {
            fprintf(stderr, "blotquant: %s\n",
                    err.msg[0] ? err.msg : bq_strerror(st));
            failed++;
        } else if (write_results(outdir, files[k], stem, &a, &o) != 0) {
            failed++;
        } else if (overlay &&
                   write_overlay(outdir, files[k], stem, &a, signal, display)) {
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
        bq_image_destroy(signal);
        bq_image_destroy(display);
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
    /* A file size limit (ulimit -f) must make a write fail with a message,
     * not kill the process with the night's results unwritten. */
    signal(SIGXFSZ, SIG_IGN);
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
