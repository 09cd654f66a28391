/* gguf_convert.c — GGUF (llama architecture) -> Hugging Face directory: config mapping from the
 * llama.* keys, tensor name/shape mapping (GGUF ne[0] is the column count, so a GGUF [cols, rows]
 * tensor is HF [rows, cols]), row-by-row dequantization with the Q/K rotary permutation undone,
 * a streaming safetensors write, and an atomic rename of the finished directory. */
#include "gguf_convert.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_quant.h"
#include "mask.h"
#include "safetensors_write.h"

/* --- config ------------------------------------------------------------------------------ */

/* The shortest decimal that reads back as the same float32 (1e-05, not 9.99999975e-06). */
static double cv_shortest_f32(double x)
{
    float f = (float)x;
    char buf[48];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if (strtof(buf, NULL) == f) return strtod(buf, NULL);
    }
    return (double)f;
}

/* x rounded as cv_shortest_f32 does into *out; 0 when that lies in [lo, hi] (0 < lo <= hi), the
 * ranges config.json accepts (model_config.c), so the written config parses back. */
static int cv_f32_in(double x, double lo, double hi, double *out)
{
    if (!(x >= lo / 2 && x <= hi * 2)) return -1; /* also NaN; keeps the float cast in range */
    *out = cv_shortest_f32(x);
    return *out >= lo && *out <= hi ? 0 : -1;
}

static int cv_arch(const sp_gguf *g, sp_error *err)
{
    const char *arch;
    size_t len;
    if (sp_gguf_get_str(g, "general.architecture", 1, &arch, &len, err) < 0) return -1;
    if (len != 5 || memcmp(arch, "llama", 5) != 0)
        return sp_error_set(err, "%s: metadata key \"general.architecture\": \"%.*s\" is not "
                                 "supported (only \"llama\")", g->path, (int)(len < 64 ? len : 64),
                            arch);
    int64_t experts = 0;
    if (sp_gguf_get_int(g, "llama.expert_count", 0, 0, INT32_MAX, &experts, err) < 0) return -1;
    if (experts > 0)
        return sp_error_set(err, "%s: metadata key \"llama.expert_count\": not implemented: "
                                 "mixture-of-experts models (%lld experts)", g->path,
                            (long long)experts);
    return 0;
}

static int cv_dims(const sp_gguf *g, sp_model_config *cfg, sp_error *err)
{
    int64_t kl = 0, vl = 0, rd = 0;
    if (sp_gguf_get_int(g, "llama.block_count", 1, 1, INT32_MAX, &cfg->n_layers, err) < 0)
        return -1;
    if (cfg->n_layers > SP_MAX_LAYERS) /* one limit for the whole program (mask.h) */
        return sp_error_set(err, "%s: metadata key \"llama.block_count\": %lld layers: swarmprune "
                                 "handles at most %d layers (SP_MAX_LAYERS)", g->path,
                            (long long)cfg->n_layers, SP_MAX_LAYERS);
    if (sp_gguf_get_int(g, "llama.embedding_length", 1, 1, 1 << 20, &cfg->hidden, err) < 0 ||
        sp_gguf_get_int(g, "llama.feed_forward_length", 1, 1, 1 << 22, &cfg->ffn, err) < 0 ||
        sp_gguf_get_int(g, "llama.attention.head_count", 1, 1, 4096, &cfg->n_heads, err) < 0 ||
        sp_gguf_get_int(g, "llama.context_length", 1, 1, INT64_C(1) << 40, &cfg->max_pos,
                        err) < 0)
        return -1;
    cfg->n_kv_heads = cfg->n_heads;
    if (sp_gguf_get_int(g, "llama.attention.head_count_kv", 0, 1, 4096, &cfg->n_kv_heads,
                        err) < 0)
        return -1;
    if (cfg->n_heads % cfg->n_kv_heads != 0)
        return sp_error_set(err, "%s: llama.attention.head_count_kv %lld does not divide "
                                 "head_count %lld", g->path, (long long)cfg->n_kv_heads,
                            (long long)cfg->n_heads);
    if (cfg->hidden % cfg->n_heads != 0)
        return sp_error_set(err, "%s: llama.embedding_length %lld is not a multiple of "
                                 "llama.attention.head_count %lld", g->path,
                            (long long)cfg->hidden, (long long)cfg->n_heads);
    cfg->head_dim = cfg->hidden / cfg->n_heads;
    kl = vl = rd = cfg->head_dim;
    if (sp_gguf_get_int(g, "llama.attention.key_length", 0, 1, 4096, &kl, err) < 0 ||
        sp_gguf_get_int(g, "llama.attention.value_length", 0, 1, 4096, &vl, err) < 0 ||
        sp_gguf_get_int(g, "llama.rope.dimension_count", 0, 1, 4096, &rd, err) < 0)
        return -1;
    if (kl != vl)
        return sp_error_set(err, "%s: llama.attention.key_length %lld != value_length %lld: not "
                                 "supported", g->path, (long long)kl, (long long)vl);
    cfg->head_dim = kl;
    if (rd != cfg->head_dim || cfg->head_dim % 2 != 0)
        return sp_error_set(err, "%s: llama.rope.dimension_count %lld must equal the (even) head "
                                 "dimension %lld (partial rotary is not supported)", g->path,
                            (long long)rd, (long long)cfg->head_dim);
    return 0;
}

