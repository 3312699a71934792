/* blotquant layout stage: strips (band rows) and the lanes within them. */
#ifndef BLOTQUANT_LAYOUT_H
#define BLOTQUANT_LAYOUT_H

#include "blotquant/image.h"

/* A horizontal piece of membrane with its own lane positions. */
struct bq_strip {
    double top, bottom;   /* rows of the analysis frame, [top, bottom) */
    double pitch;         /* lane centre spacing, px (0 if one lane) */
    size_t first_lane;    /* index into bq_layout.lanes */
    size_t nlanes;        /* lanes of this strip */
};

struct bq_lane {
    size_t strip;         /* 0-based strip index */
    size_t index;         /* 0-based, left to right within the strip */
    double x;             /* centre, analysis frame px */
    double width;         /* full width at half maximum of the column
                             profile, px */
    double left, right;   /* integration extent [left, right), px */
    double smile;         /* vertical offset of this lane's bands against
                             the strip's mean lane, px (+ = lower) */
    int empty;            /* 1 if no signal was found in the lane */
    int fixed;            /* 1 if it came from a layout file */
};

struct bq_layout {
    size_t nstrips, nlanes;
    struct bq_strip *strips; /* owned, top to bottom */
    struct bq_lane *lanes;   /* owned, strip by strip, left to right */
    double noise;            /* per-pixel noise SD of the signal image */
};

struct bq_layout_opts {
    int lanes;            /* >0: expected lanes per strip (a hint) */
    int max_strips;       /* most strips to report (8) */
};

void bq_layout_opts_init(struct bq_layout_opts *o);

/* Finds strips and lanes in SIG, a background-subtracted, rotation-
 * corrected image where larger = more protein and 0 = background. Fills
 * OUT (caller: bq_layout_fini). Returns BQ_ERR_NOT_FOUND with a message if
 * no lane can be found. */
enum bq_status bq_layout_find(const struct bq_image *sig,
                              const struct bq_layout_opts *opts,
                              struct bq_layout *out, struct bq_error *err);

void bq_layout_fini(struct bq_layout *l);

/* How far the lanes of layout L (found in SIG) still lean: degrees of
 * rotation in bq_rotation_estimate's sense, to be added to the angle SIG
 * was turned by. Each lane with two bands or more whose rows spread over
 * 8 rows (SD) or more gives the slope of its bands' centroids (x against
 * y, weighted least squares, within its slot of one pitch); the result is
 * the median over lanes. Bands bowed by a smile or tilted on their own do
 * not move their centroids sideways, so unlike a projection of band rows
 * this sees the lanes' direction alone. Sets *N to the number of lanes
 * that gave a slope and returns the tilt; sets *N to 0 and returns 0 if
 * under 5 lanes did, or their median slope does not stand out of its
 * standard error (lanes that disagree). */
double bq_layout_lane_tilt(const struct bq_image *sig,
                           const struct bq_layout *l, size_t *n);

#endif
