/* export_config.c — the small pure parts of `export`: tensor renaming, shard-size parsing, the
 * config.json rewrite (a byte-preserving edit of the original text located by a tiny span
 * scanner, since re-printing through cJSON would respell numbers such as 8.0 -> 8) and the best
 * mask of a search results file. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/json_util.h"
#include "../coordinator/search_run.h" /* sp_model_fingerprint */
#include "export.h"

int sp_export_tensor_name(const char *src, int n_layers, const sp_mask *removed, char *dst,
                          size_t size, int *layer)
{
    static const char prefix[] = "model.layers.";
    const size_t plen = sizeof prefix - 1;
    *layer = -1;
    const char *p = src + plen;
    if (strncmp(src, prefix, plen) != 0 || !isdigit((unsigned char)*p)) {
        if (strlen(src) >= size) return -1;
        memcpy(dst, src, strlen(src) + 1);
        return 1;
    }
    long old = 0;
    while (isdigit((unsigned char)*p) && old < 1000000) old = old * 10 + (*p++ - '0');
    if (*p != '.' || old >= n_layers) return -1;
    if (sp_mask_test(removed, (int)old)) return 0;
    int nw = 0;
    for (int i = 0; i < old; i++) nw += !sp_mask_test(removed, i);
    int n = snprintf(dst, size, "%s%d%s", prefix, nw, p);
    if (n < 0 || (size_t)n >= size) return -1;
    *layer = nw;
    return 1;
}

int sp_export_parse_size(const char *text, const char *what, uint64_t *out, sp_error *err)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"", 1},           {"B", 1},           {"KB", 1000ull},    {"MB", 1000000ull},
                 {"GB", 1000000000ull}, {"TB", 1000000000000ull}, {"KIB", 1ull << 10},
                 {"MIB", 1ull << 20}, {"GIB", 1ull << 30}, {"TIB", 1ull << 40}};
    const char *p = text;
    if (!isdigit((unsigned char)*p))
        return sp_error_set(err, "%s: \"%s\" is not a size (e.g. 5GB, 500MB, 2GiB, 1048576)",
                            what, text);
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(p, &end, 10);
    char unit[8] = {0};
    size_t ul = strlen(end);
    if (errno || ul >= sizeof unit)
        return sp_error_set(err, "%s: \"%s\" is not a size (e.g. 5GB, 500MB, 2GiB, 1048576)",
                            what, text);
    for (size_t i = 0; i < ul; i++) unit[i] = (char)toupper((unsigned char)end[i]);
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        if (strcmp(unit, units[u].unit) != 0) continue;
        if (v == 0) return sp_error_set(err, "%s: the size must be positive, got \"%s\"", what, text);
        if (v > (1ull << 62) / units[u].mult)
            return sp_error_set(err, "%s: \"%s\" is too large (at most 2^62 bytes)", what, text);
        *out = v * units[u].mult;
        return 0;
    }
    return sp_error_set(err, "%s: unknown unit \"%s\" in \"%s\" (B, KB, MB, GB, TB, KiB, MiB, "
                             "GiB, TiB)", what, end, text);
}

/* ---- config.json rewrite ------------------------------------------------------------------ */

/* The text was validated by cJSON first, so the scanner only has to find value boundaries. */
static const char *cj_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static const char *cj_skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\') p++;
    return p < end ? p + 1 : end;
}

static const char *cj_skip_value(const char *p, const char *end)
{
    if (*p == '"') return cj_skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = cj_skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && !strchr(",]} \t\r\n", *p)) p++;
    return p;
}

typedef struct {
    size_t start, end; /* byte span in the original text */
    char *text;        /* replacement (malloc'ed) */
} cj_edit;

/* Filters the array spanning [a, b) (one element per layer, validated by cJSON) keeping the
 * original separators: the text before element 0, the separator between elements 0 and 1, and
 * the text after the last element. */
static char *cj_filter_array(const char *a, const char *b, int n_layers, const sp_mask *removed)
{
    const char **el = sp_xcalloc((size_t)n_layers, sizeof *el), **ee = sp_xcalloc((size_t)n_layers, sizeof *ee);
    const char *p = cj_ws(a + 1, b);
    for (int i = 0; i < n_layers; i++) {
        el[i] = p;
        ee[i] = cj_skip_value(p, b);
        p = cj_ws(ee[i], b);
        if (*p == ',') p = cj_ws(p + 1, b);
    }
    size_t cap = (size_t)(b - a) + 1, n = 0;
    char *out = sp_xmalloc(cap);
    int first = 1;
#define CJ_PUT(s, e) (memcpy(out + n, (s), (size_t)((e) - (s))), n += (size_t)((e) - (s)))
    CJ_PUT(a, el[0]);
    for (int i = 0; i < n_layers; i++) {
        if (sp_mask_test(removed, i)) continue;
        if (!first) CJ_PUT(ee[0], el[1]);
        CJ_PUT(el[i], ee[i]);
        first = 0;
    }
    CJ_PUT(ee[n_layers - 1], b);
#undef CJ_PUT
    out[n] = '\0';
    free(el);
    free(ee);
    return out;
}

