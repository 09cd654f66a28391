/* alg_simple.c — baselines behind the algorithm interface: uniform random search without
 * duplicates, exhaustive enumeration (lexicographic over prunable slots, batched), SLEB-style
 * greedy (each step proposes every single additional layer and keeps the least harmful one;
 * its candidates have 1..k layers, the only algorithm with partial masks), and "fixed"
 * (scores the given warm masks once: one-shot heuristics through the same driver). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm.h"
#include "fitness_cache.h"

enum { TAG_RANDOM = 1 };

/* ---------------------------------------------------------------- random */
typedef struct {
    sp_fitness_cache seen; /* masks already proposed and observed (fidelity 0, fitness 0) */
    int64_t total;         /* C(P, k), saturated */
} random_state;

static int random_init(sp_algorithm *a, sp_error *err)
{
    random_state *s = sp_xcalloc(1, sizeof *s);
    a->impl = s;
    sp_fitness_cache_init(&s->seen);
    s->total = sp_search_binomial(a->problem.n_prunable, a->problem.k);
    sp_algorithm_reserve(a, a->params.enumeration.batch);
    return 0;
}

static int in_batch(const sp_algorithm *a, int n, const sp_mask *m)
{
    for (int i = 0; i < n; i++)
        if (sp_mask_equal(&a->batch[i].mask, m)) return 1;
    return 0;
}

/* Lexicographic next combination of k slots out of P; 0 when past the last one. */
static int comb_next(int *c, int k, int P)
{
    int i = k - 1;
    while (i >= 0 && c[i] == P - k + i) i--;
    if (i < 0) return 0;
    c[i]++;
    for (int j = i + 1; j < k; j++) c[j] = c[j - 1] + 1;
    return 1;
}

static void comb_to_mask(const sp_search_problem *p, const int *c, sp_mask *m)
{
    sp_mask_clear(m);
    for (int j = 0; j < p->k; j++) sp_mask_set(m, p->prunable[c[j]]);
}

/* After 64 failed random draws the space is nearly used up: take the first unseen mask in
 * lexicographic order (only when the space is small enough to scan). */
static int random_fallback(sp_algorithm *a, int n, sp_mask *out)
{
    random_state *s = a->impl;
    if (s->total > 10000000) return 0;
    int c[SP_MAX_LAYERS];
    for (int j = 0; j < a->problem.k; j++) c[j] = j;
    do {
        comb_to_mask(&a->problem, c, out);
        if (!sp_fitness_cache_contains(&s->seen, out, 0) && !in_batch(a, n, out)) return 1;
    } while (comb_next(c, a->problem.k, a->problem.n_prunable));
    return 0;
}

static int random_propose(sp_algorithm *a, sp_error *err)
{
    random_state *s = a->impl;
    int n = 0, want = a->params.enumeration.batch;
    int64_t left = s->total - (int64_t)s->seen.n;
    if (left < want) want = (int)left;
    while (n < want) {
        sp_mask m;
        int found = 0;
        for (int t = 0; t < 64 && !found; t++) {
            sp_search_random_mask(&a->problem, a->seed, sp_alg_ctr(a->iteration, TAG_RANDOM),
                                  (uint64_t)n * 64 + (uint64_t)t, &m);
            found = !sp_fitness_cache_contains(&s->seen, &m, 0) && !in_batch(a, n, &m);
        }
        if (!found && !random_fallback(a, n, &m)) break;
        a->batch[n].mask = m;
        a->batch[n].fidelity = sp_search_full_fidelity(&a->problem);
        n++;
    }
    a->n_batch = n;
    return 0;
}

static int random_observe(sp_algorithm *a, const double *fitness, const int *fidelity, sp_error *err)
{
    random_state *s = a->impl;
    for (int i = 0; i < a->n_batch; i++) sp_fitness_cache_insert(&s->seen, &a->batch[i].mask, 0, 0.0);
    return 0;
}

static int random_save(const sp_algorithm *a, sp_state *st, sp_error *err)
{
    const random_state *s = a->impl;
    double pv[1] = {a->params.enumeration.batch};
    if (sp_alg_params_save("random", pv, 1, st, err)) return -1;
    return sp_fitness_cache_save(&s->seen, "random/seen", st, err);
}

