/* state.c — named-array container for search state (see state.h). */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sp_state_init(sp_state *s)
{
    s->entries = NULL;
    s->n = s->cap = 0;
}

void sp_state_free(sp_state *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->entries[i].data);
    free(s->entries);
    sp_state_init(s);
}

size_t sp_state_type_size(sp_state_type t)
{
    switch (t) {
    case SP_STATE_F64: return sizeof(double);
    case SP_STATE_I64: return sizeof(int64_t);
    case SP_STATE_U8: return 1;
    }
    SP_ASSERT_MSG(0, "bad sp_state_type %d", (int)t);
}

const char *sp_state_type_name(sp_state_type t)
{
    switch (t) {
    case SP_STATE_F64: return "f64";
    case SP_STATE_I64: return "i64";
    case SP_STATE_U8: return "u8";
    }
    return "?";
}

const sp_state_entry *sp_state_find(const sp_state *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->entries[i].name, name) == 0) return &s->entries[i];
    return NULL;
}

int sp_state_put(sp_state *s, const char *name, sp_state_type type, int ndim, const size_t *dims,
                 const void *data, sp_error *err)
{
    size_t len = strlen(name);
    if (len == 0 || len >= SP_STATE_NAME_MAX)
        return sp_error_set(err, "state: entry name \"%s\" is empty or longer than %d bytes", name,
                            SP_STATE_NAME_MAX - 1);
    if (ndim < 0 || ndim > 2)
        return sp_error_set(err, "state: %s: %d dims (at most 2 supported)", name, ndim);
    if (sp_state_find(s, name)) return sp_error_set(err, "state: %s: entry written twice", name);
    sp_state_entry e;
    memset(&e, 0, sizeof e);
    memcpy(e.name, name, len + 1);
    e.type = type;
    e.ndim = ndim;
    e.dims[0] = ndim >= 1 ? dims[0] : 1;
    e.dims[1] = ndim >= 2 ? dims[1] : 1;
    size_t bytes;
    if (sp_mul_size(e.dims[0], e.dims[1], &e.count) ||
        sp_mul_size(e.count, sp_state_type_size(type), &bytes))
        return sp_error_set(err, "state: %s: size overflows", name);
    if (e.count) {
        SP_ASSERT(data != NULL);
        e.data = sp_xmalloc(bytes);
        memcpy(e.data, data, bytes);
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->entries = sp_xrealloc(s->entries, s->cap * sizeof *s->entries);
    }
    s->entries[s->n++] = e;
    return 0;
}

static int put2(sp_state *s, const char *name, sp_state_type t, size_t rows, size_t cols,
                const void *d, sp_error *err)
{
    size_t dims[2] = {rows, cols};
    return sp_state_put(s, name, t, cols ? 2 : 1, dims, d, err);
}

int sp_state_put_f64(sp_state *s, const char *name, size_t rows, size_t cols, const double *d,
                     sp_error *err)
{
    return put2(s, name, SP_STATE_F64, rows, cols, d, err);
}
int sp_state_put_i64(sp_state *s, const char *name, size_t rows, size_t cols, const int64_t *d,
                     sp_error *err)
{
    return put2(s, name, SP_STATE_I64, rows, cols, d, err);
}
int sp_state_put_u8(sp_state *s, const char *name, size_t rows, size_t cols, const uint8_t *d,
                    sp_error *err)
{
    return put2(s, name, SP_STATE_U8, rows, cols, d, err);
}

static void format_dims(int ndim, const size_t *dims, char *buf, size_t size)
{
    if (ndim == 0) snprintf(buf, size, "scalar");
    else if (ndim == 1) snprintf(buf, size, "[%zu]", dims[0]);
    else snprintf(buf, size, "[%zu x %zu]", dims[0], dims[1]);
}

int sp_state_get_any(const sp_state *s, const char *name, sp_state_type type, int ndim,
                     const sp_state_entry **out, sp_error *err)
{
    const sp_state_entry *e = sp_state_find(s, name);
    if (!e) return sp_error_set(err, "state: %s: entry missing", name);
    if (e->type != type)
        return sp_error_set(err, "state: %s: type %s, expected %s", name,
                            sp_state_type_name(e->type), sp_state_type_name(type));
    if (e->ndim != ndim)
        return sp_error_set(err, "state: %s: %d dims, expected %d", name, e->ndim, ndim);
    *out = e;
    return 0;
}

int sp_state_get(const sp_state *s, const char *name, sp_state_type type, int ndim,
                 const size_t *dims, void *out, sp_error *err)
{
    const sp_state_entry *e;
    if (sp_state_get_any(s, name, type, ndim, &e, err)) return -1;
    for (int i = 0; i < ndim; i++)
        if (e->dims[i] != dims[i]) {
            char have[64], want[64];
            format_dims(e->ndim, e->dims, have, sizeof have);
            format_dims(ndim, dims, want, sizeof want);
            return sp_error_set(err, "state: %s: dims %s, expected %s", name, have, want);
        }
    if (e->count) memcpy(out, e->data, e->count * sp_state_type_size(type));
    return 0;
}

static int get2(const sp_state *s, const char *name, sp_state_type t, size_t rows, size_t cols,
                void *out, sp_error *err)
{
    size_t dims[2] = {rows, cols};
    return sp_state_get(s, name, t, cols ? 2 : 1, dims, out, err);
}

int sp_state_get_f64(const sp_state *s, const char *name, size_t rows, size_t cols, double *out,
                     sp_error *err)
{
    return get2(s, name, SP_STATE_F64, rows, cols, out, err);
}
int sp_state_get_i64(const sp_state *s, const char *name, size_t rows, size_t cols, int64_t *out,
                     sp_error *err)
{
    return get2(s, name, SP_STATE_I64, rows, cols, out, err);
}
int sp_state_get_u8(const sp_state *s, const char *name, size_t rows, size_t cols, uint8_t *out,
                    sp_error *err)
{
    return get2(s, name, SP_STATE_U8, rows, cols, out, err);
}
