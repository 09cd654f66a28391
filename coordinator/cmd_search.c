/* cmd_search.c — `swarmprune search JOB.json`: rank 0 coordinates, ranks 1..N-1 form worker
 * groups that load the model once and score candidate masks; one rank alone scores in-process. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/commands.h"
#include "common/json_util.h"
#include "common/signals.h"
#include "coordinator/job.h"
#include "coordinator/scheduler.h"
#include "coordinator/search_run.h"
#include "worker/engine.h"
#include "worker/evaluator.h"
#include "worker/tp_shard.h"

static void usage(void)
{
    printf("usage: swarmprune search JOB.json [--tp N] [--resume | --fresh] [--quiet]\n"
           "       mpirun -np N swarmprune search JOB.json\n\n"
           "Searches which k layers to remove (see the README for the job file). Rank 0 is the\n"
           "coordinator; ranks 1..N-1 form worker groups of tp ranks that load the model once\n"
           "and score candidates; without mpirun a single process scores in-process.\n"
           "An existing checkpoint is resumed automatically; the result is the same as an\n"
           "uninterrupted run.\n\n"
           "options:\n"
           "  --tp N     ranks per worker group (overrides the job's \"tp\")\n"
           "  --resume   require a checkpoint to resume from (an error when there is none)\n"
           "  --fresh    ignore an existing checkpoint and DONE marker and start over\n"
           "  --quiet    no per-generation progress lines\n\n"
           "exit codes: 0 finished, 1 error, 2 bad command line, 75 stopped by SIGTERM /\n"
           "SIGUSR1 / SIGINT after writing a checkpoint (run the same command to resume)\n");
}

/* Rank 0 reads the job file and broadcasts its bytes, so every rank parses the same text. */
static int load_job_everywhere(const char *path, int rank, sp_job *job, sp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    long long n = -1;
    if (rank == 0) {
        if (sp_require_regular_file(path, err) == 0 && sp_read_file(path, &text, &len, err) == 0)
            n = (long long)len;
    }
    MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    if (n < 0) {
        if (rank != 0) sp_error_set(err, "%s: rank 0 could not read the job file", path);
        free(text);
        return -1;
    }
    if (rank != 0) text = sp_xmalloc((size_t)n + 1);
    MPI_Bcast(text, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
    text[n] = '\0';
    int rc = sp_job_parse(text, (size_t)n, path, job, err);
    free(text);
    return rc;
}

typedef struct {
    sp_model model;
    sp_engine *engine;
    sp_evaluator *ev;
    int model_open;
} worker_kit;

/* Opens the model; workers (and a lone process) also build the engine — sharded over `group`
 * when the group has several ranks — and the evaluator. */
static int kit_open(const sp_job *job, MPI_Comm group, worker_kit *k, int need_evaluator,
                    sp_error *err)
{
    memset(k, 0, sizeof *k);
    if (sp_model_open(job->model, &k->model, err)) return -1;
    k->model_open = 1;
    if (!need_evaluator) return 0;
    sp_engine_options eo = {.backend = (sp_backend)job->backend, .threads = job->threads};
    if (sp_engine_create_group(&k->model, &eo, group, &k->engine, err)) return -1;
    if (group == MPI_COMM_NULL) { /* alone: stop within the grace period, even mid-evaluation */
        int size = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (size == 1) sp_engine_set_stop(k->engine, sp_signal_pending);
    }
    return sp_evaluator_create(job, &k->model, k->engine, &k->ev, err);
}

static void kit_close(worker_kit *k)
{
    sp_evaluator_free(k->ev);
    sp_engine_free(k->engine);
    if (k->model_open) sp_model_close(&k->model);
}

/* Every k has a DONE marker for this job and this model: the model is opened (mapped, not read)
 * only when the markers match the job, to compare its fingerprint. */
static int finished_earlier(const sp_job *job)
{
    if (!sp_search_all_done(job, NULL)) return 0;
    sp_model m;
    sp_error e = {{0}};
    if (sp_model_open(job->model, &m, &e)) return 0; /* reported by the real load below */
    char fp[17];
    sp_model_fingerprint(&m, fp);
    sp_model_close(&m);
    return sp_search_all_done(job, fp);
}

/* One line naming the host(s) of each worker group, e.g. "group 0 (ranks 1-2) node1,node2". */
static void print_group_hosts(const sp_job *job, const sp_sched *s)
{
    if (!s->hosts) return;
    printf("swarmprune search: %s: coordinator on %s; worker hosts:", job->name, s->hosts);
    for (int g = 0; g < s->n_groups; g++) {
        char h[256];
        sp_sched_group_hosts(s, g, h, sizeof h);
        if (s->tp == 1) printf(" group %d (rank %d) %s", g, 1 + g, h);
        else printf(" group %d (ranks %d-%d) %s", g, 1 + g * s->tp, (g + 1) * s->tp, h);
        printf("%s", g + 1 < s->n_groups ? ";" : "\n");
    }
    fflush(stdout);
}

static int run_rank(sp_job *job, int rank, int size, const sp_search_options *opt, sp_error *err)
{
    MPI_Comm group = MPI_COMM_NULL;
    if (job->tp > 1 && size > 1) { /* the same clean refusal on every rank, before loading */
        char path[4200];
        sp_model_config cfg;
        sp_tp_plan plan;
        snprintf(path, sizeof path, "%s/config.json", job->model);
        if (sp_config_load(path, &cfg, err) || sp_tp_plan_make(&cfg, 0, job->tp, &plan, err))
            return SP_EXIT_FAILURE;
    }
    int all_done = rank == 0 && opt->resume && finished_earlier(job);
    MPI_Bcast(&all_done, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (all_done) { /* a requeue or re-submission of a finished search: load nothing */
        if (rank == 0)
            printf("swarmprune search: %s: already finished (DONE in %s); results in %s\n",
                   job->name, job->n_k == 1 ? job->output : "every k<K>/", job->output);
        return SP_EXIT_OK;
    }
    if (sp_sched_split_groups(MPI_COMM_WORLD, job->tp, &group, err)) return SP_EXIT_FAILURE;
    char *hosts = size > 1 ? sp_sched_gather_hosts(MPI_COMM_WORLD) : NULL;
    worker_kit kit;
    int rc = SP_EXIT_OK;
    if (kit_open(job, group, &kit, rank != 0 || size == 1, err)) {
        if (size == 1) { /* alone: an ordinary error exit, no MPI_Abort noise */
            kit_close(&kit);
            if (!sp_signal_pending()) return SP_EXIT_FAILURE;
            /* stopped during set-up (e.g. the KL task's dense pass): nothing to save */
            printf("stopped by signal %d during set-up (nothing written); run the same command "
                   "again to start (exit code %d)\n", sp_signal_pending(), SP_EXIT_RESUMABLE);
            return SP_EXIT_RESUMABLE;
        }
        fprintf(stderr, "swarmprune search: error (rank %d): %s\n", rank, err->msg);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, SP_EXIT_FAILURE); /* nobody must wait for this rank */
    }
    if (rank == 0) {
        sp_sched sched;
        if (sp_sched_init(&sched, MPI_COMM_WORLD, job->tp, kit.ev, err)) rc = SP_EXIT_FAILURE;
        else {
            if (size == 1)
                printf("swarmprune search: %s: 1 rank(s), in-process (no MPI workers; "
                       "mpirun -np N for N ranks), model %s (%lld layers)\n", job->name, job->model,
                       (long long)kit.model.cfg.n_layers);
            else
                printf("swarmprune search: %s: %d rank(s), %d worker group(s) of tp = %d, model "
                       "%s (%lld layers)\n", job->name, size, sched.n_groups, job->tp,
                       job->model, (long long)kit.model.cfg.n_layers);
            sched.hosts = hosts;
            print_group_hosts(job, &sched);
            fflush(stdout);
            rc = sp_search_coordinate(job, &kit.model, &sched, opt, err);
            if (sched.lost) { /* a group may never answer again: no collective can finish */
                fprintf(stderr, "swarmprune search: error: %s\n", err->msg);
                fflush(stderr);
                fflush(stdout);
                MPI_Abort(MPI_COMM_WORLD, SP_EXIT_RESUMABLE);
            }
            if (sp_sched_launcher_gone()) _exit(rc == SP_EXIT_FAILURE ? rc : SP_EXIT_RESUMABLE);
            sp_sched_shutdown(&sched);
        }
    } else {
        if (sp_worker_serve(MPI_COMM_WORLD, group, kit.ev, err)) rc = SP_EXIT_FAILURE;
    }
    kit_close(&kit);
    free(hosts);
    if (group != MPI_COMM_NULL) MPI_Comm_free(&group);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD); /* every rank exits with the same status */
    return rc;
}

