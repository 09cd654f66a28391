/* model_config.h — the architecture of a Llama-family model, read from Hugging Face
 * `config.json` (LlamaForCausalLM, MistralForCausalLM without sliding window) or, later, from
 * GGUF metadata. Dimension letters: L layers, H hidden, F FFN width, NH/NKV heads, D head dim,
 * V vocab. */
#ifndef SP_MODEL_CONFIG_H
#define SP_MODEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum {
    SP_ROPE_DEFAULT = 0, /* no rope_scaling */
    SP_ROPE_LINEAR,      /* positions divided by factor */
    SP_ROPE_LLAMA3,      /* Llama-3.1 frequency-dependent scaling */
} sp_rope_kind;

#define SP_MAX_EOS_IDS 8

typedef struct {
    char architecture[64]; /* e.g. "LlamaForCausalLM" */
    int64_t hidden;        /* H */
    int64_t n_layers;      /* L */
    int64_t n_heads;       /* NH */
    int64_t n_kv_heads;    /* NKV (NH when absent) */
    int64_t head_dim;      /* D (H / NH when absent) */
    int64_t ffn;           /* F */
    int64_t vocab;         /* V */
    int64_t max_pos;       /* max_position_embeddings */
    double rms_eps;
    double rope_theta;
    sp_rope_kind rope_kind;
    double rope_factor;           /* linear and llama3 */
    double rope_low_freq_factor;  /* llama3 */
    double rope_high_freq_factor; /* llama3 */
    int64_t rope_orig_max_pos;    /* llama3: original_max_position_embeddings */
    int tie_embeddings;
    int64_t bos_id;                /* -1 when absent */
    int64_t eos_ids[SP_MAX_EOS_IDS];
    int n_eos;
    char torch_dtype[16];          /* "bfloat16", ... or "" */
} sp_model_config;

/* Parses and validates; unknown architectures and unsupported features (attention/MLP bias,
 * sliding window, other rope types, non-SiLU activations) are refused with a message naming the
 * file and key. */
int sp_config_parse(const char *text, size_t len, const char *what, sp_model_config *cfg,
                    sp_error *err);
int sp_config_load(const char *path, sp_model_config *cfg, sp_error *err);

/* Parameter counts from the config alone. */
int64_t sp_config_layer_params(const sp_model_config *cfg);  /* one decoder layer */
int64_t sp_config_embed_params(const sp_model_config *cfg);  /* token embedding */
int64_t sp_config_head_params(const sp_model_config *cfg);   /* lm_head (0 when tied) + final norm */
int64_t sp_config_total_params(const sp_model_config *cfg);

#endif
