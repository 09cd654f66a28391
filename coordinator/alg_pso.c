/* alg_pso.c — particle swarm optimization (Kennedy & Eberhart 1995) over layer masks.
 * PSO: real positions x in [0,1]^P over the prunable slots, decoded by top-k (the k largest
 * coordinates are removed). BPSO (Kennedy & Eberhart 1997): bit positions sampled through a
 * sigmoid of the velocity, then repaired to exactly k bits by probability order.
 * v = w v + c1 r1 (pbest - x) + c2 r2 (gbest - x), |v| <= vmax; bests accept full fidelity only.
 * PSO positions start in [0,1] and are not clamped: clamping would create ties at the bound,
 * which top-k breaks by index and so would bias the swarm towards low layers.
 * pso.local_search > 0 (default; our memetic addition, 0 = the plain algorithms): each
 * generation also proposes that many untried swap neighbours of the global best
 * (sp_swap_search); an improving one becomes the global best (its keys swapped into gbest).
 * pso.surrogate = 1 (default) ranks those neighbours, and the surrogate's descents from the
 * center and from every particle's mask, by a ridge model fitted to all scored masks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm.h"
#include "common/rng.h"
#include "warm_path.h"

enum { TAG_INIT_X = 1, TAG_INIT_V, TAG_R1, TAG_R2, TAG_BIT, TAG_RESTART_X, TAG_RESTART_V };

typedef struct {
    int n, P, binary;
    double *x, *v, *pbest;  /* [n x P] positions (BPSO: 0/1), velocities, personal bests */
    double *pbest_fit;      /* [n] */
    uint8_t *has_pbest;     /* [n] */
    int64_t *stale;         /* [n] iterations since the personal best last improved */
    double *gbest;          /* [P] */
    double gbest_fit;
    uint8_t has_gbest;
    sp_swap_search ls;      /* memetic local search around decode(gbest) */
    sp_warm_path path;      /* greedy-path warm start (pso.warm_path), scored first */
} pso_state;

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static double pso_vmax(const sp_algorithm *a, const pso_state *s)
{
    return s->binary ? a->params.pso.bpso_vmax : a->params.pso.vmax * 1.0; /* range [0, 1] */
}

static void mask_to_bits(const sp_search_problem *p, const sp_mask *m, double *x)
{
    sp_search_encode_mask(p, m, 0.0, 1.0, x);
}

static void bits_to_mask(const sp_search_problem *p, const double *x, sp_mask *m)
{
    sp_mask_clear(m);
    for (int d = 0; d < p->n_prunable; d++)
        if (x[d] > 0.5) sp_mask_set(m, p->prunable[d]);
}

/* Random start of particle i: uniform [0,1]^P (PSO) or a uniform exact-k bit vector (BPSO). */
static void pso_draw_position(sp_algorithm *a, int i, uint64_t ctr)
{
    pso_state *s = a->impl;
    double *xi = s->x + (size_t)i * s->P;
    if (s->binary) {
        sp_mask m;
        sp_search_random_mask(&a->problem, a->seed, ctr, (uint64_t)i, &m);
        mask_to_bits(&a->problem, &m, xi);
    } else {
        for (int d = 0; d < s->P; d++) xi[d] = sp_rng_uniform(a->seed, ctr, (uint64_t)i, (uint64_t)d);
    }
}

static void pso_draw_velocity(sp_algorithm *a, int i, uint64_t ctr)
{
    pso_state *s = a->impl;
    double vmax = pso_vmax(a, s);
    for (int d = 0; d < s->P; d++)
        s->v[(size_t)i * s->P + d] =
            vmax * (2.0 * sp_rng_uniform(a->seed, ctr, (uint64_t)i, (uint64_t)d) - 1.0);
}

static int pso_init_common(sp_algorithm *a, int binary)
{
    pso_state *s = sp_xcalloc(1, sizeof *s);
    a->impl = s;
    s->binary = binary;
    s->n = a->params.pso.swarm;
    s->P = a->problem.n_prunable;
    size_t nP = (size_t)s->n * (size_t)s->P;
    s->x = sp_xcalloc(nP, sizeof(double));
    s->v = sp_xcalloc(nP, sizeof(double));
    s->pbest = sp_xcalloc(nP, sizeof(double));
    s->pbest_fit = sp_xcalloc((size_t)s->n, sizeof(double));
    s->has_pbest = sp_xcalloc((size_t)s->n, 1);
    s->stale = sp_xcalloc((size_t)s->n, sizeof *s->stale);
    s->gbest = sp_xcalloc((size_t)s->P, sizeof(double));
    s->gbest_fit = INFINITY;
    for (int i = 0; i < s->n; i++) {
        if (i < a->params.n_warm) mask_to_bits(&a->problem, &a->warm[i], s->x + (size_t)i * s->P);
        else pso_draw_position(a, i, sp_alg_ctr(0, TAG_INIT_X));
        pso_draw_velocity(a, i, sp_alg_ctr(0, TAG_INIT_V));
        s->pbest_fit[i] = INFINITY;
    }
    memcpy(s->pbest, s->x, nP * sizeof(double));
    sp_swap_search_init(&s->ls, s->P);
    s->ls.surrogate = a->params.pso.surrogate;
    int room = sp_warm_path_start(&s->path, &a->problem, a->params.pso.warm_path,
                                  a->params.pso.warm_beam, a->params.n_warm, a->params.budget);
    int cap = s->n + a->params.pso.local_search;
    sp_algorithm_reserve(a, cap > room ? cap : room);
    return 0;
}

