/* bench_search_quality.c — search quality at equal unique evaluations (issues 5, 20): PSO and WOA
 * (defaults, and plain: local_search 0) against SLEB-style greedy (at its own evaluation count B)
 * and EvoPress-style EVO (at 2B; PSO / WOA are run with budget B for the @B columns and with 2B
 * for the rest, since the greedy path's beam is planned from the budget; the no-path variants'
 * @B values are their 2B runs' prefixes; plain and marginal-LS runs stop at B), 5 seeds, on the tiny-brown-24L fixture (mean NLL of the first
 * N_SEQ golden sequences x N_TOK tokens) or SmolLM2-135M (mean KL(dense || pruned) on the first
 * N_TOK tokens of a fixed text). One mask -> fitness map per (model, fidelity), shared by every
 * method, seed and k, and kept in a file, so a mask is forwarded once across runs.
 * Usage: bench_search_quality fixture [N_SEQ [N_TOK [SEEDS [K,K,.. [CACHE_FILE [check]]]]]]
 *        bench_search_quality smollm2 [N_TOK [TEXT [SEEDS [K,K,.. [CACHE_FILE]]]]]
 * (defaults: fixture 2 64 5 6,8 build-dir cache; smollm2 128 GPL-3 5 8,10). "check" rescores the
 * final masks of SLEB and of each method's best and worst seed at the full 32 x 128 goldens.
 * SP_BENCH_METHODS="PSO,WOA plain" runs only the methods named (the others print as inf);
 * SP_BENCH_SEED0=j starts at seed j (to split a run over processes sharing the cache file);
 * SP_BENCH_LS=m, SP_BENCH_SWARM=n, SP_BENCH_PATH=m, SP_BENCH_BEAM=W override local_search,
 * swarm / whales, warm_path, warm_beam of the default PSO / WOA (experiments). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/json_util.h"
#include "common/model.h"
#include "common/tokenizer.h"
#include "coordinator/fitness_cache.h"
#include "coordinator/search_driver.h"
#include "worker/engine.h"
#include "worker/eval_task.h"
#include "worker/task_kl.h"

#define MAX_SEEDS 16
#define MAX_BUDGET 2048

typedef struct {
    sp_engine *e;
    sp_lm_window *w; /* fixture: NLL windows */
    int64_t n_w, n_w_all, n_tok;
    sp_kl_scorer *kl; /* smollm2: KL scorer */
    sp_fitness_cache cache;
    FILE *cache_file; /* appended on every new evaluation */
    int n_layers;
    int64_t forwards;
    double forward_s;
} bench;

static double score_mask(bench *b, const sp_mask *m)
{
    sp_error err = {{0}};
    double t0 = sp_now(), f;
    if (b->kl) {
        sp_kl_stats st;
        SP_ASSERT_MSG(sp_kl_score(b->kl, m, 0, &st, &err) == 0, "%s", err.msg);
        f = st.mean_kl;
    } else {
        sp_lm_result r;
        SP_ASSERT_MSG(sp_lm_score(b->e, m, b->w, b->n_w, b->n_tok * b->n_w, &r, &err) == 0, "%s",
                      err.msg);
        f = r.nll_sum / (double)r.tokens_scored;
    }
    b->forwards++;
    b->forward_s += sp_now() - t0;
    return f;
}

static int bench_eval(void *ctx, const sp_candidate *c, int n, double *fit, sp_error *err)
{
    bench *b = ctx;
    for (int i = 0; i < n; i++) {
        if (sp_fitness_cache_peek(&b->cache, &c[i].mask, 0, &fit[i])) continue;
        fit[i] = score_mask(b, &c[i].mask);
        sp_fitness_cache_insert(&b->cache, &c[i].mask, 0, fit[i]);
        if (b->cache_file) {
            char buf[512];
            fprintf(b->cache_file, "%.17g\t%s\n", fit[i], sp_mask_format(&c[i].mask, buf, sizeof buf));
            fflush(b->cache_file);
        }
    }
    return 0;
}

