/* safetensors.c — opens safetensors files read-only with mmap and validates their headers the
 * way the reference implementation does (header length, JSON header, dtypes, shapes, offsets
 * that tile the data section exactly, no duplicates). Sharded checkpoints are read through
 * model.safetensors.index.json: every shard is opened once, and every tensor the index lists
 * must be in the shard it names. Tensor data is never copied. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_util.h"

#define SP_ST_MAX_HEADER 100000000u /* the reference refuses headers of 100 MB and more */

static const struct {
    const char *name;
    size_t size;
} sp_dtypes[SP_DT_COUNT] = {
    [SP_DT_F32] = {"F32", 4}, [SP_DT_F16] = {"F16", 2}, [SP_DT_BF16] = {"BF16", 2},
    [SP_DT_F64] = {"F64", 8}, [SP_DT_I64] = {"I64", 8}, [SP_DT_I32] = {"I32", 4},
    [SP_DT_I16] = {"I16", 2}, [SP_DT_I8] = {"I8", 1},   [SP_DT_U8] = {"U8", 1},
    [SP_DT_BOOL] = {"BOOL", 1},
};

size_t sp_dtype_size(sp_dtype dt)
{
    SP_ASSERT(dt >= 0 && dt < SP_DT_COUNT);
    return sp_dtypes[dt].size;
}

const char *sp_dtype_name(sp_dtype dt)
{
    SP_ASSERT(dt >= 0 && dt < SP_DT_COUNT);
    return sp_dtypes[dt].name;
}

int64_t sp_tensor_numel(const sp_tensor *t)
{
    /* A zero dimension makes the product 0 whatever the others are (which may be huge: the
     * nbytes check bounds the product only when no dimension is 0). */
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] == 0) return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i]; /* fits: nbytes (> 0 here) was checked */
    return n;
}

/* ---- one tensor entry of a header ------------------------------------------------------ */

static int st_parse_dtype(const cJSON *e, const char *file, const char *name, sp_dtype *dt,
                          sp_error *err)
{
    const cJSON *d = sp_json_get(e, "dtype");
    if (!cJSON_IsString(d))
        return sp_error_set(err, "%s: tensor \"%s\": dtype: expected a string, got %s", file, name,
                            sp_json_type_name(d));
    for (int i = 0; i < SP_DT_COUNT; i++)
        if (strcmp(d->valuestring, sp_dtypes[i].name) == 0) {
            *dt = (sp_dtype)i;
            return 0;
        }
    return sp_error_set(err, "%s: tensor \"%s\": unknown dtype \"%s\"", file, name, d->valuestring);
}

/* Reads [begin, end] or the shape: arrays of non-negative integers. */
static int st_parse_ints(const cJSON *e, const char *key, const char *file, const char *name,
                         int64_t *vals, int max, int *n, sp_error *err)
{
    const cJSON *a = sp_json_get(e, key);
    if (!cJSON_IsArray(a))
        return sp_error_set(err, "%s: tensor \"%s\": %s: expected an array, got %s", file, name,
                            key, sp_json_type_name(a));
    int cnt = cJSON_GetArraySize(a);
    if (cnt > max)
        return sp_error_set(err, "%s: tensor \"%s\": %s: %d entries, at most %d supported", file,
                            name, key, cnt, max);
    for (int i = 0; i < cnt; i++) {
        char path[64];
        snprintf(path, sizeof path, "%s[%d]", key, i);
        if (sp_json_int(cJSON_GetArrayItem(a, i), path, 0, INT64_C(1) << 53, &vals[i], err))
            return sp_error_wrap(err, "%s: tensor \"%s\"", file, name);
    }
    *n = cnt;
    return 0;
}

