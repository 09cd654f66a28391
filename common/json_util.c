/* json_util.c — strict, path-aware helpers over cJSON. */
#include "json_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int sp_read_file(const char *path, char **buf, size_t *len, sp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sp_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = sp_xmalloc(cap);
    for (;;) {
        if (cap - n < 2) b = sp_xrealloc(b, cap *= 2);
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return sp_error_set(err, "%s: read error", path);
    }
    b[n] = '\0';
    *buf = b;
    if (len) *len = n;
    return 0;
}

/* Deepest nesting of arrays/objects in text[0, n), strings skipped (for the error message). */
static int json_depth_at(const char *text, size_t n)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') in_str = 1;
        else if ((c == '[' || c == '{') && ++depth > max) max = depth;
        else if (c == ']' || c == '}') depth--;
    }
    return max;
}

int sp_json_parse(const char *text, size_t len, const char *what, cJSON **out, sp_error *err)
{
    /* cJSON takes a NUL byte for whitespace (or the end): a NUL is never valid JSON text. */
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return sp_error_set(err, "%s: invalid JSON: NUL byte at byte %zu", what,
                            (size_t)(nul - text));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) {
            if (text[i] == '\n') line++, col = 1;
            else col++;
        }
        if (json_depth_at(text, off < len ? off + 1 : len) >= CJSON_NESTING_LIMIT)
            return sp_error_set(err, "%s: invalid JSON at byte %zu (line %zu, column %zu): "
                                     "arrays/objects nested deeper than %d levels", what, off,
                                line, col, CJSON_NESTING_LIMIT);
        return sp_error_set(err, "%s: invalid JSON at byte %zu (line %zu, column %zu)", what, off,
                            line, col);
    }
    /* Anything but whitespace after the value is an error too. */
    if (end) {
        const char *p = end;
        while ((size_t)(p - text) < len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        if ((size_t)(p - text) < len && *p != '\0') {
            cJSON_Delete(root);
            return sp_error_set(err, "%s: trailing characters after the JSON value at byte %zu",
                                what, (size_t)(p - text));
        }
    }
    *out = root;
    return 0;
}

int sp_require_regular_file(const char *path, sp_error *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) /* a FIFO would block the read forever */
        return sp_error_set(err, "%s: not a regular file (%s)", path,
                            S_ISDIR(sb.st_mode)    ? "a directory"
                            : S_ISFIFO(sb.st_mode) ? "a FIFO"
                                                   : "a device or socket");
    return 0;
}

int sp_json_parse_file(const char *path, cJSON **out, sp_error *err)
{
    if (sp_require_regular_file(path, err)) return -1;
    char *buf = NULL;
    size_t len = 0;
    if (sp_read_file(path, &buf, &len, err)) return -1;
    int rc = sp_json_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

const cJSON *sp_json_get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

void sp_json_path(char *buf, size_t size, const char *parent, const char *key)
{
    if (!parent || !parent[0]) snprintf(buf, size, "%s", key);
    else snprintf(buf, size, "%s.%s", parent, key);
}

const char *sp_json_type_name(const cJSON *item)
{
    if (!item) return "nothing";
    if (cJSON_IsNull(item)) return "null";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    return "an unknown value";
}

int sp_json_check_object(const cJSON *obj, const char *path, const char *const *allowed,
                         sp_error *err)
{
    const char *p = path && path[0] ? path : "(root)";
    if (!cJSON_IsObject(obj))
        return sp_error_set(err, "%s: expected an object, got %s", p, sp_json_type_name(obj));
    for (const cJSON *a = obj->child; a; a = a->next) {
        for (const cJSON *b = obj->child; b != a; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return sp_error_set(err, "%s: duplicate key \"%s\"", p, a->string);
        if (!allowed) continue;
        int ok = 0;
        for (const char *const *k = allowed; *k; k++)
            if (strcmp(*k, a->string) == 0) ok = 1;
        if (!ok) {
            char list[512] = "";
            size_t n = 0;
            for (const char *const *k = allowed; *k && n + 1 < sizeof list; k++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", k == allowed ? "" : ", ",
                                      *k);
            return sp_error_set(err, "%s: unknown key \"%s\" (allowed: %s)", p, a->string, list);
        }
    }
    return 0;
}

int sp_json_int(const cJSON *item, const char *path, int64_t lo, int64_t hi, int64_t *out,
                sp_error *err)
{
    if (!cJSON_IsNumber(item))
        return sp_error_set(err, "%s: expected an integer, got %s", path, sp_json_type_name(item));
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v))
        return sp_error_set(err, "%s: expected an integer, got %.17g", path, v);
    if (v < (double)lo || v > (double)hi || fabs(v) > 9007199254740992.0)
        return sp_error_set(err, "%s: expected an integer in [%lld, %lld], got %.17g", path,
                            (long long)lo, (long long)hi, v);
    *out = (int64_t)v;
    return 0;
}

int sp_json_double(const cJSON *item, const char *path, double lo, double hi, double *out,
                   sp_error *err)
{
    if (!cJSON_IsNumber(item))
        return sp_error_set(err, "%s: expected a number, got %s", path, sp_json_type_name(item));
    double v = item->valuedouble;
    if (!isfinite(v) || !(v >= lo && v <= hi))
        return sp_error_set(err, "%s: expected a number in [%g, %g], got %.17g", path, lo, hi, v);
    *out = v;
    return 0;
}

int sp_json_bool(const cJSON *item, const char *path, int *out, sp_error *err)
{
    if (!cJSON_IsBool(item))
        return sp_error_set(err, "%s: expected true or false, got %s", path,
                            sp_json_type_name(item));
    *out = cJSON_IsTrue(item) ? 1 : 0;
    return 0;
}

int sp_json_string(const cJSON *item, const char *path, const char **out, sp_error *err)
{
    if (!cJSON_IsString(item) || !item->valuestring)
        return sp_error_set(err, "%s: expected a string, got %s", path, sp_json_type_name(item));
    *out = item->valuestring;
    return 0;
}

#define SP_JSON_MEMBER_PROLOGUE                                                           \
    char path[512];                                                                       \
    sp_json_path(path, sizeof path, parent, key);                                         \
    const cJSON *it = sp_json_get(obj, key);                                              \
    if (!it) {                                                                            \
        if (required) return sp_error_set(err, "%s: required key is missing", path);      \
        return 0;                                                                         \
    }

int sp_json_member_int(const cJSON *obj, const char *parent, const char *key, int required,
                       int64_t lo, int64_t hi, int64_t *out, sp_error *err)
{
    SP_JSON_MEMBER_PROLOGUE
    return sp_json_int(it, path, lo, hi, out, err) ? -1 : 1;
}

int sp_json_member_double(const cJSON *obj, const char *parent, const char *key, int required,
                          double lo, double hi, double *out, sp_error *err)
{
    SP_JSON_MEMBER_PROLOGUE
    return sp_json_double(it, path, lo, hi, out, err) ? -1 : 1;
}

int sp_json_member_bool(const cJSON *obj, const char *parent, const char *key, int required,
                        int *out, sp_error *err)
{
    SP_JSON_MEMBER_PROLOGUE
    return sp_json_bool(it, path, out, err) ? -1 : 1;
}

int sp_json_member_string(const cJSON *obj, const char *parent, const char *key, int required,
                          const char **out, sp_error *err)
{
    SP_JSON_MEMBER_PROLOGUE
    return sp_json_string(it, path, out, err) ? -1 : 1;
}
