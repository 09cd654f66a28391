/* test_cuda_kernels.c — every CUDA kernel of kernels/ against its plain-C reference in
 * kernels/ref_ops.c on seeded random inputs (seed SP_TEST_SEED, counter-based), over shapes with
 * odd sizes and real Llama sizes, and every launch configuration a launcher can pick. Outputs
 * are poisoned with NaN before each run and followed by guard bytes. Skips (77) without CUDA or
 * without a usable device. Tolerances (relative L2) are defined below with their reasons. */
#include "test_util.h"

#ifndef SP_HAVE_CUDA
int main(void) { return sp_test_skip("test_cuda_kernels", "built without CUDA"); }
#else
#include "cuda_test_util.h"
#include "kernels/embed.h"
#include "kernels/gemm.h"
#include "kernels/logsoftmax.h"
#include "kernels/ref_ops.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"

/* fp32 outputs: the kernels use the reference's formulas in fp32 with fp32 sums (the reference
 * sums in double) and CUDA's expf/logf (<= 2 ulp from glibc); over <= 128k terms the relative
 * error stays far below 1e-5. */
#define TOL_F32 1e-5
/* Exact ops (gathers, conversions, rope with __fmul_rn and the same tables). */
#define TOL_EXACT 0.0
/* bf16 outputs: one rounding to 8 significant bits, relative error <= 2^-9 = 1.95e-3 per
 * element, so the relative L2 error is <= 1.95e-3; 2.5e-3 leaves room for the fp32 part. */
#define TOL_BF16_OUT 2.5e-3
/* GEMM, fp32 output: bf16 inputs rounded identically on both sides (products exact), the
 * reference sums in double. Tensor cores accumulate in fp32 but TRUNCATE (round toward zero)
 * instead of rounding to nearest, so the errors do not cancel as a random walk (the old
 * ~sqrt(K) 2^-24 estimate): each truncating add loses up to one ulp of the partial sum s_k
 * (<= 2^-23 |s_k|), always toward zero. Bound, every add losing a full ulp coherently: with
 * random zero-mean inputs |s_k| ~ sqrt(k) sigma and |C| ~ sqrt(K) sigma, so the relative error
 * is <= 2^-23 sum_k sqrt(k) / sqrt(K) = (2/3) K 2^-23. In fact the products of bf16 inputs
 * have 16 significant bits and an add is exact unless |s_k| > 2^7 |p_k|, so most adds lose
 * nothing: a by-hand simulation (numpy: exact products, fp32 sum truncated toward zero after
 * every add, or once per 16-product MMA block with each addend truncated to the block maximum's
 * grid) gives relative L2 errors of 0.001-0.04 x K 2^-23 for K = 5 ... 16384 (4.5e-6 at
 * K = 2048). TOL_GEMM(K) = (K/4 + 1) 2^-23 sits >= 6x above those and ~3x below the coherent
 * bound; a real bug (a wrong index, a dropped or doubled k term) gives >= ~1/sqrt(K) (2e-2 at
 * K = 2048). The +1 covers the fp32 rounding of the output. */
#define TOL_GEMM(K) ((0.25 * (double)(K) + 1.0) * 0x1p-23)

