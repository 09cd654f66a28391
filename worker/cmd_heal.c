/* cmd_heal.c — `swarmprune heal MODEL_DIR (--remove L,.. | --from RESULTS.h5 [--k K]) --data FILE
 * --out DIR [options]`: LoRA fine-tuning of the pruned model on the CPU trainer (fp32), written
 * as a PEFT adapter (optionally merged into a Hugging Face checkpoint). This file parses the
 * command line and sets the run up; the loop is in heal_loop.c. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/commands.h"
#include "../common/signals.h"
#include "export.h"
#include "heal_internal.h"

static void heal_usage(FILE *f)
{
    fprintf(f,
        "usage: swarmprune heal MODEL_DIR (--remove LIST | --from RESULTS.h5 [--k K]) --data FILE\n"
        "                       --out DIR [options]\n\n"
        "Heals a pruned model: LoRA fine-tuning (fp32, CPU) of the layers that remain, written as a\n"
        "PEFT adapter directory DIR (adapter_config.json + adapter_model.safetensors, names of the\n"
        "pruned, renumbered model: it loads with PeftModel.from_pretrained on `swarmprune export`'s\n"
        "output) plus swarmprune_heal.json (removed layers, options, NLL before/after). MODEL_DIR\n"
        "may be the full model with --remove / --from, or a pruned export (no mask needed).\n"
        "Running the same command again resumes from the checkpoint (kill -9 safe, same result).\n\n"
        "model and data:\n"
        "  --remove LIST        layers to remove, 0-based (e.g. 3,7,11)\n"
        "  --from FILE [--k K]  the best mask of a search (results.h5), as `export --from`\n"
        "  --data FILE          training data, repeatable. *.jsonl / *.json: one object per line,\n"
        "                       {\"text\": ...} or Alpaca {\"instruction\", \"input\", \"output\"};\n"
        "                       anything else: UTF-8 plain text\n"
        "  --ctx N              window length in tokens, BOS included (default 512, at most the\n"
        "                       model's max_position_embeddings). Plain text is tokenized whole\n"
        "                       and cut into windows of N-1 tokens, each prefixed with BOS (as\n"
        "                       `eval --task ppl`); a \"text\" record is BOS + text + EOS cut the\n"
        "                       same way; an instruction record is BOS + Alpaca prompt + output +\n"
        "                       EOS in one window, cut at N tokens\n"
        "  --loss all|response  all: every next token is scored (default); response: instruction\n"
        "                       data only, only the output (+ EOS) tokens are scored\n"
        "  --eval FILE          held-out data (same formats): NLL before, every --eval-every steps\n"
        "                       and after training\n"
        "  --eval-every N       steps between evaluations (default 0: before and after only)\n"
        "  --eval-tokens N      evaluate on the first windows holding N tokens (default 0: all)\n\n"
        "LoRA (PEFT semantics):\n"
        "  --rank R             rank (default 8)\n"
        "  --alpha A            scaling alpha / r (default 16)\n"
        "  --dropout P          dropout on the LoRA input, [0, 1) (default 0.1)\n"
        "  --targets LIST       q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj or\n"
        "                       q,k,v,o,gate,up,down (default q_proj,v_proj)\n\n"
        "optimisation (AdamW as torch.optim.AdamW: betas 0.9, 0.999, eps 1e-8, decoupled decay):\n"
        "  --lr LR              peak learning rate (default 1e-4)\n"
        "  --weight-decay WD    decoupled weight decay (default 0)\n"
        "  --warmup N           warmup steps (default 0)\n"
        "  --schedule S         cosine (default), linear or constant. Step s (0-based) of S_total\n"
        "                       uses lr*s/N while s < N (warmup), then constant: lr; linear:\n"
        "                       lr*(S_total-s)/(S_total-N); cosine: lr*0.5*(1+cos(pi*(s-N)/\n"
        "                       (S_total-N))) — Hugging Face's get_*_schedule_with_warmup\n"
        "  --batch-tokens N     tokens per micro-batch: floor(N / ctx) windows, at least 1\n"
        "                       (default 2048)\n"
        "  --grad-accum N       micro-batches per optimizer step (default 1); the loss of a step\n"
        "                       is the mean over every scored token of its micro-batches\n"
        "  --max-grad-norm X    clip the global gradient norm to X (default 1; 0 = off)\n"
        "  --epochs E           passes over the training windows (default 1; fractions allowed)\n"
        "  --steps S            optimizer steps instead of --epochs\n"
        "  --seed S             LoRA init, window shuffle and dropout draws (default 0)\n\n"
        "run:\n"
        "  --out DIR            the adapter directory (written atomically at the end)\n"
        "  --merge DIR          also write the merged model W + (alpha/r) B A as a Hugging Face\n"
        "                       checkpoint (the merged projections stored F32)\n"
        "  --threads N          BLAS threads (default: OpenBLAS's own setting)\n"
        "  --recompute          keep only each layer's input; recompute in backward (less memory)\n"
        "  --checkpoint-every N steps between checkpoints (default 50; 0 = only on a signal)\n"
        "  --checkpoint FILE    checkpoint path (default DIR.heal.h5; removed after success)\n"
        "  --fresh              ignore an existing checkpoint\n"
        "  --force              replace an existing DIR / --merge DIR\n"
        "  --init-only          write the initial (untrained) adapter to DIR and stop\n"
        "  --dump-batches FILE  write every micro-batch (tokens, weights) and each step's loss, lr\n"
        "                       and gradient norm as JSON lines (for tests/peft_compare.py)\n"
        "  --quiet              no progress lines\n"
        "  -h, --help           this help\n\n"
        "Progress: one line per step (loss, lr, gradient norm, tokens/s, ETA). Memory is estimated\n"
        "before starting; heal refuses when it exceeds the available memory (MemAvailable, or the\n"
        "cgroup's limit; SWARMPRUNE_HEAL_MEMORY=BYTES overrides). SIGTERM / SIGUSR1 / SIGINT write\n"
        "a checkpoint and exit 75.\n");
}

typedef struct {
    const char *name;
    int kind; /* 0 string, 1 int, 2 double */
    size_t off;
    double lo, hi;
} heal_opt_spec;

