/* bench_search_quality.c — search quality on the tiny-brown-24L fixture (issue 5). Fitness = mean
 * NLL of the first N_SEQ golden eval sequences (x 128 tokens). k = 3: exhaustive optimum; k = 3, 6,
 * 8: PSO, BPSO, WOA, EVO, random (5 seeds, budgets 50/100/200 unique evaluations) against SLEB
 * greedy, Block Influence, angular distance and last-k. One global mask -> NLL map: a mask is
 * never forwarded twice in the whole run.
 * Usage: bench_search_quality [N_SEQ [N_TOK [SEEDS [extra|plain [K,K,...]]]]] (defaults 8 128 5
 * plain 3,6,8; "extra" adds PSO and WOA with populations of 10, and warm-started with the one-shot
 * masks). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/model.h"
#include "coordinator/fitness_cache.h"
#include "coordinator/layer_scores.h"
#include "coordinator/oneshot.h"
#include "coordinator/search_driver.h"
#include "worker/engine.h"
#include "worker/eval_task.h"

#define MAX_SEEDS 16
#define BUDGET 200
#define N_CP 3
static const int64_t checkpoints[N_CP] = {50, 100, 200};

typedef struct {
    sp_engine *e;
    sp_lm_window *w;
    int64_t n_w;
    int64_t n_tok;        /* tokens per sequence */
    int extra;            /* also run the population-10 and warm-started PSO / WOA variants */
    sp_fitness_cache nll; /* global mask -> mean NLL (fidelity 0) */
    int64_t forwards;
    double forward_s;
} bench;

static int bench_eval(void *ctx, const sp_candidate *c, int n, double *fit, sp_error *err)
{
    bench *b = ctx;
    for (int i = 0; i < n; i++) {
        if (sp_fitness_cache_peek(&b->nll, &c[i].mask, 0, &fit[i])) continue;
        sp_lm_result r;
        if (sp_lm_score(b->e, &c[i].mask, b->w, b->n_w, b->n_tok * b->n_w, &r, err)) return -1;
        fit[i] = r.nll_sum / (double)r.tokens_scored;
        sp_fitness_cache_insert(&b->nll, &c[i].mask, 0, fit[i]);
        b->forwards++;
        b->forward_s += r.wall_s;
    }
    return 0;
}

static double eval_mask(bench *b, const sp_mask *m)
{
    sp_candidate c = {*m, 0};
    double f;
    sp_error err = {{0}};
    SP_ASSERT_MSG(bench_eval(b, &c, 1, &f, &err) == 0, "%s", err.msg);
    return f;
}

/* One search run: best-so-far after each unique evaluation, bsf[0..n_used). */
typedef struct {
    double bsf[BUDGET + 1];
    int64_t used;
} run_trace;

static void run_search(bench *b, const sp_search_problem *p, const sp_search_params *sp,
                       uint64_t seed, int64_t budget, run_trace *tr, sp_mask *best)
{
    sp_driver_config cfg;
    sp_driver_config_default(&cfg);
    cfg.max_evals = budget;
    sp_search_driver d;
    sp_error err = {{0}};
    SP_ASSERT_MSG(sp_search_driver_init(&d, p, sp, seed, &cfg, bench_eval, b, &err) == 0, "%s",
                  err.msg);
    SP_ASSERT_MSG(sp_search_driver_run(&d, -1, &err) == 0, "%s", err.msg);
    tr->used = (int64_t)d.n_history;
    for (size_t i = 0; i < d.n_history && i < BUDGET; i++) tr->bsf[i] = d.history[i].best_so_far;
    double f = INFINITY;
    if (best) SP_ASSERT(sp_search_driver_best(&d, best, &f));
    sp_search_driver_free(&d);
}

static double at_budget(const run_trace *t, int64_t n)
{
    int64_t i = (n < t->used ? n : t->used) - 1;
    return i >= 0 ? t->bsf[i] : INFINITY;
}

/* Evaluations a run needed to reach <= target (0 = never within its budget). */
static int64_t evals_to(const run_trace *t, double target)
{
    for (int64_t i = 0; i < t->used; i++)
        if (t->bsf[i] <= target) return i + 1;
    return 0;
}

typedef struct {
    const char *name;
    sp_alg_kind kind;
    int warm; /* 1: warm-started with the one-shot masks */
    int pop;  /* > 0: swarm / whales instead of the default 20 */
    run_trace tr[MAX_SEEDS];
} method;

