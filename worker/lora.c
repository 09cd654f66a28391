/* lora.c — LoRA adapter state: allocation in one arena, PEFT initialisation with counter-based
 * draws (A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0), target-list parsing. */
#include "lora.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/rng.h"

const char *const sp_lora_target_names[SP_LORA_NT] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                      "gate_proj", "up_proj", "down_proj"};
static const char *const lora_short_names[SP_LORA_NT] = {"q", "k", "v", "o", "gate", "up", "down"};

#define SP_LORA_INIT_STREAM 0x4c6f5241ull /* "LoRA": keeps init draws apart from other uses */

int sp_lora_target_index(const char *name)
{
    for (int t = 0; t < SP_LORA_NT; t++)
        if (strcmp(name, sp_lora_target_names[t]) == 0 || strcmp(name, lora_short_names[t]) == 0)
            return t;
    return -1;
}

int sp_lora_parse_targets(const char *text, const char *what, unsigned *out, sp_error *err)
{
    *out = 0;
    if (!text || !text[0]) return sp_error_set(err, "%s: empty target list", what);
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char name[32];
        if (n == 0 || n >= sizeof name)
            return sp_error_set(err, "%s: bad target \"%.*s\" in \"%s\" (expected a comma list of "
                                "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)", what,
                                (int)n, p, text);
        memcpy(name, p, n);
        name[n] = 0;
        int t = sp_lora_target_index(name);
        if (t < 0)
            return sp_error_set(err, "%s: unknown target \"%s\" (expected q_proj, k_proj, v_proj, "
                                "o_proj, gate_proj, up_proj, down_proj or q,k,v,o,gate,up,down)",
                                what, name);
        if (*out & (1u << t)) return sp_error_set(err, "%s: target \"%s\" given twice", what, name);
        *out |= 1u << t;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

int sp_lora_config_check(const sp_lora_config *lc, const char *what, sp_error *err)
{
    if (lc->rank < 1) return sp_error_set(err, "%s: LoRA rank %d must be >= 1", what, lc->rank);
    if (!(lc->alpha > 0) || !isfinite(lc->alpha))
        return sp_error_set(err, "%s: LoRA alpha %g must be a finite number > 0", what, lc->alpha);
    if (!(lc->dropout >= 0 && lc->dropout < 1))
        return sp_error_set(err, "%s: LoRA dropout %g must be in [0, 1)", what, lc->dropout);
    if (lc->targets == 0 || lc->targets >= (1u << SP_LORA_NT))
        return sp_error_set(err, "%s: LoRA targets 0x%x: need at least one of the %d targets",
                            what, lc->targets, SP_LORA_NT);
    return 0;
}

/* in/out features of each target from the config. */
static void lora_dims(const sp_model_config *cfg, int64_t *in, int64_t *out)
{
    int64_t H = cfg->hidden, qd = cfg->n_heads * cfg->head_dim;
    int64_t kvd = cfg->n_kv_heads * cfg->head_dim;
    int64_t F = cfg->ffn;
    int64_t i[SP_LORA_NT] = {H, H, H, qd, H, H, F}, o[SP_LORA_NT] = {qd, kvd, kvd, H, F, F, H};
    for (int t = 0; t < SP_LORA_NT; t++) in[t] = i[t], out[t] = o[t];
}

/* PEFT's reset_lora_parameters: kaiming_uniform_(A, a=sqrt(5)) gives bound
 * gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + 5)), i.e. 1 / sqrt(in). */
static void lora_init_a(float *A, int64_t r, int64_t in, uint64_t seed, int layer, int t)
{
    double bound = 1.0 / sqrt((double)in);
    for (int64_t k = 0; k < r * in; k++) {
        double u = sp_rng_uniform(seed, SP_LORA_INIT_STREAM, (uint64_t)layer * SP_LORA_NT + t,
                                  (uint64_t)k);
        A[k] = (float)((2.0 * u - 1.0) * bound);
    }
}

int sp_lora_create(const sp_model_config *cfg, const sp_mask *removed,
                   const sp_lora_config *lc, uint64_t seed, sp_lora *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    if (sp_lora_config_check(lc, "lora", err) != 0) return -1;
    if (cfg->n_layers < 1 || cfg->n_layers > SP_MAX_LAYERS)
        return sp_error_set(err, "lora: model has %lld layers (1..%d supported)",
                            (long long)cfg->n_layers, SP_MAX_LAYERS);
    int L = (int)cfg->n_layers;
    lora_dims(cfg, out->in, out->out);
    size_t total = 0; /* floats of A + B over every kept layer and target */
    for (int l = 0; l < L; l++) {
        if (removed && sp_mask_test(removed, l)) continue;
        for (int t = 0; t < SP_LORA_NT; t++)
            if (lc->targets & (1u << t))
                total += (size_t)lc->rank * (size_t)(out->in[t] + out->out[t]);
    }
    if (total == 0) return sp_error_set(err, "lora: no kept layer to adapt");
    out->cfg = *lc;
    out->n_layers = L;
    out->n_params = total;
    out->arena = calloc(2 * total, sizeof(float));
    if (!out->arena)
        return sp_error_set(err, "lora: cannot allocate %zu bytes of adapter weights",
                            2 * total * sizeof(float));
    size_t slots = (size_t)L * SP_LORA_NT;
    out->A = sp_xcalloc(slots, sizeof(float *)), out->B = sp_xcalloc(slots, sizeof(float *));
    out->gA = sp_xcalloc(slots, sizeof(float *)), out->gB = sp_xcalloc(slots, sizeof(float *));
    float *p = out->arena, *g = out->arena + total; /* params first, then gradients */
    for (int l = 0; l < L; l++) {
        if (removed && sp_mask_test(removed, l)) continue;
        for (int t = 0; t < SP_LORA_NT; t++) {
            if (!(lc->targets & (1u << t))) continue;
            size_t i = (size_t)l * SP_LORA_NT + t, na = (size_t)lc->rank * (size_t)out->in[t];
            size_t nb = (size_t)lc->rank * (size_t)out->out[t];
            out->A[i] = p, out->gA[i] = g, p += na, g += na;
            out->B[i] = p, out->gB[i] = g, p += nb, g += nb;
            lora_init_a(out->A[i], lc->rank, out->in[t], seed, l, t);
        }
    }
    SP_ASSERT(p == out->arena + total && g == out->arena + 2 * total);
    return 0;
}

void sp_lora_free(sp_lora *l)
{
    if (!l) return;
    free(l->arena);
    free(l->A), free(l->B), free(l->gA), free(l->gB);
    memset(l, 0, sizeof *l);
}

void sp_lora_zero_grad(sp_lora *l)
{
    if (l->arena) memset(l->arena + l->n_params, 0, l->n_params * sizeof(float));
}
