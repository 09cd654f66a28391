/* model.c — opens a Hugging Face model directory: config.json + safetensors weights, and checks
 * that every tensor the config implies is present with the right shape and a float dtype
 * (F32/F16/BF16). Tensors the config does not imply (biases, layers past L) are refused, since
 * they mean the config and the weights disagree. */
#include "model.h"

#include <inttypes.h>

#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void model_shape_str(char *buf, size_t size, const int64_t *shape, int ndim)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

/* Finds `name` and checks its shape ([d0] when d1 < 0, else [d0, d1]) and dtype. */
static int model_tensor(const sp_model *m, const char *name, int64_t d0, int64_t d1,
                        const sp_tensor **out, sp_error *err)
{
    int64_t want[2] = {d0, d1};
    int wn = d1 < 0 ? 1 : 2;
    char ws[96], fs[160];
    model_shape_str(ws, sizeof ws, want, wn);
    const sp_tensor *t = sp_st_find(&m->st, name);
    if (!t)
        return sp_error_set(err, "%s: missing tensor \"%s\" (expected shape %s)", m->dir, name, ws);
    const char *file = m->st.files[t->file_index].path;
    int ok = t->ndim == wn;
    for (int i = 0; ok && i < wn; i++) ok = t->shape[i] == want[i];
    if (!ok) {
        model_shape_str(fs, sizeof fs, t->shape, t->ndim);
        return sp_error_set(err, "%s: tensor \"%s\": expected shape %s, found %s", file, name, ws,
                            fs);
    }
    if (t->dtype != SP_DT_F32 && t->dtype != SP_DT_F16 && t->dtype != SP_DT_BF16)
        return sp_error_set(err, "%s: tensor \"%s\": dtype %s is not a float type (F32, F16, "
                                 "BF16)", file, name, sp_dtype_name(t->dtype));
    *out = t;
    return 0;
}

