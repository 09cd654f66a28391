/* engine_cuda.h — the CUDA backend behind worker/engine.h (private to worker/), same calls as
 * engine_cpu.h: bf16 weights on the device (converted once from the sp_model tensors; q/k/v and
 * gate/up fused), fp32 residual stream and accumulation, bf16 GEMM inputs, cuBLASLt GEMMs with
 * CUBLAS_COMPUTE_32F (kernels/gemm.h), the kernels of kernels/ (one .cu per op family), tensor
 * parallelism over NCCL (tp_nccl.h). Dimension letters as in engine.h. */
#ifndef SP_ENGINE_CUDA_H
#define SP_ENGINE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct sp_engine_cuda sp_engine_cuda;

/* Fails with a message (never aborts) when the build has no CUDA, no device is usable, the
 * dimensions are unsupported or the weights do not fit. A group of more than one rank (the same
 * collective contract as sp_engine_create_group) shards the model over one GPU per rank (a
 * build without NCCL refuses it: not implemented). The device: SWARMPRUNE_CUDA_DEVICE, else the
 * node-local rank modulo the visible devices; it is made current on the calling thread. */
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
