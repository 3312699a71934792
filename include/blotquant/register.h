/* blotquant: rigid registration of two scans of the same membrane (a total-
 * protein or loading-control scan onto the phospho scan) by FFT phase
 * correlation, with a match score that refuses scans of another membrane.
 *
 * Transform convention (the experiment spec's "registration truth"; also
 * that of the synthetic generator's rotation): the result maps a
 * point p = (x, y) of FIXED to the same membrane point p' of MOVING,
 *     x' = cx + cos(a)(x - cx) - sin(a)(y - cy) + dx
 *     y' = cy + sin(a)(x - cx) + cos(a)(y - cy) + dy
 * with c = ((w-1)/2, (h-1)/2) the centre of FIXED (used for both images when
 * their sizes differ), pixel centres at integers, y pointing down, so a
 * positive angle turns the content clockwise as displayed. */
#ifndef BLOTQUANT_REGISTER_H
#define BLOTQUANT_REGISTER_H

#include <stddef.h>

#include "blotquant/image.h"

/* Options; bq_reg_opts_init sets the defaults shown. */
struct bq_reg_opts {
    double max_angle; /* rotation searched each side, degrees (3; 0..10;
                         0 = translation only) */
    double max_shift; /* largest offset searched, fraction of each side of
                         FIXED (0.2; 0.01..0.45) */
    double min_score; /* refuse (matched = 0) below this score (0.15;
                         calibrated for the default max_side) */
    size_t max_side;  /* working size, px (256; 64..2048): the angle search
                         runs on images box-averaged to at most this side,
                         the refinement at up to 3x this side (the scan
                         itself up to 768 px) */
};

/* The transform found and how well the scans match. */
struct bq_reg_result {
    double dx, dy; /* translation, px of FIXED */
    double angle;  /* rotation, degrees */
    double score;  /* match quality, dimensionless, 0..1: the aligned
                      scans are compared region by region (5 x 5 regions
                      a quarter of the image each) by phase correlation;
                      a region's agreement is its peak height (1 = the
                      same structure, ~0 = unrelated) discounted by the
                      peak's offset from 0; the score is the agreement of
                      the best region in the worst of the four image
                      halves (left, right, top, bottom), so the scans must
                      agree all over, not just on a shared ladder.
                      Measured on generated blots: 0.3-0.75 for two scans
                      of one membrane with the same band rows, mostly
                      0.15-0.45 when they share only the membrane edges
                      and the ladder (a loading control), below 0.05 for
                      unrelated membranes, up to ~0.17 for two membranes
                      cut from the same gel layout (same lanes, rows and
                      ladder; these cannot be told apart reliably) */
    double psr;    /* diagnostics: peak-to-sidelobe ratio of the coarse
                      cross-correlation at the final transform */
    int matched;   /* 1 if score >= min_score */
};

/* Sets O to the defaults. */
void bq_reg_opts_init(struct bq_reg_opts *o);

/* Finds the rigid transform that maps FIXED onto MOVING (see the convention
 * above). Both images are "larger = more protein" (polarity already
 * corrected), at the same resolution; their sides may differ by up to a
 * factor of 2. OPTS may be NULL for the defaults. On BQ_OK, RES holds the
 * transform and score; matched = 0 means MOVING does not look like a scan
 * of the same membrane (the transform is then meaningless). Returns
 * BQ_ERR_INVALID for a NULL argument, bad options, an image under 32 px a
 * side (or too narrow), sizes too different or NaN / infinite pixels;
 * BQ_ERR_NOT_FOUND if either image has no structure at all (constant);
 * BQ_ERR_NOMEM / BQ_ERR_FFT otherwise. RES is untouched on error. Nothing
 * is kept between calls; thread-safe (FFTW planning is serialised). */
enum bq_status bq_register(const struct bq_image *fixed,
                           const struct bq_image *moving,
                           const struct bq_reg_opts *opts,
                           struct bq_reg_result *res, struct bq_error *err);

/* Maps point (X, Y) of FIXED to MOVING through R, rotating about (CX, CY)
 * (the centre of FIXED), into (*XO, *YO). */
void bq_reg_map(const struct bq_reg_result *r, double cx, double cy, double x,
                double y, double *xo, double *yo);

/* The inverse of bq_reg_map: point (X, Y) of MOVING to FIXED. */
void bq_reg_unmap(const struct bq_reg_result *r, double cx, double cy,
                  double x, double y, double *xo, double *yo);

/* Resamples MOVING into the frame of a WIDTH x HEIGHT fixed image (centre
 * ((WIDTH-1)/2, (HEIGHT-1)/2)): output pixel p takes the bilinear
 * interpolation of MOVING at bq_reg_map(T, p), or FILL where that point
 * lies outside MOVING (pass NAN to mark such pixels, or a background
 * value). Bilinear interpolation keeps band volumes (a rigid transform
 * preserves area) but smooths noise slightly. On BQ_OK stores a new image
 * (bit_depth and max_code copied from MOVING) in *OUT; the caller frees it
 * with bq_image_destroy. Returns BQ_ERR_INVALID for NULL arguments or a
 * zero size, BQ_ERR_NOMEM; *OUT is untouched on error. */
enum bq_status bq_image_warp(const struct bq_image *moving,
                             const struct bq_reg_result *t, size_t width,
                             size_t height, float fill, struct bq_image **out,
                             struct bq_error *err);

#endif