static int pso_init(sp_algorithm *a, sp_error *err) { return pso_init_common(a, 0); }
static int bpso_init(sp_algorithm *a, sp_error *err) { return pso_init_common(a, 1); }

static int pso_propose(sp_algorithm *a, sp_error *err)
{
    pso_state *s = a->impl;
    if (sp_warm_path_active(&s->path, &a->problem)) {
        a->n_batch = sp_warm_path_propose(&s->path, &a->problem, a->batch);
        return 0;
    }
    for (int i = 0; i < s->n; i++) {
        const double *xi = s->x + (size_t)i * s->P;
        if (s->binary) bits_to_mask(&a->problem, xi, &a->batch[i].mask);
        else sp_search_decode_topk(&a->problem, xi, &a->batch[i].mask);
        a->batch[i].fidelity = sp_search_full_fidelity(&a->problem);
    }
    a->n_batch = s->n + sp_swap_search_propose_from(&s->ls, &a->problem, a->seed, a->iteration,
                                                    a->params.pso.local_search, a->batch, s->n,
                                                    a->batch + s->n);
    return 0;
}

/* Exact-k repair of a sampled bit vector: drop set bits of lowest probability, or add unset bits
 * of highest probability (ties: lower slot first). */
static void bpso_repair(int P, int k, const double *prob, double *x)
{
    int count = 0;
    for (int d = 0; d < P; d++) count += x[d] > 0.5;
    while (count > k) {
        int best = -1;
        for (int d = 0; d < P; d++)
            if (x[d] > 0.5 && (best < 0 || prob[d] < prob[best])) best = d;
        x[best] = 0.0;
        count--;
    }
    while (count < k) {
        int best = -1;
        for (int d = 0; d < P; d++)
            if (x[d] < 0.5 && (best < 0 || prob[d] > prob[best])) best = d;
        x[best] = 1.0;
        count++;
    }
}

static void pso_update_bests(sp_algorithm *a, const double *fitness, const int *fidelity)
{
    pso_state *s = a->impl;
    int full = sp_search_full_fidelity(&a->problem);
    size_t row = (size_t)s->P * sizeof(double);
    for (int i = 0; i < s->n; i++) {
        double *xi = s->x + (size_t)i * s->P, *pi = s->pbest + (size_t)i * s->P;
        if (fidelity[i] == full && fitness[i] < s->pbest_fit[i]) {
            memcpy(pi, xi, row);
            s->pbest_fit[i] = fitness[i];
            s->has_pbest[i] = 1;
            s->stale[i] = 0;
        } else {
            s->stale[i]++;
        }
        if (!s->has_pbest[i]) memcpy(pi, xi, row); /* no accepted best yet: cognitive term 0 */
        if (s->has_pbest[i] && s->pbest_fit[i] < s->gbest_fit) {
            memcpy(s->gbest, pi, row);
            s->gbest_fit = s->pbest_fit[i];
            s->has_gbest = 1;
        }
    }
}

/* Particles stuck for pso.restart iterations start afresh (the global best is kept): without
 * this a converged swarm re-proposes the same masks and the search stalls. */
static void pso_restart_stale(sp_algorithm *a)
{
    pso_state *s = a->impl;
    int limit = a->params.pso.restart;
    for (int i = 0; i < s->n && limit > 0; i++) {
        if (s->stale[i] < limit) continue;
        pso_draw_position(a, i, sp_alg_ctr(a->iteration, TAG_RESTART_X));
        pso_draw_velocity(a, i, sp_alg_ctr(a->iteration, TAG_RESTART_V));
        memcpy(s->pbest + (size_t)i * s->P, s->x + (size_t)i * s->P, (size_t)s->P * sizeof(double));
        s->pbest_fit[i] = INFINITY;
        s->has_pbest[i] = 0;
        s->stale[i] = 0;
    }
}

