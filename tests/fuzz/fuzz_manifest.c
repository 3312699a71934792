/* Fuzz target: the experiment manifest reader. The input is written as
 * blotquant.ini into a folder that also holds the scans the seed
 * manifests name (empty files: the reader only checks that they exist). */
#include <string.h>

#include "fuzz.h"
#include "blotquant/manifest.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *scans[] = {"a.tif",          "b.tif",
                                  "c.tif",          "rep1/pSTAT3.tif",
                                  "rep1/STAT3.tif", "rep1/GAPDH_STAT3.tif"};
    static int made;
    struct bq_manifest m;
    struct bq_error err = {0};
    const char *path;
    enum bq_status st;

    if (!made) {
        for (size_t i = 0; i < sizeof scans / sizeof *scans; i++)
            bq_fuzz_write(scans[i], (const uint8_t *)"", 0);
        made = 1;
    }
    path = bq_fuzz_write(BQ_MANIFEST_NAME, data, size);
    memset(&m, 0, sizeof m);
    st = bq_manifest_read(bq_fuzz_dir(), &m, &err);
    bq_fuzz_check_error(st, &err, path);
    bq_manifest_fini(&m);
    return 0;
}
