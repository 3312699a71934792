/* Tests of the load stage: every input is written here with libtiff or
 * libpng directly, with known pixel values, and the loaded floats are
 * compared exactly. Damaged and foreign files must give a clear error
 * naming the file, never a crash, and nothing on stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <png.h>
#include <tiffio.h>

#include "blotquant/load.h"
#include "testutil.h"

static char g_dir[1024]; /* this test's scratch folder */

/* ---- helpers ------------------------------------------------------------ */

/* Path of NAME in the scratch folder (rotating static buffers). */
static const char *
tpath(const char *name)
{
    static char buf[4][1200];
    static int k;

    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* Rec. 709 luminance as the loader documents it (double, rounded once). */
static float
luma(double r, double g, double b)
{
    return (float)(0.2126 * r + 0.7152 * g + 0.0722 * b);
}

static float
px(const struct bq_image *img, size_t x, size_t y)
{
    return img->px[y * img->stride + x];
}

/* Loads PATH with OPTS (NULL = defaults), asserting status WANT; on
 * failure prints the message. Returns the image (NULL unless BQ_OK). */
static struct bq_image *
load_expect(const char *path, const struct bq_load_opts *opts,
            enum bq_status want, struct bq_load_info *info,
            struct bq_error *err_out)
{
    struct bq_error err;
    struct bq_image *img = NULL;
    enum bq_status st;

    bq_error_clear(&err);
    st = bq_image_load(path, opts, &img, info, &err);
    if (st != want)
        print_error("load %s: got status %d (%s), wanted %d\n", path, st,
                    err.msg, want);
    assert_int_equal(st, want);
    assert_int_equal(err.status, want);
    if (want == BQ_OK) {
        assert_non_null(img);
    } else {
        assert_null(img);
        /* every error message names the file */
        assert_non_null(strstr(err.msg, path));
    }
    if (err_out)
        *err_out = err;
    return img;
}

/* Loads with the given page and channel. */
static struct bq_image *
load_pc(const char *path, unsigned page, int channel, enum bq_status want,
        struct bq_error *err_out)
{
    struct bq_load_opts o;

    bq_load_opts_init(&o);
    o.page = page;
    o.channel = channel;
    return load_expect(path, &o, want, NULL, err_out);
}

static void
write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Reads the whole file PATH (caller frees), size in *N. */
static unsigned char *
read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *d;
    long sz;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    sz = ftell(f);
    assert_true(sz > 0);
    rewind(f);
    d = malloc((size_t)sz);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return d;
}

/* Writes the first N bytes of SRC to DST. */
static void
truncate_copy(const char *src, const char *dst, size_t n)
{
    size_t sz;
    unsigned char *d = read_all(src, &sz);
    assert_true(n <= sz);
    write_bytes(dst, d, n);
    free(d);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Size in bytes of scratch file NAME. */
static size_t
file_size(const char *name)
{
    struct stat sb;
    assert_int_equal(stat(tpath(name), &sb), 0);
    return (size_t)sb.st_size;
}

static void
copy_file(const char *src, const char *dst)
{
    size_t n;
    unsigned char *d = read_all(src, &n);
    write_bytes(dst, d, n);
    free(d);
}

/* stderr capture: libtiff/libpng must never print. */
static int g_saved_stderr = -1;

static void
stderr_begin(void)
{
    int fd;

    fflush(stderr);
    fd = open(tpath("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    g_saved_stderr = dup(2);
    assert_true(g_saved_stderr >= 0);
    assert_true(dup2(fd, 2) >= 0);
    close(fd);
}

/* Restores stderr; returns how many bytes were written meanwhile. */
static long
stderr_end(void)
{
    struct stat sb;

    fflush(stderr);
    dup2(g_saved_stderr, 2);
    close(g_saved_stderr);
    g_saved_stderr = -1;
    if (stat(tpath("stderr.txt"), &sb) != 0)
        return -1;
    return (long)sb.st_size;
}

/* ---- TIFF writer ----------------------------------------------------------
 */

/* One page to write. DATA holds packed rows as TIFF stores them (native
 * byte order for 16/32-bit samples): for contig, H rows of all samples;
 * for separate, SPP planes of H rows. */
struct tspec {
    uint32_t w, h;              /* pixels */
    uint16_t bps, spp, photo;   /* bits, samples, photometric */
    uint16_t fmt, planar, comp; /* 0 = uint / contig / none */
    uint16_t predictor;         /* 0 = none */
    int alpha;                  /* 1: last sample is alpha */
    uint32_t tile_w, tile_h;    /* 0 = strips */
    uint32_t rps;               /* rows per strip, 0 = libtiff default */
    const uint16_t *cmap[3];    /* palette */
    const void *data;           /* see above */
};

static size_t
ts_row_bytes(const struct tspec *s)
{
    unsigned n = s->planar == PLANARCONFIG_SEPARATE ? 1u : s->spp;
    return ((size_t)s->w * n * s->bps + 7) / 8;
}

static void
ts_fields(TIFF *t, const struct tspec *s)
{
    assert_true(TIFFSetField(t, TIFFTAG_IMAGEWIDTH, s->w));
    assert_true(TIFFSetField(t, TIFFTAG_IMAGELENGTH, s->h));
    assert_true(TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, s->bps));
    assert_true(TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, s->spp));
    assert_true(TIFFSetField(t, TIFFTAG_PHOTOMETRIC, s->photo));
    assert_true(TIFFSetField(t, TIFFTAG_SAMPLEFORMAT,
                             s->fmt ? s->fmt : SAMPLEFORMAT_UINT));
    assert_true(TIFFSetField(t, TIFFTAG_PLANARCONFIG,
                             s->planar ? s->planar : PLANARCONFIG_CONTIG));
    assert_true(TIFFSetField(t, TIFFTAG_COMPRESSION,
                             s->comp ? s->comp : COMPRESSION_NONE));
    if (s->predictor)
        assert_true(TIFFSetField(t, TIFFTAG_PREDICTOR, s->predictor));
    if (s->alpha) {
        uint16_t ex = EXTRASAMPLE_UNASSALPHA;
        assert_true(TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &ex));
    }
    if (s->cmap[0])
        assert_true(TIFFSetField(t, TIFFTAG_COLORMAP, s->cmap[0], s->cmap[1],
                                 s->cmap[2]));
    if (s->tile_w) {
        assert_true(TIFFSetField(t, TIFFTAG_TILEWIDTH, s->tile_w));
        assert_true(TIFFSetField(t, TIFFTAG_TILELENGTH, s->tile_h));
    } else {
        assert_true(TIFFSetField(t, TIFFTAG_ROWSPERSTRIP,
                                 s->rps ? s->rps : TIFFDefaultStripSize(t, 0)));
    }
}

static void
ts_data(TIFF *t, const struct tspec *s)
{
    unsigned planes = s->planar == PLANARCONFIG_SEPARATE ? s->spp : 1u;
    size_t rb = ts_row_bytes(s);
    const unsigned char *d = s->data;

    for (unsigned p = 0; p < planes; p++) {
        const unsigned char *pd = d + (size_t)p * rb * s->h;
        if (!s->tile_w) {
            /* libtiff byte-swaps and predicts in place: write a copy */
            unsigned char *row = malloc(rb);
            assert_non_null(row);
            for (uint32_t y = 0; y < s->h; y++) {
                memcpy(row, pd + y * rb, rb);
                assert_true(TIFFWriteScanline(t, row, y, (uint16_t)p) >= 0);
            }
            free(row);
            continue;
        }
        /* tiles: bits per sample must be a multiple of 8 here */
        size_t bpp = (size_t)s->bps / 8 * (planes == 1 ? s->spp : 1u);
        size_t tsz = (size_t)TIFFTileSize(t), trb = s->tile_w * bpp;
        unsigned char *tb = malloc(tsz);
        assert_non_null(tb);
        for (uint32_t ty = 0; ty < s->h; ty += s->tile_h)
            for (uint32_t tx = 0; tx < s->w; tx += s->tile_w) {
                uint32_t cols = s->w - tx < s->tile_w ? s->w - tx : s->tile_w;
                memset(tb, 0xab, tsz); /* overhang garbage, must be ignored */
                for (uint32_t r = 0; r < s->tile_h && ty + r < s->h; r++)
                    memcpy(tb + r * trb, pd + (ty + r) * rb + tx * bpp,
                           cols * bpp);
                assert_true(TIFFWriteTile(t, tb, tx, ty, 0, (uint16_t)p) >= 0);
            }
        free(tb);
    }
}

