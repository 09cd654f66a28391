/* seed_gguf.c — writes the GGUF seed files of the fuzz corpus (no GGUF fixture exists): a tiny
 * two-layer llama with a byte-level BPE tokenizer and tensors in F32, F16, BF16, Q8_0, Q4_0,
 * Q4_1 and Q6_K (the types the converter dequantizes), plus a file with the metadata and the
 * embedding only. Usage: sp_fuzz_seed_gguf DIR. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "common/gguf_quant.h"
#include "tests/gguf_craft.h"

enum { L = 2, H = 32, NH = 4, NKV = 2, D = 8, F = 256, V = 262 };

/* GPT-2's byte-to-unicode map: printable Latin-1 bytes map to themselves, the rest to 256+. */
static int seed_byte_cp(int b)
{
    int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    if (keep) return b;
    int n = 0;
    for (int x = 0; x < b; x++) n += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174);
    return 256 + n;
}

static void seed_tokenizer(gc_file *f)
{
    static char bytes[256][4];
    const char *toks[V];
    int32_t types[V];
    toks[0] = "<|begin_of_text|>";
    toks[1] = "<|end_of_text|>";
    for (int b = 0; b < 256; b++) {
        int cp = seed_byte_cp(b);
        if (cp < 0x80) bytes[b][0] = (char)cp, bytes[b][1] = 0;
        else bytes[b][0] = (char)(0xC0 | (cp >> 6)), bytes[b][1] = (char)(0x80 | (cp & 63));
        toks[2 + b] = bytes[b];
    }
    toks[258] = "\xc4\xa0t", toks[259] = "he", toks[260] = "\xc4\xa0the", toks[261] = "<tool>";
    for (int i = 0; i < V; i++) types[i] = i < 2 ? 3 : i == 261 ? 4 : 1;
    const char *merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he"};
    gc_kv_str(f, "tokenizer.ggml.model", "gpt2");
    gc_kv_str(f, "tokenizer.ggml.pre", "llama-bpe");
    gc_kv_strs(f, "tokenizer.ggml.tokens", toks, V);
    gc_kv_i32s(f, "tokenizer.ggml.token_type", types, V);
    gc_kv_strs(f, "tokenizer.ggml.merges", merges, 3);
    gc_kv_u32(f, "tokenizer.ggml.bos_token_id", 0);
    gc_kv_u32(f, "tokenizer.ggml.eos_token_id", 1);
    gc_kv_bool(f, "tokenizer.ggml.add_bos_token", 1);
}

