/* test_config.c — config.json parsing: the fixture, the real Llama-3.1-70B and Mistral-7B-v0.3
 * configs (tests/data) with their known parameter counts, derived defaults, and one refusal per
 * unsupported feature or malformed value, each checked for the key it must name. */
#include <cjson/cJSON.h>

#include "common/json_util.h"
#include "common/model_config.h"
#include "test_util.h"

/* A small valid Llama config; variants replace one key. */
static const char *base_cfg =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 160,"
    " \"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
    " \"vocab_size\": 100, \"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-6,"
    " \"hidden_act\": \"silu\", \"some_unknown_key\": {\"x\": 1}}";

/* Parses base_cfg with `key` set to the JSON `value` (NULL value: key removed). */
static int parse_variant(const char *key, const char *value, sp_model_config *cfg, sp_error *err)
{
    cJSON *root = cJSON_Parse(base_cfg);
    if (!root) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(root, key);
    if (value) cJSON_AddItemToObject(root, key, cJSON_Parse(value));
    char *text = cJSON_PrintUnformatted(root);
    int rc = sp_config_parse(text, strlen(text), "crafted.json", cfg, err);
    cJSON_free(text);
    cJSON_Delete(root);
    return rc;
}

/* The variant must be refused with a message containing each of the `want` strings. */
static void expect_bad(const char *key, const char *value, const char *want1, const char *want2)
{
    sp_model_config cfg;
    sp_error err = {{0}};
    int rc = parse_variant(key, value, &cfg, &err);
    CHECK(rc == -1, "%s = %s should be refused", key, value ? value : "(absent)");
    CHECK(strstr(err.msg, "crafted.json") != NULL, "message lacks the file: %s", err.msg);
    CHECK(strstr(err.msg, want1) != NULL, "message lacks \"%s\": %s", want1, err.msg);
    if (want2) CHECK(strstr(err.msg, want2) != NULL, "message lacks \"%s\": %s", want2, err.msg);
}

static void test_real_configs(void)
{
    sp_model_config c;
    sp_error err = {{0}};
    int rc = sp_config_load(SP_SOURCE_DIR "/tests/data/llama-3.1-70b-config.json", &c, &err);
    CHECK(rc == 0, "70B: %s", err.msg);
    CHECK(c.n_layers == 80 && c.hidden == 8192 && c.n_heads == 64 && c.n_kv_heads == 8,
          "70B dims");
    CHECK(c.head_dim == 128 && c.ffn == 28672 && c.vocab == 128256, "70B derived head_dim");
    CHECK(c.rope_kind == SP_ROPE_LLAMA3 && c.rope_factor == 8.0 && c.rope_low_freq_factor == 1.0 &&
              c.rope_high_freq_factor == 4.0 && c.rope_orig_max_pos == 8192,
          "70B rope");
    CHECK(c.rope_theta == 500000.0 && c.rms_eps == 1e-5 && c.max_pos == 131072, "70B scalars");
    CHECK(c.bos_id == 128000 && c.n_eos == 3 && c.eos_ids[2] == 128009, "70B tokens");
    CHECK(!c.tie_embeddings && strcmp(c.torch_dtype, "bfloat16") == 0, "70B tie/dtype");
    CHECK(sp_config_layer_params(&c) == INT64_C(855654400), "70B layer params %lld",
          (long long)sp_config_layer_params(&c));
    CHECK(sp_config_total_params(&c) == INT64_C(70553706496), "70B total %lld",
          (long long)sp_config_total_params(&c));

    rc = sp_config_load(SP_SOURCE_DIR "/tests/data/mistral-7b-v0.3-config.json", &c, &err);
    CHECK(rc == 0, "Mistral: %s", err.msg);
    CHECK(strcmp(c.architecture, "MistralForCausalLM") == 0, "Mistral arch");
    CHECK(c.rope_kind == SP_ROPE_DEFAULT && c.rope_theta == 1e6, "Mistral rope");
    CHECK(c.n_eos == 1 && c.eos_ids[0] == 2 && c.bos_id == 1, "Mistral tokens");
    CHECK(sp_config_total_params(&c) == INT64_C(7248023552), "Mistral total %lld",
          (long long)sp_config_total_params(&c));

    const char *fx = sp_test_shared_path("fixtures/tiny-brown-24L/config.json");
    if (fx) {
        rc = sp_config_load(fx, &c, &err);
        CHECK(rc == 0, "fixture: %s", err.msg);
        CHECK(c.head_dim == 32 && c.n_kv_heads == 2 && c.n_layers == 24, "fixture dims");
        CHECK(sp_config_total_params(&c) == 11019456, "fixture total %lld",
              (long long)sp_config_total_params(&c));
    }
}