/* Writes NPAGES pages to PATH; MODE "wl" little-endian, "wb" big-endian. */
static void
write_tiff_pages(const char *path, const char *mode, const struct tspec *s,
                 int npages)
{
    TIFF *t = TIFFOpen(path, mode);
    assert_non_null(t);
    for (int i = 0; i < npages; i++) {
        ts_fields(t, &s[i]);
        ts_data(t, &s[i]);
        assert_true(TIFFWriteDirectory(t));
    }
    TIFFClose(t);
}

static void
write_tiff(const char *path, const char *mode, const struct tspec *s)
{
    write_tiff_pages(path, mode, s, 1);
}

/* Known sample values; sample 0 of the first pixel is 0 and of the last
 * pixel the maximum, and high and low bytes differ elsewhere. */
static uint8_t
v8(uint32_t x, uint32_t y, unsigned s)
{
    return (uint8_t)(x * 7u + y * 13u + s * 101u);
}

static uint16_t
v16(uint32_t x, uint32_t y, unsigned s)
{
    return (uint16_t)(x * 2731u + y * 977u + s * 12345u);
}

/* Interleaved (SEPARATE = 0) or planar samples, 8-bit. Caller frees. */
static uint8_t *
make8(uint32_t w, uint32_t h, unsigned spp, int separate)
{
    uint8_t *d = malloc((size_t)w * h * spp);
    assert_non_null(d);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (unsigned s = 0; s < spp; s++) {
                size_t i = separate ? ((size_t)s * h + y) * w + x
                                    : ((size_t)y * w + x) * spp + s;
                d[i] = v8(x, y, s);
                if (s == 0 && x == 0 && y == 0)
                    d[i] = 0;
                if (s == 0 && x == w - 1 && y == h - 1)
                    d[i] = 255;
            }
    return d;
}

static uint16_t *
make16(uint32_t w, uint32_t h, unsigned spp, int separate)
{
    uint16_t *d = malloc((size_t)w * h * spp * 2);
    assert_non_null(d);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (unsigned s = 0; s < spp; s++) {
                size_t i = separate ? ((size_t)s * h + y) * w + x
                                    : ((size_t)y * w + x) * spp + s;
                d[i] = v16(x, y, s);
                if (s == 0 && x == 0 && y == 0)
                    d[i] = 0;
                if (s == 0 && x == w - 1 && y == h - 1)
                    d[i] = 65535;
            }
    return d;
}

/* Sample S of pixel (X, Y) of data from make8/make16. */
static double
sample_at(const void *d, int bits16, uint32_t w, uint32_t h, unsigned spp,
          int separate, uint32_t x, uint32_t y, unsigned s)
{
    size_t i =
        separate ? ((size_t)s * h + y) * w + x : ((size_t)y * w + x) * spp + s;
    return bits16 ? ((const uint16_t *)d)[i] : ((const uint8_t *)d)[i];
}

/* Asserts IMG holds sample CH (or luminance of 0..2 if CH < 0) of D. */
static void
assert_pixels(const struct bq_image *img, const void *d, int bits16, uint32_t w,
              uint32_t h, unsigned spp, int separate, int ch)
{
    assert_int_equal(img->width, w);
    assert_int_equal(img->height, h);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            float want;
            if (ch >= 0)
                want = (float)sample_at(d, bits16, w, h, spp, separate, x, y,
                                        (unsigned)ch);
            else
                want = luma(sample_at(d, bits16, w, h, spp, separate, x, y, 0),
                            sample_at(d, bits16, w, h, spp, separate, x, y, 1),
                            sample_at(d, bits16, w, h, spp, separate, x, y, 2));
            if (px(img, x, y) != want)
                print_error("pixel (%u,%u): got %.9g want %.9g\n", x, y,
                            (double)px(img, x, y), (double)want);
            assert_true(px(img, x, y) == want);
        }
}

/* ---- TIFF: gray -----------------------------------------------------------
 */

static void
test_tiff_gray8_both_orders(void **state)
{
    const char *modes[2] = {"wl", "wb"};
    const uint32_t w = 37, h = 23;
    uint8_t *d = make8(w, h, 1, 0);
    (void)state;

    for (int m = 0; m < 2; m++) {
        struct tspec s = {.w = w,
                          .h = h,
                          .bps = 8,
                          .spp = 1,
                          .photo = PHOTOMETRIC_MINISBLACK,
                          .rps = 4,
                          .data = d};
        const char *p = tpath(m ? "gray8_be.tif" : "gray8_le.tif");
        struct bq_load_info info;
        struct bq_image *img;
        unsigned char head[2];
        FILE *f;

        write_tiff(p, modes[m], &s);
        f = fopen(p, "rb");
        assert_non_null(f);
        assert_int_equal(fread(head, 1, 2, f), 2);
        fclose(f);
        assert_int_equal(head[0], m ? 'M' : 'I');

        img = load_expect(p, NULL, BQ_OK, &info, NULL);
        assert_pixels(img, d, 0, w, h, 1, 0, 0);
        assert_int_equal(img->bit_depth, 8);
        assert_true(img->max_code == 255.0f);
        assert_true(px(img, 0, 0) == 0.0f);
        assert_true(px(img, w - 1, h - 1) == 255.0f);
        assert_string_equal(info.format, "tiff");
        assert_string_equal(info.compression, "none");
        assert_int_equal(info.pages, 1);
        assert_int_equal(info.samples, 1);
        assert_int_equal(info.min_is_white, 0);
        bq_image_destroy(img);
    }
    free(d);
}

static void
test_tiff_gray16_both_orders(void **state)
{
    /* classic TIFF and BigTIFF, little- and big-endian */
    const char *modes[4] = {"wl", "wb", "wl8", "wb8"};
    const uint32_t w = 41, h = 19;
    uint16_t *d = make16(w, h, 1, 0);
    (void)state;

    d[1] = 0x0102; /* 258: a byte swap would give 513 */
    d[2] = 0xff00;
    for (int m = 0; m < 4; m++) {
        struct tspec s = {.w = w,
                          .h = h,
                          .bps = 16,
                          .spp = 1,
                          .photo = PHOTOMETRIC_MINISBLACK,
                          .data = d};
        const char *p = tpath("gray16.tif");
        struct bq_image *img;
        unsigned char head[4];
        FILE *f;

        write_tiff(p, modes[m], &s);
        f = fopen(p, "rb");
        assert_non_null(f);
        assert_int_equal(fread(head, 1, 4, f), 4);
        fclose(f);
        assert_int_equal(head[m % 2 ? 3 : 2], m >= 2 ? 43 : 42);
        img = load_expect(p, NULL, BQ_OK, NULL, NULL);
        assert_pixels(img, d, 1, w, h, 1, 0, 0);
        assert_true(px(img, 1, 0) == 258.0f);
        assert_true(px(img, 2, 0) == 65280.0f);
        assert_int_equal(img->bit_depth, 16);
        assert_true(img->max_code == 65535.0f);
        bq_image_destroy(img);
    }
    free(d);
}

static void
test_tiff_compressions(void **state)
{
    static const struct {
        uint16_t comp, predictor;
        const char *name;
    } cases[] = {
        {COMPRESSION_LZW, 0, "lzw"},
        {COMPRESSION_LZW, PREDICTOR_HORIZONTAL, "lzw"},
        {COMPRESSION_ADOBE_DEFLATE, 0, "deflate"},
        {COMPRESSION_ADOBE_DEFLATE, PREDICTOR_HORIZONTAL, "deflate"},
        {COMPRESSION_PACKBITS, 0, "packbits"},
    };
    const uint32_t w = 53, h = 29;
    uint8_t *d8 = make8(w, h, 1, 0);
    uint16_t *d16 = make16(w, h, 1, 0);
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int b16 = 0; b16 < 2; b16++)
            for (int be = 0; be < 2; be++) {
                struct tspec s = {.w = w,
                                  .h = h,
                                  .bps = b16 ? 16 : 8,
                                  .spp = 1,
                                  .photo = PHOTOMETRIC_MINISBLACK,
                                  .comp = cases[i].comp,
                                  .predictor = cases[i].predictor,
                                  .rps = 5,
                                  .data = b16 ? (void *)d16 : (void *)d8};
                const char *p = tpath("comp.tif");
                struct bq_load_info info;
                struct bq_image *img;

                write_tiff(p, be ? "wb" : "wl", &s);
                img = load_expect(p, NULL, BQ_OK, &info, NULL);
                assert_pixels(img, b16 ? (void *)d16 : (void *)d8, b16, w, h, 1,
                              0, 0);
                assert_string_equal(info.compression, cases[i].name);
                assert_int_equal(img->bit_depth, b16 ? 16 : 8);
                bq_image_destroy(img);
            }
    free(d8);
    free(d16);
}

