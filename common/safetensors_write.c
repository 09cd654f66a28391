/* safetensors_write.c — streaming safetensors writer: the JSON header is built by hand (exact
 * integer offsets at any size, no float formatting), padded with spaces so the data section
 * starts 8-byte aligned, then payloads are appended in declaration order with a byte count per
 * tensor so a short or long write is caught at the tensor that caused it. */
#include "safetensors_write.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *s;
    size_t len, cap;
} stw_buf;

static void stw_put(stw_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) {
            SP_ASSERT(cap <= SIZE_MAX / 2);
            cap *= 2;
        }
        b->s = sp_xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void stw_puts(stw_buf *b, const char *s)
{
    stw_put(b, s, strlen(s));
}

/* A JSON string literal: quotes, backslashes and control bytes escaped; UTF-8 passed through. */
static void stw_put_json_str(stw_buf *b, const char *s)
{
    stw_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            stw_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            stw_puts(b, esc);
        } else {
            stw_put(b, (const char *)p, 1);
        }
    }
    stw_puts(b, "\"");
}

static int stw_check(const sp_stw_tensor *t, int i, const char *path, size_t *nbytes,
                     sp_error *err)
{
    if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0)
        return sp_error_set(err, "%s: tensor %d: empty or reserved name", path, i);
    if (t->dtype != SP_DT_F32 && t->dtype != SP_DT_F16 && t->dtype != SP_DT_BF16)
        return sp_error_set(err, "%s: tensor \"%s\": dtype %s is not supported by the writer "
                                 "(F32, F16, BF16)", path, t->name, sp_dtype_name(t->dtype));
    if (t->ndim < 1 || t->ndim > SP_TENSOR_MAX_DIMS)
        return sp_error_set(err, "%s: tensor \"%s\": ndim %d outside 1..%d", path, t->name,
                            t->ndim, SP_TENSOR_MAX_DIMS);
    size_t n = sp_dtype_size(t->dtype);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0 || (uint64_t)t->shape[d] > SIZE_MAX ||
            sp_mul_size(n, (size_t)t->shape[d], &n))
            return sp_error_set(err, "%s: tensor \"%s\": bad or overflowing shape[%d] = %lld",
                                path, t->name, d, (long long)t->shape[d]);
    *nbytes = n;
    return 0;
}

/* Builds the header JSON (without padding) and fills w->names / w->nbytes. */
static int stw_header(sp_st_writer *w, const sp_stw_tensor *ts, int n, const char *const *meta,
                      stw_buf *b, sp_error *err)
{
    stw_puts(b, "{");
    if (meta && meta[0]) {
        stw_puts(b, "\"__metadata__\":{");
        for (int i = 0; meta[i]; i += 2) {
            SP_ASSERT_MSG(meta[i + 1], "metadata key %s without a value", meta[i]);
            if (i) stw_puts(b, ",");
            stw_put_json_str(b, meta[i]);
            stw_puts(b, ":");
            stw_put_json_str(b, meta[i + 1]);
        }
        stw_puts(b, "}");
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const sp_stw_tensor *t = &ts[i];
        if (stw_check(t, i, w->path, &w->nbytes[i], err)) return -1;
        for (int j = 0; j < i; j++)
            if (strcmp(ts[j].name, t->name) == 0)
                return sp_error_set(err, "%s: tensor \"%s\" declared twice", w->path, t->name);
        w->names[i] = sp_xstrdup(t->name);
        char num[64];
        if (b->len > 1) stw_puts(b, ",");
        stw_put_json_str(b, t->name);
        stw_puts(b, ":{\"dtype\":\"");
        stw_puts(b, sp_dtype_name(t->dtype));
        stw_puts(b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", t->shape[d]);
            stw_puts(b, num);
        }
        size_t end;
        if (sp_add_size(off, w->nbytes[i], &end))
            return sp_error_set(err, "%s: total payload size overflows", w->path);
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, end);
        stw_puts(b, num);
        off = end;
    }
    stw_puts(b, "}");
    return 0;
}

int sp_st_writer_open(sp_st_writer *w, const char *path, const sp_stw_tensor *tensors, int n,
                      const char *const *meta, sp_error *err)
{
    memset(w, 0, sizeof *w);
    SP_ASSERT(n >= 0);
    w->path = sp_xstrdup(path);
    w->n_tensors = n;
    w->names = sp_xcalloc(n ? (size_t)n : 1, sizeof *w->names);
    w->nbytes = sp_xcalloc(n ? (size_t)n : 1, sizeof *w->nbytes);
    stw_buf b = {0};
    if (stw_header(w, tensors, n, meta, &b, err)) goto fail;
    while ((8 + b.len) % 8 != 0) stw_puts(&b, " ");
    w->f = fopen(path, "wb");
    if (!w->f) {
        sp_error_set(err, "%s: cannot create file", path);
        goto fail;
    }
    uint64_t hlen = b.len; /* little-endian host (x86-64, aarch64) */
    if (fwrite(&hlen, 8, 1, w->f) != 1 || fwrite(b.s, 1, b.len, w->f) != b.len) {
        sp_error_set(err, "%s: write error in the header", path);
        goto fail;
    }
    free(b.s);
    return 0;
fail:
    free(b.s);
    sp_st_writer_abort(w);
    return -1;
}

int sp_st_writer_write(sp_st_writer *w, const void *data, size_t len, sp_error *err)
{
    while (w->cur < w->n_tensors && w->cur_done == w->nbytes[w->cur]) {
        w->cur++;
        w->cur_done = 0;
    }
    if (len == 0) return 0;
    if (w->cur >= w->n_tensors)
        return sp_error_set(err, "%s: %zu bytes written past the last tensor", w->path, len);
    if (len > w->nbytes[w->cur] - w->cur_done)
        return sp_error_set(err, "%s: tensor \"%s\": chunk of %zu bytes exceeds the %zu bytes left",
                            w->path, w->names[w->cur], len, w->nbytes[w->cur] - w->cur_done);
    if (fwrite(data, 1, len, w->f) != len)
        return sp_error_set(err, "%s: tensor \"%s\": write error (disk full?)", w->path,
                            w->names[w->cur]);
    w->cur_done += len;
    return 0;
}

static void stw_free(sp_st_writer *w)
{
    for (int i = 0; w->names && i < w->n_tensors; i++) free(w->names[i]);
    free(w->names);
    free(w->nbytes);
    free(w->path);
    memset(w, 0, sizeof *w);
}

int sp_st_writer_close(sp_st_writer *w, sp_error *err)
{
    while (w->cur < w->n_tensors && w->cur_done == w->nbytes[w->cur]) {
        w->cur++;
        w->cur_done = 0;
    }
    if (w->cur < w->n_tensors) {
        sp_error_set(err, "%s: tensor \"%s\": only %zu of %zu bytes were written", w->path,
                     w->names[w->cur], w->cur_done, w->nbytes[w->cur]);
        sp_st_writer_abort(w);
        return -1;
    }
    int bad = fflush(w->f) != 0 || fsync(fileno(w->f)) != 0;
    bad |= fclose(w->f) != 0;
    w->f = NULL;
    if (bad) {
        sp_error_set(err, "%s: error flushing the file (disk full?)", w->path);
        unlink(w->path);
        stw_free(w);
        return -1;
    }
    stw_free(w);
    return 0;
}

void sp_st_writer_abort(sp_st_writer *w)
{
    if (w->f) {
        fclose(w->f);
        unlink(w->path);
    }
    stw_free(w);
}
