/* blotquant load stage: TIFF files through libtiff. The only file besides
 * the writers in tools/ that includes tiffio.h. Every libtiff message goes
 * to a per-call handler that keeps it for our error text; nothing reaches
 * stderr and no global handler is touched. */
#include "load_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tiffio.h>

/* Directory counts above this are reported as this (libtiff's own walk
 * already stops at loops). */
#define TIFF_MAX_PAGES 65535u

/* Everything one call owns; freed in one place (tiff_ctx_fini). */
struct tiff_ctx {
    const char *path;       /* for messages; borrowed */
    char libmsg[160];       /* first libtiff error of the current step */
    int fd;                 /* ours until libtiff owns it, else -1 */
    TIFFOpenOptions *topts; /* owned */
    TIFF *tif;              /* owned; closes the fd */
    unsigned char *buf[3];  /* one decoded strip/tile per plane read */
    void *unpacked[3];      /* one unpacked row per plane read */
    float *lut;             /* palette: index -> value */
    struct bq_image *img;   /* the result until handed over */
};

/* Geometry and sample layout of the page being read. */
struct tiff_layout {
    uint32_t width, height;    /* image, pixels */
    uint32_t block_w, block_h; /* strip: width x rows per strip; tile size */
    int tiled;                 /* 1 if the file is organised in tiles */
    int separate;              /* 1 if each sample has its own plane */
    uint16_t spp;              /* samples per pixel in the file */
    unsigned bits;             /* bits per sample in the file */
    unsigned nsrc;             /* samples feeding each pixel: 1 or 3 */
    uint16_t sample[3];        /* their indices, 0..spp-1 */
    unsigned nread;            /* planes decoded per block: 1, or nsrc */
    int unpack;                /* 1: bits is not 8/16/32, unpack rows */
    int pick;                  /* 1: unpack only the samples read, NSRC
                                  per pixel (contiguous, SPP > NSRC) */
    size_t elem;               /* bytes per sample after unpacking */
    tmsize_t block_bytes;      /* decoded bytes of one strip/tile/plane */
    tmsize_t row_bytes;        /* bytes from one block row to the next */
    size_t row_samples;        /* samples in one block row of one plane */
};

/* libtiff error handler: keeps the first message since the last reset.
 * Returns 1 so libtiff does not call its global (stderr) handler. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 0)))
#endif
static int
tiff_on_error(TIFF *tif, void *user, const char *module, const char *fmt,
              va_list ap)
{
    struct tiff_ctx *c = user;

    (void)tif;
    (void)module;
    if (c && c->libmsg[0] == '\0')
        vsnprintf(c->libmsg, sizeof c->libmsg, fmt, ap);
    return 1;
}

/* libtiff warning handler: warnings (unknown tags, odd but readable
 * fields) are dropped. Returns 1 to keep them off stderr. */
