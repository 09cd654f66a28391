/* test_ref_ops.c — the CPU reference ops against naive formulas and known properties (RMSNorm,
 * rope norm preservation and relative-position property, llama3 / linear inverse-frequency bands,
 * attention with one token = v, visibility rule, softmax, log-softmax, SwiGLU, matmul), and the
 * engine's blocked sgemm attention against sp_ref_attention on packed prefix/branch items. */
#include <stdint.h>

#include "common/rng.h"
#include "kernels/ref_ops.h"
#include "test_util.h"
#include "worker/engine_cpu.h"

static void fill_normal(float *x, size_t n, uint64_t seed)
{
    sp_rng r = sp_rng_make(seed, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)sp_rng_next_normal(&r);
}

static void test_rmsnorm_swiglu_matmul(void)
{
    enum { T = 3, H = 37, F = 11 };
    float x[T * H], w[H], y[T * H];
    fill_normal(x, T * H, 1);
    fill_normal(w, H, 2);
    sp_ref_rmsnorm(y, x, w, T, H, 1e-5f);
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int i = 0; i < H; i++) ss += (double)x[t * H + i] * x[t * H + i];
        double r = 1.0 / sqrt(ss / H + 1e-5);
        for (int i = 0; i < H; i++)
            CHECK(fabs(y[t * H + i] - x[t * H + i] * r * w[i]) <= 1e-5, "rmsnorm t %d i %d", t, i);
    }
    float gu[T * 2 * F], h[T * F];
    fill_normal(gu, T * 2 * F, 3);
    sp_ref_swiglu(h, gu, gu + F, T, F, 2 * F);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < F; i++) {
            double g = gu[t * 2 * F + i], u = gu[t * 2 * F + F + i];
            CHECK_NEAR(h[t * F + i], g / (1 + exp(-g)) * u, 1e-6, "swiglu");
        }
    /* [2x3] x [2x3]^T with hand-computed products, beta = 1 accumulates */
    float A[6] = {1, 2, 3, 4, 5, 6}, W[6] = {1, 0, -1, 2, 1, 0}, C[4] = {10, 10, 10, 10};
    sp_ref_matmul_nt(C, A, W, 2, 2, 3, 1.0f);
    CHECK(C[0] == 8 && C[1] == 14 && C[2] == 8 && C[3] == 23, "matmul %g %g %g %g", C[0], C[1],
          C[2], C[3]);
}

static sp_model_config rope_cfg(sp_rope_kind kind)
{
    sp_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.rope_theta = 500000.0;
    cfg.rope_kind = kind;
    cfg.rope_factor = 8.0;
    cfg.rope_low_freq_factor = 1.0;
    cfg.rope_high_freq_factor = 4.0;
    cfg.rope_orig_max_pos = 8192;
    return cfg;
}

static void test_rope_freq(void)
{
    enum { D = 128 };
    float def[D / 2], lin[D / 2], l3[D / 2];
    sp_model_config c0 = rope_cfg(SP_ROPE_DEFAULT), c1 = rope_cfg(SP_ROPE_LINEAR),
                    c3 = rope_cfg(SP_ROPE_LLAMA3);
    sp_ref_rope_inv_freq(&c0, D, def);
    sp_ref_rope_inv_freq(&c1, D, lin);
    sp_ref_rope_inv_freq(&c3, D, l3);
    int n_high = 0, n_low = 0, n_mid = 0;
    for (int i = 0; i < D / 2; i++) {
        double f = pow(500000.0, -2.0 * i / D);
        CHECK(fabs(def[i] / f - 1.0) <= 1e-6, "default inv_freq %d", i);
        CHECK(fabs(lin[i] / (f / 8) - 1.0) <= 1e-6, "linear inv_freq %d", i);
        double wl = 2 * M_PI / f, expect;
        if (wl < 8192.0 / 4) expect = f, n_high++;
        else if (wl > 8192.0) expect = f / 8, n_low++;
        else {
            double sm = (8192.0 / wl - 1.0) / (4.0 - 1.0);
            expect = (1 - sm) * f / 8 + sm * f, n_mid++;
        }
        CHECK(fabs(l3[i] / expect - 1.0) <= 1e-5, "llama3 inv_freq %d: %g vs %g", i, l3[i], expect);
        if (i > 0) CHECK(l3[i] < l3[i - 1], "llama3 inv_freq decreasing at %d", i);
    }
    /* Llama-3.1 shapes (theta 5e5, D 128): every band is populated. */
    CHECK(n_high > 0 && n_low > 0 && n_mid > 0, "bands %d %d %d", n_high, n_mid, n_low);
}

