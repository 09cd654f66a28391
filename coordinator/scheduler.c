/* scheduler.c — dynamic MPI dispatch of candidates to worker groups (see scheduler.h). */
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <signal.h>

#include "common/cli.h"
#include "common/signals.h"

enum { TAG_TASK = 101, TAG_RESULT = 102 };
enum { TASK_EVAL = 1, TASK_STOP = 2 };

typedef struct {
    int64_t index;
    int32_t kind;
    int32_t fidelity;
    uint64_t mask[SP_MASK_WORDS];
} task_msg;

typedef struct {
    int64_t index;
    int32_t status; /* 0 ok, -1 error (msg) */
    int32_t signo;  /* a signal the worker received, 0 = none */
    double metrics[SP_METRIC_COUNT];
    char msg[1024];
} result_msg;

static void nap(void)
{
    struct timespec ts = {0, 1000000}; /* 1 ms */
    nanosleep(&ts, NULL);
}

/* Under a launcher, our parent is mpirun / orted: when it is gone the job is over (a rank died
 * and the launcher left), and waiting for MPI messages would hang forever. */
static pid_t g_parent = 0;
static int orphaned(void) { return g_parent != 0 && getppid() != g_parent; }
int sp_sched_launcher_gone(void) { return orphaned(); }

/* Seconds the coordinator waits for evaluations in flight after a stop request before writing
 * the checkpoint without them (they are scored again on resume). */
static double stop_grace(void)
{
    const char *v = getenv("SWARMPRUNE_STOP_GRACE");
    double g = v ? atof(v) : 0;
    return g > 0 ? g : 60.0;
}

/* Blocking receive that sleeps between probes (Open MPI's blocking receive spins); exits when
 * the launcher is gone. */
static void recv_polling(void *buf, int bytes, int src, int tag, MPI_Comm comm, MPI_Status *st)
{
    int flag = 0;
    while (MPI_Iprobe(src, tag, comm, &flag, st) == MPI_SUCCESS && !flag) {
        if (orphaned()) {
            fprintf(stderr, "swarmprune: worker pid %ld: the MPI launcher is gone; exiting\n",
                    (long)getpid());
            _exit(SP_SCHED_EXIT_ORPHANED);
        }
        nap();
    }
    MPI_Recv(buf, bytes, MPI_BYTE, st->MPI_SOURCE, tag, comm, st);
}

char *sp_sched_gather_hosts(MPI_Comm world)
{
    int rank, size;
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &size);
    char me[SP_HOST_MAX] = {0};
    if (gethostname(me, sizeof me - 1) != 0) snprintf(me, sizeof me, "unknown");
    char *all = rank == 0 ? sp_xcalloc((size_t)size, SP_HOST_MAX) : NULL;
    MPI_Gather(me, SP_HOST_MAX, MPI_CHAR, all, SP_HOST_MAX, MPI_CHAR, 0, world);
    return all;
}

void sp_sched_group_hosts(const sp_sched *s, int g, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->tp && s->hosts; i++) {
        const char *h = s->hosts + (size_t)(1 + g * s->tp + i) * SP_HOST_MAX;
        if (i > 0 && strcmp(h, s->hosts + (size_t)(g * s->tp + i) * SP_HOST_MAX) == 0) continue;
        int n = snprintf(buf + len, size - len, "%s%s", len ? "," : "", h);
        if (n < 0 || (size_t)n >= size - len) break;
        len += (size_t)n;
    }
    if (!buf[0]) snprintf(buf, size, "?");
}

/* The worker deadline: a group that has not answered one evaluation within it is declared lost
 * (its node died, or a partition cut it off without closing a connection: MPI would wait
 * forever), and the job aborts so that it can resume from the checkpoint elsewhere.
 * SWARMPRUNE_WORKER_DEADLINE = seconds (0 = none); unset: 10 x the slowest evaluation seen so
 * far, at least 300 s, which leaves room for a slow first evaluation (warm-up) or a node that
 * stalls for a while (swapping, a debugger, SIGSTOP) without aborting a healthy job. */
double sp_sched_deadline(const sp_sched *s)
{
    const char *v = getenv("SWARMPRUNE_WORKER_DEADLINE");
    if (v && *v) return atof(v) > 0 ? atof(v) : 0;
    return 10 * s->slowest > 300 ? 10 * s->slowest : 300;
}

