/* tokenizer_load.c — reads a Hugging Face tokenizer.json into sp_tokenizer: BPE vocab/merges
 * (merges as "a b" strings or ["a","b"] pairs) with the ByteLevel alphabet undone, added tokens,
 * the Split/ByteLevel pre-tokenizer (compiled with PCRE2 + JIT), the TemplateProcessing special
 * tokens, and EOS from tokenizer_config.json beside it. Anything whose behaviour we do not
 * implement is refused with a message naming its JSON path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json_util.h"
#include "tokenizer_internal.h"

/* The GPT-2 pre-tokenizer regex (ByteLevel with use_regex true). */
static const char SP_TOK_GPT2_REGEX[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* --- ByteLevel alphabet (GPT-2 bytes_to_unicode) --------------------------------------- */

static int sp_tok_byte_printable(int b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t sp_tok_byte_to_cp(uint8_t b)
{
    if (sp_tok_byte_printable(b)) return b;
    uint32_t k = 0; /* index of b among the non-printable bytes */
    for (int i = 0; i < b; i++) k += !sp_tok_byte_printable(i);
    return 256 + k;
}

int sp_tok_cp_to_byte(uint32_t cp)
{
    if (cp < 256) return sp_tok_byte_printable((int)cp) ? (int)cp : -1;
    uint32_t k = 0;
    for (int b = 0; b < 256; b++) {
        if (sp_tok_byte_printable(b)) continue;
        if (256 + k == cp) return b;
        k++;
    }
    return -1;
}

/* Byte-level string s -> raw bytes in buf (at most n bytes). Falls back to s itself when a
 * character lies outside the alphabet (as the ByteLevel decoder does). Returns the length. */
static size_t sp_tok_unmap(const int16_t *cp2byte, const char *s, size_t n, char *buf)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = sp_tok_utf8_next((const uint8_t *)s + i, n - i, &cp);
        if (l == 0 || cp >= 324 || cp2byte[cp] < 0) {
            memcpy(buf, s, n);
            return n;
        }
        buf[o++] = (char)cp2byte[cp];
        i += l;
    }
    return o;
}

/* --- small helpers -------------------------------------------------------------------- */

static int sp_tok_is_null_or_false(const cJSON *it)
{
    return !it || cJSON_IsNull(it) || cJSON_IsFalse(it);
}

static const char *sp_tok_type(const cJSON *obj, const char *path, sp_error *err)
{
    const char *t = NULL;
    if (!cJSON_IsObject(obj)) {
        sp_error_set(err, "%s: expected an object, got %s", path, sp_json_type_name(obj));
        return NULL;
    }
    if (sp_json_member_string(obj, path, "type", 1, &t, err) < 0) return NULL;
    return t;
}

/* Stores the raw bytes of token id (first writer wins unless force). */
static int sp_tok_set_id(sp_tokenizer *tok, int64_t id, const char *b, size_t n, int force)
{
    SP_ASSERT(id >= 0 && id < tok->n_ids);
    if (tok->id_len[id] != UINT32_MAX && !force) return 0;
    size_t need;
    SP_ASSERT(sp_add_size(tok->arena_len, n, &need) == 0 && need < UINT32_MAX);
    if (need > tok->arena_cap || !tok->arena) { /* allocated by the first id, even an empty one */
        size_t cap = tok->arena_cap ? tok->arena_cap : 1 << 16;
        while (cap < need) cap *= 2;
        tok->arena = sp_xrealloc(tok->arena, cap);
        tok->arena_cap = cap;
    }
    if (n) memcpy(tok->arena + tok->arena_len, b, n); /* b may be NULL when n is 0 */
    tok->id_off[id] = (uint32_t)tok->arena_len;
    tok->id_len[id] = (uint32_t)n;
    tok->arena_len = need;
    return 0;
}