/* Reads "fitness<TAB>layer list" lines written by bench_eval; then keeps the file open for
 * appending. */
static void cache_open(bench *b, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int64_t n = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');
        if (!tab || !nl) continue; /* a torn last line */
        *nl = '\0';
        sp_mask m;
        sp_error err = {{0}};
        double v = strtod(line, NULL);
        if (sp_mask_parse(tab + 1, b->n_layers, "cache", &m, &err) == 0 &&
            !sp_fitness_cache_contains(&b->cache, &m, 0)) {
            sp_fitness_cache_insert(&b->cache, &m, 0, v);
            n++;
        }
    }
    if (f) fclose(f);
    b->cache_file = fopen(path, "a");
    SP_ASSERT_MSG(b->cache_file, "cannot append to %s", path);
    printf("fitness cache %s: %lld masks loaded\n", path, (long long)n);
}

static double eval_mask(bench *b, const sp_mask *m)
{
    sp_candidate c = {*m, 0};
    double f;
    sp_error err = {{0}};
    SP_ASSERT_MSG(bench_eval(b, &c, 1, &f, &err) == 0, "%s", err.msg);
    return f;
}

/* One search run: best-so-far after each unique evaluation. */
typedef struct {
    double bsf[MAX_BUDGET];
    int64_t used;
    sp_mask best;
} run_trace;

static void run_search(bench *b, const sp_search_problem *p, const sp_search_params *sp,
                       uint64_t seed, int64_t budget, run_trace *tr)
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
    for (size_t i = 0; i < d.n_history && i < MAX_BUDGET; i++) tr->bsf[i] = d.history[i].best_so_far;
    double f = INFINITY;
    SP_ASSERT(sp_search_driver_best(&d, &tr->best, &f));
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
    int plain;     /* local_search 0: the paper's algorithm */
    int marginal;  /* surrogate 0: the local search ranks by per-layer mean fitness */
    int no_path;   /* warm_path 0: random start (the defaults before the greedy-path start) */
    run_trace tr[MAX_SEEDS];   /* the run to its last budget (2B; plain and marginal: B) */
    run_trace tr_b[MAX_SEEDS]; /* runs to 2B: a second run with budget B (its @B values) */
} method;

static method methods[] = {{.name = "PSO", .kind = SP_ALG_PSO},
                           {.name = "WOA", .kind = SP_ALG_WOA},
                           {.name = "PSO no path", .kind = SP_ALG_PSO, .no_path = 1},
                           {.name = "WOA no path", .kind = SP_ALG_WOA, .no_path = 1},
                           {.name = "PSO plain", .kind = SP_ALG_PSO, .plain = 1},
                           {.name = "WOA plain", .kind = SP_ALG_WOA, .plain = 1},
                           {.name = "PSO marginal LS", .kind = SP_ALG_PSO, .marginal = 1, .no_path = 1},
                           {.name = "WOA marginal LS", .kind = SP_ALG_WOA, .marginal = 1, .no_path = 1},
                           {.name = "EvoPress-style", .kind = SP_ALG_EVO}};
enum { N_METHODS = sizeof methods / sizeof methods[0], M_EVO = N_METHODS - 1 };

/* 1 when the method runs to 2B with a budget-B run beside (what it reaches when given B): the
 * defaults, whose greedy path is planned from the budget; without a path the budget-B run is
 * the 2B run's prefix. */
static int has_b_run(const method *m)
{
    return !m->plain && !m->marginal && !m->no_path && m->kind != SP_ALG_EVO;
}

/* The trace that gives a method's value at n evaluations: its budget-B run at n <= B, when it
 * has one (a search may plan by its budget: the greedy path's beam does). */
static const run_trace *trace_at(const method *m, int s, int64_t n, int64_t B)
{
    return n <= B && has_b_run(m) ? &m->tr_b[s] : &m->tr[s];
}

