/* plan_workload.h — what one candidate evaluation of a job costs in tokens, counted on the job's
 * real data with the model's tokenizer and batched exactly as the search's evaluator batches it
 * (worker/evaluator.c): shared multiple-choice contexts counted once, KL windows with their BOS,
 * nll windows as given. Needs the model's config.json and tokenizer.json, never its weights.
 * Dimension letters as in worker/engine.h. */
#ifndef SP_PLAN_WORKLOAD_H
#define SP_PLAN_WORKLOAD_H

#include <stdint.h>

#include "common/error.h"
#include "common/model_config.h"
#include "coordinator/job.h"

/* The work of one evaluation at one fidelity level. */
typedef struct {
    int64_t units;        /* sequences / items / calibration tokens */
    int64_t tokens;       /* tokens through the layers (T summed over forward calls) */
    double attn_pairs;    /* (query, key) pairs of causal attention, summed over tokens */
    int64_t head_rows;    /* rows whose logits the head computes */
    int64_t max_call;     /* tokens of the largest forward call */
    int64_t max_item;     /* tokens of the longest item (one attention span) */
} sp_plan_level;

typedef struct {
    sp_task_kind task;
    int n_levels;
    sp_plan_level level[SP_MAX_FIDELITIES];
    int32_t bos;          /* the BOS id the evaluator uses, -1 none */
    int64_t kl_cache_rows;   /* kl: rows of dense distributions cached (all levels) */
    int64_t kl_max_rows;     /* kl: logits rows of the largest forward call */
    int64_t data_bytes;      /* bytes of task data and requests kept in memory (estimate) */
} sp_plan_workload;

/* Counts the job's workload for a model directory holding config.json (+ tokenizer.json for
 * hellaswag and kl). */
int sp_plan_workload_count(const sp_job *job, const char *model_dir, const sp_model_config *cfg,
                           sp_plan_workload *w, sp_error *err);

/* Mean cost of one evaluation, as a fraction of a full-fidelity one, for a search that spends
 * its budget in generations of `pop` candidates (successive halving keeps 1 in `keep` per level
 * when halving is on; otherwise every evaluation is at full fidelity). Also returns the mean
 * per-evaluation level mix through `weights` [n_levels] (fractions of evaluations per level). */
double sp_plan_eval_mix(const sp_plan_workload *w, int halving, int pop, int keep,
                        double *weights);

#endif
