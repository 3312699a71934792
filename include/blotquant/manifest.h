/* blotquant experiment manifest: which scans form a blot, lane labels,
 * the control lane, doses (README: "The experiment manifest"). */
#ifndef BLOTQUANT_MANIFEST_H
#define BLOTQUANT_MANIFEST_H

#include <stddef.h>

#include "blotquant/image.h"

#define BQ_MANIFEST_NAME "blotquant.ini"
#define BQ_MAX_LADDER 32   /* ladder sizes listed in ladder_kda */
#define BQ_PATH_MAX 1024   /* bytes of a resolved scan path */

enum bq_lane_kind {
    BQ_LANE_SAMPLE = 0,    /* quantified */
    BQ_LANE_LADDER,        /* size ladder: used for kDa, not quantified */
    BQ_LANE_EMPTY          /* empty well: not quantified */
};

/* One lane of [lanes]. */
struct bq_mlane {
    enum bq_lane_kind kind;
    char label[96];        /* as written ("eltrombopag 0.1 nM") */
    char agent[64];        /* "eltrombopag", or "" without a dose */
    double dose;           /* in UNIT; 0 for a label without a dose */
    char unit[16];         /* "nM" for molar doses (converted), else as
                              written ("ng/mL"); "" without a dose */
    int line;              /* manifest line, for messages */
};

enum bq_band_pick {
    BQ_PICK_STRONGEST = 0, /* the row with the largest total volume */
    BQ_PICK_ROW,           /* row N from the top (value = N) */
    BQ_PICK_Y,             /* the row nearest y = value, phospho scan px */
    BQ_PICK_KDA            /* the row nearest value kDa (ladder needed) */
};

/* One scan: a file and a page. */
struct bq_scanref {
    char path[BQ_PATH_MAX]; /* resolved: experiment folder + name */
    char name[256];         /* as written, relative to the folder */
    unsigned page;          /* 0-based TIFF page */
    int line;               /* manifest line, 0 if from file names */
};

/* One [blot NAME] section: a membrane probed for phospho and total. */
struct bq_mblot {
    char name[64];          /* unique within the manifest */
    char target[32];        /* STAT3, ERK1/2, ... */
    int replicate;          /* >= 1 */
    struct bq_scanref phospho, total, loading; /* loading.path "" if none */
    char loading_name[32];  /* "GAPDH"; "loading" if not given */
    enum bq_band_pick pick; /* which band row */
    double pick_value;      /* N, y px or kDa, by PICK */
    int doublet_each;       /* 1: report both bands of a doublet */
    int line;               /* line of the section header */
    int pick_line;          /* line of band =, 0 if default */
};

struct bq_manifest {
    char dir[BQ_PATH_MAX];  /* experiment folder */
    char path[BQ_PATH_MAX]; /* the manifest file, "" if from file names */
    char name[128];         /* experiment name */
    size_t control;         /* 0-based index of the control lane */
    int control_line;       /* line of control =, 0 if default */
    int lanes_line;         /* line of [lanes], 0 if from file names */
    double ladder_kda[BQ_MAX_LADDER]; /* top to bottom */
    size_t nladder;
    struct bq_mlane *lanes; /* owned; none if from file names (numbered
                               from the scans, control lane 1) */
    size_t nlanes;
    struct bq_mblot *blots; /* owned */
    size_t nblots;
};

/* Reads DIR/blotquant.ini. Fills M (caller: bq_manifest_fini, also on
 * error). Errors name the file and line: missing scans, paths leaving the
 * folder, bad numbers, unknown keys or control, duplicate blots. */
enum bq_status bq_manifest_read(const char *dir, struct bq_manifest *m,
                                struct bq_error *err);

/* Builds a manifest from the file names in DIR when it has no manifest:
 * pSTAT3_rep1.tif pairs with STAT3_rep1.tif (README). Lanes are numbered
 * from the scans, lane 1 is the control. BQ_ERR_NOT_FOUND if no pair. */
enum bq_status bq_manifest_from_names(const char *dir, struct bq_manifest *m,
                                      struct bq_error *err);

/* Reads the manifest if DIR has one, else pairs by file names. */
enum bq_status bq_manifest_load(const char *dir, struct bq_manifest *m,
                                struct bq_error *err);

/* Gives the manifest lanes when it has none: NLANES numbered lanes
 * ("lane 1", ...), lane 1 the control. Returns BQ_OK or BQ_ERR_NOMEM. */
enum bq_status bq_manifest_number_lanes(struct bq_manifest *m, size_t nlanes,
                                        struct bq_error *err);

void bq_manifest_fini(struct bq_manifest *m);

/* Parses a lane label into M's kind, agent, dose and unit ("rhTPO 50
 * ng/mL", "vehicle", "ladder"). Returns BQ_OK or BQ_ERR_INVALID with a
 * message (no line) for a dose that is not a number or has no unit. */
enum bq_status bq_lane_parse(const char *label, struct bq_mlane *m,
                             struct bq_error *err);

#endif