static void test_defaults(void)
{
    sp_model_config c;
    sp_error err = {{0}};
    CHECK(parse_variant("head_dim", NULL, &c, &err) == 0, "%s", err.msg);
    CHECK(c.head_dim == 16 && c.rope_theta == 10000.0 && c.rope_kind == SP_ROPE_DEFAULT,
          "derived head_dim / default rope");
    CHECK(c.bos_id == -1 && c.n_eos == 0 && !c.tie_embeddings, "token defaults");
    CHECK(parse_variant("head_dim", "null", &c, &err) == 0 && c.head_dim == 16, "null head_dim");
    CHECK(parse_variant("num_key_value_heads", NULL, &c, &err) == 0 && c.n_kv_heads == 4,
          "NKV defaults to NH");
    CHECK(parse_variant("rope_scaling", "{\"type\": \"linear\", \"factor\": 2}", &c, &err) == 0 &&
              c.rope_kind == SP_ROPE_LINEAR && c.rope_factor == 2.0,
          "linear rope: %s", err.msg);
    CHECK(parse_variant("rope_scaling", "{\"rope_type\": \"default\"}", &c, &err) == 0 &&
              c.rope_kind == SP_ROPE_DEFAULT,
          "default rope: %s", err.msg);
    CHECK(parse_variant("tie_word_embeddings", "true", &c, &err) == 0 && c.tie_embeddings, "tied");
    /* Tied: no lm_head; 3 layers x (q 64*64 + kv 2*32*64 + o 64*64 + 3*64*160 + 128) + embed
     * 100*64 + final norm 64. */
    CHECK(sp_config_total_params(&c) == 3 * (4096 + 4096 + 4096 + 30720 + 128) + 6400 + 64,
          "tied total %lld", (long long)sp_config_total_params(&c));
    CHECK(parse_variant("sliding_window", "null", &c, &err) == 0, "null sliding window");
}

static void test_refusals(void)
{
    expect_bad("architectures", "[\"GPT2LMHeadModel\"]", "architectures", "GPT2LMHeadModel");
    expect_bad("attention_bias", "true", "attention_bias", NULL);
    expect_bad("mlp_bias", "true", "mlp_bias", NULL);
    expect_bad("hidden_act", "\"gelu\"", "hidden_act", "gelu");
    expect_bad("sliding_window", "4096", "sliding_window", NULL);
    expect_bad("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4}", "rope_scaling",
               "yarn");
    expect_bad("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8}", "low_freq_factor",
               "missing");
    expect_bad("hidden_size", NULL, "hidden_size", "missing");
    expect_bad("hidden_size", "\"64\"", "hidden_size", "a string");
    expect_bad("num_hidden_layers", "-2", "num_hidden_layers", "-2");
    expect_bad("num_attention_heads", "4.5", "num_attention_heads", "integer");
    expect_bad("num_key_value_heads", "3", "num_key_value_heads", "divide");
    expect_bad("eos_token_id", "[1, \"2\"]", "eos_token_id[1]", NULL);
    expect_bad("eos_token_id", "100", "eos_token_id", "99");
    expect_bad("tie_word_embeddings", "1", "tie_word_embeddings", NULL);

    sp_model_config c;
    sp_error err = {{0}};
    /* The "}" at byte 42 (line 2, column 23) is where a value was expected. */
    const char *bad = "{\"hidden_size\": 64,\n \"num_hidden_layers\": }";
    CHECK(sp_config_parse(bad, strlen(bad), "broken.json", &c, &err) == -1, "malformed JSON");
    CHECK(strstr(err.msg, "broken.json") && strstr(err.msg, "byte 42") &&
              strstr(err.msg, "line 2"),
          "syntax error position: %s", err.msg);
    const char *arr = "[1, 2]";
    CHECK(sp_config_parse(arr, strlen(arr), "arr.json", &c, &err) == -1 &&
              strstr(err.msg, "expected an object"),
          "non-object root: %s", err.msg);
    CHECK(sp_config_load("/nonexistent/config.json", &c, &err) == -1 &&
              strstr(err.msg, "/nonexistent/config.json"),
          "missing file: %s", err.msg);
}

int main(void)
{
    test_real_configs();
    test_defaults();
    test_refusals();
    return sp_test_finish("test_config");
}
