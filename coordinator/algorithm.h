/* algorithm.h — the search algorithms behind one small, generation-synchronous interface:
 *   create(problem, params, seed) -> propose() a whole batch -> the caller scores it (any
 *   order, anywhere) -> observe(fitnesses IN CANDIDATE ORDER) -> propose() ... ; save/load.
 * Fitness is minimized. propose() is a pure function of the state (calling it twice without
 * observe returns the same batch), all randomness is counter-based (seed, iteration, particle,
 * dim), so runs are deterministic for any worker count and a loaded state continues exactly. */
#ifndef SP_ALGORITHM_H
#define SP_ALGORITHM_H

#include <stdint.h>

#include "common/error.h"
#include "common/mask.h"
#include "common/state.h"
#include "fitness_cache.h"
#include "search_problem.h"

typedef enum {
    SP_ALG_PSO = 0,    /* continuous PSO, random-key (top-k) decoding */
    SP_ALG_BPSO,       /* binary PSO (sigmoid transfer) + exact-k repair */
    SP_ALG_WOA,        /* whale optimization, top-k decoding */
    SP_ALG_EVO,        /* EvoPress-style (1+lambda) with multi-stage (multi-fidelity) selection */
    SP_ALG_RANDOM,     /* uniform exact-k masks without duplicates */
    SP_ALG_EXHAUSTIVE, /* all C(P, k) masks in lexicographic order */
    SP_ALG_GREEDY,     /* SLEB-style: add the least harmful layer, k times (partial masks!) */
    SP_ALG_FIXED,      /* evaluates the given warm masks once (one-shot baselines) */
    SP_ALG_COUNT
} sp_alg_kind;

/* Defaults in brackets. */
typedef struct {
    int swarm;        /* particles [10], 1..10000 (20 before the greedy-path start: with it
                         the local search does most of the work, bench_search_quality) */
    double inertia;   /* w [0.7], [0, 1.5] */
    double c1, c2;    /* cognitive / social [1.5, 1.5], [0, 4] */
    double vmax;      /* PSO velocity clamp as a fraction of the position range [0, 1] [0.5] */
    double bpso_vmax; /* binary PSO velocity clamp, sigmoid input units [4.0], (0, 20] */
    int restart;      /* re-draw a particle (position, velocity, personal best) whose personal
                         best has not improved for this many iterations; 0 = never [10] */
    int local_search; /* memetic step: untried one-swap neighbours of the global best proposed
                         per generation beside the swarm (see sp_swap_search) [LS_DEFAULT],
                         0..10000; 0 = plain PSO / BPSO as in the papers */
    int surrogate;    /* 1: the local search ranks neighbours by a fitted surrogate (see
                         sp_swap_search) [1]; 0: by per-slot marginal statistics */
    int warm_path;    /* m > 0: a lazy greedy removal path (warm_path.h, m candidates per step)
                         seeds the swarm and the local search before the swarm moves; -1 =
                         automatic, max(4, ceil(P / 5)) [-1]; 0 = none (the papers' random
                         start); skipped when warm masks are given */
    int warm_beam;    /* masks the greedy path keeps per step (warm_path.h), 1..4; -1 =
                         automatic: 2 when that path costs at most half the budget, else 1 [-1] */
} sp_pso_params;

typedef struct {
    int whales;       /* [10], 1..10000 (as pso.swarm) */
    double b;         /* spiral shape [1.0], (0, 10] */
    int max_iter;     /* planned iterations over which a goes 2 -> 0 [50]; a = 0 afterwards */
    int restart;      /* re-draw a whale whose own best fitness has not improved for this many
                         iterations; 0 = never [10] */
    int local_search; /* memetic step as pso.local_search, around the best whale [LS_DEFAULT],
                         0..10000; 0 = plain WOA */
    int surrogate;    /* as pso.surrogate [1] */
    int warm_path;    /* as pso.warm_path [-1] */
    int warm_beam;    /* as pso.warm_beam [-1] */
} sp_woa_params;

typedef struct {
    int lambda;       /* offspring per generation [8], 1..10000 */
    int max_swaps;    /* swaps per offspring drawn from 1..max_swaps, P(s) ~ 2^-s [3] */
    int keep_ratio;   /* multi-stage selection keeps ceil(n / keep_ratio) per stage [2], >= 2 */
} sp_evo_params;

