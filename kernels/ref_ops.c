/* ref_ops.c — plain-C fp32 reference ops (see ref_ops.h). Written for clarity: one loop nest per
 * op, double accumulators for sums, the same formulas and operation order as Hugging Face's Llama
 * in fp32 where it matters (RMSNorm, rope tables, llama3 frequency scaling). */
#include "ref_ops.h"

#include <math.h>

#include "../common/error.h"

#define SP_REF_MAX_HEAD_DIM 1024

void sp_ref_rmsnorm(float *out, const float *x, const float *w, int64_t T, int64_t H, float eps)
{
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * H;
        float *yr = out + t * H;
        double ss = 0.0;
        for (int64_t i = 0; i < H; i++) ss += (double)xr[i] * xr[i];
        float r = (float)(1.0 / sqrt((double)(float)(ss / (double)H) + (double)eps));
        for (int64_t i = 0; i < H; i++) yr[i] = w[i] * (xr[i] * r);
    }
}

void sp_ref_matmul_nt(float *C, const float *A, const float *W, int64_t M, int64_t N, int64_t K,
                      float beta)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)A[m * K + k] * W[n * K + k];
            float prev = beta != 0.0f ? beta * C[m * N + n] : 0.0f;
            C[m * N + n] = prev + (float)acc;
        }
}

/* HF _compute_llama3_parameters, element by element, in fp32 like torch. */
static float rope_llama3_scale(const sp_model_config *cfg, float inv_freq)
{
    const float pi2 = (float)(2.0 * M_PI);
    float factor = (float)cfg->rope_factor;
    float low = (float)cfg->rope_low_freq_factor, high = (float)cfg->rope_high_freq_factor;
    float old_ctx = (float)cfg->rope_orig_max_pos;
    float low_freq_wavelen = old_ctx / low;
    float high_freq_wavelen = old_ctx / high;
    float wavelen = pi2 / inv_freq;
    float scaled = wavelen > low_freq_wavelen ? inv_freq / factor : inv_freq;
    int medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    if (!medium) return scaled;
    float smooth = (old_ctx / wavelen - low) / (high - low);
    return (1.0f - smooth) * scaled / factor + smooth * scaled;
}

void sp_ref_rope_inv_freq(const sp_model_config *cfg, int64_t D, float *inv_freq)
{
    SP_ASSERT(D > 0 && D % 2 == 0);
    for (int64_t i = 0; i < D / 2; i++) {
        float expo = (float)(2 * i) / (float)D;
        float base_pow = (float)pow(cfg->rope_theta, (double)expo);
        float f = 1.0f / base_pow;
        if (cfg->rope_kind == SP_ROPE_LINEAR) f = f / (float)cfg->rope_factor;
        else if (cfg->rope_kind == SP_ROPE_LLAMA3) f = rope_llama3_scale(cfg, f);
        inv_freq[i] = f;
    }
}

void sp_ref_rope_table(const float *inv_freq, int64_t half, int64_t n_pos, float *cos_t,
                       float *sin_t)
{
    for (int64_t p = 0; p < n_pos; p++)
        for (int64_t i = 0; i < half; i++) {
            float angle = (float)p * inv_freq[i];
            cos_t[p * half + i] = (float)cos((double)angle);
            sin_t[p * half + i] = (float)sin((double)angle);
        }
}

void sp_ref_rope_apply(float *x, int64_t T, int64_t stride, int64_t n_heads, int64_t D,
                       const int32_t *pos, const float *cos_t, const float *sin_t)
{
    int64_t half = D / 2;
    for (int64_t t = 0; t < T; t++) {
        const float *c = cos_t + (int64_t)pos[t] * half;
        const float *s = sin_t + (int64_t)pos[t] * half;
        for (int64_t h = 0; h < n_heads; h++) {
            float *xh = x + t * stride + h * D;
            for (int64_t i = 0; i < half; i++) {
                float x1 = xh[i], x2 = xh[i + half];
                xh[i] = x1 * c[i] - x2 * s[i];
                xh[i + half] = x2 * c[i] + x1 * s[i];
            }
        }
    }
}

/* One query row of one head: scores over the visible keys, softmax, weighted sum of values. */
static void ref_attention_row(float *o, const float *qi, const float *k, const float *v,
                              int64_t kv_stride, int64_t i, int32_t prefix_len,
                              const int32_t *branch, int64_t D, float scale)
{
    double mx = -INFINITY, sum = 0.0;
    for (int64_t j = 0; j <= i; j++) {
        if (!sp_ref_attn_visible(prefix_len, branch, i, j)) continue;
        double s = 0.0;
        for (int64_t d = 0; d < D; d++) s += (double)qi[d] * k[j * kv_stride + d];
        s *= scale;
        if (s > mx) mx = s;
    }
    double acc[SP_REF_MAX_HEAD_DIM];
    SP_ASSERT(D <= SP_REF_MAX_HEAD_DIM);
    for (int64_t d = 0; d < D; d++) acc[d] = 0.0;
    for (int64_t j = 0; j <= i; j++) {
        if (!sp_ref_attn_visible(prefix_len, branch, i, j)) continue;
        double s = 0.0;
        for (int64_t d = 0; d < D; d++) s += (double)qi[d] * k[j * kv_stride + d];
        double p = exp(s * scale - mx);
        sum += p;
        for (int64_t d = 0; d < D; d++) acc[d] += p * v[j * kv_stride + d];
    }
    for (int64_t d = 0; d < D; d++) o[d] = (float)(acc[d] / sum);
}

void sp_ref_attention(float *out, int64_t o_stride, const float *q, int64_t q_stride,
                      const float *k, const float *v, int64_t kv_stride, int64_t n,
                      int32_t prefix_len, const int32_t *branch, int64_t NH, int64_t NKV,
                      int64_t D, float scale)
{
    SP_ASSERT(NKV > 0 && NH % NKV == 0);
    int64_t group = NH / NKV;
    for (int64_t h = 0; h < NH; h++) {
        int64_t g = h / group;
        for (int64_t i = 0; i < n; i++)
            ref_attention_row(out + i * o_stride + h * D, q + i * q_stride + h * D, k + g * D,
                              v + g * D, kv_stride, i, prefix_len, branch, D, scale);
    }
}

void sp_ref_swiglu(float *out, const float *gate, const float *up, int64_t T, int64_t F,
                   int64_t in_stride)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < F; i++) {
            float g = gate[t * in_stride + i];
            float silu = g / (1.0f + expf(-g));
            out[t * F + i] = silu * up[t * in_stride + i];
        }
}

void sp_ref_add(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

void sp_ref_softmax(float *x, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

float sp_ref_logsoftmax_at(const float *logits, int64_t V, int32_t target)
{
    SP_ASSERT(target >= 0 && target < V);
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0.0;
    for (int64_t i = 0; i < V; i++) sum += (double)expf(logits[i] - mx);
    return (float)((double)(logits[target] - mx) - log(sum));
}
