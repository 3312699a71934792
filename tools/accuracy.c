/* Accuracy sweep: generates randomized blots with every artefact on,
 * analyses them and prints how many lanes and bands were found and the
 * volume errors. Usage:
 *   accuracy [SEEDS] [WIDTH HEIGHT] [-v] [--no-doublets] [--first N]
 *            [--save DIR]
 * (-v: one line per scan; --first N: seeds N .. N+SEEDS-1, default 1;
 * --save DIR: each scan also as DIR/seedN.tif (DIR must exist), to look
 * at with quantify;
 * BQ_EVAL_VERBOSE=1: one line per band). Options may stand anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blotquant/analysis.h"
#include "e2e_eval.h"
#include "synth.h"

static int
cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    int seeds = 20, first = 1, verbose = 0, nodbl = 0, npos = 0;
    const char *save = NULL;
    size_t w = 1024, h = 768;
    static struct bq_eval ev;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else if (!strcmp(argv[i], "--no-doublets"))
            nodbl = 1;
        else if (!strcmp(argv[i], "--first") && i + 1 < argc)
            first = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--save") && i + 1 < argc)
            save = argv[++i];
        else if (npos == 0)
            seeds = atoi(argv[i]), npos++;
        else if (npos == 1)
            w = (size_t)atol(argv[i]), npos++;
        else if (npos == 2)
            h = (size_t)atol(argv[i]), npos++;
        else {
            fprintf(stderr, "accuracy: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (npos == 2) {
        fprintf(stderr, "accuracy: WIDTH needs HEIGHT\n");
        return 2;
    }
    for (int s = first; s < first + seeds; s++) {
        struct bq_synth_params p;
        struct bq_analysis a;
        struct bq_error err = {BQ_OK, ""};
        size_t l0 = ev.lanes_found, b0 = ev.bands_found, nb0 = ev.bands,
               nl0 = ev.lanes, ph0 = ev.phantom, sf0 = ev.sat_found,
               sg0 = ev.sat_flagged;

        bq_synth_params_init(&p);
        p.width = w;
        p.height = h;
        p.dark_bands = s % 3 == 0;
        p.bit_depth = s % 4 == 0 ? 8 : 16;
        bq_synth_params_randomize(&p, (uint64_t)s);
        if (nodbl)
            p.doublets = 0;
        if (bq_eval_scan(&ev, &p, &a, &err) != BQ_OK)
            fprintf(stderr, "seed %d: %s\n", s, err.msg);
        if (verbose)
            printf("seed %2d: %d-bit %s strips %d lanes %2d rot %+.2f "
                   "(found %+.2f) frame %d (found %d, membrane %.0f %%) | lanes %zu/%zu bands %zu/%zu "
                   "phantoms %zu saturated flagged %zu/%zu\n",
                   s, p.bit_depth, p.dark_bands ? "dark " : "light", p.strips,
                   p.lanes, p.rotation_deg, a.angle, p.frame, a.prep.frame,
                   100 * a.prep.membrane_frac,
                   ev.lanes_found - l0, ev.lanes - nl0, ev.bands_found - b0,
                   ev.bands - nb0, ev.phantom - ph0, ev.sat_flagged - sg0,
                   ev.sat_found - sf0);
        bq_analysis_fini(&a);
        if (save) {
            struct bq_synth_truth t;
            struct bq_image *img = NULL;
            char path[4096];
            snprintf(path, sizeof path, "%s/seed%d.tif", save, s);
            if (bq_synth_generate(&p, &img, &t, &err) != BQ_OK) {
                fprintf(stderr, "seed %d: %s\n", s, err.msg);
            } else {
                if (bq_synth_write_tiff(path,
                                        (const struct bq_image *const *)&img,
                                        1, NULL, &err) != BQ_OK)
                    fprintf(stderr, "seed %d: %s\n", s, err.msg);
                bq_synth_truth_fini(&t);
            }
            bq_image_destroy(img);
        }
    }
    qsort(ev.err, ev.nerr, sizeof *ev.err, cmpd);
    printf("lanes found %zu/%zu, bands found %zu/%zu, saturated flagged "
           "%zu of %zu found (%zu in the truth)\n",
           ev.lanes_found, ev.lanes, ev.bands_found, ev.bands, ev.sat_flagged,
           ev.sat_found, ev.sat_bands);
    printf("lanes detected %zu, of which %zu hold bands where no true lane "
           "is (phantoms)\n",
           ev.lanes_det, ev.phantom);
    if (ev.nerr)
        printf("volume error (row-scaled, %zu bands): median %.2f %%, "
               "90th percentile %.2f %%, max %.2f %%\n",
               ev.nerr, 100 * ev.err[ev.nerr / 2],
               100 * ev.err[(size_t)(0.9 * (double)(ev.nerr - 1))],
               100 * ev.err[ev.nerr - 1]);
    return 0;
}