static void
test_tiff_tiled(void **state)
{
    const uint32_t w = 50, h = 37; /* not multiples of the 16 x 16 tiles */
    uint16_t *d16 = make16(w, h, 1, 0);
    uint8_t *rgb = make8(w, h, 3, 0);
    uint8_t *planar = make8(w, h, 3, 1);
    struct tspec s16 = {.w = w,
                        .h = h,
                        .bps = 16,
                        .spp = 1,
                        .photo = PHOTOMETRIC_MINISBLACK,
                        .comp = COMPRESSION_LZW,
                        .tile_w = 16,
                        .tile_h = 16,
                        .data = d16};
    struct tspec srgb = {.w = w,
                         .h = h,
                         .bps = 8,
                         .spp = 3,
                         .photo = PHOTOMETRIC_RGB,
                         .tile_w = 32,
                         .tile_h = 16,
                         .data = rgb};
    struct tspec ssep = {.w = w,
                         .h = h,
                         .bps = 8,
                         .spp = 3,
                         .photo = PHOTOMETRIC_RGB,
                         .planar = PLANARCONFIG_SEPARATE,
                         .comp = COMPRESSION_ADOBE_DEFLATE,
                         .tile_w = 16,
                         .tile_h = 32,
                         .data = planar};
    struct bq_image *img;
    (void)state;

    write_tiff(tpath("tiled16.tif"), "wb", &s16);
    img = load_expect(tpath("tiled16.tif"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, d16, 1, w, h, 1, 0, 0);
    bq_image_destroy(img);

    write_tiff(tpath("tiled_rgb.tif"), "wl", &srgb);
    img = load_expect(tpath("tiled_rgb.tif"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, rgb, 0, w, h, 3, 0, -1);
    bq_image_destroy(img);
    img = load_pc(tpath("tiled_rgb.tif"), 0, 2, BQ_OK, NULL);
    assert_pixels(img, rgb, 0, w, h, 3, 0, 2);
    bq_image_destroy(img);

    write_tiff(tpath("tiled_sep.tif"), "wl", &ssep);
    img = load_expect(tpath("tiled_sep.tif"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, planar, 0, w, h, 3, 1, -1);
    bq_image_destroy(img);
    img = load_pc(tpath("tiled_sep.tif"), 0, 1, BQ_OK, NULL);
    assert_pixels(img, planar, 0, w, h, 3, 1, 1);
    bq_image_destroy(img);

    free(d16);
    free(rgb);
    free(planar);
}

/* ---- TIFF: colour ------------------------------------------------------- */

static void
test_tiff_rgb_contig(void **state)
{
    const uint32_t w = 31, h = 17;
    uint8_t *d = make8(w, h, 3, 0);
    struct tspec s = {.w = w,
                      .h = h,
                      .bps = 8,
                      .spp = 3,
                      .photo = PHOTOMETRIC_RGB,
                      .rps = 3,
                      .data = d};
    struct bq_load_info info;
    struct bq_error err;
    struct bq_image *img;
    (void)state;

    /* a neutral gray pixel must come out as exactly its value */
    d[3] = d[4] = d[5] = 200;
    write_tiff(tpath("rgb8.tif"), "wl", &s);
    img = load_expect(tpath("rgb8.tif"), NULL, BQ_OK, &info, NULL);
    assert_pixels(img, d, 0, w, h, 3, 0, -1);
    assert_true(px(img, 1, 0) == 200.0f);
    assert_int_equal(info.samples, 3);
    assert_int_equal(img->bit_depth, 8);
    assert_true(img->max_code == 255.0f);
    bq_image_destroy(img);
    for (int c = 0; c < 3; c++) {
        img = load_pc(tpath("rgb8.tif"), 0, c, BQ_OK, NULL);
        assert_pixels(img, d, 0, w, h, 3, 0, c);
        bq_image_destroy(img);
    }
    load_pc(tpath("rgb8.tif"), 0, 3, BQ_ERR_INVALID, &err);
    assert_non_null(strstr(err.msg, "channel 3"));
    assert_non_null(strstr(err.msg, "3 channels"));
    load_pc(tpath("rgb8.tif"), 0, -2, BQ_ERR_INVALID, NULL);
    free(d);
}

static void
test_tiff_rgb16_separate(void **state)
{
    const uint32_t w = 29, h = 21;
    uint16_t *d = make16(w, h, 3, 1);
    struct tspec s = {.w = w,
                      .h = h,
                      .bps = 16,
                      .spp = 3,
                      .photo = PHOTOMETRIC_RGB,
                      .planar = PLANARCONFIG_SEPARATE,
                      .comp = COMPRESSION_LZW,
                      .rps = 4,
                      .data = d};
    struct bq_image *img;
    (void)state;

    write_tiff(tpath("rgb16_sep.tif"), "wb", &s);
    img = load_expect(tpath("rgb16_sep.tif"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, d, 1, w, h, 3, 1, -1);
    assert_int_equal(img->bit_depth, 16);
    bq_image_destroy(img);
    for (int c = 0; c < 3; c++) {
        img = load_pc(tpath("rgb16_sep.tif"), 0, c, BQ_OK, NULL);
        assert_pixels(img, d, 1, w, h, 3, 1, c);
        bq_image_destroy(img);
    }
    free(d);
}

static void
test_tiff_rgba(void **state)
{
    const uint32_t w = 23, h = 11;
    uint8_t *d = make8(w, h, 4, 0);
    struct tspec s = {.w = w,
                      .h = h,
                      .bps = 8,
                      .spp = 4,
                      .alpha = 1,
                      .photo = PHOTOMETRIC_RGB,
                      .comp = COMPRESSION_LZW,
                      .data = d};
    struct bq_load_info info;
    struct bq_image *img;
    (void)state;

    write_tiff(tpath("rgba8.tif"), "wl", &s);
    img = load_expect(tpath("rgba8.tif"), NULL, BQ_OK, &info, NULL);
    assert_pixels(img, d, 0, w, h, 4, 0, -1); /* alpha ignored */
    assert_int_equal(info.samples, 4);
    bq_image_destroy(img);
    img = load_pc(tpath("rgba8.tif"), 0, 3, BQ_OK, NULL); /* alpha itself */
    assert_pixels(img, d, 0, w, h, 4, 0, 3);
    bq_image_destroy(img);
    load_pc(tpath("rgba8.tif"), 0, 4, BQ_ERR_INVALID, NULL);
    free(d);
}

static void
test_tiff_gray_alpha(void **state)
{
    const uint32_t w = 13, h = 9;
    uint16_t *d = make16(w, h, 2, 0);
    struct tspec s = {.w = w,
                      .h = h,
                      .bps = 16,
                      .spp = 2,
                      .alpha = 1,
                      .photo = PHOTOMETRIC_MINISBLACK,
                      .data = d};
    struct bq_image *img;
    (void)state;

    write_tiff(tpath("ga16.tif"), "wl", &s);
    img = load_expect(tpath("ga16.tif"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, d, 1, w, h, 2, 0, 0);
    bq_image_destroy(img);
    free(d);
}

static void
test_tiff_palette(void **state)
{
    const uint32_t w = 19, h = 7;
    uint16_t r8[256], g8[256], b8[256], r4[16], g4[16], b4[16];
    uint8_t idx8[19 * 7], packed4[10 * 7];
    struct bq_image *img;
    (void)state;

    /* 8-bit palette written the standard way (8-bit values * 257) */
    for (int i = 0; i < 256; i++) {
        r8[i] = (uint16_t)(((i * 3) & 255) * 257);
        g8[i] = (uint16_t)(i * 257);
        b8[i] = (uint16_t)((255 - i) * 257);
    }
    for (uint32_t i = 0; i < w * h; i++)
        idx8[i] = (uint8_t)(i * 37u);
    {
        struct tspec s = {.w = w,
                          .h = h,
                          .bps = 8,
                          .spp = 1,
                          .photo = PHOTOMETRIC_PALETTE,
                          .cmap = {r8, g8, b8},
                          .data = idx8};
        write_tiff(tpath("pal8.tif"), "wl", &s);
    }
    img = load_expect(tpath("pal8.tif"), NULL, BQ_OK, NULL, NULL);
    assert_int_equal(img->bit_depth, 8);
    assert_true(img->max_code == 255.0f);
    for (uint32_t i = 0; i < w * h; i++) {
        int k = idx8[i];
        assert_true(img->px[i] ==
                    luma(r8[k] / 257.0, g8[k] / 257.0, b8[k] / 257.0));
    }
    bq_image_destroy(img);
    img = load_pc(tpath("pal8.tif"), 0, 1, BQ_OK, NULL);
    for (uint32_t i = 0; i < w * h; i++)
        assert_true(img->px[i] == (float)idx8[i]);
    bq_image_destroy(img);
    load_pc(tpath("pal8.tif"), 0, 3, BQ_ERR_INVALID, NULL);

    /* 4-bit palette with true 16-bit colours */
    for (int i = 0; i < 16; i++) {
        r4[i] = (uint16_t)(i * 4000 + 1);
        g4[i] = (uint16_t)(65535 - i * 1000);
        b4[i] = (uint16_t)(i * 17);
    }
    memset(packed4, 0, sizeof packed4);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            unsigned k = (x + 3 * y) & 15u;
            packed4[y * 10 + x / 2] |= (uint8_t)(x % 2 ? k : k << 4);
        }
    {
        struct tspec s = {.w = w,
                          .h = h,
                          .bps = 4,
                          .spp = 1,
                          .photo = PHOTOMETRIC_PALETTE,
                          .cmap = {r4, g4, b4},
                          .data = packed4};
        write_tiff(tpath("pal4.tif"), "wb", &s);
    }
    img = load_expect(tpath("pal4.tif"), NULL, BQ_OK, NULL, NULL);
    assert_int_equal(img->bit_depth, 16);
    assert_true(img->max_code == 65535.0f);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            unsigned k = (x + 3 * y) & 15u;
            assert_true(px(img, x, y) == luma(r4[k], g4[k], b4[k]));
        }
    bq_image_destroy(img);
}

static void
test_tiff_miniswhite(void **state)
{
    const uint32_t w = 17, h = 13;
    uint8_t *d8 = make8(w, h, 1, 0);
    uint16_t *d16 = make16(w, h, 1, 0);
    struct bq_load_info info;
    struct bq_image *img;
    (void)state;

    for (int b16 = 0; b16 < 2; b16++) {
        struct tspec s = {.w = w,
                          .h = h,
                          .bps = b16 ? 16 : 8,
                          .spp = 1,
                          .photo = PHOTOMETRIC_MINISWHITE,
                          .comp = COMPRESSION_PACKBITS,
                          .data = b16 ? (void *)d16 : (void *)d8};
        float mx = b16 ? 65535.0f : 255.0f;
        write_tiff(tpath("white.tif"), "wl", &s);
        img = load_expect(tpath("white.tif"), NULL, BQ_OK, &info, NULL);
        assert_int_equal(info.min_is_white, 1);
        assert_true(img->max_code == mx);
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++) {
                float v = (float)sample_at(b16 ? (void *)d16 : (void *)d8, b16,
                                           w, h, 1, 0, x, y, 0);
                assert_true(px(img, x, y) == mx - v);
            }
        assert_true(px(img, 0, 0) == mx); /* stored 0 = white = max */
        bq_image_destroy(img);
    }
    free(d8);
    free(d16);
}

/* ---- TIFF: other sample formats --------------------------------------------
 */

static void
test_tiff_float(void **state)
{
    const uint32_t w = 11, h = 7;
    float d[11 * 7];
    struct tspec s = {.w = w,
                      .h = h,
                      .bps = 32,
                      .spp = 1,
                      .photo = PHOTOMETRIC_MINISBLACK,
                      .fmt = SAMPLEFORMAT_IEEEFP,
                      .data = d};
    struct bq_error err;
    struct bq_image *img;
    (void)state;

    for (uint32_t i = 0; i < w * h; i++)
        d[i] = (float)i * 0.37f - 5.25f;
    d[40] = 1234.5f; /* the maximum */
    write_tiff(tpath("f32.tif"), "wb", &s);
    img = load_expect(tpath("f32.tif"), NULL, BQ_OK, NULL, NULL);
    for (uint32_t i = 0; i < w * h; i++)
        assert_true(img->px[i] == d[i]);
    assert_int_equal(img->bit_depth, 32);
    assert_true(img->max_code == 1234.5f);
    bq_image_destroy(img);

    /* predictor 3 (floating point) through Deflate */
    s.comp = COMPRESSION_ADOBE_DEFLATE;
    s.predictor = PREDICTOR_FLOATINGPOINT;
    write_tiff(tpath("f32p3.tif"), "wl", &s);
    img = load_expect(tpath("f32p3.tif"), NULL, BQ_OK, NULL, NULL);
    for (uint32_t i = 0; i < w * h; i++)
        assert_true(img->px[i] == d[i]);
    bq_image_destroy(img);

    /* MINISWHITE float: v -> max - v, and the new maximum */
    s.photo = PHOTOMETRIC_MINISWHITE;
    write_tiff(tpath("f32white.tif"), "wl", &s);
    img = load_expect(tpath("f32white.tif"), NULL, BQ_OK, NULL, NULL);
    for (uint32_t i = 0; i < w * h; i++)
        assert_true(img->px[i] == 1234.5f - d[i]);
    assert_true(img->max_code == 1234.5f - d[0]);
    bq_image_destroy(img);
    s.photo = PHOTOMETRIC_MINISBLACK;

    /* NaN and infinity are refused, with their count */
    s.comp = 0;
    s.predictor = 0;
    d[3] = NAN;
    d[50] = INFINITY;
    d[51] = -INFINITY;
    write_tiff(tpath("f32nan.tif"), "wl", &s);
    load_expect(tpath("f32nan.tif"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "3 of the 77 pixels"));
    assert_non_null(strstr(err.msg, "NaN"));
}

static void
test_tiff_uint32(void **state)
{
    const uint32_t w = 9, h = 5;
    uint32_t d[9 * 5];
    struct tspec s = {.w = w,
                      .h = h,
                      .bps = 32,
                      .spp = 1,
                      .photo = PHOTOMETRIC_MINISBLACK,
                      .data = d};
    struct bq_image *img;
    (void)state;

    for (uint32_t i = 0; i < w * h; i++)
        d[i] = i * 1000003u;
    d[44] = UINT32_MAX;
    write_tiff(tpath("u32.tif"), "wb", &s);
    img = load_expect(tpath("u32.tif"), NULL, BQ_OK, NULL, NULL);
    for (uint32_t i = 0; i < w * h; i++)
        assert_true(img->px[i] == (float)d[i]);
    assert_int_equal(img->bit_depth, 32);
    assert_true(img->max_code == (float)UINT32_MAX);
    assert_true(img->px[44] == img->max_code); /* saturation detectable */
    bq_image_destroy(img);
}

/* Packs N samples of BITS bits MSB-first into rows of ROWBYTES. */
static void
pack_bits(const uint16_t *v, uint32_t w, uint32_t h, unsigned bits,
          uint8_t *out, size_t rowbytes)
{
    memset(out, 0, rowbytes * h);
    for (uint32_t y = 0; y < h; y++) {
        size_t bit = 0;
        for (uint32_t x = 0; x < w; x++)
            for (int b = (int)bits - 1; b >= 0; b--, bit++)
                if (v[y * w + x] >> b & 1u)
                    out[y * rowbytes + bit / 8] |= (uint8_t)(0x80u >> bit % 8);
    }
}

static void
test_tiff_odd_bit_depths(void **state)
{
    static const unsigned depths[] = {1, 2, 4, 12};
    const uint32_t w = 27, h = 6;
    uint16_t v[27 * 6];
    uint8_t packed[((27 * 12 + 7) / 8) * 6];
    struct bq_load_info info;
    struct bq_image *img;
    (void)state;

    for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
        unsigned bits = depths[k];
        uint16_t mx = (uint16_t)((1u << bits) - 1u);
        size_t rb = ((size_t)w * bits + 7) / 8;
        for (int white = 0; white < 2; white++) {
            struct tspec s = {.w = w,
                              .h = h,
                              .bps = (uint16_t)bits,
                              .spp = 1,
                              .photo = white ? PHOTOMETRIC_MINISWHITE
                                             : PHOTOMETRIC_MINISBLACK,
                              .comp = COMPRESSION_LZW,
                              .rps = 4,
                              .data = packed};
            for (uint32_t i = 0; i < w * h; i++)
                v[i] = (uint16_t)((i * 2654435761u >> 7) & mx);
            v[0] = 0;
            v[1] = mx;
            pack_bits(v, w, h, bits, packed, rb);
            write_tiff(tpath("odd.tif"), "wl", &s);
            img = load_expect(tpath("odd.tif"), NULL, BQ_OK, &info, NULL);
            assert_int_equal(img->bit_depth, (int)bits);
            assert_true(img->max_code == (float)mx);
            assert_int_equal(info.min_is_white, white);
            for (uint32_t i = 0; i < w * h; i++)
                assert_true(img->px[i] == (float)(white ? mx - v[i] : v[i]));
            bq_image_destroy(img);
        }
    }
}

/* Odd bit depths with more samples per pixel than are read (RGBA, gray
 * with alpha): only the samples read are unpacked, each from its own bit
 * offset (a file with a hundred samples per pixel once took 164 times the
 * work of its one gray sample). */
static void
test_tiff_odd_depth_extra_samples(void **state)
{
    static const struct {
        unsigned bits, spp;
        uint16_t photo;
    } cases[] = {{12, 4, PHOTOMETRIC_RGB},
                 {4, 2, PHOTOMETRIC_MINISBLACK},
                 {2, 4, PHOTOMETRIC_RGB},
                 {12, 2, PHOTOMETRIC_MINISBLACK}};
    const uint32_t w = 19, h = 5;
    uint16_t v[19 * 5 * 4];
    uint8_t packed[((19 * 4 * 12 + 7) / 8) * 5];
    (void)state;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        unsigned bits = cases[k].bits, spp = cases[k].spp;
        uint16_t mx = (uint16_t)((1u << bits) - 1u);
        size_t rb = ((size_t)w * spp * bits + 7) / 8;
        struct tspec s = {.w = w,
                          .h = h,
                          .bps = (uint16_t)bits,
                          .spp = (uint16_t)spp,
                          .alpha = 1,
                          .photo = cases[k].photo,
                          .rps = 2,
                          .data = packed};
        struct bq_image *img;
        for (uint32_t i = 0; i < w * h * spp; i++)
            v[i] = (uint16_t)((i * 2654435761u >> 9) & mx);
        pack_bits(v, w * spp, h, bits, packed, rb);
        write_tiff(tpath("oddx.tif"), "wl", &s);
        for (int ch = -1; ch < (int)spp; ch++) {
            if (ch < 0)
                img = load_expect(tpath("oddx.tif"), NULL, BQ_OK, NULL, NULL);
            else
                img = load_pc(tpath("oddx.tif"), 0, ch, BQ_OK, NULL);
            for (uint32_t i = 0; i < w * h; i++) {
                const uint16_t *p = v + (size_t)i * spp;
                float want = ch >= 0 ? (float)p[ch]
                             : spp >= 3 ? luma(p[0], p[1], p[2])
                                        : (float)p[0];
                if (img->px[i] != want)
                    print_error("%u-bit x%u, channel %d, pixel %u: got %g,"
                                " want %g\n",
                                bits, spp, ch, i, (double)img->px[i],
                                (double)want);
                assert_true(img->px[i] == want);
            }
            bq_image_destroy(img);
        }
    }
}

