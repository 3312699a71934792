/* blotquant statistics: replicate summaries, the fold-change t test, Holm's
 * adjustment and the 4-parameter Hill (log-logistic) dose-response fit.
 * Nothing here allocates memory the caller has to free. */
#ifndef BLOTQUANT_STATS_H
#define BLOTQUANT_STATS_H

#include <stddef.h>

#include "blotquant/image.h"

/* Summary of replicate values (NaN entries ignored). */
struct bq_summary {
    size_t n;        /* values used (non-NaN) */
    double mean;     /* arithmetic mean; NaN if n == 0 */
    double sd;       /* sample SD (n - 1 denominator); NaN if n < 2 */
    double sem;      /* sd / sqrt(n); NaN if n < 2 */
    double ci_low;   /* 95 % t interval of the mean, mean -/+ */
    double ci_high;  /*   t(0.975, n - 1) * sem; NaN if n < 2 */
};

/* Fills S with the summary of X[0..n), skipping NaN entries; +-Inf entries
 * are kept and propagate (mean Inf, SD NaN). X may be NULL if N is 0.
 * Never fails. */
void bq_summarize(const double *x, size_t n, struct bq_summary *s);

/* One-sample two-sided t test of log2(FC[i]) against 0, i.e. of the fold
 * changes against 1. Each replicate's fold change is taken over its own
 * blot's control, so the control is 1 by construction on every blot and has
 * no spread of its own: comparing a condition with the control is a test of
 * its log fold change against 0. Logs, because ratios are multiplicative
 * (2x up and 2x down are symmetric only on the log scale) and
 * replicate-to-replicate variation of ratios is roughly log-normal.
 *
 * NaN entries are skipped (missing replicates). Returns the two-sided p
 * value and stores the t statistic in *T and the degrees of freedom
 * (n - 1) in *DF (either pointer may be NULL). Returns NaN (and NaN in *T,
 * *DF) if fewer than 2 values remain or any value is <= 0 or infinite (its
 * log is undefined). Identical log fold changes (SD 0) give t = +-Inf and
 * p = 0, or t = NaN and p = NaN if they are all 0 (every FC exactly 1). */
double bq_ttest_log2_vs_1(const double *fc, size_t n, double *t, double *df);

/* Holm's step-down adjustment of the M p values P[0..m) in place (the same
 * numbers R's p.adjust(p, "holm") gives): the k-th smallest of the m' non-NaN
 * values becomes max over j <= k of (m' - j + 1) p_(j), capped at 1. NaN
 * entries stay NaN and do not count in m'. Returns BQ_OK; BQ_ERR_INVALID if
 * P is NULL with M > 0 or a value lies outside [0, 1]; BQ_ERR_NOMEM if the
 * sort buffer cannot be allocated. P is untouched on error. */
enum bq_status bq_holm(double *p, size_t m, struct bq_error *err);

/* Result of a 4-parameter Hill fit
 *     y = bottom + (top - bottom) / (1 + (ec50 / dose)^hill),  hill > 0,
 * so dose 0 (the control) gives bottom and an infinite dose gives top; a
 * decreasing curve (inhibitor) has top < bottom. Units: y as given, doses
 * and ec50 in the caller's dose unit. */
struct bq_hill_fit {
    double bottom;        /* response at dose 0 */
    double top;           /* response at infinite dose */
    double ec50;          /* dose of the half-way response */
    double log10_ec50;    /* log10 of ec50 (the fitted parameter) */
    double log10_ec50_se; /* its standard error; NaN if undefined */
    double ec50_ci_low;   /* 95 % interval of ec50: 10^(log10_ec50 -/+ */
    double ec50_ci_high;  /*   t(0.975, df) * se), asymmetric; NaN if df 0 */
    double hill;          /* Hill slope, in [0.1, 10] */
    double hill_se;       /* its standard error; NaN if undefined */
    double r2;            /* 1 - SSE / SS about the mean; NaN if y flat */
    double rmse;          /* sqrt(SSE / n), y units */
    size_t n;             /* points fitted */
    size_t df;            /* residual degrees of freedom, n - 4 */
    int converged;        /* 1 if the least-squares fit converged */
    char note[96];        /* "" or short warnings separated by "; " */
};

/* Fits the Hill curve above to the N points (DOSE[i], Y[i]); replicates are
 * separate points, the control enters as dose 0. Least squares with GSL's
 * trust-region Levenberg-Marquardt, from several deterministic starting
 * points (the first: bottom = mean at the lowest dose, top = mean at the
 * highest, log10 ec50 = middle of the log range of the non-zero doses,
 * hill = 1); the lowest residual wins. Bounds, by reparametrisation: hill in
 * [0.1, 10] and log10 ec50 within 3 decades of the non-zero doses; a fit
 * that ends at a bound says so in the note and has no SE for that
 * parameter. Fills FIT and returns BQ_OK, also when the fit is poor (see
 * converged and note: "did not converge", "EC50 outside the tested doses",
 * "fewer than 4 non-zero doses", "no dose response", ...). Returns
 * BQ_ERR_INVALID with ERR filled for NULL pointers, N == 0, a non-finite
 * dose or response, a negative dose, or fewer than 4 distinct doses
 * (counting 0); BQ_ERR_NOMEM if GSL cannot allocate. FIT is untouched on
 * error. Deterministic; no global state beyond bq_gsl_quiet. */
enum bq_status bq_hill_fit(const double *dose, const double *y, size_t n,
                           struct bq_hill_fit *fit, struct bq_error *err);

/* Returns the fitted curve F at DOSE: bottom for dose <= 0, top for an
 * infinite dose, NaN for a NaN dose. */
double bq_hill_eval(const struct bq_hill_fit *f, double dose);

#endif
