/* test_safetensors.c — crafted safetensors files in a temporary directory: one good round trip
 * (single file and sharded), then one file per violation of the format, each checked for the
 * specific message (file, tensor, offsets). Also the bf16/f16/f32 scalar conversions. */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "common/safetensors.h"
#include "test_util.h"

static char tmpdir[] = "/tmp/sp_test_st_XXXXXX";

/* Writes DIR/name: 8-byte LE header length `hlen` (the real length when hlen == UINT64_MAX),
 * the header text, then `ndata` bytes of data (data[i] when given, else i & 0xff). */
static const char *write_raw(const char *name, uint64_t hlen, const char *header,
                             const void *data, size_t ndata)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return path;
    if (hlen == UINT64_MAX) hlen = strlen(header);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < ndata; i++) {
        unsigned char b = data ? ((const unsigned char *)data)[i] : (unsigned char)(i & 0xff);
        fputc(b, f);
    }
    fclose(f);
    return path;
}

/* Opening `name` must fail with a message holding the path and the `want` strings. */
static void expect_fail(const char *name, const char *want1, const char *want2)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    sp_safetensors st;
    sp_error err = {{0}};
    int rc = sp_st_open_file(path, &st, &err);
    CHECK(rc == -1, "%s should be refused", name);
    CHECK(strstr(err.msg, path) != NULL, "%s: message lacks the path: %s", name, err.msg);
    CHECK(strstr(err.msg, want1) != NULL, "%s: message lacks \"%s\": %s", name, want1, err.msg);
    if (want2)
        CHECK(strstr(err.msg, want2) != NULL, "%s: message lacks \"%s\": %s", name, want2,
              err.msg);
    CHECK(st.n_tensors == 0 && st.files == NULL, "%s: struct reset after failure", name);
}

static void test_good_file(void)
{
    /* w: BF16 [2, 3] = 1, -2, 0.5, 3, 0, -0.25; b: F32 [2] = 7, -1. */
    uint16_t w[6] = {0x3f80, 0xc000, 0x3f00, 0x4040, 0x0000, 0xbe80};
    float b[2] = {7.0f, -1.0f};
    unsigned char data[20];
    memcpy(data, w, 12);
    memcpy(data + 12, b, 8);
    const char *hdr = "{\"__metadata__\": {\"format\": \"pt\"}, "
                      "\"w\": {\"dtype\": \"BF16\", \"shape\": [2, 3], \"data_offsets\": [0, 12]}, "
                      "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [12, 20]}, "
                      "\"e\": {\"dtype\": \"I8\", \"shape\": [0, 5], \"data_offsets\": [20, 20]}} ";
    const char *path = write_raw("good.safetensors", UINT64_MAX, hdr, data, sizeof data);
    sp_safetensors st;
    sp_error err = {{0}};
    CHECK(sp_st_open_file(path, &st, &err) == 0, "good file: %s", err.msg);
    if (st.n_tensors != 3) return;
    const sp_tensor *tw = sp_st_find(&st, "w"), *tb = sp_st_find(&st, "b");
    CHECK(tw && tb && sp_st_find(&st, "e") && !sp_st_find(&st, "x"), "find");
    CHECK(st.files[0].metadata_json && strstr(st.files[0].metadata_json, "\"pt\""), "metadata");
    if (tw && tb) {
        CHECK(tw->dtype == SP_DT_BF16 && tw->ndim == 2 && tw->shape[1] == 3 && tw->nbytes == 12,
              "w header");
        CHECK(sp_tensor_numel(tw) == 6 && tb->file_offset == 8 + strlen(hdr) + 12, "numel/offset");
        float f[6];
        CHECK(sp_tensor_to_f32(tw, f, &err) == 0, "%s", err.msg);
        CHECK(f[0] == 1.0f && f[1] == -2.0f && f[2] == 0.5f && f[3] == 3.0f && f[5] == -0.25f,
              "bf16 values %g %g %g", f[0], f[1], f[2]);
        CHECK(sp_tensor_to_f32(tb, f, &err) == 0 && f[0] == 7.0f && f[1] == -1.0f, "f32 values");
        CHECK(sp_tensor_to_f32(sp_st_find(&st, "e"), f, &err) == -1 && strstr(err.msg, "I8"),
              "I8 conversion refused: %s", err.msg);
    }
    sp_st_close(&st);
}

