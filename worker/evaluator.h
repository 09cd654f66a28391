/* evaluator.h — what a search worker does with a candidate: score the job's task on the model
 * with a mask, at a fidelity level (a growing prefix of the evaluation data: level f uses the
 * first ceil(fraction[f] x N) sequences / items / calibration tokens, so every level is a subset
 * of the next). Built once per worker; the engine and data stay loaded for the whole search. */
#ifndef SP_EVALUATOR_H
#define SP_EVALUATOR_H

#include <stdint.h>

#include "common/error.h"
#include "common/mask.h"
#include "coordinator/job.h"
#include "engine.h"

/* Metrics of one evaluation, in this fixed order (also the columns of the checkpoint's
 * history/metrics dataset). Metrics the task does not produce are NaN. */
enum {
    SP_METRIC_NLL = 0,   /* mean next-token NLL, nats/token (nll task) */
    SP_METRIC_ACC,       /* multiple-choice accuracy (hellaswag task) */
    SP_METRIC_ACC_NORM,  /* length-normalized accuracy (hellaswag task) */
    SP_METRIC_KL,        /* mean KL(dense || pruned), nats/token (kl task) */
    SP_METRIC_UNITS,     /* sequences / items / calibration tokens scored */
    SP_METRIC_TOKENS,    /* tokens that went through the layers */
    SP_METRIC_SECONDS,   /* wall time of the evaluation (informational, never in fitness) */
    SP_METRIC_COUNT
};

extern const char *const sp_metric_names[SP_METRIC_COUNT];

typedef struct sp_evaluator sp_evaluator;

/* `model` and `engine` must outlive the evaluator; `tok_path` is where the tokenizer lives
 * (the model directory) for text tasks. */
int sp_evaluator_create(const sp_job *job, const sp_model *model, sp_engine *engine,
                        sp_evaluator **out, sp_error *err);
void sp_evaluator_free(sp_evaluator *ev);

/* Scores `removed` at fidelity level `fidelity` (0..job->n_fidelities-1). */
int sp_evaluator_run(sp_evaluator *ev, const sp_mask *removed, int fidelity,
                     double metrics[SP_METRIC_COUNT], sp_error *err);

/* The BOS id the job's task prepends (-1: none; nll scores token ids as given): task.bos
 * through the tokenizer's rule (sp_tokenizer_bos_for). Loads the tokenizer. */
int sp_job_bos(const sp_job *job, const sp_model *model, int32_t *bos, sp_error *err);

/* Number of evaluation units (sequences, items, tokens) at a level. */
int64_t sp_evaluator_units(const sp_evaluator *ev, int fidelity);

#endif
