/* Synthetic Western blot generator with exact ground truth.
 * Used by tools/blotgen (the CLI) and by the tests. */
#ifndef BLOTQUANT_SYNTH_H
#define BLOTQUANT_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "blotquant/image.h"

#define BQ_SYNTH_MAX_STRIPS 3
#define BQ_SYNTH_MAX_LANES 24
#define BQ_SYNTH_MAX_BANDS 12 /* per lane */

/* Everything the generator can vary. bq_synth_params_init sets a clean,
 * artefact-free 16-bit light-bands blot; bq_synth_params_randomize turns on
 * every artefact with random strengths drawn from SEED. */
struct bq_synth_params {
    uint64_t seed;          /* drives every random choice */
    size_t width, height;   /* pixels of the output image */
    int bit_depth;          /* 8 or 16 (integer output), 32 (float) */
    int dark_bands;         /* 1: film look (dark bands on light) */
    int strips;             /* 1..BQ_SYNTH_MAX_STRIPS, stacked vertically,
                               each with its own lane positions */
    int lanes;              /* lanes per strip, 1..BQ_SYNTH_MAX_LANES */
    int rows;               /* band rows per strip (targets), 1..6 */
    double dyn_range;       /* max/min true band volume (e.g. 100) */
    double peak_frac;       /* brightest band peak as a fraction of the
                               code range above background (>1 saturates) */
    double rotation_deg;    /* whole-image rotation, |.| <= 5 */
    double smile;           /* max extra vertical offset of edge lanes, in
                               units of band height (0 = none) */
    double lane_width_jitter; /* relative spread of lane widths (0..0.3) */
    double lane_pos_jitter;   /* relative spread of lane spacing (0..0.15) */
    int empty_lanes;        /* interior lanes left empty */
    int ladder;             /* 1: lane 1 of each strip is a ladder (many
                               thin bands, not part of the truth rows) */
    int doublets;           /* 1: one row is an ERK1/ERK2-like doublet */
    double gradient;        /* illumination gradient, fraction of bg */
    int blotches;           /* number of broad background blotches */
    int frame;              /* 1: membrane edge + dark frame around it */
    double background;      /* background level, fraction of code range */
    double read_noise;      /* SD of read noise, in code units */
    double gain;            /* Poisson: electrons per code unit (0 = none) */
    int hot_pixels;         /* count of isolated hot pixels */
};

/* Ground truth of one band. Coordinates are in the output image (after
 * rotation), pixels, (0,0) = centre of the top-left pixel. */
struct bq_synth_band {
    int strip, lane, row;   /* 0-based; row = target index within strip,
                               -1 for ladder bands */
    int sub;                /* 0, or 1 for the second band of a doublet */
    double x, y;            /* band centre */
    double width;           /* lane width (full width at half max), px */
    double sigma_y;         /* vertical Gaussian SD, px */
    double volume;          /* exact sum over all pixels of the band's
                               noise-free signal, in code units (for dark
                               bands: the darkening, a positive number) */
    int saturated;          /* 1 if any of its pixels clipped at the code
                               range (0 or max) */
};

struct bq_synth_lane {
    int strip, lane;        /* 0-based */
    double x, y_top, y_bottom; /* lane centre x at strip mid-height, and the
                               strip's vertical extent, output pixels */
    double width;           /* FWHM of the lane's band profile, px */
    int empty, ladder;      /* flags */
};

struct bq_synth_truth {
    size_t nbands, nlanes;
    struct bq_synth_band *bands;  /* owned */
    struct bq_synth_lane *lanes;  /* owned */
    double rotation_deg;          /* as applied */
    float max_code;               /* saturation level of the output */
};

void bq_synth_params_init(struct bq_synth_params *p);
void bq_synth_params_randomize(struct bq_synth_params *p, uint64_t seed);

/* Renders the blot. On success stores a new image (file code values,
 * integer-valued for 8/16 bit, max_code and bit_depth set) in *OUT and fills
 * TRUTH (caller: bq_synth_truth_fini). Returns BQ_OK or an error. */
enum bq_status bq_synth_generate(const struct bq_synth_params *p,
                                 struct bq_image **out,
                                 struct bq_synth_truth *truth,
                                 struct bq_error *err);

void bq_synth_truth_fini(struct bq_synth_truth *t);

/* ---------------------------------------------------------------------- */
/* Scans of one membrane (phospho, re-probed total, loading control)       */
/* ---------------------------------------------------------------------- */

#define BQ_SYNTH_MAX_ROWS 8    /* band rows of one membrane */
#define BQ_SYNTH_MAX_LADDER 12 /* ladder bands */

/* One band row of a membrane: at most one band per lane, all at the same
 * height except for the gel's smile. */
struct bq_synth_row {
    double v;      /* centre, membrane px from the top, at the middle of
                      the lane span (the outermost lanes sit smile_px
                      higher) */
    double sigma;  /* vertical Gaussian SD, px (>= 0.8) */
    double volume[BQ_SYNTH_MAX_LANES]; /* wanted volume per lane, code
                      units x px (before the peak_frac scaling); <= 0: no
                      band in that lane */
};

