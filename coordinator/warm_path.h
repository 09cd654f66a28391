/* warm_path.h — the greedy-path warm start of PSO and WOA (their `warm_path` parameter): before
 * the population moves, a SLEB-style removal path is built one layer at a time, made cheap by
 * lazy evaluation. Step 1 scores every single-layer removal (the one-shot scores); each later
 * step scores only the m extensions of the path whose latest measured marginal harm
 * f(S_i + d) - f(S_i) is lowest, and extends the path by the best of them. The path's k-layer
 * mask then seeds the population and the local search. Cost: P + (k - 1) m evaluations
 * (greedy's: P + (P - 1) + ... + (P - k + 1)). Deterministic (no random draws). */
#ifndef SP_WARM_PATH_H
#define SP_WARM_PATH_H

#include <stdint.h>

#include "common/error.h"
#include "common/mask.h"
#include "common/state.h"
#include "search_problem.h"

typedef struct {
    int P, m;           /* prunable slots; candidates per step after the first (0 = no path) */
    int64_t step;       /* layers on the path so far, 0..k (k: finished) */
    sp_mask current;    /* the path's removed layers */
    double current_fit; /* f(current) (NaN at step 0) */
    double *harm;       /* [P] latest marginal harm of adding slot d, f(S_i + d) - f(S_i) (NaN:
                           never scored); after step 1 the raw f({d}), turned into harms at step
                           2 with f(dense) estimated from that step's candidates */
} sp_warm_path;

/* m: the step width, as sp_warm_path_width resolved it (0 = no path). */
void sp_warm_path_init(sp_warm_path *w, int P, int m);
/* The step width PSO / WOA use: 0 (no path) with warm masks, or when the path's evaluations,
 * (P + (k - 1) m) x the fidelity levels (a bound on what successive halving adds), exceed half
 * of a known budget; else m (resolved when automatic). */
int sp_warm_path_width(const sp_search_problem *p, int m, int n_warm, int64_t budget);
/* The path's evaluations for step width m (< 0: automatic): (P + (k - 1) m) x fidelity levels. */
int64_t sp_warm_path_cost(const sp_search_problem *p, int m);
/* The automatic step width: a fifth of the slots, at least 4 (capped at P): max(4, ceil(P/5)). */
int sp_warm_path_auto(int P);
void sp_warm_path_free(sp_warm_path *w);
/* 1 while the path still has steps to score. */
int sp_warm_path_active(const sp_warm_path *w, const sp_search_problem *p);
/* The current step's candidates (full fidelity) into out[] (room for P); returns how many. */
int sp_warm_path_propose(const sp_warm_path *w, const sp_search_problem *p, sp_candidate *out);
/* Scores of the proposed candidates, in order: updates the harms and extends the path by the
 * best full-fidelity candidate (ties: first proposed). */
void sp_warm_path_observe(sp_warm_path *w, const sp_search_problem *p, const sp_candidate *c,
                          const double *fitness, const int *fidelity, int n);
/* "<name>/path_*" state entries (the step width included: a resumed search keeps the decision
 * made for the budget it started with). */
int sp_warm_path_save(const sp_warm_path *w, const char *name, sp_state *st, sp_error *err);
int sp_warm_path_load(sp_warm_path *w, const sp_search_problem *p, const char *name,
                      const sp_state *st, sp_error *err);

#endif
