/* cuda_test_util.h — helpers of the CUDA tests (tests/test_cuda_*.c, bench_cuda.c): seeded
 * counter-based random fills, device buffers poisoned with NaN and followed by guard bytes that
 * must survive the kernel, and the comparator (NaN/Inf mismatch names the index, then relative
 * L2 against a tolerance; `!(err <= tol)` so NaN fails). Include after test_util.h; CUDA only. */
#ifndef SP_CUDA_TEST_UTIL_H
#define SP_CUDA_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/safetensors.h"
#include "kernels/cuda_check.h"

#define SP_TEST_SEED 20240611ULL
#define SP_GUARD_BYTES 256
#define SP_GUARD_BYTE 0xA5

/* x[i] = uniform in [-amp, amp), a function of (seed, stream, i) only. */
static inline void sp_test_fill(float *x, size_t n, uint64_t stream, float amp)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * sp_rng_uniform(SP_TEST_SEED, stream, i, 0) - 1.0) * amp);
}

/* Rounds fp32 values to bf16 in place (what a bf16 input carries) and optionally exports bits. */
static inline void sp_test_round_bf16(float *x, uint16_t *bits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h = sp_f32_to_bf16(x[i]);
        x[i] = sp_bf16_to_f32(h);
        if (bits) bits[i] = h;
    }
}

/* A device buffer of `bytes` poisoned with 0xFF (NaN in fp32 and bf16), then SP_GUARD_BYTES of
 * SP_GUARD_BYTE. */
typedef struct {
    void *d;
    size_t bytes;
} sp_dbuf;

static inline sp_dbuf sp_dbuf_new(size_t bytes)
{
    sp_dbuf b = {NULL, bytes};
    SP_CUDA_CHECK(cudaMalloc(&b.d, bytes + SP_GUARD_BYTES));
    SP_CUDA_CHECK(cudaMemset(b.d, 0xFF, bytes));
    SP_CUDA_CHECK(cudaMemset((char *)b.d + bytes, SP_GUARD_BYTE, SP_GUARD_BYTES));
    return b;
}

static inline sp_dbuf sp_dbuf_from(const void *host, size_t bytes)
{
    sp_dbuf b = sp_dbuf_new(bytes);
    if (bytes) SP_CUDA_CHECK(cudaMemcpy(b.d, host, bytes, cudaMemcpyHostToDevice));
    return b;
}

static inline void sp_dbuf_poison(sp_dbuf *b) { SP_CUDA_CHECK(cudaMemset(b->d, 0xFF, b->bytes)); }

static inline void sp_dbuf_get(const sp_dbuf *b, void *host)
{
    SP_CUDA_CHECK(cudaDeviceSynchronize());
    if (b->bytes) SP_CUDA_CHECK(cudaMemcpy(host, b->d, b->bytes, cudaMemcpyDeviceToHost));
}

/* 1 when the guard bytes after the buffer are intact. */
static inline int sp_dbuf_guard_ok(const sp_dbuf *b)
{
    unsigned char g[SP_GUARD_BYTES];
    SP_CUDA_CHECK(cudaDeviceSynchronize());
    SP_CUDA_CHECK(cudaMemcpy(g, (char *)b->d + b->bytes, SP_GUARD_BYTES, cudaMemcpyDeviceToHost));
    for (int i = 0; i < SP_GUARD_BYTES; i++)
        if (g[i] != SP_GUARD_BYTE) return 0;
    return 1;
}

static inline void sp_dbuf_free(sp_dbuf *b)
{
    SP_CUDA_CHECK(cudaFree(b->d));
    b->d = NULL;
}

/* Relative L2 error of out vs ref; -1 (and *bad = the index) on a NaN/Inf mismatch; a zero
 * reference norm compares the absolute norm instead. */
static inline double sp_test_rel_l2(const float *out, const float *ref, size_t n, size_t *bad)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(out[i]) || !isfinite(ref[i])) {
            if (isnan(out[i]) && isnan(ref[i])) continue;
            if (isinf(out[i]) && out[i] == ref[i]) continue;
            *bad = i;
            return -1.0;
        }
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

/* One CHECK for a comparison: names the case, the index of a non-finite mismatch, the error. */
#define SP_CHECK_CLOSE(out, ref, n, tol, ...)                                                   \
    do {                                                                                        \
        size_t sp_bad_ = 0;                                                                     \
        double sp_e_ = sp_test_rel_l2((out), (ref), (n), &sp_bad_);                             \
        char sp_what_[256];                                                                     \
        snprintf(sp_what_, sizeof sp_what_, __VA_ARGS__);                                       \
        if (sp_e_ < 0)                                                                          \
            CHECK(0, "%s: non-finite mismatch at index %zu: out %g, ref %g", sp_what_, sp_bad_, \
                  (double)(out)[sp_bad_], (double)(ref)[sp_bad_]);                              \
        else                                                                                    \
            CHECK(sp_e_ <= (tol), "%s: relative L2 error %.3g > tol %.3g", sp_what_, sp_e_,     \
                  (double)(tol));                                                               \
    } while (0)

#endif