typedef struct {
    int batch;        /* random / exhaustive: candidates per proposal [20] */
    int64_t limit;    /* exhaustive: refuse when C(P, k) exceeds this [100000] */
} sp_enum_params;

typedef struct {
    sp_alg_kind kind;
    sp_pso_params pso;  /* PSO and BPSO */
    sp_woa_params woa;
    sp_evo_params evo;
    sp_enum_params enumeration; /* RANDOM and EXHAUSTIVE */
    /* Warm start: the first n_warm population members (PSO/BPSO/WOA), the initial parents'
     * pool (EVO) or the masks to score (FIXED). Borrowed; copied by create. Each must remove
     * exactly k prunable layers. */
    const sp_mask *warm;
    int n_warm;
    /* Evaluations the search may spend (0 = unknown; the driver fills in its max_evals): PSO /
     * WOA skip the greedy-path start when it would take more than half of them. Not part of
     * the checkpoint's parameter check (a raised budget continues a search); the path's decision
     * is kept in the state. */
    int64_t budget;
} sp_search_params;

typedef struct sp_algorithm sp_algorithm;

typedef struct {
    const char *name;
    int self_fidelity; /* 1: chooses fidelity levels itself; drivers must not add halving */
    int (*init)(sp_algorithm *a, sp_error *err);
    /* Fills a->batch / a->n_batch (0 = finished). Must not change the search state. */
    int (*propose)(sp_algorithm *a, sp_error *err);
    int (*observe)(sp_algorithm *a, const double *fitness, const int *fidelity, sp_error *err);
    int (*save)(const sp_algorithm *a, sp_state *st, sp_error *err);
    int (*load)(sp_algorithm *a, const sp_state *st, sp_error *err);
    void (*release)(sp_algorithm *a);
} sp_algorithm_ops;

struct sp_algorithm {
    const sp_algorithm_ops *ops;
    sp_search_problem problem;
    sp_search_params params; /* params.warm points at warm below */
    sp_mask *warm;           /* [n_warm] owned copy */
    uint64_t seed;
    int64_t iteration;       /* completed observe() calls */
    sp_candidate *batch;     /* [n_batch] the current proposal */
    int n_batch, cap_batch;
    int pending;             /* a proposal awaits observe() */
    void *impl;
};

void sp_search_params_default(sp_search_params *p, sp_alg_kind kind);
/* Checks every field used by params->kind against the problem; messages name the field,
 * e.g. "pso.inertia: expected a number in [0, 1.5], got -0.1". */
int sp_search_params_validate(const sp_search_params *p, const sp_search_problem *prob,
                              sp_error *err);
const char *sp_alg_kind_name(sp_alg_kind kind);
int sp_alg_kind_parse(const char *name, sp_alg_kind *out, sp_error *err);

/* Validates params, allocates and initializes. On failure *out is NULL. */
int sp_algorithm_create(const sp_search_problem *prob, const sp_search_params *params,
                        uint64_t seed, sp_algorithm **out, sp_error *err);
/* Returns the batch size (0 = the algorithm is finished) and points *batch at it (valid until
 * the next observe/free). Returns -1 on error. */
int sp_algorithm_propose(sp_algorithm *a, const sp_candidate **batch, sp_error *err);
/* fitness[n] and fidelity[n] (the level actually scored, may be below the requested one when a
 * driver halved) for exactly the proposed candidates in order. NaN fitness is refused. */
int sp_algorithm_observe(sp_algorithm *a, const double *fitness, const int *fidelity, int n,
                         sp_error *err);
/* Writes "alg/..." + "problem/..." + "<name>/..." entries. Load into an instance created with
 * the same problem, params and seed; mismatches are reported. */
int sp_algorithm_save(const sp_algorithm *a, sp_state *st, sp_error *err);
int sp_algorithm_load(sp_algorithm *a, const sp_state *st, sp_error *err);
void sp_algorithm_free(sp_algorithm *a);

/* --- helpers for algorithm implementations ------------------------------------------- */
void sp_algorithm_reserve(sp_algorithm *a, int n);
/* Random-stream tags, mixed into the counter `a` of sp_rng_hash as (iteration << 8) | tag. */
static inline uint64_t sp_alg_ctr(int64_t iteration, unsigned tag)
{
    return ((uint64_t)iteration << 8) | (tag & 0xffu);
}
/* Saves / compares a parameter vector "<name>/params". */
int sp_alg_params_save(const char *name, const double *v, int n, sp_state *st, sp_error *err);
int sp_alg_params_check(const char *name, const double *v, int n, const sp_state *st,
                        sp_error *err);

