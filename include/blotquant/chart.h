/* blotquant charts of an experiment: per target (and band part of a
 * doublet) a bar chart of the fold changes per condition and a
 * dose-response plot with the Hill fits; and a wide CSV of the fold
 * changes for GraphPad Prism.
 *
 * Like the overlay renderer, the charts only draw what the experiment stage
 * computed (bq_exp_summarize and the blots' ratios); nothing is measured
 * from pixels. Same inputs give the same PNG bytes; nothing is kept between
 * calls, so several threads may render at once. */
#ifndef BLOTQUANT_CHART_H
#define BLOTQUANT_CHART_H

#include <stddef.h>
#include <stdio.h>

#include "blotquant/experiment.h"
#include "blotquant/manifest.h"

/* Sizes of the chart PNGs, px. The bar chart grows wider by
 * BQ_CHART_BAR_SLOT px per condition beyond BQ_CHART_BARS_WIDE conditions,
 * so that bars and their labels stay readable; at most BQ_CHART_MAX_BARS
 * conditions are drawn (the footnote says how many were left out). */
#define BQ_CHART_W 1200
#define BQ_CHART_H 800
#define BQ_CHART_BARS_WIDE 40
#define BQ_CHART_BAR_SLOT 27
#define BQ_CHART_MAX_BARS 256

/* Colours (0xRRGGBB). Agents take the Okabe-Ito colours (safe for
 * colour-blind readers) in the order of their first condition; the control
 * is grey; replicate dots on bars are near-black with a white ring. */
#define BQ_CHART_CONTROL_RGB 0xA0A0A0u
#define BQ_CHART_DOT_RGB 0x1A1A1Au
#define BQ_CHART_BG_RGB 0xFFFFFFu

/* Where things are in a chart (for tests and for the report page). All
 * positions in PNG px (or, drawn into a cairo context, in its user space),
 * continuous: pixel edges at integers. */
struct bq_chart_geom {
    int width, height; /* of the PNG (or of the box drawn into), px */
    double plot_x0, plot_y0, plot_x1, plot_y1; /* plot area, px */
    size_t nbars;                    /* bar chart: conditions, one slot each */
    double bar_x[BQ_CHART_MAX_BARS]; /* bar centres, px */
    double bar_w;                    /* width of every bar, px */
    double bar_top[BQ_CHART_MAX_BARS]; /* edge of each bar at its mean
                                  (top for a positive mean), px; NaN if the
                                  condition has no mean (no bar) */
    /* dose chart (NaN in a bar chart): */
    double x_of_log10dose_a, x_of_log10dose_b; /* x = a + b*log10(dose) */
    double x_control; /* dose chart: x of the control's point, px */
    /* both charts: */
    double y_of_value_a, y_of_value_b; /* y = a + b*fold change */
};

/* Horizontal offset, in bar widths, of the dot of replicate K (0-based
 * position among the target's blots ordered by replicate number, manifest
 * order for ties, failed blots included) of N from its bar's centre: evenly
 * spread over [-0.25, 0.25], 0 for a single blot. Deterministic (no random
 * jitter). */
double bq_chart_jitter(size_t k, size_t n);

/* Draws the bar chart of one target to a BQ_CHART_W x BQ_CHART_H PNG at
 * PNG_PATH (wider with many conditions, see above): per condition of the
 * target's band part PART (in lane order, from S), a bar at the mean fold
 * change, error bars of +-1 SD (none for n < 2), one dot per replicate blot
 * (from RES), n, and the significance mark of the Holm-adjusted p (none for
 * the control); bars coloured by agent, the control grey. BLOT0 is any blot
 * of the target (bq_condition.blot0). A target without conditions in S
 * (every blot failed) gives a chart that says so. Fills GEOM if not NULL.
 * Returns BQ_OK; BQ_ERR_INVALID for a missing argument or BLOT0 out of
 * range, BQ_ERR_RENDER if cairo cannot draw, BQ_ERR_IO if the file cannot
 * be written (ERR says why; a partial file is removed). */
enum bq_status bq_render_bars(const char *png_path, const struct bq_manifest *m,
                              const struct bq_blot_result *res,
                              const struct bq_exp_summary *s, size_t blot0,
                              enum bq_part part, struct bq_chart_geom *geom,
                              struct bq_error *err);

/* Draws the dose-response chart of one target to a BQ_CHART_W x
 * BQ_CHART_H PNG: log10 dose axis with decade ticks, the control (dose 0)
 * left of an axis break; per agent of S's fits for the target and PART
 * (all in the unit of the first; an agent in another unit is left out and
 * the legend says so): mean +- SD at each dose, faint replicate dots, the
 * fitted Hill curve over the tested doses with its EC50 marked (dashed
 * line, diamond on the curve) and a legend line with EC50, its 95 % CI,
 * Hill slope and R^2, or the reason there is no fit. Arguments, GEOM and
 * errors as bq_render_bars. */
enum bq_status bq_render_dose(const char *png_path, const struct bq_manifest *m,
                              const struct bq_blot_result *res,
                              const struct bq_exp_summary *s, size_t blot0,
                              enum bq_part part, struct bq_chart_geom *geom,
                              struct bq_error *err);

/* Writes the fold changes of M's blots RES as a wide CSV for a GraphPad
 * Prism grouped table: a header row, then one row per condition (the first
 * lane of each distinct label that some successful blot quantified, in
 * lane order; ladder and empty lanes are not conditions), first column the
 * label; then per target (in the order of its first successful blot) and
 * band part, K columns "pSTAT3/STAT3 rep1" ... "repK" (" / " between the
 * names when one holds a '/', " (sum)" etc. for a doublet's part), where K
 * is the largest number of blots of any target so that every group has as
 * many subcolumns as Prism expects: the target's blots ordered by
 * replicate number (manifest order for ties), failed blots and padding
 * empty. Cells hold the fold change ("%.6g", the mean of the lanes of the
 * condition's label in that blot), empty where missing. Fields holding
 * commas or quotes are quoted (RFC 4180). Returns BQ_OK, BQ_ERR_INVALID
 * for a NULL argument, BQ_ERR_NOMEM, or BQ_ERR_IO if writing failed. */
enum bq_status bq_write_prism_csv(FILE *f, const struct bq_manifest *m,
                                  const struct bq_blot_result *res);

#endif
