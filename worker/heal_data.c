/* heal_data.c — tokenizes `heal`'s training data into BOS-prefixed windows with loss weights
 * (see heal_data.h) and serves shuffled, padded micro-batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/hash.h"
#include "../common/json_util.h"
#include "../common/rng.h"
#include "../common/tokenizer.h"
#include "heal_data.h"

#define HD_SHUFFLE_TAG 0x68656164ull /* "head": the rng domain of the window shuffle */

typedef struct {
    sp_heal_data *d;
    int64_t cap_tok, cap_win;
    int32_t bos, eos; /* eos -1: none */
    const sp_tokenizer *tok;
} hd_builder;

static void hd_reserve(hd_builder *b, int64_t more_tokens)
{
    sp_heal_data *d = b->d;
    int64_t need = d->offset[d->n_windows] + more_tokens;
    if (need > b->cap_tok) {
        while (b->cap_tok < need) b->cap_tok = b->cap_tok ? 2 * b->cap_tok : 4096;
        d->tokens = sp_xrealloc(d->tokens, (size_t)b->cap_tok * sizeof *d->tokens);
        d->weight = sp_xrealloc(d->weight, (size_t)b->cap_tok * sizeof *d->weight);
    }
    if (d->n_windows + 2 > b->cap_win) {
        b->cap_win = 2 * b->cap_win + 64;
        d->offset = sp_xrealloc(d->offset, (size_t)b->cap_win * sizeof *d->offset);
    }
}

/* Appends one window: BOS + ids[0, n) with the targets ids[i] weighted by w (NULL = all 1). */
static void hd_push(hd_builder *b, const int32_t *ids, int64_t n, const float *w)
{
    hd_reserve(b, n + 1);
    sp_heal_data *d = b->d;
    int64_t o = d->offset[d->n_windows];
    d->tokens[o] = b->bos;
    for (int64_t i = 0; i < n; i++) {
        d->tokens[o + 1 + i] = ids[i];
        d->weight[o + i] = w ? w[i] : 1.0f; /* position i predicts ids[i] */
        d->weight_total += d->weight[o + i];
    }
    d->weight[o + n] = 0.0f; /* the last position predicts nothing */
    d->n_windows++;
    d->offset[d->n_windows] = o + n + 1;
}

/* Cuts ids into windows of ctx-1 tokens, each pushed with BOS (the last may be shorter). */
static void hd_push_text(hd_builder *b, const int32_t *ids, int64_t n)
{
    int64_t W = b->d->ctx - 1;
    for (int64_t s = 0; s < n; s += W) hd_push(b, ids + s, n - s < W ? n - s : W, NULL);
}

static int hd_check_binary(const char *file, const char *text, size_t len, sp_error *err)
{
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return sp_error_set(err, "%s: binary data (NUL byte at offset %zu); expected UTF-8 text "
                            "or jsonl", file, (size_t)(nul - text));
    return 0;
}

static int hd_encode(hd_builder *b, const char *text, int32_t **ids, size_t *n, sp_error *err)
{
    return sp_tokenizer_encode(b->tok, text, strlen(text), 0, ids, n, err);
}

static int hd_load_plain(hd_builder *b, const char *file, const char *text, size_t len,
                         sp_error *err)
{
    int32_t *ids = NULL;
    size_t n = 0;
    if (sp_tokenizer_encode(b->tok, text, len, 0, &ids, &n, err))
        return sp_error_wrap(err, "%s", file);
    if (n == 0) {
        free(ids);
        return sp_error_set(err, "%s: no tokens (empty text)", file);
    }
    hd_push_text(b, ids, (int64_t)n);
    b->d->n_records++;
    free(ids);
    return 0;
}

/* An instruction record: BOS + prompt + response (+ EOS), truncated to ctx tokens. */
static int hd_push_instruction(hd_builder *b, const char *prompt, const char *output,
                               sp_heal_loss loss, sp_error *err)
{
    int32_t *p = NULL, *r = NULL;
    size_t np = 0, nr = 0;
    if (hd_encode(b, prompt, &p, &np, err) || hd_encode(b, output, &r, &nr, err)) {
        free(p);
        return -1;
    }
    int64_t n = (int64_t)(np + nr) + (b->eos >= 0), keep = n < b->d->ctx - 1 ? n : b->d->ctx - 1;
    int32_t *ids = sp_xmalloc((size_t)n * sizeof *ids);
    float *w = sp_xmalloc((size_t)n * sizeof *w);
    memcpy(ids, p, np * sizeof *p);
    memcpy(ids + np, r, nr * sizeof *r);
    if (b->eos >= 0) ids[n - 1] = b->eos;
    double scored = 0;
    for (int64_t i = 0; i < n; i++) {
        w[i] = loss == SP_HEAL_LOSS_RESPONSE && i < (int64_t)np ? 0.0f : 1.0f;
        if (i < keep) scored += w[i];
    }
    b->d->n_truncated += keep < n;
    if (scored > 0) hd_push(b, ids, keep, w);
    else b->d->n_dropped++;
    free(ids);
    free(w);
    free(p);
    free(r);
    return 0;
}

