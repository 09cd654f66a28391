/* attention.cu — flash-style causal GQA attention with the prefix/branch rule (attention.h).
 * Configs 0 and 1 (CUDA cores, fp32): a block of 4 warps takes one (query tile, head); each warp
 * owns ROWS query rows. Per block of 32 keys the K and V rows go to shared memory (fp32); lane j
 * scores key j for each row, the warp updates the row's running max m, sum l and output
 * accumulator (lane owns dims lane, lane+32, ...) with the usual rescaling by exp(m_old - m_new).
 * Invisible keys get p = 0. Instantiations: input {fp32, bf16} x output {fp32, bf16} x ROWS {1, 4}.
 * Config 2 (tensor cores, bf16 WMMA, fp32 accumulation): see the section further down. */
#include "attention.h"
#include "cuda_common.cuh"

#include <mma.h>
#include <string.h>

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

/* ---- Config 2: tensor cores (bf16 WMMA m16n16k16, fp32 accumulation) ----------------------
 * A block of 4 warps takes 64 queries of one item and one head; warp w owns query rows
 * [16w, 16w + 16). Q is staged once as bf16 and kept in registers as WMMA A fragments. Per tile
 * of 64 keys (only tiles starting at or before the tile's last query) K and V are staged as bf16
 * [64][D + 8] (rows past the item are zero), then each warp
 *   1. S = Q K^T (16 x 64, fp32) with WMMA, stored to its private smem buffer,
 *   2. online softmax per row in fp32 (log2 domain): two lanes per row, visibility per element
 *      as sp_ref_attn_visible, P = exp2(s - m_new) rounded to bf16 into smem, l accumulates the
 *      rounded values (the weights P V really uses), corr = exp2(m_old - m_new) per row,
 *   3. rescales its O accumulator fragments by corr row-wise and adds P V with WMMA.
 * Fragment element order is unspecified, so the row of every accumulator element is found once
 * by loading a matrix whose entries are their own row index (load_matrix_sync is well defined);
 * row-wise scaling then reads the per-row factor from smem. Rows with nothing visible yet keep
 * m = -inf, corr = 1, P = 0 (no NaN); the row's own key makes l >= 1 in the end. Needs sm_80+,
 * D % 16 == 0 and D <= SP_TC_MAX_D (O and Q live in registers: 2 x D/16 fragments). */
#define SP_TC_BQ 64                       /* queries per block = sp_cuda_attn_rows(2) */
#define SP_TC_BK 64                       /* keys per tile */
#define SP_TC_MAX_D 128
#define SP_TC_SLD (SP_TC_BK + 4)          /* fp32 score row stride (WMMA: multiple of 4) */
#define SP_TC_PLD (SP_TC_BK + 8)          /* bf16 probability row stride (multiple of 8) */
#define SP_TC_LOG2E 1.4426950408889634f

namespace wm = nvcuda::wmma;
typedef __nv_bfloat16 sp_bf;
typedef wm::fragment<wm::accumulator, 16, 16, 16, float> sp_tc_acc;

/* Byte offsets into the dynamic shared memory (every region 128-byte aligned; WMMA pointers
 * need 32). Region A holds the staged Q [64][ld] first, then (after all warps took their Q
 * fragments) the per-warp scores [16][SLD] fp32 and probabilities [16][PLD] bf16. The output
 * staging [4 x 16][D + 4] fp32 reuses K and V after the key loop (256 (D+4) <= 256 (D+8)). */
struct sp_tc_layout {
    size_t s, p, k, v, kbr, rs, total;
    int ld; /* bf16 row stride of Q, K, V: D + 8 (multiple of 8, rows 16-byte aligned) */
};

__host__ __device__ inline size_t sp_tc_up128(size_t x) { return (x + 127) / 128 * 128; }

