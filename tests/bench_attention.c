/* bench_attention.c — CUDA attention (kernels/attention.cu) configs 1 (fp32 CUDA cores, 16 rows
 * per block) and 2 (bf16 tensor cores, 64 rows per block) on the Llama-3.1-8B attention shape
 * (NH 32, NKV 8, D 128), plain causal batches of 64 x 128 and 16 x 512 tokens, with the engine's
 * dtypes (fp32 qkv, bf16 output). Per case: 3 warm-up launches, 25 launches timed one by one
 * with CUDA events, the median printed as ms and TFLOP/s (4 D NH flops per visible
 * (query, key) pair: Q.K and P.V, 2 flops per multiply-add), plus the ratio config2/config1 of
 * the TFLOP/s and the relative L2 difference of the two outputs (expected a few 1e-3: config 2
 * rounds Q, K, P, V to bf16). Built, not run by ctest; skips (77) without CUDA or a device.
 *
 * Notes (predictions made before any run; no GPU was available when this was written):
 * - Config 1 is bound by shared-memory loads in its scalar loops (one LDS per FMA in Q.K, one
 *   LDS + shuffle per FMA in P.V) and by exp/shuffle work per key: expected ~2-5 TFLOP/s on an
 *   H100, about the same for both batches (its work per tile does not depend on item length).
 * - Config 2 does Q.K and P.V as bf16 WMMA (HMMA.16816 on sm_80/sm_90, dense bf16 peak ~990
 *   TFLOP/s with wgmma on H100, ~half of it reachable with mma.sync). It is held back by the
 *   fp32 softmax through shared memory (every score stored, read twice, every probability
 *   written and reloaded), fragment loads without ldmatrix, K/V staging without cp.async double
 *   buffering (load, barrier, compute), and 128-thread blocks at ~62 KB of shared memory (3 per
 *   SM on an H100). Expected ~40-100 TFLOP/s at 16 x 512 and less at 64 x 128 (30-60 TFLOP/s:
 *   2 query tiles per item, a larger share of diagonal tiles, 1024 blocks of which half do one
 *   key tile), i.e. a ratio config2/config1 of roughly 10-30x. Next steps if more is needed:
 *   cp.async double buffering of K/V, one block per (tile, KV group) sharing K/V among the 4
 *   query heads of a group, ldmatrix + mma.sync with register-level softmax. */
#include "test_util.h"

#ifndef SP_HAVE_CUDA
int main(void) { return sp_test_skip("bench_attention", "built without CUDA"); }
#else
#include <stdint.h>

#include "cuda_test_util.h"
#include "kernels/attention.h"

#define BENCH_WARMUP 3
#define BENCH_RUNS 25

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* A plain causal batch of `items` items of `len` tokens on the device, tiled for `config`. */
typedef struct {
    sp_dbuf off, pre, tiles;
    sp_cuda_attn_batch ab;
} bench_batch;

static bench_batch bench_batch_make(int32_t items, int64_t len, int config)
{
    bench_batch bb;
    int64_t *off = sp_xmalloc(((size_t)items + 1) * sizeof *off);
    int32_t *pre = sp_xmalloc((size_t)items * sizeof *pre);
    for (int32_t i = 0; i <= items; i++) off[i] = i * len;
    for (int32_t i = 0; i < items; i++) pre[i] = (int32_t)len;
    int64_t nt = sp_cuda_attn_tiles(off, items, config, NULL);
    int32_t *tiles = sp_xmalloc((size_t)nt * 2 * sizeof *tiles);
    sp_cuda_attn_tiles(off, items, config, tiles);
    bb.off = sp_dbuf_from(off, ((size_t)items + 1) * sizeof *off);
    bb.pre = sp_dbuf_from(pre, (size_t)items * sizeof *pre);
    bb.tiles = sp_dbuf_from(tiles, (size_t)nt * 2 * sizeof *tiles);
    sp_cuda_attn_batch ab = {items * len, items, bb.off.d, bb.pre.d, NULL, (int32_t)nt,
                             bb.tiles.d};
    bb.ab = ab;
    free(off), free(pre), free(tiles);
    return bb;
}

static void bench_batch_free(bench_batch *bb)
{
    sp_dbuf_free(&bb->off), sp_dbuf_free(&bb->pre), sp_dbuf_free(&bb->tiles);
}