static void test_embed_gather(void)
{
    static const int64_t shapes[][3] = {{1, 1, 3}, {7, 193, 50}, {64, 576, 1000}, {33, 4096, 17}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t T = shapes[s][0], H = shapes[s][1], V = shapes[s][2];
        size_t nth = (size_t)(T * H), nvh = (size_t)(V * H);
        float *emb = malloc(nvh * 4), *out = malloc(nth * 4), *ref = malloc(nth * 4);
        uint16_t *bits = malloc(nvh * 2);
        int32_t *tok = malloc((size_t)T * 4);
        int64_t *rows = malloc((size_t)T * 8);
        sp_test_fill(emb, nvh, 1, 3.0f);
        sp_test_round_bf16(emb, bits, nvh);
        for (int64_t t = 0; t < T; t++) {
            tok[t] = (int32_t)((t * 7919 + 13) % V);
            rows[t] = (T - 1 - t) * 5 % T;
            memcpy(ref + t * H, emb + (int64_t)tok[t] * H, (size_t)H * 4);
        }
        sp_dbuf de = sp_dbuf_from(bits, nvh * 2), dt = sp_dbuf_from(tok, (size_t)T * 4);
        sp_dbuf dx = sp_dbuf_new(nth * 4), dr = sp_dbuf_from(rows, (size_t)T * 8);
        sp_dbuf dg = sp_dbuf_new(nth * 4), db = sp_dbuf_new(nth * 2);
        sp_cuda_embed(dx.d, de.d, dt.d, T, H, 0);
        sp_dbuf_get(&dx, out);
        SP_CHECK_CLOSE(out, ref, nth, TOL_EXACT, "embed T %lld H %lld", (long long)T, (long long)H);
        CHECK(sp_dbuf_guard_ok(&dx), "embed T %lld H %lld: guard bytes overwritten", (long long)T,
              (long long)H);
        sp_cuda_gather_rows(dg.d, dx.d, dr.d, T, H, 0);
        sp_dbuf_get(&dg, out);
        float *gref = malloc(nth * 4);
        for (int64_t t = 0; t < T; t++) memcpy(gref + t * H, ref + rows[t] * H, (size_t)H * 4);
        SP_CHECK_CLOSE(out, gref, nth, TOL_EXACT, "gather_rows T %lld H %lld", (long long)T,
                       (long long)H);
        CHECK(sp_dbuf_guard_ok(&dg), "gather_rows: guard bytes overwritten");
        /* fp32 -> bf16 on unrounded values: bit-exact with sp_f32_to_bf16 */
        sp_test_fill(gref, nth, 2, 100.0f);
        sp_dbuf dsrc = sp_dbuf_from(gref, nth * 4);
        sp_cuda_f32_to_bf16(db.d, dsrc.d, (int64_t)nth, 0);
        uint16_t *got = malloc(nth * 2);
        sp_dbuf_get(&db, got);
        size_t wrong = 0;
        for (size_t i = 0; i < nth; i++) wrong += got[i] != sp_f32_to_bf16(gref[i]);
        CHECK(wrong == 0, "f32_to_bf16 n %zu: %zu values differ from sp_f32_to_bf16", nth, wrong);
        CHECK(sp_dbuf_guard_ok(&db), "f32_to_bf16: guard bytes overwritten");
        sp_dbuf *all[] = {&de, &dt, &dx, &dr, &dg, &db, &dsrc};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sp_dbuf_free(all[i]);
        free(emb), free(out), free(ref), free(bits), free(tok), free(rows), free(gref), free(got);
    }
}

/* Widens bf16 bit patterns. */
static void widen(const uint16_t *bits, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = sp_bf16_to_f32(bits[i]);
}

static void test_rmsnorm(void)
{
    static const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 192}, {17, 576}, {4, 2048}, {3, 4096},
                                        {2, 8193}};
    static const int threads[] = {0, 32, 64, 256, 512, 1024};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t T = shapes[s][0], H = shapes[s][1];
        size_t n = (size_t)(T * H);
        float *x = malloc(n * 4), *w = malloc((size_t)H * 4), *ref = malloc(n * 4);
        float *out = malloc(n * 4);
        uint16_t *bits = malloc(n * 2);
        sp_test_fill(x, n, 3, 4.0f);
        sp_test_fill(w, (size_t)H, 4, 1.5f);
        sp_ref_rmsnorm(ref, x, w, T, H, 1e-5f);
        sp_dbuf dx = sp_dbuf_from(x, n * 4), dw = sp_dbuf_from(w, (size_t)H * 4);
        sp_dbuf dof = sp_dbuf_new(n * 4), dob = sp_dbuf_new(n * 2);
        for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
            sp_dbuf_poison(&dof), sp_dbuf_poison(&dob);
            sp_cuda_rmsnorm_f32(dof.d, dx.d, dw.d, T, H, 1e-5f, threads[k], 0);
            sp_cuda_rmsnorm_bf16(dob.d, dx.d, dw.d, T, H, 1e-5f, threads[k], 0);
            sp_dbuf_get(&dof, out);
            SP_CHECK_CLOSE(out, ref, n, TOL_F32, "rmsnorm f32 T %lld H %lld threads %d",
                           (long long)T, (long long)H, threads[k]);
            sp_dbuf_get(&dob, bits);
            widen(bits, out, n);
            SP_CHECK_CLOSE(out, ref, n, TOL_BF16_OUT, "rmsnorm bf16 T %lld H %lld threads %d",
                           (long long)T, (long long)H, threads[k]);
            CHECK(sp_dbuf_guard_ok(&dof) && sp_dbuf_guard_ok(&dob), "rmsnorm guard bytes");
        }
        /* in place (out == x), as the engine's head may do */
        sp_cuda_rmsnorm_f32(dx.d, dx.d, dw.d, T, H, 1e-5f, 0, 0);
        sp_dbuf_get(&dx, out);
        SP_CHECK_CLOSE(out, ref, n, TOL_F32, "rmsnorm in place T %lld H %lld", (long long)T,
                       (long long)H);
        sp_dbuf_free(&dx), sp_dbuf_free(&dw), sp_dbuf_free(&dof), sp_dbuf_free(&dob);
        free(x), free(w), free(ref), free(out), free(bits);
    }
}

