/* The replicate data of a target for the charts and the Prism CSV, gathered
 * exactly as bq_exp_summarize gathers it (conditions by label, a blot's
 * value the mean over its lanes of that label). */
#include "chart_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *
bq_chart_lane_label(const struct bq_manifest *m, size_t i, char *buf, size_t n)
{
    if (i < m->nlanes)
        return m->lanes[i].label;
    snprintf(buf, n, "lane %zu", i + 1);
    return buf;
}

size_t
bq_chart_control(const struct bq_manifest *m)
{
    return m->nlanes ? m->control : 0;
}

int
bq_chart_same_target(const struct bq_manifest *m, size_t a, size_t b)
{
    return strcasecmp(m->blots[a].target, m->blots[b].target) == 0;
}

double
bq_chart_blot_fc(const struct bq_manifest *m, const struct bq_blot_result *r,
                 size_t lane, enum bq_part part)
{
    char b1[32], b2[32];
    const char *want = bq_chart_lane_label(m, lane, b1, sizeof b1);
    double sum = 0;
    size_t n = 0;

    if (r->status != BQ_OK || !r->rows)
        return NAN;
    for (size_t k = 0; k < r->nrows; k++) {
        const struct bq_lane_ratio *lr = &r->rows[k];
        if (lr->part != part || !isfinite(lr->fold_change) ||
            strcmp(bq_chart_lane_label(m, lr->lane, b2, sizeof b2), want) != 0)
            continue;
        sum += lr->fold_change;
        n++;
    }
    return n ? sum / (double)n : NAN;
}

size_t
bq_chart_target_blots(const struct bq_manifest *m, size_t blot0, size_t *idx)
{
    size_t n = 0;

    /* insertion sort by replicate, stable: manifest order for ties */
    for (size_t i = 0; i < m->nblots; i++) {
        size_t j;
        if (!bq_chart_same_target(m, i, blot0))
            continue;
        for (j = n;
             j > 0 && m->blots[idx[j - 1]].replicate > m->blots[i].replicate;
             j--)
            idx[j] = idx[j - 1];
        idx[j] = i;
        n++;
    }
    return n;
}

char *
bq_chart_ratio_name(const struct bq_manifest *m, size_t blot0, const char *sep,
                    char *buf, size_t n)
{
    const char *t = m->blots[blot0].target;

    if (strchr(t, '/'))
        sep = " / ";
    snprintf(buf, n, "p%s%s%s", t, sep, t);
    return buf;
}

double
bq_chart_jitter(size_t k, size_t n)
{
    if (n < 2 || k >= n)
        return 0;
    return -0.25 + 0.5 * (double)k / (double)(n - 1);
}
