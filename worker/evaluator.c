/* evaluator.c — scores the job's task for a mask at a fidelity level (see evaluator.h). */
#include "evaluator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_util.h"
#include "common/tokenizer.h"
#include "eval_task.h"
#include "mc_data.h"
#include "task_kl.h"
#include "task_mc.h"

const char *const sp_metric_names[SP_METRIC_COUNT] = {"nll",   "acc",    "acc_norm", "kl",
                                                      "units", "tokens", "seconds"};

struct sp_evaluator {
    const sp_job *job;
    sp_engine *engine;
    int n_levels;
    int64_t units[SP_MAX_FIDELITIES]; /* evaluation units per level */
    /* nll */
    sp_lm_window *windows;
    int64_t n_windows;
    /* hellaswag */
    sp_mc_set mc_set;
    sp_mc_requests mc_req;
    /* kl: one scorer per level (each caches the dense model on its prefix of the text) */
    sp_kl_scorer *kl[SP_MAX_FIDELITIES];
};

static void set_levels(sp_evaluator *ev, int64_t total)
{
    for (int f = 0; f < ev->n_levels; f++) {
        int64_t u = (int64_t)ceil(ev->job->fidelity_fraction[f] * (double)total - 1e-9);
        ev->units[f] = u < 1 ? 1 : (u > total ? total : u);
    }
}

static int create_nll(sp_evaluator *ev, const sp_model *model, sp_error *err)
{
    if (sp_lm_load_tokens(ev->job->task.path, model->cfg.vocab, &ev->windows, &ev->n_windows, err))
        return -1;
    int64_t n = ev->n_windows;
    if (ev->job->task.limit > 0 && ev->job->task.limit < n) n = ev->job->task.limit;
    /* Checked before the first evaluation, like `eval` does (a longer sequence only slows the
     * search to a crawl and is outside the model's trained positions). */
    for (int64_t k = 0; k < n; k++)
        if (model->cfg.max_pos > 0 && ev->windows[k].n > model->cfg.max_pos)
            return sp_error_set(err, "%s: sequence %lld has %lld tokens, more than the model's "
                                     "max_position_embeddings %lld", ev->job->task.path,
                                (long long)k, (long long)ev->windows[k].n,
                                (long long)model->cfg.max_pos);
    set_levels(ev, n);
    return 0;
}

static sp_bos_mode job_bos_mode(const sp_job *job)
{
    return job->task.bos < 0 ? SP_BOS_AUTO : job->task.bos ? SP_BOS_ON : SP_BOS_OFF;
}

int sp_job_bos(const sp_job *job, const sp_model *model, int32_t *bos, sp_error *err)
{
    *bos = -1;
    if (job->task.kind == SP_TASK_NLL) return 0; /* token ids are scored as given */
    sp_tokenizer *tok = NULL;
    if (sp_tokenizer_load(model->dir, &tok, err)) return -1;
    int rc = sp_tokenizer_bos_for(tok, job_bos_mode(job), model->cfg.bos_id, bos, err);
    sp_tokenizer_free(tok);
    return rc;
}

static int create_mc(sp_evaluator *ev, const sp_model *model, sp_error *err)
{
    sp_tokenizer *tok = NULL;
    int64_t *idx = NULL, n = 0;
    const sp_job_task *t = &ev->job->task;
    if (sp_mc_load(t->path, &ev->mc_set, err)) return -1;
    if (t->sample ? sp_mc_subset_sample(&ev->mc_set, t->sample, (uint64_t)t->sample_seed, &idx,
                                        &n, err)
                  : sp_mc_subset_first(&ev->mc_set, t->limit, &idx, &n, err))
        return -1;
    int rc = sp_tokenizer_load(model->dir, &tok, err);
    int32_t bos = -1;
    if (rc == 0) rc = sp_tokenizer_bos_for(tok, job_bos_mode(ev->job), model->cfg.bos_id, &bos, err);
    if (rc == 0)
        rc = sp_mc_build(&ev->mc_set, idx, n, sp_mc_encode_tokenizer, tok, bos, model->cfg.max_pos,
                         &ev->mc_req, err);
    sp_tokenizer_free(tok);
    free(idx);
    if (rc) return -1;
    set_levels(ev, ev->mc_req.n);
    return 0;
}

