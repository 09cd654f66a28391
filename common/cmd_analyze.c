/* cmd_analyze.c — `swarmprune analyze MODEL_DIR_OR_CONFIG [--json]`: architecture summary,
 * per-layer parameters and bytes (real tensor bytes when weights are present, else from the
 * config with the config's dtype), embedding/head sizes, totals, and the model size after
 * removing 10%..50% of the layers. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "model.h"

typedef struct {
    const char *path;
    sp_model_config cfg;
    int have_weights;
    int n_files, n_tensors;   /* weights only */
    size_t bytes_per_param;   /* config only */
    int64_t *layer_params;    /* [L] */
    size_t *layer_bytes;      /* [L] */
    int64_t embed_params, head_params; /* head: lm_head (0 when tied) + final norm */
    size_t embed_bytes, head_bytes;
    int64_t total_params;
    size_t total_bytes;
} an_summary;

static const int an_percents[5] = {10, 20, 30, 40, 50};

static void an_usage(FILE *f)
{
    fprintf(f,
            "usage: swarmprune analyze MODEL_DIR_OR_CONFIG [--json]\n\n"
            "Prints the architecture, per-layer parameters and bytes, embedding/head sizes,\n"
            "totals, and the model size after removing 10%%, 20%%, 30%%, 40%%, 50%% of the\n"
            "layers.\n"
            "MODEL_DIR_OR_CONFIG is a Hugging Face model directory (config.json + safetensors:\n"
            "byte counts come from the real tensors), a directory holding only config.json, or a\n"
            "config.json file (counts from the config, bytes from its torch_dtype; bf16 assumed\n"
            "when absent).\n\n"
            "options:\n"
            "  --json     print one JSON object instead of tables\n"
            "  -h, --help this text\n");
}

static int an_file_exists(const char *dir, const char *name)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

static int an_dtype_bytes(const sp_model_config *c, const char *cfgpath, size_t *out,
                          sp_error *err)
{
    const char *dt = c->torch_dtype;
    if (!dt[0] || strcmp(dt, "bfloat16") == 0 || strcmp(dt, "float16") == 0) *out = 2;
    else if (strcmp(dt, "float32") == 0) *out = 4;
    else
        return sp_error_set(err, "%s: torch_dtype: cannot size \"%s\" (supported: bfloat16, "
                                 "float16, float32)", cfgpath, dt);
    return 0;
}

static int an_from_config(an_summary *s, const char *cfgpath, sp_error *err)
{
    if (sp_config_load(cfgpath, &s->cfg, err) ||
        an_dtype_bytes(&s->cfg, cfgpath, &s->bytes_per_param, err))
        return -1;
    const sp_model_config *c = &s->cfg;
    size_t bpp = s->bytes_per_param;
    s->layer_params = sp_xcalloc((size_t)c->n_layers, sizeof *s->layer_params);
    s->layer_bytes = sp_xcalloc((size_t)c->n_layers, sizeof *s->layer_bytes);
    for (int64_t i = 0; i < c->n_layers; i++) {
        s->layer_params[i] = sp_config_layer_params(c);
        s->layer_bytes[i] = (size_t)s->layer_params[i] * bpp; /* < 2^50 by config bounds */
    }
    s->embed_params = sp_config_embed_params(c);
    s->head_params = sp_config_head_params(c);
    s->embed_bytes = (size_t)s->embed_params * bpp;
    s->head_bytes = (size_t)s->head_params * bpp;
    return 0;
}

static int an_from_weights(an_summary *s, const char *dir, sp_error *err)
{
    sp_model m;
    if (sp_model_open(dir, &m, err)) return -1;
    s->have_weights = 1;
    s->cfg = m.cfg;
    s->n_files = m.st.n_files;
    s->n_tensors = m.st.n_tensors;
    int64_t L = m.cfg.n_layers;
    s->layer_params = sp_xcalloc((size_t)L, sizeof *s->layer_params);
    s->layer_bytes = sp_xcalloc((size_t)L, sizeof *s->layer_bytes);
    for (int i = 0; i < (int)L; i++) {
        const sp_layer_tensors *l = &m.layers[i];
        const sp_tensor *ts[9] = {l->attn_norm, l->q,    l->k,  l->v,   l->o,
                                  l->mlp_norm,  l->gate, l->up, l->down};
        for (int j = 0; j < 9; j++) s->layer_params[i] += sp_tensor_numel(ts[j]);
        s->layer_bytes[i] = sp_model_layer_bytes(&m, i);
    }
    s->embed_params = sp_tensor_numel(m.embed);
    s->embed_bytes = m.embed->nbytes;
    s->head_params = sp_tensor_numel(m.final_norm);
    s->head_bytes = m.final_norm->nbytes;
    if (!m.cfg.tie_embeddings) {
        s->head_params += sp_tensor_numel(m.lm_head);
        s->head_bytes += m.lm_head->nbytes;
    }
    sp_model_close(&m);
    return 0;
}

