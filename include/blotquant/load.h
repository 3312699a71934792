/* blotquant load stage: TIFF and PNG files into a bq_image. */
#ifndef BLOTQUANT_LOAD_H
#define BLOTQUANT_LOAD_H

#include "blotquant/image.h"

/* Which samples of a colour image become the gray value. */
enum bq_channel {
    BQ_CHANNEL_LUMA = -1, /* Rec. 709 luminance of RGB; gray as is */
    BQ_CHANNEL_R = 0,     /* 0, 1, 2: that sample of each pixel */
    BQ_CHANNEL_G = 1,
    BQ_CHANNEL_B = 2
};

struct bq_load_opts {
    unsigned page;       /* 0-based TIFF directory (page); PNG: must be 0 */
    int channel;         /* enum bq_channel, or a sample index 0..spp-1 */
    uint64_t max_pixels; /* refuse width*height above this (0 = default) */
    uint64_t max_bytes;  /* refuse if decoding needs more (0 = default) */
};

#define BQ_LOAD_DEFAULT_MAX_PIXELS ((uint64_t)200000000)     /* 200 Mpx */
#define BQ_LOAD_DEFAULT_MAX_BYTES ((uint64_t)4 << 30)       /* 4 GiB */

/* What the file said about itself, for the run log and for polarity. */
struct bq_load_info {
    unsigned pages;          /* directories in a TIFF; 1 for PNG */
    unsigned samples;        /* samples per pixel in the file */
    int min_is_white;        /* 1 if the file stores 0 as white (TIFF
                                MINISWHITE); the loader has already
                                inverted such data so larger = brighter */
    char format[16];         /* "tiff" or "png" */
    char compression[16];    /* "none", "lzw", "deflate", "packbits", ... */
};

/* Fills OPTS with defaults: page 0, luminance, default limits. */
void bq_load_opts_init(struct bq_load_opts *opts);

/* Loads the image at PATH (TIFF or PNG, detected from the first bytes, not
 * the name). Pixels are floats in the file's linear scale, larger = brighter
 * (MINISWHITE data is inverted to max_code - v). max_code is 2^bits - 1 for
 * integer data, and for float TIFFs the largest finite value in the image.
 * Limits are checked from the header before any pixel buffer is allocated.
 * On success stores a new image in *OUT (caller: bq_image_destroy) and, if
 * INFO is not NULL, fills it. On failure returns an error with ERR filled
 * with a message naming PATH; *OUT is not written. */
enum bq_status bq_image_load(const char *path, const struct bq_load_opts *opts,
                             struct bq_image **out, struct bq_load_info *info,
                             struct bq_error *err);

#endif
