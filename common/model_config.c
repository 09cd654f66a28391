/* model_config.c — reads and validates a Hugging Face `config.json` for LlamaForCausalLM and
 * MistralForCausalLM (no sliding window), and counts parameters from it.
 * Unknown extra keys are ignored (HF configs carry many); every feature that would change the
 * computation (biases, other activations, sliding windows, other rope types) is refused with a
 * message naming the file and the key. */
#include "model_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "mask.h"

/* Upper bounds keep every parameter count far below 2^62 (see sp_config_total_params). */
#define SP_CFG_MAX_HIDDEN (1 << 20)
#define SP_CFG_MAX_HEADS 4096
#define SP_CFG_MAX_HEAD_DIM 4096
#define SP_CFG_MAX_FFN (1 << 22)
#define SP_CFG_MAX_VOCAB (1 << 24)

static const char *const sp_cfg_archs[] = {"LlamaForCausalLM", "MistralForCausalLM", NULL};

/* True when the member is absent or JSON null. */
static int cfg_absent(const cJSON *root, const char *key)
{
    const cJSON *it = sp_json_get(root, key);
    return !it || cJSON_IsNull(it);
}

static int cfg_architecture(const cJSON *root, const char *what, sp_model_config *cfg,
                            sp_error *err)
{
    const cJSON *arr = sp_json_get(root, "architectures");
    const char *name = NULL;
    if (!arr) {
        /* Some configs only carry model_type. */
        const char *mt = NULL;
        int rc = sp_json_member_string(root, "", "model_type", 0, &mt, err);
        if (rc < 0) return sp_error_wrap(err, "%s", what);
        if (rc == 0)
            return sp_error_set(err, "%s: architectures: required key is missing (and no "
                                     "model_type)", what);
        if (strcmp(mt, "llama") == 0) name = "LlamaForCausalLM";
        else if (strcmp(mt, "mistral") == 0) name = "MistralForCausalLM";
        else
            return sp_error_set(err, "%s: model_type: unsupported model type \"%s\" (supported: "
                                     "llama, mistral)", what, mt);
    } else {
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != 1)
            return sp_error_set(err, "%s: architectures: expected an array of one string, got %s",
                                what, sp_json_type_name(arr));
        if (sp_json_string(cJSON_GetArrayItem(arr, 0), "architectures[0]", &name, err))
            return sp_error_wrap(err, "%s", what);
    }
    int ok = 0;
    for (const char *const *a = sp_cfg_archs; *a; a++)
        if (strcmp(*a, name) == 0) ok = 1;
    if (!ok)
        return sp_error_set(err, "%s: architectures: unsupported architecture \"%s\" (supported: "
                                 "LlamaForCausalLM, MistralForCausalLM)", what, name);
    snprintf(cfg->architecture, sizeof cfg->architecture, "%s", name);
    return 0;
}

/* Refuses features that change the computation. */
static int cfg_refuse_features(const cJSON *root, const char *what, sp_error *err)
{
    static const char *const bias_keys[] = {"attention_bias", "mlp_bias"};
    for (size_t i = 0; i < 2; i++) {
        int b = 0;
        if (cfg_absent(root, bias_keys[i])) continue;
        if (sp_json_member_bool(root, "", bias_keys[i], 0, &b, err) < 0)
            return sp_error_wrap(err, "%s", what);
        if (b)
            return sp_error_set(err, "%s: %s: true is not supported (Llama layers have no bias)",
                                what, bias_keys[i]);
    }
    if (!cfg_absent(root, "hidden_act")) {
        const char *act = NULL;
        if (sp_json_member_string(root, "", "hidden_act", 0, &act, err) < 0)
            return sp_error_wrap(err, "%s", what);
        if (strcmp(act, "silu") != 0)
            return sp_error_set(err, "%s: hidden_act: \"%s\" is not supported (only \"silu\")",
                                what, act);
    }
    if (!cfg_absent(root, "sliding_window"))
        return sp_error_set(err, "%s: sliding_window: sliding-window attention is not supported "
                                 "(must be null or absent)", what);
    if (!cfg_absent(root, "use_sliding_window")) {
        int b = 0;
        if (sp_json_member_bool(root, "", "use_sliding_window", 0, &b, err) < 0)
            return sp_error_wrap(err, "%s", what);
        if (b)
            return sp_error_set(err, "%s: use_sliding_window: sliding-window attention is not "
                                     "supported", what);
    }
    return 0;
}

