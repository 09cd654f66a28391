/* test_cuda_attention.c — the CUDA attention kernel (kernels/attention.cu) against the plain-C
 * reference sp_ref_attention on seeded random inputs: every launch configuration (config 2, the
 * tensor-core one, only for the head dims it supports), fp32 and bf16 inputs and outputs, plain
 * items, items with a shared prefix and branches, long items (multi-tile key loops, partial
 * tiles), large score magnitudes (online-softmax rescaling), head dims from 2 to 256. Outputs are
 * poisoned with NaN and followed by guard bytes. Skips (77) without CUDA or a usable device. */
#include "test_util.h"

#ifndef SP_HAVE_CUDA
int main(void) { return sp_test_skip("test_cuda_attention", "built without CUDA"); }
#else
#include <math.h>

#include "cuda_test_util.h"
#include "kernels/attention.h"
#include "kernels/ref_ops.h"

/* fp32 outputs of the CUDA-core configurations: fp32 sums and expf vs the reference's double
 * sums; far below 1e-5 relative L2. */
#define TOL_F32 1e-5
/* The same at amplitude 8 (scores up to |s| ~ 100): fp32 rounding of the dot products,
 * ~|s| 2^-24 sqrt(D) ~ 1e-5 absolute, shifts the softmax weights by as much relatively. */
#define TOL_F32_AMP8 1e-4
/* bf16 outputs: one rounding to 8 significant bits (<= 2^-9 relative per element). */
#define TOL_BF16_OUT 2.5e-3
/* Config 2 (bf16 tensor cores), fp32 or bf16 output. Error sources, each a rounding to bf16
 * (relative rms ~ 2^-9 / sqrt(3) ~ 1.1e-3, max 2^-9): Q and K (fp32 inputs only; a score
 * s = scale q.k moves by ~ sqrt(2) 1.1e-3 |q||k| scale ~ 2e-3 absolute at amplitude 2, for any
 * D since scale = 1/sqrt(D)), so every weight by ~2e-3 relative; P (1.1e-3 per weight; l sums
 * the rounded weights so the normalization matches); V (fp32 inputs, 1.1e-3); the bf16 output
 * (1.1e-3). Weighted averages of independent errors: a relative L2 of ~3e-3 expected; 1e-2
 * leaves a 3x margin while a wrong mask, a missing rescale or a lost tile costs >= 1e-1. The
 * amplitude-8 case uses bf16 inputs (Q, K, V exact), so only P and the output round. */
#define TOL_TC 1e-2

static void widen(const uint16_t *bits, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = sp_bf16_to_f32(bits[i]);
}

/* A packed batch on the host. */
typedef struct {
    int32_t n_items;
    int64_t off[8];
    int32_t prefix[8];
    const int32_t *branch; /* [T] or NULL */
} attn_layout;

/* Attention of one (shape, layout, input dtype, input amplitude) for every config that supports
 * the head dim and both output dtypes. */
static void attn_case(const int64_t shp[3], const attn_layout *L, int in_bf16, float amp)
{
    int64_t NH = shp[0], NKV = shp[1], D = shp[2], T = L->off[L->n_items];
    int64_t ld = (NH + 2 * NKV) * D, od = NH * D;
    float scale = (float)(1.0 / sqrt((double)D));
    size_t n = (size_t)(T * ld), no = (size_t)(T * od);
    float *qkv = malloc(n * 4), *ref = malloc(no * 4), *out = malloc(no * 4);
    uint16_t *bits = malloc(n * 2), *obits = malloc(no * 2);
    sp_test_fill(qkv, n, 13 + (uint64_t)D, amp);
    sp_test_round_bf16(qkv, bits, in_bf16 ? n : 0);
    for (int32_t it = 0; it < L->n_items; it++) {
        int64_t a = L->off[it];
        sp_ref_attention(ref + a * od, od, qkv + a * ld, ld, qkv + a * ld + NH * D,
                         qkv + a * ld + (NH + NKV) * D, ld, L->off[it + 1] - a, L->prefix[it],
                         L->branch ? L->branch + a : NULL, NH, NKV, D, scale);
    }
    sp_dbuf dq = in_bf16 ? sp_dbuf_from(bits, n * 2) : sp_dbuf_from(qkv, n * 4);
    sp_dbuf doff = sp_dbuf_from(L->off, ((size_t)L->n_items + 1) * 8);
    sp_dbuf dpre = sp_dbuf_from(L->prefix, (size_t)L->n_items * 4);
    sp_dbuf dbr = sp_dbuf_from(L->branch ? (const void *)L->branch : (const void *)L->prefix,
                               L->branch ? (size_t)T * 4 : 4);
    for (int cfg = 0; cfg < SP_CUDA_ATTN_N_CONFIGS; cfg++) {
        if (cfg == 2 && sp_cuda_attn_pick(1 << 20, D) != 2) continue; /* head dim unsupported */
        int64_t nt = sp_cuda_attn_tiles(L->off, L->n_items, cfg, NULL);
        int32_t *tiles = malloc((size_t)nt * 8);
        sp_cuda_attn_tiles(L->off, L->n_items, cfg, tiles);
        sp_dbuf dtl = sp_dbuf_from(tiles, (size_t)nt * 8);
        sp_cuda_attn_batch ab = {T, L->n_items, doff.d, dpre.d, L->branch ? dbr.d : NULL,
                                 (int32_t)nt, dtl.d};
        for (int ob = 0; ob <= 1; ob++) {
            sp_dbuf dout = sp_dbuf_new(no * (ob ? 2 : 4));
            sp_cuda_attention(dout.d, ob, dq.d, in_bf16, &ab, NH, NKV, D, scale, cfg, 0);
            if (ob) {
                sp_dbuf_get(&dout, obits);
                widen(obits, out, no);
            } else {
                sp_dbuf_get(&dout, out);
            }
            double tol = cfg == 2  ? TOL_TC
                         : ob      ? TOL_BF16_OUT
                         : amp > 2 ? TOL_F32_AMP8
                                   : TOL_F32;
            SP_CHECK_CLOSE(out, ref, no, tol,
                           "attention NH %lld NKV %lld D %lld T %lld items %d branches %s in %s "
                           "out %s amp %g config %d", (long long)NH, (long long)NKV, (long long)D,
                           (long long)T, L->n_items, L->branch ? "yes" : "no",
                           in_bf16 ? "bf16" : "f32", ob ? "bf16" : "f32", (double)amp, cfg);
            CHECK(sp_dbuf_guard_ok(&dout), "attention guard bytes (config %d)", cfg);
            sp_dbuf_free(&dout);
        }
        sp_dbuf_free(&dtl);
        free(tiles);
    }
    sp_dbuf_free(&dq), sp_dbuf_free(&doff), sp_dbuf_free(&dpre), sp_dbuf_free(&dbr);
    free(qkv), free(ref), free(out), free(bits), free(obits);
}

