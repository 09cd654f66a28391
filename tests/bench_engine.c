/* bench_engine.c — CPU engine throughput vs the machine's practical sgemm ceiling (a program, not
 * a test). (1) cblas_sgemm GFLOP/s at the fixture's shapes for M = 32 x 128 tokens, and the
 * ceiling for the model's per-layer mix; (2) the engine scoring the 32 x 128 golden batch
 * (checked against the golden mean NLL first): tokens/s, GFLOP/s (2 x matmul params per token +
 * causal attention flops) and the ratio to the ceiling. Run: OPENBLAS_NUM_THREADS=2 bench_engine */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"
#include "common/json_util.h"
#include "common/model.h"
#include "test_util.h"
#include "worker/engine.h"

#define BENCH_REPS 5

typedef struct {
    const char *name;
    int64_t N, K, per_layer; /* per_layer: calls per layer (0 = once per forward) */
} bench_shape;

/* Seconds per call of C[M, N] = A[M, K] W[N, K]^T (best of BENCH_REPS after a warm-up). */
static double bench_sgemm(int64_t M, int64_t N, int64_t K)
{
    float *A = malloc((size_t)(M * K) * 4), *W = malloc((size_t)(N * K) * 4);
    float *C = malloc((size_t)(M * N) * 4);
    for (int64_t i = 0; i < M * K; i++) A[i] = (float)(i % 7) * 0.1f;
    for (int64_t i = 0; i < N * K; i++) W[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int r = 0; r <= BENCH_REPS; r++) {
        double t0 = sp_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, A,
                    (int)K, W, (int)K, 0.0f, C, (int)N);
        double dt = sp_now() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    free(A), free(W), free(C);
    return best;
}