enum { BL_SLEB, BL_BI, BL_ANG, BL_LAST, N_BL };
static const char *bl_names[N_BL] = {"SLEB greedy", "Block Influence", "angular dist", "last-k"};

typedef struct {
    double fit[N_BL];
    int64_t evals[N_BL];
    sp_mask mask[N_BL];
} baselines;

static void run_baselines(bench *b, const sp_search_problem *p, const sp_layer_scores *ls,
                          baselines *bl)
{
    sp_error err = {{0}};
    double bi[SP_MAX_LAYERS], dist[SP_MAX_LAYERS];
    SP_ASSERT_MSG(sp_layer_scores_block_influence(ls, bi, &err) == 0 &&
                      sp_layer_scores_angular(ls, p->k, dist, &err) == 0 &&
                      sp_oneshot_lowest_scores(p, bi, &bl->mask[BL_BI], &err) == 0 &&
                      sp_oneshot_best_window(p, dist, &bl->mask[BL_ANG], &err) == 0 &&
                      sp_oneshot_last_k(p, &bl->mask[BL_LAST], &err) == 0,
                  "%s", err.msg);
    for (int i = BL_BI; i < N_BL; i++) {
        bl->fit[i] = eval_mask(b, &bl->mask[i]);
        bl->evals[i] = 1;
    }
    sp_search_params sp;
    sp_search_params_default(&sp, SP_ALG_GREEDY);
    run_trace tr;
    run_search(b, p, &sp, 0, 100000, &tr, &bl->mask[BL_SLEB]);
    bl->evals[BL_SLEB] = tr.used;
    bl->fit[BL_SLEB] = eval_mask(b, &bl->mask[BL_SLEB]);
}

static void run_methods(bench *b, const sp_search_problem *p, const baselines *bl, method *ms,
                        int n_m, int seeds)
{
    for (int mi = 0; mi < n_m; mi++) {
        sp_search_params sp;
        sp_search_params_default(&sp, ms[mi].kind);
        if (ms[mi].pop > 0) sp.pso.swarm = sp.woa.whales = ms[mi].pop;
        sp.woa.max_iter = BUDGET / sp.woa.whales; /* a: 2 -> 0 over the planned run */
        if (ms[mi].warm) {
            sp.warm = &bl->mask[BL_BI]; /* BI, angular, last-k: consecutive in bl->mask */
            sp.n_warm = 3;
        }
        for (int s = 0; s < seeds; s++) run_search(b, p, &sp, 1000 + (uint64_t)s, BUDGET, &ms[mi].tr[s], NULL);
    }
}

static void print_row(const char *name, int64_t budget, int64_t used, const double *v, int n,
                      double ref)
{
    double mean = 0, mn = INFINITY;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        mean += v[i] / n;
        mn = fmin(mn, v[i]);
        hits += v[i] <= ref + 1e-12;
    }
    printf("  %-22s %6lld %6lld  %9.5f %9.5f  %+8.5f %+8.5f  %d/%d\n", name, (long long)budget,
           (long long)used, mean, mn, mean - ref, mn - ref, hits, n);
}

static void print_table(int k, const method *ms, int n_m, int seeds, const baselines *bl,
                        double ref, const char *ref_what)
{
    printf("\nk = %d: reference %.5f (%s)\n", k, ref, ref_what);
    printf("  %-22s %6s %6s  %9s %9s  %8s %8s  %s\n", "method", "budget", "evals", "best mean",
           "best min", "gap mean", "gap min", "at ref");
    for (int mi = 0; mi < n_m; mi++)
        for (int c = 0; c < N_CP; c++) {
            double v[MAX_SEEDS];
            int64_t used = 0;
            for (int s = 0; s < seeds; s++) {
                v[s] = at_budget(&ms[mi].tr[s], checkpoints[c]);
                int64_t u = ms[mi].tr[s].used < checkpoints[c] ? ms[mi].tr[s].used : checkpoints[c];
                used = u > used ? u : used;
            }
            print_row(ms[mi].name, checkpoints[c], used, v, seeds, ref);
        }
    for (int i = 0; i < N_BL; i++) {
        char buf[256];
        print_row(bl_names[i], bl->evals[i], bl->evals[i], &bl->fit[i], 1, ref);
        printf("  %-22s removes {%s}\n", "", sp_mask_format(&bl->mask[i], buf, sizeof buf));
    }
}

