/* blotquant experiment stage: one blot (phospho, total and loading scans of
 * one membrane) measured with one lane geometry; ratios, fold changes,
 * replicate statistics and dose-response fits over an experiment. */
#ifndef BLOTQUANT_EXPERIMENT_H
#define BLOTQUANT_EXPERIMENT_H

#include <stdio.h>

#include "blotquant/analysis.h"
#include "blotquant/manifest.h"
#include "blotquant/register.h"
#include "blotquant/stats.h"
#include "blotquant/strip.h"

/* Flags carried through every table (README: "flags"). */
#define BQ_FLAG_SAT_PHOSPHO  0x01u /* phospho band holds saturated pixels */
#define BQ_FLAG_SAT_TOTAL    0x02u
#define BQ_FLAG_SAT_LOADING  0x04u
#define BQ_FLAG_BELOW_DETECT 0x08u /* phospho peak below detect_snr */
#define BQ_FLAG_LOW_TOTAL    0x10u /* total (or loading) below low_snr */
#define BQ_FLAG_NO_RATIO     0x20u /* total <= 0: no ratio */
#define BQ_FLAG_INTERP       0x40u /* no total band: box interpolated */
#define BQ_FLAG_CONTROL_BAD  0x80u /* the control lane has no usable ratio */

struct bq_exp_opts {
    struct bq_analysis_opts analysis; /* every scan analysis */
    struct bq_reg_opts reg;           /* total/loading onto phospho */
    double detect_snr;    /* phospho peak/noise below this: flagged (3) */
    double low_snr;       /* total or loading below this: flagged (10) */
    int strips;               /* 1: keep each scan's strip for the report
                                 page (bq_blot_result.strip) */
    const char *overlay_dir; /* existing folder for the overlay PNG of
                                every scan as measured, or NULL: none */
};

void bq_exp_opts_init(struct bq_exp_opts *o);

enum bq_part { BQ_PART_ONE = 0, BQ_PART_SUM, BQ_PART_UPPER, BQ_PART_LOWER };

/* The scans of a blot, as indices of per-scan arrays. */
enum bq_scan_role { BQ_ROLE_PHOSPHO = 0, BQ_ROLE_TOTAL, BQ_ROLE_LOADING };
#define BQ_NROLES 3

/* One lane of one blot. Volumes are in each scan's file units. */
struct bq_lane_ratio {
    size_t lane;          /* 0-based manifest lane */
    enum bq_part part;    /* which band of the row */
    double phospho, total, loading;       /* volumes; loading NaN if none */
    double phospho_se, total_se, loading_se; /* their standard errors */
    double phospho_snr, total_snr, loading_snr; /* peak / noise */
    double ratio;         /* phospho / total (NaN if total <= 0) */
    double ratio_se;      /* from the volume SEs, first order */
    double fold_change;   /* ratio / ratio of the control lane */
    double phospho_per_loading, total_per_loading; /* NaN if no loading */
    unsigned flags;       /* BQ_FLAG_* */
};

struct bq_blot_result {
    enum bq_status status;    /* BQ_OK, or why the blot failed */
    char error[256];          /* the message if it failed */
    struct bq_reg_result reg_total;   /* total onto phospho */
    int has_loading;          /* 1 if a loading scan was measured */
    size_t nlanes;            /* lanes of the geometry */
    size_t lanes_found;       /* lanes the total scan showed on its own */
    int hinted;               /* 1 if the manifest's count had to be
                                 imposed (every sample lane then showed a
                                 band) */
    double band_y;            /* chosen row centre, phospho scan px */
    double band_kda;          /* its size from the ladder, NaN if none */
    int doublet;              /* 1 if the row is a two-band doublet */
    struct bq_lane_ratio *rows; /* owned, lane by lane */
    size_t nrows;
    double ms;                /* wall time, ms */
    struct bq_blot_strip strip[BQ_NROLES]; /* the scans around the row
                                     measured (opts->strips), by role */
    char overlay[BQ_NROLES][256]; /* file name in opts->overlay_dir of each
                                     scan's overlay (by enum bq_scan_role),
                                     "" if not drawn */
    char note[256];               /* what went wrong without costing the blot
                                     its numbers (an overlay not written), or
                                     "" */
};