/* Decides the edit of one top-level member (key, value span); returns 1 when an edit was made. */
static int cj_member_edit(const cJSON *root, const char *text, const char *key, size_t vs, size_t ve,
                          int n_layers, const sp_mask *removed, const char *what, cj_edit *e,
                          sp_error *err)
{
    const cJSON *item = sp_json_get(root, key);
    if (!item) return 0; /* a key spelled with escapes or over 255 bytes: not one we edit */
    int kept = n_layers - sp_mask_count(removed);
    if (strcmp(key, "num_hidden_layers") == 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d", kept);
        *e = (cj_edit){vs, ve, sp_xstrdup(buf)};
        return 1;
    }
    if (!cJSON_IsArray(item) || !strstr(key, "layer")) return 0;
    int n = cJSON_GetArraySize(item);
    if (n == 0) return 0;
    if (n != n_layers)
        return sp_error_set(err, "not implemented: %s: %s is a list of %d entries for %d layers; "
                                 "export does not know how to prune it", what, key, n, n_layers);
    if (n_layers == 1) return 0; /* unreachable: removing the only layer is refused */
    *e = (cj_edit){vs, ve, cj_filter_array(text + vs, text + ve, n_layers, removed)};
    return 1;
}

static char *cj_apply(const char *text, size_t len, const cj_edit *ed, int n_ed, size_t *out_len)
{
    size_t total = len + 1;
    for (int i = 0; i < n_ed; i++) total += strlen(ed[i].text);
    char *out = sp_xmalloc(total);
    size_t n = 0, at = 0;
    for (int i = 0; i < n_ed; i++) {
        memcpy(out + n, text + at, ed[i].start - at);
        n += ed[i].start - at;
        size_t r = strlen(ed[i].text);
        memcpy(out + n, ed[i].text, r);
        n += r;
        at = ed[i].end;
    }
    memcpy(out + n, text + at, len - at);
    n += len - at;
    out[n] = '\0';
    *out_len = n;
    return out;
}

int sp_export_rewrite_config(const char *text, size_t len, const char *what, int n_layers,
                             const sp_mask *removed, char **out, size_t *out_len, sp_error *err)
{
    cJSON *root = NULL;
    if (sp_json_parse(text, len, what, &root, err)) return -1;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sp_error_set(err, "%s: the top level is not a JSON object", what);
    }
    int cap = cJSON_GetArraySize(root), n_ed = 0, rc = 0, saw_layers = 0;
    cj_edit *ed = sp_xcalloc((size_t)cap + 1, sizeof *ed);
    const char *end = text + len, *p = cj_ws(text, end) + 1; /* past '{' */
    for (p = cj_ws(p, end); p < end && *p == '"';) {
        const char *ks = p, *ke = cj_skip_string(p, end);
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(ke - ks - 2), ks + 1);
        const char *vs = cj_ws(cj_ws(ke, end) + 1, end), *ve = cj_skip_value(vs, end);
        saw_layers |= strcmp(key, "num_hidden_layers") == 0;
        int r = cj_member_edit(root, text, key, (size_t)(vs - text), (size_t)(ve - text), n_layers,
                               removed, what, &ed[n_ed], err);
        if (r < 0) {
            rc = -1;
            break;
        }
        n_ed += r;
        SP_ASSERT(n_ed <= cap);
        p = cj_ws(ve, end);
        if (p < end && *p == ',') p = cj_ws(p + 1, end);
    }
    if (rc == 0 && !saw_layers) rc = sp_error_set(err, "%s: no num_hidden_layers key", what);
    if (rc == 0) *out = cj_apply(text, len, ed, n_ed, out_len);
    for (int i = 0; i < n_ed; i++) free(ed[i].text);
    free(ed);
    cJSON_Delete(root);
    return rc;
}

/* ---- the best mask of a search ------------------------------------------------------------ */

int sp_export_best_mask(const char *results_path, const sp_model *m, int64_t k,
                        sp_export_best *out, sp_error *err)
{
    char fp[17];
    sp_model_fingerprint(m, fp);
    sp_ckpt c;
    memset(out, 0, sizeof *out);
    if (sp_ckpt_read(results_path, NULL, fp, &c, err)) {
        sp_ckpt_free(&c);
        return sp_error_wrap(err, "--from %s", results_path);
    }
    int L = (int)m->cfg.n_layers, rc = 0;
    if (c.n_layers != L) {
        rc = sp_error_set(err, "--from %s: the search was over %d layers, the model has %d",
                          results_path, c.n_layers, L);
    } else if (c.best.n == 0) {
        rc = sp_error_set(err, "--from %s: no best mask (the best trajectory is empty: no "
                               "evaluation finished)", results_path);
    } else {
        out->mask = c.best.mask[c.best.n - 1];
        out->fitness = c.best.fitness[c.best.n - 1];
        out->evaluation = c.best.evaluation[c.best.n - 1];
        out->n_evaluations = (int64_t)c.history.n;
        out->status = c.status;
        snprintf(out->algorithm, sizeof out->algorithm, "%s", c.algorithm ? c.algorithm : "");
        int cnt = sp_mask_count(&out->mask);
        char buf[1100];
        sp_mask_format(&out->mask, buf, sizeof buf);
        if (k >= 0 && cnt != k)
            rc = sp_error_set(err, "--k %" PRId64 ": the best mask of %s removes %d layers (%s), "
                                   "not %" PRId64, k, results_path, cnt, buf, k);
        else if (cnt >= L)
            rc = sp_error_set(err, "--from %s: the best mask removes all %d layers", results_path, L);
    }
    sp_ckpt_free(&c);
    return rc;
}
