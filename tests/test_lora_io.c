/* test_lora_io.c — PEFT adapter directories: write then read back bit for bit (fixture without
 * layers 3,7,11,15: 20 kept layers renumbered), the exact PEFT names and shapes in the file, and
 * the refusals (missing / extra / misshaped tensors, bias, DoRA, unknown targets, existing dir). */
#include <unistd.h>

#include "common/fs.h"
#include "common/json_util.h"
#include "common/model_config.h"
#include "common/safetensors.h"
#include "common/safetensors_write.h"
#include "test_util.h"
#include "worker/lora_io.h"

static char g_dir[] = "/tmp/test_lora_io.XXXXXX";

static void fill(sp_lora *l)
{
    for (size_t i = 0; i < l->n_params; i++) l->arena[i] = (float)((double)i * 1e-4 - 0.3);
}

static int bits_equal(const sp_lora *a, const sp_lora *b)
{
    return a->n_params == b->n_params &&
           memcmp(a->arena, b->arena, a->n_params * sizeof(float)) == 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    SP_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

static void expect_load_error(const char *dir, const sp_model_config *cfg, const sp_mask *rm,
                              const char *pattern)
{
    sp_lora l;
    sp_error err = {{0}};
    int rc = sp_lora_load_peft(dir, cfg, rm, &l, &err);
    CHECK(rc != 0 && strstr(err.msg, pattern), "want '%s', got rc %d: %s", pattern, rc, err.msg);
    if (rc == 0) sp_lora_free(&l);
}

static void test_roundtrip(const sp_model_config *cfg)
{
    sp_mask rm;
    sp_error err = {{0}};
    SP_ASSERT(sp_mask_parse("3,7,11,15", 24, "t", &rm, &err) == 0);
    sp_lora_config lc = {4, 8.0, 0.1, 0};
    SP_ASSERT(sp_lora_parse_targets("q_proj,v_proj,down", "t", &lc.targets, &err) == 0);
    sp_lora a, b;
    SP_ASSERT(sp_lora_create(cfg, &rm, &lc, 7, &a, &err) == 0);
    fill(&a);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ad", g_dir);
    CHECK(sp_lora_save_peft(&a, &rm, dir, "/models/x", "{\"k\": 1}\n", 0, &err) == 0, "%s", err.msg);
    CHECK(sp_lora_load_peft(dir, cfg, &rm, &b, &err) == 0, "%s", err.msg);
    CHECK(bits_equal(&a, &b), "adapter differs after a round trip");
    CHECK(b.cfg.rank == 4 && b.cfg.alpha == 8.0 && b.cfg.dropout == 0.1 &&
          b.cfg.targets == a.cfg.targets, "config after a round trip");
    sp_lora_free(&b);
    /* names and shapes as PEFT writes them: 20 layers x 3 targets x (A, B) */
    char path[600];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    sp_safetensors st;
    SP_ASSERT(sp_st_open_file(path, &st, &err) == 0);
    CHECK(st.n_tensors == 120, "%d tensors", st.n_tensors);
    const sp_tensor *t = sp_st_find(&st, "base_model.model.model.layers.19.mlp.down_proj.lora_A.weight");
    CHECK(t && t->shape[0] == 4 && t->shape[1] == 512 && t->dtype == SP_DT_F32, "down_proj A");
    t = sp_st_find(&st, "base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight");
    CHECK(t && t->shape[0] == 64 && t->shape[1] == 4, "v_proj B [NKV*D, r]");
    /* kept layer 3 is original layer 4 */
    CHECK(t && ((const float *)t->data)[0] == a.B[4 * SP_LORA_NT + SP_LORA_V][0], "renumbering");
    CHECK(!sp_st_find(&st, "base_model.model.model.layers.20.self_attn.q_proj.lora_A.weight"),
          "layer 20 must not exist");
    sp_st_close(&st);
    /* an existing dir: refused, replaced with force */
    CHECK(sp_lora_save_peft(&a, &rm, dir, "x", NULL, 0, &err) != 0 &&
          strstr(err.msg, "already exists"), "existing dir: %s", err.msg);
    CHECK(sp_lora_save_peft(&a, &rm, dir, "x", NULL, 1, &err) == 0, "force: %s", err.msg);
    /* loading with another mask: layer count mismatch shows as a missing tensor */
    sp_mask none;
    sp_mask_clear(&none);
    expect_load_error(dir, cfg, &none, "layers.20.self_attn.q_proj.lora_A.weight missing");
    /* an extra tensor: written with a different target list into the same dir */
    sp_lora c;
    sp_lora_config lc2 = lc;
    lc2.targets |= 1u << SP_LORA_K;
    SP_ASSERT(sp_lora_create(cfg, &rm, &lc2, 7, &c, &err) == 0);
    char dir2[600];
    snprintf(dir2, sizeof dir2, "%s/ad2", g_dir);
    SP_ASSERT(sp_lora_save_peft(&c, &rm, dir2, "x", NULL, 0, &err) == 0);
    char cfgp[700], text[2048];
    snprintf(cfgp, sizeof cfgp, "%s/adapter_config.json", dir2);
    const char *base = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": "
                       "[\"q_proj\", \"v_proj\", \"down_proj\"]%s}";
    snprintf(text, sizeof text, base, "");
    write_file(cfgp, text);
    expect_load_error(dir2, cfg, &rm, "unexpected tensor base_model.model.model.layers.0.self_attn.k_proj");
    snprintf(text, sizeof text, base, ", \"bias\": \"all\"");
    write_file(cfgp, text);
    expect_load_error(dir2, cfg, &rm, "not implemented: ");
    snprintf(text, sizeof text, base, ", \"use_dora\": true");
    write_file(cfgp, text);
    expect_load_error(dir2, cfg, &rm, "use_dora (DoRA)");
    write_file(cfgp, "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": "
                     "[\"q_proj\", \"lm_head\"]}");
    expect_load_error(dir2, cfg, &rm, "target_modules[1]");
    write_file(cfgp, "{\"peft_type\": \"LORA\", \"r\": 0, \"lora_alpha\": 8, \"target_modules\": "
                     "[\"q_proj\"]}");
    expect_load_error(dir2, cfg, &rm, "r: ");
    write_file(cfgp, "{\"peft_type\": \"IA3\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": "
                     "[\"q_proj\"]}");
    expect_load_error(dir2, cfg, &rm, "expected \"LORA\"");
    write_file(cfgp, "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 8, \"target_modules\": "
                     "[\"q_proj\", \"v_proj\", \"down_proj\", \"k_proj\"]}");
    expect_load_error(dir2, cfg, &rm, "shape [2, 192] expected");
    sp_lora_free(&a);
    sp_lora_free(&c);
}

int main(void)
{
    SP_TEST_REQUIRE_SHARED("test_lora_io");
    sp_model_config cfg;
    sp_error err = {{0}};
    SP_ASSERT(sp_config_load(sp_test_shared_path("fixtures/tiny-brown-24L/config.json"), &cfg,
                             &err) == 0);
    SP_ASSERT(mkdtemp(g_dir) != NULL);
    test_roundtrip(&cfg);
    sp_remove_tree(g_dir);
    return sp_test_finish("test_lora_io");
}
