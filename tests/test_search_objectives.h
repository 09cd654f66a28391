/* test_search_objectives.h — synthetic objectives with known optima for the search tests:
 * additive layer costs, additive + pairwise interactions, a needle in a haystack; lower
 * fidelities add a deterministic per-(mask, fidelity) perturbation. The objective records
 * every (mask, fidelity) it scores and flags any repeat (the cache must prevent them). */
#ifndef SP_TEST_SEARCH_OBJECTIVES_H
#define SP_TEST_SEARCH_OBJECTIVES_H

#include <string.h>

#include "common/rng.h"
#include "coordinator/fitness_cache.h"
#include "coordinator/search_driver.h"

typedef enum { OBJ_ADDITIVE, OBJ_PAIRWISE, OBJ_NEEDLE } test_obj_kind;

typedef struct {
    test_obj_kind kind;
    int n_layers, n_fidelities;
    double cost[SP_MAX_LAYERS];
    sp_mask needle;
    sp_fitness_cache scored; /* every (mask, fidelity) scored so far */
    int repeats;             /* scored twice: must stay 0 */
    int64_t calls;
} test_objective;

static inline void test_objective_init(test_objective *o, test_obj_kind kind, int n_layers,
                                       int n_fidelities, uint64_t seed)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->n_layers = n_layers;
    o->n_fidelities = n_fidelities;
    for (int l = 0; l < n_layers; l++) o->cost[l] = 1.0 + sp_rng_uniform(seed, 77, (uint64_t)l, 0);
    sp_fitness_cache_init(&o->scored);
}

static inline double test_objective_value(const test_objective *o, const sp_mask *m, int fid)
{
    double f = 0;
    int idx[SP_MAX_LAYERS], n = sp_mask_to_list(m, idx, SP_MAX_LAYERS);
    if (o->kind == OBJ_NEEDLE) f = sp_mask_equal(m, &o->needle) ? 0.0 : 1.0;
    else
        for (int i = 0; i < n; i++) f += o->cost[idx[i]];
    if (o->kind == OBJ_PAIRWISE) /* adjacent removed layers interact strongly */
        for (int i = 0; i + 1 < n; i++)
            if (idx[i + 1] == idx[i] + 1) f += 0.8 * sp_rng_uniform(3, (uint64_t)idx[i], 0, 0);
    if (fid < o->n_fidelities - 1)
        f += 0.2 * (o->n_fidelities - 1 - fid) *
             (sp_rng_uniform(11, sp_mask_hash(m), (uint64_t)fid, 0) - 0.5);
    return f;
}

static inline int test_objective_batch(void *ctx, const sp_candidate *c, int n, double *out,
                                       sp_error *err)
{
    test_objective *o = ctx;
    for (int i = 0; i < n; i++) {
        if (sp_fitness_cache_contains(&o->scored, &c[i].mask, c[i].fidelity)) o->repeats++;
        else sp_fitness_cache_insert(&o->scored, &c[i].mask, c[i].fidelity, 0.0);
        out[i] = test_objective_value(o, &c[i].mask, c[i].fidelity);
    }
    o->calls++;
    return 0;
}

/* The optimum of the additive objective: the k cheapest prunable layers. */
static inline double test_objective_additive_optimum(const test_objective *o,
                                                     const sp_search_problem *p, sp_mask *best)
{
    sp_mask_clear(best);
    double f = 0;
    for (int j = 0; j < p->k; j++) {
        int b = -1;
        for (int d = 0; d < p->n_prunable; d++) {
            int l = p->prunable[d];
            if (!sp_mask_test(best, l) && (b < 0 || o->cost[l] < o->cost[b])) b = l;
        }
        sp_mask_set(best, b);
        f += o->cost[b];
    }
    return f;
}

#endif