static int cfg_dims(const cJSON *root, const char *what, sp_model_config *cfg, sp_error *err)
{
    int rc = 0;
    rc |= sp_json_member_int(root, "", "hidden_size", 1, 1, SP_CFG_MAX_HIDDEN, &cfg->hidden,
                             err) < 0;
    if (!rc)
        rc |= sp_json_member_int(root, "", "num_hidden_layers", 1, 1, INT32_MAX,
                                 &cfg->n_layers, err) < 0;
    if (!rc && cfg->n_layers > SP_MAX_LAYERS) /* one limit for the whole program (mask.h) */
        return sp_error_set(err, "%s: num_hidden_layers: %lld layers: swarmprune handles at "
                                 "most %d layers (SP_MAX_LAYERS)", what,
                            (long long)cfg->n_layers, SP_MAX_LAYERS);
    if (!rc)
        rc |= sp_json_member_int(root, "", "num_attention_heads", 1, 1, SP_CFG_MAX_HEADS,
                                 &cfg->n_heads, err) < 0;
    cfg->n_kv_heads = cfg->n_heads;
    if (!rc && !cfg_absent(root, "num_key_value_heads"))
        rc |= sp_json_member_int(root, "", "num_key_value_heads", 1, 1, SP_CFG_MAX_HEADS,
                                 &cfg->n_kv_heads, err) < 0;
    if (!rc)
        rc |= sp_json_member_int(root, "", "intermediate_size", 1, 1, SP_CFG_MAX_FFN, &cfg->ffn,
                                 err) < 0;
    if (!rc)
        rc |= sp_json_member_int(root, "", "vocab_size", 1, 1, SP_CFG_MAX_VOCAB, &cfg->vocab,
                                 err) < 0;
    if (!rc)
        rc |= sp_json_member_int(root, "", "max_position_embeddings", 1, 1, INT64_C(1) << 40,
                                 &cfg->max_pos, err) < 0;
    if (rc) return sp_error_wrap(err, "%s", what);
    if (cfg->n_heads % cfg->n_kv_heads != 0)
        return sp_error_set(err, "%s: num_key_value_heads: %lld does not divide "
                                 "num_attention_heads %lld", what, (long long)cfg->n_kv_heads,
                            (long long)cfg->n_heads);
    if (!cfg_absent(root, "head_dim")) {
        if (sp_json_member_int(root, "", "head_dim", 1, 1, SP_CFG_MAX_HEAD_DIM, &cfg->head_dim,
                               err) < 0)
            return sp_error_wrap(err, "%s", what);
    } else {
        if (cfg->hidden % cfg->n_heads != 0)
            return sp_error_set(err, "%s: head_dim: absent and hidden_size %lld is not a multiple "
                                     "of num_attention_heads %lld", what,
                                (long long)cfg->hidden, (long long)cfg->n_heads);
        cfg->head_dim = cfg->hidden / cfg->n_heads;
        if (cfg->head_dim > SP_CFG_MAX_HEAD_DIM)
            return sp_error_set(err, "%s: head_dim: derived %lld exceeds %d", what,
                                (long long)cfg->head_dim, SP_CFG_MAX_HEAD_DIM);
    }
    if (cfg->head_dim % 2 != 0)
        return sp_error_set(err, "%s: head_dim: %lld must be even for rotary embeddings", what,
                            (long long)cfg->head_dim);
    return 0;
}