/* Largest id in model.vocab and added_tokens, + 1. */
static int sp_tok_count_ids(const cJSON *vocab, const cJSON *added, int64_t *n_ids, sp_error *err)
{
    int64_t max = -1, id;
    char path[600];
    for (const cJSON *v = vocab->child; v; v = v->next) {
        snprintf(path, sizeof path, "model.vocab[\"%.500s\"]", v->string);
        if (sp_json_int(v, path, 0, INT32_MAX - 1, &id, err)) return -1;
        if (id > max) max = id;
    }
    int i = 0;
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next, i++) {
        snprintf(path, sizeof path, "added_tokens[%d]", i);
        if (!cJSON_IsObject(a))
            return sp_error_set(err, "%s: expected an object, got %s", path, sp_json_type_name(a));
        if (sp_json_member_int(a, path, "id", 1, 0, INT32_MAX - 1, &id, err) < 0) return -1;
        if (id > max) max = id;
    }
    /* Tables are indexed by id: bound them by the number of tokens, not by the largest id (one
     * huge id would otherwise allocate gigabytes). Real vocabularies are dense. */
    int64_t n_tokens = cJSON_GetArraySize(vocab) + i;
    if (max >= 2 * n_tokens + 1024)
        return sp_error_set(err, "token id %lld is far beyond the %lld tokens of model.vocab and "
                                 "added_tokens (ids must be dense: at most %lld)", (long long)max,
                            (long long)n_tokens, (long long)(2 * n_tokens + 1023));
    *n_ids = max + 1;
    return 0;
}

/* --- model ---------------------------------------------------------------------------- */

static int sp_tok_check_model_options(const cJSON *model, int *ignore_merges, sp_error *err)
{
    const char *t = sp_tok_type(model, "model", err);
    if (!t) return -1;
    if (strcmp(t, "BPE") != 0)
        return sp_error_set(err, "model.type: \"%s\" is not supported (only \"BPE\")", t);
    const cJSON *d = sp_json_get(model, "dropout");
    if (d && !cJSON_IsNull(d) && !(cJSON_IsNumber(d) && d->valuedouble == 0.0))
        return sp_error_set(err, "model.dropout: BPE dropout is not implemented");
    static const char *const empty_ok[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *s = sp_json_get(model, empty_ok[i]);
        if (s && !cJSON_IsNull(s) && !(cJSON_IsString(s) && s->valuestring[0] == '\0'))
            return sp_error_set(err, "model.%s: not implemented (must be null)", empty_ok[i]);
    }
    if (!sp_tok_is_null_or_false(sp_json_get(model, "byte_fallback")))
        return sp_error_set(err, "model.byte_fallback: not implemented (must be false)");
    *ignore_merges = 0;
    const cJSON *im = sp_json_get(model, "ignore_merges");
    if (im && !cJSON_IsNull(im) && sp_json_bool(im, "model.ignore_merges", ignore_merges, err))
        return -1;
    return 0;
}

static int sp_tok_load_vocab(sp_tokenizer *tok, const cJSON *vocab, const int16_t *cp2byte,
                             sp_error *err)
{
    int count = cJSON_GetArraySize(vocab);
    sp_tok_strmap_init(&tok->vocab, (size_t)count);
    char *buf = NULL;
    size_t buf_cap = 0;
    for (const cJSON *v = vocab->child; v; v = v->next) {
        size_t n = strlen(v->string);
        if (n + 1 > buf_cap) buf = sp_xrealloc(buf, buf_cap = n + 64);
        size_t rn = sp_tok_unmap(cp2byte, v->string, n, buf);
        int64_t id = (int64_t)v->valuedouble; /* range-checked by sp_tok_count_ids */
        if (tok->id_len[id] != UINT32_MAX) {
            free(buf);
            return sp_error_set(err, "model.vocab[\"%.200s\"]: id %lld is used twice", v->string,
                                (long long)id);
        }
        uint64_t old;
        if (!sp_tok_strmap_get(&tok->vocab, buf, rn, &old))
            sp_tok_strmap_put(&tok->vocab, buf, rn, (uint64_t)id);
        sp_tok_set_id(tok, id, buf, rn, 0);
    }
    free(buf);
    for (int b = 0; b < 256; b++) {
        uint64_t id;
        char c = (char)b;
        tok->byte_id[b] = sp_tok_strmap_get(&tok->vocab, &c, 1, &id) ? (int32_t)id : -1;
    }
    return 0;
}