static int an_load(an_summary *s, const char *path, sp_error *err)
{
    struct stat sb;
    char cfgpath[4096];
    s->path = path;
    if (stat(path, &sb) != 0) return sp_error_set(err, "%s: no such file or directory", path);
    int rc;
    if (!S_ISDIR(sb.st_mode)) {
        rc = an_from_config(s, path, err);
    } else if (an_file_exists(path, "model.safetensors.index.json") ||
               an_file_exists(path, "model.safetensors")) {
        rc = an_from_weights(s, path, err);
    } else {
        snprintf(cfgpath, sizeof cfgpath, "%s/config.json", path);
        rc = an_from_config(s, cfgpath, err);
    }
    if (rc) return -1;
    s->total_params = s->embed_params + s->head_params;
    s->total_bytes = s->embed_bytes + s->head_bytes;
    for (int64_t i = 0; i < s->cfg.n_layers; i++) {
        s->total_params += s->layer_params[i];
        s->total_bytes += s->layer_bytes[i];
    }
    return 0;
}

/* The size left after removing k layers. All layers have the same shapes; when their stored
 * dtypes differ, the mean layer size is used (reported as "layers differ"). */
static void an_prune(const an_summary *s, int64_t k, int64_t *params, size_t *bytes)
{
    int64_t L = s->cfg.n_layers;
    double lp = 0, lb = 0;
    for (int64_t i = 0; i < L; i++) {
        lp += (double)s->layer_params[i];
        lb += (double)s->layer_bytes[i];
    }
    *params = s->total_params - (int64_t)llround(lp / (double)L * (double)k);
    *bytes = s->total_bytes - (size_t)llround(lb / (double)L * (double)k);
}

static int an_layers_uniform(const an_summary *s)
{
    for (int64_t i = 1; i < s->cfg.n_layers; i++)
        if (s->layer_bytes[i] != s->layer_bytes[0] || s->layer_params[i] != s->layer_params[0])
            return 0;
    return 1;
}

