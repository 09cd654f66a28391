/* test_model.c — sp_model_open on the tiny-brown-24L fixture (shapes, parameter count, real
 * layer bytes), fixture copies with a changed config.json (symlinked shards) that must be refused,
 * and small crafted checkpoints in a temp dir: missing tensor, wrong shape, integer dtype,
 * tied embeddings without lm_head. */
#include <unistd.h>

#include "common/model.h"
#include "test_util.h"

static char tmpdir[] = "/tmp/sp_test_model_XXXXXX";

static void test_fixture(const char *fx)
{
    sp_model m;
    sp_error err = {{0}};
    CHECK(sp_model_open(fx, &m, &err) == 0, "fixture: %s", err.msg);
    if (!m.layers) return;
    const sp_model_config *c = &m.cfg;
    CHECK(c->n_layers == 24 && c->hidden == 192 && c->ffn == 512 && c->vocab == 4096, "dims");
    CHECK(m.st.n_files == 3 && m.st.n_tensors == 24 * 9 + 3, "3 shards, 219 tensors");
    CHECK(m.embed->shape[0] == 4096 && m.embed->shape[1] == 192, "embed [V, H]");
    CHECK(m.lm_head != m.embed && m.lm_head->shape[0] == 4096, "untied lm_head");
    CHECK(m.layers[23].q->shape[0] == 192 && m.layers[23].k->shape[0] == 64 &&
              m.layers[23].o->shape[1] == 192 && m.layers[23].down->shape[1] == 512,
          "layer shapes");
    int64_t total = 0;
    for (int i = 0; i < m.st.n_tensors; i++) total += sp_tensor_numel(&m.st.tensors[i]);
    CHECK(total == 11019456 && sp_config_total_params(c) == total, "params %lld",
          (long long)total);
    /* bf16: 2 bytes per parameter of a layer. */
    CHECK(sp_model_layer_bytes(&m, 0) == 2 * (size_t)sp_config_layer_params(c) &&
              sp_model_layer_bytes(&m, 23) == 787200,
          "layer bytes %zu", sp_model_layer_bytes(&m, 0));
    sp_model_close(&m);
    CHECK(m.layers == NULL && m.st.n_files == 0, "close resets");
}

/* DIR/sub with the fixture's shards and index symlinked and config.json = fixture's config with
 * `from` replaced by `to`. */
