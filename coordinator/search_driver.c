/* search_driver.c — generation loop, cache, successive halving, history (see search_driver.h). */
#include "search_driver.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sp_eval_one_batch(void *adapter, const sp_candidate *cands, int n, double *fitness,
                      sp_error *err)
{
    const sp_eval_one *a = adapter;
    for (int i = 0; i < n; i++) fitness[i] = a->fn(a->ctx, &cands[i].mask, cands[i].fidelity);
    return 0;
}

void sp_driver_config_default(sp_driver_config *c)
{
    c->max_evals = 1000;
    c->halving = 0;
    c->halving_keep_ratio = 2;
    c->max_stale = 20;
}

int sp_driver_config_validate(const sp_driver_config *c, const sp_search_problem *p,
                              sp_error *err)
{
    if (c->max_evals < 1)
        return sp_error_set(err, "search.max_evals: expected an integer >= 1, got %lld",
                            (long long)c->max_evals);
    if (c->halving != 0 && c->halving != 1)
        return sp_error_set(err, "search.halving: expected 0 or 1, got %d", c->halving);
    if (c->halving && p->n_fidelities < 2)
        return sp_error_set(err, "search.halving: needs at least 2 fidelity levels, the problem "
                            "has %d", p->n_fidelities);
    if (c->halving_keep_ratio < 2 || c->halving_keep_ratio > 1000)
        return sp_error_set(err, "search.halving_keep_ratio: expected an integer in [2, 1000], "
                            "got %d", c->halving_keep_ratio);
    if (c->max_stale < 1 || c->max_stale > 1000000)
        return sp_error_set(err, "search.max_stale: expected an integer in [1, 1000000], got %d",
                            c->max_stale);
    return 0;
}

const char *sp_driver_status_name(sp_driver_status s)
{
    static const char *const names[] = {"running", "budget", "exhausted", "stalled"};
    return (unsigned)s < 4 ? names[s] : "?";
}

int sp_search_driver_init(sp_search_driver *d, const sp_search_problem *p,
                          const sp_search_params *params, uint64_t seed,
                          const sp_driver_config *cfg, sp_eval_batch_fn eval, void *ctx,
                          sp_error *err)
{
    memset(d, 0, sizeof *d);
    if (sp_driver_config_validate(cfg, p, err)) return -1;
    sp_search_params with_budget = *params;
    if (with_budget.budget <= 0) with_budget.budget = cfg->max_evals;
    if (sp_algorithm_create(p, &with_budget, seed, &d->alg, err)) return -1;
    d->problem = *p;
    d->cfg = *cfg;
    d->eval = eval;
    d->ctx = ctx;
    sp_fitness_cache_init(&d->cache);
    d->layer_counts = sp_xcalloc((size_t)p->n_layers, sizeof *d->layer_counts);
    d->best_index = -1;
    d->status = SP_DRIVER_RUNNING;
    return 0;
}

void sp_search_driver_free(sp_search_driver *d)
{
    sp_algorithm_free(d->alg);
    sp_fitness_cache_free(&d->cache);
    free(d->history);
    free(d->layer_counts);
    free(d->pop_counts);
    free(d->pop_sizes);
    memset(d, 0, sizeof *d);
}

int sp_search_driver_best(const sp_search_driver *d, sp_mask *mask, double *fitness)
{
    if (d->best_index < 0) return 0;
    if (mask) *mask = d->history[d->best_index].mask;
    if (fitness) *fitness = d->history[d->best_index].fitness;
    return 1;
}

static void record_population(sp_search_driver *d, const sp_candidate *b, int n)
{
    size_t L = (size_t)d->problem.n_layers, g = (size_t)d->generation;
    if (g == d->cap_gen) {
        d->cap_gen = d->cap_gen ? 2 * d->cap_gen : 64;
        size_t bytes;
        SP_ASSERT(sp_mul_size(d->cap_gen, L * sizeof(int64_t), &bytes) == 0);
        d->pop_counts = sp_xrealloc(d->pop_counts, bytes);
        d->pop_sizes = sp_xrealloc(d->pop_sizes, d->cap_gen * sizeof(int64_t));
    }
    int64_t *row = d->pop_counts + g * L;
    memset(row, 0, L * sizeof *row);
    for (int i = 0; i < n; i++)
        for (size_t l = 0; l < L; l++) row[l] += sp_mask_test(&b[i].mask, (int)l);
    d->pop_sizes[g] = n;
}

