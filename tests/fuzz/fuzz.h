/* The libFuzzer targets (tests/fuzz/fuzz_*.c) and what they share. Each
 * target defines LLVMFuzzerTestOneInput; the same file links either with
 * libFuzzer (BQ_FUZZ) or with replay.c, which feeds it the saved corpus and
 * crashers from the test suite. */
#ifndef BQ_FUZZ_H
#define BQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "blotquant/load.h"

/* The entry point: runs one input. Returns 0 (libFuzzer's convention). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A directory private to this process (created on first use, removed at
 * exit with what it holds). Returns its path; aborts if it cannot be made,
 * since no input can run without it. */
const char *bq_fuzz_dir(void);

/* Writes SIZE bytes of DATA to the file NAME (may contain one '/', whose
 * folder is created) in bq_fuzz_dir(), replacing it. Returns the full path
 * (static buffer, valid until the next call); aborts on I/O failure. */
const char *bq_fuzz_write(const char *name, const uint8_t *data, size_t size);

/* The error contract: a call that returned ST (with ERR as it filled it)
 * must, if ST is not BQ_OK, have set ERR to ST with a message that names
 * PATH (when PATH is not NULL). Aborts with both printed otherwise, so that
 * a silent or anonymous failure is reported like a crash. */
void bq_fuzz_check_error(enum bq_status st, const struct bq_error *err,
                         const char *path);

/* Load options for fuzzing: at most MAX_PIXELS pixels and 64 MiB of
 * decoding memory, so one input runs in milliseconds. */
void bq_fuzz_load_opts(struct bq_load_opts *o, uint64_t max_pixels);

/* Loads DATA as an image file (TIFF or PNG by its first bytes) with OPTS;
 * if it has more pages, loads page 2 too, and if it has colour samples,
 * the blue channel too. Returns the number of successful loads. */
int bq_fuzz_load_all(const uint8_t *data, size_t size,
                     const struct bq_load_opts *opts);

#endif
