/* job_fitness.c — metrics of a scored mask -> the job's fitness (see job_fitness.h). */
#include "job_fitness.h"

#include "worker/evaluator.h"

static double model_bytes(const sp_model *m)
{
    double b = 0;
    for (int i = 0; i < m->st.n_tensors; i++) b += (double)m->st.tensors[i].nbytes;
    return b;
}

double sp_job_removed_fraction(const sp_model *model, const sp_mask *m)
{
    double b = 0;
    for (int l = 0; l < model->cfg.n_layers; l++)
        if (sp_mask_test(m, l)) b += (double)sp_model_layer_bytes(model, l);
    return b / model_bytes(model);
}

double sp_job_time_ratio(const sp_model *model, const sp_mask *m)
{
    const sp_model_config *c = &model->cfg;
    double layer = (double)sp_config_layer_params(c), head = (double)c->vocab * (double)c->hidden;
    double kept = (double)(c->n_layers - sp_mask_count(m));
    return (kept * layer + head) / ((double)c->n_layers * layer + head);
}

int sp_job_fitness(const sp_job *job, const sp_model *model, const sp_mask *m, const double *met,
                   double *fitness, sp_error *err)
{
    sp_metrics x = {met[SP_METRIC_ACC], met[SP_METRIC_ACC_NORM], met[SP_METRIC_NLL],
                    met[SP_METRIC_KL], sp_job_removed_fraction(model, m),
                    sp_job_time_ratio(model, m)};
    return sp_objective_fitness(&job->objective, &x, fitness, err);
}
