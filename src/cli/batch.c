/* `blotquant experiment DIR` and `blotquant batch ROOT`: every blot of
 * every experiment, on -j worker threads, then the statistics and tables.
 * One code path: `experiment` is `batch` on a single folder. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blotquant/chart.h"
#include "blotquant/blotfile.h"
#include "blotquant/experiment.h"
#include "blotquant/report.h"
#include "cli.h"
#include "../parallel.h"

/* One experiment folder and its results. */
struct exp {
    char rel[1024]; /* output subfolder ("" for experiment) */
    struct bq_manifest m;
    int ok;                     /* manifest read */
    char error[256];            /* why not */
    struct bq_blot_result *res; /* one per blot, owned */
    struct bq_exp_opts opts;    /* the run's, with this one's overlay_dir */
    char scans[4096];           /* OUT/<rel>/scans: the overlays */
    char options[1024];         /* analysis options, for the report */
};

/* The work of one run, shared by the worker threads. */
struct run {
    struct exp *exps;
    size_t nexp, cap;
    size_t (*jobs)[2]; /* (experiment, blot) */
    size_t njobs, next, done, failed;
    int progress; /* 1: a progress line on stderr */
    pthread_mutex_t lock;
};

static struct exp *
add_exp(struct run *r)
{
    if (r->nexp == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        struct exp *n = realloc(r->exps, cap * sizeof *n);
        if (!n)
            return NULL;
        r->exps = n;
        r->cap = cap;
    }
    memset(&r->exps[r->nexp], 0, sizeof *r->exps);
    return &r->exps[r->nexp++];
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
has_manifest(const char *dir)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, BQ_MANIFEST_NAME);
    return stat(p, &st) == 0;
}

/* Finds experiments under DIR (REL its path below the root): a folder
 * with a manifest, or with scans that pair by name, is one experiment and
 * is not searched further. Folders in name order; SKIP (the output) and
 * hidden folders are left out. Returns -1 on allocation failure. */