#define HO(f) offsetof(sp_heal_opts, f)
static const heal_opt_spec heal_specs[] = {
    {"--remove", 0, HO(remove), 0, 0}, {"--from", 0, HO(from), 0, 0},
    {"--out", 0, HO(out), 0, 0}, {"--merge", 0, HO(merge), 0, 0},
    {"--eval", 0, HO(eval), 0, 0}, {"--checkpoint", 0, HO(checkpoint), 0, 0},
    {"--dump-batches", 0, HO(dump_batches), 0, 0},
    {"--k", 1, HO(k), 0, SP_MAX_LAYERS}, {"--warmup", 1, HO(warmup), 0, 1e15},
    {"--batch-tokens", 1, HO(batch_tokens), 1, INT32_MAX},
    {"--grad-accum", 1, HO(grad_accum), 1, 1 << 20}, {"--steps", 1, HO(steps), 1, 1e15},
    {"--ctx", 1, HO(ctx), 2, INT32_MAX}, {"--eval-every", 1, HO(eval_every), 0, 1e15},
    {"--eval-tokens", 1, HO(eval_tokens), 0, 1e15}, {"--threads", 1, HO(threads), 1, 1024},
    {"--checkpoint-every", 1, HO(checkpoint_every), 0, 1e15},
    {"--lr", 2, HO(lr), 0, 10}, {"--weight-decay", 2, HO(weight_decay), 0, 1e3},
    {"--max-grad-norm", 2, HO(max_grad_norm), 0, 1e30}, {"--epochs", 2, HO(epochs), 1e-9, 1e6},
    {"--alpha", 2, HO(lora.alpha), 1e-9, 1e9}, {"--dropout", 2, HO(lora.dropout), 0, 0.999999},
    {NULL, 0, 0, 0, 0},
};

static void heal_defaults(sp_heal_opts *o)
{
    memset(o, 0, sizeof *o);
    o->k = -1;
    o->lora = (sp_lora_config){8, 16.0, 0.1, (1u << SP_LORA_Q) | (1u << SP_LORA_V)};
    o->lr = 1e-4, o->max_grad_norm = 1.0, o->epochs = 1.0;
    o->batch_tokens = 2048, o->grad_accum = 1, o->ctx = 512, o->checkpoint_every = 50;
    o->schedule = SP_SCHED_COSINE;
}

