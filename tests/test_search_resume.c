/* test_search_resume.c — state save/load continues IDENTICALLY: for every algorithm, run N
 * generations, save (driver + cache + algorithm) into an sp_state, load into a fresh driver,
 * run M more; the history, best trajectory, population counts and cache counters must equal
 * those of N+M uninterrupted generations. Also: propose() is pure (same batch twice), a state
 * saved by another algorithm / problem / parameter set is refused with a message. */
#include "coordinator/search_driver.h"
#include "test_search_objectives.h"
#include "test_util.h"

static const sp_alg_kind kinds[] = {SP_ALG_PSO,    SP_ALG_BPSO,       SP_ALG_WOA,   SP_ALG_EVO,
                                    SP_ALG_RANDOM, SP_ALG_EXHAUSTIVE, SP_ALG_GREEDY};

static int beam = -1; /* warm_beam of PSO / WOA (automatic: 1 here, as no budget is set) */

static void setup(sp_alg_kind kind, int F, sp_search_problem *p, sp_search_params *sp,
                  sp_driver_config *cfg)
{
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(p, 16, 3, NULL, F, &err) == 0);
    sp_search_params_default(sp, kind);
    sp->pso.restart = 3; /* exercise restarts inside the window */
    sp->woa.restart = 3;
    sp->woa.max_iter = 10;
    sp->pso.warm_beam = sp->woa.warm_beam = beam;
    sp->enumeration.batch = 7;
    sp_driver_config_default(cfg);
    cfg->max_evals = 100000;
    cfg->halving = F > 1;
}

static int same_driver(const sp_search_driver *a, const sp_search_driver *b)
{
    if (a->n_history != b->n_history || a->generation != b->generation ||
        a->best_index != b->best_index || a->status != b->status ||
        a->cache.hits != b->cache.hits || a->cache.n != b->cache.n)
        return 0;
    for (size_t i = 0; i < a->n_history; i++) {
        const sp_eval_record *x = &a->history[i], *y = &b->history[i];
        if (!sp_mask_equal(&x->mask, &y->mask) || x->fidelity != y->fidelity ||
            x->fitness != y->fitness || x->generation != y->generation ||
            x->best_so_far != y->best_so_far)
            return 0;
    }
    size_t L = (size_t)a->problem.n_layers;
    return memcmp(a->pop_counts, b->pop_counts, (size_t)a->generation * L * 8) == 0 &&
           memcmp(a->layer_counts, b->layer_counts, L * 8) == 0;
}

