/* 24-bit TIFF samples. libtiff reads and writes them as integers in the
 * file's byte order (II: least significant byte first; MM: most) and hands
 * them to the caller in host byte order, swapping the 3 bytes of each
 * sample when the two differ, as for 16 and 32 bits. The loader must give
 * the values libtiff wrote whatever the file's byte order, and the raw
 * bytes of an II file are pinned too, so that a change of libtiff's
 * reading would show here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <tiffio.h>

#include "blotquant/load.h"
#include "testutil.h"

#define W 6
#define H 2

static const uint32_t values[H][W] = {
    {0, 1, 0x010203, 0xABCDEF, 0x800000, 0xFFFFFF},
    {0xFF, 0xFF00, 0xFF0000, 2, 0x123456, 0x654321},
};

/* Writes VALUES as a 1-sample 24-bit TIFF with libtiff; MODE "wl" (II) or
 * "wb" (MM). Samples go in as host-order 3-byte integers, which is how
 * libtiff reads them back. */
static void
write_tiff24(const char *path, const char *mode)
{
    TIFF *t = TIFFOpen(path, mode);
    const uint16_t probe = 1;
    const int little = *(const unsigned char *)&probe == 1;

    assert_non_null(t);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)W);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)H);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 24);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)H);
    for (uint32_t y = 0; y < H; y++) {
        unsigned char row[3 * W];
        for (size_t x = 0; x < W; x++) {
            uint32_t v = values[y][x];
            for (int b = 0; b < 3; b++)
                row[3 * x + (size_t)(little ? b : 2 - b)] =
                    (unsigned char)(v >> (8 * b));
        }
        assert_int_equal(TIFFWriteScanline(t, row, y, 0), 1);
    }
    TIFFClose(t);
}

static void
expect_values(const char *path)
{
    struct bq_load_opts o;
    struct bq_image *img = NULL;
    struct bq_error err = {0};

    bq_load_opts_init(&o);
    if (bq_image_load(path, &o, &img, NULL, &err) != BQ_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(img->width, W);
    assert_int_equal(img->height, H);
    assert_int_equal(img->bit_depth, 24);
    assert_true(img->max_code == 16777215.0f);
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++)
            if (bq_row(img, y)[x] != (float)values[y][x])
                fail_msg("%s: pixel (%zu, %zu) is %.0f, wrote %lu", path, x, y,
                         (double)bq_row(img, y)[x],
                         (unsigned long)values[y][x]);
    bq_image_destroy(img);
}

/* The strip of a one-strip file, as stored. */
static void
raw_strip(const char *path, unsigned char *out, size_t n)
{
    TIFF *t = TIFFOpen(path, "r");
    uint64_t *off = NULL;
    FILE *f;

    assert_non_null(t);
    assert_true(TIFFGetField(t, TIFFTAG_STRIPOFFSETS, &off));
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)off[0], SEEK_SET), 0);
    assert_int_equal(fread(out, 1, n, f), n);
    fclose(f);
    TIFFClose(t);
}

/* Writes the values as a TIFF of byte order MODE ("wl" II, "wb" MM),
 * checks that 0x010203 is stored as B0 B1 B2, and loads it. */
static void
check_order(const char *name, const char *mode, unsigned b0, unsigned b1,
            unsigned b2)
{
    char path[1200];
    unsigned char raw[3 * W];

    snprintf(path, sizeof path, "%s/%s.tif", bq_test_tmpdir(name), name);
    write_tiff24(path, mode);
    raw_strip(path, raw, sizeof raw);
    assert_int_equal(raw[6], b0);
    assert_int_equal(raw[7], b1);
    assert_int_equal(raw[8], b2);
    expect_values(path);
}

static void
test_little_endian(void **state)
{
    (void)state;
    check_order("tiff24_ii", "wl", 0x03, 0x02, 0x01);
}

static void
test_big_endian(void **state)
{
    (void)state;
    check_order("tiff24_mm", "wb", 0x01, 0x02, 0x03);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_little_endian),
        cmocka_unit_test(test_big_endian),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