/* The local-search part of the batch (after the swarm): an improving neighbour becomes the
 * global best; statistics and the tried set are updated and the center follows gbest. */
static void pso_observe_local(sp_algorithm *a, const double *fitness, const int *fidelity)
{
    pso_state *s = a->impl;
    int full = sp_search_full_fidelity(&a->problem), best = -1, m = a->n_batch - s->n;
    for (int j = 0; j < m; j++) {
        int i = s->n + j;
        if (fidelity[i] == full && fitness[i] < s->gbest_fit &&
            (best < 0 || fitness[i] < fitness[best]))
            best = i;
    }
    if (best >= 0) {
        sp_swap_search_adopt(&a->problem, s->gbest, &a->batch[best].mask);
        s->gbest_fit = fitness[best];
        s->has_gbest = 1;
    }
    sp_swap_search_record(&s->ls, &a->problem, a->batch, fitness, fidelity, a->n_batch);
    sp_swap_search_mark(&s->ls, &a->problem, a->batch + s->n, m);
    if (s->has_gbest && a->params.pso.local_search > 0) {
        sp_mask c;
        sp_search_decode_topk(&a->problem, s->gbest, &c);
        sp_swap_search_recenter(&s->ls, &c);
    }
}

/* A greedy-path step was scored: its k-layer masks feed the local search's statistics; the
 * finished path's mask becomes particle 0's position and the local search's center. */
static void pso_observe_path(sp_algorithm *a, const double *fitness, const int *fidelity)
{
    pso_state *s = a->impl;
    sp_warm_path_observe(&s->path, &a->problem, a->batch, fitness, fidelity, a->n_batch);
    sp_swap_search_record(&s->ls, &a->problem, a->batch, fitness, fidelity, a->n_batch);
    if (sp_warm_path_active(&s->path, &a->problem)) return;
    double *x0 = s->x;
    mask_to_bits(&a->problem, &s->path.beam[0], x0); /* 0/1 keys: PSO and BPSO alike */
    memcpy(s->pbest, x0, (size_t)s->P * sizeof(double));
    if (a->params.pso.local_search > 0) sp_swap_search_recenter(&s->ls, &s->path.beam[0]);
}

static int pso_observe(sp_algorithm *a, const double *fitness, const int *fidelity, sp_error *err)
{
    pso_state *s = a->impl;
    const sp_pso_params *pp = &a->params.pso;
    if (sp_warm_path_active(&s->path, &a->problem)) {
        pso_observe_path(a, fitness, fidelity);
        return 0;
    }
    pso_update_bests(a, fitness, fidelity);
    pso_observe_local(a, fitness, fidelity);
    double vmax = pso_vmax(a, s);
    uint64_t it = (uint64_t)a->iteration;
    double prob[SP_MAX_LAYERS];
    for (int i = 0; i < s->n; i++) {
        double *xi = s->x + (size_t)i * s->P, *vi = s->v + (size_t)i * s->P;
        const double *pi = s->pbest + (size_t)i * s->P;
        for (int d = 0; d < s->P; d++) {
            double r1 = sp_rng_uniform(a->seed, sp_alg_ctr((int64_t)it, TAG_R1), (uint64_t)i, (uint64_t)d);
            double r2 = sp_rng_uniform(a->seed, sp_alg_ctr((int64_t)it, TAG_R2), (uint64_t)i, (uint64_t)d);
            double social = s->has_gbest ? pp->c2 * r2 * (s->gbest[d] - xi[d]) : 0.0;
            vi[d] = clampd(pp->inertia * vi[d] + pp->c1 * r1 * (pi[d] - xi[d]) + social, -vmax, vmax);
            if (!s->binary) {
                xi[d] += vi[d]; /* unbounded random keys: no ties from clamping */
            } else {
                prob[d] = 1.0 / (1.0 + exp(-vi[d]));
                double u = sp_rng_uniform(a->seed, sp_alg_ctr((int64_t)it, TAG_BIT), (uint64_t)i, (uint64_t)d);
                xi[d] = u < prob[d] ? 1.0 : 0.0;
            }
        }
        if (s->binary) bpso_repair(s->P, a->problem.k, prob, xi);
    }
    pso_restart_stale(a);
    return 0;
}

static void pso_param_vec(const sp_algorithm *a, double *v)
{
    const sp_pso_params *pp = &a->params.pso;
    v[0] = pp->swarm;
    v[1] = pp->inertia;
    v[2] = pp->c1;
    v[3] = pp->c2;
    v[4] = pp->vmax;
    v[5] = pp->bpso_vmax;
    v[6] = pp->restart;
    v[7] = pp->local_search;
    v[8] = pp->surrogate;
    v[9] = pp->warm_path;
    v[10] = pp->warm_beam;
}

