/* blotquant load stage, internal: what load.c shares with the TIFF and PNG
 * readers (load_tiff.c, load_png.c). Not installed, not public API. */
#ifndef BQ_LOAD_INTERNAL_H
#define BQ_LOAD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "blotquant/load.h"

/* Rec. 709 luminance weights; the sum is computed in double so that a gray
 * RGB pixel (R = G = B = v) comes out as exactly v. */
#define BQ_LUMA_R 0.2126
#define BQ_LUMA_G 0.7152
#define BQ_LUMA_B 0.0722

/* Luminance of one RGB triple, rounded once to float. */
static inline float
bq_luma(double r, double g, double b)
{
    return (float)(BQ_LUMA_R * r + BQ_LUMA_G * g + BQ_LUMA_B * b);
}

/* How the samples of a decoded row are stored in memory. */
enum bq_sample_type {
    BQ_SAMPLE_U8,    /* unsigned char */
    BQ_SAMPLE_U16,   /* uint16_t, native byte order (libtiff, unpacked) */
    BQ_SAMPLE_U16BE, /* 16-bit big-endian byte pairs (PNG) */
    BQ_SAMPLE_U32,   /* uint32_t, native byte order */
    BQ_SAMPLE_F32    /* float, native byte order */
};

/* What a row converter computes for each pixel. */
enum bq_conv_mode {
    BQ_CONV_GRAY, /* one sample as is */
    BQ_CONV_LUMA, /* Rec. 709 luminance of three samples (R, G, B) */
    BQ_CONV_LUT   /* one sample used as an index into a float table */
};

struct bq_rowconv;

/* Converts N pixels of one row to floats in OUT. SRC[0..2] point at the
 * first sample each pixel draws from (only SRC[0] unless LUMA). */
typedef void (*bq_row_fn)(const struct bq_rowconv *cv, float *out,
                          const unsigned char *const *src, size_t n);

/* A row converter: the format switch happens once, in bq_rowconv_init;
 * the kernels themselves are branch-free loops. */
struct bq_rowconv {
    bq_row_fn fn;     /* the kernel chosen for type x mode x stride */
    size_t stride;    /* samples from one pixel to the next in a source */
    const float *lut; /* BQ_CONV_LUT: index -> value (borrowed), else NULL */
    int invert;       /* 1: result = invert_max - value (MINISWHITE) */
    float invert_max; /* file units; used when invert is 1 */
};

/* Load options with the defaults filled in (no zero "use default"). */
struct bq_load_limits {
    uint64_t max_pixels; /* width * height must not exceed this */
    uint64_t max_bytes;  /* image floats + decode buffers must not exceed */
};

/* Chooses the kernel for samples of TYPE read in MODE, STRIDE samples
 * apart, using LUT (BQ_CONV_LUT only; it must cover every index the data
 * can hold). Returns BQ_OK, or BQ_ERR_INVALID for a combination there is
 * no kernel for (LUT needs U8 or U16). Leaves invert off. */
enum bq_status bq_rowconv_init(struct bq_rowconv *cv, enum bq_sample_type type,
                               enum bq_conv_mode mode, size_t stride,
                               const float *lut);

/* Runs CV over one row of N pixels into OUT, then applies the inversion if
 * CV asks for it. Cannot fail. */
void bq_rowconv_run(const struct bq_rowconv *cv, float *out,
                    const unsigned char *const *src, size_t n);

/* Unpacks N samples of BITS bits each (1..16; MSB first, as TIFF stores them
 * after libtiff's fill-order handling) from SRC into DST. Reads exactly
 * ceil(N * BITS / 8) bytes. */
void bq_unpack_bits16(const unsigned char *src, unsigned bits, size_t n,
                      uint16_t *dst);

/* As bq_unpack_bits16 for 1..32 bits into 32-bit samples. */
void bq_unpack_bits32(const unsigned char *src, unsigned bits, size_t n,
                      uint32_t *dst);

/* Unpacks, of each of N pixels of SPP samples of BITS bits (1..32; MSB
 * first, or with HOST24 the 24-bit samples libtiff hands back in host byte
 * order), only the NPICK samples PICK[] into DST: NPICK per pixel, 16-bit
 * (ELEM 2) or 32-bit (ELEM 4). Reads only the bytes those samples occupy,
 * so a file with a hundred samples per pixel costs what the ones read do. */
void bq_unpack_pick(const unsigned char *src, unsigned bits, int host24,
                    size_t n, unsigned spp, const uint16_t *pick,
                    unsigned npick, size_t elem, void *dst);

/* Checks WIDTH x HEIGHT against LIM. Returns BQ_OK, or BQ_ERR_FORMAT for an
 * empty size, or BQ_ERR_LIMIT with a message stating the size and the
 * limit; messages name PATH. Allocates nothing. */
enum bq_status bq_load_check_pixels(const char *path, uint64_t width,
                                    uint64_t height,
                                    const struct bq_load_limits *lim,
                                    struct bq_error *err);

/* Checks that a WIDTH x HEIGHT float image plus EXTRA bytes of decode
 * buffers fits LIM->max_bytes. Returns BQ_OK or BQ_ERR_LIMIT (message
 * names PATH, the need and the limit). */
enum bq_status bq_load_check_bytes(const char *path, uint64_t width,
                                   uint64_t height, uint64_t extra,
                                   const struct bq_load_limits *lim,
                                   struct bq_error *err);

/* Allocates the WIDTH x HEIGHT output image into *OUT (caller:
 * bq_image_destroy). Returns BQ_OK, or an error with ERR filled by a
 * message naming PATH (*OUT untouched). */
enum bq_status bq_load_new_image(const char *path, size_t width, size_t height,
                                 struct bq_image **out, struct bq_error *err);

/* Reads the TIFF open on FD (consumed: closed before returning, on every
 * path). PATH is only used in messages. On success stores the image in
 * *OUT and fills *INFO (never NULL here). Returns BQ_OK or an error with
 * ERR filled; *OUT is not written on failure. */
enum bq_status bq_load_tiff(int fd, const char *path,
                            const struct bq_load_opts *opts,
                            const struct bq_load_limits *lim,
                            struct bq_image **out, struct bq_load_info *info,
                            struct bq_error *err);

/* As bq_load_tiff, for a PNG open on FD (consumed). */
enum bq_status bq_load_png(int fd, const char *path,
                           const struct bq_load_opts *opts,
                           const struct bq_load_limits *lim,
                           struct bq_image **out, struct bq_load_info *info,
                           struct bq_error *err);

#endif