static void test_rope(void)
{
    /* (T, NH, NKV, D, rope kind): tiny fixture (llama3), SmolLM2 (default), Llama-3.1 (llama3),
     * linear scaling with an odd head count, the smallest head */
    static const int64_t shapes[][5] = {{9, 6, 2, 32, SP_ROPE_LLAMA3}, {33, 9, 3, 64, SP_ROPE_DEFAULT},
                                        {20, 32, 8, 128, SP_ROPE_LLAMA3}, {7, 5, 5, 18, SP_ROPE_LINEAR},
                                        {3, 1, 1, 2, SP_ROPE_DEFAULT}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t T = shapes[s][0], NH = shapes[s][1], NKV = shapes[s][2], D = shapes[s][3];
        int64_t ld = (NH + 2 * NKV) * D, half = D / 2, n_pos = 300;
        sp_model_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.rope_theta = 500000.0, cfg.rope_kind = (sp_rope_kind)shapes[s][4];
        cfg.rope_factor = 8.0, cfg.rope_low_freq_factor = 1.0, cfg.rope_high_freq_factor = 4.0;
        cfg.rope_orig_max_pos = 8192;
        size_t n = (size_t)(T * ld), nt = (size_t)(n_pos * half);
        float *x = malloc(n * 4), *ref = malloc(n * 4), *inv = malloc((size_t)half * 4);
        float *ct = malloc(nt * 4), *st = malloc(nt * 4);
        int32_t *pos = malloc((size_t)T * 4);
        sp_test_fill(x, n, 5, 2.0f);
        memcpy(ref, x, n * 4);
        for (int64_t t = 0; t < T; t++) pos[t] = (int32_t)((t * 37 + 11) % n_pos);
        sp_ref_rope_inv_freq(&cfg, D, inv);
        sp_ref_rope_table(inv, half, n_pos, ct, st);
        sp_ref_rope_apply(ref, T, ld, NH, D, pos, ct, st);
        sp_ref_rope_apply(ref + NH * D, T, ld, NKV, D, pos, ct, st);
        sp_dbuf dx = sp_dbuf_from(x, n * 4), dp = sp_dbuf_from(pos, (size_t)T * 4);
        sp_dbuf dc = sp_dbuf_from(ct, nt * 4), ds = sp_dbuf_from(st, nt * 4);
        sp_cuda_rope_apply(dx.d, T, ld, NH, D, dp.d, dc.d, ds.d, 0);
        sp_cuda_rope_apply((float *)dx.d + NH * D, T, ld, NKV, D, dp.d, dc.d, ds.d, 0);
        sp_dbuf_get(&dx, x);
        SP_CHECK_CLOSE(x, ref, n, TOL_EXACT, "rope T %lld NH %lld NKV %lld D %lld", (long long)T,
                       (long long)NH, (long long)NKV, (long long)D);
        CHECK(sp_dbuf_guard_ok(&dx), "rope guard bytes");
        sp_dbuf_free(&dx), sp_dbuf_free(&dp), sp_dbuf_free(&dc), sp_dbuf_free(&ds);
        free(x), free(ref), free(inv), free(ct), free(st), free(pos);
    }
}