/* Sets the error for group g, which has not answered for `waited` seconds. */
static int group_lost(sp_sched *s, int g, double waited, sp_error *err)
{
    char hosts[256];
    sp_sched_group_hosts(s, g, hosts, sizeof hosts);
    s->lost = 1;
    char ranks[48];
    if (s->tp == 1) snprintf(ranks, sizeof ranks, "rank %d", 1 + g);
    else snprintf(ranks, sizeof ranks, "ranks %d-%d", 1 + g * s->tp, (g + 1) * s->tp);
    return sp_error_set(err, "worker group %d (%s on %s) has not answered for %.0f s (worker "
                        "deadline %.0f s, SWARMPRUNE_WORKER_DEADLINE): its node is down, cut off "
                        "or stalled; aborting so that the job resumes from the checkpoint", g,
                        ranks, hosts, waited, sp_sched_deadline(s));
}

int sp_sched_split_groups(MPI_Comm world, int tp, MPI_Comm *group, sp_error *err)
{
    int rank, size;
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &size);
    if (size > 1 && (size - 1) % tp != 0)
        return sp_error_set(err, "%d MPI ranks: the %d worker ranks (all but rank 0) must form "
                            "groups of tp = %d", size, size - 1, tp);
    const char *dl = getenv("SWARMPRUNE_WORKER_DEADLINE");
    if (dl && *dl) {
        char *end;
        double v = strtod(dl, &end);
        if (*end != '\0' || !(v >= 0))
            return sp_error_set(err, "SWARMPRUNE_WORKER_DEADLINE: expected seconds >= 0 (0 = no "
                                "deadline), got \"%s\"", dl);
    }
    if (size > 1) g_parent = getppid();
    int color = rank == 0 ? MPI_UNDEFINED : (rank - 1) / tp;
    if (MPI_Comm_split(world, color, rank, group) != MPI_SUCCESS)
        return sp_error_set(err, "MPI_Comm_split failed");
    return 0;
}

int sp_sched_init(sp_sched *s, MPI_Comm world, int tp, sp_evaluator *local, sp_error *err)
{
    memset(s, 0, sizeof *s);
    s->world = world;
    s->tp = tp;
    MPI_Comm_rank(world, &s->rank);
    MPI_Comm_size(world, &s->size);
    if (s->size > 1 && (s->size - 1) % tp != 0)
        return sp_error_set(err, "%d MPI ranks: the %d worker ranks must form groups of tp = %d",
                            s->size, s->size - 1, tp);
    s->n_groups = s->size > 1 ? (s->size - 1) / tp : 0;
    s->local = local;
    if (s->n_groups == 0 && !local)
        return sp_error_set(err, "no worker ranks and no in-process evaluator");
    return 0;
}

static int evaluate_local(sp_sched *s, const sp_candidate *cands, int n, double *metrics,
                          int *worker, int *done, sp_error *err)
{
    for (int i = 0; i < n; i++) {
        if (sp_signal_pending()) return SP_SCHED_STOPPED;
        if (sp_evaluator_run(s->local, &cands[i].mask, cands[i].fidelity,
                             &metrics[(size_t)i * SP_METRIC_COUNT], err)) {
            /* Interrupted mid-evaluation (sp_engine_set_stop): the candidate is abandoned, not
             * recorded, and scored again from scratch on resume (same result: deterministic). */
            if (sp_signal_pending()) {
                printf("stop requested: evaluation of candidate %d of %d abandoned (it is "
                       "re-scored on resume)\n", i + 1, n);
                fflush(stdout);
                return SP_SCHED_STOPPED;
            }
            return -1;
        }
        worker[i] = -1;
        done[i] = 1;
        s->evals_sent++;
    }
    return SP_SCHED_DONE;
}

static void send_task(sp_sched *s, int group, const sp_candidate *c, int64_t index)
{
    task_msg t;
    memset(&t, 0, sizeof t);
    t.index = index;
    t.kind = TASK_EVAL;
    t.fidelity = c->fidelity;
    memcpy(t.mask, c->mask.w, sizeof t.mask);
    MPI_Send(&t, (int)sizeof t, MPI_BYTE, 1 + group * s->tp, TAG_TASK, s->world);
    s->evals_sent++;
}

