/* test_search_basics.c — building blocks of the search: state container (type/dims checks),
 * problem validation, top-k decoding (exact k even with ties), exact-k sampling, fitness cache
 * (hits, save/load), parameter validation messages, swap local search, one-shot heuristics,
 * objective. */
#include <math.h>
#include <stdint.h>

#include "common/rng.h"
#include "common/state.h"
#include "coordinator/algorithm.h"
#include "coordinator/fitness_cache.h"
#include "coordinator/objective.h"
#include "coordinator/oneshot.h"
#include "coordinator/search_problem.h"
#include "test_util.h"

static void test_state(void)
{
    sp_state st;
    sp_state_init(&st);
    sp_error err = {{0}};
    double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {0};
    int64_t iv[3] = {-1, 0, INT64_MAX}, ib[3];
    CHECK(sp_state_put_f64(&st, "x/a", 2, 3, a, &err) == 0, "%s", err.msg);
    CHECK(sp_state_put_i64(&st, "x/i", 3, 0, iv, &err) == 0, "%s", err.msg);
    CHECK(sp_state_put_i64(&st, "x/empty", 0, 4, NULL, &err) == 0, "%s", err.msg);
    CHECK(sp_state_put_f64(&st, "x/a", 1, 0, a, &err) != 0 && strstr(err.msg, "twice"), "%s",
          err.msg);
    CHECK(sp_state_get_f64(&st, "x/a", 2, 3, b, &err) == 0 && b[5] == 6.0, "get");
    CHECK(sp_state_get_i64(&st, "x/i", 3, 0, ib, &err) == 0 && ib[2] == INT64_MAX, "get i64");
    CHECK(sp_state_get_f64(&st, "x/a", 3, 2, b, &err) != 0 && strstr(err.msg, "[2 x 3]") &&
              strstr(err.msg, "x/a"), "dims: %s", err.msg);
    CHECK(sp_state_get_i64(&st, "x/a", 2, 3, ib, &err) != 0 && strstr(err.msg, "type f64"),
          "type: %s", err.msg);
    CHECK(sp_state_get_f64(&st, "x/a", 6, 0, b, &err) != 0 && strstr(err.msg, "2 dims"),
          "ndim: %s", err.msg);
    CHECK(sp_state_get_u8(&st, "x/none", 1, 0, NULL, &err) != 0 && strstr(err.msg, "missing"),
          "missing: %s", err.msg);
    const sp_state_entry *e;
    CHECK(sp_state_get_any(&st, "x/empty", SP_STATE_I64, 2, &e, &err) == 0 && e->count == 0 &&
              e->dims[1] == 4, "empty");
    sp_state_free(&st);
}