static void test_bad_files(void)
{
    char big[64];
    FILE *f = fopen(write_raw("tiny.safetensors", 0, "", NULL, 0), "wb");
    if (f) {
        fwrite("\x05\0\0\0\0", 1, 5, f); /* 5 bytes: not even a header length */
        fclose(f);
    }
    expect_fail("tiny.safetensors", "5 bytes", "too small");
    write_raw("pasteof.safetensors", 1000, "{}", NULL, 10);
    expect_fail("pasteof.safetensors", "header length 1000", "past the end");
    write_raw("huge.safetensors", 200000000, "{}", NULL, 10);
    expect_fail("huge.safetensors", "header length 200000000", "too large");
    write_raw("notjson.safetensors", UINT64_MAX, "not json!", NULL, 0);
    expect_fail("notjson.safetensors", "invalid JSON at byte 0", NULL);
    write_raw("array.safetensors", UINT64_MAX, "[1, 2]", NULL, 0);
    expect_fail("array.safetensors", "expected a JSON object", NULL);
    write_raw("trunc.safetensors", UINT64_MAX,
              "{\"t\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]}}", NULL, 10);
    expect_fail("trunc.safetensors", "\"t\"", "[0, 24] outside the data section (10 bytes");
    write_raw("beyond.safetensors", UINT64_MAX,
              "{\"t\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [12, 16]}}", NULL, 8);
    expect_fail("beyond.safetensors", "\"t\"", "[12, 16] outside");
    write_raw("reversed.safetensors", UINT64_MAX,
              "{\"t\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [4, 0]}}", NULL, 8);
    expect_fail("reversed.safetensors", "\"t\"", "[4, 0]: begin after end");
    write_raw("overlap.safetensors", UINT64_MAX,
              "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
              " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", NULL, 12);
    expect_fail("overlap.safetensors", "\"a\" data_offsets [0, 8] and \"b\" [4, 12] overlap", NULL);
    write_raw("gap.safetensors", UINT64_MAX,
              "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
              " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}", NULL, 12);
    expect_fail("gap.safetensors", "gap", "[4, 8)");
    write_raw("trailing.safetensors", UINT64_MAX,
              "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", NULL, 9);
    expect_fail("trailing.safetensors", "5 bytes after the last tensor", NULL);
    write_raw("size.safetensors", UINT64_MAX,
              "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", NULL, 8);
    expect_fail("size.safetensors", "\"w\"", "[0, 8] hold 8 bytes but shape x F32 needs 12");
    write_raw("dtype.safetensors", UINT64_MAX,
              "{\"w\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 1]}}", NULL, 1);
    expect_fail("dtype.safetensors", "\"w\"", "unknown dtype \"Q4\"");
    write_raw("negshape.safetensors", UINT64_MAX,
              "{\"w\": {\"dtype\": \"U8\", \"shape\": [-1], \"data_offsets\": [0, 0]}}", NULL, 0);
    expect_fail("negshape.safetensors", "\"w\"", "shape[0]");
    snprintf(big, sizeof big, "[%llu, %llu]", 1ULL << 40, 1ULL << 40);
    char hdr[256];
    snprintf(hdr, sizeof hdr,
             "{\"w\": {\"dtype\": \"F64\", \"shape\": %s, \"data_offsets\": [0, 0]}}", big);
    write_raw("overflow.safetensors", UINT64_MAX, hdr, NULL, 0);
    expect_fail("overflow.safetensors", "\"w\"", "overflows");
    write_raw("dup.safetensors", UINT64_MAX,
              "{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
              " \"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}", NULL, 2);
    expect_fail("dup.safetensors", "duplicate tensor name \"a\"", NULL);
    write_raw("meta.safetensors", UINT64_MAX, "{\"__metadata__\": {\"format\": 1}}", NULL, 0);
    expect_fail("meta.safetensors", "__metadata__.format", "expected a string");
}

/* Two shards: s1 holds a, b; s2 holds c. */
static void write_shards(void)
{
    write_raw("s1.safetensors", UINT64_MAX,
              "{\"a\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [0, 4]},"
              " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", NULL, 8);
    write_raw("s2.safetensors", UINT64_MAX,
              "{\"c\": {\"dtype\": \"BF16\", \"shape\": [1, 1], \"data_offsets\": [0, 2]}}",
              NULL, 2);
}

/* Writes DIR/sub/model.safetensors.index.json with symlinks to the shards; returns the dir. */
static const char *write_index(const char *sub, const char *weight_map)
{
    static char dir[512];
    char path[700], target[700];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    mkdir(dir, 0700);
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof path, "%s/s%d.safetensors", dir, i);
        snprintf(target, sizeof target, "%s/s%d.safetensors", tmpdir, i);
        if (symlink(target, path) != 0) return dir;
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "{\"metadata\": {\"total_size\": 10}, \"weight_map\": %s}", weight_map);
        fclose(f);
    }
    return dir;
}

static void expect_dir_fail(const char *dir, const char *want1, const char *want2)
{
    sp_safetensors st;
    sp_error err = {{0}};
    CHECK(sp_st_open_dir(dir, &st, &err) == -1, "%s should be refused", dir);
    CHECK(strstr(err.msg, want1) != NULL, "%s: message lacks \"%s\": %s", dir, want1, err.msg);
    if (want2)
        CHECK(strstr(err.msg, want2) != NULL, "%s: message lacks \"%s\": %s", dir, want2, err.msg);
}

