/* mask.h — a set of removed layers (bit i set = layer i removed), up to SP_MAX_LAYERS layers.
 * A plain value type: copy it, compare it, hash it. */
#ifndef SP_MASK_H
#define SP_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SP_MAX_LAYERS 256
#define SP_MASK_WORDS (SP_MAX_LAYERS / 64)

typedef struct {
    uint64_t w[SP_MASK_WORDS];
} sp_mask;

static inline void sp_mask_clear(sp_mask *m)
{
    for (int i = 0; i < SP_MASK_WORDS; i++) m->w[i] = 0;
}
static inline void sp_mask_set(sp_mask *m, int layer) { m->w[layer >> 6] |= 1ull << (layer & 63); }
static inline void sp_mask_unset(sp_mask *m, int layer)
{
    m->w[layer >> 6] &= ~(1ull << (layer & 63));
}
static inline int sp_mask_test(const sp_mask *m, int layer)
{
    return (int)((m->w[layer >> 6] >> (layer & 63)) & 1u);
}

int sp_mask_count(const sp_mask *m);
int sp_mask_equal(const sp_mask *a, const sp_mask *b);
uint64_t sp_mask_hash(const sp_mask *m);

/* Parses "3,7,11" (0-based, no duplicates, each < n_layers, not all layers). `what` names the
 * option in messages ("--remove"). An empty string is the empty mask. */
int sp_mask_parse(const char *text, int n_layers, const char *what, sp_mask *out, sp_error *err);

/* Writes "3,7,11" (or "" for none) into buf; truncates safely. Returns buf. */
char *sp_mask_format(const sp_mask *m, char *buf, size_t size);

/* Fills idx[] with the removed layers in increasing order; returns the count. */
int sp_mask_to_list(const sp_mask *m, int *idx, int cap);

#endif