static int hd_jsonl_record(hd_builder *b, const cJSON *o, const char *where, sp_heal_loss loss,
                           sp_error *err)
{
    const char *text = NULL, *ins = NULL, *input = NULL, *out = NULL;
    if (!cJSON_IsObject(o)) return sp_error_set(err, "%s: expected a JSON object, got %s", where,
                                                sp_json_type_name(o));
    if (sp_json_member_string(o, "", "text", 0, &text, err) < 0 ||
        sp_json_member_string(o, "", "instruction", 0, &ins, err) < 0 ||
        sp_json_member_string(o, "", "input", 0, &input, err) < 0 ||
        sp_json_member_string(o, "", "output", 0, &out, err) < 0)
        return sp_error_wrap(err, "%s", where);
    if (text && (ins || out))
        return sp_error_set(err, "%s: both \"text\" and \"instruction\"/\"output\"; give one kind "
                            "per record", where);
    if (text) {
        if (loss == SP_HEAL_LOSS_RESPONSE)
            return sp_error_set(err, "%s: --loss response needs instruction records "
                                "(\"instruction\", \"input\", \"output\"), this one has \"text\"",
                                where);
        int32_t *ids = NULL;
        size_t n = 0;
        if (hd_encode(b, text, &ids, &n, err)) return sp_error_wrap(err, "%s: \"text\"", where);
        if (b->eos >= 0) {
            ids = sp_xrealloc(ids, (n + 1) * sizeof *ids);
            ids[n++] = b->eos;
        }
        if (n > 0) hd_push_text(b, ids, (int64_t)n);
        free(ids);
        return 0;
    }
    if (!ins || !out)
        return sp_error_set(err, "%s: a record needs \"text\", or \"instruction\" and \"output\" "
                            "(strings)", where);
    char *prompt = sp_heal_alpaca_prompt(ins, input);
    int rc = hd_push_instruction(b, prompt, out, loss, err);
    free(prompt);
    return rc ? sp_error_wrap(err, "%s", where) : 0;
}

static int hd_load_jsonl(hd_builder *b, const char *file, char *text, size_t len,
                         sp_heal_loss loss, sp_error *err)
{
    int64_t line = 0, before = b->d->n_windows;
    for (char *s = text, *end = text + len; s < end; line++) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *e = nl ? nl : end;
        char where[1100];
        snprintf(where, sizeof where, "%s:%lld", file, (long long)line + 1);
        size_t n = (size_t)(e - s);
        while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        if (n > 0) {
            cJSON *o = NULL;
            if (sp_json_parse(s, n, where, &o, err)) return -1;
            int rc = hd_jsonl_record(b, o, where, loss, err);
            cJSON_Delete(o);
            if (rc) return -1;
            b->d->n_records++;
        }
        s = e + 1;
    }
    if (b->d->n_windows == before)
        return sp_error_set(err, "%s: no records with tokens to train on (empty file, or every "
                            "response truncated away at --ctx %lld)", file,
                            (long long)b->d->ctx);
    return 0;
}

static int hd_is_jsonl(const char *file)
{
    size_t n = strlen(file);
    return (n > 6 && !strcmp(file + n - 6, ".jsonl")) || (n > 5 && !strcmp(file + n - 5, ".json"));
}

static int hd_load_file(hd_builder *b, const char *file, sp_heal_loss loss, sp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    if (sp_read_file(file, &text, &len, err)) return -1;
    int rc = hd_check_binary(file, text, len, err);
    if (rc == 0 && hd_is_jsonl(file)) rc = hd_load_jsonl(b, file, text, len, loss, err);
    else if (rc == 0 && loss == SP_HEAL_LOSS_RESPONSE)
        rc = sp_error_set(err, "%s: --loss response needs instruction jsonl (a .jsonl file with "
                          "\"instruction\"/\"output\" records); this is plain text", file);
    else if (rc == 0) rc = hd_load_plain(b, file, text, len, err);
    free(text);
    return rc;
}

static void hd_finish(sp_heal_data *d)
{
    uint64_t h = sp_fnv1a(SP_FNV_OFFSET, &d->ctx, sizeof d->ctx);
    int64_t n = d->offset[d->n_windows];
    h = sp_fnv1a(h, d->offset, (size_t)(d->n_windows + 1) * sizeof *d->offset);
    h = sp_fnv1a(h, d->tokens, (size_t)n * sizeof *d->tokens);
    d->hash = sp_fnv1a(h, d->weight, (size_t)n * sizeof *d->weight);
    d->perm = sp_xmalloc((size_t)(d->n_windows ? d->n_windows : 1) * sizeof *d->perm);
    d->perm_epoch = -1;
}

