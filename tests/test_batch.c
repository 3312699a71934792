/* `blotquant batch` and `experiment`: a folder tree with a good experiment,
 * a manifest with a mistake and name-paired scans with a damaged file;
 * errors.csv, exit codes, byte-identical results for any -j and for the
 * workflow's stages run one by one, re-runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>

#include "blotquant/render.h"
#include "testutil.h"

#define BQ BQ_BINARY_DIR "/blotquant"
#define EXPGEN BQ_BINARY_DIR "/expgen"

static char root[1024], base[1024];

/* Runs CMD, its output into BASE/out.txt and err.txt. */
static int
run(const char *cmd)
{
    return bq_test_run_in(base, cmd);
}

static int
setup(void **state)
{
    char cmd[8192];
    (void)state;
    snprintf(base, sizeof base, "%s", bq_test_tmpdir("batch"));
    snprintf(root, sizeof root, "%s/root", base);
    /* a: the generated sample experiment; lab/b: its manifest with an
     * unknown control; lab/c: one replicate paired by names, one of its
     * scans cut short */
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/lab' && cp -r '%s/samples/experiment' '%s/a' && "
             "cp -r '%s/samples/experiment' '%s/lab/b' && "
             "sed -i 's/^control = vehicle/control = vehicel/' "
             "'%s/lab/b/blotquant.ini' && " EXPGEN
             " -o '%s/lab/c' --no-manifest --replicates 1 "
             ">/dev/null && head -c 3000 '%s/lab/c/pAKT_rep1.tif' > "
             "'%s/lab/c/t' && mv '%s/lab/c/t' '%s/lab/c/pAKT_rep1.tif'",
             root, BQ_SOURCE_DIR, root, BQ_SOURCE_DIR, root, root, root, root,
             root, root, root);
    return bq_test_run(cmd) == 0 ? 0 : -1;
}

static void
test_batch_tree(void **state)
{
    char cmd[4096], path[2048];
    (void)state;

    snprintf(cmd, sizeof cmd, BQ " batch '%s' -o '%s/out1' -j 1", root, base);
    assert_int_equal(run(cmd), 1);
    /* the good experiment is complete */
    snprintf(path, sizeof path, "%s/out1/a/summary.csv", base);
    assert_true(bq_test_file_contains(path, "eltrombopag"));
    snprintf(path, sizeof path, "%s/out1/a/doseresponse.csv", base);
    assert_true(bq_test_file_contains(path, "hetrombopag"));
    /* the name-paired one too, but for the damaged scan */
    snprintf(path, sizeof path, "%s/out1/lab/c/ratios.csv", base);
    assert_true(bq_test_file_contains(path, "pSTAT3_rep1"));
    assert_false(bq_test_file_contains(path, "pAKT_rep1"));
    /* errors.csv: one row per failure, naming the line and the file */
    snprintf(path, sizeof path, "%s/out1/errors.csv", base);
    assert_true(bq_test_file_contains(path, "lab/b,,"));
    assert_true(bq_test_file_contains(path, "line 13: control 'vehicel'"));
    assert_true(bq_test_file_contains(path, "lab/c,pAKT_rep1,"));
    assert_true(bq_test_file_contains(path, "pAKT_rep1.tif"));
    snprintf(path, sizeof path, "%s/err.txt", base);
    assert_true(bq_test_file_contains(path, "vehicel"));
    /* not a terminal: no progress line */
    assert_false(bq_test_file_contains(path, "\r"));
    /* the combined summary holds both experiments */
    snprintf(path, sizeof path, "%s/out1/summary.csv", base);
    assert_true(bq_test_file_contains(path, "TPO-receptor agonists"));
    assert_true(bq_test_file_contains(path, "\nc,"));
}

/* Dark pixels (every channel below 100) in the band between the header
 * (with its subtitle: 128 px) and the first row holding the lanes' blue,
 * i.e. where lane labels go; -1 if PATH cannot be read as a PNG. */
