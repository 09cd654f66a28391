/* algorithm.c — parameter defaults/validation and the generic algorithm wrapper (see
 * algorithm.h): it checks the propose/observe protocol and the common state entries, and
 * dispatches to one sp_algorithm_ops per algorithm (alg_*.c). */
#include "algorithm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warm_path.h"

/* Swap neighbours per generation for PSO / WOA local search (measured: bench_search_quality). */
#ifndef SP_LS_DEFAULT
#define SP_LS_DEFAULT 10
#endif
/* Candidates per step of the PSO / WOA greedy-path warm start (bench_search_quality). */
#ifndef SP_WARM_PATH_DEFAULT
#define SP_WARM_PATH_DEFAULT (-1) /* automatic: sp_warm_path_auto */
#endif

static const char *const kind_names[SP_ALG_COUNT] = {
    "pso", "bpso", "woa", "evo", "random", "exhaustive", "greedy", "fixed"};
static const sp_algorithm_ops *const kind_ops[SP_ALG_COUNT] = {
    &sp_pso_ops,    &sp_bpso_ops,       &sp_woa_ops,    &sp_evo_ops,
    &sp_random_ops, &sp_exhaustive_ops, &sp_greedy_ops, &sp_fixed_ops};

const char *sp_alg_kind_name(sp_alg_kind kind)
{
    return (unsigned)kind < SP_ALG_COUNT ? kind_names[kind] : "?";
}

int sp_alg_kind_parse(const char *name, sp_alg_kind *out, sp_error *err)
{
    for (int i = 0; i < SP_ALG_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (sp_alg_kind)i;
            return 0;
        }
    return sp_error_set(err, "algorithm: unknown \"%s\" (expected pso, bpso, woa, evo, random, "
                        "exhaustive, greedy or fixed)", name);
}

void sp_search_params_default(sp_search_params *p, sp_alg_kind kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->pso = (sp_pso_params){.swarm = 10, .inertia = 0.7, .c1 = 1.5, .c2 = 1.5, .vmax = 0.5,
                             .bpso_vmax = 4.0, .restart = 10,
                             .local_search = SP_LS_DEFAULT, .surrogate = 1,
                             .warm_path = SP_WARM_PATH_DEFAULT, .warm_beam = -1};
    p->woa = (sp_woa_params){.whales = 10, .b = 1.0, .max_iter = 50, .restart = 10,
                             .local_search = SP_LS_DEFAULT, .surrogate = 1,
                             .warm_path = SP_WARM_PATH_DEFAULT, .warm_beam = -1};
    p->evo = (sp_evo_params){.lambda = 8, .max_swaps = 3, .keep_ratio = 2};
    p->enumeration = (sp_enum_params){.batch = 20, .limit = 100000};
}

static int check_real(double v, double lo, double hi, int open_lo, const char *what,
                      sp_error *err)
{
    if (!(v <= hi) || !(open_lo ? v > lo : v >= lo))
        return sp_error_set(err, "%s: expected a number in %c%g, %g], got %g", what,
                            open_lo ? '(' : '[', lo, hi, v);
    return 0;
}

static int check_int(long long v, long long lo, long long hi, const char *what, sp_error *err)
{
    if (v < lo || v > hi)
        return sp_error_set(err, "%s: expected an integer in [%lld, %lld], got %lld", what, lo,
                            hi, v);
    return 0;
}