static int model_layer(sp_model *m, int i, sp_error *err)
{
    const sp_model_config *c = &m->cfg;
    int64_t H = c->hidden, F = c->ffn, QD = c->n_heads * c->head_dim,
            KVD = c->n_kv_heads * c->head_dim;
    sp_layer_tensors *l = &m->layers[i];
    static const char *const suffix[9] = {
        "input_layernorm",  "self_attn.q_proj", "self_attn.k_proj",
        "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm",
        "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
    const int64_t dims[9][2] = {{H, -1}, {QD, H}, {KVD, H}, {KVD, H}, {H, QD},
                                {H, -1}, {F, H},  {F, H},   {H, F}};
    const sp_tensor **slot[9] = {&l->attn_norm, &l->q,    &l->k,  &l->v,   &l->o,
                                 &l->mlp_norm,  &l->gate, &l->up, &l->down};
    for (int j = 0; j < 9; j++) {
        char name[128];
        snprintf(name, sizeof name, "model.layers.%d.%s.weight", i, suffix[j]);
        if (model_tensor(m, name, dims[j][0], dims[j][1], slot[j], err)) return -1;
    }
    return 0;
}

/* Every stored tensor must be one the config implies (a few buffers older exports carry are
 * tolerated). Counting is enough: all implied tensors were found, and names are unique. */
static int model_check_extra(const sp_model *m, sp_error *err)
{
    int64_t implied = 9 * m->cfg.n_layers + 2 + 1; /* layers, embed, final norm, lm_head */
    int has_head = sp_st_find(&m->st, "lm_head.weight") != NULL;
    if (m->cfg.tie_embeddings && !has_head) implied--;
    int64_t ignored = 0;
    for (int i = 0; i < m->st.n_tensors; i++)
        if (strstr(m->st.tensors[i].name, "rotary_emb.inv_freq")) ignored++;
    if (m->st.n_tensors - ignored == implied) return 0;
    for (int i = 0; i < m->st.n_tensors; i++) {
        const char *name = m->st.tensors[i].name;
        int layer = -1;
        char rest[96];
        if (sscanf(name, "model.layers.%d.%95s", &layer, rest) == 2 && layer >= 0 &&
            layer < m->cfg.n_layers && !strstr(name, "bias"))
            continue;
        if (strcmp(name, "model.embed_tokens.weight") == 0 ||
            strcmp(name, "model.norm.weight") == 0 || strcmp(name, "lm_head.weight") == 0 ||
            strstr(name, "rotary_emb.inv_freq"))
            continue;
        return sp_error_set(err, "%s: tensor \"%s\" is not implied by config.json (%lld layers)",
                            m->st.files[m->st.tensors[i].file_index].path, name,
                            (long long)m->cfg.n_layers);
    }
    return sp_error_set(err, "%s: %d tensors stored, %lld implied by config.json", m->dir,
                        m->st.n_tensors, (long long)implied);
}

static int model_bind(sp_model *m, sp_error *err)
{
    const sp_model_config *c = &m->cfg;
    if (model_tensor(m, "model.embed_tokens.weight", c->vocab, c->hidden, &m->embed, err) ||
        model_tensor(m, "model.norm.weight", c->hidden, -1, &m->final_norm, err))
        return -1;
    if (c->tie_embeddings && !sp_st_find(&m->st, "lm_head.weight")) m->lm_head = m->embed;
    else if (model_tensor(m, "lm_head.weight", c->vocab, c->hidden, &m->lm_head, err))
        return -1;
    if (c->tie_embeddings) m->lm_head = m->embed; /* a stored copy is checked, then unused */
    m->layers = sp_xcalloc((size_t)c->n_layers, sizeof *m->layers);
    for (int i = 0; i < (int)c->n_layers; i++)
        if (model_layer(m, i, err)) return -1;
    return model_check_extra(m, err);
}

int sp_model_open(const char *dir, sp_model *m, sp_error *err)
{
    char path[4200], converted[4096];
    memset(m, 0, sizeof *m);
    if (sp_model_path_is_gguf(dir)) {
        if (sp_model_gguf_dir(dir, converted, sizeof converted, err)) return -1;
        dir = converted;
    }
    m->dir = sp_xstrdup(dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (sp_config_load(path, &m->cfg, err) || sp_st_open_dir(dir, &m->st, err) ||
        model_bind(m, err)) {
        sp_model_close(m);
        return -1;
    }
    return 0;
}

void sp_model_close(sp_model *m)
{
    sp_st_close(&m->st);
    free(m->layers);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

size_t sp_model_layer_bytes(const sp_model *m, int layer)
{
    SP_ASSERT(layer >= 0 && layer < m->cfg.n_layers);
    const sp_layer_tensors *l = &m->layers[layer];
    const sp_tensor *ts[9] = {l->attn_norm, l->q,  l->k,  l->v,   l->o,
                              l->mlp_norm,  l->gate, l->up, l->down};
    size_t n = 0;
    for (int j = 0; j < 9; j++) n += ts[j]->nbytes;
    return n;
}

void sp_model_fingerprint(const sp_model *m, char out[17])
{
    uint64_t h = sp_fnv1a(SP_FNV_OFFSET, &m->cfg, sizeof m->cfg);
    for (int i = 0; i < m->st.n_tensors; i++) {
        const sp_tensor *t = &m->st.tensors[i];
        h = sp_fnv1a(h, t->name, strlen(t->name));
        /* data offset as in the header's data_offsets (relative to the shard's data start) */
        int64_t rel = (int64_t)(t->file_offset - m->st.files[t->file_index].data_start);
        int64_t meta[5 + SP_TENSOR_MAX_DIMS] = {t->dtype, t->ndim, (int64_t)t->nbytes,
                                                t->file_index, rel};
        for (int d = 0; d < t->ndim; d++) meta[5 + d] = t->shape[d];
        h = sp_fnv1a(h, meta, sizeof meta);
        /* A sample of the data (first and last 32 bytes): two pages per tensor, so weights
         * swapped between same-shape tensors change the fingerprint; not a hash of all data. */
        size_t k = t->nbytes < 32 ? t->nbytes : 32;
        if (k) {
            h = sp_fnv1a(h, t->data, k);
            h = sp_fnv1a(h, (const unsigned char *)t->data + t->nbytes - k, k);
        }
    }
    snprintf(out, 17, "%016" PRIx64, h);
}
