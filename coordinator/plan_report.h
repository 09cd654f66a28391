/* plan_report.h — the projections of `swarmprune plan` for every feasible tensor-parallel size
 * (worker groups, memory, seconds per candidate, wall time per k), the paper's setting for
 * comparison, and their output as text, JSON or a batch script. */
#ifndef SP_PLAN_REPORT_H
#define SP_PLAN_REPORT_H

#include "common/error.h"
#include "common/model_config.h"
#include "coordinator/job.h"
#include "coordinator/plan_model.h"
#include "coordinator/plan_workload.h"

#define SP_PLAN_MAX_TP 12 /* tp = 1, 2, 4, ..., 2048 */

typedef struct {
    const sp_job *job;
    sp_model_config cfg;
    sp_plan_workload work;
    sp_plan_device dev;
    int nodes, gpn;     /* GPUs: nodes x GPUs per node */
    int cores, threads; /* CPU: cores per node, BLAS threads per worker rank */
    int only_tp;        /* 0 = every tp */
    int nvlink;         /* GPU link inside a node: 1 NVLink, 0 PCIe */
    double net_gbps;    /* between nodes, Gbit/s */
} plan_setting;

typedef struct {
    int tp, feasible, groups, intra_node;
    char why[256];                         /* why not feasible */
    sp_plan_memory mem;
    sp_plan_time full[SP_JOB_MAX_K];       /* one full-fidelity evaluation per k */
    double s_per_eval[SP_JOB_MAX_K];       /* mean over the fidelity mix */
    double cand_per_hour[SP_JOB_MAX_K];
    double wall_s[SP_JOB_MAX_K];           /* the budget of that k, startup included */
} plan_row;

typedef struct {
    int n_rows, best, any_feasible, largest_tp, pop, ranks;
    plan_row rows[SP_PLAN_MAX_TP];
    double mix, mix_w[SP_MAX_FIDELITIES]; /* mean evaluation cost / full, level weights */
    double startup_s;                     /* kl: the dense pass over every level's data */
    double total_wall_s;                  /* the whole sweep with the recommended tp */
} plan_result;

int sp_plan_evaluate(const plan_setting *s, plan_result *r, sp_error *err);
void sp_plan_print_text(const plan_setting *s, const plan_result *r);
void sp_plan_print_json(const plan_setting *s, const plan_result *r);
/* Writes FILE: #SBATCH lines (nodes, ntasks, GPUs, time limit = 1.25 x the projection + 15 min,
 * --requeue, --signal=B:USR1@300) and exec of slurm/search.sbatch with this job. */
int sp_plan_write_sbatch(const plan_setting *s, const plan_result *r, const char *file,
                         sp_error *err);

#endif
