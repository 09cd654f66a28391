/* mc_data.c — multiple-choice data: format detection, the three loaders, lm-eval's HellaSwag
 * preprocessing, and deterministic subsets. Every bad-input message names the file and the line
 * (and for JSON the byte offset within the line). */
#include "mc_data.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_util.h"
#include "common/rng.h"

const char *sp_mc_format_name(sp_mc_format f)
{
    switch (f) {
    case SP_MC_FORMAT_HELLASWAG_JSONL: return "hellaswag-jsonl";
    case SP_MC_FORMAT_GENERIC_JSONL: return "mc-jsonl";
    case SP_MC_FORMAT_LLAMACPP_TXT: return "llamacpp-6line";
    }
    return "?";
}

/* ---- text helpers ------------------------------------------------------------------------ */

int64_t sp_mc_utf8_check(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned min;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) n = 1, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) n = 2, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) n = 3, min = 0x10000;
        else return (int64_t)i;
        if (i + n >= len) return (int64_t)i; /* truncated sequence */
        unsigned cp = c & (0x3Fu >> n);
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return (int64_t)i;
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return (int64_t)i;
        i += n + 1;
    }
    return -1;
}

static int mc_is_space(unsigned char c)
{
    /* Python str.isspace() for ASCII: \t \n \v \f \r, \x1c-\x1f, space. */
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
}

char *sp_mc_preprocess(const char *text)
{
    size_t a = 0, b = strlen(text);
    while (a < b && mc_is_space((unsigned char)text[a])) a++;
    while (b > a && mc_is_space((unsigned char)text[b - 1])) b--;
    /* Pass 1: strip done; " [title]" -> ". " (one left-to-right pass, non-overlapping). */
    char *s1 = sp_xmalloc(b - a + 1);
    size_t n1 = 0;
    for (size_t i = a; i < b;) {
        if (b - i >= 8 && memcmp(text + i, " [title]", 8) == 0) {
            s1[n1++] = '.';
            s1[n1++] = ' ';
            i += 8;
        } else {
            s1[n1++] = text[i++];
        }
    }
    s1[n1] = '\0';
    /* Pass 2: re.sub(r"\[.*?\]", "", s): '.' does not match '\n'. */
    char *s2 = sp_xmalloc(n1 + 1);
    size_t n2 = 0;
    for (size_t i = 0; i < n1;) {
        if (s1[i] == '[') {
            size_t j = i + 1;
            while (j < n1 && s1[j] != ']' && s1[j] != '\n') j++;
            if (j < n1 && s1[j] == ']') {
                i = j + 1;
                continue;
            }
        }
        s2[n2++] = s1[i++];
    }
    s2[n2] = '\0';
    /* Pass 3: "  " -> " ", non-overlapping, one pass (4 spaces become 2, like str.replace). */
    size_t n3 = 0;
    for (size_t i = 0; i < n2;) {
        if (s2[i] == ' ' && i + 1 < n2 && s2[i + 1] == ' ') {
            s1[n3++] = ' ';
            i += 2;
        } else {
            s1[n3++] = s2[i++];
        }
    }
    s1[n3] = '\0';
    free(s2);
    return s1;
}

char *sp_mc_capitalize(const char *text)
{
    size_t n = strlen(text);
    char *out = sp_xmalloc(n + 1);
    memcpy(out, text, n + 1);
    unsigned char *p = (unsigned char *)out;
    int first = 1;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c < 0x80) {
            if (first && c >= 'a' && c <= 'z') p[i] = (unsigned char)(c - 32);
            if (!first && c >= 'A' && c <= 'Z') p[i] = (unsigned char)(c + 32);
            i++;
        } else if (c == 0xC3 && i + 1 < n) { /* U+00C0..U+00FF: Latin-1 letters */
            unsigned lo = p[i + 1];        /* 0x80..0xBF <-> U+00C0..U+00FF */
            int upper = lo >= 0x80 && lo <= 0x9E && lo != 0x97;
            int lower = lo >= 0xA0 && lo <= 0xBE && lo != 0xB7;
            if (first && lower) p[i + 1] = (unsigned char)(lo - 0x20);
            if (!first && upper) p[i + 1] = (unsigned char)(lo + 0x20);
            i += 2;
        } else {
            i++;
            while (i < n && (p[i] & 0xC0) == 0x80) i++;
        }
        first = 0;
    }
    return out;
}

/* ---- item storage ------------------------------------------------------------------------ */

static void mc_item_free(sp_mc_item *it)
{
    free(it->query);
    for (int k = 0; k < it->n_endings; k++) free(it->endings[k]);
    free(it->endings);
    memset(it, 0, sizeof *it);
}

