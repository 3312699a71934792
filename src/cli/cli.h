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
 * with an argument stores it in *VAL (from "--x=v", "-xv" or the next
 * word, advancing *I). Prints a usage error and returns NULL if unknown. */
const struct bq_cli_opt *bq_cli_match(const struct bq_cli_opt *table,
                                      int argc, char **argv, int *i,
                                      const char **val);

void bq_cli_print_help(FILE *f, const char *synopsis, const char *what,
                       const struct bq_cli_opt *table);

/* Options of every command that analyses scans (ids from 100 on), and
 * how they set struct bq_analysis_opts. */
enum bq_cli_analysis_id {
    BQ_OPT_POLARITY = 100, BQ_OPT_BACKGROUND, BQ_OPT_BG_SIZE, BQ_OPT_CHANNEL,
    BQ_OPT_MAX_ANGLE, BQ_OPT_MIN_SNR, BQ_OPT_NO_DOUBLETS, BQ_OPT_NO_HOT,
    BQ_OPT_NO_MEMBRANE, BQ_OPT_MAX_PIXELS
};
extern const struct bq_cli_opt bq_cli_analysis_opts[];

/* OUT = OWN followed by bq_cli_analysis_opts, terminated; CAP entries. */
void bq_cli_join(const struct bq_cli_opt *own, struct bq_cli_opt *out,
                 size_t cap);

/* Applies analysis option ID with VAL to O. Returns 0, or prints a usage
 * message and returns 2. */
int bq_cli_analysis_opt(int id, const char *val, struct bq_analysis_opts *o);

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

/* The experiment and batch commands (batch.c). */
int bq_cmd_experiment(int argc, char **argv);
int bq_cmd_batch(int argc, char **argv);
int bq_cmd_blot(int argc, char **argv);
int bq_cmd_summary(int argc, char **argv);
int bq_cmd_list(int argc, char **argv);

/* The run log: what was read, decided and measured. */
void bq_cli_write_log(FILE *f, const char *path, const struct bq_analysis *a,
                      const struct bq_analysis_opts *o);

#endif
