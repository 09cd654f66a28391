/* test_gguf.c — GGUF reader and dequantizers: a crafted file with every metadata type (nested
 * arrays, custom alignment) read back; each dequantizer on hand-packed blocks against the plain
 * formula; and bad inputs (magic, version, truncation, lengths and offsets past EOF, overlaps,
 * unknown type, n_dims, misalignment, block rules, duplicate keys) rejected with named errors. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "common/gguf.h"
#include "common/gguf_quant.h"
#include "gguf_craft.h"
#include "test_util.h"

static char tmpdir[] = "/tmp/sp_test_gguf_XXXXXX";

/* Plain binary16 decoding, written out from the IEEE definition. */
static double ref_f16(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1.0 + m / 1024.0, e - 15);
    return s ? -v : v;
}

static void test_dequant_simple(void)
{
    sp_error err = {{0}};
    float out[256];
    /* F16 and BF16. */
    uint16_t h[5] = {0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF};
    CHECK(sp_ggml_dequantize(SP_GGML_F16, h, 5, out, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 5; i++) CHECK(out[i] == (float)ref_f16(h[i]), "f16[%d] %g", i, out[i]);
    uint16_t b[3] = {0x3F80, 0xC040, 0x3E20};
    CHECK(sp_ggml_dequantize(SP_GGML_BF16, b, 3, out, &err) == 0, "%s", err.msg);
    CHECK(out[0] == 1.0f && out[1] == -3.0f && out[2] == 0.15625f, "bf16 %g %g %g", out[0],
          out[1], out[2]);
    /* Q8_0: d = 0.0999755859375 (0x2E66), q = j - 16. */
    uint8_t q8[34];
    memcpy(q8, &(uint16_t){0x2E66}, 2);
    for (int j = 0; j < 32; j++) q8[2 + j] = (uint8_t)(int8_t)(j * 7 - 110);
    CHECK(sp_ggml_dequantize(SP_GGML_Q8_0, q8, 32, out, &err) == 0, "%s", err.msg);
    for (int j = 0; j < 32; j++)
        CHECK(out[j] == (float)(ref_f16(0x2E66) * (j * 7 - 110)), "q8_0[%d] %g", j, out[j]);
    /* Q4_0 and Q4_1: element j holds nibble n(j) = (5j + 3) % 16, packed low nibble first. */
    uint8_t q40[18], q41[20];
    memcpy(q40, &(uint16_t){0xBD00}, 2);              /* d = -1.25 */
    memcpy(q41, &(uint16_t){0x2E66}, 2);              /* d */
    memcpy(q41 + 2, &(uint16_t){0xC000}, 2);          /* m = -2 */
    for (int j = 0; j < 16; j++) {
        uint8_t lo = (uint8_t)((5 * j + 3) % 16), hi = (uint8_t)((5 * (j + 16) + 3) % 16);
        q40[2 + j] = q41[4 + j] = (uint8_t)(lo | hi << 4);
    }
    CHECK(sp_ggml_dequantize(SP_GGML_Q4_0, q40, 32, out, &err) == 0, "%s", err.msg);
    for (int j = 0; j < 32; j++)
        CHECK(out[j] == (float)(-1.25 * (((5 * j + 3) % 16) - 8)), "q4_0[%d] %g", j, out[j]);
    CHECK(sp_ggml_dequantize(SP_GGML_Q4_1, q41, 32, out, &err) == 0, "%s", err.msg);
    for (int j = 0; j < 32; j++)
        CHECK(fabs(out[j] - (ref_f16(0x2E66) * ((5 * j + 3) % 16) - 2.0)) <= 1e-6, "q4_1[%d] %g",
              j, out[j]); /* d * n + m rounds once in fp32: 1e-6 absolute on |x| <= 2 */
}

/* Q6_K: pack known 6-bit quants q[e] and scales into the block layout, then compare with
 * d * sc[e / 16] * (q[e] - 32). */
static void test_dequant_q6k(void)
{
    sp_error err = {{0}};
    uint8_t blk[2][210];
    int q[2][256], sc[2][16];
    memset(blk, 0, sizeof blk);
    for (int b = 0; b < 2; b++) {
        for (int e = 0; e < 256; e++) q[b][e] = (e * 37 + 11 * b + 5) % 64;
        for (int s = 0; s < 16; s++) sc[b][s] = (s * 23 + b * 5) % 255 - 127;
        uint8_t *ql = blk[b], *qh = blk[b] + 128;
        for (int e = 0; e < 256; e++) {
            int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
            int li = 64 * half + l + 32 * (quarter & 1), shift = 4 * (quarter >> 1);
            ql[li] |= (uint8_t)((q[b][e] & 15) << shift);
            qh[32 * half + l] |= (uint8_t)((q[b][e] >> 4) << (2 * quarter));
        }
        for (int s = 0; s < 16; s++) blk[b][192 + s] = (uint8_t)(int8_t)sc[b][s];
        memcpy(blk[b] + 208, &(uint16_t){(uint16_t)(b ? 0x2C00 : 0x1A3D)}, 2);
    }
    float out[512];
    CHECK(sp_ggml_dequantize(SP_GGML_Q6_K, blk, 512, out, &err) == 0, "%s", err.msg);
    for (int b = 0; b < 2; b++) {
        double d = ref_f16(b ? 0x2C00 : 0x1A3D);
        for (int e = 0; e < 256; e++) {
            double want = d * sc[b][e / 16] * (q[b][e] - 32);
            CHECK(fabs(out[256 * b + e] - want) <= 1e-6 * fabs(want) + 1e-12,
                  "q6_K block %d elem %d: %g vs %g", b, e, out[256 * b + e], want);
        }
    }
    CHECK(sp_ggml_dequantize(SP_GGML_Q4_K, blk, 256, out, &err) != 0 &&
              strstr(err.msg, "not implemented"), "Q4_K refused: %s", err.msg);
    size_t nb = 0;
    CHECK(sp_ggml_nbytes(SP_GGML_Q6_K, 512, &nb, &err) == 0 && nb == 420, "nbytes %zu", nb);
    CHECK(sp_ggml_nbytes(SP_GGML_Q4_1, 33, &nb, &err) != 0, "33 elements of Q4_1");
}

/* A valid file: scalars of every type, nested arrays, alignment 64, three tensors. */
static void craft_valid(gc_file *f)
{
    memset(f, 0, sizeof *f);
    f->alignment = 64;
    gc_kv_u32(f, "general.alignment", 64);
    gc_kv_str(f, "general.architecture", "llama");
    gc_kv_f32(f, "x.f32", 0.5f);
    gc_kv_bool(f, "x.bool", 1);
    gc_key(f, "x.i8", 1); gc_put(&f->kv, &(int8_t){-5}, 1);
    gc_key(f, "x.u16", 2); gc_put(&f->kv, &(uint16_t){65535}, 2);
    gc_key(f, "x.i64", 11); gc_put(&f->kv, &(int64_t){-1234567890123LL}, 8);
    gc_key(f, "x.f64", 12); gc_put(&f->kv, &(double){2.25}, 8);
    const char *strs[] = {"a", "", "hello"};
    gc_kv_strs(f, "x.strs", strs, 3);
    /* array of 2 arrays of u32: [[1, 2], [3]] */
    gc_key(f, "x.nested", 9);
    gc_u32(&f->kv, 9);
    gc_u64(&f->kv, 2);
    gc_u32(&f->kv, 4); gc_u64(&f->kv, 2); gc_u32(&f->kv, 1); gc_u32(&f->kv, 2);
    gc_u32(&f->kv, 4); gc_u64(&f->kv, 1); gc_u32(&f->kv, 3);
    float a[6] = {1, 2, 3, 4, 5, 6};
    gc_tensor(f, "a", 2, (uint64_t[]){3, 2}, SP_GGML_F32, a, sizeof a);
    uint8_t q8[2 * 34] = {0};
    gc_tensor(f, "b", 2, (uint64_t[]){32, 2}, SP_GGML_Q8_0, q8, sizeof q8);
    gc_tensor(f, "c", 1, (uint64_t[]){4}, SP_GGML_F16, (uint16_t[]){0x3C00, 0, 0, 0}, 8);
}

static void test_valid(void)
{
    gc_file f;
    craft_valid(&f);
    size_t kv0, info0;
    gc_buf b = gc_build(&f, &kv0, &info0);
    char path[256];
    snprintf(path, sizeof path, "%s/ok.gguf", tmpdir);
    CHECK(gc_write(path, b.p, b.len) == 0, "write");
    sp_gguf g;
    sp_error err = {{0}};
    int rc = sp_gguf_open(path, &g, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc == 0) {
        int64_t iv = 0;
        double dv = 0;
        int bv = 0;
        const char *s;
        size_t n;
        CHECK(g.alignment == 64 && g.n_kv == 10 && g.n_tensors == 3, "counts");
        CHECK(sp_gguf_get_int(&g, "x.i8", 1, -10, 10, &iv, &err) == 1 && iv == -5, "i8");
        CHECK(sp_gguf_get_int(&g, "x.u16", 1, 0, 70000, &iv, &err) == 1 && iv == 65535, "u16");
        CHECK(sp_gguf_get_int(&g, "x.u16", 1, 0, 100, &iv, &err) == -1 &&
                  strstr(err.msg, "x.u16") && strstr(err.msg, "outside"), "range: %s", err.msg);
        CHECK(sp_gguf_get_int(&g, "x.i64", 1, INT64_MIN, 0, &iv, &err) == 1 &&
                  iv == -1234567890123LL, "i64");
        CHECK(sp_gguf_get_double(&g, "x.f32", 1, &dv, &err) == 1 && dv == 0.5, "f32");
        CHECK(sp_gguf_get_double(&g, "x.f64", 1, &dv, &err) == 1 && dv == 2.25, "f64");
        CHECK(sp_gguf_get_bool(&g, "x.bool", 1, &bv, &err) == 1 && bv == 1, "bool");
        CHECK(sp_gguf_get_str(&g, "general.architecture", 1, &s, &n, &err) == 1 && n == 5 &&
                  memcmp(s, "llama", 5) == 0, "str");
        CHECK(sp_gguf_get_str(&g, "x.f32", 1, &s, &n, &err) == -1 && strstr(err.msg, "x.f32"),
              "type mismatch: %s", err.msg);
        CHECK(sp_gguf_get_int(&g, "absent", 0, 0, 1, &iv, &err) == 0, "optional absent");
        CHECK(sp_gguf_get_int(&g, "absent", 1, 0, 1, &iv, &err) == -1 &&
                  strstr(err.msg, "\"absent\" is missing"), "required: %s", err.msg);
        const sp_gguf_value *arr = NULL;
        CHECK(sp_gguf_get_array(&g, "x.strs", 1, SP_GGUF_STRING, &arr, &err) == 1 &&
                  arr->v.arr.count == 3 && arr->v.arr.str_lens[1] == 0 &&
                  memcmp(arr->v.arr.strs[2], "hello", 5) == 0, "string array");
        CHECK(sp_gguf_get_array(&g, "x.nested", 1, SP_GGUF_ARRAY, &arr, &err) == 1 &&
                  arr->v.arr.count == 2 && arr->v.arr.items[0].v.arr.count == 2 &&
                  sp_gguf_array_int(&arr->v.arr.items[0], 1) == 2 &&
                  sp_gguf_array_int(&arr->v.arr.items[1], 0) == 3, "nested array");
        const sp_gguf_tensor *t = sp_gguf_find_tensor(&g, "a");
        CHECK(t && t->ne[0] == 3 && t->ne[1] == 2 && t->nbytes == 24 &&
                  ((const float *)t->data)[5] == 6.0f, "tensor a");
        t = sp_gguf_find_tensor(&g, "c");
        CHECK(t && t->offset % 64 == 0 && t->nbytes == 8 && (g.data_start % 64) == 0, "tensor c");
        sp_gguf_close(&g);
    }
    free(b.p);
    gc_free(&f);
}

/* Builds the valid file, lets `patch` damage it, and expects sp_gguf_open to fail with `want`. */
static void expect_bad(const char *what, void (*patch)(gc_buf *, size_t, size_t, gc_file *),
                       const char *want)
{
    gc_file f;
    craft_valid(&f);
    size_t kv0, info0;
    gc_buf b = gc_build(&f, &kv0, &info0);
    patch(&b, kv0, info0, &f);
    char path[256];
    snprintf(path, sizeof path, "%s/bad.gguf", tmpdir);
    CHECK(gc_write(path, b.p, b.len) == 0, "write");
    sp_gguf g;
    sp_error err = {{0}};
    int rc = sp_gguf_open(path, &g, &err);
    CHECK(rc != 0, "%s: accepted", what);
    if (rc == 0) sp_gguf_close(&g);
    CHECK(strstr(err.msg, want) && strstr(err.msg, "bad.gguf"), "%s: message \"%s\" lacks \"%s\"",
          what, err.msg, want);
    free(b.p);
    gc_free(&f);
}

static void p_magic(gc_buf *b, size_t k, size_t i, gc_file *f) { b->p[0] = 'X'; }
static void p_version(gc_buf *b, size_t k, size_t i, gc_file *f) { b->p[4] = 1; }
static void p_trunc(gc_buf *b, size_t k, size_t i, gc_file *f) { b->len = 20; }
static void p_keylen(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + k, &(uint64_t){1u << 30}, 8); /* first key's length */
}
static void p_trunc_kv(gc_buf *b, size_t k, size_t i, gc_file *f) { b->len = i - 3; }
static void p_counts(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + 16, &(uint64_t){UINT64_MAX / 2}, 8);
}
/* Tensor info field positions: "a" is the first tensor, "b" the second, "c" the third. */
static size_t tinfo(gc_file *f, int t, size_t i0) { return i0 + f->t_info_pos[t]; }
static void p_ndims(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + tinfo(f, 0, i) + 8 + 1, &(uint32_t){7}, 4);
}
static void p_type(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + i + f->t_off_pos[0] - 4, &(uint32_t){99}, 4);
}
static void p_off_eof(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + i + f->t_off_pos[2], &(uint64_t){64 * 1000}, 8);
}
static void p_overlap(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + i + f->t_off_pos[1], &(uint64_t){0}, 8); /* b onto a */
}
static void p_misalign(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + i + f->t_off_pos[2], &(uint64_t){130}, 8);
}
static void p_block(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + tinfo(f, 1, i) + 8 + 1 + 4, &(uint64_t){16}, 8); /* Q8_0 row of 16 */
}
static void p_dupkey(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    /* "x.u16" becomes a second "x.f64" (same length, so the layout is unchanged) */
    uint8_t *p = memmem(b->p + k, b->len - k, "x.u16", 5);
    if (p) memcpy(p, "x.f64", 5);
}
static void p_zero_dim(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    memcpy(b->p + tinfo(f, 0, i) + 8 + 1 + 4, &(uint64_t){0}, 8);
}
static void p_bool(gc_buf *b, size_t k, size_t i, gc_file *f)
{
    uint8_t *p = memmem(b->p + k, b->len - k, "x.bool", 6);
    if (p) p[6 + 4] = 2;
}

