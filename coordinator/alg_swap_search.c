/* alg_swap_search.c — memetic swap local search shared by PSO and WOA (their `local_search`
 * parameter, see algorithm.h): around the best mask so far, propose untried one-swap neighbours
 * (one removed layer restored, one kept layer removed, so exactly k stays removed), most
 * promising first by per-slot marginal statistics of every full-fidelity score seen. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm.h"
#include "common/rng.h"
#include "surrogate.h"

enum { TAG_SWAP_KEY = 0xA5, TAG_KICK = 0xA6 };

void sp_swap_search_init(sp_swap_search *s, int P)
{
    memset(s, 0, sizeof *s);
    s->P = P;
    s->tried = sp_xcalloc((size_t)P * (size_t)P, 1);
    s->sum_with = sp_xcalloc((size_t)P, sizeof(double));
    s->n_with = sp_xcalloc((size_t)P, sizeof(double));
    sp_fitness_cache_init(&s->seen);
}

void sp_swap_search_free(sp_swap_search *s)
{
    free(s->tried);
    free(s->sum_with);
    free(s->n_with);
    sp_fitness_cache_free(&s->seen);
    memset(s, 0, sizeof *s);
}

/* Estimated harm of removing slot d: mean fitness of scored masks removing it minus the mean
 * of all scored masks (0 while unseen). */
static double swap_harm(const sp_swap_search *s, int d)
{
    if (s->n_with[d] <= 0.0 || s->n_all <= 0.0) return 0.0;
    return s->sum_with[d] / s->n_with[d] - s->sum_all / s->n_all;
}

/* Slot of the j-th (0-based) set / unset member of flag[P]. */
static int nth_slot(const uint8_t *flag, int P, int want, int j)
{
    for (int d = 0; d < P; d++)
        if ((flag[d] != 0) == want && j-- == 0) return d;
    SP_ASSERT(0 && "nth_slot out of range");
    return -1;
}

/* A random two-swap neighbour of the center (two removed slots restored, two kept removed):
 * the kick once the one-swap neighbourhood is exhausted. Needs k >= 2 and P - k >= 2. */
static void swap_kick(const sp_swap_search *s, const sp_search_problem *p, const uint8_t *in,
                      uint64_t seed, uint64_t ctr, int j, sp_mask *out)
{
    int k = p->k, kept = s->P - k;
    uint64_t h[4];
    for (int t = 0; t < 4; t++) h[t] = sp_rng_hash(seed, ctr, (uint64_t)j, (uint64_t)t);
    int r1 = (int)(h[0] % (uint64_t)k), r2 = (int)(h[1] % (uint64_t)(k - 1));
    int q1 = (int)(h[2] % (uint64_t)kept), q2 = (int)(h[3] % (uint64_t)(kept - 1));
    r2 += r2 >= r1;
    q2 += q2 >= q1;
    *out = s->center;
    sp_mask_unset(out, p->prunable[nth_slot(in, s->P, 1, r1)]);
    sp_mask_unset(out, p->prunable[nth_slot(in, s->P, 1, r2)]);
    sp_mask_set(out, p->prunable[nth_slot(in, s->P, 0, q1)]);
    sp_mask_set(out, p->prunable[nth_slot(in, s->P, 0, q2)]);
}

/* Surrogate-ranked neighbours: a candidate and its prediction (ties: a counter-based key). */
typedef struct {
    sp_mask mask;
    double pred, key;
} ranked;

typedef struct {
    ranked *r; /* [cap] sorted by (pred, key) */
    int n, cap;
} top_list;

static int ranked_less(const ranked *a, const ranked *b)
{
    return a->pred < b->pred || (a->pred == b->pred && a->key < b->key);
}

/* Offers removed slots x[P] to the sorted list (unscored masks only, no duplicates). */
static void top_add(top_list *t, const sp_swap_search *s, const sp_search_problem *p,
                    const sp_surrogate *model, uint64_t seed, const uint8_t *x)
{
    ranked c;
    c.pred = sp_surrogate_predict(model, x);
    if (t->n == t->cap && c.pred > t->r[t->n - 1].pred) return;
    sp_mask_clear(&c.mask);
    for (int d = 0; d < s->P; d++)
        if (x[d]) sp_mask_set(&c.mask, p->prunable[d]);
    if (sp_fitness_cache_contains(&s->seen, &c.mask, 0)) return;
    for (int i = 0; i < t->n; i++)
        if (sp_mask_equal(&t->r[i].mask, &c.mask)) return;
    c.key = sp_rng_uniform(seed, TAG_SWAP_KEY, sp_mask_hash(&c.mask), 0);
    if (t->n == t->cap) {
        if (!ranked_less(&c, &t->r[t->n - 1])) return;
        t->n--; /* drop the worst */
    }
    int i = t->n++;
    for (; i > 0 && ranked_less(&c, &t->r[i - 1]); i--) t->r[i] = t->r[i - 1];
    t->r[i] = c;
}

