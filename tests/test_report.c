/* The report page and index.html of a batch run on the sample: sizes as
 * specified, what was drawn, every linked file present, and every image of
 * index.html loaded in headless Chromium (Debian's chromium; the test
 * script installs it; this test skips that part when it is missing unless
 * BQ_REQUIRE_CHROMIUM is set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>

#include "testutil.h"

#define BQ BQ_BINARY_DIR "/blotquant"

static char out[1024];


static int
setup(void **state)
{
    char cmd[4096];
    (void)state;
    snprintf(out, sizeof out, "%s", bq_test_tmpdir("report"));
    snprintf(cmd, sizeof cmd, BQ " batch '%s/samples' -o '%s/out' -q",
             BQ_SOURCE_DIR, out);
    return bq_test_run(cmd) == 0 ? 0 : -1;
}

/* The report page: 2000 px wide, as tall as its content; the charts,
 * strips and table are there (non-white pixels in each band of it). */
static void
test_report_page(void **state)
{
    char path[2048];
    cairo_surface_t *s;
    int w, h, stride, inked_rows = 0;
    unsigned char *d;
    (void)state;

    snprintf(path, sizeof path, "%s/out/experiment/report.png", out);
    s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    w = cairo_image_surface_get_width(s);
    h = cairo_image_surface_get_height(s);
    assert_int_equal(w, 2000);
    assert_true(h > 3000);
    d = cairo_image_surface_get_data(s);
    stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++) {
        const uint32_t *r = (const uint32_t *)(void *)(d + (size_t)y * stride);
        for (int x = 0; x < w; x++)
            if ((r[x] & 0xFFFFFFu) != 0xFFFFFFu) {
                inked_rows++;
                break;
            }
    }
    /* a page of content, not an empty canvas */
    assert_true(inked_rows > h / 2);
    cairo_surface_destroy(s);
}

/* index.html links only files that exist, and loads every image. */
static void
test_index_html(void **state)
{
    char path[2048], cmd[4096], *html, *dom, *p;
    size_t nimg = 0;
    (void)state;

    snprintf(path, sizeof path, "%s/out/index.html", out);
    html = bq_test_slurp(path);
    assert_non_null(html);
    assert_non_null(strstr(html, "experiment/report.png"));
    assert_non_null(strstr(html, "experiment/summary.csv"));
    assert_non_null(strstr(html, "experiment/prism.csv"));
    assert_non_null(strstr(html, "summary.csv"));
    /* every link points at a file that exists */
    for (p = html; (p = strstr(p, "href=\"")) != NULL;) {
        char rel[1024], full[3000];
        size_t n;
        p += 6;
        n = strcspn(p, "\"");
        assert_true(n < sizeof rel);
        memcpy(rel, p, n);
        rel[n] = '\0';
        snprintf(full, sizeof full, "%s/out/%s", out, rel);
        if (!bq_test_exists(full))
            fail_msg("index.html links %s, which does not exist", rel);
    }
    for (p = html; (p = strstr(p, "<img ")) != NULL; p++)
        nimg++;
    assert_true(nimg >= 30);
    free(html);

    if (bq_test_run("command -v chromium >/dev/null 2>&1") != 0) {
        if (getenv("BQ_REQUIRE_CHROMIUM"))
            fail_msg("chromium is not installed");
        printf("chromium not installed: the browser check is skipped\n");
        return;
    }
    snprintf(cmd, sizeof cmd,
             "timeout 120 chromium --headless=new --no-sandbox --disable-gpu "
             "--allow-file-access-from-files --virtual-time-budget=20000 "
             "--dump-dom 'file://%s/out/index.html' > '%s/dom.html' "
             "2>/dev/null",
             out, out);
    assert_int_equal(bq_test_run(cmd), 0);
    snprintf(path, sizeof path, "%s/dom.html", out);
    dom = bq_test_slurp(path);
    assert_non_null(dom);
    {
        char want[64];
        snprintf(want, sizeof want, "data-images-ok=\"%zu\"", nimg);
        if (!strstr(dom, want) || !strstr(dom, "data-images-failed=\"0\""))
            fail_msg("chromium did not load every image (%zu expected): %.300s",
                     nimg, strstr(dom, "<body") ? strstr(dom, "<body") : dom);
    }
    printf("chromium loaded all %zu images of index.html\n", nimg);
    free(dom);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_page),
        cmocka_unit_test(test_index_html),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
