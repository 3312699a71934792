/* Statistics: replicate summaries, the log2 fold-change t test, Holm's
 * adjustment and the 4-parameter Hill dose-response fit (GSL). */
#include "blotquant/stats.h"

#include <float.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define LN10 2.30258509299404568402

/* ---- replicate summaries ------------------------------------------------ */

/* Two passes (mean, then squared deviations) rather than gsl_stats_sd: the
 * GSL routines take no mask, and skipping NaN that way would need a copy
 * (an allocation that could fail) for a function that cannot fail. */
void
bq_summarize(const double *x, size_t n, struct bq_summary *s)
{
    double sum = 0, ss = 0;
    size_t k = 0;

    s->n = 0;
    s->mean = s->sd = s->sem = s->ci_low = s->ci_high = NAN;
    if (!x)
        return;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) {
            sum += x[i];
            k++;
        }
    s->n = k;
    if (k == 0)
        return;
    s->mean = sum / (double)k;
    if (k < 2)
        return;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            ss += (x[i] - s->mean) * (x[i] - s->mean);
    bq_gsl_quiet();
    s->sd = sqrt(ss / (double)(k - 1));
    s->sem = s->sd / sqrt((double)k);
    {
        double q = gsl_cdf_tdist_Pinv(0.975, (double)(k - 1));
        s->ci_low = s->mean - q * s->sem;
        s->ci_high = s->mean + q * s->sem;
    }
}

/* ---- t test of log2 fold changes against 0 ------------------------------ */

double
bq_ttest_log2_vs_1(const double *fc, size_t n, double *t, double *df)
{
    double sum = 0, ss = 0, mean, sd, tt, p;
    size_t k = 0;

    if (t)
        *t = NAN;
    if (df)
        *df = NAN;
    if (!fc)
        return NAN;
    /* phase 1: every usable value must have a finite log */
    for (size_t i = 0; i < n; i++) {
        if (isnan(fc[i]))
            continue;
        if (!(fc[i] > 0) || isinf(fc[i]))
            return NAN;
        sum += log2(fc[i]);
        k++;
    }
    if (k < 2)
        return NAN;
    /* phase 2: mean and SD of the logs */
    mean = sum / (double)k;
    for (size_t i = 0; i < n; i++)
        if (!isnan(fc[i]))
            ss += (log2(fc[i]) - mean) * (log2(fc[i]) - mean);
    sd = sqrt(ss / (double)(k - 1));
    if (df)
        *df = (double)(k - 1);
    /* identical logs can leave a rounding-level SD; call that 0 */
    if (sd <= 8 * DBL_EPSILON * fabs(mean))
        sd = 0;
    /* phase 3: t and its two-sided tail (Q, not 1 - P, keeps tiny p) */
    if (sd == 0) {
        if (mean == 0)
            return NAN;
        tt = copysign(INFINITY, mean);
        p = 0;
    } else {
        bq_gsl_quiet();
        tt = mean / (sd / sqrt((double)k));
        p = 2 * gsl_cdf_tdist_Q(fabs(tt), (double)(k - 1));
    }
    if (t)
        *t = tt;
    return p > 1 ? 1 : p;
}

/* ---- Holm --------------------------------------------------------------- */

struct pidx {
    double p;  /* p value */
    size_t i;  /* its index in the caller's array */
};

/* Ascending p, ties by index: a total order, so the result never depends
 * on qsort's (unstable) handling of equal keys. */
