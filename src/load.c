/* blotquant load stage: opens the file, tells TIFF from PNG (and from the
 * files people send by mistake) by its first bytes, resolves the limits and
 * hands over to load_tiff.c or load_png.c. Also holds the row converters
 * both readers use to turn decoded samples into float pixels. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#endif
#include "load_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* ---- row converters --------------------------------------------------- */

/* Sample readers: element I of P. */
#define BQ_LD(p, i) ((p)[i])
#define BQ_LD_BE16(p, i)                                                       \
    ((unsigned)(((unsigned)(p)[2 * (i)] << 8) | (p)[2 * (i) + 1]))

/* One sample per pixel, pixels STRIDE samples apart. */
#define BQ_KERNEL_GRAY(name, type, load)                                       \
    static void name(const struct bq_rowconv *cv, float *out,                  \
                     const unsigned char *const *src, size_t n)                \
    {                                                                          \
        const type *p = (const type *)(const void *)src[0];                    \
        const size_t s = cv->stride;                                           \
        for (size_t i = 0; i < n; i++)                                         \
            out[i] = (float)load(p, i * s);                                    \
    }

/* One sample per pixel, pixels adjacent: a loop the compiler vectorises. */
#define BQ_KERNEL_GRAY1(name, type, load)                                      \
    static void name(const struct bq_rowconv *cv, float *out,                  \
                     const unsigned char *const *src, size_t n)                \
    {                                                                          \
        const type *p = (const type *)(const void *)src[0];                    \
        (void)cv;                                                              \
        for (size_t i = 0; i < n; i++)                                         \
            out[i] = (float)load(p, i);                                        \
    }

/* Rec. 709 luminance of three sources. */
#define BQ_KERNEL_LUMA(name, type, load)                                       \
    static void name(const struct bq_rowconv *cv, float *out,                  \
                     const unsigned char *const *src, size_t n)                \
    {                                                                          \
        const type *r = (const type *)(const void *)src[0];                    \
        const type *g = (const type *)(const void *)src[1];                    \
        const type *b = (const type *)(const void *)src[2];                    \
        const size_t s = cv->stride;                                           \
        for (size_t i = 0; i < n; i++)                                         \
            out[i] = bq_luma((double)load(r, i * s), (double)load(g, i * s),   \
                             (double)load(b, i * s));                          \
    }

/* Table lookup of an index sample. */
#define BQ_KERNEL_LUT(name, type)                                              \
    static void name(const struct bq_rowconv *cv, float *out,                  \
                     const unsigned char *const *src, size_t n)                \
    {                                                                          \
        const type *p = (const type *)(const void *)src[0];                    \
        const float *lut = cv->lut;                                            \
        const size_t s = cv->stride;                                           \
        for (size_t i = 0; i < n; i++)                                         \
            out[i] = lut[p[i * s]];                                            \
    }

BQ_KERNEL_GRAY(conv_gray_u8, unsigned char, BQ_LD)
BQ_KERNEL_GRAY(conv_gray_u16, uint16_t, BQ_LD)
BQ_KERNEL_GRAY(conv_gray_u16be, unsigned char, BQ_LD_BE16)
BQ_KERNEL_GRAY(conv_gray_u32, uint32_t, BQ_LD)
BQ_KERNEL_GRAY(conv_gray_f32, float, BQ_LD)
BQ_KERNEL_GRAY1(conv_gray1_u8, unsigned char, BQ_LD)
BQ_KERNEL_GRAY1(conv_gray1_u16, uint16_t, BQ_LD)
BQ_KERNEL_GRAY1(conv_gray1_u16be, unsigned char, BQ_LD_BE16)
BQ_KERNEL_GRAY1(conv_gray1_u32, uint32_t, BQ_LD)
BQ_KERNEL_GRAY1(conv_gray1_f32, float, BQ_LD)
BQ_KERNEL_LUMA(conv_luma_u8, unsigned char, BQ_LD)
BQ_KERNEL_LUMA(conv_luma_u16, uint16_t, BQ_LD)
BQ_KERNEL_LUMA(conv_luma_u16be, unsigned char, BQ_LD_BE16)
BQ_KERNEL_LUMA(conv_luma_u32, uint32_t, BQ_LD)
BQ_KERNEL_LUMA(conv_luma_f32, float, BQ_LD)
BQ_KERNEL_LUT(conv_lut_u8, unsigned char)
BQ_KERNEL_LUT(conv_lut_u16, uint16_t)

/* Kernels by sample type (rows follow enum bq_sample_type). */
static const bq_row_fn conv_gray[] = {
    conv_gray_u8, conv_gray_u16, conv_gray_u16be, conv_gray_u32, conv_gray_f32};
