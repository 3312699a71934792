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
