/* test_surrogate.c — the additive + near-pairwise ridge surrogate and the surrogate-ranked swap
 * local search (issue 20): exact fits of additive and adjacent-pair objectives, ranking,
 * proposals (exact k, never a scored mask, pure, the surrogate's optimum first), state round
 * trip, and PSO / WOA with the surrogate against plain on a synthetic pairwise objective. */
#include <math.h>
#include <stdint.h>

#include "common/rng.h"
#include "coordinator/algorithm.h"
#include "coordinator/surrogate.h"
#include "test_search_objectives.h"
#include "test_util.h"

#define NL 16 /* layers; 14 prunable */

static double pair_objective(const sp_mask *m)
{
    double f = 0;
    for (int l = 0; l < NL; l++)
        if (sp_mask_test(m, l)) {
            f += 1.0 + 0.5 * sin(1.3 * l);
            if (l + 1 < NL && sp_mask_test(m, l + 1)) f += 0.7; /* adjacent removals hurt */
        }
    return f;
}

static void fill(const sp_search_problem *p, sp_fitness_cache *c, int n, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        sp_mask m;
        sp_search_random_mask(p, seed, 1, (uint64_t)i, &m);
        if (!sp_fitness_cache_contains(c, &m, 0)) sp_fitness_cache_insert(c, &m, 0, pair_objective(&m));
    }
}

static void slots(const sp_search_problem *p, const sp_mask *m, uint8_t *x)
{
    for (int d = 0; d < p->n_prunable; d++) x[d] = (uint8_t)sp_mask_test(m, p->prunable[d]);
}

/* With enough data the ridge fit reproduces an objective inside its model class closely. */
static void test_fit(void)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, NL, 4, NULL, 1, &err) == 0);
    sp_fitness_cache data;
    sp_fitness_cache_init(&data);
    sp_surrogate s;
    sp_surrogate_init(&s, p.n_prunable, p.k);
    CHECK(s.nf == 1 + 14 + 13 + 12 + 11 + 3, "feature count %d", s.nf);
    sp_surrogate_fit(&s, &p, &data, 0);
    CHECK(!s.fitted, "no data, no fit");
    fill(&p, &data, 400, 3);
    sp_surrogate_fit(&s, &p, &data, 0);
    CHECK(s.fitted, "fitted");
    double worst = 0;
    for (int i = 0; i < 50; i++) { /* unseen masks */
        sp_mask m;
        uint8_t x[SP_MAX_LAYERS];
        sp_search_random_mask(&p, 99, 2, (uint64_t)i, &m);
        slots(&p, &m, x);
        worst = fmax(worst, fabs(sp_surrogate_predict(&s, x) - pair_objective(&m)));
    }
    CHECK(worst < 0.15, "surrogate error %g on unseen masks (ridge shrinkage only)", worst);
    sp_surrogate_free(&s);
    sp_fitness_cache_free(&data);
}

static int distance(const sp_mask *a, const sp_mask *b)
{
    int d = 0;
    for (int l = 0; l < NL; l++) d += sp_mask_test(a, l) != sp_mask_test(b, l);
    return d;
}

/* The true optimum of pair_objective by enumeration (C(14, 4) = 1001 masks). */
static double optimum(const sp_search_problem *p, sp_mask *best)
{
    double bf = INFINITY;
    int P = p->n_prunable;
    for (int a = 0; a < P; a++)
        for (int b = a + 1; b < P; b++)
            for (int c = b + 1; c < P; c++)
                for (int d = c + 1; d < P; d++) {
                    sp_mask m;
                    sp_mask_clear(&m);
                    sp_mask_set(&m, p->prunable[a]), sp_mask_set(&m, p->prunable[b]);
                    sp_mask_set(&m, p->prunable[c]), sp_mask_set(&m, p->prunable[d]);
                    double f = pair_objective(&m);
                    if (f < bf) bf = f, *best = m;
                }
    return bf;
}