static int
label_band_ink(const char *path)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    const unsigned char *d;
    int w, h, stride, ink = 0, top = 126, end = -1;

    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return -1;
    }
    w = cairo_image_surface_get_width(s);
    h = cairo_image_surface_get_height(s);
    stride = cairo_image_surface_get_stride(s);
    d = cairo_image_surface_get_data(s);
    for (int y = top; y < h && end < 0; y++)
        for (int x = 0; x < w; x++) {
            uint32_t v;
            memcpy(&v, d + (size_t)y * (size_t)stride + (size_t)x * 4, 4);
            if ((v & 0xffffffu) == BQ_RENDER_LANE_RGB) {
                end = y;
                break;
            }
        }
    for (int y = top; y < end - 2; y++)
        for (int x = 0; x < w; x++) {
            uint32_t v;
            memcpy(&v, d + (size_t)y * (size_t)stride + (size_t)x * 4, 4);
            ink += ((v >> 16) & 255) < 100 && ((v >> 8) & 255) < 100 &&
                   (v & 255) < 100;
        }
    cairo_surface_destroy(s);
    return end < 0 ? -1 : ink;
}

/* batch draws every scan of every measured blot as measured, one overlay
 * per scan in OUT/<experiment>/scans, lanes labelled with the manifest's
 * conditions (an experiment paired by names has none); a blot that failed
 * has none. */
static void
test_overlays_per_scan(void **state)
{
    static const char *const blots[] = {"pSTAT3", "pSTAT5", "pAKT", "pERK"};
    static const char *const roles[] = {"phospho", "total", "loading"};
    char path[2048], cmd[4096];
    int ink;
    (void)state;

    for (int r = 1; r <= 3; r++)
        for (int b = 0; b < 4; b++)
            for (int k = 0; k < 3; k++) {
                snprintf(path, sizeof path,
                         "%s/out1/a/scans/%s_rep%d_%s.overlay.png", base,
                         blots[b], r, roles[k]);
                if (!bq_test_exists(path))
                    fail_msg("missing %s", path);
            }
    /* 36 and nothing else (no temporary files left) */
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s/out1/a/scans' | wc -l) = 36",
             base);
    assert_int_equal(bq_test_run(cmd), 0);
    /* the manifest's experiment: conditions above the lanes */
    snprintf(path, sizeof path,
             "%s/out1/a/scans/pSTAT3_rep1_phospho.overlay.png", base);
    ink = label_band_ink(path);
    assert_true(ink > 500);
    snprintf(path, sizeof path, "%s/out1/a/scans/pERK_rep3_loading.overlay.png",
             base);
    assert_true(label_band_ink(path) > 500);
    /* paired by names: numbers only; the damaged blot has no overlay */
    snprintf(path, sizeof path,
             "%s/out1/lab/c/scans/pSTAT3_rep1_total.overlay.png", base);
    assert_int_equal(label_band_ink(path), 0);
    snprintf(path, sizeof path,
             "%s/out1/lab/c/scans/pAKT_rep1_total.overlay.png", base);
    assert_false(bq_test_exists(path));
    /* the manifest that failed: no folder of overlays */
    snprintf(path, sizeof path, "%s/out1/lab/b/scans", base);
    assert_false(bq_test_exists(path));
    /* --no-overlay: the same tables, no scans folder */
    snprintf(cmd, sizeof cmd,
             BQ " experiment '%s/a' -o '%s/out5' -q --no-overlay", root, base);
    assert_int_equal(run(cmd), 0);
    snprintf(path, sizeof path, "%s/out5/scans", base);
    assert_false(bq_test_exists(path));
    snprintf(cmd, sizeof cmd,
             "for f in ratios summary doseresponse blots; do cmp "
             "'%s/out1/a/'$f.csv '%s/out5/'$f.csv || exit 1; done",
             base, base);
    assert_int_equal(bq_test_run(cmd), 0);
}