void sp_mc_free(sp_mc_set *set)
{
    if (!set) return;
    for (int64_t i = 0; i < set->n; i++) mc_item_free(&set->items[i]);
    free(set->items);
    free(set->path);
    memset(set, 0, sizeof *set);
}

static sp_mc_item *mc_push(sp_mc_set *set, int64_t *cap)
{
    if (set->n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        size_t bytes;
        SP_ASSERT(sp_mul_size((size_t)*cap, sizeof(sp_mc_item), &bytes) == 0);
        set->items = sp_xrealloc(set->items, bytes);
    }
    sp_mc_item *it = &set->items[set->n++];
    memset(it, 0, sizeof *it);
    return it;
}

/* ---- line iteration ---------------------------------------------------------------------- */

typedef struct {
    const char *buf;
    size_t len, pos;
    int64_t line; /* 1-based number of the line last returned */
} mc_lines;

/* Returns 1 with [*s, *s + *n) the next line (without "\n" / "\r\n"), 0 at the end. */
static int mc_next_line(mc_lines *L, const char **s, size_t *n)
{
    if (L->pos >= L->len) return 0;
    const char *start = L->buf + L->pos;
    const char *nl = memchr(start, '\n', L->len - L->pos);
    size_t m = nl ? (size_t)(nl - start) : L->len - L->pos;
    L->pos += m + (nl ? 1 : 0);
    L->line++;
    if (m > 0 && start[m - 1] == '\r') m--;
    *s = start;
    *n = m;
    return 1;
}

static int mc_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!mc_is_space((unsigned char)s[i])) return 0;
    return 1;
}

/* ---- label parsing ----------------------------------------------------------------------- */

/* Label text "0".."N-1" (digits only). */
static int mc_label_text(const char *s, size_t n, int n_endings, const char *where, int *out,
                         sp_error *err)
{
    if (n == 0)
        return sp_error_set(err, "%s: labels are empty: this looks like the HellaSwag test split, "
                                 "which has no public labels (use the validation split)", where);
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > 1000)
            return sp_error_set(err, "%s: label \"%.*s\" is not an integer", where,
                                (int)(n > 40 ? 40 : n), s);
        v = v * 10 + (s[i] - '0');
    }
    if (v >= n_endings)
        return sp_error_set(err, "%s: label %d out of range [0, %d)", where, v, n_endings);
    *out = v;
    return 0;
}

static int mc_label_json(const cJSON *lab, int n_endings, const char *where, int *out,
                         sp_error *err)
{
    if (!lab) return sp_error_set(err, "%s: missing \"label\"", where);
    if (cJSON_IsString(lab))
        return mc_label_text(lab->valuestring, strlen(lab->valuestring), n_endings, where, out,
                             err);
    if (!cJSON_IsNumber(lab))
        return sp_error_set(err, "%s: \"label\" must be an integer or a digit string, got %s",
                            where, sp_json_type_name(lab));
    double v = lab->valuedouble;
    if (!(v >= 0 && v < n_endings) || v != (double)(int)v)
        return sp_error_set(err, "%s: label %g out of range [0, %d)", where, v, n_endings);
    *out = (int)v;
    return 0;
}

/* ---- jsonl ------------------------------------------------------------------------------- */

static int mc_json_str(const cJSON *obj, const char *key, const char *where, const char **out,
                       sp_error *err)
{
    const cJSON *v = sp_json_get(obj, key);
    if (!v) return sp_error_set(err, "%s: missing \"%s\"", where, key);
    if (!cJSON_IsString(v))
        return sp_error_set(err, "%s: \"%s\" must be a string, got %s", where, key,
                            sp_json_type_name(v));
    *out = v->valuestring;
    return 0;
}

static int mc_json_endings(const cJSON *obj, const char *key, const char *where, sp_mc_item *it,
                           int preprocess, sp_error *err)
{
    const cJSON *arr = sp_json_get(obj, key);
    if (!arr) return sp_error_set(err, "%s: missing \"%s\"", where, key);
    if (!cJSON_IsArray(arr))
        return sp_error_set(err, "%s: \"%s\" must be an array, got %s", where, key,
                            sp_json_type_name(arr));
    int n = cJSON_GetArraySize(arr);
    if (n < 2) return sp_error_set(err, "%s: \"%s\" has %d entries, need at least 2", where, key, n);
    if (n > SP_MC_MAX_ENDINGS)
        return sp_error_set(err, "%s: \"%s\" has %d entries, at most %d supported", where, key, n,
                            SP_MC_MAX_ENDINGS);
    it->endings = sp_xcalloc((size_t)n, sizeof(char *));
    int k = 0;
    for (const cJSON *e = arr->child; e; e = e->next, k++) {
        if (!cJSON_IsString(e))
            return sp_error_set(err, "%s: %s[%d] must be a string, got %s", where, key, k,
                                sp_json_type_name(e));
        it->endings[k] = preprocess ? sp_mc_preprocess(e->valuestring) : sp_xstrdup(e->valuestring);
        it->n_endings = k + 1;
        if (it->endings[k][0] == '\0')
            return sp_error_set(err, "%s: %s[%d] is empty", where, key, k);
    }
    return 0;
}

