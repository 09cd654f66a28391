/* task_mc_cli.c — `swarmprune eval MODEL_DIR --task hellaswag|kl [options]`: parses the task's
 * own options, loads data and tokenizer, runs worker/task_mc.c or worker/task_kl.c, prints a
 * text report or one JSON object (--json). Returns the process exit status. */
#include "task_mc_cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cli.h"
#include "../common/json_util.h"
#include "../common/tokenizer.h"
#include "mc_data.h"
#include "task_kl.h"
#include "task_mc.h"

const char sp_eval_hellaswag_help[] =
    "  --data FILE          HellaSwag jsonl (official schema), llama.cpp's 6-line text layout,\n"
    "                       or generic jsonl {\"context\", \"choices\", \"label\"} (auto-detected)\n"
    "  --limit N            the first N items (default: all)\n"
    "  --sample N           a seeded random sample of N items (in file order)\n"
    "  --seed S             seed of --sample (default 0)\n"
    "  --no-bos             do not prepend BOS (to match lm-eval runs without it)\n"
    "  --plain              score each (context + ending) as its own sequence (no prefix sharing)\n"
    "  --lls FILE           also write each item's scores as JSON lines: {\"i\", \"label\",\n"
    "                       \"ll\": [summed log-lik. per ending], \"norm_len\": [characters]}\n"
    "  Method (lm-eval hellaswag): query = preprocess(activity_label + \": \" + ctx_a + \" \" +\n"
    "  capitalize(ctx_b)), continuation = \" \" + preprocess(ending); continuation tokens =\n"
    "  encode(query + continuation) past len(encode(query)); acc = argmax summed log-lik.,\n"
    "  acc_norm = argmax log-lik. / characters of the ending; stderr = sample std / sqrt(n).\n";

const char sp_eval_kl_help[] =
    "  --text FILE          UTF-8 calibration text, tokenized whole without BOS\n"
    "  --max-tokens N       calibration tokens (distributions) to compare (required)\n"
    "  --ctx N              window length, BOS included (default 512)\n"
    "  --top-k K            cache only the dense top-K log-probs + tail mass (default: full\n"
    "                       cache when N x V x 4 bytes fit --kl-mem-mib, else K = 256)\n"
    "  --kl-mem-mib M       memory budget of a full dense cache (default 1024)\n"
    "  --bound              also report the top-K approximation's error bound\n"
    "  Reports mean KL(dense || pruned) of next-token distributions, nats/token.\n";

/* ---- hellaswag --------------------------------------------------------------------------- */

typedef struct {
    const char *data, *lls;
    int64_t limit, sample, seed;
    int no_bos, plain;
} mc_args;

static int mc_parse(int argc, char **argv, mc_args *a)
{
    sp_error err = {{0}};
    const char *val;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--no-bos")) { a->no_bos = 1; continue; }
        if (!strcmp(o, "--plain")) { a->plain = 1; continue; }
        if (strcmp(o, "--data") && strcmp(o, "--limit") && strcmp(o, "--sample") && strcmp(o, "--seed") &&
            strcmp(o, "--lls"))
            return sp_cli_usage_error("eval", "--task %s: unknown option \"%s\"", argv[0], o);
        if (sp_cli_value(argc, argv, &i, &val, &err)) return sp_cli_usage_error("eval", "%s", err.msg);
        int rc = 0;
        if (!strcmp(o, "--data")) a->data = val;
        else if (!strcmp(o, "--lls")) a->lls = val;
        else if (!strcmp(o, "--limit")) rc = sp_cli_int(o, val, 1, INT64_MAX, &a->limit, &err);
        else if (!strcmp(o, "--sample")) rc = sp_cli_int(o, val, 1, INT64_MAX, &a->sample, &err);
        else rc = sp_cli_int(o, val, 0, INT64_MAX, &a->seed, &err);
        if (rc) return sp_cli_usage_error("eval", "%s", err.msg);
    }
    if (!a->data) return sp_cli_usage_error("eval", "--task %s needs --data FILE", argv[0]);
    if (a->limit && a->sample)
        return sp_cli_usage_error("eval", "--limit and --sample exclude each other");
    return 0;
}