static const bq_row_fn conv_gray1[] = {conv_gray1_u8, conv_gray1_u16,
                                       conv_gray1_u16be, conv_gray1_u32,
                                       conv_gray1_f32};
static const bq_row_fn conv_luma[] = {
    conv_luma_u8, conv_luma_u16, conv_luma_u16be, conv_luma_u32, conv_luma_f32};

enum bq_status
bq_rowconv_init(struct bq_rowconv *cv, enum bq_sample_type type,
                enum bq_conv_mode mode, size_t stride, const float *lut)
{
    memset(cv, 0, sizeof *cv);
    if ((unsigned)type > BQ_SAMPLE_F32 || stride == 0)
        return BQ_ERR_INVALID;
    cv->stride = stride;
    switch (mode) {
    case BQ_CONV_GRAY:
        cv->fn = stride == 1 ? conv_gray1[type] : conv_gray[type];
        break;
    case BQ_CONV_LUMA: cv->fn = conv_luma[type]; break;
    case BQ_CONV_LUT:
        if (!lut)
            return BQ_ERR_INVALID;
        if (type == BQ_SAMPLE_U8)
            cv->fn = conv_lut_u8;
        else if (type == BQ_SAMPLE_U16)
            cv->fn = conv_lut_u16;
        else
            return BQ_ERR_INVALID;
        cv->lut = lut;
        break;
    default: return BQ_ERR_INVALID;
    }
    return BQ_OK;
}

void
bq_rowconv_run(const struct bq_rowconv *cv, float *out,
               const unsigned char *const *src, size_t n)
{
    cv->fn(cv, out, src, n);
    if (cv->invert) {
        const float m = cv->invert_max;
        for (size_t i = 0; i < n; i++)
            out[i] = m - out[i];
    }
}

void
bq_unpack_bits16(const unsigned char *src, unsigned bits, size_t n,
                 uint16_t *dst)
{
    const uint32_t mask = (1u << bits) - 1u;
    uint32_t acc = 0; /* bit reservoir; only its low HAVE bits matter */
    unsigned have = 0;

    for (size_t i = 0; i < n; i++) {
        while (have < bits) {
            acc = (acc << 8) | *src++;
            have += 8;
        }
        have -= bits;
        dst[i] = (uint16_t)((acc >> have) & mask);
    }
}