int sp_sched_evaluate(sp_sched *s, const sp_candidate *cands, int n, double *metrics,
                      int *worker, int *done, sp_error *err)
{
    for (int i = 0; i < n; i++) done[i] = 0;
    if (s->n_groups == 0) return evaluate_local(s, cands, n, metrics, worker, done, err);
    int next = 0, in_flight = 0, n_done = 0, failed = 0;
    double stop_since = 0, deadline = sp_sched_deadline(s);
    int *busy = sp_xcalloc((size_t)s->n_groups, sizeof *busy);
    double *sent_at = sp_xcalloc((size_t)s->n_groups, sizeof *sent_at);
    while (n_done < n) {
        if (orphaned()) {
            fprintf(stderr, "swarmprune: coordinator: the MPI launcher is gone; writing the "
                            "checkpoint without the %d evaluation(s) in flight\n", in_flight);
            sp_signal_raise_flag(SIGTERM);
            break;
        }
        int stop = sp_signal_pending() || failed;
        if (stop && stop_since == 0) stop_since = sp_now();
        if (stop && !failed && in_flight > 0 && sp_now() - stop_since > stop_grace()) {
            fprintf(stderr, "swarmprune: coordinator: %d evaluation(s) still in flight after a "
                            "%.0f s grace; checkpointing without them\n", in_flight, stop_grace());
            break;
        }
        for (int g = 0; g < s->n_groups && next < n && !stop; g++)
            if (!busy[g]) {
                send_task(s, g, &cands[next], next), busy[g] = 1, next++, in_flight++;
                sent_at[g] = sp_now();
            }
        if (in_flight == 0) break;
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, s->world, &flag, &st);
        if (!flag) {
            double t = sp_now();
            for (int g = 0; g < s->n_groups && deadline > 0 && !s->lost; g++)
                if (busy[g] && t - sent_at[g] > deadline) group_lost(s, g, t - sent_at[g], err);
            if (s->lost) break;
            nap();
            continue;
        }
        result_msg r;
        MPI_Recv(&r, (int)sizeof r, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, s->world, &st);
        int g = (st.MPI_SOURCE - 1) / s->tp;
        busy[g] = 0;
        if (sp_now() - sent_at[g] > s->slowest) s->slowest = sp_now() - sent_at[g];
        in_flight--;
        if (r.signo) sp_signal_raise_flag(r.signo);
        if (r.status != 0) {
            if (!failed) sp_error_set(err, "worker group %d (rank %d): %s", g, st.MPI_SOURCE, r.msg);
            failed = 1;
            continue;
        }
        SP_ASSERT(r.index >= 0 && r.index < n && !done[r.index]);
        memcpy(&metrics[(size_t)r.index * SP_METRIC_COUNT], r.metrics, sizeof r.metrics);
        worker[r.index] = g;
        done[r.index] = 1;
        n_done++;
    }
    free(busy);
    free(sent_at);
    if (failed || s->lost) return -1;
    return n_done == n ? SP_SCHED_DONE : SP_SCHED_STOPPED;
}

void sp_sched_shutdown(sp_sched *s)
{
    task_msg t;
    memset(&t, 0, sizeof t);
    t.kind = TASK_STOP;
    for (int g = 0; g < s->n_groups; g++)
        MPI_Send(&t, (int)sizeof t, MPI_BYTE, 1 + g * s->tp, TAG_TASK, s->world);
}

int sp_worker_serve(MPI_Comm world, MPI_Comm group, sp_evaluator *ev, sp_error *err)
{
    int grank = 0;
    MPI_Comm_rank(group, &grank);
    for (;;) {
        task_msg t;
        MPI_Status st;
        if (grank == 0) recv_polling(&t, (int)sizeof t, 0, TAG_TASK, world, &st);
        MPI_Bcast(&t, (int)sizeof t, MPI_BYTE, 0, group);
        if (t.kind == TASK_STOP) return 0;
        result_msg r;
        memset(&r, 0, sizeof r);
        r.index = t.index;
        sp_mask m;
        memcpy(m.w, t.mask, sizeof m.w);
        sp_error e = {{0}};
        r.status = sp_evaluator_run(ev, &m, t.fidelity, r.metrics, &e);
        if (r.status) snprintf(r.msg, sizeof r.msg, "%.1000s", e.msg);
        r.signo = sp_signal_pending();
        if (grank == 0) MPI_Send(&r, (int)sizeof r, MPI_BYTE, 0, TAG_RESULT, world);
    }
    (void)err;
}