static void mc_report(const sp_eval_ctx *ctx, const mc_args *a, const sp_mc_set *set,
                      const sp_mc_result *r)
{
    char buf[1024];
    double ratio = r->tokens_naive ? (double)r->tokens_forward / (double)r->tokens_naive : 0;
    double ips = r->wall_s > 0 ? (double)r->n / r->wall_s : 0;
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "task", "hellaswag");
        cJSON_AddStringToObject(o, "model", ctx->model_dir);
        cJSON_AddStringToObject(o, "data", a->data);
        cJSON_AddStringToObject(o, "format", sp_mc_format_name(set->format));
        cJSON_AddStringToObject(o, "removed", sp_mask_format(&ctx->removed, buf, sizeof buf));
        cJSON_AddNumberToObject(o, "n", (double)r->n);
        cJSON_AddNumberToObject(o, "acc", r->acc);
        cJSON_AddNumberToObject(o, "acc_stderr", r->acc_stderr);
        cJSON_AddNumberToObject(o, "acc_norm", r->acc_norm);
        cJSON_AddNumberToObject(o, "acc_norm_stderr", r->acc_norm_stderr);
        cJSON_AddNumberToObject(o, "tokens_scored", (double)r->tokens_scored);
        cJSON_AddNumberToObject(o, "tokens_forward", (double)r->tokens_forward);
        cJSON_AddNumberToObject(o, "tokens_naive", (double)r->tokens_naive);
        cJSON_AddNumberToObject(o, "forward_calls", (double)r->forward_calls);
        cJSON_AddNumberToObject(o, "load_s", ctx->load_s);
        cJSON_AddNumberToObject(o, "wall_s", r->wall_s);
        cJSON_AddNumberToObject(o, "items_per_s", ips);
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
        return;
    }
    printf("task:           hellaswag (%s, %s)\nmodel:          %s\n", a->data,
           sp_mc_format_name(set->format), ctx->model_dir);
    printf("removed layers: [%s]\n", sp_mask_format(&ctx->removed, buf, sizeof buf));
    printf("items:          %lld of %lld\n", (long long)r->n, (long long)set->n);
    printf("acc:            %.4f +- %.4f\nacc_norm:       %.4f +- %.4f\n", r->acc, r->acc_stderr,
           r->acc_norm, r->acc_norm_stderr);
    printf("tokens:         %lld scored, %lld through the layers vs %lld naive (ratio %.3f), "
           "%lld calls\n", (long long)r->tokens_scored, (long long)r->tokens_forward,
           (long long)r->tokens_naive, ratio, (long long)r->forward_calls);
    printf("wall time:      %.3f s (+ %.3f s load), %.1f items/s\n", r->wall_s, ctx->load_s, ips);
}

static int mc_requests(const sp_eval_ctx *ctx, const mc_args *a, const sp_mc_set *set,
                       sp_mc_requests *rq, sp_error *err)
{
    int64_t *idx = NULL, n = 0;
    int rc = a->sample ? sp_mc_subset_sample(set, a->sample, (uint64_t)a->seed, &idx, &n, err)
                       : sp_mc_subset_first(set, a->limit, &idx, &n, err);
    if (rc) return -1;
    sp_tokenizer *tok = NULL;
    if (sp_tokenizer_load(ctx->model->dir, &tok, err)) {
        free(idx);
        return -1;
    }
    int32_t bos = -1;
    if (!a->no_bos) {
        bos = sp_tokenizer_bos(tok);
        if (bos < 0) bos = (int32_t)ctx->model->cfg.bos_id;
        if (bos < 0) rc = sp_error_set(err, "%s: no BOS token (use --no-bos)", ctx->model_dir);
    }
    int64_t max_len = ctx->model->cfg.max_pos > 0 ? ctx->model->cfg.max_pos : INT32_MAX;
    if (rc == 0) rc = sp_mc_build(set, idx, n, sp_mc_encode_tokenizer, tok, bos, max_len, rq, err);
    sp_tokenizer_free(tok);
    free(idx);
    return rc;
}

/* --lls: one JSON line per item (its index in the data file, label, the endings' summed
 * log-likelihoods with 17 significant digits, and their acc_norm divisors). */
