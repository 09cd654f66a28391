/* rope.h — CUDA rotary embedding launcher (C interface), the "rotate_half" form of
 * sp_ref_rope_apply: pairs (i, i + D/2) of every head rotated by the angle of the token's
 * position. The cos/sin tables are the host tables of sp_ref_rope_table copied to the device,
 * so both engines rotate by the same fp32 values. Device pointers; one launch configuration
 * (256 threads, one thread per pair). T tokens, D head dim. */
#ifndef SP_KERNELS_ROPE_H
#define SP_KERNELS_ROPE_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* x [T, stride] fp32 in place, head h of token t at x + t*stride + h*D (h < n_heads); pos [T]
 * int32; cos_t, sin_t [>= max pos + 1, D/2] fp32. */
void sp_cuda_rope_apply(float *x, int64_t T, int64_t stride, int64_t n_heads, int64_t D,
                        const int32_t *pos, const float *cos_t, const float *sin_t,
                        cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