static int
tiff_on_warning(TIFF *tif, void *user, const char *module, const char *fmt,
                va_list ap)
{
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

/* The libtiff message of the current step, or a fallback. */
static const char *
tiff_msg(const struct tiff_ctx *c)
{
    return c->libmsg[0] ? c->libmsg : "no details from libtiff";
}

/* Short lower-case name of a TIFF compression code, for the run log. */
static void
compression_name(uint16_t comp, char *dst, size_t n)
{
    const char *s = NULL;

    switch (comp) {
    case COMPRESSION_NONE: s = "none"; break;
    case COMPRESSION_CCITTRLE: s = "ccitt-rle"; break;
    case COMPRESSION_CCITTFAX3: s = "ccitt-g3"; break;
    case COMPRESSION_CCITTFAX4: s = "ccitt-g4"; break;
    case COMPRESSION_LZW: s = "lzw"; break;
    case COMPRESSION_OJPEG: s = "old-jpeg"; break;
    case COMPRESSION_JPEG: s = "jpeg"; break;
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE: s = "deflate"; break;
    case COMPRESSION_PACKBITS: s = "packbits"; break;
    case COMPRESSION_LZMA: s = "lzma"; break;
    case COMPRESSION_ZSTD: s = "zstd"; break;
    case COMPRESSION_WEBP: s = "webp"; break;
    case COMPRESSION_JBIG: s = "jbig"; break;
    case COMPRESSION_LERC: s = "lerc"; break;
    case COMPRESSION_SGILOG:
    case COMPRESSION_SGILOG24: s = "sgilog"; break;
    case COMPRESSION_JXL: s = "jpeg-xl"; break;
    default: break;
    }
    if (s)
        snprintf(dst, n, "%s", s);
    else
        snprintf(dst, n, "code-%u", (unsigned)comp);
}

/* The cap on any single allocation inside libtiff (compressed strip
 * buffers, directory arrays): our byte limit, but at least 1 MiB so that
 * libtiff's small working buffers never fail with a message that would
 * wrongly call the file damaged. */
static tmsize_t
libtiff_cap(const struct bq_load_limits *lim)
{
    const uint64_t floor = (uint64_t)1 << 20;
    uint64_t cap = lim->max_bytes > floor ? lim->max_bytes : floor;

    return cap > (uint64_t)TIFF_TMSIZE_T_MAX ? TIFF_TMSIZE_T_MAX
                                             : (tmsize_t)cap;
}

/* Frees everything C owns (closing the file). */
static void
tiff_ctx_fini(struct tiff_ctx *c)
{
    for (int k = 0; k < 3; k++) {
        free(c->buf[k]);
        free(c->unpacked[k]);
    }
    free(c->lut);
    bq_image_destroy(c->img);
    if (c->tif)
        TIFFClose(c->tif); /* also closes the fd */
    else if (c->fd >= 0)
        close(c->fd);
    if (c->topts)
        TIFFOpenOptionsFree(c->topts);
}

/* Refuses colour models and sample formats blotquant does not measure,
 * saying why in words for the user. Returns BQ_OK or BQ_ERR_FORMAT. */
static enum bq_status
check_supported(const struct tiff_ctx *c, uint16_t photo, uint16_t fmt,
                unsigned bits, uint16_t spp, uint16_t comp,
                struct bq_error *err)
{
    const char *p = c->path;

    if (comp == COMPRESSION_JPEG || comp == COMPRESSION_OJPEG)
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF uses JPEG compression, which"
                            " distorts band intensities; export it"
                            " uncompressed or with LZW",
                            p);
    if (!TIFFIsCODECConfigured(comp)) {
        char name[16];
        compression_name(comp, name, sizeof name);
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF uses %s compression, which this"
                            " build cannot decode; export it uncompressed"
                            " or with LZW",
                            p, name);
    }
    switch (photo) {
    case PHOTOMETRIC_MINISBLACK:
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_PALETTE: break;
    case PHOTOMETRIC_RGB:
        if (spp < 3)
            return bq_error_set(err, BQ_ERR_FORMAT,
                                "%s: the TIFF says RGB colour but has %u"
                                " sample(s) per pixel; the file is damaged",
                                p, (unsigned)spp);
        break;
    case PHOTOMETRIC_SEPARATED:
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF is in CMYK (print) colour;"
                            " export the scan as grayscale or RGB",
                            p);
    case PHOTOMETRIC_YCBCR:
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF stores YCbCr (video-style)"
                            " colour; export the scan as grayscale or RGB",
                            p);
    case PHOTOMETRIC_CIELAB:
    case PHOTOMETRIC_ICCLAB:
    case PHOTOMETRIC_ITULAB:
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF stores Lab colour; export the"
                            " scan as grayscale or RGB",
                            p);
    case PHOTOMETRIC_LOGL:
    case PHOTOMETRIC_LOGLUV:
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF stores log-luminance (HDR)"
                            " data; export the scan as grayscale",
                            p);
    default:
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF uses a colour model blotquant"
                            " does not read (photometric %u); export the"
                            " scan as grayscale or RGB",
                            p, (unsigned)photo);
    }
    switch (fmt) {
    case SAMPLEFORMAT_UINT:
    case SAMPLEFORMAT_VOID:
        if (bits < 1 || bits > 32)
            return bq_error_set(err, BQ_ERR_FORMAT,
                                "%s: this TIFF has %u bits per sample;"
                                " blotquant reads 1 to 32",
                                p, bits);
        if (photo == PHOTOMETRIC_PALETTE && bits > 16)
            return bq_error_set(err, BQ_ERR_FORMAT,
                                "%s: this palette TIFF has %u-bit colour"
                                " indices; the TIFF limit is 16, so the file"
                                " is damaged",
                                p, bits);
        break;
    case SAMPLEFORMAT_IEEEFP:
        if (bits != 32)
            return bq_error_set(err, BQ_ERR_FORMAT,
                                "%s: this TIFF holds %u-bit floating-point"
                                " pixels; blotquant reads 32-bit floating"
                                " point or 8/16-bit integers",
                                p, bits);
        if (photo == PHOTOMETRIC_PALETTE)
            return bq_error_set(err, BQ_ERR_FORMAT,
                                "%s: this palette TIFF has floating-point"
                                " colour indices; the file is damaged",
                                p);
        break;
    case SAMPLEFORMAT_INT:
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF holds signed (possibly negative)"
                            " %u-bit integers, which no scanner exports;"
                            " export it as unsigned 8 or 16 bit",
                            p, bits);
    default:
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this TIFF holds complex-number or unknown"
                            " pixel data (sample format %u)",
                            p, (unsigned)fmt);
    }
    return BQ_OK;
}