static int create_kl(sp_evaluator *ev, const sp_model *model, sp_error *err)
{
    sp_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    size_t n = 0;
    if (model->cfg.max_pos > 0 && ev->job->task.ctx > model->cfg.max_pos)
        return sp_error_set(err, "task.ctx %lld is more than the model's max_position_embeddings "
                                 "%lld", (long long)ev->job->task.ctx,
                            (long long)model->cfg.max_pos);
    int rc = sp_read_file(ev->job->task.path, &text, &len, err);
    if (rc == 0) rc = sp_tokenizer_load(model->dir, &tok, err);
    if (rc == 0) rc = sp_tokenizer_encode(tok, text, len, 0, &ids, &n, err);
    int32_t bos = -1;
    if (rc == 0) rc = sp_tokenizer_bos_for(tok, job_bos_mode(ev->job), model->cfg.bos_id, &bos, err);
    if (rc == 0) {
        int64_t total = (int64_t)n;
        if (ev->job->task.limit > 0 && ev->job->task.limit < total) total = ev->job->task.limit;
        set_levels(ev, total);
        sp_kl_options opt = {.ctx = ev->job->task.ctx, .bos = bos};
        for (int f = 0; f < ev->n_levels && rc == 0; f++)
            rc = sp_kl_create(ev->engine, ids, ev->units[f], &opt, &ev->kl[f], err);
    }
    sp_tokenizer_free(tok);
    free(text);
    free(ids);
    return rc;
}

int sp_evaluator_create(const sp_job *job, const sp_model *model, sp_engine *engine,
                        sp_evaluator **out, sp_error *err)
{
    sp_evaluator *ev = sp_xcalloc(1, sizeof *ev);
    ev->job = job;
    ev->engine = engine;
    ev->n_levels = job->n_fidelities;
    int rc = -1;
    switch (job->task.kind) {
    case SP_TASK_NLL: rc = create_nll(ev, model, err); break;
    case SP_TASK_HELLASWAG: rc = create_mc(ev, model, err); break;
    case SP_TASK_KL: rc = create_kl(ev, model, err); break;
    default: rc = sp_error_set(err, "unknown task kind %d", (int)job->task.kind);
    }
    if (rc) {
        sp_error_wrap(err, "task %s", sp_task_kind_name(job->task.kind));
        sp_evaluator_free(ev);
        return -1;
    }
    *out = ev;
    return 0;
}

void sp_evaluator_free(sp_evaluator *ev)
{
    if (!ev) return;
    sp_lm_windows_free(ev->windows, ev->n_windows);
    sp_mc_requests_free(&ev->mc_req);
    sp_mc_free(&ev->mc_set);
    for (int f = 0; f < SP_MAX_FIDELITIES; f++) sp_kl_free(ev->kl[f]);
    free(ev);
}

int64_t sp_evaluator_units(const sp_evaluator *ev, int fidelity)
{
    return fidelity >= 0 && fidelity < ev->n_levels ? ev->units[fidelity] : 0;
}

int sp_evaluator_run(sp_evaluator *ev, const sp_mask *removed, int fidelity,
                     double metrics[SP_METRIC_COUNT], sp_error *err)
{
    SP_ASSERT(fidelity >= 0 && fidelity < ev->n_levels);
    for (int i = 0; i < SP_METRIC_COUNT; i++) metrics[i] = NAN;
    int64_t units = ev->units[fidelity];
    metrics[SP_METRIC_UNITS] = (double)units;
    if (ev->job->task.kind == SP_TASK_NLL) {
        sp_lm_result r;
        if (sp_lm_score(ev->engine, removed, ev->windows, units, 8192, &r, err)) return -1;
        metrics[SP_METRIC_NLL] = r.nll_sum / (double)r.tokens_scored;
        metrics[SP_METRIC_TOKENS] = (double)r.tokens_forward;
        metrics[SP_METRIC_SECONDS] = r.wall_s;
    } else if (ev->job->task.kind == SP_TASK_HELLASWAG) {
        sp_mc_requests view = {units, ev->mc_req.req};
        sp_mc_options opt = {.token_budget = 4096, .pack = SP_MC_PACK_SHARED};
        sp_mc_result r;
        memset(&r, 0, sizeof r);
        if (sp_mc_score(ev->engine, removed, &view, &opt, &r, err)) return -1;
        metrics[SP_METRIC_ACC] = r.acc;
        metrics[SP_METRIC_ACC_NORM] = r.acc_norm;
        metrics[SP_METRIC_TOKENS] = (double)r.tokens_forward;
        metrics[SP_METRIC_SECONDS] = r.wall_s;
        sp_mc_result_free(&r);
    } else {
        sp_kl_stats st;
        if (sp_kl_score(ev->kl[fidelity], removed, 0, &st, err)) return -1;
        metrics[SP_METRIC_KL] = st.mean_kl;
        metrics[SP_METRIC_TOKENS] = (double)st.n_rows;
        metrics[SP_METRIC_SECONDS] = st.wall_s;
    }
    return 0;
}