static void test_propose(void)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, NL, 4, NULL, 1, &err) == 0);
    sp_swap_search s;
    sp_swap_search_init(&s, p.n_prunable);
    s.surrogate = 1;
    sp_candidate c[12], c2[12];
    memset(c, 0, sizeof c);
    memset(c2, 0, sizeof c2);
    /* score 60 random masks through record (in-batch duplicates count once) */
    for (int b = 0; b < 5; b++) {
        sp_candidate batch[12];
        double f[12];
        int fid[12] = {0};
        for (int i = 0; i < 12; i++) {
            sp_search_random_mask(&p, 5, (uint64_t)b, (uint64_t)i, &batch[i].mask);
            batch[i].fidelity = 0;
            f[i] = pair_objective(&batch[i].mask);
        }
        sp_swap_search_record(&s, &p, batch, f, fid, 12);
    }
    sp_mask opt, center;
    optimum(&p, &opt);
    CHECK(!sp_fitness_cache_contains(&s.seen, &opt, 0), "the optimum is among the random masks");
    sp_search_random_mask(&p, 77, 0, 0, &center);
    sp_swap_search_recenter(&s, &center);
    int n = sp_swap_search_propose(&s, &p, 9, 0, 12, c);
    CHECK(n == 12 && sp_swap_search_propose(&s, &p, 9, 0, 12, c2) == 12 &&
              memcmp(c, c2, sizeof c) == 0, "pure propose");
    for (int i = 0; i < n; i++) {
        CHECK(sp_search_mask_check(&p, &c[i].mask, 4, &err) == 0, "%s", err.msg);
        CHECK(!sp_fitness_cache_contains(&s.seen, &c[i].mask, 0), "proposal %d was scored", i);
        for (int j = 0; j < i; j++) CHECK(!sp_mask_equal(&c[i].mask, &c[j].mask), "duplicate");
        int d = distance(&c[i].mask, &center);
        CHECK(d >= 2, "proposal %d at distance %d", i, d);
    }
    int found = 0, ones = 0;
    for (int i = 0; i < n; i++) {
        found += sp_mask_equal(&c[i].mask, &opt);
        ones += distance(&c[i].mask, &center) == 2;
    }
    CHECK(found == 1 || distance(&opt, &center) == 2, "the surrogate's own optimum is proposed");
    CHECK(ones >= 6, "%d one-swap neighbours among 12 proposals, expected at least half", ones);
    sp_state st;
    sp_state_init(&st);
    sp_swap_search t;
    sp_swap_search_init(&t, p.n_prunable);
    t.surrogate = 1;
    CHECK(sp_swap_search_save(&s, "x", &st, &err) == 0 &&
              sp_swap_search_load(&t, &p, "x", &st, &err) == 0, "%s", err.msg);
    CHECK(t.seen.n == s.seen.n && sp_swap_search_propose(&t, &p, 9, 0, 12, c2) == 12 &&
              memcmp(c, c2, sizeof c) == 0, "proposals after a state round trip");
    /* A center that a generation left in place: half the slots (6) go around the second center,
     * the best scored mask >= SP_LS_FAR swaps away, half of those (3) to its one-swap
     * neighbours; the counter survives a state round trip. */
    sp_swap_search_recenter(&s, &center);
    CHECK(s.stale == 1, "stale %lld after recentering on the same mask", (long long)s.stale);
    sp_mask second = center;
    double best = INFINITY;
    for (size_t i = 0; i < s.seen.n; i++)
        if (distance(&s.seen.entries[i].mask, &center) >= 2 * SP_LS_FAR &&
            s.seen.entries[i].fitness < best) {
            best = s.seen.entries[i].fitness;
            second = s.seen.entries[i].mask;
        }
    SP_ASSERT(isfinite(best));
    n = sp_swap_search_propose(&s, &p, 9, 1, 12, c);
    int near_second = 0;
    for (int i = 0; i < n; i++) {
        CHECK(!sp_fitness_cache_contains(&s.seen, &c[i].mask, 0), "stalled proposal %d scored", i);
        near_second += distance(&c[i].mask, &second) == 2;
    }
    CHECK(n == 12 && near_second >= 3, "%d of %d proposals next to the second center", near_second,
          n);
    sp_state_free(&st);
    sp_state_init(&st);
    sp_swap_search_free(&t);
    sp_swap_search_init(&t, p.n_prunable);
    t.surrogate = 1;
    CHECK(sp_swap_search_save(&s, "x", &st, &err) == 0 &&
              sp_swap_search_load(&t, &p, "x", &st, &err) == 0 && t.stale == 1,
          "%s", err.msg);
    sp_state_free(&st);
    sp_swap_search_free(&t);
    sp_swap_search_free(&s);
}