/* Builds the palette table in C->LUT: index -> luminance of the colour
 * (CHANNEL < 0) or its CHANNEL component. Colormap entries are 16-bit; a
 * map whose entries are all multiples of 257 (8-bit values written the
 * standard way) or all <= 255 (old writers) gives 8-bit values. Sets
 * *BIT_DEPTH and *MAX_CODE. Returns BQ_OK, or an error (missing colormap,
 * no memory) with ERR filled. */
static enum bq_status
build_palette(struct tiff_ctx *c, unsigned bits, int channel, int *bit_depth,
              float *max_code, struct bq_error *err)
{
    uint16_t *map[3] = {NULL, NULL, NULL};
    size_t n = (size_t)1 << bits;
    int all257 = 1, all255 = 1;
    double scale = 1.0;

    if (!TIFFGetField(c->tif, TIFFTAG_COLORMAP, &map[0], &map[1], &map[2]) ||
        !map[0] || !map[1] || !map[2])
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: this palette TIFF has no colour table; the"
                            " file is damaged",
                            c->path);
    c->lut = bq_alloc_array(n, sizeof *c->lut);
    if (!c->lut)
        return bq_error_set(err, BQ_ERR_NOMEM,
                            "%s: no memory for the colour table", c->path);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < n; i++) {
            all257 &= map[k][i] % 257u == 0;
            all255 &= map[k][i] <= 255u;
        }
    if (all257 || all255) {
        scale = all257 ? 1.0 / 257.0 : 1.0;
        *bit_depth = 8;
        *max_code = 255.0f;
    } else {
        *bit_depth = 16;
        *max_code = 65535.0f;
    }
    for (size_t i = 0; i < n; i++) {
        double r = map[0][i] * scale, g = map[1][i] * scale,
               b = map[2][i] * scale;
        if (channel < 0)
            c->lut[i] = bq_luma(r, g, b);
        else
            c->lut[i] = (float)(channel == 0 ? r : channel == 1 ? g : b);
    }
    return BQ_OK;
}

/* Fills L with the block geometry of the current directory and checks it
 * for sanity. Returns BQ_OK or BQ_ERR_FORMAT with ERR filled. */
