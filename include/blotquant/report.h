/* blotquant report index: one index.html at the top of a batch output that
 * links every report, chart, overlay and table, readable offline. */
#ifndef BLOTQUANT_REPORT_H
#define BLOTQUANT_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "blotquant/analysis.h"
#include "blotquant/experiment.h"
#include "blotquant/image.h"


/* One experiment of the index. */
struct bq_index_exp {
    const char *name;     /* experiment name (any text; escaped) */
    const char *rel;      /* its output folder relative to the index
                             ("" for the index's own folder) */
    size_t blots, failed; /* blots measured, and of those failed */
    const char *error;    /* why the whole experiment failed, or NULL */
};

/* Writes index.html for the experiments E[0..n) of the output folder
 * OUTDIR to F: per experiment its report page, charts, tables and scan
 * overlays as found in OUTDIR/<rel> (files that are absent are left out,
 * so the index never links a missing file), then the combined tables and
 * the errors. Links are relative, the page needs no network; a small
 * script marks on <body> how many images loaded (data-images-ok,
 * data-images-failed) so that a headless browser can check the page.
 * TITLE heads the page. Returns BQ_OK or BQ_ERR_IO. */
enum bq_status bq_write_index_html(FILE *f, const char *outdir,
                                   const struct bq_index_exp *e, size_t n,
                                   const char *title);

/* What the footer of a report page says about how it was made. */
struct bq_report_info {
    const char *version;        /* "blotquant 0.1.0" */
    const char *options;        /* the analysis options given, as text */
    const char *const *files;   /* input files, as named in the manifest */
    const char *const *sha256;  /* their SHA-256, 64 hex digits */
    size_t nfiles;
};

/* Draws the report page of an experiment into PNG_PATH: the bar and
 * dose-response charts of every target, every blot's strips as measured
 * (res[i].strip), the numbers and flags of every condition, and a footer
 * with INFO (may be NULL). 2000 px wide, as tall as needed. Returns BQ_OK,
 * BQ_ERR_INVALID, BQ_ERR_RENDER or BQ_ERR_IO (ERR says why). */
enum bq_status bq_render_report(const char *png_path,
                                const struct bq_manifest *m,
                                const struct bq_blot_result *res,
                                const struct bq_exp_summary *s,
                                const struct bq_report_info *info,
                                struct bq_error *err);

/* SHA-256 of the file PATH as 64 hex digits into HEX. Returns BQ_OK or
 * BQ_ERR_IO. */
enum bq_status bq_file_sha256(const char *path, char hex[65],
                              struct bq_error *err);

#endif