static int
pidx_cmp(const void *a, const void *b)
{
    const struct pidx *x = a, *y = b;

    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

enum bq_status
bq_holm(double *p, size_t m, struct bq_error *err)
{
    struct pidx *v = NULL;
    size_t k = 0;
    double run = 0;

    if (m == 0)
        return BQ_OK;
    if (!p)
        return bq_error_set(err, BQ_ERR_INVALID, "holm: no p values");
    for (size_t i = 0; i < m; i++) {
        if (isnan(p[i]))
            continue;
        if (!(p[i] >= 0 && p[i] <= 1))
            return bq_error_set(err, BQ_ERR_INVALID,
                                "holm: p value %zu is %g, not in [0, 1]", i,
                                p[i]);
        k++;
    }
    if (k == 0)
        return BQ_OK;
    v = bq_alloc_array(k, sizeof *v);
    if (!v)
        return bq_error_set(err, BQ_ERR_NOMEM, "holm: %zu p values", k);
    k = 0;
    for (size_t i = 0; i < m; i++)
        if (!isnan(p[i])) {
            v[k].p = p[i];
            v[k].i = i;
            k++;
        }
    qsort(v, k, sizeof *v, pidx_cmp);
    /* step down: the j-th smallest (0-based) is multiplied by k - j; the
     * running maximum keeps the adjusted values in the order of the raw */
    for (size_t j = 0; j < k; j++) {
        double a = (double)(k - j) * v[j].p;
        if (a > run)
            run = a;
        p[v[j].i] = run > 1 ? 1 : run;
    }
    free(v);
    return BQ_OK;
}

/* ---- 4-parameter Hill fit -------------------------------------------------
 *
 * Model, for dose x > 0 and lx = log10 x:
 *     y = b + (t - b) g,   g = 1 / (1 + 10^(h (L - lx))),
 * with L = log10 ec50 and h the Hill slope; x = 0 gives g = 0, y = b.
 *
 * Bounds by reparametrisation: the solver works on (b, t, u, s) with
 *     L = llo + (lhi - llo) sig(u),   h = HILL_MIN + (HILL_MAX - HILL_MIN)
 * sig(s), sig the logistic function, so every step stays inside the bounds
 * and the solver never sees an overflowing 10^(h (L - lx)). The optimum
 * inside the bounds is the same as without them; the covariance is
 * computed afterwards from the Jacobian in the natural (b, t, L, h). Y is
 * divided by max |y| first, so tolerances mean the same for fold changes
 * and raw volumes. */

#define HILL_MIN 0.1       /* smallest Hill slope allowed */
#define HILL_MAX 10.0      /* largest Hill slope allowed */
#define EC50_DECADES 3.0   /* EC50 search range beyond the tested doses */
#define FIT_MAXITER 500    /* per start (a slope running into its bound
                              takes ~200) */
#define FIT_XTOL 1e-12     /* relative step test */
#define FIT_GTOL 1e-14     /* scaled gradient test */
#define AT_BOUND 1e-3      /* share of a range that counts as "at the bound" */

struct hill_data {
    const double *lx; /* log10 dose; -INFINITY for dose 0 */
    const double *y;  /* responses divided by yscale */
    size_t n;         /* points */
    double llo, lhi;  /* bounds of log10 ec50 */
};

static double
sig(double v)
{
    return v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v));
}

/* Value of the model at LX and its gradient G (may be NULL) with respect to
 * the natural parameters (b, t, L, h). */
static double
hill_point(double b, double t, double L, double h, double lx, double *g)
{
    double z, e, gv, gg;

    if (lx == -INFINITY) {
        if (g) {
            g[0] = 1;
            g[1] = g[2] = g[3] = 0;
        }
        return b;
    }
    /* gv = 1 / (1 + e^z) and gg = gv (1 - gv), both without overflow or
     * cancellation for any z */
    z = h * (L - lx) * LN10;
    e = exp(-fabs(z));
    gv = z > 0 ? e / (1 + e) : 1 / (1 + e);
    gg = e / ((1 + e) * (1 + e));
    if (g) {
        g[0] = 1 - gv;
        g[1] = gv;
        g[2] = -(t - b) * gg * h * LN10;
        g[3] = -(t - b) * gg * (L - lx) * LN10;
    }
    return b + (t - b) * gv;
}

/* Natural parameters (b, t, L, h) from the solver's (b, t, u, s); D gets
 * dL/du and dh/ds (may be NULL). */
static void
to_natural(const struct hill_data *d, const double *q, double *nat,
           double *dd)
{
    double su = sig(q[2]), ss = sig(q[3]);

    nat[0] = q[0];
    nat[1] = q[1];
    nat[2] = d->llo + (d->lhi - d->llo) * su;
    nat[3] = HILL_MIN + (HILL_MAX - HILL_MIN) * ss;
    if (dd) {
        dd[0] = (d->lhi - d->llo) * su * (1 - su);
        dd[1] = (HILL_MAX - HILL_MIN) * ss * (1 - ss);
    }
}

static int
hill_f(const gsl_vector *q, void *data, gsl_vector *f)
{
    const struct hill_data *d = data;
    double nat[4];

    to_natural(d, q->data, nat, NULL);
    for (size_t i = 0; i < d->n; i++)
        gsl_vector_set(f, i,
                       hill_point(nat[0], nat[1], nat[2], nat[3], d->lx[i],
                                  NULL) -
                           d->y[i]);
    return GSL_SUCCESS;
}

