/* Manifest parsing: a good manifest, every kind of mistake (each error
 * names the line), lane labels and doses, pairing by file names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blotquant/manifest.h"
#include "testutil.h"

static void
touch(const char *dir, const char *name)
{
    char p[1024];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
}

static void
write_manifest(const char *dir, const char *text)
{
    char p[1024];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, BQ_MANIFEST_NAME);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A folder with the scans the good manifest names. */
static const char *
scans_dir(const char *name)
{
    const char *d = bq_test_tmpdir(name);
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/rep1", d);
    mkdir(sub, 0777);
    touch(d, "rep1/pSTAT3.tif");
    touch(d, "rep1/STAT3.tif");
    touch(d, "rep1/GAPDH.tif");
    touch(d, "rep1/licor.tif");
    return d;
}

static const char good[] =
    "; a comment\n"                                  /* 1 */
    "[experiment]\n"                                 /* 2 */
    "name = TPO agonists\n"                          /* 3 */
    "control = vehicle   ; the vehicle lane\n"       /* 4 */
    "ladder_kda = 250 150 100 75 50 37\n"            /* 5 */
    "\n"                                             /* 6 */
    "[lanes]\n"                                      /* 7 */
    "1 = ladder\n"                                   /* 8 */
    "2 = vehicle\n"                                  /* 9 */
    "3 = rhTPO 50 ng/mL\n"                           /* 10 */
    "4 = eltrombopag 0.1 nM\n"                       /* 11 */
    "5 = eltrombopag 3 uM\n"                         /* 12 */
    "6 = empty\n"                                    /* 13 */
    "7 = hetrombopag 10pM\n"                         /* 14 */
    "\n"                                             /* 15 */
    "[blot pSTAT3 rep1]\n"                           /* 16 */
    "target = STAT3\n"                               /* 17 */
    "replicate = 1\n"                                /* 18 */
    "phospho = rep1/pSTAT3.tif\n"                    /* 19 */
    "total = rep1/STAT3.tif\n"                       /* 20 */
    "loading = rep1/GAPDH.tif\n"                     /* 21 */
    "loading_name = GAPDH\n"                         /* 22 */
    "band = kda 88\n"                                /* 23 */
    "[blot second]\n"                                /* 24 */
    "target = ERK1/2\n"                              /* 25 */
    "replicate = 1\n"                                /* 26 */
    "phospho = rep1/licor.tif page 1\n"              /* 27 */
    "total = rep1/licor.tif page 2\n"                /* 28 */
    "doublet = each\n";                              /* 29 */

static void
test_good_manifest(void **state)
{
    struct bq_manifest m;
    struct bq_error err = {0};
    const char *d = scans_dir("manifest_good");
    (void)state;

    write_manifest(d, good);
    assert_int_equal(bq_manifest_read(d, &m, &err), BQ_OK);
    assert_string_equal(m.name, "TPO agonists");
    assert_int_equal(m.nlanes, 7);
    assert_int_equal(m.control, 1);
    assert_int_equal(m.nladder, 6);
    assert_int_equal(m.lanes[0].kind, BQ_LANE_LADDER);
    assert_int_equal(m.lanes[5].kind, BQ_LANE_EMPTY);
    assert_string_equal(m.lanes[2].agent, "rhTPO");
    assert_string_equal(m.lanes[2].unit, "ng/mL");
    assert_true(fabs(m.lanes[2].dose - 50) < 1e-12);
    assert_string_equal(m.lanes[3].agent, "eltrombopag");
    assert_true(fabs(m.lanes[3].dose - 0.1) < 1e-12);
    assert_true(fabs(m.lanes[4].dose - 3000) < 1e-9); /* 3 uM in nM */
    assert_string_equal(m.lanes[4].unit, "nM");
    assert_true(fabs(m.lanes[6].dose - 0.01) < 1e-12); /* 10 pM */
    assert_string_equal(m.lanes[1].agent, "");
    assert_int_equal(m.nblots, 2);
    assert_string_equal(m.blots[0].name, "pSTAT3 rep1");
    assert_int_equal(m.blots[0].line, 16);
    assert_int_equal(m.blots[0].pick, BQ_PICK_KDA);
    assert_true(m.blots[0].pick_value == 88);
    assert_string_equal(m.blots[0].loading_name, "GAPDH");
    assert_non_null(strstr(m.blots[0].loading.path, "rep1/GAPDH.tif"));
    assert_int_equal(m.blots[1].phospho.page, 0);
    assert_int_equal(m.blots[1].total.page, 1);
    assert_string_equal(m.blots[1].total.name, "rep1/licor.tif");
    assert_int_equal(m.blots[1].doublet_each, 1);
    assert_int_equal(m.blots[1].pick, BQ_PICK_STRONGEST);
    bq_manifest_fini(&m);
}

