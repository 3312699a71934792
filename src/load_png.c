/* blotquant load stage: PNG files through libpng, and the render stage's PNG
 * writer (png_write.h). The only library file that includes png.h. libpng
 * reports errors by longjmp to the setjmp in png_decode / png_encode; its
 * messages go into the call's context, never to stderr. */
#include "load_internal.h"
#include "png_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>
#include <zlib.h>

#include "parallel.h"

/* Ancillary chunks the loader never reads, 5 bytes each (libpng's list
 * format): text, ICC profile, suggested palette, Exif, calibration, scale. */
static const png_byte skip_chunks[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0"
                                      "eXIf\0pCAL\0sCAL";

/* Everything one call owns. It lives in the caller's frame and is reached
 * through a pointer, so it keeps its values across longjmp. */
struct png_ctx {
    const char *path;       /* for messages; borrowed */
    char libmsg[160];       /* first libpng error message */
    FILE *fp;               /* owned; wraps the fd */
    png_structp png;        /* owned */
    png_infop pinfo;        /* owned */
    unsigned char *raw;     /* decoded rows: one, or all when interlaced */
    png_bytep *rowptrs;     /* interlaced: HEIGHT pointers into raw */
    struct bq_image *img;   /* the result until handed over */
    unsigned file_channels; /* samples per pixel in the file */
};

/* libpng error callback: keeps the message and jumps back to png_decode.
 * Does not return. */
static void
png_on_error(png_structp png, png_const_charp msg)
{
    struct png_ctx *c = png_get_error_ptr(png);

    if (c && c->libmsg[0] == '\0')
        snprintf(c->libmsg, sizeof c->libmsg, "%s", msg ? msg : "");
    png_longjmp(png, 1);
}

/* libpng warning callback: warnings (bad gamma or colour profile chunks,
 * which blotquant ignores anyway) are dropped. */
static void
png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Frees everything C owns (closing the file). */
static void
png_ctx_fini(struct png_ctx *c)
{
    if (c->png)
        png_destroy_read_struct(&c->png, c->pinfo ? &c->pinfo : NULL, NULL);
    free(c->rowptrs);
    free(c->raw);
    bq_image_destroy(c->img);
    if (c->fp)
        fclose(c->fp);
}

/* Reads the whole PNG into C->IMG. Returns BQ_OK, or an error with ERR
 * filled. Every libpng failure lands at the setjmp below; nothing this
 * function allocates lives in a local variable, so nothing leaks. */
static enum bq_status
png_decode(struct png_ctx *c, const struct bq_load_opts *opts,
           const struct bq_load_limits *lim, struct bq_error *err)
{
    png_uint_32 w, h;
    int depth, ctype, interlace, channels, out_depth;
    size_t rowbytes, nbuf;
    struct bq_rowconv cv;
    enum bq_conv_mode mode;
    size_t first;
    enum bq_status st;

    if (setjmp(png_jmpbuf(c->png)))
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: the PNG file is damaged or incomplete (%s)",
                            c->path, c->libmsg[0] ? c->libmsg : "no details");

    /* Our own limits are checked below with better messages; lift
     * libpng's 1,000,000-pixel side limit so it does not pre-empt them. */
    png_set_user_limits(c->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    /* libpng allocates a text, profile or palette chunk from the length it
     * declares before reading it (a 300-byte file could ask for 2 GB), and
     * the loader uses none of these: skip them unread. */
    png_set_keep_unknown_chunks(c->png, PNG_HANDLE_CHUNK_NEVER, skip_chunks,
                                (int)(sizeof skip_chunks / 5));
    png_init_io(c->png, c->fp);
    png_read_info(c->png, c->pinfo);
    png_get_IHDR(c->png, c->pinfo, &w, &h, &depth, &ctype, &interlace, NULL,
                 NULL);
    if (opts->page != 0)
        return bq_error_set(err, BQ_ERR_INVALID,
                            "%s: page %u does not exist; a PNG file has 1"
                            " page (numbered 0)",
                            c->path, opts->page);
    st = bq_load_check_pixels(c->path, w, h, lim, err);
    if (st != BQ_OK)
        return st;
    c->file_channels = png_get_channels(c->png, c->pinfo);

    /* Transforms: palette -> RGB(A), low-depth gray -> 8 bit (scaled, so
     * 1-bit white is 255), Adam7 interlace resolved by libpng. 16-bit
     * samples stay big-endian and are read as such by the kernels. */
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(c->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(c->png);
    if (interlace != PNG_INTERLACE_NONE)
        (void)png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->pinfo);
    channels = png_get_channels(c->png, c->pinfo);
    out_depth = png_get_bit_depth(c->png, c->pinfo);
    rowbytes = png_get_rowbytes(c->png, c->pinfo);
    if ((out_depth != 8 && out_depth != 16) || channels < 1 || channels > 4 ||
        rowbytes != (size_t)w * (size_t)channels * (size_t)(out_depth / 8))
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: unexpected PNG layout (%d channels of %d"
                            " bits); the file may be damaged",
                            c->path, channels, out_depth);
    if (opts->channel >= channels)
        return bq_error_set(err, BQ_ERR_INVALID,
                            "%s: channel %d does not exist; the image has %d"
                            " channel%s (numbered from 0 to %d)",
                            c->path, opts->channel, channels,
                            channels == 1 ? "" : "s", channels - 1);

    /* Memory: the float image plus one row (all rows if interlaced). */
    nbuf = interlace != PNG_INTERLACE_NONE ? (size_t)h : 1u;
    st =
        bq_load_check_bytes(c->path, w, h, (uint64_t)rowbytes * nbuf, lim, err);
    if (st != BQ_OK)
        return st;

    /* Which samples feed each pixel. */
    if (opts->channel >= 0) {
        mode = BQ_CONV_GRAY;
        first = (size_t)opts->channel;
    } else if (channels >= 3) {
        mode = BQ_CONV_LUMA;
        first = 0;
    } else {
        mode = BQ_CONV_GRAY; /* gray, or gray + alpha: the gray sample */
        first = 0;
    }
    if (bq_rowconv_init(&cv, out_depth == 16 ? BQ_SAMPLE_U16BE : BQ_SAMPLE_U8,
                        mode, (size_t)channels, NULL) != BQ_OK)
        return bq_error_set(err, BQ_ERR_FORMAT, "%s: unsupported PNG layout",
                            c->path);

    st = bq_load_new_image(c->path, w, h, &c->img, err);
    if (st != BQ_OK)
        return st;
    c->img->bit_depth = out_depth;
    c->img->max_code = out_depth == 16 ? 65535.0f : 255.0f;
    c->raw = bq_alloc_array(nbuf, rowbytes);
    if (nbuf > 1)
        c->rowptrs = bq_alloc_array(nbuf, sizeof *c->rowptrs);
    if (!c->raw || (nbuf > 1 && !c->rowptrs))
        return bq_error_set(err, BQ_ERR_NOMEM,
                            "%s: no memory to decode the image", c->path);

    {
        const size_t bps = (size_t)out_depth / 8; /* bytes per sample */
        const size_t off = first * bps;           /* first sample, bytes */
        if (nbuf > 1) {
            for (size_t y = 0; y < h; y++)
                c->rowptrs[y] = c->raw + y * rowbytes;
            png_read_image(c->png, c->rowptrs);
        }
        for (size_t y = 0; y < h; y++) {
            const unsigned char *row = nbuf > 1 ? c->rowptrs[y] : c->raw;
            const unsigned char *src[3];
            if (nbuf == 1)
                png_read_row(c->png, c->raw, NULL);
            src[0] = row + off;
            src[1] = mode == BQ_CONV_LUMA ? row + off + bps : row;
            src[2] = mode == BQ_CONV_LUMA ? row + off + 2 * bps : row;
            bq_rowconv_run(&cv, bq_row(c->img, y), src, w);
        }
    }
    return BQ_OK;
}

/* Checks the image size stated in the IHDR chunk, which a valid PNG has
 * right after the signature, against LIM. Returns BQ_OK (also when the
 * bytes are not there: libpng then reports the damage), or the limit error
 * with ERR filled. Does not move the file offset. */
static enum bq_status
check_ihdr(int fd, const char *path, const struct bq_load_limits *lim,
           struct bq_error *err)
{
    unsigned char h[24];
    uint32_t w, ht;

    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h + 12, "IHDR", 4) != 0)
        return BQ_OK;
    w = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 |
        h[19];
    ht = (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 | (uint32_t)h[22] << 8 |
         h[23];
    return bq_load_check_pixels(path, w, ht, lim, err);
}