/* 1234567 -> "1,234,567" */
static const char *an_group(char *buf, size_t size, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

/* 1711308800 bytes -> "1,632.03" (in units of `unit` bytes, two decimals, grouped) */
static const char *an_units(char *buf, size_t size, size_t bytes, double unit)
{
    char ip[32];
    double v = (double)bytes / unit;
    unsigned long long cents = (unsigned long long)llround(v * 100.0);
    snprintf(buf, size, "%s.%02llu", an_group(ip, sizeof ip, cents / 100), cents % 100);
    return buf;
}

/* 855654400 -> "855.65M" */
static const char *an_short(char *buf, size_t size, double v)
{
    if (v >= 1e9) snprintf(buf, size, "%.2fB", v / 1e9);
    else if (v >= 1e6) snprintf(buf, size, "%.2fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, size, "%.2fK", v / 1e3);
    else snprintf(buf, size, "%.0f", v);
    return buf;
}

static void an_rope_str(const sp_model_config *c, char *buf, size_t size)
{
    if (c->rope_kind == SP_ROPE_LLAMA3)
        snprintf(buf, size, "llama3 (theta %g, factor %g, low %g, high %g, original %lld)",
                 c->rope_theta, c->rope_factor, c->rope_low_freq_factor,
                 c->rope_high_freq_factor, (long long)c->rope_orig_max_pos);
    else if (c->rope_kind == SP_ROPE_LINEAR)
        snprintf(buf, size, "linear (theta %g, factor %g)", c->rope_theta, c->rope_factor);
    else snprintf(buf, size, "default (theta %g)", c->rope_theta);
}

static void an_print_arch(const an_summary *s)
{
    const sp_model_config *c = &s->cfg;
    char rope[160];
    an_rope_str(c, rope, sizeof rope);
    printf("model: %s (%s)\n", s->path, c->architecture);
    if (s->have_weights)
        printf("  weights: %d safetensors file(s), %d tensors (bytes from the real tensors)\n",
               s->n_files, s->n_tensors);
    else
        printf("  (from config; no weights) bytes assume %zu bytes/param (%s)\n",
               s->bytes_per_param, c->torch_dtype[0] ? c->torch_dtype : "bfloat16 assumed");
    printf("architecture:\n  layers            %lld\n  hidden            %lld\n"
           "  heads / KV heads  %lld / %lld\n  head dim          %lld\n  FFN               %lld\n"
           "  vocab             %lld\n  rope              %s\n  max positions     %lld\n"
           "  rms_norm_eps      %g\n  tied embeddings   %s\n  dtype             %s\n",
           (long long)c->n_layers, (long long)c->hidden, (long long)c->n_heads,
           (long long)c->n_kv_heads, (long long)c->head_dim, (long long)c->ffn,
           (long long)c->vocab, rope, (long long)c->max_pos, c->rms_eps,
           c->tie_embeddings ? "yes" : "no", c->torch_dtype[0] ? c->torch_dtype : "(unset)");
}

static void an_print_text(const an_summary *s)
{
    char a[40], b[40], h[40], u[48];
    const double MiB = 1048576.0, GiB = 1073741824.0;
    an_print_arch(s);
    printf("per layer: %s params (%s), %s bytes (%s MiB)%s\n",
           an_group(a, sizeof a, (unsigned long long)s->layer_params[0]),
           an_short(h, sizeof h, (double)s->layer_params[0]),
           an_group(b, sizeof b, s->layer_bytes[0]), an_units(u, sizeof u, s->layer_bytes[0], MiB),
           an_layers_uniform(s) ? "" : " [layer 0; layers differ in size]");
    printf("  %5s  %15s  %15s  %10s\n", "layer", "params", "bytes", "MiB");
    for (int64_t i = 0; i < s->cfg.n_layers; i++)
        printf("  %5lld  %15s  %15s  %10s\n", (long long)i,
               an_group(a, sizeof a, (unsigned long long)s->layer_params[i]),
               an_group(b, sizeof b, s->layer_bytes[i]),
               an_units(u, sizeof u, s->layer_bytes[i], MiB));
    printf("embedding: %s params, %s bytes (%s MiB)\n",
           an_group(a, sizeof a, (unsigned long long)s->embed_params),
           an_group(b, sizeof b, s->embed_bytes), an_units(u, sizeof u, s->embed_bytes, MiB));
    printf("head (%sfinal norm): %s params, %s bytes (%s MiB)\n",
           s->cfg.tie_embeddings ? "tied to embedding; " : "lm_head + ",
           an_group(a, sizeof a, (unsigned long long)s->head_params),
           an_group(b, sizeof b, s->head_bytes), an_units(u, sizeof u, s->head_bytes, MiB));
    printf("total: %s params (%s), %s bytes (%s GiB)\n",
           an_group(a, sizeof a, (unsigned long long)s->total_params),
           an_short(h, sizeof h, (double)s->total_params),
           an_group(b, sizeof b, s->total_bytes), an_units(u, sizeof u, s->total_bytes, GiB));
    /* Small models read better in MiB. */
    int gib = s->total_bytes >= (size_t)1 << 30;
    printf("after removing k of %lld layers:\n  %7s  %4s  %11s  %24s  %17s  %10s  %9s\n",
           (long long)s->cfg.n_layers, "removed", "k", "layers left", "params", "bytes",
           gib ? "GiB" : "MiB", "% of orig");
    for (int i = 0; i < 5; i++) {
        int64_t k = llround((double)s->cfg.n_layers * an_percents[i] / 100.0), p;
        size_t by;
        an_prune(s, k, &p, &by);
        printf("  %6d%%  %4lld  %11lld  %15s %8s  %17s  %10s  %8.1f%%\n", an_percents[i],
               (long long)k, (long long)(s->cfg.n_layers - k),
               an_group(a, sizeof a, (unsigned long long)p), an_short(h, sizeof h, (double)p),
               an_group(b, sizeof b, by), an_units(u, sizeof u, by, gib ? GiB : MiB),
               100.0 * (double)by / (double)s->total_bytes);
    }
}

static cJSON *an_json(const an_summary *s)
{
    const sp_model_config *c = &s->cfg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", s->path);
    cJSON_AddStringToObject(o, "source", s->have_weights ? "weights" : "config");
    cJSON_AddStringToObject(o, "architecture", c->architecture);
    if (!s->have_weights) cJSON_AddNumberToObject(o, "bytes_per_param", (double)s->bytes_per_param);
    cJSON_AddNumberToObject(o, "num_layers", (double)c->n_layers);
    cJSON_AddNumberToObject(o, "hidden_size", (double)c->hidden);
    cJSON_AddNumberToObject(o, "num_attention_heads", (double)c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", (double)c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", (double)c->head_dim);
    cJSON_AddNumberToObject(o, "intermediate_size", (double)c->ffn);
    cJSON_AddNumberToObject(o, "vocab_size", (double)c->vocab);
    static const char *const rope_names[] = {"default", "linear", "llama3"};
    cJSON_AddStringToObject(o, "rope_type", rope_names[c->rope_kind]);
    cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_embeddings);
    cJSON_AddStringToObject(o, "torch_dtype", c->torch_dtype);
    /* Counts stay below 2^53, so doubles hold them exactly. */
    cJSON *lp = cJSON_AddArrayToObject(o, "layer_params");
    cJSON *lb = cJSON_AddArrayToObject(o, "layer_bytes");
    for (int64_t i = 0; i < c->n_layers; i++) {
        cJSON_AddItemToArray(lp, cJSON_CreateNumber((double)s->layer_params[i]));
        cJSON_AddItemToArray(lb, cJSON_CreateNumber((double)s->layer_bytes[i]));
    }
    cJSON_AddNumberToObject(o, "embed_params", (double)s->embed_params);
    cJSON_AddNumberToObject(o, "embed_bytes", (double)s->embed_bytes);
    cJSON_AddNumberToObject(o, "head_params", (double)s->head_params);
    cJSON_AddNumberToObject(o, "head_bytes", (double)s->head_bytes);
    cJSON_AddNumberToObject(o, "total_params", (double)s->total_params);
    cJSON_AddNumberToObject(o, "total_bytes", (double)s->total_bytes);
    cJSON *pr = cJSON_AddArrayToObject(o, "pruning");
    for (int i = 0; i < 5; i++) {
        int64_t k = llround((double)c->n_layers * an_percents[i] / 100.0), p;
        size_t by;
        an_prune(s, k, &p, &by);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "percent", an_percents[i]);
        cJSON_AddNumberToObject(r, "k", (double)k);
        cJSON_AddNumberToObject(r, "layers_left", (double)(c->n_layers - k));
        cJSON_AddNumberToObject(r, "params", (double)p);
        cJSON_AddNumberToObject(r, "bytes", (double)by);
        cJSON_AddNumberToObject(r, "fraction_of_original", (double)by / (double)s->total_bytes);
        cJSON_AddItemToArray(pr, r);
    }
    return o;
}

int cmd_analyze(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    if (sp_cli_wants_help(argc, argv)) {
        an_usage(stdout);
        return SP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return sp_cli_usage_error("analyze", "unknown option \"%s\"", argv[i]);
        else if (path)
            return sp_cli_usage_error("analyze", "more than one model path (\"%s\", \"%s\")",
                                      path, argv[i]);
        else path = argv[i];
    }
    if (!path) return sp_cli_usage_error("analyze", "missing MODEL_DIR_OR_CONFIG");
    an_summary s;
    sp_error err = {{0}};
    memset(&s, 0, sizeof s);
    char gdir[4096];
    int rc = 0;
    if (sp_model_path_is_gguf(path)) { /* converted once into the cache, as everywhere */
        rc = sp_model_gguf_dir(path, gdir, sizeof gdir, &err);
        path = gdir;
    }
    if (rc == 0) rc = an_load(&s, path, &err);
    if (rc == 0 && json) {
        cJSON *o = an_json(&s);
        char *text = cJSON_Print(o);
        SP_ASSERT(text);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else if (rc == 0) {
        an_print_text(&s);
    }
    free(s.layer_params);
    free(s.layer_bytes);
    return rc ? sp_cli_fail("analyze", &err) : SP_EXIT_OK;
}