__host__ __device__ inline sp_tc_layout sp_tc_layout_of(int64_t D)
{
    sp_tc_layout L;
    L.ld = (int)D + 8;
    size_t q = (size_t)SP_TC_BQ * L.ld * sizeof(sp_bf);
    size_t sp = (size_t)SP_ATTN_WARPS * 16 *
                (SP_TC_SLD * sizeof(float) + SP_TC_PLD * sizeof(sp_bf));
    L.s = 0;
    L.p = (size_t)SP_ATTN_WARPS * 16 * SP_TC_SLD * sizeof(float);
    L.k = sp_tc_up128(q > sp ? q : sp);
    L.v = L.k + sp_tc_up128((size_t)SP_TC_BK * L.ld * sizeof(sp_bf));
    L.kbr = L.v + sp_tc_up128((size_t)SP_TC_BK * L.ld * sizeof(sp_bf));
    L.rs = L.kbr + sp_tc_up128(SP_TC_BK * sizeof(int32_t));
    L.total = L.rs + sp_tc_up128(SP_ATTN_WARPS * 16 * sizeof(float));
    return L;
}

/* 8 consecutive elements (16-byte aligned bf16, 32-byte aligned fp32) as 8 bf16 in a uint4. */
__device__ __forceinline__ uint4 sp_tc_ld8(const sp_bf *p)
{
    return __ldg(reinterpret_cast<const uint4 *>(p));
}
__device__ __forceinline__ uint4 sp_tc_ld8(const float *p)
{
    const float4 x = __ldg(reinterpret_cast<const float4 *>(p));
    const float4 y = __ldg(reinterpret_cast<const float4 *>(p) + 1);
    __nv_bfloat162 h[4] = {__floats2bfloat162_rn(x.x, x.y), __floats2bfloat162_rn(x.z, x.w),
                           __floats2bfloat162_rn(y.x, y.y), __floats2bfloat162_rn(y.z, y.w)};
    uint4 v;
    memcpy(&v, h, sizeof v);
    return v;
}

/* dst [64][ld] bf16 = rows [r0, r0 + 64) of the D columns at `col` of the item starting at
 * token a (n tokens); rows >= n are zero (finite: 0 * them stays 0 in P V). */
template <typename TI>
__device__ void sp_tc_stage(sp_bf *dst, int ld, const TI *qkv, int64_t a, int64_t n, int64_t r0,
                            int64_t col, const sp_attn_dims &dm)
{
    const int cpr = (int)(dm.D / 8); /* 8-element chunks per row */
    for (int e = threadIdx.x; e < SP_TC_BQ * cpr; e += blockDim.x) {
        const int r = e / cpr, c = (e - r * cpr) * 8;
        uint4 v = make_uint4(0u, 0u, 0u, 0u);
        if (r0 + r < n) v = sp_tc_ld8(qkv + (a + r0 + r) * dm.ld + col + c);
        *reinterpret_cast<uint4 *>(dst + r * ld + c) = v;
    }
}

/* Per-row state of the online softmax; lanes l and l + 16 share row l % 16 (each 32 keys). */
struct sp_tc_row {
    int64_t i;     /* item-local query index of the row */
    int valid;     /* the row is a query of the tile (not padding) */
    int32_t bri;   /* its branch id (0 when no branch array) */
    float m, l;    /* running max (log2 domain, scaled) and sum of the rounded probabilities */
};

