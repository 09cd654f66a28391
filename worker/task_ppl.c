/* task_ppl.c — `eval --task ppl`: perplexity of a text file. The whole file is tokenized without
 * BOS and cut into windows of ctx tokens, BOS included when the tokenizer's rule (or --bos)
 * prepends one; with a stride S < ctx-1 the
 * windows overlap and each window after the first scores only its tokens past the previous
 * window's end (Hugging Face's sliding-window perplexity). Every token is scored exactly once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/json_util.h"
#include "../common/tokenizer.h"
#include "eval_task.h"

typedef struct {
    const char *text;
    int64_t ctx, stride, max_tokens; /* stride 0 = ctx - 1; max_tokens 0 = all */
} ppl_args;

static int ppl_parse(int argc, char **argv, int64_t max_pos, ppl_args *a)
{
    sp_error err = {{0}};
    const char *val;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--text") && strcmp(o, "--ctx") && strcmp(o, "--stride") &&
            strcmp(o, "--max-tokens"))
            return sp_cli_usage_error("eval", "--task ppl: unknown option \"%s\"", o);
        if (sp_cli_value(argc, argv, &i, &val, &err) != 0)
            return sp_cli_usage_error("eval", "%s", err.msg);
        int rc = 0;
        if (!strcmp(o, "--text")) a->text = val;
        else if (!strcmp(o, "--ctx")) rc = sp_cli_int(o, val, 2, max_pos, &a->ctx, &err);
        else if (!strcmp(o, "--stride")) rc = sp_cli_int(o, val, 1, INT32_MAX, &a->stride, &err);
        else rc = sp_cli_int(o, val, 1, INT64_MAX, &a->max_tokens, &err);
        if (rc) return sp_cli_usage_error("eval", "%s", err.msg);
    }
    if (!a->text) return sp_cli_usage_error("eval", "--task ppl needs --text FILE");
    if (a->stride == 0) a->stride = a->ctx - 1;
    if (a->stride > a->ctx - 1)
        return sp_cli_usage_error("eval", "--stride %lld: must be at most ctx-1 = %lld (a larger "
                                  "stride would leave tokens unscored)", (long long)a->stride,
                                  (long long)(a->ctx - 1));
    return 0;
}

/* Windows over toks[0, n): see the file header. A window holds ctx tokens, BOS included; without
 * BOS the text's first token has no context and is not scored, and a window's first token is
 * only context (so the stride is at most ctx-1 either way). Returns the number of windows. */
static int64_t ppl_windows(const int32_t *toks, int64_t n, int32_t bos, const ppl_args *a,
                           sp_lm_window **out)
{
    int has_bos = bos >= 0;
    int64_t W = a->ctx - has_bos, cap = n / a->stride + 2, k = 0, prev_end = has_bos ? 0 : 1;
    int64_t scored = 0;
    sp_lm_window *w = sp_xcalloc((size_t)cap, sizeof *w);
    for (int64_t begin = 0;; begin += a->stride) {
        int64_t end = begin + W < n ? begin + W : n, trg = end - prev_end;
        if (a->max_tokens && scored + trg > a->max_tokens) {
            trg = a->max_tokens - scored;
            end = prev_end + trg;
        }
        SP_ASSERT(k < cap && trg >= 1 && end > begin);
        w[k++] = (sp_lm_window){toks + begin, end - begin, bos, prev_end - begin + has_bos};
        scored += trg;
        prev_end = end;
        if (end == n || (a->max_tokens && scored == a->max_tokens)) break;
    }
    *out = w;
    return k;
}

/* Tokenizes the text file (no BOS); finds the BOS id (--bos / --no-bos / the tokenizer's rule). */
static int ppl_tokenize(const sp_eval_ctx *ctx, const char *file, int32_t **toks, size_t *n,
                        int32_t *bos, sp_error *err)
{
    sp_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0;
    if (sp_tokenizer_load(ctx->model->dir, &tok, err) != 0) return -1;
    int rc = sp_read_file(file, &text, &len, err);
    if (rc == 0 && sp_tokenizer_encode(tok, text, len, 0, toks, n, err) != 0)
        rc = sp_error_wrap(err, "%s", file);
    if (rc == 0) rc = sp_eval_bos(ctx, tok, bos, err);
    if (rc == 0 && *n < (size_t)(*bos >= 0 ? 1 : 2))
        rc = sp_error_set(err, "%s: %zu tokens: too few to score one (empty text?)", file, *n);
    free(text);
    sp_tokenizer_free(tok);
    if (rc != 0) {
        free(*toks);
        *toks = NULL;
    }
    return rc;
}

int sp_eval_task_ppl(sp_eval_ctx *ctx, int argc, char **argv)
{
    ppl_args a = {NULL, 512, 0, 0};
    int64_t max_pos = ctx->model->cfg.max_pos > 2 ? ctx->model->cfg.max_pos : INT32_MAX;
    int rc = ppl_parse(argc, argv, max_pos, &a);
    if (rc != 0) return rc;
    sp_error err = {{0}};
    int32_t *toks = NULL, bos = -1;
    size_t n = 0;
    if (ppl_tokenize(ctx, a.text, &toks, &n, &bos, &err) != 0) return sp_cli_fail("eval", &err);
    sp_lm_window *w = NULL;
    int64_t n_win = ppl_windows(toks, (int64_t)n, bos, &a, &w);
    sp_lm_result res;
    int64_t budget = ctx->batch_tokens > a.ctx ? ctx->batch_tokens : a.ctx;
    double *wnll = sp_xcalloc((size_t)n_win, sizeof *wnll);
    rc = sp_lm_score_windows(ctx->engine, &ctx->removed, w, n_win, budget, &res, wnll, &err);
    if (rc == 0) rc = sp_lm_write_samples(ctx, w, n_win, wnll, &err);
    free(wnll);
    free(w);
    free(toks);
    if (rc != 0) return sp_cli_fail("eval", &err);
    res.bos = bos;
    const char *keys[] = {"ctx", "stride", "text_tokens"};
    double vals[] = {(double)a.ctx, (double)a.stride, (double)n};
    sp_lm_report(ctx, "ppl", &res, keys, vals, 3);
    return SP_EXIT_OK;
}
