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

/* Runs CMD with its stdout in DIR/out.txt and stderr in DIR/err.txt;
 * returns the exit code (or -1). */
int bq_test_run_in(const char *dir, const char *cmd);

/* 1 if the file PATH contains TEXT, else 0 (also if it cannot be read). */
int bq_test_file_contains(const char *path, const char *text);

/* The contents of PATH as a new string (caller frees), or NULL. */
char *bq_test_slurp(const char *path);

/* A CSV table in memory: the header's names and the rows' fields. */
struct bq_test_csv {
    size_t ncol, nrow;
    char **head;   /* ncol names */
    char **cell;   /* nrow * ncol fields ("" where a row is short) */
};

/* Reads table BLOCK (0-based; tables are separated by blank lines) of the
 * CSV file PATH, with RFC 4180 quoting. Returns 0, or -1 if the file or
 * block is missing. Free with bq_test_csv_free. */
int bq_test_csv_read(const char *path, int block, struct bq_test_csv *t);

/* Field COL of row ROW, or NULL if there is no such column. */
const char *bq_test_csv_get(const struct bq_test_csv *t, size_t row,
                            const char *col);

void bq_test_csv_free(struct bq_test_csv *t);

#endif