/* Validates one header entry and fills t (name is set by the caller). */
static int st_parse_entry(const cJSON *e, const char *file, size_t data_len, sp_tensor *t,
                          sp_error *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return sp_error_set(err, "%s: tensor \"%s\": expected an object, got %s", file, name,
                            sp_json_type_name(e));
    int64_t off[2];
    int noff = 0;
    if (st_parse_dtype(e, file, name, &t->dtype, err) ||
        st_parse_ints(e, "shape", file, name, t->shape, SP_TENSOR_MAX_DIMS, &t->ndim, err) ||
        st_parse_ints(e, "data_offsets", file, name, off, 2, &noff, err))
        return -1;
    if (noff != 2)
        return sp_error_set(err, "%s: tensor \"%s\": data_offsets: expected [begin, end], got %d "
                                 "entries", file, name, noff);
    size_t nbytes = sp_dtype_size(t->dtype);
    for (int i = 0; i < t->ndim; i++)
        if (sp_mul_size(nbytes, (size_t)t->shape[i], &nbytes))
            return sp_error_set(err, "%s: tensor \"%s\": byte size of the shape overflows", file,
                                name);
    size_t b = (size_t)off[0], en = (size_t)off[1];
    if (b > en)
        return sp_error_set(err, "%s: tensor \"%s\": data_offsets [%zu, %zu]: begin after end",
                            file, name, b, en);
    if (en > data_len)
        return sp_error_set(err, "%s: tensor \"%s\": data_offsets [%zu, %zu] outside the data "
                                 "section (%zu bytes; file truncated?)", file, name, b, en,
                            data_len);
    if (en - b != nbytes)
        return sp_error_set(err, "%s: tensor \"%s\": data_offsets [%zu, %zu] hold %zu bytes but "
                                 "shape x %s needs %zu", file, name, b, en, en - b,
                            sp_dtype_name(t->dtype), nbytes);
    t->nbytes = nbytes;
    t->file_offset = b; /* relative for now; made absolute by the caller */
    return 0;
}

/* ---- one file -------------------------------------------------------------------------- */

static int st_cmp_offset(const void *a, const void *b)
{
    const sp_tensor *x = *(const sp_tensor *const *)a, *y = *(const sp_tensor *const *)b;
    if (x->file_offset != y->file_offset) return x->file_offset < y->file_offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* The tensors of one file must tile its data section: no overlap, no gap, no trailing bytes. */
static int st_check_tiling(sp_tensor *ts, int n, const sp_st_file *f, sp_error *err)
{
    sp_tensor **ord = sp_xmalloc(sizeof *ord * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) ord[i] = &ts[i];
    qsort(ord, (size_t)n, sizeof *ord, st_cmp_offset);
    size_t pos = f->data_start;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const sp_tensor *t = ord[i];
        if (t->file_offset < pos) { /* i > 0: the first starts at data_start or later */
            const sp_tensor *p = ord[i - 1];
            rc = sp_error_set(
                err, "%s: tensors \"%s\" data_offsets [%zu, %zu] and \"%s\" [%zu, %zu] overlap",
                f->path, p->name, p->file_offset - f->data_start,
                p->file_offset - f->data_start + p->nbytes, t->name,
                t->file_offset - f->data_start, t->file_offset - f->data_start + t->nbytes);
        } else if (t->file_offset > pos) {
            rc = sp_error_set(
                err, "%s: gap in the data section: bytes [%zu, %zu) belong to no tensor (next "
                     "tensor \"%s\" starts at %zu)", f->path, pos - f->data_start,
                t->file_offset - f->data_start, t->name, t->file_offset - f->data_start);
        }
        pos = t->file_offset + t->nbytes;
    }
    if (!rc && pos != f->size)
        rc = sp_error_set(err, "%s: data section has %zu bytes after the last tensor "
                                       "(ends at data offset %zu of %zu)", f->path, f->size - pos,
                                  pos - f->data_start, f->size - f->data_start);
    free(ord);
    return rc;
}

/* Opens, maps and checks the 8-byte header length of one file. */
static int st_map_file(const char *path, sp_st_file *f, uint64_t *hlen, sp_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = sp_xstrdup(path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block here */
    if (f->fd < 0) return sp_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f->fd, &sb) != 0) return sp_error_set(err, "%s: stat: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return sp_error_set(err, "%s: not a regular file", path);
    f->size = (size_t)sb.st_size;
    if (f->size < 8)
        return sp_error_set(err, "%s: file is %zu bytes, too small for the 8-byte header length",
                            path, f->size);
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return sp_error_set(err, "%s: mmap: %s", path, strerror(errno));
    }
    const unsigned char *p = f->map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | p[i]; /* little-endian u64 */
    if (n >= SP_ST_MAX_HEADER)
        return sp_error_set(err, "%s: header length %llu at byte 0 is too large (limit %u)", path,
                            (unsigned long long)n, SP_ST_MAX_HEADER);
    if (n > f->size - 8)
        return sp_error_set(err, "%s: header length %llu at byte 0 runs past the end of the file "
                                 "(%zu bytes)", path, (unsigned long long)n, f->size);
    *hlen = n;
    f->data_start = 8 + (size_t)n;
    return 0;
}