static void test_resume(sp_alg_kind kind, int F, int64_t N, int64_t M, int local_search)
{
    const char *name = sp_alg_kind_name(kind);
    sp_error err = {{0}};
    sp_search_problem p;
    sp_search_params sp;
    sp_driver_config cfg;
    setup(kind, F, &p, &sp, &cfg);
    if (local_search >= 0) sp.pso.local_search = sp.woa.local_search = local_search;
    test_objective o1, o2;
    test_objective_init(&o1, OBJ_PAIRWISE, 16, F, 5);
    test_objective_init(&o2, OBJ_PAIRWISE, 16, F, 5);
    sp_search_driver full, part, resumed;
    SP_ASSERT(sp_search_driver_init(&full, &p, &sp, 42, &cfg, test_objective_batch, &o1, &err) == 0);
    SP_ASSERT(sp_search_driver_init(&part, &p, &sp, 42, &cfg, test_objective_batch, &o2, &err) == 0);
    CHECK(sp_search_driver_run(&full, N + M, &err) == 0, "%s: %s", name, err.msg);
    CHECK(sp_search_driver_run(&part, N, &err) == 0, "%s: %s", name, err.msg);
    sp_state st;
    sp_state_init(&st);
    CHECK(sp_search_driver_save(&part, &st, &err) == 0, "%s save: %s", name, err.msg);
    SP_ASSERT(sp_search_driver_init(&resumed, &p, &sp, 42, &cfg, test_objective_batch, &o2, &err) == 0);
    CHECK(sp_search_driver_load(&resumed, &st, &err) == 0, "%s load: %s", name, err.msg);
    CHECK(same_driver(&part, &resumed), "%s: loaded state differs from the saved one", name);
    CHECK(sp_search_driver_run(&resumed, M, &err) == 0, "%s: %s", name, err.msg);
    CHECK(same_driver(&full, &resumed), "%s F=%d: %lld+%lld generations after resume differ from "
          "%lld uninterrupted (%zu vs %zu evals)", name, F, (long long)N, (long long)M,
          (long long)(N + M), resumed.n_history, full.n_history);
    CHECK(full.n_history > part.n_history || full.status != SP_DRIVER_RUNNING,
          "%s: the second leg did nothing", name);
    CHECK(o2.repeats == 0, "%s: resumed run re-scored cached candidates", name);

    /* propose() is a pure function of the state. */
    const sp_candidate *b1, *b2;
    int n1 = sp_algorithm_propose(resumed.alg, &b1, &err);
    sp_candidate *copy = sp_xmalloc((size_t)(n1 > 0 ? n1 : 1) * sizeof *copy);
    if (n1 > 0) memcpy(copy, b1, (size_t)n1 * sizeof *copy);
    int n2 = sp_algorithm_propose(resumed.alg, &b2, &err);
    CHECK(n1 == n2 && (n1 <= 0 || memcmp(copy, b2, (size_t)n1 * sizeof *copy) == 0),
          "%s: propose is not repeatable", name);
    free(copy);

    /* Refusals: other seed, other algorithm, other problem. */
    sp_search_driver other;
    SP_ASSERT(sp_search_driver_init(&other, &p, &sp, 43, &cfg, test_objective_batch, &o2, &err) == 0);
    CHECK(sp_search_driver_load(&other, &st, &err) != 0 && strstr(err.msg, "seed"), "%s: %s", name,
          err.msg);
    sp_search_driver_free(&other);
    sp_search_params sp2;
    sp_search_params_default(&sp2, kind == SP_ALG_PSO ? SP_ALG_WOA : SP_ALG_PSO);
    SP_ASSERT(sp_search_driver_init(&other, &p, &sp2, 42, &cfg, test_objective_batch, &o2, &err) == 0);
    CHECK(sp_search_driver_load(&other, &st, &err) != 0 && strstr(err.msg, "saved by algorithm"),
          "%s: %s", name, err.msg);
    sp_search_driver_free(&other);
    sp_search_problem p2;
    SP_ASSERT(sp_search_problem_init(&p2, 17, 3, NULL, F, &err) == 0);
    SP_ASSERT(sp_search_driver_init(&other, &p2, &sp, 42, &cfg, test_objective_batch, &o2, &err) == 0);
    CHECK(sp_search_driver_load(&other, &st, &err) != 0, "%s: other problem accepted", name);
    sp_search_driver_free(&other);

    sp_state_free(&st);
    sp_search_driver_free(&full);
    sp_search_driver_free(&part);
    sp_search_driver_free(&resumed);
    sp_fitness_cache_free(&o1.scored);
    sp_fitness_cache_free(&o2.scored);
}

static void test_param_mismatch(void)
{
    sp_error err = {{0}};
    sp_search_problem p;
    sp_search_params sp;
    sp_driver_config cfg;
    setup(SP_ALG_PSO, 1, &p, &sp, &cfg);
    sp_algorithm *a, *b;
    SP_ASSERT(sp_algorithm_create(&p, &sp, 1, &a, &err) == 0);
    sp_state st;
    sp_state_init(&st);
    SP_ASSERT(sp_algorithm_save(a, &st, &err) == 0);
    sp.pso.inertia = 0.5;
    SP_ASSERT(sp_algorithm_create(&p, &sp, 1, &b, &err) == 0);
    CHECK(sp_algorithm_load(b, &st, &err) != 0 && strstr(err.msg, "pso/params[1]"), "%s", err.msg);
    sp_algorithm_free(b);
    sp.pso.inertia = 0.7;
    sp.pso.local_search = 0;
    SP_ASSERT(sp_algorithm_create(&p, &sp, 1, &b, &err) == 0);
    CHECK(sp_algorithm_load(b, &st, &err) != 0 && strstr(err.msg, "pso/params[7]"), "%s", err.msg);
    sp_algorithm_free(a);
    sp_algorithm_free(b);
    sp_state_free(&st);
}

int main(void)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        test_resume(kinds[i], 1, 4, 5, -1);
        test_resume(kinds[i], 3, 3, 4, -1); /* successive halving / EA stages mid-generation */
        test_resume(kinds[i], 1, 1, 30, -1); /* PSO / WOA: swap kicks after the neighbourhood */
        test_resume(kinds[i], 1, 4, 5, 0);   /* plain PSO / BPSO / WOA */
    }
    /* The greedy path with a beam of 3, saved before, in and after it (3 generations). */
    beam = 3;
    for (int n = 1; n <= 4; n++) {
        test_resume(SP_ALG_PSO, 1, n, 6, -1);
        test_resume(SP_ALG_WOA, 1, n, 6, -1);
    }
    test_resume(SP_ALG_PSO, 3, 2, 5, -1); /* beam steps under successive halving */
    beam = -1;
    test_param_mismatch();
    return sp_test_finish("test_search_resume");
}