static int cv_rope(const sp_gguf *g, sp_model_config *cfg, sp_error *err)
{
    double eps = 0, factor = 0;
    if (sp_gguf_get_double(g, "llama.attention.layer_norm_rms_epsilon", 1, &eps, err) < 0)
        return -1;
    if (cv_f32_in(eps, 1e-12, 1, &cfg->rms_eps))
        return sp_error_set(err, "%s: llama.attention.layer_norm_rms_epsilon %g outside "
                                 "[1e-12, 1]", g->path, eps);
    cfg->rope_theta = 10000.0;
    if (sp_gguf_get_double(g, "llama.rope.freq_base", 0, &cfg->rope_theta, err) < 0) return -1;
    double theta = cfg->rope_theta;
    if (cv_f32_in(theta, 1, 1e12, &cfg->rope_theta))
        return sp_error_set(err, "%s: llama.rope.freq_base %g outside [1, 1e12]", g->path, theta);
    cfg->rope_kind = SP_ROPE_DEFAULT;
    cfg->rope_factor = 1.0;
    const char *type = "none";
    size_t tlen = 4;
    if (sp_gguf_get_str(g, "llama.rope.scaling.type", 0, &type, &tlen, err) < 0) return -1;
    int rc = sp_gguf_get_double(g, "llama.rope.scale_linear", 0, &factor, err); /* older key */
    if (rc < 0) return -1;
    if (rc == 1 && factor != 1.0) type = "linear", tlen = 6;
    if (tlen == 4 && memcmp(type, "none", 4) == 0) return 0;
    if (tlen != 6 || memcmp(type, "linear", 6) != 0)
        return sp_error_set(err, "%s: llama.rope.scaling.type \"%.*s\" is not supported (none, "
                                 "linear)", g->path, (int)(tlen < 32 ? tlen : 32), type);
    if (rc != 1 && sp_gguf_get_double(g, "llama.rope.scaling.factor", 1, &factor, err) < 0)
        return -1;
    cfg->rope_kind = SP_ROPE_LINEAR;
    if (cv_f32_in(factor, 1e-6, 1e6, &cfg->rope_factor))
        return sp_error_set(err, "%s: rope scaling factor %g outside [1e-6, 1e6]", g->path,
                            factor);
    return 0;
}

