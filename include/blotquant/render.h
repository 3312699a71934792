/* blotquant render stage: overlay PNGs drawn from analysis results.
 *
 * The renderer only draws what the analysis measured; it never measures
 * anything from rendered pixels. One overlay shows the scan (as dark bands on
 * a white background, like film), every lane and band box, lane numbers,
 * band volumes, saturated bands, a header with what was done, and (when the
 * signal image was kept) one profile plot per lane. */
#ifndef BLOTQUANT_RENDER_H
#define BLOTQUANT_RENDER_H

#include <stddef.h>

#include "blotquant/analysis.h"
#include "blotquant/image.h"

/* Colours (0xRRGGBB, Okabe-Ito: safe for colour-blind readers). */
#define BQ_RENDER_LANE_RGB 0x0072B2u  /* lanes and their numbers: blue */
#define BQ_RENDER_BAND_RGB 0x009E73u  /* bands: bluish green */
#define BQ_RENDER_SPLIT_RGB 0xCC79A7u /* split doublets, dashed: purple */
#define BQ_RENDER_SAT_RGB 0xD55E00u   /* saturated bands: vermilion */

/* Where everything lies in an overlay PNG. All values in PNG pixels. */
struct bq_render_geom {
    int width, height;        /* of the whole PNG */
    double scale;             /* PNG px per original image px (both axes) */
    int blot_x, blot_y;       /* top-left corner of the blot panel */
    int blot_w, blot_h;       /* size of the blot panel */
    int profiles_y;           /* top of the lane-profile panel, -1 if none */
    int profile_cols;         /* profile plots per row (0 if none) */
    int profile_rows;         /* rows of profile plots (0 if none) */
    int profile_w, profile_h; /* size of one profile plot cell */
    int labels_y, labels_h;   /* band of lane labels above the lane
                                 numbers (labels_h 0 if none) */
    double label_px;          /* size of the label text, px (0 if none) */
};

/* What an overlay may show besides the analysis; zeroed = nothing. */
struct bq_render_opts {
    const char *const *lane_labels; /* label of lane number i + 1 (the
                                       lane's index + 1, as printed) of the
                                       first strip, e.g. "eltrombopag 0.1
                                       nM"; NULL or "" entries: none */
    size_t nlabels;                 /* entries in lane_labels */
    const char *subtitle;           /* a second header line, or NULL */
};

/* Computes the layout of the overlay of A without drawing: the blot panel is
 * A's scan scaled to at most 1600 px wide (at most 2000 px tall; scans
 * narrower than 800 px are enlarged up to 4x so labels fit), under a fixed
 * header, with margins widened where deskewed lane boxes reach past the
 * scan. The profile panel (only if there are lanes and A->signal is set, of
 * the scan's size) follows below, each strip starting a new row of plots,
 * at most 20 rows (further lanes are not plotted; the caption says so). */
void bq_render_geometry(const struct bq_analysis *a, struct bq_render_geom *g);

/* As bq_render_geometry, for an overlay drawn with OPTS (may be NULL): a
 * subtitle makes the header taller; lane labels are set at 45 degrees in
 * a band above the lane numbers (at most 13 px, smaller where lanes are
 * close, cut in the middle past 190 px), and the canvas widens on the
 * right where the last labels reach past the scan. */
void bq_render_geometry_ex(const struct bq_analysis *a,
                           const struct bq_render_opts *opts,
                           struct bq_render_geom *g);

/* Maps (X, Y) of A's analysis frame (pixel centres at integers) to PNG
 * coordinates (continuous, pixel edges at integers) through the deskew
 * rotation and the scale of G. */
void bq_render_map_point(const struct bq_analysis *a,
                         const struct bq_render_geom *g, double x, double y,
                         double *px, double *py);

/* Writes V compactly with 3 significant digits and an SI suffix ("987",
 * "12.3k", "1.23M", "-4.56G"; "n/a" if not finite) into BUF of N bytes
 * (16 is always enough). Returns BUF. */
char *bq_render_format_value(double v, char *buf, size_t n);

/* Makes the image to show under the overlay of a scan SCAN (in its
 * original coordinates): reduced to the overlay's blot panel by a box
 * filter (each panel pixel the mean of the scan pixels it covers;
 * non-finite pixels count as 0) when the panel is smaller than the scan,
 * else a copy. A caller that must hand the scan itself to the analysis
 * (which turns it into signal in place) keeps this instead of a second
 * full copy: 7.7 MB instead of 48 MB for a 4096x3072 scan. Keeps SCAN's
 * bit_depth and max_code; like the scan, it may still need inverting for
 * dark-band scans (v' = max_code - v commutes with the mean). Returns a
 * new image (caller: bq_image_destroy), or NULL with ERR filled. */
struct bq_image *bq_render_display_create(const struct bq_image *scan,
                                          struct bq_error *err);

/* Draws the overlay of A into a PNG at PNG_PATH. DISPLAY is the image shown
 * underneath, in the coordinates of the original scan (A->width x
 * A->height, or as made by bq_render_display_create), larger = more
 * protein (the prepared image); it is shown as dark bands on white with a
 * stretch that keeps faint bands visible. DISPLAY may be NULL (white
 * panel). TITLE (usually the file name) may be NULL.
 * Returns BQ_OK; BQ_ERR_INVALID for a missing argument or a DISPLAY of the
 * wrong size, BQ_ERR_RENDER if cairo cannot draw (ERR says why),
 * BQ_ERR_IO if the file cannot be written (ERR names PNG_PATH). Works with
 * no lanes and no bands; lanes or bands with non-finite or absurd
 * coordinates are skipped. If writing fails part-way, the partial file is
 * removed. DISPLAY and A are only read and nothing is kept between calls;
 * several threads may render at once (cairo is thread-safe, pango's default
 * font map is per thread). The same inputs give the same PNG bytes. */
enum bq_status bq_render_overlay(const char *png_path,
                                 const struct bq_image *display,
                                 const struct bq_analysis *a,
                                 const char *title, struct bq_error *err);

/* As bq_render_overlay, with lane labels and a subtitle from OPTS (may be
 * NULL: then exactly bq_render_overlay). Labelled lanes also carry their
 * label in the title of their profile plot. */
enum bq_status
bq_render_overlay_ex(const char *png_path, const struct bq_image *display,
                     const struct bq_analysis *a, const char *title,
                     const struct bq_render_opts *opts, struct bq_error *err);

#endif