static void
test_tiff_multipage(void **state)
{
    const uint32_t w = 15, h = 10;
    uint16_t *d[3];
    struct tspec s[3];
    struct bq_load_info info;
    struct bq_error err;
    struct bq_image *img;
    (void)state;

    for (int p = 0; p < 3; p++) {
        d[p] = make16(w, h, 1, 0);
        for (uint32_t i = 0; i < w * h; i++)
            d[p][i] = (uint16_t)(d[p][i] ^ (p * 0x1111));
        memset(&s[p], 0, sizeof s[p]);
        s[p].w = w;
        s[p].h = h;
        s[p].bps = 16;
        s[p].spp = 1;
        s[p].photo = PHOTOMETRIC_MINISBLACK;
        s[p].comp = p == 1 ? COMPRESSION_LZW : COMPRESSION_NONE;
        s[p].data = d[p];
    }
    write_tiff_pages(tpath("pages.tif"), "wl", s, 3);
    for (unsigned p = 0; p < 3; p++) {
        struct bq_load_opts o;
        bq_load_opts_init(&o);
        o.page = p;
        img = load_expect(tpath("pages.tif"), &o, BQ_OK, &info, NULL);
        assert_int_equal(info.pages, 3);
        assert_pixels(img, d[p], 1, w, h, 1, 0, 0);
        bq_image_destroy(img);
    }
    load_pc(tpath("pages.tif"), 3, -1, BQ_ERR_INVALID, &err);
    assert_non_null(strstr(err.msg, "page 3"));
    assert_non_null(strstr(err.msg, "3 pages"));
    for (int p = 0; p < 3; p++)
        free(d[p]);
}

