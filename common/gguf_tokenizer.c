/* gguf_tokenizer.c — synthesizes a Hugging Face tokenizer.json (byte-level BPE) and a minimal
 * tokenizer_config.json from GGUF tokenizer metadata: tokenizer.ggml.tokens (byte-level strings,
 * id = index), token_type (3 control -> special added token, 4 user-defined -> added token),
 * merges ("a b"), bos/eos ids, add_bos_token, and the pre-tokenizer regex named by
 * tokenizer.ggml.pre (the names llama.cpp gives to the Hugging Face pre-tokenizers). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_convert.h"
#include "tokenizer.h"

/* GPT-2's ByteLevel regex (tokenizer.ggml.pre "gpt2" / "default"). */
static const char GT_RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/* Llama-3's Split regex ("llama-bpe"), as in Meta's tokenizer.json. */
static const char GT_RE_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* "smollm" (also StarCoder's): Digits(individual_digits) then the GPT-2 regex, written as one
 * regex: every digit is its own piece, ` ?\p{N}+` can no longer match, and since a digit ended
 * the segment, `\s+(?!\S)` may stop before a digit as it would at a segment end. */
static const char GT_RE_DIGITS_GPT2[] =
    "\\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?![^\\s\\p{N}])|\\s+";

typedef struct {
    const char *name;
    const char *regex;
    int ignore_merges; /* Llama-3's tokenizer.json sets it */
} gt_pre;

static const gt_pre gt_pres[] = {
    {"default", GT_RE_GPT2, 0},          {"gpt2", GT_RE_GPT2, 0},
    {"llama-bpe", GT_RE_LLAMA3, 1},      {"llama3", GT_RE_LLAMA3, 1},
    {"smollm", GT_RE_DIGITS_GPT2, 0},    {"starcoder", GT_RE_DIGITS_GPT2, 0},
    {"refact", GT_RE_DIGITS_GPT2, 0},
};

enum { GT_CONTROL = 3, GT_USER_DEFINED = 4 };

/* 1 when s[0..n) is valid UTF-8 without NUL bytes. */
static int gt_utf8_ok(const unsigned char *s, uint64_t n)
{
    uint64_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        int len = c == 0 ? 0 : c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                                                  : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + (uint64_t)len > n) return 0;
        for (int k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        if (len == 2 && c < 0xC2) return 0;                         /* overlong */
        if (len == 3 && c == 0xE0 && s[i + 1] < 0xA0) return 0;     /* overlong */
        if (len == 3 && c == 0xED && s[i + 1] >= 0xA0) return 0;    /* surrogate */
        if (len == 4 && (c > 0xF4 || (c == 0xF0 && s[i + 1] < 0x90) ||
                         (c == 0xF4 && s[i + 1] >= 0x90)))
            return 0;
        i += (uint64_t)len;
    }
    return 1;
}

static char *gt_dup(const char *p, uint64_t n)
{
    char *s = sp_xmalloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    return s;
}

typedef struct {
    const sp_gguf *g;
    const sp_gguf_value *tokens, *types, *merges;
    const gt_pre *pre;
    int add_bos;
    int64_t bos, eos;
} gt_ctx;

static const gt_pre *gt_find_pre(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof gt_pres / sizeof gt_pres[0]; i++)
        if (strlen(gt_pres[i].name) == n && memcmp(gt_pres[i].name, p, n) == 0) return &gt_pres[i];
    return NULL;
}