/* PSO / WOA (cold) against each baseline at the baseline's own number of evaluations (at least
 * 1), and the evaluations each seed needed to match it. */
static void print_equal_evals(const method *ms, int n_m, int seeds, const baselines *bl)
{
    for (int mi = 0; mi < n_m; mi++) {
        if (ms[mi].warm || (ms[mi].kind != SP_ALG_PSO && ms[mi].kind != SP_ALG_WOA)) continue;
        for (int i = 0; i < N_BL; i++) {
            int ok = 0;
            char need[256] = "";
            for (int s = 0; s < seeds; s++) {
                ok += at_budget(&ms[mi].tr[s], bl->evals[i]) <= bl->fit[i] + 1e-12;
                size_t len = strlen(need);
                int64_t e = evals_to(&ms[mi].tr[s], bl->fit[i] + 1e-12);
                snprintf(need + len, sizeof need - len, e ? "%s%lld" : "%s>%lld", s ? "," : "",
                         e ? (long long)e : (long long)BUDGET);
            }
            printf("  %-5s vs %-15s at %3lld evals: matches/beats in %d/%d seeds; evals needed "
                   "per seed: %s\n", ms[mi].name, bl_names[i], (long long)bl->evals[i], ok, seeds,
                   need);
        }
    }
}

static double best_known(const method *ms, int n_m, int seeds, const baselines *bl)
{
    double r = INFINITY;
    for (int mi = 0; mi < n_m; mi++)
        for (int s = 0; s < seeds; s++) r = fmin(r, at_budget(&ms[mi].tr[s], BUDGET));
    for (int i = 0; i < N_BL; i++) r = fmin(r, bl->fit[i]);
    return r;
}

static void bench_k(bench *b, const sp_layer_scores *ls, int L, int k, int seeds)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT_MSG(sp_search_problem_init(&p, L, k, NULL, 1, &err) == 0, "%s", err.msg);
    static method ms[] = {{.name = "PSO", .kind = SP_ALG_PSO},
                          {.name = "BPSO", .kind = SP_ALG_BPSO},
                          {.name = "WOA", .kind = SP_ALG_WOA},
                          {.name = "EVO", .kind = SP_ALG_EVO},
                          {.name = "random", .kind = SP_ALG_RANDOM},
                          {.name = "PSO(swarm 10)", .kind = SP_ALG_PSO, .pop = 10},
                          {.name = "WOA(10 whales)", .kind = SP_ALG_WOA, .pop = 10},
                          {.name = "PSO+warm(BI,ang,last)", .kind = SP_ALG_PSO, .warm = 1},
                          {.name = "WOA+warm(BI,ang,last)", .kind = SP_ALG_WOA, .warm = 1}};
    int n_m = (int)(sizeof ms / sizeof ms[0]) - (b->extra ? 0 : 4); /* extras last */
    double t0 = sp_now();
    int64_t f0 = b->forwards;
    baselines bl;
    run_baselines(b, &p, ls, &bl);
    run_methods(b, &p, &bl, ms, n_m, seeds);
    printf("  [k = %d: baselines and searches done, %.1f s]\n", k, sp_now() - t0);
    double ref = best_known(ms, n_m, seeds, &bl);
    const char *what = "best value over all runs and baselines";
    if (k == 3) {
        sp_search_params sp;
        sp_search_params_default(&sp, SP_ALG_EXHAUSTIVE);
        run_trace tr;
        sp_mask opt;
        int64_t C = sp_search_binomial(p.n_prunable, k);
        run_search(b, &p, &sp, 0, C, &tr, &opt);
        SP_ASSERT(tr.used == C);
        ref = eval_mask(b, &opt);
        char buf[256];
        static char w[320];
        snprintf(w, sizeof w, "exhaustive optimum over C(%d,%d) = %lld masks: {%s}", p.n_prunable,
                 k, (long long)C, sp_mask_format(&opt, buf, sizeof buf));
        what = w;
    }
    print_table(k, ms, n_m, seeds, &bl, ref, what);
    print_equal_evals(ms, n_m, seeds, &bl);
    printf("  [k = %d: %lld new unique forwards, %.1f s]\n", k, (long long)(b->forwards - f0),
           sp_now() - t0);
}