static void stats(const method *m, int seeds, int64_t n, int64_t B, double *mean, double *best,
                  double *worst)
{
    *mean = 0;
    *best = INFINITY;
    *worst = -INFINITY;
    for (int s = 0; s < seeds; s++) {
        double v = at_budget(trace_at(m, s, n, B), n);
        *mean += v / seeds;
        *best = fmin(*best, v);
        *worst = fmax(*worst, v);
    }
}

static void print_table(const char *model, int k, int P, int seeds, int64_t B, double sleb,
                        const sp_mask *sleb_mask)
{
    char buf[512];
    printf("\n%s, k = %d of %d prunable: SLEB greedy %.5f at B = %lld evaluations, removes {%s}\n",
           model, k, P, sleb, (long long)B, sp_mask_format(sleb_mask, buf, sizeof buf));
    printf("  %-15s %9s %9s %9s   %9s %9s %9s   %s\n", "method", "mean@B", "best@B", "worst@B",
           "mean@2B", "best@2B", "worst@2B", "evals to reach SLEB (per seed)");
    for (int mi = 0; mi < N_METHODS; mi++) {
        const method *m = &methods[mi];
        double mb, bb, wb, m2, b2, w2;
        stats(m, seeds, B, B, &mb, &bb, &wb);
        stats(m, seeds, 2 * B, B, &m2, &b2, &w2);
        char need[256] = "";
        for (int s = 0; s < seeds; s++) {
            size_t len = strlen(need);
            int64_t e = evals_to(&m->tr[s], sleb + 1e-12);
            snprintf(need + len, sizeof need - len, e ? "%s%lld" : "%s>%lld", s ? "," : "",
                     e ? (long long)e : (long long)m->tr[s].used);
        }
        if (m->kind == SP_ALG_EVO)
            printf("  %-15s %9s %9s %9s   %9.5f %9.5f %9.5f   %s\n", m->name, "-", "-", "-", m2, b2,
                   w2, need);
        else if (m->plain || m->marginal)
            printf("  %-15s %9.5f %9.5f %9.5f   %9s %9s %9s   %s\n", m->name, mb, bb, wb, "-", "-",
                   "-", need);
        else
            printf("  %-15s %9.5f %9.5f %9.5f   %9.5f %9.5f %9.5f   %s\n", m->name, mb, bb, wb, m2,
                   b2, w2, need);
    }
    double evo, e_b, e_w;
    stats(&methods[M_EVO], seeds, 2 * B, B, &evo, &e_b, &e_w);
    for (int mi = 0; mi < 2; mi++) {
        double mb, bb, wb, m2, b2, w2;
        stats(&methods[mi], seeds, B, B, &mb, &bb, &wb);
        stats(&methods[mi], seeds, 2 * B, B, &m2, &b2, &w2);
        printf("  target %s: mean@B %.5f <= SLEB %.5f: %s; mean@2B %.5f <= EvoPress mean@2B %.5f: "
               "%s\n", methods[mi].name, mb, sleb, mb <= sleb + 1e-12 ? "MET" : "NOT MET", m2, evo,
               m2 <= evo + 1e-12 ? "MET" : "NOT MET");
    }
}

