/* swiglu.h — CUDA launchers (C interface) of the MLP's element-wise ops: SwiGLU
 * out = silu(gate) * up (silu(g) = g / (1 + exp(-g)), as sp_ref_swiglu) and the residual add
 * x += y (sp_ref_add). Device pointers; one launch configuration (256 threads, grid-stride).
 * T tokens, F FFN width. */
#ifndef SP_KERNELS_SWIGLU_H
#define SP_KERNELS_SWIGLU_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* gate, up: rows of stride in_stride (fp32; the fused [T, 2F] gate|up GEMM output gives
 * up = gate + F, in_stride = 2F); out [T, F] dense, fp32 or bf16 (round to nearest even). */
void sp_cuda_swiglu_f32(float *out, const float *gate, const float *up, int64_t T, int64_t F,
                        int64_t in_stride, cudaStream_t stream);
void sp_cuda_swiglu_bf16(uint16_t *out, const float *gate, const float *up, int64_t T, int64_t F,
                         int64_t in_stride, cudaStream_t stream);

/* The same from bf16 gate / up (bit patterns; computed in fp32) to bf16 out: the engine's path,
 * where the gate|up GEMM writes bf16 (half the bytes of the widest activation). */
void sp_cuda_swiglu_bf16_in(uint16_t *out, const uint16_t *gate, const uint16_t *up, int64_t T,
                            int64_t F, int64_t in_stride, cudaStream_t stream);

/* x[i] += y[i], n fp32 elements. */
void sp_cuda_add(float *x, const float *y, size_t n, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
