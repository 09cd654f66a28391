/* heal_optim.c — AdamW, global-norm clipping and learning-rate schedules (see heal_optim.h). */
#include <math.h>
#include <string.h>

#include "heal_optim.h"

void sp_adamw_update(const sp_adamw_config *c, double lr, int64_t step, float *p, const float *g,
                     float *m, float *v, size_t n)
{
    SP_ASSERT(step >= 1);
    /* Scalars as torch computes them: Python floats (double), each rounded to fp32 where it
       meets a tensor. */
    float decay = (float)(1.0 - lr * c->weight_decay);
    float w1 = (float)(1.0 - c->beta1), b2 = (float)c->beta2, w2 = (float)(1.0 - c->beta2);
    double bc1 = 1.0 - pow(c->beta1, (double)step), bc2 = 1.0 - pow(c->beta2, (double)step);
    float bc2_sqrt = (float)sqrt(bc2), eps = (float)c->eps;
    float neg_step = (float)(-(lr / bc1));
    int wd = c->weight_decay != 0.0;
    for (size_t i = 0; i < n; i++) {
        float pi = wd ? p[i] * decay : p[i];
        float mi = m[i] + w1 * (g[i] - m[i]); /* lerp with weight < 0.5 */
        float vi = v[i] * b2 + w2 * g[i] * g[i]; /* addcmul: (value * g) * g */
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi + neg_step * (mi / denom);
        m[i] = mi;
        v[i] = vi;
    }
}

double sp_grad_global_norm(float *const *g, const size_t *n, int n_tensors)
{
    double s = 0;
    for (int t = 0; t < n_tensors; t++)
        for (size_t i = 0; i < n[t]; i++) s += (double)g[t][i] * (double)g[t][i];
    return sqrt(s);
}

double sp_grad_clip(float *const *g, const size_t *n, int n_tensors, double norm, double max_norm)
{
    if (!(max_norm > 0)) return 1.0;
    double coef = max_norm / (norm + 1e-6);
    if (!(coef < 1.0)) return 1.0;
    float cf = (float)coef;
    for (int t = 0; t < n_tensors; t++)
        for (size_t i = 0; i < n[t]; i++) g[t][i] *= cf;
    return coef;
}

static const char *const sched_names[] = {"cosine", "linear", "constant"};

int sp_schedule_parse(const char *text, const char *what, sp_schedule_kind *out, sp_error *err)
{
    for (int k = 0; k < 3; k++)
        if (!strcmp(text, sched_names[k])) {
            *out = (sp_schedule_kind)k;
            return 0;
        }
    return sp_error_set(err, "%s: \"%s\" is not cosine, linear or constant", what, text);
}

const char *sp_schedule_name(sp_schedule_kind k) { return sched_names[k]; }

double sp_schedule_lr(sp_schedule_kind k, double lr, int64_t warmup, int64_t total, int64_t s)
{
    if (s < warmup) return lr * (double)s / (double)(warmup > 1 ? warmup : 1);
    double span = (double)(total - warmup > 1 ? total - warmup : 1);
    double f = 1.0;
    if (k == SP_SCHED_LINEAR) f = (double)(total - s) / span;
    else if (k == SP_SCHED_COSINE) f = 0.5 * (1.0 + cos(M_PI * (double)(s - warmup) / span));
    return lr * (f > 0 ? f : 0.0);
}
