/* test_search_algos.c — every algorithm through the driver on synthetic objectives:
 * invariants (exactly k distinct prunable layers per candidate, protected layers never removed,
 * no (mask, fidelity) scored twice, budget respected), determinism for a seed, different seeds
 * differ, and finding the known optimum of a small instance (L = 16, k = 3, additive costs). */
#include "coordinator/oneshot.h"
#include "coordinator/search_driver.h"
#include "coordinator/warm_path.h"
#include "test_search_objectives.h"
#include "test_util.h"

static const sp_alg_kind search_kinds[] = {SP_ALG_PSO,    SP_ALG_BPSO,       SP_ALG_WOA,
                                           SP_ALG_EVO,    SP_ALG_RANDOM,     SP_ALG_EXHAUSTIVE,
                                           SP_ALG_GREEDY};
#define N_KINDS (int)(sizeof search_kinds / sizeof search_kinds[0])

typedef struct {
    int found;             /* best == optimum */
    int64_t evals;
    double best;
    uint64_t trace;        /* hash of the whole history */
} run_result;

static int ls_override = -1; /* >= 0: pso/woa.local_search for run() (0 = plain variants) */

static run_result run(sp_alg_kind kind, test_obj_kind obj_kind, int F, int halving,
                      uint64_t seed, int64_t budget, const sp_mask *warm, int n_warm)
{
    run_result res = {0, 0, INFINITY, 0};
    sp_error err = {{0}};
    sp_search_problem p;
    SP_ASSERT(sp_search_problem_init(&p, 16, 3, NULL, F, &err) == 0);
    test_objective o;
    test_objective_init(&o, obj_kind, 16, F, 1234);
    sp_mask opt;
    double opt_f = test_objective_additive_optimum(&o, &p, &opt);
    if (obj_kind == OBJ_NEEDLE) {
        sp_search_random_mask(&p, 99, 0, 0, &o.needle);
        opt = o.needle;
        opt_f = 0.0;
    }
    sp_search_params sp;
    sp_search_params_default(&sp, kind);
    sp.woa.max_iter = (int)(budget / sp.woa.whales);
    if (ls_override >= 0) sp.pso.local_search = sp.woa.local_search = ls_override;
    if (ls_override == 0) { /* the papers' variants, at our former swarm size */
        sp.pso.warm_path = sp.woa.warm_path = 0;
        sp.pso.swarm = sp.woa.whales = 20;
    }
    sp.warm = warm;
    sp.n_warm = n_warm;
    sp_driver_config cfg;
    sp_driver_config_default(&cfg);
    cfg.max_evals = budget;
    cfg.halving = halving;
    sp_search_driver d;
    CHECK(sp_search_driver_init(&d, &p, &sp, seed, &cfg, test_objective_batch, &o, &err) == 0,
          "%s", err.msg);
    CHECK(sp_search_driver_run(&d, -1, &err) == 0, "%s: %s", sp_alg_kind_name(kind), err.msg);
    CHECK(d.status != SP_DRIVER_RUNNING, "finished");
    CHECK(o.repeats == 0, "%s: %d (mask, fidelity) pairs scored twice", sp_alg_kind_name(kind),
          o.repeats);
    CHECK((int64_t)d.n_history <= budget, "budget %lld > %lld", (long long)d.n_history,
          (long long)budget);
    for (size_t i = 0; i < d.n_history; i++) {
        const sp_eval_record *r = &d.history[i];
        /* greedy, and the greedy-path warm start of PSO / BPSO / WOA: 1..k layers */
        int path = kind == SP_ALG_PSO || kind == SP_ALG_BPSO || kind == SP_ALG_WOA;
        int expect = kind == SP_ALG_GREEDY || (path && n_warm == 0) ? sp_mask_count(&r->mask) : 3;
        CHECK(expect >= 1 && expect <= 3 && sp_search_mask_check(&p, &r->mask, expect, &err) == 0,
              "%s record %zu: %s", sp_alg_kind_name(kind), i, err.msg);
        CHECK(r->fidelity >= 0 && r->fidelity < F, "fidelity");
        CHECK(!sp_mask_test(&r->mask, 0) && !sp_mask_test(&r->mask, 15), "protected");
        res.trace = sp_rng_hash(res.trace, sp_mask_hash(&r->mask), (uint64_t)r->fidelity,
                                (uint64_t)(r->fitness * 1e12));
        if (i > 0) CHECK(r->best_so_far <= d.history[i - 1].best_so_far, "best is monotone");
    }
    /* Population frequencies: each generation's counts sum to k * batch (greedy: partial). */
    /* (PSO / BPSO / WOA: the path's generations 0 .. k-2 are partial too) */
    int64_t g0 = kind == SP_ALG_PSO || kind == SP_ALG_BPSO || kind == SP_ALG_WOA ? 2 : 0;
    for (int64_t g = g0; g < d.generation && kind != SP_ALG_GREEDY; g++) {
        int64_t s = 0;
        for (int l = 0; l < 16; l++) s += d.pop_counts[g * 16 + l];
        CHECK(s == 3 * d.pop_sizes[g], "population counts of generation %lld", (long long)g);
    }
    sp_mask best;
    if (sp_search_driver_best(&d, &best, &res.best)) res.found = sp_mask_equal(&best, &opt);
    CHECK(!res.found || fabs(res.best - opt_f) < 1e-12, "optimum value");
    res.evals = (int64_t)d.n_history;
    sp_search_driver_free(&d);
    sp_fitness_cache_free(&o.scored);
    return res;
}

