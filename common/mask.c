/* mask.c — layer-mask parsing, formatting, hashing. */
#include "mask.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sp_mask_count(const sp_mask *m)
{
    int n = 0;
    for (int i = 0; i < SP_MASK_WORDS; i++) n += __builtin_popcountll(m->w[i]);
    return n;
}

int sp_mask_equal(const sp_mask *a, const sp_mask *b)
{
    return memcmp(a->w, b->w, sizeof a->w) == 0;
}

uint64_t sp_mask_hash(const sp_mask *m)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < SP_MASK_WORDS; i++) {
        h ^= m->w[i] + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    return h;
}

int sp_mask_parse(const char *text, int n_layers, const char *what, sp_mask *out, sp_error *err)
{
    sp_mask m;
    sp_mask_clear(&m);
    const char *p = text;
    while (*p == ' ') p++;
    if (*p == '\0') {
        *out = m;
        return 0;
    }
    for (;;) {
        while (*p == ' ') p++;
        if (*p < '0' || *p > '9')
            return sp_error_set(err, "%s: expected a layer index at \"%s\" in \"%s\"", what, p,
                                text);
        errno = 0;
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (errno || v < 0 || v >= n_layers)
            return sp_error_set(err, "%s: layer %.*s out of range (the model has %d layers, 0..%d)",
                                what, (int)(end - p), p, n_layers, n_layers - 1);
        if (sp_mask_test(&m, (int)v))
            return sp_error_set(err, "%s: layer %ld listed twice", what, v);
        sp_mask_set(&m, (int)v);
        p = end;
        while (*p == ' ') p++;
        if (*p == '\0') break;
        if (*p != ',')
            return sp_error_set(err, "%s: unexpected character '%c' in \"%s\"", what, *p, text);
        p++;
    }
    if (sp_mask_count(&m) >= n_layers)
        return sp_error_set(err, "%s: cannot remove all %d layers", what, n_layers);
    *out = m;
    return 0;
}

char *sp_mask_format(const sp_mask *m, char *buf, size_t size)
{
    size_t n = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < SP_MAX_LAYERS; i++) {
        if (!sp_mask_test(m, i)) continue;
        int w = snprintf(buf + n, size > n ? size - n : 0, "%s%d", n ? "," : "", i);
        if (w < 0 || (size_t)w >= size - n) break;
        n += (size_t)w;
    }
    return buf;
}

int sp_mask_to_list(const sp_mask *m, int *idx, int cap)
{
    int n = 0;
    for (int i = 0; i < SP_MAX_LAYERS; i++)
        if (sp_mask_test(m, i)) {
            if (n < cap) idx[n] = i;
            n++;
        }
    return n;
}
