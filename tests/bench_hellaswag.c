/* bench_hellaswag.c — HellaSwag (llama.cpp 6-line file, 10,042 items) on the tiny fixture with
 * the CPU engine: acc / acc_norm / items per second over the first N items (argument, default
 * 1000; 0 = all), and the shared-prefix packing against plain per-ending sequences (baseline,
 * measured in the same run on the first min(N, 100) items, after checking both agree).
 * usage: bench_hellaswag [N] [MODEL_DIR] [HELLASWAG_FILE] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"
#include "common/model.h"
#include "common/tokenizer.h"
#include "test_util.h"
#include "worker/engine.h"
#include "worker/mc_data.h"
#include "worker/task_mc.h"

static int bench(sp_engine *e, const sp_mc_requests *rq)
{
    sp_error err = {{0}};
    sp_mc_options shared = {4096, SP_MC_PACK_SHARED}, plain = {4096, SP_MC_PACK_PLAIN};
    sp_mc_requests few = {rq->n < 100 ? rq->n : 100, rq->req}, warm = {rq->n < 8 ? rq->n : 8, rq->req};
    sp_mc_result r, rs, rp;
    if (sp_mc_score(e, NULL, &warm, &shared, &r, &err)) goto fail; /* warm-up */
    sp_mc_result_free(&r);
    if (sp_mc_score(e, NULL, &few, &shared, &rs, &err) || sp_mc_score(e, NULL, &few, &plain, &rp, &err))
        goto fail;
    double worst = 0;
    for (int64_t i = 0; i < few.n * SP_MC_MAX_ENDINGS; i++)
        if (fabs(rs.lls[i] - rp.lls[i]) > worst) worst = fabs(rs.lls[i] - rp.lls[i]);
    printf("check: shared vs plain lls on %lld items: max |diff| %.2e %s\n", (long long)few.n,
           worst, worst <= 1e-4 ? "ok" : "MISMATCH");
    printf("baseline (%lld items): shared %.2f items/s, plain %.2f items/s, speedup %.2fx\n",
           (long long)few.n, few.n / rs.wall_s, few.n / rp.wall_s, rp.wall_s / rs.wall_s);
    sp_mc_result_free(&rs);
    sp_mc_result_free(&rp);
    if (!(worst <= 1e-4)) return 1;
    if (sp_mc_score(e, NULL, rq, &shared, &r, &err)) goto fail;
    printf("hellaswag %lld items: acc %.4f +- %.4f  acc_norm %.4f +- %.4f\n", (long long)r.n, r.acc,
           r.acc_stderr, r.acc_norm, r.acc_norm_stderr);
    printf("tokens: %lld through the layers vs %lld naive (ratio %.3f), %lld scored, %lld calls\n",
           (long long)r.tokens_forward, (long long)r.tokens_naive,
           (double)r.tokens_forward / (double)r.tokens_naive, (long long)r.tokens_scored,
           (long long)r.forward_calls);
    printf("wall %.2f s, %.2f items/s, %.0f tokens/s through the layers\n", r.wall_s,
           r.n / r.wall_s, r.tokens_forward / r.wall_s);
    sp_mc_result_free(&r);
    return 0;
fail:
    fprintf(stderr, "bench_hellaswag: %s\n", err.msg);
    return 1;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 1000;
    char mdir[4096], data[4096];
    const char *sm = sp_test_shared_path("fixtures/tiny-brown-24L");
    snprintf(mdir, sizeof mdir, "%s", argc > 2 ? argv[2] : sm ? sm : "");
    const char *sd = sp_test_shared_path("data/hellaswag/hellaswag_val_full.txt");
    snprintf(data, sizeof data, "%s", argc > 3 ? argv[3] : sd ? sd : "");
    if (n < 0 || !mdir[0] || !data[0]) {
        fprintf(stderr, "usage: bench_hellaswag [N>=0] [MODEL_DIR] [HELLASWAG_FILE]\n");
        return 2;
    }
    sp_error err = {{0}};
    sp_model m;
    sp_tokenizer *tok = NULL;
    sp_engine *e = NULL;
    sp_mc_set set;
    sp_mc_requests rq;
    int64_t *idx = NULL, k = 0;
    sp_engine_options eo = {SP_BACKEND_CPU, 0};
    double t0 = sp_now();
    if (sp_model_open(mdir, &m, &err) || sp_tokenizer_load(mdir, &tok, &err) ||
        sp_mc_load(data, &set, &err) || sp_mc_subset_first(&set, n, &idx, &k, &err) ||
        sp_engine_create(&m, &eo, &e, &err) ||
        sp_mc_build(&set, idx, k, sp_mc_encode_tokenizer, tok, sp_tokenizer_bos(tok),
                    m.cfg.max_pos, &rq, &err)) {
        fprintf(stderr, "bench_hellaswag: %s\n", err.msg);
        return 1;
    }
    printf("load + tokenize %lld items: %.2f s\n", (long long)k, sp_now() - t0);
    int rc = bench(e, &rq);
    sp_mc_requests_free(&rq);
    free(idx);
    sp_engine_free(e);
    sp_mc_free(&set);
    sp_tokenizer_free(tok);
    sp_model_close(&m);
    return rc;
}
