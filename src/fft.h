/* Internal: Gaussian smoothing of small images through FFTW.
 * src/fft.c is the only file that includes fftw3.h. */
#ifndef BQ_FFT_H
#define BQ_FFT_H

#include <stddef.h>

#include "blotquant/image.h"

/* Plans for smoothing W x H float arrays with a Gaussian of SD sigma_x,
 * sigma_y (pixels). The transform is a DCT-II/DCT-III pair, which is the FFT
 * of the image mirrored at its edges: smoothing reflects at the borders
 * instead of wrapping the top of the image into the bottom. */
struct bq_smoother;

/* Creates a smoother (plans once, FFTW_ESTIMATE: deterministic, input
 * untouched). Returns BQ_OK and stores it in *OUT (caller:
 * bq_smoother_destroy), or an error in ERR. */
enum bq_status bq_smoother_create(size_t w, size_t h, double sigma_x,
                                  double sigma_y, struct bq_smoother **out,
                                  struct bq_error *err);

/* Smooths IN (w*h floats, row-major) into OUT; IN and OUT may alias. */
void bq_smoother_apply(struct bq_smoother *s, const float *in, float *out);

/* Frees S; NULL is a no-op. */
void bq_smoother_destroy(struct bq_smoother *s);

#endif
