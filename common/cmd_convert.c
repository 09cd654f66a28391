/* cmd_convert.c — `swarmprune convert MODEL.gguf --out DIR [--dtype f32|bf16]`: turns a llama
 * GGUF file (e.g. a llama.cpp quantization) into a Hugging Face model directory that analyze,
 * tokenize, eval and search read. Weights are dequantized; nothing is written at DIR unless the
 * whole conversion succeeds. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gguf_convert.h"

static void convert_usage(FILE *f)
{
    fprintf(f,
            "usage: swarmprune convert MODEL.gguf --out DIR [--dtype f32|bf16]\n\n"
            "Converts a llama-architecture GGUF file into a Hugging Face directory: config.json,\n"
            "model.safetensors (dequantized weights; Q/K rotary row order restored),\n"
            "tokenizer.json and tokenizer_config.json (byte-level BPE tokenizers only).\n"
            "Tensor types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q6_K.\n\n"
            "options:\n"
            "  --out DIR       output directory (must not exist, or be empty)\n"
            "  --dtype TYPE    f32 (default) or bf16 (rounded to nearest even)\n"
            "  -h, --help      this help\n");
}

int cmd_convert(int argc, char **argv)
{
    if (sp_cli_wants_help(argc, argv)) {
        convert_usage(stdout);
        return SP_EXIT_OK;
    }
    const char *in = NULL, *out = NULL, *dtype = "f32";
    sp_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0) {
            if (sp_cli_value(argc, argv, &i, &out, &err)) return sp_cli_fail("convert", &err);
        } else if (strcmp(argv[i], "--dtype") == 0) {
            if (sp_cli_value(argc, argv, &i, &dtype, &err)) return sp_cli_fail("convert", &err);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return sp_cli_usage_error("convert", "unknown option \"%s\" (see --help)", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return sp_cli_usage_error("convert", "unexpected argument \"%s\"", argv[i]);
        }
    }
    if (!in) return sp_cli_usage_error("convert", "missing MODEL.gguf (see --help)");
    if (!out) return sp_cli_usage_error("convert", "missing --out DIR");
    sp_convert_options opt;
    if (strcmp(dtype, "f32") == 0) opt.dtype = SP_DT_F32;
    else if (strcmp(dtype, "bf16") == 0) opt.dtype = SP_DT_BF16;
    else return sp_cli_usage_error("convert", "--dtype: \"%s\" is not f32 or bf16", dtype);
    double t0 = sp_now();
    sp_convert_result res;
    if (sp_gguf_convert(in, out, &opt, &res, &err)) return sp_cli_fail("convert", &err);
    printf("converted %s -> %s: %lld layers, hidden %lld, heads %lld/%lld, ffn %lld, vocab %lld, "
           "%s embeddings, %lld tensors, %.1f MB %s, %.1f s\n",
           in, out, (long long)res.cfg.n_layers, (long long)res.cfg.hidden,
           (long long)res.cfg.n_heads, (long long)res.cfg.n_kv_heads, (long long)res.cfg.ffn,
           (long long)res.cfg.vocab, res.cfg.tie_embeddings ? "tied" : "untied",
           (long long)res.n_tensors, (double)res.bytes_written / 1e6, dtype, sp_now() - t0);
    return SP_EXIT_OK;
}