static void test_find_optimum(void)
{
    /* C(14, 3) = 364 masks; each method must find the additive optimum within its budget
     * (exhaustive and random: all 364, random must not repeat), for each of 3 seeds. Measured
     * success over seeds 1..30 (plain variants, before local_search): pso 29/30, bpso 30/30, evo
     * 30/30 at 250; woa 28/30 at 300. */
    for (int k = 0; k < N_KINDS; k++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            sp_alg_kind kind = search_kinds[k];
            int64_t budget = kind == SP_ALG_EXHAUSTIVE || kind == SP_ALG_RANDOM ? 364
                             : kind == SP_ALG_WOA                            ? 300
                                                                             : 250;
            run_result r = run(kind, OBJ_ADDITIVE, 1, 0, seed, budget, NULL, 0);
            CHECK(r.found, "%s seed %llu: best %g not optimal after %lld evals",
                  sp_alg_kind_name(kind), (unsigned long long)seed, r.best, (long long)r.evals);
        }
    /* The plain (paper) variants, local_search = 0, keep their measured success at the old
     * budgets; the memetic default needs fewer evaluations (all 3 seeds within 120). */
    const sp_alg_kind swarms[] = {SP_ALG_PSO, SP_ALG_BPSO, SP_ALG_WOA};
    for (int k = 0; k < 3; k++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            ls_override = 0;
            run_result r = run(swarms[k], OBJ_ADDITIVE, 1, 0, seed, swarms[k] == SP_ALG_WOA ? 300 : 250,
                               NULL, 0);
            CHECK(r.found, "plain %s seed %llu: best %g not optimal", sp_alg_kind_name(swarms[k]),
                  (unsigned long long)seed, r.best);
            ls_override = -1;
            r = run(swarms[k], OBJ_ADDITIVE, 1, 0, seed, 120, NULL, 0);
            CHECK(r.found, "memetic %s seed %llu: best %g not optimal after 120 evals",
                  sp_alg_kind_name(swarms[k]), (unsigned long long)seed, r.best);
        }
    /* Exhaustive and random (whole space) find a needle; exhaustive stops when exhausted. */
    CHECK(run(SP_ALG_EXHAUSTIVE, OBJ_NEEDLE, 1, 0, 1, 1000, NULL, 0).found, "needle exhaustive");
    run_result r = run(SP_ALG_RANDOM, OBJ_NEEDLE, 1, 0, 1, 1000, NULL, 0);
    CHECK(r.found && r.evals <= 364, "needle random: %lld evals", (long long)r.evals);
    /* Multi-fidelity: halving for PSO/WOA, multi-stage EA; the best is accepted at full. */
    const sp_alg_kind mf[] = {SP_ALG_PSO, SP_ALG_WOA, SP_ALG_EVO, SP_ALG_BPSO};
    for (int i = 0; i < 4; i++) {
        r = run(mf[i], OBJ_ADDITIVE, 3, 1, 5, 600, NULL, 0);
        CHECK(r.found, "%s with 3 fidelities: best %g", sp_alg_kind_name(mf[i]), r.best);
    }
}

static void test_determinism(void)
{
    for (int k = 0; k < N_KINDS; k++) {
        sp_alg_kind kind = search_kinds[k];
        run_result a = run(kind, OBJ_PAIRWISE, 2, 1, 7, 120, NULL, 0);
        run_result b = run(kind, OBJ_PAIRWISE, 2, 1, 7, 120, NULL, 0);
        run_result c = run(kind, OBJ_PAIRWISE, 2, 1, 8, 120, NULL, 0);
        CHECK(a.trace == b.trace && a.evals == b.evals, "%s: same seed, different runs",
              sp_alg_kind_name(kind));
        /* Exhaustive and greedy do not use randomness. */
        if (kind != SP_ALG_EXHAUSTIVE && kind != SP_ALG_GREEDY)
            CHECK(a.trace != c.trace, "%s: seeds 7 and 8 gave identical runs",
                  sp_alg_kind_name(kind));
    }
}