static int validate_kind(const sp_search_params *p, const sp_search_problem *prob, sp_error *err)
{
    switch (p->kind) {
    case SP_ALG_PSO:
    case SP_ALG_BPSO:
        if (check_int(p->pso.swarm, 1, 10000, "pso.swarm", err) ||
            check_real(p->pso.inertia, 0, 1.5, 0, "pso.inertia", err) ||
            check_real(p->pso.c1, 0, 4, 0, "pso.c1", err) ||
            check_real(p->pso.c2, 0, 4, 0, "pso.c2", err) ||
            check_int(p->pso.restart, 0, 1000000, "pso.restart", err) ||
            check_int(p->pso.local_search, 0, 10000, "pso.local_search", err) ||
            check_int(p->pso.surrogate, 0, 1, "pso.surrogate", err) ||
            check_int(p->pso.warm_path, -1, 10000, "pso.warm_path", err) ||
            (p->pso.warm_beam != -1 &&
             check_int(p->pso.warm_beam, 1, SP_WARM_BEAM_MAX, "pso.warm_beam", err)))
            return -1;
        if (p->kind == SP_ALG_PSO) return check_real(p->pso.vmax, 0, 1, 1, "pso.vmax", err);
        return check_real(p->pso.bpso_vmax, 0, 20, 1, "pso.bpso_vmax", err);
    case SP_ALG_WOA:
        return check_int(p->woa.whales, 1, 10000, "woa.whales", err) ||
                       check_real(p->woa.b, 0, 10, 1, "woa.b", err) ||
                       check_int(p->woa.max_iter, 1, 100000000, "woa.max_iter", err) ||
                       check_int(p->woa.restart, 0, 1000000, "woa.restart", err) ||
                       check_int(p->woa.local_search, 0, 10000, "woa.local_search", err) ||
                       check_int(p->woa.surrogate, 0, 1, "woa.surrogate", err) ||
                       check_int(p->woa.warm_path, -1, 10000, "woa.warm_path", err) ||
                       (p->woa.warm_beam != -1 &&
                        check_int(p->woa.warm_beam, 1, SP_WARM_BEAM_MAX, "woa.warm_beam", err))
                   ? -1
                   : 0;
    case SP_ALG_EVO:
        return check_int(p->evo.lambda, 1, 10000, "evo.lambda", err) ||
                       check_int(p->evo.max_swaps, 1, prob->k, "evo.max_swaps", err) ||
                       check_int(p->evo.keep_ratio, 2, 1000, "evo.keep_ratio", err)
                   ? -1
                   : 0;
    case SP_ALG_RANDOM:
        return check_int(p->enumeration.batch, 1, 100000, "enumeration.batch", err);
    case SP_ALG_EXHAUSTIVE: {
        if (check_int(p->enumeration.batch, 1, 100000, "enumeration.batch", err) ||
            check_int(p->enumeration.limit, 1, INT64_MAX, "enumeration.limit", err))
            return -1;
        int64_t c = sp_search_binomial(prob->n_prunable, prob->k);
        if (c > p->enumeration.limit)
            return sp_error_set(err, "enumeration.limit: C(%d, %d) = %lld masks exceed the limit "
                                "of %lld", prob->n_prunable, prob->k, (long long)c,
                                (long long)p->enumeration.limit);
        return 0;
    }
    case SP_ALG_GREEDY: return 0;
    case SP_ALG_FIXED:
        if (p->n_warm < 1) return sp_error_set(err, "fixed: needs at least one warm mask");
        return 0;
    default: return sp_error_set(err, "algorithm: unknown kind %d", (int)p->kind);
    }
}

static int population_size(const sp_search_params *p)
{
    switch (p->kind) {
    case SP_ALG_PSO:
    case SP_ALG_BPSO: return p->pso.swarm;
    case SP_ALG_WOA: return p->woa.whales;
    case SP_ALG_EVO: return p->evo.lambda;
    case SP_ALG_FIXED: return 1 << 20;
    default: return 0;
    }
}

int sp_search_params_validate(const sp_search_params *p, const sp_search_problem *prob,
                              sp_error *err)
{
    if (validate_kind(p, prob, err)) return -1;
    if (p->n_warm < 0 || (p->n_warm > 0 && !p->warm))
        return sp_error_set(err, "warm_start: bad mask list");
    int cap = population_size(p);
    if (p->n_warm > cap)
        return sp_error_set(err, "warm_start: %d masks but %s takes at most %d", p->n_warm,
                            sp_alg_kind_name(p->kind), cap);
    for (int i = 0; i < p->n_warm; i++)
        if (sp_search_mask_check(prob, &p->warm[i], prob->k, err))
            return sp_error_wrap(err, "warm_start[%d]", i);
    return 0;
}

