/* Conformance of the load stage against public decoder test corpora
 * (../shared/conformance: PngSuite, libpng's test PNGs, a TIFF decoder's
 * test files). Every image file must either load with the right pixels,
 * checked against an independent decode done here with libpng / libtiff
 * directly, or be refused with a message that names the file and says why
 * in words. Skips when the corpus folder is absent.
 *
 * References and tolerances (loader values are first scaled to the
 * reference's scale: v * ref_max / max_code):
 *  - PNG, libpng simplified API, PNG_FORMAT_RGBA (8-bit, alpha kept, not
 *    premultiplied), used only where it performs no gamma conversion: bit
 *    depth <= 8 and no gAMA chunk or the sRGB gamma 45455. The decode is
 *    then identical, so the tolerance is 0.5 code of 255 (room for float
 *    rounding only; any real error is >= 1 code). 16-bit files without
 *    alpha, tRNS or gAMA: PNG_FORMAT_LINEAR_RGB (raw 16-bit codes,
 *    tolerance 0.5 code of 65535).
 *  - PNG, libpng low-level API with png_set_expand + png_set_gray_to_rgb,
 *    no gamma, native depth: every PNG. Luminance computed here. The
 *    loader ignores gAMA, sBIT, bKGD and alpha by design (raw linear
 *    codes), so this is the reference for files with non-sRGB gamma.
 *  - TIFF, TIFFReadRGBAImageOriented (8-bit): gray/RGB/palette files of
 *    1..16 bits without extra samples and in top-left orientation;
 *    tolerance 1 code of 255 (libtiff truncates 16-bit samples and 16-bit
 *    colour maps to 8 bits: error < 1 code).
 *  - TIFF, TIFFReadScanline / TIFFReadTile (raw samples, unpacked here):
 *    gray/RGB unsigned 1..16 and 32 bits and 32-bit float; tolerance
 *    0.01 + 1e-6 * max_code (float pixels hold 24 significant bits, so
 *    32-bit integers round by up to 2^-24 relative).
 * Luminance is Rec. 709 (0.2126 R + 0.7152 G + 0.0722 B) of the first
 * three samples, alpha ignored; gray files give their gray sample;
 * MINISWHITE is inverted (max_code - v; float: max - v). 24-bit TIFFs
 * get dimension checks only (see check_tiff). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <png.h>
#include <tiffio.h>

#include "blotquant/load.h"

#define CORPUS BQ_SOURCE_DIR "/../shared/conformance"
#define MAX_FILES 2000
#define MAX_REASONS 32
#define SLOW_SECONDS 2.0

/* Rec. 709 luminance, as documented in load.h (BQ_CHANNEL_LUMA). */
static double
luma(double r, double g, double b)
{
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/* A reference decode: one luminance per pixel, on the scale 0..MAX. */
struct ref {
    size_t w, h;
    double max; /* full scale of v (255, 65535, or the float maximum) */
    double tol; /* allowed |loader - ref| on this scale */
    double *v;  /* w * h values, row-major; owned */
    char what[48];
};

static void
ref_fini(struct ref *r)
{
    free(r->v);
    r->v = NULL;
}

static int
ref_alloc(struct ref *r, size_t w, size_t h)
{
    r->w = w;
    r->h = h;
    r->v = calloc(w && h ? w * h : 1, sizeof *r->v);
    return r->v != NULL;
}

/* Run-wide tally. */
struct tally {
    int files, skipped, verified, dims_only, refused, failed;
    int nreason;
    const char *reason[MAX_REASONS];
    int rcount[MAX_REASONS];
};

static void
count_reason(struct tally *t, const char *why)
{
    for (int i = 0; i < t->nreason; i++)
        if (strcmp(t->reason[i], why) == 0) {
            t->rcount[i]++;
            return;
        }
    if (t->nreason < MAX_REASONS) {
        t->reason[t->nreason] = why;
        t->rcount[t->nreason++] = 1;
    }
}

/* Names the reason of a refusal from its message (for the summary). */
static const char *
classify(const char *msg)
{
    if (strstr(msg, "CMYK"))
        return "CMYK colour";
    if (strstr(msg, "JPEG"))
        return "JPEG compression";
    if (strstr(msg, "YCbCr"))
        return "YCbCr colour";
    if (strstr(msg, "Lab colour"))
        return "Lab colour";
    if (strstr(msg, "log-luminance"))
        return "log-luminance (HDR)";
    if (strstr(msg, "signed"))
        return "signed integers";
    if (strstr(msg, "floating-point"))
        return "float other than 32-bit";
    if (strstr(msg, "cannot decode"))
        return "codec not in this build";
    if (strstr(msg, "damaged") || strstr(msg, "incomplete"))
        return "damaged / corrupt";
    if (strstr(msg, "bits per sample"))
        return "unsupported bit depth";
    return "other";
}

/* ---- corpus walk -------------------------------------------------------- */

static int
has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the files under DIR to LIST (recursively). */
static void
walk(const char *dir, char **list, int *n, int *skipped)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char p[4096];
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            walk(p, list, n, skipped);
            continue;
        }
        /* Image files only: README, SOURCE.txt and other notes are
         * skipped. */
        if (!has_suffix(p, ".png") && !has_suffix(p, ".tif") &&
            !has_suffix(p, ".tiff")) {
            (*skipped)++;
            continue;
        }
        if (*n < MAX_FILES)
            list[(*n)++] = strdup(p);
    }
    closedir(d);
}