/* Median milliseconds of one attention launch of `config`; the output stays in dout. */
static float bench_time(sp_dbuf *dout, const sp_dbuf *dqkv, int32_t items, int64_t len,
                        int config, int64_t NH, int64_t NKV, int64_t D)
{
    bench_batch bb = bench_batch_make(items, len, config);
    float scale = (float)(1.0 / sqrt((double)D)), ms[BENCH_RUNS];
    cudaEvent_t e0, e1;
    SP_CUDA_CHECK(cudaEventCreate(&e0));
    SP_CUDA_CHECK(cudaEventCreate(&e1));
    for (int r = 0; r < BENCH_WARMUP; r++)
        sp_cuda_attention(dout->d, 1, dqkv->d, 0, &bb.ab, NH, NKV, D, scale, config, 0);
    for (int r = 0; r < BENCH_RUNS; r++) {
        SP_CUDA_CHECK(cudaEventRecord(e0, 0));
        sp_cuda_attention(dout->d, 1, dqkv->d, 0, &bb.ab, NH, NKV, D, scale, config, 0);
        SP_CUDA_CHECK(cudaEventRecord(e1, 0));
        SP_CUDA_CHECK(cudaEventSynchronize(e1));
        SP_CUDA_CHECK(cudaEventElapsedTime(&ms[r], e0, e1));
    }
    SP_CUDA_CHECK(cudaEventDestroy(e0));
    SP_CUDA_CHECK(cudaEventDestroy(e1));
    bench_batch_free(&bb);
    qsort(ms, BENCH_RUNS, sizeof ms[0], cmp_float);
    return ms[BENCH_RUNS / 2];
}

static void widen(const uint16_t *bits, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = sp_bf16_to_f32(bits[i]);
}

/* Configs 1 and 2 on one batch shape: timings, TFLOP/s, ratio, output difference. */
static void bench_case(int32_t items, int64_t len, int64_t NH, int64_t NKV, int64_t D)
{
    int64_t T = items * len, ld = (NH + 2 * NKV) * D;
    size_t n = (size_t)(T * ld), no = (size_t)(T * NH * D);
    float *qkv = sp_xmalloc(n * sizeof *qkv), *o1 = sp_xmalloc(no * 4), *o2 = sp_xmalloc(no * 4);
    uint16_t *bits = sp_xmalloc(no * 2);
    sp_test_fill(qkv, n, 99, 1.0f);
    sp_dbuf dqkv = sp_dbuf_from(qkv, n * sizeof *qkv), d1 = sp_dbuf_new(no * 2),
            d2 = sp_dbuf_new(no * 2);
    double pairs = (double)items * (double)len * (double)(len + 1) / 2.0;
    double flop = 4.0 * (double)D * pairs * (double)NH;
    float ms1 = bench_time(&d1, &dqkv, items, len, 1, NH, NKV, D);
    float ms2 = bench_time(&d2, &dqkv, items, len, 2, NH, NKV, D);
    sp_dbuf_get(&d1, bits), widen(bits, o1, no);
    sp_dbuf_get(&d2, bits), widen(bits, o2, no);
    size_t bad = 0;
    double diff = sp_test_rel_l2(o2, o1, no, &bad);
    double tf1 = flop / (ms1 * 1e-3) / 1e12, tf2 = flop / (ms2 * 1e-3) / 1e12;
    printf("attention NH %lld NKV %lld D %lld %3dx%-4lld config 1: %8.3f ms %7.2f TFLOP/s   "
           "config 2: %8.3f ms %7.2f TFLOP/s   config2/config1 %.1fx   rel L2 diff %.2g\n",
           (long long)NH, (long long)NKV, (long long)D, items, (long long)len, ms1, tf1, ms2,
           tf2, tf2 / tf1, diff);
    printf("RESULT attention %dx%lld config1 %.2f config2 %.2f TFLOP/s\n", items, (long long)len,
           tf1, tf2);
    if (!(diff >= 0.0 && diff < 1e-2))
        printf("bench_attention: WARNING: configs 1 and 2 differ by %.3g (index %zu)\n", diff, bad);
    sp_dbuf_free(&dqkv), sp_dbuf_free(&d1), sp_dbuf_free(&d2);
    free(qkv), free(o1), free(o2), free(bits);
}

int main(void)
{
    char why[256];
    if (!sp_cuda_probe(why, sizeof why)) return sp_test_skip("bench_attention", why);
    bench_case(64, 128, 32, 8, 128);
    bench_case(16, 512, 32, 8, 128);
    return 0;
}
#endif
