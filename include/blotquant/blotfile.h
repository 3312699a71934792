/* blotquant blot results on disk: what the blot stage measured (one
 * bq_blot_result), saved so that the experiment stage can run as a job of
 * its own (a Snakemake rule, a Slurm job) and give exactly the tables,
 * charts and report page that one `batch` process gives. */
#ifndef BLOTQUANT_BLOTFILE_H
#define BLOTQUANT_BLOTFILE_H

#include <stdio.h>

#include "blotquant/experiment.h"
#include "blotquant/manifest.h"

/* The extension of a saved blot result. */
#define BQ_BLOT_EXT ".bqblot"

/* The file name of blot BI of M with SUFFIX ("_total.overlay.png",
 * BQ_BLOT_EXT), into OUT of N bytes: the blot's name with characters
 * other than letters, digits, '.', '-' and '_' made '_' (a leading '.'
 * too), and "+<BI + 1>" after it if an earlier blot's name comes out the
 * same. */
void bq_blot_file_name(const struct bq_manifest *m, size_t bi,
                       const char *suffix, char *out, size_t n);

/* Writes RES, the result of blot BI of M measured with the analysis
 * options OPTIONS (as the report's footer names them, "" for the
 * defaults), to F. The format is binary, versioned and in this machine's
 * byte order; it holds every field the tables, charts and report read,
 * bit for bit, and the blot's name and scans to check it against the
 * manifest when it is read back. Returns BQ_OK or BQ_ERR_IO. */
enum bq_status bq_blot_result_write(FILE *f, const struct bq_manifest *m,
                                    size_t bi, const struct bq_blot_result *res,
                                    const char *options);

/* Reads the result of blot BI of M from PATH into RES (caller:
 * bq_blot_result_fini, also on error) and its analysis options into
 * OPTIONS (N bytes). Errors name PATH: missing or unreadable
 * (BQ_ERR_IO), not a blot result, of another version or byte order, or
 * damaged (BQ_ERR_FORMAT), written for another blot or other scans than
 * the manifest now names (BQ_ERR_INVALID: the blot stage must run again). */
enum bq_status bq_blot_result_read(const char *path,
                                   const struct bq_manifest *m, size_t bi,
                                   struct bq_blot_result *res, char *options,
                                   size_t n, struct bq_error *err);

#endif