static enum bq_status
tiff_geometry(struct tiff_ctx *c, struct tiff_layout *L, struct bq_error *err)
{
    uint64_t bytes, rowb;

    L->tiled = TIFFIsTiled(c->tif) != 0;
    if (L->tiled) {
        uint32_t tw = 0, th = 0;
        if (!TIFFGetField(c->tif, TIFFTAG_TILEWIDTH, &tw) ||
            !TIFFGetField(c->tif, TIFFTAG_TILELENGTH, &th) || tw == 0 ||
            th == 0)
            return bq_error_set(err, BQ_ERR_FORMAT,
                                "%s: the TIFF tile size is missing or zero;"
                                " the file is damaged",
                                c->path);
        /* A tile may overhang the image, but not absurdly so. */
        if ((uint64_t)tw * th >
            4 * (uint64_t)L->width * L->height + ((uint64_t)1 << 22))
            return bq_error_set(err, BQ_ERR_FORMAT,
                                "%s: the TIFF claims %" PRIu32 " x %" PRIu32
                                " tiles for a %" PRIu32 " x %" PRIu32
                                " image; the file is damaged",
                                c->path, tw, th, L->width, L->height);
        L->block_w = tw;
        L->block_h = th;
        bytes = TIFFTileSize64(c->tif);
        rowb = TIFFTileRowSize64(c->tif);
    } else {
        uint32_t rps = 0;
        TIFFGetFieldDefaulted(c->tif, TIFFTAG_ROWSPERSTRIP, &rps);
        if (rps == 0 || rps > L->height)
            rps = L->height;
        L->block_w = L->width;
        L->block_h = rps;
        bytes = TIFFStripSize64(c->tif);
        rowb = TIFFScanlineSize64(c->tif);
    }
    /* libtiff returns 0 when a size overflows or makes no sense. */
    if (bytes == 0 || rowb == 0 || bytes / rowb < L->block_h ||
        bytes > (uint64_t)TIFF_TMSIZE_T_MAX)
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: the TIFF strip or tile size is invalid;"
                            " the file is damaged",
                            c->path);
    L->block_bytes = (tmsize_t)bytes;
    L->row_bytes = (tmsize_t)rowb;
    L->row_samples = (size_t)L->block_w * (L->separate ? 1u : L->spp);
    return BQ_OK;
}

/* Unpacks N 24-bit samples into 32-bit ones. Unlike other depths that are
 * not 8, 16 or 32 (a big-endian bit stream, which libtiff passes on as
 * it is), libtiff treats 24-bit samples as integers in the file's byte
 * order and swaps their 3 bytes when the file's order is not the host's
 * (as it does for 16 and 32 bits; it writes them the same way): what it
 * returns is in host byte order. */
static void
unpack_host24(const unsigned char *src, size_t n, uint32_t *dst)
{
    const uint16_t probe = 1;
    const int little = *(const unsigned char *)&probe == 1;

    for (size_t i = 0; i < n; i++, src += 3)
        dst[i] = little ? (uint32_t)src[0] | (uint32_t)src[1] << 8 |
                              (uint32_t)src[2] << 16
                        : (uint32_t)src[0] << 16 | (uint32_t)src[1] << 8 |
                              (uint32_t)src[2];
}

/* Decodes every strip or tile of the current directory through CV into
 * C->IMG. Returns BQ_OK, or BQ_ERR_FORMAT / BQ_ERR_NOMEM with ERR filled. */
