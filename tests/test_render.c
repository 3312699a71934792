/* Tests of the overlay renderer (src/render.c): a hand-built analysis of a
 * small synthetic scan is rendered, the PNG is read back with cairo, and
 * pixels are checked where the geometry says the outlines must be. The
 * renderer is the only library code that includes cairo; the test reads
 * PNGs with it because that is the simplest exact decoder at hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>

#include "blotquant/render.h"
#include "testutil.h"

/* fontconfig (under pango) keeps its font cache for the life of the
 * process; LeakSanitizer would report it when built with BQ_SANITIZE. This
 * hook is read by LSan only; it is an unused function otherwise. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:libfontconfig\n";
}

/* ---- fixture ----------------------------------------------------------- */

#define W 400 /* scan width, px: enlarged 2x by the renderer */
#define H 300
#define BG 1000.0f

/* A hand-made analysis: one strip (rows 40..260), two lanes, three bands;
 * the second band of lane 1 is saturated. Arrays live in the fixture (no
 * bq_analysis_fini). */
struct fx {
    struct bq_analysis a;
    struct bq_strip strip;
    struct bq_lane lanes[2];
    struct bq_band bands[3];
    struct bq_image *disp; /* prepared scan: BG + Gaussian bands */
    struct bq_image *sig;  /* the same minus BG */
};

/* Adds a Gaussian band of peak AMP at (X0..X1, Y SD S) to IMG. */
static void
add_band(struct bq_image *img, double x0, double x1, double y, double s,
         double amp)
{
    for (size_t r = 0; r < img->height; r++)
        for (size_t x = (size_t)x0; x < (size_t)x1; x++) {
            double d = ((double)r - y) / s;
            bq_row(img, r)[x] += (float)(amp * exp(-0.5 * d * d));
        }
}

static void
set_band(struct bq_band *b, size_t lane, size_t index, double y,
         const struct bq_lane *ln)
{
    memset(b, 0, sizeof *b);
    b->lane = lane;
    b->index = index;
    b->y = y;
    b->top = y - 10;
    b->bottom = y + 10;
    b->left = ln->left;
    b->right = ln->right;
    b->frac = 1;
    b->volume = 1234567.0 * (double)(lane + 1) * (double)(index + 1);
    b->ox = ln->x;
    b->oy = y;
}

static int
setup(void **state)
{
    struct bq_error err = {BQ_OK, ""};
    struct fx *f = calloc(1, sizeof *f);
    struct bq_analysis *a;

    if (!f)
        return -1;
    a = &f->a;
    a->width = W;
    a->height = H;
    a->bit_depth = 16;
    a->max_code = 65535;
    a->prep.polarity = BQ_POLARITY_LIGHT_BANDS;
    a->bg_method = BQ_BG_FFT;
    a->bg_size = 50;
    a->noise = 10;

    f->strip = (struct bq_strip){40, 260, 160, 0, 2};
    f->lanes[0] = (struct bq_lane){0, 0, 120, 80, 70, 170, 0, 0, 0};
    f->lanes[1] = (struct bq_lane){0, 1, 280, 80, 230, 330, 0, 0, 0};
    set_band(&f->bands[0], 0, 0, 100, &f->lanes[0]);
    set_band(&f->bands[1], 0, 1, 180, &f->lanes[0]);
    set_band(&f->bands[2], 1, 0, 100, &f->lanes[1]);
    f->bands[1].sat_px = 12;
    a->layout.nstrips = 1;
    a->layout.nlanes = 2;
    a->layout.strips = &f->strip;
    a->layout.lanes = f->lanes;
    a->bands.n = 3;
    a->bands.b = f->bands;

    f->disp = bq_image_create(W, H, &err);
    f->sig = bq_image_create(W, H, &err);
    if (!f->disp || !f->sig)
        return -1;
    add_band(f->sig, 80, 160, 100, 4, 2000);
    add_band(f->sig, 80, 160, 180, 4, 60000);
    add_band(f->sig, 240, 320, 100, 4, 300); /* faint */
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++)
            bq_row(f->disp, y)[x] = BG + bq_row(f->sig, y)[x];
    a->signal = f->sig;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    bq_image_destroy(f->disp);
    bq_image_destroy(f->sig);
    free(f);
    return 0;
}

/* ---- PNG reading ------------------------------------------------------- */

struct png {
    cairo_surface_t *s;
    int w, h, stride;
    const unsigned char *data;
};