/* Rescores SLEB's mask and each method's best and worst final mask at the full goldens. */
static void full_check(bench *b, int seeds, int64_t B, const sp_mask *sleb_mask)
{
    int64_t n_w = b->n_w, n_tok = b->n_tok;
    b->n_w = b->n_w_all;
    b->n_tok = 128;
    for (int64_t i = 0; i < b->n_w; i++) b->w[i].n = 128;
    printf("  full 32 x 128 goldens: SLEB %.5f", score_mask(b, sleb_mask));
    for (int mi = 0; mi < N_METHODS; mi++) {
        int64_t n = methods[mi].kind == SP_ALG_EVO ? 2 * B : B;
        int bs = 0, ws = 0;
        const method *m = &methods[mi];
        for (int s = 1; s < seeds; s++) {
            if (at_budget(trace_at(m, s, n, B), n) < at_budget(trace_at(m, bs, n, B), n)) bs = s;
            if (at_budget(trace_at(m, s, n, B), n) > at_budget(trace_at(m, ws, n, B), n)) ws = s;
        }
        /* final masks are those at the last budget; for a ranking check they serve as well */
        printf("; %s best %.5f worst %.5f", m->name, score_mask(b, &m->tr[bs].best),
               score_mask(b, &m->tr[ws].best));
    }
    printf(" (final masks of the longest runs)\n");
    b->n_w = n_w;
    b->n_tok = n_tok;
    for (int64_t i = 0; i < n_w; i++) b->w[i].n = n_tok;
}

/* 1 when name is an item of the comma-separated list. */
static int name_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *q = list; q; q = strchr(q, ',') ? strchr(q, ',') + 1 : NULL)
        if (strncmp(q, name, n) == 0 && (q[n] == ',' || q[n] == '\0')) return 1;
    return 0;
}

static void bench_k(bench *b, const char *model, int k, int seeds, int check)
{
    sp_search_problem p;
    sp_error err = {{0}};
    SP_ASSERT_MSG(sp_search_problem_init(&p, b->n_layers, k, NULL, 1, &err) == 0, "%s", err.msg);
    double t0 = sp_now();
    int64_t f0 = b->forwards;
    sp_search_params sp;
    sp_search_params_default(&sp, SP_ALG_GREEDY);
    run_trace sleb;
    run_search(b, &p, &sp, 0, 100000, &sleb);
    int64_t B = sleb.used;
    SP_ASSERT(2 * B <= MAX_BUDGET);
    double sleb_fit = eval_mask(b, &sleb.best);
    const char *only = getenv("SP_BENCH_METHODS"); /* e.g. "PSO,WOA": run just these */
    int seed0 = getenv("SP_BENCH_SEED0") ? atoi(getenv("SP_BENCH_SEED0")) : 0; /* split runs */
    for (int mi = 0; mi < N_METHODS; mi++) {
        if (only && !name_listed(only, methods[mi].name)) {
            for (int s = 0; s < seeds; s++) methods[mi].tr[s].used = methods[mi].tr_b[s].used = 0;
            continue;
        }
        sp_search_params_default(&sp, methods[mi].kind);
        if (getenv("SP_BENCH_LS")) /* experiments: another local_search for the defaults */
            sp.pso.local_search = sp.woa.local_search = atoi(getenv("SP_BENCH_LS"));
        if (getenv("SP_BENCH_SWARM")) /* experiments: another swarm / whale count */
            sp.pso.swarm = sp.woa.whales = atoi(getenv("SP_BENCH_SWARM"));
        if (getenv("SP_BENCH_PATH")) /* experiments: another warm_path for the defaults */
            sp.pso.warm_path = sp.woa.warm_path = atoi(getenv("SP_BENCH_PATH"));
        if (getenv("SP_BENCH_BEAM")) /* experiments: another warm_beam for the defaults */
            sp.pso.warm_beam = sp.woa.warm_beam = atoi(getenv("SP_BENCH_BEAM"));
        if (methods[mi].plain) sp.pso.local_search = sp.woa.local_search = 0;
        if (methods[mi].plain || methods[mi].no_path) sp.pso.warm_path = sp.woa.warm_path = 0;
        if (methods[mi].plain) sp.pso.swarm = sp.woa.whales = 20; /* as before our additions */
        if (methods[mi].marginal) sp.pso.surrogate = sp.woa.surrogate = 0;
        for (int s = 0; s < seeds; s++) { /* plain: only compared at B */
            method *m = &methods[mi];
            uint64_t seed = 1000 + (uint64_t)(seed0 + s);
            run_search(b, &p, &sp, seed, m->plain || m->marginal ? B : 2 * B, &m->tr[s]);
            if (has_b_run(m)) run_search(b, &p, &sp, seed, B, &m->tr_b[s]);
            printf("  [%s k = %d: %s seed %d: %.5f at B, %.5f at the end (%lld evals)]\n", model,
                   k, m->name, seed0 + s, at_budget(trace_at(m, s, B, B), B),
                   at_budget(&m->tr[s], m->tr[s].used), (long long)m->tr[s].used);
        }
        printf("  [%s k = %d: %s done, %lld new forwards so far, %.1f s]\n", model, k,
               methods[mi].name, (long long)(b->forwards - f0), sp_now() - t0);
    }
    print_table(model, k, p.n_prunable, seeds, B, sleb_fit, &sleb.best);
    if (check) full_check(b, seeds, B, &sleb.best);
    printf("  [%s k = %d: %lld new unique forwards, %.1f s]\n", model, k,
           (long long)(b->forwards - f0), sp_now() - t0);
}

