/* objective.h — metrics of one scored candidate -> the fitness the search minimizes.
 * Kinds: acc / acc_norm (fitness = -value), nll, kl (fitness = value), and the paper's
 * weighted combination: score = w_acc * A + w_size * size_fraction_removed
 * + w_time * (1 - time_ratio), fitness = -score, with A = acc_norm or acc. The job loader fills
 * sp_objective; size_fraction_removed comes from real tensor byte counts. */
#ifndef SP_OBJECTIVE_H
#define SP_OBJECTIVE_H

#include "common/error.h"

typedef enum {
    SP_OBJ_ACC = 0,
    SP_OBJ_ACC_NORM,
    SP_OBJ_NLL,
    SP_OBJ_KL,
    SP_OBJ_WEIGHTED,
    SP_OBJ_COUNT
} sp_objective_kind;

typedef struct {
    double acc, acc_norm;         /* multiple-choice accuracies in [0, 1] */
    double nll;                   /* mean next-token NLL, nats/token */
    double kl;                    /* mean KL(full || pruned), nats/token */
    double size_fraction_removed; /* removed bytes / model bytes, [0, 1] */
    double time_ratio;            /* pruned / full forward time, > 0 */
} sp_metrics;

typedef struct {
    sp_objective_kind kind;
    double w_acc, w_size, w_time; /* WEIGHTED only; defaults 1, 0, 0; each >= 0, sum > 0 */
    int use_acc_norm;             /* WEIGHTED: A = acc_norm (1, default) or acc (0) */
} sp_objective;

void sp_objective_default(sp_objective *o, sp_objective_kind kind);
int sp_objective_validate(const sp_objective *o, sp_error *err);
const char *sp_objective_kind_name(sp_objective_kind kind);
int sp_objective_kind_parse(const char *name, sp_objective_kind *out, sp_error *err);
/* Fitness (lower is better). A NaN in a metric the objective uses makes the candidate
 * infeasible: returns 1 with the reason in err (the search records fitness +inf and goes on);
 * -1 is a real error. +inf NLL/KL (a collapsed model) is allowed and gives +inf fitness. */
int sp_objective_fitness(const sp_objective *o, const sp_metrics *m, double *fitness,
                         sp_error *err);

#endif
