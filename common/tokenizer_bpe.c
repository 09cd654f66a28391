/* tokenizer_bpe.c — the BPE core of the tokenizer: open-addressing hash maps (bytes -> value,
 * id pair -> merge), the bounded per-pre-token cache, and merging by rank with a binary heap over
 * a linked list of symbols (lowest rank first, leftmost first among equal ranks, as Hugging Face
 * `tokenizers` does). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tokenizer_internal.h"

uint64_t sp_tok_hash(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        b += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, b, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 32;
    return h;
}

/* --- string map ----------------------------------------------------------------------- */

static size_t sp_tok_pow2_for(size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2) {
        SP_ASSERT(cap <= SIZE_MAX / 2);
        cap *= 2;
    }
    return cap;
}

void sp_tok_strmap_init(sp_tok_strmap *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    m->cap = sp_tok_pow2_for(expected);
    m->slots = sp_xmalloc(m->cap * sizeof *m->slots);
    for (size_t i = 0; i < m->cap; i++) m->slots[i].key_len = UINT32_MAX;
}

void sp_tok_strmap_free(sp_tok_strmap *m)
{
    free(m->slots);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static sp_tok_strslot *sp_tok_strmap_find(const sp_tok_strmap *m, const void *key, size_t len,
                                          uint32_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        sp_tok_strslot *s = &m->slots[i];
        if (s->key_len == UINT32_MAX) return s;
        if (s->hash == h && s->key_len == len && memcmp(m->arena + s->key_off, key, len) == 0)
            return s;
    }
}

int sp_tok_strmap_get(const sp_tok_strmap *m, const void *key, size_t len, uint64_t *value)
{
    if (len >= UINT32_MAX) return 0;
    const sp_tok_strslot *s = sp_tok_strmap_find(m, key, len, (uint32_t)sp_tok_hash(key, len));
    if (s->key_len == UINT32_MAX) return 0;
    *value = s->value;
    return 1;
}

static void sp_tok_strmap_grow(sp_tok_strmap *m)
{
    sp_tok_strslot *old = m->slots;
    size_t old_cap = m->cap;
    SP_ASSERT(old_cap <= SIZE_MAX / 2 / sizeof *old);
    m->cap = old_cap * 2;
    m->slots = sp_xmalloc(m->cap * sizeof *m->slots);
    for (size_t i = 0; i < m->cap; i++) m->slots[i].key_len = UINT32_MAX;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key_len == UINT32_MAX) continue;
        size_t mask = m->cap - 1, j = old[i].hash & mask;
        while (m->slots[j].key_len != UINT32_MAX) j = (j + 1) & mask;
        m->slots[j] = old[i];
    }
    free(old);
}

void sp_tok_strmap_put(sp_tok_strmap *m, const void *key, size_t len, uint64_t value)
{
    SP_ASSERT(len < UINT32_MAX);
    if ((m->count + 1) * 2 > m->cap) sp_tok_strmap_grow(m);
    uint32_t h = (uint32_t)sp_tok_hash(key, len);
    sp_tok_strslot *s = sp_tok_strmap_find(m, key, len, h);
    if (s->key_len != UINT32_MAX) {
        s->value = value;
        return;
    }
    size_t need;
    SP_ASSERT(sp_add_size(m->arena_len, len, &need) == 0 && need < UINT32_MAX);
    if (need > m->arena_cap || !m->arena) { /* allocated by the first key, even an empty one */
        size_t cap = m->arena_cap ? m->arena_cap : 4096;
        while (cap < need) cap *= 2;
        m->arena = sp_xrealloc(m->arena, cap);
        m->arena_cap = cap;
    }
    if (len) memcpy(m->arena + m->arena_len, key, len); /* key may be NULL when len is 0 */
    s->key_off = (uint32_t)m->arena_len;
    s->key_len = (uint32_t)len;
    s->hash = h;
    s->value = value;
    m->arena_len = need;
    m->count++;
}

/* --- pair map ------------------------------------------------------------------------- */

static inline uint64_t sp_tok_pair_key(int32_t l, int32_t r)
{
    return ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
}

static inline size_t sp_tok_pair_slot(uint64_t key, size_t mask)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 31)) & mask;
}

void sp_tok_pairmap_init(sp_tok_pairmap *m, size_t expected)
{
    m->cap = sp_tok_pow2_for(expected);
    m->count = 0;
    m->slots = sp_xmalloc(m->cap * sizeof *m->slots);
    for (size_t i = 0; i < m->cap; i++) m->slots[i].key = UINT64_MAX;
}