static enum bq_status
tiff_decode(struct tiff_ctx *c, const struct tiff_layout *L,
            const struct bq_rowconv *cv, struct bq_error *err)
{
    const tmsize_t need_tile = L->block_bytes;

    for (unsigned k = 0; k < L->nread; k++) {
        c->buf[k] = malloc((size_t)L->block_bytes);
        if (L->unpack)
            c->unpacked[k] = bq_alloc_array(L->row_samples, L->elem);
        if (!c->buf[k] || (L->unpack && !c->unpacked[k]))
            return bq_error_set(err, BQ_ERR_NOMEM,
                                "%s: no memory to decode the image", c->path);
    }
    c->libmsg[0] = '\0';
    for (uint32_t by = 0; by < L->height; by += L->block_h) {
        uint32_t rows =
            L->height - by < L->block_h ? L->height - by : L->block_h;
        for (uint32_t bx = 0; bx < L->width; bx += L->block_w) {
            uint32_t cols =
                L->width - bx < L->block_w ? L->width - bx : L->block_w;
            /* Phase 1: decode this block of every plane we need. */
            for (unsigned k = 0; k < L->nread; k++) {
                uint16_t plane = L->separate ? L->sample[k] : 0;
                tmsize_t got, need;
                uint32_t idx;
                if (L->tiled) {
                    idx = TIFFComputeTile(c->tif, bx, by, 0, plane);
                    got = TIFFReadEncodedTile(c->tif, idx, c->buf[k],
                                              L->block_bytes);
                    need = need_tile;
                } else {
                    idx = TIFFComputeStrip(c->tif, by, plane);
                    got = TIFFReadEncodedStrip(c->tif, idx, c->buf[k],
                                               L->block_bytes);
                    need = (tmsize_t)rows * L->row_bytes;
                }
                if (got < need)
                    return bq_error_set(err, BQ_ERR_FORMAT,
                                        "%s: the TIFF image data is damaged"
                                        " or incomplete near row %" PRIu32
                                        " (%s)",
                                        c->path, by, tiff_msg(c));
            }
            /* Phase 2: convert its rows straight into the image. */
            for (uint32_t r = 0; r < rows; r++) {
                const unsigned char *rowp[3], *src[3];
                for (unsigned k = 0; k < L->nread; k++) {
                    rowp[k] = c->buf[k] + (size_t)r * (size_t)L->row_bytes;
                    if (L->pick) {
                        bq_unpack_pick(rowp[k], L->bits, L->bits == 24, cols,
                                       L->spp, L->sample, L->nsrc, L->elem,
                                       c->unpacked[k]);
                        rowp[k] = c->unpacked[k];
                    } else if (L->elem == 2 && L->unpack) {
                        bq_unpack_bits16(rowp[k], L->bits, L->row_samples,
                                         c->unpacked[k]);
                        rowp[k] = c->unpacked[k];
                    } else if (L->bits == 24) {
                        unpack_host24(rowp[k], L->row_samples, c->unpacked[k]);
                        rowp[k] = c->unpacked[k];
                    } else if (L->unpack) {
                        bq_unpack_bits32(rowp[k], L->bits, L->row_samples,
                                         c->unpacked[k]);
                        rowp[k] = c->unpacked[k];
                    }
                }
                for (unsigned j = 0; j < L->nsrc; j++)
                    src[j] = L->separate ? rowp[j]
                             : L->pick   ? rowp[0] + j * L->elem
                                         : rowp[0] + L->sample[j] * L->elem;
                bq_rowconv_run(cv, bq_row(c->img, by + r) + bx, src, cols);
            }
        }
    }
    return BQ_OK;
}

/* Float data: counts non-finite pixels (refused), inverts MINISWHITE data
 * (v -> max - v) and sets IMG->max_code to the largest value. Returns BQ_OK or
 * BQ_ERR_FORMAT with ERR filled. */