static void
test_jobs_give_identical_csvs(void **state)
{
    char cmd[4096];
    (void)state;
    snprintf(cmd, sizeof cmd, BQ " batch '%s' -o '%s/out2' -j 3 -q", root,
             base);
    assert_int_equal(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "diff -r '%s/out1' '%s/out2' >/dev/null", base,
             base);
    assert_int_equal(bq_test_run(cmd), 0);
}

/* The workflow's stages run one by one, as Snakemake runs them (`list`,
 * then `blot` for every blot, `experiment --from` for every experiment,
 * `summary`), give every file batch gives, byte for byte; saved results
 * that are missing, cut short or of another blot are errors of that blot. */
static void
test_stages_one_by_one(void **state)
{
    char cmd[8192], path[2048];
    (void)state;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && " BQ " list '%s' -o wf5 > plan.txt && "
             "grep -c '^blot' plan.txt > nblots.txt && "
             "while IFS='\t' read kind rel a b c; do "
             "  d='%s'; o=wf5; "
             "  [ \"$rel\" = . ] || { d=\"$d/$rel\"; o=\"$o/$rel\"; }; "
             "  if [ $kind = blot ]; then "
             "    " BQ " blot \"$d\" \"$a\" -o \"$o\" -q 2>/dev/null; "
             "    r=$?; [ $r -eq 0 ] || [ $r -eq 3 ] || exit 1; "
             "  fi; "
             "done < plan.txt && "
             "while IFS='\t' read kind rel a b c; do "
             "  d='%s'; o=wf5; "
             "  [ \"$rel\" = . ] || { d=\"$d/$rel\"; o=\"$o/$rel\"; }; "
             "  if [ $kind = experiment ] && [ $b = ok ]; then "
             "    " BQ " experiment \"$d\" -o \"$o\" --from \"$o/blots\" -q "
             "      2>/dev/null; r=$?; [ $r -eq 0 ] || [ $r -eq 3 ] || exit 1; "
             "  fi; "
             "done < plan.txt && "
             "{ " BQ " summary '%s' -o wf5 -q 2>/dev/null; [ $? -eq 3 ]; } && "
             "diff -r -x blots -x '.*' out1 wf5",
             base, root, root, root, root);
    assert_int_equal(bq_test_run(cmd), 0);
    /* 12 + 4 blots listed (lab/b: its manifest error) */
    snprintf(path, sizeof path, "%s/nblots.txt", base);
    assert_true(bq_test_file_contains(path, "16\n"));
    snprintf(path, sizeof path, "%s/plan.txt", base);
    assert_true(bq_test_file_contains(path, "experiment\tlab/b\t-\terror\t"));
    assert_true(bq_test_file_contains(
        path, "blot\ta\tpSTAT3 rep1\tpSTAT3_rep1.bqblot\t"));

    /* a saved result missing, one cut short, one of another blot */
    snprintf(cmd, sizeof cmd,
             "cd '%s/wf5/a/blots' && rm pAKT_rep2.bqblot && "
             "head -c 5000 pERK_rep1.bqblot > t && mv t pERK_rep1.bqblot && "
             "cp pSTAT3_rep1.bqblot pSTAT5_rep1.bqblot",
             base);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             BQ " experiment '%s/a' -o '%s/wf5/a' --from '%s/wf5/a/blots' -q",
             root, base, base);
    assert_int_equal(run(cmd), 3);
    snprintf(path, sizeof path, "%s/wf5/a/blots.csv", base);
    assert_true(bq_test_file_contains(path, "has the blot stage run?"));
    assert_true(bq_test_file_contains(path, "damaged blot result"));
    assert_true(bq_test_file_contains(
        path, "the result of blot 'pSTAT3 rep1', but the manifest's blot 2 "
              "is 'pSTAT5 rep1'"));
    snprintf(path, sizeof path, "%s/wf5/a/ratios.csv", base);
    assert_true(bq_test_file_contains(path, "pSTAT3 rep1"));

    /* an edited manifest makes every saved result stale */
    snprintf(cmd, sizeof cmd,
             "cp '%s/a/blotquant.ini' '%s/a.ini' && echo '; edited' >> "
             "'%s/a/blotquant.ini'",
             root, base, root);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             BQ " experiment '%s/a' -o '%s/wf5/a' --from '%s/wf5/a/blots' -q",
             root, base, base);
    assert_int_equal(run(cmd), 3);
    snprintf(path, sizeof path, "%s/wf5/a/blots.csv", base);
    assert_true(
        bq_test_file_contains(path, "measured with another version of"));
    snprintf(cmd, sizeof cmd, "mv '%s/a.ini' '%s/a/blotquant.ini'", base, root);
    assert_int_equal(bq_test_run(cmd), 0);

    /* a folder without results: refused, the tables there are kept */
    snprintf(cmd, sizeof cmd, "cp '%s/wf5/a/ratios.csv' '%s/kept.csv'", base,
             base);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             BQ " experiment '%s/a' -o '%s/wf5/a' --from '%s/wf5/lab' -q", root,
             base, base);
    assert_int_equal(run(cmd), 1);
    snprintf(path, sizeof path, "%s/err.txt", base);
    assert_true(bq_test_file_contains(path, "holds no blot results"));
    snprintf(cmd, sizeof cmd, "cmp '%s/wf5/a/ratios.csv' '%s/kept.csv'", base,
             base);
    assert_int_equal(bq_test_run(cmd), 0);

    /* usage: a blot that is not there, options where nothing is measured */
    snprintf(cmd, sizeof cmd, BQ " blot '%s/a' 'pSTAT9 rep1' -o '%s/wf6'", root,
             base);
    assert_int_equal(run(cmd), 2);
    snprintf(path, sizeof path, "%s/err.txt", base);
    assert_true(bq_test_file_contains(path, "no blot 'pSTAT9 rep1'"));
    assert_true(bq_test_file_contains(path, "'pERK rep3'"));
    snprintf(cmd, sizeof cmd,
             BQ " experiment '%s/a' -o '%s/wf6' --from '%s/wf6' "
                "--background none",
             root, base, base);
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, BQ " summary '%s' -o '%s/wf6' --lanes 3", root,
             base);
    assert_int_equal(run(cmd), 2);
}