/* Options with a value that is not in the table. */
static int heal_special(sp_heal_opts *o, const char *name, const char *val, sp_error *err)
{
    int64_t v = 0;
    if (!strcmp(name, "--data")) {
        if (o->n_data == SP_HEAL_MAX_DATA)
            return sp_error_set(err, "--data: at most %d files", SP_HEAL_MAX_DATA);
        o->data[o->n_data++] = val;
    } else if (!strcmp(name, "--rank")) {
        if (sp_cli_int(name, val, 1, 1 << 16, &v, err)) return -1;
        o->lora.rank = (int)v;
    } else if (!strcmp(name, "--targets")) {
        return sp_lora_parse_targets(val, "--targets", &o->lora.targets, err);
    } else if (!strcmp(name, "--schedule")) {
        return sp_schedule_parse(val, "--schedule", &o->schedule, err);
    } else if (!strcmp(name, "--loss")) {
        if (strcmp(val, "all") && strcmp(val, "response"))
            return sp_error_set(err, "--loss: \"%s\" is not all or response", val);
        o->loss = strcmp(val, "all") ? SP_HEAL_LOSS_RESPONSE : SP_HEAL_LOSS_ALL;
    } else if (!strcmp(name, "--seed")) {
        char *end = NULL;
        if (!val[0] || val[0] == '-' || (o->seed = strtoull(val, &end, 10), *end))
            return sp_error_set(err, "--seed: \"%s\" is not a non-negative integer", val);
    } else {
        return 1; /* not special */
    }
    return 0;
}

static int heal_flag(sp_heal_opts *o, const char *name)
{
    int *f = !strcmp(name, "--recompute")   ? &o->recompute
             : !strcmp(name, "--fresh")     ? &o->fresh
             : !strcmp(name, "--force")     ? &o->force
             : !strcmp(name, "--init-only") ? &o->init_only
             : !strcmp(name, "--quiet")     ? &o->quiet
                                            : NULL;
    if (!f) return 0;
    *f = 1;
    return 1;
}

static int heal_option(sp_heal_opts *o, const heal_opt_spec *s, const char *val, sp_error *err)
{
    char *p = (char *)o + s->off;
    if (s->kind == 0) {
        *(const char **)p = val;
        return 0;
    }
    if (s->kind == 1) return sp_cli_int(s->name, val, (int64_t)s->lo, (int64_t)s->hi, (int64_t *)p, err);
    return sp_cli_double(s->name, val, s->lo, s->hi, (double *)p, err);
}

static int heal_parse_one(int argc, char **argv, int *i, sp_heal_opts *o, unsigned char *seen,
                          sp_error *err)
{
    const char *name = argv[*i], *val = NULL;
    if (heal_flag(o, name)) return 0;
    int idx = -1;
    for (int k = 0; heal_specs[k].name; k++)
        if (!strcmp(name, heal_specs[k].name)) idx = k;
    static const char *const special[] = {"--data", "--rank", "--targets", "--schedule", "--loss",
                                          "--seed", NULL};
    int sp = -1;
    for (int k = 0; special[k]; k++)
        if (!strcmp(name, special[k])) sp = k;
    if (idx < 0 && sp < 0) return sp_error_set(err, "unknown option \"%s\" (see --help)", name);
    int slot = idx >= 0 ? idx : 64 + sp;
    if (seen[slot] && sp != 0) return sp_error_set(err, "%s given twice", name);
    seen[slot] = 1;
    if (sp_cli_value(argc, argv, i, &val, err)) return -1;
    return idx >= 0 ? heal_option(o, &heal_specs[idx], val, err) : heal_special(o, name, val, err);
}

static int heal_parse(int argc, char **argv, sp_heal_opts *o, sp_error *err)
{
    heal_defaults(o);
    unsigned char seen[128] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] != '\0') {
            if (heal_parse_one(argc, argv, &i, o, seen, err)) return -1;
        } else if (!o->model) {
            o->model = a;
        } else {
            return sp_error_set(err, "unexpected argument \"%s\"", a);
        }
    }
    int steps_given = o->steps > 0, epochs_given = 0;
    for (int k = 0; heal_specs[k].name; k++)
        if (!strcmp(heal_specs[k].name, "--epochs")) epochs_given = seen[k];
    if (!o->model) return sp_error_set(err, "missing MODEL_DIR (see --help)");
    if (!o->out) return sp_error_set(err, "missing --out DIR");
    if (o->n_data == 0) return sp_error_set(err, "missing --data FILE");
    if (o->remove && o->from) return sp_error_set(err, "give at most one of --remove and --from");
    if (o->k >= 0 && !o->from) return sp_error_set(err, "--k goes with --from");
    if (steps_given && epochs_given) return sp_error_set(err, "give --epochs or --steps, not both");
    if (o->eval_every && !o->eval) return sp_error_set(err, "--eval-every needs --eval FILE");
    return 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int heal_mask(sp_heal_run *r, sp_error *err)
{
    const sp_heal_opts *o = r->o;
    const sp_model *m = r->model;
    sp_mask_clear(&r->removed);
    if (o->remove) return sp_mask_parse(o->remove, (int)m->cfg.n_layers, "--remove", &r->removed, err);
    if (!o->from) return 0;
    sp_export_best best;
    if (sp_export_best_mask(o->from, m, o->k, &best, err)) return -1;
    char buf[1100];
    printf("heal: best mask of %s (%s, %s): fitness %.6g, removes %s\n", o->from, best.algorithm,
           sp_ckpt_status_name(best.status), best.fitness,
           sp_mask_format(&best.mask, buf, sizeof buf));
    if (best.status != SP_CKPT_DONE)
        fprintf(stderr, "swarmprune heal: note: %s is from an unfinished search (status %s): "
                        "healing its best mask so far\n", o->from, sp_ckpt_status_name(best.status));
    r->removed = best.mask;
    return 0;
}