static void test_problem_and_decode(void)
{
    sp_search_problem p;
    sp_error err = {{0}};
    CHECK(sp_search_problem_init(&p, 16, 0, NULL, 1, &err) != 0 && strstr(err.msg, "problem.k"),
          "k=0: %s", err.msg);
    CHECK(sp_search_problem_init(&p, 16, 14, NULL, 1, &err) != 0 && strstr(err.msg, "[1, 13]"),
          "k=P: %s", err.msg);
    CHECK(sp_search_problem_init(&p, 16, 3, NULL, 0, &err) != 0, "F=0");
    CHECK(sp_search_problem_init(&p, 1, 1, NULL, 1, &err) != 0, "L=1");
    CHECK(sp_search_problem_init(&p, 16, 3, NULL, 1, &err) == 0, "%s", err.msg);
    CHECK(p.n_prunable == 14 && p.prunable[0] == 1 && p.prunable[13] == 14, "prunable set");
    sp_mask prot;
    sp_mask_clear(&prot);
    sp_mask_set(&prot, 5);
    sp_search_problem q;
    CHECK(sp_search_problem_init(&q, 8, 2, &prot, 1, &err) == 0 && q.n_prunable == 7 &&
              q.slot_of[5] == -1 && q.slot_of[0] == 0, "custom protected");

    /* All-equal coordinates: exactly k, the lowest slots. Mixed ties around the k-th value. */
    double pos[14];
    for (int i = 0; i < 14; i++) pos[i] = 0.5;
    sp_mask m;
    sp_search_decode_topk(&p, pos, &m);
    char buf[256];
    CHECK(strcmp(sp_mask_format(&m, buf, sizeof buf), "1,2,3") == 0, "all ties: %s", buf);
    for (int i = 0; i < 14; i++) pos[i] = (i % 3 == 0) ? 1.0 : 0.0; /* 5 tied at the top */
    sp_search_decode_topk(&p, pos, &m);
    CHECK(strcmp(sp_mask_format(&m, buf, sizeof buf), "1,4,7") == 0, "top ties: %s", buf);
    pos[13] = 2.0;
    sp_search_decode_topk(&p, pos, &m);
    CHECK(strcmp(sp_mask_format(&m, buf, sizeof buf), "1,4,14") == 0, "max first: %s", buf);
    /* Random coordinates quantized to 3 values (many ties): always exactly k, all prunable. */
    sp_rng r = sp_rng_make(5, 0);
    for (int t = 0; t < 2000; t++) {
        for (int i = 0; i < 14; i++) pos[i] = (double)sp_rng_next_below(&r, 3);
        sp_search_decode_topk(&p, pos, &m);
        CHECK(sp_search_mask_check(&p, &m, 3, &err) == 0, "trial %d: %s", t, err.msg);
    }
    /* encode -> decode round trip; random masks exact-k and cover every prunable layer. */
    int64_t seen[16] = {0};
    for (int t = 0; t < 500; t++) {
        sp_search_random_mask(&p, 9, 1, (uint64_t)t, &m);
        CHECK(sp_search_mask_check(&p, &m, 3, &err) == 0, "random %d: %s", t, err.msg);
        sp_search_encode_mask(&p, &m, 0.0, 1.0, pos);
        sp_mask back;
        sp_search_decode_topk(&p, pos, &back);
        CHECK(sp_mask_equal(&m, &back), "round trip %d", t);
        for (int l = 0; l < 16; l++) seen[l] += sp_mask_test(&m, l);
    }
    CHECK(seen[0] == 0 && seen[15] == 0, "protected layers never sampled");
    for (int l = 1; l < 15; l++) /* expected 500 * 3/14 = 107 each */
        CHECK(seen[l] > 60 && seen[l] < 160, "layer %d sampled %lld times", l, (long long)seen[l]);
    CHECK(sp_search_binomial(14, 3) == 364 && sp_search_binomial(200, 100) == INT64_MAX,
          "binomial");
}

static void test_cache(void)
{
    sp_fitness_cache c;
    sp_fitness_cache_init(&c);
    sp_mask m;
    for (int i = 0; i < 1000; i++) {
        sp_mask_clear(&m);
        sp_mask_set(&m, i % 200);
        sp_mask_set(&m, 201 + i / 200);
        sp_fitness_cache_insert(&c, &m, i % 3, (double)i);
    }
    double v = -1;
    int found = 0;
    for (int i = 0; i < 1000; i++) {
        sp_mask_clear(&m);
        sp_mask_set(&m, i % 200);
        sp_mask_set(&m, 201 + i / 200);
        found += sp_fitness_cache_lookup(&c, &m, i % 3, &v) && v == (double)i;
        CHECK(!sp_fitness_cache_lookup(&c, &m, (i + 1) % 3, NULL), "other fidelity %d", i);
    }
    CHECK(found == 1000 && c.hits == 1000 && c.misses == 1000, "hits %lld", (long long)c.hits);
    sp_state st;
    sp_state_init(&st);
    sp_error err = {{0}};
    CHECK(sp_fitness_cache_save(&c, "cache", &st, &err) == 0, "%s", err.msg);
    sp_fitness_cache d;
    sp_fitness_cache_init(&d);
    CHECK(sp_fitness_cache_load(&d, "cache", &st, &err) == 0, "%s", err.msg);
    CHECK(d.n == 1000 && d.hits == 1000, "loaded");
    for (size_t i = 0; i < d.n; i++)
        CHECK(sp_mask_equal(&d.entries[i].mask, &c.entries[i].mask) &&
                  d.entries[i].fitness == c.entries[i].fitness, "entry %zu", i);
    sp_fitness_cache_free(&c);
    sp_fitness_cache_free(&d);
    sp_state_free(&st);
}

