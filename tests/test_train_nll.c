/* test_train_nll.c — the CPU trainer's forward against the inference engine and the goldens on
 * tiny-brown-24L (32 x 128 golden sequences, several layer masks): without an adapter and with
 * a zero-B adapter it scores like sp_engine_forward and the Hugging Face goldens; with a random
 * adapter, sp_trainer_eval == sp_engine_forward with sp_engine_set_lora (also on 256-token
 * sequences); a step's loss == eval; gradients are the same with 1 and 2 BLAS threads. */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_util.h"
#include "common/model.h"
#include "common/rng.h"
#include "golden_seqs.h"
#include "test_util.h"
#include "worker/engine.h"
#include "worker/lora.h"
#include "worker/train_cpu.h"

/* Trainer vs engine: the same fp32 operations in the same order except the trainer's head
 * (row chunks of 256 vs 512) and attention sum; both accumulate the NLL in double. */
#define TOL_VS_ENGINE_REL 1e-5
/* Goldens: the fixture README's bound for fp32 vs HF (same as test_engine_goldens). */
#define TOL_GOLDEN_ABS 1e-3
#define N_SEQ 32
#define T_LEN 128
#define CHUNK 4 /* sequences per trainer call */

typedef struct {
    int32_t tok[N_SEQ * T_LEN];
    float w[N_SEQ * T_LEN];
    seq ss[N_SEQ];
} golden;

static int load_golden(const char *path, golden *g, cJSON **root)
{
    sp_error err = {{0}};
    if (sp_json_parse_file(path, root, &err) != 0) return -1;
    const cJSON *ev = sp_json_get(*root, "eval_ids");
    int i = 0;
    for (const cJSON *s = ev ? ev->child : NULL; s && i < N_SEQ; s = s->next, i++) {
        if (json_ids(s, &g->ss[i]) != 0 || g->ss[i].n != T_LEN) return -1;
        memcpy(g->tok + i * T_LEN, g->ss[i].ids, T_LEN * sizeof(int32_t));
    }
    for (int n = 0; n < N_SEQ * T_LEN; n++) g->w[n] = 1.0f;
    return i == N_SEQ ? 0 : -1;
}

static int engine_fwd(const void *e, const sp_batch *b, const sp_mask *removed,
                      const sp_head_request *req, sp_error *err)
{
    return sp_engine_forward((sp_engine *)e, b, removed, req, err);
}

static double engine_nll(sp_engine *e, golden *g, const sp_mask *rm)
{
    sp_error err = {{0}};
    float *lp = malloc(N_SEQ * T_LEN * sizeof(float));
    CHECK(score_seqs_with(engine_fwd, e, g->ss, N_SEQ, rm, lp, &err) == 0, "%s", err.msg);
    double s = 0;
    for (int r = 0; r < N_SEQ * (T_LEN - 1); r++) s -= lp[r];
    free(lp);
    return s / (N_SEQ * (T_LEN - 1));
}

static double trainer_nll(sp_trainer *t, const sp_lora *lo, golden *g)
{
    sp_error err = {{0}};
    double loss = 0, ws = 0;
    for (int s = 0; s < N_SEQ; s += CHUNK) {
        double l1 = 0, w1 = 0;
        CHECK(sp_trainer_eval(t, lo, g->tok + s * T_LEN, g->w + s * T_LEN, CHUNK, T_LEN, &l1, &w1,
                              &err) == 0, "%s", err.msg);
        loss += l1, ws += w1;
    }
    CHECK(ws == N_SEQ * (T_LEN - 1), "weight_sum %g", ws);
    return loss / ws;
}

/* A: PEFT init; B: uniform in +-0.05 (large enough to move the NLL). */
static void random_b(sp_lora *lo)
{
    for (int i = 0; i < lo->n_layers * SP_LORA_NT; i++)
        if (lo->B[i])
            for (int64_t j = 0; j < lo->cfg.rank * lo->out[i % SP_LORA_NT]; j++)
                lo->B[i][j] = (float)(0.1 * sp_rng_uniform(3, (uint64_t)i, (uint64_t)j, 0) - 0.05);
}

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

