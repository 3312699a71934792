/* Fuzz target: the saved blot result reader (src/blotfile.c). The input is
 * a record without its trailing CRC-32: the right one is appended here, so
 * that mutations reach the parser instead of stopping at the checksum.
 * The record must be of blot "b" with scans p.tif, t.tif and l.tif (page
 * 1, no file: size 0) and no manifest file, as the seeds are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "blotquant/blotfile.h"

/* The manifest the records are read against. */
static void
fuzz_manifest(struct bq_manifest *m, struct bq_mblot *b)
{
    memset(m, 0, sizeof *m);
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "b");
    snprintf(b->phospho.name, sizeof b->phospho.name, "p.tif");
    snprintf(b->total.name, sizeof b->total.name, "t.tif");
    snprintf(b->loading.name, sizeof b->loading.name, "l.tif");
    m->blots = b;
    m->nblots = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bq_manifest m;
    static struct bq_mblot b;
    struct bq_blot_result res;
    struct bq_error err = {0};
    char opt[256];
    uint8_t *buf = malloc(size + 4);
    uint32_t crc = (uint32_t)crc32(0L, data, (uInt)size);
    const char *path;
    enum bq_status st;

    if (!buf)
        return 0;
    if (!m.blots)
        fuzz_manifest(&m, &b);
    memcpy(buf, data, size);
    memcpy(buf + size, &crc, sizeof crc);
    path = bq_fuzz_write("r.bqblot", buf, size + 4);
    free(buf);
    st = bq_blot_result_read(path, &m, 0, &res, opt, sizeof opt, &err);
    bq_fuzz_check_error(st, &err, path);
    bq_blot_result_fini(&res);
    return 0;
}
