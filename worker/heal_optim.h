/* heal_optim.h — `heal`'s optimizer: AdamW exactly as torch.optim.AdamW (single-tensor path,
 * fp32 state, decoupled weight decay), clipping by the global gradient norm as
 * torch.nn.utils.clip_grad_norm_, and the learning-rate schedules of Hugging Face's
 * get_{constant,linear,cosine}_schedule_with_warmup. */
#ifndef SP_HEAL_OPTIM_H
#define SP_HEAL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"

typedef struct {
    double beta1, beta2, eps, weight_decay; /* torch defaults 0.9, 0.999, 1e-8; wd ours: 0 */
} sp_adamw_config;

/* One AdamW update of n parameters p with gradient g and moments m, v (fp32, in place); step is
 * the 1-based count of updates including this one. The operations and their order follow
 * torch's _single_tensor_adam with decoupled_weight_decay:
 *   p *= 1 - lr*wd;  m += (1-b1)*(g - m);  v = v*b2 + (1-b2)*g*g;
 *   denom = sqrt(v) / sqrt(1 - b2^step) + eps;  p += -(lr / (1 - b1^step)) * m / denom. */
void sp_adamw_update(const sp_adamw_config *c, double lr, int64_t step, float *p, const float *g,
                     float *m, float *v, size_t n);

/* Global L2 norm of the gradients (sqrt of the sum of squares, accumulated in double). */
double sp_grad_global_norm(float *const *g, const size_t *n, int n_tensors);
/* torch's clip_grad_norm_: coef = max_norm / (norm + 1e-6); gradients scaled by it when < 1.
 * Returns the coefficient applied (1 when none). max_norm <= 0: no clipping. */
double sp_grad_clip(float *const *g, const size_t *n, int n_tensors, double norm, double max_norm);

typedef enum { SP_SCHED_COSINE = 0, SP_SCHED_LINEAR, SP_SCHED_CONSTANT } sp_schedule_kind;

/* "cosine" | "linear" | "constant"; the error names the flag. */
int sp_schedule_parse(const char *text, const char *what, sp_schedule_kind *out, sp_error *err);
const char *sp_schedule_name(sp_schedule_kind k);

/* Learning rate of 0-based step s of total steps (as Hugging Face's LambdaLR schedules):
 *   s < warmup:  lr * s / warmup                       (so step 0 has lr 0 when warmup > 0)
 *   constant:    lr
 *   linear:      lr * max(0, (total - s) / max(1, total - warmup))
 *   cosine:      lr * max(0, 0.5 * (1 + cos(pi * (s - warmup) / max(1, total - warmup)))) */
double sp_schedule_lr(sp_schedule_kind k, double lr, int64_t warmup, int64_t total, int64_t s);

#endif
