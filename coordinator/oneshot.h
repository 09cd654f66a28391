/* oneshot.h — score-based one-shot layer selections (no search): each turns caller-supplied
 * per-layer or per-window scores into one exact-k mask, usable alone or as warm starts.
 *   ShortGPT Block Influence: remove the k prunable layers with the lowest scores.
 *   Gromov et al. angular distance: remove the contiguous window of k prunable layers whose
 *     distance (between the window's input and output hidden states) is smallest.
 *   Last k: the k highest prunable layers below the final one. */
#ifndef SP_ONESHOT_H
#define SP_ONESHOT_H

#include "common/error.h"
#include "common/mask.h"
#include "search_problem.h"

/* scores[L] (protected layers ignored); NaN in a prunable layer is an error. Ties: lower
 * layer index removed first. */
int sp_oneshot_lowest_scores(const sp_search_problem *p, const double *scores, sp_mask *out,
                             sp_error *err);
/* dist[L - k + 1]: dist[s] scores removing layers s .. s+k-1. Windows containing a protected
 * layer are skipped; NaN in a usable window is an error; ties: lower start. */
int sp_oneshot_best_window(const sp_search_problem *p, const double *dist, sp_mask *out,
                           sp_error *err);
/* Layers below L-1, highest first, skipping protected ones (L-1-k .. L-2 by default). */
int sp_oneshot_last_k(const sp_search_problem *p, sp_mask *out, sp_error *err);

#endif