/* One scan of a membrane. The membrane fields (geometry_seed ... rows) are
 * shared by every scan of one membrane: lanes, edges and band rows are then
 * identical, whatever the scan fields say. The scan fields give each scan
 * its own band volumes, exposure, background, noise and placement.
 * Membrane coordinates are output pixels of an untransformed scan; the
 * membrane edges lie 4-8 % of the image inside each side, so rows between
 * 9 % and 91 % of the height are on the membrane. */
struct bq_synth_membrane {
    /* The membrane */
    uint64_t geometry_seed;  /* edges, lane positions and widths */
    size_t width, height;    /* output pixels, 32..65535 */
    int lanes;               /* 1..BQ_SYNTH_MAX_LANES */
    double lane_width_jitter; /* relative spread of lane widths, 0..0.3 */
    double lane_pos_jitter;  /* relative spread of lane spacing, 0..0.15 */
    double lane_fill;        /* mean lane FWHM / lane pitch, 0.2..0.9; 0:
                                drawn as by bq_synth_generate (0.55-0.75) */
    double smile_px;         /* upward shift of the outermost lanes, px */
    int frame;               /* 1: membrane edges with a dark tray around */
    int ladder_lane;         /* 0-based lane holding the ladder, -1: none */
    int nladder;             /* ladder bands, 0..BQ_SYNTH_MAX_LADDER */
    double ladder_v[BQ_SYNTH_MAX_LADDER]; /* centres, membrane px, as v */
    double ladder_sigma;     /* vertical SD of the ladder bands, px */
    int nrows;               /* used entries of rows, 0..BQ_SYNTH_MAX_ROWS */
    struct bq_synth_row rows[BQ_SYNTH_MAX_ROWS]; /* band rows */
    /* This scan */
    uint64_t scan_seed;      /* gradient, blotches, tray, noise, hot px */
    int bit_depth;           /* 8 or 16 (integer output), 32 (float) */
    double peak_frac;        /* > 0: every row volume is scaled so the
                                tallest band peaks at this fraction of the
                                code range above the background; 0: the
                                volumes are used as given */
    double ladder_peak[BQ_SYNTH_MAX_LADDER]; /* ladder peaks, fraction of
                                the code range above the background */
    double background;       /* background level, fraction of code range */
    double gradient;         /* illumination gradient, fraction of bg */
    int blotches;            /* broad background blotches, 0..64 */
    double read_noise;       /* SD of read noise, code units */
    double gain;             /* Poisson: electrons per code unit (0 = off) */
    int hot_pixels;          /* isolated hot pixels */
    double dx, dy;           /* shift of the membrane in this scan, px */
    double angle_deg;        /* turn about the image centre c, |.| <= 10:
                                membrane point p appears at
                                c + R(angle) (p - c) + (dx, dy); positive =
                                clockwise as displayed */
};

/* Sets M to an empty 640 x 280, 16-bit membrane: no lanes, rows or ladder,
 * a low chemiluminescence background, read noise 6, no transform. */
void bq_synth_membrane_init(struct bq_synth_membrane *m);

/* Renders one scan of membrane M: a light-bands image in *OUT (as from
 * bq_synth_generate) and, if TRUTH is not NULL, its exact truth: bands of
 * row r have row = r (sub 0), ladder bands row = -1; band centres and lanes
 * are mapped through the scan's transform; truth->rotation_deg is
 * M->angle_deg. Every volume is the exact sum of the values the band
 * added. Returns BQ_OK, or an error with ERR filled (BQ_ERR_INVALID for
 * impossible parameters); *OUT and TRUTH are untouched on error. */
enum bq_status bq_synth_membrane_render(const struct bq_synth_membrane *m,
                                        struct bq_image **out,
                                        struct bq_synth_truth *truth,
                                        struct bq_error *err);

/* File writers. COMPRESSION: "none", "lzw", "deflate", "packbits", or
 * "lzw+pred", "deflate+pred" with TIFF's horizontal differencing predictor
 * (smaller files when neighbouring pixels are alike).
 * TIFF: 8/16-bit gray, or float for bit_depth 32; RGB if rgb != 0 (R=G=B);
 * BIGENDIAN writes big-endian ("MM") files; TILE > 0 writes tiles of that
 * size instead of strips. PNG: 8 or 16-bit gray. PAGES/NPAGES: multi-page
 * TIFF from several images of equal size. */
struct bq_synth_tiff_opts {
    const char *compression;
    int rgb, bigendian;
    unsigned tile;          /* 0 = strips */
    int min_is_white;       /* store as MINISWHITE (inverted codes) */
};
enum bq_status bq_synth_write_tiff(const char *path,
                                   const struct bq_image *const *pages,
                                   size_t npages,
                                   const struct bq_synth_tiff_opts *o,
                                   struct bq_error *err);
enum bq_status bq_synth_write_png(const char *path, const struct bq_image *img,
                                  int rgb, struct bq_error *err);

/* Writes TRUTH as CSV (bands, then a blank line, then lanes). */
enum bq_status bq_synth_write_truth(const char *path,
                                    const struct bq_synth_truth *truth,
                                    struct bq_error *err);

#endif