int sp_algorithm_create(const sp_search_problem *prob, const sp_search_params *params,
                        uint64_t seed, sp_algorithm **out, sp_error *err)
{
    *out = NULL;
    if (sp_search_params_validate(params, prob, err)) return -1;
    sp_algorithm *a = sp_xcalloc(1, sizeof *a);
    a->ops = kind_ops[params->kind];
    a->problem = *prob;
    a->params = *params;
    a->seed = seed;
    if (params->n_warm) {
        a->warm = sp_xmalloc((size_t)params->n_warm * sizeof *a->warm);
        memcpy(a->warm, params->warm, (size_t)params->n_warm * sizeof *a->warm);
    }
    a->params.warm = a->warm;
    if (a->ops->init(a, err)) {
        sp_algorithm_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

void sp_algorithm_reserve(sp_algorithm *a, int n)
{
    if (n <= a->cap_batch) return;
    a->batch = sp_xrealloc(a->batch, (size_t)n * sizeof *a->batch);
    a->cap_batch = n;
}

int sp_algorithm_propose(sp_algorithm *a, const sp_candidate **batch, sp_error *err)
{
    a->n_batch = 0;
    if (a->ops->propose(a, err)) return sp_error_wrap(err, "%s.propose", a->ops->name);
    for (int i = 0; i < a->n_batch; i++)
        SP_ASSERT(a->batch[i].fidelity >= 0 && a->batch[i].fidelity < a->problem.n_fidelities);
    a->pending = a->n_batch > 0;
    *batch = a->batch;
    return a->n_batch;
}

int sp_algorithm_observe(sp_algorithm *a, const double *fitness, const int *fidelity, int n,
                         sp_error *err)
{
    if (!a->pending) return sp_error_set(err, "%s.observe: no proposal pending", a->ops->name);
    if (n != a->n_batch)
        return sp_error_set(err, "%s.observe: %d fitnesses for a batch of %d", a->ops->name, n,
                            a->n_batch);
    for (int i = 0; i < n; i++) {
        if (isnan(fitness[i]))
            return sp_error_set(err, "%s.observe: fitness of candidate %d is NaN", a->ops->name,
                                i);
        if (fidelity[i] < 0 || fidelity[i] >= a->problem.n_fidelities)
            return sp_error_set(err, "%s.observe: fidelity %d of candidate %d out of range",
                                a->ops->name, fidelity[i], i);
    }
    if (a->ops->observe(a, fitness, fidelity, err))
        return sp_error_wrap(err, "%s.observe", a->ops->name);
    a->pending = 0;
    a->iteration++;
    return 0;
}

int sp_algorithm_save(const sp_algorithm *a, sp_state *st, sp_error *err)
{
    int64_t meta[3] = {(int64_t)a->params.kind, a->iteration, (int64_t)a->seed};
    if (sp_state_put_i64(st, "alg/meta", 3, 0, meta, err) ||
        sp_search_problem_save(&a->problem, st, err) || a->ops->save(a, st, err))
        return sp_error_wrap(err, "saving %s", a->ops->name);
    return 0;
}

int sp_algorithm_load(sp_algorithm *a, const sp_state *st, sp_error *err)
{
    int64_t meta[3];
    if (sp_state_get_i64(st, "alg/meta", 3, 0, meta, err)) return -1;
    if (meta[0] != (int64_t)a->params.kind)
        return sp_error_set(err, "state: alg/meta: saved by algorithm %s, this run uses %s",
                            sp_alg_kind_name((sp_alg_kind)meta[0]), a->ops->name);
    if ((uint64_t)meta[2] != a->seed)
        return sp_error_set(err, "state: alg/meta: saved with seed %llu, this run uses %llu",
                            (unsigned long long)meta[2], (unsigned long long)a->seed);
    if (meta[1] < 0) return sp_error_set(err, "state: alg/meta: negative iteration");
    if (sp_search_problem_check(&a->problem, st, err)) return -1;
    if (a->ops->load(a, st, err)) return sp_error_wrap(err, "loading %s", a->ops->name);
    a->iteration = meta[1];
    a->pending = 0;
    a->n_batch = 0;
    return 0;
}

void sp_algorithm_free(sp_algorithm *a)
{
    if (!a) return;
    if (a->ops && a->impl) a->ops->release(a);
    free(a->impl);
    free(a->batch);
    free(a->warm);
    free(a);
}

int sp_alg_params_save(const char *name, const double *v, int n, sp_state *st, sp_error *err)
{
    char key[SP_STATE_NAME_MAX];
    snprintf(key, sizeof key, "%s/params", name);
    return sp_state_put_f64(st, key, (size_t)n, 0, v, err);
}

int sp_alg_params_check(const char *name, const double *v, int n, const sp_state *st,
                        sp_error *err)
{
    char key[SP_STATE_NAME_MAX];
    snprintf(key, sizeof key, "%s/params", name);
    double saved[32];
    SP_ASSERT(n <= 32);
    if (sp_state_get_f64(st, key, (size_t)n, 0, saved, err)) return -1;
    for (int i = 0; i < n; i++)
        if (memcmp(&saved[i], &v[i], sizeof(double)) != 0)
            return sp_error_set(err, "state: %s[%d]: saved with %g, this run uses %g (parameters "
                                "must match to resume)", key, i, saved[i], v[i]);
    return 0;
}
