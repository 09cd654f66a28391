/* bench_train.c — CPU trainer throughput (a program, not a test): training tokens/s of
 * sp_trainer_step (full and --recompute) and of sp_trainer_eval, against the inference engine's
 * forward on the same batch in the same run (the baseline ratio). Random tokens, seeded.
 * Run: OPENBLAS_NUM_THREADS=2 bench_train [MODEL_DIR [REMOVE [N_SEQ [LEN [TARGETS [RANK]]]]]]
 * (default: the tiny-brown-24L fixture, remove 3,7,11,15, 4 x 128 tokens, q_proj,v_proj, r 8). */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"
#include "common/model.h"
#include "common/rng.h"
#include "test_util.h"
#include "worker/engine.h"
#include "worker/lora.h"
#include "worker/train_cpu.h"

#define BENCH_REPS 3

typedef struct {
    const sp_model *m;
    sp_mask rm;
    int n_seq, T;
    int32_t *tok;
    float *w;
} bench;

/* Best seconds of one engine forward scoring every position of the batch. */
static double time_engine(bench *b, sp_engine *e)
{
    int64_t N = (int64_t)b->n_seq * b->T, R = (int64_t)b->n_seq * (b->T - 1), r = 0;
    int64_t *off = malloc((size_t)(b->n_seq + 1) * 8), *rows = malloc((size_t)R * 8);
    int32_t *pl = malloc((size_t)b->n_seq * 4), *tg = malloc((size_t)R * 4);
    float *lp = malloc((size_t)R * 4);
    for (int i = 0; i <= b->n_seq; i++) off[i] = (int64_t)i * b->T;
    for (int i = 0; i < b->n_seq; i++) {
        pl[i] = b->T;
        for (int j = 0; j + 1 < b->T; j++)
            rows[r] = (int64_t)i * b->T + j, tg[r++] = b->tok[i * b->T + j + 1];
    }
    sp_batch bt = {N, b->tok, b->n_seq, off, pl, NULL};
    sp_head_request req = {R, rows, tg, lp, NULL};
    sp_error err = {{0}};
    double best = 1e30;
    for (int k = 0; k <= BENCH_REPS; k++) {
        double t0 = sp_now();
        SP_ASSERT_MSG(sp_engine_forward(e, &bt, &b->rm, &req, &err) == 0, "%s", err.msg);
        double dt = sp_now() - t0;
        if (k > 0 && dt < best) best = dt;
    }
    free(off), free(rows), free(pl), free(tg), free(lp);
    return best;
}

/* Best seconds of a trainer step (or eval when step == 0). */
static double time_trainer(bench *b, sp_trainer *t, sp_lora *lo, int step, double *loss)
{
    sp_error err = {{0}};
    double best = 1e30, ws = 0;
    for (int k = 0; k <= BENCH_REPS; k++) {
        double t0 = sp_now();
        int rc = step ? sp_trainer_step(t, lo, b->tok, b->w, b->n_seq, b->T, (uint64_t)k, 1.0, loss,
                                        &ws, &err)
                      : sp_trainer_eval(t, lo, b->tok, b->w, b->n_seq, b->T, loss, &ws, &err);
        SP_ASSERT_MSG(rc == 0, "%s", err.msg);
        double dt = sp_now() - t0;
        if (k > 0 && dt < best) best = dt;
    }
    *loss /= ws;
    return best;
}

static void run_trainer(bench *b, sp_lora *lo, int recompute, double t_engine, int64_t N)
{
    sp_error err = {{0}};
    sp_trainer_options o = {0, recompute, N};
    sp_trainer *t = NULL;
    size_t est = 0;
    SP_ASSERT_MSG(sp_trainer_estimate_bytes(&b->m->cfg, &b->rm, &lo->cfg, &o, &est, &err) == 0,
                  "%s", err.msg);
    SP_ASSERT_MSG(sp_trainer_create(b->m, &b->rm, &o, &t, &err) == 0, "%s", err.msg);
    double le = 0, ls = 0;
    double te = time_trainer(b, t, lo, 0, &le), ts = time_trainer(b, t, lo, 1, &ls);
    printf("trainer%s: estimate %.1f MiB; eval %.0f tok/s (nll %.4f, %.2fx engine); step %.0f "
           "tok/s (loss %.4f, %.3fx engine forward)\n", recompute ? " --recompute" : "",
           (double)est / 1048576.0, (double)N / te, le, t_engine / te, (double)N / ts, ls,
           t_engine / ts);
    sp_trainer_free(t);
}

int main(int argc, char **argv)
{
    char fixture[8192] = "";
    const char *dir = argc > 1 ? argv[1] : NULL;
    if (!dir) {
        if (!sp_test_shared_dir()) return sp_test_skip("bench_train", "../shared not found");
        snprintf(fixture, sizeof fixture, "%s", sp_test_shared_path("fixtures/tiny-brown-24L"));
        dir = fixture;
    }
    const char *remove = argc > 2 ? argv[2] : "3,7,11,15", *targets = argc > 5 ? argv[5] : "q,v";
    bench b = {0};
    b.n_seq = argc > 3 ? atoi(argv[3]) : 4, b.T = argc > 4 ? atoi(argv[4]) : 128;
    int rank = argc > 6 ? atoi(argv[6]) : 8;
    sp_model m;
    sp_error err = {{0}};
    SP_ASSERT_MSG(sp_model_open(dir, &m, &err) == 0, "%s", err.msg);
    b.m = &m;
    SP_ASSERT_MSG(sp_mask_parse(remove, (int)m.cfg.n_layers, "REMOVE", &b.rm, &err) == 0, "%s",
                  err.msg);
    sp_lora_config lc = {rank, 2.0 * rank, 0.1, 0};
    SP_ASSERT_MSG(sp_lora_parse_targets(targets, "TARGETS", &lc.targets, &err) == 0, "%s", err.msg);
    int64_t N = (int64_t)b.n_seq * b.T;
    b.tok = malloc((size_t)N * sizeof(int32_t)), b.w = malloc((size_t)N * sizeof(float));
    for (int64_t n = 0; n < N; n++)
        b.tok[n] = (int32_t)(sp_rng_uniform(1, 0, (uint64_t)n, 0) * (double)m.cfg.vocab),
        b.w[n] = 1;
    sp_lora lo;
    SP_ASSERT_MSG(sp_lora_create(&m.cfg, &b.rm, &lc, 1, &lo, &err) == 0, "%s", err.msg);
    sp_engine *e = NULL;
    sp_engine_options eo = {SP_BACKEND_CPU, 0};
    SP_ASSERT_MSG(sp_engine_create(&m, &eo, &e, &err) == 0, "%s", err.msg);
    printf("bench_train: %s, remove [%s], %d x %d tokens, targets %s r %d, %d BLAS threads\n", dir,
           remove, b.n_seq, b.T, targets, rank, openblas_get_num_threads());
    double t_engine = time_engine(&b, e);
    printf("engine forward (baseline): %.0f tok/s\n", (double)N / t_engine);
    sp_engine_free(e);
    run_trainer(&b, &lo, 0, t_engine, N);
    run_trainer(&b, &lo, 1, t_engine, N);
    sp_lora_free(&lo);
    sp_model_close(&m);
    free(b.tok), free(b.w);
    return 0;
}