static int load_batch(const char *path, int32_t **tok, int64_t *n_seq, int64_t *len, double *golden)
{
    cJSON *root = NULL;
    sp_error err = {{0}};
    if (sp_json_parse_file(path, &root, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    const cJSON *ev = sp_json_get(root, "eval_ids");
    *n_seq = cJSON_GetArraySize(ev);
    *len = cJSON_GetArraySize(ev->child);
    *tok = malloc((size_t)(*n_seq * *len) * sizeof(int32_t));
    int64_t t = 0;
    for (const cJSON *s = ev->child; s; s = s->next)
        for (const cJSON *v = s->child; v; v = v->next) (*tok)[t++] = (int32_t)v->valuedouble;
    *golden = sp_json_get(sp_json_get(root, "masks")->child, "mean_nll")->valuedouble;
    cJSON_Delete(root);
    return 0;
}

/* Engine time per forward (best of BENCH_REPS) on n_seq x len tokens; *nll = mean NLL. */
static double bench_engine(sp_engine *e, const int32_t *tok, int64_t n_seq, int64_t len,
                           double *nll)
{
    int64_t T = n_seq * len, R = n_seq * (len - 1), r = 0;
    int64_t *off = malloc((size_t)(n_seq + 1) * 8), *rows = malloc((size_t)R * 8);
    int32_t *pl = malloc((size_t)n_seq * 4), *tg = malloc((size_t)R * 4);
    float *lp = malloc((size_t)R * 4);
    for (int64_t i = 0; i <= n_seq; i++) off[i] = i * len;
    for (int64_t i = 0; i < n_seq; i++) {
        pl[i] = (int32_t)len;
        for (int64_t j = 0; j + 1 < len; j++) rows[r] = i * len + j, tg[r++] = tok[i * len + j + 1];
    }
    sp_batch b = {T, tok, (int32_t)n_seq, off, pl, NULL};
    sp_head_request req = {R, rows, tg, lp, NULL};
    sp_error err = {{0}};
    double best = 1e30;
    for (int k = 0; k <= BENCH_REPS; k++) {
        double t0 = sp_now();
        SP_ASSERT_MSG(sp_engine_forward(e, &b, NULL, &req, &err) == 0, "%s", err.msg);
        double dt = sp_now() - t0;
        if (k > 0 && dt < best) best = dt;
    }
    double s = 0;
    for (int64_t i = 0; i < R; i++) s -= lp[i];
    *nll = s / (double)R;
    free(off), free(rows), free(pl), free(tg), free(lp);
    return best;
}

int main(void)
{
    const char *dir = sp_test_shared_path("fixtures/tiny-brown-24L");
    if (!dir) return sp_test_skip("bench_engine", "../shared not found");
    sp_model m;
    sp_engine *e = NULL;
    sp_error err = {{0}};
    SP_ASSERT_MSG(sp_model_open(dir, &m, &err) == 0, "%s", err.msg);
    sp_engine_options opt = {SP_BACKEND_CPU, 0};
    SP_ASSERT_MSG(sp_engine_create(&m, &opt, &e, &err) == 0, "%s", err.msg);
    const sp_model_config *c = &m.cfg;
    int64_t n_seq, len, H = c->hidden, D = c->head_dim, L = c->n_layers;
    int32_t *tok;
    double golden, nll;
    SP_ASSERT(load_batch(sp_test_shared_path("fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json"),
                         &tok, &n_seq, &len, &golden) == 0);
    int64_t M = n_seq * len, qkv = (c->n_heads + 2 * c->n_kv_heads) * D;
    printf("bench_engine: %s, OpenBLAS threads %d, batch %lld x %lld = %lld tokens\n",
           c->architecture, openblas_get_num_threads(), (long long)n_seq, (long long)len,
           (long long)M);
    bench_shape shapes[] = {
        {"q", c->n_heads * D, H, 0}, {"k/v", c->n_kv_heads * D, H, 0}, {"o", H, c->n_heads * D, 1},
        {"gate/up", c->ffn, H, 0}, {"down", H, c->ffn, 1}, {"qkv fused", qkv, H, 1},
        {"gate+up fused", 2 * c->ffn, H, 1}, {"lm_head", c->vocab, H, 0}};
    double mix_flops = 0, mix_s = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        bench_shape *s = &shapes[i];
        double dt = bench_sgemm(M, s->N, s->K), fl = 2.0 * (double)(M * s->N * s->K);
        printf("  sgemm %-14s M %5lld N %5lld K %4lld: %7.1f GFLOP/s\n", s->name, (long long)M,
               (long long)s->N, (long long)s->K, fl / dt * 1e-9);
        int64_t calls = s->per_layer ? s->per_layer * L : !strcmp(s->name, "lm_head");
        mix_flops += fl * (double)calls, mix_s += dt * (double)calls;
    }
    double ceiling = mix_flops / mix_s * 1e-9;
    printf("  sgemm ceiling for the engine's mix (24 x [qkv, o, gate+up, down] + lm_head): "
           "%.1f GFLOP/s\n", ceiling);
    double dt = bench_engine(e, tok, n_seq, len, &nll);
    printf("  check: mean NLL %.6f vs golden %.6f (%s)\n", nll, golden,
           fabs(nll - golden) <= 1e-3 ? "ok" : "MISMATCH");
    double layer_p = (double)(qkv * H + H * c->n_heads * D + 3 * H * c->ffn);
    double attn = 4.0 * (double)(c->n_heads * D) * (double)(len * (len + 1) / 2) * (double)n_seq;
    double flops = 2.0 * (layer_p * (double)L * (double)M +
                          (double)(c->vocab * H) * (double)(n_seq * (len - 1))) + attn * (double)L;
    printf("  engine: %.3f s per forward, %.0f tokens/s, %.1f GFLOP/s (attention %.1f%% of "
           "flops) = %.0f%% of the sgemm ceiling\n", dt, (double)M / dt, flops / dt * 1e-9,
           100.0 * attn * (double)L / flops, 100.0 * flops / dt * 1e-9 / ceiling);
    free(tok);
    sp_engine_free(e);
    sp_model_close(&m);
    return fabs(nll - golden) <= 1e-3 ? 0 : 1;
}
