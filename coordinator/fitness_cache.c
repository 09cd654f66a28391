/* fitness_cache.c — open-addressing (mask, fidelity) -> fitness table (see fitness_cache.h). */
#include "fitness_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search_problem.h"

void sp_fitness_cache_init(sp_fitness_cache *c) { memset(c, 0, sizeof *c); }

void sp_fitness_cache_free(sp_fitness_cache *c)
{
    free(c->entries);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

static uint64_t key_hash(const sp_mask *m, int fidelity)
{
    uint64_t h = sp_mask_hash(m) ^ ((uint64_t)(fidelity + 1) * 0x9e3779b97f4a7c15ull);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

/* Slot holding the key, or the empty slot where it would go. */
static size_t probe(const sp_fitness_cache *c, const sp_mask *m, int fidelity)
{
    size_t mask = c->n_slots - 1, i = (size_t)key_hash(m, fidelity) & mask;
    for (;;) {
        int64_t s = c->slots[i];
        if (s == 0) return i;
        const sp_cache_entry *e = &c->entries[s - 1];
        if (e->fidelity == fidelity && sp_mask_equal(&e->mask, m)) return i;
        i = (i + 1) & mask;
    }
}

int sp_fitness_cache_contains(const sp_fitness_cache *c, const sp_mask *m, int fidelity)
{
    if (c->n == 0) return 0;
    return c->slots[probe(c, m, fidelity)] != 0;
}

int sp_fitness_cache_peek(const sp_fitness_cache *c, const sp_mask *m, int fidelity,
                          double *fitness)
{
    if (c->n == 0) return 0;
    int64_t s = c->slots[probe(c, m, fidelity)];
    if (s && fitness) *fitness = c->entries[s - 1].fitness;
    return s != 0;
}

int sp_fitness_cache_lookup(sp_fitness_cache *c, const sp_mask *m, int fidelity, double *fitness)
{
    if (c->n == 0) {
        c->misses++;
        return 0;
    }
    int64_t s = c->slots[probe(c, m, fidelity)];
    if (!s) {
        c->misses++;
        return 0;
    }
    c->hits++;
    if (fitness) *fitness = c->entries[s - 1].fitness;
    return 1;
}

static void rehash(sp_fitness_cache *c, size_t n_slots)
{
    free(c->slots);
    c->n_slots = n_slots;
    c->slots = sp_xcalloc(n_slots, sizeof *c->slots);
    for (size_t e = 0; e < c->n; e++)
        c->slots[probe(c, &c->entries[e].mask, c->entries[e].fidelity)] = (int64_t)e + 1;
}

void sp_fitness_cache_insert(sp_fitness_cache *c, const sp_mask *m, int fidelity, double fitness)
{
    if (2 * (c->n + 1) > c->n_slots) rehash(c, c->n_slots ? 2 * c->n_slots : 64);
    size_t i = probe(c, m, fidelity);
    SP_ASSERT_MSG(c->slots[i] == 0, "fitness cache: (mask, fidelity %d) inserted twice", fidelity);
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        size_t bytes;
        SP_ASSERT(sp_mul_size(c->cap, sizeof *c->entries, &bytes) == 0);
        c->entries = sp_xrealloc(c->entries, bytes);
    }
    c->entries[c->n].mask = *m;
    c->entries[c->n].fidelity = fidelity;
    c->entries[c->n].fitness = fitness;
    c->n++;
    c->slots[i] = (int64_t)c->n;
}

int sp_fitness_cache_save(const sp_fitness_cache *c, const char *prefix, sp_state *st,
                          sp_error *err)
{
    char name[SP_STATE_NAME_MAX];
    size_t n = c->n;
    int64_t *masks = sp_xcalloc(n * SP_MASK_WORDS + 1, sizeof *masks);
    int64_t *fid = sp_xcalloc(n + 1, sizeof *fid);
    double *fit = sp_xcalloc(n + 1, sizeof *fit);
    for (size_t i = 0; i < n; i++) {
        sp_search_masks_to_i64(&c->entries[i].mask, 1, masks + i * SP_MASK_WORDS);
        fid[i] = c->entries[i].fidelity;
        fit[i] = c->entries[i].fitness;
    }
    int64_t counters[2] = {c->hits, c->misses};
    int rc = 0;
    snprintf(name, sizeof name, "%s/masks", prefix);
    rc |= sp_state_put_i64(st, name, n, SP_MASK_WORDS, masks, err);
    snprintf(name, sizeof name, "%s/fidelity", prefix);
    if (!rc) rc |= sp_state_put_i64(st, name, n, 0, fid, err);
    snprintf(name, sizeof name, "%s/fitness", prefix);
    if (!rc) rc |= sp_state_put_f64(st, name, n, 0, fit, err);
    snprintf(name, sizeof name, "%s/counters", prefix);
    if (!rc) rc |= sp_state_put_i64(st, name, 2, 0, counters, err);
    free(masks);
    free(fid);
    free(fit);
    return rc ? -1 : 0;
}

int sp_fitness_cache_load(sp_fitness_cache *c, const char *prefix, const sp_state *st,
                          sp_error *err)
{
    char name[SP_STATE_NAME_MAX];
    const sp_state_entry *em, *ef, *ex;
    snprintf(name, sizeof name, "%s/masks", prefix);
    if (sp_state_get_any(st, name, SP_STATE_I64, 2, &em, err)) return -1;
    if (em->dims[1] != SP_MASK_WORDS)
        return sp_error_set(err, "state: %s: %zu words per mask, expected %d", name, em->dims[1],
                            SP_MASK_WORDS);
    size_t n = em->dims[0];
    snprintf(name, sizeof name, "%s/fidelity", prefix);
    if (sp_state_get_any(st, name, SP_STATE_I64, 1, &ef, err)) return -1;
    snprintf(name, sizeof name, "%s/fitness", prefix);
    if (sp_state_get_any(st, name, SP_STATE_F64, 1, &ex, err)) return -1;
    if (ef->dims[0] != n || ex->dims[0] != n)
        return sp_error_set(err, "state: %s: %zu masks but %zu fidelities and %zu fitnesses",
                            prefix, n, ef->dims[0], ex->dims[0]);
    int64_t counters[2];
    snprintf(name, sizeof name, "%s/counters", prefix);
    if (sp_state_get_i64(st, name, 2, 0, counters, err)) return -1;
    sp_fitness_cache_free(c);
    const int64_t *mw = em->data, *fd = ef->data;
    const double *fx = ex->data;
    for (size_t i = 0; i < n; i++) {
        sp_mask m;
        sp_search_masks_from_i64(mw + i * SP_MASK_WORDS, 1, &m);
        if (sp_fitness_cache_contains(c, &m, (int)fd[i]))
            return sp_error_set(err, "state: %s: entry %zu duplicates an earlier one", prefix, i);
        sp_fitness_cache_insert(c, &m, (int)fd[i], fx[i]);
    }
    c->hits = counters[0];
    c->misses = counters[1];
    return 0;
}