static int pso_save(const sp_algorithm *a, sp_state *st, sp_error *err)
{
    const pso_state *s = a->impl;
    const char *name = a->ops->name;
    char key[SP_STATE_NAME_MAX];
    double pv[11], g[1] = {s->gbest_fit};
    pso_param_vec(a, pv);
    size_t n = (size_t)s->n, P = (size_t)s->P;
#define PUT(suffix, call)                                                                     \
    do {                                                                                      \
        snprintf(key, sizeof key, "%s/%s", name, suffix);                                     \
        if (call) return -1;                                                                  \
    } while (0)
    if (sp_alg_params_save(name, pv, 11, st, err)) return -1;
    PUT("positions", sp_state_put_f64(st, key, n, P, s->x, err));
    PUT("velocities", sp_state_put_f64(st, key, n, P, s->v, err));
    PUT("pbest", sp_state_put_f64(st, key, n, P, s->pbest, err));
    PUT("pbest_fitness", sp_state_put_f64(st, key, n, 0, s->pbest_fit, err));
    PUT("has_pbest", sp_state_put_u8(st, key, n, 0, s->has_pbest, err));
    PUT("stale", sp_state_put_i64(st, key, n, 0, s->stale, err));
    PUT("gbest", sp_state_put_f64(st, key, P, 0, s->gbest, err));
    PUT("gbest_fitness", sp_state_put_f64(st, key, 1, 0, g, err));
    PUT("has_gbest", sp_state_put_u8(st, key, 1, 0, &s->has_gbest, err));
#undef PUT
    if (sp_warm_path_save(&s->path, name, st, err)) return -1;
    return sp_swap_search_save(&s->ls, name, st, err);
}

static int pso_load(sp_algorithm *a, const sp_state *st, sp_error *err)
{
    pso_state *s = a->impl;
    const char *name = a->ops->name;
    char key[SP_STATE_NAME_MAX];
    double pv[11], g[1];
    pso_param_vec(a, pv);
    size_t n = (size_t)s->n, P = (size_t)s->P;
#define GET(suffix, call)                                                                     \
    do {                                                                                      \
        snprintf(key, sizeof key, "%s/%s", name, suffix);                                     \
        if (call) return -1;                                                                  \
    } while (0)
    if (sp_alg_params_check(name, pv, 11, st, err)) return -1;
    GET("positions", sp_state_get_f64(st, key, n, P, s->x, err));
    GET("velocities", sp_state_get_f64(st, key, n, P, s->v, err));
    GET("pbest", sp_state_get_f64(st, key, n, P, s->pbest, err));
    GET("pbest_fitness", sp_state_get_f64(st, key, n, 0, s->pbest_fit, err));
    GET("has_pbest", sp_state_get_u8(st, key, n, 0, s->has_pbest, err));
    GET("stale", sp_state_get_i64(st, key, n, 0, s->stale, err));
    GET("gbest", sp_state_get_f64(st, key, P, 0, s->gbest, err));
    GET("gbest_fitness", sp_state_get_f64(st, key, 1, 0, g, err));
    GET("has_gbest", sp_state_get_u8(st, key, 1, 0, &s->has_gbest, err));
#undef GET
    if (sp_swap_search_load(&s->ls, &a->problem, name, st, err) ||
        sp_warm_path_load(&s->path, &a->problem, name, st, err))
        return -1;
    s->gbest_fit = g[0];
    for (size_t i = 0; i < n * P; i++)
        if (isnan(s->x[i]) || (s->binary && s->x[i] != 0.0 && s->x[i] != 1.0))
            return sp_error_set(err, "state: %s/positions[%zu]: bad value %g", name, i, s->x[i]);
    if (s->binary)
        for (size_t i = 0; i < n; i++) {
            sp_mask m;
            bits_to_mask(&a->problem, s->x + i * P, &m);
            if (sp_search_mask_check(&a->problem, &m, a->problem.k, err))
                return sp_error_wrap(err, "state: %s/positions row %zu", name, i);
        }
    return 0;
}

static void pso_release(sp_algorithm *a)
{
    pso_state *s = a->impl;
    free(s->x);
    free(s->v);
    free(s->pbest);
    free(s->pbest_fit);
    free(s->has_pbest);
    free(s->stale);
    free(s->gbest);
    sp_swap_search_free(&s->ls);
    sp_warm_path_free(&s->path);
}

const sp_algorithm_ops sp_pso_ops = {"pso", 0, pso_init, pso_propose, pso_observe,
                                     pso_save, pso_load, pso_release};
const sp_algorithm_ops sp_bpso_ops = {"bpso", 0, bpso_init, pso_propose, pso_observe,
                                      pso_save, pso_load, pso_release};