static double run_to(sp_alg_kind kind, int plain, uint64_t seed, int64_t budget)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, NL, 4, NULL, 1, &err) == 0);
    sp_search_params sp;
    sp_search_params_default(&sp, kind);
    if (plain) sp.pso.local_search = sp.woa.local_search = 0;
    sp_driver_config cfg;
    sp_driver_config_default(&cfg);
    cfg.max_evals = budget;
    test_objective o;
    test_objective_init(&o, OBJ_PAIRWISE, NL, 1, seed);
    sp_search_driver d;
    CHECK(sp_search_driver_init(&d, &p, &sp, seed, &cfg, test_objective_batch, &o, &err) == 0,
          "%s", err.msg);
    CHECK(sp_search_driver_run(&d, -1, &err) == 0, "%s", err.msg);
    CHECK(o.repeats == 0, "a mask scored twice");
    sp_mask m;
    double f = INFINITY;
    sp_search_driver_best(&d, &m, &f);
    sp_search_driver_free(&d);
    sp_fitness_cache_free(&o.scored);
    return f;
}

/* On the synthetic pairwise objective (test_search_objectives.h) the defaults (surrogate local
 * search) are at least as good as the plain algorithms on average at 80 evaluations. */
static void test_against_plain(void)
{
    sp_alg_kind kinds[2] = {SP_ALG_PSO, SP_ALG_WOA};
    for (int k = 0; k < 2; k++) {
        double with = 0, without = 0;
        for (uint64_t seed = 1; seed <= 6; seed++) {
            with += run_to(kinds[k], 0, seed, 80);
            without += run_to(kinds[k], 1, seed, 80);
        }
        CHECK(with <= without, "%s: mean best %g with the surrogate local search, %g plain",
              sp_alg_kind_name(kinds[k]), with / 6, without / 6);
    }
}

/* Masks with fewer than k layers (the greedy path's) get their own intercepts: an offset per
 * layer count in them changes no prediction at k (it would, by about the offset, without those
 * intercepts), and they inform the per-layer and pair terms (few k-layer masks plus the partial
 * ones predict better than the k-layer ones alone). */
static void fit_with_partials(const sp_search_problem *p, double off1, double off2, int partials,
                              sp_surrogate *s)
{
    sp_fitness_cache c;
    sp_fitness_cache_init(&c);
    fill(p, &c, 12, 5);
    for (int d = 0; d < p->n_prunable && partials; d++) /* every single slot and close pair */
        for (int e = d; e < p->n_prunable && e <= d + 2; e++) {
            sp_mask m;
            sp_mask_clear(&m);
            sp_mask_set(&m, p->prunable[d]);
            sp_mask_set(&m, p->prunable[e]);
            sp_fitness_cache_insert(&c, &m, 0, pair_objective(&m) + (d == e ? off1 : off2));
        }
    sp_surrogate_init(s, p->n_prunable, p->k);
    sp_surrogate_fit(s, p, &c, 0);
    sp_fitness_cache_free(&c);
}

static void test_partial_masks(void)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, NL, 4, NULL, 1, &err) == 0);
    sp_surrogate none, plain, shifted;
    fit_with_partials(&p, 0, 0, 0, &none);
    fit_with_partials(&p, 0, 0, 1, &plain);
    fit_with_partials(&p, -3.0, -1.0, 1, &shifted); /* a super-additive count effect */
    double err_none = 0, err_plain = 0, moved = 0;
    for (int i = 0; i < 200; i++) {
        sp_mask m;
        uint8_t x[SP_MAX_LAYERS];
        sp_search_random_mask(&p, 77, 3, (uint64_t)i, &m);
        slots(&p, &m, x);
        double t = pair_objective(&m);
        err_none += fabs(sp_surrogate_predict(&none, x) - t) / 200;
        err_plain += fabs(sp_surrogate_predict(&plain, x) - t) / 200;
        moved = fmax(moved, fabs(sp_surrogate_predict(&shifted, x) - sp_surrogate_predict(&plain, x)));
    }
    CHECK(moved < 1e-6, "an offset in the partial masks moved a prediction at k by %g", moved);
    CHECK(err_plain < 0.7 * err_none, "partial masks did not help: mean error %g with, %g without",
          err_plain, err_none);
    sp_surrogate_free(&none);
    sp_surrogate_free(&plain);
    sp_surrogate_free(&shifted);
}

int main(void)
{
    test_fit();
    test_partial_masks();
    test_propose();
    test_against_plain();
    return sp_test_finish("test_surrogate");
}
