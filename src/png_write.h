/* Internal: the PNG writer of the render stage, kept beside the PNG loader
 * (src/load_png.c) because only the loaders include png.h. Not public API. */
#ifndef BQ_PNG_WRITE_H
#define BQ_PNG_WRITE_H

#include <stddef.h>

#include "blotquant/image.h"

/* The zlib level of the overlays and charts: level 1 writes the overlay of
 * a 4096x3072 scan (1.65k x 2.9k px) in about 70 ms of processor time,
 * split over the processors; zlib's default level (cairo's choice) took
 * 0.4 s for a file only 20 % smaller. */
#define BQ_PNG_FAST 1

/* Writes the W x H pixels at PX (cairo's layout: one native-endian uint32
 * 0xAARRGGBB per pixel, STRIDE bytes between row starts) to PATH as an
 * 8-bit PNG: RGB if ALPHA is 0 (the top byte is ignored, as in cairo's
 * RGB24), else RGBA, un-premultiplying cairo's ARGB32. COMPRESSION is the
 * zlib level (0..9). The image data is compressed in parts of fixed rows
 * on all processors; the parts depend only on the image, so the same pixels
 * give the same bytes on any machine. Returns BQ_OK; BQ_ERR_INVALID for a
 * bad argument (W over 2^24); BQ_ERR_NOMEM; BQ_ERR_IO with ERR saying in
 * plain words why PATH cannot be written (folder missing, permission, disk
 * full); BQ_ERR_RENDER if libpng fails otherwise. A partial file is
 * removed. Only reads PX; keeps nothing; thread-safe. */
enum bq_status bq_png_write_rgb(const char *path, const unsigned char *px,
                                size_t w, size_t h, size_t stride, int alpha,
                                int compression, struct bq_error *err);

/* Fills ERR with why PATH cannot be written (errno E), in plain words, and
 * returns BQ_ERR_IO. */
enum bq_status bq_write_error(struct bq_error *err, const char *path, int e);

#endif