static int cfg_rope(const cJSON *root, const char *what, sp_model_config *cfg, sp_error *err)
{
    cfg->rope_theta = 10000.0;
    if (!cfg_absent(root, "rope_theta") &&
        sp_json_member_double(root, "", "rope_theta", 0, 1.0, 1e12, &cfg->rope_theta, err) < 0)
        return sp_error_wrap(err, "%s", what);
    cfg->rope_kind = SP_ROPE_DEFAULT;
    cfg->rope_factor = 1.0;
    cfg->rope_low_freq_factor = cfg->rope_high_freq_factor = 0.0;
    cfg->rope_orig_max_pos = 0;
    if (cfg_absent(root, "rope_scaling")) return 0;
    const cJSON *rs = sp_json_get(root, "rope_scaling");
    if (sp_json_check_object(rs, "rope_scaling", NULL, err)) return sp_error_wrap(err, "%s", what);
    const char *type = NULL;
    const char *key = sp_json_get(rs, "rope_type") ? "rope_type" : "type";
    if (sp_json_member_string(rs, "rope_scaling", key, 1, &type, err) < 0)
        return sp_error_wrap(err, "%s", what);
    if (strcmp(type, "default") == 0) return 0;
    int rc = 0;
    if (strcmp(type, "linear") == 0) {
        cfg->rope_kind = SP_ROPE_LINEAR;
        rc = sp_json_member_double(rs, "rope_scaling", "factor", 1, 1e-6, 1e6, &cfg->rope_factor,
                                   err) < 0;
    } else if (strcmp(type, "llama3") == 0) {
        cfg->rope_kind = SP_ROPE_LLAMA3;
        rc = sp_json_member_double(rs, "rope_scaling", "factor", 1, 1e-6, 1e6, &cfg->rope_factor,
                                   err) < 0 ||
             sp_json_member_double(rs, "rope_scaling", "low_freq_factor", 1, 1e-6, 1e6,
                                   &cfg->rope_low_freq_factor, err) < 0 ||
             sp_json_member_double(rs, "rope_scaling", "high_freq_factor", 1, 1e-6, 1e6,
                                   &cfg->rope_high_freq_factor, err) < 0 ||
             sp_json_member_int(rs, "rope_scaling", "original_max_position_embeddings", 1, 1,
                                INT64_C(1) << 40, &cfg->rope_orig_max_pos, err) < 0;
        if (!rc && !(cfg->rope_high_freq_factor > cfg->rope_low_freq_factor))
            return sp_error_set(err, "%s: rope_scaling.high_freq_factor: %g must exceed "
                                     "low_freq_factor %g", what, cfg->rope_high_freq_factor,
                                cfg->rope_low_freq_factor);
    } else {
        return sp_error_set(err, "%s: rope_scaling.%s: unsupported rope type \"%s\" (supported: "
                                 "default, linear, llama3)", what, key, type);
    }
    return rc ? sp_error_wrap(err, "%s", what) : 0;
}

static int cfg_tokens(const cJSON *root, const char *what, sp_model_config *cfg, sp_error *err)
{
    cfg->bos_id = -1;
    if (!cfg_absent(root, "bos_token_id") &&
        sp_json_member_int(root, "", "bos_token_id", 0, 0, cfg->vocab - 1, &cfg->bos_id, err) < 0)
        return sp_error_wrap(err, "%s", what);
    cfg->n_eos = 0;
    if (cfg_absent(root, "eos_token_id")) return 0;
    const cJSON *eos = sp_json_get(root, "eos_token_id");
    if (cJSON_IsArray(eos)) {
        int n = cJSON_GetArraySize(eos);
        if (n > SP_MAX_EOS_IDS)
            return sp_error_set(err, "%s: eos_token_id: %d ids, at most %d supported", what, n,
                                SP_MAX_EOS_IDS);
        for (int i = 0; i < n; i++) {
            char path[64];
            snprintf(path, sizeof path, "eos_token_id[%d]", i);
            if (sp_json_int(cJSON_GetArrayItem(eos, i), path, 0, cfg->vocab - 1,
                            &cfg->eos_ids[i], err))
                return sp_error_wrap(err, "%s", what);
        }
        cfg->n_eos = n;
        return 0;
    }
    if (sp_json_int(eos, "eos_token_id", 0, cfg->vocab - 1, &cfg->eos_ids[0], err))
        return sp_error_wrap(err, "%s", what);
    cfg->n_eos = 1;
    return 0;
}

