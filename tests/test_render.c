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
#include "png_write.h"
#include "testutil.h"


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

/* Dark pixels (every channel under 120) in the PNG rectangle of the scan
 * box [X0, X1] x [Y0, Y1]. */
static int
dark_in(const struct png *p, const struct bq_analysis *a,
        const struct bq_render_geom *g, double x0, double x1, double y0,
        double y1)
{
    double px0, py0, px1, py1;
    int n = 0;

    bq_render_map_point(a, g, x0, y0, &px0, &py0);
    bq_render_map_point(a, g, x1, y1, &px1, &py1);
    for (int y = (int)ceil(py0); y < (int)py1; y++)
        for (int x = (int)ceil(px0); x < (int)px1; x++) {
            unsigned v = px_at(p, x, y);
            n += ((v >> 16) & 255) < 120 && ((v >> 8) & 255) < 120 &&
                 (v & 255) < 120;
        }
    return n;
}

/* A bare analysis of a W x H 16-bit light-bands scan: one strip STRIP of
 * NLANES lanes LANES, and NBANDS bands BANDS (the arrays are borrowed). */
static void
bare_analysis(struct bq_analysis *a, struct bq_strip *strip,
              struct bq_lane *lanes, size_t nlanes, struct bq_band *bands,
              size_t nbands)
{
    memset(a, 0, sizeof *a);
    a->layout.nstrips = 1;
    a->layout.nlanes = nlanes;
    a->layout.strips = strip;
    a->layout.lanes = lanes;
    a->bands.n = nbands;
    a->bands.b = bands;
    a->width = W;
    a->height = H;
    a->bit_depth = 16;
    a->max_code = 65535;
    a->prep.polarity = BQ_POLARITY_LIGHT_BANDS;
    a->bg_method = BQ_BG_FFT;
    a->bg_size = 50;
    a->noise = 10;
}

/* Three touching lanes; the middle one holds eight touching bands, the
 * others none. No volume fits above, below or beside its box without
 * covering another band or another lane, so each goes inside its own box
 * (or is not printed): none may sit over the empty lanes beside, where it
 * would read as theirs (it did, on crowded real scans). */
static void
test_labels_stay_in_their_lane(void **state)
{
    struct bq_analysis a;
    struct bq_strip strip = {40, 260, 80, 0, 3};
    struct bq_lane lanes[3];
    struct bq_band bands[8];
    struct bq_render_geom g;
    struct png p;
    (void)state;

    bare_analysis(&a, &strip, lanes, 3, bands, 8);
    for (size_t i = 0; i < 3; i++)
        lanes[i] = (struct bq_lane){0, i, 90 + 80.0 * (double)i, 80,
                                    50 + 80.0 * (double)i,
                                    130 + 80.0 * (double)i, 0, 0, 0};
    for (size_t k = 0; k < 8; k++) {
        set_band(&bands[k], 1, k, 60 + 25.0 * (double)k, &lanes[1]);
        bands[k].top = bands[k].y - 12.5;
        bands[k].bottom = bands[k].y + 12.5;
    }

    bq_render_geometry(&a, &g);
    /* no scan drawn: every dark pixel is text */
    png_read(render_ok("render_crowded", NULL, &a), &p);
    /* inside the empty lanes (clear of their outlines), where the bands'
     * rows are */
    assert_int_equal(dark_in(&p, &a, &g, 53, 127, 45, 255), 0);
    assert_int_equal(dark_in(&p, &a, &g, 213, 287, 45, 255), 0);
    /* the volumes are printed: inside the middle lane */
    assert_true(dark_in(&p, &a, &g, 133, 207, 45, 255) > 500);
    cairo_surface_destroy(p.s);
}

/* Five touching lanes 24 px wide (48 in the PNG), one band each, on a
 * scan deskewed by 5 degrees: each lane leans 19 PNG px over its strip,
 * so its bounding box covers half of each neighbour. Every volume still
 * has room below its box, inside its own lane, and is printed there (with
 * bounding boxes for lanes, all five were left out). */
