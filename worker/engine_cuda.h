/* engine_cuda.h — the CUDA backend behind worker/engine.h (private to worker/), same calls as
 * engine_cpu.h: bf16 weights on the device (converted once from the sp_model tensors; q/k/v and
 * gate/up fused), fp32 residual stream and accumulation, bf16 GEMM inputs, cublasGemmEx with
 * CUBLAS_COMPUTE_32F, the kernels of kernels/ (one .cu per op family). Dimension letters as in engine.h. */
#ifndef SP_ENGINE_CUDA_H
#define SP_ENGINE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct sp_engine_cuda sp_engine_cuda;

/* Fails with a message (never aborts) when the build has no CUDA, no device is usable, or
 * group has more than one rank (not implemented: tensor parallelism on CUDA). Uses the
 * calling thread's current device. */
int sp_engine_cuda_create(const sp_model *m, const sp_engine_options *opt, MPI_Comm group,
                          sp_engine_cuda **out, sp_error *err);
void sp_engine_cuda_free(sp_engine_cuda *c);
/* The hook gets host copies of the [T, H] stream (one device -> host copy before and one after
 * each reported layer, only while a hook is set). */
void sp_engine_cuda_set_layer_hook(sp_engine_cuda *c, sp_layer_hook_fn fn, void *ctx);
/* b and req are already validated (sp_batch_validate and engine.c's head checks). */
int sp_engine_cuda_forward(sp_engine_cuda *c, const sp_batch *b, const sp_mask *removed,
                           const sp_head_request *req, sp_error *err);

/* Device memory: bytes of weights, of the current workspace, and the peak in use on the device
 * since create (cudaMemGetInfo: free at create minus the least free seen after allocations). */
typedef struct {
    size_t weight_bytes;
    size_t workspace_bytes;
    size_t peak_used_bytes;
    size_t device_total_bytes;
} sp_engine_cuda_mem;
void sp_engine_cuda_memory(const sp_engine_cuda *c, sp_engine_cuda_mem *out);

#endif