static int mc_item_hellaswag(const cJSON *o, const char *where, sp_mc_item *it, sp_error *err)
{
    const char *act, *ca, *cb;
    if (mc_json_str(o, "activity_label", where, &act, err) || mc_json_str(o, "ctx_a", where, &ca, err) ||
        mc_json_str(o, "ctx_b", where, &cb, err))
        return -1;
    if (mc_json_endings(o, "endings", where, it, 1, err)) return -1;
    if (mc_label_json(sp_json_get(o, "label"), it->n_endings, where, &it->label, err)) return -1;
    /* lm-eval: ctx = ctx_a + " " + ctx_b.capitalize(); query = preprocess(act + ": " + ctx). */
    char *cap = sp_mc_capitalize(cb);
    size_t n = strlen(act) + strlen(ca) + strlen(cap) + 4;
    char *raw = sp_xmalloc(n);
    snprintf(raw, n, "%s: %s %s", act, ca, cap);
    it->query = sp_mc_preprocess(raw);
    free(raw);
    free(cap);
    return 0;
}

static int mc_item_generic(const cJSON *o, const char *where, sp_mc_item *it, sp_error *err)
{
    const char *ctx;
    if (mc_json_str(o, "context", where, &ctx, err)) return -1;
    if (mc_json_endings(o, "choices", where, it, 0, err)) return -1;
    if (mc_label_json(sp_json_get(o, "label"), it->n_endings, where, &it->label, err)) return -1;
    it->query = sp_xstrdup(ctx);
    return 0;
}

/* Offset of a JSON escape \u0000 in s[0, n) (a backslash that is itself escaped does not
 * count), or -1. */
static long mc_find_escaped_nul(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        if (i + 5 < n && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0) return (long)i;
        i++; /* skip the escaped character (also an escaped backslash) */
    }
    return -1;
}

static int mc_load_jsonl(mc_lines *L, sp_mc_set *set, sp_error *err)
{
    int64_t cap = 0;
    const char *s;
    size_t n;
    int detected = 0;
    while (mc_next_line(L, &s, &n)) {
        if (mc_blank(s, n)) continue;
        char where[1200];
        snprintf(where, sizeof where, "%s:%lld", set->path, (long long)L->line);
        cJSON *o = NULL;
        long nul = mc_find_escaped_nul(s, n);
        if (nul >= 0) /* cJSON would decode it and cut the string there */
            return sp_error_set(err, "%s: \\u0000 (a NUL character) in a string at byte %ld of "
                                     "the line: not allowed in text", where, nul);
        if (sp_json_parse(s, n, where, &o, err)) return -1; /* names the byte offset */
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            return sp_error_set(err, "%s: expected a JSON object per line", where);
        }
        if (!detected) {
            detected = 1;
            if (sp_json_get(o, "endings")) set->format = SP_MC_FORMAT_HELLASWAG_JSONL;
            else if (sp_json_get(o, "choices")) set->format = SP_MC_FORMAT_GENERIC_JSONL;
            else {
                cJSON_Delete(o);
                return sp_error_set(err, "%s: unknown multiple-choice schema: expected HellaSwag "
                                         "(\"ctx_a\", \"ctx_b\", \"endings\", \"label\") or "
                                         "(\"context\", \"choices\", \"label\")", where);
            }
        }
        sp_mc_item *it = mc_push(set, &cap);
        it->line = L->line;
        int rc = set->format == SP_MC_FORMAT_HELLASWAG_JSONL ? mc_item_hellaswag(o, where, it, err)
                                                             : mc_item_generic(o, where, it, err);
        cJSON_Delete(o);
        if (rc) return -1;
    }
    return 0;
}

/* ---- llama.cpp 6-line layout --------------------------------------------------------------- */