/* Splits merge i into its two byte-level halves. */
static int sp_tok_merge_halves(const cJSON *m, int i, const char **a, size_t *na, const char **b,
                               size_t *nb, sp_error *err)
{
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return sp_error_set(err, "model.merges[%d]: expected \"a b\", got \"%.200s\"", i, s);
        *a = s, *na = (size_t)(sp - s), *b = sp + 1, *nb = strlen(sp + 1);
        return 0;
    }
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
        cJSON_IsString(m->child->next)) {
        *a = m->child->valuestring, *na = strlen(*a);
        *b = m->child->next->valuestring, *nb = strlen(*b);
        return 0;
    }
    return sp_error_set(err, "model.merges[%d]: expected a string \"a b\" or a pair [\"a\", \"b\"]",
                        i);
}

static int sp_tok_load_merges(sp_tokenizer *tok, const cJSON *merges, const int16_t *cp2byte,
                              sp_error *err)
{
    int count = cJSON_GetArraySize(merges), i = 0;
    sp_tok_pairmap_init(&tok->merges, (size_t)count);
    char *buf = NULL;
    size_t buf_cap = 0;
    int rc = 0;
    for (const cJSON *m = merges->child; m; m = m->next, i++) {
        const char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        if ((rc = sp_tok_merge_halves(m, i, &a, &na, &b, &nb, err))) break;
        if (na + nb + 1 > buf_cap) buf = sp_xrealloc(buf, buf_cap = na + nb + 64);
        uint64_t ida, idb, idm;
        size_t ra = sp_tok_unmap(cp2byte, a, na, buf);
        size_t rb = sp_tok_unmap(cp2byte, b, nb, buf + ra);
        const char *missing = NULL;
        if (!sp_tok_strmap_get(&tok->vocab, buf, ra, &ida)) missing = "left";
        else if (!sp_tok_strmap_get(&tok->vocab, buf + ra, rb, &idb)) missing = "right";
        else if (!sp_tok_strmap_get(&tok->vocab, buf, ra + rb, &idm)) missing = "merged";
        if (missing) {
            rc = sp_error_set(err, "model.merges[%d]: the %s token of \"%.100s\" + \"%.100s\" is "
                              "not in model.vocab", i, missing, a, b);
            break;
        }
        sp_tok_pairmap_put(&tok->merges, (int32_t)ida, (int32_t)idb, (uint32_t)i, (int32_t)idm);
    }
    free(buf);
    return rc;
}

static int sp_tok_load_model(sp_tokenizer *tok, const cJSON *root, sp_error *err)
{
    const cJSON *model = sp_json_get(root, "model");
    if (sp_tok_check_model_options(model, &tok->ignore_merges, err)) return -1;
    const cJSON *vocab = sp_json_get(model, "vocab"), *merges = sp_json_get(model, "merges");
    const cJSON *added = sp_json_get(root, "added_tokens");
    if (!cJSON_IsObject(vocab))
        return sp_error_set(err, "model.vocab: expected an object, got %s",
                            sp_json_type_name(vocab));
    if (!cJSON_IsArray(merges))
        return sp_error_set(err, "model.merges: expected an array, got %s",
                            sp_json_type_name(merges));
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        return sp_error_set(err, "added_tokens: expected an array, got %s",
                            sp_json_type_name(added));
    if (!vocab->child) return sp_error_set(err, "model.vocab: empty (a BPE tokenizer needs tokens)");
    if (sp_tok_count_ids(vocab, cJSON_IsArray(added) ? added : NULL, &tok->n_ids, err)) return -1;
    tok->id_off = sp_xcalloc((size_t)tok->n_ids, sizeof *tok->id_off);
    tok->id_len = sp_xmalloc((size_t)tok->n_ids * sizeof *tok->id_len);
    for (int64_t i = 0; i < tok->n_ids; i++) tok->id_len[i] = UINT32_MAX;
    int16_t cp2byte[324];
    for (uint32_t cp = 0; cp < 324; cp++) cp2byte[cp] = (int16_t)sp_tok_cp_to_byte(cp);
    if (sp_tok_load_vocab(tok, vocab, cp2byte, err)) return -1;
    if (sp_tok_load_merges(tok, merges, cp2byte, err)) return -1;
    const cJSON *unk = sp_json_get(model, "unk_token");
    tok->unk_id = -1;
    if (unk && !cJSON_IsNull(unk)) {
        uint64_t id;
        if (!cJSON_IsString(unk) ||
            !sp_tok_strmap_get(&tok->vocab, unk->valuestring, strlen(unk->valuestring), &id))
            return sp_error_set(err, "model.unk_token: not a string naming a vocab entry");
        tok->unk_id = (int32_t)id;
    }
    return 0;
}

