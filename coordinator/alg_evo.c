/* alg_evo.c — EvoPress-style (1 + lambda) evolutionary search with multi-stage selection.
 * Generation g: lambda offspring of the parent, each by s swaps (one removed <-> one kept
 * layer, s in 1..max_swaps with P(s) ~ 2^-s). Stage f = 0..F-1 scores the survivors at
 * fidelity f and keeps ceil(n / keep_ratio) of them; after the full-fidelity stage the best
 * replaces the parent if strictly better. The first batch (warm masks, then random masks, up
 * to lambda) is scored at full fidelity to pick the first parent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm.h"
#include "common/rng.h"

enum { TAG_INIT = 1, TAG_OFF };

typedef struct {
    sp_mask parent;
    double parent_fit;
    int64_t phase;       /* 0: initial batch pending, 1: offspring stages */
    int64_t stage;       /* current stage = fidelity level, 0..F-1 */
    int64_t generation;  /* offspring generations completed */
    int64_t n_alive;
    int lambda;
    sp_mask *offspring;  /* [lambda] of the current generation */
    int64_t *alive;      /* [lambda] offspring indices scored in the current stage, in order */
} evo_state;

/* Swap mutation of the parent for offspring j of the current generation. */
static void evo_mutate(const sp_algorithm *a, const evo_state *s, int j, int attempt, sp_mask *out)
{
    const sp_search_problem *p = &a->problem;
    sp_rng r = sp_rng_make(a->seed, sp_rng_hash(a->seed, sp_alg_ctr(s->generation, TAG_OFF),
                                                (uint64_t)j, (uint64_t)attempt));
    int max_swaps = a->params.evo.max_swaps;
    if (max_swaps > p->n_prunable - p->k) max_swaps = p->n_prunable - p->k;
    int swaps = 1;
    while (swaps < max_swaps && sp_rng_next_unit(&r) < 0.5) swaps++;
    *out = s->parent;
    int removed[SP_MAX_LAYERS], kept[SP_MAX_LAYERS];
    for (int t = 0; t < swaps; t++) {
        int nr = 0, nk = 0;
        for (int d = 0; d < p->n_prunable; d++) {
            int layer = p->prunable[d];
            if (sp_mask_test(out, layer)) removed[nr++] = layer;
            else kept[nk++] = layer;
        }
        sp_mask_unset(out, removed[sp_rng_next_below(&r, (uint64_t)nr)]);
        sp_mask_set(out, kept[sp_rng_next_below(&r, (uint64_t)nk)]);
    }
}

/* Fills the offspring of the current generation; redraws duplicates (of the parent or of
 * earlier offspring) up to 32 times, then keeps the duplicate (the cache absorbs it). */
static void evo_make_offspring(sp_algorithm *a)
{
    evo_state *s = a->impl;
    for (int j = 0; j < s->lambda; j++) {
        for (int attempt = 0; attempt < 32; attempt++) {
            evo_mutate(a, s, j, attempt, &s->offspring[j]);
            int dup = sp_mask_equal(&s->offspring[j], &s->parent);
            for (int q = 0; q < j && !dup; q++) dup = sp_mask_equal(&s->offspring[j], &s->offspring[q]);
            if (!dup) break;
        }
        s->alive[j] = j;
    }
    s->n_alive = s->lambda;
    s->stage = 0;
}

static int evo_init(sp_algorithm *a, sp_error *err)
{
    evo_state *s = sp_xcalloc(1, sizeof *s);
    a->impl = s;
    s->lambda = a->params.evo.lambda;
    s->offspring = sp_xcalloc((size_t)s->lambda, sizeof *s->offspring);
    s->alive = sp_xcalloc((size_t)s->lambda, sizeof *s->alive);
    s->parent_fit = INFINITY;
    sp_algorithm_reserve(a, s->lambda);
    return 0;
}

static int evo_propose(sp_algorithm *a, sp_error *err)
{
    evo_state *s = a->impl;
    int full = sp_search_full_fidelity(&a->problem);
    if (s->phase == 0) {
        for (int j = 0; j < s->lambda; j++) {
            if (j < a->params.n_warm) a->batch[j].mask = a->warm[j];
            else sp_search_random_mask(&a->problem, a->seed, sp_alg_ctr(0, TAG_INIT), (uint64_t)j,
                                       &a->batch[j].mask);
            a->batch[j].fidelity = full;
        }
        a->n_batch = s->lambda;
        return 0;
    }
    for (int64_t j = 0; j < s->n_alive; j++) {
        a->batch[j].mask = s->offspring[s->alive[j]];
        a->batch[j].fidelity = (int)s->stage;
    }
    a->n_batch = (int)s->n_alive;
    return 0;
}

/* Stable selection of the `keep` lowest fitnesses: alive[] is rewritten in rank order. */
static void evo_select(evo_state *s, const double *fitness, int64_t keep)
{
    int64_t n = s->n_alive;
    int64_t *order = sp_xmalloc((size_t)n * sizeof *order), *next = sp_xmalloc((size_t)n * sizeof *next);
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = 1; i < n; i++) /* insertion sort: stable, n <= lambda */
        for (int64_t j = i; j > 0 && fitness[order[j]] < fitness[order[j - 1]]; j--) {
            int64_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int64_t i = 0; i < keep; i++) next[i] = s->alive[order[i]];
    memcpy(s->alive, next, (size_t)keep * sizeof *next);
    s->n_alive = keep;
    free(order);
    free(next);
}

