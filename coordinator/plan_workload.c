/* plan_workload.c — counts the tokens one evaluation of a job runs through the model, on the
 * job's data, the way worker/evaluator.c batches them (see plan_workload.h). */
#include "plan_workload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_util.h"
#include "common/tokenizer.h"
#include "worker/eval_task.h"
#include "worker/mc_data.h"
#include "worker/task_kl.h"
#include "worker/task_mc.h"

/* The evaluator's forward-call sizes (worker/evaluator.c, worker/task_kl.h). */
#define PLAN_NLL_CALL_TOKENS 8192
#define PLAN_MC_CALL_TOKENS 4096
#define PLAN_KL_LOGITS_BYTES ((int64_t)64 << 20)

/* Level f covers the first ceil(fraction x total) units (evaluator.c: set_levels). */
static void plan_units(const sp_job *job, int64_t total, sp_plan_workload *w)
{
    w->n_levels = job->n_fidelities;
    for (int f = 0; f < w->n_levels; f++) {
        int64_t u = (int64_t)ceil(job->fidelity_fraction[f] * (double)total - 1e-9);
        w->level[f].units = u < 1 ? 1 : (u > total ? total : u);
    }
}

/* Adds one plain causal item of n tokens of which `rows` get logits. */
static void plan_add_item(sp_plan_level *l, int64_t n, int64_t rows)
{
    l->tokens += n;
    l->attn_pairs += 0.5 * (double)n * (double)(n + 1);
    l->head_rows += rows;
    if (n > l->max_item) l->max_item = n;
}

/* Greedy packing of items (in order) into calls of at most `budget` tokens; an item larger than
 * the budget goes alone. Returns the largest call. */
static int64_t plan_max_call(const int64_t *len, int64_t n, int64_t budget)
{
    int64_t best = 0, cur = 0;
    for (int64_t i = 0; i < n; i++) {
        if (cur > 0 && cur + len[i] > budget) cur = 0;
        cur += len[i];
        if (cur > best) best = cur;
    }
    return best;
}

static int plan_nll(const sp_job *job, const sp_model_config *cfg, sp_plan_workload *w,
                    sp_error *err)
{
    sp_lm_window *win = NULL;
    int64_t n = 0;
    if (sp_lm_load_tokens(job->task.path, cfg->vocab, &win, &n, err)) return -1;
    if (job->task.limit > 0 && job->task.limit < n) n = job->task.limit;
    plan_units(job, n, w);
    int64_t *len = sp_xmalloc((size_t)(n + 1) * sizeof *len);
    for (int64_t i = 0; i < n; i++) {
        len[i] = win[i].n + (win[i].bos >= 0);
        w->data_bytes += len[i] * 4;
    }
    for (int f = 0; f < w->n_levels; f++) {
        sp_plan_level *l = &w->level[f];
        for (int64_t i = 0; i < l->units; i++) plan_add_item(l, len[i], len[i] - win[i].first_target);
        l->max_call = plan_max_call(len, l->units, PLAN_NLL_CALL_TOKENS);
    }
    free(len);
    sp_lm_windows_free(win, n);
    return 0;
}

/* Adds one multiple-choice item as the evaluator packs it: the context once, then one branch per
 * ending (its continuation less the last token), every continuation token a head row. */
static int64_t plan_mc_item(sp_plan_level *l, const sp_mc_request *r)
{
    int64_t n = r->n_ctx, rows = 0;
    l->attn_pairs += 0.5 * (double)r->n_ctx * (double)(r->n_ctx + 1);
    for (int k = 0; k < r->n_endings; k++) {
        int64_t b = r->n_cont[k] - 1;
        n += b;
        rows += r->n_cont[k];
        l->attn_pairs += (double)b * (double)r->n_ctx + 0.5 * (double)b * (double)(b + 1);
        if (r->n_ctx + b > l->max_item) l->max_item = r->n_ctx + b;
    }
    l->tokens += n;
    l->head_rows += rows;
    return n;
}

/* The BOS the evaluator uses: the job's task.bos, or the tokenizer's own rule when absent. */
static int plan_bos(const sp_job *job, const sp_tokenizer *tok, const sp_model_config *cfg,
                    int32_t *bos, sp_error *err)
{
    sp_bos_mode mode = job->task.bos < 0 ? SP_BOS_AUTO : job->task.bos ? SP_BOS_ON : SP_BOS_OFF;
    return sp_tokenizer_bos_for(tok, mode, cfg->bos_id, bos, err);
}