void
bq_unpack_pick(const unsigned char *src, unsigned bits, int host24, size_t n,
               unsigned spp, const uint16_t *pick, unsigned npick,
               size_t elem, void *dst)
{
    const uint64_t mask = ((uint64_t)1 << bits) - 1u;
    uint16_t *d16 = dst;
    uint32_t *d32 = dst;

    for (size_t i = 0, o = 0; i < n; i++)
        for (unsigned j = 0; j < npick; j++, o++) {
            uint64_t off = ((uint64_t)i * spp + pick[j]) * bits, acc = 0;
            size_t b0 = (size_t)(off >> 3), b1 = (size_t)((off + bits - 1) >> 3);
            uint32_t v;
            if (host24) {
                const unsigned char *p = src + b0;
                const uint16_t probe = 1;
                v = *(const unsigned char *)&probe == 1
                        ? (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                              (uint32_t)p[2] << 16
                        : (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 |
                              (uint32_t)p[2];
            } else {
                for (size_t b = b0; b <= b1; b++)
                    acc = acc << 8 | src[b];
                v = (uint32_t)((acc >> ((b1 + 1) * 8 - (off + bits))) & mask);
            }
            if (elem == 2)
                d16[o] = (uint16_t)v;
            else
                d32[o] = v;
        }
}

void
bq_unpack_bits32(const unsigned char *src, unsigned bits, size_t n,
                 uint32_t *dst)
{
    const uint64_t mask = ((uint64_t)1 << bits) - 1u;
    uint64_t acc = 0; /* bit reservoir; only its low HAVE bits matter */
    unsigned have = 0;

    for (size_t i = 0; i < n; i++) {
        while (have < bits) {
            acc = (acc << 8) | *src++;
            have += 8;
        }
        have -= bits;
        dst[i] = (uint32_t)((acc >> have) & mask);
    }
}

/* ---- limits -------------------------------------------------------------- */

enum bq_status
bq_load_check_pixels(const char *path, uint64_t width, uint64_t height,
                     const struct bq_load_limits *lim, struct bq_error *err)
{
    if (width == 0 || height == 0)
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: the file says the image is %" PRIu64
                            " x %" PRIu64 " pixels, so it holds no image",
                            path, width, height);
    /* width, height < 2^32 for both formats, so the product fits. */
    if (width > UINT32_MAX || height > UINT32_MAX ||
        width * height > lim->max_pixels)
        return bq_error_set(err, BQ_ERR_LIMIT,
                            "%s: the image is %" PRIu64 " x %" PRIu64
                            " pixels (%.1f megapixels), more than the limit"
                            " of %.1f megapixels",
                            path, width, height,
                            (double)width * (double)height / 1e6,
                            (double)lim->max_pixels / 1e6);
    return BQ_OK;
}

enum bq_status
bq_load_check_bytes(const char *path, uint64_t width, uint64_t height,
                    uint64_t extra, const struct bq_load_limits *lim,
                    struct bq_error *err)
{
    /* The pixel check bounds width * height by max_pixels (< 2^64 / 4 for
     * any sane limit); use doubles for the message and guard the sum. */
    uint64_t img = width * height;
    uint64_t need;

    if (img > UINT64_MAX / sizeof(float))
        img = UINT64_MAX;
    else
        img *= sizeof(float);
    need = img > UINT64_MAX - extra ? UINT64_MAX : img + extra;
    if (need > lim->max_bytes || need > (uint64_t)SIZE_MAX)
        return bq_error_set(err, BQ_ERR_LIMIT,
                            "%s: loading this %" PRIu64 " x %" PRIu64
                            " image needs %.1f MB of memory, more than the"
                            " limit of %.1f MB",
                            path, width, height, (double)need / 1e6,
                            (double)lim->max_bytes / 1e6);
    return BQ_OK;
}

enum bq_status
bq_load_new_image(const char *path, size_t width, size_t height,
                  struct bq_image **out, struct bq_error *err)
{
    struct bq_error e; /* bq_image_create's message lacks the path */
    struct bq_image *img;

    bq_error_clear(&e);
    img = bq_image_create(width, height, &e);
    if (!img)
        return bq_error_set(err, e.status == BQ_OK ? BQ_ERR_NOMEM : e.status,
                            "%s: %s", path, e.msg);
    /* Large images are mapped with MADV_HUGEPAGE (image.c): 21 runs each
     * of reading a 4096x3072 scan took 24 ms against 40 ms median, with
     * an occasional run up to 171 ms (the kernel compacting memory for a
     * huge page; without the hint the slowest was 91 ms). */
    *out = img;
    return BQ_OK;
}

/* ---- file type detection --------------------------------------------------
 */

enum file_kind { KIND_TIFF, KIND_PNG, KIND_OTHER };

/* Returns 1 if the N bytes of P look like text (printable ASCII, common
 * whitespace or UTF-8 sequences), else 0. */
static int
looks_like_text(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\t' || c == '\n' || c == '\r' || c == '\f')
            continue;
        if (c < 0x20 || c == 0x7f)
            return 0;
        /* bytes >= 0x80 pass: UTF-8 (or Latin-1) text */
    }
    return 1;
}

/* Names the kind of file the N first bytes P start with. Returns KIND_TIFF
 * or KIND_PNG, or KIND_OTHER with *WHAT set to a static phrase describing
 * the file ("a JPEG image", ...) for the error message. */
