/* blotquant background stage: FFT lower envelope, rolling ball, none. */
#ifndef BLOTQUANT_BACKGROUND_H
#define BLOTQUANT_BACKGROUND_H

#include "blotquant/image.h"
#include "blotquant/prepare.h"

enum bq_bg_method {
    BQ_BG_FFT = 0,      /* smooth lower envelope by FFT smoothing (default) */
    BQ_BG_ROLLING_BALL, /* ImageJ's rolling ball (grey opening by a ball) */
    BQ_BG_NONE          /* no subtraction: volumes are plain pixel sums */
};

struct bq_bg_opts {
    enum bq_bg_method method; /* BQ_BG_FFT */
    double size;              /* px of the full image: FFT Gaussian SD or
                                 ball radius; 0 = automatic */
    int iterations;           /* FFT envelope: clip-and-smooth rounds (40) */
    double clip_k;            /* FFT envelope: values above the estimate by
                                 more than clip_k noise SDs are clipped (2) */
};

/* A background as a coarse grid, upsampled on the fly (bilinear). */
struct bq_background {
    enum bq_bg_method method; /* as applied */
    double size;              /* as applied, full-image pixels */
    size_t factor;            /* full-image pixels per grid pixel */
    struct bq_image *grid;    /* owned, prepared units; NULL for NONE */
    int iterations;           /* envelope rounds run */
};

void bq_bg_opts_init(struct bq_bg_opts *o);

/* Parses "fft", "rolling-ball", "none". Returns 0 on success. */
int bq_bg_method_parse(const char *s, enum bq_bg_method *out);
const char *bq_bg_method_name(enum bq_bg_method m);

/* Estimates the background of the prepared image IMG with thumbnail THUMB
 * (its mask marks the membrane; outside it the background is interpolated
 * from the membrane). Fills BG (caller: bq_background_fini). */
enum bq_status bq_background_estimate(const struct bq_image *img,
                                      const struct bq_thumb *thumb,
                                      const struct bq_bg_opts *opts,
                                      struct bq_background *bg,
                                      struct bq_error *err);

/* Background at full-image pixel (X, Y). */
float bq_background_at(const struct bq_background *bg, double x, double y);

/* OUT = IMG - BG, and 0 where the thumbnail mask says "not membrane".
 * OUT must have IMG's size. */
void bq_background_subtract(const struct bq_image *img,
                            const struct bq_background *bg,
                            const struct bq_thumb *thumb,
                            struct bq_image *out);

/* Subtracts BG from a thumbnail-sized copy: OUT = THUMB - BG at thumb
 * resolution (for rotation estimation). */
void bq_background_subtract_thumb(const struct bq_thumb *thumb,
                                  const struct bq_background *bg,
                                  struct bq_image *out);

void bq_background_fini(struct bq_background *bg);

#endif