static void seed_meta(gc_file *f)
{
    gc_kv_str(f, "general.architecture", "llama");
    gc_kv_str(f, "general.name", "fuzz-seed");
    gc_kv_u32(f, "llama.block_count", L);
    gc_kv_u32(f, "llama.context_length", 128);
    gc_kv_u32(f, "llama.embedding_length", H);
    gc_kv_u32(f, "llama.feed_forward_length", F);
    gc_kv_u32(f, "llama.attention.head_count", NH);
    gc_kv_u32(f, "llama.attention.head_count_kv", NKV);
    gc_kv_f32(f, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gc_kv_f32(f, "llama.rope.freq_base", 10000.0f);
    gc_kv_u32(f, "llama.rope.dimension_count", D);
}

/* Bytes of a tensor of `rows` rows of ne0 elements in ggml type ty; block scales are small
 * finite f16 values (0x2C00 = 0.0625) so that dequantized weights are finite. */
static size_t seed_fill(uint8_t *buf, uint32_t ty, int64_t ne0, int64_t rows, int salt)
{
    size_t blk, bsz, n;
    switch (ty) {
    case SP_GGML_F32: bsz = 4, blk = 1; break;
    case SP_GGML_F16: case SP_GGML_BF16: bsz = 2, blk = 1; break;
    case SP_GGML_Q8_0: bsz = 34, blk = 32; break;
    case SP_GGML_Q4_0: bsz = 18, blk = 32; break;
    case SP_GGML_Q4_1: bsz = 20, blk = 32; break;
    case SP_GGML_Q6_K: bsz = 210, blk = 256; break;
    default: abort();
    }
    n = (size_t)(ne0 * rows) / blk;
    for (size_t b = 0; b < n; b++) {
        uint8_t *p = buf + b * bsz;
        for (size_t j = 0; j < bsz; j++) p[j] = (uint8_t)((b * 7 + j * 13 + (size_t)salt) % 251);
        uint16_t s = 0x2C00;
        if (ty == SP_GGML_F32) memcpy(p, &(float){(float)((b + (size_t)salt) % 9) * 0.125f - 0.5f}, 4);
        else if (ty == SP_GGML_F16) memcpy(p, &(uint16_t){(uint16_t)(0x2C00 + b % 64)}, 2);
        else if (ty == SP_GGML_BF16) memcpy(p, &(uint16_t){(uint16_t)(0x3D80 + b % 64)}, 2);
        else if (ty == SP_GGML_Q6_K) memcpy(p + 208, &s, 2);
        else memcpy(p, &s, 2), (ty == SP_GGML_Q4_1 ? memcpy(p + 2, &s, 2) : NULL);
    }
    return n * bsz;
}

static void seed_tensor(gc_file *f, const char *name, int nd, int64_t ne0, int64_t ne1, uint32_t ty,
                        int salt)
{
    static uint8_t buf[1 << 16];
    size_t nb = seed_fill(buf, ty, ne0, ne1, salt);
    gc_tensor(f, name, nd, (uint64_t[]){(uint64_t)ne0, (uint64_t)ne1}, ty, buf, nb);
}

static int seed_write(const char *dir, const char *name, gc_file *f)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gc_buf b = gc_build(f, NULL, NULL);
    int rc = gc_write(path, b.p, b.len);
    if (rc) perror(path);
    free(b.p);
    gc_free(f);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    gc_file f;
    memset(&f, 0, sizeof f);
    seed_meta(&f);
    seed_tokenizer(&f);
    seed_tensor(&f, "token_embd.weight", 2, H, V, SP_GGML_Q8_0, 1);
    char name[64];
    for (int l = 0; l < L; l++) {
#define T(nm, nd, ne0, ne1, ty)                                         \
    snprintf(name, sizeof name, "blk.%d." nm ".weight", l);             \
    seed_tensor(&f, name, nd, ne0, ne1, ty, l * 16 + __LINE__)
        T("attn_norm", 1, H, 1, SP_GGML_F32);
        T("attn_q", 2, H, H, SP_GGML_F16);
        T("attn_k", 2, H, NKV * D, SP_GGML_BF16);
        T("attn_v", 2, H, NKV * D, SP_GGML_Q8_0);
        T("attn_output", 2, H, H, SP_GGML_F32);
        T("ffn_norm", 1, H, 1, SP_GGML_F32);
        T("ffn_gate", 2, H, F, SP_GGML_Q4_1);
        T("ffn_up", 2, H, F, SP_GGML_Q4_0);
        T("ffn_down", 2, F, H, l ? SP_GGML_F16 : SP_GGML_Q6_K);
#undef T
    }
    seed_tensor(&f, "output_norm.weight", 1, H, 1, SP_GGML_F32, 5);
    seed_tensor(&f, "output.weight", 2, H, V, SP_GGML_F16, 6);
    if (seed_write(argv[1], "llama-tiny.gguf", &f)) return 1;
    memset(&f, 0, sizeof f); /* no layers' tensors, alignment key */
    seed_meta(&f);
    gc_kv_u32(&f, "general.alignment", 64);
    f.alignment = 64;
    seed_tokenizer(&f);
    seed_tensor(&f, "token_embd.weight", 2, H, V, SP_GGML_F32, 2);
    if (seed_write(argv[1], "llama-meta.gguf", &f)) return 1;
    return 0;
}