int sp_gguf_to_config(const sp_gguf *g, sp_model_config *cfg, sp_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->architecture, sizeof cfg->architecture, "LlamaForCausalLM");
    if (cv_arch(g, err) || cv_dims(g, cfg, err) || cv_rope(g, cfg, err)) return -1;
    if (sp_gguf_find_tensor(g, "rope_freqs.weight"))
        return sp_error_set(err, "%s: tensor \"rope_freqs.weight\": not implemented: Llama-3.1 "
                                 "rope frequency factors in GGUF", g->path);
    const sp_gguf_tensor *emb = sp_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return sp_error_set(err, "%s: tensor \"token_embd.weight\" is missing", g->path);
    if (emb->n_dims != 2 || emb->ne[0] != cfg->hidden)
        return sp_error_set(err, "%s: tensor \"token_embd.weight\": expected [%lld, V], got n_dims "
                                 "%d ne[0] %lld", g->path, (long long)cfg->hidden, emb->n_dims,
                            (long long)emb->ne[0]);
    cfg->vocab = emb->ne[1];
    if (cfg->vocab > (1 << 24)) /* config.json's limit (model_config.c) */
        return sp_error_set(err, "%s: tensor \"token_embd.weight\": %lld tokens, at most %d "
                                 "supported", g->path, (long long)cfg->vocab, 1 << 24);
    int64_t v = cfg->vocab;
    if (sp_gguf_get_int(g, "llama.vocab_size", 0, 1, INT32_MAX, &v, err) < 0) return -1;
    if (v != cfg->vocab)
        return sp_error_set(err, "%s: llama.vocab_size %lld != token_embd.weight rows %lld",
                            g->path, (long long)v, (long long)cfg->vocab);
    cfg->tie_embeddings = sp_gguf_find_tensor(g, "output.weight") == NULL;
    cfg->bos_id = -1;
    int64_t id = -1;
    if (sp_gguf_get_int(g, "tokenizer.ggml.bos_token_id", 0, 0, cfg->vocab - 1, &cfg->bos_id,
                        err) < 0 ||
        sp_gguf_get_int(g, "tokenizer.ggml.eos_token_id", 0, 0, cfg->vocab - 1, &id, err) < 0)
        return -1;
    if (id >= 0) cfg->eos_ids[cfg->n_eos++] = id;
    return 0;
}

static cJSON *cv_config_json(const sp_model_config *c)
{
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(a, cJSON_CreateString(c->architecture));
    cJSON_AddStringToObject(o, "model_type", "llama");
    cJSON_AddFalseToObject(o, "attention_bias");
    cJSON_AddFalseToObject(o, "mlp_bias");
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddNumberToObject(o, "hidden_size", (double)c->hidden);
    cJSON_AddNumberToObject(o, "intermediate_size", (double)c->ffn);
    cJSON_AddNumberToObject(o, "num_hidden_layers", (double)c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", (double)c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", (double)c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", (double)c->head_dim);
    cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab);
    cJSON_AddNumberToObject(o, "max_position_embeddings", (double)c->max_pos);
    cJSON_AddNumberToObject(o, "rms_norm_eps", c->rms_eps);
    cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
    if (c->rope_kind == SP_ROPE_LINEAR) {
        cJSON *rs = cJSON_AddObjectToObject(o, "rope_scaling");
        cJSON_AddStringToObject(rs, "rope_type", "linear");
        cJSON_AddNumberToObject(rs, "factor", c->rope_factor);
    } else {
        cJSON_AddNullToObject(o, "rope_scaling");
    }
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_embeddings);
    if (c->bos_id >= 0) cJSON_AddNumberToObject(o, "bos_token_id", (double)c->bos_id);
    if (c->n_eos > 0) cJSON_AddNumberToObject(o, "eos_token_id", (double)c->eos_ids[0]);
    cJSON_AddStringToObject(o, "torch_dtype", c->torch_dtype);
    return o;
}

/* Writes dir/config.json and checks it parses back through sp_config_parse. */
static int cv_write_config(const sp_model_config *cfg, const char *dir, sp_error *err)
{
    cJSON *o = cv_config_json(cfg);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    SP_ASSERT(text);
    char path[4400];
    snprintf(path, sizeof path, "%s/config.json", dir);
    sp_model_config back;
    int rc = sp_config_parse(text, strlen(text), path, &back, err);
    SP_ASSERT_MSG(rc == 0, "generated config.json does not parse: %s", err ? err->msg : "");
    FILE *f = fopen(path, "w");
    rc = !f || fputs(text, f) < 0 || fputc('\n', f) == EOF;
    if (f && fclose(f) != 0) rc = 1;
    free(text);
    return rc ? sp_error_set(err, "%s: write error", path) : 0;
}

