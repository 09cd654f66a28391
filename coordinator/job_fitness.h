/* job_fitness.h — a job's fitness of one scored mask: the metrics through the job's objective,
 * with the size and modelled-time terms from the model's real tensor bytes and FLOPs. Shared
 * by the search and `eval --job`, so both give the same number for the same mask. */
#ifndef SP_JOB_FITNESS_H
#define SP_JOB_FITNESS_H

#include "common/error.h"
#include "common/mask.h"
#include "common/model.h"
#include "coordinator/job.h"

/* Removed bytes / model bytes (all tensors). */
double sp_job_removed_fraction(const sp_model *model, const sp_mask *m);
/* Modelled forward-time ratio pruned/full: FLOPs of the kept layers + head over all (a
 * deterministic stand-in for measured time, which would make fitness depend on the machine). */
double sp_job_time_ratio(const sp_model *model, const sp_mask *m);
/* met: [SP_METRIC_COUNT] as worker/evaluator.h orders them. */
int sp_job_fitness(const sp_job *job, const sp_model *model, const sp_mask *m, const double *met,
                   double *fitness, sp_error *err);

#endif