static void
test_labels_on_a_turned_scan(void **state)
{
    struct bq_error err = {BQ_OK, ""};
    struct bq_analysis a;
    struct bq_strip strip = {40, 260, 24, 0, 5};
    struct bq_lane lanes[5];
    struct bq_band bands[5];
    struct bq_image *disp = bq_image_create(W, H, &err);
    struct bq_render_geom g;
    struct png p;
    (void)state;

    assert_non_null(disp);
    bare_analysis(&a, &strip, lanes, 5, bands, 5);
    a.angle = 5.0;
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++)
            bq_row(disp, y)[x] = BG;
    for (size_t i = 0; i < 5; i++) {
        double x = 152 + 24.0 * (double)i;
        lanes[i] = (struct bq_lane){0, i, x, 20, x - 12, x + 12, 0, 0, 0};
        set_band(&bands[i], i, 0, 150, &lanes[i]);
        add_band(disp, x - 10, x + 10, 150, 3, 5000);
    }

    bq_render_geometry(&a, &g);
    png_read(render_ok("render_turned", disp, &a), &p);
    for (size_t i = 0; i < 5; i++)
        assert_true(dark_in(&p, &a, &g, lanes[i].left + 3, lanes[i].right - 3,
                            161, 168) > 0);
    cairo_surface_destroy(p.s);
    bq_image_destroy(disp);
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

/* Number of pixels darker than 128 (all channels) in [X0, X1) x [Y0, Y1),
 * clipped to the PNG. */
static int
dark_count(const struct png *p, int x0, int y0, int x1, int y1)
{
    int n = 0;

    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < p->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < p->w; x++) {
            unsigned v = px_at(p, x, y);
            n += ((v >> 16) & 255) < 128 && ((v >> 8) & 255) < 128 &&
                 (v & 255) < 128;
        }
    return n;
}

/* Lane labels and a subtitle: the header and the label band make room
 * (the PNG has the size bq_render_geometry_ex says), outlines still lie
 * at the mapped coordinates in their colours, and the label band holds
 * text rising from above each labelled lane, none above an unlabelled
 * one. */
static void
test_labels(void **state)
{
    struct fx *f = *state;
    static const char *const labels[] = {"vehicle", "eltrombopag 0.1 nM"};
    static const char *const second[] = {"", "eltrombopag 0.1 nM"};
    struct bq_render_opts o = {labels, 2,
                               "pSTAT3 rep1 \u2014 phospho (rep1/pSTAT3.tif)"};
    struct bq_render_geom g, g0;
    struct bq_error err = {BQ_OK, ""};
    const char *dir = bq_test_tmpdir("render_labels");
    char path[1200];
    struct png p;
    double x, y, x1, y1, x2, y2;
    int bottom;

    assert_non_null(dir);
    bq_render_geometry(&f->a, &g0);
    bq_render_geometry_ex(&f->a, &o, &g);
    assert_int_equal(g0.labels_h, 0);
    assert_true(g.labels_y > g0.labels_y); /* the subtitle's line */
    /* "eltrombopag 0.1 nM" at 45 degrees: at least 9 px type, 60 px long */
    assert_true(g.label_px >= 9 && g.label_px <= 13);
    assert_true(g.labels_h >= 45 && g.labels_h < 250);
    assert_int_equal(g.blot_y - g.labels_y - g.labels_h,
                     g0.blot_y - g0.labels_y);
    assert_int_equal(g.blot_w, g0.blot_w);
    assert_int_equal(g.height - g.blot_y, g0.height - g0.blot_y);

    snprintf(path, sizeof path, "%s/labelled.png", dir);
    if (bq_render_overlay_ex(path, f->disp, &f->a, "experiment", &o, &err) !=
        BQ_OK)
        fail_msg("render: %s", err.msg);
    png_read(path, &p);
    assert_int_equal(p.w, g.width);
    assert_int_equal(p.h, g.height);
    /* outlines in the labelled geometry */
    bq_render_map_point(&f->a, &g, 69.5, 140, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_LANE_RGB, 6));
    bq_render_map_point(&f->a, &g, 329.5, 240, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_LANE_RGB, 6));
    bq_render_map_point(&f->a, &g, 69.5, 180, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_SAT_RGB, 6));
    bq_render_map_point(&f->a, &g, 100, 169.5, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_SAT_RGB, 6));
    bq_render_map_point(&f->a, &g, 69.5, 100, &x, &y);
    assert_true(find_rgb(&p, x, y, 1, BQ_RENDER_BAND_RGB, 6));
    /* text at the foot of each lane's label, and along its diagonal */
    bq_render_map_point(&f->a, &g, 120, 40, &x1, &y1);
    bq_render_map_point(&f->a, &g, 280, 40, &x2, &y2);
    bottom = g.labels_y + g.labels_h;
    assert_true(dark_count(&p, (int)x1 - 8, bottom - 24, (int)x1 + 24, bottom) >
                20);
    assert_true(dark_count(&p, (int)x2 - 8, bottom - 24, (int)x2 + 24, bottom) >
                20);
    assert_true(dark_count(&p, (int)x2 + 20, g.labels_y, (int)x2 + g.labels_h,
                           bottom - 20) > 60);
    /* nothing in the band left of lane 1's label */
    assert_int_equal(dark_count(&p, 0, g.labels_y, (int)x1 - 12, bottom), 0);
    cairo_surface_destroy(p.s);

    /* lane 1 unlabelled: its foot is blank, lane 2's is not */
    o.lane_labels = second;
    snprintf(path, sizeof path, "%s/one.png", dir);
    assert_int_equal(
        bq_render_overlay_ex(path, f->disp, &f->a, "experiment", &o, &err),
        BQ_OK);
    png_read(path, &p);
    assert_int_equal(
        dark_count(&p, (int)x1 - 8, bottom - 24, (int)x1 + 24, bottom), 0);
    assert_true(dark_count(&p, (int)x2 - 8, bottom - 24, (int)x2 + 24, bottom) >
                20);
    cairo_surface_destroy(p.s);

    /* NULL options: exactly the plain overlay */
    bq_render_geometry_ex(&f->a, NULL, &g);
    assert_memory_equal(&g, &g0, sizeof g);
}