static int evo_observe(sp_algorithm *a, const double *fitness, const int *fidelity, sp_error *err)
{
    evo_state *s = a->impl;
    int full = sp_search_full_fidelity(&a->problem);
    if (s->phase == 0) {
        int best = 0;
        for (int j = 1; j < a->n_batch; j++)
            if (fitness[j] < fitness[best]) best = j;
        s->parent = a->batch[best].mask;
        s->parent_fit = fitness[best];
        s->phase = 1;
        evo_make_offspring(a);
        return 0;
    }
    if (s->stage < full) {
        int64_t keep = (s->n_alive + a->params.evo.keep_ratio - 1) / a->params.evo.keep_ratio;
        evo_select(s, fitness, keep);
        s->stage++;
        return 0;
    }
    evo_select(s, fitness, 1);
    int64_t bi = 0;
    for (int64_t j = 1; j < a->n_batch; j++)
        if (fitness[j] < fitness[bi]) bi = j;
    if (fitness[bi] < s->parent_fit) {
        s->parent = a->batch[bi].mask;
        s->parent_fit = fitness[bi];
    }
    s->generation++;
    evo_make_offspring(a);
    return 0;
}

static void evo_param_vec(const sp_algorithm *a, double *v)
{
    v[0] = a->params.evo.lambda;
    v[1] = a->params.evo.max_swaps;
    v[2] = a->params.evo.keep_ratio;
}

static int evo_save(const sp_algorithm *a, sp_state *st, sp_error *err)
{
    const evo_state *s = a->impl;
    double pv[3], pf[1] = {s->parent_fit};
    int64_t meta[4] = {s->phase, s->stage, s->generation, s->n_alive};
    int64_t words[SP_MASK_WORDS];
    size_t L = (size_t)s->lambda;
    int64_t *off = sp_xmalloc(L * SP_MASK_WORDS * sizeof *off);
    evo_param_vec(a, pv);
    sp_search_masks_to_i64(&s->parent, 1, words);
    sp_search_masks_to_i64(s->offspring, L, off);
    int rc = sp_alg_params_save("evo", pv, 3, st, err) ||
             sp_state_put_i64(st, "evo/meta", 4, 0, meta, err) ||
             sp_state_put_i64(st, "evo/parent", SP_MASK_WORDS, 0, words, err) ||
             sp_state_put_f64(st, "evo/parent_fitness", 1, 0, pf, err) ||
             sp_state_put_i64(st, "evo/offspring", L, SP_MASK_WORDS, off, err) ||
             sp_state_put_i64(st, "evo/alive", L, 0, s->alive, err);
    free(off);
    return rc ? -1 : 0;
}

static int evo_load(sp_algorithm *a, const sp_state *st, sp_error *err)
{
    evo_state *s = a->impl;
    double pv[3], pf[1];
    int64_t meta[4], words[SP_MASK_WORDS];
    size_t L = (size_t)s->lambda;
    int64_t *off = sp_xmalloc(L * SP_MASK_WORDS * sizeof *off);
    evo_param_vec(a, pv);
    int rc = sp_alg_params_check("evo", pv, 3, st, err) ||
             sp_state_get_i64(st, "evo/meta", 4, 0, meta, err) ||
             sp_state_get_i64(st, "evo/parent", SP_MASK_WORDS, 0, words, err) ||
             sp_state_get_f64(st, "evo/parent_fitness", 1, 0, pf, err) ||
             sp_state_get_i64(st, "evo/offspring", L, SP_MASK_WORDS, off, err) ||
             sp_state_get_i64(st, "evo/alive", L, 0, s->alive, err);
    if (!rc) sp_search_masks_from_i64(off, L, s->offspring);
    free(off);
    if (rc) return -1;
    if (meta[0] < 0 || meta[0] > 1 || meta[1] < 0 || meta[1] >= a->problem.n_fidelities ||
        meta[3] < (meta[0] == 1) || meta[3] > (int64_t)L)
        return sp_error_set(err, "state: evo/meta: inconsistent phase/stage/alive values");
    for (int64_t j = 0; j < meta[3]; j++)
        if (s->alive[j] < 0 || s->alive[j] >= (int64_t)L)
            return sp_error_set(err, "state: evo/alive[%lld]: out of range", (long long)j);
    s->phase = meta[0];
    s->stage = meta[1];
    s->generation = meta[2];
    s->n_alive = meta[3];
    sp_search_masks_from_i64(words, 1, &s->parent);
    s->parent_fit = pf[0];
    return 0;
}

static void evo_release(sp_algorithm *a)
{
    evo_state *s = a->impl;
    free(s->offspring);
    free(s->alive);
}

const sp_algorithm_ops sp_evo_ops = {"evo", 1, evo_init, evo_propose, evo_observe,
                                     evo_save, evo_load, evo_release};