static void
png_read(const char *path, struct png *p)
{
    p->s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(p->s) != CAIRO_STATUS_SUCCESS)
        fail_msg("cannot read %s back: %s", path,
                 cairo_status_to_string(cairo_surface_status(p->s)));
    p->w = cairo_image_surface_get_width(p->s);
    p->h = cairo_image_surface_get_height(p->s);
    p->stride = cairo_image_surface_get_stride(p->s);
    p->data = cairo_image_surface_get_data(p->s);
}

/* 0xRRGGBB of pixel (X, Y) (opaque PNG: no premultiplication). */
static unsigned
px_at(const struct png *p, int x, int y)
{
    uint32_t v;

    assert_true(x >= 0 && x < p->w && y >= 0 && y < p->h);
    memcpy(&v, p->data + (size_t)y * (size_t)p->stride + (size_t)x * 4, 4);
    return v & 0xffffffu;
}

static int
near_rgb(unsigned a, unsigned b, int tol)
{
    for (int sh = 0; sh <= 16; sh += 8) {
        int d = (int)((a >> sh) & 255) - (int)((b >> sh) & 255);
        if (d > tol || d < -tol)
            return 0;
    }
    return 1;
}

/* 1 if a pixel within R px of (X, Y) has colour RGB (within TOL). */
static int
find_rgb(const struct png *p, double x, double y, int r, unsigned rgb, int tol)
{
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int xi = (int)floor(x) + dx, yi = (int)floor(y) + dy;
            if (xi >= 0 && xi < p->w && yi >= 0 && yi < p->h &&
                near_rgb(px_at(p, xi, yi), rgb, tol))
                return 1;
        }
    return 0;
}

/* Renders A with DISP into DIR/NAME, asserting success; returns the path
 * (static buffer). */
static const char *
render_ok(const char *name, const struct bq_image *disp,
          const struct bq_analysis *a)
{
    static char path[1024];
    struct bq_error err = {BQ_OK, ""};
    const char *dir = bq_test_tmpdir(name);

    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/overlay.png", dir);
    if (bq_render_overlay(path, disp, a, "test \u00b5 blot.tif", &err) != BQ_OK)
        fail_msg("render: %s", err.msg);
    return path;
}

/* ---- tests ------------------------------------------------------------- */

/* Geometry: a 400 px scan is enlarged 2x; the PNG has the announced size. */
static void
test_geometry_and_size(void **state)
{
    struct fx *f = *state;
    struct bq_render_geom g;
    struct png p;
    double x, y;

    bq_render_geometry(&f->a, &g);
    assert_true(fabs(g.scale - 2.0) < 1e-12);
    assert_int_equal(g.blot_w, 2 * W);
    assert_int_equal(g.blot_h, 2 * H);
    assert_true(g.width >= g.blot_w && g.width <= 1700);
    assert_true(g.blot_x >= 0 && g.blot_x + g.blot_w <= g.width);
    assert_true(g.profiles_y > g.blot_y + g.blot_h);
    assert_true(g.profile_cols >= 2);
    assert_int_equal(g.profile_rows, 1);
    assert_true(g.height > g.profiles_y + g.profile_h);
    /* pixel centre (0,0) maps to the middle of the first 2x2 block */
    bq_render_map_point(&f->a, &g, 0, 0, &x, &y);
    assert_true(fabs(x - (g.blot_x + 1.0)) < 1e-9);
    assert_true(fabs(y - (g.blot_y + 1.0)) < 1e-9);

    png_read(render_ok("render_size", f->disp, &f->a), &p);
    assert_int_equal(p.w, g.width);
    assert_int_equal(p.h, g.height);
    cairo_surface_destroy(p.s);
}

/* A wide scan is scaled down to 1600 px; a tall one to 2000 px. */
static void
test_geometry_downscale(void **state)
{
    struct fx *f = *state;
    struct bq_analysis a = f->a;
    struct bq_render_geom g;

    a.width = 4096;
    a.height = 3072;
    a.layout.nlanes = 0;
    a.layout.nstrips = 0;
    a.bands.n = 0;
    bq_render_geometry(&a, &g);
    assert_int_equal(g.blot_w, 1600);
    assert_int_equal(g.blot_h, 1200);
    assert_int_equal(g.profiles_y, -1); /* no lanes: no profiles */
    a.width = 1000;
    a.height = 8000;
    bq_render_geometry(&a, &g);
    assert_int_equal(g.blot_h, 2000);
    assert_int_equal(g.blot_w, 250);
}

/* Lane outlines are blue, the saturated band vermilion, the others green,
 * the background white and a strong band dark: at the mapped positions. */