static int st_metadata(const cJSON *m, sp_st_file *f, sp_error *err)
{
    if (!cJSON_IsObject(m))
        return sp_error_set(err, "%s: __metadata__: expected an object, got %s", f->path,
                            sp_json_type_name(m));
    for (const cJSON *c = m->child; c; c = c->next)
        if (!cJSON_IsString(c))
            return sp_error_set(err, "%s: __metadata__.%s: expected a string, got %s", f->path,
                                c->string, sp_json_type_name(c));
    f->metadata_json = cJSON_PrintUnformatted(m);
    SP_ASSERT(f->metadata_json);
    return 0;
}

/* Parses the header of file `fi` of st and appends its tensors. */
static int st_read_header(sp_safetensors *st, int fi, uint64_t hlen, sp_error *err)
{
    sp_st_file *f = &st->files[fi];
    cJSON *root = NULL;
    if (sp_json_parse((const char *)f->map + 8, (size_t)hlen, f->path, &root, err)) return -1;
    int rc = -1, first = st->n_tensors, cnt = cJSON_GetArraySize(root);
    if (!cJSON_IsObject(root)) {
        sp_error_set(err, "%s: header: expected a JSON object, got %s", f->path,
                     sp_json_type_name(root));
        goto done;
    }
    st->tensors = sp_xrealloc(st->tensors, sizeof *st->tensors * (size_t)(first + cnt + 1));
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (f->metadata_json) {
                sp_error_set(err, "%s: duplicate key \"__metadata__\"", f->path);
                goto done;
            }
            if (st_metadata(e, f, err)) goto done;
            continue;
        }
        sp_tensor *t = &st->tensors[st->n_tensors];
        memset(t, 0, sizeof *t);
        if (st_parse_entry(e, f->path, f->size - f->data_start, t, err)) goto done;
        t->name = sp_xstrdup(e->string);
        t->file_index = fi;
        t->file_offset += f->data_start;
        t->data = (const char *)f->map + t->file_offset;
        st->n_tensors++;
    }
    rc = st_check_tiling(st->tensors + first, st->n_tensors - first, f, err);
done:
    cJSON_Delete(root);
    return rc;
}

static int st_add_file(sp_safetensors *st, const char *path, sp_error *err)
{
    st->files = sp_xrealloc(st->files, sizeof *st->files * (size_t)(st->n_files + 1));
    uint64_t hlen = 0;
    int fi = st->n_files++;
    if (st_map_file(path, &st->files[fi], &hlen, err)) return -1;
    return st_read_header(st, fi, hlen, err);
}

static int st_cmp_name(const void *a, const void *b)
{
    return strcmp(((const sp_tensor *)a)->name, ((const sp_tensor *)b)->name);
}

/* Sorts by name (for sp_st_find) and refuses duplicates, within a file or across shards. */
static int st_finish(sp_safetensors *st, sp_error *err)
{
    if (st->n_tensors > 1) qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors,
                                 st_cmp_name);
    for (int i = 1; i < st->n_tensors; i++) {
        const sp_tensor *a = &st->tensors[i - 1], *b = &st->tensors[i];
        if (strcmp(a->name, b->name) == 0)
            return sp_error_set(err, "duplicate tensor name \"%s\" (in %s at byte %zu and in %s "
                                     "at byte %zu)", a->name, st->files[a->file_index].path,
                                a->file_offset, st->files[b->file_index].path, b->file_offset);
    }
    return 0;
}

int sp_st_open_file(const char *path, sp_safetensors *st, sp_error *err)
{
    memset(st, 0, sizeof *st);
    if (st_add_file(st, path, err) || st_finish(st, err)) {
        sp_st_close(st);
        return -1;
    }
    return 0;
}

void sp_st_close(sp_safetensors *st)
{
    for (int i = 0; i < st->n_files; i++) {
        sp_st_file *f = &st->files[i];
        if (f->map) munmap(f->map, f->size);
        if (f->fd >= 0) close(f->fd);
        free(f->path);
        cJSON_free(f->metadata_json);
    }
    for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->files);
    free(st->tensors);
    memset(st, 0, sizeof *st);
}

const sp_tensor *sp_st_find(const sp_safetensors *st, const char *name)
{
    int lo = 0, hi = st->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->tensors[mid].name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

/* ---- directories and the shard index -------------------------------------------------- */

static int st_index_shards(const cJSON *wm, const char *ipath, const char ***names, int *n,
                           sp_error *err)
{
    int cap = 0;
    *names = NULL;
    *n = 0;
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return sp_error_set(err, "%s: weight_map.%s: expected a string, got %s", ipath,
                                e->string, sp_json_type_name(e));
        const char *s = e->valuestring;
        if (!s[0] || strchr(s, '/') || strcmp(s, "..") == 0 || strcmp(s, ".") == 0)
            return sp_error_set(err, "%s: weight_map.%s: \"%s\" is not a plain file name", ipath,
                                e->string, s);
        int seen = 0;
        for (int i = 0; i < *n && !seen; i++) seen = strcmp((*names)[i], s) == 0;
        if (seen) continue;
        if (*n == cap) *names = sp_xrealloc(*names, sizeof **names * (size_t)(cap = cap * 2 + 4));
        (*names)[(*n)++] = s;
    }
    return 0;
}

