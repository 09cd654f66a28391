/* task_kl.h — mean KL(dense || pruned) of next-token distributions over N calibration tokens.
 * The text's tokens are cut into windows of ctx tokens ([BOS] + ctx-1 text tokens when a BOS is
 * used); one distribution per text token of a window (the model's prediction after it), N in
 * all. The dense model's distributions are computed once (sp_kl_create) and cached; then any
 * number of masks are scored against the cache (sp_kl_score), one forward pass each.
 *
 * Cache: full log-probs [N x V] (fp32) when N*V*4 bytes fit the memory budget, exact KL.
 * Otherwise top-K: per row the K most probable dense tokens S (ids + fp32 log-probs) and the
 * tail mass p_T = 1 - p(S); KL is computed over the K+1 buckets S ∪ {tail}:
 *     KL_K = sum_{v in S} p_v log(p_v / q_v) + p_T log(p_T / q_T),  q_T = 1 - q(S).
 * Lumping outcomes never increases KL (log-sum inequality), so KL_K <= KL exactly, and the
 * error is KL - KL_K = sum_{v in T} p_v log(p_v / q_v) - p_T log(p_T / q_T) >= 0. With q known
 * in full at scoring time and every tail p_v <= p_min (the smallest cached top-K prob), the
 * error is at most the maximum of that convex expression over the tail polytope, reached by
 * putting mass p_min on the tail tokens of smallest q first: sp_kl_score reports this bound
 * (mean over rows) when asked. It is small when p_T is small (p_T log terms vanish with it). */
#ifndef SP_TASK_KL_H
#define SP_TASK_KL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/mask.h"

struct sp_engine;

#define SP_KL_DEFAULT_TOP_K 256
#define SP_KL_DEFAULT_MEM_BUDGET ((size_t)1 << 30) /* bytes for the dense cache */

typedef struct {
    int64_t ctx;          /* window length in tokens, BOS included (>= 2) */
    int32_t bos;          /* BOS id, or -1 for windows without BOS */
    int64_t top_k;        /* 0: full when it fits the budget, else SP_KL_DEFAULT_TOP_K;
                           * > 0: always top-K with this K (K < V) */
    size_t mem_budget;    /* bytes for a full cache; 0 = SP_KL_DEFAULT_MEM_BUDGET */
    size_t logits_budget; /* bytes of logits per forward call (>= one window); 0 = 64 MiB */
} sp_kl_options;

typedef struct sp_kl_scorer sp_kl_scorer;

typedef struct {
    double mean_kl;       /* nats per token */
    double max_kl;        /* largest per-token KL */
    double mean_bound;    /* top-K: mean upper bound of KL - KL_K (when asked), full: 0 */
    int64_t n_rows;       /* N */
    double wall_s;
} sp_kl_stats;

/* Runs the dense model over the first n_tokens of `tokens` (text tokens, no BOS) and caches its
 * distributions. The engine must outlive the scorer. */
int sp_kl_create(struct sp_engine *e, const int32_t *tokens, int64_t n_tokens,
                 const sp_kl_options *opt, sp_kl_scorer **out, sp_error *err);
void sp_kl_free(sp_kl_scorer *s);

/* Mean KL(dense || model with `removed` skipped) over the cached rows. want_bound computes the
 * top-K error bound too (sorts each row's tail: slower, for diagnostics and tests). */
int sp_kl_score(sp_kl_scorer *s, const sp_mask *removed, int want_bound, sp_kl_stats *out,
                sp_error *err);

/* The same over the first n_rows rows only (1 <= n_rows <= N): growing fidelity levels. Rows
 * depend only on earlier tokens, so this equals (up to rounding) a scorer built on the first
 * n_rows tokens. */
int sp_kl_score_first(sp_kl_scorer *s, const sp_mask *removed, int64_t n_rows, int want_bound,
                      sp_kl_stats *out, sp_error *err);

int64_t sp_kl_rows(const sp_kl_scorer *s);  /* N */
int sp_kl_is_full(const sp_kl_scorer *s);   /* 1 = exact full cache, 0 = top-K */
int64_t sp_kl_top_k(const sp_kl_scorer *s); /* K (V when full) */
size_t sp_kl_cache_bytes(const sp_kl_scorer *s);

#endif