/* "6,8": k values in [1, max]. -1 when malformed. */
static int parse_k_list(const char *text, int max, int *ks, int cap)
{
    int n = 0;
    for (const char *q = text;; q++) {
        char *end;
        long v = strtol(q, &end, 10);
        if (end == q || v < 1 || v > max || n == cap || (*end != ',' && *end != '\0')) return -1;
        ks[n++] = (int)v;
        if (*end == '\0') return n;
        q = end;
    }
}

static void open_fixture(bench *b, sp_model *m, int n_seq, int n_tok)
{
    char model_dir[4096], goldens[4096];
    snprintf(model_dir, sizeof model_dir, "%s/../shared/fixtures/tiny-brown-24L", SP_SOURCE_DIR);
    snprintf(goldens, sizeof goldens, "%s/../shared/fixtures/tiny-brown-24L-goldens/"
             "mask_nll_goldens.json", SP_SOURCE_DIR);
    sp_error err = {{0}};
    sp_engine_options opt = {.backend = SP_BACKEND_CPU, .threads = 1};
    SP_ASSERT_MSG(sp_model_open(model_dir, m, &err) == 0 &&
                      sp_engine_create(m, &opt, &b->e, &err) == 0 &&
                      sp_lm_load_tokens(goldens, m->cfg.vocab, &b->w, &b->n_w_all, &err) == 0,
                  "%s", err.msg);
    b->n_w = n_seq < b->n_w_all ? n_seq : b->n_w_all;
    b->n_tok = n_tok;
    for (int64_t i = 0; i < b->n_w; i++) b->w[i].n = b->w[i].n < n_tok ? b->w[i].n : n_tok;
    printf("bench_search_quality: tiny-brown-24L (L = 24, first and last layer protected), "
           "fitness = mean NLL of the first %lld golden sequences x %d tokens\n",
           (long long)b->n_w, n_tok);
}