static void test_warm_start(void)
{
    /* A swarm seeded with the optimum reports it from the first generation. */
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, 16, 3, NULL, 1, &err) == 0);
    test_objective o;
    test_objective_init(&o, OBJ_ADDITIVE, 16, 1, 1234);
    sp_mask opt;
    test_objective_additive_optimum(&o, &p, &opt);
    const sp_alg_kind kinds[] = {SP_ALG_PSO, SP_ALG_BPSO, SP_ALG_WOA, SP_ALG_EVO, SP_ALG_FIXED};
    for (int i = 0; i < 5; i++) {
        run_result r = run(kinds[i], OBJ_ADDITIVE, 1, 0, 3, 20, &opt, 1);
        CHECK(r.found, "%s warm start lost the optimum", sp_alg_kind_name(kinds[i]));
    }
    sp_fitness_cache_free(&o.scored);
    /* One-shot masks as warm starts for the fixed baseline: all three are scored. */
    double scores[16];
    for (int l = 0; l < 16; l++) scores[l] = o.cost[l];
    sp_mask w[3];
    SP_ASSERT(sp_oneshot_lowest_scores(&p, scores, &w[0], &err) == 0);
    SP_ASSERT(sp_oneshot_last_k(&p, &w[1], &err) == 0);
    double dist[14];
    for (int s = 0; s < 14; s++) dist[s] = (double)((s * 7) % 5);
    SP_ASSERT(sp_oneshot_best_window(&p, dist, &w[2], &err) == 0);
    run_result r = run(SP_ALG_FIXED, OBJ_ADDITIVE, 1, 0, 3, 20, w, 3);
    CHECK(r.found && r.evals == 3, "block-influence mask with true costs is optimal (%lld evals)",
          (long long)r.evals);
}

/* Runs kind with warm_path m and warm_beam W on objective obj (L = 16, k = 3) for `budget`
 * evaluations, search.budget `job_budget`. */
static sp_search_driver *path_run_beam(sp_alg_kind kind, int m, int W, test_obj_kind obj,
                                       int64_t budget, int64_t job_budget, test_objective *o)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, 16, 3, NULL, 1, &err) == 0);
    test_objective_init(o, obj, 16, 1, 4321);
    sp_search_params sp;
    sp_search_params_default(&sp, kind);
    sp.pso.warm_path = sp.woa.warm_path = m;
    sp.pso.warm_beam = sp.woa.warm_beam = W;
    sp.budget = job_budget; /* the path runs even when max_evals stops the run right after it */
    sp_driver_config cfg;
    sp_driver_config_default(&cfg);
    cfg.max_evals = budget;
    sp_search_driver *d = sp_xcalloc(1, sizeof *d);
    SP_ASSERT(sp_search_driver_init(d, &p, &sp, 9, &cfg, test_objective_batch, o, &err) == 0);
    CHECK(sp_search_driver_run(d, -1, &err) == 0, "%s", err.msg);
    return d;
}

/* One path (warm_beam 1), search.budget 1000. */
static sp_search_driver *path_run(sp_alg_kind kind, int m, test_obj_kind obj, int64_t budget,
                                  test_objective *o)
{
    return path_run_beam(kind, m, 1, obj, budget, 1000, o);
}

/* Records of generation g in the driver's history. */
static int gen_count(const sp_search_driver *d, int64_t g)
{
    int n = 0;
    for (size_t r = 0; r < d->n_history; r++) n += d->history[r].generation == g;
    return n;
}

/* The beam path against a plain beam search (a second implementation): with m >= P every
 * extension of every beam mask is scored, so generation g must score exactly the one-layer
 * extensions of the W best masks of generation g - 1, and the path must end on the best of its
 * last generation. Pairwise objective, where greedy (W = 1) and the beam differ. */
