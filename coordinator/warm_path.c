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

int64_t sp_warm_path_cost(const sp_search_problem *p, int m)
{
    if (m < 0) m = sp_warm_path_auto(p->n_prunable);
    return ((int64_t)p->n_prunable + (int64_t)(p->k - 1) * m) * p->n_fidelities;
}

int sp_warm_path_width(const sp_search_problem *p, int m, int n_warm, int64_t budget)
{
    if (m < 0) m = sp_warm_path_auto(p->n_prunable);
    if (m == 0 || n_warm > 0) return 0;
    return budget > 0 && sp_warm_path_cost(p, m) > budget / 2 ? 0 : m;
}

void sp_warm_path_init(sp_warm_path *w, int P, int m)
{
    memset(w, 0, sizeof *w);
    w->P = P;
    w->m = m;
    w->current_fit = NAN;
    w->harm = sp_xmalloc((size_t)P * sizeof(double));
    for (int d = 0; d < P; d++) w->harm[d] = NAN;
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
    uint8_t taken[SP_MAX_LAYERS] = {0};
    /* Step 1: every slot. Later: the m slots off the path with the lowest latest harm (ties:
     * lower slot); never scored ones (at full fidelity: successive halving dropped them, or the
     * step was cut short) last. */
    int want = w->step == 0 ? P : w->m;
    while (n < want) {
        int best = -1;
        for (int d = 0; d < P; d++) {
            if (taken[d] || sp_mask_test(&w->current, p->prunable[d])) continue;
            if (best < 0 || (isnan(w->harm[best]) && !isnan(w->harm[d])) ||
                (!isnan(w->harm[d]) && w->harm[d] < w->harm[best]))
                best = d;
        }
        if (best < 0) break;
        taken[best] = 1;
        out[n].mask = w->current;
        sp_mask_set(&out[n].mask, p->prunable[best]);
        out[n].fidelity = full;
        n++;
    }
    return n;
}

void sp_warm_path_observe(sp_warm_path *w, const sp_search_problem *p, const sp_candidate *c,
                          const double *fitness, const int *fidelity, int n)
{
    int full = sp_search_full_fidelity(p), best = -1;
    for (int i = 0; i < n; i++)
        if (fidelity[i] == full && isfinite(fitness[i]) && (best < 0 || fitness[i] < fitness[best]))
            best = i;
    if (best < 0) return; /* nothing usable: the step is proposed again */
    /* The slot each candidate adds, and its fresh harm f(S + d) - f(S); step 1 has no f(dense)
     * yet, so its harms are the raw fitnesses f({d}) (one common offset: ranks are exact). */
    int slot[SP_MAX_LAYERS];
    uint8_t fresh[SP_MAX_LAYERS] = {0};
    double dense_sum = 0.0;
    int dense_n = 0;
    for (int i = 0; i < n; i++) {
        slot[i] = -1;
        if (fidelity[i] != full || !isfinite(fitness[i])) continue;
        for (int d = 0; d < w->P; d++)
            if (sp_mask_test(&c[i].mask, p->prunable[d]) &&
                !sp_mask_test(&w->current, p->prunable[d]))
                slot[i] = d;
        if (slot[i] < 0) continue; /* not an extension of the path (never proposed) */
        double h = w->step == 0 ? fitness[i] : fitness[i] - w->current_fit;
        /* Step 2 estimates f(dense) = f({d}) - (f({a, d}) - f({a})) from each candidate. */
        if (w->step == 1 && isfinite(w->harm[slot[i]])) {
            dense_sum += w->harm[slot[i]] - h;
            dense_n++;
        }
        w->harm[slot[i]] = h;
        fresh[slot[i]] = 1;
    }
    /* ... and puts the stale step-1 harms on the same footing: f({d}) - f(dense). */
    if (dense_n > 0)
        for (int d = 0; d < w->P; d++)
            if (!fresh[d] && isfinite(w->harm[d])) w->harm[d] -= dense_sum / dense_n;
    w->current = c[best].mask;
    w->current_fit = fitness[best];
    w->step++;
}

int sp_warm_path_save(const sp_warm_path *w, const char *name, sp_state *st, sp_error *err)
{
    char key[SP_STATE_NAME_MAX];
    int64_t cw[SP_MASK_WORDS], step[2] = {w->step, w->m};
    double fit[1] = {w->current_fit};
    sp_search_masks_to_i64(&w->current, 1, cw);
#define PUT(suffix, call)                                                                     \
    do {                                                                                      \
        snprintf(key, sizeof key, "%s/%s", name, suffix);                                     \
        if (call) return -1;                                                                  \
    } while (0)
    PUT("path_step", sp_state_put_i64(st, key, 2, 0, step, err)); /* step, width */
    PUT("path_current", sp_state_put_i64(st, key, SP_MASK_WORDS, 0, cw, err));
    PUT("path_current_fitness", sp_state_put_f64(st, key, 1, 0, fit, err));
    PUT("path_harm", sp_state_put_f64(st, key, (size_t)w->P, 0, w->harm, err));
#undef PUT
    return 0;
}

int sp_warm_path_load(sp_warm_path *w, const sp_search_problem *p, const char *name,
                      const sp_state *st, sp_error *err)
{
    char key[SP_STATE_NAME_MAX];
    int64_t cw[SP_MASK_WORDS], step[2];
    double fit[1];
#define GET(suffix, call)                                                                     \
    do {                                                                                      \
        snprintf(key, sizeof key, "%s/%s", name, suffix);                                     \
        if (call) return -1;                                                                  \
    } while (0)
    GET("path_step", sp_state_get_i64(st, key, 2, 0, step, err));
    GET("path_current", sp_state_get_i64(st, key, SP_MASK_WORDS, 0, cw, err));
    GET("path_current_fitness", sp_state_get_f64(st, key, 1, 0, fit, err));
    GET("path_harm", sp_state_get_f64(st, key, (size_t)w->P, 0, w->harm, err));
#undef GET
    if (step[1] < 0 || step[1] > w->P)
        return sp_error_set(err, "state: %s/path_step: width %lld outside [0, %d]", name,
                            (long long)step[1], w->P);
    if (step[0] < 0 || step[0] > p->k)
        return sp_error_set(err, "state: %s/path_step: %lld outside [0, %d]", name,
                            (long long)step[0], p->k);
    sp_search_masks_from_i64(cw, 1, &w->current);
    if (sp_search_mask_check(p, &w->current, (int)step[0], err))
        return sp_error_wrap(err, "state: %s/path_current", name);
    for (int d = 0; d < w->P; d++)
        if (isinf(w->harm[d]))
            return sp_error_set(err, "state: %s/path_harm[%d]: bad value %g", name, d, w->harm[d]);
    w->step = step[0];
    w->m = (int)step[1];
    w->current_fit = fit[0];
    return 0;
}
