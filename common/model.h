/* model.h — a model directory opened for inference: config + mapped weights, every tensor the
 * config implies checked present with the right shape. Dimension letters: L layers, H hidden,
 * F FFN width, NH/NKV heads, D head dim, V vocab. */
#ifndef SP_MODEL_H
#define SP_MODEL_H

#include "error.h"
#include "model_config.h"
#include "safetensors.h"

typedef struct {
    const sp_tensor *attn_norm; /* [H]            input_layernorm */
    const sp_tensor *q;         /* [NH*D, H]      self_attn.q_proj */
    const sp_tensor *k;         /* [NKV*D, H]     self_attn.k_proj */
    const sp_tensor *v;         /* [NKV*D, H]     self_attn.v_proj */
    const sp_tensor *o;         /* [H, NH*D]      self_attn.o_proj */
    const sp_tensor *mlp_norm;  /* [H]            post_attention_layernorm */
    const sp_tensor *gate;      /* [F, H]         mlp.gate_proj */
    const sp_tensor *up;        /* [F, H]         mlp.up_proj */
    const sp_tensor *down;      /* [H, F]         mlp.down_proj */
} sp_layer_tensors;

typedef struct {
    char *dir;
    sp_model_config cfg;
    sp_safetensors st;
    const sp_tensor *embed;      /* [V, H] model.embed_tokens */
    const sp_tensor *final_norm; /* [H]    model.norm */
    const sp_tensor *lm_head;    /* [V, H] lm_head (== embed when tied) */
    sp_layer_tensors *layers;    /* [L] */
} sp_model;

/* Opens `dir/config.json` and the weights; validates names and shapes against the config.
 * `dir` may also be a .gguf file: it is converted once into a cache directory
 * (sp_model_gguf_dir) and that directory is opened (m->dir names it). */
int sp_model_open(const char *dir, sp_model *m, sp_error *err);

/* 1 when path is an existing regular file named *.gguf. */
int sp_model_path_is_gguf(const char *path);
/* The Hugging Face directory for a GGUF file: $SWARMPRUNE_CACHE/gguf/<stem>-<hash> (default
 * cache ~/.cache/swarmprune), converted on first use (F32 weights). */
int sp_model_gguf_dir(const char *gguf, char *dir, size_t size, sp_error *err);
void sp_model_close(sp_model *m);

/* Fingerprint of the model (16 hex digits): the parsed config + every tensor's name, dtype,
 * shape, byte size, shard and data offset, and a sample of its data (first and last 32 bytes;
 * not all of it). Checkpoints, DONE markers and exports record it to refuse a different model. */
void sp_model_fingerprint(const sp_model *m, char out[17]);

/* Bytes of one layer's tensors as stored (real byte counts from the files). */
size_t sp_model_layer_bytes(const sp_model *m, int layer);

#endif