static int gt_load(gt_ctx *c, const sp_gguf *g, const sp_model_config *cfg, sp_error *err)
{
    const char *s;
    size_t n;
    memset(c, 0, sizeof *c);
    c->g = g;
    if (sp_gguf_get_str(g, "tokenizer.ggml.model", 1, &s, &n, err) < 0) return -1;
    if (n != 4 || memcmp(s, "gpt2", 4) != 0)
        return sp_error_set(err, "%s: tokenizer.ggml.model \"%.*s\": not implemented (only "
                                 "\"gpt2\" byte-level BPE; SentencePiece \"llama\" is not "
                                 "supported)", g->path, (int)(n < 32 ? n : 32), s);
    const char *pre = "default";
    n = 7;
    if (sp_gguf_get_str(g, "tokenizer.ggml.pre", 0, &pre, &n, err) < 0) return -1;
    c->pre = gt_find_pre(pre, n);
    if (!c->pre)
        return sp_error_set(err, "%s: tokenizer.ggml.pre \"%.*s\" is not supported (default, gpt2, "
                                 "llama-bpe, llama3, smollm, starcoder, refact)", g->path,
                            (int)(n < 64 ? n : 64), pre);
    if (sp_gguf_get_array(g, "tokenizer.ggml.tokens", 1, SP_GGUF_STRING, &c->tokens, err) < 0 ||
        sp_gguf_get_array(g, "tokenizer.ggml.merges", 1, SP_GGUF_STRING, &c->merges, err) < 0 ||
        sp_gguf_get_array(g, "tokenizer.ggml.token_type", 0, SP_GGUF_I32, &c->types, err) < 0)
        return -1;
    if ((int64_t)c->tokens->v.arr.count != cfg->vocab)
        return sp_error_set(err, "%s: tokenizer.ggml.tokens has %llu entries, the embedding %lld "
                                 "rows", g->path, (unsigned long long)c->tokens->v.arr.count,
                            (long long)cfg->vocab);
    if (c->types && c->types->v.arr.count != c->tokens->v.arr.count)
        return sp_error_set(err, "%s: tokenizer.ggml.token_type has %llu entries, tokens %llu",
                            g->path, (unsigned long long)c->types->v.arr.count,
                            (unsigned long long)c->tokens->v.arr.count);
    c->bos = cfg->bos_id;
    c->eos = cfg->n_eos ? cfg->eos_ids[0] : -1;
    int add_eos = 0; /* both flags default to false when absent (an explicit key is the only signal we trust) */
    if (sp_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", 0, &c->add_bos, err) < 0 ||
        sp_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", 0, &add_eos, err) < 0)
        return -1;
    if (add_eos)
        return sp_error_set(err, "%s: tokenizer.ggml.add_eos_token: not implemented: appending EOS",
                            g->path);
    if (c->add_bos && c->bos < 0)
        return sp_error_set(err, "%s: tokenizer.ggml.add_bos_token is true but there is no "
                                 "tokenizer.ggml.bos_token_id", g->path);
    return 0;
}

typedef struct {
    const char *p;
    uint64_t len, id;
} gt_tok_ref;

static int gt_cmp_tok(const void *a, const void *b)
{
    const gt_tok_ref *x = a, *y = b;
    int c = memcmp(x->p, y->p, (size_t)(x->len < y->len ? x->len : y->len));
    return c ? c : (x->len < y->len ? -1 : x->len > y->len);
}

/* Every token valid UTF-8, non-empty and unique. */
static int gt_check_tokens(const gt_ctx *c, sp_error *err)
{
    const sp_gguf_value *t = c->tokens;
    uint64_t n = t->v.arr.count;
    for (uint64_t i = 0; i < n; i++)
        if (t->v.arr.str_lens[i] == 0 ||
            !gt_utf8_ok((const unsigned char *)t->v.arr.strs[i], t->v.arr.str_lens[i]))
            return sp_error_set(err, "%s: tokenizer.ggml.tokens[%llu] is empty, not valid UTF-8 or "
                                     "holds a NUL byte", c->g->path, (unsigned long long)i);
    gt_tok_ref *refs = sp_xmalloc((size_t)(n ? n : 1) * sizeof *refs);
    for (uint64_t i = 0; i < n; i++) refs[i] = (gt_tok_ref){t->v.arr.strs[i], t->v.arr.str_lens[i], i};
    qsort(refs, (size_t)n, sizeof *refs, gt_cmp_tok);
    int rc = 0;
    for (uint64_t i = 1; i < n && !rc; i++)
        if (gt_cmp_tok(&refs[i - 1], &refs[i]) == 0)
            rc = sp_error_set(err, "%s: tokenizer.ggml.tokens[%llu] duplicates token %llu (\"%.*s\")",
                              c->g->path, (unsigned long long)refs[i].id,
                              (unsigned long long)refs[i - 1].id,
                              (int)(refs[i].len < 64 ? refs[i].len : 64), refs[i].p);
    free(refs);
    return rc;
}

static cJSON *gt_added_tokens(const gt_ctx *c)
{
    cJSON *arr = cJSON_CreateArray();
    for (uint64_t i = 0; c->types && i < c->types->v.arr.count; i++) {
        int64_t ty = sp_gguf_array_int(c->types, i);
        if (ty != GT_CONTROL && ty != GT_USER_DEFINED) continue;
        char *content = gt_dup(c->tokens->v.arr.strs[i], c->tokens->v.arr.str_lens[i]);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)i);
        cJSON_AddStringToObject(o, "content", content);
        cJSON_AddFalseToObject(o, "single_word");
        cJSON_AddFalseToObject(o, "lstrip");
        cJSON_AddFalseToObject(o, "rstrip");
        cJSON_AddBoolToObject(o, "normalized", ty != GT_CONTROL);
        cJSON_AddBoolToObject(o, "special", ty == GT_CONTROL);
        cJSON_AddItemToArray(arr, o);
        free(content);
    }
    return arr;
}