/* --- tensors ----------------------------------------------------------------------------- */

typedef struct {
    char gguf[80];
    char hf[96];
    int ndim;         /* 1 (norms) or 2 */
    int64_t rows, cols;
    int64_t perm_dim; /* head_dim when the rows carry llama.cpp's rotary permutation, else 0 */
    const sp_gguf_tensor *t;
} cv_map;

int64_t sp_gguf_qk_source_row(int64_t hf_row, int64_t head_dim)
{
    int64_t half = head_dim / 2, h = hf_row / head_dim, w = hf_row % head_dim;
    return h * head_dim + 2 * (w % half) + w / half; /* HF (h, p, i) sits at GGUF (h, i, p) */
}

static void cv_add(cv_map *m, int *n, const char *gg, const char *hf, int ndim, int64_t rows,
                   int64_t cols, int64_t perm)
{
    cv_map *e = &m[(*n)++];
    snprintf(e->gguf, sizeof e->gguf, "%s", gg);
    snprintf(e->hf, sizeof e->hf, "%s", hf);
    e->ndim = ndim;
    e->rows = rows;
    e->cols = cols;
    e->perm_dim = perm;
    e->t = NULL;
}

/* The expected tensors in HF order. Returns the count; m has room for 9 L + 3. */
static int cv_build_map(const sp_model_config *c, cv_map *m)
{
    int n = 0;
    int64_t H = c->hidden, F = c->ffn, D = c->head_dim, Q = c->n_heads * D, K = c->n_kv_heads * D;
    cv_add(m, &n, "token_embd.weight", "model.embed_tokens.weight", 2, c->vocab, H, 0);
    for (int64_t l = 0; l < c->n_layers; l++) {
        char g[80], h[96];
#define CV_LAYER(gname, hname, nd, r, cc, p)                                                  \
    do {                                                                                      \
        snprintf(g, sizeof g, "blk.%lld." gname ".weight", (long long)l);                     \
        snprintf(h, sizeof h, "model.layers.%lld." hname ".weight", (long long)l);            \
        cv_add(m, &n, g, h, nd, r, cc, p);                                                    \
    } while (0)
        CV_LAYER("attn_norm", "input_layernorm", 1, 1, H, 0);
        CV_LAYER("attn_q", "self_attn.q_proj", 2, Q, H, D);
        CV_LAYER("attn_k", "self_attn.k_proj", 2, K, H, D);
        CV_LAYER("attn_v", "self_attn.v_proj", 2, K, H, 0);
        CV_LAYER("attn_output", "self_attn.o_proj", 2, H, Q, 0);
        CV_LAYER("ffn_norm", "post_attention_layernorm", 1, 1, H, 0);
        CV_LAYER("ffn_gate", "mlp.gate_proj", 2, F, H, 0);
        CV_LAYER("ffn_up", "mlp.up_proj", 2, F, H, 0);
        CV_LAYER("ffn_down", "mlp.down_proj", 2, H, F, 0);
#undef CV_LAYER
    }
    cv_add(m, &n, "output_norm.weight", "model.norm.weight", 1, 1, H, 0);
    if (!c->tie_embeddings) cv_add(m, &n, "output.weight", "lm_head.weight", 2, c->vocab, H, 0);
    return n;
}