void sp_tok_pairmap_free(sp_tok_pairmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* Later duplicates overwrite earlier ones (Hugging Face collects merges into a HashMap). */
void sp_tok_pairmap_put(sp_tok_pairmap *m, int32_t left, int32_t right, uint32_t rank,
                        int32_t merged)
{
    SP_ASSERT((m->count + 1) * 2 <= m->cap); /* sized for all merges at init */
    uint64_t key = sp_tok_pair_key(left, right);
    size_t mask = m->cap - 1, i = sp_tok_pair_slot(key, mask);
    while (m->slots[i].key != UINT64_MAX && m->slots[i].key != key) i = (i + 1) & mask;
    if (m->slots[i].key == UINT64_MAX) m->count++;
    m->slots[i].key = key;
    m->slots[i].rank = rank;
    m->slots[i].merged = merged;
}

static inline const sp_tok_pairslot *sp_tok_pairmap_get(const sp_tok_pairmap *m, int32_t left,
                                                        int32_t right)
{
    uint64_t key = sp_tok_pair_key(left, right);
    size_t mask = m->cap - 1, i = sp_tok_pair_slot(key, mask);
    for (;; i = (i + 1) & mask) {
        if (m->slots[i].key == key) return &m->slots[i];
        if (m->slots[i].key == UINT64_MAX) return NULL;
    }
}

/* --- cache and id vectors ------------------------------------------------------------- */

void sp_tok_cache_init(sp_tok_cache *c)
{
    memset(c, 0, sizeof *c);
    SP_ASSERT(pthread_mutex_init(&c->lock, NULL) == 0);
    sp_tok_strmap_init(&c->map, 4096);
}

void sp_tok_cache_free(sp_tok_cache *c)
{
    pthread_mutex_destroy(&c->lock);
    sp_tok_strmap_free(&c->map);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

void sp_tok_ids_push(sp_tok_ids *a, int32_t id)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64, bytes;
        SP_ASSERT(sp_mul_size(cap, sizeof *a->v, &bytes) == 0);
        a->v = sp_xrealloc(a->v, bytes);
        a->cap = cap;
    }
    a->v[a->n++] = id;
}

