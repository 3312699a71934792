/* The blotquant command: exit codes, output files, error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define BQ BQ_BINARY_DIR "/blotquant"
#define GEN BQ_BINARY_DIR "/blotgen"

static char dir[1024];

/* Runs CMD, its output into DIR/out.txt and err.txt. */
static int
run(const char *cmd)
{
    return bq_test_run_in(dir, cmd);
}

/* Returns 1 if DIR/NAME contains TEXT. */
static int
contains(const char *name, const char *text)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return bq_test_file_contains(path, text);
}

static int
setup(void **state)
{
    char cmd[2048];
    (void)state;
    snprintf(dir, sizeof dir, "%s", bq_test_tmpdir("cli"));
    snprintf(cmd, sizeof cmd, GEN " -o '%s/blot.tif' --lanes 6 --seed 3", dir);
    return bq_test_run(cmd) == 0 ? 0 : -1;
}

static void
test_usage_errors_exit_2(void **state)
{
    (void)state;
    assert_int_equal(run(BQ), 2);
    assert_int_equal(run(BQ " frobnicate"), 2);
    assert_true(contains("err.txt", "unknown command"));
    assert_int_equal(run(BQ " quantify"), 2);
    assert_int_equal(run(BQ " quantify x.tif"), 2); /* no -o */
    assert_true(contains("err.txt", "-o DIR"));
    assert_int_equal(run(BQ " quantify x.tif -o d --lanes zero"), 2);
    assert_true(contains("err.txt", "--lanes"));
    assert_int_equal(run(BQ " quantify x.tif -o d --background blur"), 2);
    assert_int_equal(run(BQ " quantify x.tif -o d --bogus"), 2);
    /* a short option's value may be attached, as getopt allows */
    assert_int_equal(run(BQ " quantify x.tif -o d -qx"), 2);
    {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, BQ " quantify '%s/blot.tif' -o'%s/attached' -q",
                 dir, dir);
        assert_int_equal(run(cmd), 0);
        assert_true(contains("attached/blot.bands.csv", "lane"));
    }
}

static void
test_help_on_stdout(void **state)
{
    (void)state;
    assert_int_equal(run(BQ " --help"), 0);
    assert_true(contains("out.txt", "quantify"));
    assert_int_equal(run(BQ " quantify --help"), 0);
    assert_true(contains("out.txt", "--background"));
    assert_int_equal(run(BQ " version"), 0);
    assert_true(contains("out.txt", "blotquant 0."));
}

/* The output contract of DESIGN.md: columns present, one row per band. */
static void
test_quantify_writes_contract(void **state)
{
    char cmd[2048], path[1200];
    FILE *f;
    char header[1024];
    int rows = 0;
    (void)state;
    snprintf(cmd, sizeof cmd, BQ " quantify '%s/blot.tif' -o '%s/out'", dir,
             dir);
    assert_int_equal(run(cmd), 0);
    snprintf(path, sizeof path, "%s/out/blot.bands.csv", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(header, sizeof header, f));
    assert_true(strncmp(header, "lane,lane_x,lane_width,band,band_y,volume,"
                                "saturated", 47) == 0);
    while (fgets(header, sizeof header, f))
        rows++;
    fclose(f);
    assert_int_equal(rows, 12); /* 6 lanes x 2 rows */
    snprintf(path, sizeof path, "%s/out/blot.lanes.csv", dir);
    assert_true(bq_test_exists(path));
    snprintf(path, sizeof path, "%s/out/blot.log.txt", dir);
    assert_true(bq_test_exists(path));
}

/* A bad file among good ones: exit 1, the good one is still written, the
 * message names the bad file. */