enum bq_status
bq_load_png(int fd, const char *path, const struct bq_load_opts *opts,
            const struct bq_load_limits *lim, struct bq_image **out,
            struct bq_load_info *info, struct bq_error *err)
{
    struct png_ctx ctx;
    enum bq_status st = BQ_OK;

    memset(&ctx, 0, sizeof ctx);
    ctx.path = path;
    /* The size is checked from the IHDR bytes before libpng reads (and
     * allocates for) any chunk after it. */
    st = check_ihdr(fd, path, lim, err);
    if (st != BQ_OK) {
        close(fd);
        goto out;
    }
    ctx.fp = fdopen(fd, "rb");
    if (!ctx.fp) {
        close(fd);
        st = bq_error_set(err, BQ_ERR_IO, "%s: cannot read the file", path);
        goto out;
    }
    ctx.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error,
                                     png_on_warning);
    if (ctx.png)
        ctx.pinfo = png_create_info_struct(ctx.png);
    if (!ctx.png || !ctx.pinfo) {
        st = bq_error_set(err, BQ_ERR_NOMEM,
                          "%s: no memory to start reading the PNG", path);
        goto out;
    }
    st = png_decode(&ctx, opts, lim, err);
    if (st != BQ_OK)
        goto out;

    memset(info, 0, sizeof *info);
    info->pages = 1;
    info->samples = ctx.file_channels;
    info->min_is_white = 0;
    snprintf(info->format, sizeof info->format, "png");
    snprintf(info->compression, sizeof info->compression, "deflate");
    *out = ctx.img;
    ctx.img = NULL;
