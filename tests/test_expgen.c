/* Tests of the experiment generator: the membrane renderer of tools/synth.c
 * (exact volumes, shared geometry, the rigid transform applied exactly to
 * the truth) and the expgen command (files, truth.csv, manifest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "blotquant/load.h"
#include "synth.h"
#include "testutil.h"

#define EXE BQ_BINARY_DIR "/expgen"
#define PI 3.14159265358979323846
#define MAX_ROWS 2000 /* truth.csv rows read */

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/* A small clean membrane: 6 lanes (lane 0 a ladder), two band rows. */
static void
small_membrane(struct bq_synth_membrane *m)
{
    bq_synth_membrane_init(m);
    m->width = 320;
    m->height = 160;
    m->lanes = 6;
    m->smile_px = 2.0;
    m->lane_fill = 0.55;
    m->frame = 1;
    m->ladder_lane = 0;
    m->nladder = 4;
    for (int k = 0; k < 4; k++) {
        m->ladder_v[k] = 30.0 + 30.0 * k;
        m->ladder_peak[k] = 0.1;
    }
    m->nrows = 2;
    m->rows[0].v = 60.0;
    m->rows[0].sigma = 2.5;
    m->rows[1].v = 100.0;
    m->rows[1].sigma = 2.0;
    for (int i = 1; i < 6; i++) {
        m->rows[0].volume[i] = 1e5 * i;
        m->rows[1].volume[i] = 2e5;
    }
}

/* Renders M, asserting success. */
static void
render(const struct bq_synth_membrane *m, struct bq_image **img,
       struct bq_synth_truth *t)
{
    struct bq_error err = {BQ_OK, ""};

    *img = NULL;
    memset(t, 0, sizeof *t);
    if (bq_synth_membrane_render(m, img, t, &err) != BQ_OK)
        fail_msg("render failed: %s", err.msg);
    assert_non_null(*img);
}

/* Returns the truth band of ROW and LANE in T, failing if absent. */
static const struct bq_synth_band *
band_of(const struct bq_synth_truth *t, int row, int lane)
{
    for (size_t k = 0; k < t->nbands; k++)
        if (t->bands[k].row == row && t->bands[k].lane == lane)
            return &t->bands[k];
    fail_msg("no band row %d lane %d", row, lane);
    return NULL;
}

/* Runs CMD quietly; returns its exit status. */
static int
run(const char *cmd)
{
    char full[4096];

    snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
    return bq_test_run(full);
}

/* Fails unless the expgen binary has been built. */
static void
need_exe(void)
{
    if (!bq_test_exists(EXE))
        fail_msg("%s is missing: build the expgen target", EXE);
}

/* ---------------------------------------------------------------------- */
/* The membrane renderer                                                   */
/* ---------------------------------------------------------------------- */

/* On a noise-free float scan without background, the image sum is the sum
 * of the truth volumes, and each band's volume is the one asked for. */
static void
test_membrane_volumes(void **state)
{
    struct bq_synth_membrane m;
    struct bq_synth_truth t;
    struct bq_image *img;
    double sum = 0.0, vsum = 0.0;

    (void)state;
    small_membrane(&m);
    m.bit_depth = 32;
    m.background = 0.0;
    m.read_noise = 0.0;
    m.frame = 0;
    m.angle_deg = 1.3;
    m.dx = 3.25;
    m.dy = -2.5;
    render(&m, &img, &t);
    for (size_t y = 0; y < img->height; y++)
        for (size_t x = 0; x < img->width; x++)
            sum += bq_row(img, y)[x];
    for (size_t k = 0; k < t.nbands; k++)
        vsum += t.bands[k].volume;
    assert_true(fabs(sum - vsum) <= 1e-6 * vsum);
    assert_int_equal(t.nbands, 5 * 2 + 4);
    for (int i = 1; i < 6; i++) {
        for (int r = 0; r < 2; r++) {
            double want = m.rows[r].volume[i];
            double got = band_of(&t, r, i)->volume;
            assert_true(fabs(got / want - 1.0) < 1e-6);
        }
    }
    assert_int_equal(t.nlanes, 6);
    assert_true(t.lanes[0].ladder && !t.lanes[1].ladder);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
}

