/* attention.cu — flash-style causal GQA attention with the prefix/branch rule (attention.h).
 * A block of 4 warps takes one (query tile, head); each warp owns ROWS query rows. Per block of
 * 32 keys the K and V rows go to shared memory (fp32); lane j scores key j for each row, the
 * warp updates the row's running max m, sum l and output accumulator (lane owns dims lane,
 * lane+32, ...) with the usual rescaling by exp(m_old - m_new). Invisible keys get p = 0.
 * Instantiations: input {fp32, bf16} x output {fp32, bf16} x ROWS {1, 4}. */
#include "attention.h"
#include "cuda_common.cuh"

#define SP_ATTN_WARPS 4
#define SP_ATTN_BK 32
#define SP_ATTN_DPL (SP_CUDA_ATTN_MAX_D / SP_WARP) /* output dims per lane, at most */

struct sp_attn_dims {
    int64_t NH, NKV, D, ld; /* ld = (NH + 2 NKV) D */
    float scale;
};

/* Loads the K and V rows of keys [k0, k0 + 32) of kv head g into Ks [32][D+1], Vs [32][D]. */
template <typename TI>
__device__ void sp_attn_load_kv(float *Ks, float *Vs, const TI *qkv, int64_t a, int64_t n,
                                int64_t k0, int64_t g, const sp_attn_dims &dm)
{
    int64_t D = dm.D, kcol = (dm.NH + g) * D, vcol = (dm.NH + dm.NKV + g) * D;
    for (int64_t e = threadIdx.x; e < SP_ATTN_BK * D; e += blockDim.x) {
        int64_t j = e / D, d = e - j * D, key = k0 + j;
        float kv = 0.0f, vv = 0.0f;
        if (key < n) {
            kv = sp_ld(qkv, (a + key) * dm.ld + kcol + d);
            vv = sp_ld(qkv, (a + key) * dm.ld + vcol + d);
        }
        Ks[j * (D + 1) + d] = kv;
        Vs[j * D + d] = vv;
    }
}

template <typename TI, typename TO, int ROWS>
__global__ void __launch_bounds__(SP_ATTN_WARPS * SP_WARP)
    sp_attention_kernel(TO *out, const TI *qkv, sp_cuda_attn_batch b, sp_attn_dims dm)
{
    extern __shared__ float smem[];
    const int BQ = SP_ATTN_WARPS * ROWS, lane = threadIdx.x % SP_WARP, warp = threadIdx.x / SP_WARP;
    const int64_t D = dm.D, h = blockIdx.y, g = h / (dm.NH / dm.NKV);
    const int32_t it = b.tiles[2 * blockIdx.x], q0 = b.tiles[2 * blockIdx.x + 1];
    const int64_t a = b.item_off[it], n = b.item_off[it + 1] - a;
    const int32_t P = b.prefix_len[it];
    const int32_t *br = b.branch ? b.branch + a : NULL;
    const int64_t nq = n - q0 < BQ ? n - q0 : BQ;
    float *Ks = smem, *Vs = Ks + SP_ATTN_BK * (D + 1), *Qs = Vs + SP_ATTN_BK * D;
    for (int64_t e = threadIdx.x; e < nq * D; e += blockDim.x) {
        int64_t r = e / D, d = e - r * D;
        Qs[r * D + d] = sp_ld(qkv, (a + q0 + r) * dm.ld + h * D + d);
    }
    float m[ROWS], l[ROWS], acc[ROWS][SP_ATTN_DPL];
    for (int k = 0; k < ROWS; k++) {
        m[k] = -INFINITY, l[k] = 0.0f;
        for (int c = 0; c < SP_ATTN_DPL; c++) acc[k][c] = 0.0f;
    }
    for (int64_t k0 = 0; k0 < q0 + nq; k0 += SP_ATTN_BK) {
        __syncthreads(); /* previous tile consumed (and Qs written, on the first pass) */
        sp_attn_load_kv(Ks, Vs, qkv, a, n, k0, g, dm);
        __syncthreads();
        for (int k = 0; k < ROWS; k++) {
            const int64_t r = warp * ROWS + k, i = q0 + r, j = k0 + lane;
            if (r >= nq) break; /* warp-uniform */
            const int vis = j <= i && (j < P || br == NULL || br[i] == br[j]);
            float s = -INFINITY;
            if (vis) {
                float dot = 0.0f;
                for (int64_t d = 0; d < D; d++) dot += Qs[r * D + d] * Ks[lane * (D + 1) + d];
                s = dot * dm.scale;
            }
            const float m_new = fmaxf(m[k], sp_warp_max(s));
            if (m_new == -INFINITY) continue; /* nothing visible yet for this row */
            const float p = vis ? expf(s - m_new) : 0.0f, corr = expf(m[k] - m_new);
            l[k] = l[k] * corr + sp_warp_sum(p);
            m[k] = m_new;
            for (int c = 0; c < SP_ATTN_DPL; c++) acc[k][c] *= corr;
            for (int jj = 0; jj < SP_ATTN_BK; jj++) {
                const float pj = __shfl_sync(0xffffffffu, p, jj);
                if (pj == 0.0f) continue; /* warp-uniform: invisible or underflowed key */
                for (int c = 0; c < SP_ATTN_DPL; c++) {
                    const int64_t d = lane + c * SP_WARP;
                    if (d < D) acc[k][c] += pj * Vs[jj * D + d];
                }
            }
        }
    }
    for (int k = 0; k < ROWS; k++) {
        const int64_t r = warp * ROWS + k;
        if (r >= nq) break;
        TO *o = out + (a + q0 + r) * dm.NH * D + h * D;
        for (int c = 0; c < SP_ATTN_DPL; c++) {
            const int64_t d = lane + c * SP_WARP;
            if (d < D) sp_st(o, d, acc[k][c] / l[k]); /* l >= 1: the row's own key is visible */
        }
    }
}

