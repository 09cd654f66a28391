/* alg_woa.c — Whale Optimization Algorithm (Mirjalili & Lewis 2016) over layer masks.
 * Positions x in [0,1]^P decoded by top-k. a falls linearly 2 -> 0 over woa.max_iter moves;
 * per whale and move: A = 2 a r1 - a, C = 2 r2 (scalars per whale, as in the authors' code),
 * p < 0.5: |A| < 1 encircle the best, else search around a random whale; p >= 0.5: spiral
 * D' e^{b l} cos(2 pi l) + X* with l in [-1, 1]. Moves are synchronous (from a snapshot).
 * Whales whose own fitness stalls for woa.restart iterations are re-drawn (our addition).
 * Moves leaving [0, 1] are reflected back, not clamped: clamping piles whales on exact ties at
 * the bounds, which top-k breaks by slot index (a bias towards low layers, and lost diversity).
 * woa.local_search > 0 (default; 0 = plain WOA): the memetic step of alg_pso.c around the best
 * whale (sp_swap_search); an improving neighbour becomes the best (keys swapped into it);
 * woa.surrogate = 1 (default): ranked by the fitted surrogate, as pso.surrogate. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm.h"
#include "common/rng.h"
#include "warm_path.h"

enum { TAG_INIT = 1, TAG_R1, TAG_R2, TAG_P, TAG_L, TAG_RAND, TAG_RESTART };

typedef struct {
    int n, P;
    double *x;      /* [n x P] */
    double *old;    /* [n x P] scratch snapshot (not state) */
    double *best;   /* [P] best whale so far (full fidelity) */
    double best_fit;
    uint8_t has_best;
    double *own_best;  /* [n] best full-fidelity fitness each whale has had */
    int64_t *stale;    /* [n] iterations since own_best improved (woa.restart) */
    sp_swap_search ls; /* memetic local search around decode(best) */
    sp_warm_path path; /* greedy-path warm start (woa.warm_path), scored first */
} woa_state;

static int woa_init(sp_algorithm *a, sp_error *err)
{
    woa_state *s = sp_xcalloc(1, sizeof *s);
    a->impl = s;
    s->n = a->params.woa.whales;
    s->P = a->problem.n_prunable;
    size_t nP = (size_t)s->n * (size_t)s->P;
    s->x = sp_xcalloc(nP, sizeof(double));
    s->old = sp_xcalloc(nP, sizeof(double));
    s->best = sp_xcalloc((size_t)s->P, sizeof(double));
    s->best_fit = INFINITY;
    s->own_best = sp_xcalloc((size_t)s->n, sizeof(double));
    s->stale = sp_xcalloc((size_t)s->n, sizeof *s->stale);
    for (int i = 0; i < s->n; i++) {
        s->own_best[i] = INFINITY;
        double *xi = s->x + (size_t)i * s->P;
        if (i < a->params.n_warm) sp_search_encode_mask(&a->problem, &a->warm[i], 0.0, 1.0, xi);
        else
            for (int d = 0; d < s->P; d++)
                xi[d] = sp_rng_uniform(a->seed, sp_alg_ctr(0, TAG_INIT), (uint64_t)i, (uint64_t)d);
    }
    sp_swap_search_init(&s->ls, s->P);
    s->ls.surrogate = a->params.woa.surrogate;
    int room = sp_warm_path_start(&s->path, &a->problem, a->params.woa.warm_path,
                                  a->params.woa.warm_beam, a->params.n_warm, a->params.budget);
    int cap = s->n + a->params.woa.local_search;
    sp_algorithm_reserve(a, cap > room ? cap : room);
    return 0;
}

static int woa_propose(sp_algorithm *a, sp_error *err)
{
    woa_state *s = a->impl;
    if (sp_warm_path_active(&s->path, &a->problem)) {
        a->n_batch = sp_warm_path_propose(&s->path, &a->problem, a->batch);
        return 0;
    }
    for (int i = 0; i < s->n; i++) {
        sp_search_decode_topk(&a->problem, s->x + (size_t)i * s->P, &a->batch[i].mask);
        a->batch[i].fidelity = sp_search_full_fidelity(&a->problem);
    }
    a->n_batch = s->n + sp_swap_search_propose_from(&s->ls, &a->problem, a->seed, a->iteration,
                                                    a->params.woa.local_search, a->batch, s->n,
                                                    a->batch + s->n);
    return 0;
}

