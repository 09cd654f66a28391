/* heal_loop.c — `heal`'s training loop: micro-batches from the shuffled window stream, the CPU
 * trainer's gradients, global-norm clipping, AdamW with the schedule, progress and evaluation
 * lines, checkpoints (resume is bit-identical: every draw is a function of seed, step and
 * position), then the PEFT adapter, the optional merge, and the checkpoint removed. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../common/checkpoint.h"
#include "../common/cli.h"
#include "../common/hash.h"
#include "../common/rng.h"
#include "../common/signals.h"
#include "heal_checkpoint.h"
#include "heal_internal.h"
#include "lora_io.h"

#define HL_DROPOUT_TAG 0x64726f70ull /* "drop": the rng domain of the dropout keys */

uint64_t sp_heal_options_hash(const sp_heal_run *r)
{
    const sp_heal_opts *o = r->o;
    char buf[2048], mask[1100], fp[17];
    sp_model_fingerprint(r->model, fp);
    int n = snprintf(buf, sizeof buf,
                     "heal-v1 model=%s removed=%s rank=%d alpha=%.17g dropout=%.17g targets=%u "
                     "lr=%.17g wd=%.17g warmup=%lld schedule=%d n_seq=%d accum=%lld clip=%.17g "
                     "steps=%lld seed=%" PRIu64 " ctx=%lld loss=%d",
                     fp, sp_mask_format(&r->removed, mask, sizeof mask), o->lora.rank,
                     o->lora.alpha, o->lora.dropout, o->lora.targets, o->lr, o->weight_decay,
                     (long long)o->warmup, (int)o->schedule, r->n_seq, (long long)o->grad_accum,
                     o->max_grad_norm, (long long)r->total_steps, o->seed, (long long)o->ctx,
                     (int)o->loss);
    return sp_fnv1a(SP_FNV_OFFSET, buf, (size_t)n);
}

/* ---- evaluation ----------------------------------------------------------------------------- */

static int hl_eval(sp_heal_run *r, double *nll, int64_t *scored, sp_error *err)
{
    sp_heal_data *d = &r->evald;
    double ls_sum = 0, w_sum = 0;
    for (int64_t pos = 0; pos < d->n_windows;) {
        int64_t left = d->n_windows - pos;
        int nb = left < r->n_seq ? (int)left : r->n_seq, T = 0;
        double ws = 0, ls = 0, ws2 = 0;
        sp_heal_data_batch(d, 0, 0, pos, nb, r->tokens, r->weight, &T, &ws);
        if (sp_trainer_eval(r->trainer, &r->lora, r->tokens, r->weight, nb, T, &ls, &ws2, err))
            return sp_error_wrap(err, "evaluating on %s", r->o->eval);
        ls_sum += ls, w_sum += ws2;
        pos += nb;
        if (r->o->eval_tokens && w_sum >= (double)r->o->eval_tokens) break;
    }
    *nll = ls_sum / w_sum;
    *scored = (int64_t)w_sum;
    return 0;
}

static int hl_eval_line(sp_heal_run *r, sp_error *err)
{
    if (!r->has_eval) return 0;
    double nll = 0;
    int64_t n = 0;
    if (hl_eval(r, &nll, &n, err)) return -1;
    if (isnan(r->first_eval) && r->step == 0) r->first_eval = nll;
    r->last_eval = nll;
    printf("heal: eval step %lld/%lld: nll %.6f (ppl %.3f) on %lld tokens of %s\n",
           (long long)r->step, (long long)r->total_steps, nll, exp(nll), (long long)n, r->o->eval);
    fflush(stdout);
    return 0;
}

/* ---- one optimizer step ---------------------------------------------------------------------- */

typedef struct {
    double loss, grad_norm, lr;
    int64_t tokens;
} hl_step_result;

static void hl_dump_batch(sp_heal_run *r, int k, const int32_t *tk, const float *wt, int T)
{
    FILE *f = r->dump;
    fprintf(f, "{\"step\": %lld, \"micro\": %d, \"n_seq\": %d, \"T\": %d, \"tokens\": [",
            (long long)r->step, k, r->n_seq, T);
    for (int i = 0; i < r->n_seq * T; i++) fprintf(f, "%s%d", i ? "," : "", tk[i]);
    fprintf(f, "], \"weight\": [");
    for (int i = 0; i < r->n_seq * T; i++) fprintf(f, "%s%.9g", i ? "," : "", wt[i]);
    fprintf(f, "]}\n");
}

