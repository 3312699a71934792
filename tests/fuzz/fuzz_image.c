/* Fuzz targets tiff and png: the image loaders, on every page and channel
 * path an input reaches. The input is a whole file; the loader picks TIFF
 * or PNG by its first bytes, so the two targets share this entry point and
 * differ by their corpus (tests/fuzz/corpus/tiff, .../png). */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bq_load_opts o;

    bq_fuzz_load_opts(&o, (uint64_t)1 << 22);
    bq_fuzz_load_all(data, size, &o);
    return 0;
}