static void test_params(void)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, 16, 3, NULL, 1, &err) == 0);
    sp_search_params sp;
    for (int k = 0; k < SP_ALG_COUNT; k++) {
        sp_search_params_default(&sp, (sp_alg_kind)k);
        if (k == SP_ALG_FIXED) continue;
        CHECK(sp_search_params_validate(&sp, &p, &err) == 0, "defaults of %s: %s",
              sp_alg_kind_name((sp_alg_kind)k), err.msg);
    }
    sp_search_params_default(&sp, SP_ALG_PSO);
    sp.pso.inertia = -0.1;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 &&
              strcmp(err.msg, "pso.inertia: expected a number in [0, 1.5], got -0.1") == 0,
          "%s", err.msg);
    sp.pso.inertia = NAN;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 && strstr(err.msg, "pso.inertia"), "nan");
    sp_search_params_default(&sp, SP_ALG_PSO);
    sp.pso.vmax = 0;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 && strstr(err.msg, "pso.vmax: expected "
                                                                 "a number in (0, 1]"), "%s", err.msg);
    sp_search_params_default(&sp, SP_ALG_WOA);
    sp.woa.whales = 0;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 && strstr(err.msg, "woa.whales"), "%s",
          err.msg);
    sp.woa.whales = 20;
    sp.woa.local_search = 10001;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 &&
              strcmp(err.msg, "woa.local_search: expected an integer in [0, 10000], got 10001") ==
                  0, "%s", err.msg);
    sp_search_params_default(&sp, SP_ALG_PSO);
    sp.pso.local_search = -1;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 &&
              strcmp(err.msg, "pso.local_search: expected an integer in [0, 10000], got -1") == 0,
          "%s", err.msg);
    sp.pso.local_search = 0; /* plain PSO */
    CHECK(sp_search_params_validate(&sp, &p, &err) == 0, "%s", err.msg);
    sp_search_params_default(&sp, SP_ALG_EVO);
    sp.evo.keep_ratio = 1;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 && strstr(err.msg, "evo.keep_ratio"),
          "%s", err.msg);
    sp_search_params_default(&sp, SP_ALG_EXHAUSTIVE);
    sp.enumeration.limit = 100;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 && strstr(err.msg, "C(14, 3) = 364"),
          "%s", err.msg);
    sp_search_params_default(&sp, SP_ALG_PSO);
    sp_mask warm[2];
    sp_mask_clear(&warm[0]);
    sp_mask_set(&warm[0], 0); /* protected */
    sp_mask_set(&warm[0], 3);
    sp_mask_set(&warm[0], 4);
    sp.warm = warm;
    sp.n_warm = 1;
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 && strstr(err.msg, "warm_start[0]") &&
              strstr(err.msg, "layer 0 is not prunable"), "%s", err.msg);
    sp_mask_unset(&warm[0], 0);
    CHECK(sp_search_params_validate(&sp, &p, &err) != 0 && strstr(err.msg, "removes 2 layers"),
          "%s", err.msg);
    sp_algorithm *a = (sp_algorithm *)1;
    CHECK(sp_algorithm_create(&p, &sp, 1, &a, &err) != 0 && a == NULL, "create refuses");
    sp_alg_kind kind;
    CHECK(sp_alg_kind_parse("woa", &kind, &err) == 0 && kind == SP_ALG_WOA, "parse");
    CHECK(sp_alg_kind_parse("ga", &kind, &err) != 0 && strstr(err.msg, "\"ga\""), "parse bad");
}

/* Swap local search: untried one-swap neighbours only (exact k, protected layers kept), all
 * k (P - k) of them before any repeat, then two-swap kicks; propose is pure; save/load. */
static void test_swap_search(void)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, 12, 3, NULL, 1, &err) == 0); /* P = 10: 3 x 7 pairs */
    sp_swap_search s;
    sp_swap_search_init(&s, p.n_prunable);
    sp_candidate c[8], c2[8];
    memset(c, 0, sizeof c); /* padding: the batches are compared with memcmp */
    memset(c2, 0, sizeof c2);
    CHECK(sp_swap_search_propose(&s, &p, 5, 0, 8, c) == 0, "no center, no proposal");
    sp_mask center;
    sp_search_random_mask(&p, 1, 2, 3, &center);
    sp_swap_search_recenter(&s, &center);
    sp_candidate seen[21];
    int n_seen = 0, kicks = 0;
    for (int64_t it = 0; it < 4; it++) {
        int n = sp_swap_search_propose(&s, &p, 5, it, 8, c);
        CHECK(n == 8 && sp_swap_search_propose(&s, &p, 5, it, 8, c2) == 8 &&
                  memcmp(c, c2, sizeof c) == 0, "pure propose, iteration %lld", (long long)it);
        for (int i = 0; i < n; i++) {
            sp_mask x = c[i].mask;
            int diff = 0;
            for (int l = 0; l < 12; l++) diff += sp_mask_test(&x, l) != sp_mask_test(&center, l);
            CHECK(sp_search_mask_check(&p, &x, 3, &err) == 0, "%s", err.msg);
            CHECK(diff == 2 || diff == 4, "distance %d", diff);
            if (diff == 4) {
                CHECK(n_seen == 21, "kick before the neighbourhood was exhausted");
                kicks++;
                continue;
            }
            for (int j = 0; j < n_seen; j++)
                CHECK(!sp_mask_equal(&seen[j].mask, &x), "neighbour proposed twice");
            if (n_seen < 21) seen[n_seen++] = c[i];
        }
        double f[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        int fid[8] = {0};
        sp_swap_search_record(&s, &p, c, f, fid, n);
        sp_swap_search_mark(&s, &p, c, n);
    }
    CHECK(n_seen == 21 && kicks == 11, "%d neighbours, %d kicks", n_seen, kicks);
    sp_state st;
    sp_state_init(&st);
    sp_swap_search t;
    sp_swap_search_init(&t, p.n_prunable);
    CHECK(sp_swap_search_save(&s, "x", &st, &err) == 0 &&
              sp_swap_search_load(&t, &p, "x", &st, &err) == 0, "%s", err.msg);
    CHECK(sp_mask_equal(&t.center, &s.center) && t.n_all == s.n_all &&
              memcmp(t.tried, s.tried, 100) == 0, "swap search state round trip");
    sp_search_problem p2;
    SP_ASSERT(sp_search_problem_init(&p2, 12, 4, NULL, 1, &err) == 0);
    CHECK(sp_swap_search_load(&t, &p2, "x", &st, &err) != 0 && strstr(err.msg, "x/ls_center"),
          "%s", err.msg);
    sp_state_free(&st);
    sp_swap_search_free(&t);
    sp_swap_search_free(&s);
}