static int hl_step(sp_heal_run *r, hl_step_result *res, sp_error *err)
{
    const sp_heal_opts *o = r->o;
    size_t cap = (size_t)r->n_seq * (size_t)o->ctx, n = r->lora.n_params;
    double W = 0, ls_sum = 0;
    for (int k = 0; k < (int)o->grad_accum; k++) {
        double ws = 0;
        sp_heal_data_batch(&r->train, o->seed, 1, r->data_pos + (int64_t)k * r->n_seq, r->n_seq,
                           r->tokens + k * cap, r->weight + k * cap, &r->T[k], &ws);
        W += ws;
    }
    sp_lora_zero_grad(&r->lora);
    res->tokens = 0;
    for (int k = 0; k < (int)o->grad_accum; k++) {
        uint64_t key = sp_rng_hash(o->seed, (uint64_t)r->step, (uint64_t)k, HL_DROPOUT_TAG);
        double ls = 0, ws = 0;
        if (r->dump) hl_dump_batch(r, k, r->tokens + k * cap, r->weight + k * cap, r->T[k]);
        if (sp_trainer_step(r->trainer, &r->lora, r->tokens + k * cap, r->weight + k * cap,
                            r->n_seq, r->T[k], key, 1.0 / W, &ls, &ws, err))
            return sp_error_wrap(err, "step %lld", (long long)r->step);
        ls_sum += ls;
        res->tokens += (int64_t)r->n_seq * r->T[k];
    }
    float *g = r->lora.arena + n;
    res->loss = ls_sum / W;
    res->grad_norm = sp_grad_global_norm(&g, &n, 1);
    if (!isfinite(res->grad_norm) || !isfinite(res->loss))
        return sp_error_set(err, "step %lld: loss %g, gradient norm %g: training diverged (lower "
                            "--lr)", (long long)r->step, res->loss, res->grad_norm);
    sp_grad_clip(&g, &n, 1, res->grad_norm, o->max_grad_norm);
    res->lr = sp_schedule_lr(o->schedule, o->lr, o->warmup, r->total_steps, r->step);
    sp_adamw_config ac = {0.9, 0.999, 1e-8, o->weight_decay};
    sp_adamw_update(&ac, res->lr, r->step + 1, r->lora.arena, g, r->m, r->v, n);
    if (r->dump)
        fprintf(r->dump, "{\"step\": %lld, \"loss\": %.17g, \"lr\": %.17g, \"grad_norm\": %.17g}\n",
                (long long)r->step, res->loss, res->lr, res->grad_norm);
    r->step++;
    r->data_pos += (int64_t)o->grad_accum * r->n_seq;
    r->last_loss = res->loss;
    return 0;
}

static void hl_progress(const sp_heal_run *r, const hl_step_result *s, double t0, int64_t step0,
                        int64_t tokens)
{
    if (r->o->quiet) return;
    double dt = sp_now() - t0, per = dt / (double)(r->step - step0);
    double eta = per * (double)(r->total_steps - r->step);
    printf("heal: step %lld/%lld  loss %.6f  lr %.3e  grad norm %.4f  %.0f tok/s  ETA %dm%02ds\n",
           (long long)r->step, (long long)r->total_steps, s->loss, s->lr, s->grad_norm,
           dt > 0 ? (double)tokens / dt : 0.0, (int)(eta / 60), (int)fmod(eta, 60));
    fflush(stdout);
}

/* ---- checkpoints ------------------------------------------------------------------------------ */

static void hl_ckpt_fill(const sp_heal_run *r, sp_heal_ckpt *c)
{
    memset(c, 0, sizeof *c);
    c->step = r->step, c->total_steps = r->total_steps, c->data_pos = r->data_pos;
    c->seed = r->o->seed;
    c->options_hash = sp_heal_options_hash(r);
    c->data_hash = r->train.hash;
    sp_model_fingerprint(r->model, c->model_fingerprint);
    c->n_params = r->lora.n_params;
    c->params = r->lora.arena, c->m = r->m, c->v = r->v;
    c->last_eval_nll = r->first_eval; /* the NLL before training, kept across resumes */
}

