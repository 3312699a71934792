/* Saved blot results (src/blotfile.c): written and read back bit for bit,
 * and every damaged, foreign or stale file refused with its name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blotquant/blotfile.h"
#include "testutil.h"

static struct bq_manifest man;
static struct bq_mblot blots[3];

static int
setup(void **state)
{
    (void)state;
    memset(&man, 0, sizeof man);
    memset(blots, 0, sizeof blots);
    snprintf(blots[0].name, sizeof blots[0].name, "pSTAT3 rep1");
    snprintf(blots[0].phospho.name, sizeof blots[0].phospho.name,
             "rep1/pSTAT3.tif");
    snprintf(blots[0].total.name, sizeof blots[0].total.name, "rep1/STAT3.tif");
    snprintf(blots[0].loading.name, sizeof blots[0].loading.name,
             "rep1/GAPDH.tif");
    blots[0].loading.page = 1;
    blots[1] = blots[0];
    snprintf(blots[1].name, sizeof blots[1].name, "pSTAT3/rep1");
    blots[2] = blots[0];
    snprintf(blots[2].name, sizeof blots[2].name, "pSTAT3_rep1-2");
    man.blots = blots;
    man.nblots = 3;
    man.nlanes = 12;
    return 0;
}

/* A result with every kind of field set, NaNs and a strip included. */
static void
make_result(struct bq_blot_result *r)
{
    memset(r, 0, sizeof *r);
    r->reg_total = (struct bq_reg_result){1.25, -3.5, 0.75, 0.5, 12.0, 1};
    r->has_loading = 1;
    r->nlanes = 12;
    r->lanes_found = 11;
    r->hinted = 1;
    r->band_y = 101.5;
    r->band_kda = NAN;
    r->doublet = 1;
    r->nrows = 3;
    r->rows = calloc(3, sizeof *r->rows);
    assert_non_null(r->rows);
    for (size_t i = 0; i < 3; i++) {
        r->rows[i].lane = i + 2;
        r->rows[i].part = BQ_PART_UPPER;
        r->rows[i].phospho = 1000.0 / 3.0 * (double)(i + 1);
        r->rows[i].total = 1e6 + (double)i;
        r->rows[i].loading = NAN;
        r->rows[i].ratio = r->rows[i].phospho / r->rows[i].total;
        r->rows[i].fold_change = i == 1 ? INFINITY : 1.0 + 1e-15;
        r->rows[i].flags = 0x41u << i;
    }
    r->strip[BQ_ROLE_TOTAL].img = bq_image_create(7, 3, NULL);
    assert_non_null(r->strip[BQ_ROLE_TOTAL].img);
    r->strip[BQ_ROLE_TOTAL].img->bit_depth = 16;
    r->strip[BQ_ROLE_TOTAL].img->max_code = 65535.0f;
    for (size_t y = 0; y < 3; y++)
        for (size_t x = 0; x < 7; x++)
            bq_row(r->strip[BQ_ROLE_TOTAL].img, y)[x] =
                (float)(x * 0.1 + y * 1000.0);
    r->strip[BQ_ROLE_TOTAL].nbox = 2;
    r->strip[BQ_ROLE_TOTAL].box = calloc(2, sizeof(struct bq_strip_box));
    assert_non_null(r->strip[BQ_ROLE_TOTAL].box);
    r->strip[BQ_ROLE_TOTAL].box[1] =
        (struct bq_strip_box){3, 1.5, 0.25, 2.0, 2.5, 1};
    snprintf(r->overlay[BQ_ROLE_PHOSPHO], sizeof r->overlay[0],
             "pSTAT3_rep1_phospho.overlay.png");
    snprintf(r->note, sizeof r->note, "an overlay was not drawn");
}

/* Writes R (blot BI) to PATH; returns its size. */
static long
save(const char *path, size_t bi, const struct bq_blot_result *r)
{
    FILE *f = fopen(path, "wb");
    long n;
    assert_non_null(f);
    assert_int_equal(bq_blot_result_write(f, &man, bi, r, "--lanes 12"), BQ_OK);
    n = ftell(f);
    assert_int_equal(fclose(f), 0);
    return n;
}

static void
test_round_trip(void **state)
{
    struct bq_blot_result a, b;
    struct bq_error err = {0};
    char dir[1024], p1[1100], p2[1100], opt[64], *s1, *s2;
    long n;
    (void)state;

    snprintf(dir, sizeof dir, "%s", bq_test_tmpdir("blotfile"));
    snprintf(p1, sizeof p1, "%s/a.bqblot", dir);
    snprintf(p2, sizeof p2, "%s/b.bqblot", dir);
    make_result(&a);
    n = save(p1, 0, &a);
    assert_int_equal(
        bq_blot_result_read(p1, &man, 0, &b, opt, sizeof opt, &err), BQ_OK);
    assert_string_equal(opt, "--lanes 12");
    assert_int_equal(b.nrows, 3);
    assert_memory_equal(&b.reg_total, &a.reg_total, sizeof a.reg_total);
    assert_true(isnan(b.band_kda));
    assert_true(isinf(b.rows[1].fold_change));
    assert_memory_equal(b.rows, a.rows, 3 * sizeof *a.rows);
    assert_int_equal(b.strip[BQ_ROLE_TOTAL].img->width, 7);
    assert_true(bq_row(b.strip[BQ_ROLE_TOTAL].img, 2)[6] ==
                bq_row(a.strip[BQ_ROLE_TOTAL].img, 2)[6]);
    assert_null(b.strip[BQ_ROLE_PHOSPHO].img);
    assert_int_equal(b.strip[BQ_ROLE_TOTAL].box[1].saturated, 1);
    assert_string_equal(b.overlay[BQ_ROLE_PHOSPHO], a.overlay[0]);
    assert_string_equal(b.note, a.note);
    /* written again, the same bytes */
    assert_int_equal(save(p2, 0, &b), n);
    s1 = bq_test_slurp(p1);
    s2 = bq_test_slurp(p2);
    assert_memory_equal(s1, s2, (size_t)n);
    free(s1);
    free(s2);
    bq_blot_result_fini(&a);
    bq_blot_result_fini(&b);
}