/* Available memory: the cgroup's limit minus its usage when smaller than MemAvailable;
 * SWARMPRUNE_HEAL_MEMORY (bytes) overrides (tests). */
static int heal_mem_available(uint64_t *bytes, const char **source)
{
    const char *env = getenv("SWARMPRUNE_HEAL_MEMORY");
    if (env && env[0]) {
        *bytes = strtoull(env, NULL, 10);
        *source = "SWARMPRUNE_HEAL_MEMORY";
        return 0;
    }
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) found = 1;
    if (f) fclose(f);
    if (!found) return -1;
    *bytes = (uint64_t)kb * 1024u;
    *source = "MemAvailable in /proc/meminfo";
    unsigned long long lim = 0, cur = 0;
    FILE *a = fopen("/sys/fs/cgroup/memory.max", "r"), *b = fopen("/sys/fs/cgroup/memory.current", "r");
    if (a && b && fscanf(a, "%llu", &lim) == 1 && fscanf(b, "%llu", &cur) == 1 && lim > cur &&
        lim - cur < *bytes) {
        *bytes = lim - cur;
        *source = "the cgroup's memory.max - memory.current";
    }
    if (a) fclose(a);
    if (b) fclose(b);
    return 0;
}

static int heal_check_memory(sp_heal_run *r, const sp_trainer_options *to, sp_error *err)
{
    size_t trainer = 0;
    if (sp_trainer_estimate_bytes(&r->model->cfg, &r->removed, &r->o->lora, to, &trainer, err))
        return -1;
    /* LoRA params + grads (the lora arena), AdamW moments, the data (token + weight) */
    size_t extra = 4 * r->lora.n_params * sizeof(float) +
                   (size_t)r->train.offset[r->train.n_windows] * 8;
    uint64_t need = trainer + extra, avail = 0;
    const char *src = NULL;
    if (heal_mem_available(&avail, &src)) {
        fprintf(stderr, "heal: note: cannot read the available memory; estimate %.2f GiB\n",
                need / 1073741824.0);
        return 0;
    }
    if (!r->o->quiet)
        printf("heal: memory estimate %.3f GiB (trainer %.3f GiB), available %.2f GiB\n",
               need / 1073741824.0, trainer / 1073741824.0, avail / 1073741824.0);
    if (need > avail)
        return sp_error_set(err, "not enough memory: the run needs about %.3f GiB (trainer "
                            "%.3f GiB + adapter, AdamW state and data %.3f GiB), %.3f GiB are "
                            "available (%s); lower --batch-tokens or --ctx, or add --recompute",
                            need / 1073741824.0, trainer / 1073741824.0, extra / 1073741824.0,
                            avail / 1073741824.0, src);
    return 0;
}

