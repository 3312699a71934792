/* Internal to the charts (src/chart_data.c, src/prism.c, src/render_chart.c):
 * the replicate data of a target, gathered the way bq_exp_summarize does.
 * No cairo here: the Prism CSV needs none. */
#ifndef BQ_CHART_INTERNAL_H
#define BQ_CHART_INTERNAL_H

#include <stddef.h>

#include "blotquant/chart.h"

/* Label of lane I of M ("lane 3" when M has no lanes), in BUF of N bytes
 * if it has to be made. Returns M's label or BUF. */
const char *bq_chart_lane_label(const struct bq_manifest *m, size_t i,
                                char *buf, size_t n);

/* 0-based control lane of M (lane 1 when M has no lanes). */
size_t bq_chart_control(const struct bq_manifest *m);

/* 1 if blots A and B of M measure the same target (case-insensitive). */
int bq_chart_same_target(const struct bq_manifest *m, size_t a, size_t b);

/* Fold change of the condition of lane LANE in blot R, band part PART: the
 * mean over R's lanes with LANE's label (as bq_exp_summarize); NaN if R
 * failed or has no finite value. */
double bq_chart_blot_fc(const struct bq_manifest *m,
                        const struct bq_blot_result *r, size_t lane,
                        enum bq_part part);

/* Stores in IDX (room for M->nblots) the blots of BLOT0's target ordered by
 * replicate number, manifest order for ties, failed ones included.
 * Returns how many. */
size_t bq_chart_target_blots(const struct bq_manifest *m, size_t blot0,
                             size_t *idx);

/* The ratio's name: "pSTAT3/STAT3" (SEP "/") or "pSTAT3 / STAT3" (SEP
 * " / "); SEP is widened to " / " when the target holds a '/'
 * ("pERK1/2 / ERK1/2"). Into BUF of N bytes; returns BUF. */
char *bq_chart_ratio_name(const struct bq_manifest *m, size_t blot0,
                          const char *sep, char *buf, size_t n);

#endif