/* --- added tokens --------------------------------------------------------------------- */

static int sp_tok_load_added(sp_tokenizer *tok, const cJSON *root, sp_error *err)
{
    const cJSON *added = sp_json_get(root, "added_tokens");
    if (!cJSON_IsArray(added)) return 0;
    tok->added = sp_xcalloc((size_t)cJSON_GetArraySize(added) + 1, sizeof *tok->added);
    int i = 0;
    char path[64];
    for (const cJSON *a = added->child; a; a = a->next, i++) {
        snprintf(path, sizeof path, "added_tokens[%d]", i);
        int64_t id;
        const char *content;
        int single = 0;
        sp_tok_added *t = &tok->added[tok->n_added];
        if (sp_json_member_int(a, path, "id", 1, 0, INT32_MAX - 1, &id, err) < 0 ||
            sp_json_member_string(a, path, "content", 1, &content, err) < 0 ||
            sp_json_member_bool(a, path, "single_word", 0, &single, err) < 0 ||
            sp_json_member_bool(a, path, "lstrip", 0, &t->lstrip, err) < 0 ||
            sp_json_member_bool(a, path, "rstrip", 0, &t->rstrip, err) < 0 ||
            sp_json_member_bool(a, path, "special", 0, &t->special, err) < 0)
            return -1;
        if (single) return sp_error_set(err, "%s.single_word: true is not implemented", path);
        if (!content[0]) return sp_error_set(err, "%s.content: empty", path);
        t->content = sp_xstrdup(content);
        t->len = strlen(content);
        t->id = (int32_t)id;
        tok->added_first[(uint8_t)content[0]] = 1;
        sp_tok_set_id(tok, id, content, t->len, 1); /* added tokens decode to their content */
        tok->n_added++;
    }
    return 0;
}

/* --- pre-tokenizer -------------------------------------------------------------------- */