static void test_swiglu_add(void)
{
    static const int64_t shapes[][2] = {{1, 1}, {5, 7}, {16, 512}, {9, 1536}, {3, 8192}, {2, 14336}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t T = shapes[s][0], F = shapes[s][1];
        size_t nin = (size_t)(T * 2 * F), n = (size_t)(T * F);
        float *gu = malloc(nin * 4), *ref = malloc(n * 4), *out = malloc(n * 4);
        uint16_t *bits = malloc(n * 2);
        sp_test_fill(gu, nin, 6, 8.0f);
        sp_ref_swiglu(ref, gu, gu + F, T, F, 2 * F);
        sp_dbuf dg = sp_dbuf_from(gu, nin * 4), dof = sp_dbuf_new(n * 4), dob = sp_dbuf_new(n * 2);
        sp_cuda_swiglu_f32(dof.d, dg.d, (float *)dg.d + F, T, F, 2 * F, 0);
        sp_cuda_swiglu_bf16(dob.d, dg.d, (float *)dg.d + F, T, F, 2 * F, 0);
        sp_dbuf_get(&dof, out);
        SP_CHECK_CLOSE(out, ref, n, TOL_F32, "swiglu f32 T %lld F %lld", (long long)T, (long long)F);
        sp_dbuf_get(&dob, bits);
        widen(bits, out, n);
        SP_CHECK_CLOSE(out, ref, n, TOL_BF16_OUT, "swiglu bf16 T %lld F %lld", (long long)T,
                       (long long)F);
        CHECK(sp_dbuf_guard_ok(&dof) && sp_dbuf_guard_ok(&dob), "swiglu guard bytes");
        /* bf16 inputs (the engine's path): the reference on the same rounded inputs */
        uint16_t *gub = malloc(nin * 2);
        sp_test_round_bf16(gu, gub, nin);
        sp_ref_swiglu(ref, gu, gu + F, T, F, 2 * F);
        sp_dbuf dgb = sp_dbuf_from(gub, nin * 2);
        sp_dbuf_poison(&dob);
        sp_cuda_swiglu_bf16_in(dob.d, dgb.d, (uint16_t *)dgb.d + F, T, F, 2 * F, 0);
        sp_dbuf_get(&dob, bits);
        widen(bits, out, n);
        SP_CHECK_CLOSE(out, ref, n, TOL_BF16_OUT, "swiglu bf16 in/out T %lld F %lld",
                       (long long)T, (long long)F);
        CHECK(sp_dbuf_guard_ok(&dob), "swiglu bf16 in guard bytes");
        sp_dbuf_free(&dgb);
        free(gub);
        /* residual add: x = gate part (dense n), y = up part; exact in fp32 */
        float *y = malloc(n * 4);
        sp_test_fill(out, n, 7, 3.0f);
        sp_test_fill(y, n, 8, 3.0f);
        sp_dbuf dx = sp_dbuf_from(out, n * 4), dy = sp_dbuf_from(y, n * 4);
        sp_ref_add(out, y, n);
        sp_cuda_add(dx.d, dy.d, n, 0);
        sp_dbuf_get(&dx, y);
        SP_CHECK_CLOSE(y, out, n, TOL_EXACT, "add n %zu", n);
        CHECK(sp_dbuf_guard_ok(&dx), "add guard bytes");
        sp_dbuf_free(&dg), sp_dbuf_free(&dof), sp_dbuf_free(&dob), sp_dbuf_free(&dx),
            sp_dbuf_free(&dy);
        free(gu), free(ref), free(out), free(bits), free(y);
    }
}

static void test_logsoftmax(void)
{
    static const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 1000}, {4, 4096}, {3, 49152},
                                        {2, 128256}};
    static const int threads[] = {0, 32, 256, 1024};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t R = shapes[s][0], V = shapes[s][1];
        size_t n = (size_t)(R * V);
        float *lg = malloc(n * 4), ref[8], out[8];
        int32_t tg[8];
        sp_test_fill(lg, n, 9, 12.0f);
        for (int64_t r = 0; r < R; r++) {
            tg[r] = (int32_t)((r * 104729 + 3) % V);
            ref[r] = sp_ref_logsoftmax_at(lg + r * V, V, tg[r]);
        }
        sp_dbuf dl = sp_dbuf_from(lg, n * 4), dt = sp_dbuf_from(tg, (size_t)R * 4);
        sp_dbuf dout = sp_dbuf_new((size_t)R * 4);
        for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
            sp_dbuf_poison(&dout);
            sp_cuda_logsoftmax_gather(dout.d, dl.d, dt.d, R, V, threads[k], 0);
            sp_dbuf_get(&dout, out);
            SP_CHECK_CLOSE(out, ref, (size_t)R, TOL_F32, "logsoftmax R %lld V %lld threads %d",
                           (long long)R, (long long)V, threads[k]);
            CHECK(sp_dbuf_guard_ok(&dout), "logsoftmax guard bytes");
        }
        sp_dbuf_free(&dl), sp_dbuf_free(&dt), sp_dbuf_free(&dout);
        free(lg);
    }
}

/* One GEMM case: fp32 output with beta 0 (C poisoned: must not be read) and 1, then bf16
 * output; `shift` elements of offset on A and C (8: 16 / 32 bytes, a view that is not 256-byte
 * aligned) exercise the alignment part of the plan key. */
