/* Shared command-line plumbing: option tables, numbers, atomic files. */
#ifndef BQ_CLI_H
#define BQ_CLI_H

#include <stdio.h>

#include "blotquant/analysis.h"

/* One row of an option table; the same table drives parsing and --help. */
struct bq_cli_opt {
    int id;              /* the command's enum value */
    const char *shrt;    /* "-o" or NULL */
    const char *lng;     /* "--output" */
    const char *arg;     /* metavariable, or NULL for a flag */
    const char *help;    /* one line */
};

/* Matches ARGV[*I] against TABLE (terminated by lng == NULL); for options
 * with an argument stores it in *VAL (from "--x=v" or the next word,
 * advancing *I). Prints a usage error and returns NULL if unknown. */
const struct bq_cli_opt *bq_cli_match(const struct bq_cli_opt *table,
                                      int argc, char **argv, int *i,
                                      const char **val);

void bq_cli_print_help(FILE *f, const char *synopsis, const char *what,
                       const struct bq_cli_opt *table);

/* Prints "blotquant: MESSAGE" and a hint to stderr; returns 2. */
int bq_cli_usage(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Parse a number in [lo, hi]; on error print a usage message, return 2. */
int bq_cli_int(const char *s, int lo, int hi, const char *name, int *out);
int bq_cli_double(const char *s, double lo, double hi, const char *name,
                  double *out);

/* mkdir -p. Returns 0 or -1 with errno set. */
int bq_cli_mkdirs(const char *path);

/* File name of PATH without folders and without its last extension. */
void bq_cli_stem(const char *path, char *out, size_t n);

/* Opens a temporary file beside DST; bq_cli_commit_atomic flushes, syncs and
 * renames it onto DST (or removes it on failure, returning -1). */
FILE *bq_cli_open_atomic(const char *dst);
int bq_cli_commit_atomic(FILE *f, const char *dst);

/* Prints a write error for DST; returns 1. */
int bq_cli_fail_write(const char *dst);

/* The run log: what was read, decided and measured. */
void bq_cli_write_log(FILE *f, const char *path, const struct bq_analysis *a,
                      const struct bq_analysis_opts *o);

#endif
