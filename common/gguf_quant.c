/* gguf_quant.c — ggml type table and fp32 dequantizers for the block formats llama.cpp writes.
 * All multi-byte fields are little-endian and read with memcpy (blocks are not aligned in the
 * file). Each dequantizer documents its block layout; the arithmetic follows the format's
 * definition (scale times quant, plus min where the format has one) in fp32. */
#include "gguf_quant.h"

#include <stdio.h>
#include <string.h>

#include "safetensors.h" /* sp_f16_to_f32, sp_bf16_to_f32 */

static const sp_ggml_type_info sp_ggml_types[] = {
    {SP_GGML_F32, "F32", 1, 4, 1},
    {SP_GGML_F16, "F16", 1, 2, 1},
    {SP_GGML_Q4_0, "Q4_0", 32, 18, 1},
    {SP_GGML_Q4_1, "Q4_1", 32, 20, 1},
    {SP_GGML_Q5_0, "Q5_0", 32, 22, 0},
    {SP_GGML_Q5_1, "Q5_1", 32, 24, 0},
    {SP_GGML_Q8_0, "Q8_0", 32, 34, 1},
    {SP_GGML_Q8_1, "Q8_1", 32, 36, 0},
    {SP_GGML_Q2_K, "Q2_K", 256, 84, 0},
    {SP_GGML_Q3_K, "Q3_K", 256, 110, 0},
    {SP_GGML_Q4_K, "Q4_K", 256, 144, 0},
    {SP_GGML_Q5_K, "Q5_K", 256, 176, 0},
    {SP_GGML_Q6_K, "Q6_K", 256, 210, 1},
    {SP_GGML_Q8_K, "Q8_K", 256, 292, 0},
    {SP_GGML_I8, "I8", 1, 1, 0},
    {SP_GGML_I16, "I16", 1, 2, 0},
    {SP_GGML_I32, "I32", 1, 4, 0},
    {SP_GGML_I64, "I64", 1, 8, 0},
    {SP_GGML_F64, "F64", 1, 8, 0},
    {SP_GGML_BF16, "BF16", 1, 2, 1},
};

const sp_ggml_type_info *sp_ggml_type_get(uint32_t id)
{
    for (size_t i = 0; i < sizeof sp_ggml_types / sizeof sp_ggml_types[0]; i++)
        if (sp_ggml_types[i].id == id) return &sp_ggml_types[i];
    return NULL;
}

int sp_ggml_nbytes(uint32_t id, uint64_t n, size_t *out, sp_error *err)
{
    const sp_ggml_type_info *ti = sp_ggml_type_get(id);
    if (!ti) return sp_error_set(err, "unknown ggml tensor type %u", id);
    if (n % ti->block != 0)
        return sp_error_set(err, "%llu elements of %s is not a whole number of %u-element blocks",
                            (unsigned long long)n, ti->name, ti->block);
    if (n / ti->block > SIZE_MAX || sp_mul_size((size_t)(n / ti->block), ti->type_size, out))
        return sp_error_set(err, "%llu elements of %s: byte size overflows",
                            (unsigned long long)n, ti->name);
    return 0;
}

static uint16_t gq_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static float gq_f16(const uint8_t *p)
{
    return sp_f16_to_f32(gq_u16(p));
}

/* Q8_0, 34 bytes per 32 elements: f16 d | int8 q[32].  x[j] = d * q[j]. */
static void gq_q8_0(const uint8_t *b, size_t nb, float *y)
{
    for (size_t i = 0; i < nb; i++, b += 34, y += 32) {
        float d = gq_f16(b);
        for (int j = 0; j < 32; j++) y[j] = d * (float)(int8_t)b[2 + j];
    }
}

/* Q4_0, 18 bytes per 32 elements: f16 d | u8 qs[16]. Element j < 16 is the low nibble of
 * qs[j], element j + 16 its high nibble; x = d * (nibble - 8). */
static void gq_q4_0(const uint8_t *b, size_t nb, float *y)
{
    for (size_t i = 0; i < nb; i++, b += 18, y += 32) {
        float d = gq_f16(b);
        const uint8_t *qs = b + 2;
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((qs[j] & 0x0F) - 8);
            y[j + 16] = d * (float)((qs[j] >> 4) - 8);
        }
    }
}

