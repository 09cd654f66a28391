/* objective.c — metrics -> fitness (see objective.h). */
#include "objective.h"

#include <math.h>
#include <string.h>

static const char *const names[SP_OBJ_COUNT] = {"acc", "acc_norm", "nll", "kl", "weighted"};

const char *sp_objective_kind_name(sp_objective_kind kind)
{
    return (unsigned)kind < SP_OBJ_COUNT ? names[kind] : "?";
}

int sp_objective_kind_parse(const char *name, sp_objective_kind *out, sp_error *err)
{
    for (int i = 0; i < SP_OBJ_COUNT; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (sp_objective_kind)i;
            return 0;
        }
    return sp_error_set(err, "objective: unknown \"%s\" (expected acc, acc_norm, nll, kl or "
                        "weighted)", name);
}

void sp_objective_default(sp_objective *o, sp_objective_kind kind)
{
    o->kind = kind;
    o->w_acc = 1.0;
    o->w_size = 0.0;
    o->w_time = 0.0;
    o->use_acc_norm = 1;
}

int sp_objective_validate(const sp_objective *o, sp_error *err)
{
    if ((unsigned)o->kind >= SP_OBJ_COUNT)
        return sp_error_set(err, "objective.kind: unknown kind %d", (int)o->kind);
    if (o->kind != SP_OBJ_WEIGHTED) return 0;
    const double w[3] = {o->w_acc, o->w_size, o->w_time};
    const char *wn[3] = {"objective.w_acc", "objective.w_size", "objective.w_time"};
    for (int i = 0; i < 3; i++)
        if (!(w[i] >= 0.0 && w[i] <= 1e6))
            return sp_error_set(err, "%s: expected a number in [0, 1e6], got %g", wn[i], w[i]);
    if (!(w[0] + w[1] + w[2] > 0.0))
        return sp_error_set(err, "objective: the weights w_acc, w_size, w_time are all zero");
    if (o->use_acc_norm != 0 && o->use_acc_norm != 1)
        return sp_error_set(err, "objective.use_acc_norm: expected 0 or 1");
    return 0;
}

static int need(double v, const char *what, sp_error *err)
{
    if (isnan(v)) {
        sp_error_set(err, "objective: metric %s is NaN", what);
        return 1; /* infeasible, not a failure */
    }
    return 0;
}

static int fitness_raw(const sp_objective *o, const sp_metrics *m, double *fitness,
                       sp_error *err)
{
    switch (o->kind) {
    case SP_OBJ_ACC: *fitness = -m->acc; return need(m->acc, "acc", err);
    case SP_OBJ_ACC_NORM: *fitness = -m->acc_norm; return need(m->acc_norm, "acc_norm", err);
    case SP_OBJ_NLL: *fitness = m->nll; return need(m->nll, "nll", err);
    case SP_OBJ_KL: *fitness = m->kl; return need(m->kl, "kl", err);
    case SP_OBJ_WEIGHTED: {
        double A = o->use_acc_norm ? m->acc_norm : m->acc;
        double score = 0.0;
        if (o->w_acc > 0) {
            if (need(A, o->use_acc_norm ? "acc_norm" : "acc", err)) return 1;
            score += o->w_acc * A;
        }
        if (o->w_size > 0) {
            if (need(m->size_fraction_removed, "size_fraction_removed", err)) return 1;
            score += o->w_size * m->size_fraction_removed;
        }
        if (o->w_time > 0) {
            if (need(m->time_ratio, "time_ratio", err)) return 1;
            score += o->w_time * (1.0 - m->time_ratio);
        }
        *fitness = -score;
        return 0;
    }
    default: return sp_error_set(err, "objective.kind: unknown kind %d", (int)o->kind);
    }
}

int sp_objective_fitness(const sp_objective *o, const sp_metrics *m, double *fitness,
                         sp_error *err)
{
    int rc = fitness_raw(o, m, fitness, err);
    if (rc == 1) *fitness = INFINITY; /* infeasible: the worst fitness */
    return rc;
}