/* Every prefix of a saved result, and every single altered byte of its
 * header and counts, is refused (or, for a changed number, read) without
 * a crash. */
static void
test_damaged(void **state)
{
    struct bq_blot_result a, b;
    struct bq_error err;
    char dir[1024], p1[1100], p2[1100], opt[64], *whole;
    long n;
    (void)state;

    snprintf(dir, sizeof dir, "%s", bq_test_tmpdir("blotfile_damaged"));
    snprintf(p1, sizeof p1, "%s/a.bqblot", dir);
    snprintf(p2, sizeof p2, "%s/cut.bqblot", dir);
    make_result(&a);
    n = save(p1, 0, &a);
    whole = bq_test_slurp(p1);
    assert_non_null(whole);
    for (long len = 0; len < n; len++) {
        FILE *f = fopen(p2, "wb");
        assert_non_null(f);
        fwrite(whole, 1, (size_t)len, f);
        fclose(f);
        memset(&err, 0, sizeof err);
        assert_int_equal(
            bq_blot_result_read(p2, &man, 0, &b, opt, sizeof opt, &err),
            BQ_ERR_FORMAT);
        assert_non_null(strstr(err.msg, p2));
        assert_int_equal(b.status, BQ_ERR_FORMAT);
        bq_blot_result_fini(&b);
    }
    /* one byte altered anywhere: never a crash; magic, version and byte
     * order refused by name */
    for (long at = 0; at < n; at++) {
        FILE *f = fopen(p2, "wb");
        assert_non_null(f);
        whole[at] ^= 0x5a;
        fwrite(whole, 1, (size_t)n, f);
        whole[at] ^= 0x5a;
        fclose(f);
        memset(&err, 0, sizeof err);
        if (bq_blot_result_read(p2, &man, 0, &b, opt, sizeof opt, &err) !=
            BQ_OK)
            assert_non_null(strstr(err.msg, p2));
        if (at == 2)
            assert_non_null(strstr(err.msg, "not a blotquant blot result"));
        if (at == 8)
            assert_non_null(strstr(err.msg, "another blotquant version"));
        if (at == 12)
            assert_non_null(strstr(err.msg, "another byte order"));
        bq_blot_result_fini(&b);
    }
    free(whole);
    bq_blot_result_fini(&a);
}

/* A result saved for another blot, or for other scans than the manifest
 * now names, must be measured again. */
static void
test_stale(void **state)
{
    struct bq_blot_result a, b;
    struct bq_error err = {0};
    char dir[1024], p1[1100], opt[64], name[128];
    (void)state;

    snprintf(dir, sizeof dir, "%s", bq_test_tmpdir("blotfile_stale"));
    snprintf(p1, sizeof p1, "%s/a.bqblot", dir);
    make_result(&a);
    save(p1, 0, &a);
    assert_int_equal(
        bq_blot_result_read(p1, &man, 1, &b, opt, sizeof opt, &err),
        BQ_ERR_INVALID);
    assert_non_null(strstr(err.msg, "the result of blot 'pSTAT3 rep1'"));
    bq_blot_result_fini(&b);
    snprintf(blots[0].total.name, sizeof blots[0].total.name,
             "rep1/STAT3-again.tif");
    memset(&err, 0, sizeof err);
    assert_int_equal(
        bq_blot_result_read(p1, &man, 0, &b, opt, sizeof opt, &err),
        BQ_ERR_INVALID);
    assert_non_null(strstr(err.msg, "now names 'rep1/STAT3-again.tif'"));
    bq_blot_result_fini(&b);
    /* missing: says which stage to run */
    memset(&err, 0, sizeof err);
    snprintf(p1, sizeof p1, "%s/none.bqblot", dir);
    assert_int_equal(
        bq_blot_result_read(p1, &man, 0, &b, opt, sizeof opt, &err), BQ_ERR_IO);
    assert_non_null(strstr(err.msg, "has the blot stage run?"));
    assert_non_null(strstr(b.error, "none.bqblot"));
    bq_blot_result_fini(&b);
    bq_blot_result_fini(&a);
    /* file names: made safe, and told apart when two come out the same */
    bq_blot_file_name(&man, 0, BQ_BLOT_EXT, name, sizeof name);
    assert_string_equal(name, "pSTAT3_rep1.bqblot");
    bq_blot_file_name(&man, 1, BQ_BLOT_EXT, name, sizeof name);
    assert_string_equal(name, "pSTAT3_rep1+2.bqblot");
    /* a name that looked like the second's under a '-' separator */
    bq_blot_file_name(&man, 2, BQ_BLOT_EXT, name, sizeof name);
    assert_string_equal(name, "pSTAT3_rep1-2.bqblot");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_round_trip, setup),
        cmocka_unit_test_setup(test_damaged, setup),
        cmocka_unit_test_setup(test_stale, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