static int
discover(struct run *r, const char *dir, const char *rel, const char *skip)
{
    struct bq_manifest m;
    struct bq_error err = {0};
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (has_manifest(dir) || bq_manifest_from_names(dir, &m, &err) == BQ_OK) {
        struct exp *e;
        if (!has_manifest(dir))
            bq_manifest_fini(&m);
        if (!(e = add_exp(r)))
            return -1;
        snprintf(e->rel, sizeof e->rel, "%s", rel);
        return 0;
    }
    bq_manifest_fini(&m);
    if (!(d = opendir(dir)))
        return 0;
    while ((de = readdir(d)) != NULL) {
        char p[4096];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (skip && strcmp(p, skip) == 0)
            continue;
        if (n == cap) {
            char **nn;
            cap = cap ? 2 * cap : 16;
            if (!(nn = realloc(names, cap * sizeof *nn))) {
                rc = -1;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char p[4096], q[2048];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        snprintf(q, sizeof q, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        rc = discover(r, p, q, skip);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static void
print_progress(struct run *r)
{
    fprintf(stderr, "\rblotquant: %zu/%zu blots", r->done, r->njobs);
    if (r->failed)
        fprintf(stderr, ", %zu failed", r->failed);
    fflush(stderr);
}

static void *
worker(void *arg)
{
    struct run *r = arg;
    for (;;) {
        size_t j, e, b;
        struct bq_error err = {0};
        pthread_mutex_lock(&r->lock);
        j = r->next++;
        pthread_mutex_unlock(&r->lock);
        if (j >= r->njobs)
            break;
        e = r->jobs[j][0];
        b = r->jobs[j][1];
        bq_blot_process(&r->exps[e].m, b, &r->exps[e].opts, &r->exps[e].res[b],
                        &err);
        pthread_mutex_lock(&r->lock);
        r->done++;
        if (r->exps[e].res[b].status != BQ_OK)
            r->failed++;
        if (r->progress)
            print_progress(r);
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

/* Opens DIR/NAME for writing through a temporary file; DST receives the
 * final path. NULL if it cannot be opened. */
static FILE *
table_open(const char *dir, const char *name, char *dst, size_t n)
{
    int len = snprintf(dst, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n)
        return NULL;
    return bq_cli_open_atomic(dst);
}

/* Puts the table in place if ST says it was written; returns 0, or 1
 * after an error message (the temporary file is removed). */
static int
table_close(FILE *f, enum bq_status st, const char *dst)
{
    if (!f)
        return bq_cli_fail_write(dst);
    if (st != BQ_OK) {
        fclose(f);
        return bq_cli_fail_write(dst);
    }
    return bq_cli_commit_atomic(f, dst) != 0 ? bq_cli_fail_write(dst) : 0;
}

static enum bq_status
write_errors(FILE *f, const struct run *r)
{
    fputs("experiment,blot,message\n", f);
    for (size_t i = 0; i < r->nexp; i++) {
        const struct exp *e = &r->exps[i];
        if (!e->ok) {
            bq_csv_field(f, e->rel[0] ? e->rel : ".");
            fputs(",,", f);
            bq_csv_field(f, e->error);
            fputc('\n', f);
            continue;
        }
        for (size_t b = 0; b < e->m.nblots; b++)
            if (e->res[b].status != BQ_OK || e->res[b].note[0]) {
                /* a failed blot, or one whose overlay is missing */
                bq_csv_field(f, e->rel[0] ? e->rel : ".");
                fputc(',', f);
                bq_csv_field(f, e->m.blots[b].name);
                fputc(',', f);
                bq_csv_field(f, e->res[b].status != BQ_OK ? e->res[b].error
                                                          : e->res[b].note);
                fputc('\n', f);
            }
    }
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}

/* Appends every experiment's summary (or dose-response) rows. */
static enum bq_status
write_combined(FILE *f, const struct run *r, const struct bq_exp_summary *s,
               int dose)
{
    int header = 1;
    for (size_t i = 0; i < r->nexp; i++) {
        if (!r->exps[i].ok)
            continue;
        if (dose)
            bq_write_doseresponse_csv(f, &r->exps[i].m, &s[i], header);
        else
            bq_write_summary_csv(f, &r->exps[i].m, &s[i], header);
        header = 0;
    }
    if (header) {
        struct bq_exp_summary none = {0};
        struct bq_manifest m = {0};
        if (dose)
            bq_write_doseresponse_csv(f, &m, &none, 1);
        else
            bq_write_summary_csv(f, &m, &none, 1);
    }
    return ferror(f) ? BQ_ERR_IO : BQ_OK;
}

/* Removes what an interrupted run left in DIR and below: temporary files
 * (".NAME.tmp", ".NAME.tmp.PID"; a run holding the folder's lock owns all
 * of them, so any found now are stale). Returns how many. */
static size_t
remove_stale(const char *dir, int depth, int max_depth)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char p[4200];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < max_depth && de->d_name[0] != '.')
                n += remove_stale(p, depth + 1, max_depth);
        } else if (S_ISREG(st.st_mode) && de->d_name[0] == '.' &&
                   strstr(de->d_name, ".tmp") && unlink(p) == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* "ERK1/2" -> "ERK1_2": a target's name as part of a file name. */
static void
file_word(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        out[k++] = ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.')
                       ? *s
                       : '_';
    out[k] = '\0';
}

/* Puts the picture written at TMP in place as DST (a file there is always
 * whole); returns 0, or 1 after an error message. */
static int
png_commit(const char *tmp, const char *dst)
{
    if (rename(tmp, dst) == 0)
        return 0;
    fprintf(stderr, "blotquant: cannot write %s: %s\n", dst, strerror(errno));
    remove(tmp);
    return 1;
}

/* DIR/.NAME.tmp: where DIR/NAME is drawn before it is put in place. */
static void
png_tmp(const char *dir, const char *name, char *tmp, size_t n)
{
    snprintf(tmp, n, "%s/.%s.tmp", dir, name);
}

/* The charts of every target of experiment E into DIR: bars_<target>.png
 * and, where an agent has doses, dose_<target>.png. Returns the number of
 * charts that could not be drawn (each reported on stderr). */
static int
write_charts(const char *dir, const struct bq_manifest *m,
             const struct bq_blot_result *res, const struct bq_exp_summary *s)
{
    int bad = 0;
    for (size_t i = 0; i < s->nconds; i++) {
        const struct bq_condition *c = &s->conds[i];
        char word[64], name[128], path[4300], tmp[4300];
        int dose = 0;
        struct bq_error err = {0};
        if (i > 0 && c->blot0 == s->conds[i - 1].blot0 &&
            c->part == s->conds[i - 1].part)
            continue;
        file_word(m->blots[c->blot0].target, word, sizeof word);
        if (c->part == BQ_PART_UPPER || c->part == BQ_PART_LOWER) {
            strncat(word, "_", sizeof word - strlen(word) - 1);
            strncat(word, bq_part_name(c->part),
                    sizeof word - strlen(word) - 1);
        }
        snprintf(name, sizeof name, "bars_%s.png", word);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        png_tmp(dir, name, tmp, sizeof tmp);
        if (bq_render_bars(tmp, m, res, s, c->blot0, c->part, NULL, &err) !=
            BQ_OK) {
            fprintf(stderr, "blotquant: %s\n", err.msg);
            remove(tmp);
            bad++;
        } else {
            bad += png_commit(tmp, path);
        }
        for (size_t k = 0; k < s->nfits; k++)
            dose |= s->fits[k].blot0 == c->blot0 && s->fits[k].part == c->part;
        if (!dose)
            continue;
        snprintf(name, sizeof name, "dose_%s.png", word);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        png_tmp(dir, name, tmp, sizeof tmp);
        if (bq_render_dose(tmp, m, res, s, c->blot0, c->part, NULL, &err) !=
            BQ_OK) {
            fprintf(stderr, "blotquant: %s\n", err.msg);
            remove(tmp);
            bad++;
        } else {
            bad += png_commit(tmp, path);
        }
    }
    return bad;
}

/* The report page of experiment E into DIR/report.png, its footer naming
 * OPTIONS and the SHA-256 of every input. Returns 0, or 1 after an error
 * message. */
static int
write_report(const char *dir, const struct bq_manifest *m,
             const struct bq_blot_result *res, const struct bq_exp_summary *s,
             const char *options)
{
    size_t cap = 1 + 3 * m->nblots, n = 0;
    const char **names = calloc(cap, sizeof *names);
    const char **sums = calloc(cap, sizeof *sums);
    char(*hex)[65] = calloc(cap, sizeof *hex);
    struct bq_report_info info = {"blotquant " BQ_VERSION, options, NULL, NULL,
                                  0};
    struct bq_error err = {0};
    char path[4200], tmp[4300];
    int rc = 0;

    if (!names || !sums || !hex) {
        free(names);
        free(sums);
        free(hex);
        fprintf(stderr, "blotquant: out of memory\n");
        return 1;
    }
    if (m->path[0] && bq_file_sha256(m->path, hex[n], NULL) == BQ_OK) {
        names[n] = BQ_MANIFEST_NAME;
        sums[n] = hex[n];
        n++;
    }
    for (size_t i = 0; i < m->nblots; i++) {
        const struct bq_scanref *r[3] = {
            &m->blots[i].phospho, &m->blots[i].total, &m->blots[i].loading};
        for (int k = 0; k < 3; k++) {
            int dup = 0;
            if (!r[k]->path[0])
                continue;
            for (size_t j = 0; j < n; j++)
                dup |= strcmp(names[j], r[k]->name) == 0;
            if (dup || bq_file_sha256(r[k]->path, hex[n], NULL) != BQ_OK)
                continue;
            names[n] = r[k]->name;
            sums[n] = hex[n];
            n++;
        }
    }
    info.files = names;
    info.sha256 = sums;
    info.nfiles = n;
    snprintf(path, sizeof path, "%s/report.png", dir);
    png_tmp(dir, "report.png", tmp, sizeof tmp);
    if (bq_render_report(tmp, m, res, s, &info, &err) != BQ_OK) {
        fprintf(stderr, "blotquant: %s\n", err.msg);
        remove(tmp);
        rc = 1;
    } else {
        rc = png_commit(tmp, path);
    }
    free(names);
    free(sums);
    free(hex);
    return rc;
}

/* The stages one command runs. `batch` is the blot, experiment and summary
 * stages in one process; a workflow engine runs them as separate jobs
 * (`list` tells it what there is), through the same functions. */
enum mode {
    M_BATCH,      /* every experiment under ROOT: measure, tables, top */
    M_EXPERIMENT, /* one folder: measure (or read --from), its tables */
    M_BLOT,       /* one blot of one folder: measure, save the result */
    M_SUMMARY,    /* every experiment under ROOT: read, top tables, index */
    M_LIST        /* every experiment and blot under ROOT, for an engine */
};

enum cmd_opt {
    B_OUT,
    B_JOBS,
    B_NO_OVERLAY,
    B_NO_REPORT,
    B_QUIET,
    B_FROM,
    B_HELP
};

/* Every option of the stage commands; each takes those its mode_info
 * names (and the analysis options if it measures). */
static const struct bq_cli_opt stage_opts[] = {
    {B_OUT, "-o", "--output", "DIR",
     "folder for the results (created; `list`: left out of the search)"},
    {B_JOBS, "-j", "--jobs", "N",
     "blots analysed at once (default: the processors this process may use)"},
    {B_NO_OVERLAY, NULL, "--no-overlay", NULL,
     "do not draw the scans as measured (scans/*.overlay.png)"},
    {B_NO_REPORT, NULL, "--no-report", NULL,
     "numbers only: no charts, report page, prism.csv or index.html"},
    {B_FROM, NULL, "--from", "DIR",
     "do not measure: read the blot results `blotquant blot` saved in DIR"},
    {B_QUIET, "-q", "--quiet", NULL, "print only errors"},
    {B_HELP, "-h", "--help", NULL, "show this help"},
    {0, NULL, NULL, NULL, NULL},
};

#define BIT(id) (1u << (id))
#define MEASURING                                                              \
    (BIT(B_OUT) | BIT(B_NO_OVERLAY) | BIT(B_NO_REPORT) | BIT(B_QUIET))

static const struct mode_info {
    unsigned accepts; /* bit (1 << id) of each stage_opts entry taken */
    int measures;     /* takes the analysis options */
    const char *synopsis, *what;
} modes[] = {
    [M_BATCH] = {MEASURING | BIT(B_JOBS), 1, "batch ROOT -o OUT [options]",
                 "Finds every experiment under ROOT, measures its blots in "
                 "parallel and writes per experiment OUT/<path>/ratios.csv, "
                 "summary.csv, doseresponse.csv, blots.csv, the charts, the "
                 "report page and the overlay of every scan as measured in "
                 "OUT/<path>/scans/; at the top OUT/summary.csv, "
                 "doseresponse.csv, errors.csv and index.html."},
    [M_EXPERIMENT] = {MEASURING | BIT(B_JOBS) | BIT(B_FROM), 1,
                      "experiment DIR -o OUT [options]",
                      "Measures every blot of the experiment in DIR (its "
                      "blotquant.ini, or scans paired by name) and writes "
                      "OUT/ratios.csv, summary.csv, doseresponse.csv, "
                      "blots.csv, errors.csv, the charts, the report page and "
                      "the overlay of every scan as measured in OUT/scans/. "
                      "With --from, the workflow's experiment stage: the same "
                      "tables, charts and report from the saved blot results, "
                      "without errors.csv and index.html (the summary "
                      "stage's)."},
    [M_BLOT] = {MEASURING, 1, "blot DIR BLOT -o OUT [options]",
                "The workflow's blot stage: measures blot BLOT (its name in "
                "the manifest) of the experiment in DIR, draws its scans "
                "into OUT/scans/ and saves the result as "
                "OUT/blots/<BLOT>" BQ_BLOT_EXT
                " for `experiment DIR --from OUT/blots`. Exit 3 if the blot "
                "failed (the failure is saved), 1 if nothing could be "
                "saved."},
    [M_SUMMARY] = {BIT(B_OUT) | BIT(B_NO_REPORT) | BIT(B_QUIET), 0,
                   "summary ROOT -o OUT [options]",
                   "The workflow's last stage: for every experiment under "
                   "ROOT reads the blot results saved in OUT/<path>/blots/ "
                   "and writes OUT/summary.csv, doseresponse.csv, errors.csv "
                   "and index.html, as `batch` does."},
    [M_LIST] = {BIT(B_OUT), 0, "list ROOT [-o OUT]",
                "Prints what `batch` would do, one tab-separated line each, "
                "for a workflow engine: \"experiment PATH MANIFEST ok|error "
                "MESSAGE\" (PATH \".\" for ROOT itself, MANIFEST \"-\" if the "
                "scans pair by name) and \"blot PATH BLOT RESULT SCAN...\" "
                "(RESULT the file name the blot stage saves, SCAN the scans "
                "it reads)."},
};

/* Reads the saved result of every blot of E from DIR; a missing or bad
 * one counts as a failed blot. Takes the analysis options from the
 * results (they all must agree). Returns the number of problems. */
static int
read_results(struct exp *e, const char *dir)
{
    int bad = 0, have = 0;
    size_t absent = 0;
    for (size_t b = 0; b < e->m.nblots; b++) {
        char name[256], path[4800], opt[sizeof e->options];
        struct bq_error err = {0};
        bq_blot_file_name(&e->m, b, BQ_BLOT_EXT, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (bq_blot_result_read(path, &e->m, b, &e->res[b], opt, sizeof opt,
                                &err) != BQ_OK) {
            absent += err.status == BQ_ERR_IO;
            continue; /* reported with the failed blots */
        }
        if (!have) {
            memcpy(e->options, opt, sizeof opt);
            have = 1;
        } else if (strcmp(opt, e->options) != 0) {
            fprintf(stderr,
                    "blotquant: %s: measured with options '%s', other blots "
                    "of %s with '%s'; the report names the first\n",
                    path, opt, e->m.name, e->options);
            bad++;
        }
    }
    if (e->m.nblots && absent == e->m.nblots) {
        /* nothing measured here: say so rather than write tables of
         * failed blots over good ones */
        snprintf(e->error, sizeof e->error,
                 "%.150s holds no blot results of %.40s (has the blot stage "
                 "run?)",
                 dir, e->m.name);
        fprintf(stderr, "blotquant: %s\n", e->error);
        e->ok = 0;
        bad++;
    }
    return bad;
}

/* The blot of M named NAME (or numbered so, 1-based), or -1 after an
 * error message listing the blots. */
static long
find_blot(const struct bq_manifest *m, const char *name)
{
    char *end;
    unsigned long k;
    for (size_t b = 0; b < m->nblots; b++)
        if (strcmp(m->blots[b].name, name) == 0)
            return (long)b;
    k = strtoul(name, &end, 10);
    if (*name && !*end && k >= 1 && k <= m->nblots)
        return (long)k - 1;
    fprintf(stderr, "blotquant: %s: no blot '%s'; its blots are:", m->dir,
            name);
    for (size_t b = 0; b < m->nblots; b++)
        fprintf(stderr, "%s '%s'", b ? "," : "", m->blots[b].name);
    fputc('\n', stderr);
    return -1;
}

/* Prints the fields of one tab-separated line (tabs and line breaks in
 * them made spaces). */
static void
plan_line(const char *const *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (const char *s = f[i]; *s; s++)
            putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
        putchar(i + 1 < n ? '\t' : '\n');
    }
}

/* `list`: one line per experiment and per blot (see modes[M_LIST]). */
static void
print_plan(const struct run *r)
{
    for (size_t i = 0; i < r->nexp; i++) {
        const struct exp *e = &r->exps[i];
        const char *rel = e->rel[0] ? e->rel : ".";
        const char *ef[5] = {"experiment", rel,
                             e->ok && e->m.path[0] ? e->m.path : "-",
                             e->ok ? "ok" : "error", e->ok ? "" : e->error};
        plan_line(ef, 5);
        for (size_t b = 0; e->ok && b < e->m.nblots; b++) {
            const struct bq_mblot *bl = &e->m.blots[b];
            const char *scan[3] = {bl->phospho.path, bl->total.path,
                                   bl->loading.path};
            const char *bf[7] = {"blot", rel, bl->name, NULL};
            char name[256];
            size_t n = 4;
            bq_blot_file_name(&e->m, b, BQ_BLOT_EXT, name, sizeof name);
            bf[3] = name;
            for (int k = 0; k < 3; k++) {
                int dup = !scan[k][0];
                for (int j = 0; j < k; j++)
                    dup |= strcmp(scan[j], scan[k]) == 0;
                if (!dup)
                    bf[n++] = scan[k];
            }
            plan_line(bf, n);
        }
    }
}

/* Saves the result of blot B of E as OUTDIR/blots/<name>.bqblot, whole or
 * not at all. Returns 0, or 1 after an error message. */
static int
save_result(const char *outdir, const struct exp *e, size_t b)
{
    char dir[4200], name[256], dst[4500];
    FILE *f;
    snprintf(dir, sizeof dir, "%s/blots", outdir);
    if (bq_cli_mkdirs(dir) != 0) {
        fprintf(stderr, "blotquant: cannot create %s: %s\n", dir,
                strerror(errno));
        return 1;
    }
    bq_blot_file_name(&e->m, b, BQ_BLOT_EXT, name, sizeof name);
    f = table_open(dir, name, dst, sizeof dst);
    return table_close(
        f,
        f ? bq_blot_result_write(f, &e->m, b, &e->res[b], e->options)
          : BQ_ERR_IO,
        dst);
}

/* The body of every stage command (enum mode). */
static int
run_batch(int argc, char **argv, enum mode mode)
{
    const struct mode_info *mi = &modes[mode];
    int single = mode == M_EXPERIMENT || mode == M_BLOT;
    struct bq_exp_opts opts;
    struct bq_cli_opt table[64];
    struct run r;
    struct bq_exp_summary *sums = NULL;
    const char *root = NULL, *outdir = NULL, *from = NULL, *blot_name = NULL;
    char skip[4096] = "";
    int jobs = 0, quiet = 0, failed_writes = 0, rc = 0, overlay = 1, report = 1,
        lock_fd = -1, measure, tables, top, nopts = 0, recorded = 0;
    long blot = -1;
    char dst[4096], options[1024] = "";
    FILE *f;
    pthread_t th[64];
    size_t nblots = 0;

    memset(&r, 0, sizeof r);
    bq_exp_opts_init(&opts);
    {
        /* this command's options, then the analysis options if it
         * measures */
        struct bq_cli_opt own[16];
        size_t k = 0;
        for (size_t j = 0; stage_opts[j].lng; j++)
            if ((mi->accepts | BIT(B_HELP)) & BIT(stage_opts[j].id))
                own[k++] = stage_opts[j];
        own[k] = stage_opts[sizeof stage_opts / sizeof *stage_opts - 1];
        if (mi->measures)
            bq_cli_join(own, table, 64);
        else
            memcpy(table, own, (k + 1) * sizeof *own);
    }
    for (int i = 1; i < argc; i++) {
        const struct bq_cli_opt *opt;
        const char *val = NULL;
        if (argv[i][0] != '-') {
            if (!root)
                root = argv[i];
            else if (mode == M_BLOT && !blot_name)
                blot_name = argv[i];
            else
                return bq_cli_usage(
                    "%s takes one folder%s, not '%s' too", argv[0],
                    mode == M_BLOT ? " and a blot" : "", argv[i]);
            continue;
        }
        if (!(opt = bq_cli_match(table, argc, argv, &i, &val)))
            return 2;
        switch (opt->id) {
        case B_OUT:
            outdir = val;
            break;
        case B_JOBS:
            if (bq_cli_int(val, 1, 64, "--jobs", &jobs))
                return 2;
            break;
        case B_QUIET:
            quiet = 1;
            break;
        case B_NO_OVERLAY:
            overlay = 0;
            break;
        case B_NO_REPORT:
            report = 0;
            break;
        case B_FROM:
            from = val;
            break;
        case B_HELP:
            bq_cli_print_help(stdout, mi->synopsis, mi->what, table);
            return 0;
        default:
            if (bq_cli_analysis_opt(opt->id, val, &opts.analysis))
                return 2;
            nopts++;
            /* for the report's footer: what changed the analysis */
            snprintf(options + strlen(options),
                     sizeof options - strlen(options), "%s%s%s%s",
                     options[0] ? " " : "", opt->lng, val ? " " : "",
                     val ? val : "");
        }
    }
    if (!root)
        return bq_cli_usage("%s needs a folder", argv[0]);
    if (mode == M_BLOT && !blot_name)
        return bq_cli_usage("%s needs the name of a blot of %s", argv[0], root);
    if (!outdir && mode != M_LIST)
        return bq_cli_usage("%s needs an output folder: -o OUT", argv[0]);
    if (from && nopts)
        return bq_cli_usage("%s --from reads results measured by `blotquant "
                            "blot`: give the analysis options there",
                            argv[0]);
    /* which stages run */
    measure =
        mode == M_BATCH || mode == M_BLOT || (mode == M_EXPERIMENT && !from);
    tables = mode == M_BATCH || mode == M_EXPERIMENT;
    top =
        mode == M_BATCH || mode == M_SUMMARY || (mode == M_EXPERIMENT && !from);
    if (jobs <= 0)
        jobs = (int)(bq_cpu_count() < 64 ? bq_cpu_count() : 64);
    {
        struct stat st;
        if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "blotquant: %s: %s\n", root,
                    stat(root, &st) != 0 ? strerror(errno) : "not a folder");
            return 1;
        }
    }
    if (outdir && mode != M_LIST && bq_cli_mkdirs(outdir) != 0) {
        fprintf(stderr, "blotquant: cannot create the output folder %s: %s\n",
                outdir, strerror(errno));
        return 1;
    }
    /* One run per output folder at a time: a second run into the same
     * folder would interleave its files with ours. The blot stages of one
     * experiment share the folder (each writes only its own files). The
     * lock goes with the process, also when it is killed. */
    if (mode != M_LIST) {
        char lp[4200];
        snprintf(lp, sizeof lp, "%s/.blotquant.lock", outdir);
        lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock_fd < 0) {
            fprintf(stderr,
                    "blotquant: cannot write in the output folder "
                    "%s: %s\n",
                    outdir, strerror(errno));
            return 1;
        }
        if (flock(lock_fd, (mode == M_BLOT ? LOCK_SH : LOCK_EX) | LOCK_NB) !=
            0) {
            fprintf(stderr,
                    "blotquant: %s is in use by another blotquant run "
                    "(%s); wait for it to finish or write elsewhere\n",
                    outdir, lp);
            close(lock_fd);
            return 1;
        }
        /* the summary stage owns only the top folder: below it, blot
         * jobs of a workflow may be writing */
        if (mode != M_BLOT)
            remove_stale(outdir, 0, mode == M_SUMMARY ? 0 : 8);
    }
    if (outdir) {
        /* do not search the output folder if it lies under ROOT */
        char a[4096], b[4096];
        if (realpath(outdir, b)) {
            snprintf(skip, sizeof skip, "%s", b);
            if (realpath(root, a) && strcmp(a, b) == 0)
                skip[0] = '\0';
        }
    }

    /* find the experiments and read their manifests */
    if (single) {
        struct exp *e = add_exp(&r);
        if (!e)
            goto nomem;
    } else if (discover(&r, root, "", skip[0] ? skip : NULL) != 0) {
        goto nomem;
    }
    for (size_t i = 0; i < r.nexp; i++) {
        struct exp *e = &r.exps[i];
        char dir[4096];
        struct bq_error err = {0};
        snprintf(dir, sizeof dir, "%s%s%s", root, e->rel[0] ? "/" : "", e->rel);
        if (bq_manifest_load(dir, &e->m, &err) != BQ_OK) {
            snprintf(e->error, sizeof e->error, "%s", err.msg);
            if (mode != M_LIST)
                fprintf(stderr, "blotquant: %s\n", err.msg);
            recorded = 1;
            continue;
        }
        e->res = calloc(e->m.nblots ? e->m.nblots : 1, sizeof *e->res);
        if (!e->res)
            goto nomem;
        e->ok = 1;
        nblots += e->m.nblots;
        e->opts = opts;
        e->opts.overlay_dir = NULL;
        e->opts.strips = report; /* for the report page */
        snprintf(e->options, sizeof e->options, "%s", options);
        if (measure && overlay && e->m.nblots) {
            /* the overlays go to OUT/<rel>/scans, made now: the workers
             * write them as they measure */
            snprintf(e->scans, sizeof e->scans, "%s%s%s/scans", outdir,
                     e->rel[0] ? "/" : "", e->rel);
            if (bq_cli_mkdirs(e->scans) != 0) {
                fprintf(stderr, "blotquant: cannot create %s: %s\n", e->scans,
                        strerror(errno));
                rc = 1;
            } else {
                e->opts.overlay_dir = e->scans;
            }
        }
    }
    if (mode == M_LIST) {
        print_plan(&r);
        rc = fflush(stdout) != 0 || ferror(stdout);
        goto out;
    }
    if (r.nexp == 0) {
        fprintf(stderr,
                "blotquant: %s: no experiment found (a folder with "
                "%s, or scans that pair by name)\n",
                root, BQ_MANIFEST_NAME);
        rc = 1;
    }
    if (mode == M_BLOT && r.exps[0].ok &&
        (blot = find_blot(&r.exps[0].m, blot_name)) < 0) {
        rc = 2;
        goto out;
    }

    /* the blot stage: every blot (or the one asked for), on JOBS threads */
    r.jobs = calloc(nblots ? nblots : 1, sizeof *r.jobs);
    if (!r.jobs)
        goto nomem;
    for (size_t i = 0; measure && i < r.nexp; i++)
        for (size_t b = 0; r.exps[i].ok && b < r.exps[i].m.nblots; b++) {
            if (blot >= 0 && b != (size_t)blot)
                continue;
            r.jobs[r.njobs][0] = i;
            r.jobs[r.njobs][1] = b;
            r.njobs++;
        }
    r.progress = !quiet && isatty(STDERR_FILENO) && mode != M_BLOT;
    pthread_mutex_init(&r.lock, NULL);
    {
        int started = 0;
        for (int t = 1; t < jobs && (size_t)t < r.njobs; t++)
            if (pthread_create(&th[started], NULL, worker, &r) == 0)
                started++;
        worker(&r);
        for (int t = 0; t < started; t++)
            pthread_join(th[t], NULL);
    }
    pthread_mutex_destroy(&r.lock);
    if (r.progress && r.njobs)
        fputc('\n', stderr);
    if (mode == M_BLOT) {
        struct exp *e = &r.exps[0];
        const struct bq_blot_result *res;
        if (!e->ok) {
            rc = 1; /* nothing saved */
            goto out;
        }
        res = &e->res[blot];
        if (save_result(outdir, e, (size_t)blot) != 0)
            rc = 1;
        if (res->status != BQ_OK) {
            fprintf(stderr, "blotquant: %s\n", res->error);
            recorded = 1;
        } else if (res->note[0]) {
            fprintf(stderr, "blotquant: %s: %s\n", e->m.blots[blot].name,
                    res->note);
            rc = 1;
        } else if (!quiet) {
            char name[256];
            bq_blot_file_name(&e->m, (size_t)blot, BQ_BLOT_EXT, name,
                              sizeof name);
            printf("%s: blot %s measured -> %s/blots/%s\n", e->m.name,
                   e->m.blots[blot].name, outdir, name);
        }
        goto out;
    }
    /* or the results the blot stage saved */
    for (size_t i = 0; !measure && i < r.nexp; i++) {
        char dir[4200];
        if (!r.exps[i].ok)
            continue;
        if (from)
            snprintf(dir, sizeof dir, "%s", from);
        else
            snprintf(dir, sizeof dir, "%s%s%s/blots", outdir,
                     r.exps[i].rel[0] ? "/" : "", r.exps[i].rel);
        if (read_results(&r.exps[i], dir))
            rc = 1;
    }

    /* the experiment stage: statistics and tables, experiment by
     * experiment, in order */
    sums = calloc(r.nexp ? r.nexp : 1, sizeof *sums);
    if (!sums)
        goto nomem;
    for (size_t i = 0; i < r.nexp; i++) {
        struct exp *e = &r.exps[i];
        char dir[4096];
        struct bq_error err = {0};
        size_t ok = 0, maxl = 0;
        int drawn = 0;
        if (!e->ok)
            continue;
        for (size_t b = 0; b < e->m.nblots; b++) {
            if (e->res[b].status != BQ_OK) {
                fprintf(stderr, "blotquant: %s\n", e->res[b].error);
                recorded = 1;
                continue;
            }
            if (e->res[b].note[0]) {
                /* measured, but an overlay is missing */
                fprintf(stderr, "blotquant: %s: %s\n", e->m.blots[b].name,
                        e->res[b].note);
                rc = 1;
            }
            ok++;
            drawn |= e->res[b].overlay[BQ_ROLE_PHOSPHO][0] != '\0';
            if (e->res[b].nlanes > maxl)
                maxl = e->res[b].nlanes;
        }
        if (bq_manifest_number_lanes(&e->m, maxl, &err) != BQ_OK ||
            bq_exp_summarize(&e->m, e->res, &sums[i], &err) != BQ_OK) {
            fprintf(stderr, "blotquant: %s: %s\n", e->m.dir, err.msg);
            rc = 1;
            continue;
        }
        if (!tables)
            continue;
        snprintf(dir, sizeof dir, "%s%s%s", outdir, e->rel[0] ? "/" : "",
                 e->rel);
        if (bq_cli_mkdirs(dir) != 0) {
            fprintf(stderr, "blotquant: cannot create %s: %s\n", dir,
                    strerror(errno));
            rc = 1;
            continue;
        }
        f = table_open(dir, "ratios.csv", dst, sizeof dst);
        failed_writes += table_close(
            f, f ? bq_write_ratios_csv(f, &e->m, e->res) : BQ_ERR_IO, dst);
        f = table_open(dir, "blots.csv", dst, sizeof dst);
        failed_writes += table_close(
            f, f ? bq_write_blots_csv(f, &e->m, e->res) : BQ_ERR_IO, dst);
        f = table_open(dir, "summary.csv", dst, sizeof dst);
        failed_writes += table_close(
            f, f ? bq_write_summary_csv(f, &e->m, &sums[i], 1) : BQ_ERR_IO,
            dst);
        f = table_open(dir, "doseresponse.csv", dst, sizeof dst);
        failed_writes += table_close(
            f, f ? bq_write_doseresponse_csv(f, &e->m, &sums[i], 1) : BQ_ERR_IO,
            dst);
        if (report) {
            f = table_open(dir, "prism.csv", dst, sizeof dst);
            failed_writes += table_close(
                f, f ? bq_write_prism_csv(f, &e->m, e->res) : BQ_ERR_IO, dst);
            failed_writes += write_charts(dir, &e->m, e->res, &sums[i]);
            failed_writes +=
                write_report(dir, &e->m, e->res, &sums[i], e->options);
        }
        if (!quiet)
            printf("%s: %zu/%zu blots -> %s/ (%sratios.csv, summary.csv, "
                   "doseresponse.csv, blots.csv%s%s)\n",
                   e->m.name, ok, e->m.nblots, dir,
                   report ? "report.png, charts, " : "",
                   report ? ", prism.csv" : "",
                   drawn ? ", scans/*.overlay.png" : "");
    }

    /* the summary stage: every experiment together */
    if (!top)
        goto out;
    if (!single) {
        f = table_open(outdir, "summary.csv", dst, sizeof dst);
        failed_writes +=
            table_close(f, f ? write_combined(f, &r, sums, 0) : BQ_ERR_IO, dst);
        f = table_open(outdir, "doseresponse.csv", dst, sizeof dst);
        failed_writes +=
            table_close(f, f ? write_combined(f, &r, sums, 1) : BQ_ERR_IO, dst);
    }
    f = table_open(outdir, "errors.csv", dst, sizeof dst);
    failed_writes += table_close(f, f ? write_errors(f, &r) : BQ_ERR_IO, dst);
    if (report) {
        /* index.html: every report, chart, table and overlay */
        struct bq_index_exp *ix = calloc(r.nexp ? r.nexp : 1, sizeof *ix);
        if (!ix)
            goto nomem;
        for (size_t i = 0; i < r.nexp; i++) {
            struct exp *e = &r.exps[i];
            ix[i].name = e->ok ? e->m.name : (e->rel[0] ? e->rel : root);
            ix[i].rel = e->rel;
            ix[i].blots = e->ok ? e->m.nblots : 0;
            for (size_t b = 0; e->ok && b < e->m.nblots; b++)
                ix[i].failed += e->res[b].status != BQ_OK;
            ix[i].error = e->ok ? NULL : e->error;
        }
        f = table_open(outdir, "index.html", dst, sizeof dst);
        failed_writes += table_close(
            f,
            f ? bq_write_index_html(f, outdir, ix, r.nexp, "blotquant results")
              : BQ_ERR_IO,
            dst);
        free(ix);
    }
    if (!quiet) {
        size_t nerr = 0;
        for (size_t i = 0; i < r.nexp; i++) {
            nerr += !r.exps[i].ok;
            for (size_t b2 = 0; r.exps[i].ok && b2 < r.exps[i].m.nblots; b2++)
                nerr += r.exps[i].res[b2].status != BQ_OK ||
                        r.exps[i].res[b2].note[0];
        }
        if (report)
            printf("index of everything -> %s/index.html; ", outdir);
        if (!single)
            printf("all experiments -> %s/summary.csv, doseresponse.csv; ",
                   outdir);
        printf("%zu error%s -> %s/errors.csv\n", nerr, nerr == 1 ? "" : "s",
               outdir);
    }
    goto out;
nomem:
    fprintf(stderr, "blotquant: out of memory\n");
    rc = 1;
out:
    if (failed_writes)
        rc = 1;
    /* a blot or manifest that failed costs its line in the tables: exit 1
     * for batch and experiment, 3 for a workflow stage (written, with
     * failures recorded; 1 there is a failure of the stage itself) */
    if (rc == 0 && recorded && mode != M_LIST)
        rc = mode == M_BATCH || (mode == M_EXPERIMENT && !from) ? 1 : 3;
    for (size_t i = 0; i < r.nexp; i++) {
        for (size_t b = 0; r.exps[i].res && b < r.exps[i].m.nblots; b++)
            bq_blot_result_fini(&r.exps[i].res[b]);
        free(r.exps[i].res);
        if (sums)
            bq_exp_summary_fini(&sums[i]);
        bq_manifest_fini(&r.exps[i].m);
    }
    free(sums);
    free(r.exps);
    free(r.jobs);
    if (lock_fd >= 0)
        close(lock_fd); /* releases the lock */
    return rc;
}

int
bq_cmd_experiment(int argc, char **argv)
{
    return run_batch(argc, argv, M_EXPERIMENT);
}

int
bq_cmd_batch(int argc, char **argv)
{
    return run_batch(argc, argv, M_BATCH);
}

int
bq_cmd_blot(int argc, char **argv)
{
    return run_batch(argc, argv, M_BLOT);
}

int
bq_cmd_summary(int argc, char **argv)
{
    return run_batch(argc, argv, M_SUMMARY);
}

int
bq_cmd_list(int argc, char **argv)
{
    return run_batch(argc, argv, M_LIST);
}