static void open_smollm2(bench *b, sp_model *m, int n_tok, const char *text_path)
{
    char model_dir[4096];
    const char *home = getenv("HOME");
    snprintf(model_dir, sizeof model_dir, "%s/.cache/swarmprune/smollm2-135m-instruct",
             home ? home : "");
    sp_error err = {{0}};
    sp_engine_options opt = {.backend = SP_BACKEND_CPU, .threads = 1};
    sp_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    SP_ASSERT_MSG(sp_model_open(model_dir, m, &err) == 0 &&
                      sp_engine_create(m, &opt, &b->e, &err) == 0 &&
                      sp_read_file(text_path, &text, &len, &err) == 0 &&
                      sp_tokenizer_load(model_dir, &tok, &err) == 0 &&
                      sp_tokenizer_encode(tok, text, len, 0, &ids, &n, &err) == 0,
                  "%s", err.msg);
    SP_ASSERT_MSG((int64_t)n >= n_tok, "%s: %zu tokens < %d", text_path, n, n_tok);
    sp_kl_options o = {.ctx = n_tok, .bos = sp_tokenizer_bos(tok)};
    double t0 = sp_now();
    SP_ASSERT_MSG(sp_kl_create(b->e, ids, n_tok, &o, &b->kl, &err) == 0, "%s", err.msg);
    printf("bench_search_quality: SmolLM2-135M (L = %lld, first and last layer protected), fitness "
           "= mean KL(dense || pruned) over the first %d tokens of %s (one window; dense pass "
           "%.2f s)\n", (long long)m->cfg.n_layers, n_tok, text_path, sp_now() - t0);
    sp_tokenizer_free(tok);
    free(text);
    free(ids);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_search_quality fixture [N_SEQ [N_TOK [SEEDS [K,K,.. [CACHE "
                    "[check]]]]]]\n       bench_search_quality smollm2 [N_TOK [TEXT [SEEDS "
                    "[K,K,.. [CACHE]]]]]\n");
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress visible when redirected */
    if (argc < 2) return usage();
    int smol = strcmp(argv[1], "smollm2") == 0;
    if (!smol && strcmp(argv[1], "fixture") != 0) return usage();
    int n_seq = 2, n_tok = smol ? 128 : 64, seeds = 5, ks[8] = {6, 8}, n_k = 2, check = 0, a = 2;
    const char *text = "/usr/share/common-licenses/GPL-3";
    if (smol) {
        ks[0] = 8;
        ks[1] = 10;
        if (argc > a) n_tok = atoi(argv[a++]);
        if (argc > a) text = argv[a++];
    } else {
        if (argc > a) n_seq = atoi(argv[a++]);
        if (argc > a) n_tok = atoi(argv[a++]);
    }
    if (argc > a) seeds = atoi(argv[a++]);
    if (argc > a) n_k = parse_k_list(argv[a++], smol ? 27 : 21, ks, 8);
    char cache[4096];
    if (smol) snprintf(cache, sizeof cache, "bench_sq_smollm2_%d.cache", n_tok);
    else snprintf(cache, sizeof cache, "bench_sq_fixture_%dx%d.cache", n_seq, n_tok);
    if (argc > a) snprintf(cache, sizeof cache, "%s", argv[a++]);
    if (argc > a) check = strcmp(argv[a++], "check") == 0 ? 1 : -1;
    if (n_seq < 1 || n_tok < 2 || seeds < 1 || seeds > MAX_SEEDS || n_k < 1 || check < 0)
        return usage();
    sp_model m;
    bench b = {0};
    double t0 = sp_now();
    if (smol) open_smollm2(&b, &m, n_tok, text);
    else open_fixture(&b, &m, n_seq, n_tok);
    b.n_layers = (int)m.cfg.n_layers;
    sp_fitness_cache_init(&b.cache);
    cache_open(&b, cache);
    printf("%d seeds; SLEB's evaluation count B per k; PSO / WOA / EvoPress-style run to 2B "
           "unique evaluations (PSO / WOA also run with budget B for the @B columns; plain and "
           "marginal-LS ones to B); PSO and WOA with "
           "their job defaults, \"plain\" = local_search 0\n", seeds);
    for (int i = 0; i < n_k; i++) bench_k(&b, smol ? "SmolLM2-135M" : "fixture", ks[i], seeds,
                                          check && !smol);
    printf("\nnew unique forwards: %lld (%.1f s of forward time, %.1f ms each), total %.1f s\n",
           (long long)b.forwards, b.forward_s,
           1e3 * b.forward_s / (double)(b.forwards ? b.forwards : 1), sp_now() - t0);
    fclose(b.cache_file);
    sp_fitness_cache_free(&b.cache);
    sp_kl_free(b.kl);
    if (b.w) sp_lm_windows_free(b.w, b.n_w_all);
    sp_engine_free(b.e);
    sp_model_close(&m);
    return 0;
}