/* ---- PNG references ----------------------------------------------------- */

struct png_ref_ctx {
    png_structp png;
    png_infop info;
    FILE *fp;
    png_bytep *rows;
    unsigned char *buf;
};

static void
ref_png_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void
ref_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Header facts that decide which PNG reference is unambiguous. */
struct png_facts {
    int depth, ctype, has_trns, has_gama;
    png_fixed_point gama;
};

/* Decodes PATH with the low-level API into R (luminance on the file's
 * native scale, 255 or 65535). Returns 1 on success, 0 if libpng refuses
 * the file. */
static int
png_ref_raw_run(struct png_ref_ctx *c, struct ref *r, struct png_facts *f)
{
    png_uint_32 w, h;
    int depth, ch;
    size_t rowbytes;

    if (setjmp(png_jmpbuf(c->png)))
        return 0;
    png_set_user_limits(c->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_init_io(c->png, c->fp);
    png_read_info(c->png, c->info);
    w = png_get_image_width(c->png, c->info);
    h = png_get_image_height(c->png, c->info);
    f->depth = png_get_bit_depth(c->png, c->info);
    f->ctype = png_get_color_type(c->png, c->info);
    f->has_trns = png_get_valid(c->png, c->info, PNG_INFO_tRNS) != 0;
    f->has_gama = png_get_gAMA_fixed(c->png, c->info, &f->gama) != 0;
    png_set_expand(c->png); /* palette -> RGB, tRNS -> alpha, 1-4 -> 8 bit */
    png_set_gray_to_rgb(c->png);
    (void)png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    depth = png_get_bit_depth(c->png, c->info);
    ch = png_get_channels(c->png, c->info);
    rowbytes = png_get_rowbytes(c->png, c->info);
    if ((depth != 8 && depth != 16) || ch < 3)
        return 0;
    c->buf = malloc(rowbytes * h);
    c->rows = malloc(h * sizeof *c->rows);
    if (!c->buf || !c->rows || !ref_alloc(r, w, h))
        return 0;
    for (png_uint_32 y = 0; y < h; y++)
        c->rows[y] = c->buf + y * rowbytes;
    png_read_image(c->png, c->rows);
    png_read_end(c->png, NULL);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            const unsigned char *p = c->rows[y] + x * (size_t)ch * (depth / 8);
            double s[3];
            for (int k = 0; k < 3; k++)
                s[k] =
                    depth == 8 ? p[k] : (double)(p[2 * k] << 8 | p[2 * k + 1]);
            r->v[y * w + x] =
                f->ctype & PNG_COLOR_MASK_COLOR ? luma(s[0], s[1], s[2]) : s[0];
        }
    r->max = depth == 8 ? 255.0 : 65535.0;
    r->tol = 0.01 + 1e-6 * r->max;
    snprintf(r->what, sizeof r->what, "libpng low-level");
    return 1;
}

