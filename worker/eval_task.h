/* eval_task.h — the task table behind `swarmprune eval` and the language-modelling scorer shared
 * by the nll and ppl tasks. cmd_eval.c parses the common options, opens the model, builds the
 * engine, then hands the remaining (task-specific) options to the task's run function. A new
 * task = one file with an sp_eval_task_* function + one line in cmd_eval.c's table. */
#ifndef SP_EVAL_TASK_H
#define SP_EVAL_TASK_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "../common/mask.h"
#include "../common/tokenizer.h"
#include "../common/model.h"
#include "engine.h"

typedef struct {
    const char *model_dir;
    sp_model *model;
    sp_engine *engine;
    sp_mask removed;      /* layers skipped */
    int json;             /* --json: one JSON object on stdout */
    int64_t batch_tokens; /* tokens per forward call (an item longer than this goes alone) */
    int threads;          /* --threads (0 = BLAS default) */
    double load_s;        /* model open + engine creation time */
    int bos_mode;         /* sp_bos_mode: --bos / --no-bos / the tokenizer's rule (default) */
    const char *samples;  /* --samples FILE.jsonl: one line per item / window, or NULL */
} sp_eval_ctx;

/* The BOS id the task prepends under --bos / --no-bos / the tokenizer's rule (-1: none), and
 * its JSON form ("bos": id or null). Both declared in worker/eval_common.c. */
int sp_eval_bos(const sp_eval_ctx *ctx, const sp_tokenizer *tok, int32_t *bos, sp_error *err);
void sp_eval_json_bos(cJSON *o, int32_t bos);
/* Opens ctx->samples for writing ("w"); NULL with *err set on failure. */
FILE *sp_eval_samples_open(const sp_eval_ctx *ctx, sp_error *err);
/* Closes it, checking for write errors. */
int sp_eval_samples_close(const sp_eval_ctx *ctx, FILE *f, sp_error *err);

/* argv[0] is the task name; argv[1..] the options cmd_eval did not consume. Returns the exit
 * status (SP_EXIT_*), printing its own errors ("swarmprune eval: error: ..."). */
typedef int (*sp_eval_task_fn)(sp_eval_ctx *ctx, int argc, char **argv);

typedef struct {
    const char *name;
    sp_eval_task_fn run;    /* NULL: listed but not implemented (fails loudly) */
    const char *summary;
    const char *options;    /* help text of the task's own options */
} sp_eval_task;

int sp_eval_task_nll(sp_eval_ctx *ctx, int argc, char **argv); /* worker/task_lm.c */
int sp_eval_task_ppl(sp_eval_ctx *ctx, int argc, char **argv); /* worker/task_ppl.c */

/* One scored window: tokens [bos if bos >= 0] + ids[0, n). Window positions j in
 * [first_target, length) are predicted from position j - 1 and scored (first_target >= 1). */
typedef struct {
    const int32_t *ids;
    int64_t n;
    int32_t bos;
    int64_t first_target;
} sp_lm_window;

typedef struct {
    double nll_sum;         /* sum of -log p over scored tokens (nats) */
    int64_t tokens_scored;
    int64_t tokens_forward; /* tokens that went through the layers */
    int64_t windows;
    int64_t forward_calls;
    double wall_s;
    int32_t bos;            /* the BOS id the caller prepended (-1 none): reported only */
} sp_lm_result;

/* Scores windows packed greedily, in order, into forward calls of at most batch_tokens tokens.
 * Token ids are validated by the engine. */
int sp_lm_score(sp_engine *e, const sp_mask *removed, const sp_lm_window *w, int64_t n_windows,
                int64_t batch_tokens, sp_lm_result *res, sp_error *err);
/* The same, also writing each window's summed NLL (nats) to window_nll[n_windows]. */
int sp_lm_score_windows(sp_engine *e, const sp_mask *removed, const sp_lm_window *w,
                        int64_t n_windows, int64_t batch_tokens, sp_lm_result *res,
                        double *window_nll, sp_error *err);
/* Writes one JSON line per window to ctx->samples (index, tokens forwarded, tokens scored, NLL
 * sum, mean NLL) when it is set. */
int sp_lm_write_samples(const sp_eval_ctx *ctx, const sp_lm_window *w, int64_t n,
                        const double *window_nll, sp_error *err);

/* Loads token-id sequences for scoring: FILE holds [[ids...], ...] or {"eval_ids": [[...]], ...}
 * (other keys ignored); every sequence needs >= 2 tokens, ids in [0, vocab). Each window has
 * no BOS and first_target 1. Free with sp_lm_windows_free. */
int sp_lm_load_tokens(const char *file, int64_t vocab, sp_lm_window **out, int64_t *n_out,
                      sp_error *err);
void sp_lm_windows_free(sp_lm_window *w, int64_t n);

/* Prints the result as text or one JSON object (task name, model, removed layers, mean nll,
 * ppl, tokens scored/forwarded, wall time, tokens/s) plus `extra` key/number pairs. */
void sp_lm_report(const sp_eval_ctx *ctx, const char *task, const sp_lm_result *res,
                  const char *const *extra_keys, const double *extra_vals, int n_extra);

#endif
