/* gguf.c — GGUF reader: maps the file read-only, parses the header, metadata (every value type,
 * nested arrays) and tensor infos with a bounds-checked cursor, then validates the data section:
 * alignment, per-type block rules, sizes with checked arithmetic, tensors inside the file and
 * not overlapping. Messages read "FILE: metadata key \"k\": ... at byte offset N". */
#include "gguf.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_quant.h"

#define GG_MAX_KEY_LEN 65535
#define GG_MAX_NAME_LEN 64
#define GG_MIN_KV_BYTES 13     /* u64 key length + u32 type + 1-byte value */
#define GG_MIN_TENSOR_BYTES 32 /* u64 name length + u32 n_dims + u64 ne + u32 type + u64 offset */

typedef struct {
    const uint8_t *base;
    size_t size, pos;
} gg_cur;

static int gg_need(gg_cur *c, size_t n, const char *what, sp_error *err)
{
    if (n > c->size - c->pos)
        return sp_error_set(err, "%s at byte offset %zu needs %zu bytes, the file ends after %zu",
                            what, c->pos, n, c->size - c->pos);
    return 0;
}

static int gg_u32(gg_cur *c, const char *what, uint32_t *out, sp_error *err)
{
    if (gg_need(c, 4, what, err)) return -1;
    memcpy(out, c->base + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int gg_u64(gg_cur *c, const char *what, uint64_t *out, sp_error *err)
{
    if (gg_need(c, 8, what, err)) return -1;
    memcpy(out, c->base + c->pos, 8);
    c->pos += 8;
    return 0;
}

static int gg_string(gg_cur *c, const char *what, const char **ptr, uint64_t *len, sp_error *err)
{
    size_t at = c->pos;
    if (gg_u64(c, what, len, err)) return -1;
    if (*len > c->size - c->pos)
        return sp_error_set(err, "%s at byte offset %zu: length %llu runs past the end of the file "
                                 "(%zu bytes left)", what, at, (unsigned long long)*len,
                            c->size - c->pos);
    *ptr = (const char *)c->base + c->pos;
    c->pos += (size_t)*len;
    return 0;
}

static size_t gg_scalar_size(sp_gguf_vtype t)
{
    switch (t) {
    case SP_GGUF_U8: case SP_GGUF_I8: case SP_GGUF_BOOL: return 1;
    case SP_GGUF_U16: case SP_GGUF_I16: return 2;
    case SP_GGUF_U32: case SP_GGUF_I32: case SP_GGUF_F32: return 4;
    case SP_GGUF_U64: case SP_GGUF_I64: case SP_GGUF_F64: return 8;
    default: return 0;
    }
}

const char *sp_gguf_vtype_name(sp_gguf_vtype t)
{
    static const char *const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                        "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < SP_GGUF_VTYPE_COUNT ? names[t] : "unknown";
}

/* Decodes a fixed-size scalar at p into v. */
static int gg_decode_scalar(const uint8_t *p, sp_gguf_vtype t, sp_gguf_value *v, size_t at,
                            sp_error *err)
{
    uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64;
    float f32; double f64;
    v->type = t;
    switch (t) {
    case SP_GGUF_U8: v->v.u = p[0]; break;
    case SP_GGUF_I8: v->v.i = (int8_t)p[0]; break;
    case SP_GGUF_BOOL:
        u8 = p[0];
        if (u8 > 1) return sp_error_set(err, "bool at byte offset %zu has value %u", at, u8);
        v->v.u = u8;
        break;
    case SP_GGUF_U16: memcpy(&u16, p, 2); v->v.u = u16; break;
    case SP_GGUF_I16: memcpy(&u16, p, 2); v->v.i = (int16_t)u16; break;
    case SP_GGUF_U32: memcpy(&u32, p, 4); v->v.u = u32; break;
    case SP_GGUF_I32: memcpy(&u32, p, 4); v->v.i = (int32_t)u32; break;
    case SP_GGUF_F32: memcpy(&f32, p, 4); v->v.f = f32; break;
    case SP_GGUF_U64: memcpy(&u64, p, 8); v->v.u = u64; break;
    case SP_GGUF_I64: memcpy(&u64, p, 8); v->v.i = (int64_t)u64; break;
    case SP_GGUF_F64: memcpy(&f64, p, 8); v->v.f = f64; break;
    default: SP_ASSERT_MSG(0, "not a scalar type %d", (int)t);
    }
    return 0;
}

static void gg_value_free(sp_gguf_value *v)
{
    if (v->type != SP_GGUF_ARRAY) return;
    free(v->v.arr.strs);
    free(v->v.arr.str_lens);
    if (v->v.arr.items) {
        for (uint64_t i = 0; i < v->v.arr.count; i++) gg_value_free(&v->v.arr.items[i]);
        free(v->v.arr.items);
    }
    memset(v, 0, sizeof *v);
}

static int gg_value(gg_cur *c, sp_gguf_vtype t, int depth, sp_gguf_value *v, sp_error *err);

static int gg_array(gg_cur *c, int depth, sp_gguf_value *v, sp_error *err)
{
    uint32_t et;
    uint64_t count;
    size_t at = c->pos;
    v->type = SP_GGUF_ARRAY;
    if (gg_u32(c, "array element type", &et, err) || gg_u64(c, "array length", &count, err))
        return -1;
    if (et >= SP_GGUF_VTYPE_COUNT)
        return sp_error_set(err, "array at byte offset %zu: unknown element type %u", at, et);
    if (et == SP_GGUF_ARRAY && depth + 1 >= SP_GGUF_MAX_NESTING)
        return sp_error_set(err, "array at byte offset %zu: nested deeper than %d levels", at,
                            SP_GGUF_MAX_NESTING);
    size_t min = et == SP_GGUF_STRING ? 8 : et == SP_GGUF_ARRAY ? 12 : gg_scalar_size(et);
    if (count > (c->size - c->pos) / min)
        return sp_error_set(err, "array at byte offset %zu: %llu elements of %s cannot fit in the "
                                 "%zu bytes left in the file", at, (unsigned long long)count,
                            sp_gguf_vtype_name(et), c->size - c->pos);
    v->v.arr.elem = (sp_gguf_vtype)et;
    v->v.arr.count = count;
    if (et != SP_GGUF_STRING && et != SP_GGUF_ARRAY) {
        v->v.arr.raw = c->base + c->pos;
        if (et == SP_GGUF_BOOL)
            for (uint64_t i = 0; i < count; i++)
                if (v->v.arr.raw[i] > 1)
                    return sp_error_set(err, "bool array element %llu at byte offset %zu has "
                                             "value %u", (unsigned long long)i,
                                        c->pos + (size_t)i, v->v.arr.raw[i]);
        c->pos += (size_t)count * min;
        return 0;
    }
    if (et == SP_GGUF_STRING) {
        v->v.arr.strs = sp_xcalloc(count ? count : 1, sizeof *v->v.arr.strs);
        v->v.arr.str_lens = sp_xcalloc(count ? count : 1, sizeof *v->v.arr.str_lens);
        for (uint64_t i = 0; i < count; i++)
            if (gg_string(c, "string", &v->v.arr.strs[i], &v->v.arr.str_lens[i], err))
                return sp_error_wrap(err, "array element %llu", (unsigned long long)i);
        return 0;
    }
    v->v.arr.items = sp_xcalloc(count ? count : 1, sizeof *v->v.arr.items);
    for (uint64_t i = 0; i < count; i++)
        if (gg_value(c, SP_GGUF_ARRAY, depth + 1, &v->v.arr.items[i], err))
            return sp_error_wrap(err, "array element %llu", (unsigned long long)i);
    return 0;
}

static int gg_value(gg_cur *c, sp_gguf_vtype t, int depth, sp_gguf_value *v, sp_error *err)
{
    if (t == SP_GGUF_ARRAY) return gg_array(c, depth, v, err);
    if (t == SP_GGUF_STRING) {
        v->type = t;
        return gg_string(c, "string value", &v->v.str.ptr, &v->v.str.len, err);
    }
    size_t n = gg_scalar_size(t);
    if (gg_need(c, n, sp_gguf_vtype_name(t), err)) return -1;
    if (gg_decode_scalar(c->base + c->pos, t, v, c->pos, err)) return -1;
    c->pos += n;
    return 0;
}

static int gg_parse_kv(sp_gguf *g, gg_cur *c, sp_error *err)
{
    g->kv = sp_xcalloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
    for (int64_t i = 0; i < g->n_kv; i++) {
        sp_gguf_kv *kv = &g->kv[i];
        const char *key;
        uint64_t len;
        uint32_t t;
        kv->file_offset = c->pos;
        if (gg_string(c, "key", &key, &len, err))
            return sp_error_wrap(err, "%s: metadata entry %lld", g->path, (long long)i);
        if (len == 0 || len > GG_MAX_KEY_LEN || memchr(key, 0, (size_t)len))
            return sp_error_set(err, "%s: metadata entry %lld at byte offset %zu: key of length "
                                     "%llu is empty, longer than %d bytes or holds a NUL byte",
                                g->path, (long long)i, kv->file_offset, (unsigned long long)len,
                                GG_MAX_KEY_LEN);
        kv->key = sp_xmalloc((size_t)len + 1);
        memcpy(kv->key, key, (size_t)len);
        kv->key[len] = '\0';
        size_t tat = c->pos;
        if (gg_u32(c, "value type", &t, err) ||
            (t >= SP_GGUF_VTYPE_COUNT &&
             sp_error_set(err, "unknown value type %u at byte offset %zu", t, tat)) ||
            gg_value(c, (sp_gguf_vtype)t, 0, &kv->val, err))
            return sp_error_wrap(err, "%s: metadata key \"%s\"", g->path, kv->key);
    }
    return 0;
}

static int gg_parse_tensor_info(sp_gguf *g, gg_cur *c, int64_t i, sp_error *err)
{
    sp_gguf_tensor *t = &g->tensors[i];
    const char *name;
    uint64_t len, ne;
    uint32_t nd;
    t->info_offset = c->pos;
    if (gg_string(c, "tensor name", &name, &len, err))
        return sp_error_wrap(err, "%s: tensor info %lld", g->path, (long long)i);
    if (len == 0 || len > GG_MAX_NAME_LEN || memchr(name, 0, (size_t)len))
        return sp_error_set(err, "%s: tensor info %lld at byte offset %zu: name of length %llu "
                                 "is empty, longer than %d bytes or holds a NUL byte", g->path,
                            (long long)i, t->info_offset, (unsigned long long)len,
                            GG_MAX_NAME_LEN);
    t->name = sp_xmalloc((size_t)len + 1);
    memcpy(t->name, name, (size_t)len);
    t->name[len] = '\0';
    size_t at = c->pos;
    if (gg_u32(c, "n_dims", &nd, err)) goto wrap;
    if (nd < 1 || nd > SP_GGUF_MAX_DIMS) {
        sp_error_set(err, "n_dims %u at byte offset %zu is outside 1..%d", nd, at,
                     SP_GGUF_MAX_DIMS);
        goto wrap;
    }
    t->n_dims = (int)nd;
    for (int d = 0; d < SP_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        at = c->pos;
        if (gg_u64(c, "dimension", &ne, err)) goto wrap;
        if (ne == 0 || ne > (uint64_t)INT64_MAX) {
            sp_error_set(err, "ne[%u] = %llu at byte offset %zu must be in 1..2^63-1", d,
                         (unsigned long long)ne, at);
            goto wrap;
        }
        t->ne[d] = (int64_t)ne;
    }
    at = c->pos;
    if (gg_u32(c, "type", &t->type, err)) goto wrap;
    if (!sp_ggml_type_get(t->type)) {
        sp_error_set(err, "unknown or unsupported tensor type %u at byte offset %zu", t->type, at);
        goto wrap;
    }
    if (gg_u64(c, "offset", &t->offset, err)) goto wrap;
    return 0;
wrap:
    return sp_error_wrap(err, "%s: tensor \"%s\"", g->path, t->name);
}

/* Element count and byte size of tensor t, checked. */
static int gg_tensor_size(const sp_gguf *g, sp_gguf_tensor *t, sp_error *err)
{
    size_t n = 1;
    for (int d = 0; d < SP_GGUF_MAX_DIMS; d++)
        if ((uint64_t)t->ne[d] > SIZE_MAX || sp_mul_size(n, (size_t)t->ne[d], &n))
            return sp_error_set(err, "%s: tensor \"%s\" (info at byte offset %zu): element count "
                                     "overflows", g->path, t->name, t->info_offset);
    const sp_ggml_type_info *ti = sp_ggml_type_get(t->type);
    if (t->ne[0] % ti->block != 0)
        return sp_error_set(err, "%s: tensor \"%s\" (info at byte offset %zu): ne[0] = %lld is "
                                 "not a multiple of the %s block size %u", g->path, t->name,
                            t->info_offset, (long long)t->ne[0], ti->name, ti->block);
    if (sp_ggml_nbytes(t->type, n, &t->nbytes, err))
        return sp_error_wrap(err, "%s: tensor \"%s\"", g->path, t->name);
    return 0;
}

static int gg_cmp_offset(const void *a, const void *b)
{
    const sp_gguf_tensor *x = *(const sp_gguf_tensor *const *)a;
    const sp_gguf_tensor *y = *(const sp_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int gg_cmp_name(const void *a, const void *b)
{
    return strcmp((*(const sp_gguf_tensor *const *)a)->name,
                  (*(const sp_gguf_tensor *const *)b)->name);
}

/* Sizes, alignment, bounds and overlaps of every tensor; duplicate names. */
static int gg_check_tensors(sp_gguf *g, sp_error *err)
{
    int64_t n = g->n_tensors;
    if (n == 0) return 0;
    for (int64_t i = 0; i < n; i++) {
        sp_gguf_tensor *t = &g->tensors[i];
        size_t end;
        if (gg_tensor_size(g, t, err)) return -1;
        if (t->offset % g->alignment != 0)
            return sp_error_set(err, "%s: tensor \"%s\": data offset %llu is not a multiple of the "
                                     "alignment %u", g->path, t->name,
                                (unsigned long long)t->offset, g->alignment);
        if (t->offset > g->size || sp_add_size(g->data_start, (size_t)t->offset, &end) ||
            sp_add_size(end, t->nbytes, &end) || end > g->size)
            return sp_error_set(err, "%s: tensor \"%s\": data at byte offset %zu + %llu, %zu bytes, "
                                     "runs past the end of the file (size %zu)", g->path, t->name,
                                g->data_start, (unsigned long long)t->offset, t->nbytes, g->size);
        t->data = (const uint8_t *)g->map + g->data_start + t->offset;
    }
    sp_gguf_tensor **by = sp_xmalloc((size_t)n * sizeof *by);
    for (int64_t i = 0; i < n; i++) by[i] = &g->tensors[i];
    qsort(by, (size_t)n, sizeof *by, gg_cmp_offset);
    int rc = 0;
    for (int64_t i = 1; i < n && !rc; i++)
        if (by[i - 1]->offset + by[i - 1]->nbytes > by[i]->offset)
            rc = sp_error_set(err, "%s: tensors \"%s\" (data offset %llu, %zu bytes) and \"%s\" "
                                   "(data offset %llu) overlap", g->path, by[i - 1]->name,
                              (unsigned long long)by[i - 1]->offset, by[i - 1]->nbytes,
                              by[i]->name, (unsigned long long)by[i]->offset);
    qsort(by, (size_t)n, sizeof *by, gg_cmp_name);
    for (int64_t i = 1; i < n && !rc; i++)
        if (strcmp(by[i - 1]->name, by[i]->name) == 0)
            rc = sp_error_set(err, "%s: tensor \"%s\" appears twice (infos at byte offsets %zu "
                                   "and %zu)", g->path, by[i]->name, by[i - 1]->info_offset,
                              by[i]->info_offset);
    free(by);
    return rc;
}

static int gg_cmp_kv(const void *a, const void *b)
{
    return strcmp((*(const sp_gguf_kv *const *)a)->key, (*(const sp_gguf_kv *const *)b)->key);
}

static int gg_check_kv(sp_gguf *g, sp_error *err)
{
    int rc = 0;
    if (g->n_kv > 1) {
        const sp_gguf_kv **by = sp_xmalloc((size_t)g->n_kv * sizeof *by);
        for (int64_t i = 0; i < g->n_kv; i++) by[i] = &g->kv[i];
        qsort(by, (size_t)g->n_kv, sizeof *by, gg_cmp_kv);
        for (int64_t i = 1; i < g->n_kv && !rc; i++)
            if (strcmp(by[i - 1]->key, by[i]->key) == 0)
                rc = sp_error_set(err, "%s: metadata key \"%s\" appears twice (byte offsets %zu "
                                       "and %zu)", g->path, by[i]->key, by[i - 1]->file_offset,
                                  by[i]->file_offset);
        free(by);
    }
    if (rc) return rc;
    int64_t al = 32;
    if (sp_gguf_get_int(g, "general.alignment", 0, 1, UINT32_MAX, &al, err) < 0) return -1;
    if ((al & (al - 1)) != 0)
        return sp_error_set(err, "%s: metadata key \"general.alignment\": %lld is not a power of "
                                 "two", g->path, (long long)al);
    g->alignment = (uint32_t)al;
    return 0;
}

static int gg_parse_header(sp_gguf *g, gg_cur *c, sp_error *err)
{
    uint64_t nt, nkv;
    if (g->size < 24)
        return sp_error_set(err, "%s: truncated header: the file has %zu bytes, a GGUF header "
                                 "needs 24", g->path, g->size);
    if (memcmp(c->base, "GGUF", 4) != 0)
        return sp_error_set(err, "%s: bad magic at byte offset 0: expected \"GGUF\", got bytes "
                                 "%02x %02x %02x %02x", g->path, c->base[0], c->base[1],
                            c->base[2], c->base[3]);
    c->pos = 4;
    (void)gg_u32(c, "version", &g->version, err); /* 24 bytes are present */
    if (g->version == 1)
        return sp_error_set(err, "%s: GGUF version 1 (byte offset 4) is not supported (it used "
                                 "32-bit counts; re-convert the model with current llama.cpp)",
                            g->path);
    if (g->version != 2 && g->version != 3)
        return sp_error_set(err, "%s: GGUF version %u at byte offset 4 is not supported (2 or 3; "
                                 "a byte-swapped value means a big-endian file)", g->path,
                            g->version);
    (void)gg_u64(c, "tensor count", &nt, err);
    (void)gg_u64(c, "metadata count", &nkv, err);
    size_t left = g->size - 24;
    if (nkv > left / GG_MIN_KV_BYTES || nt > left / GG_MIN_TENSOR_BYTES ||
        nkv * GG_MIN_KV_BYTES + nt * GG_MIN_TENSOR_BYTES > left)
        return sp_error_set(err, "%s: header at byte offset 8: %llu tensors and %llu metadata "
                                 "entries cannot fit in a file of %zu bytes", g->path,
                            (unsigned long long)nt, (unsigned long long)nkv, g->size);
    g->n_tensors = (int64_t)nt;
    g->n_kv = (int64_t)nkv;
    return 0;
}

static int gg_parse(sp_gguf *g, sp_error *err)
{
    gg_cur c = {g->map, g->size, 0};
    if (gg_parse_header(g, &c, err) || gg_parse_kv(g, &c, err) || gg_check_kv(g, err))
        return -1;
    g->tensors = sp_xcalloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *g->tensors);
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (gg_parse_tensor_info(g, &c, i, err)) return -1;
    size_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    g->data_start = c.pos + pad;
    if (g->n_tensors > 0 && g->data_start > g->size)
        return sp_error_set(err, "%s: data section would start at byte offset %zu, past the end "
                                 "of the file (size %zu)", g->path, g->data_start, g->size);
    return gg_check_tensors(g, err);
}

int sp_gguf_open(const char *path, sp_gguf *g, sp_error *err)
{
    const uint16_t probe = 1;
    memset(g, 0, sizeof *g);
    g->fd = -1;
    if (*(const uint8_t *)&probe != 1)
        return sp_error_set(err, "%s: not implemented: reading GGUF on a big-endian host", path);
    g->path = sp_xstrdup(path);
    struct stat sb;
    g->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (g->fd < 0 || fstat(g->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        sp_error_set(err, "%s: cannot open as a regular file", path);
        sp_gguf_close(g);
        return -1;
    }
    g->size = (size_t)sb.st_size;
    if (g->size > 0) {
        g->map = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, g->fd, 0);
        if (g->map == MAP_FAILED) {
            g->map = NULL;
            sp_error_set(err, "%s: mmap of %zu bytes failed", path, g->size);
            sp_gguf_close(g);
            return -1;
        }
    }
    if (gg_parse(g, err)) {
        sp_gguf_close(g);
        return -1;
    }
    return 0;
}

void sp_gguf_close(sp_gguf *g)
{
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            gg_value_free(&g->kv[i].val);
        }
    if (g->tensors)
        for (int64_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    if (g->map) munmap(g->map, g->size);
    if (g->fd >= 0) close(g->fd);
    free(g->path);
    memset(g, 0, sizeof *g);
    g->fd = -1;
}

/* --- lookups ------------------------------------------------------------------------------- */

const sp_gguf_kv *sp_gguf_find_kv(const sp_gguf *g, const char *key)
{
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const sp_gguf_tensor *sp_gguf_find_tensor(const sp_gguf *g, const char *name)
{
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

int64_t sp_gguf_tensor_numel(const sp_gguf_tensor *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; /* checked by gg_tensor_size */
}

/* Finds key; 0 when absent and optional, -1 when absent and required. */
static int gg_lookup(const sp_gguf *g, const char *key, int required, const sp_gguf_kv **kv,
                     sp_error *err)
{
    *kv = sp_gguf_find_kv(g, key);
    if (*kv) return 1;
    if (required) return sp_error_set(err, "%s: metadata key \"%s\" is missing", g->path, key);
    return 0;
}

static int gg_is_int(sp_gguf_vtype t)
{
    return t == SP_GGUF_U8 || t == SP_GGUF_I8 || t == SP_GGUF_U16 || t == SP_GGUF_I16 ||
           t == SP_GGUF_U32 || t == SP_GGUF_I32 || t == SP_GGUF_U64 || t == SP_GGUF_I64;
}

static int gg_is_signed(sp_gguf_vtype t)
{
    return t == SP_GGUF_I8 || t == SP_GGUF_I16 || t == SP_GGUF_I32 || t == SP_GGUF_I64;
}

int sp_gguf_get_int(const sp_gguf *g, const char *key, int required, int64_t lo, int64_t hi,
                    int64_t *out, sp_error *err)
{
    const sp_gguf_kv *kv;
    int rc = gg_lookup(g, key, required, &kv, err);
    if (rc <= 0) return rc;
    sp_gguf_vtype t = kv->val.type;
    if (!gg_is_int(t))
        return sp_error_set(err, "%s: metadata key \"%s\" (byte offset %zu): expected an integer, "
                                 "got %s", g->path, key, kv->file_offset, sp_gguf_vtype_name(t));
    int ok = gg_is_signed(t) ? (kv->val.v.i >= lo && kv->val.v.i <= hi)
                             : (hi >= 0 && kv->val.v.u <= (uint64_t)hi &&
                                (lo <= 0 || kv->val.v.u >= (uint64_t)lo));
    if (!ok) {
        char buf[32];
        if (gg_is_signed(t)) snprintf(buf, sizeof buf, "%lld", (long long)kv->val.v.i);
        else snprintf(buf, sizeof buf, "%llu", (unsigned long long)kv->val.v.u);
        return sp_error_set(err, "%s: metadata key \"%s\" (byte offset %zu): %s is outside "
                                 "[%lld, %lld]", g->path, key, kv->file_offset, buf, (long long)lo,
                            (long long)hi);
    }
    *out = gg_is_signed(t) ? kv->val.v.i : (int64_t)kv->val.v.u;
    return 1;
}

int sp_gguf_get_double(const sp_gguf *g, const char *key, int required, double *out,
                       sp_error *err)
{
    const sp_gguf_kv *kv;
    int rc = gg_lookup(g, key, required, &kv, err);
    if (rc <= 0) return rc;
    if (kv->val.type != SP_GGUF_F32 && kv->val.type != SP_GGUF_F64)
        return sp_error_set(err, "%s: metadata key \"%s\" (byte offset %zu): expected f32 or f64, "
                                 "got %s", g->path, key, kv->file_offset,
                            sp_gguf_vtype_name(kv->val.type));
    if (!isfinite(kv->val.v.f))
        return sp_error_set(err, "%s: metadata key \"%s\" (byte offset %zu): not a finite number",
                            g->path, key, kv->file_offset);
    *out = kv->val.v.f;
    return 1;
}

int sp_gguf_get_bool(const sp_gguf *g, const char *key, int required, int *out, sp_error *err)
{
    const sp_gguf_kv *kv;
    int rc = gg_lookup(g, key, required, &kv, err);
    if (rc <= 0) return rc;
    if (kv->val.type != SP_GGUF_BOOL)
        return sp_error_set(err, "%s: metadata key \"%s\" (byte offset %zu): expected bool, got %s",
                            g->path, key, kv->file_offset, sp_gguf_vtype_name(kv->val.type));
    *out = (int)kv->val.v.u;
    return 1;
}

int sp_gguf_get_str(const sp_gguf *g, const char *key, int required, const char **ptr,
                    size_t *len, sp_error *err)
{
    const sp_gguf_kv *kv;
    int rc = gg_lookup(g, key, required, &kv, err);
    if (rc <= 0) return rc;
    if (kv->val.type != SP_GGUF_STRING)
        return sp_error_set(err, "%s: metadata key \"%s\" (byte offset %zu): expected string, "
                                 "got %s", g->path, key, kv->file_offset,
                            sp_gguf_vtype_name(kv->val.type));
    *ptr = kv->val.v.str.ptr;
    *len = (size_t)kv->val.v.str.len;
    return 1;
}

int sp_gguf_get_array(const sp_gguf *g, const char *key, int required, sp_gguf_vtype elem,
                      const sp_gguf_value **out, sp_error *err)
{
    const sp_gguf_kv *kv;
    int rc = gg_lookup(g, key, required, &kv, err);
    if (rc <= 0) return rc;
    if (kv->val.type != SP_GGUF_ARRAY || kv->val.v.arr.elem != elem)
        return sp_error_set(err, "%s: metadata key \"%s\" (byte offset %zu): expected an array of "
                                 "%s, got %s%s%s", g->path, key, kv->file_offset,
                            sp_gguf_vtype_name(elem), sp_gguf_vtype_name(kv->val.type),
                            kv->val.type == SP_GGUF_ARRAY ? " of " : "",
                            kv->val.type == SP_GGUF_ARRAY
                                ? sp_gguf_vtype_name(kv->val.v.arr.elem) : "");
    *out = &kv->val;
    return 1;
}

int64_t sp_gguf_array_int(const sp_gguf_value *arr, uint64_t i)
{
    SP_ASSERT(arr->type == SP_GGUF_ARRAY && i < arr->v.arr.count);
    sp_gguf_value v;
    sp_gguf_vtype t = arr->v.arr.elem;
    SP_ASSERT(gg_is_int(t));
    size_t sz = gg_scalar_size(t);
    SP_ASSERT(gg_decode_scalar(arr->v.arr.raw + i * sz, t, &v, 0, NULL) == 0);
    return gg_is_signed(t) ? v.v.i : (int64_t)v.v.u;
}