static void test_rope_apply(void)
{
    enum { D = 32, NP = 50, NH = 3 };
    sp_model_config c3 = rope_cfg(SP_ROPE_LLAMA3);
    float inv[D / 2], cs[NP * D / 2], sn[NP * D / 2];
    sp_ref_rope_inv_freq(&c3, D, inv);
    sp_ref_rope_table(inv, D / 2, NP, cs, sn);
    float x[NP * NH * D], x0[NP * NH * D];
    int32_t pos[NP];
    fill_normal(x, NP * NH * D, 4);
    memcpy(x0, x, sizeof x);
    for (int t = 0; t < NP; t++) pos[t] = t;
    sp_ref_rope_apply(x, NP, NH * D, NH, D, pos, cs, sn);
    for (int t = 0; t < NP; t++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < D / 2; i++) { /* each rotated pair (i, i + D/2) keeps its norm */
                const float *a = x + t * NH * D + h * D, *b = x0 + t * NH * D + h * D;
                double n1 = a[i] * a[i] + a[i + D / 2] * a[i + D / 2];
                double n0 = b[i] * b[i] + b[i + D / 2] * b[i + D / 2];
                CHECK(fabs(n1 - n0) <= 1e-5 * (1 + n0), "rope norm t %d h %d i %d", t, h, i);
                if (t == 0) CHECK(a[i] == b[i], "rope at position 0 is the identity");
            }
    /* <rope(q, m), rope(k, n)> depends only on m - n. */
    float q[D], k[D], qa[2 * D], ka[2 * D];
    fill_normal(q, D, 5);
    fill_normal(k, D, 6);
    int32_t pa[2] = {7, 3}, pb[2] = {40, 36};
    double dots[2];
    for (int c = 0; c < 2; c++) {
        const int32_t *pp = c == 0 ? pa : pb;
        memcpy(qa, q, sizeof q), memcpy(ka, k, sizeof k);
        sp_ref_rope_apply(qa, 1, D, 1, D, &pp[0], cs, sn);
        sp_ref_rope_apply(ka, 1, D, 1, D, &pp[1], cs, sn);
        dots[c] = 0;
        for (int d = 0; d < D; d++) dots[c] += (double)qa[d] * ka[d];
    }
    CHECK_NEAR(dots[0], dots[1], 1e-4, "rope relative position");
}

static void test_visibility_softmax(void)
{
    /* item: prefix of 2, branch 1 = tokens 2..3, branch 2 = tokens 4..6 */
    const int32_t br[7] = {0, 0, 1, 1, 2, 2, 2};
    CHECK(sp_ref_attn_visible(2, br, 1, 0) && !sp_ref_attn_visible(2, br, 0, 1), "causal prefix");
    CHECK(sp_ref_attn_visible(2, br, 5, 1), "branch sees prefix");
    CHECK(!sp_ref_attn_visible(2, br, 4, 3) && !sp_ref_attn_visible(2, br, 6, 2),
          "branch does not see another branch");
    CHECK(sp_ref_attn_visible(2, br, 6, 4) && !sp_ref_attn_visible(2, br, 4, 5),
          "causal within a branch");
    CHECK(sp_ref_attn_visible(2, NULL, 6, 3), "no branches: plain causal");
    float s[5] = {1000, 999, -3, 0, 1000};
    sp_ref_softmax(s, 5);
    double sum = 0;
    for (int i = 0; i < 5; i++) sum += s[i];
    CHECK_NEAR(sum, 1.0, 1e-6, "softmax sums to 1");
    CHECK_NEAR(s[0], s[4], 0, "softmax ties");
    float l[4] = {1, 2, 3, 4};
    double z = log(exp(1) + exp(2) + exp(3) + exp(4));
    CHECK_NEAR(sp_ref_logsoftmax_at(l, 4, 2), 3 - z, 1e-6, "logsoftmax");
    float big[3] = {1e4f, 1e4f, -1e4f};
    CHECK_NEAR(sp_ref_logsoftmax_at(big, 3, 0), -log(2.0), 1e-6, "logsoftmax stable");
}