out:
    png_ctx_fini(&ctx);
    return st;
}

/* ---- writing (the render stage's overlays and charts) ------------------ */

enum bq_status
bq_write_error(struct bq_error *err, const char *path, int e)
{
    char sys[128];

    switch (e) {
    case ENOENT:
        return bq_error_set(err, BQ_ERR_IO,
                            "cannot write %s: its folder does not exist", path);
    case EACCES:
    case EPERM:
        return bq_error_set(err, BQ_ERR_IO,
                            "cannot write %s: permission denied", path);
    case ENOSPC:
        return bq_error_set(err, BQ_ERR_IO, "cannot write %s: the disk is full",
                            path);
    case EFBIG:
        return bq_error_set(err, BQ_ERR_IO,
                            "cannot write %s: larger than the file size "
                            "limit (ulimit -f) or the file system allows",
                            path);
    case ENOTDIR:
        return bq_error_set(err, BQ_ERR_IO,
                            "cannot write %s: part of this path is a file, "
                            "not a folder",
                            path);
    default:
        if (strerror_r(e, sys, sizeof sys) != 0)
            snprintf(sys, sizeof sys, "error %d", e);
        return bq_error_set(err, BQ_ERR_IO, "cannot write %s: %s", path, sys);
    }
}

/* Everything one write owns; reached through a pointer, so its values
 * survive the longjmp. */
struct png_wctx {
    const char *path; /* for messages; borrowed */
    char libmsg[160]; /* first libpng error message */
    int werr;         /* errno of the first failed fwrite, or 0 */
    FILE *fp;         /* owned */
    png_structp png;  /* owned */
    png_infop pinfo;  /* owned */
};

/* libpng error callback for writing: keeps the message, jumps back to
 * png_encode. Does not return. */
static void
png_w_on_error(png_structp png, png_const_charp msg)
{
    struct png_wctx *c = png_get_error_ptr(png);

    if (c && c->libmsg[0] == '\0')
        snprintf(c->libmsg, sizeof c->libmsg, "%s", msg ? msg : "");
    png_longjmp(png, 1);
}