static enum bq_status
float_finish(struct tiff_ctx *c, int min_is_white, struct bq_error *err)
{
    struct bq_image *img = c->img;
    size_t bad = 0;
    float mn = INFINITY, mx = -INFINITY;

    for (size_t y = 0; y < img->height; y++) {
        const float *row = bq_row(img, y);
        for (size_t x = 0; x < img->width; x++) {
            float v = row[x];
            if (!isfinite(v)) {
                bad++;
                continue;
            }
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
    }
    if (bad)
        return bq_error_set(err, BQ_ERR_FORMAT,
                            "%s: %zu of the %zu pixels are not numbers (NaN"
                            " or infinity); blotquant needs every pixel to"
                            " be a finite value",
                            c->path, bad, img->width * img->height);
    img->max_code = mx;
    if (min_is_white) {
        /* v -> mx - v; the largest value is then mx - mn */
        for (size_t y = 0; y < img->height; y++) {
            float *row = bq_row(img, y);
            for (size_t x = 0; x < img->width; x++)
                row[x] = mx - row[x];
        }
        img->max_code = mx - mn;
    }
    return BQ_OK;
}

enum bq_status
bq_load_tiff(int fd, const char *path, const struct bq_load_opts *opts,
             const struct bq_load_limits *lim, struct bq_image **out,
             struct bq_load_info *info, struct bq_error *err)
{
    struct tiff_ctx ctx;
    struct tiff_layout L;
    struct bq_rowconv cv;
    enum bq_status st = BQ_OK;
    enum bq_sample_type type;
    enum bq_conv_mode mode;
    uint16_t bits16 = 1, spp = 1, fmt = SAMPLEFORMAT_UINT, photo = 0;
    uint16_t planar = PLANARCONFIG_CONTIG, comp = COMPRESSION_NONE;
    uint32_t w = 0, h = 0;
    unsigned pages;
    int is_float, bit_depth = 0;
    float max_code = 0.0f;
    uint64_t extra;

    memset(&ctx, 0, sizeof ctx);
    memset(&L, 0, sizeof L);
    ctx.path = path;
    ctx.fd = fd;

    /* Open with per-call message handlers and libtiff's own allocations
     * capped (libtiff_cap). "m": read() instead of mmap, so a file
     * shrinking under us is a read error, not a crash (and libtiff then
     * reads uncompressed strips straight into our buffer). */
    ctx.topts = TIFFOpenOptionsAlloc();
    if (!ctx.topts) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "%s: no memory to open", path);
        goto out;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(ctx.topts, tiff_on_error, &ctx);
    TIFFOpenOptionsSetWarningHandlerExtR(ctx.topts, tiff_on_warning, &ctx);
    TIFFOpenOptionsSetMaxSingleMemAlloc(ctx.topts, libtiff_cap(lim));
    ctx.tif = TIFFFdOpenExt(fd, path, "rm", ctx.topts);
    if (!ctx.tif) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: the TIFF file is damaged or incomplete and"
                          " cannot be opened (%s)",
                          path, tiff_msg(&ctx));
        goto out;
    }
    ctx.fd = -1; /* libtiff closes it now */

    /* Pages: libtiff's walk detects loops; cap what we report. */
    pages = TIFFNumberOfDirectories(ctx.tif);
    if (pages == 0)
        pages = 1; /* the first directory was read by the open */
    if (pages > TIFF_MAX_PAGES)
        pages = TIFF_MAX_PAGES;
    if (opts->page >= pages) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          "%s: page %u does not exist; the file has %u"
                          " page%s (numbered from 0 to %u)",
                          path, opts->page, pages, pages == 1 ? "" : "s",
                          pages - 1);
        goto out;
    }
    ctx.libmsg[0] = '\0';
    if (opts->page > 0 && !TIFFSetDirectory(ctx.tif, (tdir_t)opts->page)) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: page %u of the TIFF file is damaged (%s)", path,
                          opts->page, tiff_msg(&ctx));
        goto out;
    }

    /* Size first: a huge header is refused before anything else. */
    if (!TIFFGetField(ctx.tif, TIFFTAG_IMAGEWIDTH, &w) ||
        !TIFFGetField(ctx.tif, TIFFTAG_IMAGELENGTH, &h)) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: the TIFF does not state the image size; the"
                          " file is damaged",
                          path);
        goto out;
    }
    st = bq_load_check_pixels(path, w, h, lim, err);
    if (st != BQ_OK)
        goto out;

    TIFFGetFieldDefaulted(ctx.tif, TIFFTAG_BITSPERSAMPLE, &bits16);
    TIFFGetFieldDefaulted(ctx.tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(ctx.tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(ctx.tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(ctx.tif, TIFFTAG_COMPRESSION, &comp);
    if (!TIFFGetField(ctx.tif, TIFFTAG_PHOTOMETRIC, &photo))
        photo = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    if (spp == 0) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: the TIFF says 0 samples per pixel; the file"
                          " is damaged",
                          path);
        goto out;
    }
    st = check_supported(&ctx, photo, fmt, bits16, spp, comp, err);
    if (st != BQ_OK)
        goto out;
    is_float = fmt == SAMPLEFORMAT_IEEEFP;

    /* Which samples feed each pixel, and how. */
    L.width = w;
    L.height = h;
    L.spp = spp;
    L.bits = bits16;
    L.separate = planar == PLANARCONFIG_SEPARATE && spp > 1;
    if (opts->channel >= 0) {
        unsigned nch = photo == PHOTOMETRIC_PALETTE ? 3u : spp;
        if ((unsigned)opts->channel >= nch) {
            st = bq_error_set(err, BQ_ERR_INVALID,
                              "%s: channel %d does not exist; the image has"
                              " %u channel%s (numbered from 0 to %u)",
                              path, opts->channel, nch, nch == 1 ? "" : "s",
                              nch - 1);
            goto out;
        }
    }
    L.nsrc = 1;
    if (photo == PHOTOMETRIC_PALETTE) {
        mode = BQ_CONV_LUT;
        L.sample[0] = 0;
    } else if (opts->channel >= 0) {
        mode = BQ_CONV_GRAY;
        L.sample[0] = (uint16_t)opts->channel;
    } else if (photo == PHOTOMETRIC_RGB) {
        mode = BQ_CONV_LUMA;
        L.nsrc = 3;
        L.sample[0] = 0;
        L.sample[1] = 1;
        L.sample[2] = 2;
    } else {
        mode = BQ_CONV_GRAY; /* gray (+ alpha or extras): sample 0 */
        L.sample[0] = 0;
    }
    L.nread = L.separate ? L.nsrc : 1;
    L.unpack = !(L.bits == 8 || L.bits == 16 || L.bits == 32);
    L.pick = L.unpack && !L.separate && L.spp > L.nsrc;
    if (is_float) {
        type = BQ_SAMPLE_F32;
        L.elem = 4;
    } else if (L.bits == 8) {
        type = BQ_SAMPLE_U8;
        L.elem = 1;
    } else if (L.bits <= 16) {
        type = BQ_SAMPLE_U16;
        L.elem = 2;
    } else {
        type = BQ_SAMPLE_U32;
        L.elem = 4;
    }
    if (!is_float) {
        bit_depth = (int)L.bits;
        max_code = (float)(((uint64_t)1 << L.bits) - 1u);
    }

    st = tiff_geometry(&ctx, &L, err);
    if (st != BQ_OK)
        goto out;

    /* Memory: image + one block per plane read + unpack rows + table. */
    extra = (uint64_t)L.block_bytes * L.nread;
    if (L.unpack)
        extra += (uint64_t)L.row_samples * L.elem * L.nread;
    if (photo == PHOTOMETRIC_PALETTE)
        extra += ((uint64_t)1 << L.bits) * sizeof(float);
    st = bq_load_check_bytes(path, w, h, extra, lim, err);
    if (st != BQ_OK)
        goto out;

    if (photo == PHOTOMETRIC_PALETTE) {
        st = build_palette(&ctx, L.bits, opts->channel, &bit_depth, &max_code,
                           err);
        if (st != BQ_OK)
            goto out;
    }
    if (bq_rowconv_init(&cv, type, mode,
                        L.separate ? 1 : L.pick ? L.nsrc : spp, ctx.lut) !=
        BQ_OK) {
        st = bq_error_set(err, BQ_ERR_FORMAT,
                          "%s: this combination of TIFF fields (%u-bit,"
                          " %u samples, photometric %u) is not supported",
                          path, L.bits, (unsigned)spp, (unsigned)photo);
        goto out;
    }
    if (photo == PHOTOMETRIC_MINISWHITE && !is_float) {
        cv.invert = 1;
        cv.invert_max = max_code;
    }

    st = bq_load_new_image(path, w, h, &ctx.img, err);
    if (st != BQ_OK)
        goto out;
    st = tiff_decode(&ctx, &L, &cv, err);
    if (st != BQ_OK)
        goto out;
    if (is_float) {
        st = float_finish(&ctx, photo == PHOTOMETRIC_MINISWHITE, err);
        if (st != BQ_OK)
            goto out;
        bit_depth = 32;
        max_code = ctx.img->max_code;
    }
    ctx.img->bit_depth = bit_depth;
    ctx.img->max_code = max_code;

    memset(info, 0, sizeof *info);
    info->pages = pages;
    info->samples = spp;
    info->min_is_white = photo == PHOTOMETRIC_MINISWHITE;
    snprintf(info->format, sizeof info->format, "tiff");
    compression_name(comp, info->compression, sizeof info->compression);
    *out = ctx.img;
    ctx.img = NULL;
out:
    tiff_ctx_fini(&ctx);
    return st;
}
