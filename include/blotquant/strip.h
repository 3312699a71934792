/* blotquant blot strips: a small picture of each scan of a blot around the
 * band row measured, with the boxes measured, for the report page. */
#ifndef BLOTQUANT_STRIP_H
#define BLOTQUANT_STRIP_H

#include <stddef.h>

#include "blotquant/analysis.h"
#include "blotquant/image.h"

/* A lane box of a blot strip, in strip pixels. */
struct bq_strip_box {
    int lane;              /* 1-based manifest lane */
    double x, y, w, h;     /* box, strip px */
    int saturated;         /* 1 if the measured band holds saturated px */
};

/* A small picture of one scan around the measured band row, with the
 * boxes that were measured: the report page shows the phospho, total and
 * loading strips of every blot one above the other. */
struct bq_blot_strip {
    struct bq_image *img;  /* owned; larger = more protein; NULL if none */
    size_t nbox;
    struct bq_strip_box *box; /* owned */
};

/* Cuts the strip of PROTEIN (the scan with larger = more protein, in its
 * original coordinates) around the boxes BX[0..n) (original px) as
 * measured in M (for the saturation flags; may be NULL), box-averaged so
 * that it is at most MAX_WIDTH px wide. Fills OUT (caller:
 * bq_blot_strip_fini). Returns BQ_OK, BQ_ERR_INVALID or BQ_ERR_NOMEM. */
enum bq_status bq_blot_strip_make(const struct bq_image *protein,
                                  const struct bq_box *bx, size_t n,
                                  const struct bq_analysis *m,
                                  size_t max_width, struct bq_blot_strip *out,
                                  struct bq_error *err);

void bq_blot_strip_fini(struct bq_blot_strip *s);

#endif
