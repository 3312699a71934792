/* Small helpers shared by the cmocka tests. */
#ifndef BQ_TESTUTIL_H
#define BQ_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh empty directory under the build tree for test NAME and
 * returns its path (static buffer, valid until the next call). */
const char *bq_test_tmpdir(const char *name);

/* Returns 1 if PATH exists and is a regular file or directory. */
int bq_test_exists(const char *path);

/* Runs the shell command CMD and returns its exit status (or -1). */
int bq_test_run(const char *cmd);

/* Median and given quantile (0..1) of N doubles; sorts A in place. */
double bq_test_quantile(double *a, size_t n, double q);

#endif
