/* mc_data.h — multiple-choice evaluation data: loading, lm-eval preprocessing and subsets.
 * Three layouts, detected from the file's first byte and first line: the official HellaSwag
 * jsonl (`activity_label`, `ctx_a`, `ctx_b`, `endings`, `label`), a generic multiple-choice
 * jsonl (`context`, `choices`, `label`), and llama.cpp's 6-line HellaSwag text layout (query,
 * gold label, 4 endings, already preprocessed). Every item ends up as a query plus endings; the
 * scored continuation of an ending is " " + ending (lm-eval's target delimiter). */
#ifndef SP_MC_DATA_H
#define SP_MC_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define SP_MC_MAX_ENDINGS 16

typedef enum {
    SP_MC_FORMAT_HELLASWAG_JSONL = 0, /* official HellaSwag jsonl, preprocessed like lm-eval */
    SP_MC_FORMAT_GENERIC_JSONL,       /* {"context", "choices", "label"}, used verbatim */
    SP_MC_FORMAT_LLAMACPP_TXT,        /* 6 lines per item, used verbatim */
} sp_mc_format;

typedef struct {
    char *query;       /* UTF-8, NUL-terminated: the context the endings continue */
    int n_endings;     /* 2..SP_MC_MAX_ENDINGS */
    char **endings;    /* [n_endings] UTF-8, without the leading delimiter space */
    int label;         /* gold index in [0, n_endings) */
    int64_t line;      /* 1-based line of the item in its file (first line of a 6-line item) */
} sp_mc_item;

typedef struct {
    char *path;
    sp_mc_format format;
    int64_t n;         /* number of items */
    sp_mc_item *items; /* [n] */
} sp_mc_set;

/* Loads and validates a whole file (format auto-detected). Bad input (empty file, invalid
 * UTF-8, malformed JSON, missing/empty/out-of-range labels, fewer than 2 endings, truncated
 * 6-line items) fails with a message naming the file and line. */
int sp_mc_load(const char *path, sp_mc_set *out, sp_error *err);
/* Same from an in-memory buffer; `path` is used in messages only. */
int sp_mc_load_buffer(const char *path, const char *buf, size_t len, sp_mc_set *out,
                      sp_error *err);
void sp_mc_free(sp_mc_set *set);

const char *sp_mc_format_name(sp_mc_format f);

/* lm-eval's HellaSwag preprocess: strip; " [title]" -> ". "; remove "[...]" markers (non-greedy,
 * not across newlines); "  " -> " " (one left-to-right pass, like str.replace). Malloc'ed. */
char *sp_mc_preprocess(const char *text);
/* Python str.capitalize for ASCII and Latin-1 letters: first char upper, rest lower. Malloc'ed.
 * Other non-ASCII characters are copied unchanged. */
char *sp_mc_capitalize(const char *text);

/* Byte offset of the first invalid UTF-8 sequence in [s, s+len), or -1 when valid. */
int64_t sp_mc_utf8_check(const char *s, size_t len);

/* Subsets as sorted item indices (malloc'ed *idx, *n_out entries), deterministic:
 * n = 0 or n >= set->n selects everything. The seeded sample keeps the n items with the smallest
 * counter-based keys sp_rng_hash(seed, index, ...), so a smaller sample is always a subset of a
 * larger one with the same seed (handy for growing evaluation fidelities). */
int sp_mc_subset_first(const sp_mc_set *set, int64_t n, int64_t **idx, int64_t *n_out,
                       sp_error *err);
int sp_mc_subset_sample(const sp_mc_set *set, int64_t n, uint64_t seed, int64_t **idx,
                        int64_t *n_out, sp_error *err);

#endif
