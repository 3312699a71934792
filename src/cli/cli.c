/* Command-line plumbing shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct bq_cli_opt *
bq_cli_match(const struct bq_cli_opt *table, int argc, char **argv, int *i,
             const char **val)
{
    const char *a = argv[*i], *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);

    for (const struct bq_cli_opt *o = table; o->lng; o++) {
        size_t sl = o->shrt ? strlen(o->shrt) : 0;
        int hit = (strlen(o->lng) == len && !strncmp(a, o->lng, len)) ||
                  (o->shrt && !eq && !strcmp(a, o->shrt));
        if (!hit && o->shrt && o->arg && !strncmp(a, o->shrt, sl) &&
            a[sl] != '\0') {
            *val = a + sl; /* the value attached: -j2, -oDIR */
            return o;
        }
        if (!hit)
            continue;
        if (!o->arg) {
            if (eq) {
                bq_cli_usage("%s takes no value", o->lng);
                return NULL;
            }
            return o;
        }
        if (eq) {
            *val = eq + 1;
        } else if (*i + 1 < argc) {
            *val = argv[++*i];
        } else {
            bq_cli_usage("%s needs a value (%s)", o->lng, o->arg);
            return NULL;
        }
        return o;
    }
    bq_cli_usage("unknown option '%s'", a);
    return NULL;
}

const struct bq_cli_opt bq_cli_analysis_opts[] = {
    {BQ_OPT_POLARITY, NULL, "--polarity", "MODE",
     "auto | light-bands | dark-bands (default auto)"},
    {BQ_OPT_BACKGROUND, NULL, "--background", "METHOD",
     "fft | rolling-ball | none (default fft)"},
    {BQ_OPT_BG_SIZE, NULL, "--bg-size", "PX",
     "background scale: FFT smoothing SD or ball radius (default auto / 50)"},
    {BQ_OPT_CHANNEL, NULL, "--channel", "C",
     "luma | r | g | b | sample number 1.. (default luma)"},
    {BQ_OPT_MAX_ANGLE, NULL, "--max-angle", "DEG",
     "largest rotation to correct; 0 turns deskew off (default 6)"},
    {BQ_OPT_MIN_SNR, NULL, "--min-snr", "X",
     "band prominence threshold in noise SDs (default 5)"},
    {BQ_OPT_NO_DOUBLETS, NULL, "--no-doublets", NULL,
     "do not split unresolved doublets by fitting"},
    {BQ_OPT_NO_HOT, NULL, "--no-hot-pixels", NULL,
     "keep isolated outlier pixels"},
    {BQ_OPT_NO_MEMBRANE, NULL, "--no-membrane", NULL,
     "do not look for a surround around the membrane"},
    {BQ_OPT_MAX_PIXELS, NULL, "--max-pixels", "N",
     "refuse images larger than N pixels (default 200000000)"},
    {0, NULL, NULL, NULL, NULL},
};

void
bq_cli_join(const struct bq_cli_opt *own, struct bq_cli_opt *out, size_t cap)
{
    size_t n = 0;
    const struct bq_cli_opt *help = NULL;
    /* the command's own options, then the analysis ones, --help last */
    for (; own->lng && n + 1 < cap; own++) {
        if (!strcmp(own->lng, "--help")) {
            help = own;
            continue;
        }
        out[n++] = *own;
    }
    for (const struct bq_cli_opt *a = bq_cli_analysis_opts;
         a->lng && n + 2 < cap; a++)
        out[n++] = *a;
    if (help)
        out[n++] = *help;
    out[n] = (struct bq_cli_opt){0, NULL, NULL, NULL, NULL};
}

int
bq_cli_analysis_opt(int id, const char *val, struct bq_analysis_opts *o)
{
    switch (id) {
    case BQ_OPT_POLARITY:
        if (!strcmp(val, "auto"))
            o->prepare.polarity = BQ_POLARITY_AUTO;
        else if (!strcmp(val, "light-bands"))
            o->prepare.polarity = BQ_POLARITY_LIGHT_BANDS;
        else if (!strcmp(val, "dark-bands"))
            o->prepare.polarity = BQ_POLARITY_DARK_BANDS;
        else
            return bq_cli_usage("--polarity takes auto, light-bands or "
                                "dark-bands, not '%s'", val);
        return 0;
    case BQ_OPT_BACKGROUND:
        if (bq_bg_method_parse(val, &o->bg.method))
            return bq_cli_usage("--background takes fft, rolling-ball or "
                                "none, not '%s'", val);
        return 0;
    case BQ_OPT_BG_SIZE:
        return bq_cli_double(val, 1, 100000, "--bg-size", &o->bg.size);
    case BQ_OPT_CHANNEL:
        if (!strcmp(val, "luma"))
            o->load.channel = BQ_CHANNEL_LUMA;
        else if (!strcmp(val, "r"))
            o->load.channel = BQ_CHANNEL_R;
        else if (!strcmp(val, "g"))
            o->load.channel = BQ_CHANNEL_G;
        else if (!strcmp(val, "b"))
            o->load.channel = BQ_CHANNEL_B;
        else {
            int c = 1;
            if (bq_cli_int(val, 1, 64, "--channel", &c))
                return 2;
            o->load.channel = c - 1;
        }
        return 0;
    case BQ_OPT_MAX_ANGLE:
        return bq_cli_double(val, 0, 20, "--max-angle", &o->max_angle);
    case BQ_OPT_MIN_SNR:
        return bq_cli_double(val, 1, 1000, "--min-snr", &o->bands.min_snr);
    case BQ_OPT_NO_DOUBLETS:
        o->bands.doublets = 0;
        return 0;
    case BQ_OPT_NO_HOT:
        o->prepare.hot_pixels = 0;
        return 0;
    case BQ_OPT_NO_MEMBRANE:
        o->prepare.membrane = 0;
        return 0;
    case BQ_OPT_MAX_PIXELS: {
        double v = 0;
        if (bq_cli_double(val, 1, 1e12, "--max-pixels", &v))
            return 2;
        o->load.max_pixels = (uint64_t)v;
        return 0;
    }
    default:
        return bq_cli_usage("internal: unknown option id %d", id);
    }
}