static cJSON *gt_pre_tokenizer(const gt_ctx *c)
{
    cJSON *pt = cJSON_CreateObject(), *list, *split, *pat, *bl;
    cJSON_AddStringToObject(pt, "type", "Sequence");
    list = cJSON_AddArrayToObject(pt, "pretokenizers");
    split = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    pat = cJSON_AddObjectToObject(split, "pattern");
    cJSON_AddStringToObject(pat, "Regex", c->pre->regex);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddFalseToObject(split, "invert");
    cJSON_AddItemToArray(list, split);
    bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddFalseToObject(bl, "add_prefix_space");
    cJSON_AddTrueToObject(bl, "trim_offsets");
    cJSON_AddFalseToObject(bl, "use_regex");
    cJSON_AddItemToArray(list, bl);
    return pt;
}

static cJSON *gt_post_processor(const gt_ctx *c)
{
    if (!c->add_bos) return cJSON_CreateNull();
    char *bos = gt_dup(c->tokens->v.arr.strs[c->bos], c->tokens->v.arr.str_lens[c->bos]);
    cJSON *pp = cJSON_CreateObject();
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    const char *names[] = {"single", "pair"};
    for (int k = 0; k < 2; k++) {
        cJSON *seq = cJSON_AddArrayToObject(pp, names[k]);
        for (int part = 0; part <= k; part++) {
            cJSON *st = cJSON_CreateObject(), *sq = cJSON_CreateObject();
            cJSON *a = cJSON_AddObjectToObject(st, "SpecialToken");
            cJSON_AddStringToObject(a, "id", bos);
            cJSON_AddNumberToObject(a, "type_id", part);
            cJSON *b = cJSON_AddObjectToObject(sq, "Sequence");
            cJSON_AddStringToObject(b, "id", part ? "B" : "A");
            cJSON_AddNumberToObject(b, "type_id", part);
            cJSON_AddItemToArray(seq, st);
            cJSON_AddItemToArray(seq, sq);
        }
    }
    cJSON *sp = cJSON_AddObjectToObject(pp, "special_tokens");
    cJSON *e = cJSON_AddObjectToObject(sp, bos);
    cJSON_AddStringToObject(e, "id", bos);
    cJSON_AddItemToObject(e, "ids", cJSON_CreateIntArray((const int[]){(int)c->bos}, 1));
    cJSON *toks = cJSON_AddArrayToObject(e, "tokens");
    cJSON_AddItemToArray(toks, cJSON_CreateString(bos));
    free(bos);
    return pp;
}

static int gt_model(const gt_ctx *c, cJSON **out, sp_error *err)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "BPE");
    cJSON_AddNullToObject(m, "dropout");
    cJSON_AddNullToObject(m, "unk_token");
    cJSON_AddNullToObject(m, "continuing_subword_prefix");
    cJSON_AddNullToObject(m, "end_of_word_suffix");
    cJSON_AddFalseToObject(m, "fuse_unk");
    cJSON_AddFalseToObject(m, "byte_fallback");
    cJSON_AddBoolToObject(m, "ignore_merges", c->pre->ignore_merges);
    cJSON *vocab = cJSON_AddObjectToObject(m, "vocab");
    for (uint64_t i = 0; i < c->tokens->v.arr.count; i++) {
        char *s = gt_dup(c->tokens->v.arr.strs[i], c->tokens->v.arr.str_lens[i]);
        cJSON_AddNumberToObject(vocab, s, (double)i);
        free(s);
    }
    cJSON *merges = cJSON_AddArrayToObject(m, "merges");
    for (uint64_t i = 0; i < c->merges->v.arr.count; i++) {
        const char *s = c->merges->v.arr.strs[i];
        uint64_t n = c->merges->v.arr.str_lens[i];
        const char *sp = memchr(s, ' ', (size_t)n);
        if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)) ||
            !gt_utf8_ok((const unsigned char *)s, n)) {
            cJSON_Delete(m);
            return sp_error_set(err, "%s: tokenizer.ggml.merges[%llu] \"%.*s\" is not \"a b\" "
                                     "(two UTF-8 tokens and one space)", c->g->path,
                                (unsigned long long)i, (int)(n < 64 ? n : 64), s);
        }
        char *a = gt_dup(s, (uint64_t)(sp - s)), *b = gt_dup(sp + 1, (uint64_t)(s + n - sp - 1));
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(a));
        cJSON_AddItemToArray(pair, cJSON_CreateString(b));
        cJSON_AddItemToArray(merges, pair);
        free(a);
        free(b);
    }
    *out = m;
    return 0;
}

