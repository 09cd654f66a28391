/* task_lm.c — language-modelling scoring shared by `eval --task nll` and `--task ppl`: windows
 * packed into forward calls (one item per window, log p only for the scored rows), the result
 * report, and the nll task itself (a JSON file of token-id sequences, every next token scored). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/json_util.h"
#include "eval_task.h"

static int64_t lm_window_len(const sp_lm_window *w) { return w->n + (w->bos >= 0); }

/* Scores windows [w0, w1) in one forward call. */
static int lm_score_call(sp_engine *e, const sp_mask *removed, const sp_lm_window *w, int64_t w0,
                         int64_t w1, sp_lm_result *res, double *window_nll, sp_error *err)
{
    int64_t T = 0, R = 0, n_items = w1 - w0;
    for (int64_t i = w0; i < w1; i++) {
        T += lm_window_len(&w[i]);
        R += lm_window_len(&w[i]) - w[i].first_target;
    }
    int32_t *tok = sp_xmalloc((size_t)T * sizeof *tok), *tg = sp_xmalloc((size_t)(R + 1) * sizeof *tg);
    int32_t *pl = sp_xmalloc((size_t)n_items * sizeof *pl);
    int64_t *off = sp_xmalloc((size_t)(n_items + 1) * sizeof *off);
    int64_t *rows = sp_xmalloc((size_t)(R + 1) * sizeof *rows);
    float *lp = sp_xmalloc((size_t)(R + 1) * sizeof *lp);
    int64_t t = 0, r = 0;
    off[0] = 0;
    for (int64_t i = w0; i < w1; i++) {
        int64_t a = t, len = lm_window_len(&w[i]);
        if (w[i].bos >= 0) tok[t++] = w[i].bos;
        memcpy(tok + t, w[i].ids, (size_t)w[i].n * sizeof *tok);
        t += w[i].n;
        for (int64_t j = w[i].first_target; j < len; j++) rows[r] = a + j - 1, tg[r++] = tok[a + j];
        off[i - w0 + 1] = t;
        pl[i - w0] = (int32_t)len;
    }
    sp_batch b = {T, tok, (int32_t)n_items, off, pl, NULL};
    sp_head_request req = {R, rows, tg, lp, NULL};
    int rc = sp_engine_forward(e, &b, removed, &req, err);
    if (rc == 0) {
        for (int64_t i = w0, k = 0; window_nll && i < w1; i++) {
            double sum = 0;
            for (int64_t j = w[i].first_target; j < lm_window_len(&w[i]); j++) sum -= lp[k++];
            window_nll[i] = sum;
        }
        for (int64_t k = 0; k < R; k++) res->nll_sum -= lp[k];
        res->tokens_scored += R;
        res->tokens_forward += T;
        res->forward_calls++;
    }
    free(tok), free(tg), free(pl), free(off), free(rows), free(lp);
    return rc;
}

int sp_lm_score(sp_engine *e, const sp_mask *removed, const sp_lm_window *w, int64_t n_windows,
                int64_t batch_tokens, sp_lm_result *res, sp_error *err)
{
    return sp_lm_score_windows(e, removed, w, n_windows, batch_tokens, res, NULL, err);
}

int sp_lm_score_windows(sp_engine *e, const sp_mask *removed, const sp_lm_window *w,
                        int64_t n_windows, int64_t batch_tokens, sp_lm_result *res,
                        double *window_nll, sp_error *err)
{
    memset(res, 0, sizeof *res);
    double t0 = sp_now();
    for (int64_t i = 0; i < n_windows; i++) {
        int64_t len = lm_window_len(&w[i]);
        SP_ASSERT(w[i].first_target >= 1 && w[i].first_target <= len && len <= INT32_MAX);
    }
    int64_t w0 = 0;
    while (w0 < n_windows) {
        int64_t w1 = w0 + 1, tokens = lm_window_len(&w[w0]);
        while (w1 < n_windows && w1 - w0 < INT32_MAX &&
               tokens + lm_window_len(&w[w1]) <= batch_tokens)
            tokens += lm_window_len(&w[w1++]);
        if (lm_score_call(e, removed, w, w0, w1, res, window_nll, err) != 0)
            return sp_error_wrap(err, "windows %lld..%lld", (long long)w0, (long long)(w1 - 1));
        w0 = w1;
    }
    res->windows = n_windows;
    res->wall_s = sp_now() - t0;
    return 0;
}