/* Q4_1, 20 bytes per 32 elements: f16 d | f16 m | u8 qs[16]. Nibbles as Q4_0, unsigned;
 * x = d * nibble + m. */
static void gq_q4_1(const uint8_t *b, size_t nb, float *y)
{
    for (size_t i = 0; i < nb; i++, b += 20, y += 32) {
        float d = gq_f16(b), m = gq_f16(b + 2);
        const uint8_t *qs = b + 4;
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)(qs[j] & 0x0F) + m;
            y[j + 16] = d * (float)(qs[j] >> 4) + m;
        }
    }
}

/* Q6_K, 210 bytes per 256 elements: u8 ql[128] | u8 qh[64] | int8 sc[16] | f16 d.
 * Each 6-bit quant q (0..63) is 4 low bits from ql and 2 high bits from qh; x = d * sc * (q - 32)
 * with one int8 scale per 16 elements. The block is two halves of 128 elements; half h uses
 * ql[64h .. 64h+63], qh[32h .. 32h+31], sc[8h .. 8h+7]. In half h, for l in 0..31, with
 * L = ql + 64h, Q = qh + 32h:
 *   element l      : low nibble of L[l],      bits 0-1 of Q[l]
 *   element l + 32 : low nibble of L[l + 32], bits 2-3 of Q[l]
 *   element l + 64 : high nibble of L[l],     bits 4-5 of Q[l]
 *   element l + 96 : high nibble of L[l + 32], bits 6-7 of Q[l]
 * and element e (0..127) of the half uses scale sc[8h + e / 16]. */
static void gq_q6_k(const uint8_t *b, size_t nb, float *y)
{
    for (size_t i = 0; i < nb; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = gq_f16(b + 208);
        for (int h = 0; h < 2; h++, y += 128) {
            const uint8_t *L = ql + 64 * h, *Q = qh + 32 * h;
            const int8_t *S = sc + 8 * h;
            for (int l = 0; l < 32; l++) {
                int q[4] = {(L[l] & 0x0F) | ((Q[l] & 3) << 4),
                            (L[l + 32] & 0x0F) | (((Q[l] >> 2) & 3) << 4),
                            (L[l] >> 4) | (((Q[l] >> 4) & 3) << 4),
                            (L[l + 32] >> 4) | (((Q[l] >> 6) & 3) << 4)};
                for (int k = 0; k < 4; k++) {
                    int e = l + 32 * k;
                    y[e] = d * (float)S[e / 16] * (float)(q[k] - 32);
                }
            }
        }
    }
}

int sp_ggml_dequantize(uint32_t id, const void *src, size_t n, float *dst, sp_error *err)
{
    const sp_ggml_type_info *ti = sp_ggml_type_get(id);
    if (!ti) return sp_error_set(err, "unknown ggml tensor type %u", id);
    if (!ti->can_dequant)
        return sp_error_set(err, "not implemented: dequantization of %s tensors", ti->name);
    SP_ASSERT(n % ti->block == 0);
    const uint8_t *b = src;
    size_t nb = n / ti->block;
    switch (id) {
    case SP_GGML_F32:
        memcpy(dst, src, n * sizeof(float)); /* little-endian host checked by sp_gguf_open */
        break;
    case SP_GGML_F16:
        for (size_t i = 0; i < n; i++) dst[i] = sp_f16_to_f32(gq_u16(b + 2 * i));
        break;
    case SP_GGML_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = sp_bf16_to_f32(gq_u16(b + 2 * i));
        break;
    case SP_GGML_Q8_0: gq_q8_0(b, nb, dst); break;
    case SP_GGML_Q4_0: gq_q4_0(b, nb, dst); break;
    case SP_GGML_Q4_1: gq_q4_1(b, nb, dst); break;
    case SP_GGML_Q6_K: gq_q6_k(b, nb, dst); break;
    default: SP_ASSERT_MSG(0, "type %s marked dequantizable without a case", ti->name);
    }
    return 0;
}
