/* job.h — the search job file (JSON), loaded into a validated plain struct.
 * Every error names the file and the JSON path ("job.json: search.pso.inertia: expected a
 * number in [0, 1.5], got 2"); unknown and duplicate keys are errors; relative paths are
 * resolved against the job file's directory. The README documents every key. */
#ifndef SP_JOB_H
#define SP_JOB_H

#include <stdint.h>

#include "algorithm.h"
#include "common/error.h"
#include "common/mask.h"
#include "objective.h"

typedef enum { SP_TASK_NLL = 0, SP_TASK_HELLASWAG, SP_TASK_KL, SP_TASK_COUNT } sp_task_kind;

#define SP_JOB_MAX_K 32

typedef struct {
    sp_task_kind kind;
    char *path;        /* nll: token-id JSON; hellaswag: dataset; kl: text file */
    int64_t limit;     /* sequences / items / calibration tokens used at full fidelity, 0 = all */
    int64_t ctx;       /* kl: window length in tokens (BOS included) */
    int bos;           /* hellaswag, kl: 1 prepend BOS, 0 never, -1 (default, key absent):
                          follow the tokenizer (sp_tokenizer_bos_for) */
    int64_t sample;    /* hellaswag: a seeded random sample of this many items (0 = none) */
    int64_t sample_seed; /* hellaswag: the sample's seed (task.seed) */
} sp_job_task;

typedef struct {
    char *file;        /* the job file path as given */
    char *text;        /* the job file's bytes (stored in checkpoints) */
    char *compat;      /* the job without search.budget, compact: what a checkpoint must match
                          (so a resumed search can be given a larger total budget) */
    char name[128];
    char *model;       /* resolved model directory */
    int backend;       /* sp_backend */
    int threads;       /* BLAS threads per worker rank */
    int tp;            /* ranks per worker group */
    sp_job_task task;
    sp_objective objective;
    int n_k;
    int k[SP_JOB_MAX_K];
    int has_protected;
    sp_mask protected_layers; /* when has_protected; else first and last layer */
    sp_search_params search;  /* kind + algorithm parameters (warm masks not from the job) */
    int64_t budget;           /* unique evaluations per k (total, not "N more") */
    int n_fidelities;
    double fidelity_fraction[SP_MAX_FIDELITIES]; /* increasing, last = 1 */
    uint64_t seed;
    char *output;             /* resolved output directory */
    char *checkpoint;         /* resolved checkpoint path (default <output>/checkpoint.h5) */
    int checkpoint_interval;  /* generations between checkpoints (>= 1) */
} sp_job;

int sp_job_load(const char *path, sp_job *job, sp_error *err);
/* Same from text; `path` names the file in messages and anchors relative paths. */
int sp_job_parse(const char *text, size_t len, const char *path, sp_job *job, sp_error *err);
void sp_job_free(sp_job *job);

const char *sp_task_kind_name(sp_task_kind kind);

#endif
