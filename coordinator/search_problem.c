/* search_problem.c — search space, top-k decoding, exact-k sampling (see search_problem.h). */
#include "search_problem.h"

#include <math.h>
#include <string.h>

#include "common/rng.h"

int sp_search_problem_init(sp_search_problem *p, int n_layers, int k,
                           const sp_mask *protected_layers, int n_fidelities, sp_error *err)
{
    memset(p, 0, sizeof *p);
    if (n_layers < 2 || n_layers > SP_MAX_LAYERS)
        return sp_error_set(err, "problem.n_layers: expected an integer in [2, %d], got %d",
                            SP_MAX_LAYERS, n_layers);
    if (n_fidelities < 1 || n_fidelities > SP_MAX_FIDELITIES)
        return sp_error_set(err, "problem.fidelities: expected an integer in [1, %d], got %d",
                            SP_MAX_FIDELITIES, n_fidelities);
    sp_mask prot;
    if (protected_layers) {
        prot = *protected_layers;
        for (int i = n_layers; i < SP_MAX_LAYERS; i++)
            if (sp_mask_test(&prot, i))
                return sp_error_set(err, "problem.protected: layer %d out of range (the model "
                                    "has %d layers)", i, n_layers);
    } else {
        sp_mask_clear(&prot);
        sp_mask_set(&prot, 0);
        sp_mask_set(&prot, n_layers - 1);
    }
    p->n_layers = n_layers;
    p->n_fidelities = n_fidelities;
    for (int i = 0; i < SP_MAX_LAYERS; i++) p->slot_of[i] = -1;
    for (int i = 0; i < n_layers; i++)
        if (!sp_mask_test(&prot, i)) {
            p->slot_of[i] = p->n_prunable;
            p->prunable[p->n_prunable++] = i;
        }
    if (p->n_prunable < 2)
        return sp_error_set(err, "problem.protected: the protected layers leave %d of the %d "
                            "layers prunable: nothing to search (k must be less than the "
                            "number of prunable layers)", p->n_prunable, n_layers);
    if (k < 1 || k >= p->n_prunable)
        return sp_error_set(err, "problem.k: expected an integer in [1, %d] (fewer than the %d "
                            "prunable layers), got %d", p->n_prunable - 1, p->n_prunable, k);
    p->k = k;
    return 0;
}

int sp_search_mask_check(const sp_search_problem *p, const sp_mask *m, int expect, sp_error *err)
{
    char buf[1024];
    for (int i = 0; i < SP_MAX_LAYERS; i++)
        if (sp_mask_test(m, i) && (i >= p->n_layers || p->slot_of[i] < 0))
            return sp_error_set(err, "mask {%s}: layer %d is not prunable",
                                sp_mask_format(m, buf, sizeof buf), i);
    int c = sp_mask_count(m);
    if (c != expect)
        return sp_error_set(err, "mask {%s}: removes %d layers, expected exactly %d",
                            sp_mask_format(m, buf, sizeof buf), c, expect);
    return 0;
}

void sp_search_decode_topk(const sp_search_problem *p, const double *pos, sp_mask *out)
{
    /* rank(i) = #{j : pos[j] > pos[i] or (pos[j] == pos[i] and j < i)} is a permutation of
     * 0..P-1 for any input without NaN, so exactly k slots have rank < k. */
    int P = p->n_prunable;
    sp_mask_clear(out);
    for (int i = 0; i < P; i++) {
        SP_ASSERT_MSG(!isnan(pos[i]), "NaN position at slot %d", i);
        int rank = 0;
        for (int j = 0; j < P && rank < p->k; j++)
            if (pos[j] > pos[i] || (pos[j] == pos[i] && j < i)) rank++;
        if (rank < p->k) sp_mask_set(out, p->prunable[i]);
    }
    SP_ASSERT(sp_mask_count(out) == p->k);
}

void sp_search_encode_mask(const sp_search_problem *p, const sp_mask *m, double lo, double hi,
                           double *pos)
{
    for (int i = 0; i < p->n_prunable; i++) pos[i] = sp_mask_test(m, p->prunable[i]) ? hi : lo;
}

void sp_search_random_mask(const sp_search_problem *p, uint64_t seed, uint64_t a, uint64_t b,
                           sp_mask *out)
{
    /* Partial Fisher-Yates over the slots; draw j picks among the P - j remaining. */
    int slots[SP_MAX_LAYERS];
    int P = p->n_prunable;
    for (int i = 0; i < P; i++) slots[i] = i;
    sp_mask_clear(out);
    for (int j = 0; j < p->k; j++) {
        uint64_t h = sp_rng_hash(seed, a, b, (uint64_t)j);
        int r = j + (int)(sp_rng_to_unit(h) * (double)(P - j));
        if (r >= P) r = P - 1;
        int t = slots[j];
        slots[j] = slots[r];
        slots[r] = t;
        sp_mask_set(out, p->prunable[slots[j]]);
    }
}

int64_t sp_search_binomial(int n, int r)
{
    if (r < 0 || r > n) return 0;
    if (r > n - r) r = n - r;
    /* c = C(n - r + i, i) stays integral at every step; saturate on overflow. */
    __int128 c = 1;
    for (int i = 1; i <= r; i++) {
        c = c * (n - r + i) / i;
        if (c > INT64_MAX) return INT64_MAX;
    }
    return (int64_t)c;
}

int sp_search_problem_save(const sp_search_problem *p, sp_state *st, sp_error *err)
{
    int64_t meta[4] = {p->n_layers, p->k, p->n_prunable, p->n_fidelities};
    int64_t pr[SP_MAX_LAYERS];
    for (int i = 0; i < p->n_prunable; i++) pr[i] = p->prunable[i];
    if (sp_state_put_i64(st, "problem/meta", 4, 0, meta, err)) return -1;
    return sp_state_put_i64(st, "problem/prunable", (size_t)p->n_prunable, 0, pr, err);
}

int sp_search_problem_check(const sp_search_problem *p, const sp_state *st, sp_error *err)
{
    int64_t meta[4], pr[SP_MAX_LAYERS];
    if (sp_state_get_i64(st, "problem/meta", 4, 0, meta, err)) return -1;
    if (meta[0] != p->n_layers || meta[1] != p->k || meta[2] != p->n_prunable ||
        meta[3] != p->n_fidelities)
        return sp_error_set(err, "state: problem/meta: saved for %lld layers, k %lld, %lld "
                            "prunable, %lld fidelities; this run has %d, %d, %d, %d",
                            (long long)meta[0], (long long)meta[1], (long long)meta[2],
                            (long long)meta[3], p->n_layers, p->k, p->n_prunable, p->n_fidelities);
    if (sp_state_get_i64(st, "problem/prunable", (size_t)p->n_prunable, 0, pr, err)) return -1;
    for (int i = 0; i < p->n_prunable; i++)
        if (pr[i] != p->prunable[i])
            return sp_error_set(err, "state: problem/prunable[%d]: saved layer %lld, this run "
                                "has %d", i, (long long)pr[i], p->prunable[i]);
    return 0;
}

void sp_search_masks_to_i64(const sp_mask *m, size_t n, int64_t *out)
{
    for (size_t i = 0; i < n; i++)
        for (int w = 0; w < SP_MASK_WORDS; w++) out[i * SP_MASK_WORDS + w] = (int64_t)m[i].w[w];
}

void sp_search_masks_from_i64(const int64_t *in, size_t n, sp_mask *m)
{
    for (size_t i = 0; i < n; i++)
        for (int w = 0; w < SP_MASK_WORDS; w++) m[i].w[w] = (uint64_t)in[i * SP_MASK_WORDS + w];
}