/* 1 if the files A and B have the same bytes. */
static int
same_bytes(const char *a, const char *b)
{
    char cmd[2600];

    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return bq_test_run(cmd) == 0;
}

/* A scan wider than the panel: bq_render_display_create box-filters it to
 * the panel (NaN counting as 0), and drawing over that or over the scan
 * itself gives the same bytes, as does drawing twice. A scan smaller than
 * its panel gets a copy. */
static void
test_display_reduced(void **state)
{
    struct fx *f = *state;
    struct bq_error err = {BQ_OK, ""};
    struct bq_analysis a = f->a;
    struct bq_render_geom g;
    struct bq_image *scan = bq_image_create(2000, 600, &err), *d, *copy;
    const char *dir = bq_test_tmpdir("render_reduced");
    char p1[1200], p2[1200], p3[1200];

    assert_non_null(scan);
    assert_non_null(dir);
    scan->bit_depth = 16;
    scan->max_code = 65535;
    for (size_t y = 0; y < 600; y++)
        for (size_t x = 0; x < 2000; x++)
            bq_row(scan, y)[x] = (float)((x * 7 + y * 13) % 1000) +
                                 (x > 900 && x < 1100 ? 20000.0f : 0.0f);
    bq_row(scan, 10)[10] = NAN;
    a.width = 2000;
    a.height = 600;
    a.signal = NULL;
    bq_render_geometry(&a, &g);
    assert_true(fabs(g.scale - 0.8) < 1e-12);

    d = bq_render_display_create(scan, &err);
    assert_non_null(d);
    assert_int_equal(d->width, 1600);
    assert_int_equal(d->height, 480);
    assert_int_equal(d->bit_depth, 16);
    assert_true(d->max_code == 65535);
    /* panel pixel (i, j) covers scan columns floor(i / 0.8) ..
     * floor((i + 1) / 0.8) - 1, rows likewise */
    for (int k = 0; k < 4; k++) {
        static const int ij[4][2] = {{0, 0}, {8, 8}, {777, 123}, {1599, 479}};
        int i = ij[k][0], j = ij[k][1];
        size_t x0 = (size_t)floor(i / 0.8), x1 = (size_t)floor((i + 1) / 0.8);
        size_t y0 = (size_t)floor(j / 0.8), y1 = (size_t)floor((j + 1) / 0.8);
        double sum = 0;
        for (size_t y = y0; y < y1; y++)
            for (size_t x = x0; x < x1; x++) {
                float v = bq_row(scan, y)[x];
                sum += isfinite(v) ? v : 0;
            }
        assert_true(fabs(bq_row(d, (size_t)j)[i] -
                         sum / (double)((x1 - x0) * (y1 - y0))) < 1e-2);
    }

    snprintf(p1, sizeof p1, "%s/full.png", dir);
    snprintf(p2, sizeof p2, "%s/reduced.png", dir);
    snprintf(p3, sizeof p3, "%s/again.png", dir);
    assert_int_equal(bq_render_overlay(p1, scan, &a, "wide", &err), BQ_OK);
    assert_int_equal(bq_render_overlay(p2, d, &a, "wide", &err), BQ_OK);
    assert_int_equal(bq_render_overlay(p3, scan, &a, "wide", &err), BQ_OK);
    assert_true(same_bytes(p1, p2));
    assert_true(same_bytes(p1, p3));

    /* the fixture's 400 px scan is enlarged: its display is a copy */
    copy = bq_render_display_create(f->disp, &err);
    assert_non_null(copy);
    assert_int_equal(copy->width, W);
    assert_int_equal(copy->height, H);
    assert_memory_equal(copy->px, f->disp->px, sizeof(float) * W * H);
    assert_null(bq_render_display_create(NULL, &err));
    bq_image_destroy(copy);
    bq_image_destroy(d);
    bq_image_destroy(scan);
}

