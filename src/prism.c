/* The wide CSV for GraphPad Prism: one row per condition, per target and
 * band part one group of replicate columns (README: "Experiment
 * outputs"). */
#include "blotquant/chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart_internal.h"

/* 1 if blot T0 is the first successful blot of its target. */
static int
first_of_target(const struct bq_manifest *m, const struct bq_blot_result *res,
                size_t t0)
{
    if (res[t0].status != BQ_OK)
        return 0;
    for (size_t j = 0; j < t0; j++)
        if (res[j].status == BQ_OK && bq_chart_same_target(m, j, t0))
            return 0;
    return 1;
}

/* 1 if blot R has rows of band part PART. */
static int
has_part(const struct bq_blot_result *r, enum bq_part part)
{
    for (size_t k = 0; k < r->nrows; k++)
        if (r->rows[k].part == part)
            return 1;
    return 0;
}

enum bq_status
bq_write_prism_csv(FILE *f, const struct bq_manifest *m,
                   const struct bq_blot_result *res)
{
    size_t *idx = NULL, *cond = NULL, ncond = 0, maxl = 0, kmax = 0;
    unsigned char *quant = NULL;
    enum bq_status st = BQ_OK;
    char b1[32], b2[32], name[160];

    if (!f || !m || (!res && m->nblots))
        return BQ_ERR_INVALID;
    /* Phase 1: the conditions, first lane of each label some successful
     * blot quantified, and the widest group of replicates. */
    for (size_t i = 0; i < m->nblots; i++)
        for (size_t k = 0; res[i].status == BQ_OK && k < res[i].nrows; k++)
            if (res[i].rows[k].lane + 1 > maxl)
                maxl = res[i].rows[k].lane + 1;
    idx = bq_alloc_array(m->nblots ? m->nblots : 1, sizeof *idx);
    cond = bq_alloc_array(maxl ? maxl : 1, sizeof *cond);
    quant = bq_calloc_array(maxl ? maxl : 1, 1);
    if (!idx || !cond || !quant) {
        st = BQ_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < m->nblots; i++)
        for (size_t k = 0; res[i].status == BQ_OK && k < res[i].nrows; k++)
            quant[res[i].rows[k].lane] = 1;
    for (size_t lane = 0; lane < maxl; lane++) {
        int dup = 0;
        const char *lab = bq_chart_lane_label(m, lane, b1, sizeof b1);
        for (size_t q = 0; q < lane && !dup; q++)
            dup = strcmp(bq_chart_lane_label(m, q, b2, sizeof b2), lab) == 0;
        if (quant[lane] && !dup)
            cond[ncond++] = lane;
    }
    for (size_t t0 = 0; t0 < m->nblots; t0++)
        if (first_of_target(m, res, t0)) {
            size_t n = bq_chart_target_blots(m, t0, idx);
            kmax = n > kmax ? n : kmax;
        }

    /* Phase 2: the header, then one row per condition. */
    fputs("condition", f);
    for (size_t t0 = 0; t0 < m->nblots; t0++) {
        if (!first_of_target(m, res, t0))
            continue;
        bq_chart_ratio_name(m, t0, "/", name, sizeof name);
        for (int part = BQ_PART_ONE; part <= BQ_PART_LOWER; part++) {
            char head[220];
            if (!has_part(&res[t0], (enum bq_part)part))
                continue;
            for (size_t k = 0; k < kmax; k++) {
                if (part == BQ_PART_ONE)
                    snprintf(head, sizeof head, "%s rep%zu", name, k + 1);
                else
                    snprintf(head, sizeof head, "%s (%s) rep%zu", name,
                             bq_part_name((enum bq_part)part), k + 1);
                fputc(',', f);
                bq_csv_field(f, head);
            }
        }
    }
    fputc('\n', f);
    for (size_t c = 0; c < ncond; c++) {
        bq_csv_field(f, bq_chart_lane_label(m, cond[c], b1, sizeof b1));
        for (size_t t0 = 0; t0 < m->nblots; t0++) {
            size_t n;
            if (!first_of_target(m, res, t0))
                continue;
            n = bq_chart_target_blots(m, t0, idx);
            for (int part = BQ_PART_ONE; part <= BQ_PART_LOWER; part++) {
                if (!has_part(&res[t0], (enum bq_part)part))
                    continue;
                for (size_t k = 0; k < kmax; k++) {
                    double v = k < n
                                   ? bq_chart_blot_fc(m, &res[idx[k]], cond[c],
                                                      (enum bq_part)part)
                                   : NAN;
                    fputc(',', f);
                    if (isfinite(v))
                        fprintf(f, "%.6g", v);
                }
            }
        }
        fputc('\n', f);
    }
    if (ferror(f))
        st = BQ_ERR_IO;
out:
    free(idx);
    free(cond);
    free(quant);
    return st;
}
