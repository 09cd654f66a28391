/* search_driver.h — runs an algorithm against a batch objective for a budget of unique
 * (mask, fidelity) evaluations: fitness cache (hits cost nothing), optional successive halving
 * over fidelity levels inside a generation, history of every evaluation, best-so-far (exact-k,
 * full fidelity only), per-layer removal counts over each generation's population and over all
 * evaluations. Deterministic for a seed; save/load resume it identically. The MPI scheduler
 * plugs in as the batch objective (it may score the batch in any order, in parallel). */
#ifndef SP_SEARCH_DRIVER_H
#define SP_SEARCH_DRIVER_H

#include <stdint.h>

#include "algorithm.h"
#include "common/error.h"
#include "common/state.h"
#include "fitness_cache.h"

/* Scores cands[n] (unique within the call, none scored before) into fitness[n], in order. */
typedef int (*sp_eval_batch_fn)(void *ctx, const sp_candidate *cands, int n, double *fitness,
                                sp_error *err);

/* Adapter for one-at-a-time objectives: pass sp_eval_one_batch as the batch function and a
 * sp_eval_one as its ctx. */
typedef double (*sp_eval_one_fn)(void *ctx, const sp_mask *m, int fidelity);
typedef struct {
    sp_eval_one_fn fn;
    void *ctx;
} sp_eval_one;
int sp_eval_one_batch(void *adapter, const sp_candidate *cands, int n, double *fitness,
                      sp_error *err);

typedef struct {
    int64_t max_evals;      /* budget of unique evaluations (all fidelities), >= 1 */
    int halving;            /* 1: successive halving over the F levels for algorithms that ask
                               for full fidelity (ignored by self-fidelity ones, e.g. evo) [0] */
    int halving_keep_ratio; /* keep ceil(n / ratio) candidates per level [2], >= 2 */
    int max_stale;          /* stop after this many generations in a row without a new
                               evaluation (the space is exhausted for this algorithm) [20] */
} sp_driver_config;

typedef struct {
    sp_mask mask;
    int fidelity;
    double fitness;
    int64_t generation;  /* the generation that asked for it */
    double best_so_far;  /* best full-fidelity exact-k fitness after this record (inf: none) */
} sp_eval_record;

typedef enum {
    SP_DRIVER_RUNNING = 0,
    SP_DRIVER_BUDGET,    /* max_evals reached */
    SP_DRIVER_EXHAUSTED, /* the algorithm proposed nothing */
    SP_DRIVER_STALLED    /* max_stale generations without a new evaluation */
} sp_driver_status;

typedef struct {
    sp_search_problem problem;
    sp_driver_config cfg;
    sp_algorithm *alg;        /* owned */
    sp_fitness_cache cache;
    sp_eval_batch_fn eval;
    void *ctx;
    sp_eval_record *history;  /* [n_history] every unique evaluation, in evaluation order */
    size_t n_history, cap_history;
    int64_t *layer_counts;    /* [L] removals over all unique evaluations */
    int64_t *pop_counts;      /* [generation x L] removals over each generation's batch */
    int64_t *pop_sizes;       /* [generation] batch sizes */
    size_t cap_gen;
    int64_t generation;       /* generations proposed so far */
    int64_t stale;
    int64_t best_index;       /* history index of the best, -1 when none */
    sp_driver_status status;
} sp_search_driver;

void sp_driver_config_default(sp_driver_config *c);
int sp_driver_config_validate(const sp_driver_config *c, const sp_search_problem *p,
                              sp_error *err);
const char *sp_driver_status_name(sp_driver_status s);

int sp_search_driver_init(sp_search_driver *d, const sp_search_problem *p,
                          const sp_search_params *params, uint64_t seed,
                          const sp_driver_config *cfg, sp_eval_batch_fn eval, void *ctx,
                          sp_error *err);
/* One generation: 1 = done and more to come, 0 = the search has finished, -1 = error. */
int sp_search_driver_step(sp_search_driver *d, sp_error *err);
/* Up to max_generations steps (< 0: until finished). */
int sp_search_driver_run(sp_search_driver *d, int64_t max_generations, sp_error *err);
/* Best exact-k full-fidelity result; 0 when none yet. */
int sp_search_driver_best(const sp_search_driver *d, sp_mask *mask, double *fitness);
/* Driver + cache + algorithm state. Load into a driver initialised with the same problem,
 * params, seed and config (max_evals may differ: a resumed run may extend the budget). */
int sp_search_driver_save(const sp_search_driver *d, sp_state *st, sp_error *err);
int sp_search_driver_load(sp_search_driver *d, const sp_state *st, sp_error *err);
void sp_search_driver_free(sp_search_driver *d);

#endif