/* Under srun, every task must be one rank of a single MPI world: an srun MPI plugin that does
 * not match the MPI library starts independent single-rank copies. SLURM_STEP_NUM_TASKS is the
 * step's task count (SLURM_NTASKS is the allocation's); mpirun inside an allocation is exempt. */
static int check_slurm_world(int size, int under_mpirun, sp_error *err)
{
    const char *steps = getenv("SLURM_STEP_NUM_TASKS");
    if (under_mpirun || !steps || !getenv("SLURM_PROCID")) return 0;
    int n = atoi(steps);
    if (n > 0 && n != size)
        return sp_error_set(err, "srun started %d tasks but MPI_COMM_WORLD has %d rank(s): srun's "
                            "MPI plugin does not match this MPI library (use srun --mpi=pmix)",
                            n, size);
    return 0;
}

int cmd_search(int argc, char **argv)
{
    if (sp_cli_wants_help(argc, argv)) {
        usage();
        return SP_EXIT_OK;
    }
    const char *job_path = NULL;
    int64_t tp = 0;
    sp_search_options opt = {.resume = 1, .quiet = 0};
    sp_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        const char *val;
        if (strcmp(argv[i], "--tp") == 0) {
            if (sp_cli_value(argc, argv, &i, &val, &err) || sp_cli_int("--tp", val, 1, 1024, &tp, &err))
                return sp_cli_usage_error("search", "%s", err.msg);
        } else if (strcmp(argv[i], "--fresh") == 0) opt.resume = 0;
        else if (strcmp(argv[i], "--resume") == 0) opt.require_resume = 1;
        else if (strcmp(argv[i], "--quiet") == 0) opt.quiet = 1;
        else if (argv[i][0] == '-') return sp_cli_usage_error("search", "unknown option \"%s\"", argv[i]);
        else if (job_path) return sp_cli_usage_error("search", "more than one job file");
        else job_path = argv[i];
    }
    if (!job_path) return sp_cli_usage_error("search", "missing JOB.json");
    if (opt.require_resume && !opt.resume)
        return sp_cli_usage_error("search", "--resume and --fresh exclude each other");
    int under_mpirun = getenv("OMPI_COMM_WORLD_SIZE") != NULL; /* set by mpirun / orted */
    /* Before anything slow (MPI_Init takes seconds on a loaded machine): a SIGUSR1 / SIGTERM
     * arriving early is recorded, not fatal. Again after MPI_Init, in case it replaced them. */
    sp_signals_install();
    MPI_Init(&argc, &argv);
    sp_signals_install();
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    sp_error_set_rank(rank, 1);
    sp_job job;
    int rc;
    if (check_slurm_world(size, under_mpirun, &err)) {
        fprintf(stderr, "swarmprune search: error: %s\n", err.msg);
        MPI_Finalize();
        return SP_EXIT_FAILURE;
    }
    if (load_job_everywhere(job_path, rank, &job, &err)) {
        if (rank == 0) fprintf(stderr, "swarmprune search: error: %s\n", err.msg);
        rc = SP_EXIT_FAILURE;
    } else {
        if (tp) job.tp = (int)tp;
        rc = run_rank(&job, rank, size, &opt, &err);
        if (rc == SP_EXIT_FAILURE && rank == 0) fprintf(stderr, "swarmprune search: error: %s\n", err.msg);
        sp_job_free(&job);
    }
    MPI_Finalize();
    return rc;
}