void
bq_cli_print_help(FILE *f, const char *synopsis, const char *what,
                  const struct bq_cli_opt *table)
{
    fprintf(f, "usage: blotquant %s\n\n%s\n\noptions:\n", synopsis, what);
    for (const struct bq_cli_opt *o = table; o->lng; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s%s", o->shrt ? o->shrt : "",
                 o->shrt ? ", " : "", o->lng, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(f, "  %-24s %s\n", left, o->help);
    }
}

int
bq_cli_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "blotquant: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'blotquant help')\n");
    return 2;
}

int
bq_cli_int(const char *s, int lo, int hi, const char *name, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return bq_cli_usage("%s takes a whole number from %d to %d, not '%s'",
                            name, lo, hi, s);
    *out = (int)v;
    return 0;
}

int
bq_cli_double(const char *s, double lo, double hi, const char *name,
              double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi))
        return bq_cli_usage("%s takes a number from %g to %g, not '%s'", name,
                            lo, hi, s);
    *out = v;
    return 0;
}

int
bq_cli_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    struct stat st;

    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        buf[i] = i < n ? '/' : '\0';
    }
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

void
bq_cli_stem(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/'), *dot;
    size_t len;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (len >= n)
        len = n - 1;
    memcpy(out, base, len);
    out[len] = '\0';
}

/* The temporary name of DST: ".NAME.tmp.PID" in the same folder, so the
 * rename cannot cross file systems. */
static void
tmp_name(const char *dst, char *out, size_t n)
{
    const char *slash = strrchr(dst, '/');
    int dir = slash ? (int)(slash - dst + 1) : 0;

    snprintf(out, n, "%.*s.%s.tmp.%ld", dir, dst, slash ? slash + 1 : dst,
             (long)getpid());
}

FILE *
bq_cli_open_atomic(const char *dst)
{
    char tmp[4200];

    tmp_name(dst, tmp, sizeof tmp);
    return fopen(tmp, "w");
}

int
bq_cli_commit_atomic(FILE *f, const char *dst)
{
    char tmp[4200];
    int bad;

    tmp_name(dst, tmp, sizeof tmp);
    bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    if (fclose(f) != 0)
        bad = 1;
    if (bad || rename(tmp, dst) != 0) {
        int e = errno;
        remove(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int
bq_cli_fail_write(const char *dst)
{
    char tmp[4200];

    fprintf(stderr, "blotquant: cannot write %s: %s\n", dst,
            errno ? strerror(errno) : "write error");
    tmp_name(dst, tmp, sizeof tmp);
    remove(tmp);
    return 1;
}

static const char *
polarity_name(enum bq_polarity p)
{
    return p == BQ_POLARITY_DARK_BANDS ? "dark-bands" : "light-bands";
}

void
bq_cli_write_log(FILE *f, const char *path, const struct bq_analysis *a,
                 const struct bq_analysis_opts *o)
{
    size_t sat = 0, split = 0;

    for (size_t i = 0; i < a->bands.n; i++) {
        sat += a->bands.b[i].sat_px > 0;
        split += a->bands.b[i].split;
    }
    fprintf(f, "blotquant %s\n", BQ_VERSION);
    fprintf(f, "input: %s\n", path);
    fprintf(f, "image: %zux%zu, %d-bit %s, %s compression, page %u, "
               "saturation at %g\n",
            a->width, a->height, a->bit_depth, a->load.format,
            a->load.compression, o->load.page + 1, (double)a->max_code);
    fprintf(f, "polarity: %s (%s, score %.3f)\n", polarity_name(a->prep.polarity),
            o->prepare.polarity == BQ_POLARITY_AUTO ? "detected" : "given",
            a->prep.polarity_score);
    fprintf(f, "hot pixels replaced: %zu\n", a->prep.hot_pixels);
    fprintf(f, "membrane surround: %s (membrane %.0f %% of the image)\n",
            a->prep.frame ? "found and masked" : "none",
            100.0 * a->prep.membrane_frac);
    fprintf(f, "background: %s, size %.1f px", bq_bg_method_name(a->bg_method),
            a->bg_size);
    if (a->bg_method == BQ_BG_FFT)
        fprintf(f, ", %d envelope rounds", a->bg_iterations);
    fprintf(f, "\n");
    fprintf(f, "rotation corrected: %.2f degrees\n", a->angle);
    fprintf(f, "noise SD: %.4g (file units)\n", a->noise);
    fprintf(f, "layout: %s\n", o->layout_file ? o->layout_file : "detected");
    fprintf(f, "strips: %zu, lanes: %zu, bands: %zu, saturated: %zu, "
               "split doublets: %zu\n",
            a->layout.nstrips, a->layout.nlanes, a->bands.n, sat, split);
    fprintf(f, "time (ms): load %.1f, prepare %.1f, background %.1f, deskew "
               "%.1f, layout %.1f, bands %.1f\n",
            a->ms_load, a->ms_prepare, a->ms_background, a->ms_deskew,
            a->ms_layout, a->ms_bands);
}