static void
test_bad_input_named_and_others_kept(void **state)
{
    char cmd[2048], path[1200];
    FILE *f;
    (void)state;
    snprintf(path, sizeof path, "%s/notes.tif", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("these are my notes, not an image\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             BQ " quantify '%s/notes.tif' '%s/missing.tif' '%s/blot.tif' "
                "-o '%s/mixed'",
             dir, dir, dir, dir);
    assert_int_equal(run(cmd), 1);
    assert_true(contains("err.txt", "notes.tif"));
    assert_true(contains("err.txt", "missing.tif"));
    snprintf(path, sizeof path, "%s/mixed/blot.bands.csv", dir);
    assert_true(bq_test_exists(path));
    snprintf(path, sizeof path, "%s/mixed/notes.bands.csv", dir);
    assert_false(bq_test_exists(path));
}

static void
test_output_not_a_folder(void **state)
{
    char cmd[2048];
    (void)state;
    snprintf(cmd, sizeof cmd, BQ " quantify '%s/blot.tif' -o '%s/blot.tif'",
             dir, dir);
    assert_int_equal(run(cmd), 1);
    assert_true(contains("err.txt", "output folder"));
}

/* --layout with --background none: volumes are plain pixel sums, and a
 * broken layout file names its line. */
static void
test_layout_file(void **state)
{
    char cmd[2048], path[1200];
    FILE *f;
    (void)state;
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("lane,band,x,y,width,height\n1,1,10,10,20,twenty\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             BQ " quantify '%s/blot.tif' -o '%s/lay' --layout '%s'", dir,
             dir, path);
    assert_int_equal(run(cmd), 1);
    assert_true(contains("err.txt", "line 2"));
    snprintf(path, sizeof path, "%s/good.csv", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("lane,band,x,y,width,height\n1,1,100,100,50,40\n2,,300,50,60,600\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             BQ " quantify '%s/blot.tif' -o '%s/lay' --layout '%s' "
                "--background none --polarity light-bands",
             dir, dir, path);
    assert_int_equal(run(cmd), 0);
    assert_true(contains("lay/blot.log.txt", "good.csv"));
}

/* The README's first command: the bundled sample has 18 lanes in one
 * strip (samples/blot.truth.csv). */
static void
test_sample_layout(void **state)
{
    char cmd[2048], path[1200], line[512];
    FILE *f;
    int rows = 0, strip2 = 0;
    (void)state;
    snprintf(cmd, sizeof cmd,
             BQ " quantify '" BQ_SOURCE_DIR "/samples/blot.tif' -o '%s/sample'",
             dir);
    assert_int_equal(run(cmd), 0);
    snprintf(path, sizeof path, "%s/sample/blot.lanes.csv", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f)) {
        rows++;
        strip2 += line[0] != '1';
    }
    fclose(f);
    assert_int_equal(rows, 18);
    assert_int_equal(strip2, 0);
}

/* 1 if PATH starts with the PNG signature. */
static int
is_png(const char *path)
{
    unsigned char sig[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f)
        return 0;
    n = fread(sig, 1, 8, f);
    fclose(f);
    return n == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0;
}

/* The overlay PNG is drawn beside the CSVs by default; --no-overlay
 * leaves it out (and only it); --overlay is still accepted. */
static void
test_overlay_png(void **state)
{
    char cmd[2048], path[1200];
    (void)state;
    snprintf(cmd, sizeof cmd, BQ " quantify '%s/blot.tif' -o '%s/ov'", dir,
             dir);
    assert_int_equal(run(cmd), 0);
    snprintf(path, sizeof path, "%s/ov/blot.overlay.png", dir);
    assert_true(is_png(path));
    snprintf(path, sizeof path, "%s/ov/.blot.overlay.png.tmp", dir);
    assert_false(bq_test_exists(path));

    snprintf(cmd, sizeof cmd,
             BQ " quantify '%s/blot.tif' -o '%s/nov' --no-overlay", dir, dir);
    assert_int_equal(run(cmd), 0);
    snprintf(path, sizeof path, "%s/nov/blot.overlay.png", dir);
    assert_false(bq_test_exists(path));
    snprintf(path, sizeof path, "%s/nov/blot.bands.csv", dir);
    assert_true(bq_test_exists(path));

    snprintf(cmd, sizeof cmd,
             BQ " quantify '%s/blot.tif' -o '%s/ov2' --overlay", dir, dir);
    assert_int_equal(run(cmd), 0);
    snprintf(path, sizeof path, "%s/ov2/blot.overlay.png", dir);
    assert_true(is_png(path));
    /* same scan, same bytes */
    snprintf(cmd, sizeof cmd,
             "cmp -s '%s/ov/blot.overlay.png' '%s/ov2/blot.overlay.png'", dir,
             dir);
    assert_int_equal(bq_test_run(cmd), 0);
    /* the overlay does not change the numbers */
    snprintf(cmd, sizeof cmd,
             "cmp -s '%s/ov/blot.bands.csv' '%s/nov/blot.bands.csv'", dir, dir);
    assert_int_equal(bq_test_run(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_help_on_stdout),
        cmocka_unit_test(test_quantify_writes_contract),
        cmocka_unit_test(test_bad_input_named_and_others_kept),
        cmocka_unit_test(test_output_not_a_folder),
        cmocka_unit_test(test_layout_file),
        cmocka_unit_test(test_sample_layout),
        cmocka_unit_test(test_overlay_png),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