static void slots_of(const sp_search_problem *p, const sp_mask *m, uint8_t *x)
{
    for (int d = 0; d < p->n_prunable; d++) x[d] = (uint8_t)sp_mask_test(m, p->prunable[d]);
}

/* Greedy descent of the surrogate from x by one-swaps (at most 4P steps). */
static void surrogate_descend(const sp_surrogate *model, int P, uint8_t *x)
{
    double cur = sp_surrogate_predict(model, x);
    for (int step = 0; step < 4 * P; step++) {
        int br = -1, bq = -1;
        double best = cur;
        for (int r = 0; r < P; r++) {
            if (!x[r]) continue;
            for (int q = 0; q < P; q++) {
                if (x[q]) continue;
                x[r] = 0;
                x[q] = 1;
                double f = sp_surrogate_predict(model, x);
                x[r] = 1;
                x[q] = 0;
                if (f < best) {
                    best = f;
                    br = r;
                    bq = q;
                }
            }
        }
        if (br < 0) return;
        x[br] = 0;
        x[bq] = 1;
        cur = best;
    }
}

/* The m most promising unscored masks by the surrogate: all one-swap neighbours of the center,
 * its two-swap neighbours (when there are at most 200000), and the end of the surrogate's own
 * descent from the center. Returns how many were found. */
static int surrogate_propose(const sp_swap_search *s, const sp_search_problem *p, uint64_t seed,
                             const uint8_t *in_center, int m, const sp_candidate *starts,
                             int n_starts, sp_candidate *out)
{
    int P = s->P, k = p->k, full = sp_search_full_fidelity(p);
    sp_surrogate model;
    sp_surrogate_init(&model, P, k);
    sp_surrogate_fit(&model, p, &s->seen, 0);
    /* t[0]: one-swap neighbours, t[1]: farther masks (two-swaps, descents) */
    top_list t[2] = {{sp_xcalloc((size_t)m, sizeof(ranked)), 0, m},
                     {sp_xcalloc((size_t)m, sizeof(ranked)), 0, m}};
    uint8_t x[SP_MAX_LAYERS];
    memcpy(x, in_center, (size_t)P);
    int R[SP_MAX_LAYERS], Q[SP_MAX_LAYERS], nr = 0, nq = 0;
    for (int d = 0; d < P; d++) {
        if (in_center[d]) R[nr++] = d;
        else Q[nq++] = d;
    }
    int64_t two = sp_search_binomial(k, 2) * sp_search_binomial(P - k, 2);
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < nq; b++) {
            x[R[a]] = 0;
            x[Q[b]] = 1;
            top_add(&t[0], s, p, &model, seed, x);
            if (two <= 200000) /* the mask depends on the pairs only: a < a2, b < b2 */
                for (int a2 = a + 1; a2 < nr; a2++)
                    for (int b2 = b + 1; b2 < nq; b2++) {
                        x[R[a2]] = 0;
                        x[Q[b2]] = 1;
                        top_add(&t[1], s, p, &model, seed, x);
                        x[R[a2]] = 1;
                        x[Q[b2]] = 0;
                    }
            x[R[a]] = 1;
            x[Q[b]] = 0;
        }
    for (int i = -1; model.fitted && i < n_starts; i++) { /* the center, then the starts */
        if (i >= 0) {
            if (sp_mask_count(&starts[i].mask) != k) continue;
            slots_of(p, &starts[i].mask, x);
        }
        surrogate_descend(&model, P, x);
        int dist = 0;
        for (int d = 0; d < P; d++) dist += x[d] != in_center[d];
        if (dist > 0) top_add(&t[dist > 2], s, p, &model, seed, x);
    }
    /* Half the slots (rounded up) for the best one-swaps, the rest for the farther masks; a
     * list that runs short leaves its slots to the other. Trusting the surrogate only this far
     * keeps steady local progress when its far predictions are off. */
    int take0 = (m + 1) / 2 < t[0].n ? (m + 1) / 2 : t[0].n, take1 = m - take0;
    if (take1 > t[1].n) take1 = t[1].n;
    if (take0 + take1 < m) take0 = m - take1 < t[0].n ? m - take1 : t[0].n;
    int n = 0;
    for (int i = 0; i < take0; i++) out[n++].mask = t[0].r[i].mask;
    for (int i = 0; i < take1; i++) out[n++].mask = t[1].r[i].mask;
    for (int i = 0; i < n; i++) out[i].fidelity = full;
    free(t[0].r);
    free(t[1].r);
    sp_surrogate_free(&model);
    return n;
}