/* Returns 1 and appends the cached ids when w is cached. */
static int sp_tok_cache_get(sp_tok_cache *c, const uint8_t *w, size_t n, sp_tok_ids *out)
{
    uint64_t v;
    int found;
    pthread_mutex_lock(&c->lock);
    found = sp_tok_strmap_get(&c->map, w, n, &v);
    if (found) {
        const int32_t *ids = c->ids + (v >> 32);
        for (uint32_t i = 0; i < (uint32_t)v; i++) sp_tok_ids_push(out, ids[i]);
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

static void sp_tok_cache_put(sp_tok_cache *c, const uint8_t *w, size_t n, const int32_t *ids,
                             size_t count)
{
    pthread_mutex_lock(&c->lock);
    if (c->map.count < SP_TOK_CACHE_MAX_ENTRIES && c->ids_len + count < UINT32_MAX) {
        if (c->ids_len + count > c->ids_cap || !c->ids) { /* even for a first word of no ids */
            size_t cap = c->ids_cap ? c->ids_cap : 4096;
            while (cap < c->ids_len + count) cap *= 2;
            c->ids = sp_xrealloc(c->ids, cap * sizeof *c->ids);
            c->ids_cap = cap;
        }
        if (count) memcpy(c->ids + c->ids_len, ids, count * sizeof *ids); /* ids NULL if 0 */
        sp_tok_strmap_put(&c->map, w, n, ((uint64_t)c->ids_len << 32) | (uint32_t)count);
        c->ids_len += count;
    }
    pthread_mutex_unlock(&c->lock);
}

/* --- merging -------------------------------------------------------------------------- */

typedef struct {
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
} sp_tok_sym;

typedef struct {
    uint32_t rank;
    uint32_t pos;          /* left symbol */
    int32_t left, right;   /* ids expected at pos and its successor (stale entries skipped) */
} sp_tok_cand;

static inline int sp_tok_cand_less(const sp_tok_cand *a, const sp_tok_cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void sp_tok_heap_push(sp_tok_cand *h, size_t *n, sp_tok_cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!sp_tok_cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static sp_tok_cand sp_tok_heap_pop(sp_tok_cand *h, size_t *n)
{
    sp_tok_cand top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= *n) break;
        if (l + 1 < *n && sp_tok_cand_less(&h[l + 1], &h[l])) l++;
        if (!sp_tok_cand_less(&h[l], &last)) break;
        h[i] = h[l];
        i = l;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static void sp_tok_try_pair(const sp_tokenizer *tok, const sp_tok_sym *sym, int32_t pos,
                            sp_tok_cand *heap, size_t *nheap)
{
    if (pos < 0 || sym[pos].next < 0) return;
    int32_t l = sym[pos].id, r = sym[sym[pos].next].id;
    const sp_tok_pairslot *m = sp_tok_pairmap_get(&tok->merges, l, r);
    if (!m) return;
    sp_tok_cand c = {m->rank, (uint32_t)pos, l, r};
    sp_tok_heap_push(heap, nheap, c);
}

/* Grows the scratch for n bytes: n symbols and at most 2n heap entries live at once. */
static void sp_tok_scratch_reserve(sp_tok_scratch *s, size_t n)
{
    if (n > s->sym_cap) {
        size_t bytes;
        SP_ASSERT(sp_mul_size(n, sizeof(sp_tok_sym), &bytes) == 0);
        s->sym = sp_xrealloc(s->sym, bytes);
        s->sym_cap = n;
    }
    if (n * 2 > s->heap_cap) {
        size_t bytes;
        SP_ASSERT(n <= SIZE_MAX / 2 && sp_mul_size(n * 2, sizeof(sp_tok_cand), &bytes) == 0);
        s->heap = sp_xrealloc(s->heap, bytes);
        s->heap_cap = n * 2;
    }
}

void sp_tok_scratch_free(sp_tok_scratch *s)
{
    free(s->sym);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

/* Merges the bytes of w by rank; appends the resulting ids to out. */
static void sp_tok_merge(const sp_tokenizer *tok, const uint8_t *w, size_t n, sp_tok_ids *out,
                         sp_tok_scratch *s)
{
    SP_ASSERT(n < INT32_MAX);
    sp_tok_scratch_reserve(s, n);
    sp_tok_sym *sym = s->sym;
    sp_tok_cand *heap = s->heap;
    size_t nsym = 0, nheap = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = tok->byte_id[w[i]];
        if (id < 0) id = tok->unk_id;
        if (id < 0) continue; /* no token and no unk: the byte is dropped, as in HF */
        sym[nsym] = (sp_tok_sym){id, (int32_t)nsym - 1, (int32_t)nsym + 1};
        nsym++;
    }
    if (nsym == 0) return;
    sym[nsym - 1].next = -1;
    for (size_t i = 0; i + 1 < nsym; i++) sp_tok_try_pair(tok, sym, (int32_t)i, heap, &nheap);
    while (nheap > 0) {
        sp_tok_cand c = sp_tok_heap_pop(heap, &nheap);
        sp_tok_sym *a = &sym[c.pos];
        if (a->id != c.left || a->next < 0 || sym[a->next].id != c.right) continue;
        const sp_tok_pairslot *m = sp_tok_pairmap_get(&tok->merges, c.left, c.right);
        sp_tok_sym *b = &sym[a->next];
        a->id = m->merged;
        a->next = b->next;
        if (b->next >= 0) sym[b->next].prev = (int32_t)c.pos;
        b->id = -1;
        sp_tok_try_pair(tok, sym, a->prev, heap, &nheap);
        sp_tok_try_pair(tok, sym, (int32_t)c.pos, heap, &nheap);
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) sp_tok_ids_push(out, sym[i].id);
}

void sp_tok_bpe_word(sp_tokenizer *tok, const uint8_t *w, size_t n, sp_tok_ids *out,
                     sp_tok_scratch *s)
{
    uint64_t v;
    if (n == 1 && tok->byte_id[w[0]] >= 0) {
        sp_tok_ids_push(out, tok->byte_id[w[0]]);
        return;
    }
    if (tok->ignore_merges && sp_tok_strmap_get(&tok->vocab, w, n, &v)) {
        sp_tok_ids_push(out, (int32_t)v);
        return;
    }
    int cacheable = n <= SP_TOK_CACHE_MAX_KEY;
    if (cacheable && sp_tok_cache_get(&tok->cache, w, n, out)) return;
    size_t start = out->n;
    sp_tok_merge(tok, w, n, out, s);
    if (cacheable) /* out->v is still NULL when the word gave no ids */
        sp_tok_cache_put(&tok->cache, w, n, out->n > start ? out->v + start : NULL, out->n - start);
}