static int
png_ref_raw(const char *path, struct ref *r, struct png_facts *f)
{
    struct png_ref_ctx c;
    int ok = 0;

    memset(&c, 0, sizeof c);
    c.fp = fopen(path, "rb");
    if (c.fp)
        c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL,
                                       ref_png_error, ref_png_warning);
    if (c.png)
        c.info = png_create_info_struct(c.png);
    if (c.info)
        ok = png_ref_raw_run(&c, r, f);
    if (c.png)
        png_destroy_read_struct(&c.png, c.info ? &c.info : NULL, NULL);
    if (c.fp)
        fclose(c.fp);
    free(c.rows);
    free(c.buf);
    if (!ok)
        ref_fini(r);
    return ok;
}

/* Decodes PATH with the simplified API where that involves no gamma
 * conversion (see the top of the file). Returns 1 with R filled, 0 if not
 * applicable or libpng refuses. */
static int
png_ref_simple(const char *path, const struct png_facts *f, struct ref *r)
{
    png_image im;
    unsigned char *buf = NULL;
    int sixteen, ok = 0;

    if (f->depth <= 8) {
        if (f->has_gama && f->gama != 45455)
            return 0;
        sixteen = 0;
    } else {
        if (f->has_gama || f->has_trns || (f->ctype & PNG_COLOR_MASK_ALPHA))
            return 0;
        sixteen = 1;
    }
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return 0;
    im.format = sixteen ? PNG_FORMAT_LINEAR_RGB : PNG_FORMAT_RGBA;
    buf = malloc(PNG_IMAGE_SIZE(im));
    if (buf && ref_alloc(r, im.width, im.height) &&
        png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        for (size_t i = 0; i < (size_t)im.width * im.height; i++) {
            double s[3];
            for (int k = 0; k < 3; k++)
                s[k] = sixteen ? ((const uint16_t *)(void *)buf)[i * 3 + k]
                               : buf[i * 4 + k];
            r->v[i] =
                f->ctype & PNG_COLOR_MASK_COLOR ? luma(s[0], s[1], s[2]) : s[0];
        }
        r->max = sixteen ? 65535.0 : 255.0;
        r->tol = 0.5;
        snprintf(r->what, sizeof r->what, "libpng simplified %s",
                 sixteen ? "LINEAR_RGB" : "RGBA");
        ok = 1;
    }
    png_image_free(&im);
    free(buf);
    if (!ok)
        ref_fini(r);
    return ok;
}

/* ---- TIFF references ---------------------------------------------------- */

static void
tiff_silent(const char *module, const char *fmt, va_list ap)
{
    (void)module;
    (void)fmt;
    (void)ap;
}

struct tiff_facts {
    uint32_t w, h;
    uint16_t bits, spp, fmt, photo, planar, orient, nextra;
};

static void
tiff_facts_get(TIFF *t, struct tiff_facts *f)
{
    uint16_t *extra = NULL;

    memset(f, 0, sizeof *f);
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &f->w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &f->h);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &f->bits);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &f->spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &f->fmt);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &f->planar);
    TIFFGetFieldDefaulted(t, TIFFTAG_ORIENTATION, &f->orient);
    TIFFGetFieldDefaulted(t, TIFFTAG_EXTRASAMPLES, &f->nextra, &extra);
    if (!TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &f->photo))
        f->photo = f->spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
}