/* Finds every expected tensor, checks its shape and type, and refuses unexpected ones. */
static int cv_match(const sp_gguf *g, cv_map *m, int n, sp_error *err)
{
    for (int i = 0; i < n; i++) {
        const sp_gguf_tensor *t = sp_gguf_find_tensor(g, m[i].gguf);
        if (!t) return sp_error_set(err, "%s: tensor \"%s\" is missing", g->path, m[i].gguf);
        int ok = t->n_dims == m[i].ndim && t->ne[0] == m[i].cols &&
                 (m[i].ndim == 1 || t->ne[1] == m[i].rows);
        if (!ok)
            return sp_error_set(err, "%s: tensor \"%s\" (info at byte offset %zu): expected ne "
                                     "[%lld, %lld], got n_dims %d ne [%lld, %lld]", g->path,
                                m[i].gguf, t->info_offset, (long long)m[i].cols,
                                (long long)m[i].rows, t->n_dims, (long long)t->ne[0],
                                (long long)t->ne[1]);
        if (!sp_ggml_type_get(t->type)->can_dequant)
            return sp_error_set(err, "%s: tensor \"%s\": not implemented: dequantization of %s",
                                g->path, m[i].gguf, sp_ggml_type_get(t->type)->name);
        m[i].t = t;
    }
    if (g->n_tensors != n)
        for (int64_t j = 0; j < g->n_tensors; j++) {
            int found = 0;
            for (int i = 0; i < n && !found; i++) found = strcmp(m[i].gguf, g->tensors[j].name) == 0;
            if (!found)
                return sp_error_set(err, "%s: tensor \"%s\" is not part of a Llama model (not "
                                         "supported)", g->path, g->tensors[j].name);
        }
    return 0;
}

/* Dequantizes one tensor row by row (source rows permuted for Q/K) and streams it out. */
static int cv_write_tensor(const sp_gguf *g, const cv_map *e, sp_dtype dt, sp_st_writer *w,
                           float *row, uint16_t *half, sp_error *err)
{
    const sp_gguf_tensor *t = e->t;
    size_t row_bytes = t->nbytes / (size_t)e->rows;
    for (int64_t r = 0; r < e->rows; r++) {
        int64_t src = e->perm_dim ? sp_gguf_qk_source_row(r, e->perm_dim) : r;
        const uint8_t *p = (const uint8_t *)t->data + (size_t)src * row_bytes;
        if (sp_ggml_dequantize(t->type, p, (size_t)e->cols, row, err))
            return sp_error_wrap(err, "%s: tensor \"%s\"", g->path, e->gguf);
        for (int64_t c = 0; c < e->cols; c++)
            if (!isfinite(row[c]))
                return sp_error_set(err, "%s: tensor \"%s\": row %lld column %lld dequantizes to "
                                         "a non-finite value", g->path, e->gguf, (long long)src,
                                    (long long)c);
        int rc;
        if (dt == SP_DT_BF16) {
            for (int64_t c = 0; c < e->cols; c++) half[c] = sp_f32_to_bf16(row[c]);
            rc = sp_st_writer_write(w, half, (size_t)e->cols * 2, err);
        } else {
            rc = sp_st_writer_write(w, row, (size_t)e->cols * 4, err);
        }
        if (rc) return -1;
    }
    return 0;
}

static int cv_write_weights(const sp_gguf *g, const sp_model_config *cfg, sp_dtype dt,
                            const char *dir, sp_convert_result *res, sp_error *err)
{
    int cap = (int)(9 * cfg->n_layers + 3), n;
    cv_map *m = sp_xcalloc((size_t)cap, sizeof *m);
    sp_stw_tensor *specs = sp_xcalloc((size_t)cap, sizeof *specs);
    n = cv_build_map(cfg, m);
    int rc = cv_match(g, m, n, err);
    for (int i = 0; i < n && !rc; i++) {
        specs[i].name = m[i].hf;
        specs[i].dtype = dt;
        specs[i].ndim = m[i].ndim;
        specs[i].shape[0] = m[i].ndim == 1 ? m[i].cols : m[i].rows;
        specs[i].shape[1] = m[i].cols;
    }
    char path[4400], src[64];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    const char *base = strrchr(g->path, '/') ? strrchr(g->path, '/') + 1 : g->path;
    snprintf(src, sizeof src, "%u", g->version);
    const char *meta[] = {"format", "pt", "source", "gguf", "gguf_file", base,
                          "gguf_version", src, NULL};
    sp_st_writer w;
    if (!rc) rc = sp_st_writer_open(&w, path, specs, n, meta, err);
    if (!rc) {
        int64_t maxc = cfg->hidden > cfg->ffn ? cfg->hidden : cfg->ffn;
        if (cfg->n_heads * cfg->head_dim > maxc) maxc = cfg->n_heads * cfg->head_dim;
        float *row = sp_xmalloc((size_t)maxc * sizeof(float));        /* [cols] f32 */
        uint16_t *half = sp_xmalloc((size_t)maxc * sizeof(uint16_t)); /* [cols] bf16 */
        for (int i = 0; i < n && !rc; i++) rc = cv_write_tensor(g, &m[i], dt, &w, row, half, err);
        free(row);
        free(half);
        if (rc) sp_st_writer_abort(&w);
        else rc = sp_st_writer_close(&w, err);
    }
    if (!rc) {
        res->n_tensors = n;
        for (int i = 0; i < n; i++)
            res->bytes_written += (uint64_t)(m[i].rows * m[i].cols) * sp_dtype_size(dt);
    }
    free(specs);
    free(m);
    return rc ? -1 : 0;
}

