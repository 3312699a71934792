/* Fuzz target: the whole single-scan pipeline (load, prepare, background,
 * deskew, layout, bands, quantify) on small images: the load limit keeps
 * one input to milliseconds. */
#include "fuzz.h"
#include "blotquant/analysis.h"

#define MAX_PIXELS (256 * 256)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = bq_fuzz_write("scan.img", data, size);
    struct bq_analysis_opts o;
    struct bq_analysis res;
    struct bq_error err = {0};
    enum bq_status st;

    bq_analysis_opts_init(&o);
    bq_fuzz_load_opts(&o.load, MAX_PIXELS);
    st = bq_analyze_file(path, &o, &res, &err);
    bq_fuzz_check_error(st, &err, path);
    bq_analysis_fini(&res);
    return 0;
}