/* 8-bit RGBA decode (libtiff's own conversion), top-left first. */
static int
tiff_ref_rgba(TIFF *t, const struct tiff_facts *f, struct ref *r)
{
    char emsg[1024];
    uint32_t *rgba;
    int ok;

    if (f->fmt != SAMPLEFORMAT_UINT || f->bits > 16 || f->nextra != 0 ||
        f->orient != ORIENTATION_TOPLEFT ||
        (f->photo != PHOTOMETRIC_MINISBLACK &&
         f->photo != PHOTOMETRIC_MINISWHITE && f->photo != PHOTOMETRIC_RGB &&
         f->photo != PHOTOMETRIC_PALETTE) ||
        !TIFFRGBAImageOK(t, emsg))
        return 0;
    rgba = malloc((size_t)f->w * f->h * 4 + 4);
    if (!rgba || !ref_alloc(r, f->w, f->h)) {
        free(rgba);
        return 0;
    }
    ok = TIFFReadRGBAImageOriented(t, f->w, f->h, rgba, ORIENTATION_TOPLEFT, 0);
    for (size_t i = 0; ok && i < (size_t)f->w * f->h; i++) {
        uint32_t p = rgba[i];
        r->v[i] = luma(TIFFGetR(p), TIFFGetG(p), TIFFGetB(p));
    }
    free(rgba);
    if (!ok) {
        ref_fini(r);
        return 0;
    }
    r->max = 255.0;
    r->tol = 1.0;
    snprintf(r->what, sizeof r->what, "libtiff RGBA");
    return 1;
}

/* Sample I of a decoded row P (BITS per sample, FLOAT or unsigned). */
static double
sample_at(const unsigned char *p, size_t i, unsigned bits, int is_float)
{
    if (is_float) {
        float v;
        memcpy(&v, p + 4 * i, 4);
        return v;
    }
    if (bits == 8)
        return p[i];
    if (bits == 16) {
        uint16_t v;
        memcpy(&v, p + 2 * i, 2);
        return v;
    }
    if (bits == 32) {
        uint32_t v;
        memcpy(&v, p + 4 * i, 4);
        return v;
    }
    {
        /* packed MSB first, as the TIFF spec lays out sub-byte depths */
        uint64_t bit = (uint64_t)i * bits, v = 0;
        for (unsigned k = 0; k < bits; k++, bit++)
            v = v << 1 | ((p[bit >> 3] >> (7 - (bit & 7))) & 1u);
        return (double)v;
    }
}

/* Raw samples through TIFFReadScanline / TIFFReadTile, luminance and
 * MINISWHITE inversion computed here. */