static void test_bad(void)
{
    expect_bad("bad magic", p_magic, "bad magic");
    expect_bad("version 1", p_version, "version 1");
    expect_bad("truncated header", p_trunc, "truncated header");
    expect_bad("key length past EOF", p_keylen, "runs past the end of the file");
    expect_bad("truncated metadata", p_trunc_kv, "metadata key \"x.nested\"");
    expect_bad("absurd counts", p_counts, "cannot fit");
    expect_bad("n_dims 7", p_ndims, "n_dims 7");
    expect_bad("unknown tensor type", p_type, "unknown or unsupported tensor type 99");
    expect_bad("tensor offset past EOF", p_off_eof, "runs past the end of the file");
    expect_bad("overlapping tensors", p_overlap, "overlap");
    expect_bad("misaligned offset", p_misalign, "not a multiple of the alignment");
    expect_bad("block rule", p_block, "not a multiple of the Q8_0 block size");
    expect_bad("duplicate key", p_dupkey, "appears twice");
    expect_bad("zero dimension", p_zero_dim, "ne[0] = 0");
    expect_bad("bool value 2", p_bool, "bool");
    char path[256];
    snprintf(path, sizeof path, "%s/empty.gguf", tmpdir);
    gc_write(path, "", 0);
    sp_gguf g;
    sp_error err = {{0}};
    CHECK(sp_gguf_open(path, &g, &err) != 0 && strstr(err.msg, "truncated header"), "empty: %s",
          err.msg);
    snprintf(path, sizeof path, "%s/absent.gguf", tmpdir);
    CHECK(sp_gguf_open(path, &g, &err) != 0 && strstr(err.msg, "absent.gguf"), "absent: %s",
          err.msg);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return sp_test_skip("test_gguf", "cannot create a temp dir");
    test_dequant_simple();
    test_dequant_q6k();
    test_valid();
    test_bad();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return sp_test_finish("test_gguf");
}