/* libpng output callbacks: stdio, remembering why a write failed. */
static void
png_w_write(png_structp png, png_bytep data, size_t len)
{
    struct png_wctx *c = png_get_io_ptr(png);

    errno = 0;
    if (fwrite(data, 1, len, c->fp) != len) {
        c->werr = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

static void
png_w_flush(png_structp png)
{
    (void)png; /* fclose flushes; a failure is reported there */
}

/* Converts W cairo pixels at SRC into DST: RGB, or RGBA with the
 * premultiplication undone (as cairo's own PNG writer does). */
static void
argb_row(const unsigned char *src, size_t w, int alpha, unsigned char *dst)
{
    if (!alpha) {
        for (size_t x = 0; x < w; x++) {
            uint32_t v;
            memcpy(&v, src + 4 * x, 4);
            dst[3 * x] = (unsigned char)(v >> 16);
            dst[3 * x + 1] = (unsigned char)(v >> 8);
            dst[3 * x + 2] = (unsigned char)v;
        }
        return;
    }
    for (size_t x = 0; x < w; x++) {
        uint32_t v, a;
        unsigned char *d = dst + 4 * x;
        memcpy(&v, src + 4 * x, 4);
        a = v >> 24;
        if (a == 0) {
            d[0] = d[1] = d[2] = d[3] = 0;
            continue;
        }
        for (int k = 0; k < 3; k++) {
            uint32_t cv = (v >> (16 - 8 * k)) & 255u;
            d[k] = (unsigned char)((cv * 255u + a / 2) / a);
        }
        d[3] = (unsigned char)a;
    }
}

/* The image data (IDAT) is one zlib stream, compressed in parts of about
 * PART_BYTES bytes of rows on all processors, pigz-style: each part is a
 * raw deflate stream of its own (no shared dictionary), ended by a sync
 * flush so that the parts concatenate (the last one finishes the stream);
 * their Adler-32 sums are combined in order. Part boundaries depend only on
 * the image, so the bytes are the same for any number of processors. */
#define PART_BYTES ((size_t)1 << 19)

struct png_part {
    size_t y0, y1;    /* rows [y0, y1) */
    unsigned char *z; /* its raw deflate data, owned */
    size_t nz;        /* bytes in z */
    uLong adler;      /* Adler-32 of its rows (filter byte and pixels) */
    int failed;       /* 1 if out of memory or zlib failed */
};

struct png_job {
    const unsigned char *px; /* cairo pixels, borrowed */
    size_t w, stride;        /* pixels; bytes between row starts */
    int alpha, level;        /* RGBA?; zlib level */
    struct png_part *parts;
    size_t nparts;
    uLong adler;        /* of all rows, once compressed */
    atomic_size_t next; /* the next part to compress */
};

/* Converts and compresses parts of the job at CTX until none is left. The
 * parts are taken in turn from a shared counter, not as the range [LO, HI)
 * that bq_parallel_for hands out: the scan's noisy rows cost far more than
 * the white margins, and a fixed split would leave a processor idle. Who
 * compresses a part does not change its bytes. */
static void
png_compress_parts(void *ctx, size_t lo, size_t hi)
{
    struct png_job *j = ctx;
    const size_t rowbytes = 1 + (j->alpha ? 4 : 3) * j->w;
    size_t i;

    (void)lo;
    (void)hi;
    while ((i = atomic_fetch_add(&j->next, 1)) < j->nparts) {
        struct png_part *p = &j->parts[i];
        size_t n = (p->y1 - p->y0) * rowbytes, cap;
        unsigned char *raw = bq_alloc_array(n, 1), *r;
        z_stream zs;

        p->failed = 1;
        if (!raw)
            continue;
        /* Filter type 0 (None) on every row: on the overlays it was both
         * faster and smaller than Sub, Up or libpng's adaptive choice (the
         * scan's grey noise defeats prediction; white and flat areas are
         * runs either way). */
        for (size_t y = p->y0; y < p->y1; y++) {
            r = raw + (y - p->y0) * rowbytes;
            r[0] = 0;
            argb_row(j->px + y * j->stride, j->w, j->alpha, r + 1);
        }
        p->adler = adler32(adler32(0L, Z_NULL, 0), raw, (uInt)n);
        memset(&zs, 0, sizeof zs);
        if (deflateInit2(&zs, j->level, Z_DEFLATED, -15, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            free(raw);
            continue;
        }
        cap = deflateBound(&zs, (uLong)n) + 16; /* + the sync marker */
        p->z = bq_alloc_array(cap, 1);
        if (p->z) {
            zs.next_in = raw;
            zs.avail_in = (uInt)n;
            zs.next_out = p->z;
            zs.avail_out = (uInt)cap;
            if (deflate(&zs, i + 1 == j->nparts ? Z_FINISH : Z_SYNC_FLUSH) ==
                    (i + 1 == j->nparts ? Z_STREAM_END : Z_OK) &&
                zs.avail_in == 0) {
                p->nz = cap - zs.avail_out;
                p->failed = 0;
            }
        }
        deflateEnd(&zs);
        free(raw);
    }
}

/* Writes the PNG through C (file open, structs created) from the
 * compressed parts of J. Returns BQ_OK or an error with ERR filled. */
static enum bq_status
png_encode(struct png_wctx *c, const struct png_job *j, size_t h,
           struct bq_error *err)
{
    unsigned char head[2], tail[4];

    if (setjmp(png_jmpbuf(c->png))) {
        if (c->werr)
            return bq_write_error(err, c->path, c->werr);
        return bq_error_set(err, BQ_ERR_RENDER, "cannot write %s: %s", c->path,
                            c->libmsg[0] ? c->libmsg : "libpng failed");
    }
    png_set_user_limits(c->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_write_fn(c->png, c, png_w_write, png_w_flush);
    png_set_IHDR(c->png, c->pinfo, (png_uint_32)j->w, (png_uint_32)h, 8,
                 j->alpha ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(c->png, c->pinfo); /* signature and IHDR */

    /* zlib header: deflate, 32 KiB window, FLEVEL from the level, and the
     * check bits that make the 16-bit value a multiple of 31 */
    head[0] = 0x78;
    head[1] = (unsigned char)((j->level <= 1   ? 0
                               : j->level <= 5 ? 1
                               : j->level == 6 ? 2
                                               : 3)
                              << 6);
    head[1] = (unsigned char)(head[1] + 31 - (head[0] * 256 + head[1]) % 31);
    for (size_t i = 0; i < j->nparts; i++) {
        const struct png_part *p = &j->parts[i];
        size_t len = p->nz + (i == 0 ? 2 : 0) + (i + 1 == j->nparts ? 4 : 0);
        png_write_chunk_start(c->png, (png_const_bytep) "IDAT",
                              (png_uint_32)len);
        if (i == 0)
            png_write_chunk_data(c->png, head, 2);
        png_write_chunk_data(c->png, p->z, p->nz);
        if (i + 1 == j->nparts) {
            for (int k = 0; k < 4; k++)
                tail[k] = (unsigned char)(j->adler >> (24 - 8 * k));
            png_write_chunk_data(c->png, tail, 4);
        }
        png_write_chunk_end(c->png);
    }
    png_write_chunk(c->png, (png_const_bytep) "IEND", NULL, 0);
    return BQ_OK;
}

enum bq_status
bq_png_write_rgb(const char *path, const unsigned char *px, size_t w, size_t h,
                 size_t stride, int alpha, int compression,
                 struct bq_error *err)
{
    struct png_wctx ctx;
    struct png_job job;
    size_t rows;
    enum bq_status st;
    int close_failed;

    memset(&ctx, 0, sizeof ctx);
    memset(&job, 0, sizeof job);
    atomic_init(&job.next, 0);
    if (!path || !px || w == 0 || h == 0 || w > ((size_t)1 << 24) ||
        h > PNG_UINT_31_MAX || stride / 4 < w || compression < 0 ||
        compression > 9)
        return bq_error_set(err, BQ_ERR_INVALID,
                            "cannot write %s: no pixels, or a bad size",
                            path ? path : "a PNG");
    ctx.path = path;
    job.px = px;
    job.w = w;
    job.stride = stride;
    job.alpha = alpha != 0;
    job.level = compression;
    rows = PART_BYTES / (1 + (alpha ? 4 : 3) * w);
    if (rows < 1)
        rows = 1;
    job.nparts = (h + rows - 1) / rows;
    job.parts = bq_calloc_array(job.nparts, sizeof *job.parts);
    if (!job.parts) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "cannot write %s: out of memory",
                          path);
        goto out;
    }
    for (size_t i = 0; i < job.nparts; i++) {
        job.parts[i].y0 = i * rows;
        job.parts[i].y1 = i + 1 == job.nparts ? h : (i + 1) * rows;
    }
    bq_parallel_for(job.nparts, 0, png_compress_parts, &job);
    job.adler = adler32(0L, Z_NULL, 0);
    for (size_t i = 0; i < job.nparts; i++) {
        const struct png_part *p = &job.parts[i];
        if (p->failed) {
            st = bq_error_set(err, BQ_ERR_NOMEM,
                              "cannot write %s: out of memory", path);
            goto out;
        }
        job.adler = adler32_combine(
            job.adler, p->adler,
            (z_off_t)((p->y1 - p->y0) * (1 + (alpha ? 4 : 3) * w)));
    }

    ctx.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx,
                                      png_w_on_error, png_on_warning);
    if (ctx.png)
        ctx.pinfo = png_create_info_struct(ctx.png);
    if (!ctx.png || !ctx.pinfo) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "cannot write %s: out of memory",
                          path);
        goto out;
    }
    ctx.fp = fopen(path, "wb");
    if (!ctx.fp) {
        st = bq_write_error(err, path, errno);
        goto out;
    }
    st = png_encode(&ctx, &job, h, err);
    errno = 0;
    close_failed = fclose(ctx.fp) != 0;
    ctx.fp = NULL;
    if (st == BQ_OK && close_failed)
        st = bq_write_error(err, path, errno ? errno : EIO);
    if (st != BQ_OK)
        remove(path);
out:
    if (ctx.png)
        png_destroy_write_struct(&ctx.png, ctx.pinfo ? &ctx.pinfo : NULL);
    for (size_t i = 0; job.parts && i < job.nparts; i++)
        free(job.parts[i].z);
    free(job.parts);
    return st;
}