/* Every tensor the index lists must exist in the shard the index names. */
static int st_check_index(const sp_safetensors *st, const cJSON *wm, const char *dir,
                          const char *ipath, sp_error *err)
{
    char path[4096];
    for (const cJSON *e = wm->child; e; e = e->next) {
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        const sp_tensor *t = sp_st_find(st, e->string);
        if (!t)
            return sp_error_set(err, "%s: tensor \"%s\" is listed in shard %s but not found "
                                     "there", ipath, e->string, e->valuestring);
        if (strcmp(st->files[t->file_index].path, path) != 0)
            return sp_error_set(err, "%s: tensor \"%s\" is listed in shard %s but not found "
                                     "there (it is in %s)", ipath, e->string, e->valuestring,
                                st->files[t->file_index].path);
    }
    return 0;
}

static int st_open_index(const char *dir, const char *ipath, sp_safetensors *st, sp_error *err)
{
    cJSON *root = NULL;
    const char **shards = NULL;
    int nshards = 0, rc = -1;
    if (sp_json_parse_file(ipath, &root, err)) return -1;
    const cJSON *wm = sp_json_get(root, "weight_map");
    if (sp_json_check_object(root, "", NULL, err)) {
        sp_error_wrap(err, "%s", ipath);
        goto done;
    }
    if (!wm || sp_json_check_object(wm, "weight_map", NULL, err)) {
        if (!wm) sp_error_set(err, "weight_map: required key is missing");
        sp_error_wrap(err, "%s", ipath);
        goto done;
    }
    if (st_index_shards(wm, ipath, &shards, &nshards, err)) goto done;
    if (nshards == 0) {
        sp_error_set(err, "%s: weight_map is empty", ipath);
        goto done;
    }
    for (int i = 0; i < nshards; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, shards[i]);
        if (stat(path, &sb) != 0) {
            sp_error_set(err, "%s: names shard %s, which does not exist (%s)", ipath, shards[i],
                         strerror(errno));
            goto done;
        }
        if (st_add_file(st, path, err)) goto done;
    }
    rc = st_finish(st, err) || st_check_index(st, wm, dir, ipath, err) ? -1 : 0;
done:
    free(shards);
    cJSON_Delete(root);
    return rc;
}

int sp_st_open_dir(const char *dir, sp_safetensors *st, sp_error *err)
{
    char ipath[4096], single[4096];
    struct stat sb;
    memset(st, 0, sizeof *st);
    snprintf(ipath, sizeof ipath, "%s/model.safetensors.index.json", dir);
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    int rc;
    if (stat(ipath, &sb) == 0) rc = st_open_index(dir, ipath, st, err);
    else if (stat(single, &sb) == 0) rc = st_add_file(st, single, err) || st_finish(st, err);
    else
        return sp_error_set(err, "%s: no model.safetensors.index.json or model.safetensors", dir);
    if (rc) sp_st_close(st);
    return rc ? -1 : 0;
}

/* ---- conversions ----------------------------------------------------------------------- */

float sp_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float sp_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) { /* inf / nan: keep the payload */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) { /* normal: rebias 15 -> 127 */
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) { /* signed zero */
        bits = sign;
    } else { /* subnormal: normalise the mantissa */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t sp_f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u); /* quiet nan */
    bits += 0x7fffu + ((bits >> 16) & 1u); /* round to nearest, ties to even */
    return (uint16_t)(bits >> 16);
}

int sp_tensor_to_f32(const sp_tensor *t, float *dst, sp_error *err)
{
    size_t n = (size_t)sp_tensor_numel(t);
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case SP_DT_F32:
        memcpy(dst, src, n * sizeof(float));
        return 0;
    case SP_DT_BF16:
    case SP_DT_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2); /* data may be unaligned */
            dst[i] = t->dtype == SP_DT_BF16 ? sp_bf16_to_f32(h) : sp_f16_to_f32(h);
        }
        return 0;
    default:
        return sp_error_set(err, "tensor \"%s\": dtype %s cannot be converted to F32", t->name,
                            sp_dtype_name(t->dtype));
    }
}
