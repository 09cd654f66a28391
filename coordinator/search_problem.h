/* search_problem.h — the layer-removal search space: L layers, a prunable subset of P layers,
 * exactly k of them removed per candidate, F fidelity levels (F-1 = full). Also the mask
 * encodings shared by the algorithms: top-k (random-key) decoding of real positions over the
 * P prunable slots, the inverse encoding for warm starts, and uniform exact-k sampling. */
#ifndef SP_SEARCH_PROBLEM_H
#define SP_SEARCH_PROBLEM_H

#include <stdint.h>

#include "common/error.h"
#include "common/mask.h"
#include "common/state.h"

#define SP_MAX_FIDELITIES 16

typedef struct {
    int n_layers;                  /* L, 2..SP_MAX_LAYERS */
    int k;                         /* layers removed per candidate, 1..P-1 */
    int n_prunable;                /* P */
    int prunable[SP_MAX_LAYERS];   /* [P] layer index of each prunable slot, increasing */
    int slot_of[SP_MAX_LAYERS];    /* [L] slot of a layer, -1 when protected */
    int n_fidelities;              /* F, 1..SP_MAX_FIDELITIES; level F-1 is full fidelity */
} sp_search_problem;

/* A candidate: a mask and the fidelity level (0..F-1) to score it at. */
typedef struct {
    sp_mask mask;
    int fidelity;
} sp_candidate;

/* protected_layers NULL = first and last layer protected. Refuses k = 0, k >= P, bad F. */
int sp_search_problem_init(sp_search_problem *p, int n_layers, int k,
                           const sp_mask *protected_layers, int n_fidelities, sp_error *err);

static inline int sp_search_full_fidelity(const sp_search_problem *p) { return p->n_fidelities - 1; }

/* 0 when m removes exactly `expect` distinct prunable layers; else -1 with a message. */
int sp_search_mask_check(const sp_search_problem *p, const sp_mask *m, int expect, sp_error *err);

/* Top-k decoding: the k largest of pos[P] are removed; ties go to the lower slot index, so the
 * result always has exactly k layers. pos must not contain NaN. */
void sp_search_decode_topk(const sp_search_problem *p, const double *pos, sp_mask *out);
/* Warm-start encoding: removed slots get `hi`, kept slots `lo` (decodes back to m). */
void sp_search_encode_mask(const sp_search_problem *p, const sp_mask *m, double lo, double hi,
                           double *pos);
/* Uniform exact-k mask from counter-based draws hash(seed, a, b, j). */
void sp_search_random_mask(const sp_search_problem *p, uint64_t seed, uint64_t a, uint64_t b,
                           sp_mask *out);

/* C(n, r), saturating at INT64_MAX. */
int64_t sp_search_binomial(int n, int r);

/* Problem signature in a state (problem/meta, problem/prunable) and its check on load. */
int sp_search_problem_save(const sp_search_problem *p, sp_state *st, sp_error *err);
int sp_search_problem_check(const sp_search_problem *p, const sp_state *st, sp_error *err);

/* Masks as i64 rows of SP_MASK_WORDS words (bit-identical), for state entries. */
void sp_search_masks_to_i64(const sp_mask *m, size_t n, int64_t *out);
void sp_search_masks_from_i64(const int64_t *in, size_t n, sp_mask *m);

#endif
