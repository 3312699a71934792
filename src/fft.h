/* Internal: Gaussian smoothing and phase correlation through FFTW.
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

/* Phase correlation of W x H real arrays through FFTW real-to-complex
 * transforms, planned once (FFTW_ESTIMATE) and executed many times. The
 * normalised cross-power spectrum is weighted by a band-pass: a Gaussian
 * low-pass of SD LOWPASS cycles/pixel (suppresses noise and gives the peak
 * a smooth Gaussian shape) times one minus a Gaussian of SD HIGHPASS
 * cycles/pixel (suppresses slow shading; 0 removes only the mean). The
 * weights are normalised so that, with full whitening, two arrays that are
 * circular shifts of each other correlate to a peak of exactly 1;
 * unrelated arrays give a surface of mean 0. A correlator is used by one
 * thread at a time. */
struct bq_phasecorr;

/* Creates a correlator for W x H arrays (each side 2..65536). WHITEN
 * (0..1) is the exponent of the normalisation of the cross-power spectrum
 * by its magnitude: 1 is phase correlation (every frequency counts the
 * same), 0 plain band-passed cross-correlation (frequencies count by their
 * energy), 0.5 halfway. Returns BQ_OK and stores the correlator in *OUT
 * (caller: bq_phasecorr_destroy), or BQ_ERR_INVALID / BQ_ERR_NOMEM /
 * BQ_ERR_FFT with ERR filled. */
enum bq_status bq_phasecorr_create(size_t w, size_t h, double lowpass,
                                   double highpass, double whiten,
                                   struct bq_phasecorr **out,
                                   struct bq_error *err);

/* Returns the number of floats of one spectrum of PC (interleaved real and
 * imaginary parts of h * (w/2 + 1) complex values). */
size_t bq_phasecorr_spectrum_len(const struct bq_phasecorr *pc);

/* Transforms IN (w*h floats, row-major, untouched) into SPEC (a
 * caller-owned array of bq_phasecorr_spectrum_len floats). */
void bq_phasecorr_forward(struct bq_phasecorr *pc, const float *in,
                          float *spec);

/* Correlates two spectra from bq_phasecorr_forward into SURFACE (w*h
 * floats): if MOV is REF shifted by (+tx, +ty) pixels, that is
 * mov(x, y) = ref(x - tx, y - ty), the surface peaks at index
 * (tx mod w, ty mod h). REF and MOV are not modified. */
void bq_phasecorr_correlate(struct bq_phasecorr *pc, const float *ref,
                            const float *mov, float *surface);

/* Frees PC; NULL is a no-op. */
void bq_phasecorr_destroy(struct bq_phasecorr *pc);

#endif