static int
tiff_ref_raw(TIFF *t, const struct tiff_facts *f, struct ref *r)
{
    const int is_float = f->fmt == SAMPLEFORMAT_IEEEFP;
    const int rgb = f->photo == PHOTOMETRIC_RGB;
    const int sep = f->planar == PLANARCONFIG_SEPARATE && f->spp > 1;
    const unsigned nsrc = rgb ? 3 : 1;
    double *plane[3] = {NULL, NULL, NULL};
    unsigned char *buf = NULL;
    int ok = 0;

    if (f->photo != PHOTOMETRIC_MINISBLACK &&
        f->photo != PHOTOMETRIC_MINISWHITE && !rgb)
        return 0;
    if (is_float
            ? f->bits != 32
            : (f->fmt != SAMPLEFORMAT_UINT && f->fmt != SAMPLEFORMAT_VOID) ||
                  f->bits == 0 || (f->bits > 16 && f->bits != 32))
        return 0;
    if (!ref_alloc(r, f->w, f->h))
        return 0;
    for (unsigned k = 0; k < nsrc; k++)
        if (!(plane[k] = calloc((size_t)f->w * f->h, sizeof(double))))
            goto out;
    if (TIFFIsTiled(t)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
        buf = malloc((size_t)TIFFTileSize(t));
        if (!buf || tw == 0 || th == 0)
            goto out;
        for (unsigned k = 0; k < nsrc; k++)
            for (uint32_t ty = 0; ty < f->h; ty += th)
                for (uint32_t tx = 0; tx < f->w; tx += tw) {
                    size_t rowb = (size_t)TIFFTileRowSize(t);
                    if (TIFFReadTile(t, buf, tx, ty, 0,
                                     (uint16_t)(sep ? k : 0)) < 0)
                        goto out;
                    for (uint32_t y = ty; y < f->h && y < ty + th; y++)
                        for (uint32_t x = tx; x < f->w && x < tx + tw; x++)
                            plane[k][(size_t)y * f->w + x] =
                                sample_at(buf + (y - ty) * rowb,
                                          sep ? x - tx : (x - tx) * f->spp + k,
                                          f->bits, is_float);
                }
    } else {
        buf = malloc((size_t)TIFFScanlineSize(t));
        if (!buf)
            goto out;
        for (unsigned k = 0; k < (sep ? nsrc : 1u); k++)
            for (uint32_t y = 0; y < f->h; y++) {
                if (TIFFReadScanline(t, buf, y, (uint16_t)k) < 0)
                    goto out;
                for (unsigned j = 0; j < (sep ? 1u : nsrc); j++)
                    for (uint32_t x = 0; x < f->w; x++)
                        plane[sep ? k : j][(size_t)y * f->w + x] =
                            sample_at(buf, sep ? x : (size_t)x * f->spp + j,
                                      f->bits, is_float);
            }
    }
    {
        double mx = -INFINITY, mn = INFINITY;
        size_t n = (size_t)f->w * f->h;
        for (size_t i = 0; i < n; i++) {
            r->v[i] =
                rgb ? luma(plane[0][i], plane[1][i], plane[2][i]) : plane[0][i];
            if (isfinite(r->v[i])) {
                mx = r->v[i] > mx ? r->v[i] : mx;
                mn = r->v[i] < mn ? r->v[i] : mn;
            }
        }
        r->max = is_float ? mx : (double)(((uint64_t)1 << f->bits) - 1u);
        if (f->photo == PHOTOMETRIC_MINISWHITE) {
            double top = is_float ? mx : r->max;
            for (size_t i = 0; i < n; i++)
                r->v[i] = top - r->v[i];
            if (is_float)
                r->max = mx - mn;
        }
        r->tol = 0.01 + 1e-6 * fabs(r->max);
    }
    snprintf(r->what, sizeof r->what, "libtiff %s",
             TIFFIsTiled(t) ? "ReadTile" : "ReadScanline");
    ok = 1;
out:
    for (unsigned k = 0; k < 3; k++)
        free(plane[k]);
    free(buf);
    if (!ok)
        ref_fini(r);
    return ok;
}

/* ---- comparison --------------------------------------------------------- */

/* How many files each reference checked (for the summary). */
static struct {
    char what[48];
    int n;
} g_refs[8];

static void
count_ref(const char *what)
{
    for (size_t i = 0; i < sizeof g_refs / sizeof g_refs[0]; i++) {
        if (g_refs[i].what[0] == '\0')
            snprintf(g_refs[i].what, sizeof g_refs[i].what, "%s", what);
        if (strcmp(g_refs[i].what, what) == 0) {
            g_refs[i].n++;
            return;
        }
    }
}

/* Compares IMG (scaled to R's scale) with R. Returns 1 if all pixels are
 * within R->tol, else 0 and prints the first difference. */
static int
compare(const char *path, const struct bq_image *img, const struct ref *r)
{
    const double scale =
        img->max_code > 0 ? r->max / (double)img->max_code : 1.0;
    size_t bad = 0;

    count_ref(r->what);
    if (img->width != r->w || img->height != r->h) {
        printf("DISAGREE %s: %s is %zu x %zu, loader %zu x %zu\n", path,
               r->what, r->w, r->h, img->width, img->height);
        return 0;
    }
    for (size_t y = 0; y < r->h; y++)
        for (size_t x = 0; x < r->w; x++) {
            double a = bq_row(img, y)[x] * scale, b = r->v[y * r->w + x];
            if (!(fabs(a - b) <= r->tol)) {
                if (bad++ == 0)
                    printf("DISAGREE %s: pixel (%zu,%zu) loader %.4f"
                           " (raw %.4f, max_code %g), %s %.4f (scale %g,"
                           " tol %g)\n",
                           path, x, y, a, (double)bq_row(img, y)[x],
                           (double)img->max_code, r->what, b, r->max, r->tol);
            }
        }
    if (bad)
        printf("DISAGREE %s: %zu of %zu pixels differ\n", path, bad,
               r->w * r->h);
    return bad == 0;
}