/* The second center: the best scored k-layer mask at least SP_LS_FAR swaps from the center
 * (ties: first scored). 0 when there is none. */
static int second_center(const sp_swap_search *s, const sp_search_problem *p, sp_mask *out)
{
    double best = INFINITY;
    for (size_t i = 0; i < s->seen.n; i++) {
        const sp_cache_entry *e = &s->seen.entries[i];
        if (!(e->fitness < best) || sp_mask_count(&e->mask) != p->k) continue;
        int diff = 0;
        for (int d = 0; d < s->P; d++)
            diff += sp_mask_test(&e->mask, p->prunable[d]) != sp_mask_test(&s->center, p->prunable[d]);
        if (diff / 2 < SP_LS_FAR) continue;
        best = e->fitness;
        *out = e->mask;
    }
    return isfinite(best);
}

/* Surrogate proposals: around the center, and once it has stalled, half of them around the
 * second center (masks the first half already holds are not repeated). */
static int surrogate_propose_two(const sp_swap_search *s, const sp_search_problem *p,
                                 uint64_t seed, const uint8_t *in_center, int m,
                                 const sp_candidate *starts, int n_starts, sp_candidate *out)
{
    sp_mask second;
    int m2 = s->stale >= SP_LS_STALE && m >= 2 && second_center(s, p, &second) ? m / 2 : 0;
    int n = surrogate_propose(s, p, seed, in_center, m - m2, starts, n_starts, out);
    if (m2 == 0) return n;
    uint8_t in2[SP_MAX_LAYERS];
    slots_of(p, &second, in2);
    sp_candidate *more = sp_xcalloc((size_t)m2, sizeof *more);
    int n2 = surrogate_propose(s, p, seed, in2, m2, NULL, 0, more);
    for (int j = 0; j < n2; j++) {
        int dup = 0;
        for (int i = 0; i < n && !dup; i++) dup = sp_mask_equal(&out[i].mask, &more[j].mask);
        if (!dup) out[n++] = more[j];
    }
    free(more);
    return n;
}

int sp_swap_search_propose(const sp_swap_search *s, const sp_search_problem *p, uint64_t seed,
                           int64_t iteration, int m, sp_candidate *out)
{
    return sp_swap_search_propose_from(s, p, seed, iteration, m, NULL, 0, out);
}

