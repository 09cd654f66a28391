/* search_run.h — the coordinator's side of `swarmprune search`: for each k of the job, a search
 * driver (algorithm + fitness cache + history) whose batch objective is the MPI scheduler;
 * fitness from metrics through the job's objective; progress lines; an atomic HDF5 checkpoint
 * every `interval` generations and on a stop signal; resume from it so that the history and the
 * answer equal those of an uninterrupted run; results.h5 + summary.json per k. */
#ifndef SP_SEARCH_RUN_H
#define SP_SEARCH_RUN_H

#include "common/error.h"
#include "common/model.h"
#include "coordinator/job.h"
#include "coordinator/scheduler.h"

typedef struct {
    int resume;   /* 1: resume from an existing checkpoint (default), 0: --fresh */
    int require_resume; /* --resume: a missing checkpoint is an error */
    int quiet;    /* no per-generation progress lines */
} sp_search_options;

/* Outcome: SP_EXIT_OK (all k finished), SP_EXIT_RESUMABLE (stopped by a signal after writing
 * the checkpoint) or SP_EXIT_FAILURE (err set). */
int sp_search_coordinate(const sp_job *job, const sp_model *model, sp_sched *sched,
                         const sp_search_options *opt, sp_error *err);

/* 1 when every k of the job has a DONE marker written for this job (hash), at least its budget
 * and, when fp is not NULL, the model of that fingerprint (nothing left to do). */
int sp_search_all_done(const sp_job *job, const char *fp);

/* Checkpoint path for the i-th k of the job (job->checkpoint, or with ".k<K>" before ".h5"
 * when the job sweeps several k). */
void sp_search_checkpoint_path(const sp_job *job, int ki, char *buf, size_t size);

#endif
