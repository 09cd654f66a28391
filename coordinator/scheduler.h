/* scheduler.h — hands candidates to worker groups over MPI and collects their metrics.
 * Rank 0 is the coordinator; ranks 1..N-1 form groups of `tp` consecutive ranks whose first
 * rank is the group leader. Scheduling is dynamic (an idle group takes the next candidate, a
 * slow group never stalls the others) and results are returned in candidate order, so the
 * search is deterministic whatever the number of ranks. With one rank, candidates are scored
 * in-process. Waiting is by polling with short sleeps so idle ranks do not burn the cores that
 * busy ones need, and so a signal is noticed within milliseconds. */
#ifndef SP_SCHEDULER_H
#define SP_SCHEDULER_H

#include <mpi.h>
#include <stdint.h>

#include "common/error.h"
#include "coordinator/search_problem.h"
#include "worker/evaluator.h"

typedef struct {
    MPI_Comm world;
    int rank, size;
    int tp;
    int n_groups;          /* worker groups (0 = in-process scoring) */
    sp_evaluator *local;   /* in-process evaluator when n_groups == 0 */
    int64_t evals_sent;
    char *hosts;           /* [size x SP_HOST_MAX] every rank's host name (rank 0; may be NULL) */
    double slowest;        /* seconds of the slowest evaluation so far (worker deadline) */
    int lost;              /* 1 when a worker group missed its deadline (the job must abort) */
} sp_sched;

#define SP_HOST_MAX 64

/* Exit status of a worker whose MPI launcher disappeared. */
#define SP_SCHED_EXIT_ORPHANED 3

/* Outcome of sp_sched_evaluate. */
enum { SP_SCHED_DONE = 0, SP_SCHED_STOPPED = 1 };

/* Checks the world size against tp and fills the groups. local may be NULL when size > 1. */
int sp_sched_init(sp_sched *s, MPI_Comm world, int tp, sp_evaluator *local, sp_error *err);

/* Scores cands[n]; metrics is [n x SP_METRIC_COUNT], worker[n] the group that scored each
 * (-1 = in-process), done[n] = 1 for each finished candidate. Returns SP_SCHED_DONE when all
 * are done, SP_SCHED_STOPPED when a signal arrived (no new work was handed out, the work in
 * flight was collected: done[] tells which finished), -1 on error (a worker's message). */
int sp_sched_evaluate(sp_sched *s, const sp_candidate *cands, int n, double *metrics,
                      int *worker, int *done, sp_error *err);

/* Collective over world: rank 0 gets a malloc'd [size x SP_HOST_MAX] table of every rank's
 * host name (other ranks get NULL). */
char *sp_sched_gather_hosts(MPI_Comm world);

/* "node1,node2" for group g (the distinct hosts of its ranks, in rank order) into buf. */
void sp_sched_group_hosts(const sp_sched *s, int g, char *buf, size_t size);

/* Seconds a worker group may take for one evaluation before the coordinator declares it lost
 * (SWARMPRUNE_WORKER_DEADLINE; see scheduler.c). 0 = no deadline. */
double sp_sched_deadline(const sp_sched *s);

/* Tells every worker group to exit (coordinator side). */
void sp_sched_shutdown(sp_sched *s);

/* Worker side: serve tasks until the coordinator says stop. group = this rank's group
 * communicator (leader = group rank 0). Returns 0 on a normal stop, -1 on error. */
int sp_worker_serve(MPI_Comm world, MPI_Comm group, sp_evaluator *ev, sp_error *err);

/* 1 when this rank runs under an MPI launcher that has gone away (MPI can no longer be used). */
int sp_sched_launcher_gone(void);

/* Splits world into worker groups of tp ranks (rank 0 gets MPI_COMM_NULL). */
int sp_sched_split_groups(MPI_Comm world, int tp, MPI_Comm *group, sp_error *err);

#endif