static int heal_load_data(sp_heal_run *r, sp_error *err)
{
    const sp_heal_opts *o = r->o;
    int64_t ctx = o->ctx;
    sp_heal_data_options dopt = {ctx, o->loss};
    if (sp_heal_data_load(o->data, o->n_data, r->model->dir, &r->model->cfg, &dopt, &r->train, err))
        return -1;
    if (o->eval) {
        const char *ev[1] = {o->eval};
        sp_heal_data_options eopt = {ctx, o->loss};
        if (sp_heal_data_load(ev, 1, r->model->dir, &r->model->cfg, &eopt, &r->evald, err))
            return sp_error_wrap(err, "--eval");
        r->has_eval = 1;
    }
    int64_t n_seq = o->batch_tokens / ctx;
    if (n_seq > r->train.n_windows) n_seq = r->train.n_windows; /* no window twice in a batch */
    r->n_seq = (int)(n_seq < 1 ? 1 : n_seq);
    int64_t per_step = (int64_t)r->n_seq * o->grad_accum;
    r->total_steps = o->steps ? o->steps
                              : (int64_t)ceil(o->epochs * (double)r->train.n_windows /
                                              (double)per_step);
    if (r->total_steps < 1) r->total_steps = 1;
    if (!o->quiet)
        printf("heal: %lld training windows of <= %lld tokens (%lld tokens scored, %lld records, "
               "%lld cut to --ctx, %lld left with nothing to score) from %d file%s; %d windows x "
               "%lld micro-batch%s per step, %lld steps\n",
               (long long)r->train.n_windows, (long long)ctx, (long long)r->train.weight_total,
               (long long)r->train.n_records, (long long)r->train.n_truncated,
               (long long)r->train.n_dropped, o->n_data,
               o->n_data == 1 ? "" : "s", r->n_seq, (long long)o->grad_accum,
               o->grad_accum == 1 ? "" : "es", (long long)r->total_steps);
    return 0;
}

static int heal_setup(sp_heal_run *r, sp_error *err)
{
    const sp_heal_opts *o = r->o;
    if (sp_lora_config_check(&o->lora, "heal", err) || heal_mask(r, err)) return -1;
    if (!realpath(o->model, r->base_abs)) snprintf(r->base_abs, sizeof r->base_abs, "%s", o->model);
    if (o->checkpoint) snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s", o->checkpoint);
    else snprintf(r->ckpt_path, sizeof r->ckpt_path, "%.*s.heal.h5", 4000, o->out);
    if (o->ctx > r->model->cfg.max_pos && r->model->cfg.max_pos > 0)
        return sp_error_set(err, "--ctx %lld: windows longer than the model's %lld positions "
                            "(max_position_embeddings in %s/config.json)", (long long)o->ctx,
                            (long long)r->model->cfg.max_pos, o->model);
    if (heal_load_data(r, err)) return -1;
    if (sp_lora_create(&r->model->cfg, &r->removed, &o->lora, o->seed, &r->lora, err)) return -1;
    sp_trainer_options to = {(int)o->threads, o->recompute, (int64_t)r->n_seq * o->ctx};
    if (heal_check_memory(r, &to, err)) return -1;
    if (o->init_only) return 0;
    if (sp_trainer_create(r->model, &r->removed, &to, &r->trainer, err)) return -1;
    size_t n = r->lora.n_params, cap = (size_t)o->grad_accum * (size_t)r->n_seq * (size_t)o->ctx;
    r->m = sp_xcalloc(n, sizeof *r->m);
    r->v = sp_xcalloc(n, sizeof *r->v);
    r->tokens = sp_xmalloc(cap * sizeof *r->tokens);
    r->weight = sp_xmalloc(cap * sizeof *r->weight);
    r->T = sp_xcalloc((size_t)o->grad_accum, sizeof *r->T);
    return 0;
}

static void heal_teardown(sp_heal_run *r)
{
    sp_trainer_free(r->trainer);
    sp_lora_free(&r->lora);
    sp_heal_data_free(&r->train);
    sp_heal_data_free(&r->evald);
    free(r->m), free(r->v), free(r->tokens), free(r->weight), free(r->T);
    if (r->dump) fclose(r->dump);
}

int cmd_heal(int argc, char **argv)
{
    if (sp_cli_wants_help(argc, argv)) {
        heal_usage(stdout);
        return SP_EXIT_OK;
    }
    sp_heal_opts o;
    sp_error err = {{0}};
    if (heal_parse(argc, argv, &o, &err)) return sp_cli_usage_error("heal", "%s", err.msg);
    sp_model model;
    if (sp_model_open(o.model, &model, &err)) return sp_cli_fail("heal", &err);
    sp_heal_run r;
    memset(&r, 0, sizeof r);
    r.o = &o, r.model = &model;
    r.first_eval = r.last_eval = r.last_loss = NAN;
    sp_signals_install();
    int rc = heal_setup(&r, &err) ? SP_EXIT_FAILURE : SP_EXIT_OK;
    if (rc == SP_EXIT_OK) rc = sp_heal_train(&r, &err);
    heal_teardown(&r);
    sp_model_close(&model);
    if (rc == SP_EXIT_FAILURE) return sp_cli_fail("heal", &err);
    return rc;
}