static void check_mask(const sp_model *m, sp_engine *e, golden *g, const cJSON *mj)
{
    sp_error err = {{0}};
    sp_mask rm;
    sp_mask_clear(&rm);
    const cJSON *r = sp_json_get(mj, "removed");
    for (const cJSON *l = r ? r->child : NULL; l; l = l->next)
        sp_mask_set(&rm, (int)l->valuedouble);
    char name[128];
    sp_mask_format(&rm, name, sizeof name);
    double golden_nll = sp_json_get(mj, "mean_nll")->valuedouble;
    sp_trainer_options o = {0, 1, CHUNK * T_LEN};
    sp_trainer *t = NULL;
    CHECK(sp_trainer_create(m, &rm, &o, &t, &err) == 0, "%s", err.msg);
    if (!t) return;
    sp_lora lo;
    sp_lora_config lc = {4, 8.0, 0.0, (1u << SP_LORA_NT) - 1};
    SP_ASSERT(sp_lora_create(&m->cfg, &rm, &lc, 42, &lo, &err) == 0);
    double ne = engine_nll(e, g, &rm), nt = trainer_nll(t, NULL, g), nz = trainer_nll(t, &lo, g);
    printf("mask [%s]: engine %.7f trainer %.7f (B = 0: %.7f) golden %.6f rel %.1e\n", name, ne,
           nt, nz, golden_nll, rel(nt, ne));
    CHECK(rel(nt, ne) <= TOL_VS_ENGINE_REL, "mask [%s]: trainer %.8f engine %.8f", name, nt, ne);
    CHECK(nz == nt, "mask [%s]: B = 0 adapter changes the NLL: %.9f vs %.9f", name, nz, nt);
    CHECK_NEAR(nt, golden_nll, TOL_GOLDEN_ABS, "mask [%s] vs golden", name);
    random_b(&lo);
    CHECK(sp_engine_set_lora(e, &lo, &err) == 0, "%s", err.msg);
    double ea = engine_nll(e, g, &rm), ta = trainer_nll(t, &lo, g);
    CHECK(sp_engine_set_lora(e, NULL, &err) == 0, "%s", err.msg);
    printf("mask [%s] random adapter: engine %.7f trainer %.7f rel %.1e\n", name, ea, ta,
           rel(ta, ea));
    CHECK(rel(ta, ea) <= TOL_VS_ENGINE_REL, "adapter: trainer %.8f engine %.8f", ta, ea);
    CHECK(fabs(ta - nt) > 1e-3, "the random adapter did not move the NLL (%g vs %g)", ta, nt);
    CHECK(engine_nll(e, g, &rm) == ne, "sp_engine_set_lora(NULL) did not remove the adapter");
    sp_lora_free(&lo);
    sp_trainer_free(t);
}

/* Sequences of 256 tokens (two golden ones joined: two attention query blocks), 4 per call,
 * with a random adapter: trainer == engine. */
static void check_long(const sp_model *m, sp_engine *e, golden *g)
{
    enum { LONG = 2 * T_LEN, N_LONG = N_SEQ / 2, PER_CALL = 4 };
    sp_error err = {{0}};
    sp_mask rm;
    sp_mask_clear(&rm);
    sp_mask_set(&rm, 3), sp_mask_set(&rm, 7), sp_mask_set(&rm, 11), sp_mask_set(&rm, 15);
    sp_lora lo;
    sp_lora_config lc = {4, 8.0, 0.0, (1u << SP_LORA_NT) - 1};
    SP_ASSERT(sp_lora_create(&m->cfg, &rm, &lc, 43, &lo, &err) == 0);
    random_b(&lo);
    seq ss[N_LONG];
    for (int i = 0; i < N_LONG; i++) ss[i].ids = g->tok + i * LONG, ss[i].n = LONG;
    float *lp = malloc(N_LONG * LONG * sizeof(float));
    CHECK(sp_engine_set_lora(e, &lo, &err) == 0, "%s", err.msg);
    CHECK(score_seqs_with(engine_fwd, e, ss, N_LONG, &rm, lp, &err) == 0, "%s", err.msg);
    CHECK(sp_engine_set_lora(e, NULL, &err) == 0, "%s", err.msg);
    double ne = 0, nt = 0, ws = 0;
    for (int r = 0; r < N_LONG * (LONG - 1); r++) ne -= lp[r];
    ne /= N_LONG * (LONG - 1);
    sp_trainer_options o = {0, 1, PER_CALL * LONG};
    sp_trainer *t = NULL;
    SP_ASSERT(sp_trainer_create(m, &rm, &o, &t, &err) == 0);
    for (int s = 0; s < N_LONG; s += PER_CALL) {
        double l1 = 0, w1 = 0;
        CHECK(sp_trainer_eval(t, &lo, g->tok + s * LONG, g->w + s * LONG, PER_CALL, LONG, &l1, &w1,
                              &err) == 0, "%s", err.msg);
        nt += l1, ws += w1;
    }
    nt /= ws;
    printf("%d sequences of %d tokens, random adapter: engine %.7f trainer %.7f rel %.1e\n",
           N_LONG, LONG, ne, nt, rel(nt, ne));
    CHECK(rel(nt, ne) <= TOL_VS_ENGINE_REL, "long sequences: trainer %.8f engine %.8f", nt, ne);
    free(lp);
    sp_trainer_free(t);
    sp_lora_free(&lo);
}