static void
test_pixels(void **state)
{
    struct fx *f = *state;
    struct bq_render_geom g;
    struct png p;
    double x, y;
    unsigned v;

    bq_render_geometry(&f->a, &g);
    png_read(render_ok("render_pixels", f->disp, &f->a), &p);

    /* lane 1, left edge (pixel column 70's outer side), between bands */
    bq_render_map_point(&f->a, &g, 69.5, 140, &x, &y);
    assert_true(fabs(x - (g.blot_x + 140.0)) < 1e-9);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_LANE_RGB, 6));
    /* lane 2, right edge, low in the strip (no band there) */
    bq_render_map_point(&f->a, &g, 329.5, 240, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_LANE_RGB, 6));
    /* the saturated band: left edge at mid-height, and top edge */
    bq_render_map_point(&f->a, &g, 69.5, 180, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_SAT_RGB, 6));
    assert_false(find_rgb(&p, x, y, 1, BQ_RENDER_LANE_RGB, 6));
    bq_render_map_point(&f->a, &g, 100, 169.5, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_SAT_RGB, 6));
    /* a normal band: green, not vermilion */
    bq_render_map_point(&f->a, &g, 69.5, 100, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_BAND_RGB, 6));
    assert_false(find_rgb(&p, x, y, 2, BQ_RENDER_SAT_RGB, 40));
    bq_render_map_point(&f->a, &g, 329.5, 100, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_BAND_RGB, 6));

    /* background far from everything: near white, gray */
    bq_render_map_point(&f->a, &g, 20, 20, &x, &y);
    v = px_at(&p, (int)x, (int)y);
    assert_true(near_rgb(v, 0xffffff, 30));
    /* the strong band's centre is dark; the faint one visibly gray */
    bq_render_map_point(&f->a, &g, 120, 180, &x, &y);
    v = px_at(&p, (int)x, (int)y);
    assert_true((v & 255) < 60);
    bq_render_map_point(&f->a, &g, 280, 100, &x, &y);
    v = px_at(&p, (int)x, (int)y);
    assert_true((v & 255) < 225 && (v & 255) > 20);

    /* profile panel: the saturated band's extent is shaded in vermilion
     * at 35 % over white somewhere in the panel */
    {
        unsigned sh = 0;
        int found = 0;
        for (int s = 16; s >= 0; s -= 8) {
            double c = (BQ_RENDER_SAT_RGB >> s) & 255;
            sh |= (unsigned)lround(255 * 0.65 + c * 0.35) << s;
        }
        for (int yy = g.profiles_y; yy < g.height && !found; yy++)
            for (int xx = 0; xx < g.width && !found; xx++)
                found = near_rgb(px_at(&p, xx, yy), sh, 4);
        assert_true(found);
    }
    cairo_surface_destroy(p.s);
}

/* A deskewed analysis: outlines are rotated with bq_rotate_point. */
static void
test_rotated(void **state)
{
    struct fx *f = *state;
    struct bq_analysis a = f->a;
    struct bq_render_geom g;
    struct png p;
    double x, y, ox, oy;

    a.angle = 4.0;
    bq_render_geometry(&a, &g);
    png_read(render_ok("render_rotated", f->disp, &a), &p);
    bq_render_map_point(&a, &g, 69.5, 140, &x, &y);
    bq_rotate_point(W, H, 4.0, 69.5, 140, &ox, &oy);
    assert_true(fabs(x - (g.blot_x + (ox + 0.5) * g.scale)) < 1e-9);
    assert_true(fabs(oy - 140) > 2); /* really moved */
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_LANE_RGB, 6));
    bq_render_map_point(&a, &g, 69.5, 180, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_SAT_RGB, 6));
    cairo_surface_destroy(p.s);
}

/* No bands, no lanes, no display, no signal: all render. */
static void
test_empty(void **state)
{
    struct fx *f = *state;
    struct bq_analysis a = f->a;
    struct bq_render_geom g;
    struct png p;

    a.bands.n = 0;
    a.bands.b = NULL;
    png_read(render_ok("render_nobands", f->disp, &a), &p);
    cairo_surface_destroy(p.s);

    a.layout.nlanes = 0;
    a.layout.nstrips = 0;
    a.layout.lanes = NULL;
    a.layout.strips = NULL;
    bq_render_geometry(&a, &g);
    assert_int_equal(g.profiles_y, -1);
    png_read(render_ok("render_nolanes", f->disp, &a), &p);
    assert_int_equal(p.h, g.height);
    cairo_surface_destroy(p.s);

    a = f->a;
    a.signal = NULL;
    bq_render_geometry(&a, &g);
    assert_int_equal(g.profiles_y, -1);
    png_read(render_ok("render_nosignal", NULL, &a), &p);
    assert_int_equal(p.h, g.height);
    cairo_surface_destroy(p.s);

    /* a signal image that is not of this scan: no profiles either */
    {
        struct bq_error err = {BQ_OK, ""};
        struct bq_image *other = bq_image_create(W / 2, H, &err);
        assert_non_null(other);
        a.signal = other;
        bq_render_geometry(&a, &g);
        assert_int_equal(g.profiles_y, -1);
        png_read(render_ok("render_othersignal", f->disp, &a), &p);
        assert_int_equal(p.h, g.height);
        cairo_surface_destroy(p.s);
        bq_image_destroy(other);
    }
}