static void gemm_case(sp_cuda_gemm *g, int64_t M, int64_t N, int64_t K, int64_t shift)
{
    size_t na = (size_t)(M * K), nw = (size_t)(N * K), nc = (size_t)(M * N), sh = (size_t)shift;
    float *A = malloc(na * 4), *W = malloc(nw * 4), *C = malloc(nc * 4), *ref = malloc(nc * 4);
    uint16_t *ab = malloc(na * 2), *wb = malloc(nw * 2), *cb = malloc(nc * 2);
    sp_test_fill(A, na, 10 + (uint64_t)M, 2.0f);
    sp_test_fill(W, nw, 11 + (uint64_t)N, 0.1f);
    sp_test_round_bf16(A, ab, na);
    sp_test_round_bf16(W, wb, nw);
    uint16_t *ab_sh = calloc(na + sh, 2);
    memcpy(ab_sh + sh, ab, na * 2);
    sp_dbuf da = sp_dbuf_from(ab_sh, (na + sh) * 2), dw = sp_dbuf_from(wb, nw * 2);
    sp_dbuf dc = sp_dbuf_new((nc + sh) * 4), dcb = sp_dbuf_new((nc + sh) * 2);
    const uint16_t *dA = (const uint16_t *)da.d + sh;
    float *dC = (float *)dc.d + sh;
    for (int beta = 0; beta <= 1; beta++) {
        sp_test_fill(ref, nc, 12, 1.0f);
        if (beta) SP_CUDA_CHECK(cudaMemcpy(dC, ref, nc * 4, cudaMemcpyHostToDevice));
        else sp_dbuf_poison(&dc); /* beta 0 must not read C */
        sp_ref_matmul_nt(ref, A, W, M, N, K, (float)beta);
        sp_cuda_gemm_nt(g, dC, 0, dA, dw.d, M, N, K, (float)beta);
        SP_CUDA_CHECK(cudaMemcpy(C, dC, nc * 4, cudaMemcpyDeviceToHost));
        SP_CHECK_CLOSE(C, ref, nc, TOL_GEMM(K), "gemm M %lld N %lld K %lld beta %d shift %lld",
                       (long long)M, (long long)N, (long long)K, beta, (long long)shift);
        CHECK(sp_dbuf_guard_ok(&dc), "gemm guard bytes");
    }
    sp_ref_matmul_nt(ref, A, W, M, N, K, 0.0f);
    sp_cuda_gemm_nt(g, (uint16_t *)dcb.d + sh, 1, dA, dw.d, M, N, K, 0.0f);
    SP_CUDA_CHECK(cudaMemcpy(cb, (uint16_t *)dcb.d + sh, nc * 2, cudaMemcpyDeviceToHost));
    widen(cb, C, nc);
    SP_CHECK_CLOSE(C, ref, nc, TOL_BF16_OUT, "gemm bf16 out M %lld N %lld K %lld shift %lld",
                   (long long)M, (long long)N, (long long)K, (long long)shift);
    CHECK(sp_dbuf_guard_ok(&dcb), "gemm bf16 guard bytes");
    sp_dbuf_free(&da), sp_dbuf_free(&dw), sp_dbuf_free(&dc), sp_dbuf_free(&dcb);
    free(A), free(W), free(C), free(ref), free(ab), free(wb), free(cb), free(ab_sh);
}

/* Shapes (M, N, K): degenerate, odd, SmolLM2 and Llama projections; then the plan cache: the
 * same shapes again build no new plan. */
static void test_gemm(void)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {64, 576, 576}, {33, 1536, 192},
                                        {17, 4096, 2048}, {300, 1024, 512}};
    sp_cuda_gemm *g = NULL;
    sp_error err = {0};
    CHECK(sp_cuda_gemm_create(0, &g, &err) == 0, "gemm create: %s", err.msg);
    if (!g) return;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        gemm_case(g, shapes[s][0], shapes[s][1], shapes[s][2], s % 2 ? 8 : 0);
    int64_t built = sp_cuda_gemm_plans_built(g);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        gemm_case(g, shapes[s][0], shapes[s][1], shapes[s][2], s % 2 ? 8 : 0);
    CHECK(sp_cuda_gemm_plans_built(g) == built, "gemm plan cache: %lld plans built on a second "
          "pass over the same shapes (first pass %lld)", (long long)sp_cuda_gemm_plans_built(g),
          (long long)built);
    sp_cuda_gemm_free(g);
}

int main(void)
{
    char why[256];
    if (!sp_cuda_probe(why, sizeof why)) return sp_test_skip("test_cuda_kernels", why);
    test_embed_gather();
    test_rmsnorm();
    test_rope();
    test_swiglu_add();
    test_logsoftmax();
    test_gemm();
    return sp_test_finish("test_cuda_kernels");
}
#endif
