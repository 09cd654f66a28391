/* eval_job.h — `swarmprune eval --job JOB.json --remove LIST`: scores a mask exactly as that
 * job's search scorer does at full fidelity, and prints its metrics and fitness. */
#ifndef SP_EVAL_JOB_H
#define SP_EVAL_JOB_H

/* remove: the mask ("" or NULL = none); backend: NULL = the job's. Returns the exit status. */
int sp_eval_job(const char *job_path, const char *remove, int json, int threads,
                const char *backend);

#endif
