/* Internal to the render stage (src/render*.c, the only files that include
 * cairo and pango): what the overlay, chart and report renderers share. */
#ifndef BQ_RENDER_INTERNAL_H
#define BQ_RENDER_INTERNAL_H

#include <cairo.h>

#include "blotquant/chart.h"
#include "blotquant/image.h"

/* Writes SURF as a PNG to PATH. Returns BQ_OK, or BQ_ERR_IO / BQ_ERR_RENDER
 * with ERR saying why in plain words (folder missing, permission, disk
 * full); a partial file is removed. */
enum bq_status bq_render_write_png(cairo_surface_t *surf, const char *path,
                                   struct bq_error *err);

/* ---- charts (src/render_chart.c) ---- */

/* What the error bars of a bar chart show. */
enum bq_chart_errbar {
    BQ_CHART_ERR_SD = 0, /* +-1 sample SD (the PNG's choice) */
    BQ_CHART_ERR_SEM,    /* +-1 standard error of the mean */
    BQ_CHART_ERR_CI95    /* the 95 % t interval of the mean */
};

/* Smallest box a chart is drawn into, px: below this its text would
 * overlap. */
#define BQ_CHART_MIN_W 480
#define BQ_CHART_MIN_H 360

/* Width of the bar chart PNG of a target (BQ_CHART_W, wider with many
 * conditions: chart.h), for a caller who wants the same proportions. */
int bq_chart_bars_width(const struct bq_manifest *m,
                        const struct bq_exp_summary *s, size_t blot0,
                        enum bq_part part);

/* Draw the bar chart (error bars EB) or the dose-response chart of a
 * target, as bq_render_bars and bq_render_dose, into the box (X, Y, W, H)
 * of CR's user space (fonts in its units; W x H at least BQ_CHART_MIN_W x
 * BQ_CHART_MIN_H): the box is painted white, nothing outside it is
 * touched, and CR's state is restored. GEOM (may be NULL) is in CR's user
 * space. Returns BQ_OK; BQ_ERR_INVALID for a missing argument, BLOT0 out
 * of range or a box too small; BQ_ERR_NOMEM; BQ_ERR_RENDER if CR is or
 * goes into an error state. */
enum bq_status bq_render_bars_to(cairo_t *cr, double x, double y, double w,
                                 double h, const struct bq_manifest *m,
                                 const struct bq_blot_result *res,
                                 const struct bq_exp_summary *s, size_t blot0,
                                 enum bq_part part, enum bq_chart_errbar eb,
                                 struct bq_chart_geom *geom,
                                 struct bq_error *err);
enum bq_status bq_render_dose_to(cairo_t *cr, double x, double y, double w,
                                 double h, const struct bq_manifest *m,
                                 const struct bq_blot_result *res,
                                 const struct bq_exp_summary *s, size_t blot0,
                                 enum bq_part part, struct bq_chart_geom *geom,
                                 struct bq_error *err);

#endif