/* peak_frac scales the rows so the tallest band peaks where asked, keeps
 * their ratios, and a 16-bit scan at 0.7 does not saturate. */
static void
test_membrane_peak_scaling(void **state)
{
    struct bq_synth_membrane m;
    struct bq_synth_truth t;
    struct bq_image *img;
    float top = 0.0f;

    (void)state;
    small_membrane(&m);
    m.peak_frac = 0.7;
    m.read_noise = 0.0;
    render(&m, &img, &t);
    for (size_t y = 0; y < img->height; y++)
        for (size_t x = 0; x < img->width; x++)
            top = fmaxf(top, bq_row(img, y)[x]);
    assert_true(top < 65535.0f && top > 0.6f * 65535.0f);
    for (size_t k = 0; k < t.nbands; k++)
        assert_int_equal(t.bands[k].saturated, 0);
    /* Same shape in lanes 2 and 4 of row 0: volumes 2e5 and 4e5. */
    assert_true(fabs(band_of(&t, 0, 4)->volume / band_of(&t, 0, 2)->volume -
                     2.0) < 1e-3);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
}

/* Two scans of one membrane: the second's truth is the first's moved by
 * the spec's mapping (dx, dy, angle about the image centre), exactly. */
static void
test_membrane_registration(void **state)
{
    struct bq_synth_membrane a, b;
    struct bq_synth_truth ta, tb;
    struct bq_image *ia, *ib;
    double dx = 7.5, dy = -4.25, deg = 1.7, skew = -0.6;
    double cx, cy, cs = cos(deg * PI / 180.0), sn = sin(deg * PI / 180.0);

    (void)state;
    small_membrane(&a);
    a.angle_deg = skew;
    a.scan_seed = 11;
    b = a;
    b.scan_seed = 12; /* another probe: other noise and background */
    b.dx = dx;
    b.dy = dy;
    b.angle_deg = skew + deg;
    for (int i = 1; i < 6; i++)
        b.rows[0].volume[i] = 3e5; /* total: other volumes */
    render(&a, &ia, &ta);
    render(&b, &ib, &tb);
    cx = 0.5 * ((double)a.width - 1.0);
    cy = 0.5 * ((double)a.height - 1.0);
    assert_int_equal(ta.nbands, tb.nbands);
    for (size_t k = 0; k < ta.nbands; k++) {
        const struct bq_synth_band *p = &ta.bands[k], *q = &tb.bands[k];
        double x = cx + cs * (p->x - cx) - sn * (p->y - cy) + dx;
        double y = cy + sn * (p->x - cx) + cs * (p->y - cy) + dy;
        assert_int_equal(p->row, q->row);
        assert_int_equal(p->lane, q->lane);
        assert_true(fabs(x - q->x) < 1e-9 && fabs(y - q->y) < 1e-9);
        assert_true(p->width == q->width && p->sigma_y == q->sigma_y);
    }
    for (size_t k = 0; k < ta.nlanes; k++)
        assert_true(ta.lanes[k].width == tb.lanes[k].width);
    assert_true(tb.rotation_deg == skew + deg);
    bq_image_destroy(ia);
    bq_image_destroy(ib);
    bq_synth_truth_fini(&ta);
    bq_synth_truth_fini(&tb);
}

/* The geometry seed alone fixes lanes and rows; the scan seed alone
 * changes the pixels; the same parameters give the same pixels. */