/* --- directory ----------------------------------------------------------------------------- */

/* 0 when `dir` does not exist or is an empty directory, else -1 with a message. */
static int cv_check_out(const char *dir, int *exists, sp_error *err)
{
    struct stat sb;
    *exists = 0;
    if (stat(dir, &sb) != 0) return 0;
    if (!S_ISDIR(sb.st_mode))
        return sp_error_set(err, "--out %s: exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d) return sp_error_set(err, "--out %s: cannot read the directory", dir);
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
    closedir(d);
    if (!empty) return sp_error_set(err, "--out %s: directory exists and is not empty", dir);
    *exists = 1;
    return 0;
}

static void cv_remove_tmp(const char *tmp)
{
    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                        "tokenizer_config.json", NULL};
    char path[4400];
    for (const char *const *f = files; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", tmp, *f);
        unlink(path);
    }
    rmdir(tmp);
}

int sp_gguf_convert(const char *gguf_path, const char *out_dir, const sp_convert_options *opt,
                    sp_convert_result *res, sp_error *err)
{
    memset(res, 0, sizeof *res);
    SP_ASSERT(opt->dtype == SP_DT_F32 || opt->dtype == SP_DT_BF16);
    int exists;
    if (strlen(out_dir) == 0 || strlen(out_dir) > 4000)
        return sp_error_set(err, "--out: path is empty or too long");
    if (cv_check_out(out_dir, &exists, err)) return -1;
    sp_gguf g;
    if (sp_gguf_open(gguf_path, &g, err)) return -1;
    sp_model_config *cfg = &res->cfg;
    if (sp_gguf_to_config(&g, cfg, err)) {
        sp_gguf_close(&g);
        return -1;
    }
    snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s",
             opt->dtype == SP_DT_BF16 ? "bfloat16" : "float32");
    char outp[4096], tmp[4120];
    snprintf(outp, sizeof outp, "%s", out_dir);
    while (strlen(outp) > 1 && outp[strlen(outp) - 1] == '/') outp[strlen(outp) - 1] = '\0';
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", outp);
    if (!mkdtemp(tmp)) {
        sp_gguf_close(&g);
        return sp_error_set(err, "--out %s: cannot create a temporary directory beside it (%s)",
                            out_dir, strerror(errno));
    }
    mode_t um = umask(0); /* mkdtemp made it 0700: give the final directory the usual mode */
    umask(um);
    int rc = chmod(tmp, 0777 & ~um) != 0;
    if (rc) sp_error_set(err, "%s: chmod failed (%s)", tmp, strerror(errno));
    rc = rc || cv_write_config(cfg, tmp, err) || sp_gguf_write_tokenizer(&g, cfg, tmp, err) ||
             cv_write_weights(&g, cfg, opt->dtype, tmp, res, err);
    sp_gguf_close(&g);
    if (!rc && exists && rmdir(outp) != 0)
        rc = sp_error_set(err, "--out %s: cannot replace the empty directory (%s)", out_dir,
                          strerror(errno)) != 0;
    if (!rc && rename(tmp, outp) != 0)
        rc = sp_error_set(err, "--out %s: cannot rename %s into place (%s)", out_dir, tmp,
                          strerror(errno)) != 0;
    if (rc) {
        cv_remove_tmp(tmp);
        return -1;
    }
    return 0;
}
