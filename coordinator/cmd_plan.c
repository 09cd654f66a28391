/* cmd_plan.c — `swarmprune plan JOB.json --gpu KIND --nodes N --gpus-per-node G`: before an
 * allocation is spent, says whether the model fits, which tp to use, how many worker groups the
 * allocation gives, candidates per hour and the projected wall time of the job's budget (per k of
 * a sweep), from the model's config, the task's real token counts and the cost model of
 * plan_model.h; can write a ready sbatch script. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/commands.h"
#include "common/model.h"
#include "coordinator/job.h"
#include "coordinator/plan_model.h"
#include "coordinator/plan_workload.h"
#include "coordinator/plan_report.h"

static void plan_usage(FILE *f)
{
    fprintf(f,
        "usage: swarmprune plan JOB.json --gpu KIND [--nodes N] [--gpus-per-node G]\n"
        "                       [--interconnect nvlink|pcie] [--network-gbps X] [--tp P]\n"
        "                       [--emit-sbatch FILE] [--json]\n"
        "       swarmprune plan JOB.json --backend cpu [--nodes N] [--cores C] [--mem-gb M]\n"
        "                       [--cpu-gflops X] [--emit-sbatch FILE] [--json]\n\n"
        "Projects what the job needs before it runs: memory per rank for each tensor-parallel\n"
        "size tp (the largest tp divides the heads and KV heads), worker groups for the\n"
        "allocation, candidates per hour and the wall time of the job's budget (per k of a\n"
        "sweep), and the same for the paper's setting (Llama-3.1-70B, full HellaSwag, budget\n"
        "550) for comparison. Token counts come from the job's data and the model's tokenizer,\n"
        "batched as the search's evaluator batches them (shared contexts counted once); only\n"
        "config.json and tokenizer.json of the model are read, never its weights.\n\n"
        "options:\n"
        "  --gpu KIND          a100-40, a100-80, h100-80, h200-141, or custom:MEM_GB:TFLOPS:GBPS\n"
        "                      (device GB, dense bf16 TFLOP/s, GPU link GB/s per direction)\n"
        "  --backend cpu       the CPU engine instead (fp32); GFLOP/s of one core are measured\n"
        "                      here for about a second unless --cpu-gflops is given\n"
        "  --nodes N           nodes of the allocation (default 1)\n"
        "  --gpus-per-node G   GPUs per node (default 1)\n"
        "  --cores C           CPU: cores per node (default: this machine's)\n"
        "  --mem-gb M          CPU: memory per node in GB (default: this machine's)\n"
        "  --cpu-gflops X      CPU: sgemm GFLOP/s of one core (skips the measurement)\n"
        "  --interconnect I    nvlink (default) or pcie: the link between GPUs of a node\n"
        "  --network-gbps X    network between nodes in Gbit/s (default 200, HDR InfiniBand)\n"
        "  --tp P              only this tensor-parallel size\n"
        "  --emit-sbatch FILE  write a batch script running slurm/search.sbatch with the\n"
        "                      recommended tp: nodes, tasks, GPUs, a time limit with margin,\n"
        "                      --requeue and --signal (submit it with sbatch FILE)\n"
        "  --json              one JSON object on stdout instead of tables\n"
        "Model: time = layer GEMM FLOPs of the kept layers / (peak x efficiency x tp) + causal\n"
        "attention FLOPs / (peak x attention efficiency x tp) + 2 all-reduces per kept layer of\n"
        "T x hidden fp32 over the link + head FLOPs / (peak x efficiency); the figures of each\n"
        "device and their sources are in coordinator/plan_model.c and the README.\n");
}

typedef struct {
    const char *job, *gpu, *backend, *interconnect, *sbatch;
    int64_t nodes, gpn, cores, tp;
    double mem_gb, cpu_gflops, net_gbps;
    int json;
} plan_args;

static int plan_parse(int argc, char **argv, plan_args *a)
{
    sp_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = NULL;
        if (!strcmp(o, "--json")) {
            a->json = 1;
            continue;
        }
        if (o[0] != '-') {
            if (a->job) return sp_cli_usage_error("plan", "unexpected argument \"%s\"", o);
            a->job = o;
            continue;
        }
        static const char *const valued[] = {"--gpu", "--backend", "--nodes", "--gpus-per-node",
            "--cores", "--mem-gb", "--cpu-gflops", "--interconnect", "--network-gbps", "--tp",
            "--emit-sbatch", NULL};
        int known = 0;
        for (int k = 0; valued[k]; k++) known |= !strcmp(o, valued[k]);
        if (!known) return sp_cli_usage_error("plan", "unknown option \"%s\"", o);
        if (sp_cli_value(argc, argv, &i, &v, &err)) return sp_cli_usage_error("plan", "%s", err.msg);
        int rc = 0;
        if (!strcmp(o, "--gpu")) a->gpu = v;
        else if (!strcmp(o, "--backend")) a->backend = v;
        else if (!strcmp(o, "--interconnect")) a->interconnect = v;
        else if (!strcmp(o, "--emit-sbatch")) a->sbatch = v;
        else if (!strcmp(o, "--nodes")) rc = sp_cli_int(o, v, 1, 100000, &a->nodes, &err);
        else if (!strcmp(o, "--gpus-per-node")) rc = sp_cli_int(o, v, 1, 64, &a->gpn, &err);
        else if (!strcmp(o, "--cores")) rc = sp_cli_int(o, v, 1, 100000, &a->cores, &err);
        else if (!strcmp(o, "--tp")) rc = sp_cli_int(o, v, 1, 1024, &a->tp, &err);
        else if (!strcmp(o, "--mem-gb")) rc = sp_cli_double(o, v, 1e-3, 1e9, &a->mem_gb, &err);
        else if (!strcmp(o, "--cpu-gflops")) rc = sp_cli_double(o, v, 1e-3, 1e9, &a->cpu_gflops, &err);
        else if (!strcmp(o, "--network-gbps")) rc = sp_cli_double(o, v, 1e-3, 1e9, &a->net_gbps, &err);
        if (rc) return sp_cli_usage_error("plan", "%s", err.msg);
    }
    if (!a->job) return sp_cli_usage_error("plan", "missing JOB.json");
    if (a->backend && strcmp(a->backend, "cpu") && strcmp(a->backend, "cuda"))
        return sp_cli_usage_error("plan", "--backend: \"%s\" is not cpu or cuda", a->backend);
    int cpu = a->backend && !strcmp(a->backend, "cpu");
    if (cpu && a->gpu) return sp_cli_usage_error("plan", "--gpu and --backend cpu exclude each other");
    if (!cpu && !a->gpu)
        return sp_cli_usage_error("plan", "say what runs the job: --gpu KIND or --backend cpu");
    if (a->interconnect && strcmp(a->interconnect, "nvlink") && strcmp(a->interconnect, "pcie"))
        return sp_cli_usage_error("plan", "--interconnect: \"%s\" is not nvlink or pcie",
                                  a->interconnect);
    if (cpu && (a->gpn != 1 || a->interconnect))
        return sp_cli_usage_error("plan", "--gpus-per-node and --interconnect are for --gpu");
    if (!cpu && (a->cores || a->mem_gb > 0 || a->cpu_gflops > 0))
        return sp_cli_usage_error("plan", "--cores, --mem-gb and --cpu-gflops are for --backend cpu");
    return 0;
}

/* The model directory holding config.json (a .gguf is converted once, as every command does). */
static int plan_model_dir(const sp_job *job, char *dir, size_t size, sp_error *err)
{
    if (sp_model_path_is_gguf(job->model)) return sp_model_gguf_dir(job->model, dir, size, err);
    if (snprintf(dir, size, "%s", job->model) >= (int)size)
        return sp_error_set(err, "model path too long: %s", job->model);
    return 0;
}

