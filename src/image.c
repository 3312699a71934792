/* Image allocation, overflow-checked sizes and the sticky error record. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_HUGEPAGE */
#include "blotquant/image.h"

#include "parallel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const char *
bq_strerror(enum bq_status st)
{
    switch (st) {
    case BQ_OK: return "success";
    case BQ_ERR_INVALID: return "invalid argument";
    case BQ_ERR_NOMEM: return "out of memory";
    case BQ_ERR_IO: return "input/output error";
    case BQ_ERR_FORMAT: return "unsupported or corrupt file";
    case BQ_ERR_LIMIT: return "size limit exceeded";
    case BQ_ERR_NOT_FOUND: return "nothing found to measure";
    case BQ_ERR_FFT: return "FFT planning failed";
    case BQ_ERR_RENDER: return "rendering failed";
    }
    return "unknown error";
}

enum bq_status
bq_error_set(struct bq_error *err, enum bq_status st, const char *fmt, ...)
{
    va_list ap;

    if (!err || err->status != BQ_OK || st == BQ_OK)
        return st;
    err->status = st;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return st;
}

void
bq_error_clear(struct bq_error *err)
{
    if (!err)
        return;
    err->status = BQ_OK;
    err->msg[0] = '\0';
}

int
bq_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void *
bq_alloc_array(size_t n, size_t size)
{
    size_t bytes;

    if (!bq_mul_size(n, size, &bytes))
        return NULL;
    return malloc(bytes ? bytes : 1);
}

void *
bq_calloc_array(size_t n, size_t size)
{
    if (n != 0 && size > SIZE_MAX / n)
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

struct touch {
    unsigned char *p; /* buffer */
    size_t bytes;     /* its size */
};

/* Writes a zero to pages [A, B) of the buffer (calloc'd: no value
 * changes), so that they are mapped now. */
static void
touch_pages(void *arg, size_t a, size_t b)
{
    struct touch *t = arg;
    volatile unsigned char *p = t->p;

    for (size_t i = a; i < b; i++)
        p[i * 4096] = 0;
}

/* Images of at least this many bytes get their own mapping. */
#define BIG_IMAGE ((size_t)8 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

/* BYTES of zeroed memory in a private mapping aligned to 2 MiB, which the
 * kernel is asked to back with huge pages: a 4096x3072 float image then
 * costs 25 page faults instead of 12 288 (a fifth of reading a scan).
 * Sets *MAPPED to the length to unmap. NULL if out of memory. */
static float *
map_zeroed(size_t bytes, size_t *mapped)
{
    size_t len = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    size_t all = len + HUGE_PAGE;
    unsigned char *p = mmap(NULL, all, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *a;

    if (p == MAP_FAILED)
        return NULL;
    /* keep the aligned LEN bytes, give back the rest */
    a = (unsigned char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    if (a + len < p + all)
        munmap(a + len, (size_t)(p + all - (a + len)));
#ifdef MADV_HUGEPAGE
    madvise(a, len, MADV_HUGEPAGE); /* advice: failure changes nothing */
#endif
    *mapped = len;
    return (float *)a;
}

struct bq_image *
bq_image_create(size_t width, size_t height, struct bq_error *err)
{
    struct bq_image *img = NULL;
    size_t n;

    if (width == 0 || height == 0) {
        bq_error_set(err, BQ_ERR_INVALID, "image has no pixels (%zux%zu)",
                     width, height);
        return NULL;
    }
    if (!bq_mul_size(width, height, &n)) {
        bq_error_set(err, BQ_ERR_LIMIT, "image %zux%zu is too large", width,
                     height);
        return NULL;
    }
    if (n > (SIZE_MAX - 2 * HUGE_PAGE) / sizeof *img->px) {
        bq_error_set(err, BQ_ERR_NOMEM, "no memory for a %zux%zu image",
                     width, height);
        return NULL;
    }
    img = calloc(1, sizeof *img);
    if (img && n * sizeof *img->px >= BIG_IMAGE)
        img->px = map_zeroed(n * sizeof *img->px, &img->map_bytes);
    else if (img)
        img->px = bq_calloc_array(n, sizeof *img->px);
    if (!img || !img->px) {
        free(img);
        bq_error_set(err, BQ_ERR_NOMEM, "no memory for a %zux%zu image",
                     width, height);
        return NULL;
    }
    /* A large fresh buffer costs a page fault (and the kernel's zeroing)
     * per page on first touch: take them on all processors at once. */
    if (img->map_bytes) {
        struct touch t = {(unsigned char *)img->px, n * sizeof *img->px};
        bq_parallel_for(t.bytes / 4096, 0, touch_pages, &t);
    }
    img->width = width;
    img->height = height;
    img->stride = width;
    img->bit_depth = 32;
    img->max_code = 1.0f;
    return img;
}

struct bq_image *
bq_image_clone(const struct bq_image *img, struct bq_error *err)
{
    struct bq_image *c = bq_image_create(img->width, img->height, err);

    if (!c)
        return NULL;
    c->bit_depth = img->bit_depth;
    c->max_code = img->max_code;
    for (size_t y = 0; y < img->height; y++)
        memcpy(bq_row(c, y), bq_row(img, y), img->width * sizeof(float));
    return c;
}

void
bq_image_destroy(struct bq_image *img)
{
    if (!img)
        return;
    if (img->map_bytes)
        munmap(img->px, img->map_bytes);
    else
        free(img->px);
    free(img);
}