void sp_lm_report(const sp_eval_ctx *ctx, const char *task, const sp_lm_result *res,
                  const char *const *extra_keys, const double *extra_vals, int n_extra)
{
    double mean = res->tokens_scored ? res->nll_sum / (double)res->tokens_scored : NAN;
    double tps = res->wall_s > 0 ? (double)res->tokens_forward / res->wall_s : 0.0;
    int idx[SP_MAX_LAYERS];
    int n_rm = sp_mask_to_list(&ctx->removed, idx, SP_MAX_LAYERS);
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "task", task);
        cJSON_AddStringToObject(o, "model", ctx->model_dir);
        cJSON *rm = cJSON_AddArrayToObject(o, "removed");
        for (int i = 0; i < n_rm; i++) cJSON_AddItemToArray(rm, cJSON_CreateNumber(idx[i]));
        cJSON_AddNumberToObject(o, "n_layers", (double)ctx->model->cfg.n_layers);
        sp_eval_json_bos(o, res->bos);
        cJSON_AddNumberToObject(o, "mean_nll", mean);
        cJSON_AddNumberToObject(o, "ppl", exp(mean));
        cJSON_AddNumberToObject(o, "tokens_scored", (double)res->tokens_scored);
        cJSON_AddNumberToObject(o, "tokens_forward", (double)res->tokens_forward);
        cJSON_AddNumberToObject(o, "windows", (double)res->windows);
        cJSON_AddNumberToObject(o, "forward_calls", (double)res->forward_calls);
        cJSON_AddNumberToObject(o, "load_s", ctx->load_s);
        cJSON_AddNumberToObject(o, "wall_s", res->wall_s);
        cJSON_AddNumberToObject(o, "tokens_per_s", tps);
        for (int i = 0; i < n_extra; i++) cJSON_AddNumberToObject(o, extra_keys[i], extra_vals[i]);
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
        return;
    }
    char buf[1024];
    printf("task:           %s\nmodel:          %s\n", task, ctx->model_dir);
    printf("removed layers: [%s] (%d of %lld)\n", sp_mask_format(&ctx->removed, buf, sizeof buf),
           n_rm, (long long)ctx->model->cfg.n_layers);
    for (int i = 0; i < n_extra; i++) printf("%-15s %g\n", extra_keys[i], extra_vals[i]);
    if (res->bos >= 0) printf("bos:            %d (prepended to each window)\n", (int)res->bos);
    else printf("bos:            none\n");
    printf("mean nll:       %.6f nats/token\nperplexity:     %.4f\n", mean, exp(mean));
    printf("tokens scored:  %lld (%lld forwarded in %lld windows, %lld calls)\n",
           (long long)res->tokens_scored, (long long)res->tokens_forward,
           (long long)res->windows, (long long)res->forward_calls);
    printf("wall time:      %.3f s (+ %.3f s load)\nthroughput:     %.0f tokens/s (forwarded)\n",
           res->wall_s, ctx->load_s, tps);
}

/* Reads one sequence of token ids; `path` names it in messages. */
static int nll_read_seq(const cJSON *arr, const char *path, int64_t vocab, sp_lm_window *w,
                        sp_error *err)
{
    if (!cJSON_IsArray(arr))
        return sp_error_set(err, "%s: expected an array of token ids, got %s", path,
                            sp_json_type_name(arr));
    int64_t n = cJSON_GetArraySize(arr), i = 0;
    if (n < 2)
        return sp_error_set(err, "%s: %s sequence (%lld tokens): at least 2 are needed to score "
                            "a next token", path, n ? "too short a" : "empty", (long long)n);
    int32_t *ids = sp_xmalloc((size_t)n * sizeof *ids);
    char p[256];
    for (const cJSON *v = arr->child; v; v = v->next, i++) {
        int64_t id;
        snprintf(p, sizeof p, "%s[%lld]", path, (long long)i);
        if (sp_json_int(v, p, 0, vocab - 1, &id, err) != 0) {
            free(ids);
            return sp_error_wrap(err, "token id outside the vocabulary of %lld", (long long)vocab);
        }
        ids[i] = (int32_t)id;
    }
    *w = (sp_lm_window){ids, n, -1, 1};
    return 0;
}