static void test_warm_beam(void)
{
    for (int W = 1; W <= SP_WARM_BEAM_MAX; W++) {
        test_objective o;
        sp_search_driver *d = path_run_beam(SP_ALG_PSO, 14, W, OBJ_PAIRWISE, 1000, 100000, &o);
        const sp_search_problem *p = &d->problem;
        sp_mask beam[SP_WARM_BEAM_MAX], cand[64];
        double fit[64];
        int n_beam = 1;
        sp_mask_clear(&beam[0]);
        for (int g = 0; g < p->k; g++) {
            int n = 0;
            for (int b = 0; b < n_beam; b++)
                for (int j = 0; j < p->n_prunable; j++) {
                    sp_mask c = beam[b];
                    if (sp_mask_test(&c, p->prunable[j])) continue;
                    sp_mask_set(&c, p->prunable[j]);
                    int dup = 0;
                    for (int i = 0; i < n && !dup; i++) dup = sp_mask_equal(&cand[i], &c);
                    if (dup) continue;
                    SP_ASSERT(n < 64);
                    cand[n] = c;
                    fit[n++] = test_objective_value(&o, &c, 0);
                }
            int found = 0;
            for (size_t r = 0; r < d->n_history; r++) {
                if (d->history[r].generation != g) continue;
                for (int i = 0; i < n; i++) found += sp_mask_equal(&cand[i], &d->history[r].mask);
            }
            CHECK(gen_count(d, g) == n && found == n,
                  "W = %d generation %d: %d records, %d of the beam's %d extensions", W, g,
                  gen_count(d, g), found, n);
            n_beam = n < W ? n : W; /* the W best, by selection */
            for (int b = 0; b < n_beam; b++) {
                int best = -1;
                for (int i = 0; i < n; i++)
                    if (fit[i] < INFINITY && (best < 0 || fit[i] < fit[best])) best = i;
                beam[b] = cand[best];
                fit[best] = INFINITY;
            }
        }
        sp_mask last;
        double f;
        SP_ASSERT(sp_search_driver_best(d, &last, &f));
        CHECK(sp_mask_equal(&last, &beam[0]), "W = %d: the path does not end on the beam's best",
              W);
        sp_search_driver_free(d);
        free(d);
        sp_fitness_cache_free(&o.scored);
    }
    /* Automatic W: 2 while the 2-wide path (P + (k - 1) 2 m = 30 evaluations at m = 4) fits in
     * half the budget, else 1 (22), else no path. */
    const int64_t budgets[] = {100000, 60, 59, 44, 43};
    const int wide[] = {2, 2, 1, 1, 0};
    for (int i = 0; i < 5; i++) {
        test_objective o;
        sp_search_driver *d = path_run_beam(SP_ALG_WOA, 4, -1, OBJ_PAIRWISE, 40, budgets[i], &o);
        int g1 = gen_count(d, 1), layers = sp_mask_count(&d->history[0].mask);
        int ok = wide[i] == 0 ? layers == 3 : wide[i] == 1 ? g1 == 4 : g1 > 4 && g1 <= 8;
        CHECK(ok && layers == (wide[i] ? 1 : 3),
              "budget %lld: generation 1 has %d records, first mask %d layers (expected beam %d)",
              (long long)budgets[i], g1, layers, wide[i]);
        sp_search_driver_free(d);
        free(d);
        sp_fitness_cache_free(&o.scored);
    }
}

