/* gguf_craft.h — a tiny GGUF writer for tests (independent of common/gguf.c): metadata of any
 * type, tensor infos and data laid out at the alignment, the whole file built in memory so bad
 * inputs can be made by patching bytes at recorded offsets. Little-endian hosts only. */
#ifndef SP_GGUF_CRAFT_H
#define SP_GGUF_CRAFT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t len, cap;
} gc_buf;

static inline void gc_put(gc_buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static inline void gc_u32(gc_buf *b, uint32_t v) { gc_put(b, &v, 4); }
static inline void gc_u64(gc_buf *b, uint64_t v) { gc_put(b, &v, 8); }
static inline void gc_str(gc_buf *b, const char *s)
{
    gc_u64(b, strlen(s));
    gc_put(b, s, strlen(s));
}

#define GC_MAX_T 64
typedef struct {
    gc_buf kv;        /* encoded KV pairs */
    uint64_t n_kv;
    gc_buf info;      /* encoded tensor infos, offsets filled by gc_build */
    int n_t;
    size_t t_off_pos[GC_MAX_T]; /* position of each tensor's offset field inside `info` */
    size_t t_info_pos[GC_MAX_T];
    gc_buf data[GC_MAX_T];
    uint32_t alignment;
} gc_file;

static inline void gc_key(gc_file *f, const char *key, uint32_t type)
{
    gc_str(&f->kv, key);
    gc_u32(&f->kv, type);
    f->n_kv++;
}
static inline void gc_kv_u32(gc_file *f, const char *k, uint32_t v) { gc_key(f, k, 4); gc_u32(&f->kv, v); }
static inline void gc_kv_f32(gc_file *f, const char *k, float v) { gc_key(f, k, 6); gc_put(&f->kv, &v, 4); }
static inline void gc_kv_bool(gc_file *f, const char *k, int v)
{
    uint8_t b = (uint8_t)v;
    gc_key(f, k, 7);
    gc_put(&f->kv, &b, 1);
}
static inline void gc_kv_str(gc_file *f, const char *k, const char *v) { gc_key(f, k, 8); gc_str(&f->kv, v); }
static inline void gc_kv_strs(gc_file *f, const char *k, const char *const *v, int n)
{
    gc_key(f, k, 9);
    gc_u32(&f->kv, 8);
    gc_u64(&f->kv, (uint64_t)n);
    for (int i = 0; i < n; i++) gc_str(&f->kv, v[i]);
}
static inline void gc_kv_i32s(gc_file *f, const char *k, const int32_t *v, int n)
{
    gc_key(f, k, 9);
    gc_u32(&f->kv, 5);
    gc_u64(&f->kv, (uint64_t)n);
    gc_put(&f->kv, v, 4 * (size_t)n);
}

/* Adds a tensor: ne[0] fastest; bytes copied. */
static inline void gc_tensor(gc_file *f, const char *name, int nd, const uint64_t *ne, uint32_t type,
                      const void *bytes, size_t nbytes)
{
    int i = f->n_t++;
    if (i >= GC_MAX_T) abort();
    f->t_info_pos[i] = f->info.len;
    gc_str(&f->info, name);
    gc_u32(&f->info, (uint32_t)nd);
    for (int d = 0; d < nd; d++) gc_u64(&f->info, ne[d]);
    gc_u32(&f->info, type);
    f->t_off_pos[i] = f->info.len;
    gc_u64(&f->info, 0);
    memset(&f->data[i], 0, sizeof f->data[i]);
    gc_put(&f->data[i], bytes, nbytes);
}

/* Lays out the file: header, KV, infos (offsets filled), padding, data. *info_start receives the
 * file offset of the first tensor info, *kv_start that of the first KV pair. */
static inline gc_buf gc_build(gc_file *f, size_t *kv_start, size_t *info_start)
{
    gc_buf out = {0};
    uint32_t al = f->alignment ? f->alignment : 32;
    gc_put(&out, "GGUF", 4);
    gc_u32(&out, 3);
    gc_u64(&out, (uint64_t)f->n_t);
    gc_u64(&out, f->n_kv);
    if (kv_start) *kv_start = out.len;
    if (f->kv.len) gc_put(&out, f->kv.p, f->kv.len);
    size_t off = 0;
    for (int i = 0; i < f->n_t; i++) {
        memcpy(f->info.p + f->t_off_pos[i], &(uint64_t){off}, 8);
        off += f->data[i].len;
        off = (off + al - 1) / al * al;
    }
    if (info_start) *info_start = out.len;
    if (f->info.len) gc_put(&out, f->info.p, f->info.len);
    while (out.len % al) gc_put(&out, "", 1);
    size_t base = out.len;
    for (int i = 0; i < f->n_t; i++) {
        if (f->data[i].len) gc_put(&out, f->data[i].p, f->data[i].len);
        while ((out.len - base) % al) gc_put(&out, "", 1);
    }
    return out;
}

static inline void gc_free(gc_file *f)
{
    free(f->kv.p);
    free(f->info.p);
    for (int i = 0; i < f->n_t; i++) free(f->data[i].p);
    memset(f, 0, sizeof *f);
}

static inline int gc_write(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int ok = fwrite(p, 1, n, fp) == n;
    return (fclose(fp) == 0 && ok) ? 0 : -1;
}

#endif
