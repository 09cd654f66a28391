/* cmd_eval.c — `swarmprune eval MODEL_DIR --task T [options]`: scores a model, optionally with
 * layers removed (skipped in the layer loop, never materialised). Parses the options every task
 * shares, opens the model and the engine, then dispatches through a small task table; each task
 * parses its own options (worker/eval_task.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/commands.h"
#include "eval_task.h"
#include "lora_io.h"
#include "task_mc_cli.h"
#include "eval_job.h"

static const sp_eval_task eval_tasks[] = {
    {"nll", sp_eval_task_nll, "mean next-token NLL of token-id sequences",
     "  --tokens FILE.json   a JSON array of token-id arrays, or an object whose \"eval_ids\"\n"
     "                       holds one (other keys ignored); every next token is scored, no\n"
     "                       BOS added (\"bos\": null)\n"
     "  --limit N            the first N sequences (as a job's task.limit)\n"
     "  --samples FILE.jsonl one line per sequence: tokens, tokens scored, NLL sum and mean\n"},
    {"ppl", sp_eval_task_ppl, "perplexity of a text file",
     "  --text FILE          UTF-8 text, tokenized whole without BOS\n"
     "  --ctx N              window length in tokens, BOS included (default 512)\n"
     "  --samples FILE.jsonl one line per window: tokens, tokens scored, NLL sum and mean\n"
     "  --stride S           new tokens scored per window after the first (1..ctx-1, default\n"
     "                       ctx-1: non-overlapping windows)\n"
     "  --max-tokens N       stop after N scored tokens\n"
     "  Method: the text's tokens are cut into windows of ctx-1 tokens, each prefixed with BOS\n"
     "  (without BOS: ctx tokens, and the text's first token is context only).\n"
     "  Window k covers tokens [k*S, k*S + ctx-1); the first window scores all its tokens, each\n"
     "  later one only the tokens past the previous window's end (its last S), so every token is\n"
     "  scored once with up to ctx-1-S tokens of extra left context (Hugging Face's sliding-\n"
     "  window perplexity). ppl = exp(total NLL / tokens scored).\n"},
    {"hellaswag", sp_eval_task_hellaswag, "HellaSwag / multiple-choice accuracy (acc, acc_norm)",
     sp_eval_hellaswag_help},
    {"kl", sp_eval_task_kl,
     "KL divergence of the pruned model's next-token distribution from the full one",
     sp_eval_kl_help},
    {NULL, NULL, NULL, NULL},
};

static void eval_usage(FILE *f)
{
    fprintf(f, "usage: swarmprune eval MODEL_DIR --task TASK [options]\n"
               "       swarmprune eval --job JOB.json [--remove LIST] [--json]\n\n"
               "Scores a Hugging Face Llama-family model directory, optionally with layers removed,\n"
               "with the CPU reference engine (fp32 arithmetic) or the CUDA engine (bf16 weights,\n"
               "fp32 accumulation).\n\n"
               "common options:\n"
               "  --task TASK          one of:");
    for (const sp_eval_task *t = eval_tasks; t->name; t++) fprintf(f, " %s", t->name);
    fprintf(f, "\n  --remove LIST        0-based layers to skip, e.g. 3,7,11 (no duplicates, not all)\n"
               "  --json               print one JSON object instead of text (\"bos\": the id\n"
               "                       prepended, or null)\n"
               "  --bos, --no-bos      prepend BOS / never; default: as the tokenizer does\n"
               "                       (tokenizer_config.json add_bos_token when set, else the\n"
               "                       tokenizer.json post-processor), like lm-evaluation-harness\n"
               "  --job JOB.json       score --remove exactly as that search job's scorer does at\n"
               "                       full fidelity (its model, task, data, limit/sample, ctx,\n"
               "                       BOS, objective); prints the metrics and the fitness\n"
               "  Options and MODEL_DIR may come in any order; flags take no value.\n"
               "  --backend B          cpu (default) or cuda (one GPU: SWARMPRUNE_CUDA_DEVICE, else\n"
               "                       the node-local MPI rank modulo the visible GPUs)\n"
               "  --threads N          BLAS threads (default: OpenBLAS's own setting)\n"
               "  --batch-tokens N     tokens per forward call (default 4096)\n"
               "  --adapter DIR        apply a PEFT LoRA adapter (from `heal`) at run time, unmerged;\n"
               "                       its layers are the model's kept layers (after --remove)\n\ntasks:\n");
    for (const sp_eval_task *t = eval_tasks; t->name; t++)
        fprintf(f, "%s — %s%s\n%s", t->name, t->summary, t->run ? "" : " (not implemented yet)",
                t->options);
}

typedef struct {
    const char *model_dir, *task, *remove, *backend, *job, *samples, *adapter;
    int json, bos_mode;
    int64_t threads, batch_tokens;
    int rest_argc;
    char **rest_argv; /* task name + options this parser does not know */
} eval_args;