/* Dimension, finiteness and max_code checks that apply to every loaded
 * image. EXPECT_MAX < 0: any positive finite max_code. */
static int
basic_checks(const char *path, const struct bq_image *img, size_t w, size_t h,
             double expect_max)
{
    size_t nonfinite = 0;
    float top = -INFINITY;

    for (size_t y = 0; y < img->height; y++)
        for (size_t x = 0; x < img->width; x++) {
            float v = bq_row(img, y)[x];
            if (!isfinite(v))
                nonfinite++;
            else if (v > top)
                top = v;
        }
    if (img->width != w || img->height != h || nonfinite ||
        !isfinite(img->max_code) ||
        (expect_max >= 0 && img->max_code != (float)expect_max) ||
        (expect_max < 0 && top > img->max_code)) {
        printf("FAIL %s: %zu x %zu (file %zu x %zu), %zu non-finite,"
               " max_code %g (expected %g), largest pixel %g\n",
               path, img->width, img->height, w, h, nonfinite,
               (double)img->max_code, expect_max, (double)top);
        return 0;
    }
    return 1;
}

/* ---- per-file check ----------------------------------------------------- */

/* 1 if the refusal message names PATH and says why in words. */
static int
good_message(const char *path, const char *msg)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strstr(msg, base) != NULL && strlen(msg) > strlen(path) + 12;
}

/* Verifies one loaded PNG. Returns 1 = verified, 0 = dims only, -1 =
 * failure. */
static int
check_png(const char *path, const struct bq_image *img)
{
    struct ref raw, sim;
    struct png_facts f;
    int ok = 1, used = 0;

    memset(&raw, 0, sizeof raw);
    memset(&sim, 0, sizeof sim);
    memset(&f, 0, sizeof f);
    if (!png_ref_raw(path, &raw, &f)) {
        printf("NOTE %s: loaded, but libpng's low-level API refuses it\n",
               path);
        return basic_checks(path, img, img->width, img->height,
                            img->bit_depth == 16 ? 65535.0 : 255.0)
                   ? 0
                   : -1;
    }
    ok &= basic_checks(path, img, raw.w, raw.h, raw.max);
    ok &= compare(path, img, &raw);
    used++;
    if (png_ref_simple(path, &f, &sim)) {
        ok &= compare(path, img, &sim);
        used++;
    }
    ref_fini(&raw);
    ref_fini(&sim);
    return ok ? (used ? 1 : 0) : -1;
}