/* "3" or "6,8": k values in [1, 21] (the fixture has 22 prunable layers). -1 when malformed. */
static int parse_k_list(const char *text, int *ks, int cap)
{
    int n = 0;
    for (const char *q = text;; q++) {
        char *end;
        long v = strtol(q, &end, 10);
        if (end == q || v < 1 || v > 21 || n == cap || (*end != ',' && *end != '\0')) return -1;
        ks[n++] = (int)v;
        if (*end == '\0') return n;
        q = end;
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress visible when redirected */
    int n_seq = argc > 1 ? atoi(argv[1]) : 8, n_tok = argc > 2 ? atoi(argv[2]) : 128;
    int seeds = argc > 3 ? atoi(argv[3]) : 5, extra = argc > 4 && strcmp(argv[4], "extra") == 0;
    if (argc > 4 && strcmp(argv[4], "plain") == 0) extra = -1; /* default methods, K list next */
    int ks[8] = {3, 6, 8}, n_k = 3;
    if (argc > 5) n_k = parse_k_list(argv[5], ks, 8);
    if (n_seq < 1 || n_tok < 2 || seeds < 1 || seeds > MAX_SEEDS || (argc > 4 && !extra) ||
        n_k < 1) {
        fprintf(stderr, "usage: bench_search_quality [N_SEQ >= 1 [N_TOK >= 2 [SEEDS 1..%d "
                        "[extra|plain [K,K,..]]]]]\n", MAX_SEEDS);
        return 2;
    }
    char model_dir[4096], goldens[4096];
    snprintf(model_dir, sizeof model_dir, "%s/../shared/fixtures/tiny-brown-24L", SP_SOURCE_DIR);
    snprintf(goldens, sizeof goldens, "%s/../shared/fixtures/tiny-brown-24L-goldens/"
             "mask_nll_goldens.json", SP_SOURCE_DIR);
    sp_error err = {{0}};
    sp_model m;
    bench b = {.n_tok = n_tok, .extra = extra > 0};
    sp_layer_scores ls;
    if (sp_model_open(model_dir, &m, &err)) {
        fprintf(stderr, "bench_search_quality: %s\n", err.msg);
        return 1;
    }
    sp_engine_options opt = {.backend = SP_BACKEND_CPU, .threads = 0};
    SP_ASSERT_MSG(sp_engine_create(&m, &opt, &b.e, &err) == 0 &&
                      sp_lm_load_tokens(goldens, m.cfg.vocab, &b.w, &b.n_w, &err) == 0,
                  "%s", err.msg);
    int64_t n_all = b.n_w;
    if (n_seq > b.n_w) n_seq = (int)b.n_w;
    b.n_w = n_seq;
    for (int i = 0; i < n_seq; i++) b.w[i].n = b.w[i].n < n_tok ? b.w[i].n : n_tok;
    sp_fitness_cache_init(&b.nll);
    double t0 = sp_now();
    SP_ASSERT_MSG(sp_layer_scores_calibrate(b.e, b.w, b.n_w, n_tok * b.n_w, 8, &ls, &err) == 0,
                  "%s", err.msg);
    printf("bench_search_quality: tiny-brown-24L (L = %lld, first and last layer protected), "
           "fitness = mean NLL of the first %d eval sequences x %d tokens (one forward each), "
           "%d seeds, one run per seed with budget %d (best-so-far read at 50/100/200: the "
           "driver stops exactly at the budget, so a smaller budget is this run's prefix; WOA's "
           "a schedule is planned for 200). Calibration (BI, angular) on the same sequences: "
           "%.2f s.\n", (long long)m.cfg.n_layers, n_seq, n_tok, seeds, BUDGET, sp_now() - t0);
    double bi[SP_MAX_LAYERS];
    SP_ASSERT(sp_layer_scores_block_influence(&ls, bi, &err) == 0);
    printf("BI:");
    for (int l = 0; l < m.cfg.n_layers; l++) printf(" %.4f", bi[l]);
    printf("\n");
    for (int i = 0; i < n_k; i++) bench_k(&b, &ls, (int)m.cfg.n_layers, ks[i], seeds);
    printf("\nunique forwards: %lld (%.1f s of forward time, %.1f ms each), total %.1f s\n",
           (long long)b.forwards, b.forward_s, 1e3 * b.forward_s / (double)(b.forwards ? b.forwards : 1),
           sp_now() - t0);
    sp_layer_scores_free(&ls);
    sp_fitness_cache_free(&b.nll);
    sp_lm_windows_free(b.w, n_all);
    sp_engine_free(b.e);
    sp_model_close(&m);
    return 0;
}