static void
test_membrane_seeds(void **state)
{
    struct bq_synth_membrane m, n;
    struct bq_synth_truth t1, t2, t3;
    struct bq_image *i1, *i2, *i3;
    int same = 1;

    (void)state;
    small_membrane(&m);
    n = m;
    render(&m, &i1, &t1);
    render(&n, &i2, &t2);
    for (size_t y = 0; y < i1->height; y++)
        same &= memcmp(bq_row(i1, y), bq_row(i2, y),
                       i1->width * sizeof(float)) == 0;
    assert_true(same);
    n.scan_seed = 99;
    render(&n, &i3, &t3);
    same = 1;
    for (size_t y = 0; y < i1->height; y++)
        same &= memcmp(bq_row(i1, y), bq_row(i3, y),
                       i1->width * sizeof(float)) == 0;
    assert_false(same);
    for (size_t k = 0; k < t1.nbands; k++) {
        assert_true(t1.bands[k].x == t3.bands[k].x);
        assert_true(t1.bands[k].y == t3.bands[k].y);
    }
    n.geometry_seed = 2;
    bq_image_destroy(i3);
    bq_synth_truth_fini(&t3);
    render(&n, &i3, &t3);
    assert_true(t1.lanes[1].x != t3.lanes[1].x);
    bq_image_destroy(i1);
    bq_image_destroy(i2);
    bq_image_destroy(i3);
    bq_synth_truth_fini(&t1);
    bq_synth_truth_fini(&t2);
    bq_synth_truth_fini(&t3);
}