/* Non-finite coordinates and volumes are skipped or shown as "n/a", never
 * drawn from garbage; a title with markup characters is plain text. */
static void
test_garbage(void **state)
{
    struct fx *f = *state;
    struct bq_error err = {BQ_OK, ""};
    struct bq_analysis a = f->a;
    struct bq_lane lanes[2];
    struct bq_band bands[3];
    struct bq_render_geom g, g0;
    const char *dir = bq_test_tmpdir("render_garbage");
    char path[1200];

    assert_non_null(dir);
    memcpy(lanes, f->lanes, sizeof lanes);
    memcpy(bands, f->bands, sizeof bands);
    lanes[1].x = NAN;
    lanes[1].left = -INFINITY;
    bands[0].top = NAN;
    bands[1].volume = NAN;
    bands[2].right = 1e300;
    a.layout.lanes = lanes;
    a.bands.b = bands;
    snprintf(path, sizeof path, "%s/overlay.png", dir);
    assert_int_equal(
        bq_render_overlay(path, f->disp, &a, "<b>&amp; \u03b1", &err), BQ_OK);
    assert_true(bq_test_exists(path));
    /* the bad lane does not widen the canvas */
    bq_render_geometry(&a, &g);
    bq_render_geometry(&f->a, &g0);
    assert_int_equal(g.width, g0.width);
    assert_int_equal(g.blot_x, g0.blot_x);
}

/* Writing into a folder that does not exist fails with BQ_ERR_IO and a
 * message naming the path; nothing is created. */
static void
test_write_error(void **state)
{
    struct fx *f = *state;
    struct bq_error err = {BQ_OK, ""};
    char path[1200];
    const char *dir = bq_test_tmpdir("render_err");

    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/no-such-folder/overlay.png", dir);
    assert_int_equal(bq_render_overlay(path, f->disp, &f->a, NULL, &err),
                     BQ_ERR_IO);
    assert_int_equal(err.status, BQ_ERR_IO);
    assert_non_null(strstr(err.msg, path));
    assert_false(bq_test_exists(path));
}

/* Bad arguments: a display of the wrong size, a band of a missing lane. */
static void
test_invalid(void **state)
{
    struct fx *f = *state;
    struct bq_error err = {BQ_OK, ""};
    struct bq_image *small = bq_image_create(10, 10, &err);
    struct bq_analysis a = f->a;
    struct bq_band b = f->bands[0];
    const char *dir = bq_test_tmpdir("render_inv");
    char path[1200];

    assert_non_null(small);
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/x.png", dir);
    assert_int_equal(bq_render_overlay(path, small, &f->a, NULL, &err),
                     BQ_ERR_INVALID);
    assert_non_null(strstr(err.msg, "10x10"));
    bq_error_clear(&err);
    b.lane = 7;
    a.bands.n = 1;
    a.bands.b = &b;
    assert_int_equal(bq_render_overlay(path, f->disp, &a, NULL, &err),
                     BQ_ERR_INVALID);
    assert_int_equal(bq_render_overlay(NULL, f->disp, &f->a, NULL, NULL),
                     BQ_ERR_INVALID);
    assert_false(bq_test_exists(path));
    bq_image_destroy(small);
}

/* Compact volumes: 3 significant digits, SI suffixes, rounding carried. */
static void
test_format(void **state)
{
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {0, "0"},           {5, "5.00"},       {987, "987"},
        {999.7, "1.00k"},   {1234, "1.23k"},   {12345, "12.3k"},
        {123456, "123k"},   {1.2e6, "1.20M"},  {-45600, "-45.6k"},
        {2.5e9, "2.50G"},   {7.1e12, "7.10T"}, {3e15, "3.00e+15"},
        {0.0123, "0.0123"}, {NAN, "n/a"},      {INFINITY, "n/a"},
    };
    char buf[16];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(bq_render_format_value(cases[i].v, buf, sizeof buf),
                            cases[i].s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_geometry_and_size, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_geometry_downscale, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pixels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