/* Replaces line LINE (1-based) of the good manifest by REPL (which may
 * hold several lines or none) and expects an error mentioning "line
 * WANT_LINE" and the text WANT. */
static void
expect_error(const char *tag, int line, const char *repl, int want_line,
             const char *want)
{
    char text[4096] = "", msgline[32];
    const char *s = good;
    struct bq_manifest m;
    struct bq_error err = {0};
    const char *d = scans_dir(tag);

    for (int l = 1; *s; l++) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) + 1 : strlen(s);
        if (l == line)
            strcat(text, repl);
        else
            strncat(text, s, n);
        s += n;
    }
    write_manifest(d, text);
    assert_int_not_equal(bq_manifest_read(d, &m, &err), BQ_OK);
    if (getenv("BQ_TEST_VERBOSE"))
        printf("%s\n", err.msg);
    snprintf(msgline, sizeof msgline, "line %d:", want_line);
    if (!strstr(err.msg, msgline) || !strstr(err.msg, want) ||
        !strstr(err.msg, BQ_MANIFEST_NAME))
        fail_msg("%s: got '%s', want line %d and '%s'", tag, err.msg,
                 want_line, want);
    bq_manifest_fini(&m);
}

static void
test_every_mistake_names_its_line(void **state)
{
    (void)state;
    /* missing file */
    expect_error("m_missing", 20, "total = rep1/STAT3-typo.tif\n", 20,
                 "not found");
    /* path leaving the folder */
    expect_error("m_escape", 20, "total = ../../etc/passwd\n", 20,
                 "outside the experiment folder");
    expect_error("m_abs", 21, "loading = /etc/passwd\n", 21,
                 "outside the experiment folder");
    /* lanes: a gap, a duplicate */
    expect_error("m_gap", 12, "", 7, "lane 5 is missing");
    expect_error("m_duplane", 12, "4 = vehicle\n", 12, "listed twice");
    /* unknown control */
    expect_error("m_control", 4, "control = vehicel\n", 4,
                 "not one of the lane labels");
    expect_error("m_control_ladder", 4, "control = 1\n", 4, "ladder");
    /* duplicate blot: same name, and same target and replicate */
    expect_error("m_dupname", 24, "[blot pSTAT3 rep1]\n", 24,
                 "duplicate blot");
    expect_error("m_duprep", 25, "target = STAT3\n", 24, "duplicate blot");
    /* bad numbers */
    expect_error("m_badrep", 18, "replicate = one\n", 18, "whole number");
    expect_error("m_baddose", 11, "4 = eltrombopag 0,1 nM\n", 11,
                 "not a number");
    expect_error("m_nounit", 11, "4 = eltrombopag 0.1\n", 11, "no unit");
    expect_error("m_badpage", 28, "total = rep1/licor.tif page two\n", 28,
                 "page");
    expect_error("m_badband", 23, "band = row 1.5\n", 23, "row number");
    expect_error("m_badladder", 5, "ladder_kda = 250 x 100\n", 5, "kDa");
    /* unknown keys and sections, a line that is not key = value */
    expect_error("m_key", 17, "targte = STAT3\n", 17, "unknown key");
    expect_error("m_section", 24, "[blots second]\n", 24, "unknown section");
    expect_error("m_syntax", 17, "target STAT3\n", 17, "key = value");
    /* a blot without its total scan */
    expect_error("m_nototal", 20, "", 16, "no 'total ='");
    /* band = kda without ladder sizes */
    expect_error("m_noladder", 5, "\n", 23, "ladder");
}

