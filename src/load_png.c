/* blotquant load stage: PNG files through libpng. The only library file
 * that includes png.h. libpng reports errors by longjmp to the setjmp in
 * png_decode; its messages go into the call's context, never to stderr. */
#include "load_internal.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

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
