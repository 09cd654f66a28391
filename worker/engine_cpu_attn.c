/* engine_cpu_attn.c — causal GQA attention of a packed batch on the CPU, with the prefix/branch
 * visibility rule of engine.h. Per (item, head, block of SP_ATTN_QBLOCK queries): one sgemm for
 * the scores S = scale Q K^T over the keys the block can see causally, a masked row softmax,
 * one sgemm O = S V. Checked against sp_ref_attention in tests/test_ref_ops.c. */
#include <cblas.h>
#include <math.h>

#include "../kernels/ref_ops.h"
#include "engine_cpu.h"

#define SP_ATTN_QBLOCK 128

int64_t sp_cpu_attention_scratch(int64_t max_item_len)
{
    int64_t qb = max_item_len < SP_ATTN_QBLOCK ? max_item_len : SP_ATTN_QBLOCK;
    return qb * max_item_len;
}

/* Softmax of score row s[0..i] for local query i; invisible and future keys get weight 0.
 * kn: the row length (keys 0..kn-1). */
static void attn_row_softmax(float *s, int64_t i, int64_t kn, int32_t prefix_len,
                             const int32_t *branch)
{
    float mx = -INFINITY;
    int plain = branch == NULL || i < prefix_len;
    for (int64_t j = 0; j <= i; j++) {
        if (!plain && !sp_ref_attn_visible(prefix_len, branch, i, j)) s[j] = -INFINITY;
        if (s[j] > mx) mx = s[j];
    }
    float sum = 0.0f;
    for (int64_t j = 0; j <= i; j++) {
        s[j] = expf(s[j] - mx); /* exp(-inf) = 0 for masked keys */
        sum += s[j];
    }
    float inv = 1.0f / sum;
    for (int64_t j = 0; j <= i; j++) s[j] *= inv;
    for (int64_t j = i + 1; j < kn; j++) s[j] = 0.0f;
}

/* One head of one item: q, k, v point at the item's first token, row strides ld / ld_out. */
static void attn_head(float *out, int64_t ld_out, const float *q, const float *k, const float *v,
                      int64_t ld, int64_t n, int32_t prefix_len, const int32_t *branch, int64_t D,
                      float scale, float *scores)
{
    for (int64_t q0 = 0; q0 < n; q0 += SP_ATTN_QBLOCK) {
        int64_t qn = n - q0 < SP_ATTN_QBLOCK ? n - q0 : SP_ATTN_QBLOCK;
        int64_t kn = q0 + qn; /* causal: this block sees keys [0, kn) at most */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qn, (int)kn, (int)D, scale,
                    q + q0 * ld, (int)ld, k, (int)ld, 0.0f, scores, (int)kn);
        for (int64_t r = 0; r < qn; r++)
            attn_row_softmax(scores + r * kn, q0 + r, kn, prefix_len, branch);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)qn, (int)D, (int)kn, 1.0f,
                    scores, (int)kn, v, (int)ld, 0.0f, out + q0 * ld_out, (int)ld_out);
    }
}

void sp_cpu_attention(float *out, const float *qkv, const sp_batch *b, int64_t NH, int64_t NKV,
                      int64_t D, float *scores)
{
    int64_t ld = (NH + 2 * NKV) * D, ld_out = NH * D, group = NH / NKV;
    float scale = (float)(1.0 / sqrt((double)D));
    for (int32_t it = 0; it < b->n_items; it++) {
        int64_t a = b->item_off[it], n = b->item_off[it + 1] - a;
        const int32_t *branch = b->branch ? b->branch + a : NULL;
        for (int64_t h = 0; h < NH; h++) {
            int64_t g = h / group;
            const float *q = qkv + a * ld + h * D;
            const float *k = qkv + a * ld + (NH + g) * D;
            const float *v = qkv + a * ld + (NH + NKV + g) * D;
            attn_head(out + a * ld_out + h * D, ld_out, q, k, v, ld, n, b->prefix_len[it], branch,
                      D, scale, scores);
        }
    }
}