static void test_sharded(void)
{
    write_shards();
    const char *dir = write_index("good", "{\"a\": \"s1.safetensors\", \"b\": \"s1.safetensors\","
                                          " \"c\": \"s2.safetensors\"}");
    sp_safetensors st;
    sp_error err = {{0}};
    CHECK(sp_st_open_dir(dir, &st, &err) == 0, "sharded: %s", err.msg);
    CHECK(st.n_files == 2 && st.n_tensors == 3, "each shard opened once: %d files", st.n_files);
    const sp_tensor *c = sp_st_find(&st, "c"), *a = sp_st_find(&st, "a");
    CHECK(c && c->file_index == 1 && a && a->file_index == 0, "tensors map to their shard");
    if (a) {
        float f[2];
        CHECK(sp_tensor_to_f32(a, f, &err) == 0 && f[0] == sp_f16_to_f32(0x0100), "f16 data");
    }
    sp_st_close(&st);

    dir = write_index("missing", "{\"a\": \"s1.safetensors\", \"z\": \"s9.safetensors\"}");
    expect_dir_fail(dir, "names shard s9.safetensors, which does not exist", NULL);
    dir = write_index("wrongshard", "{\"a\": \"s2.safetensors\", \"c\": \"s2.safetensors\"}");
    expect_dir_fail(dir, "tensor \"a\" is listed in shard s2.safetensors but not found there",
                    NULL);
    dir = write_index("othershard", "{\"a\": \"s2.safetensors\", \"b\": \"s1.safetensors\","
                                    " \"c\": \"s2.safetensors\"}");
    expect_dir_fail(dir, "tensor \"a\" is listed in shard s2.safetensors but not found there",
                    "(it is in");
    dir = write_index("absent", "{\"a\": \"s1.safetensors\", \"q\": \"s1.safetensors\"}");
    expect_dir_fail(dir, "tensor \"q\" is listed in shard s1.safetensors", NULL);
    dir = write_index("escape", "{\"a\": \"../s1.safetensors\"}");
    expect_dir_fail(dir, "not a plain file name", NULL);
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    mkdir(empty, 0700);
    expect_dir_fail(empty, "no model.safetensors.index.json or model.safetensors", NULL);
}

/* Cross-shard duplicates: a shard copied under a second name. */
static void test_cross_shard_duplicate(void)
{
    char path[700], target[700];
    const char *dir = write_index("dup2", "{\"a\": \"s1.safetensors\", \"c\": \"s2.safetensors\","
                                          " \"b\": \"s1b.safetensors\"}");
    snprintf(path, sizeof path, "%s/s1b.safetensors", dir);
    snprintf(target, sizeof target, "%s/s1.safetensors", tmpdir);
    CHECK(symlink(target, path) == 0, "symlink");
    expect_dir_fail(dir, "duplicate tensor name \"a\"", "s1b.safetensors");
}

static void test_conversions(void)
{
    CHECK(sp_f16_to_f32(0x3c00) == 1.0f && sp_f16_to_f32(0xc000) == -2.0f, "f16 normal");
    CHECK(sp_f16_to_f32(0x7bff) == 65504.0f, "f16 max");
    CHECK(sp_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "f16 smallest subnormal");
    CHECK(sp_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24), "f16 largest subnormal");
    CHECK(sp_f16_to_f32(0x0400) == ldexpf(1.0f, -14), "f16 smallest normal");
    CHECK(isinf(sp_f16_to_f32(0x7c00)) && sp_f16_to_f32(0xfc00) < 0, "f16 inf");
    CHECK(isnan(sp_f16_to_f32(0x7e00)), "f16 nan");
    CHECK(sp_f16_to_f32(0x8000) == 0.0f && signbit(sp_f16_to_f32(0x8000)), "f16 -0");
    CHECK(sp_bf16_to_f32(0x3f80) == 1.0f && sp_bf16_to_f32(0xc2f7) == -123.5f, "bf16");
    /* bf16 keeps 7 mantissa bits: 1 + 2^-8 is exactly half an ulp above 1. */
    CHECK(sp_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80, "tie rounds to even (down)");
    CHECK(sp_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)) == 0x3f82, "tie rounds to even (up)");
    CHECK(sp_f32_to_bf16(1.0f + ldexpf(1.0f, -8) + ldexpf(1.0f, -20)) == 0x3f81, "above tie");
    CHECK(sp_f32_to_bf16(3.4e38f) == 0x7f80, "overflow rounds to inf");
    CHECK(isnan(sp_bf16_to_f32(sp_f32_to_bf16(NAN))), "nan stays nan");
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = sp_bf16_to_f32((uint16_t)h);
        if (!isnan(f) && sp_f32_to_bf16(f) != h) bad++;
    }
    CHECK(bad == 0, "%d bf16 values do not round-trip", bad);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return sp_test_skip("test_safetensors", "mkdtemp failed");
    test_good_file();
    test_bad_files();
    test_sharded();
    test_cross_shard_duplicate();
    test_conversions();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "test_safetensors: could not remove %s\n", tmpdir);
    return sp_test_finish("test_safetensors");
}
