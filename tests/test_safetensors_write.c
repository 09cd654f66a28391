/* test_safetensors_write.c — the streaming safetensors writer: F32/F16/BF16 tensors written in
 * odd-sized chunks read back bit-exactly by the project's reader, __metadata__ kept and escaped,
 * data section 8-byte aligned; misuse (too many or too few bytes, duplicate names, unsupported
 * dtypes) fails with a message naming the tensor and leaves no file behind. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safetensors.h"
#include "common/safetensors_write.h"
#include "test_util.h"

static char tmpdir[] = "/tmp/sp_test_stw_XXXXXX";

static const sp_stw_tensor specs[] = {
    {"a.weight", SP_DT_F32, 2, {3, 5}},
    {"b \"quoted\"", SP_DT_F16, 1, {7}},
    {"c", SP_DT_BF16, 3, {2, 1, 3}},
};

static void test_roundtrip(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/x.safetensors", tmpdir);
    float a[15];
    uint16_t b[7], c[6];
    for (int i = 0; i < 15; i++) a[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 7; i++) b[i] = (uint16_t)(0x3C00 + i);  /* f16 1.0, 1.000977, ... */
    for (int i = 0; i < 6; i++) c[i] = (uint16_t)(0xBF80 - i);  /* bf16 -1.0, ... */
    const char *meta[] = {"format", "pt", "note", "line\nbreak \"q\"", NULL};
    sp_st_writer w;
    sp_error err = {{0}};
    CHECK(sp_st_writer_open(&w, path, specs, 3, meta, &err) == 0, "%s", err.msg);
    /* a in chunks of 7, 13, 40 bytes; b in one; c in 5 + 7 */
    const uint8_t *pa = (const uint8_t *)a;
    CHECK(sp_st_writer_write(&w, pa, 7, &err) == 0 && sp_st_writer_write(&w, pa + 7, 13, &err) == 0 &&
              sp_st_writer_write(&w, pa + 20, 40, &err) == 0, "a: %s", err.msg);
    CHECK(sp_st_writer_write(&w, b, sizeof b, &err) == 0, "b: %s", err.msg);
    CHECK(sp_st_writer_write(&w, c, 5, &err) == 0 &&
              sp_st_writer_write(&w, (const uint8_t *)c + 5, 7, &err) == 0, "c: %s", err.msg);
    CHECK(sp_st_writer_write(&w, c, 1, &err) != 0 && strstr(err.msg, "past the last tensor"),
          "extra byte: %s", err.msg);
    CHECK(sp_st_writer_close(&w, &err) == 0, "%s", err.msg);
    sp_safetensors st;
    int rc = sp_st_open_file(path, &st, &err);
    CHECK(rc == 0, "reader: %s", err.msg);
    if (rc) return;
    CHECK(st.files[0].data_start % 8 == 0, "data start %zu", st.files[0].data_start);
    CHECK(st.files[0].metadata_json && strstr(st.files[0].metadata_json, "\"format\":\"pt\"") &&
              strstr(st.files[0].metadata_json, "line\\nbreak \\\"q\\\""), "metadata %s",
          st.files[0].metadata_json ? st.files[0].metadata_json : "(none)");
    const sp_tensor *ta = sp_st_find(&st, "a.weight"), *tb = sp_st_find(&st, "b \"quoted\""),
                    *tc = sp_st_find(&st, "c");
    CHECK(ta && ta->dtype == SP_DT_F32 && ta->shape[1] == 5 && memcmp(ta->data, a, 60) == 0, "a");
    CHECK(tb && tb->dtype == SP_DT_F16 && memcmp(tb->data, b, 14) == 0, "b");
    CHECK(tc && tc->dtype == SP_DT_BF16 && tc->ndim == 3 && memcmp(tc->data, c, 12) == 0, "c");
    sp_st_close(&st);
}

static void test_misuse(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/bad.safetensors", tmpdir);
    sp_st_writer w;
    sp_error err = {{0}};
    struct stat sb;
    CHECK(sp_st_writer_open(&w, path, specs, 3, NULL, &err) == 0, "%s", err.msg);
    CHECK(sp_st_writer_write(&w, (float[16]){0}, 64, &err) != 0 && strstr(err.msg, "a.weight"),
          "chunk across tensors: %s", err.msg);
    CHECK(sp_st_writer_write(&w, (float[15]){0}, 60, &err) == 0, "%s", err.msg);
    CHECK(sp_st_writer_close(&w, &err) != 0 && strstr(err.msg, "only 0 of 14 bytes"),
          "short: %s", err.msg);
    CHECK(stat(path, &sb) != 0, "partial file removed");
    sp_stw_tensor dup[2] = {{"x", SP_DT_F32, 1, {1}}, {"x", SP_DT_F32, 1, {1}}};
    CHECK(sp_st_writer_open(&w, path, dup, 2, NULL, &err) != 0 && strstr(err.msg, "twice"),
          "dup: %s", err.msg);
    sp_stw_tensor i64[1] = {{"y", SP_DT_I64, 1, {1}}};
    CHECK(sp_st_writer_open(&w, path, i64, 1, NULL, &err) != 0 && strstr(err.msg, "I64"),
          "dtype: %s", err.msg);
    CHECK(stat(path, &sb) != 0, "no file after refused headers");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return sp_test_skip("test_safetensors_write", "cannot create temp dir");
    test_roundtrip();
    test_misuse();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return sp_test_finish("test_safetensors_write");
}
