/* task_mc_cli.h — the `swarmprune eval` entries of the hellaswag (multiple-choice) and kl tasks,
 * in the worker/eval_task.h task-table form: argv[0] is the task name, argv[1..] the options
 * cmd_eval.c did not consume (it owns --remove, --threads, --batch-tokens, --json). */
#ifndef SP_TASK_MC_CLI_H
#define SP_TASK_MC_CLI_H

#include "eval_task.h"

int sp_eval_task_hellaswag(sp_eval_ctx *ctx, int argc, char **argv);
int sp_eval_task_kl(sp_eval_ctx *ctx, int argc, char **argv);

/* Help text of each task's own options (for the task table's `options` field). */
extern const char sp_eval_hellaswag_help[];
extern const char sp_eval_kl_help[];

#endif