/* Impossible parameters: BQ_ERR_INVALID, nothing stored. */
static void
test_membrane_invalid(void **state)
{
    struct bq_synth_membrane m;
    struct bq_error err;
    struct bq_image *img = NULL;
    struct bq_synth_truth t;
    int k;

    (void)state;
    for (k = 0; k < 9; k++) {
        small_membrane(&m);
        switch (k) {
        case 0:
            m.lanes = 0;
            break;
        case 1:
            m.angle_deg = 12.0;
            break;
        case 2:
            m.dx = 1000.0;
            break;
        case 3:
            m.rows[1].sigma = 0.1;
            break;
        case 4:
            m.ladder_lane = 6;
            break;
        case 5:
            m.nrows = BQ_SYNTH_MAX_ROWS + 1;
            break;
        case 6:
            m.rows[0].volume[2] = NAN;
            break;
        case 7:
            m.lane_fill = 0.95;
            break;
        default:
            m.lanes = 24;
            m.width = 100;
            break; /* too narrow */
        }
        memset(&t, 0, sizeof t);
        bq_error_clear(&err);
        assert_int_equal(bq_synth_membrane_render(&m, &img, &t, &err),
                         BQ_ERR_INVALID);
        assert_null(img);
        assert_int_equal(t.nbands, 0);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(bq_synth_membrane_render(NULL, &img, NULL, NULL),
                     BQ_ERR_INVALID);
}

/* "deflate+pred" and "lzw+pred" files (the scans expgen writes) load back
 * through blotquant's loader with every pixel intact, and are smaller. */
static void
test_predictor_roundtrip(void **state)
{
    static const char *const comp[] = {"deflate", "deflate+pred", "lzw+pred"};
    struct bq_synth_membrane m;
    struct bq_synth_truth t;
    struct bq_image *img, *back;
    struct bq_load_opts lo;
    struct bq_error err = {BQ_OK, ""};
    const char *dir = bq_test_tmpdir("expgen_pred");
    char path[1200];
    long size[3];

    (void)state;
    assert_non_null(dir);
    small_membrane(&m);
    m.blotches = 2;
    m.gradient = 0.3;
    m.gain = 100.0;
    m.read_noise = 1.5;
    m.hot_pixels = 5;
    render(&m, &img, &t);
    bq_load_opts_init(&lo);
    for (int k = 0; k < 3; k++) {
        struct bq_synth_tiff_opts o = {comp[k], 0, 0, 0, 0};
        const struct bq_image *pages[1] = {img};
        FILE *fp;
        snprintf(path, sizeof path, "%s/%d.tif", dir, k);
        assert_int_equal(bq_synth_write_tiff(path, pages, 1, &o, &err), BQ_OK);
        assert_int_equal(bq_image_load(path, &lo, &back, NULL, &err), BQ_OK);
        assert_int_equal(back->width, img->width);
        for (size_t y = 0; y < img->height; y++)
            assert_memory_equal(bq_row(back, y), bq_row(img, y),
                                img->width * sizeof(float));
        bq_image_destroy(back);
        fp = fopen(path, "rb");
        assert_non_null(fp);
        fseek(fp, 0, SEEK_END);
        size[k] = ftell(fp);
        fclose(fp);
    }
    assert_true(size[1] < size[0]);
    bq_image_destroy(img);
    bq_synth_truth_fini(&t);
}

/* ---------------------------------------------------------------------- */
/* truth.csv                                                               */
/* ---------------------------------------------------------------------- */

/* One row of the first table. */
struct trow {
    char blot[64], band[16], condition[96];
    int rep, lane, sat;
    double phospho, total, loading, ratio, fold;
};

/* One row of the registration table. */
struct rrow {
    char blot[64], role[16], file[128];
    double dx, dy, deg;
};

/* Everything read from truth.csv. */
struct truth {
    struct trow *t; /* table 1, owned */
    size_t nt;
    struct rrow r[256]; /* table 2 */
    size_t nr;
    int nparams;     /* rows of table 3 */
    double ec50[16]; /* their EC50s, nM */
};

/* Splits LINE (modified) at commas into at most MAX fields. Returns the
 * number of fields. */
static int
split(char *line, char **f, int max)
{
    int n = 0;

    line[strcspn(line, "\r\n")] = '\0';
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

/* Reads DIR/truth.csv into T (caller frees T->t), asserting its format. */
static void
read_truth(const char *dir, struct truth *t)
{
    char path[1200], line[1024];
    char *f[20];
    FILE *fp;
    int table = 0;

    memset(t, 0, sizeof *t);
    t->t = calloc(MAX_ROWS, sizeof *t->t);
    assert_non_null(t->t);
    snprintf(path, sizeof path, "%s/truth.csv", dir);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "blot,target,band,replicate,lane,condition,"
                              "agent,dose,dose_unit,phospho,total,loading,"
                              "ratio,fold_change,saturated\n");
    while (fgets(line, sizeof line, fp)) {
        int n;
        if (line[0] == '\n') {
            table++;
            assert_non_null(fgets(line, sizeof line, fp));
            assert_string_equal(line, table == 1
                                          ? "blot,role,file,dx,dy,angle_deg\n"
                                          : "agent,target,ec50_nM,hill,bottom,"
                                            "top\n");
            continue;
        }
        n = split(line, f, 20);
        if (table == 0) {
            struct trow *r = &t->t[t->nt++];
            assert_int_equal(n, 15);
            assert_true(t->nt < MAX_ROWS);
            snprintf(r->blot, sizeof r->blot, "%s", f[0]);
            snprintf(r->band, sizeof r->band, "%s", f[2]);
            r->rep = atoi(f[3]);
            r->lane = atoi(f[4]);
            snprintf(r->condition, sizeof r->condition, "%s", f[5]);
            r->phospho = strtod(f[9], NULL);
            r->total = strtod(f[10], NULL);
            r->loading = f[11][0] ? strtod(f[11], NULL) : NAN;
            r->ratio = strtod(f[12], NULL);
            r->fold = strtod(f[13], NULL);
            r->sat = atoi(f[14]);
        } else if (table == 1) {
            struct rrow *r = &t->r[t->nr++];
            assert_int_equal(n, 6);
            assert_true(t->nr < 256);
            snprintf(r->blot, sizeof r->blot, "%s", f[0]);
            snprintf(r->role, sizeof r->role, "%s", f[1]);
            snprintf(r->file, sizeof r->file, "%s", f[2]);
            r->dx = strtod(f[3], NULL);
            r->dy = strtod(f[4], NULL);
            r->deg = strtod(f[5], NULL);
        } else {
            assert_int_equal(n, 6);
            assert_true(t->nparams < 16);
            t->ec50[t->nparams++] = strtod(f[2], NULL);
        }
    }
    fclose(fp);
    assert_int_equal(table, 2);
}

/* Returns the control (vehicle) row of the same blot and band as R. */
static const struct trow *
control_of(const struct truth *t, const struct trow *r)
{
    for (size_t k = 0; k < t->nt; k++)
        if (strcmp(t->t[k].blot, r->blot) == 0 &&
            strcmp(t->t[k].band, r->band) == 0 &&
            strcmp(t->t[k].condition, "vehicle") == 0)
            return &t->t[k];
    fail_msg("no vehicle row for %s", r->blot);
    return NULL;
}

/* Checks what every experiment's truth must satisfy: ratios and fold
 * changes from the volumes to 1e-12, sums of doublets, offsets within
 * MAX_SHIFT / MAX_DEG, the phospho scan as reference, files present. */
static void
check_truth(const char *dir, const struct truth *t, double max_shift,
            double max_deg)
{
    char path[1200];

    for (size_t k = 0; k < t->nt; k++) {
        const struct trow *r = &t->t[k], *c = control_of(t, r);
        double ratio = r->phospho / r->total;
        double fold = ratio / (c->phospho / c->total);
        assert_true(r->phospho > 0.0 && r->total > 0.0);
        assert_true(fabs(r->ratio - ratio) <= 1e-12 * fabs(ratio));
        assert_true(fabs(r->fold - fold) <= 1e-12 * fabs(fold));
        assert_int_equal(r->sat, 0);
        if (strcmp(r->band, "sum") == 0) {
            /* The two rows before are its upper and lower bands. */
            assert_true(k >= 2);
            assert_string_equal(t->t[k - 2].band, "upper");
            assert_string_equal(t->t[k - 1].band, "lower");
            assert_true(fabs(r->phospho - t->t[k - 2].phospho -
                             t->t[k - 1].phospho) <= 1e-9 * r->phospho);
        }
    }
    for (size_t k = 0; k < t->nr; k++) {
        const struct rrow *r = &t->r[k];
        snprintf(path, sizeof path, "%s/%s", dir, r->file);
        assert_true(bq_test_exists(path));
        if (strcmp(r->role, "phospho") == 0) {
            assert_true(r->dx == 0.0 && r->dy == 0.0 && r->deg == 0.0);
        } else {
            assert_true(strcmp(r->role, "total") == 0 ||
                        strcmp(r->role, "loading") == 0);
            assert_true(fabs(r->dx) <= max_shift);
            assert_true(fabs(r->dy) <= max_shift);
            assert_true(fabs(r->deg) <= max_deg);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* The manifest, read with inih                                            */
/* ---------------------------------------------------------------------- */

struct ini_seen {
    const char *dir;  /* experiment folder */
    int experiment;   /* keys in [experiment] */
    int lanes;        /* keys in [lanes] */
    int lane1_ladder; /* 1 = ladder */
    int blots;        /* phospho = keys seen (one per blot section) */
    int files;        /* phospho/total/loading files that exist */
    int kda;          /* band = kda N lines */
    int doublet_sum;  /* doublet = sum lines */
    int bad;          /* unexpected sections or keys */
};

/* inih handler: counts what the manifest holds. Returns 1 (continue). */
static int
count_ini(void *user, const char *section, const char *name, const char *value)
{
    struct ini_seen *s = user;
    char path[1200];

    if (strcmp(section, "experiment") == 0) {
        s->experiment++;
    } else if (strcmp(section, "lanes") == 0) {
        s->lanes++;
        if (strcmp(name, "1") == 0)
            s->lane1_ladder = strcmp(value, "ladder") == 0;
    } else if (strncmp(section, "blot ", 5) == 0) {
        if (strcmp(name, "phospho") == 0)
            s->blots++;
        if (strcmp(name, "phospho") == 0 || strcmp(name, "total") == 0 ||
            strcmp(name, "loading") == 0) {
            snprintf(path, sizeof path, "%s/%s", s->dir, value);
            s->files += bq_test_exists(path);
        }
        if (strcmp(name, "band") == 0)
            s->kda += strncmp(value, "kda ", 4) == 0;
        if (strcmp(name, "doublet") == 0)
            s->doublet_sum += strcmp(value, "sum") == 0;
    } else {
        s->bad++;
    }
    return 1;
}

/* ---------------------------------------------------------------------- */
/* The expgen command                                                      */
/* ---------------------------------------------------------------------- */

/* A small experiment: files, truth and manifest. */
static void
test_expgen_experiment(void **state)
{
    char dir[1024], cmd[2048], path[1200];
    struct truth t;
    struct ini_seen s;

    (void)state;
    need_exe();
    snprintf(dir, sizeof dir, "%s/exp", bq_test_tmpdir("expgen"));
    snprintf(cmd, sizeof cmd,
             "'%s' -o '%s' --replicates 2 --seed 7 "
             "--width 480 --height 200 --max-shift 6 --max-angle 1",
             EXE, dir);
    assert_int_equal(run(cmd), 0);
    read_truth(dir, &t);
    /* 2 replicates x (3 single-band blots + ERK with upper, lower, sum) x
     * 16 quantified lanes; 3 scans per blot; 2 agents x 4 targets. */
    assert_int_equal(t.nt, 2 * (3 + 3) * 16);
    assert_int_equal(t.nr, 2 * 4 * 3);
    assert_int_equal(t.nparams, 8);
    assert_true(t.ec50[0] == 13.4 && t.ec50[4] == 0.4);
    check_truth(dir, &t, 6.0, 1.0);
    for (size_t k = 0; k < t.nt; k++)
        assert_true(isfinite(t.t[k].loading) && t.t[k].loading > 0.0);
    free(t.t);

    memset(&s, 0, sizeof s);
    s.dir = dir;
    snprintf(path, sizeof path, "%s/blotquant.ini", dir);
    assert_int_equal(ini_parse(path, count_ini, &s), 0);
    assert_int_equal(s.experiment, 3);
    assert_int_equal(s.lanes, 17);
    assert_true(s.lane1_ladder);
    assert_int_equal(s.blots, 8);
    assert_int_equal(s.files, 8 * 3);
    assert_int_equal(s.kda, 8);
    assert_int_equal(s.doublet_sum, 2);
    assert_int_equal(s.bad, 0);
    snprintf(path, sizeof path, "%s/rep2/GAPDH_ERK.tif", dir);
    assert_true(bq_test_exists(path));
}

/* The same command writes byte-identical files. */
static void
test_expgen_deterministic(void **state)
{
    char base[1024], cmd[4096];

    (void)state;
    need_exe();
    snprintf(base, sizeof base, "%s", bq_test_tmpdir("expgen_det"));
    snprintf(cmd, sizeof cmd,
             "'%s' -o '%s/a' --replicates 1 --width 400 "
             "--height 160 && '%s' -o '%s/b' --replicates 1 --width 400 "
             "--height 160 && diff -r '%s/a' '%s/b'",
             EXE, base, EXE, base, base, base);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "'%s' -o '%s/c' --replicates 1 --width 400 "
             "--height 160 --seed 2 && diff -r '%s/a' '%s/c'",
             EXE, base, base, base);
    assert_int_equal(run(cmd), 1);
}

/* --no-manifest: one folder, names that pair, no ladder lane. */
static void
test_expgen_no_manifest(void **state)
{
    char dir[1024], cmd[2048], path[1200];
    static const char *const names[] = {
        "pSTAT3_rep1.tif", "STAT3_rep1.tif", "GAPDH_STAT3_rep1.tif",
        "pERK_rep1.tif",   "ERK_rep1.tif",   "GAPDH_ERK_rep1.tif"};
    struct truth t;

    (void)state;
    need_exe();
    snprintf(dir, sizeof dir, "%s", bq_test_tmpdir("expgen_nm"));
    snprintf(cmd, sizeof cmd,
             "'%s' -o '%s' --replicates 1 --no-manifest "
             "--width 400 --height 180",
             EXE, dir);
    assert_int_equal(run(cmd), 0);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        assert_true(bq_test_exists(path));
    }
    snprintf(path, sizeof path, "%s/blotquant.ini", dir);
    assert_false(bq_test_exists(path));
    read_truth(dir, &t);
    check_truth(dir, &t, 15.0, 2.0);
    assert_string_equal(t.t[0].blot, "pSTAT3_rep1");
    assert_int_equal(t.t[0].lane, 1); /* lane 1 is the control */
    assert_string_equal(t.t[0].condition, "vehicle");
    free(t.t);
}

/* --pair with --offset: one phospho/total pair at exactly that offset. */
static void
test_expgen_pair(void **state)
{
    char dir[1024], cmd[2048], path[1200];
    struct truth t;

    (void)state;
    need_exe();
    snprintf(dir, sizeof dir, "%s", bq_test_tmpdir("expgen_pair"));
    snprintf(cmd, sizeof cmd,
             "'%s' -o '%s' --pair pERK --offset "
             "12,-7.5,1.5 --doublet-each",
             EXE, dir);
    assert_int_equal(run(cmd), 0);
    read_truth(dir, &t);
    check_truth(dir, &t, 12.0, 1.5);
    assert_int_equal(t.nr, 2);
    assert_string_equal(t.r[1].file, "rep1/ERK.tif");
    assert_true(t.r[1].dx == 12.0 && t.r[1].dy == -7.5 && t.r[1].deg == 1.5);
    assert_int_equal(t.nt, 3 * 16);
    assert_true(isnan(t.t[0].loading));
    free(t.t);
    snprintf(path, sizeof path, "%s/rep1/GAPDH_ERK.tif", dir);
    assert_false(bq_test_exists(path));
    snprintf(path, sizeof path, "%s/rep1/pSTAT3.tif", dir);
    assert_false(bq_test_exists(path));
}

/* Usage errors exit 2, --help 0. */
static void
test_expgen_usage(void **state)
{
    char cmd[2048];
    const char *dir;

    (void)state;
    need_exe();
    dir = bq_test_tmpdir("expgen_usage");
    assert_int_equal(run(EXE " --help"), 0);
    assert_int_equal(run(EXE), 2);
    assert_int_equal(run(EXE " -o x --bogus"), 2);
    assert_int_equal(run(EXE " -o x --replicates 0"), 2);
    assert_int_equal(run(EXE " -o x --max-angle 20"), 2);
    assert_int_equal(run(EXE " -o x --offset 1,2"), 2);
    assert_int_equal(run(EXE " -o x --pair pFOO"), 2);
    snprintf(cmd, sizeof cmd, EXE " -o '%s/no/such/dir'", dir);
    assert_int_equal(run(cmd), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membrane_volumes),
        cmocka_unit_test(test_membrane_peak_scaling),
        cmocka_unit_test(test_membrane_registration),
        cmocka_unit_test(test_membrane_seeds),
        cmocka_unit_test(test_membrane_invalid),
        cmocka_unit_test(test_predictor_roundtrip),
        cmocka_unit_test(test_expgen_experiment),
        cmocka_unit_test(test_expgen_deterministic),
        cmocka_unit_test(test_expgen_no_manifest),
        cmocka_unit_test(test_expgen_pair),
        cmocka_unit_test(test_expgen_usage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