/* Options of any task that take no value; every other task option takes one. */
static const char *const eval_task_flags[] = {"--plain", "--bound", NULL};

static int is_task_flag(const char *o)
{
    for (int i = 0; eval_task_flags[i]; i++)
        if (!strcmp(o, eval_task_flags[i])) return 1;
    return 0;
}

/* One common option with its value; returns 0, or an exit status for a usage error. */
static int eval_common_value(const char *o, const char *val, eval_args *a)
{
    sp_error err = {{0}};
    if (!strcmp(o, "--task")) a->task = val;
    else if (!strcmp(o, "--remove")) a->remove = val;
    else if (!strcmp(o, "--job")) a->job = val;
    else if (!strcmp(o, "--samples")) a->samples = val;
    else if (!strcmp(o, "--adapter")) a->adapter = val;
    else if (!strcmp(o, "--backend")) {
        if (strcmp(val, "cpu") && strcmp(val, "cuda"))
            return sp_cli_usage_error("eval", "--backend: \"%s\" is not cpu or cuda", val);
        a->backend = val;
    } else if (!strcmp(o, "--threads")) {
        if (sp_cli_int(o, val, 1, 1024, &a->threads, &err)) return sp_cli_usage_error("eval", "%s", err.msg);
    } else if (sp_cli_int(o, val, 1, INT32_MAX, &a->batch_tokens, &err)) { /* --batch-tokens */
        return sp_cli_usage_error("eval", "%s", err.msg);
    }
    return 0;
}

/* Options and MODEL_DIR in any order; flags take no value. Returns 0, or an exit status. */
static int eval_parse(int argc, char **argv, eval_args *a)
{
    sp_error err = {{0}};
    const char *val;
    a->rest_argv[0] = NULL;
    a->rest_argc = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int known = !strcmp(o, "--task") || !strcmp(o, "--remove") || !strcmp(o, "--threads") ||
                    !strcmp(o, "--batch-tokens") || !strcmp(o, "--backend") ||
                    !strcmp(o, "--job") || !strcmp(o, "--samples") ||
                    !strcmp(o, "--adapter");
        if (known) {
            if (sp_cli_value(argc, argv, &i, &val, &err) != 0)
                return sp_cli_usage_error("eval", "%s", err.msg);
            int rc = eval_common_value(o, val, a);
            if (rc) return rc;
        } else if (!strcmp(o, "--json")) a->json = 1;
        else if (!strcmp(o, "--bos") || !strcmp(o, "--no-bos")) {
            int m = !strcmp(o, "--bos") ? SP_BOS_ON : SP_BOS_OFF;
            if (a->bos_mode != SP_BOS_AUTO && a->bos_mode != m)
                return sp_cli_usage_error("eval", "--bos and --no-bos exclude each other");
            a->bos_mode = m;
        } else if (o[0] != '-' && !a->model_dir) a->model_dir = o;
        else if (o[0] != '-') return sp_cli_usage_error("eval", "unexpected argument \"%s\"", o);
        else { /* a task option and, unless it is a flag, its value */
            a->rest_argv[a->rest_argc++] = argv[i];
            if (!is_task_flag(o) && i + 1 < argc) a->rest_argv[a->rest_argc++] = argv[++i];
        }
    }
    if (a->job) {
        if (a->model_dir || a->task || a->rest_argc > 1 || a->samples || a->bos_mode || a->adapter)
            return sp_cli_usage_error("eval", "--job JOB.json takes the model, task and its options "
                                      "from the job: only --remove, --json, --threads and "
                                      "--backend go with it");
        return 0;
    }
    if (!a->model_dir) return sp_cli_usage_error("eval", "missing MODEL_DIR");
    if (!a->task) return sp_cli_usage_error("eval", "missing --task");
    a->rest_argv[0] = (char *)a->task;
    return 0;
}