static void test_oneshot_objective(void)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT(sp_search_problem_init(&p, 12, 3, NULL, 1, &err) == 0);
    double bi[12] = {0.0, 0.9, 0.2, 0.8, 0.2, 0.7, 0.6, 0.1, 0.5, 0.4, 0.3, 0.0};
    sp_mask m;
    char buf[128];
    CHECK(sp_oneshot_lowest_scores(&p, bi, &m, &err) == 0 &&
              strcmp(sp_mask_format(&m, buf, sizeof buf), "2,4,7") == 0, "BI: %s", buf);
    double dist[10] = {0.0, 0.5, 0.4, 0.3, 0.6, 0.3, 0.9, 0.9, 0.9, 0.01};
    /* Windows 0 (layer 0) and 9 (layer 11) contain protected layers; 3 and 5 tie -> 3. */
    CHECK(sp_oneshot_best_window(&p, dist, &m, &err) == 0 &&
              strcmp(sp_mask_format(&m, buf, sizeof buf), "3,4,5") == 0, "window: %s", buf);
    CHECK(sp_oneshot_last_k(&p, &m, &err) == 0 &&
              strcmp(sp_mask_format(&m, buf, sizeof buf), "8,9,10") == 0, "last k: %s", buf);
    bi[5] = NAN;
    CHECK(sp_oneshot_lowest_scores(&p, bi, &m, &err) != 0 && strstr(err.msg, "layer 5"), "nan");

    sp_objective o;
    sp_metrics mt = {.acc = 0.6, .acc_norm = 0.7, .nll = 3.0, .kl = 0.2,
                     .size_fraction_removed = 0.25, .time_ratio = 0.8};
    double f = 0;
    sp_objective_default(&o, SP_OBJ_ACC_NORM);
    CHECK(sp_objective_fitness(&o, &mt, &f, &err) == 0 && f == -0.7, "acc_norm %g", f);
    sp_objective_default(&o, SP_OBJ_NLL);
    CHECK(sp_objective_fitness(&o, &mt, &f, &err) == 0 && f == 3.0, "nll");
    sp_objective_default(&o, SP_OBJ_WEIGHTED);
    o.w_acc = 0.5;
    o.w_size = 0.3;
    o.w_time = 0.2;
    CHECK(sp_objective_validate(&o, &err) == 0, "%s", err.msg);
    CHECK(sp_objective_fitness(&o, &mt, &f, &err) == 0, "%s", err.msg);
    CHECK_NEAR(f, -(0.5 * 0.7 + 0.3 * 0.25 + 0.2 * 0.2), 1e-15, "weighted");
    mt.acc_norm = NAN;
    CHECK(sp_objective_fitness(&o, &mt, &f, &err) != 0 && strstr(err.msg, "acc_norm"), "nan");
    o.w_size = -1;
    CHECK(sp_objective_validate(&o, &err) != 0 && strstr(err.msg, "objective.w_size"), "%s",
          err.msg);
}

int main(void)
{
    test_state();
    test_problem_and_decode();
    test_cache();
    test_params();
    test_swap_search();
    test_oneshot_objective();
    return sp_test_finish("test_search_basics");
}