int sp_swap_search_propose_from(const sp_swap_search *s, const sp_search_problem *p,
                                uint64_t seed, int64_t iteration, int m,
                                const sp_candidate *starts, int n_starts, sp_candidate *out)
{
    if (!s->has_center || m <= 0) return 0;
    int P = s->P, n = 0, full = sp_search_full_fidelity(p);
    uint8_t in_center[SP_MAX_LAYERS];
    for (int d = 0; d < P; d++) in_center[d] = (uint8_t)sp_mask_test(&s->center, p->prunable[d]);
    if (s->surrogate) {
        n = surrogate_propose_two(s, p, seed, in_center, m, starts, n_starts, out);
        goto kicks;
    }
    uint8_t *taken = sp_xcalloc((size_t)P * (size_t)P, 1);
    while (n < m) {
        int br = -1, bq = -1;
        double best = -INFINITY;
        for (int r = 0; r < P; r++) {
            if (!in_center[r]) continue;
            for (int q = 0; q < P; q++) {
                size_t pq = (size_t)r * (size_t)P + (size_t)q;
                if (in_center[q] || s->tried[pq] || taken[pq]) continue;
                /* Expected gain of restoring r and removing q; a fixed counter-based key per
                 * pair breaks ties (and orders the pairs before any statistics exist). */
                double g = swap_harm(s, r) - swap_harm(s, q) +
                           1e-9 * sp_rng_uniform(seed, TAG_SWAP_KEY, (uint64_t)r, (uint64_t)q);
                if (g > best) {
                    best = g;
                    br = r;
                    bq = q;
                }
            }
        }
        if (br < 0) break; /* the whole neighbourhood has been tried: a local optimum */
        taken[(size_t)br * (size_t)P + (size_t)bq] = 1;
        out[n].mask = s->center;
        sp_mask_unset(&out[n].mask, p->prunable[br]);
        sp_mask_set(&out[n].mask, p->prunable[bq]);
        out[n].fidelity = full;
        n++;
    }
    free(taken);
kicks:
    /* One-swap local optimum: the rest of the slots get random two-swap kicks. */
    if (p->k >= 2 && s->P - p->k >= 2)
        for (; n < m; n++) {
            swap_kick(s, p, in_center, seed, sp_alg_ctr(iteration, TAG_KICK), n, &out[n].mask);
            out[n].fidelity = full;
        }
    return n;
}

void sp_swap_search_record(sp_swap_search *s, const sp_search_problem *p, const sp_candidate *c,
                           const double *fitness, const int *fidelity, int n)
{
    int full = sp_search_full_fidelity(p);
    for (int i = 0; i < n; i++) {
        if (fidelity[i] != full || !isfinite(fitness[i])) continue;
        int dup = 0; /* a mask proposed by several members counts once per batch */
        for (int j = 0; j < i && !dup; j++) dup = sp_mask_equal(&c[j].mask, &c[i].mask);
        if (dup) continue;
        if (sp_mask_count(&c[i].mask) != p->k) { /* the greedy path's shorter masks */
            if (s->surrogate && !sp_fitness_cache_contains(&s->seen, &c[i].mask, 0))
                sp_fitness_cache_insert(&s->seen, &c[i].mask, 0, fitness[i]);
            continue;
        }
        for (int d = 0; d < s->P; d++)
            if (sp_mask_test(&c[i].mask, p->prunable[d])) {
                s->sum_with[d] += fitness[i];
                s->n_with[d] += 1.0;
            }
        s->sum_all += fitness[i];
        s->n_all += 1.0;
        if (s->surrogate && !sp_fitness_cache_contains(&s->seen, &c[i].mask, 0))
            sp_fitness_cache_insert(&s->seen, &c[i].mask, 0, fitness[i]);
    }
}

void sp_swap_search_mark(sp_swap_search *s, const sp_search_problem *p, const sp_candidate *c,
                         int n)
{
    for (int i = 0; i < n && s->has_center; i++) {
        int r = -1, q = -1, diff = 0;
        for (int d = 0; d < s->P; d++) {
            int a = sp_mask_test(&s->center, p->prunable[d]);
            int b = sp_mask_test(&c[i].mask, p->prunable[d]);
            if (a && !b) r = d;
            if (!a && b) q = d;
            diff += a != b;
        }
        /* a one-swap neighbour or a two-swap kick; the surrogate's descent may go farther */
        SP_ASSERT(s->surrogate || diff == 2 || diff == 4);
        if (diff == 2) s->tried[(size_t)r * (size_t)s->P + (size_t)q] = 1;
    }
}

void sp_swap_search_recenter(sp_swap_search *s, const sp_mask *center)
{
    if (s->has_center && sp_mask_equal(&s->center, center)) {
        s->stale++;
        return;
    }
    s->stale = 0;
    s->center = *center;
    s->has_center = 1;
    memset(s->tried, 0, (size_t)s->P * (size_t)s->P);
}