int sp_heal_data_load(const char *const *files, int n_files, const char *tok_dir,
                      const sp_model_config *cfg, const sp_heal_data_options *o,
                      sp_heal_data *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    if (o->ctx < 2) return sp_error_set(err, "--ctx %lld: must be at least 2", (long long)o->ctx);
    if (cfg->max_pos > 0 && o->ctx > cfg->max_pos)
        return sp_error_set(err, "--ctx %lld: windows longer than the model's %lld positions "
                            "(max_position_embeddings)", (long long)o->ctx,
                            (long long)cfg->max_pos);
    sp_tokenizer *tok = NULL;
    if (sp_tokenizer_load(tok_dir, &tok, err)) return -1;
    hd_builder b = {out, 0, 0, sp_tokenizer_bos(tok), sp_tokenizer_eos(tok), tok};
    if (b.bos < 0) b.bos = (int32_t)cfg->bos_id;
    if (b.eos < 0 && cfg->n_eos > 0) b.eos = (int32_t)cfg->eos_ids[0];
    out->ctx = o->ctx;
    out->pad = b.eos >= 0 ? b.eos : b.bos;
    out->offset = sp_xcalloc(1, sizeof *out->offset);
    int rc = 0;
    if (b.bos < 0)
        rc = sp_error_set(err, "%s: the tokenizer and config.json name no BOS token (training "
                          "windows start with BOS)", tok_dir);
    for (int f = 0; rc == 0 && f < n_files; f++) rc = hd_load_file(&b, files[f], o->loss, err);
    sp_tokenizer_free(tok);
    if (rc == 0 && !(out->weight_total > 0))
        rc = sp_error_set(err, "%s: no tokens to train on", n_files ? files[0] : "--data");
    if (rc) {
        sp_heal_data_free(out);
        return -1;
    }
    hd_finish(out);
    return 0;
}

void sp_heal_data_free(sp_heal_data *d)
{
    free(d->offset);
    free(d->tokens);
    free(d->weight);
    free(d->perm);
    memset(d, 0, sizeof *d);
}

typedef struct {
    uint64_t key;
    int64_t w;
} hd_key;

static int hd_cmp_key(const void *a, const void *b)
{
    const hd_key *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->w < y->w ? -1 : x->w > y->w;
}

int64_t sp_heal_data_window(sp_heal_data *d, uint64_t seed, int shuffle, int64_t pos)
{
    SP_ASSERT(pos >= 0 && d->n_windows > 0);
    int64_t N = d->n_windows, e = pos / N;
    if (!shuffle) return pos % N;
    if (d->perm_epoch != e || d->perm_seed != seed) {
        hd_key *k = sp_xmalloc((size_t)N * sizeof *k);
        for (int64_t w = 0; w < N; w++)
            k[w] = (hd_key){sp_rng_hash(seed, (uint64_t)e, (uint64_t)w, HD_SHUFFLE_TAG), w};
        qsort(k, (size_t)N, sizeof *k, hd_cmp_key);
        for (int64_t w = 0; w < N; w++) d->perm[w] = k[w].w;
        free(k);
        d->perm_epoch = e;
        d->perm_seed = seed;
    }
    return d->perm[pos % N];
}

void sp_heal_data_batch(sp_heal_data *d, uint64_t seed, int shuffle, int64_t pos, int n_seq,
                        int32_t *tokens, float *weight, int *T, double *wsum)
{
    int64_t maxlen = 1;
    for (int s = 0; s < n_seq; s++) {
        int64_t w = sp_heal_data_window(d, seed, shuffle, pos + s);
        int64_t len = d->offset[w + 1] - d->offset[w];
        if (len > maxlen) maxlen = len;
    }
    SP_ASSERT(maxlen <= d->ctx);
    double sum = 0;
    for (int s = 0; s < n_seq; s++) {
        int64_t w = sp_heal_data_window(d, seed, shuffle, pos + s);
        int64_t o = d->offset[w], len = d->offset[w + 1] - o;
        int32_t *tk = tokens + (size_t)s * (size_t)maxlen;
        float *wt = weight + (size_t)s * (size_t)maxlen;
        for (int64_t t = 0; t < maxlen; t++) {
            tk[t] = t < len ? d->tokens[o + t] : d->pad;
            wt[t] = t < len ? d->weight[o + t] : 0.0f;
            sum += wt[t];
        }
    }
    *T = (int)maxlen;
    *wsum = sum;
}

char *sp_heal_alpaca_prompt(const char *instruction, const char *input)
{
    static const char head_in[] =
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request.\n\n";
    static const char head[] = "Below is an instruction that describes a task. Write a response "
                               "that appropriately completes the request.\n\n";
    int with_input = input && input[0];
    size_t n = strlen(head_in) + strlen(instruction) + (input ? strlen(input) : 0) + 64;
    char *p = sp_xmalloc(n);
    if (with_input)
        snprintf(p, n, "%s### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n", head_in,
                 instruction, input);
    else
        snprintf(p, n, "%s### Instruction:\n%s\n\n### Response:\n", head, instruction);
    return p;
}