#define SP_LS_STALE 1
#define SP_LS_FAR 3
/* Memetic swap local search (alg_swap_search.c), used by PSO and WOA when local_search > 0:
 * around the best mask so far (the center) it proposes untried one-swap neighbours (one removed
 * prunable layer restored, one kept one removed: exactly k stays removed, protected layers are
 * never touched), the largest expected gain first: gain = harm(restored) - harm(removed), harm
 * = mean fitness of the scored masks removing the slot minus the mean of all scored masks. A
 * new center clears the tried set; once the one-swap neighbourhood is exhausted (a local optimum)
 * random two-swap kicks of the center are proposed instead. Proposals cost budget like any
 * candidate (duplicates of scored masks cost nothing). */
typedef struct {
    int P;
    int surrogate;       /* 1: rank by a surrogate fitted to every scored mask (sp_surrogate:
                            additive + near-pairwise ridge) over the one- and two-swap
                            neighbours and the surrogate's own one-swap descents from the center
                            and from the population's members, skipping masks already scored;
                            half the slots (rounded up) go to one-swaps, the rest to the farther
                            masks; 0: marginal-statistics order as above [0] */
    sp_fitness_cache seen; /* surrogate: full-fidelity scored masks (key fidelity 0) */
    sp_mask center;      /* the best mask so far */
    uint8_t has_center;
    int64_t stale;       /* recenterings in a row that left the center where it was (surrogate:
                            from SP_LS_STALE on, i.e. once a generation has not moved it, half
                            the slots go to the one-swap neighbours of a second center: the best
                            scored mask at least SP_LS_FAR swaps from the center, another basin) */
    uint8_t *tried;      /* [P x P] (restored slot, removed slot) already proposed from center */
    double *sum_with;    /* [P] sum of full-fidelity fitnesses of masks removing the slot */
    double *n_with;      /* [P] how many (distinct within a batch) */
    double sum_all, n_all;
} sp_swap_search;

void sp_swap_search_init(sp_swap_search *s, int P);
void sp_swap_search_free(sp_swap_search *s);
/* Up to m untried neighbours of the center into out[] at full fidelity; 0 without a center.
 * Slots left once every one-swap neighbour has been tried get random two-swap kicks (draws
 * from (seed, iteration, slot)). Pure: a function of the state, seed and iteration. */
int sp_swap_search_propose(const sp_swap_search *s, const sp_search_problem *p, uint64_t seed,
                           int64_t iteration, int m, sp_candidate *out);
/* The same; with the surrogate, the surrogate's descents from starts[n_starts] (exact-k masks,
 * e.g. the swarm's current members) are candidates too (ranked with the rest). */
int sp_swap_search_propose_from(const sp_swap_search *s, const sp_search_problem *p,
                                uint64_t seed, int64_t iteration, int m,
                                const sp_candidate *starts, int n_starts, sp_candidate *out);
/* Statistics from a scored batch (full fidelity only, in-batch duplicates counted once). */
void sp_swap_search_record(sp_swap_search *s, const sp_search_problem *p, const sp_candidate *c,
                           const double *fitness, const int *fidelity, int n);
/* Marks c[0..n) (neighbours of the current center, as proposed) as tried. */
void sp_swap_search_mark(sp_swap_search *s, const sp_search_problem *p, const sp_candidate *c,
                         int n);
/* Moves the center (clearing the tried set when it changes). */
void sp_swap_search_recenter(sp_swap_search *s, const sp_mask *center);
/* Makes the random-key position pos[P] decode (top-k) to target by swapping the keys of the
 * slots that differ (keeps the scale); falls back to encoding target as 0/1 keys on ties. */
void sp_swap_search_adopt(const sp_search_problem *p, double *pos, const sp_mask *target);
/* "<name>/ls_*" state entries. */
int sp_swap_search_save(const sp_swap_search *s, const char *name, sp_state *st, sp_error *err);
int sp_swap_search_load(sp_swap_search *s, const sp_search_problem *p, const char *name,
                        const sp_state *st, sp_error *err);

extern const sp_algorithm_ops sp_pso_ops, sp_bpso_ops, sp_woa_ops, sp_evo_ops, sp_random_ops,
    sp_exhaustive_ops, sp_greedy_ops, sp_fixed_ops;

#endif
