/* blotquant: the whole single-scan pipeline and its CSV output. */
#ifndef BLOTQUANT_ANALYSIS_H
#define BLOTQUANT_ANALYSIS_H

#include <stdio.h>

#include "blotquant/background.h"
#include "blotquant/bands.h"
#include "blotquant/layout.h"
#include "blotquant/load.h"
#include "blotquant/prepare.h"

/* Explicit lane and band boxes (--layout). */
struct bq_box {
    int lane;                  /* 1-based, as written */
    int band;                  /* 1-based, or 0 for a lane box */
    double x, y, w, h;         /* px of the original image */
};

struct bq_analysis_opts {
    struct bq_load_opts load;
    struct bq_prepare_opts prepare;
    struct bq_bg_opts bg;
    struct bq_layout_opts layout;
    struct bq_band_opts bands;
    double max_angle;         /* deskew search range, degrees (6; 0 = off) */
    const char *layout_file;  /* explicit boxes (see README), or NULL */
    const struct bq_box *boxes; /* explicit boxes in memory (borrowed), */
    size_t nboxes;            /*   used when layout_file is NULL */
    int keep_images;          /* 1: keep the signal image in the result */
    int local_baseline;       /* 1: per-band baseline from the lane profile
                                 (default; never with background none) */
};

struct bq_analysis {
    size_t width, height;     /* of the scan, px */
    int bit_depth;            /* of the file */
    float max_code;           /* saturation level, file units */
    struct bq_load_info load; /* what the file said */
    struct bq_prepare_info prep; /* polarity, hot pixels, membrane */
    enum bq_bg_method bg_method; /* as applied */
    double bg_size;           /* px, as applied */
    int bg_iterations;        /* FFT envelope rounds */
    double angle;             /* deskew angle applied, degrees */
    double noise;             /* pixel noise SD of the signal image */
    struct bq_layout layout;  /* strips and lanes, analysis frame */
    struct bq_bandset bands;  /* bands with measurements */
    struct bq_image *signal;  /* owned if keep_images, else NULL */
    double ms_load, ms_prepare, ms_background, ms_deskew, ms_layout,
        ms_bands;             /* wall time of each stage, ms */
};

void bq_analysis_opts_init(struct bq_analysis_opts *o);

/* Loads PATH and runs every stage. Fills RES (caller: bq_analysis_fini,
 * also on error: what was computed before the failure is kept). */
enum bq_status bq_analyze_file(const char *path,
                               const struct bq_analysis_opts *opts,
                               struct bq_analysis *res, struct bq_error *err);

/* Runs every stage on IMG, which it modifies (prepare works in place): on
 * BQ_OK, IMG is the signal image of RES (background subtracted, deskewed:
 * the analysis frame), what keep_images would copy into RES->signal. */
enum bq_status bq_analyze_image(struct bq_image *img,
                                const struct bq_analysis_opts *opts,
                                struct bq_analysis *res,
                                struct bq_error *err);

void bq_analysis_fini(struct bq_analysis *res);

/* Writes the bands table (README: output columns) / the lanes table to F.
 * Returns BQ_OK or BQ_ERR_IO. */
enum bq_status bq_write_bands_csv(FILE *f, const struct bq_analysis *a);
enum bq_status bq_write_lanes_csv(FILE *f, const struct bq_analysis *a);

/* Measures every band of SET on SIG (background-subtracted signal) with
 * SATMASK (1 byte per pixel of the original image, 1 = at the file's
 * maximum code; NULL if none is) and BG, mapping analysis
 * coordinates to the original image through a rotation by ANGLE. With
 * LOCAL_BASELINE, the residual background just outside each band (in its
 * lane profile) is removed as a linear baseline. */
void bq_bands_measure(const struct bq_image *sig,
                      const unsigned char *satmask,
                      const struct bq_background *bg,
                      const struct bq_layout *layout, double angle,
                      int local_baseline, struct bq_bandset *set);

/* Same for the bands K of SET with WHICH[K] nonzero (every band if WHICH
 * is NULL); the others serve as context (a baseline window may not
 * overlap another band of the lane). */
void bq_bands_measure_some(const struct bq_image *sig,
                           const unsigned char *satmask,
                           const struct bq_background *bg,
                           const struct bq_layout *layout, double angle,
                           int local_baseline, struct bq_bandset *set,
                           const unsigned char *which);

/* Parses a layout file (CSV: lane,band,x,y,width,height). Stores a new
 * array in *OUT and its length in *N (caller frees). Errors name the line. */
enum bq_status bq_layout_file_read(const char *path, struct bq_box **out,
                                   size_t *n, struct bq_error *err);

#endif