static int hl_ckpt_write(sp_heal_run *r, sp_error *err)
{
    sp_heal_ckpt c;
    hl_ckpt_fill(r, &c);
    if (sp_heal_ckpt_write(r->ckpt_path, &c, err)) return -1;
    if (!r->o->quiet) {
        printf("heal: checkpoint step %lld written to %s\n", (long long)r->step, r->ckpt_path);
        fflush(stdout);
    }
    return 0;
}

/* Resumes from the checkpoint when there is one (and not --fresh). */
static int hl_resume(sp_heal_run *r, sp_error *err)
{
    if (r->o->fresh || access(r->ckpt_path, F_OK) != 0) return 0;
    sp_heal_ckpt want, c;
    hl_ckpt_fill(r, &want);
    c = want; /* read into the live arrays */
    if (sp_heal_ckpt_read(r->ckpt_path, &c, err)) return -1;
    if (c.options_hash != want.options_hash || c.data_hash != want.data_hash ||
        strcmp(c.model_fingerprint, want.model_fingerprint) || c.total_steps != r->total_steps)
        return sp_error_set(err, "%s was written by a run with other options, data or model "
                            "(hashes differ); rerun with the same options, or --fresh to start "
                            "over", r->ckpt_path);
    r->step = c.step, r->data_pos = c.data_pos;
    r->first_eval = c.last_eval_nll;
    printf("heal: resuming from %s at step %lld/%lld\n", r->ckpt_path, (long long)r->step,
           (long long)r->total_steps);
    return 0;
}

/* ---- output ------------------------------------------------------------------------------------ */