static int random_load(sp_algorithm *a, const sp_state *st, sp_error *err)
{
    random_state *s = a->impl;
    double pv[1] = {a->params.enumeration.batch};
    if (sp_alg_params_check("random", pv, 1, st, err)) return -1;
    return sp_fitness_cache_load(&s->seen, "random/seen", st, err);
}

static void random_release(sp_algorithm *a)
{
    random_state *s = a->impl;
    sp_fitness_cache_free(&s->seen);
}

const sp_algorithm_ops sp_random_ops = {"random", 0, random_init, random_propose, random_observe,
                                        random_save, random_load, random_release};

/* ---------------------------------------------------------------- exhaustive */
typedef struct {
    int64_t done;  /* masks already proposed and observed */
    int64_t total; /* C(P, k) <= exhaustive.limit */
    int comb[SP_MAX_LAYERS]; /* [k] first combination of the next batch (slots) */
} exhaustive_state;

static int exhaustive_init(sp_algorithm *a, sp_error *err)
{
    exhaustive_state *s = sp_xcalloc(1, sizeof *s);
    a->impl = s;
    s->total = sp_search_binomial(a->problem.n_prunable, a->problem.k);
    for (int j = 0; j < a->problem.k; j++) s->comb[j] = j;
    sp_algorithm_reserve(a, a->params.enumeration.batch);
    return 0;
}

static int exhaustive_propose(sp_algorithm *a, sp_error *err)
{
    exhaustive_state *s = a->impl;
    int c[SP_MAX_LAYERS], n = 0;
    memcpy(c, s->comb, sizeof c);
    int64_t left = s->total - s->done;
    while (n < a->params.enumeration.batch && n < left) {
        comb_to_mask(&a->problem, c, &a->batch[n].mask);
        a->batch[n].fidelity = sp_search_full_fidelity(&a->problem);
        n++;
        if (!comb_next(c, a->problem.k, a->problem.n_prunable)) break;
    }
    a->n_batch = n;
    return 0;
}

static int exhaustive_observe(sp_algorithm *a, const double *fitness, const int *fidelity,
                              sp_error *err)
{
    exhaustive_state *s = a->impl;
    for (int i = 0; i < a->n_batch; i++) comb_next(s->comb, a->problem.k, a->problem.n_prunable);
    s->done += a->n_batch;
    return 0;
}

static int exhaustive_save(const sp_algorithm *a, sp_state *st, sp_error *err)
{
    const exhaustive_state *s = a->impl;
    double pv[2] = {a->params.enumeration.batch, (double)a->params.enumeration.limit};
    int64_t c[SP_MAX_LAYERS], done[1] = {s->done};
    for (int j = 0; j < a->problem.k; j++) c[j] = s->comb[j];
    if (sp_alg_params_save("exhaustive", pv, 2, st, err) ||
        sp_state_put_i64(st, "exhaustive/done", 1, 0, done, err) ||
        sp_state_put_i64(st, "exhaustive/next", (size_t)a->problem.k, 0, c, err))
        return -1;
    return 0;
}

static int exhaustive_load(sp_algorithm *a, const sp_state *st, sp_error *err)
{
    exhaustive_state *s = a->impl;
    double pv[2] = {a->params.enumeration.batch, (double)a->params.enumeration.limit};
    int64_t c[SP_MAX_LAYERS], done[1];
    int k = a->problem.k, P = a->problem.n_prunable;
    if (sp_alg_params_check("exhaustive", pv, 2, st, err) ||
        sp_state_get_i64(st, "exhaustive/done", 1, 0, done, err) ||
        sp_state_get_i64(st, "exhaustive/next", (size_t)k, 0, c, err))
        return -1;
    if (done[0] < 0 || done[0] > s->total)
        return sp_error_set(err, "state: exhaustive/done: %lld out of range", (long long)done[0]);
    for (int j = 0; j < k; j++) {
        if (c[j] < j || c[j] > P - k + j || (j > 0 && c[j] <= c[j - 1]))
            return sp_error_set(err, "state: exhaustive/next[%d]: not a valid combination", j);
        s->comb[j] = (int)c[j];
    }
    s->done = done[0];
    return 0;
}