/* ---- PNG
 * --------------------------------------------------------------------- */

struct pngw {
    FILE *f;
    png_structp p;
    png_infop i;
};

/* Writes a PNG; ROWS are packed PNG rows (16-bit big-endian). */
static void
write_png(const char *path, uint32_t w, uint32_t h, int depth, int ctype,
          int interlace, const uint8_t *rows, const png_color *pal, int npal,
          const png_byte *trns, int ntrns)
{
    static struct pngw c; /* static: survives longjmp */
    size_t rb;
    int passes;

    memset(&c, 0, sizeof c);
    c.f = fopen(path, "wb");
    assert_non_null(c.f);
    c.p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(c.p);
    c.i = png_create_info_struct(c.p);
    assert_non_null(c.i);
    if (setjmp(png_jmpbuf(c.p)))
        fail_msg("libpng write failed for %s", path);
    png_init_io(c.p, c.f);
    png_set_IHDR(c.p, c.i, w, h, depth, ctype, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(c.p, c.i, pal, npal);
    if (trns)
        png_set_tRNS(c.p, c.i, trns, ntrns, NULL);
    png_write_info(c.p, c.i);
    passes = interlace ? png_set_interlace_handling(c.p) : 1;
    rb = png_get_rowbytes(c.p, c.i);
    for (int pass = 0; pass < passes; pass++)
        for (uint32_t y = 0; y < h; y++)
            png_write_row(c.p, rows + y * rb);
    png_write_end(c.p, c.i);
    png_destroy_write_struct(&c.p, &c.i);
    fclose(c.f);
}

/* 16-bit big-endian rows from native values. Caller frees. */
static uint8_t *
be16(const uint16_t *v, size_t n)
{
    uint8_t *b = malloc(n * 2);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        b[2 * i] = (uint8_t)(v[i] >> 8);
        b[2 * i + 1] = (uint8_t)(v[i] & 255u);
    }
    return b;
}

