/* gguf_convert.h — turns a llama-architecture GGUF file into a Hugging Face model directory
 * (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) that the rest of
 * swarmprune reads. Weights are dequantized to F32 (or rounded to BF16), llama.cpp's rotary row
 * permutation of Q and K is undone, and the directory is written to a temporary sibling and
 * renamed into place only when complete. Letters: L layers, H hidden, F FFN, NH/NKV heads,
 * D head dim, V vocab. */
#ifndef SP_GGUF_CONVERT_H
#define SP_GGUF_CONVERT_H

#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "model_config.h"
#include "safetensors.h"

typedef struct {
    sp_dtype dtype; /* SP_DT_F32 or SP_DT_BF16 */
} sp_convert_options;

typedef struct {
    sp_model_config cfg;
    int64_t n_tensors;      /* written to model.safetensors */
    uint64_t bytes_written; /* payload bytes */
} sp_convert_result;

/* Maps the llama.* metadata (and token_embd / output tensors) to a model config. Unsupported
 * features (other architectures, MoE, rope scaling other than linear, partial rotary) are
 * refused with a message naming the file and key. torch_dtype is left empty. */
int sp_gguf_to_config(const sp_gguf *g, sp_model_config *cfg, sp_error *err);

/* Index of the GGUF row holding HF row `hf_row` of a Q or K weight [n_head * head_dim, H]
 * permuted by llama.cpp (W.reshape(n_head, 2, D/2, H).swapaxes(1, 2)). */
int64_t sp_gguf_qk_source_row(int64_t hf_row, int64_t head_dim);

/* Converts `gguf_path` into the directory `out_dir` (which must not exist, or be empty). */
int sp_gguf_convert(const char *gguf_path, const char *out_dir, const sp_convert_options *opt,
                    sp_convert_result *res, sp_error *err);

/* Writes dir/tokenizer.json and dir/tokenizer_config.json from the tokenizer.ggml.* metadata
 * (gguf_tokenizer.c). Only BPE ("gpt2") tokenizers are supported. */
int sp_gguf_write_tokenizer(const sp_gguf *g, const sp_model_config *cfg, const char *dir,
                            sp_error *err);

#endif