static int sp_tok_compile(sp_tokenizer *tok, const char *pattern, const char *path, sp_error *err)
{
    int code;
    PCRE2_SIZE off;
    tok->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                            &code, &off, NULL);
    if (!tok->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return sp_error_set(err, "%s: regex error at offset %zu: %s", path, (size_t)off,
                            (const char *)msg);
    }
    tok->jit = pcre2_jit_compile(tok->re, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

/* ByteLevel pre-tokenizer; *use_regex receives its flag. */
static int sp_tok_bytelevel(sp_tokenizer *tok, const cJSON *bl, const char *path, int *use_regex,
                            sp_error *err)
{
    *use_regex = 1;
    if (sp_json_member_bool(bl, path, "use_regex", 0, use_regex, err) < 0 ||
        sp_json_member_bool(bl, path, "add_prefix_space", 0, &tok->add_prefix_space, err) < 0)
        return -1;
    return 0;
}

static int sp_tok_split(sp_tokenizer *tok, const cJSON *sp, const char *path, sp_error *err)
{
    char p[256];
    const char *behavior, *regex;
    int invert = 0;
    if (sp_json_member_string(sp, path, "behavior", 1, &behavior, err) < 0 ||
        sp_json_member_bool(sp, path, "invert", 0, &invert, err) < 0)
        return -1;
    if (strcmp(behavior, "Isolated") != 0)
        return sp_error_set(err, "%s.behavior: \"%s\" is not implemented (only \"Isolated\")",
                            path, behavior);
    if (invert) return sp_error_set(err, "%s.invert: true is not implemented", path);
    snprintf(p, sizeof p, "%s.pattern", path);
    const cJSON *pat = sp_json_get(sp, "pattern");
    if (!cJSON_IsObject(pat) || !sp_json_get(pat, "Regex"))
        return sp_error_set(err, "%s: only {\"Regex\": ...} patterns are implemented", p);
    if (sp_json_member_string(pat, p, "Regex", 1, &regex, err) < 0) return -1;
    snprintf(p, sizeof p, "%s.pattern.Regex", path);
    return sp_tok_compile(tok, regex, p, err);
}

static int sp_tok_load_pretok(sp_tokenizer *tok, const cJSON *root, sp_error *err)
{
    const cJSON *pt = sp_json_get(root, "pre_tokenizer");
    const char *t = sp_tok_type(pt, "pre_tokenizer", err);
    if (!t) return -1;
    int use_regex;
    if (strcmp(t, "ByteLevel") == 0) {
        if (sp_tok_bytelevel(tok, pt, "pre_tokenizer", &use_regex, err)) return -1;
        return use_regex ? sp_tok_compile(tok, SP_TOK_GPT2_REGEX, "GPT-2 regex", err) : 0;
    }
    if (strcmp(t, "Sequence") != 0)
        return sp_error_set(err, "pre_tokenizer.type: \"%s\" is not supported (ByteLevel, or a "
                            "Sequence of Split + ByteLevel)", t);
    const cJSON *list = sp_json_get(pt, "pretokenizers");
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (n < 1 || n > 2)
        return sp_error_set(err, "pre_tokenizer.pretokenizers: expected [Split, ByteLevel] or "
                            "[ByteLevel]");
    char path[64];
    int i = 0;
    for (const cJSON *it = list->child; it; it = it->next, i++) {
        snprintf(path, sizeof path, "pre_tokenizer.pretokenizers[%d]", i);
        const char *ti = sp_tok_type(it, path, err);
        if (!ti) return -1;
        if (i == n - 1) {
            if (strcmp(ti, "ByteLevel") != 0)
                return sp_error_set(err, "%s.type: expected ByteLevel last, got \"%s\"", path, ti);
            if (sp_tok_bytelevel(tok, it, path, &use_regex, err)) return -1;
            if (use_regex && n == 2)
                return sp_error_set(err, "%s.use_regex: true after a Split is not implemented",
                                    path);
            if (use_regex) return sp_tok_compile(tok, SP_TOK_GPT2_REGEX, "GPT-2 regex", err);
        } else if (strcmp(ti, "Split") != 0) {
            return sp_error_set(err, "%s.type: \"%s\" is not supported (only Split)", path, ti);
        } else if (sp_tok_split(tok, it, path, err)) {
            return -1;
        }
    }
    return 0;
}

/* --- post-processor, decoder, normalizer ---------------------------------------------- */

static int sp_tok_template(sp_tokenizer *tok, const cJSON *tp, const char *path, sp_error *err)
{
    const cJSON *single = sp_json_get(tp, "single"), *specials = sp_json_get(tp, "special_tokens");
    if (!cJSON_IsArray(single))
        return sp_error_set(err, "%s.single: expected an array", path);
    int seen_a = 0, i = 0;
    free(tok->prefix);
    free(tok->suffix);
    tok->prefix = sp_xcalloc((size_t)cJSON_GetArraySize(single) * 4 + 1, sizeof(int32_t));
    tok->suffix = sp_xcalloc((size_t)cJSON_GetArraySize(single) * 4 + 1, sizeof(int32_t));
    tok->n_prefix = tok->n_suffix = 0;
    for (const cJSON *it = single->child; it; it = it->next, i++) {
        if (sp_json_get(it, "Sequence")) {
            seen_a = 1;
            continue;
        }
        const cJSON *st = sp_json_get(it, "SpecialToken");
        const cJSON *name = st ? sp_json_get(st, "id") : NULL;
        const cJSON *entry = cJSON_IsString(name) ? sp_json_get(specials, name->valuestring) : NULL;
        const cJSON *ids = entry ? sp_json_get(entry, "ids") : NULL;
        if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) < 1 || cJSON_GetArraySize(ids) > 4)
            return sp_error_set(err, "%s.single[%d]: expected a SpecialToken listed in "
                                "special_tokens with 1-4 ids", path, i);
        for (const cJSON *id = ids->child; id; id = id->next) {
            int64_t v;
            if (sp_json_int(id, "special_tokens.ids", 0, tok->n_ids - 1, &v, err)) return -1;
            if (tok->id_len[v] == UINT32_MAX) /* inside the id range, but no token has it */
                return sp_error_set(err, "%s.special_tokens.\"%.64s\".ids: %lld is not the id of "
                                    "any token in model.vocab or added_tokens", path,
                                    name->valuestring, (long long)v);
            if (seen_a) tok->suffix[tok->n_suffix++] = (int32_t)v;
            else tok->prefix[tok->n_prefix++] = (int32_t)v;
        }
    }
    return 0;
}

