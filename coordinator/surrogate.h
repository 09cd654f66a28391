/* surrogate.h — a ridge-regression model of fitness over layer masks (additive terms per
 * prunable slot plus pairwise terms for slots at most SP_SURROGATE_WINDOW apart), fitted to
 * the masks a search has scored; used to rank swap neighbours before they cost an evaluation.
 *     f(x) ~ w0 + sum_d w_d x_d + sum_{d < e <= d + W} w_de x_d x_e,  x = removed slots (0/1)
 * Masks removing fewer than k layers (the greedy-path warm start's) are data too: each count
 * c < k gets its own intercept u_c (unpenalized), so they inform w_d and w_de without biasing
 * predictions at k, which use w0 alone.
 * Ridge penalties (in units of "equivalent observations"): SP_SURROGATE_RIDGE_ADD on w_d,
 * SP_SURROGATE_RIDGE_PAIR on w_de (pairs shrink harder), none on w0. Deterministic: the fit is
 * a function of the entries in order. */
#ifndef SP_SURROGATE_H
#define SP_SURROGATE_H

#include <stddef.h>
#include <stdint.h>

#include "fitness_cache.h"
#include "search_problem.h"

#define SP_SURROGATE_WINDOW 3
#define SP_SURROGATE_RIDGE_ADD 0.5
#define SP_SURROGATE_RIDGE_PAIR 1.0

typedef struct {
    int P, k;
    int nf;     /* 1 + P + pairs + (k - 1) */
    double *w;  /* [nf] fitted weights: w0, w_d (slot d), pairs by (distance j, slot d), then
                   the intercepts u_1 .. u_{k-1} of masks with fewer layers */
    int fitted; /* 0 until a fit with at least 2 observations */
} sp_surrogate;

void sp_surrogate_init(sp_surrogate *s, int P, int k);
void sp_surrogate_free(sp_surrogate *s);
/* Fits to the entries of `data` at fidelity `fidelity` with finite fitness (masks over the
 * problem's layers removing 1..k of them). Fewer than 2 such entries leave the model unfitted
 * (predict returns 0). */
void sp_surrogate_fit(sp_surrogate *s, const sp_search_problem *p, const sp_fitness_cache *data,
                      int fidelity);
/* Prediction for removed slots x[P] (0/1), exactly k of them. */
double sp_surrogate_predict(const sp_surrogate *s, const uint8_t *x);

#endif