/* Step 2 of the tile at key k0: reads the warp's scores S, writes P and rs[row] = corr. */
__device__ __forceinline__ void sp_tc_softmax(const float *S, sp_bf *Pm, float *rs,
                                              const int32_t *kbr, int64_t k0, int32_t P,
                                              int has_br, float sl2, sp_tc_row &row)
{
    const int lane = threadIdx.x % SP_WARP, r = lane & 15, half = lane >> 4;
    const int rot = r >> 3; /* column rotation: conflict-free float2 reads per half-warp */
    const float *srow = S + r * SP_TC_SLD + half * 32;
    sp_bf *prow = Pm + r * SP_TC_PLD + half * 32;
    const int64_t j0 = k0 + half * 32;
    uint32_t vis = 0; /* bit c: key j0 + c visible to this row */
    if (row.valid) {
        if (j0 + 31 <= row.i && (!has_br || j0 + 31 < P)) {
            vis = 0xffffffffu;
        } else {
            for (int c = 0; c < 32; c++) {
                const int64_t j = j0 + c;
                const int v = j <= row.i && (j < P || !has_br || kbr[half * 32 + c] == row.bri);
                vis |= (uint32_t)v << c;
            }
        }
    }
    float mx = -INFINITY;
    for (int c2 = 0; c2 < 16; c2++) {
        const int cc = 2 * ((c2 + rot) & 15);
        const float2 s = *reinterpret_cast<const float2 *>(srow + cc);
        if (vis >> cc & 1u) mx = fmaxf(mx, s.x * sl2);
        if (vis >> (cc + 1) & 1u) mx = fmaxf(mx, s.y * sl2);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
    const float m_new = fmaxf(row.m, mx);
    const int any = m_new != -INFINITY; /* same in both lanes of the row */
    const float corr = any ? exp2f(row.m - m_new) : 1.0f; /* m_old = -inf: exp2(-inf) = 0 */
    float sum = 0.0f;
    for (int c2 = 0; c2 < 16; c2++) {
        const int cc = 2 * ((c2 + rot) & 15);
        const float2 s = *reinterpret_cast<const float2 *>(srow + cc);
        const float p0 = any && (vis >> cc & 1u) ? exp2f(s.x * sl2 - m_new) : 0.0f;
        const float p1 = any && (vis >> (cc + 1) & 1u) ? exp2f(s.y * sl2 - m_new) : 0.0f;
        const __nv_bfloat162 pb = __floats2bfloat162_rn(p0, p1);
        *reinterpret_cast<__nv_bfloat162 *>(prow + cc) = pb;
        sum += __low2float(pb) + __high2float(pb);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 16);
    row.l = row.l * corr + sum;
    row.m = m_new;
    if (half == 0) rs[r] = corr;
}

/* Multiplies every accumulator element by rs[its row] (rowof from sp_tc_attention_kernel). */
template <int NF>
__device__ __forceinline__ void sp_tc_scale_rows(sp_tc_acc (&o)[NF], int nf, const float *rs,
                                                 const int (&rowof)[sp_tc_acc::num_elements])
{
    float c[sp_tc_acc::num_elements];
#pragma unroll
    for (int e = 0; e < sp_tc_acc::num_elements; e++) c[e] = rs[rowof[e]];
#pragma unroll
    for (int f = 0; f < NF; f++)
        if (f < nf)
#pragma unroll
            for (int e = 0; e < sp_tc_acc::num_elements; e++) o[f].x[e] *= c[e];
}

/* Steps 1 and 3 for the first nt (<= 4) 16-key slices of the tile; the step 2 in between. */
template <int NF>
__device__ __forceinline__ void sp_tc_scores(
    float *S, const sp_bf *Ks, int ld, int nt, int nf,
    const wm::fragment<wm::matrix_a, 16, 16, 16, sp_bf, wm::row_major> (&qf)[NF])
{
    for (int t = 0; t < nt; t++) {
        sp_tc_acc sf;
        wm::fill_fragment(sf, 0.0f);
#pragma unroll
        for (int f = 0; f < NF; f++)
            if (f < nf) {
                wm::fragment<wm::matrix_b, 16, 16, 16, sp_bf, wm::col_major> kf; /* K^T */
                wm::load_matrix_sync(kf, Ks + t * 16 * ld + f * 16, ld);
                wm::mma_sync(sf, qf[f], kf, sf);
            }
        wm::store_matrix_sync(S + t * 16, sf, SP_TC_SLD, wm::mem_row_major);
    }
}

template <int NF>
__device__ __forceinline__ void sp_tc_pv(sp_tc_acc (&o)[NF], const sp_bf *Pm, const sp_bf *Vs,
                                         int ld, int nt, int nf)
{
    for (int t = 0; t < nt; t++) {
        wm::fragment<wm::matrix_a, 16, 16, 16, sp_bf, wm::row_major> pf;
        wm::load_matrix_sync(pf, Pm + t * 16, SP_TC_PLD);
#pragma unroll
        for (int f = 0; f < NF; f++)
            if (f < nf) {
                wm::fragment<wm::matrix_b, 16, 16, 16, sp_bf, wm::row_major> vf;
                wm::load_matrix_sync(vf, Vs + t * 16 * ld + f * 16, ld);
                wm::mma_sync(o[f], pf, vf, o[f]);
            }
    }
}

/* Normalizes the warp's rows by 1 / l and writes the valid ones (after the key loop). */
template <typename TO, int NF>
__device__ __forceinline__ void sp_tc_store(TO *out, sp_tc_acc (&o)[NF], float *Os, float *rs,
                                            const int (&rowof)[sp_tc_acc::num_elements],
                                            const sp_tc_row &row, int nf, int nrows,
                                            int64_t t0, const sp_attn_dims &dm)
{
    const int lane = threadIdx.x % SP_WARP, D = 16 * nf, old = D + 4;
    if (lane < 16) rs[lane] = row.l > 0.0f ? 1.0f / row.l : 0.0f; /* l = 0: padding rows */
    __syncwarp();
    sp_tc_scale_rows<NF>(o, nf, rs, rowof);
#pragma unroll
    for (int f = 0; f < NF; f++)
        if (f < nf) wm::store_matrix_sync(Os + f * 16, o[f], old, wm::mem_row_major);
    __syncwarp();
    for (int e = lane; e < nrows * D; e += SP_WARP) {
        const int r = e / D, d = e - r * D;
        sp_st(out + (t0 + r) * dm.NH * D, d, Os[r * old + d]);
    }
}

template <typename TI, typename TO, int NF, bool EXACT>
__global__ void __launch_bounds__(SP_ATTN_WARPS * SP_WARP)
    sp_attention_tc_kernel(TO *out, const TI *qkv, sp_cuda_attn_batch b, sp_attn_dims dm)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap(); /* bf16 WMMA needs sm_80; the host side never launches it elsewhere by design */
#else
    extern __shared__ __align__(128) unsigned char sp_tc_smem[];
    const sp_tc_layout L = sp_tc_layout_of(dm.D);
    /* EXACT: D == 16 NF, the fragment loops need no guards */
    const int lane = threadIdx.x % SP_WARP, warp = threadIdx.x / SP_WARP;
    const int nf = EXACT ? NF : (int)(dm.D / 16);
    const int64_t D = dm.D, h = blockIdx.y, g = h / (dm.NH / dm.NKV);
    const int32_t it = b.tiles[2 * blockIdx.x], q0 = b.tiles[2 * blockIdx.x + 1];
    const int64_t a = b.item_off[it], n = b.item_off[it + 1] - a;
    const int32_t P = b.prefix_len[it];
    const int32_t *br = b.branch ? b.branch + a : NULL;
    const int nq = (int)(n - q0 < SP_TC_BQ ? n - q0 : SP_TC_BQ);
    sp_bf *Qs = reinterpret_cast<sp_bf *>(sp_tc_smem);
    sp_bf *Ks = reinterpret_cast<sp_bf *>(sp_tc_smem + L.k);
    sp_bf *Vs = reinterpret_cast<sp_bf *>(sp_tc_smem + L.v);
    float *S = reinterpret_cast<float *>(sp_tc_smem + L.s) + warp * 16 * SP_TC_SLD;
    sp_bf *Pm = reinterpret_cast<sp_bf *>(sp_tc_smem + L.p) + warp * 16 * SP_TC_PLD;
    int32_t *kbr = reinterpret_cast<int32_t *>(sp_tc_smem + L.kbr);
    float *rs = reinterpret_cast<float *>(sp_tc_smem + L.rs) + warp * 16;

    sp_tc_stage(Qs, L.ld, qkv, a, n, q0, h * D, dm);
    __syncthreads();
    wm::fragment<wm::matrix_a, 16, 16, 16, sp_bf, wm::row_major> qf[NF];
#pragma unroll
    for (int f = 0; f < NF; f++)
        if (f < nf) wm::load_matrix_sync(qf[f], Qs + warp * 16 * L.ld + f * 16, L.ld);
    __syncthreads(); /* region A turns into the score / probability buffers */
    /* The row of each accumulator element: load a matrix whose entries are their row index. */
    for (int e = lane; e < 256; e += SP_WARP) S[(e / 16) * SP_TC_SLD + e % 16] = (float)(e / 16);
    __syncwarp();
    int rowof[sp_tc_acc::num_elements];
    sp_tc_acc o[NF];
    wm::load_matrix_sync(o[0], S, SP_TC_SLD, wm::mem_row_major);
#pragma unroll
    for (int e = 0; e < sp_tc_acc::num_elements; e++) rowof[e] = (int)o[0].x[e];
#pragma unroll
    for (int f = 0; f < NF; f++) wm::fill_fragment(o[f], 0.0f);

    sp_tc_row row;
    const int r = lane & 15;
    row.i = q0 + warp * 16 + r;
    row.valid = warp * 16 + r < nq;
    row.bri = br && row.valid ? br[row.i] : 0;
    row.m = -INFINITY, row.l = 0.0f;
    const float sl2 = dm.scale * SP_TC_LOG2E;
    const int64_t q_last = q0 + nq - 1;                 /* last query of the block */
    const int nrows = nq - warp * 16 < 0 ? 0 : nq - warp * 16 > 16 ? 16 : nq - warp * 16;
    const int64_t w_last = q0 + warp * 16 + nrows - 1;  /* last query of the warp */
    for (int64_t k0 = 0; k0 <= q_last; k0 += SP_TC_BK) { /* later tiles: invisible (causal) */
        __syncthreads(); /* K, V, kbr, rs of the previous tile consumed */
        sp_tc_stage(Ks, L.ld, qkv, a, n, k0, (dm.NH + g) * D, dm);
        sp_tc_stage(Vs, L.ld, qkv, a, n, k0, (dm.NH + dm.NKV + g) * D, dm);
        if (threadIdx.x < SP_TC_BK)
            kbr[threadIdx.x] = br && k0 + threadIdx.x < n ? br[k0 + threadIdx.x] : 0;
        __syncthreads();
        /* 16-key slices this warp needs (warp-uniform): slices past its last query are
         * invisible to all its rows; their P columns are written 0 and never read. */
        int64_t nt64 = nrows > 0 && w_last >= k0 ? (w_last - k0) / 16 + 1 : 0;
        const int nt = (int)(nt64 < SP_TC_BK / 16 ? nt64 : SP_TC_BK / 16);
        if (nt == 0) continue; /* nothing visible; m, l, O unchanged */
        sp_tc_scores<NF>(S, Ks, L.ld, nt, nf, qf);
        __syncwarp();
        sp_tc_softmax(S, Pm, rs, kbr, k0, P, br != NULL, sl2, row);
        __syncwarp();
        sp_tc_scale_rows<NF>(o, nf, rs, rowof);
        sp_tc_pv<NF>(o, Pm, Vs, L.ld, nt, nf);
    }
    __syncthreads(); /* every warp done with K and V: they become the output staging */
    float *Os = reinterpret_cast<float *>(sp_tc_smem + L.k) + warp * 16 * (D + 4);
    sp_tc_store<TO, NF>(out + h * D, o, Os, rs, rowof, row, nf, nrows, a + q0 + warp * 16, dm);
#endif
}