static char *hl_note_json(const sp_heal_run *r)
{
    const sp_heal_opts *o = r->o;
    cJSON *j = cJSON_CreateObject();
    char mask[1100], fp[17];
    sp_model_fingerprint(r->model, fp);
    cJSON_AddStringToObject(j, "source_model", r->base_abs);
    cJSON_AddStringToObject(j, "source_fingerprint", fp);
    cJSON_AddStringToObject(j, "removed_layers", sp_mask_format(&r->removed, mask, sizeof mask));
    cJSON_AddStringToObject(j, "note", "tensor names follow the pruned, renumbered model: load "
                                       "the adapter on `swarmprune export` of source_model "
                                       "without removed_layers");
    cJSON *d = cJSON_AddArrayToObject(j, "data");
    for (int i = 0; i < o->n_data; i++) cJSON_AddItemToArray(d, cJSON_CreateString(o->data[i]));
    cJSON_AddNumberToObject(j, "steps", (double)r->step);
    cJSON_AddNumberToObject(j, "ctx", (double)o->ctx);
    cJSON_AddNumberToObject(j, "windows_per_micro_batch", r->n_seq);
    cJSON_AddNumberToObject(j, "grad_accum", (double)o->grad_accum);
    cJSON_AddNumberToObject(j, "lr", o->lr);
    cJSON_AddStringToObject(j, "schedule", sp_schedule_name(o->schedule));
    cJSON_AddNumberToObject(j, "warmup", (double)o->warmup);
    cJSON_AddNumberToObject(j, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(j, "max_grad_norm", o->max_grad_norm);
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
    cJSON_AddStringToObject(j, "seed", seed);
    cJSON_AddStringToObject(j, "loss", o->loss == SP_HEAL_LOSS_RESPONSE ? "response" : "all");
    if (isfinite(r->last_loss)) cJSON_AddNumberToObject(j, "train_loss_last", r->last_loss);
    if (isfinite(r->first_eval)) cJSON_AddNumberToObject(j, "eval_nll_before", r->first_eval);
    if (isfinite(r->last_eval)) cJSON_AddNumberToObject(j, "eval_nll_after", r->last_eval);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    size_t n = strlen(s);
    s = sp_xrealloc(s, n + 2);
    s[n] = '\n', s[n + 1] = 0;
    return s;
}

static int hl_finish(sp_heal_run *r, sp_error *err)
{
    const sp_heal_opts *o = r->o;
    char *note = hl_note_json(r);
    int rc = sp_lora_save_peft(&r->lora, &r->removed, o->out, r->base_abs, note, o->force, err);
    free(note);
    if (rc) return -1;
    printf("heal: adapter written to %s (%zu parameters, rank %d, alpha %g, %d layers kept)\n",
           o->out, r->lora.n_params, o->lora.rank, o->lora.alpha,
           (int)r->model->cfg.n_layers - sp_mask_count(&r->removed));
    if (o->merge) {
        sp_export_options eo = {.force = o->force, .progress = NULL};
        sp_export_result res;
        if (sp_lora_merge_export(r->model, &r->removed, &r->lora, o->merge, &eo, &res, err))
            return -1;
        printf("heal: merged model written to %s (%d layers, %d tensors)\n", o->merge,
               res.layers_after, res.n_tensors);
    }
    return 0;
}

/* ---- the loop ---------------------------------------------------------------------------------- */

static int hl_loop(sp_heal_run *r, sp_error *err)
{
    const sp_heal_opts *o = r->o;
    double t0 = sp_now();
    int64_t step0 = r->step, tokens = 0;
    while (r->step < r->total_steps) {
        int sig = sp_signal_pending();
        if (sig) {
            if (hl_ckpt_write(r, err)) return SP_EXIT_FAILURE;
            fprintf(stderr, "heal: stopped by signal %d after step %lld; run the same command "
                    "to resume from %s\n", sig, (long long)r->step, r->ckpt_path);
            return SP_EXIT_RESUMABLE;
        }
        hl_step_result s = {0};
        if (hl_step(r, &s, err)) return SP_EXIT_FAILURE;
        tokens += s.tokens;
        hl_progress(r, &s, t0, step0, tokens);
        if (o->eval_every && r->step % o->eval_every == 0 && r->step < r->total_steps &&
            hl_eval_line(r, err))
            return SP_EXIT_FAILURE;
        if (o->checkpoint_every && r->step % o->checkpoint_every == 0 &&
            r->step < r->total_steps && hl_ckpt_write(r, err))
            return SP_EXIT_FAILURE;
    }
    double dt = sp_now() - t0;
    if (r->step > step0)
        printf("heal: %lld steps in %.1f s, %.0f training tokens/s\n",
               (long long)(r->step - step0), dt, dt > 0 ? (double)tokens / dt : 0.0);
    return SP_EXIT_OK;
}

int sp_heal_train(sp_heal_run *r, sp_error *err)
{
    const sp_heal_opts *o = r->o;
    if (o->init_only) {
        char *note = hl_note_json(r);
        int rc = sp_lora_save_peft(&r->lora, &r->removed, o->out, r->base_abs, note, o->force, err);
        free(note);
        if (rc == 0) printf("heal: initial adapter written to %s\n", o->out);
        return rc ? SP_EXIT_FAILURE : SP_EXIT_OK;
    }
    if (access(o->out, F_OK) == 0 && !o->force) {
        sp_error_set(err, "--out %s already exists (use --force to replace it)", o->out);
        return SP_EXIT_FAILURE;
    }
    sp_ckpt_lock lock;
    if (sp_ckpt_lock_acquire(r->ckpt_path, &lock, err)) return SP_EXIT_FAILURE;
    int rc = hl_resume(r, err) ? SP_EXIT_FAILURE : SP_EXIT_OK;
    if (rc == SP_EXIT_OK && o->dump_batches && !(r->dump = fopen(o->dump_batches, r->step ? "a" : "w"))) {
        sp_error_set(err, "--dump-batches %s: cannot open for writing", o->dump_batches);
        rc = SP_EXIT_FAILURE;
    }
    if (rc == SP_EXIT_OK && r->step == 0 && hl_eval_line(r, err)) rc = SP_EXIT_FAILURE;
    if (rc == SP_EXIT_OK) rc = hl_loop(r, err);
    if (rc == SP_EXIT_OK && hl_eval_line(r, err)) rc = SP_EXIT_FAILURE;
    if (rc == SP_EXIT_OK && r->has_eval && isfinite(r->first_eval))
        printf("heal: eval nll %.6f -> %.6f (%+.6f)\n", r->first_eval, r->last_eval,
               r->last_eval - r->first_eval);
    if (rc == SP_EXIT_OK && hl_finish(r, err)) rc = SP_EXIT_FAILURE;
    if (rc == SP_EXIT_OK) {
        char prev[4200];
        unlink(r->ckpt_path);
        snprintf(prev, sizeof prev, "%s.prev", r->ckpt_path);
        unlink(prev);
    }
    sp_ckpt_lock_release(&lock);
    return rc;
}
