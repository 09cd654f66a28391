/* fitness_cache.h — fitness of every (mask, fidelity) already scored, so no candidate is ever
 * evaluated twice at a fidelity. Open addressing (linear probing) on sp_mask_hash mixed with
 * the fidelity, over an insertion-ordered entry array (so save/load order is deterministic).
 * Counts hits (lookups answered from the cache, in-batch duplicates included). */
#ifndef SP_FITNESS_CACHE_H
#define SP_FITNESS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/mask.h"
#include "common/state.h"

typedef struct {
    sp_mask mask;
    int fidelity;
    double fitness;
} sp_cache_entry;

typedef struct {
    sp_cache_entry *entries; /* [n] insertion order */
    size_t n, cap;
    int64_t *slots;          /* [n_slots] entry index + 1, 0 = empty; n_slots power of two */
    size_t n_slots;
    int64_t hits;            /* answered from the cache */
    int64_t misses;          /* lookups that found nothing */
} sp_fitness_cache;

void sp_fitness_cache_init(sp_fitness_cache *c);
void sp_fitness_cache_free(sp_fitness_cache *c);
/* 1 and *fitness when present (hits++), 0 otherwise (misses++). fitness may be NULL. */
int sp_fitness_cache_lookup(sp_fitness_cache *c, const sp_mask *m, int fidelity, double *fitness);
/* Like lookup, but counts nothing. */
int sp_fitness_cache_contains(const sp_fitness_cache *c, const sp_mask *m, int fidelity);
int sp_fitness_cache_peek(const sp_fitness_cache *c, const sp_mask *m, int fidelity,
                          double *fitness);
/* Adds a new entry; inserting a present key is a broken invariant (aborts). */
void sp_fitness_cache_insert(sp_fitness_cache *c, const sp_mask *m, int fidelity, double fitness);
/* Entries as "<prefix>/masks" i64 [n x 4], "<prefix>/fidelity" i64 [n], "<prefix>/fitness"
 * f64 [n], "<prefix>/counters" i64 [2] (hits, misses). load replaces the contents. */
int sp_fitness_cache_save(const sp_fitness_cache *c, const char *prefix, sp_state *st,
                          sp_error *err);
int sp_fitness_cache_load(sp_fitness_cache *c, const char *prefix, const sp_state *st,
                          sp_error *err);

#endif
