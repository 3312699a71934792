/* blotquant prepare stage: polarity, hot pixels, membrane, rotation. */
#ifndef BLOTQUANT_PREPARE_H
#define BLOTQUANT_PREPARE_H

#include "blotquant/image.h"

enum bq_polarity {
    BQ_POLARITY_AUTO = 0,    /* decide from the image */
    BQ_POLARITY_LIGHT_BANDS, /* chemiluminescence/fluorescence: as stored */
    BQ_POLARITY_DARK_BANDS   /* film, stains: inverted, v' = max_code - v */
};

/* A block-mean copy of an image, used for every image-wide decision
 * (polarity, membrane, background, rotation) so that they cost little. */
struct bq_thumb {
    struct bq_image *img;   /* owned; each pixel the mean of a block */
    size_t factor;          /* full-image pixels per thumb pixel, per axis */
    unsigned char *mask;    /* owned; img->width*height, 1 = membrane */
};

struct bq_prepare_opts {
    enum bq_polarity polarity; /* AUTO by default */
    int hot_pixels;            /* 1: replace isolated outlier pixels */
    int membrane;              /* 1: find the membrane, mask the surround */
    size_t thumb_max;          /* longest side of the thumbnail (512) */
};

struct bq_prepare_info {
    enum bq_polarity polarity; /* as applied (never AUTO) */
    double polarity_score;     /* >0 light bands, <0 dark; |.| = margin */
    size_t hot_pixels;         /* pixels replaced */
    int frame;                 /* 1 if a surround was found and masked */
    double frame_level;        /* its level, prepared units */
    double membrane_level;     /* median membrane level, prepared units */
    double membrane_frac;      /* fraction of the image that is membrane */
};

void bq_prepare_opts_init(struct bq_prepare_opts *o);

/* Prepares IMG in place so that larger always means more protein: decides
 * polarity and inverts if needed (saturated pixels, at either end of the
 * file's range, end up at >= max_code), replaces isolated hot or dead pixels
 * by the median of their neighbours, and builds THUMB (caller:
 * bq_thumb_fini) with the membrane mask. Fills INFO. Returns BQ_OK or an
 * error in ERR; on error IMG may be partly modified and THUMB is empty. */
enum bq_status bq_prepare(struct bq_image *img,
                          const struct bq_prepare_opts *opts,
                          struct bq_thumb *thumb,
                          struct bq_prepare_info *info, struct bq_error *err);

void bq_thumb_fini(struct bq_thumb *t);

/* Estimates the rotation of the band pattern in SIG (a background-
 * subtracted thumbnail, larger = more protein; MASK may be NULL) within
 * +-MAX_DEG degrees. Returns the angle in degrees by which the content is
 * rotated counter-clockwise in image coordinates (y down): rotating the
 * image by minus this angle makes bands horizontal. */
double bq_rotation_estimate(const struct bq_image *sig,
                            const unsigned char *mask, double max_deg);

/* Rotates IMG in place by -ANGLE_DEG about its centre, i.e. undoes a
 * rotation found by bq_rotation_estimate: afterwards IMG(q) = old IMG(R q)
 * with R the rotation bq_rotate_point applies (q centred). Three shears
 * with linear interpolation (Paeth), no image-sized scratch; outside
 * samples are 0. Returns BQ_OK, or BQ_ERR_NOMEM (IMG untouched). */
enum bq_status bq_image_rotate(struct bq_image *img, double angle_deg,
                               struct bq_error *err);

/* Maps (X, Y) of the rotation-corrected frame to the original image. */
void bq_rotate_point(size_t width, size_t height, double angle_deg, double x,
                     double y, double *ox, double *oy);

#endif