/* Shapes (NH, NKV, D): tiny fixture, SmolLM2-135M, Llama-3.2-1B, Llama-3.1-8B, the largest and
 * smallest head dims, a head dim that is not a multiple of 32, multiples of 16 that are neither
 * 64 nor 128 (config 2's guarded fragment loops). Layouts: plain items of odd lengths around the
 * tile sizes; items with a prefix and branches (incl. 1-token branches); long items (300 plain,
 * 517 = prefix 37 + branches 150, 97, 1, 232: several 64-key tiles, branch boundaries and item
 * ends inside tiles). The 8B shape also runs at amplitude 8 (peaked softmax whose running max
 * moves by tens between key tiles). */
static void test_attention(void)
{
    static const int64_t shapes[][3] = {{6, 2, 32}, {9, 3, 64}, {32, 8, 64}, {32, 8, 128},
                                        {2, 1, 256}, {3, 3, 2},  {4, 2, 36}, {4, 2, 80},
                                        {3, 1, 16}};
    static int32_t br[95];
    for (int i = 0; i < 95; i++) /* item 0: prefix 20 + branches 10, 15, 5; item 1 plain 40;
                                    item 2: prefix 3 + branches 1, 1 */
        br[i] = i < 20 ? 0 : i < 30 ? 1 : i < 45 ? 2 : i < 50 ? 3 : i < 93 ? 0 : i < 94 ? 1 : 2;
    static int32_t lbr[817];
    for (int i = 0; i < 817; i++) /* item 0 plain 300; item 1: prefix 37 + 150, 97, 1, 232 */
        lbr[i] = i < 337 ? 0 : i < 487 ? 1 : i < 584 ? 2 : i < 585 ? 3 : 4;
    attn_layout plain = {4, {0, 1, 6, 39, 109}, {1, 5, 33, 70}, NULL};
    attn_layout branched = {3, {0, 50, 90, 95}, {20, 40, 3}, br};
    attn_layout longer = {2, {0, 300, 817}, {300, 37}, lbr};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int in_bf16 = 0; in_bf16 <= 1; in_bf16++) {
            attn_case(shapes[s], &plain, in_bf16, 2.0f);
            attn_case(shapes[s], &branched, in_bf16, 2.0f);
            attn_case(shapes[s], &longer, in_bf16, 2.0f);
        }
    static const int64_t big[3] = {32, 8, 128};
    attn_case(big, &longer, 1, 8.0f);
    attn_case(big, &plain, 1, 8.0f);
}

/* Host-side contract of the configurations (no device needed, but run with the rest). */
static void test_attention_pick(void)
{
    CHECK(sp_cuda_attn_rows(2) == 64, "config 2 tiles of %d rows", sp_cuda_attn_rows(2));
    CHECK(sp_cuda_attn_pick(128, 128) == 2, "8B shape picks %d", sp_cuda_attn_pick(128, 128));
    CHECK(sp_cuda_attn_pick(64, 64) == 2, "D 64 picks %d", sp_cuda_attn_pick(64, 64));
    CHECK(sp_cuda_attn_pick(512, 36) == 1, "D 36 picks %d", sp_cuda_attn_pick(512, 36));
    CHECK(sp_cuda_attn_pick(512, 256) == 1, "D 256 picks %d", sp_cuda_attn_pick(512, 256));
    CHECK(sp_cuda_attn_pick(63, 128) != 2, "short items pick %d", sp_cuda_attn_pick(63, 128));
    CHECK(sp_cuda_attn_pick(10, 128) == 0, "tiny items pick %d", sp_cuda_attn_pick(10, 128));
    int64_t off[3] = {0, 65, 65 + 128};
    CHECK(sp_cuda_attn_tiles(off, 2, 2, NULL) == 4, "config 2 tiles of 65 + 128 tokens");
}

int main(void)
{
    char why[256];
    if (!sp_cuda_probe(why, sizeof why)) return sp_test_skip("test_cuda_attention", why);
    test_attention_pick();
    test_attention();
    return sp_test_finish("test_cuda_attention");
}
#endif