static int mc_load_txt(mc_lines *L, sp_mc_set *set, sp_error *err)
{
    int64_t cap = 0;
    const char *s;
    size_t n;
    set->format = SP_MC_FORMAT_LLAMACPP_TXT;
    while (mc_next_line(L, &s, &n)) {
        if (n == 0 && L->pos >= L->len) break; /* final newline */
        sp_mc_item *it = mc_push(set, &cap);
        it->line = L->line;
        it->query = strndup(s, n);
        it->endings = sp_xcalloc(4, sizeof(char *));
        char where[1200];
        for (int k = 0; k < 5; k++) {
            if (!mc_next_line(L, &s, &n))
                return sp_error_set(err, "%s:%lld: truncated item %lld: the 6-line layout needs a "
                                         "query, a label and 4 endings, the file ends after %d of its lines",
                                    set->path, (long long)L->line, (long long)set->n, k + 1);
            snprintf(where, sizeof where, "%s:%lld", set->path, (long long)L->line);
            if (k == 0) {
                if (mc_label_text(s, n, 4, where, &it->label, err)) return -1;
                continue;
            }
            if (mc_blank(s, n)) return sp_error_set(err, "%s: ending %d is empty", where, k - 1);
            it->endings[k - 1] = strndup(s, n);
            it->n_endings = k;
        }
        if (mc_blank(it->query, strlen(it->query)))
            return sp_error_set(err, "%s:%lld: empty query line", set->path, (long long)it->line);
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------ */

int sp_mc_load_buffer(const char *path, const char *buf, size_t len, sp_mc_set *out,
                      sp_error *err)
{
    memset(out, 0, sizeof *out);
    out->path = sp_xstrdup(path);
    int64_t bad = sp_mc_utf8_check(buf, len);
    if (bad >= 0) {
        int64_t line = 1, col = 0;
        for (int64_t i = 0; i < bad; i++) {
            if (buf[i] == '\n') line++, col = 0;
            else col++;
        }
        sp_error_set(err, "%s:%lld: invalid UTF-8 at byte %lld of the line (file offset %lld)",
                     path, (long long)line, (long long)col, (long long)bad);
        sp_mc_free(out);
        return -1;
    }
    if (memchr(buf, '\0', len)) {
        sp_error_set(err, "%s: NUL byte in a text file", path);
        sp_mc_free(out);
        return -1;
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 byte-order mark: skipped */
        buf += 3;
        len -= 3;
    }
    size_t first = 0;
    while (first < len && mc_is_space((unsigned char)buf[first])) first++;
    if (first == len) {
        sp_error_set(err, "%s: empty file: no multiple-choice items", path);
        sp_mc_free(out);
        return -1;
    }
    mc_lines L = {buf, len, 0, 0};
    int rc = buf[first] == '{' ? mc_load_jsonl(&L, out, err) : mc_load_txt(&L, out, err);
    if (rc == 0 && out->n == 0) rc = sp_error_set(err, "%s: no multiple-choice items", path);
    if (rc) sp_mc_free(out);
    return rc;
}

int sp_mc_load(const char *path, sp_mc_set *out, sp_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    if (sp_read_file(path, &buf, &len, err)) return -1;
    int rc = sp_mc_load_buffer(path, buf, len, out, err);
    free(buf);
    return rc;
}

/* ---- subsets ----------------------------------------------------------------------------- */

int sp_mc_subset_first(const sp_mc_set *set, int64_t n, int64_t **idx, int64_t *n_out,
                       sp_error *err)
{
    if (n < 0) return sp_error_set(err, "subset size %lld is negative", (long long)n);
    if (n == 0 || n > set->n) n = set->n;
    *idx = sp_xmalloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) (*idx)[i] = i;
    *n_out = n;
    return 0;
}

typedef struct {
    uint64_t key;
    int64_t index;
} mc_key;

static int mc_key_cmp(const void *a, const void *b)
{
    const mc_key *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static int mc_i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : (x > y);
}

int sp_mc_subset_sample(const sp_mc_set *set, int64_t n, uint64_t seed, int64_t **idx,
                        int64_t *n_out, sp_error *err)
{
    if (n < 0) return sp_error_set(err, "sample size %lld is negative", (long long)n);
    if (n == 0 || n >= set->n) return sp_mc_subset_first(set, set->n, idx, n_out, err);
    mc_key *keys = sp_xmalloc((size_t)set->n * sizeof(mc_key));
    for (int64_t i = 0; i < set->n; i++) {
        keys[i].key = sp_rng_hash(seed, (uint64_t)i, 0x6d63 /* "mc" */, 0);
        keys[i].index = i;
    }
    qsort(keys, (size_t)set->n, sizeof(mc_key), mc_key_cmp);
    *idx = sp_xmalloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) (*idx)[i] = keys[i].index;
    qsort(*idx, (size_t)n, sizeof(int64_t), mc_i64_cmp);
    free(keys);
    *n_out = n;
    return 0;
}
