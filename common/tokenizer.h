/* tokenizer.h — Hugging Face `tokenizer.json` byte-level BPE (Llama-3 / GPT-2 style): added and
 * special tokens matched first, then the Split pre-tokenizer regex (PCRE2, Unicode-aware), the
 * ByteLevel byte-to-unicode map, BPE merges by rank; BOS from the post-processor. */
#ifndef SP_TOKENIZER_H
#define SP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct sp_tokenizer sp_tokenizer;

/* path: a tokenizer.json file, or a directory holding one. */
int sp_tokenizer_load(const char *path, sp_tokenizer **out, sp_error *err);
void sp_tokenizer_free(sp_tokenizer *tok);

/* Encodes len bytes of UTF-8 text. *ids is malloc'ed (caller frees), *n its length. Invalid
 * UTF-8 is an error naming the byte offset. add_bos prepends the BOS token when the tokenizer
 * has one (precisely: it applies the TemplateProcessing "single" template, i.e. every special
 * token before and after the sequence; for Llama-3 that is BOS only). Added tokens written in
 * the text (e.g. "<|eot_id|>") are always recognised. Thread-safe: one tokenizer may be shared
 * by several threads (its BPE cache is mutex-guarded). */
int sp_tokenizer_encode(const sp_tokenizer *tok, const char *text, size_t len, int add_bos,
                        int32_t **ids, size_t *n, sp_error *err);

/* Decodes ids to UTF-8 (malloc'ed, NUL-terminated). Out-of-range ids are errors. */
int sp_tokenizer_decode(const sp_tokenizer *tok, const int32_t *ids, size_t n, char **text,
                        size_t *len, sp_error *err);

int32_t sp_tokenizer_bos(const sp_tokenizer *tok);        /* -1 when none */

/* The one BOS rule of eval (every task), the search's scorer and tokenize. SP_BOS_AUTO follows
 * the tokenizer as Hugging Face does: tokenizer_config.json's "add_bos_token" when it is set,
 * else whether tokenizer.json's post-processor puts a token before the sequence. ON / OFF are
 * --bos / --no-bos. The id prepended is the post-processor's first token, else
 * tokenizer_config.json's "bos_token", else config_bos (config.json's bos_token_id, -1 when
 * none). *bos = -1 means none; asking for a BOS that no file names is an error. */
typedef enum { SP_BOS_AUTO = 0, SP_BOS_ON, SP_BOS_OFF } sp_bos_mode;
int sp_tokenizer_bos_for(const sp_tokenizer *tok, sp_bos_mode mode, int64_t config_bos,
                         int32_t *bos, sp_error *err);
/* EOS is the "eos_token" of tokenizer_config.json beside tokenizer.json (-1 when none). */
int32_t sp_tokenizer_eos(const sp_tokenizer *tok);        /* -1 when none */
int64_t sp_tokenizer_vocab_size(const sp_tokenizer *tok); /* largest id + 1 */

#endif
