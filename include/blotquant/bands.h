/* blotquant bands stage: peaks in each lane's profile, and their volumes. */
#ifndef BLOTQUANT_BANDS_H
#define BLOTQUANT_BANDS_H

#include "blotquant/image.h"
#include "blotquant/layout.h"

struct bq_band {
    size_t strip, lane;   /* 0-based; lane indexes bq_layout.lanes */
    size_t index;         /* 0-based within the lane, top to bottom */
    int row;              /* 0-based band row of the strip (bands at the
                             same height across lanes, after the smile) */
    double y;             /* centre (profile peak), analysis frame px */
    double top, bottom;   /* vertical extent [top, bottom), px */
    double left, right;   /* horizontal extent [left, right), px */
    double sum_top, sum_bottom; /* rows summed for the volume; differs from
                             top/bottom for a doublet split by a fit */
    double frac;          /* share of that sum belonging to this band (1,
                             or the fitted share of a split doublet) */
    int split;            /* 1 if separated from a neighbour by a fit */
    int fixed;            /* 1 if the box came from a layout file */
    /* measurements, filled by bq_bands_measure */
    double volume;        /* sum of background-subtracted signal */
    double volume_se;     /* standard error of volume (see README) */
    double background;    /* mean background under the band */
    double baseline;      /* residual level removed per pixel by the local
                             baseline (0 if off) */
    double peak;          /* peak of the lane profile above background */
    double snr;           /* peak / noise */
    double noise;         /* SD of the lane profile's noise */
    double sigma;         /* vertical SD of the band shape, px (fitted for
                             split bands, else from the extent) */
    size_t npx;           /* pixels summed */
    size_t sat_px;        /* pixels at the file's maximum code */
    double spread;        /* share of the lane's central columns that
                             carry the band (1: evenly across them) */
    double ox, oy;        /* lane centre x and band centre y in the
                             original image */
};

struct bq_bandset {
    size_t n;             /* bands */
    size_t cap;           /* allocated entries of b */
    struct bq_band *b;    /* owned, lane by lane, top to bottom */
};

struct bq_band_opts {
    double min_snr;       /* prominence threshold in noise SDs (5) */
    int doublets;         /* 1: split unresolved doublets by fitting */
};

void bq_band_opts_init(struct bq_band_opts *o);

/* Finds bands in every lane of LAYOUT in SIG; also fills each lane's smile
 * and assigns band rows. Fills SET (caller: bq_bandset_fini). Lanes
 * without bands are allowed; returns BQ_OK even if no band is found. */
enum bq_status bq_bands_find(const struct bq_image *sig,
                             struct bq_layout *layout,
                             const struct bq_band_opts *opts,
                             struct bq_bandset *set, struct bq_error *err);

/* Peaks within fixed lane boxes (layout-file bands skip detection). Exposed
 * for tests: finds bands in one profile P of N rows with noise SD NOISE.
 * Writes up to MAX bands' (centre, top, bottom, frac, split, sum_top,
 * sum_bottom) into OUT, coordinates relative to P. Returns the count. */
size_t bq_profile_peaks(const double *p, size_t n, double noise,
                        const struct bq_band_opts *opts, struct bq_band *out,
                        size_t max);

/* The profile the bands stage searches: mean of SIG over the central half
 * of LN's width, for rows [Y0, Y1), into P (Y1 - Y0 values). */
void bq_lane_profile(const struct bq_image *sig, const struct bq_lane *ln,
                     size_t y0, size_t y1, double *p);

void bq_bandset_fini(struct bq_bandset *s);

#endif