/* Opens the model, parses --remove against it, creates the engine, runs the task. */
static int eval_run(const sp_eval_task *task, eval_args *a)
{
    sp_error err = {{0}};
    sp_model model;
    sp_eval_ctx ctx = {0};
    sp_lora lora;
    memset(&lora, 0, sizeof lora);
    ctx.model_dir = a->model_dir, ctx.json = a->json, ctx.threads = (int)a->threads;
    ctx.batch_tokens = a->batch_tokens, ctx.bos_mode = a->bos_mode, ctx.samples = a->samples;
    double t0 = sp_now();
    if (sp_model_open(a->model_dir, &model, &err) != 0) return sp_cli_fail("eval", &err);
    ctx.model = &model;
    int rc = SP_EXIT_FAILURE;
    if (sp_mask_parse(a->remove ? a->remove : "", (int)model.cfg.n_layers, "--remove",
                      &ctx.removed, &err) != 0) {
        rc = sp_cli_usage_error("eval", "%s", err.msg);
        goto done;
    }
    sp_engine_options opt = {a->backend && !strcmp(a->backend, "cuda") ? SP_BACKEND_CUDA
                                                                         : SP_BACKEND_CPU,
                             ctx.threads};
    if (sp_engine_create(&model, &opt, &ctx.engine, &err) != 0) {
        rc = sp_cli_fail("eval", &err);
        goto done;
    }
    if (a->adapter && (sp_lora_load_peft(a->adapter, &model.cfg, &ctx.removed, &lora, &err) ||
                       sp_engine_set_lora(ctx.engine, &lora, &err))) {
        rc = sp_cli_fail("eval", &err);
        goto done;
    }
    ctx.load_s = sp_now() - t0;
    rc = task->run(&ctx, a->rest_argc, a->rest_argv);
    size_t wb = 0, wsb = 0, peak = 0;
    if (sp_engine_device_memory(ctx.engine, &wb, &wsb, &peak) == 0)
        fprintf(stderr, "eval: cuda device memory: peak %.2f GiB in use (weights %.2f GiB, "
                "activations %.2f GiB)\n", peak / 1073741824.0, wb / 1073741824.0,
                wsb / 1073741824.0);
done:
    sp_engine_free(ctx.engine);
    sp_lora_free(&lora);
    sp_model_close(&model);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    if (sp_cli_wants_help(argc, argv)) {
        eval_usage(stdout);
        return SP_EXIT_OK;
    }
    char **rest = sp_xmalloc((size_t)(argc + 1) * sizeof *rest);
    eval_args a = {0};
    a.batch_tokens = 4096, a.rest_argv = rest;
    int rc = eval_parse(argc, argv, &a);
    if (rc == 0 && a.job) {
        free(rest);
        return sp_eval_job(a.job, a.remove, a.json, (int)a.threads, a.backend);
    }
    const sp_eval_task *task = NULL;
    for (const sp_eval_task *t = eval_tasks; rc == 0 && t->name; t++)
        if (!strcmp(t->name, a.task)) task = t;
    if (rc == 0 && !task) rc = sp_cli_usage_error("eval", "unknown task \"%s\"", a.task);
    if (rc == 0 && task->run && a.samples && !strcmp(a.task, "kl"))
        rc = sp_cli_usage_error("eval", "--samples: not available for --task kl");
    if (rc == 0 && !task->run) {
        fprintf(stderr, "swarmprune eval: error: not implemented: task %s\n", a.task);
        rc = SP_EXIT_FAILURE;
    }
    if (rc == 0) rc = eval_run(task, &a);
    free(rest);
    return rc;
}