static void
test_png_gray(void **state)
{
    const uint32_t w = 33, h = 21;
    uint8_t *d8 = make8(w, h, 1, 0);
    uint16_t *d16 = make16(w, h, 1, 0);
    uint8_t *b16;
    struct bq_load_info info;
    struct bq_error err;
    struct bq_image *img;
    (void)state;

    d16[1] = 0x0102;
    b16 = be16(d16, (size_t)w * h);
    write_png(tpath("g8.png"), w, h, 8, PNG_COLOR_TYPE_GRAY, 0, d8, NULL, 0,
              NULL, 0);
    img = load_expect(tpath("g8.png"), NULL, BQ_OK, &info, NULL);
    assert_pixels(img, d8, 0, w, h, 1, 0, 0);
    assert_int_equal(img->bit_depth, 8);
    assert_true(img->max_code == 255.0f);
    assert_string_equal(info.format, "png");
    assert_int_equal(info.pages, 1);
    assert_int_equal(info.samples, 1);
    bq_image_destroy(img);

    write_png(tpath("g16.png"), w, h, 16, PNG_COLOR_TYPE_GRAY, 0, b16, NULL, 0,
              NULL, 0);
    img = load_expect(tpath("g16.png"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, d16, 1, w, h, 1, 0, 0);
    assert_true(px(img, 1, 0) == 258.0f); /* big-endian read right */
    assert_int_equal(img->bit_depth, 16);
    assert_true(img->max_code == 65535.0f);
    bq_image_destroy(img);

    /* a PNG has one page */
    load_pc(tpath("g16.png"), 1, -1, BQ_ERR_INVALID, &err);
    assert_non_null(strstr(err.msg, "page 1"));
    load_pc(tpath("g16.png"), 0, 1, BQ_ERR_INVALID, NULL);
    free(d8);
    free(d16);
    free(b16);
}

static void
test_png_gray_low_depths(void **state)
{
    static const int depths[] = {1, 2, 4};
    const uint32_t w = 29, h = 5;
    uint16_t v[29 * 5];
    uint8_t packed[((29 * 4 + 7) / 8) * 5];
    struct bq_image *img;
    (void)state;

    for (size_t k = 0; k < 3; k++) {
        unsigned bits = (unsigned)depths[k], mx = (1u << bits) - 1u;
        size_t rb = ((size_t)w * bits + 7) / 8;
        for (uint32_t i = 0; i < w * h; i++)
            v[i] = (uint16_t)((i * 7u + i / 3u) & mx);
        pack_bits(v, w, h, bits, packed, rb);
        write_png(tpath("glow.png"), w, h, (int)bits, PNG_COLOR_TYPE_GRAY, 0,
                  packed, NULL, 0, NULL, 0);
        img = load_expect(tpath("glow.png"), NULL, BQ_OK, NULL, NULL);
        /* expanded to 8 bits by bit replication: v * 255 / max */
        assert_int_equal(img->bit_depth, 8);
        assert_true(img->max_code == 255.0f);
        for (uint32_t i = 0; i < w * h; i++)
            assert_true(img->px[i] == (float)(v[i] * 255u / mx));
        bq_image_destroy(img);
    }
}

static void
test_png_color(void **state)
{
    const uint32_t w = 27, h = 14;
    uint8_t *rgb = make8(w, h, 3, 0);
    uint8_t *ga = make8(w, h, 2, 0);
    uint16_t *rgba = make16(w, h, 4, 0);
    uint8_t *rgba_be = be16(rgba, (size_t)w * h * 4);
    struct bq_load_info info;
    struct bq_image *img;
    (void)state;

    write_png(tpath("rgb8.png"), w, h, 8, PNG_COLOR_TYPE_RGB, 0, rgb, NULL, 0,
              NULL, 0);
    img = load_expect(tpath("rgb8.png"), NULL, BQ_OK, &info, NULL);
    assert_pixels(img, rgb, 0, w, h, 3, 0, -1);
    assert_int_equal(info.samples, 3);
    bq_image_destroy(img);
    img = load_pc(tpath("rgb8.png"), 0, 1, BQ_OK, NULL);
    assert_pixels(img, rgb, 0, w, h, 3, 0, 1);
    bq_image_destroy(img);

    write_png(tpath("rgba16.png"), w, h, 16, PNG_COLOR_TYPE_RGB_ALPHA, 0,
              rgba_be, NULL, 0, NULL, 0);
    img = load_expect(tpath("rgba16.png"), NULL, BQ_OK, &info, NULL);
    assert_pixels(img, rgba, 1, w, h, 4, 0, -1);
    assert_int_equal(info.samples, 4);
    assert_int_equal(img->bit_depth, 16);
    bq_image_destroy(img);
    img = load_pc(tpath("rgba16.png"), 0, 2, BQ_OK, NULL);
    assert_pixels(img, rgba, 1, w, h, 4, 0, 2);
    bq_image_destroy(img);

    write_png(tpath("ga8.png"), w, h, 8, PNG_COLOR_TYPE_GRAY_ALPHA, 0, ga, NULL,
              0, NULL, 0);
    img = load_expect(tpath("ga8.png"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, ga, 0, w, h, 2, 0, 0);
    bq_image_destroy(img);

    free(rgb);
    free(ga);
    free(rgba);
    free(rgba_be);
}

static void
test_png_palette(void **state)
{
    const uint32_t w = 16, h = 9;
    png_color pal[16];
    png_byte trns[3] = {0, 128, 255};
    uint8_t idx[16 * 9];
    struct bq_image *img;
    (void)state;

    for (int i = 0; i < 16; i++) {
        pal[i].red = (png_byte)(i * 16);
        pal[i].green = (png_byte)(255 - i * 5);
        pal[i].blue = (png_byte)(i * i);
    }
    for (uint32_t i = 0; i < w * h; i++)
        idx[i] = (uint8_t)((i * 5u) & 15u);
    for (int t = 0; t < 2; t++) {
        write_png(tpath("pal.png"), w, h, 8, PNG_COLOR_TYPE_PALETTE, 0, idx,
                  pal, 16, t ? trns : NULL, t ? 3 : 0);
        img = load_expect(tpath("pal.png"), NULL, BQ_OK, NULL, NULL);
        assert_int_equal(img->bit_depth, 8);
        for (uint32_t i = 0; i < w * h; i++) {
            const png_color *c = &pal[idx[i]];
            assert_true(img->px[i] == luma(c->red, c->green, c->blue));
        }
        bq_image_destroy(img);
        img = load_pc(tpath("pal.png"), 0, 0, BQ_OK, NULL);
        for (uint32_t i = 0; i < w * h; i++)
            assert_true(img->px[i] == (float)pal[idx[i]].red);
        bq_image_destroy(img);
    }
}

static void
test_png_interlaced(void **state)
{
    const uint32_t w = 37, h = 29;
    uint16_t *d16 = make16(w, h, 1, 0);
    uint8_t *b16 = be16(d16, (size_t)w * h);
    uint8_t *rgb = make8(w, h, 3, 0);
    struct bq_image *img;
    (void)state;

    write_png(tpath("il16.png"), w, h, 16, PNG_COLOR_TYPE_GRAY,
              PNG_INTERLACE_ADAM7, b16, NULL, 0, NULL, 0);
    img = load_expect(tpath("il16.png"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, d16, 1, w, h, 1, 0, 0);
    bq_image_destroy(img);
    write_png(tpath("ilrgb.png"), w, h, 8, PNG_COLOR_TYPE_RGB,
              PNG_INTERLACE_ADAM7, rgb, NULL, 0, NULL, 0);
    img = load_expect(tpath("ilrgb.png"), NULL, BQ_OK, NULL, NULL);
    assert_pixels(img, rgb, 0, w, h, 3, 0, -1);
    bq_image_destroy(img);
    free(d16);
    free(b16);
    free(rgb);
}

/* ---- files that are not images ----------------------------------------------
 */

static void
test_not_images(void **state)
{
    static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J',
                                         'F',  'I',  'F',  0,    1, 1};
    static const char pdf[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
    static const char text[] = "lane,volume\n1,123.4\n2,99.0\n";
    static const unsigned char junk[] = {0x00, 0x01, 0x02, 0x03, 0x99,
                                         0x00, 0x10, 0x20, 0x30, 0x40};
    struct bq_image *sentinel = (struct bq_image *)&sentinel;
    struct bq_image *img = sentinel;
    struct bq_error err;
    (void)state;

    load_expect(tpath("missing.tif"), NULL, BQ_ERR_IO, NULL, &err);
    assert_non_null(strstr(err.msg, "no such file"));
    load_expect(g_dir, NULL, BQ_ERR_IO, NULL, &err);
    assert_non_null(strstr(err.msg, "folder"));

    write_bytes(tpath("empty.tif"), "", 0);
    load_expect(tpath("empty.tif"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "empty"));

    write_bytes(tpath("scan.jpg"), jpeg, sizeof jpeg);
    load_expect(tpath("scan.jpg"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "JPEG"));
    assert_non_null(strstr(err.msg, "TIFF"));
    /* the name does not matter, the bytes do */
    write_bytes(tpath("jpeg_named.tif"), jpeg, sizeof jpeg);
    load_expect(tpath("jpeg_named.tif"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "JPEG"));

    write_bytes(tpath("fig.pdf"), pdf, sizeof pdf - 1);
    load_expect(tpath("fig.pdf"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "PDF"));

    write_bytes(tpath("bands.csv"), text, sizeof text - 1);
    load_expect(tpath("bands.csv"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "text file"));

    write_bytes(tpath("junk.bin"), junk, sizeof junk);
    load_expect(tpath("junk.bin"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "not a TIFF or PNG"));

    /* short files with the right magic */
    write_bytes(tpath("short.tif"), "II*\0", 4);
    load_expect(tpath("short.tif"), NULL, BQ_ERR_FORMAT, NULL, NULL);
    write_bytes(tpath("short.png"), "\x89PNG\r\n\x1a\n", 8);
    load_expect(tpath("short.png"), NULL, BQ_ERR_FORMAT, NULL, NULL);

    /* *out is not written on failure; NULL arguments are refused */
    bq_error_clear(&err);
    assert_int_equal(bq_image_load(tpath("scan.jpg"), NULL, &img, NULL, &err),
                     BQ_ERR_FORMAT);
    assert_ptr_equal(img, sentinel);
    assert_int_equal(bq_image_load(NULL, NULL, &img, NULL, NULL),
                     BQ_ERR_INVALID);
    assert_int_equal(bq_image_load(tpath("scan.jpg"), NULL, NULL, NULL, NULL),
                     BQ_ERR_INVALID);
}

/* ---- damaged files
 * ------------------------------------------------------------ */

/* Offset of tag TAG's 12-byte entry in the first IFD of the classic
 * little-endian TIFF in D, or 0. */
static size_t
find_tag_le(const unsigned char *d, size_t n, uint16_t tag)
{
    uint32_t ifd = (uint32_t)d[4] | (uint32_t)d[5] << 8 | (uint32_t)d[6] << 16 |
                   (uint32_t)d[7] << 24;
    unsigned cnt;

    assert_true(ifd + 2 <= n);
    cnt = d[ifd] | (unsigned)d[ifd + 1] << 8;
    for (unsigned i = 0; i < cnt; i++) {
        size_t e = ifd + 2 + 12 * (size_t)i;
        assert_true(e + 12 <= n);
        if ((d[e] | (unsigned)d[e + 1] << 8) == tag)
            return e;
    }
    return 0;
}

/* Sets tag TAG (count 1, stored inline) of the file at PATH to the LONG
 * value V. */
static void
patch_tag_le(const char *path, uint16_t tag, uint32_t v)
{
    size_t n, e;
    unsigned char *d = read_all(path, &n);

    e = find_tag_le(d, n, tag);
    assert_true(e != 0);
    d[e + 2] = 4; /* LONG */
    d[e + 3] = 0;
    for (int k = 0; k < 4; k++)
        d[e + 8 + k] = (unsigned char)(v >> (8 * k));
    write_bytes(path, d, n);
    free(d);
}

static void
test_truncated_and_corrupt(void **state)
{
    const uint32_t w = 64, h = 48;
    uint16_t *d16 = make16(w, h, 1, 0);
    uint8_t *b16 = be16(d16, (size_t)w * h);
    struct tspec raw = {.w = w,
                        .h = h,
                        .bps = 16,
                        .spp = 1,
                        .photo = PHOTOMETRIC_MINISBLACK,
                        .rps = 48,
                        .data = d16};
    struct tspec lzw = raw;
    struct bq_error err;
    size_t n;
    long errbytes;
    int loaded = 0, refused = 0;
    (void)state;

    lzw.comp = COMPRESSION_LZW;
    lzw.rps = 8;
    write_tiff(tpath("ok.tif"), "wl", &raw);
    write_tiff(tpath("ok_lzw.tif"), "wl", &lzw);
    write_png(tpath("ok.png"), w, h, 16, PNG_COLOR_TYPE_GRAY, 0, b16, NULL, 0,
              NULL, 0);

    stderr_begin();
    /* cut in half: a clean format error naming the file */
    truncate_copy(tpath("ok.tif"), tpath("half.tif"), file_size("ok.tif") / 2);
    load_expect(tpath("half.tif"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "damaged or incomplete"));
    truncate_copy(tpath("ok.png"), tpath("half.png"), file_size("ok.png") / 2);
    load_expect(tpath("half.png"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "damaged or incomplete"));

    /* image data missing although the directory is intact */
    copy_file(tpath("ok.tif"), tpath("baddata.tif"));
    patch_tag_le(tpath("baddata.tif"), TIFFTAG_STRIPOFFSETS, 0x7ffffff0u);
    load_expect(tpath("baddata.tif"), NULL, BQ_ERR_FORMAT, NULL, &err);
    assert_non_null(strstr(err.msg, "image data is damaged"));

    /* a directory chain that loops back on itself must not hang */
    {
        unsigned char *t = read_all(tpath("ok.tif"), &n);
        uint32_t ifd = (uint32_t)t[4] | (uint32_t)t[5] << 8 |
                       (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
        size_t next = ifd + 2 + 12 * (size_t)(t[ifd] | t[ifd + 1] << 8);
        struct bq_load_info info;
        struct bq_image *img;
        double t0 = now_s();
        assert_true(next + 4 <= n);
        memcpy(t + next, t + 4, 4); /* next IFD = this IFD */
        write_bytes(tpath("loop.tif"), t, n);
        free(t);
        img = load_expect(tpath("loop.tif"), NULL, BQ_OK, &info, NULL);
        assert_int_equal(info.pages, 1);
        assert_pixels(img, d16, 1, w, h, 1, 0, 0);
        bq_image_destroy(img);
        load_pc(tpath("loop.tif"), 1, -1, BQ_ERR_INVALID, NULL);
        assert_true(now_s() - t0 < 1.0);
    }

    /* zero width */
    copy_file(tpath("ok.tif"), tpath("zero.tif"));
    patch_tag_le(tpath("zero.tif"), TIFFTAG_IMAGEWIDTH, 0);
    load_expect(tpath("zero.tif"), NULL, BQ_ERR_FORMAT, NULL, NULL);

    /* every cut point of a compressed TIFF and a PNG, and byte flips:
     * any outcome but a crash, a hang or a leak is acceptable */
    {
        const char *src[3] = {"ok_lzw.tif", "ok.png", "ok.tif"};
        for (int f = 0; f < 3; f++) {
            unsigned char *t = read_all(tpath(src[f]), &n);
            for (size_t cut = 1; cut < n; cut += 1 + n / 97) {
                struct bq_image *img = NULL;
                enum bq_status st;
                write_bytes(tpath("cut.bin"), t, cut);
                st = bq_image_load(tpath("cut.bin"), NULL, &img, NULL, NULL);
                assert_true(st == BQ_ERR_FORMAT || st == BQ_OK);
                bq_image_destroy(img);
            }
            for (size_t pos = 0; pos < n; pos += 1 + n / 211) {
                struct bq_image *img = NULL;
                enum bq_status st;
                t[pos] ^= 0x5a;
                write_bytes(tpath("flip.bin"), t, n);
                t[pos] ^= 0x5a;
                bq_error_clear(&err);
                st = bq_image_load(tpath("flip.bin"), NULL, &img, NULL, &err);
                assert_true(st == BQ_OK || st == BQ_ERR_FORMAT ||
                            st == BQ_ERR_LIMIT || st == BQ_ERR_INVALID);
                if (st == BQ_OK) {
                    loaded++;
                } else {
                    refused++;
                    assert_non_null(strstr(err.msg, tpath("flip.bin")));
                }
                bq_image_destroy(img);
            }
            free(t);
        }
    }
    errbytes = stderr_end();
    assert_int_equal(errbytes, 0); /* libtiff/libpng printed nothing */
    assert_true(loaded + refused > 0);
    free(d16);
    free(b16);
}

/* ---- limits
 * --------------------------------------------------------------------- */

static void
test_huge_headers(void **state)
{
    struct bq_error err;
    double t0;
    TIFF *t;
    (void)state;

    /* a TIFF header claiming 100000 x 100000, with no data at all */
    t = TIFFOpen(tpath("huge.tif"), "wl");
    assert_non_null(t);
    assert_true(TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 100000u));
    assert_true(TIFFSetField(t, TIFFTAG_IMAGELENGTH, 100000u));
    assert_true(TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16));
    assert_true(TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1));
    assert_true(TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK));
    assert_true(TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 100000u));
    assert_true(TIFFWriteRawStrip(t, 0, "0123456789", 10) == 10);
    assert_true(TIFFWriteDirectory(t));
    TIFFClose(t);
    t0 = now_s();
    load_expect(tpath("huge.tif"), NULL, BQ_ERR_LIMIT, NULL, &err);
    assert_true(now_s() - t0 < 1.0);
    assert_non_null(strstr(err.msg, "100000 x 100000"));
    assert_non_null(strstr(err.msg, "limit of 200.0 megapixels"));

    /* the same by patching a small valid file */
    {
        uint8_t d[4 * 4] = {0};
        struct tspec s = {.w = 4,
                          .h = 4,
                          .bps = 8,
                          .spp = 1,
                          .photo = PHOTOMETRIC_MINISBLACK,
                          .data = d};
        write_tiff(tpath("patched.tif"), "wl", &s);
        patch_tag_le(tpath("patched.tif"), TIFFTAG_IMAGEWIDTH, 100000);
        patch_tag_le(tpath("patched.tif"), TIFFTAG_IMAGELENGTH, 100000);
        load_expect(tpath("patched.tif"), NULL, BQ_ERR_LIMIT, NULL, &err);
        assert_non_null(strstr(err.msg, "100000 x 100000"));
    }

    /* a PNG header claiming 100000 x 100000 (IHDR only) */
    {
        static struct pngw c;
        memset(&c, 0, sizeof c);
        c.f = fopen(tpath("huge.png"), "wb");
        assert_non_null(c.f);
        c.p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        c.i = png_create_info_struct(c.p);
        if (setjmp(png_jmpbuf(c.p)))
            fail_msg("libpng write failed");
        png_init_io(c.p, c.f);
        png_set_IHDR(c.p, c.i, 100000, 100000, 8, PNG_COLOR_TYPE_GRAY, 0,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(c.p, c.i);
        png_destroy_write_struct(&c.p, &c.i);
        fclose(c.f);
    }
    t0 = now_s();
    load_expect(tpath("huge.png"), NULL, BQ_ERR_LIMIT, NULL, &err);
    assert_true(now_s() - t0 < 1.0);
    assert_non_null(strstr(err.msg, "100000 x 100000"));
}