static void record_eval(sp_search_driver *d, const sp_candidate *c, double fitness)
{
    if (d->n_history == d->cap_history) {
        d->cap_history = d->cap_history ? 2 * d->cap_history : 256;
        size_t bytes;
        SP_ASSERT(sp_mul_size(d->cap_history, sizeof *d->history, &bytes) == 0);
        d->history = sp_xrealloc(d->history, bytes);
    }
    sp_fitness_cache_insert(&d->cache, &c->mask, c->fidelity, fitness);
    for (int l = 0; l < d->problem.n_layers; l++) d->layer_counts[l] += sp_mask_test(&c->mask, l);
    if (c->fidelity == sp_search_full_fidelity(&d->problem) &&
        sp_mask_count(&c->mask) == d->problem.k &&
        (d->best_index < 0 || fitness < d->history[d->best_index].fitness))
        d->best_index = (int64_t)d->n_history;
    sp_eval_record *r = &d->history[d->n_history];
    r->mask = c->mask;
    r->fidelity = c->fidelity;
    r->fitness = fitness;
    r->generation = d->generation;
    r->best_so_far = d->best_index < 0 ? INFINITY : d->history[d->best_index].fitness;
    d->n_history++;
}

/* Scores b[idx[0..m-1]] at fidelity fid[idx[j]] into fit[idx[j]]: cache first, duplicates within
 * the call scored once. Returns 1 when the budget cut the call short (nothing is filled then). */
static int eval_subset(sp_search_driver *d, const sp_candidate *b, const int *idx, int m,
                       const int *fid, double *fit, sp_error *err)
{
    sp_candidate *todo = sp_xmalloc((size_t)(m ? m : 1) * sizeof *todo);
    double *vals = sp_xmalloc((size_t)(m ? m : 1) * sizeof *vals);
    int n_new = 0, rc = 0;
    for (int j = 0; j < m; j++) {
        sp_candidate c = {b[idx[j]].mask, fid[idx[j]]};
        int dup = sp_fitness_cache_contains(&d->cache, &c.mask, c.fidelity);
        for (int q = 0; q < n_new && !dup; q++)
            dup = todo[q].fidelity == c.fidelity && sp_mask_equal(&todo[q].mask, &c.mask);
        if (dup) d->cache.hits++;
        else {
            d->cache.misses++;
            todo[n_new++] = c;
        }
    }
    int64_t left = d->cfg.max_evals - (int64_t)d->n_history;
    int cut = n_new > left;
    if (cut) n_new = (int)left;
    if (n_new > 0 && d->eval(d->ctx, todo, n_new, vals, err)) {
        rc = sp_error_wrap(err, "objective");
        goto done;
    }
    for (int q = 0; q < n_new; q++)
        if (isnan(vals[q])) {
            char buf[1024];
            rc = sp_error_set(err, "objective: NaN fitness for mask {%s} at fidelity %d",
                              sp_mask_format(&todo[q].mask, buf, sizeof buf), todo[q].fidelity);
            goto done;
        }
    for (int q = 0; q < n_new; q++) record_eval(d, &todo[q], vals[q]);
    if (cut) {
        rc = 1;
        goto done;
    }
    for (int j = 0; j < m; j++)
        SP_ASSERT(sp_fitness_cache_peek(&d->cache, &b[idx[j]].mask, fid[idx[j]], &fit[idx[j]]));
done:
    free(todo);
    free(vals);
    return rc;
}

/* Successive halving: all candidates at level 0, the best ceil(n / ratio) at level 1, ...,
 * survivors at the full level. fid[] ends as the level each candidate reached. */
static int eval_halving(sp_search_driver *d, const sp_candidate *b, int n, int *fid, double *fit,
                        sp_error *err)
{
    int *alive = sp_xmalloc((size_t)n * sizeof *alive), m = n, rc = 0;
    for (int i = 0; i < n; i++) alive[i] = i;
    for (int f = 0; f < d->problem.n_fidelities; f++) {
        for (int j = 0; j < m; j++) fid[alive[j]] = f;
        rc = eval_subset(d, b, alive, m, fid, fit, err);
        if (rc || f == d->problem.n_fidelities - 1) break;
        /* Stable rank by fitness, keep the best, then back to candidate order. */
        for (int i = 1; i < m; i++)
            for (int j = i; j > 0 && fit[alive[j]] < fit[alive[j - 1]]; j--) {
                int t = alive[j];
                alive[j] = alive[j - 1];
                alive[j - 1] = t;
            }
        m = (m + d->cfg.halving_keep_ratio - 1) / d->cfg.halving_keep_ratio;
        for (int i = 1; i < m; i++)
            for (int j = i; j > 0 && alive[j] < alive[j - 1]; j--) {
                int t = alive[j];
                alive[j] = alive[j - 1];
                alive[j - 1] = t;
            }
    }
    free(alive);
    return rc;
}