static void
test_rerun_completes(void **state)
{
    char cmd[4096];
    (void)state;
    /* an interrupted run: a table missing, a stray temporary file */
    snprintf(cmd, sizeof cmd,
             "rm '%s/out2/a/ratios.csv' && echo half > "
             "'%s/out2/a/.summary.csv.tmp.1'",
             base, base);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(cmd, sizeof cmd, BQ " batch '%s' -o '%s/out2' -q", root, base);
    assert_int_equal(run(cmd), 1);
    /* the stray temporary file of the interrupted run is gone */
    snprintf(cmd, sizeof cmd, "test ! -e '%s/out2/a/.summary.csv.tmp.1'", base);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(cmd, sizeof cmd, "diff -r '%s/out1' '%s/out2' >/dev/null", base,
             base);
    assert_int_equal(bq_test_run(cmd), 0);
}

static void
test_experiment_command(void **state)
{
    char cmd[4096], path[2048];
    (void)state;
    /* `experiment` on one folder gives the same tables as batch did */
    snprintf(cmd, sizeof cmd, BQ " experiment '%s/a' -o '%s/out3' -q", root,
             base);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "for f in ratios summary doseresponse blots; do cmp "
             "'%s/out1/a/'$f.csv '%s/out3/'$f.csv || exit 1; done",
             base, base);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(path, sizeof path, "%s/out3/errors.csv", base);
    assert_true(bq_test_file_contains(path, "experiment,blot,message\n"));
    /* usage errors */
    assert_int_equal(run(BQ " experiment"), 2);
    snprintf(cmd, sizeof cmd, BQ " batch '%s'", root);
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, BQ " batch '%s/nothing' -o '%s/o4'", base, base);
    assert_int_equal(run(cmd), 1);
}