/* The PNG writer: RGB and premultiplied ARGB pixels come back as written
 * (through cairo's libpng reader, which checks every CRC and the zlib
 * stream's Adler-32) from an image large enough to be compressed in
 * several parts; a missing folder is said in plain words and leaves no
 * file. */
static void
test_png_writer(void **state)
{
    enum { PW = 1000, PH = 700 };
    struct bq_error err = {BQ_OK, ""};
    const char *dir = bq_test_tmpdir("render_pngw");
    uint32_t *px = calloc((size_t)PW * PH, sizeof *px);
    char path[1200];
    struct png p;

    (void)state;
    assert_non_null(dir);
    assert_non_null(px);
    for (uint32_t y = 0; y < PH; y++)
        for (uint32_t x = 0; x < PW; x++) {
            uint32_t a = (x + y) % 3 == 0 ? 255 : (x * 5 + y) % 256;
            uint32_t r = (x * 3 + y) % 256 * a / 255, g = y % 256 * a / 255,
                     b = (x ^ y) % 256 * a / 255;
            px[y * PW + x] = a << 24 | r << 16 | g << 8 | b;
        }
    /* opaque: RGB, the top byte ignored */
    snprintf(path, sizeof path, "%s/rgb.png", dir);
    assert_int_equal(bq_png_write_rgb(path, (const unsigned char *)px, PW, PH,
                                      PW * 4, 0, BQ_PNG_FAST, &err),
                     BQ_OK);
    png_read(path, &p);
    assert_int_equal(p.w, PW);
    assert_int_equal(p.h, PH);
    for (int y = 0; y < PH; y += 7)
        for (int x = 0; x < PW; x += 3)
            assert_int_equal(px_at(&p, x, y), px[y * PW + x] & 0xffffffu);
    cairo_surface_destroy(p.s);
    /* with alpha: un-premultiplied on writing, premultiplied by cairo on
     * reading; equal within rounding */
    snprintf(path, sizeof path, "%s/argb.png", dir);
    assert_int_equal(bq_png_write_rgb(path, (const unsigned char *)px, PW, PH,
                                      PW * 4, 1, BQ_PNG_FAST, &err),
                     BQ_OK);
    png_read(path, &p);
    for (int y = 0; y < PH; y += 5)
        for (int x = 0; x < PW; x += 3) {
            uint32_t v;
            memcpy(&v, p.data + (size_t)y * (size_t)p.stride + (size_t)x * 4,
                   4);
            assert_int_equal(v >> 24, px[y * PW + x] >> 24);
            assert_true(near_rgb(v, px[y * PW + x], 1));
        }
    cairo_surface_destroy(p.s);
    /* a folder that does not exist */
    snprintf(path, sizeof path, "%s/none/x.png", dir);
    assert_int_equal(bq_png_write_rgb(path, (const unsigned char *)px, PW, PH,
                                      PW * 4, 0, BQ_PNG_FAST, &err),
                     BQ_ERR_IO);
    assert_non_null(strstr(err.msg, "folder does not exist"));
    assert_non_null(strstr(err.msg, path));
    assert_false(bq_test_exists(path));
    bq_error_clear(&err);
    assert_int_equal(bq_png_write_rgb(path, (const unsigned char *)px, 0, PH,
                                      PW * 4, 0, BQ_PNG_FAST, &err),
                     BQ_ERR_INVALID);
    free(px);
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
        cmocka_unit_test(test_labels_stay_in_their_lane),
        cmocka_unit_test(test_labels_on_a_turned_scan),
        cmocka_unit_test_setup_teardown(test_rotated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_display_reduced, setup, teardown),
        cmocka_unit_test(test_png_writer),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