static void
test_option_limits(void **state)
{
    const uint32_t w = 37, h = 23;
    uint16_t *d = make16(w, h, 1, 0);
    uint8_t *b = be16(d, (size_t)w * h);
    struct tspec s = {.w = w,
                      .h = h,
                      .bps = 16,
                      .spp = 1,
                      .photo = PHOTOMETRIC_MINISBLACK,
                      .data = d};
    const char *files[2];
    struct bq_load_opts o;
    struct bq_error err;
    struct bq_image *img;
    (void)state;

    write_tiff(tpath("lim.tif"), "wl", &s);
    write_png(tpath("lim.png"), w, h, 16, PNG_COLOR_TYPE_GRAY, 0, b, NULL, 0,
              NULL, 0);
    files[0] = tpath("lim.tif");
    files[1] = tpath("lim.png");
    for (int f = 0; f < 2; f++) {
        bq_load_opts_init(&o);
        o.max_pixels = (uint64_t)w * h - 1;
        load_expect(files[f], &o, BQ_ERR_LIMIT, NULL, &err);
        assert_non_null(strstr(err.msg, "37 x 23"));
        o.max_pixels = (uint64_t)w * h; /* exactly at the limit: fine */
        img = load_expect(files[f], &o, BQ_OK, NULL, NULL);
        bq_image_destroy(img);
        o.max_pixels = 0;                  /* 0 = default */
        o.max_bytes = (uint64_t)w * h * 4; /* no room for a decode buffer */
        load_expect(files[f], &o, BQ_ERR_LIMIT, NULL, &err);
        assert_non_null(strstr(err.msg, "MB"));
        o.max_bytes = 0;
        img = load_expect(files[f], &o, BQ_OK, NULL, NULL);
        bq_image_destroy(img);
    }
    free(d);
    free(b);
}