/* A second run into the same output folder is refused while the first
 * holds it; a file size limit (a full disk) costs error messages, not the
 * process: nothing half-written is left, and the tables that fit are
 * whole. */
static void
test_lock_and_full_disk(void **state)
{
    char cmd[8192], path[2048];
    (void)state;
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/out8' && rm -f '%s/ready' && "
             "(flock '%s/out8/.blotquant.lock' sh -c 'touch \"%s/ready\"; "
             "sleep 5' &) && "
             "while [ ! -e '%s/ready' ]; do sleep 0.05; done && " BQ
             " batch '%s' -o '%s/out8' -q",
             base, base, base, base, base, root, base);
    assert_int_equal(run(cmd), 1);
    snprintf(path, sizeof path, "%s/err.txt", base);
    assert_true(bq_test_file_contains(path, "in use by another blotquant run"));
    snprintf(path, sizeof path, "%s/out8/summary.csv", base);
    assert_false(bq_test_exists(path));

    /* 300 kB per file at most: the CSVs fit, the report pages do not */
    snprintf(cmd, sizeof cmd,
             "sh -c 'ulimit -f 300; exec " BQ " batch \"%s\" -o \"%s/out9\" "
             "-q'",
             root, base);
    assert_int_equal(run(cmd), 1);
    snprintf(path, sizeof path, "%s/err.txt", base);
    assert_true(bq_test_file_contains(path, "report.png"));
    snprintf(cmd, sizeof cmd,
             "test -z \"$(find '%s/out9' -name '*.tmp*')\" && "
             "cmp '%s/out1/a/ratios.csv' '%s/out9/a/ratios.csv' && "
             "cmp '%s/out1/a/summary.csv' '%s/out9/a/summary.csv'",
             base, base, base, base, base);
    assert_int_equal(bq_test_run(cmd), 0);
}

/* A run killed (SIGKILL) at any moment leaves no truncated table or
 * image, only files that are whole; running again completes the job with
 * the same bytes as an uninterrupted run. */
static void
test_killed_run(void **state)
{
    static const char *when[] = {"0.4", "1.2", "2.0"};
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        char cmd[8192];
        snprintf(
            cmd, sizeof cmd,
            "rm -rf '%s/outk' && (" BQ " batch '%s' -o '%s/outk' -q & "
            "p=$!; sleep %s; kill -9 $p; wait $p; true) && "
            "for f in $(find '%s/outk' -name '*.png'); do "
            "  tail -c 8 \"$f\" | grep -q IEND || exit 1; done && "
            "for f in $(find '%s/outk' -name '*.csv' -o -name '*.html'); do "
            "  [ \"$(tail -c 1 \"$f\" | od -An -c | tr -d ' ')\" = "
            "'\\n' ] || exit 1; done",
            base, root, base, when[k], base, base);
        if (run(cmd) != 0)
            fail_msg("after a kill at %s s a file is not whole", when[k]);
        snprintf(cmd, sizeof cmd,
                 BQ " batch '%s' -o '%s/outk' -q; "
                    "diff -r '%s/out1' '%s/outk' >/dev/null",
                 root, base, base, base);
        if (run(cmd) != 0)
            fail_msg("the re-run after a kill at %s s differs", when[k]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_tree),
        cmocka_unit_test(test_overlays_per_scan),
        cmocka_unit_test(test_jobs_give_identical_csvs),
        cmocka_unit_test(test_stages_one_by_one),
        cmocka_unit_test(test_rerun_completes),
        cmocka_unit_test(test_experiment_command),
        cmocka_unit_test(test_lock_and_full_disk),
        cmocka_unit_test(test_killed_run),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
