/* warm_path.h — the greedy-path warm start of PSO and WOA (their `warm_path` and `warm_beam`
 * parameters): before the population moves, a SLEB-style removal path is built one layer at a
 * time, made cheap by lazy evaluation. Step 1 scores every single-layer removal (the one-shot
 * scores); each later step scores, for each of the W masks the path holds (its beam; W = 1: one
 * path), the m extensions whose latest measured marginal harm f(S + d) - f(S) is lowest, and
 * keeps the W best masks scored in the step. The best k-layer mask then seeds the population and
 * the local search. Cost: at most P + (k - 1) W m evaluations (greedy's: P + (P - 1) + ... +
 * (P - k + 1)). Deterministic (no random draws). */
#ifndef SP_WARM_PATH_H
#define SP_WARM_PATH_H

#include <stdint.h>

#include "common/error.h"
#include "common/mask.h"
#include "common/state.h"
#include "search_problem.h"

#define SP_WARM_BEAM_MAX 4 /* largest warm_beam */
#define SP_WARM_BEAM_AUTO 2 /* the automatic beam when the budget affords it */

typedef struct {
    int P, m;           /* prunable slots; candidates per beam mask and step after the first (0 =
                           no path) */
    int W, n_beam;      /* beam width 1..SP_WARM_BEAM_MAX; masks the beam holds */
    int64_t step;       /* layers on the path so far, 0..k (k: finished) */
    sp_mask beam[SP_WARM_BEAM_MAX]; /* the last step's W best masks, best first (beam[0]: the
                                       path's removed layers); at step 0 the empty mask alone */
    double beam_fit[SP_WARM_BEAM_MAX]; /* their fitness; 0 for the empty mask, so that step-1
                                          harms are the raw fitnesses f({d}) */
    double *harm;       /* [P] latest marginal harm of adding slot d, f(S + d) - f(S) for a beam
                           mask S (the lowest when several were measured in one step; NaN: never
                           scored); after step 1 the raw f({d}), turned into harms at step 2 with
                           f(dense) estimated from that step's candidates */
} sp_warm_path;

/* m, W: the step and beam widths, as sp_warm_path_plan resolved them (m = 0: no path). */
void sp_warm_path_init(sp_warm_path *w, int P, int m, int W);
/* The path PSO / WOA run for their warm_path m and warm_beam W (< 0: automatic): *m_out = 0 (no
 * path) with warm masks, or when the path's evaluations (sp_warm_path_cost) exceed half of a
 * known budget; an automatic W is SP_WARM_BEAM_AUTO when that path fits in half the budget, else
 * 1 (also when no budget is known). */
void sp_warm_path_plan(const sp_search_problem *p, int m, int W, int n_warm, int64_t budget,
                       int *m_out, int *W_out);
/* A bound on the path's evaluations for step width m (< 0: automatic) and beam W (< 0: 1, the
 * cheapest automatic choice): (P + (k - 1) W m) x fidelity levels (what successive halving adds
 * at most). */
int64_t sp_warm_path_cost(const sp_search_problem *p, int m, int W);
/* The automatic step width: a fifth of the slots, at least 4 (capped at P): max(4, ceil(P/5)). */
int sp_warm_path_auto(int P);
/* sp_warm_path_plan, then sp_warm_path_init with its answer; returns the room the proposals
 * need, max(P, W m). */
int sp_warm_path_start(sp_warm_path *w, const sp_search_problem *p, int m, int W, int n_warm,
                       int64_t budget);
void sp_warm_path_free(sp_warm_path *w);
/* 1 while the path still has steps to score. */
int sp_warm_path_active(const sp_warm_path *w, const sp_search_problem *p);
/* The current step's candidates (full fidelity, no mask twice) into out[] (the room
 * sp_warm_path_start returned); returns how many. */
int sp_warm_path_propose(const sp_warm_path *w, const sp_search_problem *p, sp_candidate *out);
/* Scores of the proposed candidates, in order: updates the harms and makes the W best
 * full-fidelity candidates the beam (ties: first proposed). */
void sp_warm_path_observe(sp_warm_path *w, const sp_search_problem *p, const sp_candidate *c,
                          const double *fitness, const int *fidelity, int n);
/* "<name>/path_*" state entries (the step and beam widths included: a resumed search keeps the decision
 * made for the budget it started with). */
int sp_warm_path_save(const sp_warm_path *w, const char *name, sp_state *st, sp_error *err);
int sp_warm_path_load(sp_warm_path *w, const sp_search_problem *p, const char *name,
                      const sp_state *st, sp_error *err);

#endif
