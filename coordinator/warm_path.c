/* warm_path.c — the lazy greedy-path warm start shared by PSO and WOA (see warm_path.h). */
#include "warm_path.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sp_warm_path_auto(int P)
{
    int m = (P + 4) / 5;
    if (m < 4) m = 4;
    return m < P ? m : P;
}

int64_t sp_warm_path_cost(const sp_search_problem *p, int m, int W)
{
    if (m < 0) m = sp_warm_path_auto(p->n_prunable);
    if (W < 0) W = 1;
    return ((int64_t)p->n_prunable + (int64_t)(p->k - 1) * W * m) * p->n_fidelities;
}

void sp_warm_path_plan(const sp_search_problem *p, int m, int W, int n_warm, int64_t budget,
                       int *m_out, int *W_out)
{
    if (m < 0) m = sp_warm_path_auto(p->n_prunable);
    if (W < 0)
        W = budget > 0 && sp_warm_path_cost(p, m, SP_WARM_BEAM_AUTO) <= budget / 2
                ? SP_WARM_BEAM_AUTO
                : 1;
    *W_out = W;
    *m_out = m == 0 || n_warm > 0 || (budget > 0 && sp_warm_path_cost(p, m, W) > budget / 2)
                 ? 0
                 : m;
}

void sp_warm_path_init(sp_warm_path *w, int P, int m, int W)
{
    memset(w, 0, sizeof *w);
    w->P = P;
    w->m = m;
    w->W = W;
    w->n_beam = 1; /* the empty mask, fitness 0 (memset) */
    w->harm = sp_xmalloc((size_t)P * sizeof(double));
    for (int d = 0; d < P; d++) w->harm[d] = NAN;
}

static int warm_path_room(const sp_warm_path *w)
{
    return w->W * w->m > w->P ? w->W * w->m : w->P;
}

int sp_warm_path_start(sp_warm_path *w, const sp_search_problem *p, int m, int W, int n_warm,
                       int64_t budget)
{
    int m_run, W_run;
    sp_warm_path_plan(p, m, W, n_warm, budget, &m_run, &W_run);
    sp_warm_path_init(w, p->n_prunable, m_run, W_run);
    return warm_path_room(w);
}

void sp_warm_path_free(sp_warm_path *w)
{
    free(w->harm);
    memset(w, 0, sizeof *w);
}

int sp_warm_path_active(const sp_warm_path *w, const sp_search_problem *p)
{
    return w->m > 0 && w->step < p->k;
}

int sp_warm_path_propose(const sp_warm_path *w, const sp_search_problem *p, sp_candidate *out)
{
    if (!sp_warm_path_active(w, p)) return 0;
    int P = w->P, n = 0, full = sp_search_full_fidelity(p);
    /* Step 1: every slot. Later, for each mask of the beam: the m slots off it with the lowest
     * latest harm (ties: lower slot); never scored ones (at full fidelity: successive halving
     * dropped them, or the step was cut short) last; a mask two beam members share once. */
    for (int b = 0; b < w->n_beam; b++) {
        const sp_mask *base = &w->beam[b];
        uint8_t taken[SP_MAX_LAYERS] = {0};
        int want = w->step == 0 ? P : w->m;
        for (int got = 0; got < want;) {
            int best = -1;
            for (int d = 0; d < P; d++) {
                if (taken[d] || sp_mask_test(base, p->prunable[d])) continue;
                if (best < 0 || (isnan(w->harm[best]) && !isnan(w->harm[d])) ||
                    (!isnan(w->harm[d]) && w->harm[d] < w->harm[best]))
                    best = d;
            }
            if (best < 0) break;
            taken[best] = 1;
            got++;
            sp_mask c = *base;
            sp_mask_set(&c, p->prunable[best]);
            int dup = 0;
            for (int i = 0; i < n && !dup; i++) dup = sp_mask_equal(&out[i].mask, &c);
            if (dup) continue;
            out[n].mask = c;
            out[n].fidelity = full;
            n++;
        }
    }
    return n;
}

void sp_warm_path_observe(sp_warm_path *w, const sp_search_problem *p, const sp_candidate *c,
                          const double *fitness, const int *fidelity, int n)
{
    int full = sp_search_full_fidelity(p);
    /* The new beam: the W best full-fidelity candidates (ties: first proposed). */
    int order[SP_WARM_BEAM_MAX], n_new = 0;
    for (int i = 0; i < n; i++) {
        if (fidelity[i] != full || !isfinite(fitness[i])) continue;
        int at = n_new < w->W ? n_new++ : w->W;
        while (at > 0 && fitness[i] < fitness[order[at - 1]]) {
            if (at < w->W) order[at] = order[at - 1];
            at--;
        }
        if (at < w->W) order[at] = i;
    }
    if (n_new == 0) return; /* nothing usable: the step is proposed again */
    /* The slot each candidate adds to the beam mask it extends (the first, when two do), and
     * its fresh harm f(S + d) - f(S) — the lowest when several are measured; step 1 has no
     * f(dense) yet, so its harms are the raw fitnesses f({d}), f(empty) being taken as 0 (one
     * common offset: ranks are exact). */
    double fresh[SP_MAX_LAYERS];
    for (int d = 0; d < w->P; d++) fresh[d] = NAN;
    double dense_sum = 0.0;
    int dense_n = 0;
    for (int i = 0; i < n; i++) {
        if (fidelity[i] != full || !isfinite(fitness[i])) continue;
        int slot = -1;
        double parent = NAN;
        for (int b = 0; b < w->n_beam && slot < 0; b++) {
            const sp_mask *base = &w->beam[b];
            int extra = -1, n_extra = 0, subset = 1;
            for (int d = 0; d < w->P && subset; d++) {
                int in_c = sp_mask_test(&c[i].mask, p->prunable[d]);
                int in_b = sp_mask_test(base, p->prunable[d]);
                if (in_b && !in_c) subset = 0;
                else if (in_c && !in_b) extra = d, n_extra++;
            }
            if (subset && n_extra == 1) slot = extra, parent = w->beam_fit[b];
        }
        if (slot < 0) continue; /* not an extension of the beam (never proposed) */
        double h = fitness[i] - parent;
        /* Step 2 estimates f(dense) = f({d}) - (f({a, d}) - f({a})) from each candidate. */
        if (w->step == 1 && isfinite(w->harm[slot])) {
            dense_sum += w->harm[slot] - h;
            dense_n++;
        }
        if (isnan(fresh[slot]) || h < fresh[slot]) fresh[slot] = h;
    }
    /* ... and puts the stale step-1 harms on the same footing: f({d}) - f(dense). */
    for (int d = 0; d < w->P; d++) {
        if (!isnan(fresh[d])) w->harm[d] = fresh[d];
        else if (dense_n > 0 && isfinite(w->harm[d])) w->harm[d] -= dense_sum / dense_n;
    }
    w->n_beam = n_new;
    for (int b = 0; b < n_new; b++) {
        w->beam[b] = c[order[b]].mask;
        w->beam_fit[b] = fitness[order[b]];
    }
    w->step++;
}