static int evaluate_batch(sp_search_driver *d, const sp_candidate *b, int n, int *fid,
                          double *fit, sp_error *err)
{
    int full = sp_search_full_fidelity(&d->problem), halve = d->cfg.halving &&
                                                               !d->alg->ops->self_fidelity;
    for (int i = 0; i < n; i++) {
        fid[i] = b[i].fidelity;
        if (fid[i] != full) halve = 0;
    }
    if (halve) return eval_halving(d, b, n, fid, fit, err);
    int *all = sp_xmalloc((size_t)n * sizeof *all);
    for (int i = 0; i < n; i++) all[i] = i;
    int rc = eval_subset(d, b, all, n, fid, fit, err);
    free(all);
    return rc;
}

int sp_search_driver_step(sp_search_driver *d, sp_error *err)
{
    if (d->status != SP_DRIVER_RUNNING) return 0;
    if ((int64_t)d->n_history >= d->cfg.max_evals) {
        d->status = SP_DRIVER_BUDGET;
        return 0;
    }
    const sp_candidate *b;
    int n = sp_algorithm_propose(d->alg, &b, err);
    if (n < 0) return -1;
    if (n == 0) {
        d->status = SP_DRIVER_EXHAUSTED;
        return 0;
    }
    record_population(d, b, n);
    size_t before = d->n_history;
    int *fid = sp_xmalloc((size_t)n * sizeof *fid);
    double *fit = sp_xmalloc((size_t)n * sizeof *fit);
    int rc = evaluate_batch(d, b, n, fid, fit, err);
    if (rc == 0) rc = sp_algorithm_observe(d->alg, fit, fid, n, err);
    free(fid);
    free(fit);
    if (rc < 0) return -1;
    if (rc == 1) { /* budget hit mid-generation: no observe; a resumed, larger budget redoes it */
        d->status = SP_DRIVER_BUDGET;
        return 0;
    }
    d->generation++;
    d->stale = d->n_history > before ? 0 : d->stale + 1;
    if ((int64_t)d->n_history >= d->cfg.max_evals) d->status = SP_DRIVER_BUDGET;
    else if (d->stale >= d->cfg.max_stale) d->status = SP_DRIVER_STALLED;
    return d->status == SP_DRIVER_RUNNING;
}

int sp_search_driver_run(sp_search_driver *d, int64_t max_generations, sp_error *err)
{
    for (int64_t g = 0; max_generations < 0 || g < max_generations; g++) {
        int rc = sp_search_driver_step(d, err);
        if (rc < 0) return -1;
        if (rc == 0) break;
    }
    return 0;
}

static int save_history(const sp_search_driver *d, sp_state *st, sp_error *err)
{
    size_t n = d->n_history;
    int64_t *masks = sp_xmalloc((n * SP_MASK_WORDS + 1) * sizeof *masks);
    int64_t *fid = sp_xmalloc((n + 1) * sizeof *fid), *gen = sp_xmalloc((n + 1) * sizeof *gen);
    double *fit = sp_xmalloc((n + 1) * sizeof *fit), *best = sp_xmalloc((n + 1) * sizeof *best);
    for (size_t i = 0; i < n; i++) {
        const sp_eval_record *r = &d->history[i];
        sp_search_masks_to_i64(&r->mask, 1, masks + i * SP_MASK_WORDS);
        fid[i] = r->fidelity;
        gen[i] = r->generation;
        fit[i] = r->fitness;
        best[i] = r->best_so_far;
    }
    int rc = sp_state_put_i64(st, "driver/history/masks", n, SP_MASK_WORDS, masks, err) ||
             sp_state_put_i64(st, "driver/history/fidelity", n, 0, fid, err) ||
             sp_state_put_i64(st, "driver/history/generation", n, 0, gen, err) ||
             sp_state_put_f64(st, "driver/history/fitness", n, 0, fit, err) ||
             sp_state_put_f64(st, "driver/history/best_so_far", n, 0, best, err);
    free(masks);
    free(fid);
    free(gen);
    free(fit);
    free(best);
    return rc ? -1 : 0;
}

int sp_search_driver_save(const sp_search_driver *d, sp_state *st, sp_error *err)
{
    int64_t meta[5] = {d->generation, d->stale, (int64_t)d->status, d->best_index,
                       (int64_t)d->n_history};
    int64_t cfg[4] = {d->cfg.max_evals, d->cfg.halving, d->cfg.halving_keep_ratio,
                      d->cfg.max_stale};
    size_t L = (size_t)d->problem.n_layers, G = (size_t)d->generation;
    if (sp_algorithm_save(d->alg, st, err) ||
        sp_fitness_cache_save(&d->cache, "cache", st, err) ||
        sp_state_put_i64(st, "driver/meta", 5, 0, meta, err) ||
        sp_state_put_i64(st, "driver/config", 4, 0, cfg, err) || save_history(d, st, err) ||
        sp_state_put_i64(st, "driver/layer_counts", L, 0, d->layer_counts, err) ||
        sp_state_put_i64(st, "driver/population_counts", G, L, d->pop_counts, err) ||
        sp_state_put_i64(st, "driver/population_sizes", G, 0, d->pop_sizes, err))
        return -1;
    return 0;
}

