/* tp_shard.c — the tensor-parallel sharding plan (see tp_shard.h) and the loader that converts
 * only a rank's block of a weight to fp32. No MPI, no backend: pure index arithmetic. */
#include "tp_shard.h"

#include <string.h>

/* Rank r's part of n items split in P contiguous blocks (floor division, sizes differ by <= 1). */
static sp_tp_range tp_split(int64_t n, int r, int P)
{
    int64_t a = n * r / P, b = n * (r + 1) / P;
    return (sp_tp_range){a, b - a};
}

int sp_tp_plan_make(const sp_model_config *cfg, int rank, int size, sp_tp_plan *plan,
                    sp_error *err)
{
    memset(plan, 0, sizeof *plan);
    int64_t NH = cfg->n_heads, NKV = cfg->n_kv_heads, F = cfg->ffn;
    if (size < 1 || rank < 0 || rank >= size)
        return sp_error_set(err, "tensor parallelism: rank %d outside a group of %d", rank, size);
    if (NH % size != 0 || NKV % size != 0)
        return sp_error_set(err, "tensor parallelism: tp = %d must divide both the attention heads "
                            "(num_attention_heads = %lld) and the KV heads (num_key_value_heads = "
                            "%lld)", size, (long long)NH, (long long)NKV);
    if (F < size)
        return sp_error_set(err, "tensor parallelism: tp = %d is larger than the FFN width "
                            "(intermediate_size = %lld)", size, (long long)F);
    plan->rank = rank;
    plan->size = size;
    plan->D = cfg->head_dim;
    plan->heads = tp_split(NH, rank, size);
    plan->kv_heads = tp_split(NKV, rank, size);
    plan->ffn = tp_split(F, rank, size);
    return 0;
}

sp_tp_slice sp_tp_plan_slice(const sp_tp_plan *plan, const sp_model_config *cfg, sp_tp_weight w)
{
    int64_t H = cfg->hidden, D = plan->D, F = cfg->ffn;
    sp_tp_range q = {plan->heads.begin * D, plan->heads.count * D};
    sp_tp_range kv = {plan->kv_heads.begin * D, plan->kv_heads.count * D};
    sp_tp_range all_h = {0, H};
    switch (w) {
    case SP_TP_W_Q: return (sp_tp_slice){cfg->n_heads * D, H, q, all_h};
    case SP_TP_W_K:
    case SP_TP_W_V: return (sp_tp_slice){cfg->n_kv_heads * D, H, kv, all_h};
    case SP_TP_W_O: return (sp_tp_slice){H, cfg->n_heads * D, all_h, q};
    case SP_TP_W_GATE:
    case SP_TP_W_UP: return (sp_tp_slice){F, H, plan->ffn, all_h};
    case SP_TP_W_DOWN: return (sp_tp_slice){H, F, all_h, plan->ffn};
    case SP_TP_W_COUNT: break;
    }
    SP_ASSERT_MSG(0, "sp_tp_plan_slice: bad weight kind %d", (int)w);
    return (sp_tp_slice){0};
}

const char *sp_tp_weight_name(sp_tp_weight w)
{
    static const char *names[SP_TP_W_COUNT] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                               "gate_proj", "up_proj", "down_proj"};
    return (int)w >= 0 && w < SP_TP_W_COUNT ? names[w] : "unknown";
}

/* Converts n consecutive elements starting at element index i0. */
static void tp_convert_run(const sp_tensor *t, int64_t i0, int64_t n, float *dst)
{
    const unsigned char *src = t->data;
    if (t->dtype == SP_DT_F32) {
        memcpy(dst, src + (size_t)i0 * 4, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + (size_t)(i0 + i) * 2, 2); /* data may be unaligned */
        dst[i] = t->dtype == SP_DT_BF16 ? sp_bf16_to_f32(h) : sp_f16_to_f32(h);
    }
}

int sp_tp_slice_to_f32(const sp_tensor *t, const sp_tp_slice *s, float *dst, sp_error *err)
{
    if (!t) return sp_error_set(err, "tensor parallelism: a required tensor is missing");
    if (t->ndim != 2 || t->shape[0] != s->n_rows || t->shape[1] != s->n_cols)
        return sp_error_set(err, "tensor \"%s\": expected shape [%lld, %lld] for sharding", t->name,
                            (long long)s->n_rows, (long long)s->n_cols);
    if (t->dtype != SP_DT_F32 && t->dtype != SP_DT_BF16 && t->dtype != SP_DT_F16)
        return sp_error_set(err, "tensor \"%s\": dtype %s cannot be converted to F32", t->name,
                            sp_dtype_name(t->dtype));
    SP_ASSERT(s->rows.begin >= 0 && s->rows.count >= 0 && s->rows.begin + s->rows.count <= s->n_rows);
    SP_ASSERT(s->cols.begin >= 0 && s->cols.count >= 0 && s->cols.begin + s->cols.count <= s->n_cols);
    if (s->cols.count == s->n_cols) { /* whole rows: one contiguous run */
        tp_convert_run(t, s->rows.begin * s->n_cols, s->rows.count * s->n_cols, dst);
        return 0;
    }
    for (int64_t r = 0; r < s->rows.count; r++)
        tp_convert_run(t, (s->rows.begin + r) * s->n_cols + s->cols.begin, s->cols.count,
                       dst + r * s->cols.count);
    return 0;
}