/* Step loss == eval loss; gradients with 1 and 2 BLAS threads bit-identical. */
static void check_step(const sp_model *m, golden *g)
{
    sp_error err = {{0}};
    sp_mask rm;
    sp_mask_clear(&rm);
    sp_mask_set(&rm, 3), sp_mask_set(&rm, 7), sp_mask_set(&rm, 11), sp_mask_set(&rm, 15);
    sp_lora_config lc = {8, 16.0, 0.1, (1u << SP_LORA_NT) - 1};
    float *grads[2] = {NULL, NULL};
    double losses[2] = {0, 0};
    size_t np = 0;
    for (int th = 1; th <= 2; th++) {
        sp_trainer_options o = {th, 0, 2 * T_LEN};
        sp_trainer *t = NULL;
        sp_lora lo;
        SP_ASSERT(sp_trainer_create(m, &rm, &o, &t, &err) == 0);
        SP_ASSERT(sp_lora_create(&m->cfg, &rm, &lc, 42, &lo, &err) == 0);
        random_b(&lo);
        double le = 0, we = 0, ls = 0, ws = 0;
        CHECK(sp_trainer_eval(t, &lo, g->tok, g->w, 2, T_LEN, &le, &we, &err) == 0, "%s", err.msg);
        lo.cfg.dropout = 0.0;
        CHECK(sp_trainer_step(t, &lo, g->tok, g->w, 2, T_LEN, 9, 1.0, &ls, &ws, &err) == 0, "%s",
              err.msg);
        CHECK(ls == le && ws == we, "step loss %.9g / %g vs eval %.9g / %g", ls, ws, le, we);
        lo.cfg.dropout = 0.1;
        sp_lora_zero_grad(&lo);
        CHECK(sp_trainer_step(t, &lo, g->tok, g->w, 2, T_LEN, 9, 1.0, &losses[th - 1], &ws,
                              &err) == 0, "%s", err.msg);
        CHECK(losses[th - 1] != le, "dropout 0.1 did not change the loss");
        np = lo.n_params;
        grads[th - 1] = malloc(np * sizeof(float));
        memcpy(grads[th - 1], lo.arena + np, np * sizeof(float));
        sp_lora_free(&lo);
        sp_trainer_free(t);
    }
    CHECK(losses[0] == losses[1] && memcmp(grads[0], grads[1], np * sizeof(float)) == 0,
          "1 and 2 BLAS threads differ (loss %.9g vs %.9g)", losses[0], losses[1]);
    openblas_set_num_threads(1);
    free(grads[0]), free(grads[1]);
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_train_nll");
    static golden g;
    cJSON *root = NULL;
    if (load_golden(sp_test_shared_path("fixtures/tiny-brown-24L-goldens/mask_nll_goldens.json"),
                    &g, &root) != 0)
        return sp_test_skip("test_train_nll", "mask_nll_goldens.json not readable");
    sp_model m;
    sp_error err = {{0}};
    if (sp_model_open(sp_test_shared_path("fixtures/tiny-brown-24L"), &m, &err)) {
        fprintf(stderr, "open fixture: %s\n", err.msg);
        return 1;
    }
    sp_engine *e = NULL;
    sp_engine_options eo = {SP_BACKEND_CPU, 0};
    SP_ASSERT_MSG(sp_engine_create(&m, &eo, &e, &err) == 0, "%s", err.msg);
    const char *pick[] = {"[5]", "[7, 11, 12, 15]", "[1, 3, 6, 8, 9, 11, 14, 15, 16, 18, 19, 23]"};
    const cJSON *masks = sp_json_get(root, "masks");
    int found = 0;
    for (const cJSON *mj = masks ? masks->child : NULL; mj; mj = mj->next) {
        char *txt = cJSON_PrintUnformatted(sp_json_get(mj, "removed"));
        char spaced[256] = "";
        for (const char *p = txt; *p && strlen(spaced) < 250; p++) /* "[7,11]" -> "[7, 11]" */
            strncat(spaced, *p == ',' ? ", " : (char[]){*p, 0}, sizeof spaced - strlen(spaced) - 1);
        for (int k = 0; k < 3; k++)
            if (strcmp(spaced, pick[k]) == 0) check_mask(&m, e, &g, mj), found++;
        free(txt);
    }
    CHECK(found == 3, "found %d of the 3 masks in the goldens", found);
    check_long(&m, e, &g);
    check_step(&m, &g);
    sp_engine_free(e);
    sp_model_close(&m);
    for (int i = 0; i < N_SEQ; i++) free(g.ss[i].ids);
    cJSON_Delete(root);
    return sp_test_finish("test_train_nll");
}
