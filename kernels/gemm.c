/* gemm.c — C[M, N] = beta C + A W^T through cuBLASLt (see gemm.h). cuBLASLt is column-major:
 * row-major C[M, N] is column-major C^T[N, M] = W A^T, so the Lt "A" operand is W (row-major
 * [N, K] = column-major K x N, transposed) and the Lt "B" operand is A (column-major K x M, not
 * transposed); C and D are the same column-major N x M matrix (in place). Plans are cached in
 * a small table with least-recently-used replacement. Compiled only with CUDA (SP_HAVE_CUDA);
 * host code, so gcc builds it. */
#ifdef SP_HAVE_CUDA
#include "gemm.h"

#include <cublasLt.h>
#include <limits.h>
#include <stdlib.h>

#include "cuda_check.h"

#define SP_GEMM_PLANS 48 /* > distinct shapes of one forward (7 per layer kind + head chunks) */

typedef struct {
    int64_t M, N, K;
    int c_bf16;
    uint32_t align[3]; /* W, A, C alignment in bytes (capped at 256) */
} gemm_key;

typedef struct {
    int used;
    uint64_t last_use;
    gemm_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t lw, la, lc;
    cublasLtMatmulAlgo_t algo;
    size_t ws_needed;
} gemm_plan;

struct sp_cuda_gemm {
    cublasLtHandle_t lt;
    cudaStream_t stream;
    void *ws;
    size_t ws_bytes;
    gemm_plan plans[SP_GEMM_PLANS];
    uint64_t clock;
    int64_t built;
};

int sp_cuda_gemm_create(cudaStream_t stream, sp_cuda_gemm **out, sp_error *err)
{
    *out = NULL;
    sp_cuda_gemm *g = sp_xcalloc(1, sizeof *g);
    g->stream = stream;
    g->ws_bytes = SP_CUDA_GEMM_WORKSPACE;
    if (cudaMalloc(&g->ws, g->ws_bytes) != cudaSuccess) {
        (void)cudaGetLastError();
        free(g);
        return sp_error_set(err, "gemm: cannot allocate the %zu-byte cuBLASLt workspace",
                            (size_t)SP_CUDA_GEMM_WORKSPACE);
    }
    SP_CUBLAS_CHECK(cublasLtCreate(&g->lt));
    *out = g;
    return 0;
}

static void gemm_plan_release(gemm_plan *p)
{
    if (!p->used) return;
    SP_CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->lw));
    SP_CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->la));
    SP_CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->lc));
    SP_CUBLAS_CHECK(cublasLtMatmulDescDestroy(p->desc));
    p->used = 0;
}

void sp_cuda_gemm_free(sp_cuda_gemm *g)
{
    if (!g) return;
    for (int i = 0; i < SP_GEMM_PLANS; i++) gemm_plan_release(&g->plans[i]);
    SP_CUBLAS_CHECK(cublasLtDestroy(g->lt));
    SP_CUDA_CHECK(cudaFree(g->ws));
    free(g);
}

int64_t sp_cuda_gemm_plans_built(const sp_cuda_gemm *g) { return g->built; }

/* Largest power of two (<= 256) dividing the address. */
static uint32_t gemm_alignment(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 1 && a % al != 0) al /= 2;
    return al;
}

static int gemm_key_eq(const gemm_key *a, const gemm_key *b)
{
    return a->M == b->M && a->N == b->N && a->K == b->K && a->c_bf16 == b->c_bf16 &&
           a->align[0] == b->align[0] && a->align[1] == b->align[1] && a->align[2] == b->align[2];
}

static void gemm_set_pref(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t a,
                          uint32_t v)
{
    SP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, a, &v, sizeof v));
}

/* Builds descriptors and asks the heuristic for the best algorithm of key k. */
static void gemm_plan_build(sp_cuda_gemm *g, gemm_plan *p, const gemm_key *k)
{
    cublasOperation_t tw = CUBLAS_OP_T, ta = CUBLAS_OP_N;
    cudaDataType_t ct = k->c_bf16 ? CUDA_R_16BF : CUDA_R_32F;
    p->key = *k;
    SP_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    SP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &tw,
                                                   sizeof tw));
    SP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &ta,
                                                   sizeof ta));
    SP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->lw, CUDA_R_16BF, (uint64_t)k->K,
                                               (uint64_t)k->N, k->K));
    SP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->la, CUDA_R_16BF, (uint64_t)k->K,
                                               (uint64_t)k->M, k->K));
    SP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->lc, ct, (uint64_t)k->N, (uint64_t)k->M, k->N));
    cublasLtMatmulPreference_t pref;
    SP_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t ws = g->ws_bytes;
    SP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    gemm_set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, k->align[0]);
    gemm_set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, k->align[1]);
    gemm_set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, k->align[2]);
    gemm_set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, k->align[2]);
    cublasLtMatmulHeuristicResult_t res;
    int n = 0;
    /* no algorithm: the call itself fails (CUBLAS_STATUS_NOT_SUPPORTED) or returns n == 0 */
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(g->lt, p->desc, p->lw, p->la, p->lc, p->lc,
                                                       pref, 1, &res, &n);
    SP_CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
    if (st != CUBLAS_STATUS_SUCCESS || n < 1 || res.state != CUBLAS_STATUS_SUCCESS)
        sp_fatal(__FILE__, __LINE__, __func__, "gemm: cuBLASLt has no algorithm for shape M %lld "
                 "N %lld K %lld (bf16 x bf16 -> %s, alignments W/A/C %u/%u/%u bytes, workspace "
                 "%zu bytes): heuristic status %d (%s), %d results", (long long)k->M,
                 (long long)k->N, (long long)k->K, k->c_bf16 ? "bf16" : "fp32", k->align[0],
                 k->align[1], k->align[2], g->ws_bytes, (int)st, cublasGetStatusName(st), n);
    p->algo = res.algo;
    p->ws_needed = res.workspaceSize;
    p->used = 1;
    g->built++;
}

/* The cached plan for key k, built on a miss (replacing the least recently used one). */
static const gemm_plan *gemm_plan_get(sp_cuda_gemm *g, const gemm_key *k)
{
    gemm_plan *victim = &g->plans[0];
    g->clock++;
    for (int i = 0; i < SP_GEMM_PLANS; i++) {
        gemm_plan *p = &g->plans[i];
        if (p->used && gemm_key_eq(&p->key, k)) {
            p->last_use = g->clock;
            return p;
        }
        if (!p->used || (victim->used && p->last_use < victim->last_use)) victim = p;
    }
    gemm_plan_release(victim);
    gemm_plan_build(g, victim, k);
    victim->last_use = g->clock;
    return victim;
}

void sp_cuda_gemm_nt(sp_cuda_gemm *g, void *C, int c_bf16, const uint16_t *A, const uint16_t *W,
                     int64_t M, int64_t N, int64_t K, float beta)
{
    SP_ASSERT(M >= 0 && N > 0 && K > 0 && M <= INT_MAX && N <= INT_MAX && K <= INT_MAX);
    if (M == 0) return;
    gemm_key k = {M, N, K, c_bf16 != 0, {gemm_alignment(W), gemm_alignment(A), gemm_alignment(C)}};
    const gemm_plan *p = gemm_plan_get(g, &k);
    const float alpha = 1.0f;
    SP_CUBLAS_CHECK(cublasLtMatmul(g->lt, p->desc, &alpha, W, p->lw, A, p->la, &beta, C, p->lc, C,
                                   p->lc, &p->algo, g->ws, p->ws_needed, g->stream));
}
#else
typedef int sp_gemm_built_without_cuda; /* keeps the translation unit non-empty */
#endif