/* Config 2 whenever it can do the head dim and an item fills at least one 64-query tile: the
 * tensor cores do ~16x the work per cycle of the scalar fp32 loop, so even a half-used tile of
 * the longest item wins; shorter batches keep config 1 (16 rows, >= 64 tokens) or 0 (4 rows),
 * whose tiles waste fewer padded rows. A judgement, not yet measured: see bench_attention. */
extern "C" int sp_cuda_attn_pick(int64_t max_item_len, int64_t D)
{
    if (max_item_len >= SP_TC_BQ && D % 16 == 0 && D >= 16 && D <= SP_TC_MAX_D) return 2;
    return max_item_len >= 64 ? 1 : 0;
}

extern "C" int sp_cuda_attn_rows(int config)
{
    SP_ASSERT_MSG(config >= 0 && config < SP_CUDA_ATTN_N_CONFIGS, "attention: bad config %d",
                  config);
    return config == 2 ? SP_TC_BQ : SP_ATTN_WARPS * (config == 1 ? 4 : 1);
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

template <typename TI, typename TO, int NF, bool EXACT>
static void sp_attn_tc_launch(void *out, const void *qkv, const sp_cuda_attn_batch *b,
                              const sp_attn_dims &dm, cudaStream_t stream)
{
    const size_t smem = sp_tc_layout_of(dm.D).total; /* 61952 bytes at D = 128 */
    if (smem > 48 * 1024) /* beyond the default limit: opt in (sm_80 and sm_90 allow it) */
        SP_CUDA_CHECK(cudaFuncSetAttribute(sp_attention_tc_kernel<TI, TO, NF, EXACT>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((unsigned)b->n_tiles, (unsigned)dm.NH);
    sp_attention_tc_kernel<TI, TO, NF, EXACT><<<grid, SP_ATTN_WARPS * SP_WARP, smem, stream>>>(
        static_cast<TO *>(out), static_cast<const TI *>(qkv), *b, dm);
    SP_CUDA_CHECK_LAUNCH();
}

template <typename TI, typename TO>
static void sp_attn_dispatch_rows(void *out, const void *qkv, const sp_cuda_attn_batch *b,
                                  const sp_attn_dims &dm, int config, cudaStream_t stream)
{
    /* config 2: exact fragment counts for the common head dims 64 and 128, guarded loops for
     * the other multiples of 16 */
    if (config == 2 && dm.D == 64) sp_attn_tc_launch<TI, TO, 4, true>(out, qkv, b, dm, stream);
    else if (config == 2 && dm.D == 128)
        sp_attn_tc_launch<TI, TO, 8, true>(out, qkv, b, dm, stream);
    else if (config == 2 && dm.D < 64) sp_attn_tc_launch<TI, TO, 4, false>(out, qkv, b, dm, stream);
    else if (config == 2) sp_attn_tc_launch<TI, TO, 8, false>(out, qkv, b, dm, stream);
    else if (config == 1) sp_attn_launch<TI, TO, 4>(out, qkv, b, dm, stream);
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
    if (config == 2) {
        SP_ASSERT_MSG(D % 16 == 0 && D <= SP_TC_MAX_D,
                      "attention: config 2 (tensor cores) needs a head dim that is a multiple of "
                      "16 and <= %d, got %lld (sp_cuda_attn_pick never picks it then)",
                      SP_TC_MAX_D, (long long)D);
        SP_ASSERT_MSG((uintptr_t)qkv % 16 == 0,
                      "attention: config 2 needs a 16-byte aligned qkv pointer (vector loads)");
    }
    if (b->n_tiles == 0) return;
    sp_attn_dims dm = {NH, NKV, D, (NH + 2 * NKV) * D, scale};
    typedef __nv_bfloat16 bf;
    if (qkv_bf16 && out_bf16) sp_attn_dispatch_rows<bf, bf>(out, qkv, b, dm, config, stream);
    else if (qkv_bf16) sp_attn_dispatch_rows<bf, float>(out, qkv, b, dm, config, stream);
    else if (out_bf16) sp_attn_dispatch_rows<float, bf>(out, qkv, b, dm, config, stream);
    else sp_attn_dispatch_rows<float, float>(out, qkv, b, dm, config, stream);
}
