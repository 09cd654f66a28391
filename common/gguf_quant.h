/* gguf_quant.h — ggml tensor types as stored in GGUF files: block size and bytes per block for
 * every type the reader validates, and dequantization to fp32 for F32, F16, BF16, Q8_0, Q4_0,
 * Q4_1 and Q6_K (the types llama.cpp uses for the usual Llama quantizations). A tensor row of
 * ne[0] elements holds ne[0] / block_size consecutive blocks. */
#ifndef SP_GGUF_QUANT_H
#define SP_GGUF_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* ggml type ids (stable numbers from the GGUF format). */
enum {
    SP_GGML_F32 = 0,
    SP_GGML_F16 = 1,
    SP_GGML_Q4_0 = 2,
    SP_GGML_Q4_1 = 3,
    SP_GGML_Q5_0 = 6,
    SP_GGML_Q5_1 = 7,
    SP_GGML_Q8_0 = 8,
    SP_GGML_Q8_1 = 9,
    SP_GGML_Q2_K = 10,
    SP_GGML_Q3_K = 11,
    SP_GGML_Q4_K = 12,
    SP_GGML_Q5_K = 13,
    SP_GGML_Q6_K = 14,
    SP_GGML_Q8_K = 15,
    SP_GGML_I8 = 24,
    SP_GGML_I16 = 25,
    SP_GGML_I32 = 26,
    SP_GGML_I64 = 27,
    SP_GGML_F64 = 28,
    SP_GGML_BF16 = 30,
};

typedef struct {
    uint32_t id;
    const char *name;   /* "Q4_1", ... */
    uint32_t block;     /* elements per block */
    uint32_t type_size; /* bytes per block */
    int can_dequant;    /* 1 when sp_ggml_dequantize handles it */
} sp_ggml_type_info;

/* NULL for an id this reader does not know (the i-quants among them). */
const sp_ggml_type_info *sp_ggml_type_get(uint32_t id);

/* Bytes of n elements (n must be a multiple of the block size): -1 with a message otherwise or
 * on overflow. */
int sp_ggml_nbytes(uint32_t id, uint64_t n, size_t *out, sp_error *err);

/* Dequantizes n elements (a multiple of the type's block size) from src to dst (n floats).
 * Returns -1 with "not implemented: dequantization of TYPE" for types without a dequantizer. */
int sp_ggml_dequantize(uint32_t id, const void *src, size_t n, float *dst, sp_error *err);

#endif