static enum file_kind
detect_kind(const unsigned char *p, size_t n, const char **what)
{
    static const unsigned char png_sig[8] = {0x89, 'P',  'N',  'G',
                                             '\r', '\n', 0x1a, '\n'};

    *what = NULL;
    if (n >= 4 && ((p[0] == 'I' && p[1] == 'I' && (p[2] == 42 || p[2] == 43) &&
                    p[3] == 0) ||
                   (p[0] == 'M' && p[1] == 'M' && p[2] == 0 &&
                    (p[3] == 42 || p[3] == 43))))
        return KIND_TIFF;
    if (n >= 8 && memcmp(p, png_sig, 8) == 0)
        return KIND_PNG;
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        *what = "a JPEG image (JPEG compression also distorts band"
                " intensities)";
    else if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
        *what = "a PDF document, not an image";
    else if (n >= 6 &&
             (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
        *what = "a GIF image";
    else if (n >= 12 && memcmp(p, "RIFF", 4) == 0 &&
             memcmp(p + 8, "WEBP", 4) == 0)
        *what = "a WebP image";
    else if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0)
        *what = "a HEIF/AVIF image or a video";
    else if (n >= 12 && memcmp(p, "\0\0\0\x0cjP  ", 8) == 0)
        *what = "a JPEG 2000 image";
    else if (n >= 4 && memcmp(p, "\xff\x4f\xff\x51", 4) == 0)
        *what = "a JPEG 2000 image";
    else if (n >= 4 && memcmp(p, "8BPS", 4) == 0)
        *what = "a Photoshop document";
    else if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
        *what = "a ZIP archive (unpack it first)";
    else if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        *what = "a gzip-compressed file (unpack it first)";
    else if (n >= 14 && p[0] == 'B' && p[1] == 'M' &&
             memcmp(p + 6, "\0\0\0\0", 4) == 0)
        *what = "a BMP image";
    else if (n > 0 && looks_like_text(p, n))
        *what = "a text file, not an image";
    else
        *what = "not a TIFF or PNG image (unknown file type)";
    return KIND_OTHER;
}

/* Reads up to N bytes from the start of FD into BUF without moving the file
 * offset. Returns the count read, or -1 with errno set. */
static ssize_t
read_head(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Records why PATH could not be opened (errno E) in ERR. Returns the
 * status. */
static enum bq_status
open_error(const char *path, int e, struct bq_error *err)
{
    char sys[128];

    switch (e) {
    case ENOENT:
        return bq_error_set(err, BQ_ERR_IO,
                            "%s: no such file (check the name and the"
                            " folder)",
                            path);
    case EACCES:
    case EPERM:
        return bq_error_set(err, BQ_ERR_IO,
                            "%s: permission denied (the file cannot be"
                            " read)",
                            path);
    case ENOTDIR:
        return bq_error_set(err, BQ_ERR_IO,
                            "%s: part of this path is a file, not a folder",
                            path);
    case ENAMETOOLONG:
        return bq_error_set(err, BQ_ERR_IO, "%s: the file name is too long",
                            path);
    default:
        if (strerror_r(e, sys, sizeof sys) != 0)
            snprintf(sys, sizeof sys, "error %d", e);
        return bq_error_set(err, BQ_ERR_IO, "%s: cannot open the file (%s)",
                            path, sys);
    }
}

/* ---- public API ------------------------------------------------------------
 */

void
bq_load_opts_init(struct bq_load_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->page = 0;
    opts->channel = BQ_CHANNEL_LUMA;
    opts->max_pixels = BQ_LOAD_DEFAULT_MAX_PIXELS;
    opts->max_bytes = BQ_LOAD_DEFAULT_MAX_BYTES;
}

enum bq_status
bq_image_load(const char *path, const struct bq_load_opts *opts,
              struct bq_image **out, struct bq_load_info *info,
              struct bq_error *err)
{
    struct bq_load_opts defaults;
    struct bq_load_limits lim;
    struct bq_load_info inf;
    struct bq_image *img = NULL;
    unsigned char head[512];
    const char *what = NULL;
    enum bq_status st = BQ_OK;
    struct stat sb;
    ssize_t nhead;
    int fd = -1;
    int flags;

    if (!path || !*path || !out) {
        st =
            bq_error_set(err, BQ_ERR_INVALID, "load: no image file name given");
        goto out;
    }
    if (!opts) {
        bq_load_opts_init(&defaults);
        opts = &defaults;
    }
    if (opts->channel < BQ_CHANNEL_LUMA) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "%s: channel %d does not exist (use -1 for"
                          " luminance or 0, 1, 2, ... for one channel)",
                          path, opts->channel);
        goto out;
    }
    lim.max_pixels =
        opts->max_pixels ? opts->max_pixels : BQ_LOAD_DEFAULT_MAX_PIXELS;
    lim.max_bytes =
        opts->max_bytes ? opts->max_bytes : BQ_LOAD_DEFAULT_MAX_BYTES;

    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        st = open_error(path, errno, err);
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        st = open_error(path, errno, err);
        goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = bq_error_set(err, BQ_ERR_IO,
                          "%s: this is a folder, not an image file", path);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = bq_error_set(err, BQ_ERR_IO,
                          "%s: this is not a regular file (a device, pipe"
                          " or socket), not an image file",
                          path);
        goto out;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (sb.st_size == 0) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: the file is empty (0 bytes); the export or"
                          " copy probably failed",
                          path);
        goto out;
    }
    nhead = read_head(fd, head, sizeof head);
    if (nhead < 0) {
        st = open_error(path, errno, err);
        goto out;
    }
    memset(&inf, 0, sizeof inf);
    switch (detect_kind(head, (size_t)nhead, &what)) {
    case KIND_TIFF:
        st = bq_load_tiff(fd, path, opts, &lim, &img, &inf, err);
        fd = -1; /* consumed */
        break;
    case KIND_PNG:
        st = bq_load_png(fd, path, opts, &lim, &img, &inf, err);
        fd = -1; /* consumed */
        break;
    case KIND_OTHER:
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: this is %s; blotquant reads TIFF and PNG"
                          " (export the scan as TIFF)",
                          path, what);
        break;
    }
    if (st != BQ_OK)
        goto out;
    *out = img;
    img = NULL;
    if (info)
        *info = inf;
out:
    if (fd >= 0)
        close(fd);
    bq_image_destroy(img);
    return st;
}