/* Verifies one loaded TIFF (page 0), as check_png. */
static int
check_tiff(const char *path, const struct bq_image *img)
{
    struct tiff_facts f;
    struct ref a, b;
    TIFF *t;
    int ok = 1, used = 0;
    double expect_max = -1.0;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    t = TIFFOpen(path, "r");
    if (!t) {
        printf("NOTE %s: loaded, but TIFFOpen refuses it\n", path);
        return basic_checks(path, img, img->width, img->height, -1.0) ? 0 : -1;
    }
    tiff_facts_get(t, &f);
    if (f.fmt != SAMPLEFORMAT_IEEEFP && f.photo != PHOTOMETRIC_PALETTE)
        expect_max = (double)(((uint64_t)1 << f.bits) - 1u);
    ok &= basic_checks(path, img, f.w, f.h, expect_max);
    if (f.photo == PHOTOMETRIC_PALETTE && img->max_code != 255.0f &&
        img->max_code != 65535.0f) {
        printf("FAIL %s: palette image with max_code %g\n", path,
               (double)img->max_code);
        ok = 0;
    }
    if (tiff_ref_raw(t, &f, &a)) {
        ok &= compare(path, img, &a);
        used++;
    }
    /* A fresh handle: scanline reading leaves the decoder mid-stream. */
    TIFFClose(t);
    t = TIFFOpen(path, "r");
    if (t && tiff_ref_rgba(t, &f, &b)) {
        ok &= compare(path, img, &b);
        used++;
    }
    if (t)
        TIFFClose(t);
    /* 24-bit samples: the loader reads them as libtiff delivers them, in
     * host byte order (libtiff swabs 3-byte samples of files whose byte
     * order differs from the host's, and writes them so; tests/
     * test_tiff24.c checks both orders against libtiff-written files).
     * The corpus's seq-*-24b files are II files whose bytes run 00 00 00,
     * 00 00 01, 00 00 02, ...: their writer meant a big-endian stream, so
     * libtiff and the loader read 0, 65536, 131072, ... Dimension checks
     * only. */
    if (f.bits == 24)
        printf("NOTE %s: 24-bit samples, read in libtiff's (host) byte "
               "order; this file's writer used big-endian\n",
               path);
    if (f.orient != ORIENTATION_TOPLEFT)
        printf("NOTE %s: Orientation %u is ignored by the loader (rows kept"
               " in file order)\n",
               path, (unsigned)f.orient);
    ref_fini(&a);
    ref_fini(&b);
    return ok ? (used ? 1 : 0) : -1;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_corpus(void **state)
{
    static char *list[MAX_FILES];
    struct tally t;
    struct bq_load_opts opts;
    struct stat sb;
    int n = 0;
    double t_all = now_s();

    (void)state;
    if (stat(CORPUS, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("conformance: %s is absent; skipping\n", CORPUS);
        skip();
    }
    memset(&t, 0, sizeof t);
    TIFFSetErrorHandler(tiff_silent);
    TIFFSetWarningHandler(tiff_silent);
    walk(CORPUS, list, &n, &t.skipped);
    qsort(list, (size_t)n, sizeof *list, cmp_str);
    assert_true(n > 0);
    bq_load_opts_init(&opts);

    for (int i = 0; i < n; i++) {
        const char *path = list[i];
        const char *base = strrchr(path, '/') + 1;
        const int is_png = has_suffix(path, ".png");
        /* PngSuite's x*.png are deliberately broken. */
        const int must_refuse =
            is_png && strstr(path, "/pngsuite/") && base[0] == 'x';
        struct bq_image *img = NULL;
        struct bq_load_info info;
        struct bq_error err;
        enum bq_status st;
        double t0 = now_s(), dt;
        int res;

        memset(&err, 0, sizeof err);
        t.files++;
        st = bq_image_load(path, &opts, &img, &info, &err);
        dt = now_s() - t0;
        if (dt > SLOW_SECONDS)
            printf("SLOW %s: %.2f s\n", path, dt);
        if (st != BQ_OK) {
            const char *why = classify(err.msg);
            t.refused++;
            count_reason(&t, why);
            printf("refused %s [%s]: %s\n", base, why, err.msg);
            if (!good_message(path, err.msg)) {
                printf("FAIL %s: refusal message does not name the file or"
                       " says no reason: \"%s\"\n",
                       path, err.msg);
                t.failed++;
            }
            continue;
        }
        if (must_refuse) {
            printf("FAIL %s: a broken PngSuite file was loaded\n", path);
            t.failed++;
            bq_image_destroy(img);
            continue;
        }
        res = is_png ? check_png(path, img) : check_tiff(path, img);
        if (res > 0)
            t.verified++;
        else if (res == 0) {
            t.dims_only++;
            printf("dims-only %s (%s, %u samples, %d bit, max_code %g)\n", base,
                   info.format, info.samples, img->bit_depth,
                   (double)img->max_code);
        } else
            t.failed++;
        bq_image_destroy(img);
    }

    printf("conformance: %d image files (%d other files skipped) in %.2f s:"
           " %d loaded and verified, %d loaded with dimension checks only,"
           " %d refused, %d failures\n",
           t.files, t.skipped, now_s() - t_all, t.verified, t.dims_only,
           t.refused, t.failed);
    for (int i = 0; i < t.nreason; i++)
        printf("  refused, %s: %d\n", t.reason[i], t.rcount[i]);
    for (size_t i = 0; i < sizeof g_refs / sizeof g_refs[0]; i++)
        if (g_refs[i].n)
            printf("  checked against %s: %d\n", g_refs[i].what, g_refs[i].n);
    for (int i = 0; i < n; i++)
        free(list[i]);
    assert_int_equal(t.failed, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