static int sp_tok_load_post(sp_tokenizer *tok, const cJSON *root, sp_error *err)
{
    const cJSON *pp = sp_json_get(root, "post_processor");
    if (!pp || cJSON_IsNull(pp)) return 0;
    const char *t = sp_tok_type(pp, "post_processor", err);
    if (!t) return -1;
    if (strcmp(t, "ByteLevel") == 0) return 0; /* only adjusts offsets */
    if (strcmp(t, "TemplateProcessing") == 0) return sp_tok_template(tok, pp, "post_processor", err);
    if (strcmp(t, "Sequence") != 0)
        return sp_error_set(err, "post_processor.type: \"%s\" is not supported", t);
    const cJSON *list = sp_json_get(pp, "processors");
    if (!cJSON_IsArray(list))
        return sp_error_set(err, "post_processor.processors: expected an array");
    int i = 0;
    char path[64];
    for (const cJSON *it = list->child; it; it = it->next, i++) {
        snprintf(path, sizeof path, "post_processor.processors[%d]", i);
        const char *ti = sp_tok_type(it, path, err);
        if (!ti) return -1;
        if (strcmp(ti, "TemplateProcessing") == 0) {
            if (sp_tok_template(tok, it, path, err)) return -1;
        } else if (strcmp(ti, "ByteLevel") != 0) {
            return sp_error_set(err, "%s.type: \"%s\" is not supported", path, ti);
        }
    }
    return 0;
}

static int sp_tok_check_norm_decoder(const cJSON *root, sp_error *err)
{
    const cJSON *norm = sp_json_get(root, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        const cJSON *t = sp_json_get(norm, "type");
        return sp_error_set(err, "normalizer: \"%s\" is not implemented (only null)",
                            cJSON_IsString(t) ? t->valuestring : "?");
    }
    const char *t = sp_tok_type(sp_json_get(root, "decoder"), "decoder", err);
    if (!t) return -1;
    if (strcmp(t, "ByteLevel") != 0)
        return sp_error_set(err, "decoder.type: \"%s\" is not supported (only ByteLevel)", t);
    return 0;
}

/* The id of a tokenizer_config.json token entry (string or {"content"}), -1 when none. */
static int32_t sp_tok_config_token(const sp_tokenizer *tok, const cJSON *e)
{
    if (cJSON_IsObject(e)) e = sp_json_get(e, "content");
    if (!cJSON_IsString(e)) return -1;
    for (size_t i = 0; i < tok->n_added; i++)
        if (strcmp(tok->added[i].content, e->valuestring) == 0) return tok->added[i].id;
    uint64_t id;
    if (sp_tok_strmap_get(&tok->vocab, e->valuestring, strlen(e->valuestring), &id))
        return (int32_t)id;
    return -1;
}