/* ---- real scans (read in place, never copied)
 * ------------------------------------ */

/* Parses the "image:" line of a .source.txt: "image: 696x520, 16-bit x1
 * MINISBLACK, min 0 max 65535" or "image: 1395x787, mode RGB
 * (8-bit/channel), ...". Returns 1 if width, height and bits were found. */
static int
parse_source(const char *path, unsigned *w, unsigned *h, int *bits,
             unsigned *samples, long *mn, long *mx)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    int ok = 0;

    *samples = 0;
    *mn = *mx = -1;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        const char *p;
        if (strncmp(line, "image:", 6) != 0)
            continue;
        if (sscanf(line, "image: %ux%u, %d-bit x%u", w, h, bits, samples) >= 3)
            ok = 1;
        else if (sscanf(line, "image: %ux%u, mode %*s (%d-bit", w, h, bits) ==
                 3)
            ok = 1;
        p = strstr(line, "min ");
        if (p && sscanf(p, "min %ld max %ld", mn, mx) != 2)
            *mn = *mx = -1;
    }
    fclose(f);
    return ok;
}

static void
test_real_blots(void **state)
{
    DIR *dir = opendir(BQ_REAL_BLOTS);
    struct dirent *de;
    int nloaded = 0;
    (void)state;

    if (!dir) {
        skip();
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        char path[2048], src[2048];
        const char *dot = strrchr(de->d_name, '.');
        struct bq_load_info info;
        struct bq_image *img;
        struct bq_error err;
        unsigned w, h, samples;
        int bits;
        long mn, mx;

        if (!dot)
            continue;
        snprintf(path, sizeof path, "%s/%s", BQ_REAL_BLOTS, de->d_name);
        if (strcmp(dot, ".jpg") == 0) {
            /* not loaded: only checked to be refused by its bytes */
            load_expect(path, NULL, BQ_ERR_FORMAT, NULL, &err);
            assert_non_null(strstr(err.msg, "JPEG"));
            continue;
        }
        if (strcmp(dot, ".tif") != 0 && strcmp(dot, ".tiff") != 0 &&
            strcmp(dot, ".png") != 0)
            continue;
        img = load_expect(path, NULL, BQ_OK, &info, NULL);
        nloaded++;
        assert_true(img->width > 0 && img->height > 0);
        snprintf(src, sizeof src, "%.*s.source.txt",
                 (int)(strlen(path) - strlen(dot)), path);
        if (parse_source(src, &w, &h, &bits, &samples, &mn, &mx)) {
            assert_int_equal(img->width, w);
            assert_int_equal(img->height, h);
            assert_int_equal(img->bit_depth, bits);
            if (samples)
                assert_int_equal(info.samples, samples);
            if (samples == 1 && mn >= 0) {
                float lo = INFINITY, hi = -INFINITY;
                for (size_t i = 0; i < img->width * img->height; i++) {
                    lo = fminf(lo, img->px[i]);
                    hi = fmaxf(hi, img->px[i]);
                }
                assert_true(lo == (float)mn);
                assert_true(hi == (float)mx);
            }
        }
        bq_image_destroy(img);
    }
    closedir(dir);
    assert_true(nloaded > 0);
}

static int
group_setup(void **state)
{
    const char *d = bq_test_tmpdir("load");
    (void)state;
    if (!d)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", d);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiff_gray8_both_orders),
        cmocka_unit_test(test_tiff_gray16_both_orders),
        cmocka_unit_test(test_tiff_compressions),
        cmocka_unit_test(test_tiff_tiled),
        cmocka_unit_test(test_tiff_rgb_contig),
        cmocka_unit_test(test_tiff_rgb16_separate),
        cmocka_unit_test(test_tiff_rgba),
        cmocka_unit_test(test_tiff_gray_alpha),
        cmocka_unit_test(test_tiff_palette),
        cmocka_unit_test(test_tiff_miniswhite),
        cmocka_unit_test(test_tiff_float),
        cmocka_unit_test(test_tiff_uint32),
        cmocka_unit_test(test_tiff_odd_bit_depths),
        cmocka_unit_test(test_tiff_odd_depth_extra_samples),
        cmocka_unit_test(test_tiff_multipage),
        cmocka_unit_test(test_png_gray),
        cmocka_unit_test(test_png_gray_low_depths),
        cmocka_unit_test(test_png_color),
        cmocka_unit_test(test_png_palette),
        cmocka_unit_test(test_png_interlaced),
        cmocka_unit_test(test_not_images),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_huge_headers),
        cmocka_unit_test(test_option_limits),
        cmocka_unit_test(test_real_blots),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