extern "C" int sp_cuda_attn_pick(int64_t max_item_len) { return max_item_len >= 64 ? 1 : 0; }

extern "C" int sp_cuda_attn_rows(int config)
{
    SP_ASSERT_MSG(config >= 0 && config < SP_CUDA_ATTN_N_CONFIGS, "attention: bad config %d",
                  config);
    return SP_ATTN_WARPS * (config == 1 ? 4 : 1);
}

extern "C" int64_t sp_cuda_attn_tiles(const int64_t *item_off, int32_t n_items, int config,
                                      int32_t *tiles)
{
    int64_t rows = sp_cuda_attn_rows(config), count = 0;
    for (int32_t it = 0; it < n_items; it++)
        for (int64_t q0 = 0; q0 < item_off[it + 1] - item_off[it]; q0 += rows, count++)
            if (tiles) {
                SP_ASSERT(q0 <= 0x7fffffff);
                tiles[2 * count] = it;
                tiles[2 * count + 1] = (int32_t)q0;
            }
    return count;
}

template <typename TI, typename TO, int ROWS>
static void sp_attn_launch(void *out, const void *qkv, const sp_cuda_attn_batch *b,
                           const sp_attn_dims &dm, cudaStream_t stream)
{
    const int BQ = SP_ATTN_WARPS * ROWS;
    size_t smem = sizeof(float) * (size_t)(SP_ATTN_BK * (dm.D + 1) + SP_ATTN_BK * dm.D + BQ * dm.D);
    if (smem > 48 * 1024) /* beyond the default limit: opt in (sm_80 and sm_90 allow it) */
        SP_CUDA_CHECK(cudaFuncSetAttribute(sp_attention_kernel<TI, TO, ROWS>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((unsigned)b->n_tiles, (unsigned)dm.NH);
    sp_attention_kernel<TI, TO, ROWS><<<grid, SP_ATTN_WARPS * SP_WARP, smem, stream>>>(
        static_cast<TO *>(out), static_cast<const TI *>(qkv), *b, dm);
    SP_CUDA_CHECK_LAUNCH();
}

template <typename TI, typename TO>
static void sp_attn_dispatch_rows(void *out, const void *qkv, const sp_cuda_attn_batch *b,
                                  const sp_attn_dims &dm, int config, cudaStream_t stream)
{
    if (config == 1) sp_attn_launch<TI, TO, 4>(out, qkv, b, dm, stream);
    else sp_attn_launch<TI, TO, 1>(out, qkv, b, dm, stream);
}

extern "C" void sp_cuda_attention(void *out, int out_bf16, const void *qkv, int qkv_bf16,
                                  const sp_cuda_attn_batch *b, int64_t NH, int64_t NKV, int64_t D,
                                  float scale, int config, cudaStream_t stream)
{
    (void)sp_cuda_attn_rows(config); /* validates config */
    SP_ASSERT(NKV > 0 && NH % NKV == 0 && NH <= 65535);
    SP_ASSERT_MSG(D >= 2 && D % 2 == 0 && D <= SP_CUDA_ATTN_MAX_D,
                  "attention: head dim %lld unsupported (even, <= %d)", (long long)D,
                  SP_CUDA_ATTN_MAX_D);
    if (b->n_tiles == 0) return;
    sp_attn_dims dm = {NH, NKV, D, (NH + 2 * NKV) * D, scale};
    typedef __nv_bfloat16 bf;
    if (qkv_bf16 && out_bf16) sp_attn_dispatch_rows<bf, bf>(out, qkv, b, dm, config, stream);
    else if (qkv_bf16) sp_attn_dispatch_rows<bf, float>(out, qkv, b, dm, config, stream);
    else if (out_bf16) sp_attn_dispatch_rows<float, bf>(out, qkv, b, dm, config, stream);
    else sp_attn_dispatch_rows<float, float>(out, qkv, b, dm, config, stream);
}