static void
test_lane_labels(void **state)
{
    struct bq_mlane l;
    struct bq_error err = {0};
    (void)state;

    assert_int_equal(bq_lane_parse("DMSO", &l, &err), BQ_OK);
    assert_int_equal(l.kind, BQ_LANE_SAMPLE);
    assert_string_equal(l.agent, "");
    assert_int_equal(bq_lane_parse("Marker", &l, &err), BQ_OK);
    assert_int_equal(l.kind, BQ_LANE_LADDER);
    assert_int_equal(bq_lane_parse("-", &l, &err), BQ_OK);
    assert_int_equal(l.kind, BQ_LANE_EMPTY);
    assert_int_equal(bq_lane_parse("IL-3 10 ng/ml", &l, &err), BQ_OK);
    assert_string_equal(l.agent, "IL-3");
    assert_string_equal(l.unit, "ng/mL");
    assert_int_equal(bq_lane_parse("compound 7b 1.5 \xc2\xb5M", &l, &err),
                     BQ_OK);
    assert_string_equal(l.agent, "compound 7b");
    assert_true(fabs(l.dose - 1500) < 1e-9);
    assert_int_equal(bq_lane_parse("drug 1e2 pM", &l, &err), BQ_OK);
    assert_true(fabs(l.dose - 0.1) < 1e-12);
    assert_int_equal(bq_lane_parse("drug -1 nM", &l, &err), BQ_ERR_INVALID);
    /* a unit alone is a label, not a dose */
    assert_int_equal(bq_lane_parse("nM", &l, &err), BQ_OK);
    assert_string_equal(l.agent, "");
}

static void
test_pairing_by_names(void **state)
{
    struct bq_manifest m;
    struct bq_error err = {0};
    const char *d = bq_test_tmpdir("manifest_names");
    (void)state;

    touch(d, "pSTAT3_rep1.tif");
    touch(d, "STAT3_rep1.tif");
    touch(d, "pSTAT3_rep2.tif");
    touch(d, "STAT3_rep2.tif");
    touch(d, "GAPDH_STAT3_rep2.tif");
    touch(d, "p-AKT_r1.png");
    touch(d, "AKT_r1.png");
    touch(d, "pERK_rep1.tif"); /* no partner: ignored */
    touch(d, "notes.txt");
    assert_int_equal(bq_manifest_load(d, &m, &err), BQ_OK);
    assert_int_equal(m.nblots, 3);
    assert_string_equal(m.blots[0].target, "AKT");
    assert_int_equal(m.blots[0].replicate, 1);
    assert_string_equal(m.blots[1].target, "STAT3");
    assert_int_equal(m.blots[1].replicate, 1);
    assert_string_equal(m.blots[1].loading.path, "");
    assert_int_equal(m.blots[2].replicate, 2);
    assert_string_equal(m.blots[2].total.name, "STAT3_rep2.tif");
    assert_string_equal(m.blots[2].loading.name, "GAPDH_STAT3_rep2.tif");
    assert_string_equal(m.blots[2].loading_name, "GAPDH");
    assert_int_equal(m.nlanes, 0);
    assert_int_equal(bq_manifest_number_lanes(&m, 5, &err), BQ_OK);
    assert_string_equal(m.lanes[4].label, "lane 5");
    assert_int_equal(m.control, 0);
    bq_manifest_fini(&m);

    /* a folder with nothing to pair */
    d = bq_test_tmpdir("manifest_none");
    touch(d, "blot.tif");
    assert_int_equal(bq_manifest_load(d, &m, &err), BQ_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "pair"));
    bq_manifest_fini(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_manifest),
        cmocka_unit_test(test_every_mistake_names_its_line),
        cmocka_unit_test(test_lane_labels),
        cmocka_unit_test(test_pairing_by_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