static void test_warm_path(void)
{
    /* On an additive objective the lazy path's stale harms are exact, so the path (P + (k-1) m
     * = 14 + 2 x 4 evaluations) ends on the optimum; generation 0 is every single slot, each
     * later one m extensions of the previous generation's best. */
    const sp_alg_kind kinds[] = {SP_ALG_PSO, SP_ALG_BPSO, SP_ALG_WOA};
    for (int i = 0; i < 3; i++) {
        test_objective o;
        sp_search_driver *d = path_run(kinds[i], 4, OBJ_ADDITIVE, 22, &o);
        sp_search_problem p = d->problem;
        sp_mask opt, best;
        test_objective_additive_optimum(&o, &p, &opt);
        double f;
        CHECK(d->n_history == 22 && sp_search_driver_best(d, &best, &f) &&
                  sp_mask_equal(&best, &opt),
              "%s: path of %zu evaluations missed the additive optimum", sp_alg_kind_name(kinds[i]),
              d->n_history);
        for (size_t r = 0; r < d->n_history; r++) {
            int g = r < 14 ? 0 : r < 18 ? 1 : 2;
            CHECK(d->history[r].generation == g && sp_mask_count(&d->history[r].mask) == g + 1,
                  "%s record %zu: generation %lld, %d layers", sp_alg_kind_name(kinds[i]), r,
                  (long long)d->history[r].generation, sp_mask_count(&d->history[r].mask));
        }
        sp_search_driver_free(d);
        free(d);
        sp_fitness_cache_free(&o.scored);
    }
    /* With m >= P the path is SLEB-style greedy: same masks in the same generations (pairwise
     * objective, where stale harms are not exact). */
    test_objective og, op;
    sp_search_driver *g = path_run(SP_ALG_GREEDY, 0, OBJ_PAIRWISE, 1000, &og);
    sp_search_driver *q = path_run(SP_ALG_PSO, 14, OBJ_PAIRWISE, (int64_t)g->n_history, &op);
    CHECK(g->n_history == 14 + 13 + 12 && q->n_history == g->n_history, "%zu / %zu evaluations",
          g->n_history, q->n_history);
    for (size_t r = 0; r < g->n_history && r < q->n_history; r++) {
        int same = 0; /* the order within a generation may differ */
        for (size_t t = 0; t < q->n_history && !same; t++)
            same = q->history[t].generation == g->history[r].generation &&
                   sp_mask_equal(&q->history[t].mask, &g->history[r].mask);
        CHECK(same, "greedy record %zu not on the path with m = P", r);
    }
    sp_search_driver_free(g);
    sp_search_driver_free(q);
    free(g);
    free(q);
    sp_fitness_cache_free(&og.scored);
    sp_fitness_cache_free(&op.scored);
    /* A budget under twice the path's cost (22) skips it: every candidate removes k layers. */
    test_objective ob;
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, 16, 3, NULL, 1, &err) == 0);
    test_objective_init(&ob, OBJ_ADDITIVE, 16, 1, 4321);
    sp_search_params sp;
    sp_search_params_default(&sp, SP_ALG_WOA);
    sp_driver_config cfg;
    sp_driver_config_default(&cfg);
    cfg.max_evals = 43;
    sp_search_driver d;
    SP_ASSERT(sp_search_driver_init(&d, &p, &sp, 9, &cfg, test_objective_batch, &ob, &err) == 0);
    CHECK(sp_search_driver_run(&d, -1, &err) == 0, "%s", err.msg);
    int partial = 0;
    for (size_t r = 0; r < d.n_history; r++) partial += sp_mask_count(&d.history[r].mask) != 3;
    CHECK(d.n_history == 43 && partial == 0, "budget 43: %d partial masks in %zu evaluations",
          partial, d.n_history);
    sp_search_driver_free(&d);
    sp_fitness_cache_free(&ob.scored);
}

static double fn_const(void *ctx, const sp_mask *m, int fid) { return 1.0; }

static void test_stall_and_protocol(void)
{
    /* A PSO swarm on a flat objective converges to a few masks: the driver must stop (stalled
     * or budget), never loop forever, and cache hits grow. Greedy stops when done. */
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, 6, 1, NULL, 1, &err) == 0);
    sp_search_params sp;
    sp_search_params_default(&sp, SP_ALG_PSO);
    sp_driver_config cfg;
    sp_driver_config_default(&cfg);
    cfg.max_evals = 1000000;
    sp_eval_one one = {fn_const, NULL};
    sp_search_driver d;
    SP_ASSERT(sp_search_driver_init(&d, &p, &sp, 1, &cfg, sp_eval_one_batch, &one, &err) == 0);
    CHECK(sp_search_driver_run(&d, 100000, &err) == 0, "%s", err.msg);
    CHECK(d.status == SP_DRIVER_STALLED && d.n_history == 4 && d.cache.hits > 0,
          "status %s, %zu evals", sp_driver_status_name(d.status), d.n_history);
    sp_search_driver_free(&d);
    /* Protocol errors: observe without proposal, wrong count, NaN fitness. */
    sp_algorithm *a;
    sp.pso.warm_path = 0; /* the swarm's own batch (the path's first batch: the P slots) */
    SP_ASSERT(sp_algorithm_create(&p, &sp, 1, &a, &err) == 0);
    double f[20] = {0};
    int fid[20] = {0};
    CHECK(sp_algorithm_observe(a, f, fid, 20, &err) != 0 && strstr(err.msg, "no proposal"), "%s",
          err.msg);
    const sp_candidate *b;
    int n = sp_algorithm_propose(a, &b, &err);
    CHECK(n == sp.pso.swarm, "swarm batch %d", n);
    CHECK(sp_algorithm_observe(a, f, fid, n - 1, &err) != 0 && strstr(err.msg, "fitnesses for"),
          "%s", err.msg);
    f[3] = NAN;
    CHECK(sp_algorithm_observe(a, f, fid, n, &err) != 0 && strstr(err.msg, "candidate 3 is NaN"),
          "%s", err.msg);
    sp_algorithm_free(a);
}

int main(void)
{
    test_find_optimum();
    test_determinism();
    test_warm_start();
    test_warm_path();
    test_warm_beam();
    test_stall_and_protocol();
    return sp_test_finish("test_search_algos");
}
