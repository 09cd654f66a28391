/* tokenizer_internal.h — private layout of sp_tokenizer, shared by tokenizer.c (encode/decode),
 * tokenizer_load.c (tokenizer.json -> struct) and tokenizer_bpe.c (hash maps, BPE merges, cache).
 * Vocabulary strings are stored as RAW bytes (the ByteLevel alphabet is undone at load time), so
 * pre-tokens are looked up without re-mapping and decoding is a concatenation. */
#ifndef SP_TOKENIZER_INTERNAL_H
#define SP_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* Open-addressing map: byte string -> uint64 value. Keys are copied into the map's own arena. */
typedef struct {
    uint32_t key_off; /* into arena */
    uint32_t key_len; /* UINT32_MAX marks an empty slot */
    uint32_t hash;    /* low 32 bits of the key's hash */
    uint32_t pad;
    uint64_t value;
} sp_tok_strslot;

typedef struct {
    sp_tok_strslot *slots; /* [cap], cap a power of two */
    size_t cap, count;
    char *arena;
    size_t arena_len, arena_cap;
} sp_tok_strmap;

/* Open-addressing map: (left id, right id) -> (merge rank, merged id). */
typedef struct {
    uint64_t key; /* left << 32 | right; UINT64_MAX marks an empty slot */
    uint32_t rank;
    int32_t merged;
} sp_tok_pairslot;

typedef struct {
    sp_tok_pairslot *slots; /* [cap] */
    size_t cap, count;
} sp_tok_pairmap;

typedef struct {
    char *content; /* raw UTF-8 text matched in the input */
    size_t len;
    int32_t id;
    int lstrip, rstrip, special;
} sp_tok_added;

/* Per-pre-token cache: bytes -> (offset into ids, count), bounded, guarded by a mutex. */
typedef struct {
    pthread_mutex_t lock;
    sp_tok_strmap map;
    int32_t *ids; /* [ids_len] */
    size_t ids_len, ids_cap;
} sp_tok_cache;

enum { SP_TOK_CACHE_MAX_ENTRIES = 1 << 17, SP_TOK_CACHE_MAX_KEY = 128 };

struct sp_tokenizer {
    char *path;
    /* id -> raw bytes: token i is arena[id_off[i] .. id_off[i] + id_len[i]) */
    int64_t n_ids;    /* largest id + 1 */
    uint32_t *id_off; /* [n_ids] */
    uint32_t *id_len; /* [n_ids]; UINT32_MAX for an id no token uses */
    char *arena;
    size_t arena_len, arena_cap;

    sp_tok_strmap vocab;   /* BPE model vocabulary, raw bytes -> id */
    sp_tok_pairmap merges; /* (left, right) -> (rank, merged) */
    int32_t byte_id[256];  /* id of each single-byte token, -1 when absent */
    int ignore_merges;
    int32_t unk_id; /* -1 when none */

    sp_tok_added *added; /* [n_added], matched leftmost-longest before pre-tokenization */
    size_t n_added;
    uint8_t added_first[256]; /* 1 when some added token starts with that byte */

    pcre2_code *re; /* the Split regex (Isolated behaviour) */
    int jit;        /* 1 when pcre2_jit_compile succeeded */
    int add_prefix_space;

    int32_t *prefix, *suffix; /* TemplateProcessing special ids around the sequence */
    size_t n_prefix, n_suffix;
    int32_t bos, eos;
    int cfg_add_bos;  /* tokenizer_config.json "add_bos_token": 1, 0, or -1 when absent */
    int32_t cfg_bos;  /* tokenizer_config.json "bos_token" as an id, -1 when none */

    sp_tok_cache cache;
};

/* --- tokenizer_bpe.c ------------------------------------------------------------------ */
uint64_t sp_tok_hash(const void *p, size_t n);
void sp_tok_strmap_init(sp_tok_strmap *m, size_t expected);
void sp_tok_strmap_free(sp_tok_strmap *m);
/* Returns 1 and fills *value when found, 0 otherwise. */
int sp_tok_strmap_get(const sp_tok_strmap *m, const void *key, size_t len, uint64_t *value);
/* Inserts or overwrites. */
void sp_tok_strmap_put(sp_tok_strmap *m, const void *key, size_t len, uint64_t value);

void sp_tok_pairmap_init(sp_tok_pairmap *m, size_t expected);
void sp_tok_pairmap_free(sp_tok_pairmap *m);
void sp_tok_pairmap_put(sp_tok_pairmap *m, int32_t left, int32_t right, uint32_t rank,
                        int32_t merged);

void sp_tok_cache_init(sp_tok_cache *c);
void sp_tok_cache_free(sp_tok_cache *c);

/* Growable id vector used by encode. */
typedef struct {
    int32_t *v;
    size_t n, cap;
} sp_tok_ids;
void sp_tok_ids_push(sp_tok_ids *a, int32_t id);

/* Scratch reused across the pre-tokens of one encode call (BPE symbols and heap). */
typedef struct {
    void *sym;
    size_t sym_cap;
    void *heap;
    size_t heap_cap;
} sp_tok_scratch;
void sp_tok_scratch_free(sp_tok_scratch *s);

/* Appends the BPE ids of one pre-token (raw bytes) to out: ignore_merges shortcut, cache,
 * then merges by rank. */
void sp_tok_bpe_word(sp_tokenizer *tok, const uint8_t *w, size_t n, sp_tok_ids *out,
                     sp_tok_scratch *s);

/* --- tokenizer_load.c ----------------------------------------------------------------- */
/* ByteLevel alphabet: byte -> code point, and code point (< 324) -> byte (-1 if not in it). */
uint32_t sp_tok_byte_to_cp(uint8_t b);
int sp_tok_cp_to_byte(uint32_t cp);

/* --- tokenizer.c ---------------------------------------------------------------------- */
/* Decodes one UTF-8 code point at p (n bytes left): returns its length (1-4) and *cp, or 0 when
 * the bytes there are not valid UTF-8. */
size_t sp_tok_utf8_next(const uint8_t *p, size_t n, uint32_t *cp);

#endif