/* Reflects v into [0, 1] (period 2), so out-of-range moves keep distinct keys. */
static double reflect01(double v)
{
    double t = fmod(fabs(v), 2.0);
    return t > 1.0 ? 2.0 - t : t;
}

/* Moves whale i from the snapshot s->old. */
static void woa_move(sp_algorithm *a, int i, double a_lin)
{
    woa_state *s = a->impl;
    uint64_t seed = a->seed, ui = (uint64_t)i;
    int64_t it = a->iteration;
    double A = 2.0 * a_lin * sp_rng_uniform(seed, sp_alg_ctr(it, TAG_R1), ui, 0) - a_lin;
    double C = 2.0 * sp_rng_uniform(seed, sp_alg_ctr(it, TAG_R2), ui, 0);
    double p = sp_rng_uniform(seed, sp_alg_ctr(it, TAG_P), ui, 0);
    double l = 2.0 * sp_rng_uniform(seed, sp_alg_ctr(it, TAG_L), ui, 0) - 1.0;
    int r = (int)(sp_rng_uniform(seed, sp_alg_ctr(it, TAG_RAND), ui, 0) * s->n);
    if (r >= s->n) r = s->n - 1;
    const double *xo = s->old + (size_t)i * s->P, *xr = s->old + (size_t)r * s->P;
    /* Without an accepted best yet, the random whale stands in for the leader. */
    const double *lead = s->has_best ? s->best : xr;
    double *xi = s->x + (size_t)i * s->P;
    double spiral = exp(a->params.woa.b * l) * cos(2.0 * M_PI * l);
    for (int d = 0; d < s->P; d++) {
        double v;
        if (p < 0.5) {
            const double *ref = fabs(A) < 1.0 ? lead : xr;
            v = ref[d] - A * fabs(C * ref[d] - xo[d]);
        } else {
            v = fabs(lead[d] - xo[d]) * spiral + lead[d];
        }
        xi[d] = reflect01(v);
    }
}

/* The local-search part of the batch (after the whales), as pso_observe_local. */
static void woa_observe_local(sp_algorithm *a, const double *fitness, const int *fidelity)
{
    woa_state *s = a->impl;
    int full = sp_search_full_fidelity(&a->problem), best = -1, m = a->n_batch - s->n;
    for (int j = 0; j < m; j++) {
        int i = s->n + j;
        if (fidelity[i] == full && fitness[i] < s->best_fit &&
            (best < 0 || fitness[i] < fitness[best]))
            best = i;
    }
    if (best >= 0) {
        sp_swap_search_adopt(&a->problem, s->best, &a->batch[best].mask);
        s->best_fit = fitness[best];
        s->has_best = 1;
    }
    sp_swap_search_record(&s->ls, &a->problem, a->batch, fitness, fidelity, a->n_batch);
    sp_swap_search_mark(&s->ls, &a->problem, a->batch + s->n, m);
    if (s->has_best && a->params.woa.local_search > 0) {
        sp_mask c;
        sp_search_decode_topk(&a->problem, s->best, &c);
        sp_swap_search_recenter(&s->ls, &c);
    }
}

/* A greedy-path step was scored (as pso_observe_path): the finished path's mask becomes whale
 * 0's position and the local search's center. */
static void woa_observe_path(sp_algorithm *a, const double *fitness, const int *fidelity)
{
    woa_state *s = a->impl;
    sp_warm_path_observe(&s->path, &a->problem, a->batch, fitness, fidelity, a->n_batch);
    sp_swap_search_record(&s->ls, &a->problem, a->batch, fitness, fidelity, a->n_batch);
    if (sp_warm_path_active(&s->path, &a->problem)) return;
    sp_search_encode_mask(&a->problem, &s->path.beam[0], 0.0, 1.0, s->x);
    if (a->params.woa.local_search > 0) sp_swap_search_recenter(&s->ls, &s->path.beam[0]);
}