static int mc_write_lls(const char *path, const sp_mc_requests *rq, const sp_mc_result *r,
                        sp_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return sp_error_set(err, "--lls %s: cannot open for writing", path);
    for (int64_t i = 0; i < r->n; i++) {
        const sp_mc_request *q = &rq->req[i];
        fprintf(f, "{\"i\": %lld, \"label\": %d, \"ll\": [", (long long)q->item, q->label);
        for (int k = 0; k < q->n_endings; k++)
            fprintf(f, k ? ", %.17g" : "%.17g", r->lls[i * SP_MC_MAX_ENDINGS + k]);
        fputs("], \"norm_len\": [", f);
        for (int k = 0; k < q->n_endings; k++) fprintf(f, k ? ", %.17g" : "%.17g", q->norm_len[k]);
        fputs("]}\n", f);
    }
    if (ferror(f) | fclose(f)) return sp_error_set(err, "--lls %s: write failed", path);
    return 0;
}

int sp_eval_task_hellaswag(sp_eval_ctx *ctx, int argc, char **argv)
{
    mc_args a = {0};
    int rc = mc_parse(argc, argv, &a);
    if (rc) return rc;
    sp_error err = {{0}};
    sp_mc_set set;
    if (sp_mc_load(a.data, &set, &err)) return sp_cli_fail("eval", &err);
    sp_mc_requests rq;
    if (mc_requests(ctx, &a, &set, &rq, &err)) {
        sp_mc_free(&set);
        return sp_cli_fail("eval", &err);
    }
    sp_mc_options opt = {ctx->batch_tokens > 0 ? ctx->batch_tokens : 4096,
                         a.plain ? SP_MC_PACK_PLAIN : SP_MC_PACK_SHARED};
    sp_mc_result res;
    rc = sp_mc_score(ctx->engine, &ctx->removed, &rq, &opt, &res, &err);
    if (rc == 0) {
        if (a.lls) rc = mc_write_lls(a.lls, &rq, &res, &err);
        if (rc == 0) mc_report(ctx, &a, &set, &res);
        sp_mc_result_free(&res);
    }
    sp_mc_requests_free(&rq);
    sp_mc_free(&set);
    return rc ? sp_cli_fail("eval", &err) : SP_EXIT_OK;
}

/* ---- kl ---------------------------------------------------------------------------------- */

typedef struct {
    const char *text;
    int64_t max_tokens, ctx, top_k, mem_mib;
    int bound;
} kl_args;

static int kl_parse(int argc, char **argv, int64_t max_pos, kl_args *a)
{
    sp_error err = {{0}};
    const char *val;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--bound")) { a->bound = 1; continue; }
        if (strcmp(o, "--text") && strcmp(o, "--max-tokens") && strcmp(o, "--ctx") &&
            strcmp(o, "--top-k") && strcmp(o, "--kl-mem-mib"))
            return sp_cli_usage_error("eval", "--task kl: unknown option \"%s\"", o);
        if (sp_cli_value(argc, argv, &i, &val, &err)) return sp_cli_usage_error("eval", "%s", err.msg);
        int rc = 0;
        if (!strcmp(o, "--text")) a->text = val;
        else if (!strcmp(o, "--max-tokens")) rc = sp_cli_int(o, val, 1, INT32_MAX, &a->max_tokens, &err);
        else if (!strcmp(o, "--ctx")) rc = sp_cli_int(o, val, 2, max_pos, &a->ctx, &err);
        else if (!strcmp(o, "--top-k")) rc = sp_cli_int(o, val, 1, INT32_MAX, &a->top_k, &err);
        else rc = sp_cli_int(o, val, 1, 1 << 20, &a->mem_mib, &err);
        if (rc) return sp_cli_usage_error("eval", "%s", err.msg);
    }
    if (!a->text) return sp_cli_usage_error("eval", "--task kl needs --text FILE");
    if (!a->max_tokens) return sp_cli_usage_error("eval", "--task kl needs --max-tokens N");
    return 0;
}

static int kl_tokens(const sp_eval_ctx *ctx, const kl_args *a, int32_t **ids, int32_t *bos,
                     sp_error *err)
{
    sp_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0, n = 0;
    if (sp_tokenizer_load(ctx->model->dir, &tok, err)) return -1;
    int rc = sp_read_file(a->text, &text, &len, err);
    if (rc == 0 && sp_tokenizer_encode(tok, text, len, 0, ids, &n, err))
        rc = sp_error_wrap(err, "%s", a->text);
    *bos = sp_tokenizer_bos(tok);
    if (*bos < 0) *bos = (int32_t)ctx->model->cfg.bos_id;
    if (rc == 0 && n < (size_t)a->max_tokens)
        rc = sp_error_set(err, "%s: %zu tokens, fewer than --max-tokens %lld", a->text, n,
                          (long long)a->max_tokens);
    free(text);
    sp_tokenizer_free(tok);
    return rc;
}

