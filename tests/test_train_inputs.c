/* test_train_inputs.c — LoRA state and CPU-trainer input handling: target parsing, config
 * checks, PEFT initialisation (bounds, B = 0, counter-based determinism, removed layers), the
 * memory estimate's monotonicity, and bad batches / mismatched adapters refused with messages
 * that name the problem. Uses the tiny-brown-24L fixture. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/model.h"
#include "test_util.h"
#include "worker/engine.h"
#include "worker/lora.h"
#include "worker/train_cpu.h"

/* call must pass &ee as its error: it has to fail with a message containing needle. */
#define EXPECT_ERR(call, needle)                                                              \
    do {                                                                                      \
        sp_error ee = {{0}};                                                                  \
        int rc_ = (call);                                                                     \
        CHECK(rc_ != 0 && strstr(ee.msg, needle), "%s: rc %d, message \"%s\", expected \"%s\"", \
              #call, rc_, ee.msg, needle);                                                    \
    } while (0)

static void test_targets(void)
{
    sp_error err = {{0}};
    unsigned t = 0;
    CHECK(sp_lora_parse_targets("q_proj,v_proj", "--targets", &t, &err) == 0 &&
          t == (1u << SP_LORA_Q | 1u << SP_LORA_V), "q_proj,v_proj -> 0x%x", t);
    CHECK(sp_lora_parse_targets("q,k,v,o,gate,up,down", "--targets", &t, &err) == 0 && t == 0x7f,
          "all short names -> 0x%x", t);
    EXPECT_ERR(sp_lora_parse_targets("q_proj,x_proj", "--targets", &t, &ee),
               "--targets: unknown target \"x_proj\"");
    EXPECT_ERR(sp_lora_parse_targets("", "--targets", &t, &ee), "--targets: empty");
    EXPECT_ERR(sp_lora_parse_targets("q,,v", "--targets", &t, &ee), "--targets: bad target");
    EXPECT_ERR(sp_lora_parse_targets("v,v_proj", "--targets", &t, &ee), "given twice");
    sp_lora_config bad_r = {0, 16, 0.1, 1}, bad_d = {8, 16, 1.0, 1}, bad_a = {8, 0, 0.1, 1};
    EXPECT_ERR(sp_lora_config_check(&bad_r, "heal", &ee), "heal: LoRA rank 0 must be >= 1");
    EXPECT_ERR(sp_lora_config_check(&bad_d, "heal", &ee), "dropout 1 must be in [0, 1)");
    EXPECT_ERR(sp_lora_config_check(&bad_a, "heal", &ee), "alpha 0");
}

static void test_init(const sp_model *m)
{
    sp_error err = {{0}};
    sp_mask rm;
    sp_mask_clear(&rm);
    sp_mask_set(&rm, 2);
    sp_lora_config lc = {8, 16, 0.1, 1u << SP_LORA_Q | 1u << SP_LORA_DOWN};
    sp_lora a, b, c;
    SP_ASSERT(sp_lora_create(&m->cfg, &rm, &lc, 5, &a, &err) == 0);
    SP_ASSERT(sp_lora_create(&m->cfg, &rm, &lc, 5, &b, &err) == 0);
    SP_ASSERT(sp_lora_create(&m->cfg, &rm, &lc, 6, &c, &err) == 0);
    CHECK(memcmp(a.arena, b.arena, 2 * a.n_params * sizeof(float)) == 0, "same seed, other values");
    CHECK(memcmp(a.arena, c.arena, a.n_params * sizeof(float)) != 0, "seed ignored");
    CHECK(a.A[2 * SP_LORA_NT + SP_LORA_Q] == NULL && a.A[SP_LORA_K] == NULL &&
          a.A[SP_LORA_Q] != NULL, "removed layer / non-target got an adapter");
    size_t expect = (size_t)(m->cfg.n_layers - 1) * 8 *
                    (size_t)(2 * m->cfg.hidden + m->cfg.n_heads * m->cfg.head_dim + m->cfg.ffn);
    CHECK(a.n_params == expect, "n_params %zu, expected %zu", a.n_params, expect);
    for (int t = SP_LORA_Q; t <= SP_LORA_DOWN; t += SP_LORA_DOWN) {
        const float *A = a.A[t], *B = a.B[t];
        double bound = 1.0 / sqrt((double)a.in[t]), mx = 0, mean = 0;
        int64_t n = 8 * a.in[t], zero_b = 1;
        for (int64_t j = 0; j < n; j++) mx = fmax(mx, fabs(A[j])), mean += A[j];
        for (int64_t j = 0; j < 8 * a.out[t]; j++) zero_b &= B[j] == 0.0f;
        mean /= (double)n;
        CHECK(mx <= bound && mx > 0.95 * bound, "%s: max |A| %g, bound %g", sp_lora_target_names[t],
              mx, bound);
        CHECK(fabs(mean) < 0.05 * bound, "%s: mean A %g", sp_lora_target_names[t], mean);
        CHECK(zero_b, "%s: B not zero", sp_lora_target_names[t]);
    }
    float *g = a.arena + a.n_params;
    g[0] = 1, g[a.n_params - 1] = 2;
    sp_lora_zero_grad(&a);
    CHECK(g[0] == 0 && g[a.n_params - 1] == 0, "zero_grad left gradients");
    sp_lora_free(&a), sp_lora_free(&b), sp_lora_free(&c);
}

static void test_trainer_inputs(const sp_model *m)
{
    sp_error err = {{0}};
    sp_mask rm, all, other;
    sp_mask_clear(&rm), sp_mask_clear(&all), sp_mask_clear(&other);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        sp_mask_set(&all, l);
        if (l != 4 && l != 9) sp_mask_set(&rm, l);
        if (l != 4 && l != 10) sp_mask_set(&other, l);
    }
    sp_trainer_options o = {1, 0, 16}, o0 = {1, 0, 0};
    sp_trainer *t = NULL;
    EXPECT_ERR(sp_trainer_create(m, &all, &o, &t, &ee), "every layer is removed");
    EXPECT_ERR(sp_trainer_create(m, &rm, &o0, &t, &ee), "max_tokens 0");
    SP_ASSERT(sp_trainer_create(m, &rm, &o, &t, &err) == 0);
    sp_lora_config lc = {4, 8, 0.0, 1u << SP_LORA_V};
    sp_lora lo, lo_other;
    SP_ASSERT(sp_lora_create(&m->cfg, &rm, &lc, 1, &lo, &err) == 0);
    SP_ASSERT(sp_lora_create(&m->cfg, &other, &lc, 1, &lo_other, &err) == 0);
    int32_t tok[16] = {0};
    float w[16];
    double l = 0, ws = 0;
    for (int i = 0; i < 16; i++) w[i] = 1, tok[i] = i;
    CHECK(sp_trainer_step(t, &lo, tok, w, 2, 8, 0, 1, &l, &ws, &err) == 0, "%s", err.msg);
    CHECK(ws == 14, "weight_sum %g (the last position of each sequence is ignored)", ws);
    EXPECT_ERR(sp_trainer_step(t, &lo, tok, w, 3, 8, 0, 1, &l, &ws, &ee), "exceeds max_tokens 16");
    EXPECT_ERR(sp_trainer_step(t, &lo_other, tok, w, 2, 8, 0, 1, &l, &ws, &ee),
               "adapter lacks v_proj of layer 9");
    tok[5] = (int32_t)m->cfg.vocab;
    EXPECT_ERR(sp_trainer_eval(t, &lo, tok, w, 2, 8, &l, &ws, &ee), "token 5: id 4096 outside");
    tok[5] = 0, w[3] = -1;
    EXPECT_ERR(sp_trainer_eval(t, NULL, tok, w, 2, 8, &l, &ws, &ee), "token 3: weight -1");
    w[3] = 1;
    sp_lora_config bad = {0, 8, 0, 1};
    size_t b1 = 0;
    EXPECT_ERR(sp_trainer_estimate_bytes(&m->cfg, &rm, &bad, &o, &b1, &ee), "rank 0");
    sp_engine *e = NULL;
    SP_ASSERT(sp_engine_create(m, NULL, &e, &err) == 0);
    lo.n_layers = 3;
    EXPECT_ERR(sp_engine_set_lora(e, &lo, &ee), "adapter has 3 layers");
    lo.n_layers = (int)m->cfg.n_layers;
    sp_engine_free(e);
    size_t full = 0, rec = 0, big = 0;
    sp_trainer_options orec = {1, 1, 16}, obig = {1, 0, 4096};
    SP_ASSERT(sp_trainer_estimate_bytes(&m->cfg, &rm, &lc, &o, &full, &err) == 0);
    SP_ASSERT(sp_trainer_estimate_bytes(&m->cfg, &rm, &lc, &orec, &rec, &err) == 0);
    SP_ASSERT(sp_trainer_estimate_bytes(&m->cfg, &rm, &lc, &obig, &big, &err) == 0);
    size_t weights = (size_t)(2 * sp_config_layer_params(&m->cfg) +
                              sp_config_embed_params(&m->cfg) +
                              sp_config_head_params(&m->cfg)) * sizeof(float);
    CHECK(full > weights && rec < full && big > full, "estimates: weights %zu, full %zu, "
          "recompute %zu, 4096 tokens %zu", weights, full, rec, big);
    sp_lora_free(&lo), sp_lora_free(&lo_other);
    sp_trainer_free(t);
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_train_inputs");
    sp_model m;
    sp_error err = {{0}};
    if (sp_model_open(sp_test_shared_path("fixtures/tiny-brown-24L"), &m, &err)) {
        fprintf(stderr, "open fixture: %s\n", err.msg);
        return 1;
    }
    test_targets();
    test_init(&m);
    test_trainer_inputs(&m);
    sp_model_close(&m);
    return sp_test_finish("test_train_inputs");
}