/* Measures blot BLOT of M: analyses the total scan for lanes and bands,
 * registers the total and loading scans onto the phospho scan, chooses
 * the band row, measures the same boxes on every scan and computes the
 * ratios. With OPTS->overlay_dir, draws each scan as measured (its boxes,
 * volumes and lane profiles, the lanes labelled from the manifest) into
 * OPTS->overlay_dir/<blot name>_<phospho|total|loading>.overlay.png (the
 * name with characters other than letters, digits, '.', '-' and '_' made
 * '_', and "+<blot number>" added if two blots would share it), one scan
 * at a time; an overlay that cannot be drawn is left out and said in
 * RES->note, the blot's numbers are kept. Fills RES (caller:
 * bq_blot_result_fini, also on error; the error is also in RES->error).
 * NTHREADS as bq_parallel_for (0 = all). */
enum bq_status bq_blot_process(const struct bq_manifest *m, size_t blot,
                               const struct bq_exp_opts *opts,
                               struct bq_blot_result *res,
                               struct bq_error *err);

void bq_blot_result_fini(struct bq_blot_result *r);

/* Replicate statistics of one condition of one target. */
struct bq_condition {
    size_t blot0;         /* a blot of the target (for its name) */
    enum bq_part part;
    size_t lane;          /* first lane with this label */
    struct bq_summary fc; /* fold change over replicates */
    double t, df, p, p_holm; /* one-sample t test of log2 FC (NaN for the
                                control or n < 2), Holm over conditions */
    unsigned flags;       /* union of the replicates' flags */
};

/* Dose-response fit of one agent for one target. */
struct bq_dose_fit {
    size_t blot0;         /* a blot of the target */
    enum bq_part part;
    size_t lane;          /* first lane of the agent */
    size_t ndoses;        /* distinct non-zero doses */
    int fitted;           /* 1 if bq_hill_fit returned a fit */
    struct bq_hill_fit fit;
    char note[256];       /* why not fitted, or the fit's note */
};

struct bq_exp_summary {
    struct bq_condition *conds;   /* owned, target by target */
    size_t nconds;
    struct bq_dose_fit *fits;     /* owned */
    size_t nfits;
};

/* Statistics over the blots of M (RES[i] for blot i; failed blots are
 * left out). Fills OUT (caller: bq_exp_summary_fini). */
enum bq_status bq_exp_summarize(const struct bq_manifest *m,
                                const struct bq_blot_result *res,
                                struct bq_exp_summary *out,
                                struct bq_error *err);

void bq_exp_summary_fini(struct bq_exp_summary *s);

/* CSV tables (README: "Experiment outputs"). HEADER 0 omits the header
 * row (to append experiments to one file). Return BQ_OK or BQ_ERR_IO. */
enum bq_status bq_write_ratios_csv(FILE *f, const struct bq_manifest *m,
                                   const struct bq_blot_result *res);
enum bq_status bq_write_blots_csv(FILE *f, const struct bq_manifest *m,
                                  const struct bq_blot_result *res);
enum bq_status bq_write_summary_csv(FILE *f, const struct bq_manifest *m,
                                    const struct bq_exp_summary *s,
                                    int header);
enum bq_status bq_write_doseresponse_csv(FILE *f, const struct bq_manifest *m,
                                         const struct bq_exp_summary *s,
                                         int header);

/* CSV fields as every table writes them: BQ_CSV_FIELD quotes S when it
 * holds , " or a line break; BQ_CSV_NUMBERS writes V[0..n) each followed
 * by a comma, "%.6g", empty for NaN/Inf (a missing value). */
void bq_csv_field(FILE *f, const char *s);
void bq_csv_numbers(FILE *f, const double *v, size_t n);

/* "", "sum", "upper" or "lower". */
const char *bq_part_name(enum bq_part p);

#endif