enum { AH = 4, AKV = 2, AD = 8, ALD = (AH + 2 * AKV) * AD };

static void test_attention_one_token(void)
{
    float qkv[ALD], out[AH * AD];
    fill_normal(qkv, ALD, 7);
    sp_ref_attention(out, AH * AD, qkv, ALD, qkv + AH * AD, qkv + (AH + AKV) * AD, ALD, 1, 1, NULL,
                     AH, AKV, AD, 0.3f);
    for (int h = 0; h < AH; h++) /* GQA: heads 0,1 read kv head 0; heads 2,3 kv head 1 */
        for (int d = 0; d < AD; d++)
            CHECK(out[h * AD + d] == qkv[(AH + AKV + h / 2) * AD + d], "one token h %d", h);
}

/* Prefix + 2 branches in one item == the two plain sequences; the blocked sgemm attention of
 * the engine == the reference on a multi-item batch. */
static void test_attention_packed(void)
{
    enum { P = 5, B1 = 3, B2 = 4, N = P + B1 + B2, N1 = P + B1, N2 = P + B2 };
    float qkv[N * ALD], out[N * AH * AD], plain[N2 * ALD], pout[N2 * AH * AD];
    int32_t br[N];
    fill_normal(qkv, N * ALD, 8);
    for (int i = 0; i < N; i++) br[i] = i < P ? 0 : i < N1 ? 1 : 2;
    sp_ref_attention(out, AH * AD, qkv, ALD, qkv + AH * AD, qkv + (AH + AKV) * AD, ALD, N, P, br,
                     AH, AKV, AD, 0.35f);
    for (int b = 1; b <= 2; b++) {
        int n = b == 1 ? N1 : N2, off = b == 1 ? P : N1;
        memcpy(plain, qkv, P * ALD * sizeof(float));
        memcpy(plain + P * ALD, qkv + off * ALD, (size_t)(n - P) * ALD * sizeof(float));
        sp_ref_attention(pout, AH * AD, plain, ALD, plain + AH * AD, plain + (AH + AKV) * AD, ALD,
                         n, n, NULL, AH, AKV, AD, 0.35f);
        for (int i = P; i < n; i++)
            for (int c = 0; c < AH * AD; c++)
                CHECK(fabs(out[(off + i - P) * AH * AD + c] - pout[i * AH * AD + c]) <= 1e-6,
                      "branch %d token %d", b, i);
    }
    /* engine attention on [item 0: the branched item][item 1: 300 plain tokens (3 q-blocks)] */
    enum { N3 = 300, TT = N + N3 };
    static float bq[TT * ALD], eo[TT * AH * AD], ro[TT * AH * AD], scratch[128 * N3];
    static int32_t bbr[TT], tok[TT];
    fill_normal(bq, TT * ALD, 9);
    for (int i = 0; i < TT; i++) bbr[i] = i < N ? br[i] : 0, tok[i] = 0;
    int64_t off[3] = {0, N, TT};
    int32_t pl[2] = {P, N3};
    sp_batch b = {TT, tok, 2, off, pl, bbr};
    CHECK(sp_cpu_attention_scratch(N3) <= 128 * N3, "scratch size");
    sp_cpu_attention(eo, bq, &b, AH, AKV, AD, scratch);
    for (int it = 0; it < 2; it++) {
        int64_t a = off[it];
        sp_ref_attention(ro + a * AH * AD, AH * AD, bq + a * ALD, ALD, bq + a * ALD + AH * AD,
                         bq + a * ALD + (AH + AKV) * AD, ALD, off[it + 1] - a, pl[it], bbr + a,
                         AH, AKV, AD, (float)(1.0 / sqrt(AD)));
    }
    double worst = 0;
    for (int i = 0; i < TT * AH * AD; i++) {
        double e = fabs(eo[i] - ro[i]);
        if (!(e <= worst)) worst = e; /* NaN propagates into worst */
    }
    CHECK(worst <= 1e-5, "engine attention vs reference: max abs error %g", worst);
}

int main(void)
{
    test_rmsnorm_swiglu_matmul();
    test_rope_freq();
    test_rope_apply();
    test_visibility_softmax();
    test_attention_one_token();
    test_attention_packed();
    return sp_test_finish("test_ref_ops");
}
