/* Quantify stage on hand-made bands (src/quantify.c): which of the file's
 * saturated pixels a band's box holds, through the deskew rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blotquant/analysis.h"
#include "blotquant/background.h"
#include "blotquant/bands.h"
#include "blotquant/image.h"
#include "blotquant/layout.h"

#define W 300
#define H 240

/* One lane at x 150 (40 px wide) with one band whose box is
 * [130, 170) x [100, 130) in the deskewed frame. */
static void
one_band(struct bq_layout *l, struct bq_lane *ln, struct bq_bandset *set,
         struct bq_band *b)
{
    memset(l, 0, sizeof *l);
    memset(ln, 0, sizeof *ln);
    memset(set, 0, sizeof *set);
    memset(b, 0, sizeof *b);
    ln->x = 150;
    ln->width = 40;
    ln->left = 130;
    ln->right = 170;
    l->nstrips = 1;
    l->nlanes = 1;
    l->lanes = ln;
    l->noise = 1;
    b->y = 115;
    b->top = b->sum_top = 100;
    b->bottom = b->sum_bottom = 130;
    b->left = 130;
    b->right = 170;
    b->frac = 1;
    set->n = set->cap = 1;
    set->b = b;
}

/* A band whose peak touched the file's maximum in one pixel is saturated
 * wherever that pixel lies in its box, on a turned scan too, and the
 * pixel counts once. Sampling the box's own pixels mapped back through the
 * rotation (as before) skips some of the file's pixels and visits others
 * twice: at 4.2 degrees a lone saturated pixel at the band's peak went
 * unflagged (generated seed 4570). Every pixel of the box's middle is
 * tried, at 0, 4.2 and -3 degrees; at 0 degrees the pixels on and just
 * outside each edge; and a pixel beyond the turned box counts none. */
static void
test_lone_saturated_pixel_on_turned_scan(void **state)
{
    static const double angles[] = {0, 4.22, -3.0};
    struct bq_image *sig = bq_image_create(W, H, NULL);
    unsigned char *mask = calloc(W * H, 1);
    struct bq_background bg;
    struct bq_layout l;
    struct bq_lane ln;
    struct bq_bandset set;
    struct bq_band b;
    (void)state;
    assert_non_null(sig);
    assert_non_null(mask);
    memset(&bg, 0, sizeof bg);
    for (size_t a = 0; a < sizeof angles / sizeof *angles; a++) {
        size_t tried = 0, wrong = 0;
        for (int iy = 80; iy < 150; iy++)
            for (int ix = 110; ix < 190; ix++) {
                double dx, dy;
                /* the file's pixels that the deskew puts in the box's
                 * middle, 4 px in from its edges */
                bq_rotate_point(W, H, -angles[a], ix, iy, &dx, &dy);
                if (dx < 134 || dx >= 166 || dy < 104 || dy >= 126)
                    continue;
                one_band(&l, &ln, &set, &b);
                mask[iy * W + ix] = 1;
                bq_bands_measure(sig, mask, &bg, &l, angles[a], 0, &set);
                mask[iy * W + ix] = 0;
                tried++;
                wrong += b.sat_px != 1;
            }
        printf("%.2f degrees: %zu of %zu placements counted wrong\n",
               angles[a], wrong, tried);
        assert_int_equal(wrong, 0);
    }
    /* at 0 degrees the box is its pixels 130..169 x 100..129: a pixel
     * just outside each edge counts none, one on the edge counts once */
    {
        static const int at[8][3] = {
            {129, 115, 0}, {130, 115, 1}, {169, 115, 1}, {170, 115, 0},
            {150, 99, 0},  {150, 100, 1}, {150, 129, 1}, {150, 130, 0}};
        for (int i = 0; i < 8; i++) {
            one_band(&l, &ln, &set, &b);
            mask[at[i][1] * W + at[i][0]] = 1;
            bq_bands_measure(sig, mask, &bg, &l, 0, 0, &set);
            mask[at[i][1] * W + at[i][0]] = 0;
            assert_int_equal(b.sat_px, at[i][2]);
        }
    }
    /* a saturated pixel well outside the box is not the band's */
    one_band(&l, &ln, &set, &b);
    mask[60 * W + 150] = 1;
    bq_bands_measure(sig, mask, &bg, &l, 4.22, 0, &set);
    assert_int_equal(b.sat_px, 0);
    free(mask);
    bq_image_destroy(sig);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lone_saturated_pixel_on_turned_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