int sp_swap_search_save(const sp_swap_search *s, const char *name, sp_state *st, sp_error *err)
{
    char key[SP_STATE_NAME_MAX];
    int64_t cw[SP_MASK_WORDS];
    double all[2] = {s->sum_all, s->n_all};
    size_t P = (size_t)s->P;
    sp_search_masks_to_i64(&s->center, 1, cw);
#define PUT(suffix, call)                                                                     \
    do {                                                                                      \
        snprintf(key, sizeof key, "%s/%s", name, suffix);                                     \
        if (call) return -1;                                                                  \
    } while (0)
    PUT("ls_center", sp_state_put_i64(st, key, SP_MASK_WORDS, 0, cw, err));
    PUT("ls_has_center", sp_state_put_u8(st, key, 1, 0, &s->has_center, err));
    PUT("ls_stale", sp_state_put_i64(st, key, 1, 0, &s->stale, err));
    PUT("ls_tried", sp_state_put_u8(st, key, P, P, s->tried, err));
    PUT("ls_sum_with", sp_state_put_f64(st, key, P, 0, s->sum_with, err));
    PUT("ls_n_with", sp_state_put_f64(st, key, P, 0, s->n_with, err));
    PUT("ls_all", sp_state_put_f64(st, key, 2, 0, all, err));
    snprintf(key, sizeof key, "%s/ls_seen", name);
    if (s->surrogate && sp_fitness_cache_save(&s->seen, key, st, err)) return -1;
#undef PUT
    return 0;
}

int sp_swap_search_load(sp_swap_search *s, const sp_search_problem *p, const char *name,
                        const sp_state *st, sp_error *err)
{
    char key[SP_STATE_NAME_MAX];
    int64_t cw[SP_MASK_WORDS];
    double all[2];
    size_t P = (size_t)s->P;
#define GET(suffix, call)                                                                     \
    do {                                                                                      \
        snprintf(key, sizeof key, "%s/%s", name, suffix);                                     \
        if (call) return -1;                                                                  \
    } while (0)
    GET("ls_center", sp_state_get_i64(st, key, SP_MASK_WORDS, 0, cw, err));
    GET("ls_has_center", sp_state_get_u8(st, key, 1, 0, &s->has_center, err));
    GET("ls_stale", sp_state_get_i64(st, key, 1, 0, &s->stale, err));
    GET("ls_tried", sp_state_get_u8(st, key, P, P, s->tried, err));
    GET("ls_sum_with", sp_state_get_f64(st, key, P, 0, s->sum_with, err));
    GET("ls_n_with", sp_state_get_f64(st, key, P, 0, s->n_with, err));
    GET("ls_all", sp_state_get_f64(st, key, 2, 0, all, err));
    snprintf(key, sizeof key, "%s/ls_seen", name);
    if (s->surrogate && sp_fitness_cache_load(&s->seen, key, st, err)) return -1;
#undef GET
    sp_search_masks_from_i64(cw, 1, &s->center);
    s->sum_all = all[0];
    s->n_all = all[1];
    if (s->stale < 0)
        return sp_error_set(err, "state: %s/ls_stale: negative (%lld)", name, (long long)s->stale);
    if (s->has_center > 1)
        return sp_error_set(err, "state: %s/ls_has_center: expected 0 or 1, got %d", name,
                            s->has_center);
    if (s->has_center && sp_search_mask_check(p, &s->center, p->k, err))
        return sp_error_wrap(err, "state: %s/ls_center", name);
    for (size_t i = 0; i < P; i++)
        if (!(s->n_with[i] >= 0.0) || !isfinite(s->sum_with[i]))
            return sp_error_set(err, "state: %s/ls_n_with[%zu]: bad value %g", name, i,
                                s->n_with[i]);
    if (!(s->n_all >= 0.0) || !isfinite(s->sum_all))
        return sp_error_set(err, "state: %s/ls_all: bad values", name);
    return 0;
}

void sp_swap_search_adopt(const sp_search_problem *p, double *pos, const sp_mask *target)
{
    sp_mask cur;
    sp_search_decode_topk(p, pos, &cur);
    int out[SP_MAX_LAYERS], in[SP_MAX_LAYERS], n_out = 0, n_in = 0;
    for (int d = 0; d < p->n_prunable; d++) {
        int a = sp_mask_test(&cur, p->prunable[d]), b = sp_mask_test(target, p->prunable[d]);
        if (a && !b) out[n_out++] = d;
        if (!a && b) in[n_in++] = d;
    }
    SP_ASSERT(n_out == n_in);
    for (int j = 0; j < n_out; j++) {
        double t = pos[out[j]];
        pos[out[j]] = pos[in[j]];
        pos[in[j]] = t;
    }
    sp_search_decode_topk(p, pos, &cur);
    if (!sp_mask_equal(&cur, target)) sp_search_encode_mask(p, target, 0.0, 1.0, pos);
}