static int
hill_df(const gsl_vector *q, void *data, gsl_matrix *jac)
{
    const struct hill_data *d = data;
    double nat[4], dd[2], g[4];

    to_natural(d, q->data, nat, dd);
    for (size_t i = 0; i < d->n; i++) {
        hill_point(nat[0], nat[1], nat[2], nat[3], d->lx[i], g);
        gsl_matrix_set(jac, i, 0, g[0]);
        gsl_matrix_set(jac, i, 1, g[1]);
        gsl_matrix_set(jac, i, 2, g[2] * dd[0]);
        gsl_matrix_set(jac, i, 3, g[3] * dd[1]);
    }
    return GSL_SUCCESS;
}

/* One solver run from the natural start START. On return NAT holds the
 * natural parameters, *SSE the sum of squared (scaled) residuals and
 * *CONV 1 if the run converged. Returns 0, or -1 if the run produced no
 * finite answer. */
static int
hill_run(gsl_multifit_nlinear_workspace *ws, gsl_multifit_nlinear_fdf *fdf,
         const struct hill_data *d, const double *start, double *nat,
         double *sse, int *conv)
{
    double q[4], fl, fh;
    gsl_vector_view qv = gsl_vector_view_array(q, 4);
    gsl_vector *r;
    int info = 0, rc;

    /* the inverse of to_natural, kept off the saturated tails */
    fl = bq_clampd((start[2] - d->llo) / (d->lhi - d->llo), 1e-6, 1 - 1e-6);
    fh = bq_clampd((start[3] - HILL_MIN) / (HILL_MAX - HILL_MIN), 1e-6,
                   1 - 1e-6);
    q[0] = start[0];
    q[1] = start[1];
    q[2] = log(fl / (1 - fl));
    q[3] = log(fh / (1 - fh));
    rc = gsl_multifit_nlinear_init(&qv.vector, fdf, ws);
    if (rc != GSL_SUCCESS)
        return -1;
    rc = gsl_multifit_nlinear_driver(FIT_MAXITER, FIT_XTOL, FIT_GTOL, 0.0,
                                     NULL, NULL, &info, ws);
    r = gsl_multifit_nlinear_residual(ws);
    *sse = 0;
    for (size_t i = 0; i < d->n; i++)
        *sse += gsl_vector_get(r, i) * gsl_vector_get(r, i);
    to_natural(d, gsl_multifit_nlinear_position(ws)->data, nat, NULL);
    *conv = rc == GSL_SUCCESS;
    /* GSL stops with "no progress" when no step can lower the cost, which
     * is also what an exact fit (residual 0, e.g. flat data) looks like:
     * that is a minimum, not a failure. */
    if (!*conv && *sse <= 1e-28 * (double)d->n)
        *conv = 1;
    for (int j = 0; j < 4; j++)
        if (!isfinite(nat[j]))
            return -1;
    return isfinite(*sse) ? 0 : -1;
}

static void
note_add(struct bq_hill_fit *fit, const char *msg)
{
    size_t len = strlen(fit->note);

    snprintf(fit->note + len, sizeof fit->note - len, "%s%s",
             len ? "; " : "", msg);
}

static int
dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Checks the points: returns BQ_OK or an error naming the first bad one. */
static enum bq_status
hill_check(const double *dose, const double *y, size_t n,
           struct bq_error *err)
{
    if (!dose || !y)
        return bq_error_set(err, BQ_ERR_INVALID, "hill fit: no data");
    if (n == 0)
        return bq_error_set(err, BQ_ERR_INVALID, "hill fit: no points");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(dose[i]))
            return bq_error_set(err, BQ_ERR_INVALID,
                                "hill fit: dose %zu is not finite", i);
        if (dose[i] < 0)
            return bq_error_set(err, BQ_ERR_INVALID,
                                "hill fit: dose %zu is negative (%g)", i,
                                dose[i]);
        if (!isfinite(y[i]))
            return bq_error_set(err, BQ_ERR_INVALID,
                                "hill fit: response %zu is not finite", i);
    }
    return BQ_OK;
}

