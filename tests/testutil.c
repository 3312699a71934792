#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

const char *
bq_test_tmpdir(const char *name)
{
    static char path[1024];
    char cmd[2200];

    snprintf(path, sizeof path, "%s/testdata/%s", BQ_BINARY_DIR, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0)
        return NULL;
    return path;
}

int
bq_test_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int
bq_test_run(const char *cmd)
{
    int rc = system(cmd);
    if (rc == -1)
        return -1;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double
bq_test_quantile(double *a, size_t n, double q)
{
    double pos;
    size_t i;

    if (n == 0)
        return 0.0;
    qsort(a, n, sizeof *a, cmp_double);
    pos = q * (double)(n - 1);
    i = (size_t)pos;
    if (i + 1 >= n)
        return a[n - 1];
    return a[i] + (pos - (double)i) * (a[i + 1] - a[i]);
}

/* Splits one CSV record starting at *P into up to MAX fields (each a new
 * string); advances *P past the record's line end. Returns the count. */
static size_t
csv_record(const char **p, char **out, size_t max)
{
    const char *s = *p;
    size_t n = 0;
    for (;;) {
        char buf[4096];
        size_t k = 0;
        if (*s == '"') {
            s++;
            while (*s && !(*s == '"' && s[1] != '"')) {
                if (*s == '"')
                    s++;
                if (k + 1 < sizeof buf)
                    buf[k++] = *s;
                s++;
            }
            if (*s == '"')
                s++;
        }
        while (*s && *s != ',' && *s != '\n' && *s != '\r') {
            if (k + 1 < sizeof buf)
                buf[k++] = *s;
            s++;
        }
        buf[k] = '\0';
        if (n < max)
            out[n++] = strdup(buf);
        if (*s == ',') {
            s++;
            continue;
        }
        break;
    }
    while (*s == '\r')
        s++;
    if (*s == '\n')
        s++;
    *p = s;
    return n;
}

int
bq_test_csv_read(const char *path, int block, struct bq_test_csv *t)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    const char *p;
    long len;
    size_t cap = 0;

    memset(t, 0, sizeof *t);
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc((size_t)len + 1, 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    p = buf;
    for (int b = 0; b < block; b++) {
        /* skip to the blank line after this block */
        while (*p && !(*p == '\n' && (p[1] == '\n' || p[1] == '\r')))
            p++;
        while (*p == '\n' || *p == '\r')
            p++;
    }
    if (!*p) {
        free(buf);
        return -1;
    }
    {
        char *h[256];
        t->ncol = csv_record(&p, h, 256);
        t->head = calloc(t->ncol, sizeof *t->head);
        memcpy(t->head, h, t->ncol * sizeof *h);
    }
    while (*p && *p != '\n' && *p != '\r') {
        char *fld[256];
        size_t n = csv_record(&p, fld, 256);
        if (t->nrow == cap) {
            cap = cap ? 2 * cap : 64;
            t->cell = realloc(t->cell, cap * t->ncol * sizeof *t->cell);
        }
        for (size_t c = 0; c < t->ncol; c++)
            t->cell[t->nrow * t->ncol + c] = c < n ? fld[c] : strdup("");
        for (size_t c = t->ncol; c < n; c++)
            free(fld[c]);
        t->nrow++;
    }
    free(buf);
    return 0;
}

const char *
bq_test_csv_get(const struct bq_test_csv *t, size_t row, const char *col)
{
    for (size_t c = 0; c < t->ncol; c++)
        if (strcmp(t->head[c], col) == 0)
            return t->cell[row * t->ncol + c];
    return NULL;
}

void
bq_test_csv_free(struct bq_test_csv *t)
{
    for (size_t i = 0; i < t->nrow * t->ncol; i++)
        free(t->cell[i]);
    for (size_t c = 0; c < t->ncol; c++)
        free(t->head[c]);
    free(t->cell);
    free(t->head);
    memset(t, 0, sizeof *t);
}

char *
bq_test_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = n >= 0 ? calloc((size_t)n + 1, 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* LeakSanitizer's hook (used only in -DBQ_SANITIZE builds): fontconfig,
 * under pango, keeps its font cache for the life of the process on
 * purpose; that is not a leak of ours. Every test binary links this
 * file. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\n";
}

int
bq_test_run_in(const char *dir, const char *cmd)
{
    char full[8192];
    snprintf(full, sizeof full, "%s 2>'%s/err.txt' >'%s/out.txt'", cmd, dir,
             dir);
    return bq_test_run(full);
}

int
bq_test_file_contains(const char *path, const char *text)
{
    char *s = bq_test_slurp(path);
    int hit = s && strstr(s, text);
    free(s);
    return hit;
}