static void nothing_to_release(sp_algorithm *a) {}

const sp_algorithm_ops sp_exhaustive_ops = {"exhaustive", 0, exhaustive_init, exhaustive_propose,
                                            exhaustive_observe, exhaustive_save, exhaustive_load,
                                            nothing_to_release};

/* ---------------------------------------------------------------- greedy */
typedef struct {
    sp_mask current; /* layers removed so far (0..k) */
} greedy_state;

static int greedy_init(sp_algorithm *a, sp_error *err)
{
    greedy_state *s = sp_xcalloc(1, sizeof *s);
    a->impl = s;
    sp_mask_clear(&s->current);
    sp_algorithm_reserve(a, a->problem.n_prunable);
    return 0;
}

static int greedy_propose(sp_algorithm *a, sp_error *err)
{
    greedy_state *s = a->impl;
    int n = 0;
    if (sp_mask_count(&s->current) < a->problem.k)
        for (int d = 0; d < a->problem.n_prunable; d++) {
            int layer = a->problem.prunable[d];
            if (sp_mask_test(&s->current, layer)) continue;
            a->batch[n].mask = s->current;
            sp_mask_set(&a->batch[n].mask, layer);
            a->batch[n].fidelity = sp_search_full_fidelity(&a->problem);
            n++;
        }
    a->n_batch = n;
    return 0;
}

static int greedy_observe(sp_algorithm *a, const double *fitness, const int *fidelity, sp_error *err)
{
    /* Best = highest fidelity reached, then lowest fitness, then first in order. */
    greedy_state *s = a->impl;
    int best = 0;
    for (int i = 1; i < a->n_batch; i++)
        if (fidelity[i] > fidelity[best] ||
            (fidelity[i] == fidelity[best] && fitness[i] < fitness[best]))
            best = i;
    s->current = a->batch[best].mask;
    return 0;
}

static int greedy_save(const sp_algorithm *a, sp_state *st, sp_error *err)
{
    const greedy_state *s = a->impl;
    int64_t w[SP_MASK_WORDS];
    sp_search_masks_to_i64(&s->current, 1, w);
    return sp_state_put_i64(st, "greedy/current", SP_MASK_WORDS, 0, w, err);
}

static int greedy_load(sp_algorithm *a, const sp_state *st, sp_error *err)
{
    greedy_state *s = a->impl;
    int64_t w[SP_MASK_WORDS];
    if (sp_state_get_i64(st, "greedy/current", SP_MASK_WORDS, 0, w, err)) return -1;
    sp_mask m;
    sp_search_masks_from_i64(w, 1, &m);
    int c = sp_mask_count(&m);
    if (c > a->problem.k || sp_search_mask_check(&a->problem, &m, c, err))
        return sp_error_set(err, "state: greedy/current: not a mask of at most %d prunable layers",
                            a->problem.k);
    s->current = m;
    return 0;
}

const sp_algorithm_ops sp_greedy_ops = {"greedy", 0, greedy_init, greedy_propose, greedy_observe,
                                        greedy_save, greedy_load, nothing_to_release};

/* ---------------------------------------------------------------- fixed */
static int fixed_init(sp_algorithm *a, sp_error *err)
{
    a->impl = sp_xcalloc(1, 1);
    sp_algorithm_reserve(a, a->params.n_warm);
    return 0;
}

static int fixed_propose(sp_algorithm *a, sp_error *err)
{
    int n = a->iteration == 0 ? a->params.n_warm : 0;
    for (int i = 0; i < n; i++) {
        a->batch[i].mask = a->warm[i];
        a->batch[i].fidelity = sp_search_full_fidelity(&a->problem);
    }
    a->n_batch = n;
    return 0;
}

static int fixed_observe(sp_algorithm *a, const double *fitness, const int *fidelity, sp_error *err)
{
    return 0;
}

static int fixed_save(const sp_algorithm *a, sp_state *st, sp_error *err) { return 0; }
static int fixed_load(sp_algorithm *a, const sp_state *st, sp_error *err) { return 0; }

const sp_algorithm_ops sp_fixed_ops = {"fixed", 0, fixed_init, fixed_propose, fixed_observe,
                                       fixed_save, fixed_load, nothing_to_release};