enum bq_status
bq_hill_fit(const double *dose, const double *y, size_t n,
            struct bq_hill_fit *fit, struct bq_error *err)
{
    static const double lfrac[] = {0.5, 0.25, 0.75, 0.0, 1.0};
    static const double hstart[] = {1.0, 0.5, 3.0};
    gsl_multifit_nlinear_parameters fp =
        gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *ws = NULL;
    gsl_multifit_nlinear_fdf fdf;
    gsl_matrix *jac = NULL, *cov = NULL;
    struct hill_data d;
    struct bq_hill_fit out;
    double *lx = NULL, *ys = NULL, *sorted = NULL;
    double yscale = 0, dmin, dmax, lmin = 0, lmax = 0, ymean = 0, sst = 0;
    double lo_sum = 0, hi_sum = 0, best[4] = {0}, best_sse = INFINITY;
    size_t distinct = 0, distinct_nz = 0, lo_n = 0, hi_n = 0;
    int best_conv = -1;
    enum bq_status st;

    /* phase 1: validate, count distinct doses */
    st = hill_check(dose, y, n, err);
    if (st != BQ_OK)
        return st;
    if (!fit)
        return bq_error_set(err, BQ_ERR_INVALID, "hill fit: no result");
    sorted = bq_alloc_array(n, sizeof *sorted);
    lx = bq_alloc_array(n, sizeof *lx);
    ys = bq_alloc_array(n, sizeof *ys);
    if (!sorted || !lx || !ys) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "hill fit: %zu points", n);
        goto out;
    }
    memcpy(sorted, dose, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, dbl_cmp);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || sorted[i] != sorted[i - 1]) {
            distinct++;
            distinct_nz += sorted[i] > 0;
        }
    if (distinct < 4) {
        st = bq_error_set(err, BQ_ERR_INVALID,
                          distinct == 1
                              ? "hill fit: all %zu points at the same dose"
                              : "hill fit: %zu distinct doses, the 4-parameter "
                                "model needs at least 4",
                          distinct == 1 ? n : distinct);
        goto out;
    }

    /* phase 2: scaled responses, log doses, starting values */
    dmin = sorted[0];
    dmax = sorted[n - 1];
    for (size_t i = 0; i < n; i++)
        if (fabs(y[i]) > yscale)
            yscale = fabs(y[i]);
    if (yscale == 0)
        yscale = 1;
    for (size_t i = 0; i < n; i++) {
        ys[i] = y[i] / yscale;
        ymean += ys[i];
        lx[i] = dose[i] > 0 ? log10(dose[i]) : -INFINITY;
        if (dose[i] == dmin) {
            lo_sum += ys[i];
            lo_n++;
        }
        if (dose[i] == dmax) {
            hi_sum += ys[i];
            hi_n++;
        }
    }
    ymean /= (double)n;
    for (size_t i = 0; i < n; i++)
        sst += (ys[i] - ymean) * (ys[i] - ymean);
    for (size_t i = 0; i < n; i++)
        if (sorted[i] > 0) {
            lmin = log10(sorted[i]);
            break;
        }
    lmax = log10(dmax);
    d.lx = lx;
    d.y = ys;
    d.n = n;
    d.llo = lmin - EC50_DECADES;
    d.lhi = lmax + EC50_DECADES;

    /* phase 3: the fits, one per start; the lowest residual wins, a
     * converged run over one that is not */
    bq_gsl_quiet();
    memset(&fdf, 0, sizeof fdf);
    fdf.f = hill_f;
    fdf.df = hill_df;
    fdf.n = n;
    fdf.p = 4;
    fdf.params = &d;
    ws = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, n, 4);
    if (!ws) {
        st = bq_error_set(err, BQ_ERR_NOMEM, "hill fit: solver for %zu points",
                          n);
        goto out;
    }
    for (size_t a = 0; a < sizeof hstart / sizeof *hstart; a++)
        for (size_t b = 0; b < sizeof lfrac / sizeof *lfrac; b++) {
            double start[4], nat[4], sse;
            int conv;
            start[0] = lo_sum / (double)lo_n;
            start[1] = hi_sum / (double)hi_n;
            start[2] = lmin + lfrac[b] * (lmax - lmin);
            start[3] = hstart[a];
            if (hill_run(ws, &fdf, &d, start, nat, &sse, &conv) != 0)
                continue;
            if (conv > best_conv || (conv == best_conv && sse < best_sse)) {
                best_conv = conv;
                best_sse = sse;
                memcpy(best, nat, sizeof best);
            }
        }

    /* phase 4: the answer in natural units */
    memset(&out, 0, sizeof out);
    out.n = n;
    out.df = n - 4;
    out.log10_ec50_se = out.hill_se = NAN;
    out.ec50_ci_low = out.ec50_ci_high = NAN;
    if (best_conv < 0) {
        /* no start gave finite numbers: report the starting curve */
        best[0] = lo_sum / (double)lo_n;
        best[1] = hi_sum / (double)hi_n;
        best[2] = 0.5 * (lmin + lmax);
        best[3] = 1;
        best_sse = 0;
        for (size_t i = 0; i < n; i++) {
            double r = hill_point(best[0], best[1], best[2], best[3], lx[i],
                                  NULL) -
                       ys[i];
            best_sse += r * r;
        }
        best_conv = 0;
    }
    out.converged = best_conv;
    out.bottom = best[0] * yscale;
    out.top = best[1] * yscale;
    out.log10_ec50 = best[2];
    out.ec50 = pow(10, best[2]);
    out.hill = best[3];
    out.r2 = sst > 0 ? 1 - best_sse / sst : NAN;
    out.rmse = sqrt(best_sse / (double)n) * yscale;

    /* phase 5: standard errors from s^2 (J'J)^-1, J in (b, t, L, h) */
    {
        int flat = fabs(best[1] - best[0]) <= 1e-9;
        int l_bound = best[2] <= d.llo + AT_BOUND * (d.lhi - d.llo) ||
                      best[2] >= d.lhi - AT_BOUND * (d.lhi - d.llo);
        int h_bound = best[3] <= HILL_MIN + AT_BOUND * (HILL_MAX - HILL_MIN) ||
                      best[3] >= HILL_MAX - AT_BOUND * (HILL_MAX - HILL_MIN);

        if (!out.converged)
            note_add(&out, "did not converge");
        if (flat)
            note_add(&out, "no dose response");
        if (distinct_nz < 4)
            note_add(&out, "fewer than 4 non-zero doses");
        if (!flat && l_bound)
            note_add(&out, "EC50 at the search limit");
        else if (!flat && (best[2] < lmin || best[2] > lmax))
            note_add(&out, "EC50 outside the tested doses");
        if (!flat && h_bound)
            note_add(&out, best[3] < 1 ? "Hill slope at the limit 0.1"
                                       : "Hill slope at the limit 10");
        if (out.df == 0)
            note_add(&out, "no residual df: no interval");

        if (out.df > 0 && !flat) {
            double s2 = best_sse / (double)out.df, g[4];
            jac = gsl_matrix_alloc(n, 4);
            cov = gsl_matrix_alloc(4, 4);
            if (!jac || !cov) {
                st = bq_error_set(err, BQ_ERR_NOMEM,
                                  "hill fit: covariance of %zu points", n);
                goto out;
            }
            for (size_t i = 0; i < n; i++) {
                hill_point(best[0], best[1], best[2], best[3], lx[i], g);
                for (size_t j = 0; j < 4; j++)
                    gsl_matrix_set(jac, i, j, g[j]);
            }
            /* rank-deficient columns come back as zero rows/columns */
            if (gsl_multifit_nlinear_covar(jac, 1e-12, cov) == GSL_SUCCESS) {
                double vl = s2 * gsl_matrix_get(cov, 2, 2);
                double vh = s2 * gsl_matrix_get(cov, 3, 3);
                if (vl > 0 && isfinite(vl) && !l_bound)
                    out.log10_ec50_se = sqrt(vl);
                if (vh > 0 && isfinite(vh) && !h_bound)
                    out.hill_se = sqrt(vh);
            }
            if (isfinite(out.log10_ec50_se)) {
                double q = gsl_cdf_tdist_Pinv(0.975, (double)out.df);
                out.ec50_ci_low = pow(10, best[2] - q * out.log10_ec50_se);
                out.ec50_ci_high = pow(10, best[2] + q * out.log10_ec50_se);
            } else if (!l_bound) {
                note_add(&out, "EC50 SE undefined");
            }
        }
    }
    *fit = out;
    st = BQ_OK;
out:
    gsl_matrix_free(cov);
    gsl_matrix_free(jac);
    gsl_multifit_nlinear_free(ws);
    free(ys);
    free(lx);
    free(sorted);
    return st;
}

double
bq_hill_eval(const struct bq_hill_fit *f, double dose)
{
    if (!f || isnan(dose))
        return NAN;
    if (dose <= 0)
        return f->bottom;
    return hill_point(f->bottom, f->top, f->log10_ec50, f->hill, log10(dose),
                      NULL);
}
