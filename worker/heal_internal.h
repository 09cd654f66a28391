/* heal_internal.h — what cmd_heal.c (command line, setup) and heal_loop.c (the training loop,
 * evaluation, checkpoints) share: the parsed options and the run's state. Not a public interface. */
#ifndef SP_HEAL_INTERNAL_H
#define SP_HEAL_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "../common/mask.h"
#include "../common/model.h"
#include "heal_data.h"
#include "heal_optim.h"
#include "lora.h"
#include "train_cpu.h"

#define SP_HEAL_MAX_DATA 64

typedef struct {
    const char *model, *remove, *from, *out, *merge, *eval, *checkpoint, *dump_batches;
    const char *data[SP_HEAL_MAX_DATA];
    int n_data;
    int64_t k;                 /* --k, -1 = none */
    sp_lora_config lora;
    double lr, weight_decay, max_grad_norm, epochs;
    int64_t warmup, batch_tokens, grad_accum, steps, ctx, eval_every, eval_tokens, threads;
    int64_t checkpoint_every;
    uint64_t seed;
    sp_schedule_kind schedule;
    sp_heal_loss loss;
    int recompute, fresh, force, init_only, quiet;
} sp_heal_opts;

typedef struct {
    const sp_heal_opts *o;
    sp_model *model;
    sp_mask removed;
    char base_abs[4096];       /* MODEL_DIR resolved, for base_model_name_or_path */
    char ckpt_path[4096];
    sp_heal_data train, evald;
    int has_eval;
    int n_seq;                 /* windows per micro-batch */
    int64_t total_steps, step, data_pos;
    sp_lora lora;
    float *m, *v;              /* [lora.n_params] AdamW moments */
    sp_trainer *trainer;
    int32_t *tokens;           /* [grad_accum, n_seq * ctx] one step's micro-batches */
    float *weight;             /* same shape */
    int *T;                    /* [grad_accum] */
    double first_eval, last_eval; /* NaN until measured */
    double last_loss;
    FILE *dump;
} sp_heal_run;

/* The loop: resumes from the checkpoint when one matches, trains to total_steps (writing
 * checkpoints; a signal writes one and returns SP_EXIT_RESUMABLE), evaluates, saves the adapter
 * and the merge. Returns an exit status. */
int sp_heal_train(sp_heal_run *r, sp_error *err);

/* Hash of every option and input that changes the adapter (not threads, paths, eval). */
uint64_t sp_heal_options_hash(const sp_heal_run *r);

#endif