static void kl_report(const sp_eval_ctx *ctx, const kl_args *a, const sp_kl_scorer *s,
                      double dense_s, const sp_kl_stats *st)
{
    char buf[1024];
    sp_mask_format(&ctx->removed, buf, sizeof buf);
    if (ctx->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "task", "kl");
        cJSON_AddStringToObject(o, "model", ctx->model_dir);
        cJSON_AddStringToObject(o, "text", a->text);
        cJSON_AddStringToObject(o, "removed", buf);
        cJSON_AddNumberToObject(o, "mean_kl", st->mean_kl);
        cJSON_AddNumberToObject(o, "max_kl", st->max_kl);
        cJSON_AddNumberToObject(o, "tokens", (double)st->n_rows);
        cJSON_AddNumberToObject(o, "ctx", (double)a->ctx);
        cJSON_AddStringToObject(o, "cache", sp_kl_is_full(s) ? "full" : "top-k");
        cJSON_AddNumberToObject(o, "top_k", (double)sp_kl_top_k(s));
        if (a->bound) cJSON_AddNumberToObject(o, "bound", st->mean_bound);
        cJSON_AddNumberToObject(o, "dense_s", dense_s);
        cJSON_AddNumberToObject(o, "wall_s", st->wall_s);
        cJSON_AddNumberToObject(o, "load_s", ctx->load_s);
        char *js = cJSON_PrintUnformatted(o);
        printf("%s\n", js);
        free(js);
        cJSON_Delete(o);
        return;
    }
    printf("task:           kl (%s)\nmodel:          %s\nremoved layers: [%s]\n", a->text,
           ctx->model_dir, buf);
    printf("mean KL:        %.6f nats/token (max %.4f) over %lld tokens, ctx %lld\n",
           st->mean_kl, st->max_kl, (long long)st->n_rows, (long long)a->ctx);
    if (sp_kl_is_full(s)) printf("dense cache:    full log-probs, %zu bytes\n", sp_kl_cache_bytes(s));
    else printf("dense cache:    top-%lld + tail, %zu bytes (KL is a lower bound%s%.3g)\n",
                (long long)sp_kl_top_k(s), sp_kl_cache_bytes(s), a->bound ? ", error <= " : "",
                a->bound ? st->mean_bound : 0.0);
    printf("wall time:      dense %.3f s, pruned %.3f s (+ %.3f s load)\n", dense_s, st->wall_s,
           ctx->load_s);
}

int sp_eval_task_kl(sp_eval_ctx *ctx, int argc, char **argv)
{
    kl_args a = {NULL, 0, 512, 0, 1024, 0};
    int64_t max_pos = ctx->model->cfg.max_pos > 2 ? ctx->model->cfg.max_pos : INT32_MAX;
    if (a.ctx > max_pos) a.ctx = max_pos;
    int rc = kl_parse(argc, argv, max_pos, &a);
    if (rc) return rc;
    sp_error err = {{0}};
    int32_t *ids = NULL, bos = -1;
    if (kl_tokens(ctx, &a, &ids, &bos, &err)) {
        free(ids);
        return sp_cli_fail("eval", &err);
    }
    sp_kl_options o = {a.ctx, bos, a.top_k, (size_t)a.mem_mib << 20, 0};
    sp_kl_scorer *s = NULL;
    double t0 = sp_now();
    rc = sp_kl_create(ctx->engine, ids, a.max_tokens, &o, &s, &err);
    double dense_s = sp_now() - t0;
    free(ids);
    sp_kl_stats st;
    if (rc == 0) rc = sp_kl_score(s, &ctx->removed, a.bound, &st, &err);
    if (rc == 0) kl_report(ctx, &a, s, dense_s, &st);
    sp_kl_free(s);
    return rc ? sp_cli_fail("eval", &err) : SP_EXIT_OK;
}
