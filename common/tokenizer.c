/* tokenizer.c — encode and decode for the Hugging Face byte-level BPE tokenizer: UTF-8
 * validation, added tokens matched leftmost-longest in the raw text (lstrip/rstrip honoured),
 * the Split regex with "Isolated" behaviour (PCRE2, JIT when available), BPE per pre-token
 * (tokenizer_bpe.c), the TemplateProcessing special tokens, and ByteLevel decoding. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* --- UTF-8 ---------------------------------------------------------------------------- */

size_t sp_tok_utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07;
    else return 0;
    if (c == 0xE0) lo = 0xA0;      /* overlong */
    else if (c == 0xED) hi = 0x9F; /* surrogates */
    else if (c == 0xF0) lo = 0x90; /* overlong */
    else if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    *cp = v;
    return len;
}

/* Returns 0 when valid, else -1 with *bad the offset of the first invalid byte. */
static int sp_tok_utf8_check(const uint8_t *p, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        uint32_t cp;
        size_t l = sp_tok_utf8_next(p + i, n - i, &cp);
        if (l == 0) {
            *bad = i;
            return -1;
        }
        i += l;
    }
    return 0;
}

/* Unicode White_Space (what Rust's char::is_whitespace tests). */
static int sp_tok_is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* --- added tokens --------------------------------------------------------------------- */

typedef struct {
    size_t start, end; /* bytes covered, including lstrip/rstrip whitespace */
    int32_t id;
} sp_tok_match;

/* Finds the leftmost-longest added token in t[pos, n) (valid UTF-8). Returns 1 when found. */
static int sp_tok_find_added(const sp_tokenizer *tok, const uint8_t *t, size_t pos, size_t n,
                             sp_tok_match *m)
{
    for (size_t i = pos; i < n; i++) {
        if (!tok->added_first[t[i]]) continue;
        const sp_tok_added *best = NULL;
        for (size_t k = 0; k < tok->n_added; k++) {
            const sp_tok_added *a = &tok->added[k];
            if (a->len <= n - i && (!best || a->len > best->len) && memcmp(t + i, a->content, a->len) == 0)
                best = a;
        }
        if (!best) continue;
        m->start = i;
        m->end = i + best->len;
        m->id = best->id;
        while (best->lstrip && m->start > pos) {
            size_t s = m->start - 1;
            while (s > pos && (t[s] & 0xC0) == 0x80) s--;
            uint32_t cp;
            if (!sp_tok_utf8_next(t + s, n - s, &cp) || !sp_tok_is_space(cp)) break;
            m->start = s;
        }
        while (best->rstrip && m->end < n) {
            uint32_t cp;
            size_t l = sp_tok_utf8_next(t + m->end, n - m->end, &cp);
            if (!l || !sp_tok_is_space(cp)) break;
            m->end += l;
        }
        return 1;
    }
    return 0;
}

/* --- pre-tokenization ----------------------------------------------------------------- */

typedef struct {
    sp_tokenizer *tok; /* the cache inside is mutex-guarded, so const callers may share it */
    pcre2_match_data *md;
    sp_tok_ids out;
    sp_tok_scratch scratch;
} sp_tok_run;

