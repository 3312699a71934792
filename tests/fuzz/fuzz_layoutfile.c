/* Fuzz target: the --layout file parser, and the pipeline on a small fixed
 * image with the boxes it read (boxes past the edges, overlapping, huge). */
#include <stdlib.h>

#include "fuzz.h"
#include "blotquant/analysis.h"

/* A 64 x 48 test card: a light background with two dark lanes of bands. */
static struct bq_image *
card(void)
{
    struct bq_image *img = bq_image_create(64, 48, NULL);

    if (!img)
        abort();
    img->bit_depth = 8;
    img->max_code = 255.0f;
    for (size_t y = 0; y < img->height; y++)
        for (size_t x = 0; x < img->width; x++) {
            int band = (x / 8) % 3 == 1 && (y / 6) % 2 == 1;
            bq_row(img, y)[x] = band ? 60.0f : 220.0f - (float)(x % 5);
        }
    return img;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = bq_fuzz_write("layout.csv", data, size);
    struct bq_box *boxes = NULL;
    size_t n = 0;
    struct bq_error err = {0};
    enum bq_status st = bq_layout_file_read(path, &boxes, &n, &err);

    bq_fuzz_check_error(st, &err, path);
    free(boxes);
    if (st == BQ_OK) {
        struct bq_analysis_opts o;
        struct bq_analysis res = {0};
        struct bq_image *img = card();

        bq_analysis_opts_init(&o);
        o.layout_file = path;
        err = (struct bq_error){0};
        st = bq_analyze_image(img, &o, &res, &err);
        bq_fuzz_check_error(st, &err, NULL);
        bq_analysis_fini(&res);
        bq_image_destroy(img);
    }
    return 0;
}