int sp_warm_path_save(const sp_warm_path *w, const char *name, sp_state *st, sp_error *err)
{
    char key[SP_STATE_NAME_MAX];
    int64_t bw[SP_WARM_BEAM_MAX * SP_MASK_WORDS] = {0}, step[4] = {w->step, w->m, w->W, w->n_beam};
    double bf[SP_WARM_BEAM_MAX];
    for (int b = 0; b < w->W; b++) bf[b] = b < w->n_beam ? w->beam_fit[b] : NAN;
    sp_search_masks_to_i64(w->beam, w->n_beam, bw);
#define PUT(suffix, call)                                                                     \
    do {                                                                                      \
        snprintf(key, sizeof key, "%s/%s", name, suffix);                                     \
        if (call) return -1;                                                                  \
    } while (0)
    PUT("path_step", sp_state_put_i64(st, key, 4, 0, step, err)); /* step, m, W, masks held */
    PUT("path_beam", sp_state_put_i64(st, key, (size_t)w->W, SP_MASK_WORDS, bw, err));
    PUT("path_beam_fitness", sp_state_put_f64(st, key, (size_t)w->W, 0, bf, err));
    PUT("path_harm", sp_state_put_f64(st, key, (size_t)w->P, 0, w->harm, err));
#undef PUT
    return 0;
}

int sp_warm_path_load(sp_warm_path *w, const sp_search_problem *p, const char *name,
                      const sp_state *st, sp_error *err)
{
    char key[SP_STATE_NAME_MAX];
    int64_t bw[SP_WARM_BEAM_MAX * SP_MASK_WORDS], step[4];
    double bf[SP_WARM_BEAM_MAX];
#define GET(suffix, call)                                                                     \
    do {                                                                                      \
        snprintf(key, sizeof key, "%s/%s", name, suffix);                                     \
        if (call) return -1;                                                                  \
    } while (0)
    GET("path_step", sp_state_get_i64(st, key, 4, 0, step, err));
    if (step[0] < 0 || step[0] > p->k)
        return sp_error_set(err, "state: %s/path_step: %lld outside [0, %d]", name,
                            (long long)step[0], p->k);
    if (step[1] < 0 || step[1] > w->P)
        return sp_error_set(err, "state: %s/path_step: width %lld outside [0, %d]", name,
                            (long long)step[1], w->P);
    if (step[2] < 1 || step[2] > SP_WARM_BEAM_MAX)
        return sp_error_set(err, "state: %s/path_step: beam %lld outside [1, %d]", name,
                            (long long)step[2], SP_WARM_BEAM_MAX);
    if (step[3] < 1 || step[3] > (step[0] > 0 ? step[2] : 1))
        return sp_error_set(err, "state: %s/path_step: %lld beam masks at step %lld (beam %lld)",
                            name, (long long)step[3], (long long)step[0], (long long)step[2]);
    GET("path_beam", sp_state_get_i64(st, key, (size_t)step[2], SP_MASK_WORDS, bw, err));
    GET("path_beam_fitness", sp_state_get_f64(st, key, (size_t)step[2], 0, bf, err));
    GET("path_harm", sp_state_get_f64(st, key, (size_t)w->P, 0, w->harm, err));
#undef GET
    sp_search_masks_from_i64(bw, (int)step[3], w->beam);
    for (int b = 0; b < (int)step[3]; b++) {
        if (sp_search_mask_check(p, &w->beam[b], (int)step[0], err))
            return sp_error_wrap(err, "state: %s/path_beam[%d]", name, b);
        if (!isfinite(bf[b]) || (b > 0 && bf[b] < bf[b - 1]))
            return sp_error_set(err, "state: %s/path_beam_fitness[%d]: bad value %g", name, b,
                                bf[b]);
        w->beam_fit[b] = bf[b];
    }
    for (int d = 0; d < w->P; d++)
        if (isinf(w->harm[d]))
            return sp_error_set(err, "state: %s/path_harm[%d]: bad value %g", name, d, w->harm[d]);
    w->step = step[0];
    w->m = (int)step[1];
    w->W = (int)step[2];
    w->n_beam = (int)step[3];
    return 0;
}
