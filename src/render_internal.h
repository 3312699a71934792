/* Internal to the render stage (src/render*.c, the only files that include
 * cairo and pango): what the overlay, chart and report renderers share. */
#ifndef BQ_RENDER_INTERNAL_H
#define BQ_RENDER_INTERNAL_H

#include <cairo.h>

#include "blotquant/image.h"

/* Writes SURF as a PNG to PATH. Returns BQ_OK, or BQ_ERR_IO / BQ_ERR_RENDER
 * with ERR saying why in plain words (folder missing, permission, disk
 * full); a partial file is removed. */
enum bq_status bq_render_write_png(cairo_surface_t *surf, const char *path,
                                   struct bq_error *err);

#endif