static int cfg_misc(const cJSON *root, const char *what, sp_model_config *cfg, sp_error *err)
{
    cfg->rms_eps = 1e-6; /* the transformers default for Llama and Mistral */
    if (!cfg_absent(root, "rms_norm_eps") &&
        sp_json_member_double(root, "", "rms_norm_eps", 0, 1e-12, 1.0, &cfg->rms_eps, err) < 0)
        return sp_error_wrap(err, "%s", what);
    cfg->tie_embeddings = 0;
    if (!cfg_absent(root, "tie_word_embeddings") &&
        sp_json_member_bool(root, "", "tie_word_embeddings", 0, &cfg->tie_embeddings, err) < 0)
        return sp_error_wrap(err, "%s", what);
    cfg->torch_dtype[0] = '\0';
    const char *key = !cfg_absent(root, "torch_dtype") ? "torch_dtype"
                      : !cfg_absent(root, "dtype")     ? "dtype"
                                                       : NULL;
    if (key) {
        const char *dt = NULL;
        if (sp_json_member_string(root, "", key, 0, &dt, err) < 0)
            return sp_error_wrap(err, "%s", what);
        if (strlen(dt) >= sizeof cfg->torch_dtype)
            return sp_error_set(err, "%s: %s: \"%s\" is too long", what, key, dt);
        snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s", dt);
    }
    return 0;
}

int sp_config_parse(const char *text, size_t len, const char *what, sp_model_config *cfg,
                    sp_error *err)
{
    cJSON *root = NULL;
    memset(cfg, 0, sizeof *cfg);
    if (sp_json_parse(text, len, what, &root, err)) return -1;
    int rc = -1;
    if (sp_json_check_object(root, "", NULL, err)) {
        sp_error_wrap(err, "%s", what);
        goto done;
    }
    if (cfg_architecture(root, what, cfg, err) || cfg_refuse_features(root, what, err) ||
        cfg_dims(root, what, cfg, err) || cfg_rope(root, what, cfg, err) ||
        cfg_tokens(root, what, cfg, err) || cfg_misc(root, what, cfg, err))
        goto done;
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc) memset(cfg, 0, sizeof *cfg);
    return rc;
}

int sp_config_load(const char *path, sp_model_config *cfg, sp_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (sp_require_regular_file(path, err) || sp_read_file(path, &buf, &len, err)) return -1;
    int rc = sp_config_parse(buf, len, path, cfg, err);
    free(buf);
    return rc;
}

/* Bounds from the parser: H <= 2^20, NH,NKV,D <= 2^12, F <= 2^22, V <= 2^24, L <= 2^8, so one
 * layer is < 2^47 parameters and the whole model < 2^60: int64 cannot overflow. */
int64_t sp_config_layer_params(const sp_model_config *cfg)
{
    int64_t H = cfg->hidden, D = cfg->head_dim, F = cfg->ffn;
    int64_t attn = cfg->n_heads * D * H          /* q_proj [NH*D, H] */
                   + 2 * cfg->n_kv_heads * D * H /* k_proj, v_proj [NKV*D, H] */
                   + H * cfg->n_heads * D;       /* o_proj [H, NH*D] */
    int64_t mlp = 3 * H * F;                     /* gate, up [F, H]; down [H, F] */
    return attn + mlp + 2 * H;                   /* + input/post-attention RMSNorm [H] */
}

int64_t sp_config_embed_params(const sp_model_config *cfg)
{
    return cfg->vocab * cfg->hidden;
}

int64_t sp_config_head_params(const sp_model_config *cfg)
{
    return (cfg->tie_embeddings ? 0 : cfg->vocab * cfg->hidden) + cfg->hidden;
}

int64_t sp_config_total_params(const sp_model_config *cfg)
{
    return cfg->n_layers * sp_config_layer_params(cfg) + sp_config_embed_params(cfg) +
           sp_config_head_params(cfg);
}
