/* engine_cpu.h — the CPU backend behind worker/engine.h (private to worker/). fp32 weights
 * converted once at load, OpenBLAS sgemm for every matrix product on the packed batch, the
 * element-wise ops of kernels/ref_ops. Dimension letters as in engine.h; QKV = (NH + 2 NKV) D. */
#ifndef SP_ENGINE_CPU_H
#define SP_ENGINE_CPU_H

#include <stdint.h>

#include "engine.h"

typedef struct sp_engine_cpu sp_engine_cpu;

/* group: MPI_COMM_NULL or size 1 = no tensor parallelism (see sp_engine_create_group). */
int sp_engine_cpu_create(const sp_model *m, const sp_engine_options *opt, MPI_Comm group,
                         sp_engine_cpu **out, sp_error *err);
void sp_engine_cpu_free(sp_engine_cpu *c);
void sp_engine_cpu_set_layer_hook(sp_engine_cpu *c, sp_layer_hook_fn fn, void *ctx);
/* Polled between layers when there is no tensor parallelism (see sp_engine_set_stop). */
void sp_engine_cpu_set_stop(sp_engine_cpu *c, int (*stop)(void));
/* Runtime LoRA adapter (see sp_engine_set_lora); NULL removes it. */
int sp_engine_cpu_set_lora(sp_engine_cpu *c, const sp_lora *lora, sp_error *err);
/* b and req are already validated by engine.c. */
int sp_engine_cpu_forward(sp_engine_cpu *c, const sp_batch *b, const sp_mask *removed,
                          const sp_head_request *req, sp_error *err);

/* Attention of the whole packed batch (engine_cpu_attn.c): qkv [T, QKV] with q heads at columns
 * h*D, k heads at NH*D + g*D, v heads at (NH+NKV)*D + g*D (rope already applied); out [T, NH*D].
 * scores: workspace of at least sp_cpu_attention_scratch(max item length) floats. */
void sp_cpu_attention(float *out, const float *qkv, const sp_batch *b, int64_t NH, int64_t NKV,
                      int64_t D, float *scores);
int64_t sp_cpu_attention_scratch(int64_t max_item_len);

#endif
