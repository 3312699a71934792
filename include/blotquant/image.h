/* blotquant: the image type, status codes and errors shared by every stage. */
#ifndef BLOTQUANT_IMAGE_H
#define BLOTQUANT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define BQ_VERSION "0.1.0"

enum bq_status {
    BQ_OK = 0,
    BQ_ERR_INVALID,   /* bad argument or option */
    BQ_ERR_NOMEM,     /* allocation failed */
    BQ_ERR_IO,        /* file could not be opened, read or written */
    BQ_ERR_FORMAT,    /* file is corrupt or of an unsupported kind */
    BQ_ERR_LIMIT,     /* a size or memory limit would be exceeded */
    BQ_ERR_NOT_FOUND, /* nothing to measure (no lanes, no bands) */
    BQ_ERR_FFT,       /* FFTW could not plan a transform */
    BQ_ERR_RENDER     /* cairo failed */
};                    /* append only: the values are part of the API */

/* Caller-owned error record; every function taking one accepts NULL. The
 * first error set wins: later calls to bq_error_set leave it untouched. */
struct bq_error {
    enum bq_status status; /* BQ_OK until something fails */
    char msg[256];         /* human-readable, no trailing newline */
};

struct bq_image {
    size_t width, height; /* pixels */
    size_t stride;        /* floats between row starts (>= width) */
    int bit_depth;        /* of the file: 8, 16, 32 (float) */
    float max_code;       /* saturation level, in the file's units */
    float *px;            /* owned; row-major, top row first */
    size_t map_bytes;     /* image.c's: PX's mapping, 0 if from malloc */
};

/* Returns a static English description of ST. */
const char *bq_strerror(enum bq_status st);

/* Records ST and a printf-style message in ERR unless ERR already holds an
 * error. Returns ST, so callers can write `return bq_error_set(...)`. */
enum bq_status bq_error_set(struct bq_error *err, enum bq_status st,
                            const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Resets ERR to BQ_OK with an empty message. ERR may be NULL. */
void bq_error_clear(struct bq_error *err);

/* Overflow-checked allocation of N elements of SIZE bytes (uninitialised /
 * zeroed). Returns NULL if N*SIZE overflows or memory is short. */
void *bq_alloc_array(size_t n, size_t size);
void *bq_calloc_array(size_t n, size_t size);

/* Returns 1 and stores A*B in *OUT if it does not overflow, else 0. */
int bq_mul_size(size_t a, size_t b, size_t *out);

/* Allocates a WIDTH x HEIGHT image with zeroed pixels, stride = width.
 * Returns NULL (and fills ERR) on overflow or out of memory. The caller
 * frees with bq_image_destroy. */
struct bq_image *bq_image_create(size_t width, size_t height,
                                 struct bq_error *err);

/* Returns a deep copy of IMG, or NULL with ERR filled. */
struct bq_image *bq_image_clone(const struct bq_image *img,
                                struct bq_error *err);

/* Frees IMG and its pixels. NULL is a no-op. */
void bq_image_destroy(struct bq_image *img);

/* Pointer to the first pixel of row Y. */
static inline float *
bq_row(const struct bq_image *img, size_t y)
{
    return img->px + y * img->stride;
}

#endif
