/* eval_common.c — what every `eval` task shares: the BOS choice and its JSON form, the
 * --samples file, and the per-window samples of the language-modelling tasks. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval_task.h"

int sp_eval_bos(const sp_eval_ctx *ctx, const sp_tokenizer *tok, int32_t *bos, sp_error *err)
{
    return sp_tokenizer_bos_for(tok, (sp_bos_mode)ctx->bos_mode, ctx->model->cfg.bos_id, bos, err);
}

void sp_eval_json_bos(cJSON *o, int32_t bos)
{
    if (bos >= 0) cJSON_AddNumberToObject(o, "bos", bos);
    else cJSON_AddNullToObject(o, "bos");
}

FILE *sp_eval_samples_open(const sp_eval_ctx *ctx, sp_error *err)
{
    FILE *f = fopen(ctx->samples, "w");
    if (!f) sp_error_set(err, "--samples %s: cannot create: %s", ctx->samples, strerror(errno));
    return f;
}

int sp_eval_samples_close(const sp_eval_ctx *ctx, FILE *f, sp_error *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return sp_error_set(err, "--samples %s: write error", ctx->samples);
    return 0;
}

int sp_lm_write_samples(const sp_eval_ctx *ctx, const sp_lm_window *w, int64_t n,
                        const double *window_nll, sp_error *err)
{
    if (!ctx->samples) return 0;
    FILE *f = sp_eval_samples_open(ctx, err);
    if (!f) return -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t len = w[i].n + (w[i].bos >= 0), scored = len - w[i].first_target;
        fprintf(f, "{\"index\":%lld,\"bos\":%s,\"tokens\":%lld,\"scored\":%lld,"
                   "\"nll_sum\":%.17g,\"mean_nll\":%.17g}\n",
                (long long)i, w[i].bos >= 0 ? "true" : "false", (long long)len,
                (long long)scored, window_nll[i], window_nll[i] / (double)scored);
    }
    return sp_eval_samples_close(ctx, f, err);
}