static int plan_mc(const sp_job *job, const char *model_dir, const sp_model_config *cfg,
                   sp_plan_workload *w, sp_error *err)
{
    sp_mc_set set;
    sp_mc_requests rq = {0, NULL};
    sp_tokenizer *tok = NULL;
    int64_t *idx = NULL, n = 0;
    const sp_job_task *t = &job->task;
    if (sp_mc_load(t->path, &set, err)) return -1;
    int rc = t->sample ? sp_mc_subset_sample(&set, t->sample, (uint64_t)t->sample_seed, &idx, &n,
                                             err)
                       : sp_mc_subset_first(&set, t->limit, &idx, &n, err);
    if (rc == 0) rc = sp_tokenizer_load(model_dir, &tok, err);
    if (rc == 0) rc = plan_bos(job, tok, cfg, &w->bos, err);
    if (rc == 0) {
        rc = sp_mc_build(&set, idx, n, sp_mc_encode_tokenizer, tok, w->bos, cfg->max_pos, &rq,
                         err);
    }
    if (rc == 0) {
        plan_units(job, rq.n, w);
        int64_t *len = sp_xmalloc((size_t)(rq.n + 1) * sizeof *len);
        for (int f = 0; f < w->n_levels; f++) {
            sp_plan_level *l = &w->level[f];
            for (int64_t i = 0; i < l->units; i++) len[i] = plan_mc_item(l, &rq.req[i]);
            l->max_call = plan_max_call(len, l->units, PLAN_MC_CALL_TOKENS);
        }
        for (int64_t i = 0; i < rq.n; i++) w->data_bytes += len[i] * 4 + 256;
        free(len);
    }
    sp_mc_requests_free(&rq);
    sp_tokenizer_free(tok);
    sp_mc_free(&set);
    free(idx);
    return rc;
}

/* KL: N text tokens cut into windows of ctx (BOS first when the model has one), one head row per
 * text token; calls group windows up to 64 MiB of fp32 logits (worker/task_kl.c). */
static int plan_kl(const sp_job *job, const char *model_dir, const sp_model_config *cfg,
                   sp_plan_workload *w, sp_error *err)
{
    sp_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    int rc = sp_read_file(job->task.path, &text, &len, err);
    if (rc == 0) rc = sp_tokenizer_load(model_dir, &tok, err);
    if (rc == 0) rc = sp_tokenizer_encode(tok, text, len, 0, &ids, &n, err);
    if (rc == 0) rc = plan_bos(job, tok, cfg, &w->bos, err);
    if (rc == 0) {
        int64_t total = (int64_t)n;
        if (job->task.limit > 0 && job->task.limit < total) total = job->task.limit;
        plan_units(job, total, w);
        int64_t per = job->task.ctx - (w->bos >= 0), rows_per_call = PLAN_KL_LOGITS_BYTES /
                                                                  (cfg->vocab * 4);
        for (int f = 0; f < w->n_levels; f++) {
            sp_plan_level *l = &w->level[f];
            int64_t windows_per_call = rows_per_call / per > 1 ? rows_per_call / per : 1;
            for (int64_t a = 0; a < l->units; a += per) {
                int64_t m = l->units - a < per ? l->units - a : per;
                plan_add_item(l, m + (w->bos >= 0), m);
            }
            int64_t nw = (l->units + per - 1) / per, wpc = nw < windows_per_call ? nw :
                                                                          windows_per_call;
            l->max_call = wpc * (per + (w->bos >= 0));
            if (l->max_call > l->tokens) l->max_call = l->tokens;
            w->kl_cache_rows += l->units;
            if (wpc * per > w->kl_max_rows) w->kl_max_rows = wpc * per;
        }
        w->data_bytes += (int64_t)n * 4;
    }
    free(ids);
    free(text);
    sp_tokenizer_free(tok);
    return rc;
}

int sp_plan_workload_count(const sp_job *job, const char *model_dir, const sp_model_config *cfg,
                           sp_plan_workload *w, sp_error *err)
{
    memset(w, 0, sizeof *w);
    w->task = job->task.kind;
    w->bos = -1;
    int rc;
    switch (job->task.kind) {
    case SP_TASK_NLL: rc = plan_nll(job, cfg, w, err); break;
    case SP_TASK_HELLASWAG: rc = plan_mc(job, model_dir, cfg, w, err); break;
    case SP_TASK_KL: rc = plan_kl(job, model_dir, cfg, w, err); break;
    default: rc = sp_error_set(err, "unknown task kind %d", (int)job->task.kind);
    }
    if (rc) return sp_error_wrap(err, "task %s (%s)", sp_task_kind_name(job->task.kind),
                                 job->task.path);
    return 0;
}

double sp_plan_eval_mix(const sp_plan_workload *w, int halving, int pop, int keep,
                        double *weights)
{
    const sp_plan_level *full = &w->level[w->n_levels - 1];
    for (int f = 0; f < w->n_levels; f++) weights[f] = 0;
    if (!halving || w->n_levels < 2 || pop < 1 || keep < 2) {
        weights[w->n_levels - 1] = 1;
        return 1.0;
    }
    double evals = 0, cost = 0;
    int m = pop;
    for (int f = 0; f < w->n_levels; f++) {
        weights[f] = m;
        evals += m;
        cost += m * (double)w->level[f].tokens / (double)full->tokens;
        m = (m + keep - 1) / keep;
    }
    for (int f = 0; f < w->n_levels; f++) weights[f] /= evals;
    return cost / evals;
}
