/* Scoring of an analysis against generator truth (shared by the e2e test
 * and tools/accuracy). */
#ifndef BQ_E2E_EVAL_H
#define BQ_E2E_EVAL_H

#include <stddef.h>

#include "blotquant/analysis.h"
#include "synth.h"

struct bq_eval {
    size_t lanes, lanes_found;       /* truth lanes / found within w/4 */
    size_t bands, bands_found;       /* truth bands of interest / found */
    size_t sat_bands, sat_flagged;   /* truth saturated / found, flagged */
    size_t sat_found;                /* truth saturated and found */
    size_t lanes_det, phantom;       /* lanes detected / of those, lanes
                                        holding bands that no truth lane
                                        matches */
    size_t se_off;                   /* bands whose volume_se is not
                                        the box sum's, times the band's
                                        share of it (frac) */
    size_t nerr;                     /* volume errors collected */
    double err[65536];               /* |relative error| after row scaling */
};

/* Scores A against T, appending to EV. Bands of interest: every non-ladder
 * band. A truth lane counts as found if a detected lane's centre (original
 * coordinates) is within a quarter of its width; a band if a band of that
 * lane lies within 2 SD (or 4 px) of it. A detected lane that holds a band
 * but finds no truth lane that way is a phantom (a lane where the scan has
 * none, or one placed between two true lanes). */
void bq_eval_add(struct bq_eval *ev, const struct bq_analysis *a,
                 const struct bq_synth_truth *t);

/* Generates the blot P describes, analyses it with default options and
 * adds the scores to EV. If A is not NULL the analysis is left in it
 * (caller: bq_analysis_fini), else it is freed. Returns BQ_OK or the first
 * error (with ERR filled). */
enum bq_status bq_eval_scan(struct bq_eval *ev,
                            const struct bq_synth_params *p,
                            struct bq_analysis *a, struct bq_error *err);

#endif