static const char *fixture_variant(const char *fx, const char *sub, const char *from,
                                   const char *to)
{
    static char dir[600];
    char src[1200], dst[1200];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    mkdir(dir, 0700);
    static const char *const files[] = {"model-00001-of-00003.safetensors",
                                        "model-00002-of-00003.safetensors",
                                        "model-00003-of-00003.safetensors",
                                        "model.safetensors.index.json"};
    for (int i = 0; i < 4; i++) {
        snprintf(src, sizeof src, "%s/%s", fx, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        if (symlink(src, dst) != 0) return dir;
    }
    char text[4096] = "";
    snprintf(src, sizeof src, "%s/config.json", fx);
    FILE *f = fopen(src, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = '\0';
    char *at = strstr(text, from);
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    f = fopen(dst, "w");
    if (f && at) {
        fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    }
    if (f) fclose(f);
    return dir;
}

static void expect_open_fail(const char *dir, const char *want1, const char *want2)
{
    sp_model m;
    sp_error err = {{0}};
    CHECK(sp_model_open(dir, &m, &err) == -1, "%s should be refused", dir);
    CHECK(strstr(err.msg, want1) != NULL, "%s: message lacks \"%s\": %s", dir, want1, err.msg);
    if (want2)
        CHECK(strstr(err.msg, want2) != NULL, "%s: message lacks \"%s\": %s", dir, want2, err.msg);
    CHECK(m.layers == NULL && m.dir == NULL, "struct reset after failure");
}

static void test_fixture_variants(const char *fx)
{
    const char *d = fixture_variant(fx, "more_layers", "\"num_hidden_layers\": 24",
                                    "\"num_hidden_layers\": 25");
    expect_open_fail(d, "missing tensor \"model.layers.24.input_layernorm.weight\"",
                     "expected shape [192]");
    d = fixture_variant(fx, "fewer_layers", "\"num_hidden_layers\": 24",
                        "\"num_hidden_layers\": 23");
    expect_open_fail(d, "tensor \"model.layers.23.", "not implied by config.json (23 layers)");
    d = fixture_variant(fx, "ffn", "\"intermediate_size\": 512", "\"intermediate_size\": 384");
    expect_open_fail(d, "tensor \"model.layers.0.mlp.gate_proj.weight\"",
                     "expected shape [384, 192], found [512, 192]");
    d = fixture_variant(fx, "kv", "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
    expect_open_fail(d, "self_attn.k_proj.weight\": expected shape [96, 192], found [64, 192]",
                     "model-00001-of-00003.safetensors");
}

/* Crafted checkpoint: H=8, F=12, L=2, NH=2, NKV=1, D=4, V=10. `skip` names a tensor to leave
 * out, `reshape` one whose first dim is doubled, `idtype` one stored as I32. */
static const char *crafted(const char *sub, int tied, const char *skip, const char *reshape,
                           const char *idtype)
{
    static char dir[600];
    char names[32][96], hdr[8192];
    int64_t dims[32][2];
    int n = 0;
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    mkdir(dir, 0700);
#define ADD(d0, d1, ...)                                                                   \
    (snprintf(names[n], 96, __VA_ARGS__), dims[n][0] = d0, dims[n][1] = d1, n++)
    ADD(10, 8, "model.embed_tokens.weight");
    ADD(8, -1, "model.norm.weight");
    if (!tied) ADD(10, 8, "lm_head.weight");
    for (int l = 0; l < 2; l++) {
        ADD(8, -1, "model.layers.%d.input_layernorm.weight", l);
        ADD(8, 8, "model.layers.%d.self_attn.q_proj.weight", l);
        ADD(4, 8, "model.layers.%d.self_attn.k_proj.weight", l);
        ADD(4, 8, "model.layers.%d.self_attn.v_proj.weight", l);
        ADD(8, 8, "model.layers.%d.self_attn.o_proj.weight", l);
        ADD(8, -1, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(12, 8, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(12, 8, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(8, 12, "model.layers.%d.mlp.down_proj.weight", l);
    }
#undef ADD
    size_t off = 0, len = (size_t)snprintf(hdr, sizeof hdr, "{");
    for (int i = 0; i < n; i++) {
        if (skip && strcmp(names[i], skip) == 0) continue;
        if (reshape && strcmp(names[i], reshape) == 0) dims[i][0] *= 2;
        int isint = idtype && strcmp(names[i], idtype) == 0;
        size_t bytes = (size_t)(dims[i][0] * (dims[i][1] < 0 ? 1 : dims[i][1])) * (isint ? 4 : 2);
        char shape[64];
        if (dims[i][1] < 0) snprintf(shape, sizeof shape, "[%lld]", (long long)dims[i][0]);
        else snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)dims[i][0],
                      (long long)dims[i][1]);
        len += (size_t)snprintf(hdr + len, sizeof hdr - len,
                                "%s\"%s\": {\"dtype\": \"%s\", \"shape\": %s, \"data_offsets\": "
                                "[%zu, %zu]}", len > 1 ? ", " : "", names[i],
                                isint ? "I32" : "BF16", shape, off, off + bytes);
        off += bytes;
    }
    snprintf(hdr + len, sizeof hdr - len, "}");
    char path[700];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return dir;
    uint64_t hl = strlen(hdr);
    for (int i = 0; i < 8; i++) fputc((int)((hl >> (8 * i)) & 0xff), f);
    fputs(hdr, f);
    for (size_t i = 0; i < off; i++) fputc(0, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    if (!f) return dir;
    fprintf(f, "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, "
               "\"intermediate_size\": 12, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "
               "\"num_key_value_heads\": 1, \"vocab_size\": 10, \"max_position_embeddings\": 64, "
               "\"tie_word_embeddings\": %s}", tied ? "true" : "false");
    fclose(f);
    return dir;
}

static void test_crafted(void)
{
    sp_model m;
    sp_error err = {{0}};
    const char *d = crafted("ok", 0, NULL, NULL, NULL);
    CHECK(sp_model_open(d, &m, &err) == 0, "crafted: %s", err.msg);
    if (m.layers) {
        /* (8*8 + 2*4*8 + 8*8 + 3*8*12 + 2*8) params x 2 bytes */
        CHECK(sp_model_layer_bytes(&m, 1) == 2 * (64 + 64 + 64 + 288 + 16), "layer bytes %zu",
              sp_model_layer_bytes(&m, 1));
        sp_model_close(&m);
    }
    d = crafted("tied", 1, NULL, NULL, NULL);
    CHECK(sp_model_open(d, &m, &err) == 0, "tied: %s", err.msg);
    if (m.layers) {
        CHECK(m.lm_head == m.embed, "tied lm_head is the embedding");
        sp_model_close(&m);
    }
    d = crafted("nohead", 0, "lm_head.weight", NULL, NULL);
    expect_open_fail(d, "missing tensor \"lm_head.weight\" (expected shape [10, 8])", NULL);
    d = crafted("noup", 0, "model.layers.1.mlp.up_proj.weight", NULL, NULL);
    expect_open_fail(d, "missing tensor \"model.layers.1.mlp.up_proj.weight\"", "[12, 8]");
    d = crafted("badv", 0, NULL, "model.layers.0.self_attn.v_proj.weight", NULL);
    expect_open_fail(d, "\"model.layers.0.self_attn.v_proj.weight\": expected shape [4, 8], "
                        "found [8, 8]", "model.safetensors");
    d = crafted("badnorm", 0, NULL, "model.norm.weight", NULL);
    expect_open_fail(d, "\"model.norm.weight\": expected shape [8], found [16]", NULL);
    d = crafted("int", 0, NULL, NULL, "model.layers.1.self_attn.o_proj.weight");
    expect_open_fail(d, "o_proj.weight\": dtype I32 is not a float type", NULL);
    char empty[700];
    snprintf(empty, sizeof empty, "%s/none", tmpdir);
    expect_open_fail(empty, "none/config.json", "cannot open");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return sp_test_skip("test_model", "mkdtemp failed");
    test_crafted();
    const char *fx = sp_test_shared_path("fixtures/tiny-brown-24L");
    char fxdir[8192] = "";
    if (fx) snprintf(fxdir, sizeof fxdir, "%s", fx);
    if (fx) {
        test_fixture(fxdir);
        test_fixture_variants(fxdir);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "test_model: could not remove %s\n", tmpdir);
    if (!fx) {
        printf("test_model: crafted checks only (%d failures); ", sp_test_failures);
        return sp_test_failures ? 1 : sp_test_skip("test_model", "../shared not found");
    }
    return sp_test_finish("test_model");
}