/* Returns 1 when a match starts at or after off (ovector in r->md), 0 when none, -1 on error. */
static int sp_tok_match_at(sp_tok_run *r, const uint8_t *s, size_t n, size_t off, sp_error *err)
{
    int rc = PCRE2_ERROR_JIT_STACKLIMIT;
    if (r->tok->jit) rc = pcre2_jit_match(r->tok->re, s, n, off, 0, r->md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* retry with the interpreter (heap-based) */
        rc = pcre2_match(r->tok->re, s, n, off, PCRE2_NO_UTF_CHECK, r->md, NULL);
    if (rc > 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return sp_error_set(err, "pre-tokenizer regex failed near byte offset %zu: %s", off,
                        (const char *)msg);
}

/* Splits s[0, n) with the regex ("Isolated": matches and the gaps between them are
 * pre-tokens) and appends the BPE ids of every pre-token. */
static int sp_tok_split_segment(sp_tok_run *r, const uint8_t *s, size_t n, sp_error *err)
{
    sp_tokenizer *tok = r->tok;
    if (!tok->re) {
        if (n) sp_tok_bpe_word(tok, s, n, &r->out, &r->scratch);
        return 0;
    }
    size_t last = 0, off = 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    while (off < n) {
        int rc = sp_tok_match_at(r, s, n, off, err);
        if (rc < 0) return -1;
        if (rc == 0) break;
        size_t ms = ov[0], me = ov[1];
        if (me == ms) { /* empty match: not a pre-token; step one character */
            uint32_t cp;
            size_t l = sp_tok_utf8_next(s + ms, n - ms, &cp);
            off = ms + (l ? l : 1);
            continue;
        }
        if (ms > last) sp_tok_bpe_word(tok, s + last, ms - last, &r->out, &r->scratch);
        sp_tok_bpe_word(tok, s + ms, me - ms, &r->out, &r->scratch);
        last = off = me;
    }
    if (n > last) sp_tok_bpe_word(tok, s + last, n - last, &r->out, &r->scratch);
    return 0;
}

/* One piece of text between added tokens; ByteLevel add_prefix_space applies per piece. */
static int sp_tok_encode_piece(sp_tok_run *r, const uint8_t *s, size_t n, sp_error *err)
{
    if (n == 0) return 0;
    if (!r->tok->add_prefix_space || s[0] == ' ') return sp_tok_split_segment(r, s, n, err);
    uint8_t *buf = sp_xmalloc(n + 1);
    buf[0] = ' ';
    memcpy(buf + 1, s, n);
    int rc = sp_tok_split_segment(r, buf, n + 1, err);
    free(buf);
    return rc;
}

int sp_tokenizer_encode(const sp_tokenizer *tok, const char *text, size_t len, int add_bos,
                        int32_t **ids, size_t *n, sp_error *err)
{
    const uint8_t *t = (const uint8_t *)text;
    size_t bad;
    *ids = NULL;
    *n = 0;
    if (sp_tok_utf8_check(t, len, &bad))
        return sp_error_set(err, "invalid UTF-8 in the text at byte offset %zu (byte 0x%02x)",
                            bad, t[bad]);
    sp_tok_run r = {.tok = (sp_tokenizer *)tok};
    if (tok->re) r.md = pcre2_match_data_create_from_pattern(tok->re, NULL);
    SP_ASSERT(!tok->re || r.md);
    if (add_bos)
        for (size_t i = 0; i < tok->n_prefix; i++) sp_tok_ids_push(&r.out, tok->prefix[i]);
    int rc = 0;
    for (size_t pos = 0; pos <= len && rc == 0;) {
        sp_tok_match m;
        int found = tok->n_added ? sp_tok_find_added(tok, t, pos, len, &m) : 0;
        size_t end = found ? m.start : len;
        rc = sp_tok_encode_piece(&r, t + pos, end - pos, err);
        if (!found) break;
        sp_tok_ids_push(&r.out, m.id);
        pos = m.end;
    }
    if (add_bos)
        for (size_t i = 0; i < tok->n_suffix; i++) sp_tok_ids_push(&r.out, tok->suffix[i]);
    if (r.md) pcre2_match_data_free(r.md);
    sp_tok_scratch_free(&r.scratch);
    if (rc) {
        free(r.out.v);
        return -1;
    }
    if (!r.out.v) r.out.v = sp_xmalloc(sizeof(int32_t)); /* callers may free(*ids) uniformly */
    *ids = r.out.v;
    *n = r.out.n;
    return 0;
}

/* --- decode --------------------------------------------------------------------------- */

/* Appends b[0, n) to out, replacing each maximal invalid UTF-8 subpart by U+FFFD (what Rust's
 * String::from_utf8_lossy does in the Hugging Face decoder). */
static size_t sp_tok_lossy(const uint8_t *b, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = sp_tok_utf8_next(b + i, n - i, &cp);
        if (l) {
            memcpy(out + o, b + i, l);
            o += l, i += l;
            continue;
        }
        size_t skip = 1; /* the lead byte plus the continuation bytes that were still valid */
        uint8_t c = b[i];
        if (c >= 0xC2 && c <= 0xF4) {
            size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
            uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
            while (skip < need && i + skip < n && (b[i + skip] & 0xC0) == 0x80 &&
                   (skip > 1 || (b[i + 1] >= lo && b[i + 1] <= hi)))
                skip++;
        }
        memcpy(out + o, "\xEF\xBF\xBD", 3);
        o += 3, i += skip;
    }
    return o;
}

int sp_tokenizer_decode(const sp_tokenizer *tok, const int32_t *ids, size_t n, char **text,
                        size_t *len, sp_error *err)
{
    size_t total = 0;
    *text = NULL;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->n_ids || tok->id_len[ids[i]] == UINT32_MAX)
            return sp_error_set(err, "decode: id %d at position %zu is not a token of %s",
                                (int)ids[i], i, tok->path);
        SP_ASSERT(sp_add_size(total, tok->id_len[ids[i]], &total) == 0);
    }
    uint8_t *raw = sp_xmalloc(total + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(raw + o, tok->arena + tok->id_off[ids[i]], tok->id_len[ids[i]]);
        o += tok->id_len[ids[i]];
    }
    size_t cap;
    SP_ASSERT(sp_mul_size(total, 3, &cap) == 0); /* each bad byte may become 3 bytes */
    char *out = sp_xmalloc(cap + 1);
    size_t ol = sp_tok_lossy(raw, total, out);
    out[ol] = '\0';
    free(raw);
    *text = out;
    if (len) *len = ol;
    return 0;
}

int32_t sp_tokenizer_bos(const sp_tokenizer *tok) { return tok->bos; }

int sp_tokenizer_bos_for(const sp_tokenizer *tok, sp_bos_mode mode, int64_t config_bos,
                         int32_t *bos, sp_error *err)
{
    *bos = -1;
    int want = mode == SP_BOS_ON || (mode == SP_BOS_AUTO &&
                                     (tok->cfg_add_bos >= 0 ? tok->cfg_add_bos : tok->bos >= 0));
    if (!want) return 0;
    *bos = tok->bos >= 0 ? tok->bos : tok->cfg_bos >= 0 ? tok->cfg_bos : (int32_t)config_bos;
    if (*bos >= 0) return 0;
    return sp_error_set(err, "%s: %s, but neither tokenizer.json, tokenizer_config.json nor "
                        "config.json names a BOS token (use --no-bos)", tok->path,
                        mode == SP_BOS_ON ? "BOS asked for" : "add_bos_token is true");
}
int32_t sp_tokenizer_eos(const sp_tokenizer *tok) { return tok->eos; }
int64_t sp_tokenizer_vocab_size(const sp_tokenizer *tok) { return tok->n_ids; }