static int woa_observe(sp_algorithm *a, const double *fitness, const int *fidelity, sp_error *err)
{
    woa_state *s = a->impl;
    int full = sp_search_full_fidelity(&a->problem);
    if (sp_warm_path_active(&s->path, &a->problem)) {
        woa_observe_path(a, fitness, fidelity);
        return 0;
    }
    for (int i = 0; i < s->n; i++) {
        if (fidelity[i] == full && fitness[i] < s->best_fit) {
            memcpy(s->best, s->x + (size_t)i * s->P, (size_t)s->P * sizeof(double));
            s->best_fit = fitness[i];
            s->has_best = 1;
        }
        if (fidelity[i] == full && fitness[i] < s->own_best[i]) {
            s->own_best[i] = fitness[i];
            s->stale[i] = 0;
        } else {
            s->stale[i]++;
        }
    }
    woa_observe_local(a, fitness, fidelity);
    double a_lin = 2.0 - 2.0 * (double)a->iteration / (double)a->params.woa.max_iter;
    if (a_lin < 0.0) a_lin = 0.0;
    memcpy(s->old, s->x, (size_t)s->n * (size_t)s->P * sizeof(double));
    for (int i = 0; i < s->n; i++) {
        if (a->params.woa.restart > 0 && s->stale[i] >= a->params.woa.restart) {
            /* A whale stuck on the leader's masks starts afresh (the best is kept). */
            for (int d = 0; d < s->P; d++)
                s->x[(size_t)i * s->P + d] = sp_rng_uniform(
                    a->seed, sp_alg_ctr(a->iteration, TAG_RESTART), (uint64_t)i, (uint64_t)d);
            s->own_best[i] = INFINITY;
            s->stale[i] = 0;
        } else {
            woa_move(a, i, a_lin);
        }
    }
    return 0;
}

static void woa_param_vec(const sp_algorithm *a, double *v)
{
    v[0] = a->params.woa.whales;
    v[1] = a->params.woa.b;
    v[2] = a->params.woa.max_iter;
    v[3] = a->params.woa.restart;
    v[4] = a->params.woa.local_search;
    v[5] = a->params.woa.surrogate;
    v[6] = a->params.woa.warm_path;
    v[7] = a->params.woa.warm_beam;
}

static int woa_save(const sp_algorithm *a, sp_state *st, sp_error *err)
{
    const woa_state *s = a->impl;
    double pv[8], bf[1] = {s->best_fit};
    woa_param_vec(a, pv);
    if (sp_alg_params_save("woa", pv, 8, st, err) ||
        sp_state_put_f64(st, "woa/positions", (size_t)s->n, (size_t)s->P, s->x, err) ||
        sp_state_put_f64(st, "woa/best", (size_t)s->P, 0, s->best, err) ||
        sp_state_put_f64(st, "woa/best_fitness", 1, 0, bf, err) ||
        sp_state_put_u8(st, "woa/has_best", 1, 0, &s->has_best, err) ||
        sp_state_put_f64(st, "woa/own_best", (size_t)s->n, 0, s->own_best, err) ||
        sp_state_put_i64(st, "woa/stale", (size_t)s->n, 0, s->stale, err) ||
        sp_swap_search_save(&s->ls, "woa", st, err) ||
        sp_warm_path_save(&s->path, "woa", st, err))
        return -1;
    return 0;
}

static int woa_load(sp_algorithm *a, const sp_state *st, sp_error *err)
{
    woa_state *s = a->impl;
    double pv[8], bf[1];
    woa_param_vec(a, pv);
    if (sp_alg_params_check("woa", pv, 8, st, err) ||
        sp_state_get_f64(st, "woa/positions", (size_t)s->n, (size_t)s->P, s->x, err) ||
        sp_state_get_f64(st, "woa/best", (size_t)s->P, 0, s->best, err) ||
        sp_state_get_f64(st, "woa/best_fitness", 1, 0, bf, err) ||
        sp_state_get_u8(st, "woa/has_best", 1, 0, &s->has_best, err) ||
        sp_state_get_f64(st, "woa/own_best", (size_t)s->n, 0, s->own_best, err) ||
        sp_state_get_i64(st, "woa/stale", (size_t)s->n, 0, s->stale, err) ||
        sp_swap_search_load(&s->ls, &a->problem, "woa", st, err) ||
        sp_warm_path_load(&s->path, &a->problem, "woa", st, err))
        return -1;
    s->best_fit = bf[0];
    for (size_t i = 0; i < (size_t)s->n * (size_t)s->P; i++)
        if (!(s->x[i] >= 0.0 && s->x[i] <= 1.0))
            return sp_error_set(err, "state: woa/positions[%zu]: %g outside [0, 1]", i, s->x[i]);
    return 0;
}

static void woa_release(sp_algorithm *a)
{
    woa_state *s = a->impl;
    free(s->x);
    free(s->old);
    free(s->best);
    free(s->own_best);
    free(s->stale);
    sp_swap_search_free(&s->ls);
    sp_warm_path_free(&s->path);
}

const sp_algorithm_ops sp_woa_ops = {"woa", 0, woa_init, woa_propose, woa_observe,
                                     woa_save, woa_load, woa_release};