/* From tokenizer_config.json beside tokenizer.json: EOS ("eos_token"), and the BOS rule's
 * inputs ("add_bos_token", "bos_token"). */
static int sp_tok_load_eos(sp_tokenizer *tok, const char *dir, sp_error *err)
{
    char path[4200];
    struct stat sb;
    tok->eos = -1, tok->cfg_bos = -1, tok->cfg_add_bos = -1;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (stat(path, &sb) != 0) return 0;
    cJSON *cfg;
    if (sp_json_parse_file(path, &cfg, err)) return -1;
    tok->eos = sp_tok_config_token(tok, sp_json_get(cfg, "eos_token"));
    tok->cfg_bos = sp_tok_config_token(tok, sp_json_get(cfg, "bos_token"));
    const cJSON *a = sp_json_get(cfg, "add_bos_token");
    int rc = 0;
    if (cJSON_IsBool(a)) tok->cfg_add_bos = cJSON_IsTrue(a);
    else if (a && !cJSON_IsNull(a))
        rc = sp_error_set(err, "%s: add_bos_token: expected true or false", path);
    cJSON_Delete(cfg);
    return rc;
}

/* --- entry points --------------------------------------------------------------------- */

static int sp_tok_resolve(const char *path, char *file, size_t fsize, char *dir, size_t dsize,
                          sp_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return sp_error_set(err, "%s: no such file or directory", path);
    if (S_ISDIR(sb.st_mode)) {
        snprintf(dir, dsize, "%s", path);
        snprintf(file, fsize, "%s/tokenizer.json", path);
        if (stat(file, &sb) != 0) return sp_error_set(err, "%s: no tokenizer.json there", path);
        return 0;
    }
    snprintf(file, fsize, "%s", path);
    snprintf(dir, dsize, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, dsize, ".");
    return 0;
}

static int sp_tok_load_tree(sp_tokenizer *tok, const cJSON *root, const char *dir, sp_error *err)
{
    if (!cJSON_IsObject(root)) return sp_error_set(err, "(root): expected an object");
    if (sp_tok_check_norm_decoder(root, err) || sp_tok_load_model(tok, root, err) ||
        sp_tok_load_added(tok, root, err) || sp_tok_load_pretok(tok, root, err) ||
        sp_tok_load_post(tok, root, err) || sp_tok_load_eos(tok, dir, err))
        return -1;
    tok->bos = tok->n_prefix > 0 ? tok->prefix[0] : -1;
    return 0;
}

int sp_tokenizer_load(const char *path, sp_tokenizer **out, sp_error *err)
{
    char file[4096], dir[4096];
    *out = NULL;
    if (sp_tok_resolve(path, file, sizeof file, dir, sizeof dir, err)) return -1;
    cJSON *root;
    if (sp_json_parse_file(file, &root, err)) return -1;
    sp_tokenizer *tok = sp_xcalloc(1, sizeof *tok);
    tok->path = sp_xstrdup(file);
    sp_tok_cache_init(&tok->cache);
    int rc = sp_tok_load_tree(tok, root, dir, err);
    cJSON_Delete(root);
    if (rc) {
        sp_error_wrap(err, "%s", file);
        sp_tokenizer_free(tok);
        return -1;
    }
    *out = tok;
    return 0;
}

void sp_tokenizer_free(sp_tokenizer *tok)
{
    if (!tok) return;
    for (size_t i = 0; i < tok->n_added; i++) free(tok->added[i].content);
    free(tok->added);
    free(tok->path);
    free(tok->id_off);
    free(tok->id_len);
    free(tok->arena);
    sp_tok_strmap_free(&tok->vocab);
    sp_tok_pairmap_free(&tok->merges);
    if (tok->re) pcre2_code_free(tok->re);
    free(tok->prefix);
    free(tok->suffix);
    sp_tok_cache_free(&tok->cache);
    free(tok);
}
