/* test_tp_shard.c — the tensor-parallel sharding plan (worker/tp_shard.h): the ranks' blocks tile
 * every weight exactly once (even and uneven FFN splits), GQA groups stay on one rank, bad
 * sizes are refused with a message naming the config keys, and the slice loader gives the same
 * floats as converting the whole fixture tensor and cutting it. */
#include <stdint.h>
#include <stdlib.h>

#include "common/model.h"
#include "test_util.h"
#include "worker/tp_shard.h"

/* Every element of each weight is owned by exactly one of the P ranks. */
static void check_tiling(const sp_model_config *cfg, int P)
{
    for (int w = 0; w < SP_TP_W_COUNT; w++) {
        sp_tp_slice s0 = {0};
        int64_t covered = 0, next_row = 0, next_col = 0;
        for (int r = 0; r < P; r++) {
            sp_tp_plan p;
            sp_error err = {{0}};
            CHECK(sp_tp_plan_make(cfg, r, P, &p, &err) == 0, "P %d rank %d: %s", P, r, err.msg);
            sp_tp_slice s = sp_tp_plan_slice(&p, cfg, (sp_tp_weight)w);
            if (r == 0) s0 = s;
            CHECK(s.n_rows == s0.n_rows && s.n_cols == s0.n_cols, "%s: full shape differs by rank",
                  sp_tp_weight_name((sp_tp_weight)w));
            int by_rows = s.cols.count == s.n_cols; /* column-parallel: split along rows */
            if (by_rows) CHECK(s.rows.begin == next_row, "%s P %d rank %d: rows start %lld",
                               sp_tp_weight_name((sp_tp_weight)w), P, r, (long long)s.rows.begin);
            else CHECK(s.rows.count == s.n_rows && s.cols.begin == next_col, "%s P %d rank %d: "
                       "cols start %lld", sp_tp_weight_name((sp_tp_weight)w), P, r,
                       (long long)s.cols.begin);
            next_row += by_rows ? s.rows.count : 0;
            next_col += by_rows ? 0 : s.cols.count;
            covered += s.rows.count * s.cols.count;
            /* GQA: the rank's query heads read only its own KV heads */
            int64_t group = cfg->n_heads / cfg->n_kv_heads;
            CHECK(p.heads.begin / group == p.kv_heads.begin &&
                  p.heads.count == p.kv_heads.count * group, "P %d rank %d: heads [%lld +%lld] vs "
                  "kv [%lld +%lld]", P, r, (long long)p.heads.begin, (long long)p.heads.count,
                  (long long)p.kv_heads.begin, (long long)p.kv_heads.count);
        }
        CHECK(covered == s0.n_rows * s0.n_cols, "%s P %d: %lld of %lld elements owned",
              sp_tp_weight_name((sp_tp_weight)w), P, (long long)covered,
              (long long)(s0.n_rows * s0.n_cols));
    }
}

static void check_refusals(sp_model_config cfg)
{
    sp_tp_plan p;
    sp_error err = {{0}};
    CHECK(sp_tp_plan_make(&cfg, 0, 3, &p, &err) != 0 && strstr(err.msg, "num_key_value_heads = 2") &&
          strstr(err.msg, "tp = 3"), "NKV 2, tp 3: '%s'", err.msg);
    CHECK(sp_tp_plan_make(&cfg, 0, 4, &p, &err) != 0 && strstr(err.msg, "num_attention_heads"),
          "NH 6, tp 4: '%s'", err.msg);
    CHECK(sp_tp_plan_make(&cfg, 2, 2, &p, &err) != 0 && strstr(err.msg, "rank 2"), "rank 2 of 2");
    cfg.n_heads = cfg.n_kv_heads = 8, cfg.ffn = 5;
    CHECK(sp_tp_plan_make(&cfg, 0, 8, &p, &err) != 0 && strstr(err.msg, "intermediate_size"),
          "F 5, tp 8: '%s'", err.msg);
}

/* Loading rank r's block == cutting it out of the whole converted tensor. */
static void check_loader(const sp_model *m, int P)
{
    const sp_layer_tensors *lt = &m->layers[3];
    const sp_tensor *ts[SP_TP_W_COUNT] = {lt->q, lt->k, lt->v, lt->o, lt->gate, lt->up, lt->down};
    for (int w = 0; w < SP_TP_W_COUNT; w++) {
        const sp_tensor *t = ts[w];
        float *full = malloc((size_t)sp_tensor_numel(t) * sizeof(float));
        float *part = malloc((size_t)sp_tensor_numel(t) * sizeof(float));
        sp_error err = {{0}};
        CHECK(sp_tensor_to_f32(t, full, &err) == 0, "%s", err.msg);
        for (int r = 0; r < P; r++) {
            sp_tp_plan p;
            CHECK(sp_tp_plan_make(&m->cfg, r, P, &p, &err) == 0, "%s", err.msg);
            sp_tp_slice s = sp_tp_plan_slice(&p, &m->cfg, (sp_tp_weight)w);
            CHECK(sp_tp_slice_to_f32(t, &s, part, &err) == 0, "%s", err.msg);
            int same = 1;
            for (int64_t i = 0; i < s.rows.count; i++)
                same &= memcmp(part + i * s.cols.count,
                               full + (s.rows.begin + i) * s.n_cols + s.cols.begin,
                               (size_t)s.cols.count * sizeof(float)) == 0;
            CHECK(same, "%s P %d rank %d: slice differs from the whole tensor", t->name, P, r);
        }
        sp_tp_slice wrong = sp_tp_plan_slice(&(sp_tp_plan){.size = 1, .D = m->cfg.head_dim,
                                                           .heads = {0, m->cfg.n_heads}},
                                             &m->cfg, SP_TP_W_Q);
        wrong.n_cols += 1;
        CHECK(sp_tp_slice_to_f32(lt->q, &wrong, part, &err) != 0 && strstr(err.msg, "q_proj"),
              "wrong shape must be refused naming the tensor: '%s'", err.msg);
        free(full), free(part);
    }
}

int main(void)
{
    sp_model_config cfg = {.hidden = 192, .n_heads = 6, .n_kv_heads = 2, .head_dim = 32,
                           .ffn = 512, .n_layers = 24, .vocab = 4096};
    check_tiling(&cfg, 1);
    check_tiling(&cfg, 2);
    cfg.n_heads = 12, cfg.n_kv_heads = 6, cfg.ffn = 1000; /* uneven FFN: 333, 333, 334 */
    check_tiling(&cfg, 3);
    check_tiling(&cfg, 6);
    sp_tp_plan p;
    sp_error err = {{0}};
    CHECK(sp_tp_plan_make(&cfg, 2, 3, &p, &err) == 0 && p.ffn.begin == 666 && p.ffn.count == 334,
          "uneven F: rank 2 of 3 owns [%lld +%lld]", (long long)p.ffn.begin, (long long)p.ffn.count);
    cfg.n_heads = 6, cfg.n_kv_heads = 2, cfg.ffn = 512;
    check_refusals(cfg);

    SP_TEST_REQUIRE_SHARED("test_tp_shard");
    sp_model m;
    if (sp_model_open(sp_test_shared_path("fixtures/tiny-brown-24L"), &m, &err) != 0) {
        CHECK(0, "open model: %s", err.msg);
        return sp_test_finish("test_tp_shard");
    }
    check_loader(&m, 1);
    check_loader(&m, 2);
    sp_model_close(&m);
    return sp_test_finish("test_tp_shard");
}