static int gt_write_json(cJSON *root, const char *dir, const char *name, sp_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = cJSON_PrintUnformatted(root);
    SP_ASSERT(text);
    FILE *f = fopen(path, "w");
    int bad = !f || fputs(text, f) < 0 || fputc('\n', f) == EOF;
    if (f && fclose(f) != 0) bad = 1;
    free(text);
    return bad ? sp_error_set(err, "%s: write error", path) : 0;
}

static cJSON *gt_config(const gt_ctx *c, const sp_model_config *cfg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "add_bos_token", c->add_bos);
    cJSON_AddFalseToObject(o, "add_eos_token");
    const char *keys[] = {"bos_token", "eos_token"};
    int64_t ids[] = {c->bos, c->eos};
    for (int k = 0; k < 2; k++) {
        if (ids[k] < 0) {
            cJSON_AddNullToObject(o, keys[k]);
            continue;
        }
        char *s = gt_dup(c->tokens->v.arr.strs[ids[k]], c->tokens->v.arr.str_lens[ids[k]]);
        cJSON_AddStringToObject(o, keys[k], s);
        free(s);
    }
    cJSON_AddFalseToObject(o, "clean_up_tokenization_spaces");
    cJSON_AddNumberToObject(o, "model_max_length", (double)cfg->max_pos);
    cJSON_AddStringToObject(o, "tokenizer_class", "PreTrainedTokenizerFast");
    const char *tmpl;
    size_t n;
    sp_error ignore;
    if (sp_gguf_get_str(c->g, "tokenizer.chat_template", 0, &tmpl, &n, &ignore) == 1 &&
        gt_utf8_ok((const unsigned char *)tmpl, n)) {
        char *s = gt_dup(tmpl, n);
        cJSON_AddStringToObject(o, "chat_template", s);
        free(s);
    }
    return o;
}

int sp_gguf_write_tokenizer(const sp_gguf *g, const sp_model_config *cfg, const char *dir,
                            sp_error *err)
{
    gt_ctx c;
    cJSON *model = NULL;
    if (gt_load(&c, g, cfg, err) || gt_check_tokens(&c, err) || gt_model(&c, &model, err))
        return -1;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON_AddItemToObject(root, "added_tokens", gt_added_tokens(&c));
    cJSON_AddNullToObject(root, "normalizer");
    cJSON_AddItemToObject(root, "pre_tokenizer", gt_pre_tokenizer(&c));
    cJSON_AddItemToObject(root, "post_processor", gt_post_processor(&c));
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    cJSON_AddTrueToObject(dec, "add_prefix_space");
    cJSON_AddTrueToObject(dec, "trim_offsets");
    cJSON_AddTrueToObject(dec, "use_regex");
    cJSON_AddItemToObject(root, "model", model);
    int rc = gt_write_json(root, dir, "tokenizer.json", err);
    cJSON_Delete(root);
    if (rc) return -1;
    /* Load what was written: a tokenizer the loader refuses later (e.g. merges of tokens not
     * in the vocabulary) is refused now, at convert, naming the GGUF file. */
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    sp_tokenizer *tok = NULL;
    if (sp_tokenizer_load(path, &tok, err))
        return sp_error_wrap(err, "%s: the tokenizer in tokenizer.ggml.* is not usable", g->path);
    sp_tokenizer_free(tok);
    cJSON *tc = gt_config(&c, cfg);
    rc = gt_write_json(tc, dir, "tokenizer_config.json", err);
    cJSON_Delete(tc);
    return rc;
}