static int plan_setup(const plan_args *a, const sp_job *job, plan_setting *s, sp_error *err)
{
    char dir[4096], path[4200];
    if (plan_model_dir(job, dir, sizeof dir, err)) return -1;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (sp_config_load(path, &s->cfg, err)) return -1;
    if (sp_plan_workload_count(job, dir, &s->cfg, &s->work, err)) return -1;
    s->job = job;
    s->nodes = (int)a->nodes;
    s->gpn = (int)a->gpn;
    s->only_tp = (int)a->tp;
    s->nvlink = !a->interconnect || !strcmp(a->interconnect, "nvlink");
    s->net_gbps = a->net_gbps > 0 ? a->net_gbps : 200;
    if (a->gpu) return sp_plan_device_parse(a->gpu, &s->dev, err);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    s->cores = a->cores > 0 ? (int)a->cores : (int)sysconf(_SC_NPROCESSORS_ONLN);
    double mem = a->mem_gb > 0 ? a->mem_gb : (double)pages * (double)psz * 1e-9;
    sp_plan_cpu_core core;
    sp_plan_cpu_calibrate(&s->cfg, s->work.level[s->work.n_levels - 1].max_call,
                          a->cpu_gflops > 0 ? 0.2 : 1.0, &core);
    if (a->cpu_gflops > 0) core.gflops = a->cpu_gflops;
    sp_plan_device_cpu(&core, mem, &s->dev);
    s->threads = job->threads > 0 ? job->threads : 1;
    return 0;
}

int cmd_plan(int argc, char **argv)
{
    if (sp_cli_wants_help(argc, argv)) {
        plan_usage(stdout);
        return SP_EXIT_OK;
    }
    plan_args a = {0};
    a.nodes = 1, a.gpn = 1;
    int rc = plan_parse(argc, argv, &a);
    if (rc) return rc;
    sp_error err = {{0}};
    sp_job job;
    if (sp_job_load(a.job, &job, &err)) return sp_cli_fail("plan", &err);
    plan_setting s;
    memset(&s, 0, sizeof s);
    rc = plan_setup(&a, &job, &s, &err) ? sp_cli_fail("plan", &err) : SP_EXIT_OK;
    plan_result res;
    memset(&res, 0, sizeof res);
    if (rc == SP_EXIT_OK && sp_plan_evaluate(&s, &res, &err)) rc = sp_cli_fail("plan", &err);
    if (rc == SP_EXIT_OK) {
        if (a.json) sp_plan_print_json(&s, &res);
        else sp_plan_print_text(&s, &res);
        if (!res.any_feasible) {
            const plan_row *w = &res.rows[0];
            fprintf(stderr, "swarmprune plan: error: the model does not fit this allocation at "
                    "any tensor-parallel size (tp %d: %s)\n", w->tp, w->why);
            rc = SP_EXIT_FAILURE;
        }
    }
    if (rc == SP_EXIT_OK && a.sbatch && sp_plan_write_sbatch(&s, &res, a.sbatch, &err))
        rc = sp_cli_fail("plan", &err);
    sp_job_free(&job);
    return rc;
}