/* FILE: [[ids...], ...] or {"eval_ids": [[ids...], ...], ...other keys ignored}. */
int sp_lm_load_tokens(const char *file, int64_t vocab, sp_lm_window **out, int64_t *n_out,
                      sp_error *err)
{
    cJSON *root = NULL;
    if (sp_json_parse_file(file, &root, err) != 0) return -1;
    const cJSON *arr = root;
    const char *base = "";
    if (cJSON_IsObject(root)) {
        arr = sp_json_get(root, "eval_ids"), base = "eval_ids";
        if (!arr) {
            cJSON_Delete(root);
            return sp_error_set(err, "%s: an object must hold \"eval_ids\" (an array of token-id "
                                "arrays)", file);
        }
    }
    int64_t n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0, i = 0;
    int rc = 0;
    if (!cJSON_IsArray(arr) || n == 0)
        rc = sp_error_set(err, "%s: %s: expected a non-empty array of token-id arrays, got %s",
                          file, base[0] ? base : "(root)",
                          cJSON_IsArray(arr) ? "an empty array" : sp_json_type_name(arr));
    sp_lm_window *w = rc ? NULL : sp_xcalloc((size_t)n, sizeof *w);
    char p[128];
    for (const cJSON *s = rc ? NULL : arr->child; s; s = s->next, i++) {
        snprintf(p, sizeof p, "%s[%lld]", base, (long long)i);
        if ((rc = nll_read_seq(s, p, vocab, &w[i], err)) != 0) {
            sp_error_wrap(err, "%s", file);
            break;
        }
    }
    cJSON_Delete(root);
    if (rc) {
        sp_lm_windows_free(w, n);
        return -1;
    }
    *out = w, *n_out = n;
    return 0;
}

int sp_eval_task_nll(sp_eval_ctx *ctx, int argc, char **argv)
{
    sp_error err = {{0}};
    const char *file = NULL, *val;
    int64_t limit = 0;
    for (int i = 1; i < argc; i++) {
        int is_tokens = strcmp(argv[i], "--tokens") == 0, is_limit = strcmp(argv[i], "--limit") == 0;
        if (!is_tokens && !is_limit)
            return sp_cli_usage_error("eval", "--task nll: unknown option \"%s\"", argv[i]);
        if (sp_cli_value(argc, argv, &i, &val, &err) != 0 ||
            (is_limit && sp_cli_int("--limit", val, 1, INT64_MAX, &limit, &err) != 0))
            return sp_cli_usage_error("eval", "%s", err.msg);
        if (is_tokens) file = val;
    }
    if (!file) return sp_cli_usage_error("eval", "--task nll needs --tokens FILE.json");
    if (ctx->bos_mode == SP_BOS_ON)
        return sp_cli_usage_error("eval", "--task nll scores token ids as given: --bos has no "
                                  "meaning (put the BOS id in the sequences)");
    sp_lm_window *w = NULL;
    int64_t n = 0, n_all = 0;
    if (sp_lm_load_tokens(file, ctx->model->cfg.vocab, &w, &n_all, &err) != 0) return sp_cli_fail("eval", &err);
    n = limit && limit < n_all ? limit : n_all;
    int64_t max_pos = ctx->model->cfg.max_pos;
    int rc = 0;
    for (int64_t k = 0; k < n && rc == 0; k++)
        if (max_pos > 0 && w[k].n > max_pos)
            rc = sp_error_set(&err, "%s: sequence %lld has %lld tokens, more than the model's "
                              "max_position_embeddings %lld", file, (long long)k,
                              (long long)w[k].n, (long long)max_pos);
    sp_lm_result res;
    double *wnll = sp_xcalloc((size_t)n, sizeof *wnll);
    if (rc == 0)
        rc = sp_lm_score_windows(ctx->engine, &ctx->removed, w, n, ctx->batch_tokens, &res, wnll,
                                 &err);
    if (rc == 0) rc = sp_lm_write_samples(ctx, w, n, wnll, &err);
    sp_lm_windows_free(w, n_all);
    free(wnll);
    if (rc != 0) return sp_cli_fail("eval", &err);
    res.bos = -1;
    const char *keys[] = {"sequences_in_file"};
    double vals[] = {(double)n_all};
    sp_lm_report(ctx, "nll", &res, keys, vals, 1);
    return SP_EXIT_OK;
}

void sp_lm_windows_free(sp_lm_window *w, int64_t n)
{
    for (int64_t i = 0; w && i < n; i++) free((void *)w[i].ids);
    free(w);
}