static int load_history(sp_search_driver *d, const sp_state *st, size_t n, sp_error *err)
{
    const sp_state_entry *em, *e[4];
    const char *names[4] = {"driver/history/fidelity", "driver/history/generation",
                            "driver/history/fitness", "driver/history/best_so_far"};
    const sp_state_type types[4] = {SP_STATE_I64, SP_STATE_I64, SP_STATE_F64, SP_STATE_F64};
    if (sp_state_get_any(st, "driver/history/masks", SP_STATE_I64, 2, &em, err)) return -1;
    if (em->dims[0] != n || em->dims[1] != SP_MASK_WORDS)
        return sp_error_set(err, "state: driver/history/masks: dims [%zu x %zu], expected "
                            "[%zu x %d]", em->dims[0], em->dims[1], n, SP_MASK_WORDS);
    for (int i = 0; i < 4; i++) {
        if (sp_state_get_any(st, names[i], types[i], 1, &e[i], err)) return -1;
        if (e[i]->dims[0] != n)
            return sp_error_set(err, "state: %s: %zu records, expected %zu", names[i],
                                e[i]->dims[0], n);
    }
    d->history = sp_xrealloc(d->history, (n + 1) * sizeof *d->history);
    d->cap_history = n + 1;
    for (size_t i = 0; i < n; i++) {
        sp_eval_record *r = &d->history[i];
        sp_search_masks_from_i64((const int64_t *)em->data + i * SP_MASK_WORDS, 1, &r->mask);
        r->fidelity = (int)((const int64_t *)e[0]->data)[i];
        r->generation = ((const int64_t *)e[1]->data)[i];
        r->fitness = ((const double *)e[2]->data)[i];
        r->best_so_far = ((const double *)e[3]->data)[i];
        if (!sp_fitness_cache_contains(&d->cache, &r->mask, r->fidelity))
            return sp_error_set(err, "state: driver/history[%zu]: not in the cache", i);
    }
    d->n_history = n;
    return 0;
}

int sp_search_driver_load(sp_search_driver *d, const sp_state *st, sp_error *err)
{
    int64_t meta[5], cfg[4];
    size_t L = (size_t)d->problem.n_layers;
    if (sp_state_get_i64(st, "driver/meta", 5, 0, meta, err) ||
        sp_state_get_i64(st, "driver/config", 4, 0, cfg, err))
        return -1;
    if (cfg[1] != d->cfg.halving || cfg[2] != d->cfg.halving_keep_ratio)
        return sp_error_set(err, "state: driver/config: saved with halving %lld (ratio %lld), "
                            "this run uses %d (ratio %d)", (long long)cfg[1], (long long)cfg[2],
                            d->cfg.halving, d->cfg.halving_keep_ratio);
    if (meta[0] < 0 || meta[1] < 0 || meta[2] < 0 || meta[2] > SP_DRIVER_STALLED ||
        meta[4] < 0 || meta[3] < -1 || meta[3] >= meta[4] + (meta[4] == 0))
        return sp_error_set(err, "state: driver/meta: inconsistent values");
    if (sp_algorithm_load(d->alg, st, err) ||
        sp_fitness_cache_load(&d->cache, "cache", st, err) ||
        load_history(d, st, (size_t)meta[4], err))
        return -1;
    size_t G = (size_t)meta[0], cap = G + 1;
    d->pop_counts = sp_xrealloc(d->pop_counts, cap * L * sizeof *d->pop_counts);
    d->pop_sizes = sp_xrealloc(d->pop_sizes, cap * sizeof *d->pop_sizes);
    d->cap_gen = cap;
    size_t dims[2] = {G, L};
    if (sp_state_get_i64(st, "driver/layer_counts", L, 0, d->layer_counts, err) ||
        sp_state_get(st, "driver/population_counts", SP_STATE_I64, 2, dims, d->pop_counts, err) ||
        sp_state_get_i64(st, "driver/population_sizes", G, 0, d->pop_sizes, err))
        return -1;
    d->generation = meta[0];
    d->stale = meta[1];
    d->status = (sp_driver_status)meta[2];
    d->best_index = meta[3];
    /* A budget stop is lifted when this run allows more evaluations. */
    if (d->status == SP_DRIVER_BUDGET && (int64_t)d->n_history < d->cfg.max_evals)
        d->status = SP_DRIVER_RUNNING;
    return 0;
}
